//! KL quantities (SPEC §2): `D(a‖b) = Σ a_i ln(a_i/b_i)`, the tolerance box W_δ, the projected
//! block masses `w★ = clip(τ★ w, l, u)` and the potentials
//! `V_δ(p) = V_within(p) + V_coarse,δ(p) = min_{w∈W_δ} D(p ‖ Σ_j w_j π^(j))`.

use crate::error::{CgklError, Result};
use crate::monotone_root::{Breakpoints, Ramp, RampSum};
use crate::partition::Partition;

/// `D(a‖b) = Σ a_i ln(a_i/b_i)`, with `0 ln(0/b) = 0` and `+∞` where `a_i > 0 = b_i`; summed
/// by `par::sum` (in order up to `par::CHUNK` cells, then chunk by chunk in parallel).
pub fn kl(a: &[f64], b: &[f64]) -> f64 {
    let n = a.len().min(b.len());
    crate::par::sum(n, |r| {
        let mut s = 0.0;
        for (&ai, &bi) in a[r.clone()].iter().zip(&b[r]) {
            if ai > 0.0 {
                if bi <= 0.0 {
                    return f64::INFINITY;
                }
                s += ai * (ai / bi).ln();
            }
        }
        s
    })
}

/// Shannon entropy `H(p) = −Σ p_i ln p_i` in nats (`0 ln 0 = 0`), summed by `par::sum`.
pub fn entropy(p: &[f64]) -> f64 {
    -crate::par::sum(p.len(), |r| {
        p[r].iter()
            .filter(|&&x| x > 0.0)
            .map(|&x| x * x.ln())
            .sum::<f64>()
    })
}

/// The reference image `r`, its block masses `w_ref = w(r)` and conditionals `π^(j) = r|_j`.
#[derive(Debug, Clone)]
pub struct Reference {
    /// Reference image r (probability vector).
    pub r: Vec<f64>,
    /// Reference block masses, all > 0.
    pub w_ref: Vec<f64>,
    /// `pi[i] = r_i / w_ref_{j(i)}`: the within-block conditional of cell i's block.
    pub pi: Vec<f64>,
}

impl Reference {
    /// Builds the reference; errors if r has a negative/non-finite pixel or an empty block.
    pub fn new(part: &Partition, r: Vec<f64>) -> Result<Self> {
        if let Some(i) = r.iter().position(|x| !x.is_finite() || *x < 0.0) {
            return Err(CgklError::Data(format!(
                "reference pixel {i} is {}; it must be finite and ≥ 0",
                r[i]
            )));
        }
        let w_ref = part.block_masses(&r);
        if let Some(j) = w_ref.iter().position(|&w| w <= 0.0) {
            return Err(CgklError::Data(format!(
                "reference block {j} has zero mass; every block needs w_ref_j > 0 (raise the data floor)"
            )));
        }
        let pi = r
            .iter()
            .zip(part.labels())
            .map(|(&ri, &l)| ri / w_ref[l as usize])
            .collect();
        Ok(Self { r, w_ref, pi })
    }
}

/// The tolerance box `l_j = max(0, w_ref_j − δ)`, `u_j = min(1, w_ref_j + δ)`.
#[derive(Debug, Clone)]
pub struct ToleranceBox {
    /// Tolerance δ ≥ 0 (may be +∞).
    pub delta: f64,
    /// Lower bounds l.
    pub l: Vec<f64>,
    /// Upper bounds u.
    pub u: Vec<f64>,
}

impl ToleranceBox {
    /// Box around `w_ref` of half-width δ, clipped to [0, 1]; errors for δ < 0 or NaN. When
    /// round-off puts `w_ref_j` above 1 (a single block), `u_j = max(min(1, w_ref_j + δ), l_j)`
    /// keeps the box non-empty; for δ ≥ 1 the cap at 1 is dropped (`u_j = w_ref_j + δ`: the box
    /// is the whole simplex either way, and a block mass 1 + ε from round-off stays inside, so Π_δ
    /// is the identity as SPEC §3 requires).
    pub fn new(w_ref: &[f64], delta: f64) -> Result<Self> {
        if delta.is_nan() || delta < 0.0 {
            return Err(CgklError::config(
                "projection.delta",
                delta,
                "δ must be ≥ 0 (use inf for no projection)",
            ));
        }
        let l: Vec<f64> = w_ref.iter().map(|&w| (w - delta).max(0.0)).collect();
        let u = w_ref
            .iter()
            .zip(&l)
            .map(|(&w, &l)| {
                if delta >= 1.0 {
                    w + delta // W_δ is the whole simplex; no cap, so w_j = 1 + ε stays inside
                } else {
                    (w + delta).min(1.0).max(l)
                }
            })
            .collect();
        Ok(Self { delta, l, u })
    }

    /// True when `l_j ≤ w_j ≤ u_j` for every j (then Π_δ is the identity).
    pub fn contains(&self, w: &[f64]) -> bool {
        w.iter()
            .zip(self.l.iter().zip(&self.u))
            .all(|(&w, (&l, &u))| l <= w && w <= u)
    }
}

