//! The sandbox: the project's Kubernetes API server (`greenlight-apiserver`) run inside
//! Greenlight's own process, for trying the whole journey without a cluster (`greenlight
//! demo`). It lives on loopback only, with a certificate made at start and a random token,
//! and keeps everything in memory: nothing outlives the process but the kubeconfig file,
//! which is removed when the sandbox stops.

use std::path::{Path, PathBuf};

use greenlight_apiserver::{ApiServer, Rule};

use crate::spec::SecretSpec;

/// The kubeconfig context name of the sandbox, which every command shown for it carries.
pub const CONTEXT: &str = "greenlight-sandbox";

/// A running sandbox cluster and the kubeconfig that reaches it.
pub struct Sandbox {
    server: ApiServer,
    kubeconfig: PathBuf,
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
        create_private_dir(dir)?;
        remove_stale(dir);
        let kubeconfig = dir.join(format!("sandbox-{}.kubeconfig", std::process::id()));
        write_private(&kubeconfig, &server.kubeconfig(&[(CONTEXT, &token)]))?;
        Ok(Self { server, kubeconfig })
    }

    /// The kubeconfig file for it.
    pub fn kubeconfig(&self) -> &Path {
        &self.kubeconfig
    }

    /// Its address, e.g. `https://127.0.0.1:40123`.
    pub fn url(&self) -> String {
        self.server.url()
    }

    /// One line saying what this is, for the window and the terminal.
    pub fn label(&self) -> String {
        format!(
            "Sandbox cluster at {}, running inside this Greenlight: nothing here touches a real cluster, and it is gone when Greenlight closes. kubeconfig: {}",
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
