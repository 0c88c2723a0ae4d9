//! The sandbox: the project's Kubernetes API server (`greenlight-apiserver`) run inside
//! Greenlight's own process, for trying the whole journey without a cluster (`greenlight
//! demo`). It lives on loopback only, with a certificate made at start and a random token,
//! and keeps everything in memory: nothing outlives the process but the kubeconfig file,
//! which is removed when the sandbox stops.

use std::path::{Path, PathBuf};

use std::sync::Arc;
use std::time::Duration;

use greenlight_apiserver::{ApiServer, KubernetesOnly, Reconciler, Rule};
use serde_json::{Value, json};

use crate::backends::{BackendKind, Fields};
use crate::spec::{SecretSpec, StoreKind};

/// The kubeconfig context name of the sandbox, which every command shown for it carries.
pub const CONTEXT: &str = "greenlight-sandbox";

/// The sandbox namespace that stands in for every backend of a spec with delivered values:
/// one Secret per value, read by the External Secrets Kubernetes provider.
pub const VALUES_NAMESPACE: &str = "greenlight-values";

/// A running sandbox cluster and the kubeconfig that reaches it.
pub struct Sandbox {
    server: ApiServer,
    kubeconfig: PathBuf,
    /// For a spec with delivered values: External Secrets, played in the sandbox.
    _reconciler: Option<Reconciler>,
    /// The backends the values namespace stands in for.
    stands_in_for: Vec<&'static str>,
}

impl Sandbox {
    /// Starts a sandbox on a free loopback port with the namespaces `spec` uses, and writes a
    /// kubeconfig for it (context [`CONTEXT`]) into `dir`. Call inside a tokio runtime.
    pub async fn start(spec: &SecretSpec, dir: &Path) -> Result<Self, String> {
        let server = ApiServer::start().await?;
        let token = random_token()?;
        server.add_user("sandbox-operator", &token, vec![Rule::admin()]);
        for namespace in namespaces(spec) {
            server.create_namespace(&namespace);
        }
        let reconciler = spec.delivery.is_some().then(|| play_external_secrets(&server, spec));
        create_private_dir(dir)?;
        remove_stale(dir);
        let kubeconfig = dir.join(format!("sandbox-{}.kubeconfig", std::process::id()));
        write_private(&kubeconfig, &server.kubeconfig(&[(CONTEXT, &token)]))?;
        let mut stands_in_for: Vec<&'static str> = spec
            .entries
            .iter()
            .filter_map(|e| Some(e.delivered.as_ref()?.source.title()))
            .collect();
        stands_in_for.sort_unstable();
        stands_in_for.dedup();
        Ok(Self { server, kubeconfig, _reconciler: reconciler, stands_in_for })
    }

    /// The kubeconfig file for it.
    pub fn kubeconfig(&self) -> &Path {
        &self.kubeconfig
    }

    /// The running server (the benchmarks seed it and set its latency).
    pub fn server(&self) -> &ApiServer {
        &self.server
    }

    /// Its address, e.g. `https://127.0.0.1:40123`.
    pub fn url(&self) -> String {
        self.server.url()
    }

    /// One line saying what this is, for the window and the terminal.
    pub fn label(&self) -> String {
        let delivery = if self.stands_in_for.is_empty() {
            String::new()
        } else {
            format!(
                " Values are kept in its namespace {VALUES_NAMESPACE}, standing in for {}, and Greenlight plays External Secrets (Sync now works).",
                self.stands_in_for.join(" and ")
            )
        };
        format!(
            "Sandbox cluster at {}, running inside this Greenlight: nothing here touches a real cluster, and it is gone when Greenlight closes.{delivery} kubeconfig: {}",
            self.url(),
            self.kubeconfig.display()
        )
    }
}

impl Drop for Sandbox {
    fn drop(&mut self) {
        std::fs::remove_file(&self.kubeconfig).ok();
    }
}

