use cgkl::config::{Config, FlowMode};
use cgkl::problem::Projection;
fn main() -> anyhow::Result<()> {
    for mode in [FlowMode::Kernel, FlowMode::Resolved] {
        for n in [40usize, 160] {
            let mut c = Config::default();
            c.flow.mode = mode;
            c.schedule.n_steps = n;
            let pb = c.validate()?;
            for projection in Projection::ALL {
                let r = pb.run(projection)?;
                let last = r.output.records.last().unwrap();
                let einf_max = r.output.records[1..]
                    .iter()
                    .map(|x| x.e_inf)
                    .fold(0.0, f64::max);
                println!("{:>28} wall {:.2}s steps {} rej {} lu {} | E_inf0 {:.4} max_after {:.4} final {:.4} mse {:.4} mass-1 {:.1e} minp {:.2e} lyap {:.3e}",
                    r.name, r.wall_s, r.stats().steps, r.stats().rejected, r.stats().factorizations,
                    r.output.records[0].e_inf, einf_max, last.e_inf, last.mse, last.mass-1.0, last.min_p, r.lyapunov_violation);
            }
        }
    }
    Ok(())
}
