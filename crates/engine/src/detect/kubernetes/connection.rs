//! The operator's kubeconfig, read the way kubectl reads it (`KUBECONFIG` with several files,
//! or `~/.kube/config`), and a client for one context. An exec credential plugin runs once per
//! connect (see `exec`); the client then carries the credential it gave. Errors are worded
//! here from what went wrong, never from a library's rendering of the file or the plugin.

use std::collections::HashMap;
use std::path::Path;
use std::time::{Duration, SystemTime};

use kube::config::{Cluster, ExecAuthCluster, KubeConfigOptions, Kubeconfig, KubeconfigError};

use super::exec;
use crate::detect::ConnectError;
use crate::diagnose::{Hint, argv};

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
    /// The exec credential plugin's program name, if the user has one.
    pub plugin: Option<String>,
    /// What to run to log in again (an argv), when it can be told from the kubeconfig.
    pub login: Option<Vec<String>>,
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
            format!("cannot read the kubeconfig ({location}): {}", kubeconfig_problem(&e)),
            Hint::run(
                "Check that the file exists and is valid; `kubectl config view` shows what kubectl reads.",
                &["kubectl", "config", "view", "--minify"],
            ),
        )
    })
}

/// What is wrong with a kubeconfig, in words that quote none of its content (a parser's
/// snippet of the file would show tokens and keys).
fn kubeconfig_problem(error: &KubeconfigError) -> String {
    match error {
        KubeconfigError::ReadConfig(io, _) => io.to_string(),
        KubeconfigError::Parse(parse) => match parse.location() {
            Some(at) => {
                format!("it is not valid YAML (line {}, column {})", at.line(), at.column())
            }
            None => "it is not valid YAML".to_owned(),
        },
        KubeconfigError::FindPath => {
            "there is none (KUBECONFIG is not set and ~/.kube/config was not found)".to_owned()
        }
        KubeconfigError::CurrentContextNotSet => "it has no current context".to_owned(),
        KubeconfigError::KindMismatch | KubeconfigError::ApiVersionMismatch => {
            "its files cannot be merged (different kind or apiVersion)".to_owned()
        }
        KubeconfigError::LoadContext(name) => format!("context `{name}` cannot be loaded"),
        KubeconfigError::LoadClusterOfContext(name) => {
            format!("the cluster of context `{name}` cannot be loaded")
        }
        KubeconfigError::MissingClusterUrl => "the cluster entry has no server URL".to_owned(),
        KubeconfigError::ParseClusterUrl(_) => "the cluster's server URL is not valid".to_owned(),
        KubeconfigError::LoadCertificateAuthority(_) | KubeconfigError::ParseCertificates(_) => {
            "the cluster's certificate authority cannot be loaded".to_owned()
        }
        KubeconfigError::LoadClientCertificate(_) | KubeconfigError::LoadClientKey(_) => {
            "the user's client certificate or key cannot be loaded".to_owned()
        }
        _ => "it cannot be used".to_owned(),
    }
}

