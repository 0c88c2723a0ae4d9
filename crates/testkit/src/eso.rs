//! A small stand-in for the External Secrets Operator: it reads ExternalSecrets from the test
//! API server, fetches their values from moto's Secrets Manager (reading values is its job,
//! never Greenlight's), writes the target Secrets with ESO's managed label, and keeps each
//! ExternalSecret's Ready condition and Warning Events as ESO does, with the same words.
//!
//! It syncs an ExternalSecret when it first sees it, when its spec, labels or annotations
//! change (a `force-sync` annotation), and then every `refresh`; after a failure it retries
//! after `retry`, as ESO's requeue does.

use std::collections::HashMap;
use std::time::{Duration, Instant};

use serde_json::{Value, json};
use tokio::task::JoinHandle;

use super::apiserver::ServerHandle;
use super::backends::Held;

/// Where the stand-in reads values: moto (AWS stores) and the fake Secret Manager, Doppler
/// and Vault (gcpsm, doppler and vault stores).
#[derive(Clone, Default)]
pub struct Sources {
    pub moto: Option<String>,
    pub fakes: Option<std::sync::Arc<std::sync::Mutex<Held>>>,
}

/// The running stand-in; dropping it stops it.
pub struct EsoStandIn {
    task: JoinHandle<()>,
}

impl Drop for EsoStandIn {
    fn drop(&mut self) {
        self.task.abort();
    }
}

impl EsoStandIn {
    /// Starts syncing from the moto at `endpoint`.
    pub fn start(
        server: ServerHandle,
        endpoint: String,
        refresh: Duration,
        retry: Duration,
    ) -> Self {
        Self::start_with(server, Sources { moto: Some(endpoint), fakes: None }, refresh, retry)
    }

    /// Starts syncing from `sources`.
    pub fn start_with(
        server: ServerHandle,
        sources: Sources,
        refresh: Duration,
        retry: Duration,
    ) -> Self {
        let task = tokio::spawn(run(server, sources, refresh, retry));
        Self { task }
    }

    /// Waits until every ExternalSecret on `server` has been reconciled once.
    pub async fn settled(server: &ServerHandle) {
        for _ in 0..300 {
            if server
                .customs("externalsecrets")
                .iter()
                .all(|es| !es["status"]["conditions"].is_null())
            {
                return;
            }
            tokio::time::sleep(Duration::from_millis(50)).await;
        }
        panic!("the External Secrets stand-in did not reconcile within 15 s");
    }
}

async fn client(endpoint: &str, region: &str) -> aws_sdk_secretsmanager::Client {
    let credentials = aws_sdk_secretsmanager::config::Credentials::new(
        "testing",
        "testing",
        None,
        None,
        "eso-stand-in",
    );
    let http = aws_smithy_http_client::Builder::new()
        .tls_provider(aws_smithy_http_client::tls::Provider::Rustls(
            aws_smithy_http_client::tls::rustls_provider::CryptoMode::Ring,
        ))
        .build_https();
    let config = aws_sdk_secretsmanager::Config::builder()
        .http_client(http)
        .app_name(aws_sdk_secretsmanager::config::AppName::new("eso-stand-in").unwrap())
        .behavior_version(aws_sdk_secretsmanager::config::BehaviorVersion::latest())
        .region(aws_sdk_secretsmanager::config::Region::new(region.to_owned()))
        .credentials_provider(credentials)
        .endpoint_url(endpoint)
        .build();
    aws_sdk_secretsmanager::Client::from_conf(config)
}

struct Seen {
    fingerprint: String,
    at: Instant,
    ok: bool,
}

async fn run(server: ServerHandle, sources: Sources, refresh: Duration, retry: Duration) {
    let mut seen: HashMap<(String, String), Seen> = HashMap::new();
    loop {
        for plural in ["clustersecretstores", "secretstores"] {
            for store in server.customs(plural) {
                if store["status"].is_null() {
                    let ns = store["metadata"]["namespace"].as_str().unwrap_or_default();
                    let name = store["metadata"]["name"].as_str().unwrap_or_default();
                    server.set_status(plural, ns, name, json!({"capabilities": "ReadWrite", "conditions": [{"type": "Ready", "status": "True", "reason": "Valid", "message": "store validated"}]}));
                }
            }
        }
        for es in server.customs("externalsecrets") {
            let ns = es["metadata"]["namespace"].as_str().unwrap_or_default().to_owned();
            let name = es["metadata"]["name"].as_str().unwrap_or_default().to_owned();
            let fingerprint =
                json!([es["spec"], es["metadata"]["annotations"], es["metadata"]["labels"]])
                    .to_string();
            let due = match seen.get(&(ns.clone(), name.clone())) {
                None => true,
                Some(last) => {
                    last.fingerprint != fingerprint
                        || last.at.elapsed() >= if last.ok { refresh } else { retry }
                }
            };
            if !due {
                continue;
            }
            let ok = sync(&server, &sources, &es, &ns, &name).await;
            seen.insert((ns, name), Seen { fingerprint, at: Instant::now(), ok });
        }
        tokio::time::sleep(Duration::from_millis(100)).await;
    }
}

