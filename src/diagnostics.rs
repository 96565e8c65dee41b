//! Per-step diagnostics (SPEC §7). Plain names describe `p_{n+1}`, `_pre` names `p̃` (before
//! the post-step operators). Index 0 records `p_0`: s = 0, dt = 0, `_pre` = plain values,
//! tau = NaN, n_active = 0, leak = 0.

use crate::kl::{entropy, kl, potentials, Reference, TauSolver, ToleranceBox};
use crate::oracle::ForwardOracle;
use crate::partition::Partition;
use std::sync::Arc;

/// The §7 record of one projection step (its scalar fields are listed, with their HDF5 names
/// and units, in [`DIAGNOSTICS`]).
#[derive(Debug, Clone, PartialEq, Default)]
pub struct StepRecord {
    /// s_{n+1}.
    pub s: f64,
    /// Δt_n = s_{n+1} − s_n.
    pub dt: f64,
    /// Σ p.
    pub mass: f64,
    /// min_i p_i.
    pub min_p: f64,
    /// V = D(p‖r).
    pub v: f64,
    /// V_δ(p̃).
    pub v_delta_pre: f64,
    /// V_δ(p).
    pub v_delta: f64,
    /// V_within(p).
    pub v_within: f64,
    /// V_coarse,δ(p).
    pub v_coarse: f64,
    /// E_block(p̃) = Σ_j |w_j(p̃) − w_ref_j|.
    pub e_block_pre: f64,
    /// E_block(p).
    pub e_block: f64,
    /// E_inf(p) = max_j |w_j(p) − w_ref_j|.
    pub e_inf: f64,
    /// τ★ of w(p̃) (NaN at index 0).
    pub tau: f64,
    /// #{j : τ★ w_j(p̃) < l_j}.
    pub n_active_lower: i32,
    /// #{j : τ★ w_j(p̃) > u_j}.
    pub n_active_upper: i32,
    /// H(p) = −Σ p ln p (nats).
    pub entropy: f64,
    /// D(p ‖ q_{T−s}) against the ε_fwd oracle (NaN without one).
    pub kl_track: f64,
    /// mean_i ((p_i − q0_i)/max q0)².
    pub mse: f64,
    /// 10 log10(1/mse).
    pub psnr: f64,
    /// Σ_j |w_j(p̃) − w_j(p_n)|.
    pub leak: f64,
    /// Block masses w(p) (m values).
    pub w: Vec<f64>,
}

impl StepRecord {
    /// A copy of the scalar fields, with an empty `w` (no allocation).
    pub fn scalars(&self) -> Self {
        Self {
            w: Vec::new(),
            ..*self
        }
    }
}

/// Where a §7 diagnostic lives in a [`StepRecord`]: a float64 or an int32 field, read and written
/// through the same accessor.
#[derive(Clone, Copy)]
pub enum Field {
    /// A float64 field.
    F64(fn(&mut StepRecord) -> &mut f64),
    /// An int32 field (the active-set counts).
    I32(fn(&mut StepRecord) -> &mut i32),
}

/// One scalar §7 diagnostic: its `trajectory/<name>` dataset name, its description and units
/// (the dataset's attributes), and its record field. The block masses `w` ((N+1) × m) are the
/// only §7 quantity outside this table.
#[derive(Clone, Copy)]
pub struct Diagnostic {
    /// Dataset name under `trajectory/` (SPEC §7's name).
    pub name: &'static str,
    /// Meaning, in SPEC's symbols.
    pub description: &'static str,
    /// Units (`1` for dimensionless).
    pub units: &'static str,
    /// The record field.
    pub field: Field,
}

impl Diagnostic {
    /// The value of a float64 diagnostic in `r` (None for an int32 one).
    pub fn f64_of(&self, r: &StepRecord) -> Option<f64> {
        let mut c = r.scalars();
        match self.field {
            Field::F64(f) => Some(*f(&mut c)),
            Field::I32(_) => None,
        }
    }

