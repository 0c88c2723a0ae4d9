//! Judging a delivery chain: what was asked this round (the backend's outcome, the External
//! Secrets answer, the target Secrets' rows) in, each hop's state and the value's row out.
//! Pure: nothing here asks anything, so every hop combination is a table test.

use std::collections::BTreeMap;

use super::super::kubernetes::eso::{Answer, Api, Cause, External, Scope, StoreRow};
use super::super::kubernetes::wire::ProbeError;
use super::super::{CheckOutcome, Presence};
use super::{Hop, HopKind, HopState, Shared};
use crate::commands::CommandKind;
use crate::diagnose::Hint;
use crate::spec::{Delivered, DeliveryTarget, FeatureSet, SecretSpec, StoreRef};

/// Everything known about one value's chain in this round.
pub(super) struct Chain<'a> {
    pub(super) spec: &'a SecretSpec,
    pub(super) delivered: &'a Delivered,
    pub(super) features: &'a FeatureSet,
    /// The backend's outcome, for backends Greenlight asks itself.
    pub(super) backend: Option<&'a CheckOutcome>,
    pub(super) targets: &'a BTreeMap<(String, String), usize>,
    pub(super) answers: &'a BTreeMap<usize, CheckOutcome>,
    pub(super) eso: Option<&'a Answer>,
}

/// A failed request as a hop state and words.
fn failed(error: &ProbeError) -> (HopState, String) {
    match error {
        ProbeError::Forbidden { message } => (HopState::Forbidden, message.clone()),
        other => (HopState::Unreachable, other.to_string()),
    }
}

