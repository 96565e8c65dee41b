//! Numeric supernodal Cholesky `K = LLᵀ` and its triangular solves on a supernodal
//! [`Structure`] in faer's layout (from faer's symbolic analysis: of the whole matrix, or of the
//! two halves of a nested dissection separately, [`grid_structure`]), split in two independent
//! halves that run on two threads. faer's own numeric supernodal Cholesky is sequential; its
//! `Par::rayon` variant was slower here (`docs/benchmarks.md`, fourth sitting).
//!
//! Layout: supernode s holds the columns `[s₀, s₁)` of L as a dense column-major block of
//! `w = s₁ − s₀` columns and `w + |P_s|` rows (the diagonal block, then the rows `P_s` below it).
//! **Factorisation** (right-looking): for s in order, `L_ss = chol(K_ss)`,
//! `L_{P_s,s} = K_{P_s,s} L_ssᵀ⁻¹`, then the update `K_{P_s,P_s} −= L_{P_s,s} L_{P_s,s}ᵀ` is
//! scattered into the blocks of the ancestors that own the columns `P_s`.
//! **Solves**: forward `y_s = L_ss⁻¹ b_s`, `b_{P_s} −= L_{P_s,s} y_s`; backward, in reverse,
//! `x_s = L_ssᵀ⁻¹ (y_s − L_{P_s,s}ᵀ x_{P_s})`.
//!
//! **Split**: with a nested-dissection ordering the supernodes of the two halves left of and
//! right of the first separator ([`Split`]) never touch each other's rows, only their own and
//! those of the remaining supernodes R. Each half runs on its own thread (`rayon::join`) and sums
//! its updates to R into a private buffer; R adds the buffers in a fixed order afterwards. The
//! arithmetic is the same whether the halves run in parallel or one after the other, so the
//! factor and every solve are bit-identical whatever the thread count.

use faer::dyn_stack::{MemBuffer, MemStack, StackReq};
use faer::linalg::cholesky::llt::factor::{cholesky_in_place, LltParams, LltRegularization};
use faer::linalg::matmul::triangular::{matmul, BlockStructure};
use faer::linalg::triangular_solve::solve_lower_triangular_in_place;
use faer::reborrow::{Reborrow, ReborrowMut};
use faer::{Accum, MatMut, Par, Spec};
use std::ops::Range;

/// faer's symbolic supernodal Cholesky structure.
pub type FaerSupernodal =
    faer::sparse::linalg::cholesky::supernodal::SymbolicSupernodalCholesky<usize>;

/// A supernodal structure in faer's layout: supernode s has the columns [`Structure::cols`],
/// the sorted rows [`Structure::pattern`] below its diagonal block, and its values, a dense
/// column-major block of `|cols| × (|cols| + |pattern|)` ([`Structure::vals`]).
#[derive(Debug, Clone, Default)]
pub struct Structure {
    /// `begin[s]..begin[s + 1]`: the columns of supernode s.
    begin: Vec<usize>,
    /// `rows[cpr[s]..cpr[s + 1]]`: its pattern.
    cpr: Vec<usize>,
    /// `cpv[s]..cpv[s + 1]`: its values.
    cpv: Vec<usize>,
    rows: Vec<usize>,
}

impl Structure {
    /// An empty structure (no supernode yet).
    fn empty() -> Self {
        Self {
            begin: vec![0],
            cpr: vec![0],
            cpv: vec![0],
            ..Default::default()
        }
    }

    /// faer's structure, copied.
    pub fn from_faer(sn: &FaerSupernodal) -> Self {
        let mut st = Self::empty();
        st.append_faer(sn, |c| c, sn.nrows());
        st
    }

    /// Appends a supernode of `width` columns starting at the current end, with the rows
    /// `rows` (sorted, all beyond its columns) below its diagonal block.
    fn push(&mut self, width: usize, rows: impl IntoIterator<Item = usize>) {
        let start = self.nrows();
        let before = self.rows.len();
        self.rows.extend(rows);
        let p = self.rows.len() - before;
        self.begin.push(start + width);
        self.cpr.push(self.rows.len());
        self.cpv.push(self.len_val() + width * (width + p));
    }

