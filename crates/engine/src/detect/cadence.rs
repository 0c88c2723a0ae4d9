//! How often a backend asked directly (Secret Manager, Doppler, Vault) is asked about one
//! value: its own pace, not the monitor's. What is there is re-asked every few minutes, what is
//! missing every few seconds (faster for a minute after a Copy), a failure after a while, and
//! throttling doubles the wait each time (or waits as long as the backend asked). Between
//! asks the value keeps its last answer, which is still the latest there is.

use std::collections::HashMap;
use std::sync::Mutex;
use std::time::{Duration, Instant};

use super::{CheckOutcome, Presence};

/// How long a present value is trusted before it is asked again.
const PRESENT: Duration = Duration::from_secs(300);
/// The pace for a value that is missing or wrong.
const MISSING: Duration = Duration::from_secs(5);
/// The pace for a missing value within a minute of a Copy.
const HURRIED: Duration = Duration::from_secs(2);
/// How long a Copy hurries.
const HURRY_FOR: Duration = Duration::from_secs(60);
/// The pace after a failure (credentials, no answer).
const FAILED: Duration = Duration::from_secs(15);
/// The longest wait, whatever the throttling.
const LONGEST: Duration = Duration::from_secs(300);

/// The last answer per value, and when to ask again.
#[derive(Default)]
pub(crate) struct Cadence {
    slots: Mutex<HashMap<String, Slot>>,
    hurried_at: Mutex<Option<Instant>>,
}

struct Slot {
    next: Instant,
    last: CheckOutcome,
    /// Throttled answers in a row.
    throttled: u32,
}

/// How one ask ended, as far as the pace goes.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub(crate) enum Ended {
    /// An answer (present, missing, wrong) or a failure that is not throttling.
    Answered,
    /// The backend asked Greenlight to slow down, for this long when it said.
    Throttled(Option<Duration>),
}

impl Cadence {
    /// The last answer for `key`, while it is not yet time to ask again.
    pub(crate) fn kept(&self, key: &str) -> Option<CheckOutcome> {
        let slots = self.slots.lock().ok()?;
        let slot = slots.get(key)?;
        (Instant::now() < slot.next).then(|| slot.last.clone())
    }

    /// Keeps `outcome` for `key`, and when to ask again.
    pub(crate) fn record(&self, key: &str, outcome: &CheckOutcome, ended: Ended) {
        let Ok(mut slots) = self.slots.lock() else { return };
        let throttled = match ended {
            Ended::Throttled(_) => slots.get(key).map_or(1, |s| s.throttled + 1),
            Ended::Answered => 0,
        };
        let wait = match ended {
            Ended::Throttled(Some(asked)) => asked.min(LONGEST),
            Ended::Throttled(None) => (MISSING * 2u32.pow(throttled.min(6))).min(LONGEST),
            Ended::Answered => match &outcome.presence {
                Presence::Present => PRESENT,
                Presence::Missing | Presence::Wrong { .. } | Presence::FoundElsewhere { .. } => {
                    if self.hurrying() {
                        HURRIED
                    } else {
                        MISSING
                    }
                }
                _ => FAILED,
            },
        };
        // A throttled answer is no answer: the value keeps what was known before.
        let last = match (ended, slots.get(key)) {
            (Ended::Throttled(_), Some(slot)) => slot.last.clone(),
            _ => outcome.clone(),
        };
        slots.insert(key.to_owned(), Slot { next: Instant::now() + wait, last, throttled });
    }

    fn hurrying(&self) -> bool {
        self.hurried_at.lock().ok().and_then(|at| *at).is_some_and(|at| at.elapsed() < HURRY_FOR)
    }

    /// The operator copied a command: missing values are asked again within seconds, for a
    /// minute.
    pub(crate) fn hurry(&self) {
        if let Ok(mut at) = self.hurried_at.lock() {
            *at = Some(Instant::now());
        }
        if let Ok(mut slots) = self.slots.lock() {
            for slot in slots.values_mut().filter(|s| s.last.needs_action() && s.throttled == 0) {
                slot.next = slot.next.min(Instant::now() + HURRIED);
            }
        }
    }

    /// Everything is asked again at the next round ("Check now").
    pub(crate) fn forget(&self) {
        if let Ok(mut slots) = self.slots.lock() {
            slots.clear();
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn present_values_wait_missing_ones_do_not_and_throttling_backs_off() {
        let cadence = Cadence::default();
        let present = CheckOutcome::now(Presence::Present);
        let missing = CheckOutcome::now(Presence::Missing);
        cadence.record("a", &present, Ended::Answered);
        assert_eq!(cadence.kept("a").map(|o| o.presence), Some(Presence::Present));
        cadence.record("b", &missing, Ended::Answered);
        assert!(cadence.kept("b").is_some(), "asked a moment ago");
        // Throttled: the last answer stays, and the wait grows.
        cadence.record(
            "b",
            &CheckOutcome::now(Presence::Unreachable { reason: "429".into() }),
            Ended::Throttled(None),
        );
        assert_eq!(cadence.kept("b").map(|o| o.presence), Some(Presence::Missing));
        let first = cadence.slots.lock().unwrap().get("b").unwrap().next;
        cadence.record("b", &missing, Ended::Throttled(None));
        let second = cadence.slots.lock().unwrap().get("b").unwrap().next;
        assert!(second > first + Duration::from_secs(5), "the wait doubles");
        cadence.record("c", &missing, Ended::Throttled(Some(Duration::from_secs(42))));
        let asked = cadence.slots.lock().unwrap().get("c").unwrap().next;
        assert!(asked > Instant::now() + Duration::from_secs(40), "Retry-After is honoured");
        cadence.forget();
        assert!(cadence.kept("a").is_none());
    }
}