    /// The value of an int32 diagnostic in `r` (None for a float64 one).
    pub fn i32_of(&self, r: &StepRecord) -> Option<i32> {
        let mut c = r.scalars();
        match self.field {
            Field::I32(f) => Some(*f(&mut c)),
            Field::F64(_) => None,
        }
    }
}

/// Every scalar §7 diagnostic, in SPEC §7's order: the one list the HDF5 writer, the reader and
/// `inspect` use.
pub const DIAGNOSTICS: &[Diagnostic] = &[
    Diagnostic {
        name: "s",
        description: "reverse time s_n",
        units: "time",
        field: Field::F64(|r| &mut r.s),
    },
    Diagnostic {
        name: "dt",
        description: "step Δt_n = s_n − s_{n−1} (0 at n = 0)",
        units: "time",
        field: Field::F64(|r| &mut r.dt),
    },
    Diagnostic {
        name: "mass",
        description: "Σ p",
        units: "1",
        field: Field::F64(|r| &mut r.mass),
    },
    Diagnostic {
        name: "min_p",
        description: "min_i p_i",
        units: "1",
        field: Field::F64(|r| &mut r.min_p),
    },
    Diagnostic {
        name: "V",
        description: "V = D(p‖r)",
        units: "nats",
        field: Field::F64(|r| &mut r.v),
    },
    Diagnostic {
        name: "V_delta_pre",
        description: "V_δ(p̃) before the post-step operators",
        units: "nats",
        field: Field::F64(|r| &mut r.v_delta_pre),
    },
    Diagnostic {
        name: "V_delta",
        description: "V_δ(p)",
        units: "nats",
        field: Field::F64(|r| &mut r.v_delta),
    },
    Diagnostic {
        name: "V_within",
        description: "V_within(p) = Σ_j w_j D(p|_j‖π^(j))",
        units: "nats",
        field: Field::F64(|r| &mut r.v_within),
    },
    Diagnostic {
        name: "V_coarse",
        description: "V_coarse,δ(p) = D(w(p)‖w★(p))",
        units: "nats",
        field: Field::F64(|r| &mut r.v_coarse),
    },
    Diagnostic {
        name: "E_block_pre",
        description: "E_block(p̃) = Σ_j |w_j(p̃) − w_ref_j|",
        units: "1",
        field: Field::F64(|r| &mut r.e_block_pre),
    },
    Diagnostic {
        name: "E_block",
        description: "E_block(p)",
        units: "1",
        field: Field::F64(|r| &mut r.e_block),
    },
    Diagnostic {
        name: "E_inf",
        description: "E_inf(p) = max_j |w_j(p) − w_ref_j|",
        units: "1",
        field: Field::F64(|r| &mut r.e_inf),
    },
    Diagnostic {
        name: "tau",
        description: "τ★ of w(p̃) (smallest on a flat; NaN at n = 0)",
        units: "1",
        field: Field::F64(|r| &mut r.tau),
    },
    Diagnostic {
        name: "n_active_lower",
        description: "#{j : τ★ w_j(p̃) < l_j}",
        units: "1",
        field: Field::I32(|r| &mut r.n_active_lower),
    },
    Diagnostic {
        name: "n_active_upper",
        description: "#{j : τ★ w_j(p̃) > u_j}",
        units: "1",
        field: Field::I32(|r| &mut r.n_active_upper),
    },
    Diagnostic {
        name: "entropy",
        description: "H(p) = −Σ p ln p",
        units: "nats",
        field: Field::F64(|r| &mut r.entropy),
    },
    Diagnostic {
        name: "kl_track",
        description: "D(p_n ‖ q_{T−s_n}) against the ε_fwd oracle",
        units: "nats",
        field: Field::F64(|r| &mut r.kl_track),
    },
    Diagnostic {
        name: "mse",
        description: "mean_i ((p_i − q0_i)/max q0)²",
        units: "1",
        field: Field::F64(|r| &mut r.mse),
    },
    Diagnostic {
        name: "psnr",
        description: "10 log10(1/mse)",
        units: "dB",
        field: Field::F64(|r| &mut r.psnr),
    },
    Diagnostic {
        name: "leak",
        description: "Σ_j |w_j(p̃) − w_j(p_{n−1})|",
        units: "1",
        field: Field::F64(|r| &mut r.leak),
    },
];