    /// Appends the supernodes of faer's `sn` whose (local) columns lie below `limit`, cutting
    /// a supernode that straddles it; local indices map to global ones by `map` (increasing).
    fn append_faer(&mut self, sn: &FaerSupernodal, map: impl Fn(usize) -> usize, limit: usize) {
        let (b, e) = (sn.supernode_begin(), sn.supernode_end());
        for s in 0..sn.n_supernodes() {
            if b[s] >= limit {
                break;
            }
            let e_cut = e[s].min(limit);
            debug_assert_eq!(map(b[s]), self.nrows(), "supernodes must be contiguous");
            let pat = &sn.row_idx()[sn.col_ptr_for_row_idx()[s]..][..sn.nnz_per_super()[s]];
            self.push(
                e_cut - b[s],
                (e_cut..e[s]).chain(pat.iter().copied()).map(&map),
            );
        }
    }

    /// Number of columns.
    pub fn nrows(&self) -> usize {
        self.begin[self.begin.len() - 1]
    }
    /// Number of supernodes.
    pub fn n_supernodes(&self) -> usize {
        self.begin.len() - 1
    }
    /// The columns of supernode s.
    pub fn cols(&self, s: usize) -> Range<usize> {
        self.begin[s]..self.begin[s + 1]
    }
    /// The sorted rows below the diagonal block of supernode s.
    pub fn pattern(&self, s: usize) -> &[usize] {
        &self.rows[self.cpr[s]..self.cpr[s + 1]]
    }
    /// The positions of supernode s's values.
    pub fn vals(&self, s: usize) -> Range<usize> {
        self.cpv[s]..self.cpv[s + 1]
    }
    /// Position of the value at (`row`, `col`) of L, `col` a column of supernode s and `row` in
    /// its diagonal block or pattern (panics otherwise: the caller's structure is wrong).
    fn value_index(&self, s: usize, row: usize, col: usize) -> usize {
        let cols = self.cols(s);
        let w = cols.len();
        let local = if row < cols.end {
            row - cols.start
        } else {
            w + self
                .pattern(s)
                .binary_search(&row)
                .unwrap_or_else(|_| unreachable!("row {row} lies in supernode {s}'s pattern"))
        };
        self.cpv[s] + (col - cols.start) * (w + self.pattern(s).len()) + local
    }
    /// Number of values of L.
    pub fn len_val(&self) -> usize {
        self.cpv[self.cpv.len() - 1]
    }
}

/// The structure of L for a grid in nested-dissection order (`fwd[k]` = the cell eliminated
/// k-th, `inv` its inverse; the first half holds `n1` positions and the top separator the last
/// `n_sep`): faer's symbolic analysis of each half together with the separator, the two on two
/// threads, then the separator as one dense supernode. The columns of a half only fill rows of
/// that half and of the separator, so this is the structure of the whole factor (the separator
/// block taken dense). None if faer does not return a supernodal structure.
pub fn grid_structure(
    col_ptr: &[usize],
    row_idx: &[usize],
    fwd: &[usize],
    inv: &[usize],
    n1: usize,
    n_sep: usize,
) -> Option<Structure> {
    let n = fwd.len();
    let c_r = n - n_sep;
    let half =
        |lo: usize, hi: usize| -> Option<faer::sparse::linalg::cholesky::SymbolicCholesky<usize>> {
            let w = hi - lo;
            let m = w + n_sep;
            let local = |k: usize| {
                if (lo..hi).contains(&k) {
                    Some(k - lo)
                } else if k >= c_r {
                    Some(w + k - c_r)
                } else {
                    None
                }
            };
            let mut cp = Vec::with_capacity(m + 1);
            let mut ri = Vec::with_capacity(5 * m);
            cp.push(0);
            for j in 0..m {
                let cell = fwd[if j < w { lo + j } else { c_r + j - w }];
                let start = ri.len();
                ri.extend(
                    row_idx[col_ptr[cell]..col_ptr[cell + 1]]
                        .iter()
                        .filter_map(|&nb| local(inv[nb])),
                );
                ri[start..].sort_unstable();
                cp.push(ri.len());
            }
            let pattern = faer::sparse::SymbolicSparseColMatRef::new_checked(m, m, &cp, None, &ri);
            faer::sparse::linalg::cholesky::factorize_symbolic_cholesky(
                pattern,
                faer::Side::Lower,
                faer::sparse::linalg::cholesky::SymmetricOrdering::Identity,
                faer::sparse::linalg::cholesky::CholeskySymbolicParams {
                    supernodal_flop_ratio_threshold:
                        faer::sparse::linalg::SupernodalThreshold::FORCE_SUPERNODAL,
                    ..Default::default()
                },
            )
            .ok()
        };
    let (a, b) = rayon::join(|| half(0, n1), || half(n1, c_r));
    let (a, b) = (a?, b?);
    use faer::sparse::linalg::cholesky::SymbolicCholeskyRaw::Supernodal as Sup;
    let (Sup(sa), Sup(sb)) = (a.raw(), b.raw()) else {
        return None;
    };
    let n2 = c_r - n1;
    let mut st = Structure::empty();
    st.append_faer(sa, |c| if c < n1 { c } else { c_r + c - n1 }, n1);
    st.append_faer(sb, |c| if c < n2 { n1 + c } else { c_r + c - n2 }, n2);
    st.push(n_sep, std::iter::empty());
    Some(st)
}

