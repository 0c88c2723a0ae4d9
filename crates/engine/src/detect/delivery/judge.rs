//! Judging a delivery chain: what was asked this round (the backend's outcome, the External
//! Secrets answer, the target Secrets' rows) in, each hop's state and the value's row out.
//! Pure: nothing here asks anything, so every hop combination is a table test.

use std::collections::BTreeMap;

use super::super::kubernetes::eso::{Answer, Api, Cause, External, Scope, StoreRow};
use super::super::kubernetes::wire::ProbeError;
use super::super::{CheckOutcome, Presence};
use super::{Hop, HopKind, HopState, Shared};
use crate::backends::{BackendError, Finding};
use crate::commands::CommandKind;
use crate::diagnose::{Fix, Hint};
use crate::spec::{
    Delivered, DeliveryTarget, FeatureSet, Provider, SecretEntry, SecretSpec, Source, StoreRef,
};

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

    /// The ExternalSecret's hop, and whether a sync would pick up a value that is there now
    /// when its Warning settles that (`None`: the hop's state decides).
    fn external_hop(&self, t: &DeliveryTarget) -> (HopState, Option<String>, Option<bool>) {
        let external = self
            .eso
            .and_then(|a| a.externals.get(&(t.namespace.clone(), t.external_secret.clone())));
        match external {
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
        let cause = self
            .eso
            .and_then(|a| a.externals.get(&(t.namespace.clone(), t.external_secret.clone())))
            .and_then(|r| r.as_ref().ok()?.as_ref()?.cause);
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
        let first_bad = hops.iter().find(|h| !h.state.passes() && h.state != HopState::NotChecked);
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
        Ok(Finding::Present { .. }) => CheckOutcome::now(Presence::Present),
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

#[cfg(test)]
mod tests {
    //! Every hop combination that decides a row, judged without asking anything.

    use std::path::Path;

    use std::collections::BTreeSet;

    use super::*;

    const SPEC: &str = r"
version: 1
deployment: judged
platforms: [kubernetes]
backends:
  aws: { kind: aws-secrets-manager, region: us-east-1 }
delivery:
  external_secrets:
    store: { kind: ClusterSecretStore, name: aws-store }
values:
  - { name: master-key, description: The master key }
  - { name: salt-key, description: The salt }
targets:
  - namespace: app
    secret: app-secrets
    keys: { MASTER_KEY: master-key, SALT_KEY: salt-key }
";

    /// What the round saw, hop by hop; `None` where nothing answered.
    #[derive(Clone)]
    struct Seen {
        backend: Option<Presence>,
        api: Result<Api, ProbeError>,
        store: Option<(&'static str, &'static str)>,
        external: Option<External>,
        secret: Option<Presence>,
        managed: bool,
        stale_backend: bool,
        store_refused: bool,
    }

    fn synced() -> External {
        External {
            ready: "True".into(),
            reason: "SecretSynced".into(),
            last_sync: "2026-12-01T10:00:00Z".into(),
            store: "aws-store".into(),
            store_kind: "ClusterSecretStore".into(),
            cause: None,
            failing_key: None,
        }
    }

    fn failing(cause: Cause) -> External {
        External {
            ready: "False".into(),
            reason: "SecretSyncedError".into(),
            cause: Some(cause),
            ..synced()
        }
    }

    /// Everything fine: the value, ESO v1, a valid store, a synced ExternalSecret, the Secret.
    fn green() -> Seen {
        Seen {
            backend: Some(Presence::Present),
            api: Ok(Api::Served { using: "v1".into(), served: vec!["v1".into()] }),
            store: Some(("True", "Valid")),
            external: Some(synced()),
            secret: Some(Presence::Present),
            managed: true,
            stale_backend: false,
            store_refused: false,
        }
    }

    fn judge(seen: &Seen) -> CheckOutcome {
        let spec = crate::spec::parse_bytes(SPEC.as_bytes(), Path::new("judged.yaml")).unwrap();
        let entry = spec.entries.iter().find(|e| e.name == "master-key").unwrap();
        let delivered = entry.delivered.as_ref().unwrap();
        let features = FeatureSet::defaults(&spec);
        let backend = seen.backend.clone().map(|presence| {
            let mut outcome = CheckOutcome::now(presence);
            if seen.stale_backend {
                outcome.stale = Some("the backend stopped answering".into());
            }
            outcome
        });
        let targets = BTreeMap::from([(("app".to_owned(), "app-secrets".to_owned()), 7)]);
        let answers: BTreeMap<usize, CheckOutcome> =
            seen.secret.clone().map(|p| (7, CheckOutcome::now(p))).into_iter().collect();
        let row = |ready: &str, reason: &str| StoreRow {
            ready: ready.to_owned(),
            reason: reason.to_owned(),
        };
        let answer = Answer {
            api: seen.api.clone(),
            stores: seen
                .store
                .map(|(ready, reason)| {
                    let refused = ProbeError::Forbidden { message: "stores are forbidden".into() };
                    let answer = if seen.store_refused {
                        Err(refused)
                    } else {
                        Ok(Some(row(ready, reason)))
                    };
                    (Scope::Cluster, answer)
                })
                .into_iter()
                .collect(),
            externals: seen
                .external
                .clone()
                .map(|es| (("app".to_owned(), "app-secrets".to_owned()), Ok(Some(es))))
                .into_iter()
                .collect(),
            managed: BTreeMap::from([(
                "app".to_owned(),
                Ok(if seen.managed {
                    BTreeSet::from(["app-secrets".to_owned()])
                } else {
                    BTreeSet::new()
                }),
            )]),
        };
        let chain = Chain {
            spec: &spec,
            delivered,
            features: &features,
            backend: backend.as_ref(),
            targets: &targets,
            answers: &answers,
            eso: Some(&answer),
        };
        chain.judge()
    }

    fn states(outcome: &CheckOutcome) -> Vec<HopState> {
        outcome.hops.iter().map(|h| h.state).collect()
    }

    fn offers_sync(outcome: &CheckOutcome) -> bool {
        outcome.hints.iter().any(|h| h.fix == Some(Fix::Entry(CommandKind::Sync)))
    }

    use HopState::{
        Failing, Missing, NotInstalled, NotManaged, NotProven, Ok as Good, Stale, Waiting,
    };

    type Case = (&'static str, Seen, &'static str, Vec<HopState>);

    fn check(cases: Vec<Case>) {
        for (name, seen, word, hops) in cases {
            let outcome = judge(&seen);
            assert_eq!(states(&outcome), hops, "{name}: hops");
            assert_eq!(outcome.presence.state().as_str(), word, "{name}: {:?}", outcome.presence);
        }
    }

    #[test]
    fn the_backend_hop_and_what_a_sync_proves() {
        let mut cases: Vec<Case> = Vec::new();
        cases.push(("all green", green(), "present", vec![Good, Good, Good, Good, Good]));
        let mut s = green();
        s.backend = Some(Presence::Missing);
        s.external = Some(failing(Cause::BackendKeyMissing));
        s.secret = Some(Presence::Missing);
        cases.push((
            "value missing: the backend decides",
            s,
            "missing",
            vec![Missing, Good, Good, Failing, Waiting],
        ));
        let mut s = green();
        s.backend = None;
        cases.push((
            "backend not asked, proven by the sync",
            s,
            "present",
            vec![Good, Good, Good, Good, Good],
        ));
        let mut s = green();
        s.backend = Some(Presence::Missing);
        cases.push((
            "not found here but synced: another account",
            s,
            "wrong",
            vec![Failing, Good, Good, Good, Good],
        ));
        check(cases);
    }

    #[test]
    fn the_cluster_hops() {
        let mut cases: Vec<Case> = Vec::new();
        let mut s = green();
        s.api = Ok(Api::NotInstalled);
        s.store = None;
        s.external = None;
        s.secret = Some(Presence::Missing);
        cases.push((
            "External Secrets not installed",
            s,
            "wrong",
            vec![Good, NotInstalled, Waiting, Waiting, Waiting],
        ));
        let mut s = green();
        s.store = Some(("True", "ValidationUnknown"));
        cases.push((
            "validation unknown, proven by a sync",
            s,
            "present",
            vec![Good, Good, Good, Good, Good],
        ));
        let mut s = green();
        s.store = Some(("True", "ValidationUnknown"));
        s.external = Some(External { ready: String::new(), reason: String::new(), ..synced() });
        s.secret = Some(Presence::Missing);
        cases.push((
            "validation unknown, nothing synced",
            s,
            "wrong",
            vec![Good, Good, NotProven, Waiting, Waiting],
        ));
        let mut s = green();
        s.store = Some(("False", "InvalidProviderConfig"));
        s.external = Some(failing(Cause::StoreNotReady));
        cases.push(("store not ready", s, "wrong", vec![Good, Good, Failing, Failing, Stale]));
        let mut s = green();
        s.external = Some(External { store: "other-store".into(), ..synced() });
        cases.push((
            "reads through another store",
            s,
            "wrong",
            vec![Good, Good, Good, Failing, Stale],
        ));
        let mut s = green();
        s.external = Some(External { ready: String::new(), reason: String::new(), ..synced() });
        s.managed = false;
        cases.push((
            "a hand-made Secret before the first sync",
            s,
            "wrong",
            vec![Good, Good, Good, Waiting, NotManaged],
        ));
        let mut s = green();
        s.secret = Some(Presence::Missing);
        cases.push((
            "synced, yet no Secret (creationPolicy)",
            s,
            "wrong",
            vec![Good, Good, Good, Good, Failing],
        ));
        let mut s = green();
        s.api = Err(ProbeError::Forbidden { message: "may not list".into() });
        s.store = None;
        s.external = None;
        cases.push((
            "the ESO API refused",
            s,
            "forbidden",
            vec![Good, HopState::Forbidden, Waiting, Waiting, Good],
        ));
        check(cases);
    }

    #[test]
    fn sync_now_is_offered_only_where_it_helps() {
        let mut s = green();
        s.external = Some(failing(Cause::BackendKeyMissing));
        s.secret = Some(Presence::Missing);
        let outcome = judge(&s);
        assert!(offers_sync(&outcome), "the value exists now; a sync picks it up");
        let mut s = green();
        s.backend = Some(Presence::Missing);
        s.external = Some(failing(Cause::BackendKeyMissing));
        let outcome = judge(&s);
        assert!(
            !offers_sync(&outcome),
            "create first (the backend's own hint): {:?}",
            outcome.hints
        );
        let mut s = green();
        s.store = Some(("False", "InvalidProviderConfig"));
        s.external = Some(failing(Cause::StoreNotReady));
        assert!(!offers_sync(&judge(&s)), "a sync cannot mend the store");
        assert!(!offers_sync(&judge(&green())));
    }

    #[test]
    fn the_value_a_warning_names_is_the_one_blamed() {
        let naming = |key: &str| {
            let mut s = green();
            s.external = Some(External {
                failing_key: Some(key.to_owned()),
                ..failing(Cause::BackendKeyMissing)
            });
            judge(&s)
        };
        let es = |outcome: &CheckOutcome| outcome.hops.get(3).cloned().unwrap();
        // Another value of the same ExternalSecret is missing: this one waits on it.
        let other = naming("salt-key");
        assert_eq!(es(&other).state, Waiting);
        let words = es(&other).detail.unwrap();
        assert!(words.contains("`salt-key`") && words.contains("not the cause"), "{words}");
        assert!(!offers_sync(&other), "a sync cannot help before salt-key exists");
        // This value's own key: the one to create (or, once created, to sync).
        let mine = naming("master-key");
        assert_eq!(es(&mine).state, Failing);
        assert!(es(&mine).detail.unwrap().contains("this value's key"));
        assert!(offers_sync(&mine), "the value exists now; a sync picks it up");
        // A key the spec does not list for this Secret: not this value's fault either.
        let unlisted = naming("platform/other");
        assert_eq!(es(&unlisted).state, Failing);
        assert!(es(&unlisted).detail.unwrap().contains("does not list"));
        assert!(!offers_sync(&unlisted));
    }

    #[test]
    fn a_broken_store_or_operator_is_marked_as_shared_by_every_value() {
        let mut s = green();
        s.external = Some(failing(Cause::StoreCredentialMissing));
        let shared = judge(&s).hops.get(3).and_then(|h| h.shared.clone()).unwrap();
        assert_eq!(shared.location, "ClusterSecretStore aws-store");
        assert!(shared.detail.contains("create the store's credential first"), "{shared:?}");
        let mut s = green();
        s.store = Some(("False", "InvalidProviderConfig"));
        assert!(judge(&s).hops.get(2).unwrap().shared.is_some());
        let mut s = green();
        s.api = Ok(Api::NotInstalled);
        assert!(judge(&s).hops.get(1).unwrap().shared.is_some());
        // A value's own missing key is its own, never shared.
        let mut s = green();
        s.external = Some(failing(Cause::BackendKeyMissing));
        assert!(judge(&s).hops.iter().all(|h| h.shared.is_none()));
    }

    #[test]
    fn a_store_this_login_may_not_read_is_proven_by_a_sync_and_the_role_is_given() {
        let mut s = green();
        s.store_refused = true;
        let proven = judge(&s);
        assert_eq!(proven.presence, Presence::Present, "{proven:?}");
        assert!(proven.hops[2].detail.as_deref().unwrap().contains("proves it works"));
        s.external = Some(External { ready: String::new(), reason: String::new(), ..synced() });
        s.secret = Some(Presence::Missing);
        let refused = judge(&s);
        assert_eq!(refused.presence.state().as_str(), "forbidden", "{refused:?}");
        let words = refused.presence.detail().unwrap();
        assert!(
            !words.contains("stores are forbidden"),
            "the API's own words are not shown: {words}"
        );
        let role = refused.hints.iter().find_map(|h| match &h.fix {
            Some(Fix::Run(lines)) => Some(lines.concat().join(" ")),
            _ => None,
        });
        let role = role.expect("the Role that would allow it");
        assert!(role.contains("clustersecretstores.external-secrets.io"), "{role}");
        assert!(role.contains("--verb=get,list,watch"), "{role}");
    }

    #[test]
    fn a_directly_asked_value_names_its_prefix_and_a_missing_cli() {
        let spec = crate::spec::parse_bytes(
            br"
version: 1
deployment: direct
platforms: [kubernetes]
backends: { doppler: { kind: doppler, project: p, config: prd, name_prefix: PROD_ } }
delivery: { external_secrets: { store: { kind: ClusterSecretStore, name: doppler } } }
values: [{ name: API_KEY, description: A key }]
targets: [{ namespace: app, secret: s, keys: { API_KEY: API_KEY } }]
",
            Path::new("direct.yaml"),
        )
        .unwrap();
        let entry = spec.entries.first().unwrap();
        let source = &entry.delivered.as_ref().unwrap().source;
        let absent = || {
            let listing = crate::backends::proof::Listing::complete(vec!["API_KEY".to_owned()]);
            Ok(Finding::Missing(listing.proves_absent("PROD_API_KEY").unwrap()))
        };
        let words = |o: &CheckOutcome| {
            o.hints.iter().map(|h| h.text.clone()).collect::<Vec<_>>().join("\n")
        };
        let without = direct_outcome(entry, source, absent(), false);
        let said = words(&without);
        assert!(
            said.contains("`API_KEY`, this value without the spec's name_prefix `PROD_`"),
            "{said}"
        );
        assert!(said.contains("`doppler`, which is not installed here"), "{said}");
        assert!(said.contains("https://docs.doppler.com/docs/install-cli"), "{said}");
        let with = direct_outcome(entry, source, absent(), true);
        assert!(!words(&with).contains("not installed"));
    }

    #[test]
    fn a_hop_known_only_from_before_makes_the_row_stale() {
        let mut s = green();
        s.stale_backend = true;
        let outcome = judge(&s);
        assert!(outcome.stale.is_some(), "never counted as present: {outcome:?}");
    }

    #[test]
    fn without_needed_targets_only_the_backend_is_judged() {
        let spec = crate::spec::parse_bytes(
            SPEC.replace("  - namespace: app\n", "  - namespace: app\n    when: [extra]\n")
                .replace("targets:", "features:\n  extra: { description: More }\ntargets:")
                .as_bytes(),
            Path::new("judged.yaml"),
        )
        .unwrap();
        let entry = spec.entries.iter().find(|e| e.name == "master-key").unwrap();
        let features = FeatureSet::defaults(&spec);
        let backend = CheckOutcome::now(Presence::Present);
        let chain = Chain {
            spec: &spec,
            delivered: entry.delivered.as_ref().unwrap(),
            features: &features,
            backend: Some(&backend),
            targets: &BTreeMap::new(),
            answers: &BTreeMap::new(),
            eso: None,
        };
        let outcome = chain.judge();
        assert_eq!(states(&outcome), vec![Good]);
        assert_eq!(outcome.presence, Presence::Present);
    }
}
