//! Delivery chains: a value in a backend, the External Secrets Operator, its store, and per
//! target namespace the ExternalSecret and the Secret it makes. Each hop gets its own state;
//! a value's row is green only when every needed target is synced.
//!
//! The probe lowers the spec: each value becomes a plain entry placed in its backend (AWS or
//! a source namespace, checked by the existing probes with their diagnoses and commands),
//! and each target Secret a vendor-provided Kubernetes entry (presence only: its create
//! commands are never shown, ESO owns it). External Secrets is asked through
//! [`KubernetesProbe::eso`]. Backends Greenlight does not ask directly (Secret Manager,
//! Doppler, Vault) are judged from what External Secrets reports. Over 600 lines: planning,
//! asking and judging the hops share the chain's types; separating the pure judge from the
//! asking is an open refactor (issue 20).

use std::collections::{BTreeMap, BTreeSet};
use std::sync::Arc;
use std::time::Duration;

use serde::Serialize;

use super::aws::AwsProbe;
use super::cadence::{Cadence, Ended};
use super::kubernetes::KubernetesProbe;
use super::kubernetes::eso::{Answer, Api, Ask, Cause, External};
use super::kubernetes::wire::ProbeError;
use super::{CheckOutcome, Decided, Decision, Pace, Presence, Probe, RoundAsk, RoundReport, Wake};
use crate::backends::{Asked, BackendError, Context, Finding};
use crate::commands::CommandKind;
use crate::diagnose::{Fix, Hint};
use crate::spec::{
    Delivered, DeliveryTarget, FeatureSet, Provider, SecretEntry, SecretSpec, Source, StoreKind,
};
use futures::future::BoxFuture;

/// One hop of a chain.
#[derive(Debug, Clone, PartialEq, Eq, Serialize)]
pub struct Hop {
    /// What it is.
    pub kind: HopKind,
    /// Where, e.g. `ExternalSecret litellm/litellm-secrets`.
    pub location: String,
    /// Its state.
    pub state: HopState,
    /// What was found, in words.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub detail: Option<String>,
}

/// The hops of a chain.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize)]
#[serde(rename_all = "snake_case")]
pub enum HopKind {
    /// The value in its backend.
    Backend,
    /// The External Secrets Operator's API.
    Operator,
    /// The SecretStore or ClusterSecretStore.
    Store,
    /// The ExternalSecret.
    ExternalSecret,
    /// The Kubernetes Secret it makes.
    Secret,
}

/// A hop's state, as the JSON report names it.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize)]
#[serde(rename_all = "snake_case")]
pub enum HopState {
    /// Exists and works (a value present, a store valid, an ExternalSecret synced).
    Ok,
    /// The backend (or the cluster) cleanly said it does not exist.
    Missing,
    /// Not there or not synced yet, and nothing says why.
    Waiting,
    /// Reports an error.
    Failing,
    /// External Secrets is not installed.
    NotInstalled,
    /// The API version the manifests use is not served.
    VersionNotServed,
    /// A store whose validation is unknown: usable, not proven.
    NotProven,
    /// A Secret External Secrets did not make: it will be taken over and overwritten.
    NotManaged,
    /// A Secret that exists while its ExternalSecret fails: it holds old (or hand-made) data.
    Stale,
    /// Greenlight may not look.
    Forbidden,
    /// Could not be asked.
    Unreachable,
    /// Greenlight does not ask this backend itself; see the ExternalSecrets.
    NotChecked,
}

impl HopState {
    /// The word shown.
    pub fn as_str(self) -> &'static str {
        match self {
            HopState::Ok => "ok",
            HopState::Missing => "missing",
            HopState::Waiting => "waiting",
            HopState::Failing => "failing",
            HopState::NotInstalled => "not_installed",
            HopState::VersionNotServed => "version_not_served",
            HopState::NotProven => "not_proven",
            HopState::NotManaged => "not_managed",
            HopState::Stale => "stale",
            HopState::Forbidden => "forbidden",
            HopState::Unreachable => "unreachable",
            HopState::NotChecked => "not_checked",
        }
    }

    /// The row state whose colour and symbol the hop is shown with.
    pub fn tone(self) -> super::State {
        use super::State;
        match self {
            HopState::Ok => State::Present,
            HopState::Missing => State::Missing,
            HopState::Failing
            | HopState::NotInstalled
            | HopState::VersionNotServed
            | HopState::NotProven
            | HopState::NotManaged
            | HopState::Stale => State::Wrong,
            HopState::Forbidden => State::Forbidden,
            HopState::Waiting | HopState::Unreachable | HopState::NotChecked => State::Unreachable,
        }
    }

    /// Whether the hop lets the value through.
    pub fn passes(self) -> bool {
        self == HopState::Ok
    }
}

