//! A small Kubernetes API server: just enough of the real API conventions for Greenlight and
//! a real `kubectl` to work against it, over TLS with bearer-token users. `greenlight demo`
//! runs it in the process as a sandbox cluster, and the test suite runs against it (no
//! kube-apiserver can be installed on the development machines).
//!
//! It serves discovery, `/version`, namespaces, Secrets (create, get, list, watch, update,
//! patch including server-side apply, delete) with content negotiation for Table
//! (`includeObject`), PartialObjectMetadata and full objects, resource versions, watch
//! bookmarks and 410 Gone, RBAC-shaped 403 Status bodies, SelfSubjectAccessReview and
//! SelfSubjectReview, and the External Secrets API. A server starts with no users: each one
//! is added with its own token.
//!
//! | module | owns |
//! |---|---|
//! | `serve` | connections (TLS, timeouts, back-off on accept errors) and the front door: token first, body limit |
//! | `route` | which handler answers, RBAC, discovery, access reviews |
//! | `secrets`, `namespaces`, `eso` | the resources |
//! | `watch` | watches with history, bookmarks and 410 Gone |
//! | `reply` | content negotiation, Tables, Status bodies |
//! | `protobuf` | the OpenAPI documents kubectl reads and the protobuf objects it sends |
//! | `state` | users, objects, history (compacted) |
//! | `reconcile` | a small External Secrets reconciler (the Kubernetes provider, others given) |
//! | `machinery` | with the `test-machinery` feature only: records, faults, expiry, pauses |

mod eso;
mod json;
#[cfg(feature = "test-machinery")]
mod machinery;
mod namespaces;
mod protobuf;
mod reconcile;
mod reply;
mod route;
mod secrets;
mod serve;
mod state;
mod tap;
mod tls;
mod watch;

use std::net::SocketAddr;
use std::sync::{Arc, Mutex};

use base64::Engine;
use serde_json::{Value, json};
use tokio::net::TcpListener;
use tokio::task::JoinHandle;
use tokio_rustls::TlsAcceptor;

pub use eso::GROUP as ESO_GROUP;
use json::JsonPath;
#[cfg(feature = "test-machinery")]
pub use machinery::{Fault, Record};
pub use reconcile::{Fetch, KubernetesOnly, Reconciler, entry_prefix, source_namespace};
pub use state::{Rule, User};
use state::{Shared, lock, publish, stamp};

/// A running API server. Dropping it stops it.
pub struct ApiServer {
    shared: Arc<Shared>,
    addr: SocketAddr,
    acceptor: TlsAcceptor,
    accepting: Mutex<Option<JoinHandle<()>>>,
}

/// The token of the `admin` user [`ApiServer::with_admin`] adds (tests and the example only).
pub const ADMIN_TOKEN: &str = "admin-token";

impl ApiServer {
    /// Starts on a free loopback port with the `default` namespace and no users.
    pub async fn start() -> Result<Self, String> {
        Self::start_on(0).await
    }

    /// Starts on loopback `port` (0 for a free one), with no users.
    pub async fn start_on(port: u16) -> Result<Self, String> {
        let (ca_pem, config) = tls::tls()?;
        let listener = TcpListener::bind(("127.0.0.1", port))
            .await
            .map_err(|e| format!("cannot listen on 127.0.0.1:{port}: {e}"))?;
        let addr = listener.local_addr().map_err(|e| format!("cannot listen on loopback: {e}"))?;
        let server = Self {
            shared: Shared::new(ca_pem),
            addr,
            acceptor: TlsAcceptor::from(Arc::new(config)),
            accepting: Mutex::new(None),
        };
        server.create_namespace("default");
        server.listen(listener);
        Ok(server)
    }

    /// Adds the `admin` user (token [`ADMIN_TOKEN`]), who may do everything: for tests and
    /// the test server example, never for the sandbox.
    pub fn with_admin(self) -> Self {
        self.add_user("admin", ADMIN_TOKEN, vec![Rule::admin()]);
        self
    }

    fn listen(&self, listener: TcpListener) {
        let task =
            tokio::spawn(serve::accept(self.shared.clone(), self.acceptor.clone(), listener));
        if let Some(old) = lock(&self.accepting).replace(task) {
            old.abort();
        }
    }

    /// Stops listening and drops every open connection (watches end abruptly).
    pub fn stop(&self) {
        if let Some(task) = lock(&self.accepting).take() {
            task.abort();
        }
    }

