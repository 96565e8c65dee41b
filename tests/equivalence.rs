//! Equivalences (SPEC §3, §5, §6): kernel mode with δ = ∞ equals the baseline bit for bit, and
//! the implicit-Euler map R = (I − Δt G)⁻¹ is a Markov kernel.

use cgkl::config::{Config, FlowMode};
use cgkl::flux::Flux;
use cgkl::integrator::IntegratorKind;
use cgkl::problem::Projection;

fn small_config() -> Config {
    let mut c = Config::default();
    c.grid.nx = 32;
    c.grid.ny = 32;
    c.schedule.n_steps = 12;
    c
}

#[test]
fn delta_infinity_reproduces_the_baseline_bit_for_bit() {
    for mode in [FlowMode::Kernel, FlowMode::Resolved] {
        let mut c = small_config();
        c.flow.mode = mode;
        c.projection.delta = f64::INFINITY;
        let pb = c.validate().unwrap();
        let proj = pb.run(Projection::Projected).unwrap();
        let base = pb.run(Projection::Baseline).unwrap();
        let bits = |v: &[f64]| v.iter().map(|x| x.to_bits()).collect::<Vec<_>>();
        assert_eq!(
            bits(&proj.output.final_p),
            bits(&base.output.final_p),
            "{mode:?}: final states differ"
        );
        assert_eq!(bits(&proj.output.snapshots), bits(&base.output.snapshots));
        for (a, b) in proj.output.records.iter().zip(&base.output.records) {
            assert_eq!(a.v_delta.to_bits(), b.v_delta.to_bits());
            assert_eq!(a.e_block.to_bits(), b.e_block.to_bits());
        }
        // and a finite δ does change the run (the comparison is not vacuous)
        let mut c2 = c.clone();
        c2.projection.delta = 0.01;
        let proj2 = c2.validate().unwrap().run(Projection::Projected).unwrap();
        assert_ne!(bits(&proj2.output.final_p), bits(&base.output.final_p));
    }
}

#[test]
fn implicit_euler_map_is_a_markov_kernel() {
    // every flux, a moving score, a large step: columns of R = (I − Δt G)⁻¹ are probability vectors
    for flux in [
        Flux::ChainReversal,
        Flux::Sg { eta: 1.0 },
        Flux::Sg { eta: 0.3 },
        Flux::Upwind,
    ] {
        let mut c = Config::default();
        c.grid.nx = 8;
        c.grid.ny = 6;
        c.partition = cgkl::config::PartitionConfig::Tiles { bx: 2, by: 2 };
        c.forward.eps_fwd = 0.3;
        c.reverse.eps_rev = 0.3;
        c.reverse.flux = flux;
        c.data = cgkl::config::DataConfig::Textured {
            contrast: 5.0,
            amplitude: 0.8,
            periods: 1,
        };
        let pb = c.validate().unwrap();
        let mut g = pb.generator().unwrap();
        let n = g.n();
        for dt in [1e-5, 1e-3, 0.5] {
            let mut integ = IntegratorKind::ImplicitEuler { substeps: 1 }
                .build(&g)
                .unwrap();
            for col in 0..n {
                let mut e = vec![0.0; n];
                e[col] = 1.0;
                integ.advance(&mut g, &mut e, 0.007, 0.007 + dt).unwrap();
                let sum: f64 = e.iter().sum();
                let min = e.iter().cloned().fold(f64::INFINITY, f64::min);
                assert!(
                    (sum - 1.0).abs() < 1e-13,
                    "{flux:?}, Δt {dt}: column {col} sums to {sum}"
                );
                assert!(
                    min >= -1e-16,
                    "{flux:?}, Δt {dt}: column {col} has entry {min:e}"
                );
            }
        }
    }
}
