//! The Δt-sweep summary (SPEC §9 `summary/`) as tables: the errors of every run and the
//! observed orders, for the report and the examples.

use super::table::{sci, Table};
use cgkl::sweep::Summary;

/// The Δt-sweep summary as one table: series, N, Δt, err_l1, err_split, err_inner, err_kl,
/// E_block_final, Lyapunov violation.
pub fn summary_table(s: &Summary) -> Table {
    let mut t = Table::new([
        "mode",
        "projection",
        "N",
        "Δt",
        "err_l1",
        "err_split",
        "err_inner",
        "err_kl",
        "E_block_final",
        "Lyapunov violation",
    ]);
    for k in 0..s.n.len() {
        t.push(vec![
            s.mode[k].clone(),
            s.projection[k].clone(),
            s.n[k].to_string(),
            sci(s.dt[k]),
            sci(s.err_l1[k]),
            sci(s.err_split[k]),
            sci(s.err_inner[k]),
            sci(s.err_kl[k]),
            sci(s.e_block_final[k]),
            sci(s.lyapunov_violation[k]),
        ]);
    }
    t
}

/// Observed orders of the total errors per series and of the splitting and inner parts of the
/// kernel error, with the N values each fit used.
pub fn orders_table(s: &Summary) -> Table {
    let mut t = Table::new(["quantity", "observed order", "N used"]);
    for (key, order, ns) in s.orders.iter().chain(&s.part_orders) {
        let what = key.trim_start_matches("observed_order_");
        let what = match what.split_once('_') {
            Some(("split", p)) => format!("kernel {p}: splitting part (err_split)"),
            Some(("inner", p)) => format!("kernel {p}: inner part (err_inner)"),
            Some((m, p)) => format!("{m} {p}: err_l1"),
            None => what.to_string(),
        };
        t.push(vec![
            what,
            if order.is_nan() {
                "none (round-off)".into()
            } else {
                format!("{order:.3}")
            },
            ns.iter()
                .map(|n| n.to_string())
                .collect::<Vec<_>>()
                .join(", "),
        ]);
    }
    t
}