/// Evaluates [`StepRecord`]s; workspaces sized once.
pub struct Diagnostics {
    part: Arc<Partition>,
    reference: Arc<Reference>,
    bounds: ToleranceBox,
    q0: Vec<f64>,
    q0_max: f64,
    oracle: Option<ForwardOracle>,
    horizon: f64,
    solver: TauSolver,
    w_pre: Vec<f64>,
    w_star: Vec<f64>,
    q_t: Vec<f64>,
}

impl Diagnostics {
    /// Diagnostics at tolerance `bounds.delta` (a baseline uses the δ of its projected partner)
    /// against data `q0`, with the ε_fwd oracle for `kl_track` if given.
    pub fn new(
        part: Arc<Partition>,
        reference: Arc<Reference>,
        bounds: ToleranceBox,
        q0: Vec<f64>,
        oracle: Option<ForwardOracle>,
        horizon: f64,
    ) -> Self {
        let m = part.m();
        let n = q0.len();
        let q0_max = q0.iter().cloned().fold(0.0, f64::max);
        Self {
            part,
            reference,
            bounds,
            solver: TauSolver::new(m),
            q0,
            q0_max,
            oracle,
            horizon,
            w_pre: vec![0.0; m],
            w_star: vec![0.0; m],
            q_t: vec![0.0; n],
        }
    }

    /// δ used for the δ-quantities.
    pub fn delta(&self) -> f64 {
        self.bounds.delta
    }

    /// Record of step n: `prev_w = w(p_n)`, `pre = p̃`, `post = p_{n+1}` at time `s = s_{n+1}`.
    pub fn record(
        &mut self,
        s: f64,
        dt: f64,
        prev_w: &[f64],
        pre: &[f64],
        post: &[f64],
    ) -> StepRecord {
        self.part.block_masses_into(pre, &mut self.w_pre);
        let t_pre = self
            .solver
            .solve(&self.w_pre, &self.bounds, &mut self.w_star);
        let pot_pre = potentials(pre, &self.part, &self.reference, &self.w_pre, &self.w_star);
        let e_block_pre = l1(&self.w_pre, &self.reference.w_ref);
        let leak = l1(&self.w_pre, prev_w);
        let mut r = self.state(s, dt, post);
        r.v_delta_pre = pot_pre.v_delta;
        r.e_block_pre = e_block_pre;
        r.tau = t_pre.tau;
        r.n_active_lower = t_pre.n_active_lower;
        r.n_active_upper = t_pre.n_active_upper;
        r.leak = leak;
        r
    }

    /// Record of the initial state p_0 (index 0).
    pub fn initial(&mut self, p0: &[f64]) -> StepRecord {
        self.state(0.0, 0.0, p0)
    }

