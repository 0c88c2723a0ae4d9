//! The probe for a platform whose detection this build does not include. It never guesses:
//! every row is `unreachable`, with the command to check by hand.

use std::sync::Arc;
use std::time::Duration;

use super::{CheckOutcome, Presence, Probe, ProbeFuture};
use crate::commands::{self, CommandKind, Shell, Target};
use crate::diagnose::Hint;
use crate::spec::{Platform, SecretSpec};

/// Reports every entry as unreachable, saying why.
#[derive(Debug, Clone)]
pub struct UnavailableProbe {
    platform: Platform,
    target: Target,
}

impl UnavailableProbe {
    /// For `platform`; `target` makes the hand-check commands point at the right place.
    pub fn new(platform: Platform, target: Target) -> Self {
        Self { platform, target }
    }
}

impl Probe for UnavailableProbe {
    fn check(&self, spec: Arc<SecretSpec>, platform: Platform, indices: Vec<usize>) -> ProbeFuture {
        let name = match self.platform {
            Platform::Kubernetes => "Kubernetes",
            Platform::Aws => "AWS",
        };
        let target = self.target.clone();
        Box::pin(async move {
            indices
                .into_iter()
                .filter_map(|index| {
                    let entry = spec.entries.get(index)?;
                    let mut outcome = CheckOutcome::now(Presence::Unreachable {
                        reason: format!("{name} detection is not available in this build of Greenlight"),
                    });
                    let verify = commands::for_entry(entry, platform, &target, Shell::Posix)
                        .ok()
                        .and_then(|all| all.into_iter().find(|c| c.kind == CommandKind::Verify));
                    if let Some(verify) = verify {
                        outcome.hints.push(Hint::with_command("Check by hand with:", verify.text));
                    }
                    Some((index, outcome))
                })
                .collect()
        })
    }

    fn poll_interval(&self, _all_present: bool) -> Duration {
        Duration::from_secs(60)
    }
}
