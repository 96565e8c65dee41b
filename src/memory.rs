//! Memory estimates checked before large allocations (issue 17): a run, a sweep or an input
//! whose estimated footprint exceeds the memory this process may use is refused with the
//! estimate (exit 2), instead of aborting in the allocator.
//!
//! The budget is the smallest of `MemAvailable` (`/proc/meminfo`), the cgroup limit
//! (`/sys/fs/cgroup/memory.max`, cgroup v2) less current use, and `CGKL_MEMORY_LIMIT` (bytes, for
//! tests and shared machines); without any of them nothing is refused.

use crate::error::{CgklError, Result};

/// Bytes this process may still allocate (see the module docs); `None` when unknown.
pub fn budget_bytes() -> Option<u64> {
    let env = std::env::var("CGKL_MEMORY_LIMIT")
        .ok()
        .and_then(|v| v.trim().parse::<u64>().ok());
    let meminfo = std::fs::read_to_string("/proc/meminfo").ok().and_then(|t| {
        t.lines()
            .find(|l| l.starts_with("MemAvailable:"))
            .and_then(|l| l.split_whitespace().nth(1))
            .and_then(|kb| kb.parse::<u64>().ok())
            .map(|kb| kb * 1024)
    });
    let cgroup = std::fs::read_to_string("/sys/fs/cgroup/memory.max")
        .ok()
        .and_then(|t| t.trim().parse::<u64>().ok())
        .map(|max| {
            let used = std::fs::read_to_string("/sys/fs/cgroup/memory.current")
                .ok()
                .and_then(|t| t.trim().parse::<u64>().ok())
                .unwrap_or(0);
            max.saturating_sub(used)
        });
    [env, meminfo, cgroup].into_iter().flatten().min()
}

/// `bytes` as GiB (or MiB below 1 GiB) with three significant digits, for messages.
pub fn human(bytes: u64) -> String {
    let b = bytes as f64;
    if b >= (1u64 << 30) as f64 {
        format!("{:.3} GiB", b / (1u64 << 30) as f64)
    } else {
        format!("{:.3} MiB", b / (1u64 << 20) as f64)
    }
}

/// Refuses `bytes` (an estimate for `what`, e.g. "the sweep's runs") when it exceeds the
/// budget: a config error on `key` whose message gives the estimate, the budget and `fix`.
pub fn check_fits(key: &str, what: &str, bytes: u64, fix: &str) -> Result<()> {
    match budget_bytes() {
        Some(budget) if bytes > budget => Err(CgklError::config(
            key,
            format!("≈ {} for {what}", human(bytes)),
            format!(
                "more than the {} of memory this process may use; {fix}",
                human(budget)
            ),
        )),
        _ => Ok(()),
    }
}

/// `a · b · c · 8` bytes, saturating (an estimate of `a × b × c` float64 values).
pub fn f64s(a: usize, b: usize, c: usize) -> u64 {
    (a as u64)
        .saturating_mul(b as u64)
        .saturating_mul(c as u64)
        .saturating_mul(8)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn human_and_products() {
        assert_eq!(human(3 << 30), "3.000 GiB");
        assert_eq!(human(5 << 20), "5.000 MiB");
        assert_eq!(f64s(usize::MAX, 2, 2), u64::MAX);
        assert_eq!(f64s(10, 10, 10), 8000);
    }
}