    /// The plain (state) quantities of p at time s, with `_pre` = plain.
    fn state(&mut self, s: f64, dt: f64, p: &[f64]) -> StepRecord {
        let w = self.part.block_masses(p);
        self.solver.solve(&w, &self.bounds, &mut self.w_star);
        let pot = potentials(p, &self.part, &self.reference, &w, &self.w_star);
        let e_block = l1(&w, &self.reference.w_ref);
        let e_inf = w
            .iter()
            .zip(&self.reference.w_ref)
            .map(|(a, b)| (a - b).abs())
            .fold(0.0, f64::max);
        let kl_track = match self.oracle.as_mut() {
            Some(o) => {
                o.q_at((self.horizon - s).max(0.0), &mut self.q_t);
                kl(p, &self.q_t)
            }
            None => f64::NAN,
        };
        let n = p.len() as f64;
        let (q0, q0_max) = (&self.q0, self.q0_max);
        let mse = crate::par::sum(p.len(), |r| {
            p[r.clone()]
                .iter()
                .zip(&q0[r])
                .map(|(a, b)| ((a - b) / q0_max).powi(2))
                .sum::<f64>()
        }) / n;
        let (mass, min_p) = crate::par::reduce(
            p.len(),
            |r| {
                let c = &p[r];
                (
                    c.iter().sum::<f64>(),
                    c.iter().cloned().fold(f64::INFINITY, f64::min),
                )
            },
            |(s, m), (t, k)| (s + t, m.min(k)),
        );
        StepRecord {
            s,
            dt,
            mass,
            min_p,
            v: pot.v,
            v_delta_pre: pot.v_delta,
            v_delta: pot.v_delta,
            v_within: pot.v_within,
            v_coarse: pot.v_coarse,
            e_block_pre: e_block,
            e_block,
            e_inf,
            tau: f64::NAN,
            n_active_lower: 0,
            n_active_upper: 0,
            entropy: entropy(p),
            kl_track,
            mse,
            psnr: 10.0 * (1.0 / mse).log10(),
            leak: 0.0,
            w,
        }
    }
}

fn l1(a: &[f64], b: &[f64]) -> f64 {
    a.iter().zip(b).map(|(x, y)| (x - y).abs()).sum()
}

/// Lyapunov violation of a run: `max_{n<N} (V_δ(p_{n+1}) − V_δ(p_n))⁺` (SPEC §7).
pub fn lyapunov_violation(v_delta: &[f64]) -> f64 {
    v_delta
        .windows(2)
        .map(|w| (w[1] - w[0]).max(0.0))
        .fold(0.0, f64::max)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn the_table_names_every_scalar_field_once() {
        // set each field through the table to a distinct value and read it back: a row that
        // pointed at another row's field would overwrite it
        let mut r = StepRecord::default();
        for (k, d) in DIAGNOSTICS.iter().enumerate() {
            match d.field {
                Field::F64(f) => *f(&mut r) = k as f64 + 0.5,
                Field::I32(f) => *f(&mut r) = k as i32 + 1,
            }
        }
        for (k, d) in DIAGNOSTICS.iter().enumerate() {
            match d.field {
                Field::F64(_) => assert_eq!(d.f64_of(&r), Some(k as f64 + 0.5), "{}", d.name),
                Field::I32(_) => assert_eq!(d.i32_of(&r), Some(k as i32 + 1), "{}", d.name),
            }
        }
        let names: std::collections::BTreeSet<_> = DIAGNOSTICS.iter().map(|d| d.name).collect();
        assert_eq!(names.len(), DIAGNOSTICS.len());
        // SPEC §7's list, every entry but the block masses w
        let spec = "s dt mass min_p V V_delta_pre V_delta V_within V_coarse E_block_pre E_block \
                    E_inf tau n_active_lower n_active_upper entropy kl_track mse psnr leak";
        let want: std::collections::BTreeSet<_> = spec.split_whitespace().collect();
        assert_eq!(names, want);
        // 18 float64 + 2 int32 fields, with w: every field of the record
        let shown = format!("{:?}", StepRecord::default());
        assert_eq!(shown.matches(": ").count(), DIAGNOSTICS.len() + 1);
    }

    #[test]
    fn lyapunov_violation_is_the_largest_single_rise() {
        // SPEC §7: max_{n<N} (V_δ(p_{n+1}) − V_δ(p_n))⁺ — rises of 0.3 and 0.5, falls ignored
        assert!((lyapunov_violation(&[1.0, 1.3, 0.2, 0.7, 0.1]) - 0.5).abs() < 1e-15);
        assert_eq!(lyapunov_violation(&[3.0, 2.0, 1.0]), 0.0);
        assert_eq!(lyapunov_violation(&[1.0]), 0.0);
    }
}
