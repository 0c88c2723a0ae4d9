//! The operator's kubeconfig, read the way kubectl reads it (`KUBECONFIG` with several files,
//! or `~/.kube/config`), and a client for one context. Exec credential plugins are made
//! non-interactive and given a PATH that finds `aws`, `gcloud` or `kubelogin` even when the
//! app was started from a desktop icon with a minimal environment.

use std::collections::HashMap;
use std::path::{Path, PathBuf};
use std::time::Duration;

use kube::config::{ExecInteractiveMode, KubeConfigOptions, Kubeconfig};

use crate::diagnose::Hint;

/// Where the chosen context points.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct ContextInfo {
    /// Context name.
    pub context: String,
    /// API server URL.
    pub server: String,
    /// The context's default namespace, if set.
    pub namespace: Option<String>,
    /// kubeconfig user entry.
    pub user: String,
    /// The exec credential plugin, as `command arg arg`, if the user has one.
    pub exec: Option<String>,
    /// What to run to log in again, when it can be told from the kubeconfig.
    pub login: Option<String>,
}

/// Why no client could be made.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
#[error("{message}")]
pub struct ConnectError {
    /// What went wrong, in words.
    pub message: String,
    /// What to do.
    pub hints: Vec<Hint>,
}

fn connect_error(message: impl Into<String>, hint: Hint) -> ConnectError {
    ConnectError { message: message.into(), hints: vec![hint] }
}

/// Reads `path`, or the kubeconfig kubectl would read (`KUBECONFIG`, else `~/.kube/config`).
pub fn read_kubeconfig(path: Option<&Path>) -> Result<Kubeconfig, ConnectError> {
    let read = match path {
        Some(path) => Kubeconfig::read_from(path),
        None => Kubeconfig::read(),
    };
    read.map_err(|e| {
        let location = match path {
            Some(path) => path.display().to_string(),
            None => std::env::var("KUBECONFIG").unwrap_or_else(|_| "~/.kube/config".to_owned()),
        };
        connect_error(
            format!("cannot read the kubeconfig ({location}): {e}"),
            Hint::with_command(
                "Check that the file exists and is valid; `kubectl config view` shows what kubectl reads.",
                "kubectl config view --minify",
            ),
        )
    })
}

/// The context names in the kubeconfig and the current one.
pub fn contexts(path: Option<&Path>) -> Result<(Vec<String>, Option<String>), ConnectError> {
    let config = read_kubeconfig(path)?;
    Ok((config.contexts.iter().map(|c| c.name.clone()).collect(), config.current_context.clone()))
}

/// The kubeconfig's current context, if it has one.
pub fn current_context(path: Option<&Path>) -> Option<String> {
    read_kubeconfig(path).ok().and_then(|c| c.current_context)
}