impl Hop {
    fn new(kind: HopKind, location: String, state: HopState, detail: Option<String>) -> Self {
        Self { kind, location, state, detail }
    }
}

/// The probe for specs with delivered values: plain entries and backends through the
/// Kubernetes and AWS probes, External Secrets through the Kubernetes session.
pub struct DeliveryProbe {
    /// The spec with values placed in their backends and targets appended (see [`lower`]),
    /// made once: a spec reload makes a new probe.
    lowered: Arc<SecretSpec>,
    /// The appended targets' indices in `lowered`, by (namespace, secret).
    targets: Arc<BTreeMap<(String, String), usize>>,
    kube: Arc<KubernetesProbe>,
    aws: Option<Arc<AwsProbe>>,
    /// Secret Manager, Doppler and Vault, asked directly.
    backends: Arc<Context>,
    /// How often each of those is asked.
    cadence: Arc<Cadence>,
    /// Longest wait for one backend.
    timeout: Duration,
    /// Live mode: one ExternalSecret watch per (namespace, API version).
    watches: Arc<std::sync::Mutex<Watches>>,
}

/// One ExternalSecret watch per (namespace, API version), and the names it wakes the monitor
/// for.
type Watches = BTreeMap<
    (String, String),
    (tokio::task::JoinHandle<()>, Arc<std::sync::Mutex<BTreeSet<String>>>),
>;

impl Drop for DeliveryProbe {
    fn drop(&mut self) {
        if let Ok(watches) = self.watches.lock() {
            for (task, _) in watches.values() {
                task.abort();
            }
        }
    }
}

impl DeliveryProbe {
    /// A probe over `kube`, and the AWS probe `aws` makes from the lowered spec (for values
    /// in AWS backends), for `spec`.
    pub fn new(
        kube: Arc<KubernetesProbe>,
        aws: impl FnOnce(&SecretSpec) -> Option<Arc<AwsProbe>>,
        spec: &SecretSpec,
        backends: Context,
        timeout: Duration,
    ) -> Self {
        let (lowered, targets) = lower(spec);
        let aws = aws(&lowered);
        Self {
            lowered: Arc::new(lowered),
            targets: Arc::new(targets),
            kube,
            aws,
            backends: Arc::new(backends),
            cadence: Arc::default(),
            timeout,
            watches: Arc::default(),
        }
    }
}

/// `spec` with every value placed in its backend and every target appended as a
/// vendor-provided Kubernetes entry; the targets' indices by (namespace, secret).
fn lower(spec: &SecretSpec) -> (SecretSpec, BTreeMap<(String, String), usize>) {
    let mut lowered = spec.clone();
    let mut targets = BTreeMap::new();
    for entry in &mut lowered.entries {
        let Some(delivered) = entry.delivered.take() else { continue };
        match delivered.source.asked() {
            Asked::Aws(placement) => entry.aws = Some(placement.clone()),
            Asked::Cluster(placement) => entry.kubernetes = Some(placement.clone()),
            Asked::Directly => {}
        }
        for t in &delivered.targets {
            let key = (t.namespace.clone(), t.secret.clone());
            if targets.contains_key(&key) {
                continue;
            }
            targets.insert(key, spec.entries.len() + targets.len());
        }
    }
    let mut appended: Vec<(usize, SecretEntry)> = Vec::new();
    for entry in &spec.entries {
        for t in entry.delivered.iter().flat_map(|d| &d.targets) {
            let Some(&index) = targets.get(&(t.namespace.clone(), t.secret.clone())) else {
                continue;
            };
            if appended.iter().any(|(i, _)| *i == index) {
                continue;
            }
            appended.push((index, target_entry(t)));
        }
    }
    appended.sort_by_key(|(i, _)| *i);
    lowered.entries.extend(appended.into_iter().map(|(_, e)| e));
    (lowered, targets)
}

fn target_entry(t: &DeliveryTarget) -> SecretEntry {
    SecretEntry {
        name: format!("{}/{}", t.namespace, t.secret),
        description: format!("made by ExternalSecret {}", t.external_secret),
        required: true,
        provided_by: Provider::Vendor,
        when: Vec::new(),
        docs: None,
        kubernetes: Some(t.placement()),
        aws: None,
        generate: crate::spec::Generate::default(),
        delivered: None,
    }
}