/// Result of the τ★ solve.
#[derive(Debug, Clone, Copy, PartialEq)]
pub struct TauStar {
    /// τ★ ≥ 0, the smallest root of `Σ_j clip(τ w_j, l_j, u_j) = 1`.
    pub tau: f64,
    /// `#{j : τ★ w_j < l_j}`.
    pub n_active_lower: i32,
    /// `#{j : τ★ w_j > u_j}`.
    pub n_active_upper: i32,
}

/// Workspace for the exact breakpoint solve of τ★ (allocated once, size 2m).
#[derive(Debug, Clone, Default)]
pub struct TauSolver {
    breakpoints: Breakpoints,
}

impl TauSolver {
    /// A solver for up to `m` blocks.
    pub fn new(m: usize) -> Self {
        Self {
            breakpoints: Breakpoints::new(m),
        }
    }

    /// Projected block masses `w★ = clip(τ★ w, l, u)` into `w_star`, τ★ the smallest root of
    /// `F(τ) = Σ_j clip(τ w_j, l_j, u_j) = 1` to `4mε` from the sorted breakpoints
    /// `l_j/w_j, u_j/w_j` of the blocks with `w_j > 0` (`RampSum::smallest_root`; `F = C + τS`
    /// between breakpoints). Empty blocks take `l_j`; if the non-empty ones at their upper bounds
    /// leave `Σ < 1`, every empty block rises by `θ(u_j − l_j)` with the common θ that makes the
    /// sum 1. If `w ∈ W_δ` already, returns τ★ = 1 and `w★ = w` without arithmetic. O(m log m).
    pub fn solve(&mut self, w: &[f64], bx: &ToleranceBox, w_star: &mut [f64]) -> TauStar {
        let (l, u) = (&bx.l, &bx.u);
        if bx.contains(w) {
            w_star.copy_from_slice(w);
            return TauStar {
                tau: 1.0,
                n_active_lower: 0,
                n_active_upper: 0,
            };
        }
        let tol = 4.0 * w.len() as f64 * f64::EPSILON;
        let ramps = RampSum::new(w.len(), |j| Ramp {
            a: 0.0,
            b: w[j],
            lo: l[j],
            hi: u[j],
        });
        let root = ramps.smallest_root(1.0, tol, &mut self.breakpoints);
        let tau = match root {
            Some(tau) => {
                for j in 0..w.len() {
                    w_star[j] = (tau * w[j]).clamp(l[j], u[j]);
                }
                tau
            }
            None => {
                // every non-empty block at its upper bound and still Σ < 1: raise the empty blocks
                let mut sum_fixed = 0.0;
                let mut room = 0.0;
                for j in 0..w.len() {
                    if w[j] > 0.0 {
                        sum_fixed += u[j];
                    } else {
                        sum_fixed += l[j];
                        room += u[j] - l[j];
                    }
                }
                let theta = if room > 0.0 {
                    ((1.0 - sum_fixed) / room).clamp(0.0, 1.0)
                } else {
                    0.0
                };
                for j in 0..w.len() {
                    w_star[j] = if w[j] > 0.0 {
                        u[j]
                    } else {
                        l[j] + theta * (u[j] - l[j])
                    };
                }
                self.breakpoints.last().unwrap_or(0.0)
            }
        };
        let mut n_lower = 0;
        let mut n_upper = 0;
        for j in 0..w.len() {
            let tw = tau * w[j];
            if tw < l[j] {
                n_lower += 1;
            } else if tw > u[j] {
                n_upper += 1;
            }
        }
        TauStar {
            tau,
            n_active_lower: n_lower,
            n_active_upper: n_upper,
        }
    }
}

/// The smallest τ with `Σ_j clip(τ w_j, l_j, u_j) = 1` (to 4mε on a flat) by bisection to machine precision:
/// an independent reference for [`TauSolver::solve`] (tests only; O(m·60)).
pub fn tau_by_bisection(w: &[f64], bx: &ToleranceBox) -> f64 {
    let f = |t: f64| -> f64 {
        w.iter()
            .zip(bx.l.iter().zip(&bx.u))
            .map(|(&w, (&l, &u))| if w > 0.0 { (t * w).clamp(l, u) } else { l })
            .sum()
    };
    let smallest_reaching = |level: f64| -> f64 {
        if f(0.0) >= level {
            return 0.0;
        }
        let mut hi = 1.0;
        while f(hi) < level && hi < 1e300 {
            hi *= 2.0;
        }
        let mut lo = 0.0;
        for _ in 0..2000 {
            let mid = 0.5 * (lo + hi);
            if mid <= lo || mid >= hi {
                break;
            }
            if f(mid) >= level {
                hi = mid;
            } else {
                lo = mid;
            }
        }
        hi
    };
    // F = 1 to 4mε: between the smallest τ reaching 1 − 4mε (ta) and the smallest reaching 1
    // (tb), F either rises (then tb − ta ≲ 4mε/S and tb is the exact crossing) or sits on a
    // flat that round-off puts just below 1 (slope 0 there; then the flat's start ta is τ★).
    let tol = 4.0 * w.len() as f64 * f64::EPSILON;
    let ta = smallest_reaching(1.0 - tol);
    let tb = smallest_reaching(1.0);
    let mid = 0.5 * (ta + tb);
    let slope: f64 = w
        .iter()
        .zip(bx.l.iter().zip(&bx.u))
        .filter(|(&w, (&l, &u))| w > 0.0 && mid * w > l && mid * w < u)
        .map(|(&w, _)| w)
        .sum();
    if slope > 0.0 && slope * (tb - ta) <= 2.0 * tol {
        tb
    } else {
        ta
    }
}

