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

mod connection;
pub(crate) mod eso;
mod exec;
mod outcome;
mod session;
mod view;
pub(crate) mod wire;

use std::collections::{BTreeMap, BTreeSet, HashMap};
use std::sync::Arc;
use std::sync::atomic::{AtomicBool, Ordering};
use std::time::Duration;

use futures::StreamExt;
use tokio::sync::Notify;

pub use connection::{ContextInfo, contexts, current_context, kubeconfig_contexts};
use outcome::{Observation, Round, judge, observe};
use session::{Session, breaks_session, session};
use view::{Access, NamespaceView, view};

use super::{CheckOutcome, ConnectionStatus, Mode, Presence, Probe, ProbeFuture};
use crate::spec::{Expect, KubernetesPlacement, Platform, SecretEntry, SecretSpec};

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
    nudge: std::sync::Mutex<Option<Arc<Notify>>>,
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
pub(super) struct Nudge(Option<Arc<Notify>>);

impl Nudge {
    pub(super) fn notify(&self) {
        if let Some(notify) = &self.0 {
            notify.notify_one();
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
    fn check(
        &self,
        spec: Arc<SecretSpec>,
        _platform: Platform,
        indices: Vec<usize>,
    ) -> ProbeFuture {
        let settings = self.settings.clone();
        let expect = self.expect.clone();
        let state = self.state.clone();
        Box::pin(async move { check(&settings, &expect, &state, &spec, indices).await })
    }

    fn poll_interval(&self, all_present: bool) -> Duration {
        let connected = self.state.session.try_lock().map(|s| s.is_some()).unwrap_or(true);
        let polling = self.state.polling.load(Ordering::Relaxed);
        match (connected, polling, all_present) {
            (false, _, _) => Duration::from_secs(5),
            (true, true, false) => Duration::from_secs(3),
            _ => Duration::from_secs(30),
        }
    }

    fn subscribe(&self, nudge: Arc<Notify>) {
        if let Ok(mut slot) = self.state.nudge.lock() {
            *slot = Some(nudge);
        }
    }

    fn connection(&self) -> Option<ConnectionStatus> {
        self.state.connection.lock().ok().and_then(|c| c.clone())
    }

    fn start_over(&self) {
        self.state.start_over.store(true, Ordering::Relaxed);
    }

    fn copied(&self) {
        self.state.permissions_epoch.fetch_add(1, Ordering::Relaxed);
    }
}

async fn check(
    settings: &Settings,
    expect: &Expect,
    state: &Arc<ProbeState>,
    spec: &SecretSpec,
    indices: Vec<usize>,
) -> Vec<(usize, CheckOutcome)> {
    if state.start_over.swap(false, Ordering::Relaxed) {
        // "Check now": re-read the kubeconfig, re-run the credential plugin, review access.
        *state.session.lock().await = None;
    }
    let session = match session(settings, expect, state).await {
        Ok(session) => session,
        Err(error) => {
            return indices
                .into_iter()
                .map(|i| {
                    (
                        i,
                        CheckOutcome::now(Presence::Unreachable {
                            reason: format!("not connected: {}", error.message),
                        })
                        .with_hints(error.hints.clone()),
                    )
                })
                .collect();
        }
    };
    let mut by_namespace: BTreeMap<String, Vec<usize>> = BTreeMap::new();
    for index in indices {
        if let Some(placement) = spec.entries.get(index).and_then(|e| e.kubernetes.as_ref()) {
            by_namespace.entry(placement.namespace.clone()).or_default().push(index);
        }
    }
    let views = futures::future::join_all(
        by_namespace.keys().map(|ns| view(settings, state, &session, ns)),
    )
    .await;
    let views: HashMap<String, Arc<NamespaceView>> =
        views.into_iter().map(|v| (v.namespace.clone(), v)).collect();
    // Without a watch, rounds come every few seconds (and denials are reviewed when due).
    let polling = views.values().any(|v| v.access != Access::Watch);
    state.polling.store(polling, Ordering::Relaxed);
    // Namespaces that may be listed but not watched are listed every round.
    futures::future::join_all(
        views.values().filter(|v| v.access == Access::List).map(|v| refresh(settings, &session, v)),
    )
    .await;

    // Presence first; then each missing Secret's diagnosis, all at once, each within its own
    // budget, so a slow search never costs a row its answer.
    let planned: Vec<(usize, &SecretEntry, &KubernetesPlacement, &Arc<NamespaceView>)> =
        by_namespace
            .iter()
            .flat_map(|(namespace, indices)| {
                let view = views.get(namespace);
                indices.iter().filter_map(move |&index| {
                    let entry = spec.entries.get(index)?;
                    Some((index, entry, entry.kubernetes.as_ref()?, view?))
                })
            })
            .collect();
    // Get-only namespaces ask per Secret: at most 16 requests at a time, in plan order.
    let asks: Vec<_> = planned
        .iter()
        .map(|(_, _, placement, view)| observe(settings, &session, view, placement))
        .collect();
    let observations: Vec<Observation> = futures::stream::iter(asks).buffered(16).collect().await;
    let broken = observations.iter().filter_map(Observation::failure).any(breaks_session);
    let placed: BTreeSet<(String, String)> = spec
        .entries
        .iter()
        .filter_map(|e| e.kubernetes.as_ref())
        .map(|k| (k.namespace.clone(), k.secret.clone()))
        .collect();
    let round = Round {
        settings,
        session: &session,
        views: &views,
        placed: &placed,
        permissions_epoch: state.permissions_epoch.load(Ordering::Relaxed),
    };
    let outcomes = futures::future::join_all(planned.iter().zip(observations).map(
        |((index, entry, placement, view), observation)| {
            let round = &round;
            async move { (*index, judge(round, view, entry, placement, observation).await) }
        },
    ))
    .await;
    if broken {
        // Next round re-reads the kubeconfig and re-runs the credential plugin.
        *state.session.lock().await = None;
    }
    outcomes
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
