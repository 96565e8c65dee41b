//! Roots of a non-decreasing piecewise-linear function given by its pieces: the one 1-D solve
//! behind τ★ (SPEC §2, [`crate::kl::TauSolver`]) and the continuous limit's λ (SPEC §6,
//! [`crate::limit`]).
//!
//! The function is a sum of ramps (clipped lines)
//!
//! ```text
//! F(x) = Σ_j r_j(x),   r_j(x) = clip(a_j + x·b_j, lo_j, hi_j),   b_j ≥ 0, lo_j ≤ hi_j (±∞ allowed),
//! ```
//! with breakpoints `(lo_j − a_j)/b_j` and `(hi_j − a_j)/b_j`; between breakpoints
//! `F(x) = C + x·S` with `C = Σ_{clamped} bound + Σ_{linear} a_j`, `S = Σ_{linear} b_j`.
//! τ★ is the smallest root of `Σ_j clip(τ w_j, l_j, u_j) = 1` (ramps `a = 0, b = w_j`,
//! `[l_j, u_j]`), λ the root of `Σ_j ẇ_j(λ) = 0` (ramps `a = f_j, b = w_j`, `(−∞, ∞)` for a
//! free block, `(−∞, 0]` at an upper and `[0, ∞)` at a lower bound).
//!
//! Both solves end the same way: the linear piece holding the root is classified from the
//! ramps at one point and solved exactly, `x = (target − C)/S` clamped to the piece
//! ([`RampSum::root_on_piece`]), with sums taken afresh in block order. They locate that piece
//! differently, and each keeps its own locator so that its results stay bit for bit those it had
//! before this module existed: τ★ sweeps the sorted breakpoints ([`RampSum::smallest_root`],
//! exact, O(m log m)), λ bisects to adjacent floats ([`RampSum::bracket_by_bisection`]).
//! Moving λ onto the sweep would change it in the last bits (the bisection clamps the piece
//! solve to a one-ulp bracket, the sweep to the whole piece).

/// One ramp `r(x) = clip(a + x·b, lo, hi)`, `b ≥ 0`, `lo ≤ hi` (either bound may be infinite).
#[derive(Debug, Clone, Copy, PartialEq)]
pub struct Ramp {
    /// Offset a.
    pub a: f64,
    /// Slope b ≥ 0.
    pub b: f64,
    /// Lower clamp lo (may be −∞).
    pub lo: f64,
    /// Upper clamp hi ≥ lo (may be +∞).
    pub hi: f64,
}

impl Ramp {
    /// `r(x) = clip(a + x·b, lo, hi)`.
    #[inline]
    pub fn at(&self, x: f64) -> f64 {
        (self.a + x * self.b).clamp(self.lo, self.hi)
    }
}

/// `F(x) = Σ_j r_j(x)` over `m` ramps, `ramp(j)` giving `r_j` (read, never stored).
pub struct RampSum<R: Fn(usize) -> Ramp> {
    m: usize,
    ramp: R,
}

/// Workspace of [`RampSum::smallest_root`]: the breakpoints `(x, j, entering)`, capacity 2m.
#[derive(Debug, Clone, Default)]
pub struct Breakpoints {
    events: Vec<(f64, usize, bool)>,
}

impl Breakpoints {
    /// Room for the breakpoints of `m` ramps (allocated once).
    pub fn new(m: usize) -> Self {
        Self {
            events: Vec::with_capacity(2 * m),
        }
    }

    /// The largest breakpoint of the last sweep (F is constant beyond it), if any.
    pub fn last(&self) -> Option<f64> {
        self.events.last().map(|e| e.0)
    }
}

impl<R: Fn(usize) -> Ramp> RampSum<R> {
    /// The sum of the `m` ramps `ramp(0), …, ramp(m − 1)`.
    pub fn new(m: usize, ramp: R) -> Self {
        Self { m, ramp }
    }

    /// `F(x) = Σ_j clip(a_j + x·b_j, lo_j, hi_j)`, summed in j order.
    pub fn value(&self, x: f64) -> f64 {
        (0..self.m).map(|j| (self.ramp)(j).at(x)).sum()
    }

    /// `(C, S)` of the piece of F holding x, `F = C + x·S` there: ramps with
    /// `lo_j < a_j + x b_j < hi_j` are linear (`C += a_j`, `S += b_j`), the others add their
    /// bound to C; sums in j order.
    pub fn piece_at(&self, x: f64) -> (f64, f64) {
        let (mut c, mut slope) = (0.0, 0.0);
        for j in 0..self.m {
            let r = (self.ramp)(j);
            let v = r.a + x * r.b;
            if v <= r.lo {
                c += r.lo;
            } else if v >= r.hi {
                c += r.hi;
            } else {
                c += r.a;
                slope += r.b;
            }
        }
        (c, slope)
    }

