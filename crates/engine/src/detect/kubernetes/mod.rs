//! Kubernetes detection: is each Secret there, asked only in forms that cannot carry a value.
//!
//! Per namespace the probe first asks the server what the user may do
//! (SelfSubjectAccessReview), then picks the best way to know:
//! - list + watch allowed, live mode: one LIST and one WATCH per namespace, kept open with
//!   resource versions, bookmarks, 410 handling and backoff; a change nudges the monitor, so a
//!   new Secret shows within a second;
//! - list allowed, one-shot mode (`greenlight check`): one LIST per namespace;
//! - only get allowed: one GET per Secret each round;
//! - nothing allowed: `forbidden`, with the Role that would allow it.
//!
//! "Missing" only comes from a list that does not contain the Secret or a clean 404; any
//! failure is `unreachable` or `forbidden`, and a watch that breaks keeps its last rows,
//! marked stale, until it recovers by itself.

mod access;
mod connection;
pub(crate) mod eso;
mod exec;
mod outcome;
mod session;
mod view;
mod watch;
pub(crate) mod wire;

use std::collections::{BTreeMap, BTreeSet};
use std::sync::Arc;
use std::sync::atomic::{AtomicBool, Ordering};
use std::time::Duration;

use futures::StreamExt;
use futures::future::BoxFuture;

pub use connection::{ContextInfo, contexts, current_context, kubeconfig_contexts};
use outcome::{Observation, Round, judge, observe};
use session::{Session, breaks_session, session};
use view::{Access, NamespaceView, view};

use super::{
    CheckOutcome, ConnectionStatus, Decided, Mode, Pace, Presence, Probe, RoundAsk, RoundReport,
    Wake,
};
use crate::spec::{Expect, KubernetesPlacement, SecretEntry, SecretSpec};

/// How the probe works.
#[derive(Debug, Clone)]
pub struct Settings {
    /// kubeconfig file; `None` reads `KUBECONFIG` or `~/.kube/config` as kubectl does.
    pub kubeconfig: Option<std::path::PathBuf>,
    /// kubeconfig context; `None` for the current one.
    pub context: Option<String>,
    /// Watch continuously, or answer once.
    pub mode: Mode,
    /// Longest wait for any single request.
    pub request_timeout: Duration,
    /// Longest silence on an open watch before it counts as broken (servers send bookmarks
    /// about once a minute).
    pub watch_idle: Duration,
    /// How long the server keeps one watch open before the probe renews it.
    pub watch_renew: Duration,
    /// Shortest and longest wait between reconnection attempts.
    pub backoff: (Duration, Duration),
}

impl Settings {
    /// Defaults for `context` and `mode`.
    pub fn new(context: Option<String>, mode: Mode) -> Self {
        Self {
            kubeconfig: None,
            context,
            mode,
            request_timeout: Duration::from_secs(10),
            watch_idle: Duration::from_secs(90),
            watch_renew: Duration::from_secs(290),
            backoff: (Duration::from_millis(250), Duration::from_secs(30)),
        }
    }
}

/// The Kubernetes probe.
pub struct KubernetesProbe {
    settings: Settings,
    expect: Expect,
    state: Arc<ProbeState>,
}

pub(super) struct ProbeState {
    session: tokio::sync::Mutex<Option<Arc<Session>>>,
    nudge: std::sync::Mutex<Option<Wake>>,
    connection: std::sync::Mutex<Option<ConnectionStatus>>,
    polling: AtomicBool,
    /// Set by "Check now": the next round starts from a fresh session.
    start_over: AtomicBool,
    /// Bumped after a Copy: write permissions are asked again.
    permissions_epoch: std::sync::atomic::AtomicU64,
}

impl ProbeState {
    /// What watchers signal when they see a change. They hold this, never `ProbeState`: the
    /// probe owns the session, the session its views, and a view its watcher, so dropping the
    /// probe (a spec reload, a context switch) stops every watch.
    pub(super) fn nudge(&self) -> Nudge {
        Nudge(self.nudge.lock().ok().and_then(|n| n.clone()))
    }
}

/// Starts a monitor round, when a monitor listens.
#[derive(Clone)]
pub(super) struct Nudge(Option<Wake>);

impl Nudge {
    pub(super) fn notify(&self) {
        if let Some(wake) = &self.0 {
            wake.now();
        }
    }
}

