//! One view per namespace the spec uses: how it may be observed (chosen by access reviews),
//! what is known about its Secrets, and, in live mode, the watcher that keeps that current:
//! LIST, then WATCH from the list's resource version, relisting on 410 and reconnecting with
//! backoff, keeping the last rows (stale) while it cannot.

use std::collections::BTreeMap;
use std::sync::Arc;
use std::time::{Duration, Instant};

use futures::StreamExt;
use tokio::sync::watch;
use tokio::task::JoinHandle;

use super::session::Session;
use super::wire::{self, Change, ProbeError, Rules, SecretRow};
use super::{Mode, Nudge, ProbeState, Settings};
use crate::detect::backoff::Backoff;

/// How a namespace is observed.
#[derive(Debug, Clone, PartialEq, Eq)]
pub(super) enum Access {
    Watch,
    List,
    Get,
    Denied,
}

/// What is known about one namespace's Secrets.
#[derive(Debug, Default)]
pub(super) struct RowsState {
    /// Every Secret in the namespace, once a list succeeded.
    pub(super) rows: Option<BTreeMap<String, SecretRow>>,
    /// The current failure, if any; with `rows` set, the rows are stale.
    pub(super) error: Option<ProbeError>,
}

/// A namespace's Secret rows, shared by its watcher (or the round that lists it) and the
/// rounds that read them.
pub(super) struct SecretRows {
    pub(super) state: std::sync::Mutex<RowsState>,
    /// Bumped on every change, so waiters can tell the first answer arrived.
    pub(super) generation: watch::Sender<u64>,
}

impl SecretRows {
    /// Changes the rows and tells waiters.
    pub(super) fn update(&self, change: impl FnOnce(&mut RowsState)) {
        if let Ok(mut cache) = self.state.lock() {
            change(&mut cache);
        }
        self.generation.send_modify(|g| *g += 1);
    }

    /// What `read` makes of the rows (none before a list succeeded) and the current failure,
    /// without copying the rows.
    pub(super) fn read<T>(
        &self,
        read: impl FnOnce(Option<&BTreeMap<String, SecretRow>>, Option<&ProbeError>) -> T,
    ) -> T {
        match self.state.lock() {
            Ok(cache) => read(cache.rows.as_ref(), cache.error.as_ref()),
            Err(_) => read(None, None),
        }
    }

    /// The current failure.
    pub(super) fn error(&self) -> Option<ProbeError> {
        self.read(|_, error| error.cloned())
    }
}

/// One namespace as the probe sees it: the access chosen, the rows, the watcher.
pub(super) struct NamespaceView {
    pub(super) namespace: String,
    pub(super) access: Access,
    pub(super) secrets: Arc<SecretRows>,
    pub(super) task: Option<JoinHandle<()>>,
    pub(super) exists: tokio::sync::Mutex<Option<(Instant, Option<bool>)>>,
    /// Whether the operator may create Secrets here: when asked, in which permissions epoch,
    /// and the answer.
    pub(super) write: tokio::sync::Mutex<Option<(Instant, u64, crate::detect::WriteAccess)>>,
    /// What the rules review said, when it was asked, in which permissions epoch: write
    /// access is read from it rather than asked again.
    pub(super) rules: std::sync::Mutex<Option<(Instant, u64, Rules)>>,
    /// Rows listed when the view was made, not yet used by a round (a list-only view does
    /// not list again in the same round).
    pub(super) fresh: std::sync::atomic::AtomicBool,
    /// When the access was last reviewed.
    reviewed_at: std::sync::Mutex<Instant>,
}

impl Drop for NamespaceView {
    fn drop(&mut self) {
        if let Some(task) = &self.task {
            task.abort();
        }
    }
}

/// How often a namespace whose access is less than the best (denied, get only, list
/// without watch) or that the server refused is reviewed again, so a granted Role is noticed.
const REVIEW_INTERVAL: Duration = Duration::from_secs(15);

/// What a review found: the access, and the rules when the server listed them.
struct Reviewed {
    list: bool,
    watch: bool,
    get: bool,
    rules: Option<Rules>,
}

/// What the user may do with Secrets in `namespace`, asked before anything is listed: no
/// request of its own when Secrets may be listed and watched in every namespace, else one
/// rules review (SelfSubjectRulesReview), with access reviews only for what the rules cannot
/// tell. A review that fails (an old server, a webhook outage) is not a denial: try and see.
async fn review(settings: &Settings, session: &Session, epoch: u64, namespace: &str) -> Reviewed {
    let timeout = settings.request_timeout;
    let client = &session.client;
    let wide = cluster_wide(settings, session, epoch).await;
    if wide.list && wide.watch {
        return Reviewed { list: true, watch: true, get: true, rules: None };
    }
    let rules = wire::rules(client, namespace, timeout).await.ok();
    let ask = |verb: &'static str| {
        let known = rules.as_ref().and_then(|r| r.answer(verb, "secrets"));
        async move {
            match known {
                Some(answer) => answer,
                None => wire::can(client, verb, "secrets", Some(namespace), timeout)
                    .await
                    .unwrap_or(true),
            }
        }
    };
    let (list, watch, get) = tokio::join!(ask("list"), ask("watch"), ask("get"));
    Reviewed { list, watch, get, rules }
}

