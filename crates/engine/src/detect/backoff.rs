//! Waiting between retries and polls: exponential backoff and jitter, so that several clients
//! behind one account or cluster do not retry in step.

use std::time::Duration;

/// A random-enough fraction in [0, 1) from the clock's sub-second noise; no random number
/// generator is needed to keep clients out of step.
fn noise() -> f64 {
    let nanos = std::time::SystemTime::now()
        .duration_since(std::time::UNIX_EPOCH)
        .map(|d| d.subsec_nanos())
        .unwrap_or(0);
    f64::from(nanos % 1000) / 1000.0
}

/// `base` plus up to `spread` more.
pub(crate) fn jitter(base: Duration, spread: Duration) -> Duration {
    base + spread.mul_f64(noise())
}

/// Exponential backoff with jitter.
pub(crate) struct Backoff {
    next: Duration,
    min: Duration,
    max: Duration,
}

impl Backoff {
    /// Starts at `min`, doubling up to `max`.
    pub(crate) fn new((min, max): (Duration, Duration)) -> Self {
        Self { next: min, min, max }
    }

    /// Back to the shortest wait (after a success).
    pub(crate) fn reset(&mut self) {
        self.next = self.min;
    }

    /// The next wait: the current step plus up to a quarter more.
    pub(crate) fn wait(&mut self) -> Duration {
        let base = self.next;
        self.next = (self.next * 2).min(self.max);
        jitter(base, base / 4)
    }
}
