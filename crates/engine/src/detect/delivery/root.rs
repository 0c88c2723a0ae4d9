//! One cause, once. When one broken part (External Secrets missing or on another version, the
//! store not ready or missing, its credential missing or refused) blocks several values, each
//! of their rows says it waits on that part, and the cause is told once, with the row to fix
//! first: the store's own credential, when the spec names it and it is not there.

use serde::Serialize;

use super::Hop;
use crate::detect::{CheckOutcome, Presence};
use crate::spec::SecretSpec;

/// A broken part every value behind it shares: where, and what was found there.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Shared {
    /// Where, e.g. `ClusterSecretStore doppler-secret-store`.
    pub location: String,
    /// What was found there, and what to do.
    pub detail: String,
}

/// The one cause blocking several values, as the window's banner, `check` and the reports
/// tell it.
#[derive(Debug, Clone, PartialEq, Eq, Serialize)]
pub struct RootCause {
    /// Where it is.
    pub location: String,
    /// What was found there, and what to do.
    pub detail: String,
    /// How many values wait on it.
    pub waiting: usize,
    /// The row to fix first: the store's credential, when the spec names it and it is not
    /// confirmed present.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub first: Option<String>,
}

impl RootCause {
    /// "One cause blocks 4 values: ClusterSecretStore doppler-secret-store".
    pub fn headline(&self) -> String {
        format!("One cause blocks {} values: {}", self.waiting, self.location)
    }
}

/// Where the hop that decides a row is: the first that does not let the value through.
fn blocking(hops: &[Hop]) -> Option<usize> {
    hops.iter().position(|h| h.state.blocks())
}

/// Marks the causes that block at least two of `judged` (rows of one round): their hops are
/// the root cause, and each row says it waits on it instead of repeating it.
pub(super) fn share(judged: &mut [(usize, CheckOutcome)]) {
    let mut counts: Vec<(Shared, usize)> = Vec::new();
    for (_, outcome) in judged.iter() {
        let hop = blocking(&outcome.hops).and_then(|at| outcome.hops.get(at));
        let Some(shared) = hop.and_then(|h| h.shared.clone()) else {
            continue;
        };
        match counts.iter_mut().find(|(s, _)| *s == shared) {
            Some((_, n)) => *n += 1,
            None => counts.push((shared, 1)),
        }
    }
    for (_, outcome) in judged.iter_mut() {
        let Some(hop) = blocking(&outcome.hops).and_then(|at| outcome.hops.get_mut(at)) else {
            continue;
        };
        let Some(shared) = hop.shared.clone() else { continue };
        let n = counts.iter().find(|(s, _)| *s == shared).map_or(0, |(_, n)| *n);
        if n < 2 {
            continue;
        }
        hop.root_cause = true;
        let words = format!("waits on {} (one cause for {n} values)", shared.location);
        outcome.presence = match &outcome.presence {
            Presence::Forbidden { .. } => Presence::Forbidden { permission: words },
            Presence::Unreachable { .. } => Presence::Unreachable { reason: words },
            _ => Presence::Wrong { reason: words },
        };
        outcome.hints.clear();
    }
}

/// The root cause among `outcomes` (rows in spec order, `None` while unknown), if one blocks
/// several values.
pub fn root_cause<'a>(
    spec: &SecretSpec,
    outcomes: impl IntoIterator<Item = Option<&'a CheckOutcome>>,
) -> Option<RootCause> {
    let outcomes: Vec<Option<&CheckOutcome>> = outcomes.into_iter().collect();
    let mut found: Option<RootCause> = None;
    for outcome in outcomes.iter().flatten() {
        let Some(shared) =
            outcome.hops.iter().find(|h| h.root_cause).and_then(|h| h.shared.as_ref())
        else {
            continue;
        };
        match &mut found {
            Some(root) if root.location == shared.location => root.waiting += 1,
            Some(_) => {}
            None => {
                found = Some(RootCause {
                    location: shared.location.clone(),
                    detail: shared.detail.clone(),
                    waiting: 1,
                    first: None,
                });
            }
        }
    }
    let mut root = found?;
    let credential = spec.delivery.as_ref().and_then(|d| d.credential.as_deref());
    root.first = credential
        .filter(|name| {
            let row = spec.entries.iter().position(|e| e.name == *name);
            let outcome = row.and_then(|i| outcomes.get(i).copied().flatten());
            !outcome.is_some_and(CheckOutcome::confirms_presence)
        })
        .map(str::to_owned);
    Some(root)
}

