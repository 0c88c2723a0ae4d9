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
mod exec;
pub mod wire;

use std::collections::{BTreeMap, HashMap};
use std::sync::Arc;
use std::time::{Duration, Instant};

use futures::StreamExt;
use tokio::sync::{Notify, watch};
use tokio::task::JoinHandle;

pub use connection::{ConnectError, ContextInfo, contexts, current_context};
use wire::{Change, ProbeError, SecretRow};

use super::{
    CheckOutcome, Connection, ConnectionStatus, KubernetesConnection, Mode, Presence, Probe,
    ProbeFuture, command_target,
};
use crate::commands::{self, CommandKind, Target};
use crate::diagnose::Hint;
use crate::diagnose::kubernetes::{self as hints, Scene};
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
    /// The operator's choices these settings carry, as a command target.
    fn choices(&self) -> Target {
        Target {
            kubeconfig: self.kubeconfig.as_ref().map(|p| p.display().to_string()),
            kube_context: self.context.clone(),
            ..Target::default()
        }
    }

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
    inner: Arc<Inner>,
}

struct Inner {
    session: tokio::sync::Mutex<Option<Arc<Session>>>,
    nudge: std::sync::Mutex<Option<Arc<Notify>>>,
    connection: std::sync::Mutex<Option<ConnectionStatus>>,
    polling: std::sync::atomic::AtomicBool,
}

impl Inner {
    /// What watchers signal when they see a change. They hold this, never `Inner`: the
    /// probe owns the session, the session its views, and a view its watcher, so dropping the
    /// probe (a spec reload, a context switch) stops every watch.
    fn nudge(&self) -> Nudge {
        Nudge(self.nudge.lock().ok().and_then(|n| n.clone()))
    }
}

/// Starts a monitor round, when a monitor listens.
#[derive(Clone)]
struct Nudge(Option<Arc<Notify>>);

impl Nudge {
    fn notify(&self) {
        if let Some(notify) = &self.0 {
            notify.notify_one();
        }
    }
}

/// A connected client and what is known per namespace.
struct Session {
    client: kube::Client,
    info: ContextInfo,
    /// When the exec plugin's credential stops working; the session is renewed before.
    expires: Option<std::time::SystemTime>,
    /// Starts a round when the credential is due for renewal.
    renewal: Option<JoinHandle<()>>,
    scene: Scene,
    views: tokio::sync::Mutex<HashMap<String, Arc<View>>>,
    may_list_namespaces: tokio::sync::OnceCell<bool>,
    /// Secret names in namespaces the spec does not use, listed at most once a minute.
    others: tokio::sync::Mutex<Option<(Instant, Listing)>>,
}

/// Secret names per namespace.
type Listing = BTreeMap<String, Vec<String>>;

/// How a namespace is observed.
#[derive(Debug, Clone, PartialEq, Eq)]
enum Access {
    Watch,
    List,
    Get,
    Denied,
}

/// What is known about one namespace's Secrets.
#[derive(Debug, Default)]
struct Cache {
    /// Every Secret in the namespace, once a list succeeded.
    rows: Option<BTreeMap<String, SecretRow>>,
    /// The current failure, if any; with `rows` set, the rows are stale.
    error: Option<ProbeError>,
}

struct Shared {
    cache: std::sync::Mutex<Cache>,
    /// Bumped on every change, so waiters can tell the first answer arrived.
    generation: watch::Sender<u64>,
}

impl Shared {
    fn update(&self, change: impl FnOnce(&mut Cache)) {
        if let Ok(mut cache) = self.cache.lock() {
            change(&mut cache);
        }
        self.generation.send_modify(|g| *g += 1);
    }

    fn snapshot(&self) -> (Option<BTreeMap<String, SecretRow>>, Option<ProbeError>) {
        self.cache.lock().map(|c| (c.rows.clone(), c.error.clone())).unwrap_or((None, None))
    }
}

struct View {
    namespace: String,
    access: Access,
    shared: Arc<Shared>,
    task: Option<JoinHandle<()>>,
    exists: std::sync::Mutex<Option<(Instant, Option<bool>)>>,
}

impl Drop for View {
    fn drop(&mut self) {
        if let Some(task) = &self.task {
            task.abort();
        }
    }
}