    /// The root `x = (target − C)/S` of the piece classified at `at` ([`RampSum::piece_at`]),
    /// clamped to `[lo, hi]`; `None` where the piece is flat (S = 0).
    pub fn root_on_piece(&self, target: f64, lo: f64, hi: f64, at: f64) -> Option<f64> {
        let (c, slope) = self.piece_at(at);
        (slope > 0.0).then(|| ((target - c) / slope).clamp(lo, hi))
    }

    /// The smallest `x ≥ 0` with `F(x) = target` to `tol`, by a sweep over the sorted breakpoints
    /// (ramps at or below their upper clamp at x = 0, `a_j + 0·b_j ≤ hi_j`; a ramp with `b_j = 0`
    /// is the constant `r_j(0)`). The running sums `C + x·S` only locate the root: at a breakpoint
    /// where they come within `64·tol` of the target, F is evaluated afresh, and `F ≥ target − tol`
    /// decides. So on a flat that round-off puts just below the target the flat's start is the
    /// root (the smallest root, SPEC §2); on a rising piece it is [`RampSum::root_on_piece`]
    /// classified at the piece's midpoint. Breakpoints tied in x are taken entering before
    /// leaving. `None` when F stays below `target − tol` (every ramp at its upper clamp; then
    /// [`Breakpoints::last`] is where F reaches its maximum). O(m log m).
    pub fn smallest_root(&self, target: f64, tol: f64, ws: &mut Breakpoints) -> Option<f64> {
        let ev = &mut ws.events;
        ev.clear();
        let (mut c, mut slope) = (0.0, 0.0);
        for j in 0..self.m {
            let r = (self.ramp)(j);
            if r.b > 0.0 {
                if r.lo > r.a {
                    c += r.lo;
                    ev.push(((r.lo - r.a) / r.b, j, true));
                } else {
                    c += r.a;
                    slope += r.b;
                }
                ev.push(((r.hi - r.a) / r.b, j, false));
            } else {
                c += r.at(0.0);
            }
        }
        // entering before leaving at equal x (lo_j = hi_j when δ = 0)
        ev.sort_by(|a, b| a.0.total_cmp(&b.0).then(b.2.cmp(&a.2)));
        // the running sums drift by a few ulp per breakpoint: near the target they only trigger
        // a fresh evaluation of F, which decides
        let near = target - 64.0 * tol;
        let reached = |x: f64| self.value(x) >= target - tol;
        if c >= near && reached(0.0) {
            return Some(0.0);
        }
        let mut prev = 0.0;
        for &(x, j, enter) in ev.iter() {
            if slope > 0.0 && c + x * slope >= near && reached(x) {
                let mid = 0.5 * (prev + x);
                return Some(self.root_on_piece(target, prev, x, mid).unwrap_or(prev));
            }
            let r = (self.ramp)(j);
            if enter {
                c -= r.lo - r.a;
                slope += r.b;
            } else {
                slope -= r.b;
                c += r.hi - r.a;
            }
            prev = x;
            if c + x * slope >= near && reached(x) {
                return Some(x);
            }
        }
        None
    }

    /// `[lo, hi]` widened by doubling until `F(lo) ≤ target ≤ F(hi)` (needs `lo < 0 < hi`), then
    /// halved (at most 200 times, or until the two are adjacent floats) keeping
    /// `F(lo) < target ≤ F(hi)`: hi tends to the smallest root.
    pub fn bracket_by_bisection(&self, target: f64, lo: f64, hi: f64) -> (f64, f64) {
        let (mut lo, mut hi) = (lo, hi);
        while self.value(lo) > target {
            lo *= 2.0;
        }
        while self.value(hi) < target {
            hi *= 2.0;
        }
        for _ in 0..200 {
            let mid = 0.5 * (lo + hi);
            if mid <= lo || mid >= hi {
                break;
            }
            if self.value(mid) >= target {
                hi = mid;
            } else {
                lo = mid;
            }
        }
        (lo, hi)
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    const INF: f64 = f64::INFINITY;

    fn ramps(r: &[Ramp]) -> RampSum<impl Fn(usize) -> Ramp + '_> {
        RampSum::new(r.len(), move |j| r[j])
    }

    fn ramp(a: f64, b: f64, lo: f64, hi: f64) -> Ramp {
        Ramp { a, b, lo, hi }
    }

    fn clip(b: f64, lo: f64, hi: f64) -> Ramp {
        ramp(0.0, b, lo, hi)
    }

    #[test]
    fn value_and_pieces() {
        let r = [
            clip(1.0, 0.2, 0.5),
            clip(2.0, 0.0, 0.6),
            clip(0.0, 0.1, 0.3),
        ];
        let f = ramps(&r);
        // x = 0.25: 0.25 (linear), 0.5 (linear), 0.1 (constant)
        assert_eq!(f.value(0.25), 0.25 + 0.5 + 0.1);
        assert_eq!(f.piece_at(0.25), (0.1, 3.0));
        // x = 0.4: 0.4 linear, 0.6 clamped at hi
        assert_eq!(f.piece_at(0.4), (0.6 + 0.1, 1.0));
        assert_eq!(f.root_on_piece(1.0, 0.3, 0.5, 0.4), Some(1.0 - 0.7));
        // a flat piece: every ramp clamped
        assert_eq!(f.root_on_piece(1.0, 1.0, 2.0, 1.5), None);
    }

