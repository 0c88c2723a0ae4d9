//! A small Kubernetes API server: just enough of the real API conventions for Greenlight and
//! a real `kubectl` to work against it, over TLS with bearer-token users. The test suite runs
//! against it (no kube-apiserver can be installed on the development machines), and
//! `greenlight demo` runs it in the process as a sandbox cluster.
//!
//! It serves discovery, `/version`, namespaces, Secrets (create, get, list, watch, update,
//! patch including server-side apply, delete) with content negotiation for Table
//! (`includeObject`), PartialObjectMetadata and full objects, resource versions, watch
//! bookmarks and 410 Gone, RBAC-shaped 403 Status bodies, SelfSubjectAccessReview and
//! SelfSubjectReview. It records every request and every response body, and can be told to
//! hang, fail with 500s, or stop and come back on the same port.

use std::collections::BTreeMap;
use std::convert::Infallible;
use std::net::SocketAddr;
use std::sync::{Arc, Mutex, MutexGuard, PoisonError};
use std::time::{Duration, SystemTime, UNIX_EPOCH};

use base64::Engine;
use bytes::Bytes;
use http_body_util::{BodyExt, Full, StreamBody, combinators::BoxBody};
use hyper::body::{Frame, Incoming};
use hyper::{Request, Response};
use hyper_util::rt::TokioIo;
use serde_json::{Value, json};
use tokio::net::TcpListener;
use tokio::sync::{broadcast, mpsc};
use tokio::task::JoinHandle;
use tokio_rustls::TlsAcceptor;
use tokio_rustls::rustls::ServerConfig;
use tokio_rustls::rustls::pki_types::{CertificateDer, PrivateKeyDer, PrivatePkcs8KeyDer};

type Body = BoxBody<Bytes, Infallible>;

/// A lock that survives a panicked holder: the state stays usable (a sandbox must not stop
/// answering because one request went wrong).
fn lock<T>(mutex: &Mutex<T>) -> MutexGuard<'_, T> {
    mutex.lock().unwrap_or_else(PoisonError::into_inner)
}

/// Paths into JSON objects that never panic: a read of something absent is null, a write
/// makes the objects on its way (replacing anything else there).
trait JsonPath {
    fn at(&self, path: &[&str]) -> &Value;
    fn set(&mut self, path: &[&str], new: Value);
}

impl JsonPath for Value {
    fn at(&self, path: &[&str]) -> &Value {
        static NULL: Value = Value::Null;
        path.iter().try_fold(self, |node, key| node.get(*key)).unwrap_or(&NULL)
    }

    fn set(&mut self, path: &[&str], new: Value) {
        let mut node = self;
        for key in path {
            if !node.is_object() {
                *node = json!({});
            }
            let Some(map) = node.as_object_mut() else { return };
            node = map.entry((*key).to_owned()).or_insert(Value::Null);
        }
        *node = new;
    }
}

/// A response, or a bare 500 if the parts cannot make one.
fn build(builder: http::response::Builder, body: Body) -> Response<Body> {
    builder.body(body).unwrap_or_else(|_| {
        let mut response = Response::new(full(Vec::new()));
        *response.status_mut() = hyper::StatusCode::INTERNAL_SERVER_ERROR;
        response
    })
}

/// What a user may do: verbs on resources, in one namespace or cluster-wide.
#[derive(Debug, Clone)]
pub struct Rule {
    pub verbs: Vec<String>,
    pub resources: Vec<String>,
    /// `None`: every namespace and cluster-scoped requests.
    pub namespace: Option<String>,
}

impl Rule {
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
    pub name: String,
    pub token: String,
    pub rules: Vec<Rule>,
    /// Its token is rejected with 401, as an expired credential is.
    pub expired: bool,
}

/// One request and what the server answered.
#[derive(Debug, Clone)]
pub struct Record {
    pub user: String,
    pub user_agent: String,
    pub method: String,
    pub path: String,
    pub query: String,
    pub accept: String,
    /// Content type of the request body.
    pub content_type: String,
    pub status: u16,
    /// The whole response body; for a watch, every event sent so far.
    pub body: Arc<Mutex<Vec<u8>>>,
}

impl Record {
    pub fn body(&self) -> Vec<u8> {
        lock(&self.body).clone()
    }

    pub fn param(&self, name: &str) -> Option<String> {
        query_param(&self.query, name)
    }
}

/// Misbehaviour on demand.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Fault {
    None,
    /// Accept requests and never answer.
    Hang,
    /// Answer every request with 500.
    Error500,
    /// Keep open watches open but send nothing on them (no events, no bookmarks), as a
    /// stalled proxy or a half-dead connection does.
    MuteWatches,
    /// A proxy in front that answers resource requests with its own HTML 404 page (access
    /// reviews still reach the server).
    NotFoundPages,
}

#[derive(Debug, Clone)]
struct Event {
    rv: u64,
    kind: &'static str,
    namespace: String,
    object: Value,
}

struct State {
    rv: u64,
    compacted: u64,
    namespaces: BTreeMap<String, Value>,
    secrets: BTreeMap<(String, String), Value>,
    events: Vec<Event>,
    users: Vec<User>,
    records: Vec<Record>,
    fault: Fault,
    bookmark_every: Duration,
    /// New watches wait while this is set.
    watches_paused: bool,
    /// The External Secrets versions served; empty when ESO is not installed.
    eso_versions: Vec<String>,
    /// External Secrets objects by (plural, namespace or "", name).
    custom: BTreeMap<(String, String, String), Value>,
    /// core/v1 Events.
    core_events: Vec<Value>,
}

struct Shared {
    state: Mutex<State>,
    events: broadcast::Sender<Event>,
    /// Fired to end every open watch cleanly, as `timeoutSeconds` running out does.
    end_watches: broadcast::Sender<()>,
    /// Watches being served now.
    open_watches: std::sync::atomic::AtomicUsize,
    ca_pem: String,
}

/// Counts a watch as open while it lives.
struct OpenWatch(Arc<Shared>);

impl OpenWatch {
    fn new(shared: Arc<Shared>) -> Self {
        shared.open_watches.fetch_add(1, std::sync::atomic::Ordering::SeqCst);
        Self(shared)
    }
}

impl Drop for OpenWatch {
    fn drop(&mut self) {
        self.0.open_watches.fetch_sub(1, std::sync::atomic::Ordering::SeqCst);
    }
}

/// A running test API server. Dropping it stops it.
pub struct ApiServer {
    shared: Arc<Shared>,
    addr: SocketAddr,
    acceptor: TlsAcceptor,
    tasks: Arc<Mutex<Vec<JoinHandle<()>>>>,
}

/// The token of the `admin` user every server starts with.
pub const ADMIN_TOKEN: &str = "admin-token";

impl ApiServer {
    /// Starts on a free loopback port with an `admin` user and the `default` namespace.
    pub async fn start() -> Result<Self, String> {
        Self::start_on(0).await
    }

    /// Starts on loopback `port` (0 for a free one).
    pub async fn start_on(port: u16) -> Result<Self, String> {
        let (ca_pem, config) = tls()?;
        let (events, _) = broadcast::channel(4096);
        let (end_watches, _) = broadcast::channel(4);
        let shared = Arc::new(Shared {
            state: Mutex::new(State {
                rv: 100,
                compacted: 0,
                namespaces: BTreeMap::new(),
                secrets: BTreeMap::new(),
                events: Vec::new(),
                users: vec![User {
                    name: "admin".into(),
                    token: ADMIN_TOKEN.into(),
                    rules: vec![Rule::admin()],
                    expired: false,
                }],
                records: Vec::new(),
                fault: Fault::None,
                // As real API servers do: about one bookmark a minute.
                bookmark_every: Duration::from_secs(60),
                watches_paused: false,
                eso_versions: Vec::new(),
                custom: BTreeMap::new(),
                core_events: Vec::new(),
            }),
            events,
            end_watches,
            open_watches: std::sync::atomic::AtomicUsize::new(0),
            ca_pem,
        });
        let listener = TcpListener::bind(("127.0.0.1", port))
            .await
            .map_err(|e| format!("cannot listen on 127.0.0.1:{port}: {e}"))?;
        let addr = listener.local_addr().map_err(|e| format!("cannot listen on loopback: {e}"))?;
        let server = Self {
            shared,
            addr,
            acceptor: TlsAcceptor::from(Arc::new(config)),
            tasks: Arc::new(Mutex::new(Vec::new())),
        };
        server.create_namespace("default");
        server.serve(listener);
        Ok(server)
    }

    fn serve(&self, listener: TcpListener) {
        let shared = self.shared.clone();
        let acceptor = self.acceptor.clone();
        let tasks = self.tasks.clone();
        let accept = tokio::spawn(async move {
            loop {
                let Ok((tcp, _)) = listener.accept().await else { continue };
                let shared = shared.clone();
                let acceptor = acceptor.clone();
                let connection = tokio::spawn(async move {
                    let Ok(tls) = acceptor.accept(tcp).await else { return };
                    let service = hyper::service::service_fn(move |req| {
                        let shared = shared.clone();
                        async move { Ok::<_, Infallible>(handle(shared, req).await) }
                    });
                    hyper::server::conn::http1::Builder::new()
                        .serve_connection(TokioIo::new(tls), service)
                        .await
                        .ok();
                });
                lock(&tasks).push(connection);
            }
        });
        lock(&self.tasks).push(accept);
    }

    /// Stops listening and drops every open connection (watches end abruptly).
    pub fn stop(&self) {
        for task in lock(&self.tasks).drain(..) {
            task.abort();
        }
    }

    /// Listens again on the same port, with the same data.
    pub async fn restart(&self) {
        self.stop();
        let listener = loop {
            match TcpListener::bind(self.addr).await {
                Ok(listener) => break listener,
                Err(_) => tokio::time::sleep(Duration::from_millis(20)).await,
            }
        };
        self.serve(listener);
    }