#[cfg(test)]
mod tests {
    use std::path::Path;

    use super::*;
    use crate::detect::delivery::{HopKind, HopState};
    use crate::diagnose::Hint;

    fn blocked_at_store(store_ok: bool) -> CheckOutcome {
        let ok = |kind, location: &str| Hop::new(kind, location.to_owned(), HopState::Ok, None);
        let store = Hop::new(
            HopKind::Store,
            "ClusterSecretStore doppler".to_owned(),
            if store_ok { HopState::Ok } else { HopState::Failing },
            Some("not ready (InvalidProviderConfig)".to_owned()),
        );
        let store = if store_ok { store } else { store.shared() };
        let mut outcome = CheckOutcome::now(Presence::Wrong {
            reason: "ClusterSecretStore doppler: not ready (InvalidProviderConfig)".to_owned(),
        })
        .with_hints(vec![Hint::says("the same advice on every row")]);
        outcome.hops = vec![ok(HopKind::Backend, "Doppler"), ok(HopKind::Operator, "ESO"), store];
        outcome
    }

    #[test]
    fn a_cause_shared_by_several_values_is_told_once() {
        let mut judged: Vec<(usize, CheckOutcome)> =
            (0..3).map(|i| (i, blocked_at_store(false))).collect();
        share(&mut judged);
        for (_, outcome) in &judged {
            assert_eq!(
                outcome.presence.detail(),
                Some("waits on ClusterSecretStore doppler (one cause for 3 values)")
            );
            assert!(outcome.hints.is_empty(), "the advice is told once, not per row");
            assert!(outcome.hops.iter().any(|h| h.root_cause));
        }
        let spec = crate::spec::parse_bytes(
            br"
version: 1
deployment: d
platforms: [kubernetes]
backends: { doppler: { kind: doppler, project: p, config: prd } }
delivery:
  external_secrets: { store: { kind: ClusterSecretStore, name: doppler, credential: token } }
values: [{ name: A, description: a }, { name: B, description: b }, { name: C, description: c }]
targets: [{ namespace: app, secret: s, keys: { A: A, B: B, C: C } }]
secrets: [{ name: token, description: t, kubernetes: { namespace: eso, keys: [dopplerToken] } }]
",
            Path::new("d.yaml"),
        )
        .unwrap();
        assert_eq!(spec.entries.first().map(|e| e.name.as_str()), Some("token"), "listed first");
        let mut outcomes: Vec<Option<CheckOutcome>> =
            vec![Some(CheckOutcome::now(Presence::Missing))];
        outcomes.extend(judged.into_iter().map(|(_, o)| Some(o)));
        let root = root_cause(&spec, outcomes.iter().map(Option::as_ref)).unwrap();
        assert_eq!(root.headline(), "One cause blocks 3 values: ClusterSecretStore doppler");
        assert_eq!(root.detail, "not ready (InvalidProviderConfig)");
        assert_eq!(root.first.as_deref(), Some("token"));
        // Once the credential is there, nothing is named to fix first.
        outcomes[0] = Some(CheckOutcome::now(Presence::Present));
        let root = root_cause(&spec, outcomes.iter().map(Option::as_ref)).unwrap();
        assert_eq!(root.first, None);
    }

    #[test]
    fn one_value_alone_keeps_its_own_words() {
        let mut judged = vec![(0, blocked_at_store(false)), (1, blocked_at_store(true))];
        share(&mut judged);
        assert!(judged.iter().all(|(_, o)| !o.hops.iter().any(|h| h.root_cause)));
        assert_eq!(judged[0].1.hints.len(), 1);
    }
}