impl KubernetesProbe {
    /// A probe for `spec` with these settings; it connects on the first check.
    pub fn new(settings: Settings, spec: &SecretSpec) -> Self {
        Self {
            settings,
            expect: spec.expect.clone(),
            inner: Arc::new(Inner {
                session: tokio::sync::Mutex::new(None),
                nudge: std::sync::Mutex::new(None),
                connection: std::sync::Mutex::new(None),
                polling: std::sync::atomic::AtomicBool::new(false),
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
        let inner = self.inner.clone();
        Box::pin(async move { check(&settings, &expect, &inner, &spec, indices).await })
    }

    fn poll_interval(&self, all_present: bool) -> Duration {
        let connected = self.inner.session.try_lock().map(|s| s.is_some()).unwrap_or(true);
        let polling = self.inner.polling.load(std::sync::atomic::Ordering::Relaxed);
        match (connected, polling, all_present) {
            (false, _, _) => Duration::from_secs(5),
            (true, true, false) => Duration::from_secs(3),
            _ => Duration::from_secs(30),
        }
    }

    fn subscribe(&self, nudge: Arc<Notify>) {
        if let Ok(mut slot) = self.inner.nudge.lock() {
            *slot = Some(nudge);
        }
    }

    fn connection(&self) -> Option<ConnectionStatus> {
        self.inner.connection.lock().ok().and_then(|c| c.clone())
    }
}

fn describe(info: &ContextInfo, user: Option<&str>, expect: &Expect) -> ConnectionStatus {
    let connection = Connection::Kubernetes(KubernetesConnection {
        context: Some(info.context.clone()),
        server: Some(info.server.clone()),
        user: user.map(str::to_owned),
        credential_plugin: info.plugin.clone(),
    });
    let mut warnings = Vec::new();
    if let Some(wanted) = expect.kubernetes_context.as_ref().filter(|w| **w != info.context) {
        warnings.push(format!(
            "The spec expects context `{wanted}`, but Greenlight is using `{}`.",
            info.context
        ));
    }
    if let Some(wanted) = expect
        .kubernetes_server
        .as_ref()
        .filter(|w| w.trim_end_matches('/') != info.server.trim_end_matches('/'))
    {
        warnings.push(format!(
            "The spec expects the cluster at {wanted}, but context `{}` points at {}.",
            info.context, info.server
        ));
    }
    ConnectionStatus { connection, warnings }
}

async fn session(
    settings: &Settings,
    expect: &Expect,
    inner: &Inner,
) -> Result<Arc<Session>, ConnectError> {
    let mut slot = inner.session.lock().await;
    if let Some(session) = slot.as_ref() {
        // A plugin's credential is renewed shortly before it expires, as kubectl does.
        if session.expires.is_none_or(|at| std::time::SystemTime::now() < renew_at(at)) {
            return Ok(session.clone());
        }
    }
    let connected = connection::connect(
        settings.kubeconfig.as_deref(),
        settings.context.as_deref(),
        settings.request_timeout,
    )
    .await;
    let connection::Connected { client, info, expires } = match connected {
        Ok(connected) => connected,
        Err(error) => {
            let status = ConnectionStatus {
                connection: Connection::Kubernetes(KubernetesConnection {
                    context: settings.context.clone(),
                    ..KubernetesConnection::default()
                }),
                warnings: vec![format!("Not connected: {error}")],
            };
            if let Ok(mut c) = inner.connection.lock() {
                *c = Some(status);
            }
            return Err(error);
        }
    };
    // The user name as the server sees it; servers before 1.28 may not offer this.
    let user = wire::whoami(&client, settings.request_timeout).await.ok().filter(|u| !u.is_empty());
    if let Ok(mut c) = inner.connection.lock() {
        *c = Some(describe(&info, user.as_deref(), expect));
    }
    let scene =
        Scene { context: info.context.clone(), user: user.clone(), login: info.login.clone() };
    let renewal = expires.map(|at| {
        let nudge = inner.nudge();
        let wait = renew_at(at).duration_since(std::time::SystemTime::now()).unwrap_or_default();
        tokio::spawn(async move {
            tokio::time::sleep(wait).await;
            nudge.notify();
        })
    });
    let session = Arc::new(Session {
        client,
        info,
        expires,
        renewal,
        scene,
        views: tokio::sync::Mutex::new(HashMap::new()),
        may_list_namespaces: tokio::sync::OnceCell::new(),
        others: tokio::sync::Mutex::new(None),
    });
    *slot = Some(session.clone());
    Ok(session)
}

/// When a credential that expires at `at` is renewed.
fn renew_at(at: std::time::SystemTime) -> std::time::SystemTime {
    at.checked_sub(Duration::from_secs(30)).unwrap_or(at)
}

impl Drop for Session {
    fn drop(&mut self) {
        if let Some(task) = &self.renewal {
            task.abort();
        }
    }
}

/// The first failure that means the session itself is broken (re-read kubeconfig, re-run the
/// credential plugin): credentials or authentication.
fn breaks_session(error: &ProbeError) -> bool {
    matches!(error, ProbeError::Unauthorized { .. } | ProbeError::Credentials { .. })
}

async fn check(
    settings: &Settings,
    expect: &Expect,
    inner: &Arc<Inner>,
    spec: &SecretSpec,
    indices: Vec<usize>,
) -> Vec<(usize, CheckOutcome)> {
    let session = match session(settings, expect, inner).await {
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
        by_namespace.keys().map(|ns| view(settings, inner, &session, ns)),
    )
    .await;
    let views: HashMap<String, Arc<View>> =
        views.into_iter().map(|v| (v.namespace.clone(), v)).collect();
    let polling = views.values().any(|v| v.access == Access::Get);
    inner.polling.store(polling, std::sync::atomic::Ordering::Relaxed);

    let target = command_target(
        &settings.choices(),
        Some(&Connection::Kubernetes(KubernetesConnection {
            context: Some(session.info.context.clone()),
            ..KubernetesConnection::default()
        })),
    );
    let mut outcomes = Vec::new();
    let mut broken = None;
    for (namespace, indices) in &by_namespace {
        let Some(view) = views.get(namespace) else { continue };
        if settings.mode == Mode::Once && view.access == Access::List {
            let listed =
                wire::list_secrets(&session.client, namespace, settings.request_timeout).await;
            view.shared.update(|cache| match listed {
                Ok((rows, _)) => {
                    cache.rows = Some(rows.into_iter().map(|r| (r.name.clone(), r)).collect());
                    cache.error = None;
                }
                Err(error) => cache.error = Some(error),
            });
        }
        for &index in indices {
            let Some(entry) = spec.entries.get(index) else { continue };
            let Some(placement) = entry.kubernetes.as_ref() else { continue };
            let outcome = decide(settings, &session, view, &views, entry, placement, &target).await;
            if let Some(error) = outcome.1 {
                broken.get_or_insert(error);
            }
            outcomes.push((index, outcome.0));
        }
    }
    if broken.as_ref().is_some_and(breaks_session) {
        // Next round re-reads the kubeconfig and re-runs the credential plugin.
        *inner.session.lock().await = None;
    }
    outcomes
}

/// The view of `namespace`, created on first use: access checked, watcher started.
async fn view(
    settings: &Settings,
    inner: &Arc<Inner>,
    session: &Arc<Session>,
    namespace: &str,
) -> Arc<View> {
    let mut views = session.views.lock().await;
    if let Some(view) = views.get(namespace) {
        return view.clone();
    }
    let timeout = settings.request_timeout;
    let client = &session.client;
    let (list, watch_ok, get) = tokio::join!(
        wire::can(client, "list", "secrets", Some(namespace), timeout),
        wire::can(client, "watch", "secrets", Some(namespace), timeout),
        wire::can(client, "get", "secrets", Some(namespace), timeout),
    );
    // A review that fails (an old server, a webhook outage) is not a denial: try and see.
    let allowed = |answer: &Result<bool, ProbeError>| answer.as_ref().map_or(true, |a| *a);
    let access = match (allowed(&list), allowed(&watch_ok), allowed(&get)) {
        (true, true, _) if settings.mode == Mode::Live => Access::Watch,
        (true, _, _) => Access::List,
        (false, _, true) => Access::Get,
        (false, _, false) => Access::Denied,
    };
    let (generation, _) = watch::channel(0u64);
    let shared = Arc::new(Shared { cache: std::sync::Mutex::new(Cache::default()), generation });
    let task = (access == Access::Watch).then(|| {
        tokio::spawn(watch_namespace(
            session.client.clone(),
            namespace.to_owned(),
            shared.clone(),
            settings.clone(),
            inner.nudge(),
        ))
    });
    let view = Arc::new(View {
        namespace: namespace.to_owned(),
        access,
        shared,
        task,
        exists: std::sync::Mutex::new(None),
    });
    views.insert(namespace.to_owned(), view.clone());
    view
}

/// Exponential backoff with jitter.
struct Backoff {
    next: Duration,
    min: Duration,
    max: Duration,
}

impl Backoff {
    fn new((min, max): (Duration, Duration)) -> Self {
        Self { next: min, min, max }
    }

    fn reset(&mut self) {
        self.next = self.min;
    }

    fn wait(&mut self) -> Duration {
        let base = self.next;
        self.next = (self.next * 2).min(self.max);
        // Jitter from the clock's sub-second noise; no need for a random number generator.
        let noise = std::time::SystemTime::now()
            .duration_since(std::time::UNIX_EPOCH)
            .map(|d| d.subsec_nanos())
            .unwrap_or(0);
        base + base.mul_f64(f64::from(noise % 1000) / 4000.0)
    }
}

/// Keeps one namespace's rows current: LIST, then WATCH from its resource version; relist on
/// 410; on failure keep the rows (now stale) and retry with backoff.
async fn watch_namespace(
    client: kube::Client,
    namespace: String,
    shared: Arc<Shared>,
    settings: Settings,
    nudge: Nudge,
) {
    let mut backoff = Backoff::new(settings.backoff);
    loop {
        let (rows, mut version) =
            match wire::list_secrets(&client, &namespace, settings.request_timeout).await {
                Ok(listed) => listed,
                Err(error) => {
                    shared.update(|cache| cache.error = Some(error));
                    nudge.notify();
                    tokio::time::sleep(backoff.wait()).await;
                    continue;
                }
            };
        shared.update(|cache| {
            cache.rows = Some(rows.into_iter().map(|r| (r.name.clone(), r)).collect());
            cache.error = None;
        });
        nudge.notify();
        backoff.reset();
        // Watch until the history expires (relist at once) or something breaks (relist later).
        let failure = loop {
            let stream = match wire::watch_secrets(
                &client,
                &namespace,
                &version,
                settings.watch_renew,
                settings.watch_idle.max(settings.request_timeout),
            )
            .await
            {
                Ok(stream) => stream,
                Err(error) => break Some(error),
            };
            let mut stream = std::pin::pin!(stream);
            let mut ended = None;
            while let Some(item) = stream.next().await {
                match item {
                    Ok(Change::Upsert(row, v)) => {
                        version = v;
                        shared.update(|cache| {
                            if let Some(rows) = cache.rows.as_mut() {
                                rows.insert(row.name.clone(), row);
                            }
                        });
                        nudge.notify();
                    }
                    Ok(Change::Delete(name, v)) => {
                        version = v;
                        shared.update(|cache| {
                            if let Some(rows) = cache.rows.as_mut() {
                                rows.remove(&name);
                            }
                        });
                        nudge.notify();
                    }
                    Ok(Change::Bookmark(v)) => {
                        if !v.is_empty() {
                            version = v;
                        }
                    }
                    Err(error) => {
                        ended = Some(error);
                        break;
                    }
                }
            }
            match ended {
                None => continue,
                Some(error) => break Some(error),
            }
        };
        match failure {
            Some(ProbeError::Gone) | None => {}
            Some(error) => {
                shared.update(|cache| cache.error = Some(error));
                nudge.notify();
                tokio::time::sleep(backoff.wait()).await;
            }
        }
    }
}

fn command(entry: &SecretEntry, target: &Target, kind: CommandKind) -> Option<String> {
    commands::posix_text(entry, Platform::Kubernetes, target, kind)
}

/// The outcome for one entry, and the error behind it if it broke the session.
async fn decide(
    settings: &Settings,
    session: &Session,
    view: &View,
    views: &HashMap<String, Arc<View>>,
    entry: &SecretEntry,
    placement: &KubernetesPlacement,
    target: &Target,
) -> (CheckOutcome, Option<ProbeError>) {
    let scene = &session.scene;
    let namespace = &placement.namespace;
    let found: Result<Option<SecretRow>, ProbeError>;
    let mut stale = None;
    match view.access {
        Access::Denied => {
            let outcome = CheckOutcome::now(Presence::Forbidden {
                permission: format!("get secrets in namespace {namespace}"),
            })
            .with_hints(hints::rbac(scene, namespace, "get"));
            return (outcome, None);
        }
        Access::Get => {
            found = wire::get_secret(
                &session.client,
                namespace,
                &placement.secret,
                settings.request_timeout,
            )
            .await;
        }
        Access::Watch | Access::List => {
            if view.access == Access::Watch {
                // Wait for the first answer of a new watcher.
                let mut generation = view.shared.generation.subscribe();
                let first = generation.wait_for(|g| *g > 0);
                tokio::time::timeout(settings.request_timeout + Duration::from_secs(1), first)
                    .await
                    .ok();
            }
            let (rows, error) = view.shared.snapshot();
            found = match (rows, error) {
                (Some(rows), error) => {
                    stale = error.map(|e| format!("last known state; {e}"));
                    Ok(rows.get(&placement.secret).cloned())
                }
                (None, Some(error)) => Err(error),
                (None, None) => Err(ProbeError::Timeout(settings.request_timeout)),
            };
        }
    }
    let mut outcome = match found {
        Ok(Some(row)) => present(scene, entry, placement, &row, target),
        Ok(None) => missing(settings, session, view, views, entry, placement, target).await,
        Err(error) => {
            let outcome = failed(scene, namespace, &error);
            return (outcome, Some(error));
        }
    };
    outcome.stale = stale;
    (outcome, None)
}

fn failed(scene: &Scene, namespace: &str, error: &ProbeError) -> CheckOutcome {
    match error {
        ProbeError::Forbidden { message } => {
            CheckOutcome::now(Presence::Forbidden { permission: message.clone() })
                .with_hints(hints::rbac(scene, namespace, "get"))
        }
        ProbeError::Unauthorized { .. } | ProbeError::Credentials { .. } => {
            CheckOutcome::now(Presence::Unreachable { reason: error.to_string() })
                .with_hints(vec![hints::credentials(scene)])
        }
        _ => CheckOutcome::now(Presence::Unreachable { reason: error.to_string() })
            .with_hints(vec![hints::unreachable(scene)]),
    }
}

fn present(
    scene: &Scene,
    entry: &SecretEntry,
    placement: &KubernetesPlacement,
    row: &SecretRow,
    target: &Target,
) -> CheckOutcome {
    if let Some(wanted) = placement.secret_type.as_ref().filter(|w| **w != row.secret_type) {
        return CheckOutcome::now(Presence::Wrong {
            reason: format!("type is {}, the spec expects {wanted}", row.secret_type),
        })
        .with_hints(vec![hints::wrong_type(
            scene,
            &placement.secret,
            &placement.namespace,
            &row.secret_type,
            wanted,
        )]);
    }
    let wanted = u32::try_from(placement.keys.len()).unwrap_or(u32::MAX);
    if row.keys < wanted {
        return CheckOutcome::now(Presence::Wrong {
            reason: format!("has {} of the {wanted} data keys the spec lists", row.keys),
        })
        .with_hints(vec![hints::too_few_keys(
            command(entry, target, CommandKind::Rotate),
            row.keys,
            &placement.keys,
        )]);
    }
    CheckOutcome::now(Presence::Present)
}

async fn missing(
    settings: &Settings,
    session: &Session,
    view: &View,
    views: &HashMap<String, Arc<View>>,
    entry: &SecretEntry,
    placement: &KubernetesPlacement,
    target: &Target,
) -> CheckOutcome {
    let scene = &session.scene;
    let namespace = &placement.namespace;
    if entry.provided_by == crate::spec::Provider::Vendor {
        return CheckOutcome::now(Presence::Missing).with_hints(vec![Hint::says(format!(
            "Not found in namespace {namespace}. The vendor's deployment creates it; there is nothing to do until it runs."
        ))]);
    }
    let create = command(entry, target, CommandKind::Create);
    let create_hint = |text: &str| match &create {
        Some(c) => Hint::with_command(text, c.clone()),
        None => Hint::says(text),
    };
    match namespace_exists(settings, session, view).await {
        Some(false) => {
            return CheckOutcome::now(Presence::Missing).with_hints(vec![
                hints::namespace_missing(scene, namespace),
                create_hint("Then create the Secret:"),
            ]);
        }
        None => {
            return CheckOutcome::now(Presence::Missing).with_hints(vec![
                create_hint("Not found. Create it:"),
                hints::namespace_unknown(scene, namespace),
            ]);
        }
        Some(true) => {}
    }
    let (rows, _) = view.shared.snapshot();
    if let Some(similar) = rows.as_ref().and_then(|rows| {
        rows.keys().find(|name| hints::is_near_miss(&placement.secret, name)).cloned()
    }) {
        return CheckOutcome::now(Presence::FoundElsewhere {
            location: format!("Secret {namespace}/{similar} (a similar name)"),
        })
        .with_hints(vec![
            hints::near_miss(scene, &placement.secret, namespace, &similar),
            create_hint("Create it under the right name:"),
        ]);
    }
    let others = elsewhere(settings, session, views, &placement.secret, namespace).await;
    if !others.is_empty() {
        let location = others
            .iter()
            .map(|ns| format!("Secret {ns}/{}", placement.secret))
            .collect::<Vec<_>>()
            .join(", ");
        return CheckOutcome::now(Presence::FoundElsewhere { location }).with_hints(vec![
            create_hint(&format!("Create it in namespace {namespace}:")),
            hints::in_other_namespaces(scene, &placement.secret, namespace, &others),
        ]);
    }
    CheckOutcome::now(Presence::Missing)
        .with_hints(vec![create_hint(&format!("Not found in namespace {namespace}. Create it:"))])
}

/// Whether the view's namespace exists: `None` when the user may not tell. Cached briefly.
async fn namespace_exists(settings: &Settings, session: &Session, view: &View) -> Option<bool> {
    let fresh = view
        .exists
        .lock()
        .ok()
        .and_then(|e| *e)
        .filter(|(at, _)| at.elapsed() < Duration::from_secs(15));
    if let Some((_, known)) = fresh {
        return known;
    }
    let answer =
        match wire::namespace_exists(&session.client, &view.namespace, settings.request_timeout)
            .await
        {
            Ok(exists) => Some(exists),
            Err(_) => {
                // No permission to read the namespace: a non-empty list proves it exists.
                let (rows, _) = view.shared.snapshot();
                rows.filter(|r| !r.is_empty()).map(|_| true)
            }
        };
    if let Ok(mut slot) = view.exists.lock() {
        *slot = Some((Instant::now(), answer));
    }
    answer
}

/// Other namespaces holding a Secret named `name`: the namespaces already watched, and, when
/// the user may list namespaces, up to 50 others. Those are listed (as Tables) at most once a
/// minute for all missing Secrets together, so the cost grows with namespaces, not Secrets.
async fn elsewhere(
    settings: &Settings,
    session: &Session,
    views: &HashMap<String, Arc<View>>,
    name: &str,
    namespace: &str,
) -> Vec<String> {
    let mut found: Vec<String> = views
        .values()
        .filter(|v| {
            v.namespace != namespace
                && v.shared.snapshot().0.is_some_and(|rows| rows.contains_key(name))
        })
        .map(|v| v.namespace.clone())
        .collect();
    let mut others = session.others.lock().await;
    if others.as_ref().is_none_or(|(at, _)| at.elapsed() > Duration::from_secs(60)) {
        let may_list = *session
            .may_list_namespaces
            .get_or_init(|| async {
                wire::can(&session.client, "list", "namespaces", None, settings.request_timeout)
                    .await
                    .unwrap_or(false)
            })
            .await;
        let mut listed = BTreeMap::new();
        let all = if may_list {
            wire::list_namespaces(&session.client, settings.request_timeout).await.ok()
        } else {
            None
        };
        if let Some(all) = all {
            let candidates: Vec<String> =
                all.into_iter().filter(|ns| !views.contains_key(ns)).take(50).collect();
            let answers = futures::future::join_all(
                candidates
                    .iter()
                    .map(|ns| wire::list_secrets(&session.client, ns, settings.request_timeout)),
            )
            .await;
            for (ns, answer) in candidates.into_iter().zip(answers) {
                // A namespace the user may not list is simply not searched.
                if let Ok((rows, _)) = answer {
                    listed.insert(ns, rows.into_iter().map(|r| r.name).collect());
                }
            }
        }
        *others = Some((Instant::now(), listed));
    }
    if let Some((_, listed)) = others.as_ref() {
        found.extend(
            listed
                .iter()
                .filter(|(ns, names)| ns.as_str() != namespace && names.iter().any(|n| n == name))
                .map(|(ns, _)| ns.clone()),
        );
    }
    found.sort();
    found
}
