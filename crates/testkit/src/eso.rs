//! The suite's External Secrets stand-in: the API server's reconciler
//! ([`greenlight_apiserver::Reconciler`], which `greenlight demo` runs too) with more
//! providers: moto's Secrets Manager (reading values is its job, never Greenlight's) and the
//! fake Secret Manager, Doppler, Vault and Key Vault, each with its provider's error words.

use std::sync::Arc;
use std::time::Duration;

use futures::future::BoxFuture;
use greenlight_apiserver::{Fetch, Reconciler};
use serde_json::{Value, json};

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
    _reconciler: Reconciler,
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
        Self { _reconciler: Reconciler::start(server, Arc::new(sources), refresh, retry) }
    }

    /// Starts syncing from `sources` every `every` (and at once on Sync now), and returns once
    /// every ExternalSecret on `server` has been reconciled.
    pub async fn running(server: ServerHandle, sources: Sources, every: Duration) -> Self {
        let stand_in = Self::start_with(server.clone(), sources, every, every);
        Self::settled(&server).await;
        stand_in
    }

    /// Waits until every ExternalSecret on `server` has been reconciled once.
    pub async fn settled(server: &ServerHandle) {
        for _ in 0..300 {
            if Reconciler::settled(server) {
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

impl Fetch for Sources {
    fn fetch<'a>(
        &'a self,
        provider: &'a Value,
        es: &'a Value,
    ) -> BoxFuture<'a, Result<Vec<(String, String)>, String>> {
        Box::pin(async move {
            if provider["aws"].is_null() {
                fetch_fake(self, provider, es)
            } else {
                fetch_aws(self, provider, es).await
            }
        })
    }
}

/// Values from moto's Secrets Manager, with its error words.
async fn fetch_aws(
    sources: &Sources,
    provider: &Value,
    es: &Value,
) -> Result<Vec<(String, String)>, String> {
    let prefix = greenlight_apiserver::entry_prefix;
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
        let prefix = greenlight_apiserver::entry_prefix(i, &key);
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