/// The name a backend key gets in the values namespace: a Secret name (lowercase letters,
/// digits and `-`), e.g. `platform/litellm-master-key` -> `platform-litellm-master-key`.
pub fn value_secret(key: &str) -> String {
    let mapped: String = key
        .chars()
        .map(|c| if c.is_ascii_alphanumeric() { c.to_ascii_lowercase() } else { '-' })
        .collect();
    let trimmed = mapped.trim_matches('-');
    let name: String = trimmed.chars().take(253).collect();
    if name.is_empty() { "value".to_owned() } else { name }
}

/// The spec as the sandbox serves it: every delivered value kept in [`VALUES_NAMESPACE`]
/// (ESO's Kubernetes provider) instead of its backend, so its commands, its detection and
/// Sync now all work without a cloud account. Targets, the store and plain secrets are as
/// the spec says.
pub fn stand_in(spec: &mut SecretSpec) {
    let fields = Fields([("namespace".to_owned(), VALUES_NAMESPACE.to_owned())].into());
    let backend = BackendKind::Kubernetes.backend();
    for entry in &mut spec.entries {
        if let Some(delivered) = &mut entry.delivered {
            delivered.source = backend.place(&fields, &value_secret(delivered.source.key()));
        }
    }
}

/// Installs External Secrets in `server`: the spec's store reading [`VALUES_NAMESPACE`], the
/// ExternalSecrets its targets name (as the deployment's manifests would make them), and a
/// reconciler that syncs them as ESO does (every hour, or at once on Sync now).
fn play_external_secrets(server: &ApiServer, spec: &SecretSpec) -> Reconciler {
    let manifests = spec.delivery.as_ref().and_then(|d| d.api_version.clone());
    let version = manifests.unwrap_or_else(|| "v1".to_owned());
    let mut served = vec!["v1"];
    if version != "v1" {
        served.push(version.as_str());
    }
    server.install_eso(&served);
    server.create_namespace(VALUES_NAMESPACE);
    let provider =
        json!({"kubernetes": {"remoteNamespace": VALUES_NAMESPACE, "server": {}, "auth": {}}});
    if let Some(delivery) = &spec.delivery {
        let store = &delivery.store;
        let targets =
            spec.entries.iter().filter_map(|e| e.delivered.as_ref()).flat_map(|d| &d.targets);
        let scopes: std::collections::BTreeSet<Option<&str>> = match store.kind {
            StoreKind::ClusterSecretStore => [None].into(),
            StoreKind::SecretStore => targets.map(|t| Some(t.namespace.as_str())).collect(),
        };
        for scope in scopes {
            let metadata = match scope {
                Some(ns) => json!({"name": store.name, "namespace": ns}),
                None => json!({"name": store.name}),
            };
            let object = json!({
                "apiVersion": format!("external-secrets.io/{version}"), "kind": store.kind.as_str(),
                "metadata": metadata, "spec": {"provider": provider},
            });
            server.put_custom(store.kind.plural(), object);
        }
        for object in external_secrets(spec, &version) {
            server.put_custom("externalsecrets", object);
        }
    }
    let retry = Duration::from_secs(5);
    Reconciler::start(server.handle(), Arc::new(KubernetesOnly), Duration::from_secs(3600), retry)
}

/// The ExternalSecrets the spec's targets name, each filling its keys from the values'
/// Secrets in [`VALUES_NAMESPACE`].
fn external_secrets(spec: &SecretSpec, version: &str) -> Vec<Value> {
    let Some(delivery) = &spec.delivery else { return Vec::new() };
    let mut made: Vec<((String, String), Value)> = Vec::new();
    for delivered in spec.entries.iter().filter_map(|e| e.delivered.as_ref()) {
        let remote = value_secret(delivered.source.key());
        for t in &delivered.targets {
            let at = (t.namespace.clone(), t.external_secret.clone());
            let index = match made.iter().position(|(k, _)| *k == at) {
                Some(index) => index,
                None => {
                    made.push((at, json!({
                        "apiVersion": format!("external-secrets.io/{version}"), "kind": "ExternalSecret",
                        "metadata": {"name": t.external_secret, "namespace": t.namespace},
                        "spec": {
                            "refreshInterval": "1h",
                            "secretStoreRef": {"kind": delivery.store.kind.as_str(), "name": delivery.store.name},
                            "target": {"name": t.secret, "creationPolicy": "Owner"},
                            "data": [],
                        },
                    })));
                    made.len() - 1
                }
            };
            if let Some((_, object)) = made.get_mut(index)
                && let Some(data) = object.pointer_mut("/spec/data").and_then(Value::as_array_mut)
            {
                for key in &t.fed {
                    data.push(json!({"secretKey": key, "remoteRef": {"key": remote, "property": "value"}}));
                }
            }
        }
    }
    made.into_iter().map(|(_, object)| object).collect()
}