/// The §2 potentials of one image.
#[derive(Debug, Clone, Copy, PartialEq)]
pub struct Potentials {
    /// `V = D(p‖r)`.
    pub v: f64,
    /// `V_within = Σ_j w_j D(p|_j ‖ π^(j))`.
    pub v_within: f64,
    /// `V_coarse,δ = D(w ‖ w★)`.
    pub v_coarse: f64,
    /// `V_δ = V_within + V_coarse,δ`.
    pub v_delta: f64,
}

/// Evaluates the §2 potentials given `w = w(p)` and `w★(p)`.
/// `V_within = Σ_i p_i ln((p_i/w_j)/π_i)` summed directly (no cancellation), `V = V_within + D(w‖w_ref)`.
pub fn potentials(
    p: &[f64],
    part: &Partition,
    rf: &Reference,
    w: &[f64],
    w_star: &[f64],
) -> Potentials {
    let labels = part.labels();
    let v_within = crate::par::sum(p.len(), |r| {
        let mut v_within = 0.0;
        for ((&pi, &l), &ci) in p[r.clone()].iter().zip(&labels[r.clone()]).zip(&rf.pi[r]) {
            if pi > 0.0 {
                let wj = w[l as usize];
                v_within += if ci > 0.0 {
                    pi * ((pi / wj) / ci).ln()
                } else {
                    f64::INFINITY
                };
            }
        }
        v_within
    });
    let v = v_within + kl(w, &rf.w_ref);
    let v_coarse = kl(w, w_star);
    Potentials {
        v,
        v_within,
        v_coarse,
        v_delta: v_within + v_coarse,
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn kl_conventions() {
        assert_eq!(kl(&[0.0, 1.0], &[0.5, 0.5]), 2f64.ln());
        assert_eq!(kl(&[0.5, 0.5], &[1.0, 0.0]), f64::INFINITY);
        assert_eq!(kl(&[0.3, 0.7], &[0.3, 0.7]), 0.0);
    }

    #[test]
    fn tau_star_on_a_hand_example() {
        // w_ref = (0.5, 0.5), δ = 0.1 → box [0.4, 0.6]²; w = (0.8, 0.2) → τ★ with clip sum 1
        let bx = ToleranceBox::new(&[0.5, 0.5], 0.1).unwrap();
        let mut ws = [0.0; 2];
        let t = TauSolver::new(2).solve(&[0.8, 0.2], &bx, &mut ws);
        // F(τ) = clip(0.8τ, .4, .6) + clip(0.2τ, .4, .6): flat at 1.0 for τ ∈ [0.75, 2]... smallest τ
        // with 0.6 + 0.4 = 1 is where 0.8τ reaches 0.6: τ = 0.75
        assert!((t.tau - 0.75).abs() < 1e-15);
        assert_eq!(ws, [0.6, 0.4]);
        assert_eq!((t.n_active_lower, t.n_active_upper), (1, 0));
        assert!((tau_by_bisection(&[0.8, 0.2], &bx) - 0.75).abs() < 1e-15);
    }

    #[test]
    fn empty_blocks_rise_when_needed() {
        let bx = ToleranceBox::new(&[0.25; 4], 0.05).unwrap();
        let mut ws = [0.0; 4];
        // two non-empty blocks at u (0.3 each) with the empties at l (0.2 each) sum to exactly 1
        TauSolver::new(4).solve(&[0.5, 0.5, 0.0, 0.0], &bx, &mut ws);
        assert!((ws[0] - 0.3).abs() < 1e-15 && (ws[2] - 0.2).abs() < 1e-15);
        // one non-empty block at u = 0.3 leaves 0.1 for three empties: θ = 1/3 of their room 0.1
        TauSolver::new(4).solve(&[1.0, 0.0, 0.0, 0.0], &bx, &mut ws);
        assert!((ws.iter().sum::<f64>() - 1.0).abs() < 1e-15);
        assert_eq!(ws[0], 0.3);
        assert!(
            ws[1..].iter().all(|&x| (x - 0.7 / 3.0).abs() < 1e-15),
            "{ws:?}"
        );
    }
}
