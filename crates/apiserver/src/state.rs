//! What the server holds: users and their rules, namespaces, Secrets, the External Secrets
//! objects and Events, and the history of changes watches replay. One lock guards it all.

use std::collections::BTreeMap;
use std::sync::{Arc, Mutex, MutexGuard, PoisonError};
use std::time::{Duration, SystemTime, UNIX_EPOCH};

use serde_json::{Value, json};
use tokio::sync::broadcast;

use crate::json::JsonPath;

/// A lock that survives a panicked holder: the state stays usable (a sandbox must not stop
/// answering because one request went wrong).
pub(crate) fn lock<T>(mutex: &Mutex<T>) -> MutexGuard<'_, T> {
    mutex.lock().unwrap_or_else(PoisonError::into_inner)
}

/// What a user may do: verbs on resources, in one namespace or cluster-wide.
#[derive(Debug, Clone)]
pub struct Rule {
    /// Verbs (`get`, `list`, ...), or `*`.
    pub verbs: Vec<String>,
    /// Resources (`secrets`, ...), or `*`.
    pub resources: Vec<String>,
    /// `None`: every namespace and cluster-scoped requests.
    pub namespace: Option<String>,
}

impl Rule {
    /// `verbs` on `resources` in `namespace` (`None`: everywhere).
    pub fn new(verbs: &[&str], resources: &[&str], namespace: Option<&str>) -> Self {
        Self {
            verbs: verbs.iter().map(|s| s.to_string()).collect(),
            resources: resources.iter().map(|s| s.to_string()).collect(),
            namespace: namespace.map(str::to_owned),
        }
    }

    /// Everything, everywhere.
    pub fn admin() -> Self {
        Self::new(&["*"], &["*"], None)
    }
}

/// A user known by bearer token.
#[derive(Debug, Clone)]
pub struct User {
    /// The name the server reports (SelfSubjectReview) and puts in 403 messages.
    pub name: String,
    /// The bearer token.
    pub token: String,
    /// What it may do.
    pub rules: Vec<Rule>,
    /// Its token is rejected with 401, as an expired credential is.
    pub expired: bool,
}

/// One change, as watches send it.
#[derive(Debug, Clone)]
pub(crate) struct Event {
    pub(crate) rv: u64,
    pub(crate) kind: &'static str,
    pub(crate) namespace: String,
    pub(crate) object: Value,
}

pub(crate) struct State {
    pub(crate) rv: u64,
    pub(crate) compacted: u64,
    pub(crate) namespaces: BTreeMap<String, Value>,
    pub(crate) secrets: BTreeMap<(String, String), Value>,
    pub(crate) events: Vec<Event>,
    pub(crate) users: Vec<User>,
    pub(crate) bookmark_every: Duration,
    /// The External Secrets versions served; empty when ESO is not installed.
    pub(crate) eso_versions: Vec<String>,
    /// External Secrets objects by (plural, namespace or "", name).
    pub(crate) custom: BTreeMap<(String, String, String), Value>,
    /// core/v1 Events.
    pub(crate) core_events: Vec<Value>,
    #[cfg(feature = "test-machinery")]
    pub(crate) machinery: crate::machinery::Machinery,
}

impl State {
    fn new() -> Self {
        Self {
            rv: 100,
            compacted: 0,
            namespaces: BTreeMap::new(),
            secrets: BTreeMap::new(),
            events: Vec::new(),
            users: Vec::new(),
            // As real API servers do: about one bookmark a minute.
            bookmark_every: Duration::from_secs(60),
            eso_versions: Vec::new(),
            custom: BTreeMap::new(),
            core_events: Vec::new(),
            #[cfg(feature = "test-machinery")]
            machinery: crate::machinery::Machinery::default(),
        }
    }

    /// The user whose (unexpired) bearer token this is.
    pub(crate) fn user(&self, token: &str) -> Option<User> {
        self.users.iter().find(|u| u.token == token && !u.expired).cloned()
    }
}

/// The state and the channels every connection shares.
pub(crate) struct Shared {
    pub(crate) state: Mutex<State>,
    pub(crate) events: broadcast::Sender<Event>,
    /// Fired to end every open watch cleanly, as `timeoutSeconds` running out does.
    pub(crate) end_watches: broadcast::Sender<()>,
    /// Watches being served now.
    pub(crate) open_watches: std::sync::atomic::AtomicUsize,
    pub(crate) ca_pem: String,
}

impl Shared {
    pub(crate) fn new(ca_pem: String) -> Arc<Self> {
        let (events, _) = broadcast::channel(4096);
        let (end_watches, _) = broadcast::channel(4);
        Arc::new(Shared {
            state: Mutex::new(State::new()),
            events,
            end_watches,
            open_watches: std::sync::atomic::AtomicUsize::new(0),
            ca_pem,
        })
    }
}

/// Counts a watch as open while it lives.
pub(crate) struct OpenWatch(Arc<Shared>);

impl OpenWatch {
    pub(crate) fn new(shared: Arc<Shared>) -> Self {
        shared.open_watches.fetch_add(1, std::sync::atomic::Ordering::SeqCst);
        Self(shared)
    }
}

impl Drop for OpenWatch {
    fn drop(&mut self) {
        self.0.open_watches.fetch_sub(1, std::sync::atomic::Ordering::SeqCst);
    }
}

pub(crate) fn now_rfc3339() -> String {
    let secs = SystemTime::now().duration_since(UNIX_EPOCH).unwrap_or_default().as_secs();
    humantime::format_rfc3339_seconds(UNIX_EPOCH + Duration::from_secs(secs)).to_string()
}

/// Gives an object a fresh resource version (and uid and creation time when new).
pub(crate) fn stamp(state: &mut State, mut object: Value, previous: Option<&Value>) -> Value {
    state.rv += 1;
    if !object.at(&["metadata"]).is_object() {
        object.set(&["metadata"], json!({}));
    }
    let Some(meta) = object.get_mut("metadata").and_then(Value::as_object_mut) else {
        return object;
    };
    meta.insert("resourceVersion".into(), Value::String(state.rv.to_string()));
    let uid = previous
        .map(|p| p.at(&["metadata", "uid"]).clone())
        .unwrap_or_else(|| Value::String(format!("uid-{}", state.rv)));
    meta.insert("uid".into(), uid);
    let created = previous
        .map(|p| p.at(&["metadata", "creationTimestamp"]).clone())
        .unwrap_or_else(|| Value::String(now_rfc3339()));
    meta.insert("creationTimestamp".into(), created);
    object
}

/// Keeps a change in the history and tells open watches.
pub(crate) fn publish(
    shared: &Shared,
    state: &mut State,
    kind: &'static str,
    namespace: &str,
    object: Value,
) {
    let rv = object
        .at(&["metadata", "resourceVersion"])
        .as_str()
        .and_then(|s| s.parse().ok())
        .unwrap_or(state.rv);
    let event = Event { rv, kind, namespace: namespace.to_owned(), object };
    state.events.push(event.clone());
    // History is compacted as etcd's is: a watch from before what is kept gets 410 Gone, and
    // a long-running sandbox does not keep every value ever written.
    if state.events.len() > HISTORY {
        let dropped = state.events.len() - HISTORY;
        if let Some(last) = state.events.drain(..dropped).next_back() {
            state.compacted = last.rv;
        }
    }
    shared.events.send(event).ok();
}

/// Changes kept for watches to replay.
const HISTORY: usize = 1000;