impl Chain<'_> {
    pub(super) fn judge(&self) -> CheckOutcome {
        let needed: Vec<&DeliveryTarget> =
            self.delivered.targets.iter().filter(|t| t.is_needed(self.features)).collect();
        let (mut backend_hop, mut backend_outcome) = self.backend_hop();
        let operator = self.operator_hop();
        let mut stores = self.store_hops(&needed);
        let targets: Vec<TargetHops> = needed.iter().map(|t| self.target_hops(t)).collect();
        if let Some(synced) = targets.iter().find(|t| t.es.state.passes()) {
            match backend_hop.state {
                // Greenlight cannot ask the backend (no login on this machine, no permission);
                // the cluster's own credentials could read it, which proves it exists.
                HopState::NotChecked | HopState::Unreachable | HopState::Forbidden => {
                    let why = backend_hop.detail.take().unwrap_or_default();
                    backend_hop.state = HopState::Ok;
                    backend_hop.detail = Some(format!(
                        "{} synced from it, which proves it exists. Greenlight could not ask it itself: {why}",
                        synced.es.location
                    ));
                    backend_outcome = None;
                }
                // Not found by this machine's login, yet synced by the cluster: Greenlight is
                // looking somewhere else than the store (another account, region or project).
                // Creating it here would make a second copy nobody reads.
                // Found elsewhere (another region) while the store synced: the store reads that
                // copy, so removing it, or creating a second one, would be wrong.
                HopState::Missing | HopState::Failing
                    if backend_hop.state == HopState::Missing
                        || matches!(
                            backend_outcome.as_ref().map(|o| &o.presence),
                            Some(Presence::FoundElsewhere { .. })
                        ) =>
                {
                    let found = match backend_outcome.as_ref().map(|o| &o.presence) {
                        Some(Presence::FoundElsewhere { location }) => {
                            format!("found in {location}, not where the spec says")
                        }
                        _ => "not found with this machine's login".to_owned(),
                    };
                    backend_hop.state = HopState::Failing;
                    // Only what was observed: where the store reads from is not known here.
                    backend_hop.detail = Some(format!(
                        "{found}, yet {} synced through the store, so the store reads it from a place this login did not look (another account, region or project, or another key than the spec's); Greenlight did not read which. Compare the ExternalSecret's remoteRef and the store's provider with the spec, and keep the copy the store reads",
                        synced.es.location
                    ));
                    backend_outcome = None;
                }
                _ => {}
            }
            // A store whose validation is unknown, or that this login may not read, is proven
            // by a sync through it.
            for store in &mut stores {
                match store.state {
                    HopState::NotProven => store.state = HopState::Ok,
                    HopState::Forbidden => {
                        store.state = HopState::Ok;
                        store.shared = None;
                        store.detail = Some(format!(
                            "this login may not read it; {} synced through it, which proves it works",
                            synced.es.location
                        ));
                    }
                    _ => {}
                }
            }
        }
        let sync_helps = targets.iter().any(|t| t.sync_helps);
        let mut hops = vec![backend_hop];
        if !needed.is_empty() {
            hops.push(operator);
            hops.extend(stores);
            for t in targets {
                hops.push(t.es);
                hops.push(t.secret);
            }
        }
        let mut outcome = self.verdict(hops, backend_outcome, sync_helps, &needed);
        // A hop known only from before (a watch that broke, a backend that stopped answering)
        // makes the whole row the last known state: it never counts as present.
        if outcome.stale.is_none() {
            outcome.stale = self.stale(&needed);
        }
        // The value's age is its backend's.
        outcome.changed_at = self.backend.and_then(|b| b.changed_at);
        outcome
    }

    fn backend_hop(&self) -> (Hop, Option<CheckOutcome>) {
        let location = self.delivered.source.describe();
        match self.backend {
            Some(outcome) => {
                let state = match &outcome.presence {
                    Presence::Present => HopState::Ok,
                    Presence::Missing => HopState::Missing,
                    Presence::Forbidden { .. } => HopState::Forbidden,
                    Presence::Unreachable { .. } | Presence::Checking => HopState::Unreachable,
                    Presence::Wrong { .. } | Presence::FoundElsewhere { .. } => HopState::Failing,
                    Presence::Skipped | Presence::NotNeeded => HopState::Waiting,
                };
                let detail = outcome.presence.detail().map(str::to_owned);
                (Hop::new(HopKind::Backend, location, state, detail), Some(outcome.clone()))
            }
            None => (
                Hop::new(
                    HopKind::Backend,
                    location,
                    HopState::NotChecked,
                    Some("not asked".to_owned()),
                ),
                None,
            ),
        }
    }

    /// When `es` reads through another store than the spec names: what it reads through. Only
    /// a sync through the spec's store says anything about the value the spec places.
    fn other_store(&self, es: &External) -> Option<String> {
        let wanted = &self.spec.delivery.as_ref()?.store;
        let kind = if es.store_kind.is_empty() { "SecretStore" } else { es.store_kind.as_str() };
        let same = es.store.is_empty() || (es.store == wanted.name && kind == wanted.kind.as_str());
        (!same).then(|| {
            format!(
                "reads through {} {}, not the {} {} the spec names: it does not deliver the value from the spec's backend; point its secretStoreRef at the spec's store (or correct the spec)",
                cell(kind, |c| c.is_ascii_alphanumeric()),
                cell(&es.store, |c| c.is_ascii_alphanumeric() || matches!(c, '-' | '.')),
                wanted.kind.as_str(),
                wanted.name
            )
        })
    }

    /// Why a hop this row was judged by is only its last known state, if one is.
    fn stale(&self, needed: &[&DeliveryTarget]) -> Option<String> {
        let targets = needed.iter().filter_map(|t| {
            let index = self.targets.get(&(t.namespace.clone(), t.secret.clone()))?;
            self.answers.get(index)
        });
        self.backend.into_iter().chain(targets).find_map(|o| o.stale.clone())
    }

    fn manifests(&self) -> Option<&str> {
        self.spec.delivery.as_ref().and_then(|d| d.api_version.as_deref())
    }

    fn operator_hop(&self) -> Hop {
        let location = "External Secrets Operator".to_owned();
        let (state, detail) = match self.eso.map(|a| &a.api) {
            None => (HopState::Waiting, None),
            Some(Err(error)) => {
                let (state, words) = failed(error);
                (state, Some(words))
            }
            Some(Ok(Api::NotInstalled)) => (
                HopState::NotInstalled,
                Some("not installed: the cluster serves no external-secrets.io API; install External Secrets (its Helm chart) first".to_owned()),
            ),
            Some(Ok(Api::Unusable { served })) => (
                HopState::VersionNotServed,
                Some(format!("serves external-secrets.io/{} only, in which ExternalSecrets cannot be read; upgrade External Secrets", served.join(", "))),
            ),
            Some(Ok(Api::Served { served, using })) => {
                let Some(manifests) = self.manifests() else {
                    // The spec does not say which version the manifests use: any ESO that
                    // serves ExternalSecrets will do.
                    return Hop::new(
                        HopKind::Operator,
                        location,
                        HopState::Ok,
                        Some(format!("serves external-secrets.io/{using}")),
                    );
                };
                if served.iter().any(|v| v == manifests) {
                    (HopState::Ok, Some(format!("serves external-secrets.io/{}", served.join(", "))))
                } else if manifests == "v1" {
                    (HopState::VersionNotServed, Some(format!("serves only external-secrets.io/{}; the deployment's manifests use v1, which ESO serves from 0.16 on: upgrade External Secrets", served.join(", "))))
                } else {
                    (HopState::VersionNotServed, Some(format!("serves external-secrets.io/{} but not {manifests}, which the deployment's manifests use (ESO stopped serving v1beta1 in 0.17): change their apiVersion to external-secrets.io/v1", served.join(", "))))
                }
            }
        };
        let hop = Hop::new(HopKind::Operator, location, state, detail);
        // Every value waits on the operator when it is missing, refused or on another version.
        if matches!(state, HopState::Ok | HopState::Waiting) { hop } else { hop.shared() }
    }

    fn store_hops(&self, needed: &[&DeliveryTarget]) -> Vec<Hop> {
        let Some(delivery) = &self.spec.delivery else { return Vec::new() };
        let store = &delivery.store;
        let scopes = Scope::all(store.kind, needed.iter().map(|t| t.namespace.clone()));
        scopes
            .into_iter()
            .map(|scope| {
                let location = match &scope {
                    Scope::Cluster => format!("{} {}", store.kind.as_str(), store.name),
                    Scope::Namespace(ns) => format!("{} {ns}/{}", store.kind.as_str(), store.name),
                };
                let (state, detail) = match self.eso.map(|a| (&a.api, a.stores.get(&scope))) {
                    Some((Ok(Api::Served { .. }), Some(Ok(Some(row))))) => store_state(row, store),
                    Some((Ok(Api::Served { .. }), Some(Ok(None)))) => (HopState::Missing, Some("does not exist; it comes with the deployment's External Secrets configuration".to_owned())),
                    Some((_, Some(Err(ProbeError::Forbidden { .. })))) => (
                        HopState::Forbidden,
                        Some(format!("this login may not read {}", store.kind.plural())),
                    ),
                    Some((_, Some(Err(error)))) => {
                        let (state, words) = failed(error);
                        (state, Some(words))
                    }
                    _ => (HopState::Waiting, None),
                };
                let hop = Hop::new(HopKind::Store, location, state, detail);
                if matches!(state, HopState::Failing | HopState::Missing) {
                    hop.shared()
                } else {
                    hop
                }
            })
            .collect()
    }

    /// What was asked about target `t`'s ExternalSecret, if it was asked.
    fn external(&self, t: &DeliveryTarget) -> Option<&Result<Option<External>, ProbeError>> {
        let key = (t.namespace.clone(), t.external_secret.clone());
        self.eso.and_then(|a| a.externals.get(&key))
    }

    /// The ExternalSecret's hop, and whether a sync would pick up a value that is there now
    /// when its Warning settles that (`None`: the hop's state decides).
    fn external_hop(&self, t: &DeliveryTarget) -> (HopState, Option<String>, Option<bool>) {
        match self.external(t) {
            None => (HopState::Waiting, None, None),
            Some(Err(error)) => {
                let (state, words) = failed(error);
                (state, Some(words), None)
            }
            Some(Ok(None)) => (
                HopState::Missing,
                Some("does not exist yet; the deployment's manifests create it".to_owned()),
                None,
            ),
            Some(Ok(Some(es))) => {
                if let Some(other) = self.other_store(es) {
                    return (HopState::Failing, Some(other), Some(false));
                }
                let (state, detail) = es_state(es);
                if es.ready != "False" || es.cause != Some(Cause::BackendKeyMissing) {
                    return (state, detail, None);
                }
                match es.failing_key.as_deref().map(|key| (key, self.blame(t, key))) {
                    None => (state, detail, Some(true)),
                    Some((key, Blame::Mine)) => (
                        HopState::Failing,
                        Some(format!("not synced: the backend has no `{key}`, this value's key")),
                        Some(true),
                    ),
                    Some((key, Blame::Other(value))) => (
                        HopState::Waiting,
                        Some(format!(
                            "it stops at value `{value}` (backend key `{key}`), which the backend does not have; this value is not the cause and arrives once `{value}` exists"
                        )),
                        Some(false),
                    ),
                    Some((key, Blame::Unlisted)) => (
                        HopState::Failing,
                        Some(format!(
                            "not synced: it asks the backend for `{key}`, which the backend does not have and the spec does not list for this Secret; this value is not the cause"
                        )),
                        Some(false),
                    ),
                }
            }
        }
    }

    /// The ExternalSecret's hop, marked shared when what stops it is the store's (missing, not
    /// ready, its credential missing or refused): every value read through the store waits on
    /// the same thing, which is told once at the store.
    fn store_level(&self, t: &DeliveryTarget, hop: Hop) -> Hop {
        let cause = self.external(t).and_then(|r| r.as_ref().ok()?.as_ref()?.cause);
        let store = self.spec.delivery.as_ref().map(|d| &d.store);
        let (Some(cause), Some(store), HopState::Failing) = (cause, store, hop.state) else {
            return hop;
        };
        let fix = match cause {
            Cause::StoreCredentialMissing => "create the store's credential first",
            Cause::AccessDenied => {
                "give the store's credential read access to the backend (or renew it)"
            }
            Cause::StoreNotReady => "`kubectl describe` the store to see why",
            Cause::StoreMissing => "it comes with the deployment's External Secrets configuration",
            _ => return hop,
        };
        let mut hop = hop;
        hop.shared = Some(Shared {
            location: format!("{} {}", store.kind.as_str(), store.name),
            detail: format!("{}; {fix}", cause.text()),
        });
        hop
    }

    /// Which value of target `t` has backend key `key`.
    fn blame(&self, t: &DeliveryTarget, key: &str) -> Blame {
        if self.delivered.source.key() == key {
            return Blame::Mine;
        }
        let same_target = |d: &Delivered| {
            d.targets.iter().any(|o| o.namespace == t.namespace && o.secret == t.secret)
        };
        self.spec
            .entries
            .iter()
            .filter_map(|e| Some((e, e.delivered.as_ref()?)))
            .find(|(_, d)| same_target(d) && d.source.key() == key)
            .map_or(Blame::Unlisted, |(e, _)| Blame::Other(e.name.clone()))
    }

    fn target_hops(&self, t: &DeliveryTarget) -> TargetHops {
        let es_location = format!("ExternalSecret {}/{}", t.namespace, t.external_secret);
        let secret_location = format!("Secret {}/{}", t.namespace, t.secret);
        let (es_state, es_detail, sync_settled) = self.external_hop(t);
        let synced = es_state == HopState::Ok;
        // ESO labels what it writes (since 0.11); older releases do not, so the label only
        // counts while the ExternalSecret is not synced.
        let unlabelled = self
            .eso
            .and_then(|a| a.managed.get(&t.namespace))
            .and_then(|m| m.as_ref().ok())
            .is_some_and(|names| !names.contains(&t.secret));
        let outcome = self
            .targets
            .get(&(t.namespace.clone(), t.secret.clone()))
            .and_then(|i| self.answers.get(i));
        let (state, detail) = match outcome.map(|o| &o.presence) {
            Some(Presence::Present) if !synced && unlabelled => (HopState::NotManaged, Some("exists but was not made by External Secrets, which will take it over and overwrite it; values belong in the backend".to_owned())),
            Some(Presence::Present) if matches!(es_state, HopState::Failing | HopState::Missing) => (HopState::Stale, Some("exists, but its ExternalSecret is not synced: it holds old data".to_owned())),
            // Only what was observed: the Table gives a key count, never names.
            Some(Presence::Present) => (HopState::Ok, Some(format!(
                "exists with at least {} data key{}; names not read (the spec lists {})",
                t.keys.len(),
                if t.keys.len() == 1 { "" } else { "s" },
                t.keys.join(", ")
            ))),
            Some(Presence::Missing) if synced => (HopState::Failing, Some("missing although its ExternalSecret says synced (creationPolicy Merge or None does not create it)".to_owned())),
            Some(Presence::Missing) => (HopState::Waiting, Some("External Secrets makes it once the ExternalSecret syncs".to_owned())),
            Some(Presence::Forbidden { permission }) => (HopState::Forbidden, Some(permission.clone())),
            Some(Presence::Wrong { reason }) => (HopState::Failing, Some(reason.clone())),
            Some(Presence::Unreachable { reason }) => (HopState::Unreachable, Some(reason.clone())),
            Some(other) => (HopState::Waiting, other.detail().map(str::to_owned)),
            None => (HopState::Waiting, None),
        };
        // A forced sync helps when ESO has not looked since the value appeared: waiting, or
        // failing because the key was missing. Not when the ExternalSecret does not exist, the
        // store is broken or the target is someone else's.
        let sync_helps = sync_settled.unwrap_or(match es_state {
            HopState::Waiting => true,
            HopState::Ok => state == HopState::Stale,
            _ => false,
        });
        TargetHops {
            es: self.store_level(
                t,
                Hop::new(HopKind::ExternalSecret, es_location, es_state, es_detail),
            ),
            secret: Hop::new(HopKind::Secret, secret_location, state, detail),
            sync_helps,
        }
    }

    /// The row's state from its hops: the backend decides first (its own outcome, hints and
    /// commands), then the first hop that does not pass.
    fn verdict(
        &self,
        hops: Vec<Hop>,
        backend: Option<CheckOutcome>,
        sync_helps: bool,
        _needed: &[&DeliveryTarget],
    ) -> CheckOutcome {
        let mut hints: Vec<Hint> = Vec::new();
        if let Some(command) = &self.delivered.create_with {
            hints.push(Hint::says(format!(
                "The vendor's tool creates this value: run `{}` (or use the Create command)",
                crate::text::one_line(command)
            )));
        }
        if hops.iter().any(|h| h.kind != HopKind::Backend && h.state == HopState::Forbidden) {
            hints.push(reader_role());
        }
        let first_bad = hops.iter().find(|h| h.state.blocks());
        let backend_state = hops.first().map(|h| h.state);
        let mut outcome = match (backend_state, backend) {
            (Some(state), Some(mut backend)) if !state.passes() => {
                hints.append(&mut backend.hints);
                backend
            }
            _ => match first_bad {
                None => CheckOutcome::now(Presence::Present),
                Some(hop) => {
                    let what = match (hop.state, &hop.detail) {
                        (HopState::Waiting, Some(detail)) => {
                            format!("waiting for External Secrets: {detail}")
                        }
                        (_, Some(detail)) => detail.clone(),
                        (state, None) => state.as_str().replace('_', " "),
                    };
                    let words = format!("{}: {what}", hop.location);
                    let presence = match hop.state {
                        HopState::Forbidden => Presence::Forbidden { permission: words },
                        HopState::Unreachable => Presence::Unreachable { reason: words },
                        _ => Presence::Wrong { reason: words },
                    };
                    if sync_helps && backend_state.is_some_and(HopState::passes) {
                        hints.push(Hint::entry(
                            "The value is in the backend; ask External Secrets to sync now instead of at its next refresh:",
                            CommandKind::Sync,
                        ));
                    }
                    CheckOutcome::now(presence)
                }
            },
        };
        outcome.hints = hints;
        outcome.hops = hops;
        outcome
    }
}

