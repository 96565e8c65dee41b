//! A run streamed to its file as it goes (observers, STYLE §2) writes the same file as the
//! run kept in memory, hands every record and snapshot to its observers in order, and leaves
//! nothing behind when it fails.

mod common;

use cgkl::config::{Config, PartitionConfig};
use cgkl::diagnostics::{lyapunov_violation, StepRecord};
use cgkl::error::{CgklError, Result};
use cgkl::io::layout::{write_run_file, RunFileSink};
use cgkl::observe::{Observer, Snapshot};
use cgkl::post_step::PostRecord;
use cgkl::problem::Projection;
use std::path::PathBuf;

fn tmp(name: &str) -> PathBuf {
    let d = std::env::temp_dir().join(format!("cgkl_stream_{}_{name}", std::process::id()));
    let _ = std::fs::remove_dir_all(&d);
    std::fs::create_dir_all(&d).unwrap();
    d
}

/// Exact text of a value (f64's `Debug` round-trips, and NaN equals NaN here).
fn dbg<T: std::fmt::Debug>(x: &T) -> String {
    format!("{x:?}")
}

fn config(currents: bool) -> Config {
    let mut c = Config::default();
    c.grid.nx = 16;
    c.grid.ny = 12;
    c.partition = PartitionConfig::Tiles { bx: 4, by: 3 };
    c.schedule.n_steps = 9;
    c.output.snapshots = 4;
    c.output.currents = currents;
    c
}

#[test]
fn streamed_file_equals_the_in_memory_file() {
    for (currents, projection) in [
        (true, Projection::Projected),
        (false, Projection::Baseline),
        (true, Projection::Baseline),
    ] {
        let pb = config(currents).validate().unwrap();
        let dir = tmp(&format!("eq_{currents}_{projection}"));
        let (mem, streamed) = (dir.join("mem.h5"), dir.join("streamed.h5"));
        let r = pb.run(projection).unwrap();
        write_run_file(&mem, &pb, &r, false).unwrap();
        let mut sink = RunFileSink::create(&streamed, &pb, false).unwrap();
        let s = pb.run_observed(projection, &mut [&mut sink]).unwrap();
        sink.finish(&s).unwrap();
        // the streaming run keeps its records, not its snapshots
        assert!(s.output.snapshots.is_empty() && s.output.currents.is_none());
        assert_eq!(dbg(&s.output.records), dbg(&r.output.records));
        assert_eq!(s.output.snapshot_steps, r.output.snapshot_steps);
        assert_eq!(r.output.snapshot_steps, vec![0, 3, 6, 9]);
        let (a, b) = (
            hdf5::File::open(&mem).unwrap(),
            hdf5::File::open(&streamed).unwrap(),
        );
        let n = common::compare_groups(&a, &b);
        assert!(n >= 30, "only {n} datasets compared");
        let k = b.dataset("snapshots/p").unwrap().shape();
        assert_eq!(k, vec![4, 12, 16]);
        if currents {
            assert_eq!(b.dataset("snapshots/J_x").unwrap().shape(), vec![4, 12, 15]);
            assert_eq!(b.dataset("snapshots/J_y").unwrap().shape(), vec![4, 11, 16]);
        }
        let names: Vec<_> = std::fs::read_dir(&dir).unwrap().collect();
        assert_eq!(names.len(), 2, "no temporary file may remain");
    }
}

/// Records what the driver hands over, in order.
#[derive(Default)]
struct Log {
    records: Vec<(usize, StepRecord, Vec<PostRecord>)>,
    snapshots: Vec<(usize, f64, Vec<f64>)>,
}

impl Observer for Log {
    fn record(&mut self, n: usize, rec: &StepRecord, post: &[PostRecord]) -> Result<()> {
        self.records.push((n, rec.clone(), post.to_vec()));
        Ok(())
    }
    fn snapshot(&mut self, snap: Snapshot<'_>) -> Result<()> {
        self.snapshots.push((snap.n, snap.s, snap.p.to_vec()));
        Ok(())
    }
}

#[test]
fn observers_see_every_record_and_snapshot_in_order() {
    let pb = config(false).validate().unwrap();
    for projection in Projection::ALL {
        let projected = projection.is_projected();
        let mut log = Log::default();
        let r = pb.run_observed(projection, &mut [&mut log]).unwrap();
        let n_steps = pb.times.len() - 1;
        assert_eq!(log.records.len(), n_steps + 1);
        let mut active = 0;
        for (k, (n, rec, post)) in log.records.iter().enumerate() {
            assert_eq!(*n, k);
            assert_eq!(dbg(rec), dbg(&r.output.records[k]));
            if k == 0 || !projected {
                assert!(post.is_empty(), "step {k}");
                continue;
            }
            // the projection's own record is the τ★ and active set the §7 record reports
            assert_eq!(post.len(), 1);
            let (p, want) = (post[0], rec);
            assert!(
                p.tau.to_bits() == want.tau.to_bits(),
                "step {k}: τ★ {} vs {}",
                p.tau,
                want.tau
            );
            assert_eq!(
                (p.n_active_lower, p.n_active_upper),
                (want.n_active_lower, want.n_active_upper)
            );
            active += p.n_active_lower + p.n_active_upper;
        }
        assert_eq!(projected, active > 0, "the projection must be active here");
        // the in-memory post records are the ones the observers saw
        let seen: Vec<PostRecord> = log.records.iter().flat_map(|x| x.2.clone()).collect();
        assert_eq!(dbg(&r.output.post), dbg(&seen));
        let steps: Vec<usize> = log.snapshots.iter().map(|x| x.0).collect();
        assert_eq!(steps, r.output.snapshot_steps);
        for (n, s, p) in &log.snapshots {
            assert_eq!(*s, pb.times[*n]);
            assert!((p.iter().sum::<f64>() - 1.0).abs() < 1e-12 && p.iter().all(|&x| x >= 0.0));
        }
        assert_eq!(log.snapshots.last().unwrap().2, r.output.final_p);
        // the driver's running Lyapunov violation is SPEC §7's maximum over the trajectory
        let v: Vec<f64> = r.output.records.iter().map(|x| x.v_delta).collect();
        assert_eq!(
            r.lyapunov_violation.to_bits(),
            lyapunov_violation(&v).to_bits()
        );
    }
}

/// Fails at step `at`.
struct FailAt(usize);

impl Observer for FailAt {
    fn record(&mut self, n: usize, _rec: &StepRecord, _post: &[PostRecord]) -> Result<()> {
        if n == self.0 {
            return Err(CgklError::Output(format!("stop at step {n}")));
        }
        Ok(())
    }
}

#[test]
fn a_failed_streaming_run_leaves_no_file() {
    let pb = config(true).validate().unwrap();
    let dir = tmp("fail");
    let path = dir.join("run.h5");
    let mut sink = RunFileSink::create(&path, &pb, false).unwrap();
    let mut fail = FailAt(5);
    let err = pb
        .run_observed(Projection::Projected, &mut [&mut sink, &mut fail])
        .unwrap_err();
    assert!(err.to_string().contains("stop at step 5"), "{err}");
    // the temporary file exists while the sink lives, and goes with it
    assert_eq!(std::fs::read_dir(&dir).unwrap().count(), 1);
    drop(sink);
    assert_eq!(std::fs::read_dir(&dir).unwrap().count(), 0);
    assert!(!path.exists());
}
