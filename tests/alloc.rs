//! Allocation inside the time loop (issue 9): a counting global allocator records the bytes and
//! the number of allocations between consecutive steps of a run (the progress callback fires after
//! every step). A step allocates only the §7 record it keeps (the m block masses w: 128 bytes at
//! m = 16) and, about once every 30 steps, a block of rayon's job queue (≈ 1.6 KB, when the
//! solver's two halves are handed to the pool): nothing of the size of a state vector. The
//! integrators, the solver, the projection and the diagnostics work in storage made before the
//! loop. Kept alone in this binary: the counters are global.

use cgkl::config::Config;
use cgkl::problem::Projection;
use std::alloc::{GlobalAlloc, Layout, System};
use std::sync::atomic::{AtomicUsize, Ordering::Relaxed};

struct Counting;

static BYTES: AtomicUsize = AtomicUsize::new(0);
static COUNT: AtomicUsize = AtomicUsize::new(0);
static LARGEST: AtomicUsize = AtomicUsize::new(0);

fn count(size: usize) {
    BYTES.fetch_add(size, Relaxed);
    COUNT.fetch_add(1, Relaxed);
    LARGEST.fetch_max(size, Relaxed);
}

unsafe impl GlobalAlloc for Counting {
    unsafe fn alloc(&self, layout: Layout) -> *mut u8 {
        count(layout.size());
        unsafe { System.alloc(layout) }
    }
    unsafe fn alloc_zeroed(&self, layout: Layout) -> *mut u8 {
        count(layout.size());
        unsafe { System.alloc_zeroed(layout) }
    }
    unsafe fn realloc(&self, ptr: *mut u8, layout: Layout, new_size: usize) -> *mut u8 {
        count(new_size);
        unsafe { System.realloc(ptr, layout, new_size) }
    }
    unsafe fn dealloc(&self, ptr: *mut u8, layout: Layout) {
        unsafe { System.dealloc(ptr, layout) }
    }
}

#[global_allocator]
static GLOBAL: Counting = Counting;

/// Bytes, allocations and the largest allocation of each step n ≥ 2 (step 1 may start the
/// thread pool) of one run.
fn per_step(overrides: &[&str], projection: Projection) -> Vec<(usize, usize, usize)> {
    let ov: Vec<String> = overrides.iter().map(|s| s.to_string()).collect();
    let pb = Config::from_toml_with_overrides("", &ov)
        .unwrap()
        .validate()
        .unwrap();
    let mut marks = Vec::new();
    pb.run_with_progress(projection, &mut |_, _| {
        marks.push((
            BYTES.load(Relaxed),
            COUNT.load(Relaxed),
            LARGEST.swap(0, Relaxed),
        ));
    })
    .unwrap();
    marks
        .windows(2)
        .skip(1)
        .map(|w| (w[1].0 - w[0].0, w[1].1 - w[0].1, w[1].2))
        .collect()
}

#[test]
fn a_step_allocates_only_its_record() {
    let base = [
        "grid.nx=64",
        "grid.ny=64",
        "partition.bx=4",
        "partition.by=4",
        "schedule.n_steps=12",
    ];
    let n_cells = 64 * 64;
    for (label, extra) in [
        ("kernel, chain reversal", vec!["flow.mode=kernel"]),
        (
            "kernel, upwind (LU)",
            vec!["flow.mode=kernel", "reverse.flux.kind=upwind"],
        ),
        (
            "resolved, TR-BDF2",
            vec![
                "flow.mode=resolved",
                "flow.integrator.kind=trbdf2_adaptive",
                "flow.integrator.rtol=1e-6",
                "flow.integrator.atol=1e-10",
            ],
        ),
        (
            "resolved, TR-BDF2, multigrid solves",
            vec![
                "flow.mode=resolved",
                "flow.integrator.kind=trbdf2_adaptive",
                "flow.integrator.rtol=1e-6",
                "flow.integrator.atol=1e-10",
                "data.kind=textured",
                "forward.eps_fwd=0.3",
                "flow.linear_solver=multigrid",
            ],
        ),
        (
            "kernel, moving score, multigrid solves",
            vec![
                "flow.mode=kernel",
                "data.kind=textured",
                "forward.eps_fwd=0.3",
                "flow.linear_solver=multigrid",
            ],
        ),
        (
            "kernel, textured + perturbed score",
            vec![
                "flow.mode=kernel",
                "data.kind=textured",
                "score.kind=perturbed",
                "score.sigma=0.1",
                "score.corr_len=4",
                "score.seed=3",
            ],
        ),
    ] {
        for projection in Projection::ALL {
            let ov: Vec<&str> = base.iter().copied().chain(extra.iter().copied()).collect();
            let steps = per_step(&ov, projection);
            let max_bytes = steps.iter().map(|s| s.0).max().unwrap();
            let max_count = steps.iter().map(|s| s.1).max().unwrap();
            let largest = steps.iter().map(|s| s.2).max().unwrap();
            println!(
                "{label}, {projection}: per step at most {max_bytes} bytes in \
                 {max_count} allocations, the largest {largest} bytes"
            );
            // the record's w (m = 16 floats) and rayon's queue blocks, nothing of size n
            assert!(
                largest <= 2048,
                "{label}: a step allocated {largest} bytes at once (a state vector is {} bytes)",
                8 * n_cells
            );
            assert!(
                max_bytes <= 2 * n_cells,
                "{label}: a step allocated {max_bytes} bytes in all"
            );
        }
    }
}