/// The independent halves: supernodes `0..a_end` (columns `0..n1`) and `a_end..b_end` (columns
/// `n1..c_r`); the supernodes `b_end..` (columns `c_r..`) are R.
#[derive(Debug, Clone, Copy, PartialEq)]
pub struct Split {
    a_end: usize,
    b_end: usize,
    n1: usize,
    c_r: usize,
}

impl Split {
    /// The split at column `n1` if the factor's structure allows it (checked, not assumed): the
    /// rows of A's supernodes lie in `0..n1` or in R, those of B's in B or R.
    pub fn find(sn: &Structure, n1: usize) -> Option<Split> {
        let ns = sn.n_supernodes();
        let a_end = (0..ns).find(|&s| sn.cols(s).start >= n1)?;
        if a_end == 0 || sn.cols(a_end).start != n1 {
            return None;
        }
        let pattern = |s: usize| sn.pattern(s);
        // R starts at the supernode holding the first row outside A that A's supernodes reach
        let first_out = (0..a_end)
            .filter_map(|s| pattern(s).iter().copied().find(|&r| r >= n1))
            .min()?;
        let b_end = (a_end..ns).find(|&s| sn.cols(s).end > first_out)?;
        let c_r = sn.cols(b_end).start;
        if b_end == a_end {
            return None;
        }
        let ok_a = (0..a_end).all(|s| pattern(s).iter().all(|&r| r < n1 || r >= c_r));
        let ok_b = (a_end..b_end).all(|s| pattern(s).iter().all(|&r| r >= n1));
        (ok_a && ok_b).then_some(Split {
            a_end,
            b_end,
            n1,
            c_r,
        })
    }
}

/// Per-thread scratch of the factorisation and the solves.
struct Scratch {
    /// The update `L_{P,s} L_{P,s}ᵀ` (max |P|²).
    update: Vec<f64>,
    /// Local row of each pattern row in the target supernode (max |P|).
    rel: Vec<usize>,
    /// Gathered / accumulated pattern values of a solve (max |P|).
    tmp: Vec<f64>,
    /// Private sums of the updates to R's values (factorisation) or rows (solve).
    far: Vec<f64>,
    far_rows: Vec<f64>,
    /// faer's dense Cholesky workspace (max w).
    mem: MemBuffer,
}

impl Scratch {
    fn new(max_p: usize, max_w: usize, far: usize, far_rows: usize) -> Self {
        Self {
            update: vec![0.0; max_p * max_p],
            rel: vec![0; max_p],
            tmp: vec![0.0; max_p],
            far: vec![0.0; far],
            far_rows: vec![0.0; far_rows],
            mem: MemBuffer::new(StackReq::any_of(&[
                faer::linalg::cholesky::llt::factor::cholesky_in_place_scratch::<f64>(
                    max_w,
                    Par::Seq,
                    Spec::<LltParams, f64>::default(),
                ),
            ])),
        }
    }
}

/// The numeric factor: the values of L, the map from K's entries to them, the split and the
/// scratch of both threads.
pub struct SupernodalFactor {
    /// The structure of L.
    st: Structure,
    /// Column → supernode.
    sup_of: Vec<usize>,
    /// `(position in K's value array, position in L's values)`, those in A, then B, then R.
    val_map: Vec<(usize, usize)>,
    /// `val_map` ranges of A, B and R.
    map_ends: [usize; 2],
    split: Option<Split>,
    values: Vec<f64>,
    scratch: [Scratch; 2],
}

/// Where a supernode range writes: its own value slice (starting at value `own_off`) and, for
/// the supernodes ≥ `own_end`, a private buffer of R's values starting at value `far_off`.
struct Target<'a> {
    own: &'a mut [f64],
    own_off: usize,
    own_end: usize,
    far_off: usize,
}