/// One reconcile; true when synced.
async fn sync(server: &ServerHandle, sources: &Sources, es: &Value, ns: &str, name: &str) -> bool {
    match fetch(server, sources, es, ns).await {
        Ok(data) => {
            let target = es["spec"]["target"]["name"].as_str().unwrap_or(name);
            server.write_secret(
                ns,
                target,
                &data,
                json!({"reconcile.external-secrets.io/managed": "true"}),
            );
            let now = humantime::format_rfc3339_seconds(std::time::SystemTime::now()).to_string();
            server.set_status("externalsecrets", ns, name, json!({
                "binding": {"name": target},
                "refreshTime": now,
                "conditions": [{"type": "Ready", "status": "True", "reason": "SecretSynced", "message": "secret synced"}],
            }));
            true
        }
        Err(message) => {
            let mut status = es["status"].clone();
            if !status.is_object() {
                status = json!({});
            }
            status["conditions"] = json!([{"type": "Ready", "status": "False", "reason": "SecretSyncedError", "message": "could not get secret data from provider"}]);
            server.set_status("externalsecrets", ns, name, status);
            server.record_event(ns, "ExternalSecret", name, "Warning", "UpdateFailed", &message);
            false
        }
    }
}

/// The target's data, or the Warning message ESO would record.
async fn fetch(
    server: &ServerHandle,
    sources: &Sources,
    es: &Value,
    ns: &str,
) -> Result<Vec<(String, String)>, String> {
    let store_ref = &es["spec"]["secretStoreRef"];
    let kind = store_ref["kind"].as_str().unwrap_or("SecretStore");
    let store_name = store_ref["name"].as_str().unwrap_or_default();
    let (plural, store_ns) = if kind == "ClusterSecretStore" {
        ("clustersecretstores", "")
    } else {
        ("secretstores", ns)
    };
    let first_key =
        es["spec"]["data"][0]["remoteRef"]["key"].as_str().unwrap_or_default().to_owned();
    let prefix =
        |i: usize, key: &str| format!("error processing spec.data[{i}] (key: {key}), err: ");
    let Some(store) = server.custom(plural, store_ns, store_name) else {
        return Err(format!(
            "{}could not get {kind} \"{store_name}\", {kind}.external-secrets.io \"{store_name}\" not found",
            prefix(0, &first_key)
        ));
    };
    let ready = store["status"]["conditions"]
        .as_array()
        .and_then(|c| c.iter().find(|c| c["type"] == "Ready"))
        .is_some_and(|c| c["status"] == "True");
    if !ready {
        return Err(format!("{}{kind} \"{store_name}\" is not ready", prefix(0, &first_key)));
    }
    let provider = &store["spec"]["provider"];
    if !provider["kubernetes"].is_null() {
        return fetch_source_namespace(server, provider, es);
    }
    if provider["aws"].is_null() {
        return fetch_fake(sources, provider, es);
    }
    let region = provider["aws"]["region"].as_str().unwrap_or("us-east-1");
    let client = client(sources.moto.as_deref().unwrap_or_default(), region).await;
    let mut data = Vec::new();
    for (i, item) in es["spec"]["data"].as_array().cloned().unwrap_or_default().iter().enumerate() {
        let key = item["remoteRef"]["key"].as_str().unwrap_or_default();
        let secret_key = item["secretKey"].as_str().unwrap_or_default();
        match client.get_secret_value().secret_id(key).send().await {
            Ok(answer) => data.push((
                secret_key.to_owned(),
                answer.secret_string().unwrap_or_default().to_owned(),
            )),
            Err(error) => {
                let text = aws_sdk_secretsmanager::error::DisplayErrorContext(&error).to_string();
                return Err(if text.contains("ResourceNotFoundException") {
                    format!("{}Secret does not exist", prefix(i, key))
                } else {
                    format!("{}{text}", prefix(i, key))
                });
            }
        }
    }
    Ok(data)
}