/// The read access Greenlight needs to follow External Secrets: its stores and
/// ExternalSecrets (get, list, watch; Tables, never values) and the Events that say why a
/// sync failed.
fn reader_role() -> Hint {
    let role = "greenlight-external-secrets-reader";
    Hint::lines(
        "Greenlight may not read External Secrets' objects here. A cluster admin can grant read access to stores, ExternalSecrets and their Events (no Secret values), for your user (shown in the header):",
        vec![
            crate::diagnose::argv(&[
                "kubectl",
                "create",
                "clusterrole",
                role,
                "--verb=get,list,watch",
                "--resource=clustersecretstores.external-secrets.io,secretstores.external-secrets.io,externalsecrets.external-secrets.io,events",
            ]),
            crate::diagnose::argv(&[
                "kubectl",
                "create",
                "clusterrolebinding",
                role,
                &format!("--clusterrole={role}"),
                "--user=YOUR-USER",
            ]),
        ],
    )
}

/// A store's hop from its Ready condition.
fn store_state(row: &StoreRow, store: &StoreRef) -> (HopState, Option<String>) {
    match (row.ready.as_str(), row.reason.as_str()) {
        ("True", "ValidationUnknown") => (
            HopState::NotProven,
            Some(
                "ready, but its provider could not prove the credentials work (ValidationUnknown)"
                    .to_owned(),
            ),
        ),
        ("True", _) => (HopState::Ok, Some("valid".to_owned())),
        ("False", reason) => (
            HopState::Failing,
            Some(format!(
                "not ready ({}): it cannot reach or log in to its backend; `kubectl describe {} {}` shows why",
                printable_reason(reason),
                store.kind.plural(),
                store.name
            )),
        ),
        _ => (
            HopState::Waiting,
            Some("not validated yet: is the External Secrets controller running?".to_owned()),
        ),
    }
}