impl KubernetesProbe {
    /// A probe for `spec` with these settings; it connects on the first check.
    pub fn new(settings: Settings, spec: &SecretSpec) -> Self {
        Self {
            settings,
            expect: spec.expect.clone(),
            state: Arc::new(ProbeState {
                session: tokio::sync::Mutex::new(None),
                nudge: std::sync::Mutex::new(None),
                connection: std::sync::Mutex::new(None),
                polling: AtomicBool::new(false),
                start_over: AtomicBool::new(false),
                permissions_epoch: std::sync::atomic::AtomicU64::new(0),
            }),
        }
    }
}

impl Probe for KubernetesProbe {
    fn round(&self, ask: RoundAsk) -> BoxFuture<'static, RoundReport> {
        self.take(&ask);
        let settings = self.settings.clone();
        let expect = self.expect.clone();
        let state = self.state.clone();
        Box::pin(async move {
            check(&settings, &expect, &state, &ask.spec, ask.rows, &ask.decided).await;
            RoundReport { pace: pace(&state) }
        })
    }
}

impl KubernetesProbe {
    /// `rows` checked with decisions sent to `decided`, for a probe that combines this one's
    /// answers with others (delivery chains).
    pub(crate) async fn check_rows(&self, spec: &SecretSpec, rows: Vec<usize>, decided: &Decided) {
        check(&self.settings, &self.expect, &self.state, spec, rows, decided).await;
    }

    /// The next round's pace.
    pub(crate) fn pace(&self) -> Pace {
        pace(&self.state)
    }

    /// Takes the round's requests: "Check now", a Copy, and how to wake the monitor.
    pub(crate) fn take(&self, ask: &RoundAsk) {
        if ask.start_over {
            self.state.start_over.store(true, Ordering::Relaxed);
        }
        if ask.copied {
            self.state.permissions_epoch.fetch_add(1, Ordering::Relaxed);
        }
        if let Ok(mut slot) = self.state.nudge.lock() {
            *slot = Some(ask.wake.clone());
        }
    }
}

/// Every 30 s with a watch on every namespace (it wakes the monitor itself), every 3 s while
/// a namespace is polled and something is missing, every 5 s while not connected.
fn pace(state: &ProbeState) -> Pace {
    let connected = state.session.try_lock().map(|s| s.is_some()).unwrap_or(true);
    let polling = state.polling.load(Ordering::Relaxed);
    let missing = match (connected, polling) {
        (false, _) => Duration::from_secs(5),
        (true, true) => Duration::from_secs(3),
        (true, false) => Duration::from_secs(30),
    };
    let settled = if connected { Duration::from_secs(30) } else { Duration::from_secs(5) };
    Pace { missing, settled }
}

/// Namespaces asked at once, at most: enough that a far cluster's round trips overlap, and
/// few beside what API priority and fairness gives one user (kubectl's own client allows
/// bursts of 300); a 429 is retried after the server's Retry-After.
const NAMESPACES_AT_ONCE: usize = 32;