/// The context names in the kubeconfig `text` and the current one, or what is wrong with it.
pub fn kubeconfig_contexts(text: &str) -> Result<(Vec<String>, Option<String>), String> {
    let config = Kubeconfig::from_yaml(text).map_err(|e| kubeconfig_problem(&e))?;
    Ok((config.contexts.iter().map(|c| c.name.clone()).collect(), config.current_context.clone()))
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

/// The command that logs the user in again, guessed from the exec plugin.
fn login_command(
    program: &str,
    args: &[String],
    env: &[HashMap<String, String>],
) -> Option<Vec<String>> {
    let arg_after =
        |flag: &str| args.iter().position(|a| a == flag).and_then(|i| args.get(i + 1)).cloned();
    let env_value = |name: &str| {
        env.iter()
            .find(|e| e.get("name").map(String::as_str) == Some(name))
            .and_then(|e| e.get("value").cloned())
    };
    let words: Vec<String> = match program {
        "aws" => {
            let profile = arg_after("--profile").or_else(|| env_value("AWS_PROFILE"));
            let mut words = argv(&["aws", "sso", "login"]);
            if let Some(profile) = profile {
                words.extend(argv(&["--profile", &profile]));
            }
            words
        }
        "aws-iam-authenticator" => argv(&["aws", "sso", "login"]),
        "gke-gcloud-auth-plugin" | "gcloud" => argv(&["gcloud", "auth", "login"]),
        "kubelogin" => argv(&["az", "login"]),
        "kubectl" if args.iter().any(|a| a == "oidc-login") => {
            argv(&["kubectl", "oidc-login", "get-token", "--help"])
        }
        "doctl" => argv(&["doctl", "auth", "init"]),
        _ => return None,
    };
    Some(words)
}

/// A client for one context, with what it is known by.
pub struct Connected {
    /// The client, carrying the credential.
    pub client: kube::Client,
    /// Where it points.
    pub info: ContextInfo,
    /// When the credential an exec plugin gave stops working, if it said.
    pub expires: Option<SystemTime>,
}

/// A client for `context` (the current context when `None`), with request timeouts set.
/// `timeout` also bounds the credential plugin, if the user has one.
pub async fn connect(
    path: Option<&Path>,
    context: Option<&str>,
    timeout: Duration,
) -> Result<Connected, ConnectError> {
    let mut config = read_kubeconfig(path)?;
    let name = match context.map(str::to_owned).or_else(|| config.current_context.clone()) {
        Some(name) => name,
        None => {
            return Err(connect_error(
                "the kubeconfig has no current context",
                Hint::run(
                    "Pick one with `kubectl config use-context`, or choose a context in Greenlight.",
                    &["kubectl", "config", "get-contexts"],
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
            Hint::run(
                "Use one of the contexts kubectl knows:",
                &["kubectl", "config", "get-contexts"],
            ),
        ));
    };
    let details = named.context.clone().unwrap_or_default();
    let user_name = details.user.clone().unwrap_or_default();
    let cluster =
        config.clusters.iter().find(|c| c.name == details.cluster).and_then(|c| c.cluster.clone());
    let server = cluster.as_ref().and_then(|c| c.server.clone()).unwrap_or_default();
    let Plugin { plugin, login, expires } =
        run_plugin(&mut config, &user_name, cluster.as_ref(), &name, timeout).await?;
    let options = KubeConfigOptions { context: Some(name.clone()), ..KubeConfigOptions::default() };
    let mut client_config =
        kube::Config::from_custom_kubeconfig(config, &options).await.map_err(|e| {
            connect_error(
                format!(
                    "the kubeconfig entry for context `{name}` cannot be used: {}",
                    kubeconfig_problem(&e)
                ),
                Hint::run(
                    "Check the context's cluster and user entries:",
                    &["kubectl", "config", "view", "--minify", "--context", &name],
                ),
            )
        })?;
    client_config.connect_timeout = Some(timeout);
    // Lets cluster admins tell Greenlight's (value-free) reads apart in audit logs.
    client_config.headers.push((
        http::header::USER_AGENT,
        http::HeaderValue::from_static(concat!("greenlight/", env!("CARGO_PKG_VERSION"))),
    ));
    let client = kube::Client::try_from(client_config).map_err(|e| match e {
        kube::Error::Auth(_) => connect_error(
            format!("credentials for context `{name}` could not be obtained from the kubeconfig"),
            plugin_hint(login.as_deref(), &name),
        ),
        _ => connect_error(
            format!("cannot set up a client for context `{name}` (TLS settings in the kubeconfig)"),
            Hint::says(
                "Check the cluster's certificate-authority and the user's client certificate entries in the kubeconfig.",
            ),
        ),
    })?;
    let info = ContextInfo {
        context: name,
        server,
        namespace: details.namespace.clone(),
        user: user_name,
        plugin,
        login,
    };
    Ok(Connected { client, info, expires })
}

/// What the user's exec credential plugin (if any) is, how to log in again, and when the
/// credential it gave expires.
#[derive(Default)]
struct Plugin {
    plugin: Option<String>,
    login: Option<Vec<String>>,
    expires: Option<SystemTime>,
}

/// Runs the exec credential plugin of `user_name` (if it has one) and puts its credential
/// into the kubeconfig in its place.
async fn run_plugin(
    config: &mut Kubeconfig,
    user_name: &str,
    cluster: Option<&Cluster>,
    name: &str,
    timeout: Duration,
) -> Result<Plugin, ConnectError> {
    let mut out = Plugin::default();
    if let Some(auth) = config
        .auth_infos
        .iter_mut()
        .find(|a| a.name == user_name)
        .and_then(|a| a.auth_info.as_mut())
        && let Some(exec_config) = auth.exec.take()
    {
        let program = exec::program_name(&exec_config);
        let args = exec_config.args.clone().unwrap_or_default();
        let env = exec_config.env.clone().unwrap_or_default();
        out.login = login_command(&program, &args, &env);
        out.plugin = Some(program);
        let cluster_info = cluster.and_then(|c| ExecAuthCluster::try_from(c).ok());
        let credential =
            exec::run(&exec_config, cluster_info, timeout).await.map_err(|e| ConnectError {
                message: e.to_string(),
                hints: vec![plugin_hint(out.login.as_deref(), name)],
            })?;
        auth.token = credential.token;
        if credential.client_certificate_data.is_some() {
            auth.client_certificate_data = credential.client_certificate_data;
            auth.client_key_data = credential.client_key_data;
        }
        out.expires = credential.expires;
    }
    Ok(out)
}

/// What to do when credentials could not be had: log in again, or see the plugin's own words
/// in a terminal (Greenlight does not show them: they can carry credentials).
fn plugin_hint(login: Option<&[String]>, context: &str) -> Hint {
    match login {
        Some(login) => {
            Hint::lines("Log in again, then Greenlight reconnects by itself:", vec![login.to_vec()])
        }
        None => Hint::run(
            "Run any kubectl command with this context to see what the credential plugin says, and fix that:",
            &["kubectl", "auth", "whoami", "--context", context],
        ),
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn login_commands_follow_the_plugin() {
        let args = |a: &[&str]| a.iter().map(|s| s.to_string()).collect::<Vec<_>>();
        let joined = |l: Option<Vec<String>>| l.map(|l| l.join(" "));
        assert_eq!(
            login_command(
                "aws",
                &args(&["eks", "get-token", "--cluster-name", "c", "--profile", "prod"]),
                &[]
            )
            .map(|l| l.join(" "))
            .as_deref(),
            Some("aws sso login --profile prod")
        );
        let env = vec![HashMap::from([
            ("name".to_owned(), "AWS_PROFILE".to_owned()),
            ("value".to_owned(), "ops team".to_owned()),
        ])];
        assert_eq!(
            login_command("aws", &args(&["eks", "get-token"]), &env),
            Some(args(&["aws", "sso", "login", "--profile", "ops team"]))
        );
        assert_eq!(
            joined(login_command("gke-gcloud-auth-plugin", &[], &[])).as_deref(),
            Some("gcloud auth login")
        );
        assert_eq!(login_command("my-plugin", &[], &[]), None);
    }
}