    pub fn url(&self) -> String {
        format!("https://{}", self.addr)
    }

    pub fn port(&self) -> u16 {
        self.addr.port()
    }

    pub fn ca_pem(&self) -> &str {
        &self.shared.ca_pem
    }

    /// A kubeconfig with one context per `(context, token)`, the first current.
    pub fn kubeconfig(&self, contexts: &[(&str, &str)]) -> String {
        let ca = base64::engine::general_purpose::STANDARD.encode(&self.shared.ca_pem);
        let mut out = format!(
            "apiVersion: v1\nkind: Config\ncurrent-context: {}\nclusters:\n- name: test\n  cluster:\n    server: {}\n    certificate-authority-data: {ca}\ncontexts:\n",
            contexts.first().map_or("none", |c| c.0),
            self.url()
        );
        for (context, _) in contexts {
            out.push_str(&format!("- name: {context}\n  context:\n    cluster: test\n    user: {context}-user\n    namespace: default\n"));
        }
        out.push_str("users:\n");
        for (context, token) in contexts {
            out.push_str(&format!("- name: {context}-user\n  user:\n    token: {token}\n"));
        }
        out
    }

    pub fn add_user(&self, name: &str, token: &str, rules: Vec<Rule>) {
        lock(&self.shared.state).users.push(User {
            name: name.into(),
            token: token.into(),
            rules,
            expired: false,
        });
    }

    /// Replaces what the user with `token` may do, as a cluster admin applying a Role would.
    pub fn set_rules(&self, token: &str, rules: Vec<Rule>) {
        for user in &mut lock(&self.shared.state).users {
            if user.token == token {
                user.rules = rules.clone();
            }
        }
    }

    pub fn expire_user(&self, token: &str) {
        for user in &mut lock(&self.shared.state).users {
            if user.token == token {
                user.expired = true;
            }
        }
    }

    pub fn set_fault(&self, fault: Fault) {
        lock(&self.shared.state).fault = fault;
    }

    /// Watches open now (a client that went away closes its watch within a few milliseconds).
    pub fn open_watches(&self) -> usize {
        self.shared.open_watches.load(std::sync::atomic::Ordering::SeqCst)
    }

    pub fn set_bookmark_interval(&self, every: Duration) {
        lock(&self.shared.state).bookmark_every = every;
    }

    pub fn create_namespace(&self, name: &str) {
        let mut state = lock(&self.shared.state);
        let object = json!({"apiVersion": "v1", "kind": "Namespace", "metadata": {"name": name}, "spec": {"finalizers": ["kubernetes"]}, "status": {"phase": "Active"}});
        let object = stamp(&mut state, object, None);
        state.namespaces.insert(name.to_owned(), object);
    }

    /// A handle other tasks (the External Secrets stand-in) can keep.
    pub fn handle(&self) -> ServerHandle {
        ServerHandle(self.shared.clone())
    }

    /// Serves the External Secrets API in `versions` (e.g. `["v1"]`), as an installed ESO.
    pub fn install_eso(&self, versions: &[&str]) {
        lock(&self.shared.state).eso_versions = versions.iter().map(|v| (*v).to_owned()).collect();
    }

    /// Stores an External Secrets object (`plural`: externalsecrets, secretstores,
    /// clustersecretstores), as the deployment's manifests would.
    pub fn put_custom(&self, plural: &str, object: Value) {
        self.handle().put_custom(plural, object);
    }

    /// Stores a Secret directly, as if some other client had created it.
    pub fn put_secret(&self, namespace: &str, name: &str, data: &[(&str, &str)]) {
        let encoded: serde_json::Map<String, Value> = data
            .iter()
            .map(|(k, v)| {
                (k.to_string(), Value::String(base64::engine::general_purpose::STANDARD.encode(v)))
            })
            .collect();
        let object = json!({"apiVersion": "v1", "kind": "Secret", "type": "Opaque", "metadata": {"name": name, "namespace": namespace}, "data": encoded});
        let mut state = lock(&self.shared.state);
        let existed = state.secrets.contains_key(&(namespace.to_owned(), name.to_owned()));
        let object = stamp(&mut state, object, None);
        publish(
            &self.shared,
            &mut state,
            if existed { "MODIFIED" } else { "ADDED" },
            namespace,
            object.clone(),
        );
        state.secrets.insert((namespace.to_owned(), name.to_owned()), object);
    }

    pub fn delete_secret(&self, namespace: &str, name: &str) {
        let mut state = lock(&self.shared.state);
        if let Some(mut object) = state.secrets.remove(&(namespace.to_owned(), name.to_owned())) {
            state.rv += 1;
            object.set(&["metadata", "resourceVersion"], Value::String(state.rv.to_string()));
            publish(&self.shared, &mut state, "DELETED", namespace, object);
        }
    }

    /// Ends every open watch cleanly (as a server-side timeout does); clients watch again from
    /// the last version they saw.
    pub fn end_watches(&self) {
        self.shared.end_watches.send(()).ok();
    }

    /// Holds new watch requests (they are answered once resumed), to stage what a client
    /// finds when it comes back.
    pub fn pause_watches(&self, paused: bool) {
        lock(&self.shared.state).watches_paused = paused;
    }

    /// Forgets watch history up to now: watches from older resource versions get 410 Gone.
    pub fn compact(&self) {
        let mut state = lock(&self.shared.state);
        state.compacted = state.rv;
        state.events.clear();
    }

    pub fn records(&self) -> Vec<Record> {
        lock(&self.shared.state).records.clone()
    }

    pub fn clear_records(&self) {
        lock(&self.shared.state).records.clear();
    }

    /// The stored Secret, values included (tests seed and check it).
    pub fn secret(&self, namespace: &str, name: &str) -> Option<Value> {
        self.handle().secret(namespace, name)
    }
}

/// A clonable handle on a running server's state.
#[derive(Clone)]
pub struct ServerHandle(Arc<Shared>);

impl ServerHandle {
    /// Every stored object of `plural`.
    pub fn customs(&self, plural: &str) -> Vec<Value> {
        let state = lock(&self.0.state);
        state.custom.iter().filter(|((p, _, _), _)| p == plural).map(|(_, v)| v.clone()).collect()
    }

    /// One stored object.
    pub fn custom(&self, plural: &str, namespace: &str, name: &str) -> Option<Value> {
        let state = lock(&self.0.state);
        state.custom.get(&(plural.to_owned(), namespace.to_owned(), name.to_owned())).cloned()
    }

    /// Stores (or replaces) an object of `plural`.
    pub fn put_custom(&self, plural: &str, object: Value) {
        let namespace =
            object.at(&["metadata", "namespace"]).as_str().unwrap_or_default().to_owned();
        let name = object.at(&["metadata", "name"]).as_str().unwrap_or_default().to_owned();
        let mut state = lock(&self.0.state);
        let key = (plural.to_owned(), namespace, name);
        let previous = state.custom.get(&key).cloned();
        let object = stamp(&mut state, object, previous.as_ref());
        let kind = if previous.is_some() { "MODIFIED" } else { "ADDED" };
        let namespace = key.1.clone();
        publish(&self.0, &mut state, kind, &namespace, object.clone());
        state.custom.insert(key, object);
    }

    /// Replaces an object's `status`, as its controller does.
    pub fn set_status(&self, plural: &str, namespace: &str, name: &str, status: Value) {
        let mut state = lock(&self.0.state);
        state.rv += 1;
        let rv = state.rv.to_string();
        let key = (plural.to_owned(), namespace.to_owned(), name.to_owned());
        let Some(object) = state.custom.get_mut(&key) else { return };
        object.set(&["status"], status);
        object.set(&["metadata", "resourceVersion"], Value::String(rv));
        let object = object.clone();
        publish(&self.0, &mut state, "MODIFIED", namespace, object);
    }

    /// Records a core/v1 Event about an object, as a controller's event recorder does.
    pub fn record_event(
        &self,
        namespace: &str,
        kind: &str,
        name: &str,
        kind_of: &str,
        reason: &str,
        message: &str,
    ) {
        let mut state = lock(&self.0.state);
        let n = state.core_events.len();
        let event = json!({
            "apiVersion": "v1", "kind": "Event",
            "metadata": {"name": format!("{name}.{n:x}"), "namespace": namespace},
            "involvedObject": {"kind": kind, "name": name, "namespace": namespace, "apiVersion": "external-secrets.io/v1"},
            "type": kind_of, "reason": reason, "message": message,
            "lastTimestamp": now_rfc3339(), "count": 1,
            "source": {"component": "external-secrets"},
        });
        state.core_events.push(event);
    }

    /// Writes a Secret as a controller does, with `labels`.
    pub fn write_secret(
        &self,
        namespace: &str,
        name: &str,
        data: &[(String, String)],
        labels: Value,
    ) {
        let encoded: serde_json::Map<String, Value> = data
            .iter()
            .map(|(k, v)| {
                (k.clone(), Value::String(base64::engine::general_purpose::STANDARD.encode(v)))
            })
            .collect();
        let object = json!({"apiVersion": "v1", "kind": "Secret", "type": "Opaque", "metadata": {"name": name, "namespace": namespace, "labels": labels}, "data": encoded});
        let mut state = lock(&self.0.state);
        let key = (namespace.to_owned(), name.to_owned());
        let previous = state.secrets.get(&key).cloned();
        if previous.as_ref().is_some_and(|p| {
            p.at(&["data"]) == object.at(&["data"])
                && p.at(&["metadata", "labels"]) == object.at(&["metadata", "labels"])
        }) {
            return;
        }
        let object = stamp(&mut state, object, previous.as_ref());
        publish(
            &self.0,
            &mut state,
            if previous.is_some() { "MODIFIED" } else { "ADDED" },
            namespace,
            object.clone(),
        );
        state.secrets.insert(key, object);
    }

    /// The stored Secret, values included.
    pub fn secret(&self, namespace: &str, name: &str) -> Option<Value> {
        lock(&self.0.state).secrets.get(&(namespace.to_owned(), name.to_owned())).cloned()
    }
}