/// What the user may do with Secrets in every namespace.
#[derive(Debug, Clone, Copy, Default)]
pub(super) struct ClusterWide {
    pub(super) list: bool,
    pub(super) watch: bool,
    pub(super) create: bool,
    pub(super) patch: bool,
    /// Namespaces may be listed (to search the others for a Secret that is not found).
    pub(super) list_namespaces: bool,
}

/// What the user may do with Secrets in every namespace (and whether namespaces may be
/// listed): five access reviews side by side, asked once per permissions epoch (again after
/// [`REVIEW_INTERVAL`] when not everything was allowed). Namespaces asking at once wait for
/// the one answer. A review that fails allows nothing here: each namespace is then reviewed
/// on its own. A permission revoked later shows as a refused list, which makes the rows
/// forbidden, never missing.
pub(super) async fn cluster_wide(
    settings: &Settings,
    session: &Session,
    epoch: u64,
) -> ClusterWide {
    let mut slot = session.cluster_wide.lock().await;
    if let Some((asked_in, at, wide)) = *slot
        && asked_in == epoch
        && ((wide.list && wide.watch && wide.create && wide.patch)
            || at.elapsed() < REVIEW_INTERVAL)
    {
        return wide;
    }
    let timeout = settings.request_timeout;
    let ask = |verb, resource| async move {
        matches!(wire::can(&session.client, verb, resource, None, timeout).await, Ok(true))
    };
    let (list, watch, create, patch, list_namespaces) = tokio::join!(
        ask("list", "secrets"),
        ask("watch", "secrets"),
        ask("create", "secrets"),
        ask("patch", "secrets"),
        ask("list", "namespaces"),
    );
    let wide = ClusterWide { list, watch, create, patch, list_namespaces };
    *slot = Some((epoch, Instant::now(), wide));
    wide
}

/// The access to use, from the review and the list made when the review allowed it (a
/// refused list disproves the review).
fn access(
    mode: Mode,
    reviewed: &Reviewed,
    listed: Option<&Result<(Vec<SecretRow>, String), ProbeError>>,
) -> Access {
    let list = reviewed.list && !matches!(listed, Some(Err(ProbeError::Forbidden { .. })));
    match (list, reviewed.watch, reviewed.get) {
        (true, true, _) if mode == Mode::Live => Access::Watch,
        (true, _, _) => Access::List,
        (false, _, true) => Access::Get,
        (false, _, false) => Access::Denied,
    }
}

impl NamespaceView {
    /// Whether its access should be reviewed again now.
    fn review_due(&self, mode: Mode) -> bool {
        let best = if mode == Mode::Live { Access::Watch } else { Access::List };
        let refused = matches!(self.secrets.error(), Some(ProbeError::Forbidden { .. }));
        let due = self.reviewed_at.lock().map_or(true, |at| at.elapsed() >= REVIEW_INTERVAL);
        due && (self.access != best || refused)
    }
}

/// The view of `namespace`: created on first use (access reviewed, then the namespace listed
/// when allowed, the watcher started from that list), and replaced when a due review finds
/// the access changed.
pub(super) async fn view(
    settings: &Settings,
    state: &Arc<ProbeState>,
    session: &Session,
    namespace: &str,
) -> Arc<NamespaceView> {
    let existing = session.views.lock().await.get(namespace).cloned();
    if let Some(view) = &existing
        && !view.review_due(settings.mode)
    {
        return view.clone();
    }
    let epoch = state.permissions_epoch.load(std::sync::atomic::Ordering::Relaxed);
    // The lock is not held while the server answers: namespaces are reviewed side by side.
    let reviewed = review(settings, session, epoch, namespace).await;
    let listed = match reviewed.list {
        true => {
            Some(wire::list_secrets(&session.client, namespace, settings.request_timeout).await)
        }
        false => None,
    };
    let access = access(settings.mode, &reviewed, listed.as_ref());
    if let Some(view) = existing
        && view.access == access
    {
        if let Ok(mut at) = view.reviewed_at.lock() {
            *at = Instant::now();
        }
        view.keep_rules(epoch, reviewed.rules);
        return view;
    }
    let (generation, _) = watch::channel(0u64);
    let secrets =
        Arc::new(SecretRows { state: std::sync::Mutex::new(RowsState::default()), generation });
    let fresh = matches!(access, Access::Watch | Access::List);
    if fresh {
        secrets.update(|cache| match &listed {
            None => {}
            Some(Ok((rows, _))) => {
                cache.rows = Some(rows.iter().map(|r| (r.name.clone(), r.clone())).collect());
                cache.error = None;
            }
            Some(Err(error)) => cache.error = Some(error.clone()),
        });
    }
    let task = (access == Access::Watch).then(|| {
        tokio::spawn(watch_namespace(
            session.client.clone(),
            namespace.to_owned(),
            secrets.clone(),
            settings.clone(),
            state.nudge(),
            listed.and_then(Result::ok).map(|(_, version)| version),
        ))
    });
    let view = Arc::new(NamespaceView {
        namespace: namespace.to_owned(),
        access,
        secrets,
        task,
        exists: tokio::sync::Mutex::new(None),
        write: tokio::sync::Mutex::new(None),
        rules: std::sync::Mutex::new(None),
        fresh: std::sync::atomic::AtomicBool::new(fresh),
        reviewed_at: std::sync::Mutex::new(Instant::now()),
    });
    view.keep_rules(epoch, reviewed.rules);
    session.views.lock().await.insert(namespace.to_owned(), view.clone());
    view
}

