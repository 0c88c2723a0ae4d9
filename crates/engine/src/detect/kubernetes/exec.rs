//! Exec credential plugins (EKS, GKE, OIDC, Azure), run the way kubectl runs them but never
//! interactively: once per connect, as an async child process under a timeout that kills it.
//!
//! A plugin's arguments, environment and output are the operator's credentials. Nothing here
//! renders them: what it printed on stdout is parsed into a [`Credential`] and nothing else
//! is kept, what it printed on stderr is only classified (does it ask for a new login?), and
//! failures name the plugin by its program name alone.

use std::collections::HashMap;
use std::path::{Path, PathBuf};
use std::process::Stdio;
use std::time::{Duration, SystemTime};

use kube::config::{ExecAuthCluster, ExecConfig};
use secrecy::SecretString;
use serde::Deserialize;

/// What a plugin gave: a bearer token or a client certificate, and when it expires.
pub struct Credential {
    /// Bearer token.
    pub token: Option<SecretString>,
    /// PEM client certificate.
    pub client_certificate_data: Option<String>,
    /// PEM client key.
    pub client_key_data: Option<SecretString>,
    /// When the credential stops working, if the plugin said.
    pub expires: Option<SystemTime>,
}

/// Why a plugin gave no credential, in words that name nothing but its program.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
pub enum PluginError {
    /// The program is not installed where Greenlight looks.
    #[error(
        "the credential plugin `{program}` was not found (looked in PATH and the usual install places)"
    )]
    NotFound {
        /// Program name.
        program: String,
    },
    /// It could not be started.
    #[error("the credential plugin `{program}` could not be started ({reason})")]
    Start {
        /// Program name.
        program: String,
        /// The operating system's reason.
        reason: String,
    },
    /// It did not finish in time and was stopped.
    #[error("the credential plugin `{program}` did not finish within {seconds} s and was stopped")]
    TimedOut {
        /// Program name.
        program: String,
        /// The limit.
        seconds: u64,
    },
    /// It exited with an error.
    #[error("the credential plugin `{program}` failed ({status}){}", if *.wants_login { "; it asks for a new login" } else { "" })]
    Failed {
        /// Program name.
        program: String,
        /// How it exited, e.g. `exit status 255`.
        status: String,
        /// Whether what it printed says the login expired or is missing.
        wants_login: bool,
    },
    /// It printed something that is not an ExecCredential with a token or certificate.
    #[error("the credential plugin `{program}` printed no usable credential")]
    BadOutput {
        /// Program name.
        program: String,
    },
}

/// The plugin's program name, the only thing about it that is ever shown.
pub fn program_name(exec: &ExecConfig) -> String {
    exec.command
        .as_deref()
        .and_then(|c| Path::new(c).file_name())
        .map_or_else(|| "exec".to_owned(), |n| n.to_string_lossy().into_owned())
}

/// Directories where credential plugins usually live, searched after PATH, so that plugins
/// work when the app was started from a desktop icon with a minimal environment.
pub fn plugin_path() -> Vec<PathBuf> {
    let mut dirs: Vec<PathBuf> =
        std::env::var_os("PATH").map(|p| std::env::split_paths(&p).collect()).unwrap_or_default();
    let mut extra: Vec<PathBuf> = [
        "/usr/local/bin",
        "/usr/bin",
        "/bin",
        "/opt/homebrew/bin",
        "/opt/local/bin",
        "/snap/bin",
        "/usr/lib/google-cloud-sdk/bin",
        "/usr/local/google-cloud-sdk/bin",
    ]
    .iter()
    .map(PathBuf::from)
    .collect();
    if let Some(home) = std::env::var_os("HOME").map(PathBuf::from) {
        for sub in
            [".local/bin", "bin", "google-cloud-sdk/bin", ".krew/bin", ".azure-kubelogin", "go/bin"]
        {
            extra.push(home.join(sub));
        }
    }
    for dir in extra {
        if dir.is_dir() && !dirs.contains(&dir) {
            dirs.push(dir);
        }
    }
    dirs
}

/// The executable `command` names: a path as given, else the first match on `path`.
fn locate(command: &str, path: &[PathBuf]) -> Option<PathBuf> {
    if command.contains(std::path::MAIN_SEPARATOR) {
        let given = PathBuf::from(command);
        return given.is_file().then_some(given);
    }
    path.iter().map(|dir| dir.join(command)).find(|candidate| is_executable(candidate))
}

fn is_executable(path: &Path) -> bool {
    #[cfg(unix)]
    {
        use std::os::unix::fs::PermissionsExt;
        path.metadata().is_ok_and(|m| m.is_file() && m.permissions().mode() & 0o111 != 0)
    }
    #[cfg(not(unix))]
    {
        path.is_file()
    }
}