impl Probe for DeliveryProbe {
    fn round(&self, ask: RoundAsk) -> BoxFuture<'static, RoundReport> {
        self.kube.take(&ask);
        if let Some(aws) = &self.aws {
            aws.take(&ask);
        }
        if ask.start_over {
            self.backends.forget();
            self.cadence.forget();
        }
        if ask.copied {
            self.cadence.hurry();
        }
        let parts = Parts {
            kube: self.kube.clone(),
            aws: self.aws.clone(),
            lowered: self.lowered.clone(),
            targets: self.targets.clone(),
            backends: self.backends.clone(),
            cadence: self.cadence.clone(),
            timeout: self.timeout,
            watches: self.watches.clone(),
        };
        Box::pin(async move { parts.round(ask).await })
    }
}

/// What one round needs of the probe.
struct Parts {
    kube: Arc<KubernetesProbe>,
    aws: Option<Arc<AwsProbe>>,
    lowered: Arc<SecretSpec>,
    targets: Arc<BTreeMap<(String, String), usize>>,
    backends: Arc<Context>,
    cadence: Arc<Cadence>,
    timeout: Duration,
    watches: Arc<std::sync::Mutex<Watches>>,
}

/// Which probe asks each row of a round.
#[derive(Default)]
struct Plan {
    /// Rows without delivery, and the target Secrets needed (their outcomes are hops).
    kube: Vec<usize>,
    /// Rows whose value is in an AWS backend.
    aws: Vec<usize>,
    /// Rows whose value is in a backend asked directly.
    direct: Vec<usize>,
    /// Plain Kubernetes rows: decided as soon as they are known.
    plain: BTreeSet<usize>,
    /// What External Secrets is asked.
    eso: Ask,
}

impl Parts {
    fn plan(&self, spec: &SecretSpec, rows: &[usize], features: &FeatureSet) -> Plan {
        let mut plan = Plan {
            eso: Ask {
                store: spec.delivery.as_ref().map(|d| d.store.clone()),
                manifests: spec.delivery.as_ref().and_then(|d| d.api_version.clone()),
                externals: BTreeSet::new(),
            },
            ..Plan::default()
        };
        let mut needed_targets: BTreeSet<usize> = BTreeSet::new();
        for &index in rows {
            let Some(entry) = spec.entries.get(index) else { continue };
            let Some(delivered) = &entry.delivered else {
                plan.kube.push(index);
                plan.plain.insert(index);
                continue;
            };
            match delivered.source.asked() {
                Asked::Aws(_) => plan.aws.push(index),
                Asked::Cluster(_) => plan.kube.push(index),
                Asked::Directly => plan.direct.push(index),
            }
            for t in delivered.targets.iter().filter(|t| t.is_needed(features)) {
                plan.eso.externals.insert((t.namespace.clone(), t.external_secret.clone()));
                if let Some(&i) = self.targets.get(&(t.namespace.clone(), t.secret.clone())) {
                    needed_targets.insert(i);
                }
            }
        }
        plan.kube.extend(needed_targets);
        plan
    }

    async fn round(self, ask: RoundAsk) -> RoundReport {
        let spec = ask.spec.clone();
        let features = ask.selection.features.clone();
        let plan = self.plan(&spec, &ask.rows, &features);
        // Plain rows go out as the cluster answers; backend rows and targets are kept to
        // judge the chains.
        let (inner, mut from_kube) = Decided::channel();
        let kube_round = {
            let (kube, lowered, rows) =
                (self.kube.clone(), self.lowered.clone(), plan.kube.clone());
            async move {
                kube.check_rows(&lowered, rows, &inner).await;
            }
        };
        let forward = async {
            let mut kept = BTreeMap::new();
            while let Some(decision) = from_kube.recv().await {
                match decision {
                    Decision::Row(index, outcome) if plan.plain.contains(&index) => {
                        ask.decided.row(index, outcome);
                    }
                    Decision::Row(index, outcome) => {
                        kept.insert(index, outcome);
                    }
                    Decision::Connection(status) => ask.decided.connection(status),
                }
            }
            kept
        };
        let aws_round = async {
            match (&self.aws, plan.aws.is_empty()) {
                (Some(aws), false) => aws.outcomes(&self.lowered, plan.aws.clone()).await,
                _ => Vec::new(),
            }
        };
        let eso_round = async {
            if plan.eso.externals.is_empty() && plan.eso.store.is_none() {
                None
            } else {
                Some(self.kube.eso(&plan.eso).await)
            }
        };
        self.backends.begin_round();
        let direct_round =
            futures::future::join_all(plan.direct.iter().map(|&index| self.direct(&spec, index)));
        let ((), kept, aws_answers, eso, direct_answers) =
            tokio::join!(kube_round, forward, aws_round, eso_round, direct_round);
        if let Some(Ok(Api::Served { using, .. })) = eso.as_ref().map(|a| &a.api) {
            keep_watching(&self.kube, &self.watches, &plan.eso, using, &ask.wake);
        }
        let answers: BTreeMap<usize, CheckOutcome> = kept
            .into_iter()
            .chain(aws_answers)
            .chain(direct_answers.into_iter().flatten())
            .collect();
        let mut settled = true;
        for &index in &ask.rows {
            let Some(entry) = spec.entries.get(index) else { continue };
            let Some(delivered) = &entry.delivered else { continue };
            let chain = Chain {
                spec: &spec,
                delivered,
                features: &features,
                backend: answers.get(&index),
                targets: self.targets.as_ref(),
                answers: &answers,
                eso: eso.as_ref(),
            };
            let outcome = chain.judge();
            // Fast re-reads help only while something can still change by itself: not when
            // External Secrets is missing or on the wrong version.
            let stuck = outcome.hops.iter().any(|h| {
                h.kind == HopKind::Operator
                    && matches!(h.state, HopState::NotInstalled | HopState::VersionNotServed)
            });
            settled &= outcome.confirms_presence() || stuck;
            ask.decided.row(index, outcome);
        }
        RoundReport { pace: self.pace(settled) }
    }