impl Drop for ApiServer {
    fn drop(&mut self) {
        self.stop();
    }
}

/// A CA and a loopback certificate made now, so nothing secret ships with Greenlight.
fn tls() -> Result<(String, ServerConfig), String> {
    let failed = |e: &dyn std::fmt::Display| format!("cannot make the sandbox's certificate: {e}");
    let ca_key = rcgen::KeyPair::generate().map_err(|e| failed(&e))?;
    let mut ca_params =
        rcgen::CertificateParams::new(Vec::<String>::new()).map_err(|e| failed(&e))?;
    ca_params.is_ca = rcgen::IsCa::Ca(rcgen::BasicConstraints::Unconstrained);
    ca_params.distinguished_name.push(rcgen::DnType::CommonName, "greenlight sandbox CA");
    ca_params.key_usages =
        vec![rcgen::KeyUsagePurpose::KeyCertSign, rcgen::KeyUsagePurpose::DigitalSignature];
    let ca_cert = ca_params.self_signed(&ca_key).map_err(|e| failed(&e))?;
    let issuer = rcgen::Issuer::new(ca_params, ca_key);
    let leaf_key = rcgen::KeyPair::generate().map_err(|e| failed(&e))?;
    let mut leaf_params =
        rcgen::CertificateParams::new(vec!["localhost".to_owned(), "127.0.0.1".to_owned()])
            .map_err(|e| failed(&e))?;
    leaf_params.distinguished_name.push(rcgen::DnType::CommonName, "greenlight sandbox");
    let leaf = leaf_params.signed_by(&leaf_key, &issuer).map_err(|e| failed(&e))?;
    let provider = Arc::new(tokio_rustls::rustls::crypto::ring::default_provider());
    let config = ServerConfig::builder_with_provider(provider)
        .with_safe_default_protocol_versions()
        .map_err(|e| failed(&e))?
        .with_no_client_auth()
        .with_single_cert(
            vec![CertificateDer::from(leaf.der().to_vec())],
            PrivateKeyDer::Pkcs8(PrivatePkcs8KeyDer::from(leaf_key.serialize_der())),
        )
        .map_err(|e| failed(&e))?;
    Ok((ca_cert.pem(), config))
}

fn now_rfc3339() -> String {
    let secs = SystemTime::now().duration_since(UNIX_EPOCH).unwrap_or_default().as_secs();
    humantime::format_rfc3339_seconds(UNIX_EPOCH + Duration::from_secs(secs)).to_string()
}

/// Gives an object a fresh resource version (and uid and creation time when new).
fn stamp(state: &mut State, mut object: Value, previous: Option<&Value>) -> Value {
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

fn publish(shared: &Shared, state: &mut State, kind: &'static str, namespace: &str, object: Value) {
    let rv = object
        .at(&["metadata", "resourceVersion"])
        .as_str()
        .and_then(|s| s.parse().ok())
        .unwrap_or(state.rv);
    let event = Event { rv, kind, namespace: namespace.to_owned(), object };
    state.events.push(event.clone());
    shared.events.send(event).ok();
}

fn query_param(query: &str, name: &str) -> Option<String> {
    query
        .split('&')
        .filter_map(|kv| kv.split_once('='))
        .find(|(k, _)| *k == name)
        .map(|(_, v)| percent_decode(v))
}

fn percent_decode(text: &str) -> String {
    let bytes = text.as_bytes();
    let mut out = Vec::with_capacity(bytes.len());
    let mut i = 0;
    while let Some(&byte) = bytes.get(i) {
        let decoded = (byte == b'%')
            .then(|| bytes.get(i + 1..i + 3))
            .flatten()
            .and_then(|hex| std::str::from_utf8(hex).ok())
            .and_then(|h| u8::from_str_radix(h, 16).ok());
        match (decoded, byte) {
            (Some(b), _) => {
                out.push(b);
                i += 3;
                continue;
            }
            (None, b'+') => out.push(b' '),
            (None, b) => out.push(b),
        }
        i += 1;
    }
    String::from_utf8_lossy(&out).into_owned()
}

/// How the client asked to see objects.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
enum Repr {
    Full,
    Metadata,
    Table(Include),
}

#[derive(Debug, Clone, Copy, PartialEq, Eq)]
enum Include {
    None,
    Metadata,
    Object,
}

fn negotiate(accept: &str, query: &str) -> Option<Repr> {
    let include = match query_param(query, "includeObject").as_deref() {
        Some("None") => Include::None,
        Some("Object") => Include::Object,
        _ => Include::Metadata,
    };
    for media in accept.split(',') {
        let media = media.trim();
        if media.contains("as=Table") {
            return Some(Repr::Table(include));
        }
        if media.contains("as=PartialObjectMetadata") {
            return Some(Repr::Metadata);
        }
        if media.starts_with("application/json") || media.starts_with("*/*") || media.is_empty() {
            return Some(Repr::Full);
        }
    }
    None
}

fn age(object: &Value) -> String {
    let created = object
        .at(&["metadata", "creationTimestamp"])
        .as_str()
        .and_then(|t| humantime::parse_rfc3339(t).ok());
    let secs =
        created.and_then(|c| SystemTime::now().duration_since(c).ok()).map_or(0, |d| d.as_secs());
    if secs < 120 { format!("{secs}s") } else { format!("{}m", secs / 60) }
}

fn partial_metadata(object: &Value) -> Value {
    json!({"kind": "PartialObjectMetadata", "apiVersion": "meta.k8s.io/v1", "metadata": object["metadata"].clone()})
}

fn columns(kind: &str) -> Value {
    let col = |name: &str, kind: &str, format: &str, description: &str| json!({"name": name, "type": kind, "format": format, "description": description, "priority": 0});
    match kind {
        "Secret" => json!([
            col("Name", "string", "name", "Name must be unique within a namespace."),
            col("Type", "string", "", "Used to facilitate programmatic handling of secret data."),
            col("Data", "string", "", "Data contains the secret data."),
            col(
                "Age",
                "string",
                "",
                "CreationTimestamp is a timestamp representing the server time when this object was created."
            ),
        ]),
        "ExternalSecret" => json!([
            col("Name", "string", "name", "Name must be unique within a namespace."),
            col("StoreType", "string", "", ""),
            col("Store", "string", "", ""),
            col("Refresh Interval", "string", "", ""),
            col("Status", "string", "", ""),
            col("Ready", "string", "", ""),
            col("Last Sync", "date", "", ""),
        ]),
        "SecretStore" | "ClusterSecretStore" => json!([
            col("Name", "string", "name", "Name must be unique within a namespace."),
            col("AGE", "date", "", ""),
            col("Status", "string", "", ""),
            col("Capabilities", "string", "", ""),
            col("Ready", "string", "", ""),
        ]),
        _ => json!([
            col("Name", "string", "name", "Name must be unique within a namespace."),
            col("Status", "string", "", "The status of the namespace"),
            col(
                "Age",
                "string",
                "",
                "CreationTimestamp is a timestamp representing the server time when this object was created."
            ),
        ]),
    }
}

fn row(object: &Value, include: Include) -> Value {
    let name = object.at(&["metadata", "name"]).clone();
    let ready = |field: &str| {
        object
            .at(&["status", "conditions"])
            .as_array()
            .and_then(|c| c.iter().find(|c| c["type"] == "Ready"))
            .map_or(Value::Null, |c| c[field].clone())
    };
    let cells = if object["kind"] == "Secret" {
        let count = object["data"].as_object().map_or(0, |d| d.len());
        json!([name, object["type"].clone(), count, age(object)])
    } else if object["kind"] == "ExternalSecret" {
        let store = &object.at(&["spec", "secretStoreRef"]);
        json!([
            name,
            store["kind"].clone(),
            store["name"].clone(),
            object.at(&["spec", "refreshInterval"]).clone(),
            ready("reason"),
            ready("status"),
            object.at(&["status", "refreshTime"]).clone()
        ])
    } else if object["kind"] == "SecretStore" || object["kind"] == "ClusterSecretStore" {
        json!([
            name,
            age(object),
            ready("reason"),
            object.at(&["status", "capabilities"]).clone(),
            ready("status")
        ])
    } else {
        json!([name, object.at(&["status", "phase"]).clone(), age(object)])
    };
    match include {
        Include::None => json!({"cells": cells}),
        Include::Metadata => json!({"cells": cells, "object": partial_metadata(object)}),
        Include::Object => json!({"cells": cells, "object": object}),
    }
}

fn table(kind: &str, rv: u64, objects: &[&Value], include: Include) -> Value {
    json!({
        "kind": "Table",
        "apiVersion": "meta.k8s.io/v1",
        "metadata": {"resourceVersion": rv.to_string()},
        "columnDefinitions": columns(kind),
        "rows": objects.iter().map(|o| row(o, include)).collect::<Vec<_>>(),
    })
}

fn render_one(object: &Value, repr: Repr) -> Value {
    match repr {
        Repr::Full => object.clone(),
        Repr::Metadata => partial_metadata(object),
        Repr::Table(include) => {
            let rv = object
                .at(&["metadata", "resourceVersion"])
                .as_str()
                .and_then(|s| s.parse().ok())
                .unwrap_or(0);
            table(object["kind"].as_str().unwrap_or("Secret"), rv, &[object], include)
        }
    }
}

fn render_list(kind: &str, rv: u64, objects: &[&Value], repr: Repr) -> Value {
    match repr {
        Repr::Full => {
            json!({"kind": format!("{kind}List"), "apiVersion": "v1", "metadata": {"resourceVersion": rv.to_string()}, "items": objects})
        }
        Repr::Metadata => json!({
            "kind": "PartialObjectMetadataList",
            "apiVersion": "meta.k8s.io/v1",
            "metadata": {"resourceVersion": rv.to_string()},
            "items": objects.iter().map(|o| partial_metadata(o)).collect::<Vec<_>>(),
        }),
        Repr::Table(include) => table(kind, rv, objects, include),
    }
}

fn content_type(repr: Repr) -> &'static str {
    match repr {
        Repr::Table(_) => "application/json;as=Table;v=v1;g=meta.k8s.io",
        Repr::Metadata => "application/json;as=PartialObjectMetadata;v=v1;g=meta.k8s.io",
        Repr::Full => "application/json",
    }
}

