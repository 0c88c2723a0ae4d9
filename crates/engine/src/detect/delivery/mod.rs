//! Delivery chains: a value in a backend, the External Secrets Operator, its store, and per
//! target namespace the ExternalSecret and the Secret it makes. Each hop gets its own state;
//! a value's row is green only when every needed target is synced.
//!
//! The probe lowers the spec: each value becomes a plain entry placed in its backend (AWS or
//! a source namespace, checked by the existing probes with their diagnoses and commands),
//! and each target Secret a vendor-provided Kubernetes entry (presence only: its create
//! commands are never shown, ESO owns it). External Secrets is asked through
//! [`KubernetesProbe::eso`]. Backends Greenlight does not ask directly (Secret Manager,
//! Doppler, Vault) are judged from what External Secrets reports. Judging the hops is pure and
//! lives in [`judge`].

use std::collections::{BTreeMap, BTreeSet};
use std::sync::Arc;
use std::time::Duration;

use serde::Serialize;

use super::aws::AwsProbe;
use super::cadence::{Cadence, Ended};
use super::kubernetes::KubernetesProbe;
use super::kubernetes::eso::{Api, Ask};
use super::{CheckOutcome, Decided, Decision, Pace, Probe, RoundAsk, RoundReport, Wake};
use crate::backends::{Asked, BackendError, Context};
use crate::spec::{DeliveryTarget, FeatureSet, Provider, SecretEntry, SecretSpec};
use futures::future::BoxFuture;

mod direct;
mod judge;
mod root;

pub use root::{RootCause, Shared, root_cause};

use direct::direct_outcome;
use judge::Chain;

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
    /// Set when this hop is the one cause that blocks several values this round (External
    /// Secrets, the store, the store's credential): the rows say they wait on it, and the
    /// cause is told once (see [`RootCause`]).
    #[serde(skip_serializing_if = "std::ops::Not::not")]
    pub root_cause: bool,
    /// When this hop is broken in a way every value behind it shares: where, and what.
    #[serde(skip)]
    pub(crate) shared: Option<Shared>,
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

    /// Whether the hop stops the value: it does not pass and was asked.
    pub fn blocks(self) -> bool {
        !self.passes() && self != HopState::NotChecked
    }
}

impl Hop {
    fn new(kind: HopKind, location: String, state: HopState, detail: Option<String>) -> Self {
        Self { kind, location, state, detail, root_cause: false, shared: None }
    }

    /// The same hop, broken in a way every value behind it shares.
    fn shared(mut self) -> Self {
        let detail = self.detail.clone().unwrap_or_else(|| self.state.as_str().replace('_', " "));
        self.shared = Some(Shared { location: self.location.clone(), detail });
        self
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
        rotate_every: None,
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
        let mut judged = Vec::new();
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
            judged.push((index, chain.judge()));
        }
        root::share(&mut judged);
        for (index, outcome) in judged {
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
        let installed = self.backends.env.has_program(source.backend().cli().program);
        let outcome = direct_outcome(entry, source, look, installed);
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