impl SupernodalFactor {
    /// Prepares the factorisation of a symmetric K with CSC pattern (`col_ptr`, `row_idx`; both
    /// triangles stored) whose elimination order is `inv` (`inv[cell]` = its elimination index),
    /// split at column `n1` (the first half of a nested dissection) if the structure allows.
    pub fn new(
        st: Structure,
        col_ptr: &[usize],
        row_idx: &[usize],
        inv: &[usize],
        n1: Option<usize>,
    ) -> Self {
        let sn = &st;
        let n = sn.nrows();
        let ns = sn.n_supernodes();
        let mut sup_of = vec![0; n];
        for s in 0..ns {
            sup_of[sn.cols(s)].iter_mut().for_each(|x| *x = s);
        }
        let split = n1.and_then(|n1| Split::find(sn, n1));
        // K's lower entries → L's values, grouped by the region (A, B, R) that holds them; the
        // columns in two halves on two threads
        let bounds = split.map_or([sn.len_val(); 2], |sp| {
            [sn.vals(sp.a_end).start, sn.vals(sp.b_end).start]
        });
        let map_cols = |cols: Range<usize>| {
            let mut regions: [Vec<(usize, usize)>; 3] = Default::default();
            for col in cols {
                for (pos, &row) in row_idx
                    .iter()
                    .enumerate()
                    .take(col_ptr[col + 1])
                    .skip(col_ptr[col])
                {
                    let (r, c) = (inv[row], inv[col]);
                    if r < c {
                        continue;
                    }
                    let dst = sn.value_index(sup_of[c], r, c);
                    let region = usize::from(dst >= bounds[0]) + usize::from(dst >= bounds[1]);
                    regions[region].push((pos, dst));
                }
            }
            regions
        };
        let values = vec![0.0; sn.len_val()];
        let (lo, hi) = rayon::join(|| map_cols(0..n / 2), || map_cols(n / 2..n));
        let map_ends = [
            lo[0].len() + hi[0].len(),
            lo[0].len() + hi[0].len() + lo[1].len() + hi[1].len(),
        ];
        let val_map = [&lo[0], &hi[0], &lo[1], &hi[1], &lo[2], &hi[2]]
            .map(|v| v.as_slice())
            .concat();
        let max_p = (0..ns).map(|s| sn.pattern(s).len()).max().unwrap_or(0);
        let max_w = (0..ns).map(|s| sn.cols(s).len()).max().unwrap_or(0);
        let (far, far_rows) = match split {
            Some(sp) => (sn.len_val() - sn.vals(sp.b_end).start, n - sp.c_r),
            None => (0, 0),
        };
        Self {
            st,
            sup_of,
            val_map,
            map_ends,
            split,
            values,
            scratch: [
                Scratch::new(max_p, max_w, far, far_rows),
                Scratch::new(
                    if split.is_some() { max_p } else { 0 },
                    if split.is_some() { max_w } else { 0 },
                    far,
                    far_rows,
                ),
            ],
        }
    }

    /// Factorises K with values `k` (on the pattern given to [`Self::new`]); false if K is not
    /// positive definite.
    pub fn factorize(&mut self, k: &[f64]) -> bool {
        let sn = &self.st;
        let ns = sn.n_supernodes();
        let (sup_of, map) = (&self.sup_of, &self.val_map);
        let fill = |own: &mut [f64], off: usize, m: &[(usize, usize)]| {
            own.iter_mut().for_each(|v| *v = 0.0);
            for &(src, dst) in m {
                own[dst - off] = k[src];
            }
        };
        let [sa, sb] = &mut self.scratch;
        let Some(sp) = self.split else {
            fill(&mut self.values, 0, map);
            let mut t = Target {
                own: &mut self.values,
                own_off: 0,
                own_end: ns,
                far_off: 0,
            };
            return factor_range(sn, sup_of, 0..ns, &mut t, sa);
        };
        let (b_off, far_off) = (sn.vals(sp.a_end).start, sn.vals(sp.b_end).start);
        let (va, rest) = self.values.split_at_mut(b_off);
        let (vb, vr) = rest.split_at_mut(far_off - b_off);
        let [ea, eb] = self.map_ends;
        let (ok_a, ok_b) = rayon::join(
            || {
                fill(va, 0, &map[..ea]);
                sa.far.iter_mut().for_each(|v| *v = 0.0);
                let mut t = Target {
                    own: va,
                    own_off: 0,
                    own_end: sp.a_end,
                    far_off,
                };
                factor_range(sn, sup_of, 0..sp.a_end, &mut t, sa)
            },
            || {
                fill(vb, b_off, &map[ea..eb]);
                sb.far.iter_mut().for_each(|v| *v = 0.0);
                let mut t = Target {
                    own: vb,
                    own_off: b_off,
                    own_end: sp.b_end,
                    far_off,
                };
                factor_range(sn, sup_of, sp.a_end..sp.b_end, &mut t, sb)
            },
        );
        if !(ok_a && ok_b) {
            return false;
        }
        fill(vr, far_off, &map[eb..]);
        for ((v, &a), &b) in vr.iter_mut().zip(&sa.far).zip(&sb.far) {
            *v = (*v + a) + b;
        }
        let mut t = Target {
            own: vr,
            own_off: far_off,
            own_end: ns,
            far_off,
        };
        factor_range(sn, sup_of, sp.b_end..ns, &mut t, sa)
    }