/// Directories where credential plugins usually live, appended to PATH for exec plugins.
fn plugin_path() -> String {
    let mut dirs: Vec<PathBuf> =
        std::env::var_os("PATH").map(|p| std::env::split_paths(&p).collect()).unwrap_or_default();
    let home = std::env::var_os("HOME").map(PathBuf::from);
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
    if let Some(home) = home {
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
    std::env::join_paths(dirs).map(|p| p.to_string_lossy().into_owned()).unwrap_or_default()
}

/// The command that logs the user in again, guessed from the exec plugin.
fn login_command(
    command: &str,
    args: &[String],
    env: &[HashMap<String, String>],
) -> Option<String> {
    let program = std::path::Path::new(command).file_name()?.to_string_lossy().into_owned();
    let arg_after =
        |flag: &str| args.iter().position(|a| a == flag).and_then(|i| args.get(i + 1)).cloned();
    let env_value = |name: &str| {
        env.iter()
            .find(|e| e.get("name").map(String::as_str) == Some(name))
            .and_then(|e| e.get("value").cloned())
    };
    match program.as_str() {
        "aws" => {
            let profile = arg_after("--profile").or_else(|| env_value("AWS_PROFILE"));
            Some(match profile {
                Some(profile) => format!("aws sso login --profile {}", crate::commands::quote::posix(&profile).ok()?),
                None => "aws sso login".to_owned(),
            })
        }
        "aws-iam-authenticator" => Some("aws sso login".to_owned()),
        "gke-gcloud-auth-plugin" | "gcloud" => Some("gcloud auth login".to_owned()),
        "kubelogin" => Some("az login".to_owned()),
        "kubectl" if args.iter().any(|a| a == "oidc-login") => Some("kubectl oidc-login get-token --help  # then run any kubectl command to log in in the browser".to_owned()),
        "doctl" => Some("doctl auth init".to_owned()),
        _ => None,
    }
}

/// A client for `context` (the current context when `None`), with request timeouts set.
pub async fn connect(
    path: Option<&Path>,
    context: Option<&str>,
    connect_timeout: Duration,
) -> Result<(kube::Client, ContextInfo), ConnectError> {
    let mut config = read_kubeconfig(path)?;
    let name = match context.map(str::to_owned).or_else(|| config.current_context.clone()) {
        Some(name) => name,
        None => {
            return Err(connect_error(
                "the kubeconfig has no current context",
                Hint::with_command(
                    "Pick one with `kubectl config use-context`, or choose a context in Greenlight.",
                    "kubectl config get-contexts",
                ),
            ));
        }
    };
    let Some(named) = config.contexts.iter().find(|c| c.name == name) else {
        let known: Vec<&str> = config.contexts.iter().map(|c| c.name.as_str()).collect();
        return Err(connect_error(
            format!(
                "context `{name}` is not in the kubeconfig (it has: {})",
                if known.is_empty() { "none".to_owned() } else { known.join(", ") }
            ),
            Hint::with_command(
                "Use one of the contexts kubectl knows:",
                "kubectl config get-contexts",
            ),
        ));
    };
    let details = named.context.clone().unwrap_or_default();
    let user_name = details.user.clone().unwrap_or_default();
    let server = config
        .clusters
        .iter()
        .find(|c| c.name == details.cluster)
        .and_then(|c| c.cluster.as_ref())
        .and_then(|c| c.server.clone())
        .unwrap_or_default();
    let mut exec = None;
    let mut login = None;
    let path = plugin_path();
    for auth in &mut config.auth_infos {
        if auth.name != user_name {
            continue;
        }
        if let Some(exec_config) = auth.auth_info.as_mut().and_then(|a| a.exec.as_mut()) {
            // Never prompt: a plugin that needs a person fails, and the row says how to log in.
            exec_config.interactive_mode = Some(ExecInteractiveMode::Never);
            let env = exec_config.env.get_or_insert_with(Vec::new);
            if !env.iter().any(|e| e.get("name").map(String::as_str) == Some("PATH")) {
                env.push(HashMap::from([
                    ("name".to_owned(), "PATH".to_owned()),
                    ("value".to_owned(), path.clone()),
                ]));
            }
            let command = exec_config.command.clone().unwrap_or_default();
            let args = exec_config.args.clone().unwrap_or_default();
            login = login_command(&command, &args, env);
            exec = Some(std::iter::once(command).chain(args).collect::<Vec<_>>().join(" "));
        }
    }
    let options = KubeConfigOptions { context: Some(name.clone()), ..KubeConfigOptions::default() };
    let mut client_config =
        kube::Config::from_custom_kubeconfig(config, &options).await.map_err(|e| {
            connect_error(
                format!("the kubeconfig entry for context `{name}` cannot be used: {e}"),
                Hint::with_command(
                    "Check the context's cluster and user entries:",
                    format!(
                        "kubectl config view --minify --context {}",
                        crate::commands::quote::posix(&name).unwrap_or_default()
                    ),
                ),
            )
        })?;
    client_config.connect_timeout = Some(connect_timeout);
    // Lets cluster admins tell Greenlight's (value-free) reads apart in audit logs.
    client_config.headers.push((
        http::header::USER_AGENT,
        http::HeaderValue::from_static(concat!("greenlight/", env!("CARGO_PKG_VERSION"))),
    ));
    let client = kube::Client::try_from(client_config).map_err(|e| match &e {
        // Credential plugins run while the client is built: their failure is a login problem.
        kube::Error::Auth(auth) => {
            let hint = match &login {
                Some(login) => Hint::with_command("Log in again, then Greenlight reconnects by itself:", login.clone()),
                None => Hint::with_command("Check that the credential plugin works on its own:", format!("kubectl auth whoami --context {}", crate::commands::quote::posix(&name).unwrap_or_default())),
            };
            connect_error(super::wire::credentials_message(auth), hint)
        }
        _ => connect_error(
            format!("cannot set up a client for context `{name}`: {}", error_chain(&e)),
            Hint::says("Check the cluster's certificate-authority and client certificate entries in the kubeconfig."),
        ),
    })?;
    let info = ContextInfo {
        context: name,
        server,
        namespace: details.namespace.clone(),
        user: user_name,
        exec,
        login,
    };
    Ok((client, info))
}

/// An error and all its sources, joined: SDK errors hide the useful part in the chain.
pub fn error_chain(error: &(dyn std::error::Error + 'static)) -> String {
    let mut parts = vec![error.to_string()];
    let mut source = error.source();
    while let Some(cause) = source {
        let text = cause.to_string();
        if !parts.iter().any(|p| p.contains(&text)) {
            parts.push(text);
        }
        source = cause.source();
    }
    parts.join(": ")
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn login_commands_follow_the_plugin() {
        let args = |a: &[&str]| a.iter().map(|s| s.to_string()).collect::<Vec<_>>();
        assert_eq!(
            login_command(
                "aws",
                &args(&["eks", "get-token", "--cluster-name", "c", "--profile", "prod"]),
                &[]
            )
            .as_deref(),
            Some("aws sso login --profile prod")
        );
        let env = vec![HashMap::from([
            ("name".to_owned(), "AWS_PROFILE".to_owned()),
            ("value".to_owned(), "ops team".to_owned()),
        ])];
        assert_eq!(
            login_command("/usr/local/bin/aws", &args(&["eks", "get-token"]), &env).as_deref(),
            Some("aws sso login --profile 'ops team'")
        );
        assert_eq!(
            login_command("gke-gcloud-auth-plugin", &[], &[]).as_deref(),
            Some("gcloud auth login")
        );
        assert_eq!(login_command("my-plugin", &[], &[]), None);
    }
}
