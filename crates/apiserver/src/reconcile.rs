//! A small External Secrets reconciler: it reads ExternalSecrets from this server, fetches
//! their values from their store's provider, writes the target Secrets with ESO's managed
//! label, and keeps each ExternalSecret's Ready condition and Warning Events as ESO does,
//! with the same words. It reads the Kubernetes provider (`remoteNamespace`) itself; other
//! providers come from a [`Fetch`] the caller gives (the test suite's moto and loopback
//! backends), or are reported as not available.
//!
//! It syncs an ExternalSecret when it first sees it, when its spec, labels or annotations
//! change (a `force-sync` annotation), and then every `refresh`; after a failure it retries
//! after `retry`, as ESO's requeue does. `greenlight demo` runs it in the sandbox, and the
//! suite's External Secrets stand-in is this loop with more providers.

use std::collections::HashMap;
use std::sync::Arc;
use std::time::{Duration, Instant};

use base64::Engine;
use futures::future::BoxFuture;
use serde_json::{Value, json};
use tokio::task::JoinHandle;

use crate::ServerHandle;
use crate::json::JsonPath;

/// Values of one ExternalSecret from a provider the reconciler does not read itself.
pub trait Fetch: Send + Sync + 'static {
    /// The target's data (`secretKey`, value) for `es` from a store whose provider block is
    /// `provider`, or the Warning message ESO would record.
    fn fetch<'a>(
        &'a self,
        provider: &'a Value,
        es: &'a Value,
    ) -> BoxFuture<'a, Result<Vec<(String, String)>, String>>;
}

/// Only the Kubernetes provider: any other store cannot be read here.
pub struct KubernetesOnly;

impl Fetch for KubernetesOnly {
    fn fetch<'a>(
        &'a self,
        _provider: &'a Value,
        es: &'a Value,
    ) -> BoxFuture<'a, Result<Vec<(String, String)>, String>> {
        let key = es.at(&["spec", "data"]).get(0).map(|d| d.at(&["remoteRef", "key"]).clone());
        let key = key.and_then(|k| k.as_str().map(str::to_owned)).unwrap_or_default();
        Box::pin(async move {
            Err(format!("{}this store's provider is not available here", entry_prefix(0, &key)))
        })
    }
}

/// A running reconciler; dropping it stops it.
pub struct Reconciler {
    task: JoinHandle<()>,
}

impl Drop for Reconciler {
    fn drop(&mut self) {
        self.task.abort();
    }
}

impl Reconciler {
    /// Starts reconciling `server`'s ExternalSecrets. Call inside a tokio runtime.
    pub fn start(
        server: ServerHandle,
        other: Arc<dyn Fetch>,
        refresh: Duration,
        retry: Duration,
    ) -> Self {
        Self { task: tokio::spawn(run(server, other, refresh, retry)) }
    }

    /// Whether every ExternalSecret on `server` has been reconciled once.
    pub fn settled(server: &ServerHandle) -> bool {
        server
            .customs("externalsecrets")
            .iter()
            .all(|es| !es.at(&["status", "conditions"]).is_null())
    }
}

struct Seen {
    fingerprint: String,
    at: Instant,
    ok: bool,
}

fn text(value: &Value, path: &[&str]) -> String {
    value.at(path).as_str().unwrap_or_default().to_owned()
}

async fn run(server: ServerHandle, other: Arc<dyn Fetch>, refresh: Duration, retry: Duration) {
    let mut seen: HashMap<(String, String), Seen> = HashMap::new();
    loop {
        validate_stores(&server);
        for es in server.customs("externalsecrets") {
            let (ns, name) =
                (text(&es, &["metadata", "namespace"]), text(&es, &["metadata", "name"]));
            let fingerprint = json!([
                es.at(&["spec"]),
                es.at(&["metadata", "annotations"]),
                es.at(&["metadata", "labels"])
            ])
            .to_string();
            let due = seen.get(&(ns.clone(), name.clone())).is_none_or(|last| {
                last.fingerprint != fingerprint
                    || last.at.elapsed() >= if last.ok { refresh } else { retry }
            });
            if !due {
                continue;
            }
            let ok = sync(&server, other.as_ref(), &es, &ns, &name).await;
            seen.insert((ns, name), Seen { fingerprint, at: Instant::now(), ok });
        }
        tokio::time::sleep(Duration::from_millis(100)).await;
    }
}