/// Where the sandbox's kubeconfig goes: the user's runtime directory, else their cache.
pub fn default_dir() -> PathBuf {
    let runtime = std::env::var_os("XDG_RUNTIME_DIR").filter(|d| !d.is_empty());
    match runtime {
        Some(dir) => PathBuf::from(dir).join("greenlight"),
        None => std::env::var_os("HOME")
            .filter(|h| !h.is_empty())
            .map(|h| PathBuf::from(h).join(".cache/greenlight/sandbox"))
            .unwrap_or_else(|| std::env::temp_dir().join("greenlight-sandbox")),
    }
}

/// Every namespace the spec places something in, so the create commands work as shown.
fn namespaces(spec: &SecretSpec) -> Vec<String> {
    let mut names: Vec<String> = Vec::new();
    for entry in &spec.entries {
        let mut add = |ns: &str| {
            if !names.iter().any(|n| n == ns) {
                names.push(ns.to_owned());
            }
        };
        if let Some(k) = &entry.kubernetes {
            add(&k.namespace);
        }
        if let Some(d) = &entry.delivered {
            if let crate::backends::Asked::Cluster(k) = d.source.asked() {
                add(&k.namespace);
            }
            for t in &d.targets {
                add(&t.namespace);
            }
        }
    }
    names
}

/// Removes kubeconfigs of sandboxes whose process is gone (killed before it could tidy up).
fn remove_stale(dir: &Path) {
    let Ok(entries) = std::fs::read_dir(dir) else { return };
    for entry in entries.flatten() {
        let name = entry.file_name().to_string_lossy().into_owned();
        let pid = name.strip_prefix("sandbox-").and_then(|n| n.strip_suffix(".kubeconfig"));
        if let Some(pid) = pid.and_then(|p| p.parse::<u32>().ok())
            && Path::new("/proc").is_dir()
            && !Path::new(&format!("/proc/{pid}")).exists()
        {
            std::fs::remove_file(entry.path()).ok();
        }
    }
}

fn random_token() -> Result<String, String> {
    use ring::rand::SecureRandom;
    let mut bytes = [0u8; 24];
    ring::rand::SystemRandom::new()
        .fill(&mut bytes)
        .map_err(|_| "cannot make a random token for the sandbox".to_owned())?;
    Ok(format!("sandbox-{}", bytes.iter().map(|b| format!("{b:02x}")).collect::<String>()))
}

fn create_private_dir(dir: &Path) -> Result<(), String> {
    std::fs::create_dir_all(dir).map_err(|e| format!("cannot create {}: {e}", dir.display()))?;
    #[cfg(unix)]
    {
        use std::os::unix::fs::PermissionsExt;
        std::fs::set_permissions(dir, std::fs::Permissions::from_mode(0o700))
            .map_err(|e| format!("cannot restrict {}: {e}", dir.display()))?;
    }
    Ok(())
}

/// Writes `text` readable by this user only (it holds the sandbox's token).
fn write_private(path: &Path, text: &str) -> Result<(), String> {
    use std::io::Write;
    let mut options = std::fs::OpenOptions::new();
    options.write(true).create(true).truncate(true);
    #[cfg(unix)]
    {
        use std::os::unix::fs::OpenOptionsExt;
        options.mode(0o600);
    }
    let mut file =
        options.open(path).map_err(|e| format!("cannot write {}: {e}", path.display()))?;
    file.write_all(text.as_bytes()).map_err(|e| format!("cannot write {}: {e}", path.display()))
}