fn status(code: u16, reason: &str, message: &str, details: Value) -> Value {
    json!({"kind": "Status", "apiVersion": "v1", "metadata": {}, "status": "Failure", "message": message, "reason": reason, "details": details, "code": code})
}

struct Reply {
    code: u16,
    content_type: &'static str,
    body: Value,
}

/// The RBAC verb of `method` on one object (`named`) or the collection, if `allowed` has it.
fn verb(method: &str, named: bool, allowed: &[&str]) -> Option<&'static str> {
    let verb = match (method, named) {
        ("GET", true) => "get",
        ("GET", false) => "list",
        ("POST", false) => "create",
        ("PUT", true) => "update",
        ("PATCH", true) => "patch",
        ("DELETE", true) => "delete",
        _ => return None,
    };
    allowed.contains(&verb).then_some(verb)
}

fn method_not_allowed() -> Reply {
    reply(
        405,
        status(
            405,
            "MethodNotAllowed",
            "the server does not allow this method on the requested resource",
            json!({}),
        ),
    )
}

fn not_acceptable() -> Reply {
    reply(406, status(406, "NotAcceptable", "only JSON is served", json!({})))
}

fn reply(code: u16, body: Value) -> Reply {
    Reply { code, content_type: "application/json", body }
}

fn full(bytes: Vec<u8>) -> Body {
    Full::new(Bytes::from(bytes)).boxed()
}

async fn handle(shared: Arc<Shared>, req: Request<Incoming>) -> Response<Body> {
    let fault = lock(&shared.state).fault;
    match fault {
        Fault::Hang => std::future::pending::<()>().await,
        Fault::Error500 => {
            let body = serde_json::to_vec(&status(
                500,
                "InternalError",
                "an error on the server (\"injected\") has prevented the request from succeeding",
                json!({}),
            ))
            .unwrap_or_default();
            return build(
                Response::builder().status(500).header("content-type", "application/json"),
                full(body),
            );
        }
        Fault::NotFoundPages if !req.uri().path().contains("/selfsubject") => {
            return build(
                Response::builder().status(404).header("content-type", "text/html"),
                full(b"<html><body><h1>404 Not Found</h1><p>nginx</p></body></html>".to_vec()),
            );
        }
        Fault::None | Fault::MuteWatches | Fault::NotFoundPages => {}
    }
    let method = req.method().as_str().to_owned();
    let path = req.uri().path().to_owned();
    let query = req.uri().query().unwrap_or_default().to_owned();
    let header = |name: &str| {
        req.headers().get(name).and_then(|v| v.to_str().ok()).unwrap_or_default().to_owned()
    };
    let accept = header("accept");
    let content_type_in = header("content-type");
    let user_agent = header("user-agent");
    let token = header("authorization").strip_prefix("Bearer ").map(str::to_owned);
    let body = req.into_body().collect().await.map(|b| b.to_bytes().to_vec()).unwrap_or_default();

    let user = {
        let state = lock(&shared.state);
        token.and_then(|t| state.users.iter().find(|u| u.token == t).cloned())
    };
    let record = Record {
        user: user.as_ref().map_or("system:anonymous".into(), |u| u.name.clone()),
        user_agent,
        method: method.clone(),
        path: path.clone(),
        query: query.clone(),
        accept: accept.clone(),
        content_type: content_type_in.clone(),
        status: 0,
        body: Arc::new(Mutex::new(Vec::new())),
    };
    let sink = record.body.clone();
    let index = {
        let mut state = lock(&shared.state);
        state.records.push(record);
        state.records.len() - 1
    };
    let set_status = |code: u16| {
        if let Some(r) = lock(&shared.state).records.get_mut(index) {
            r.status = code;
        }
    };

    let Some(user) = user.filter(|u| !u.expired) else {
        set_status(401);
        let bytes = serde_json::to_vec(&json!({"kind": "Status", "apiVersion": "v1", "metadata": {}, "status": "Failure", "message": "Unauthorized", "reason": "Unauthorized", "code": 401})).unwrap_or_default();
        lock(&sink).extend_from_slice(&bytes);
        return build(
            Response::builder().status(401).header("content-type", "application/json"),
            full(bytes),
        );
    };

    let segments: Vec<&str> = path.split('/').filter(|s| !s.is_empty()).collect();
    if method == "GET" && segments == ["openapi", "v2"] {
        // kubectl 1.20 validates against this; it only reads protobuf, and a Content-Type
        // with '@' in it (the real one) trips its media type parser, so octet-stream it is.
        set_status(200);
        return build(
            Response::builder().status(200).header("content-type", "application/octet-stream"),
            full(openapi_v2()),
        );
    }
    let is_watch = matches!(query_param(&query, "watch").as_deref(), Some("1" | "true"));
    if method == "GET" && is_watch {
        let (namespace, resource) = match segments.as_slice() {
            ["api", "v1", "namespaces", ns, "secrets"] => (Some(ns.to_string()), "secrets"),
            ["api", "v1", "secrets"] => (None, "secrets"),
            ["apis", "external-secrets.io", version, "namespaces", ns, "externalsecrets"]
                if lock(&shared.state).eso_versions.iter().any(|v| v == version) =>
            {
                (Some(ns.to_string()), "externalsecrets")
            }
            _ => {
                set_status(405);
                let bytes = serde_json::to_vec(&status(
                    405,
                    "MethodNotAllowed",
                    "watch is only supported on secrets and externalsecrets here",
                    json!({}),
                ))
                .unwrap_or_default();
                return build(Response::builder().status(405), full(bytes));
            }
        };
        if let Some(denied) = authorize(&user, "watch", resource, namespace.as_deref(), None) {
            set_status(403);
            let bytes = serde_json::to_vec(&denied).unwrap_or_default();
            lock(&sink).extend_from_slice(&bytes);
            return build(
                Response::builder().status(403).header("content-type", "application/json"),
                full(bytes),
            );
        }
        let Some(repr) = negotiate(&accept, &query) else {
            set_status(406);
            return build(Response::builder().status(406), full(Vec::new()));
        };
        set_status(200);
        return watch(shared.clone(), namespace, resource, repr, &query, sink);
    }

    // kubectl sends typed objects as protobuf; decode the few kinds served here into JSON.
    let (body, content_type_in) =
        if content_type_in.starts_with("application/vnd.kubernetes.protobuf") && method != "DELETE"
        {
            match protobuf::decode(&body) {
                Some(object) => {
                    (serde_json::to_vec(&object).unwrap_or_default(), "application/json".to_owned())
                }
                None => (body, content_type_in),
            }
        } else if content_type_in.is_empty() {
            // kubectl 1.20's `create secret`/`create namespace` send JSON with no Content-Type; the
            // real API server takes that as JSON.
            (body, "application/json".to_owned())
        } else {
            (body, content_type_in)
        };
    let result = if !body.is_empty()
        && method != "DELETE"
        && !(content_type_in.contains("json") || content_type_in.contains("yaml"))
    {
        reply(
            415,
            status(
                415,
                "UnsupportedMediaType",
                &format!(
                    "the body of the request was in an unknown format - accepted media types include: application/json, application/yaml, application/apply-patch+yaml, application/merge-patch+json, application/strategic-merge-patch+json; got {content_type_in}"
                ),
                json!({}),
            ),
        )
    } else {
        route(&shared, &user, &method, &segments, &query, &accept, &content_type_in, &body)
    };
    set_status(result.code);
    let bytes = serde_json::to_vec(&result.body).unwrap_or_default();
    lock(&sink).extend_from_slice(&bytes);
    build(
        Response::builder().status(result.code).header("content-type", result.content_type),
        full(bytes),
    )
}

/// `None` when allowed, else the 403 Status.
fn authorize(
    user: &User,
    verb: &str,
    resource: &str,
    namespace: Option<&str>,
    name: Option<&str>,
) -> Option<Value> {
    let allowed = user.rules.iter().any(|rule| {
        let verb_ok = rule.verbs.iter().any(|v| v == "*" || v == verb);
        let resource_ok = rule.resources.iter().any(|r| r == "*" || r == resource);
        let scope_ok = match (&rule.namespace, namespace) {
            (None, _) => true,
            (Some(allowed), Some(ns)) => allowed == ns,
            (Some(_), None) => false,
        };
        verb_ok && resource_ok && scope_ok
    });
    if allowed {
        return None;
    }
    let subject = match name {
        Some(name) => format!("{resource} \"{name}\""),
        None => resource.to_owned(),
    };
    let scope = match namespace {
        Some(ns) => format!("in the namespace \"{ns}\""),
        None => "at the cluster scope".to_owned(),
    };
    let message = format!(
        "{subject} is forbidden: User \"{}\" cannot {verb} resource \"{resource}\" in API group \"\" {scope}",
        user.name
    );
    let mut details = json!({"kind": resource});
    if let Some(name) = name {
        details.set(&["name"], Value::String(name.to_owned()));
    }
    Some(status(403, "Forbidden", &message, details))
}

fn discovery_core() -> Value {
    let resource = |name: &str, kind: &str, namespaced: bool, verbs: &[&str], short: &[&str]| json!({"name": name, "singularName": kind.to_lowercase(), "namespaced": namespaced, "kind": kind, "verbs": verbs, "shortNames": short});
    json!({
        "kind": "APIResourceList",
        "groupVersion": "v1",
        "resources": [
            resource("namespaces", "Namespace", false, &["create", "delete", "get", "list", "patch", "update", "watch"], &["ns"]),
            resource("secrets", "Secret", true, &["create", "delete", "deletecollection", "get", "list", "patch", "update", "watch"], &[]),
        ]
    })
}