/// Every store without a status is validated, as ESO does on its first reconcile.
fn validate_stores(server: &ServerHandle) {
    for plural in ["clustersecretstores", "secretstores"] {
        for store in server.customs(plural) {
            if store.at(&["status"]).is_null() {
                let (ns, name) =
                    (text(&store, &["metadata", "namespace"]), text(&store, &["metadata", "name"]));
                server.set_status(plural, &ns, &name, json!({"capabilities": "ReadWrite", "conditions": [{"type": "Ready", "status": "True", "reason": "Valid", "message": "store validated"}]}));
            }
        }
    }
}

/// One reconcile; true when synced.
async fn sync(server: &ServerHandle, other: &dyn Fetch, es: &Value, ns: &str, name: &str) -> bool {
    let fetched = match store_provider(server, es, ns) {
        Ok(provider) if !provider.at(&["kubernetes"]).is_null() => {
            source_namespace(server, &provider, es)
        }
        Ok(provider) => other.fetch(&provider, es).await,
        Err(message) => Err(message),
    };
    match fetched {
        Ok(data) => {
            let target = es.at(&["spec", "target", "name"]).as_str().unwrap_or(name).to_owned();
            let labels = json!({"reconcile.external-secrets.io/managed": "true"});
            server.write_secret(ns, &target, &data, labels);
            server.set_status("externalsecrets", ns, name, json!({
                "binding": {"name": target},
                "refreshTime": crate::state::now_rfc3339(),
                "conditions": [{"type": "Ready", "status": "True", "reason": "SecretSynced", "message": "secret synced"}],
            }));
            true
        }
        Err(message) => {
            let mut status = es.at(&["status"]).clone();
            status.set(&["conditions"], json!([{"type": "Ready", "status": "False", "reason": "SecretSyncedError", "message": "could not get secret data from provider"}]));
            server.set_status("externalsecrets", ns, name, status);
            server.record_event(ns, "ExternalSecret", name, "Warning", "UpdateFailed", &message);
            false
        }
    }
}

/// How ESO starts the Warning for a failing `spec.data` entry: `error processing
/// spec.data[I] (key: KEY), err: `.
pub fn entry_prefix(i: usize, key: &str) -> String {
    format!("error processing spec.data[{i}] (key: {key}), err: ")
}

/// The provider block of the store `es` reads through, when it exists and is ready.
fn store_provider(server: &ServerHandle, es: &Value, ns: &str) -> Result<Value, String> {
    let kind = es.at(&["spec", "secretStoreRef", "kind"]).as_str().unwrap_or("SecretStore");
    let store_name = text(es, &["spec", "secretStoreRef", "name"]);
    let (plural, store_ns) = if kind == "ClusterSecretStore" {
        ("clustersecretstores", "")
    } else {
        ("secretstores", ns)
    };
    let first = es.at(&["spec", "data"]).get(0).map(|d| text(d, &["remoteRef", "key"]));
    let prefix = entry_prefix(0, &first.unwrap_or_default());
    let Some(store) = server.custom(plural, store_ns, &store_name) else {
        return Err(format!(
            "{prefix}could not get {kind} \"{store_name}\", {kind}.external-secrets.io \"{store_name}\" not found"
        ));
    };
    let ready = store
        .at(&["status", "conditions"])
        .as_array()
        .and_then(|c| c.iter().find(|c| c.at(&["type"]) == "Ready"))
        .is_some_and(|c| c.at(&["status"]) == "True");
    if !ready {
        return Err(format!("{prefix}{kind} \"{store_name}\" is not ready"));
    }
    Ok(store.at(&["spec", "provider"]).clone())
}

/// Values from Secrets in the Kubernetes provider's `remoteNamespace`, with its error words.
pub fn source_namespace(
    server: &ServerHandle,
    provider: &Value,
    es: &Value,
) -> Result<Vec<(String, String)>, String> {
    let namespace =
        provider.at(&["kubernetes", "remoteNamespace"]).as_str().unwrap_or("default").to_owned();
    let items = es.at(&["spec", "data"]).as_array().cloned().unwrap_or_default();
    let mut data = Vec::new();
    for (i, item) in items.iter().enumerate() {
        let key = text(item, &["remoteRef", "key"]);
        let property = item.at(&["remoteRef", "property"]).as_str().unwrap_or("value").to_owned();
        let prefix = entry_prefix(i, &key);
        let Some(secret) = server.secret(&namespace, &key) else {
            return Err(format!("{prefix}secrets \"{key}\" not found"));
        };
        let encoded = secret.at(&["data", &property]).as_str().ok_or(format!(
            "{prefix}property {property} does not exist in data of secret \"{key}\""
        ))?;
        let value = base64::engine::general_purpose::STANDARD.decode(encoded).unwrap_or_default();
        data.push((text(item, &["secretKey"]), String::from_utf8_lossy(&value).into_owned()));
    }
    Ok(data)
}
