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
    let mut best: (usize, Option<String>, Option<String>) = (0, None, None);
    let mut scope: Option<String> = None;
    let mut found: (Option<String>, Option<String>) = (None, None);
    let flush = |scope: &Option<String>,
                 found: &(Option<String>, Option<String>),
                 best: &mut (usize, Option<String>, Option<String>)| {
        if let Some(scope) = scope {
            let fits = scope == "/"
                || cwd == *scope
                || cwd.starts_with(&format!("{}/", scope.trim_end_matches('/')));
            if fits && scope.len() >= best.0 && found.0.is_some() {
                *best = (scope.len(), found.0.clone(), found.1.clone());
            }
        }
    };
    for line in text.lines() {
        let indent = line.len() - line.trim_start().len();
        let trimmed = line.trim();
        if indent == 4 && trimmed.ends_with(':') {
            flush(&scope, &found, &mut best);
            scope = Some(trimmed.trim_end_matches(':').trim_matches(['"', '\'']).to_owned());
            found = (None, None);
        } else if indent >= 8
            && let Some((key, value)) = trimmed.split_once(':')
        {
            let value = value.trim().trim_matches(['"', '\'']).to_owned();
            match key.trim() {
                "token" => found.0 = Some(value),
                "api-host" => found.1 = Some(value),
                _ => {}
            }
        }
    }
    flush(&scope, &found, &mut best);
    (best.1, best.2)
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
                    .filter(|n| crate::diagnose::is_near_miss(name, n))
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