    /// Row `index`'s value, from a backend asked directly (or what the cadence kept).
    async fn direct(&self, spec: &SecretSpec, index: usize) -> Option<(usize, CheckOutcome)> {
        let entry = spec.entries.get(index)?;
        let source = &entry.delivered.as_ref()?.source;
        let key = format!("{source:?}");
        if let Some(kept) = self.cadence.kept(&key) {
            return Some((index, kept));
        }
        let look = match tokio::time::timeout(self.timeout, source.look(&self.backends)).await {
            Ok(look) => look,
            Err(_) => Err(BackendError::Unreachable(format!(
                "{} did not answer within {} s",
                source.title(),
                self.timeout.as_secs()
            ))),
        };
        let ended = match &look {
            Err(BackendError::Throttled { retry_after, .. }) => Ended::Throttled(*retry_after),
            _ => Ended::Answered,
        };
        let outcome = direct_outcome(entry, source, look);
        self.cadence.record(&key, &outcome, ended);
        Some((index, self.cadence.kept(&key).unwrap_or(outcome)))
    }

    /// The soonest any part wants to come back. ExternalSecret statuses change without a
    /// Secret event (an error), so unsettled chains are read every few seconds.
    fn pace(&self, settled: bool) -> Pace {
        let kube = self.kube.pace();
        let aws = self.aws.as_ref().map_or(kube, |a| a.pace());
        let chains = if settled { Duration::from_secs(30) } else { Duration::from_secs(2) };
        Pace {
            missing: kube.missing.min(aws.missing).min(chains),
            settled: kube.settled.min(aws.settled).min(chains),
        }
    }
}

/// Makes sure each namespace with needed ExternalSecrets has a watch in `version` (live mode
/// only; the probe decides), and ends watches no longer needed.
fn keep_watching(
    kube: &Arc<KubernetesProbe>,
    watches: &std::sync::Mutex<Watches>,
    ask: &Ask,
    version: &str,
    wake: &Wake,
) {
    let Ok(mut watches) = watches.lock() else { return };
    let mut wanted: BTreeMap<(String, String), BTreeSet<String>> = BTreeMap::new();
    for (ns, name) in &ask.externals {
        wanted.entry((ns.clone(), version.to_owned())).or_default().insert(name.clone());
    }
    watches.retain(|key, (task, _)| {
        let keep = wanted.contains_key(key) && !task.is_finished();
        if !keep {
            task.abort();
        }
        keep
    });
    for (key, names) in wanted {
        if let Some((_, current)) = watches.get(&key) {
            if let Ok(mut current) = current.lock() {
                *current = names;
            }
            continue;
        }
        let names = Arc::new(std::sync::Mutex::new(names));
        let (namespace, version) = key.clone();
        if let Some(task) =
            kube.watch_externalsecrets(namespace, version, names.clone(), wake.clone())
        {
            watches.insert(key, (task, names));
        }
    }
}

/// Everything known about one value's chain in this round.
struct Chain<'a> {
    spec: &'a SecretSpec,
    delivered: &'a Delivered,
    features: &'a FeatureSet,
    /// The backend's outcome, for backends Greenlight asks itself.
    backend: Option<&'a CheckOutcome>,
    targets: &'a BTreeMap<(String, String), usize>,
    answers: &'a BTreeMap<usize, CheckOutcome>,
    eso: Option<&'a Answer>,
}

