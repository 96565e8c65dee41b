//! Clipping hook: `p_i ← max(p_i, 0)`, then renormalise to the mass before clipping. Never applied
//! silently: it reports the mass it removed. An example of a non-projection [`PostStep`].

use super::{PostRecord, PostStep};

/// Sets negative entries to zero and rescales to the previous total mass.
#[derive(Debug, Clone, Copy, Default)]
pub struct Clip;

impl PostStep for Clip {
    fn apply(&mut self, p: &mut [f64], _s: f64) -> PostRecord {
        let before: f64 = p.iter().sum();
        let removed: f64 = p.iter().filter(|&&x| x < 0.0).map(|x| -x).sum();
        if removed == 0.0 {
            return PostRecord::identity();
        }
        p.iter_mut().for_each(|x| *x = x.max(0.0));
        let after: f64 = p.iter().sum();
        if after > 0.0 {
            p.iter_mut().for_each(|x| *x *= before / after);
        }
        PostRecord {
            mass_change: -removed,
            ..PostRecord::identity()
        }
    }

    fn name(&self) -> &'static str {
        "clip"
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn clip_reports_and_keeps_mass() {
        let mut p = [0.6, -0.1, 0.5];
        let r = Clip.apply(&mut p, 0.0);
        assert!(p.iter().all(|&x| x >= 0.0));
        assert!((p.iter().sum::<f64>() - 1.0).abs() < 1e-15);
        assert_eq!(r.mass_change, -0.1);
    }
}