    #[test]
    fn one_piece() {
        // a single line 2x on [0, 1]: root of 2x = 0.5 at 0.25
        let r = [clip(2.0, 0.0, 1.0)];
        let mut ws = Breakpoints::new(1);
        assert_eq!(
            ramps(&r).smallest_root(0.5, 4.0 * f64::EPSILON, &mut ws),
            Some(0.25)
        );
        // with an offset: 0.1 + 2x = 0.5
        let r = [ramp(0.1, 2.0, 0.0, 1.0)];
        let x = ramps(&r)
            .smallest_root(0.5, 4.0 * f64::EPSILON, &mut ws)
            .unwrap();
        assert!((x - 0.2).abs() < 1e-16, "{x}");
    }

    #[test]
    fn smallest_root_on_a_flat() {
        // F = clip(0.8x, .4, .6) + clip(0.2x, .4, .6) = 1 on the flat x ∈ [0.75, 2]: 0.75
        let r = [clip(0.8, 0.4, 0.6), clip(0.2, 0.4, 0.6)];
        let mut ws = Breakpoints::new(2);
        let x = ramps(&r)
            .smallest_root(1.0, 8.0 * f64::EPSILON, &mut ws)
            .unwrap();
        assert_eq!(x, 0.6 / 0.8);
        // already at the target at x = 0: 0
        let r = [clip(1.0, 0.5, 0.7), clip(1.0, 0.5, 0.7)];
        assert_eq!(
            ramps(&r).smallest_root(1.0, 8.0 * f64::EPSILON, &mut ws),
            Some(0.0)
        );
        // F rises to a flat just below the target (by less than tol): the flat's start
        let r = [clip(1.0, 0.0, 0.3), clip(1.0, 0.0, 0.7 - 2e-16)];
        let x = ramps(&r)
            .smallest_root(1.0, 8.0 * f64::EPSILON, &mut ws)
            .unwrap();
        assert_eq!(x, 0.7 - 2e-16);
    }

    #[test]
    fn all_ramps_clamped_and_empty_ones() {
        // both ramps at their upper clamp still sum below 1: no root, F constant from 0.6/0.5
        let r = [
            clip(1.0, 0.1, 0.3),
            clip(0.5, 0.1, 0.3),
            clip(0.0, 0.2, 0.9),
        ];
        let mut ws = Breakpoints::new(3);
        assert_eq!(ramps(&r).smallest_root(1.0, 1e-15, &mut ws), None);
        assert_eq!(ws.last(), Some(0.3 / 0.5));
        // the empty ramp (b = 0) is the constant lo; with it the others reach 1 at x = 0.5/1
        let r = [clip(1.0, 0.1, 0.6), clip(0.0, 0.4, 0.9)];
        assert_eq!(ramps(&r).smallest_root(1.0, 1e-15, &mut ws), Some(0.6));
        // only empty ramps: constant, no breakpoints
        let r = [clip(0.0, 0.5, 0.9), clip(0.0, 0.5, 0.9)];
        assert_eq!(ramps(&r).smallest_root(1.0, 1e-15, &mut ws), Some(0.0));
        assert_eq!(ws.last(), None);
        // no ramps at all: F = 0
        assert_eq!(ramps(&[]).smallest_root(1.0, 1e-15, &mut ws), None);
    }

    /// λ's ramps: free lines, and one-sided ramps at a bound; the bisection's bracket holds the
    /// root and the piece solve lands in it.
    #[test]
    fn bisection_bracket_and_piece_solve() {
        let r = [
            ramp(0.3, 0.5, -INF, INF),
            ramp(0.2, 0.25, -INF, 0.0),
            ramp(-0.1, 0.25, 0.0, INF),
        ];
        let f = ramps(&r);
        let (lo, hi) = f.bracket_by_bisection(0.0, -1.0, 1.0);
        assert!(f.value(lo) < 0.0 && f.value(hi) >= 0.0);
        assert_eq!(hi, lo.next_up());
        // at the root −0.6 only the free line is linear (the others sit at 0): x = −0.3/0.5
        let x = f.root_on_piece(0.0, lo, hi, hi).unwrap_or(hi);
        assert!((x + 0.6).abs() < 1e-15, "{x}");
        assert_eq!(f.value(-0.6), 0.0);
        // a flat at the target: every ramp clamped (no linear ramp) around the root
        let r = [ramp(0.2, 1.0, -INF, 0.0), ramp(-0.2, 1.0, 0.0, INF)];
        let f = ramps(&r);
        let (lo, hi) = f.bracket_by_bisection(0.0, -1.0, 1.0);
        assert!(hi <= -0.2 + 1e-15 && f.value(hi) == 0.0, "{lo} {hi}");
        assert_eq!(f.root_on_piece(0.0, lo, hi, hi), None);
    }
}
