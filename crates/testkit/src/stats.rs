//! Figures the benchmarks report: percentiles of sorted samples, in milliseconds.

use std::time::Duration;

/// The `p` percentile (0.0 to 1.0) of `sorted`.
pub fn percentile(sorted: &[Duration], p: f64) -> Duration {
    let index = ((sorted.len() as f64 - 1.0) * p).round() as usize;
    sorted[index.min(sorted.len() - 1)]
}

/// Milliseconds.
pub fn ms(d: Duration) -> f64 {
    d.as_secs_f64() * 1000.0
}