/// A failed request as a hop state and words.
fn failed(error: &ProbeError) -> (HopState, String) {
    match error {
        ProbeError::Forbidden { message } => (HopState::Forbidden, message.clone()),
        other => (HopState::Unreachable, other.to_string()),
    }
}

impl Chain<'_> {
    fn judge(&self) -> CheckOutcome {
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
                    backend_hop.detail = Some(format!(
                        "{found}, but {} synced from the store: the store reads another account, region or project than the spec (or this profile) names; correct the spec or the profile, and keep the copy the store reads",
                        synced.es.location
                    ));
                    backend_outcome = None;
                }
                _ => {}
            }
            // A store whose validation is unknown is proven by a sync through it.
            for store in &mut stores {
                if store.state == HopState::NotProven {
                    store.state = HopState::Ok;
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
        Hop::new(HopKind::Operator, location, state, detail)
    }

    fn store_hops(&self, needed: &[&DeliveryTarget]) -> Vec<Hop> {
        let Some(delivery) = &self.spec.delivery else { return Vec::new() };
        let store = &delivery.store;
        let scopes: Vec<String> = match store.kind {
            StoreKind::ClusterSecretStore => vec![String::new()],
            StoreKind::SecretStore => {
                let set: BTreeSet<String> = needed.iter().map(|t| t.namespace.clone()).collect();
                set.into_iter().collect()
            }
        };
        scopes
            .into_iter()
            .map(|ns| {
                let location = if ns.is_empty() {
                    format!("{} {}", store.kind.as_str(), store.name)
                } else {
                    format!("{} {ns}/{}", store.kind.as_str(), store.name)
                };
                let (state, detail) = match self.eso.map(|a| (&a.api, a.stores.get(&ns))) {
                    Some((Ok(Api::Served { .. }), Some(Ok(Some(row))))) => {
                        let ready = row.get("ready").map_or("", String::as_str);
                        let reason = row.get("status").map_or("", String::as_str);
                        match (ready, reason) {
                            ("True", "ValidationUnknown") => (HopState::NotProven, Some("ready, but its provider could not prove the credentials work (ValidationUnknown)".to_owned())),
                            ("True", _) => (HopState::Ok, Some("valid".to_owned())),
                            ("False", _) => (HopState::Failing, Some(format!("not ready ({}): it cannot reach or log in to its backend; `kubectl describe {} {}` shows why", printable_reason(reason), store.kind.plural(), store.name))),
                            _ => (HopState::Waiting, Some("not validated yet: is the External Secrets controller running?".to_owned())),
                        }
                    }
                    Some((Ok(Api::Served { .. }), Some(Ok(None)))) => (HopState::Missing, Some("does not exist; it comes with the deployment's External Secrets configuration".to_owned())),
                    Some((_, Some(Err(error)))) => {
                        let (state, words) = failed(error);
                        (state, Some(words))
                    }
                    _ => (HopState::Waiting, None),
                };
                Hop::new(HopKind::Store, location, state, detail)
            })
            .collect()
    }

    fn target_hops(&self, t: &DeliveryTarget) -> TargetHops {
        let es_location = format!("ExternalSecret {}/{}", t.namespace, t.external_secret);
        let secret_location = format!("Secret {}/{}", t.namespace, t.secret);
        let external = self
            .eso
            .and_then(|a| a.externals.get(&(t.namespace.clone(), t.external_secret.clone())));
        let cause = match external {
            Some(Ok(Some(es))) => es.cause,
            _ => None,
        };
        let (es_state, es_detail) = match external {
            None => (HopState::Waiting, None),
            Some(Err(error)) => {
                let (state, words) = failed(error);
                (state, Some(words))
            }
            Some(Ok(None)) => (
                HopState::Missing,
                Some("does not exist yet; the deployment's manifests create it".to_owned()),
            ),
            Some(Ok(Some(es))) => match self.other_store(es) {
                Some(other) => (HopState::Failing, Some(other)),
                None => es_state(es),
            },
        };
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
        let sync_helps = match es_state {
            HopState::Waiting => true,
            HopState::Failing => cause == Some(Cause::BackendKeyMissing),
            HopState::Ok => state == HopState::Stale,
            _ => false,
        };
        TargetHops {
            es: Hop::new(HopKind::ExternalSecret, es_location, es_state, es_detail),
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
fn direct_outcome(
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
                hints.push(Hint::says(format!(
                    "{title} has `{}`, which looks like a typo of `{}`: External Secrets asks for the exact name",
                    crate::text::one_line(name),
                    source.key()
                )));
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