/// Values from Secrets in the Kubernetes provider's `remoteNamespace`, with its error words.
fn fetch_source_namespace(
    server: &ServerHandle,
    provider: &Value,
    es: &Value,
) -> Result<Vec<(String, String)>, String> {
    use base64::Engine;
    let namespace = provider["kubernetes"]["remoteNamespace"].as_str().unwrap_or("default");
    let mut data = Vec::new();
    for (i, item) in es["spec"]["data"].as_array().cloned().unwrap_or_default().iter().enumerate() {
        let key = item["remoteRef"]["key"].as_str().unwrap_or_default();
        let property = item["remoteRef"]["property"].as_str().unwrap_or("value");
        let prefix = format!("error processing spec.data[{i}] (key: {key}), err: ");
        let Some(secret) = server.secret(namespace, key) else {
            return Err(format!("{prefix}secrets \"{key}\" not found"));
        };
        let encoded = secret["data"][property].as_str().ok_or(format!(
            "{prefix}property {property} does not exist in data of secret \"{key}\""
        ))?;
        let value = base64::engine::general_purpose::STANDARD.decode(encoded).unwrap_or_default();
        let secret_key = item["secretKey"].as_str().unwrap_or_default().to_owned();
        data.push((secret_key, String::from_utf8_lossy(&value).into_owned()));
    }
    Ok(data)
}

/// Values from the fake Secret Manager, Doppler or Vault, with those providers' error words.
fn fetch_fake(
    sources: &Sources,
    provider: &Value,
    es: &Value,
) -> Result<Vec<(String, String)>, String> {
    let held = sources.fakes.as_ref().ok_or("no fake backends")?.lock().unwrap();
    let text = |v: &Value| v.as_str().unwrap_or_default().to_owned();
    let mut data = Vec::new();
    for (i, item) in es["spec"]["data"].as_array().cloned().unwrap_or_default().iter().enumerate() {
        let key = text(&item["remoteRef"]["key"]);
        let prefix = format!("error processing spec.data[{i}] (key: {key}), err: ");
        let value = if !provider["gcpsm"].is_null() {
            let project = text(&provider["gcpsm"]["projectID"]);
            held.gcp
                .get(&(project, key.clone()))
                .filter(|(_, state)| state == "ENABLED")
                .map(|(v, _)| v.clone())
                .ok_or(format!("{prefix}unable to access Secret from SecretManager Client: Secret does not exist"))?
        } else if !provider["azurekv"].is_null() {
            // ESO reads `secret/NAME` (or a bare NAME) as a secret; its latest enabled version.
            let name = key.strip_prefix("secret/").unwrap_or(&key).to_owned();
            held.azure
                .get(&name)
                .and_then(|versions| versions.last())
                .filter(|v| v.enabled)
                .map(|v| v.value.clone())
                .ok_or(format!("{prefix}Secret does not exist"))?
        } else if !provider["doppler"].is_null() {
            let scope =
                (text(&provider["doppler"]["project"]), text(&provider["doppler"]["config"]));
            held.doppler
                .get(&scope)
                .and_then(|names| names.get(&key))
                .cloned()
                .ok_or(format!("{prefix}could not get secret {key}: Doppler API Client Error: secret '{key}' not found"))?
        } else {
            let mount = text(&provider["vault"]["path"]);
            let property = item["remoteRef"]["property"].as_str().unwrap_or("value");
            held.vault
                .get(&(mount, key.clone()))
                .and_then(|data| data.get(property))
                .cloned()
                .ok_or(format!("{prefix}Secret does not exist"))?
        };
        data.push((text(&item["secretKey"]), value));
    }
    Ok(data)
}

/// A ClusterSecretStore for `provider` (e.g. `{"gcpsm": {"projectID": "p"}}`).
pub fn cluster_store(name: &str, provider: Value) -> Value {
    json!({
        "apiVersion": "external-secrets.io/v1", "kind": "ClusterSecretStore",
        "metadata": {"name": name},
        "spec": {"provider": provider},
    })
}

/// An ExternalSecret manifest: `data` maps Secret keys to backend keys.
pub fn external_secret(
    ns: &str,
    name: &str,
    store: (&str, &str),
    target: &str,
    data: &[(&str, &str)],
) -> Value {
    json!({
        "apiVersion": "external-secrets.io/v1", "kind": "ExternalSecret",
        "metadata": {"name": name, "namespace": ns},
        "spec": {
            "refreshInterval": "1h",
            "secretStoreRef": {"kind": store.0, "name": store.1},
            "target": {"name": target, "creationPolicy": "Owner"},
            "data": data.iter().map(|(k, r)| json!({"secretKey": k, "remoteRef": {"key": r}})).collect::<Vec<_>>(),
        },
    })
}

/// A ClusterSecretStore for AWS Secrets Manager in `region`.
pub fn aws_cluster_store(name: &str, region: &str) -> Value {
    json!({
        "apiVersion": "external-secrets.io/v1", "kind": "ClusterSecretStore",
        "metadata": {"name": name},
        "spec": {"provider": {"aws": {"service": "SecretsManager", "region": region}}},
    })
}