    /// Solves `LLᵀ x = b` in place, `x` in the elimination order.
    pub fn solve_in_place(&mut self, x: &mut [f64]) {
        let sn = &self.st;
        let n = x.len();
        let ns = sn.n_supernodes();
        let values = &self.values;
        let [sa, sb] = &mut self.scratch;
        let Some(sp) = self.split else {
            forward_sweep(sn, values, 0..ns, x, 0, &mut [], n, &mut sa.tmp);
            backward_sweep(sn, values, 0..ns, x, 0, &[], n, &mut sa.tmp);
            return;
        };
        let (xa, rest) = x.split_at_mut(sp.n1);
        let (xb, xs) = rest.split_at_mut(sp.c_r - sp.n1);
        rayon::join(
            || {
                sa.far_rows.iter_mut().for_each(|v| *v = 0.0);
                let f = &mut sa.far_rows;
                forward_sweep(sn, values, 0..sp.a_end, xa, 0, f, sp.c_r, &mut sa.tmp)
            },
            || {
                sb.far_rows.iter_mut().for_each(|v| *v = 0.0);
                let f = &mut sb.far_rows;
                forward_sweep(
                    sn,
                    values,
                    sp.a_end..sp.b_end,
                    xb,
                    sp.n1,
                    f,
                    sp.c_r,
                    &mut sb.tmp,
                )
            },
        );
        for ((v, &a), &b) in xs.iter_mut().zip(&sa.far_rows).zip(&sb.far_rows) {
            *v = (*v - a) - b;
        }
        forward_sweep(
            sn,
            values,
            sp.b_end..ns,
            xs,
            sp.c_r,
            &mut [],
            n,
            &mut sa.tmp,
        );
        backward_sweep(sn, values, sp.b_end..ns, xs, sp.c_r, &[], n, &mut sa.tmp);
        let xs = &*xs;
        rayon::join(
            || backward_sweep(sn, values, 0..sp.a_end, xa, 0, xs, sp.c_r, &mut sa.tmp),
            || {
                backward_sweep(
                    sn,
                    values,
                    sp.a_end..sp.b_end,
                    xb,
                    sp.n1,
                    xs,
                    sp.c_r,
                    &mut sb.tmp,
                )
            },
        );
    }
}

/// Right-looking factorisation of the supernodes `sup` (see the module doc); false on a
/// non-positive pivot.
fn factor_range(
    sn: &Structure,
    sup_of: &[usize],
    sup: Range<usize>,
    t: &mut Target<'_>,
    sc: &mut Scratch,
) -> bool {
    for s in sup {
        let w = sn.cols(s).len();
        let pat = sn.pattern(s);
        let p = pat.len();
        let r = w + p;
        {
            let v = sn.vals(s);
            let blk = &mut t.own[v.start - t.own_off..v.end - t.own_off];
            let (mut top, mut bot) =
                MatMut::from_column_major_slice_mut(blk, r, w).split_at_row_mut(w);
            if cholesky_in_place(
                top.rb_mut(),
                LltRegularization::default(),
                Par::Seq,
                MemStack::new(&mut sc.mem),
                Spec::<LltParams, f64>::default(),
            )
            .is_err()
            {
                return false;
            }
            if p == 0 {
                continue;
            }
            solve_lower_triangular_in_place(top.rb(), bot.rb_mut().transpose_mut(), Par::Seq);
            let u = MatMut::from_column_major_slice_mut(&mut sc.update[..p * p], p, p);
            matmul(
                u,
                BlockStructure::TriangularLower,
                Accum::Replace,
                bot.rb(),
                BlockStructure::Rectangular,
                bot.rb().transpose(),
                BlockStructure::Rectangular,
                1.0,
                Par::Seq,
            );
        }
        // scatter −U into the ancestors, one run of pattern columns per target supernode
        let mut j0 = 0;
        while j0 < p {
            let a = sup_of[pat[j0]];
            let (ab, ae) = (sn.cols(a).start, sn.cols(a).end);
            let wa = ae - ab;
            let apat = sn.pattern(a);
            let ra = wa + apat.len();
            let j1 = j0 + pat[j0..].partition_point(|&c| c < ae);
            let mut k = 0;
            for (rel, &g) in sc.rel[j0..p].iter_mut().zip(&pat[j0..]) {
                *rel = if g < ae {
                    g - ab
                } else {
                    while apat[k] < g {
                        k += 1;
                    }
                    wa + k
                };
            }
            let (dst, off): (&mut [f64], usize) = if a < t.own_end {
                (&mut *t.own, t.own_off)
            } else {
                (&mut sc.far, t.far_off)
            };
            for j in j0..j1 {
                let base = sn.vals(a).start - off + (pat[j] - ab) * ra;
                let ucol = &sc.update[j * p..(j + 1) * p];
                for (&rel, &u) in sc.rel[j..p].iter().zip(&ucol[j..]) {
                    dst[base + rel] -= u;
                }
            }
            j0 = j1;
        }
    }
    true
}