impl NamespaceView {
    fn keep_rules(&self, epoch: u64, rules: Option<Rules>) {
        if let (Ok(mut slot), Some(rules)) = (self.rules.lock(), rules) {
            *slot = Some((Instant::now(), epoch, rules));
        }
    }

    /// The rules reviewed in `epoch` within `fresh_for`, if any.
    pub(super) fn rules_of(&self, epoch: u64, fresh_for: Duration) -> Option<Rules> {
        let slot = self.rules.lock().ok()?;
        let (at, asked_in, rules) = slot.as_ref()?;
        (*asked_in == epoch && at.elapsed() < fresh_for).then(|| rules.clone())
    }

    /// Whether the rows listed when the view was made are still unused (and now used).
    pub(super) fn take_fresh(&self) -> bool {
        self.fresh.swap(false, std::sync::atomic::Ordering::Relaxed)
    }
}

/// Keeps one namespace's rows current: LIST, then WATCH from its resource version; relist on
/// 410; on failure keep the rows (now stale) and retry with backoff.
pub(super) async fn watch_namespace(
    client: kube::Client,
    namespace: String,
    secrets: Arc<SecretRows>,
    settings: Settings,
    nudge: Nudge,
    listed: Option<String>,
) {
    let mut backoff = Backoff::new(settings.backoff);
    // The view's own list (already in the rows) is where the first watch starts.
    let mut listed = listed;
    loop {
        let version = match listed.take() {
            Some(version) => version,
            None => match wire::list_secrets(&client, &namespace, settings.request_timeout).await {
                Ok((rows, version)) => {
                    secrets.update(|cache| {
                        // A relist keeps the changes seen before it.
                        let before = cache.rows.take().unwrap_or_default();
                        let relisted = rows.into_iter().map(|mut r| {
                            r.seen_changed = before.get(&r.name).and_then(|b| b.seen_changed);
                            (r.name.clone(), r)
                        });
                        cache.rows = Some(relisted.collect());
                        cache.error = None;
                    });
                    nudge.notify();
                    version
                }
                Err(error) => {
                    secrets.update(|cache| cache.error = Some(error));
                    nudge.notify();
                    tokio::time::sleep(backoff.wait()).await;
                    continue;
                }
            },
        };
        backoff.reset();
        // Watch until the history expires (relist at once) or something breaks (relist later).
        let failure = follow(&client, &namespace, version, &secrets, &settings, &nudge).await;
        match failure {
            Some(ProbeError::Gone) | None => {}
            Some(error) => {
                secrets.update(|cache| cache.error = Some(error));
                nudge.notify();
                tokio::time::sleep(backoff.wait()).await;
            }
        }
    }
}

/// Follows one namespace's Secrets from `version`, watch after watch, until a watch fails;
/// returns why (`Gone` when the history expired).
async fn follow(
    client: &kube::Client,
    namespace: &str,
    mut version: String,
    secrets: &SecretRows,
    settings: &Settings,
    nudge: &Nudge,
) -> Option<ProbeError> {
    loop {
        let stream = match wire::watch_secrets(
            client,
            namespace,
            &version,
            settings.watch_renew,
            settings.watch_idle.max(settings.request_timeout),
        )
        .await
        {
            Ok(stream) => stream,
            Err(error) => return Some(error),
        };
        let mut stream = std::pin::pin!(stream);
        let mut ended = None;
        while let Some(item) = stream.next().await {
            match item {
                Ok(Change::Upsert(mut row, v)) => {
                    version = v;
                    row.seen_changed = Some(std::time::SystemTime::now());
                    secrets.update(|cache| {
                        if let Some(rows) = cache.rows.as_mut() {
                            rows.insert(row.name.clone(), row);
                        }
                    });
                    nudge.notify();
                }
                Ok(Change::Delete(name, v)) => {
                    version = v;
                    secrets.update(|cache| {
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
            Some(error) => return Some(error),
        }
    }
}
