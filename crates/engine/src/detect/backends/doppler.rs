//! Doppler: whether a config holds a secret, from the names-only endpoint
//! (`/v3/configs/config/secrets/names`), with the token from `DOPPLER_TOKEN` or the Doppler
//! CLI's login (`~/.doppler/.doppler.yaml`, the scope that best matches the working
//! directory). `DOPPLER_API_HOST` moves the API, as it does for the CLI.

use http::StatusCode;
use serde::Deserialize;

use super::{BackendError, Backends, Look, encode, get, home, read_small};

const LOGIN: &str = "doppler login";

#[derive(Deserialize)]
struct Names {
    #[serde(default)]
    names: Vec<String>,
}

/// The token and API host: the environment first, then the CLI's configuration file.
fn login() -> (Option<String>, Option<String>) {
    let env = |name: &str| std::env::var(name).ok().filter(|v| !v.is_empty());
    let mut token = env("DOPPLER_TOKEN");
    let mut host = env("DOPPLER_API_HOST");
    if token.is_none() || host.is_none() {
        let (file_token, file_host) = from_config();
        token = token.or(file_token);
        host = host.or(file_host);
    }
    (token, host)
}

/// `scoped: { "/path": { token: ..., api-host: ... } }`: the longest scope containing the
/// working directory wins. A flat reader: the file is the CLI's, two levels deep.
fn from_config() -> (Option<String>, Option<String>) {
    let Some(path) = std::env::var_os("DOPPLER_CONFIG_DIR")
        .filter(|p| !p.is_empty())
        .map(std::path::PathBuf::from)
        .or_else(|| home().map(|h| h.join(".doppler")))
        .map(|d| d.join(".doppler.yaml"))
    else {
        return (None, None);
    };
    let Some(text) = read_small(&path) else { return (None, None) };
    let cwd = std::env::current_dir().map(|d| d.display().to_string()).unwrap_or_default();
    pick(&text, &cwd)
}

#[derive(Deserialize, Default)]
struct CliConfig {
    #[serde(default)]
    scoped: std::collections::BTreeMap<String, Scope>,
}

#[derive(Deserialize, Default)]
struct Scope {
    #[serde(default)]
    token: Option<String>,
    #[serde(default, rename = "api-host")]
    api_host: Option<String>,
}

/// The token and API host of the scope that best matches `cwd` (the longest path containing
/// it, `/` last) in the CLI's configuration `text`.
fn pick(text: &str, cwd: &str) -> (Option<String>, Option<String>) {
    let config: CliConfig = serde_saphyr::from_str(text).unwrap_or_default();
    config
        .scoped
        .into_iter()
        .filter(|(scope, s)| {
            s.token.is_some()
                && (scope == "/"
                    || cwd == scope
                    || cwd.starts_with(&format!("{}/", scope.trim_end_matches('/'))))
        })
        .max_by_key(|(scope, _)| scope.len())
        .map_or((None, None), |(_, s)| (s.token, s.api_host))
}

pub(super) async fn look(
    backends: &Backends,
    project: &str,
    config: &str,
    name: &str,
) -> Result<Look, BackendError> {
    let (Some(token), host) = login() else {
        return Err(BackendError::Credentials {
            message: "not logged in to Doppler (no DOPPLER_TOKEN and no `doppler login`)"
                .to_owned(),
            login: LOGIN,
        });
    };
    // Doppler tokens start with `dp.`; a CLI that keeps its login in the system keyring
    // leaves only a reference to it in its configuration file.
    if !token.starts_with("dp.") {
        return Err(BackendError::Credentials {
            message: "the Doppler CLI keeps its login in the system keyring, which Greenlight does not read; export DOPPLER_TOKEN (a read-only service token for this config) before starting Greenlight".to_owned(),
            login: "export DOPPLER_TOKEN=\"$(doppler configure get token --plain)\"",
        });
    }
    let host = host.unwrap_or_else(|| "https://api.doppler.com".to_owned());
    let url = format!(
        "{}/v3/configs/config/secrets/names?project={}&config={}",
        host.trim_end_matches('/'),
        encode(project),
        encode(config)
    );
    let bearer = format!("Bearer {token}");
    let (status, body) = backends.send(get(&url, ("authorization", &bearer))?).await?;
    match status {
        StatusCode::OK => {
            let names: Names = serde_json::from_slice(&body).map_err(|_| {
                BackendError::Unreachable("Doppler's answer is not a list of names".to_owned())
            })?;
            if names.names.iter().any(|n| n == name) {
                Ok(Look::Present)
            } else {
                let near = names
                    .names
                    .into_iter()
                    .filter(|n| crate::text::is_near_miss(name, n))
                    .take(3)
                    .collect();
                Ok(Look::Missing { near })
            }
        }
        StatusCode::UNAUTHORIZED => Err(BackendError::Credentials {
            message: "Doppler refused the token (401); it may have expired or been revoked"
                .to_owned(),
            login: LOGIN,
        }),
        StatusCode::FORBIDDEN => Err(BackendError::Forbidden(format!(
            "reading secret names in Doppler {project}/{config}"
        ))),
        StatusCode::NOT_FOUND => Ok(Look::Wrong(format!(
            "Doppler has no project `{project}` with a config `{config}` (or this token cannot see it)"
        ))),
        other => Err(BackendError::Unreachable(format!("Doppler answered {other}"))),
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn the_scope_closest_to_the_working_directory_wins() {
        let text = "scoped:\n  /:\n    token: dp.pt.everywhere\n  /home/ops/platform:\n    token: dp.st.platform\n    api-host: https://api.doppler.example\n    enclave.project: apps\n";
        assert_eq!(
            pick(text, "/home/ops/platform/deploy"),
            (Some("dp.st.platform".into()), Some("https://api.doppler.example".into()))
        );
        assert_eq!(pick(text, "/home/ops/other"), (Some("dp.pt.everywhere".into()), None));
        assert_eq!(pick("not: [yaml", "/"), (None, None));
    }
}