/// `Σ a_i b_i` with four independent partial sums (vectorisable; a fixed summation order, so
/// the result does not depend on the thread count or the machine's vector width).
#[inline]
fn dot4(a: &[f64], b: &[f64]) -> f64 {
    let n = a.len().min(b.len());
    let (a, b) = (&a[..n], &b[..n]);
    let mut acc = [0.0f64; 4];
    let (ac, bc) = (a.chunks_exact(4), b.chunks_exact(4));
    let (ar, br) = (ac.remainder(), bc.remainder());
    for (x, y) in ac.zip(bc) {
        for l in 0..4 {
            acc[l] += x[l] * y[l];
        }
    }
    let mut tail = 0.0;
    for (x, y) in ar.iter().zip(br) {
        tail += x * y;
    }
    (acc[0] + acc[1]) + (acc[2] + acc[3]) + tail
}

/// Supernode `s` for a sweep over columns from `lo`: its local columns `s0..s1`, the rows below
/// them and its column-major block (columns of height `s1 − s0 + pattern length`).
fn sweep_view<'a>(
    sn: &'a Structure,
    values: &'a [f64],
    s: usize,
    lo: usize,
) -> (usize, usize, &'a [usize], &'a [f64]) {
    let cols = sn.cols(s);
    (
        cols.start - lo,
        cols.end - lo,
        sn.pattern(s),
        &values[sn.vals(s)],
    )
}

/// Forward sweep `L y = b` over the supernodes `sup`. `x` holds the columns `lo..far_lo`; the
/// updates of rows ≥ `far_lo` are summed into `far` (index `row − far_lo`) for the caller.
#[allow(clippy::too_many_arguments)]
fn forward_sweep(
    sn: &Structure,
    values: &[f64],
    sup: Range<usize>,
    x: &mut [f64],
    lo: usize,
    far: &mut [f64],
    far_lo: usize,
    tmp: &mut [f64],
) {
    for s in sup {
        let (s0, s1, pat, blk) = sweep_view(sn, values, s, lo);
        let (w, t) = (s1 - s0, &mut tmp[..pat.len()]);
        let r = w + pat.len();
        t.iter_mut().for_each(|v| *v = 0.0);
        for j in 0..w {
            let col = &blk[j * r..(j + 1) * r];
            let xj = x[s0 + j] / col[j];
            x[s0 + j] = xj;
            for (xi, &l) in x[s0 + j + 1..s1].iter_mut().zip(&col[j + 1..w]) {
                *xi -= l * xj;
            }
            for (ti, &l) in t.iter_mut().zip(&col[w..]) {
                *ti += l * xj;
            }
        }
        for (&i, &ti) in pat.iter().zip(t.iter()) {
            if i < far_lo {
                x[i - lo] -= ti;
            } else {
                far[i - far_lo] += ti;
            }
        }
    }
}

