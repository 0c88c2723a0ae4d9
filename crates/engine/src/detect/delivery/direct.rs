//! A directly asked backend's answer (Secret Manager, Doppler, Vault, Key Vault) as the
//! value's backend outcome: near misses and a missing prefix named, the create command when it
//! is missing, the login command when its credentials failed, and the CLI those commands need
//! when it is not installed.

use super::super::{CheckOutcome, Presence};
use crate::backends::{BackendError, Finding};
use crate::commands::CommandKind;
use crate::diagnose::{Fix, Hint};
use crate::spec::{Provider, SecretEntry, Source};

/// A directly asked backend's answer as the value's backend outcome, with the create command
/// when it is missing and the login command when the credentials failed.
pub(super) fn direct_outcome(
    entry: &SecretEntry,
    source: &Source,
    look: Result<Finding, BackendError>,
    installed: bool,
) -> CheckOutcome {
    let mut outcome = direct_answer(entry, source, look);
    let names_a_command = outcome.hints.iter().any(|h| h.fix.is_some());
    if names_a_command && !installed {
        let cli = source.backend().cli();
        outcome.hints.push(Hint::says(format!(
            "These commands use `{}`, which is not installed here (not on PATH): install it ({}), or run them where it is",
            cli.program, cli.install
        )));
    }
    outcome
}

fn direct_answer(
    entry: &SecretEntry,
    source: &Source,
    look: Result<Finding, BackendError>,
) -> CheckOutcome {
    let title = source.title();
    match look {
        Ok(Finding::Present { changed }) => {
            CheckOutcome::now(Presence::Present).changed_at(changed)
        }
        Ok(Finding::Missing(absent)) => {
            let mut hints = Vec::new();
            for name in absent.near() {
                let shown = crate::text::one_line(name);
                hints.push(Hint::says(match crate::backends::without_prefix(source.key(), name) {
                    Some(prefix) => format!(
                        "{title} has `{shown}`, this value without the spec's name_prefix `{}`: External Secrets asks for `{}`; create it under that name",
                        crate::text::one_line(prefix),
                        source.key()
                    ),
                    None => format!(
                        "{title} has `{shown}`, which looks like a typo of `{}`: External Secrets asks for the exact name",
                        source.key()
                    ),
                }));
            }
            if entry.provided_by != Provider::Vendor {
                hints.push(Hint::entry(
                    format!("Not found in {title}. Create it:"),
                    CommandKind::Create,
                ));
            }
            CheckOutcome::now(Presence::Missing).with_hints(hints)
        }
        Ok(Finding::Wrong(reason)) => CheckOutcome::now(Presence::Wrong { reason }),
        Err(BackendError::Credentials { message, login }) => {
            let text = match &login.note {
                Some(note) => format!("{}; then press Check now:", crate::text::one_line(note)),
                None => "Log in again, then press Check now:".to_owned(),
            };
            let hint = Hint { text, fix: Some(Fix::from(&login.command)) };
            CheckOutcome::now(Presence::Unreachable { reason: message }).with_hints(vec![hint])
        }
        Err(BackendError::Forbidden(permission)) => {
            CheckOutcome::now(Presence::Forbidden { permission })
        }
        Err(error @ (BackendError::Unreachable(_) | BackendError::Throttled { .. })) => {
            CheckOutcome::now(Presence::Unreachable { reason: error.text() })
        }
    }
}