/// The OpenAPI v2 document kubectl 1.20 validates `apply` and `create -f` against, as the
/// protobuf (gnostic `openapi_v2.Document`) it insists on: ObjectMeta, Secret and Namespace,
/// with their group-version-kind extensions. Hand-encoded: every field used is
/// length-delimited.
fn openapi_v2() -> Vec<u8> {
    fn ld(field: u64, bytes: &[u8]) -> Vec<u8> {
        let mut out = Vec::new();
        let mut varint = |mut v: u64| loop {
            let byte = (v & 0x7f) as u8;
            v >>= 7;
            if v == 0 {
                out.push(byte);
                break;
            }
            out.push(byte | 0x80);
        };
        varint(field << 3 | 2);
        varint(bytes.len() as u64);
        out.extend_from_slice(bytes);
        out
    }
    #[derive(Default)]
    struct Schema<'a> {
        kind: Option<&'a str>,
        reference: Option<String>,
        format: Option<&'a str>,
        properties: Option<Vec<(&'a str, Vec<u8>)>>,
        items: Option<Vec<u8>>,
        values: Option<Vec<u8>>,
        gvk: Option<&'a str>,
    }
    fn schema(s: Schema<'_>) -> Vec<u8> {
        let mut out = Vec::new();
        if let Some(r) = &s.reference {
            out.extend(ld(1, r.as_bytes()));
        }
        if let Some(f) = s.format {
            out.extend(ld(2, f.as_bytes()));
        }
        if let Some(v) = &s.values {
            out.extend(ld(21, &ld(1, v)));
        }
        if let Some(k) = s.kind {
            out.extend(ld(22, &ld(1, k.as_bytes())));
        }
        if let Some(i) = &s.items {
            out.extend(ld(23, &ld(1, i)));
        }
        if let Some(props) = &s.properties {
            let named: Vec<u8> = props
                .iter()
                .flat_map(|(name, value)| ld(1, &[ld(1, name.as_bytes()), ld(2, value)].concat()))
                .collect();
            out.extend(ld(25, &named));
        }
        if let Some(kind) = s.gvk {
            let yaml = format!("- group: \"\"\n  kind: {kind}\n  version: v1\n");
            let any = ld(2, yaml.as_bytes());
            out.extend(ld(31, &[ld(1, b"x-kubernetes-group-version-kind"), ld(2, &any)].concat()));
        }
        out
    }
    let string = || schema(Schema { kind: Some("string"), ..Schema::default() });
    let map = |values: Vec<u8>| {
        schema(Schema { kind: Some("object"), values: Some(values), ..Schema::default() })
    };
    let meta_name = "io.k8s.apimachinery.pkg.apis.meta.v1.ObjectMeta";
    let meta_ref = || {
        schema(Schema {
            reference: Some(format!("#/definitions/{meta_name}")),
            ..Schema::default()
        })
    };
    let meta = schema(Schema {
        kind: Some("object"),
        properties: Some(vec![
            ("name", string()),
            ("namespace", string()),
            ("generateName", string()),
            ("uid", string()),
            ("resourceVersion", string()),
            (
                "creationTimestamp",
                schema(Schema {
                    kind: Some("string"),
                    format: Some("date-time"),
                    ..Schema::default()
                }),
            ),
            ("labels", map(string())),
            ("annotations", map(string())),
            (
                "managedFields",
                schema(Schema {
                    kind: Some("array"),
                    items: Some(map(Vec::new())),
                    ..Schema::default()
                }),
            ),
        ]),
        ..Schema::default()
    });
    let secret = schema(Schema {
        kind: Some("object"),
        properties: Some(vec![
            ("apiVersion", string()),
            ("kind", string()),
            ("metadata", meta_ref()),
            (
                "data",
                map(schema(Schema {
                    kind: Some("string"),
                    format: Some("byte"),
                    ..Schema::default()
                })),
            ),
            ("stringData", map(string())),
            ("type", string()),
            ("immutable", schema(Schema { kind: Some("boolean"), ..Schema::default() })),
        ]),
        gvk: Some("Secret"),
        ..Schema::default()
    });
    let namespace = schema(Schema {
        kind: Some("object"),
        properties: Some(vec![
            ("apiVersion", string()),
            ("kind", string()),
            ("metadata", meta_ref()),
            (
                "spec",
                schema(Schema {
                    kind: Some("object"),
                    properties: Some(vec![(
                        "finalizers",
                        schema(Schema {
                            kind: Some("array"),
                            items: Some(string()),
                            ..Schema::default()
                        }),
                    )]),
                    ..Schema::default()
                }),
            ),
            (
                "status",
                schema(Schema {
                    kind: Some("object"),
                    properties: Some(vec![("phase", string())]),
                    ..Schema::default()
                }),
            ),
        ]),
        gvk: Some("Namespace"),
        ..Schema::default()
    });
    let definitions: Vec<u8> = [
        (meta_name, meta),
        ("io.k8s.api.core.v1.Secret", secret),
        ("io.k8s.api.core.v1.Namespace", namespace),
    ]
    .iter()
    .flat_map(|(name, value)| ld(1, &[ld(1, name.as_bytes()), ld(2, value)].concat()))
    .collect();
    [ld(1, b"2.0"), ld(2, &[ld(1, b"Kubernetes"), ld(2, b"v1.32.0")].concat()), ld(9, &definitions)]
        .concat()
}

fn openapi_core() -> Value {
    let patch = |kind: &str| {
        json!({"patch": {
            "x-kubernetes-group-version-kind": {"group": "", "version": "v1", "kind": kind},
            "parameters": [
                {"name": "fieldValidation", "in": "query", "schema": {"type": "string"}},
                {"name": "fieldManager", "in": "query", "schema": {"type": "string"}},
                {"name": "force", "in": "query", "schema": {"type": "boolean"}},
            ],
            "responses": {"200": {"description": "OK"}},
        }})
    };
    json!({
        "openapi": "3.0.0",
        "info": {"title": "Kubernetes", "version": "v1.32.0"},
        "paths": {
            "/api/v1/namespaces/{namespace}/secrets/{name}": patch("Secret"),
            "/api/v1/namespaces/{name}": patch("Namespace"),
        },
        "components": {"schemas": {}},
    })
}

fn discovery_group(group: &str, resources: &[(&str, &str)]) -> Value {
    json!({
        "kind": "APIResourceList",
        "apiVersion": "v1",
        "groupVersion": format!("{group}/v1"),
        "resources": resources.iter().map(|(name, kind)| json!({"name": name, "singularName": "", "namespaced": false, "kind": kind, "verbs": ["create"]})).collect::<Vec<_>>(),
    })
}

#[allow(clippy::too_many_arguments)]
fn route(
    shared: &Shared,
    user: &User,
    method: &str,
    segments: &[&str],
    query: &str,
    accept: &str,
    content_type: &str,
    body: &[u8],
) -> Reply {
    match (method, segments) {
        ("GET", ["version"]) => reply(
            200,
            json!({"major": "1", "minor": "32", "gitVersion": "v1.32.0-greenlight-test", "platform": "linux/amd64"}),
        ),
        ("GET", ["api"]) => reply(
            200,
            json!({"kind": "APIVersions", "versions": ["v1"], "serverAddressByClientCIDRs": [{"clientCIDR": "0.0.0.0/0", "serverAddress": "127.0.0.1"}]}),
        ),
        ("GET", ["apis"]) => {
            let mut groups = vec![
                json!({"name": "authorization.k8s.io", "versions": [{"groupVersion": "authorization.k8s.io/v1", "version": "v1"}], "preferredVersion": {"groupVersion": "authorization.k8s.io/v1", "version": "v1"}}),
                json!({"name": "authentication.k8s.io", "versions": [{"groupVersion": "authentication.k8s.io/v1", "version": "v1"}], "preferredVersion": {"groupVersion": "authentication.k8s.io/v1", "version": "v1"}}),
            ];
            let versions = lock(&shared.state).eso_versions.clone();
            if let Some(first) = versions.first() {
                let list: Vec<Value> = versions.iter().map(|v| json!({"groupVersion": format!("external-secrets.io/{v}"), "version": v})).collect();
                groups.push(json!({"name": "external-secrets.io", "versions": list, "preferredVersion": {"groupVersion": format!("external-secrets.io/{first}"), "version": first}}));
            }
            reply(200, json!({"kind": "APIGroupList", "apiVersion": "v1", "groups": groups}))
        }
        (_, ["apis", "external-secrets.io", version, rest @ ..]) => {
            eso(shared, user, method, version, rest, query, accept, content_type, body)
        }
        ("GET", ["api", "v1", "namespaces", ns, "events"]) => events(shared, user, ns, query),
        ("GET", ["api", "v1"]) => reply(200, discovery_core()),
        // kubectl apply asks OpenAPI v3 whether the server validates fields itself
        // (`fieldValidation`); saying yes spares it client-side schema validation.
        ("GET", ["openapi", "v3"]) => reply(
            200,
            json!({"paths": {"api/v1": {"serverRelativeURL": "/openapi/v3/api/v1?hash=greenlight-test"}}}),
        ),
        ("GET", ["openapi", "v3", "api", "v1"]) => reply(200, openapi_core()),
        ("GET", ["apis", "authorization.k8s.io", "v1"]) => reply(
            200,
            discovery_group(
                "authorization.k8s.io",
                &[("selfsubjectaccessreviews", "SelfSubjectAccessReview")],
            ),
        ),
        ("GET", ["apis", "authentication.k8s.io", "v1"]) => reply(
            200,
            discovery_group(
                "authentication.k8s.io",
                &[("selfsubjectreviews", "SelfSubjectReview")],
            ),
        ),
        ("POST", ["apis", "authorization.k8s.io", "v1", "selfsubjectaccessreviews"]) => {
            let mut review: Value = serde_json::from_slice(body).unwrap_or(json!({}));
            let attrs = review.at(&["spec", "resourceAttributes"]).clone();
            let verb = attrs.at(&["verb"]).as_str().unwrap_or_default();
            let resource = attrs.at(&["resource"]).as_str().unwrap_or_default();
            let namespace = attrs.at(&["namespace"]).as_str().filter(|n| !n.is_empty());
            let name = attrs.at(&["name"]).as_str().filter(|n| !n.is_empty());
            let allowed = authorize(user, verb, resource, namespace, name).is_none();
            review.set(&["status"], json!({"allowed": allowed}));
            reply(201, review)
        }
        ("POST", ["apis", "authentication.k8s.io", "v1", "selfsubjectreviews"]) => reply(
            201,
            json!({"kind": "SelfSubjectReview", "apiVersion": "authentication.k8s.io/v1", "metadata": {}, "status": {"userInfo": {"username": user.name, "groups": ["system:authenticated"]}}}),
        ),
        (_, ["api", "v1", "namespaces"]) | (_, ["api", "v1", "namespaces", _]) => {
            namespaces(shared, user, method, segments, query, accept, body)
        }
        (_, ["api", "v1", "namespaces", ns, "secrets", rest @ ..]) => secrets(
            shared,
            user,
            method,
            Some(ns),
            rest.first().copied(),
            query,
            accept,
            content_type,
            body,
        ),
        ("GET", ["api", "v1", "secrets"]) => {
            secrets(shared, user, method, None, None, query, accept, content_type, body)
        }
        _ => reply(
            404,
            status(404, "NotFound", "the server could not find the requested resource", json!({})),
        ),
    }
}

