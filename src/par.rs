//! Deterministic parallel reductions over cells (STYLE §3): the cells are cut into fixed chunks
//! of [`CHUNK`], each chunk is reduced in cell order on whichever thread of the current rayon
//! pool takes it, and the chunks' results are combined in chunk order. The result depends on
//! `CHUNK` alone, never on the thread count; a slice of at most `CHUNK` cells is one chunk, so
//! there the result is the sequential loop's, bit for bit. Every parallel task starts with
//! [`crate::simd_state::clear_upper_state`]: it may land on a pool thread that ran faer, where
//! libm's `log` would otherwise run many times slower.

use rayon::prelude::*;
use std::ops::Range;

/// Cells per chunk (2¹⁴: 128² grids and smaller are reduced sequentially, as before).
pub const CHUNK: usize = 1 << 14;

/// The chunks of `0..n`.
fn chunks(n: usize) -> impl IndexedParallelIterator<Item = Range<usize>> {
    (0..n.div_ceil(CHUNK)).into_par_iter().map(move |c| {
        crate::simd_state::clear_upper_state();
        c * CHUNK..((c + 1) * CHUNK).min(n)
    })
}

/// `f(chunk_0) ⊕ f(chunk_1) ⊕ …` in chunk order (`⊕` = `combine`); `f(0..n)` when `n ≤ CHUNK`.
pub fn reduce<T, F, C>(n: usize, f: F, combine: C) -> T
where
    T: Send,
    F: Fn(Range<usize>) -> T + Sync,
    C: Fn(T, T) -> T,
{
    if n <= CHUNK {
        return f(0..n);
    }
    let parts: Vec<T> = chunks(n).map(&f).collect();
    let mut it = parts.into_iter();
    let first = it.next().expect("n > CHUNK gives at least two chunks");
    it.fold(first, combine)
}

/// `Σ_chunks f(chunk)` in chunk order: `f` sums its cells in order.
pub fn sum<F: Fn(Range<usize>) -> f64 + Sync>(n: usize, f: F) -> f64 {
    reduce(n, f, |a, b| a + b)
}

/// Runs `f(chunk, &mut out[chunk])` for every chunk of `out`, in parallel (no reduction, so
/// any order gives the same result).
pub fn for_each_mut<T: Send, F: Fn(Range<usize>, &mut [T]) + Sync>(out: &mut [T], f: F) {
    let n = out.len();
    if n <= CHUNK {
        f(0..n, out);
        return;
    }
    out.par_chunks_mut(CHUNK).enumerate().for_each(|(c, o)| {
        crate::simd_state::clear_upper_state();
        f(c * CHUNK..c * CHUNK + o.len(), o)
    });
}

/// [`for_each_mut`] over two slices of equal length, chunk by chunk:
/// `f(chunk, &mut a[chunk], &mut b[chunk])`.
pub fn for_each_mut2<T: Send, U: Send, F: Fn(Range<usize>, &mut [T], &mut [U]) + Sync>(
    a: &mut [T],
    b: &mut [U],
    f: F,
) {
    let n = a.len();
    assert_eq!(n, b.len(), "for_each_mut2 takes slices of equal length");
    if n <= CHUNK {
        f(0..n, a, b);
        return;
    }
    a.par_chunks_mut(CHUNK)
        .zip(b.par_chunks_mut(CHUNK))
        .enumerate()
        .for_each(|(c, (x, y))| {
            crate::simd_state::clear_upper_state();
            f(c * CHUNK..c * CHUNK + x.len(), x, y)
        });
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn the_same_sum_on_every_thread_count() {
        let n = 5 * CHUNK + 17;
        let x: Vec<f64> = (0..n).map(|i| ((i as f64) * 0.618).sin() * 1e-3).collect();
        let s = |r: Range<usize>| x[r].iter().sum::<f64>();
        let sums: Vec<u64> = [1, 2, 3]
            .iter()
            .map(|&t| {
                rayon::ThreadPoolBuilder::new()
                    .num_threads(t)
                    .build()
                    .unwrap()
                    .install(|| sum(n, s).to_bits())
            })
            .collect();
        assert!(sums.iter().all(|&b| b == sums[0]), "{sums:?}");
        // chunk by chunk in order
        let want = (0..n.div_ceil(CHUNK))
            .map(|c| s(c * CHUNK..((c + 1) * CHUNK).min(n)))
            .fold(0.0, |a, b| a + b);
        assert_eq!(sums[0], want.to_bits());
        // one chunk: the plain loop
        assert_eq!(sum(100, s).to_bits(), s(0..100).to_bits());
    }

    #[test]
    fn for_each_mut_covers_every_cell_once() {
        let mut v = vec![0usize; 3 * CHUNK + 5];
        for_each_mut(&mut v, |r, o| {
            for (i, x) in r.zip(o) {
                *x += i;
            }
        });
        assert!(v.iter().enumerate().all(|(i, &x)| x == i));
    }
}
