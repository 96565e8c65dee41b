//! Observers of a run (STYLE §2): read-only hooks that the splitting driver (SPEC §6) calls as
//! it goes, in step order. Every §7 record of `p_n` reaches [`Observer::record`] together with
//! what each post-step operator did at that step; every snapshot (after projection, SPEC §9)
//! reaches [`Observer::snapshot`] the moment it is taken. A progress bar, the in-memory
//! [`Collect`]or and the streaming HDF5 sink are observers; the driver knows none of them, and
//! nothing an observer does changes the run's numbers.

use crate::diagnostics::StepRecord;
use crate::error::Result;
use crate::post_step::PostRecord;

/// One snapshot as the driver hands it over: `p_n` after the post-step operators at `s_n`.
#[derive(Debug, Clone, Copy)]
pub struct Snapshot<'a> {
    /// Step index n (0 = the start p_0, N = the final state).
    pub n: usize,
    /// Reverse time s_n.
    pub s: f64,
    /// p_n (cell masses, row-major `ny × nx`).
    pub p: &'a [f64],
    /// Net face currents at s_n in the face order of [`crate::grid::Grid::faces`], if the run
    /// stores them (`output.currents`): `G(s_n)`'s face flux on p̃_n (on p_0 at n = 0).
    pub currents: Option<&'a [f64]>,
}

/// What a run will hand over, given to every observer before the first record, so that an
/// observer can size its buffers once (no reallocation in the time loop).
#[derive(Debug, Clone, Copy)]
pub struct RunShape<'a> {
    /// Number of projection steps N (records 0…N).
    pub n_steps: usize,
    /// Step indices of the snapshots (ascending, always 0 and N).
    pub snapshot_steps: &'a [usize],
    /// Cells per state.
    pub cells: usize,
    /// Faces per currents vector, if the run hands currents over.
    pub faces: Option<usize>,
    /// Post-step operators applied at every step.
    pub ops: usize,
}

/// A read-only hook called by the driver after every step. Both methods default to doing
/// nothing; an error stops the run and is returned by the driver.
pub trait Observer {
    /// Called once before the first record with what the run will produce.
    fn begin(&mut self, shape: &RunShape<'_>) -> Result<()> {
        let _ = shape;
        Ok(())
    }

    /// The §7 record of `p_n` (n = 0: p_0) and the records of the post-step operators applied
    /// at step n, in their order (empty at n = 0 and for a baseline).
    fn record(&mut self, n: usize, rec: &StepRecord, post: &[PostRecord]) -> Result<()> {
        let _ = (n, rec, post);
        Ok(())
    }

    /// A snapshot, at every step index of the run's snapshot list (always 0 and N).
    fn snapshot(&mut self, snap: Snapshot<'_>) -> Result<()> {
        let _ = snap;
        Ok(())
    }
}

/// An observer that calls `f(n)` after every projection step n = 1…N (not for the start
/// record): the hook for progress reporting.
pub struct OnStep<F: FnMut(usize)>(pub F);

impl<F: FnMut(usize)> Observer for OnStep<F> {
    fn record(&mut self, n: usize, _rec: &StepRecord, _post: &[PostRecord]) -> Result<()> {
        if n > 0 {
            (self.0)(n);
        }
        Ok(())
    }
}

/// Everything the driver reported, kept in memory: the §7 records, the post-step records and
/// (unless built with [`Collect::records_only`]) the snapshots and currents. Memory grows with
/// N·m for the records and with K·cells for the snapshots; a run that streams its snapshots to
/// a sink keeps only the records.
#[derive(Debug, Clone, Default)]
pub struct Collect {
    keep_snapshots: bool,
    /// §7 records, index 0 = p_0 (length N+1 when the run is done).
    pub records: Vec<StepRecord>,
    /// The post-step records of steps 1…N, flattened in step order (`ops` per step).
    pub post: Vec<PostRecord>,
    /// Step indices n of the snapshots received (ascending).
    pub snapshot_steps: Vec<usize>,
    /// The snapshots received, flattened `K × cells`.
    pub snapshots: Vec<f64>,
    /// The currents received, flattened `K × faces` (None if the run stores none).
    pub currents: Option<Vec<f64>>,
}

impl Collect {
    /// Whether this collector keeps the snapshots (and so the run's memory grows with K).
    pub fn keeps_snapshots(&self) -> bool {
        self.keep_snapshots
    }

    /// Keeps records and snapshots.
    pub fn all() -> Self {
        Self {
            keep_snapshots: true,
            ..Self::default()
        }
    }

    /// Keeps the records only (the snapshots go to a sink).
    pub fn records_only() -> Self {
        Self::default()
    }
}

impl Observer for Collect {
    fn begin(&mut self, shape: &RunShape<'_>) -> Result<()> {
        self.records.reserve(shape.n_steps + 1);
        self.post.reserve(shape.n_steps * shape.ops);
        if self.keep_snapshots {
            let k = shape.snapshot_steps.len();
            self.snapshot_steps.reserve(k);
            self.snapshots.reserve(k * shape.cells);
            if let Some(f) = shape.faces {
                self.currents = Some(Vec::with_capacity(k * f));
            }
        }
        Ok(())
    }

    fn record(&mut self, _n: usize, rec: &StepRecord, post: &[PostRecord]) -> Result<()> {
        self.records.push(rec.clone());
        self.post.extend_from_slice(post);
        Ok(())
    }

    fn snapshot(&mut self, snap: Snapshot<'_>) -> Result<()> {
        if !self.keep_snapshots {
            return Ok(());
        }
        self.snapshot_steps.push(snap.n);
        self.snapshots.extend_from_slice(snap.p);
        if let Some(c) = snap.currents {
            self.currents
                .get_or_insert_with(Vec::new)
                .extend_from_slice(c);
        }
        Ok(())
    }
}