fn eso_discovery(version: &str) -> Value {
    let resource = |name: &str, kind: &str, namespaced: bool, short: &str| json!({"name": name, "singularName": kind.to_lowercase(), "namespaced": namespaced, "kind": kind, "verbs": ["delete", "get", "list", "patch", "update", "watch"], "shortNames": [short], "categories": ["external-secrets"]});
    json!({
        "kind": "APIResourceList", "apiVersion": "v1",
        "groupVersion": format!("external-secrets.io/{version}"),
        "resources": [
            resource("externalsecrets", "ExternalSecret", true, "es"),
            resource("secretstores", "SecretStore", true, "ss"),
            resource("clustersecretstores", "ClusterSecretStore", false, "css"),
        ],
    })
}

/// The External Secrets API: discovery, get and list (full or Table), and merge patches
/// (what `kubectl annotate` sends).
#[allow(clippy::too_many_arguments)]
fn eso(
    shared: &Shared,
    user: &User,
    method: &str,
    version: &str,
    rest: &[&str],
    query: &str,
    accept: &str,
    media: &str,
    body: &[u8],
) -> Reply {
    let not_found = |message: &str, kind: &str| {
        reply(404, status(404, "NotFound", message, json!({"kind": kind})))
    };
    if !lock(&shared.state).eso_versions.iter().any(|v| v == version) {
        return not_found("the server could not find the requested resource", "");
    }
    let (plural, namespace, name) = match rest {
        [] if method == "GET" => return reply(200, eso_discovery(version)),
        [plural] => (*plural, "", None),
        [plural, name] => (*plural, "", Some(*name)),
        ["namespaces", ns, plural] => (*plural, *ns, None),
        ["namespaces", ns, plural, name] => (*plural, *ns, Some(*name)),
        _ => return not_found("the server could not find the requested resource", ""),
    };
    let Some(verb) = verb(method, name.is_some(), &["get", "list", "patch"]) else {
        return reply(405, status(405, "MethodNotAllowed", "not served here", json!({})));
    };
    let scope = (!namespace.is_empty()).then_some(namespace);
    if let Some(denied) = authorize(user, verb, plural, scope, name) {
        return reply(403, denied);
    }
    let Some(repr) = negotiate(accept, query) else {
        return not_acceptable();
    };
    let kind = match plural {
        "externalsecrets" => "ExternalSecret",
        "secretstores" => "SecretStore",
        "clustersecretstores" => "ClusterSecretStore",
        _ => return not_found("the server could not find the requested resource", ""),
    };
    let mut state = lock(&shared.state);
    let key = |name: &str| (plural.to_owned(), namespace.to_owned(), name.to_owned());
    let missing = || {
        not_found(
            &format!("{plural}.external-secrets.io \"{}\" not found", name.unwrap_or_default()),
            plural,
        )
    };
    match verb {
        "get" => match state.custom.get(&key(name.unwrap_or_default())) {
            Some(object) => Reply {
                code: 200,
                content_type: content_type(repr),
                body: render_one(object, repr),
            },
            None => missing(),
        },
        "list" => {
            let all: Vec<&Value> = state
                .custom
                .iter()
                .filter(|((p, ns, _), _)| p == plural && (namespace.is_empty() || ns == namespace))
                .map(|(_, v)| v)
                .collect();
            Reply {
                code: 200,
                content_type: content_type(repr),
                body: render_list(kind, state.rv, &all, repr),
            }
        }
        _ => {
            if !media.contains("merge-patch") {
                return reply(
                    415,
                    status(
                        415,
                        "UnsupportedMediaType",
                        "only merge patches are served for custom resources",
                        json!({}),
                    ),
                );
            }
            let Ok(patch) = serde_json::from_slice::<Value>(body) else {
                return reply(400, status(400, "BadRequest", "invalid JSON", json!({})));
            };
            let Some(current) = state.custom.get(&key(name.unwrap_or_default())).cloned() else {
                return missing();
            };
            let mut object = current.clone();
            merge(&mut object, &patch);
            let object = stamp(&mut state, object, Some(&current));
            publish(shared, &mut state, "MODIFIED", namespace, object.clone());
            state.custom.insert(key(name.unwrap_or_default()), object.clone());
            reply(200, object)
        }
    }
}

/// core/v1 Events in a namespace, filtered by the field selector (involvedObject.kind,
/// involvedObject.name, type), as JSON.
fn events(shared: &Shared, user: &User, namespace: &str, query: &str) -> Reply {
    if let Some(denied) = authorize(user, "list", "events", Some(namespace), None) {
        return reply(403, denied);
    }
    let selector = query_param(query, "fieldSelector").unwrap_or_default();
    let wanted: Vec<(&str, &str)> =
        selector.split(',').filter_map(|kv| kv.split_once('=')).collect();
    let field = |event: &Value, path: &str| -> String {
        path.split('.').fold(event, |v, p| &v[p]).as_str().unwrap_or_default().to_owned()
    };
    let state = lock(&shared.state);
    let items: Vec<&Value> = state
        .core_events
        .iter()
        .filter(|e| e.at(&["metadata", "namespace"]) == namespace)
        .filter(|e| wanted.iter().all(|(k, v)| field(e, k) == *v))
        .collect();
    reply(
        200,
        json!({"kind": "EventList", "apiVersion": "v1", "metadata": {"resourceVersion": state.rv.to_string()}, "items": items}),
    )
}

fn namespaces(
    shared: &Shared,
    user: &User,
    method: &str,
    segments: &[&str],
    query: &str,
    accept: &str,
    body: &[u8],
) -> Reply {
    let name = segments.get(3).copied();
    let Some(verb) = verb(method, name.is_some(), &["get", "list", "create", "delete"]) else {
        return method_not_allowed();
    };
    if let Some(denied) = authorize(user, verb, "namespaces", name, name) {
        return reply(403, denied);
    }
    let Some(repr) = negotiate(accept, query) else {
        return not_acceptable();
    };
    let mut state = lock(&shared.state);
    match verb {
        "get" => match state.namespaces.get(name.unwrap_or_default()) {
            Some(ns) => {
                Reply { code: 200, content_type: content_type(repr), body: render_one(ns, repr) }
            }
            None => reply(
                404,
                status(
                    404,
                    "NotFound",
                    &format!("namespaces \"{}\" not found", name.unwrap_or_default()),
                    json!({"name": name, "kind": "namespaces"}),
                ),
            ),
        },
        "list" => {
            let all: Vec<&Value> = state.namespaces.values().collect();
            let rv = state.rv;
            Reply {
                code: 200,
                content_type: content_type(repr),
                body: render_list("Namespace", rv, &all, repr),
            }
        }
        "create" => {
            let object: Value = serde_json::from_slice(body).unwrap_or(json!({}));
            let Some(new) = object.at(&["metadata", "name"]).as_str().map(str::to_owned) else {
                return reply(
                    422,
                    status(422, "Invalid", "metadata.name: Required value", json!({})),
                );
            };
            if state.namespaces.contains_key(&new) {
                return reply(
                    409,
                    status(
                        409,
                        "AlreadyExists",
                        &format!("namespaces \"{new}\" already exists"),
                        json!({"name": new, "kind": "namespaces"}),
                    ),
                );
            }
            let object = json!({"apiVersion": "v1", "kind": "Namespace", "metadata": {"name": new}, "spec": {"finalizers": ["kubernetes"]}, "status": {"phase": "Active"}});
            let object = stamp(&mut state, object, None);
            state.namespaces.insert(new, object.clone());
            reply(201, object)
        }
        _ => {
            let gone = state.namespaces.remove(name.unwrap_or_default());
            match gone {
                Some(ns) => reply(200, ns),
                None => reply(
                    404,
                    status(
                        404,
                        "NotFound",
                        &format!("namespaces \"{}\" not found", name.unwrap_or_default()),
                        json!({}),
                    ),
                ),
            }
        }
    }
}

fn valid_name(name: &str) -> bool {
    !name.is_empty()
        && name.len() <= 253
        && name.split('.').all(|part| {
            !part.is_empty()
                && part.chars().all(|c| c.is_ascii_lowercase() || c.is_ascii_digit() || c == '-')
                && !part.starts_with('-')
                && !part.ends_with('-')
        })
}