/// Whose missing key stops an ExternalSecret, from the key its Warning names.
enum Blame {
    /// This value's.
    Mine,
    /// Another value the spec delivers into the same Secret (its name).
    Other(String),
    /// A key the spec does not list for that Secret.
    Unlisted,
}

/// One target's two hops, and whether Sync now would help it.
struct TargetHops {
    es: Hop,
    secret: Hop,
    sync_helps: bool,
}

/// At most 40 characters of a server's cell that `keep` accepts: nothing else reaches words.
fn cell(text: &str, keep: impl Fn(char) -> bool) -> String {
    text.chars().filter(|c| keep(*c)).take(40).collect()
}

fn printable_reason(reason: &str) -> String {
    let clean = cell(reason, |c| c.is_ascii_alphanumeric());
    if clean.is_empty() { "no reason given".to_owned() } else { clean }
}

fn es_state(es: &External) -> (HopState, Option<String>) {
    let when = if es.last_sync.is_empty() {
        String::new()
    } else {
        format!(" (last sync {})", printable_reason_time(&es.last_sync))
    };
    match (es.ready.as_str(), es.reason.as_str()) {
        // The ExternalSecret's own mapping (which backend key feeds which data key) is not
        // read: the hop says the link is the spec's.
        ("True", "SecretSynced") | ("True", "") => (
            HopState::Ok,
            Some(format!(
                "synced{when}; which value feeds which key is the spec's, not read from the cluster"
            )),
        ),
        ("True", "SecretMissing") => (
            HopState::Failing,
            Some("creationPolicy Merge, and the Secret it merges into does not exist".to_owned()),
        ),
        ("True", "SecretDeleted") => (
            HopState::Failing,
            Some(
                "the backend returned no data, so the Secret was deleted (deletionPolicy Delete)"
                    .to_owned(),
            ),
        ),
        ("True", _) => (HopState::Ok, Some(format!("ready{when}"))),
        ("False", _) => {
            let cause = es.cause.unwrap_or(Cause::Other);
            (HopState::Failing, Some(format!("not synced: {}", cause.text())))
        }
        _ => (
            HopState::Waiting,
            Some("not synced yet: is the External Secrets controller running?".to_owned()),
        ),
    }
}

/// A timestamp cell, kept only if it looks like one.
fn printable_reason_time(text: &str) -> String {
    cell(text, |c| c.is_ascii_alphanumeric() || matches!(c, '-' | ':' | '.'))
}

#[cfg(test)]
mod tests;