async fn check(
    settings: &Settings,
    expect: &Expect,
    state: &Arc<ProbeState>,
    spec: &SecretSpec,
    rows: Vec<usize>,
    decided: &Decided,
) {
    if state.start_over.swap(false, Ordering::Relaxed) {
        // "Check now": re-read the kubeconfig, re-run the credential plugin, review access.
        *state.session.lock().await = None;
    }
    let session = session(settings, expect, state).await;
    if let Some(status) = state.connection.lock().ok().and_then(|c| c.clone()) {
        decided.connection(status);
    }
    let session = match session {
        Ok(session) => session,
        Err(error) => {
            for row in rows {
                let reason = format!("not connected: {}", error.message);
                let outcome = CheckOutcome::now(Presence::Unreachable { reason })
                    .with_hints(error.hints.clone());
                decided.row(row, outcome);
            }
            return;
        }
    };
    let mut by_namespace: BTreeMap<String, Vec<usize>> = BTreeMap::new();
    for index in rows {
        if let Some(placement) = spec.entries.get(index).and_then(|e| e.kubernetes.as_ref()) {
            by_namespace.entry(placement.namespace.clone()).or_default().push(index);
        }
    }
    // The spec's own places and its other environments'.
    let placed: BTreeSet<(String, String)> = spec
        .entries
        .iter()
        .filter_map(|e| e.kubernetes.as_ref())
        .map(|k| (k.namespace.clone(), k.secret.clone()))
        .chain(spec.other_environments.kubernetes.iter().cloned())
        .collect();
    let round = Round {
        settings,
        session: &session,
        placed: &placed,
        permissions_epoch: state.permissions_epoch.load(Ordering::Relaxed),
    };
    state.polling.store(false, Ordering::Relaxed);
    // Namespaces are asked at once (a few at a time) and each decides the rows it can as soon
    // as it has them, so a far cluster fills the checklist in as it answers. A row not found
    // waits until every namespace has answered: its diagnosis looks at the others.
    let rounds: Vec<_> = by_namespace
        .into_iter()
        .map(|(namespace, rows)| namespace_round(&round, state, spec, namespace, rows, decided))
        .collect();
    // A session's first round also searches the namespaces the spec does not use, beside the
    // others rather than after them: a row not found is diagnosed without another wait.
    let first = session.others.lock().await.is_none();
    let search = async {
        if first {
            drop(outcome::search_others(&round).await);
        }
    };
    let (observed, ()): (Vec<Observed>, ()) = tokio::join!(
        futures::stream::iter(rounds).buffer_unordered(NAMESPACES_AT_ONCE).collect(),
        search
    );
    let broken = observed.iter().any(|o| o.broken);
    let round = &round;
    let not_found = observed.iter().flat_map(|o| {
        o.not_found.iter().filter_map(|(index, observation)| {
            let entry = spec.entries.get(*index)?;
            let placement = entry.kubernetes.as_ref()?;
            let view = o.view.clone();
            Some(async move {
                let outcome = judge(round, &view, entry, placement, observation.clone()).await;
                decided.row(*index, outcome);
            })
        })
    });
    futures::future::join_all(not_found.collect::<Vec<_>>()).await;
    if broken {
        // Next round re-reads the kubeconfig and re-runs the credential plugin.
        *state.session.lock().await = None;
    }
}

/// What one namespace's round left to decide.
struct Observed {
    view: Arc<NamespaceView>,
    /// Rows its answer does not hold, with that answer.
    not_found: Vec<(usize, Observation)>,
    /// A failure broke the session.
    broken: bool,
}

/// One namespace's rows: its view (access reviewed, watched or listed), each row observed,
/// and those found (or failed) judged and sent as soon as they are.
async fn namespace_round(
    round: &Round<'_>,
    state: &Arc<ProbeState>,
    spec: &SecretSpec,
    namespace: String,
    rows: Vec<usize>,
    decided: &Decided,
) -> Observed {
    let (settings, session) = (round.settings, round.session);
    let view = view(settings, state, session, &namespace).await;
    // Without a watch, rounds come every few seconds (and denials are reviewed when due).
    if view.access != Access::Watch {
        state.polling.store(true, Ordering::Relaxed);
    }
    if view.access == Access::List && !view.take_fresh() {
        refresh(settings, session, &view).await;
    }
    let planned: Vec<(usize, &SecretEntry, &KubernetesPlacement)> = rows
        .into_iter()
        .filter_map(|index| {
            let entry = spec.entries.get(index)?;
            Some((index, entry, entry.kubernetes.as_ref()?))
        })
        .collect();
    // Get-only namespaces ask per Secret: at most 16 requests at a time.
    let asks: Vec<_> = planned
        .iter()
        .map(|(_, _, placement)| observe(settings, session, &view, placement))
        .collect();
    let observations: Vec<Observation> = futures::stream::iter(asks).buffered(16).collect().await;
    let broken = observations.iter().filter_map(Observation::failure).any(breaks_session);
    let mut not_found = Vec::new();
    let mut now = Vec::new();
    for ((index, entry, placement), observation) in planned.into_iter().zip(observations) {
        if observation.not_found() {
            not_found.push((index, observation));
        } else {
            now.push((index, entry, placement, observation));
        }
    }
    futures::future::join_all(now.into_iter().map(|(index, entry, placement, observation)| {
        let view = &view;
        async move {
            let outcome = judge(round, view, entry, placement, observation).await;
            decided.row(index, outcome);
        }
    }))
    .await;
    Observed { view, not_found, broken }
}

/// Lists `view`'s namespace into its cache.
async fn refresh(settings: &Settings, session: &Session, view: &NamespaceView) {
    let listed =
        wire::list_secrets(&session.client, &view.namespace, settings.request_timeout).await;
    view.secrets.update(|cache| match listed {
        Ok((rows, _)) => {
            cache.rows = Some(rows.into_iter().map(|r| (r.name.clone(), r)).collect());
            cache.error = None;
        }
        Err(error) => cache.error = Some(error),
    });
}