/// Turns `stringData` into base64 `data`, defaults the type, keeps only Secret fields.
fn normalize_secret(mut object: Value, namespace: &str) -> Value {
    let mut data = object.at(&["data"]).as_object().cloned().unwrap_or_default();
    if let Some(strings) = object.at(&["stringData"]).as_object() {
        for (k, v) in strings {
            data.insert(
                k.clone(),
                Value::String(
                    base64::engine::general_purpose::STANDARD
                        .encode(v.as_str().unwrap_or_default()),
                ),
            );
        }
    }
    let mut metadata = serde_json::Map::new();
    metadata.insert("name".into(), object.at(&["metadata", "name"]).clone());
    metadata.insert("namespace".into(), Value::String(namespace.to_owned()));
    for field in ["labels", "annotations"] {
        if let Some(v) = object.at(&["metadata"]).get(field).filter(|v| !v.is_null()) {
            metadata.insert(field.into(), v.clone());
        }
    }
    let kind =
        object.at(&["type"]).as_str().filter(|t| !t.is_empty()).unwrap_or("Opaque").to_owned();
    object = json!({"apiVersion": "v1", "kind": "Secret", "metadata": metadata, "type": kind});
    if !data.is_empty() {
        object.set(&["data"], Value::Object(data));
    }
    object
}

/// Records who manages which data keys, as the real server's managedFields do (names only).
fn manage(object: &mut Value, manager: &str, operation: &str) {
    let keys: serde_json::Map<String, Value> = object["data"]
        .as_object()
        .map(|d| d.keys().map(|k| (format!("f:{k}"), json!({}))).collect())
        .unwrap_or_default();
    object.set(
        &["metadata", "managedFields"],
        json!([{
            "manager": manager,
            "operation": operation,
            "apiVersion": "v1",
            "time": now_rfc3339(),
            "fieldsType": "FieldsV1",
            "fieldsV1": {"f:data": keys, "f:type": {}},
        }]),
    );
}

/// RFC 7386 merge patch (also used for strategic merge patches, equivalent for Secrets).
fn merge(target: &mut Value, patch: &Value) {
    match (target, patch) {
        (Value::Object(target), Value::Object(patch)) => {
            for (k, v) in patch {
                if v.is_null() {
                    target.remove(k);
                } else {
                    merge(target.entry(k.clone()).or_insert(Value::Null), v);
                }
            }
        }
        (target, patch) => *target = patch.clone(),
    }
}

#[allow(clippy::too_many_arguments)]
fn secrets(
    shared: &Shared,
    user: &User,
    method: &str,
    namespace: Option<&str>,
    name: Option<&str>,
    query: &str,
    accept: &str,
    content_type_in: &str,
    body: &[u8],
) -> Reply {
    let Some(verb) =
        verb(method, name.is_some(), &["get", "list", "create", "update", "patch", "delete"])
    else {
        return method_not_allowed();
    };
    if let Some(denied) = authorize(user, verb, "secrets", namespace, name) {
        return reply(403, denied);
    }
    let Some(repr) = negotiate(accept, query) else {
        return not_acceptable();
    };
    let mut state = lock(&shared.state);
    let ns = namespace.unwrap_or_default().to_owned();
    let not_found = |name: &str| {
        reply(
            404,
            status(
                404,
                "NotFound",
                &format!("secrets \"{name}\" not found"),
                json!({"name": name, "kind": "secrets"}),
            ),
        )
    };
    let manager = query_param(query, "fieldManager").unwrap_or_else(|| "kubectl".to_owned());
    match verb {
        "get" => match state.secrets.get(&(ns.clone(), name.unwrap_or_default().to_owned())) {
            Some(secret) => Reply {
                code: 200,
                content_type: content_type(repr),
                body: render_one(secret, repr),
            },
            None => not_found(name.unwrap_or_default()),
        },
        "list" => {
            let wanted_name = query_param(query, "fieldSelector")
                .and_then(|s| s.strip_prefix("metadata.name=").map(str::to_owned));
            let labels = query_param(query, "labelSelector").unwrap_or_default();
            let wanted_labels: Vec<(&str, &str)> =
                labels.split(',').filter_map(|kv| kv.split_once('=')).collect();
            let all: Vec<&Value> = state
                .secrets
                .iter()
                .filter(|((n, s), _)| {
                    namespace.is_none_or(|ns| ns == n)
                        && wanted_name.as_ref().is_none_or(|w| w == s)
                })
                .filter(|(_, v)| {
                    wanted_labels.iter().all(|(k, want)| v.at(&["metadata", "labels", *k]) == *want)
                })
                .map(|(_, v)| v)
                .collect();
            Reply {
                code: 200,
                content_type: content_type(repr),
                body: render_list("Secret", state.rv, &all, repr),
            }
        }
        "create" => {
            let object: Value = match serde_json::from_slice(body) {
                Ok(v) => v,
                Err(e) => {
                    return reply(
                        400,
                        status(400, "BadRequest", &format!("invalid JSON: {e}"), json!({})),
                    );
                }
            };
            let new = object.at(&["metadata", "name"]).as_str().unwrap_or_default().to_owned();
            if !valid_name(&new) {
                return reply(
                    422,
                    status(
                        422,
                        "Invalid",
                        &format!(
                            "Secret \"{new}\" is invalid: metadata.name: Invalid value: \"{new}\": a lowercase RFC 1123 subdomain must consist of lower case alphanumeric characters, '-' or '.'"
                        ),
                        json!({"name": new, "kind": "Secret"}),
                    ),
                );
            }
            if !state.namespaces.contains_key(&ns) {
                return reply(
                    404,
                    status(
                        404,
                        "NotFound",
                        &format!("namespaces \"{ns}\" not found"),
                        json!({"name": ns, "kind": "namespaces"}),
                    ),
                );
            }
            if state.secrets.contains_key(&(ns.clone(), new.clone())) {
                return reply(
                    409,
                    status(
                        409,
                        "AlreadyExists",
                        &format!("secrets \"{new}\" already exists"),
                        json!({"name": new, "kind": "secrets"}),
                    ),
                );
            }
            let mut object = normalize_secret(object, &ns);
            manage(&mut object, &manager, "Update");
            let object = stamp(&mut state, object, None);
            state.secrets.insert((ns.clone(), new), object.clone());
            let shared_events = &shared.events;
            let event =
                Event { rv: state.rv, kind: "ADDED", namespace: ns, object: object.clone() };
            state.events.push(event.clone());
            shared_events.send(event).ok();
            reply(201, object)
        }
        "update" | "patch" => {
            let key = (ns.clone(), name.unwrap_or_default().to_owned());
            let existing = state.secrets.get(&key).cloned();
            let (object, created) = if verb == "update" {
                let Some(existing) = existing else { return not_found(&key.1) };
                let object: Value = serde_json::from_slice(body).unwrap_or(json!({}));
                let mut object = normalize_secret(object, &ns);
                manage(&mut object, &manager, "Update");
                (stamp(&mut state, object, Some(&existing)), false)
            } else if content_type_in.starts_with("application/apply-patch") {
                let applied: Value = match serde_saphyr::from_slice(body) {
                    Ok(v) => v,
                    Err(e) => {
                        return reply(
                            400,
                            status(
                                400,
                                "BadRequest",
                                &format!("invalid apply patch: {e}"),
                                json!({}),
                            ),
                        );
                    }
                };
                let applied = normalize_secret(applied, &ns);
                let mut object = existing.clone().unwrap_or_else(|| json!({"apiVersion": "v1", "kind": "Secret", "metadata": {"name": key.1, "namespace": ns}}));
                merge(&mut object, &applied);
                manage(&mut object, &manager, "Apply");
                (stamp(&mut state, object, existing.as_ref()), existing.is_none())
            } else if content_type_in.starts_with("application/merge-patch")
                || content_type_in.starts_with("application/strategic-merge-patch")
            {
                let Some(mut object) = existing.clone() else { return not_found(&key.1) };
                let patch: Value = serde_json::from_slice(body).unwrap_or(json!({}));
                merge(&mut object, &patch);
                let mut object = normalize_secret(object, &ns);
                manage(&mut object, &manager, "Update");
                (stamp(&mut state, object, existing.as_ref()), false)
            } else {
                return reply(
                    415,
                    status(
                        415,
                        "UnsupportedMediaType",
                        &format!(
                            "the body of the request was in an unknown format: {content_type_in}"
                        ),
                        json!({}),
                    ),
                );
            };
            state.secrets.insert(key, object.clone());
            let event = Event {
                rv: state.rv,
                kind: if created { "ADDED" } else { "MODIFIED" },
                namespace: ns,
                object: object.clone(),
            };
            state.events.push(event.clone());
            shared.events.send(event).ok();
            reply(if created { 201 } else { 200 }, object)
        }
        _ => {
            let key = (ns.clone(), name.unwrap_or_default().to_owned());
            match state.secrets.remove(&key) {
                Some(mut object) => {
                    state.rv += 1;
                    object
                        .set(&["metadata", "resourceVersion"], Value::String(state.rv.to_string()));
                    let event = Event {
                        rv: state.rv,
                        kind: "DELETED",
                        namespace: ns,
                        object: object.clone(),
                    };
                    state.events.push(event.clone());
                    shared.events.send(event).ok();
                    reply(
                        200,
                        json!({"kind": "Status", "apiVersion": "v1", "metadata": {}, "status": "Success", "details": {"name": key.1, "kind": "secrets", "uid": object.at(&["metadata", "uid"])}}),
                    )
                }
                None => not_found(&key.1),
            }
        }
    }
}

fn watch_line(kind: &str, object: Value) -> Vec<u8> {
    let mut line = serde_json::to_vec(&json!({"type": kind, "object": object})).unwrap_or_default();
    line.push(b'\n');
    line
}