/// Runs the plugin once and returns its credential. `cluster` is passed to plugins that ask
/// for it (`provideClusterInfo`).
pub async fn run(
    exec: &ExecConfig,
    cluster: Option<ExecAuthCluster>,
    limit: Duration,
) -> Result<Credential, PluginError> {
    let program = program_name(exec);
    let env: Vec<(String, String)> = exec
        .env
        .iter()
        .flatten()
        .filter_map(|pair: &HashMap<String, String>| {
            Some((pair.get("name")?.clone(), pair.get("value")?.clone()))
        })
        .collect();
    let search = plugin_path();
    let Some(binary) = exec.command.as_deref().and_then(|c| locate(c, &search)) else {
        return Err(PluginError::NotFound { program });
    };
    let mut command = tokio::process::Command::new(binary);
    command
        .args(exec.args.iter().flatten())
        .stdin(Stdio::null())
        .stdout(Stdio::piped())
        .stderr(Stdio::piped())
        .kill_on_drop(true);
    if !env.iter().any(|(name, _)| name == "PATH")
        && let Ok(joined) = std::env::join_paths(&search)
    {
        command.env("PATH", joined);
    }
    command.envs(env);
    command.env("KUBERNETES_EXEC_INFO", exec_info(exec, cluster));
    // A group of its own, so a timeout stops what it started too (`aws` runs Python, a
    // wrapper script runs the real plugin).
    #[cfg(unix)]
    command.process_group(0);
    let child = command.spawn().map_err(|e| PluginError::Start {
        program: program.clone(),
        reason: e.kind().to_string(),
    })?;
    let group = child.id();
    let output = match tokio::time::timeout(limit, child.wait_with_output()).await {
        Ok(Ok(output)) => output,
        Ok(Err(e)) => {
            return Err(PluginError::Start { program, reason: e.kind().to_string() });
        }
        Err(_) => {
            // Dropping the child killed it (`kill_on_drop`); now the rest of its group.
            stop_group(group);
            return Err(PluginError::TimedOut { program, seconds: limit.as_secs() });
        }
    };
    if !output.status.success() {
        let said = String::from_utf8_lossy(&output.stderr).to_ascii_lowercase();
        return Err(PluginError::Failed {
            program,
            status: output.status.to_string(),
            wants_login: asks_for_login(&said),
        });
    }
    parse(&output.stdout).ok_or(PluginError::BadOutput { program })
}

/// Kills every process left in the plugin's process group.
fn stop_group(group: Option<u32>) {
    #[cfg(unix)]
    if let Some(pid) =
        group.and_then(|g| i32::try_from(g).ok()).and_then(rustix::process::Pid::from_raw)
    {
        // The group may already be gone: nothing left to stop.
        rustix::process::kill_process_group(pid, rustix::process::Signal::KILL).ok();
    }
    #[cfg(not(unix))]
    let _ = group;
}

/// Whether a plugin's complaint means the operator must log in again.
fn asks_for_login(said: &str) -> bool {
    [
        "expired",
        "login",
        "log in",
        "sso",
        "refresh",
        "reauthenticate",
        "credentials",
        "unauthorized",
        "token",
    ]
    .iter()
    .any(|word| said.contains(word))
}

/// The `KUBERNETES_EXEC_INFO` the plugin reads: never interactive.
fn exec_info(exec: &ExecConfig, cluster: Option<ExecAuthCluster>) -> String {
    let mut spec = serde_json::Map::new();
    spec.insert("interactive".to_owned(), false.into());
    if exec.provide_cluster_info
        && let Some(cluster) = cluster
        && let Ok(value) = serde_json::to_value(cluster)
    {
        spec.insert("cluster".to_owned(), value);
    }
    serde_json::json!({
        "apiVersion": exec.api_version.as_deref().unwrap_or("client.authentication.k8s.io/v1beta1"),
        "kind": "ExecCredential",
        "spec": spec,
    })
    .to_string()
}

#[derive(Deserialize)]
struct Output {
    status: Option<Status>,
}

#[derive(Deserialize)]
struct Status {
    token: Option<String>,
    #[serde(rename = "clientCertificateData")]
    client_certificate_data: Option<String>,
    #[serde(rename = "clientKeyData")]
    client_key_data: Option<String>,
    #[serde(rename = "expirationTimestamp")]
    expiration_timestamp: Option<String>,
}

/// The credential in an ExecCredential (JSON, or YAML as client-go also accepts). The parser's
/// own error is dropped: it would quote the output, which is the credential.
fn parse(stdout: &[u8]) -> Option<Credential> {
    let output: Output =
        serde_json::from_slice(stdout).ok().or_else(|| serde_saphyr::from_slice(stdout).ok())?;
    let status = output.status?;
    let certificate = status.client_certificate_data.zip(status.client_key_data);
    if status.token.is_none() && certificate.is_none() {
        return None;
    }
    let (client_certificate_data, client_key_data) = match certificate {
        Some((cert, key)) => (Some(cert), Some(SecretString::from(key))),
        None => (None, None),
    };
    Some(Credential {
        token: status.token.map(SecretString::from),
        client_certificate_data,
        client_key_data,
        expires: status
            .expiration_timestamp
            .and_then(|t| humantime::parse_rfc3339_weak(t.trim_end_matches('Z')).ok()),
    })
}

#[cfg(test)]
mod tests {
    use secrecy::ExposeSecret;

    use super::*;

    #[test]
    fn parses_tokens_certificates_and_expiry() {
        let token = parse(br#"{"kind":"ExecCredential","status":{"token":"t0k","expirationTimestamp":"2030-01-02T03:04:05Z"}}"#).unwrap();
        assert_eq!(token.token.unwrap().expose_secret(), "t0k");
        assert_eq!(
            token.expires.unwrap(),
            humantime::parse_rfc3339("2030-01-02T03:04:05Z").unwrap()
        );
        let yaml =
            parse(b"status:\n  clientCertificateData: CERT\n  clientKeyData: KEY\n").unwrap();
        assert_eq!(yaml.client_certificate_data.as_deref(), Some("CERT"));
        assert!(parse(b"{\"status\":{}}").is_none());
        assert!(parse(b"not json: [").is_none());
    }

    #[test]
    fn failures_name_the_program_only() {
        let failed = PluginError::Failed {
            program: "aws".into(),
            status: "exit status: 255".into(),
            wants_login: true,
        };
        assert_eq!(
            failed.to_string(),
            "the credential plugin `aws` failed (exit status: 255); it asks for a new login"
        );
        assert!(asks_for_login("error: the sso session has expired"));
        assert!(!asks_for_login("segmentation fault"));
    }
}
