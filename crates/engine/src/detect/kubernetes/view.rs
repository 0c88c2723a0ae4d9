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
use super::wire::{self, Change, ProbeError, SecretRow};
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

    /// The rows and the current failure, copied out.
    pub(super) fn snapshot(&self) -> (Option<BTreeMap<String, SecretRow>>, Option<ProbeError>) {
        self.state.lock().map(|c| (c.rows.clone(), c.error.clone())).unwrap_or((None, None))
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

/// What the user may do with Secrets in `namespace`, from access reviews. A review that fails
/// (an old server, a webhook outage) is not a denial: try and see.
async fn review(settings: &Settings, client: &kube::Client, namespace: &str) -> Access {
    let timeout = settings.request_timeout;
    let (list, watch_ok, get) = tokio::join!(
        wire::can(client, "list", "secrets", Some(namespace), timeout),
        wire::can(client, "watch", "secrets", Some(namespace), timeout),
        wire::can(client, "get", "secrets", Some(namespace), timeout),
    );
    let allowed = |answer: &Result<bool, ProbeError>| answer.as_ref().map_or(true, |a| *a);
    match (allowed(&list), allowed(&watch_ok), allowed(&get)) {
        (true, true, _) if settings.mode == Mode::Live => Access::Watch,
        (true, _, _) => Access::List,
        (false, _, true) => Access::Get,
        (false, _, false) => Access::Denied,
    }
}

impl NamespaceView {
    /// Whether its access should be reviewed again now.
    fn review_due(&self, mode: Mode) -> bool {
        let best = if mode == Mode::Live { Access::Watch } else { Access::List };
        let refused = matches!(self.secrets.snapshot().1, Some(ProbeError::Forbidden { .. }));
        let due = self.reviewed_at.lock().map_or(true, |at| at.elapsed() >= REVIEW_INTERVAL);
        due && (self.access != best || refused)
    }
}

/// The view of `namespace`: created on first use (access reviewed, watcher started), and
/// replaced when a due review finds the access changed.
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
    // The lock is not held while the server answers: namespaces are reviewed side by side.
    let access = review(settings, &session.client, namespace).await;
    if let Some(view) = existing
        && view.access == access
    {
        if let Ok(mut at) = view.reviewed_at.lock() {
            *at = Instant::now();
        }
        return view;
    }
    let (generation, _) = watch::channel(0u64);
    let secrets =
        Arc::new(SecretRows { state: std::sync::Mutex::new(RowsState::default()), generation });
    let task = (access == Access::Watch).then(|| {
        tokio::spawn(watch_namespace(
            session.client.clone(),
            namespace.to_owned(),
            secrets.clone(),
            settings.clone(),
            state.nudge(),
        ))
    });
    let view = Arc::new(NamespaceView {
        namespace: namespace.to_owned(),
        access,
        secrets,
        task,
        exists: tokio::sync::Mutex::new(None),
        write: tokio::sync::Mutex::new(None),
        reviewed_at: std::sync::Mutex::new(Instant::now()),
    });
    session.views.lock().await.insert(namespace.to_owned(), view.clone());
    view
}

/// Keeps one namespace's rows current: LIST, then WATCH from its resource version; relist on
/// 410; on failure keep the rows (now stale) and retry with backoff.
pub(super) async fn watch_namespace(
    client: kube::Client,
    namespace: String,
    secrets: Arc<SecretRows>,
    settings: Settings,
    nudge: Nudge,
) {
    let mut backoff = Backoff::new(settings.backoff);
    loop {
        let (rows, mut version) =
            match wire::list_secrets(&client, &namespace, settings.request_timeout).await {
                Ok(listed) => listed,
                Err(error) => {
                    secrets.update(|cache| cache.error = Some(error));
                    nudge.notify();
                    tokio::time::sleep(backoff.wait()).await;
                    continue;
                }
            };
        secrets.update(|cache| {
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
                Some(error) => break Some(error),
            }
        };
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