/// Backward sweep `Lᵀ x = y` over the supernodes `sup` in reverse; `x` holds the columns
/// `lo..far_lo`, `far` the (final) values of the rows ≥ `far_lo`.
#[allow(clippy::too_many_arguments)]
fn backward_sweep(
    sn: &Structure,
    values: &[f64],
    sup: Range<usize>,
    x: &mut [f64],
    lo: usize,
    far: &[f64],
    far_lo: usize,
    tmp: &mut [f64],
) {
    for s in sup.rev() {
        let (s0, s1, pat, blk) = sweep_view(sn, values, s, lo);
        let (w, t) = (s1 - s0, &mut tmp[..pat.len()]);
        let r = w + pat.len();
        for (ti, &i) in t.iter_mut().zip(pat) {
            *ti = if i < far_lo {
                x[i - lo]
            } else {
                far[i - far_lo]
            };
        }
        for j in (0..w).rev() {
            let col = &blk[j * r..(j + 1) * r];
            let v = x[s0 + j] - dot4(&col[w..], t) - dot4(&col[j + 1..w], &x[s0 + j + 1..s1]);
            x[s0 + j] = v / col[j];
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::generator::five_point_pattern;
    use crate::grid::Grid;
    use crate::linsolve::nested_dissection;
    use faer::sparse::linalg::cholesky::{
        factorize_symbolic_cholesky, CholeskySymbolicParams, LltRef, SymbolicCholeskyRaw,
        SymmetricOrdering,
    };
    use faer::sparse::{SparseColMatRef, SymbolicSparseColMatRef};
    use faer::{Conj, Side};

    /// `K = I + Σ_faces c_f (e_i − e_k)(e_i − e_k)ᵀ` on an nx × ny grid, with rough positive
    /// conductances spanning 4 decades (SPD, like `I − aS`).
    fn grid_spd(nx: usize, ny: usize) -> (Vec<usize>, Vec<usize>, Vec<f64>) {
        let (cp, ri, _) = five_point_pattern(Grid::new(nx, ny).unwrap());
        let mut k = vec![0.0; ri.len()];
        let cond = |i: usize, j: usize| {
            let h = (i.min(j) * 2654435761 + i.max(j) * 40503) % 1000;
            10f64.powf(h as f64 / 250.0)
        };
        for col in 0..nx * ny {
            for pos in cp[col]..cp[col + 1] {
                let row = ri[pos];
                if row != col {
                    let c = cond(row, col);
                    k[pos] = -c;
                    let d = cp[col] + ri[cp[col]..cp[col + 1]].binary_search(&col).unwrap();
                    k[d] += c;
                }
            }
            let d = cp[col] + ri[cp[col]..cp[col + 1]].binary_search(&col).unwrap();
            k[d] += 1.0;
        }
        (cp, ri, k)
    }

    fn solve_with(
        threads: usize,
        nx: usize,
        ny: usize,
        amd: bool,
        halves: bool,
    ) -> (Vec<f64>, Vec<f64>, bool) {
        let (cp, ri, k) = grid_spd(nx, ny);
        let n = nx * ny;
        let (fwd, inv) = nested_dissection(nx, ny);
        let pattern = SymbolicSparseColMatRef::new_checked(n, n, &cp, None, &ri);
        let order = if amd {
            SymmetricOrdering::Amd
        } else {
            SymmetricOrdering::Custom(faer::perm::PermRef::new_checked(&fwd, &inv, n))
        };
        let params = CholeskySymbolicParams {
            supernodal_flop_ratio_threshold:
                faer::sparse::linalg::SupernodalThreshold::FORCE_SUPERNODAL,
            ..Default::default()
        };
        let symbolic = factorize_symbolic_cholesky(pattern, Side::Lower, order, params).unwrap();
        let SymbolicCholeskyRaw::Supernodal(sn) = symbolic.raw() else {
            panic!("supernodal forced")
        };
        let perm = symbolic.perm().unwrap().arrays().0.to_vec();
        let mut pinv = vec![0; n];
        perm.iter().enumerate().for_each(|(i, &c)| pinv[c] = i);
        let n1 = (!amd).then(|| {
            if nx >= ny {
                (nx / 2) * ny
            } else {
                nx * (ny / 2)
            }
        });
        // the whole-matrix structure from faer, or (ours) the two halves analysed separately
        let st = match (amd, halves) {
            (false, true) => {
                let (n1, n_sep) = if nx >= ny {
                    ((nx / 2) * ny, ny)
                } else {
                    (nx * (ny / 2), nx)
                };
                grid_structure(&cp, &ri, &fwd, &inv, n1, n_sep).unwrap()
            }
            _ => Structure::from_faer(sn),
        };
        let mut fac = SupernodalFactor::new(st, &cp, &ri, &pinv, n1);
        let split = fac.split.is_some();
        let b: Vec<f64> = (0..n)
            .map(|i| ((i * 7919) % 101) as f64 / 101.0 - 0.3)
            .collect();
        let pool = rayon::ThreadPoolBuilder::new()
            .num_threads(threads)
            .build()
            .unwrap();
        let mut x: Vec<f64> = perm.iter().map(|&c| b[c]).collect();
        pool.install(|| {
            assert!(fac.factorize(&k));
            fac.solve_in_place(&mut x);
        });
        let mut out = vec![0.0; n];
        perm.iter().zip(&x).for_each(|(&c, &v)| out[c] = v);
        // faer's own factor and solve of the same system
        let mut l = vec![0.0; symbolic.len_val()];
        let mut mem = MemBuffer::new(StackReq::any_of(&[
            symbolic.factorize_numeric_llt_scratch::<f64>(Par::Seq, Default::default()),
            symbolic.solve_in_place_scratch::<f64>(1, Par::Seq),
        ]));
        symbolic
            .factorize_numeric_llt::<f64>(
                &mut l,
                SparseColMatRef::new(pattern, &k),
                Side::Lower,
                Default::default(),
                Par::Seq,
                MemStack::new(&mut mem),
                Default::default(),
            )
            .unwrap();
        let mut y = b.clone();
        LltRef::new(&symbolic, &l).solve_in_place_with_conj(
            Conj::No,
            MatMut::from_column_major_slice_mut(&mut y, n, 1),
            Par::Seq,
            MemStack::new(&mut mem),
        );
        (out, y, split)
    }

    /// Our factor solves the same systems as faer's (to round-off, on a badly scaled SPD
    /// matrix), on faer's whole structure and on the two halves analysed separately, with and
    /// without the split, and the split run is bit-identical on 1 and 2 threads.
    #[test]
    fn factor_and_solve_match_faer_and_ignore_the_thread_count() {
        let max_diff = |x: &[f64], y: &[f64]| {
            x.iter()
                .zip(y)
                .fold(0.0f64, |m, (a, b)| m.max((a - b).abs()))
        };
        for (nx, ny) in [(24, 16), (33, 50), (64, 64)] {
            for halves in [false, true] {
                let (x1, y, split) = solve_with(1, nx, ny, false, halves);
                assert!(split, "{nx}×{ny}: no split found");
                let (x2, _, _) = solve_with(2, nx, ny, false, halves);
                assert!(x1.iter().zip(&x2).all(|(a, b)| a.to_bits() == b.to_bits()));
                let scale = y.iter().fold(0.0f64, |m, v| m.max(v.abs()));
                let d = max_diff(&x1, &y);
                assert!(
                    d < 1e-12 * scale,
                    "{nx}×{ny} (halves {halves}): differs from faer by {d:.2e}"
                );
            }
            let (xa, ya, split) = solve_with(2, nx, ny, true, false);
            assert!(!split);
            let scale = ya.iter().fold(0.0f64, |m, v| m.max(v.abs()));
            let d = max_diff(&xa, &ya);
            assert!(
                d < 1e-12 * scale,
                "{nx}×{ny} AMD: differs from faer by {d:.2e}"
            );
        }
    }

    /// An indefinite matrix is reported, not factorised.
    #[test]
    fn non_positive_pivot_is_reported() {
        let (nx, ny) = (20, 20);
        let (cp, ri, mut k) = grid_spd(nx, ny);
        let n = nx * ny;
        for col in 0..n {
            let d = cp[col] + ri[cp[col]..cp[col + 1]].binary_search(&col).unwrap();
            if col == 137 {
                k[d] = -5.0;
            }
        }
        let (fwd, inv) = nested_dissection(nx, ny);
        let pattern = SymbolicSparseColMatRef::new_checked(n, n, &cp, None, &ri);
        let symbolic = factorize_symbolic_cholesky(
            pattern,
            Side::Lower,
            SymmetricOrdering::Custom(faer::perm::PermRef::new_checked(&fwd, &inv, n)),
            CholeskySymbolicParams {
                supernodal_flop_ratio_threshold:
                    faer::sparse::linalg::SupernodalThreshold::FORCE_SUPERNODAL,
                ..Default::default()
            },
        )
        .unwrap();
        let SymbolicCholeskyRaw::Supernodal(sn) = symbolic.raw() else {
            panic!("supernodal forced")
        };
        let mut fac =
            SupernodalFactor::new(Structure::from_faer(sn), &cp, &ri, &inv, Some(10 * 20));
        assert!(!fac.factorize(&k));
    }
}