    /// Its address, e.g. `https://127.0.0.1:40123`.
    pub fn url(&self) -> String {
        format!("https://{}", self.addr)
    }

    /// Its port.
    pub fn port(&self) -> u16 {
        self.addr.port()
    }

    /// Its CA certificate, PEM.
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

    /// One kubeconfig reaching several servers: a context, cluster and user per
    /// `(server, context, token)`, named after the context, as kubeconfigs merged from several
    /// clusters are. The first context is the current one.
    pub fn merged_kubeconfig(servers: &[(&ApiServer, &str, &str)]) -> String {
        let current = servers.first().map_or("none", |s| s.1);
        let mut clusters = String::new();
        let mut contexts = String::new();
        let mut users = String::new();
        for (server, context, token) in servers {
            let ca = base64::engine::general_purpose::STANDARD.encode(&server.shared.ca_pem);
            clusters.push_str(&format!("- name: {context}-cluster\n  cluster:\n    server: {}\n    certificate-authority-data: {ca}\n", server.url()));
            contexts.push_str(&format!("- name: {context}\n  context:\n    cluster: {context}-cluster\n    user: {context}-user\n    namespace: default\n"));
            users.push_str(&format!("- name: {context}-user\n  user:\n    token: {token}\n"));
        }
        format!(
            "apiVersion: v1\nkind: Config\ncurrent-context: {current}\nclusters:\n{clusters}contexts:\n{contexts}users:\n{users}"
        )
    }

    /// Adds a user known by `token`, who may do what `rules` say.
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

    /// Creates a namespace (no-op when it exists).
    pub fn create_namespace(&self, name: &str) {
        namespaces::create(&mut lock(&self.shared.state), name);
    }

    /// A handle other tasks (an External Secrets reconciler) can keep.
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
        let data: Vec<(String, String)> =
            data.iter().map(|(k, v)| ((*k).to_owned(), (*v).to_owned())).collect();
        let object = secrets::with_data(namespace, name, &data);
        let mut state = lock(&self.shared.state);
        let existed = state.secrets.contains_key(&(namespace.to_owned(), name.to_owned()));
        let object = stamp(&mut state, object, None);
        let kind = if existed { "MODIFIED" } else { "ADDED" };
        publish(&self.shared, &mut state, kind, namespace, object.clone());
        state.secrets.insert((namespace.to_owned(), name.to_owned()), object);
    }

    /// Deletes a Secret, as another client would.
    pub fn delete_secret(&self, namespace: &str, name: &str) {
        let mut state = lock(&self.shared.state);
        if let Some(mut object) = state.secrets.remove(&(namespace.to_owned(), name.to_owned())) {
            state.rv += 1;
            object.set(&["metadata", "resourceVersion"], Value::String(state.rv.to_string()));
            publish(&self.shared, &mut state, "DELETED", namespace, object);
        }
    }

    /// The stored Secret, values included (tests seed and check it).
    pub fn secret(&self, namespace: &str, name: &str) -> Option<Value> {
        self.handle().secret(namespace, name)
    }
}

impl Drop for ApiServer {
    fn drop(&mut self) {
        self.stop();
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

    /// Records a core/v1 Event about an object, as a controller's event recorder does (the
    /// newest 1,000 are kept).
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
            "lastTimestamp": state::now_rfc3339(), "count": 1,
            "source": {"component": "external-secrets"},
        });
        state.core_events.push(event);
        if state.core_events.len() > 1000 {
            state.core_events.remove(0);
        }
    }

    /// Writes a Secret as a controller does, with `labels` (no change, no new version).
    pub fn write_secret(
        &self,
        namespace: &str,
        name: &str,
        data: &[(String, String)],
        labels: Value,
    ) {
        let mut object = secrets::with_data(namespace, name, data);
        object.set(&["metadata", "labels"], labels);
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
        let kind = if previous.is_some() { "MODIFIED" } else { "ADDED" };
        publish(&self.0, &mut state, kind, namespace, object.clone());
        state.secrets.insert(key, object);
    }

    /// The stored Secret, values included.
    pub fn secret(&self, namespace: &str, name: &str) -> Option<Value> {
        lock(&self.0.state).secrets.get(&(namespace.to_owned(), name.to_owned())).cloned()
    }
}