fn watch(
    shared: Arc<Shared>,
    namespace: Option<String>,
    resource: &'static str,
    repr: Repr,
    query: &str,
    sink: Arc<Mutex<Vec<u8>>>,
) -> Response<Body> {
    let (tx, rx) = mpsc::channel::<Vec<u8>>(256);
    let from: Option<u64> =
        query_param(query, "resourceVersion").and_then(|v| v.parse().ok()).filter(|v| *v > 0);
    let bookmarks =
        matches!(query_param(query, "allowWatchBookmarks").as_deref(), Some("true" | "1"));
    let timeout = query_param(query, "timeoutSeconds")
        .and_then(|v| v.parse().ok())
        .map(Duration::from_secs)
        .unwrap_or(Duration::from_secs(1800));
    let kind = if resource == "secrets" { "Secret" } else { "ExternalSecret" };
    let matches = move |event: &Event| {
        namespace.as_deref().is_none_or(|ns| ns == event.namespace)
            && event.object.at(&["kind"]).as_str() == Some(kind)
    };
    let mut end = shared.end_watches.subscribe();
    let render = move |event: &Event| {
        let object = match repr {
            Repr::Table(include) => table(kind, event.rv, &[&event.object], include),
            other => render_one(&event.object, other),
        };
        watch_line(event.kind, object)
    };
    tokio::spawn(async move {
        let _open = OpenWatch::new(shared.clone());
        while lock(&shared.state).watches_paused {
            tokio::time::sleep(Duration::from_millis(10)).await;
        }
        let (backlog, mut live, gone, every, rv_now) = {
            let state = lock(&shared.state);
            let live = shared.events.subscribe();
            let gone = from.is_some_and(|rv| rv < state.compacted);
            let backlog: Vec<Event> = match from {
                Some(rv) => {
                    state.events.iter().filter(|e| e.rv > rv && matches(e)).cloned().collect()
                }
                None => state
                    .secrets
                    .values()
                    .chain(
                        state
                            .custom
                            .iter()
                            .filter(|((plural, _, _), _)| plural == resource)
                            .map(|(_, o)| o),
                    )
                    .map(|o| Event {
                        rv: 0,
                        kind: "ADDED",
                        namespace: o
                            .at(&["metadata", "namespace"])
                            .as_str()
                            .unwrap_or_default()
                            .to_owned(),
                        object: o.clone(),
                    })
                    .filter(|e| matches(e))
                    .collect(),
            };
            (backlog, live, gone, state.bookmark_every, state.rv)
        };
        let muted = || lock(&shared.state).fault == Fault::MuteWatches;
        let send = |bytes: Vec<u8>| {
            let muted = muted();
            if !muted {
                lock(&sink).extend_from_slice(&bytes);
            }
            let tx = tx.clone();
            async move { if muted { Ok(()) } else { tx.send(bytes).await } }
        };
        if gone {
            let expired = status(
                410,
                "Expired",
                &format!("too old resource version: {} ({})", from.unwrap_or(0), rv_now),
                json!({}),
            );
            send(watch_line("ERROR", expired)).await.ok();
            return;
        }
        let mut last = from.unwrap_or(rv_now);
        for event in &backlog {
            last = last.max(event.rv);
            if send(render(event)).await.is_err() {
                return;
            }
        }
        let deadline = tokio::time::Instant::now() + timeout;
        let mut ticker = tokio::time::interval(every);
        ticker.tick().await;
        loop {
            tokio::select! {
                event = live.recv() => match event {
                    Ok(event) if event.rv > last && matches(&event) => {
                        last = event.rv;
                        if send(render(&event)).await.is_err() { return; }
                    }
                    Ok(_) => {}
                    Err(broadcast::error::RecvError::Lagged(_)) => return,
                    Err(broadcast::error::RecvError::Closed) => return,
                },
                _ = ticker.tick(), if bookmarks => {
                    let rv = last.max(lock(&shared.state).rv);
                    last = rv;
                    let object = json!({"kind": kind, "apiVersion": "v1", "metadata": {"resourceVersion": rv.to_string(), "annotations": {"k8s.io/initial-events-end": "true"}}});
                    if send(watch_line("BOOKMARK", object)).await.is_err() { return; }
                }
                _ = tokio::time::sleep_until(deadline) => return,
                _ = end.recv() => return,
                _ = tx.closed() => return,
            }
        }
    });
    let stream = futures::stream::unfold(rx, |mut rx| async move {
        rx.recv().await.map(|bytes| (Ok::<_, Infallible>(Frame::data(Bytes::from(bytes))), rx))
    });
    build(
        Response::builder().status(200).header("content-type", content_type(repr)),
        StreamBody::new(stream).boxed(),
    )
}

/// Just enough of Kubernetes' protobuf encoding to read the Secrets and Namespaces kubectl
/// creates: the `k8s\0` envelope (runtime.Unknown) and the fields of ObjectMeta and Secret.
mod protobuf {
    use base64::Engine;
    use serde_json::{Map, Value, json};

    use super::JsonPath;

    struct Reader<'a> {
        bytes: &'a [u8],
        at: usize,
    }

    impl<'a> Reader<'a> {
        fn varint(&mut self) -> Option<u64> {
            let mut value = 0u64;
            for shift in (0..64).step_by(7) {
                let byte = *self.bytes.get(self.at)?;
                self.at += 1;
                value |= u64::from(byte & 0x7f) << shift;
                if byte & 0x80 == 0 {
                    return Some(value);
                }
            }
            None
        }

        /// The next field: number and, for length-delimited ones, the payload.
        fn field(&mut self) -> Option<(u64, Option<&'a [u8]>)> {
            if self.at >= self.bytes.len() {
                return None;
            }
            let key = self.varint()?;
            let payload = match key & 7 {
                0 => {
                    self.varint()?;
                    None
                }
                1 => {
                    self.at += 8;
                    None
                }
                2 => {
                    let len = usize::try_from(self.varint()?).ok()?;
                    let slice = self.bytes.get(self.at..self.at + len)?;
                    self.at += len;
                    Some(slice)
                }
                5 => {
                    self.at += 4;
                    None
                }
                _ => return None,
            };
            Some((key >> 3, payload))
        }
    }

    fn fields(bytes: &[u8]) -> Vec<(u64, &[u8])> {
        let mut reader = Reader { bytes, at: 0 };
        let mut out = Vec::new();
        while let Some((number, payload)) = reader.field() {
            if let Some(payload) = payload {
                out.push((number, payload));
            }
        }
        out
    }

    fn text(bytes: &[u8]) -> Value {
        Value::String(String::from_utf8_lossy(bytes).into_owned())
    }

    fn map_entry(bytes: &[u8]) -> (String, Vec<u8>) {
        let mut key = String::new();
        let mut value = Vec::new();
        for (number, payload) in fields(bytes) {
            match number {
                1 => key = String::from_utf8_lossy(payload).into_owned(),
                2 => value = payload.to_vec(),
                _ => {}
            }
        }
        (key, value)
    }

    fn object_meta(bytes: &[u8]) -> Value {
        let mut meta = Map::new();
        let mut labels = Map::new();
        let mut annotations = Map::new();
        for (number, payload) in fields(bytes) {
            match number {
                1 => {
                    meta.insert("name".into(), text(payload));
                }
                3 => {
                    meta.insert("namespace".into(), text(payload));
                }
                11 => {
                    let (k, v) = map_entry(payload);
                    labels.insert(k, text(&v));
                }
                12 => {
                    let (k, v) = map_entry(payload);
                    annotations.insert(k, text(&v));
                }
                _ => {}
            }
        }
        if !labels.is_empty() {
            meta.insert("labels".into(), Value::Object(labels));
        }
        if !annotations.is_empty() {
            meta.insert("annotations".into(), Value::Object(annotations));
        }
        Value::Object(meta)
    }

    /// The JSON form of an enveloped Secret or Namespace, or `None` for anything else.
    pub fn decode(bytes: &[u8]) -> Option<Value> {
        let unknown = bytes.strip_prefix(b"k8s\0")?;
        let (mut kind, mut raw) = (String::new(), &[][..]);
        for (number, payload) in fields(unknown) {
            match number {
                1 => {
                    for (n, p) in fields(payload) {
                        if n == 2 {
                            kind = String::from_utf8_lossy(p).into_owned();
                        }
                    }
                }
                2 => raw = payload,
                _ => {}
            }
        }
        let mut object = json!({"apiVersion": "v1", "kind": kind});
        let mut data = Map::new();
        let mut string_data = Map::new();
        for (number, payload) in fields(raw) {
            match (kind.as_str(), number) {
                (_, 1) => object.set(&["metadata"], object_meta(payload)),
                ("Secret", 2) => {
                    let (k, v) = map_entry(payload);
                    data.insert(
                        k,
                        Value::String(base64::engine::general_purpose::STANDARD.encode(v)),
                    );
                }
                ("Secret", 3) => object.set(&["type"], text(payload)),
                ("Secret", 4) => {
                    let (k, v) = map_entry(payload);
                    string_data.insert(k, text(&v));
                }
                _ => {}
            }
        }
        match kind.as_str() {
            "Secret" => {
                object.set(&["data"], Value::Object(data));
                if !string_data.is_empty() {
                    object.set(&["stringData"], Value::Object(string_data));
                }
            }
            "Namespace" | "SelfSubjectReview" => {}
            "SelfSubjectAccessReview" => {
                object.set(&["apiVersion"], json!("authorization.k8s.io/v1"));
                let mut attributes = Map::new();
                for (number, spec) in fields(raw) {
                    if number != 2 {
                        continue;
                    }
                    for (n, resource) in fields(spec) {
                        if n != 1 {
                            continue;
                        }
                        for (field, value) in fields(resource) {
                            let name = match field {
                                1 => "namespace",
                                2 => "verb",
                                3 => "group",
                                4 => "version",
                                5 => "resource",
                                6 => "subresource",
                                7 => "name",
                                _ => continue,
                            };
                            attributes.insert(name.into(), text(value));
                        }
                    }
                }
                object.set(&["spec"], json!({"resourceAttributes": attributes}));
            }
            _ => return None,
        }
        Some(object)
    }
}
