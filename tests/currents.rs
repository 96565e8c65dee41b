//! The stored probability current is the flux the scheme actually used: for the kernel
//! (implicit-Euler) baseline, `p_n − p_{n−1} = −Δt_n div J_n` cell by cell, and the HDF5 file
//! stores J_x (K × ny × (nx−1)) and J_y (K × (ny−1) × nx).

use cgkl::config::{Config, DataConfig};
use cgkl::problem::Projection;

#[test]
fn kernel_currents_satisfy_the_discrete_continuity_equation() {
    let mut c = Config::default();
    c.grid.nx = 12;
    c.grid.ny = 8;
    c.partition = cgkl::config::PartitionConfig::Tiles { bx: 3, by: 2 };
    c.forward.eps_fwd = 0.3;
    c.reverse.eps_rev = 0.2;
    c.data = DataConfig::Textured {
        contrast: 3.0,
        amplitude: 0.5,
        periods: 1,
    };
    c.schedule.n_steps = 6;
    c.output.snapshots = 7; // every step
    c.output.currents = true;
    let pb = c.validate().unwrap();
    let r = pb.run(Projection::Baseline).unwrap();
    let (nx, ny) = (12, 8);
    let n = nx * ny;
    let nf = (nx - 1) * ny + nx * (ny - 1);
    let cur = r.output.currents.as_ref().unwrap();
    assert_eq!(r.output.snapshot_steps, (0..=6).collect::<Vec<_>>());
    assert_eq!(cur.len(), 7 * nf);
    let faces = pb.grid.faces();
    let mut worst: f64 = 0.0;
    for k in 1..=6 {
        let dt = pb.times[k] - pb.times[k - 1];
        let (prev, now) = (
            &r.output.snapshots[(k - 1) * n..k * n],
            &r.output.snapshots[k * n..(k + 1) * n],
        );
        let j = &cur[k * nf..(k + 1) * nf];
        let mut div = vec![0.0; n];
        for (f, &(i, kk)) in faces.iter().enumerate() {
            div[i] += j[f];
            div[kk] -= j[f];
        }
        for i in 0..n {
            let lhs = now[i] - prev[i];
            let rhs = -dt * div[i];
            worst = worst.max((lhs - rhs).abs() / now[i]);
        }
    }
    println!("worst relative continuity residual {worst:.2e}");
    assert!(worst < 1e-11, "continuity residual {worst:e}");
    // the currents are not trivially zero
    assert!(cur.iter().any(|x| x.abs() > 1e-3));

    let dir = std::env::temp_dir().join(format!("cgkl_currents_{}", std::process::id()));
    std::fs::create_dir_all(&dir).unwrap();
    let path = dir.join("run.h5");
    let _ = std::fs::remove_file(&path);
    cgkl::io::layout::write_run_file(&path, &pb, &r, true).unwrap();
    let f = hdf5::File::open(&path).unwrap();
    let (sx, jx) = cgkl::io::h5util::read_f64_nd(&f, "snapshots/J_x").unwrap();
    let (sy, _) = cgkl::io::h5util::read_f64_nd(&f, "snapshots/J_y").unwrap();
    assert_eq!(sx, vec![7, ny, nx - 1]);
    assert_eq!(sy, vec![7, ny - 1, nx]);
    assert_eq!(jx[..(nx - 1) * ny], cur[..(nx - 1) * ny]);
}
