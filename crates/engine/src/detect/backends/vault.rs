//! Vault KV version 2: whether a secret exists and its current version is live, from
//! `GET /v1/MOUNT/metadata/PATH` (never `data/`), at `VAULT_ADDR` with `VAULT_TOKEN` or the
//! token `vault login` saved in `~/.vault-token`, and `VAULT_NAMESPACE` when set. Metadata
//! cannot tell whether the value's key is in the secret; External Secrets' sync shows that.

use http::StatusCode;
use serde::Deserialize;

use super::{BackendError, Backends, Look, encode, get, home, read_small};

const LOGIN: &str = "vault login";

#[derive(Deserialize, Default)]
struct Errors {
    #[serde(default)]
    errors: Vec<String>,
}

#[derive(Deserialize)]
struct Metadata {
    #[serde(default)]
    data: MetadataData,
}

#[derive(Deserialize, Default)]
struct MetadataData {
    #[serde(default)]
    current_version: u64,
    #[serde(default)]
    versions: std::collections::BTreeMap<String, VersionMeta>,
}

#[derive(Deserialize, Default)]
struct VersionMeta {
    #[serde(default)]
    deletion_time: String,
    #[serde(default)]
    destroyed: bool,
}

pub(super) async fn look(
    backends: &Backends,
    mount: &str,
    path: &str,
) -> Result<Look, BackendError> {
    let env = |name: &str| std::env::var(name).ok().filter(|v| !v.is_empty());
    let Some(address) = env("VAULT_ADDR") else {
        return Err(BackendError::Unreachable(
            "VAULT_ADDR is not set: export the address of your Vault, e.g. `export VAULT_ADDR=https://vault.example.com:8200`".to_owned(),
        ));
    };
    let token = env("VAULT_TOKEN").or_else(|| {
        home().and_then(|h| read_small(&h.join(".vault-token"))).map(|t| t.trim().to_owned())
    });
    let Some(token) = token.filter(|t| !t.is_empty()) else {
        return Err(BackendError::Credentials {
            message: "not logged in to Vault (no VAULT_TOKEN and no ~/.vault-token)".to_owned(),
            login: LOGIN,
        });
    };
    let segments: Vec<String> = path.split('/').map(encode).collect();
    let url = format!(
        "{}/v1/{}/metadata/{}",
        address.trim_end_matches('/'),
        mount.split('/').map(encode).collect::<Vec<_>>().join("/"),
        segments.join("/")
    );
    let mut request = get(&url, ("x-vault-token", &token))?;
    if let Some(namespace) = env("VAULT_NAMESPACE")
        && let Ok(value) = http::HeaderValue::from_str(&namespace)
    {
        request.headers_mut().insert("x-vault-namespace", value);
    }
    let (status, body) = backends.send(request).await?;
    match status {
        StatusCode::OK => {
            let meta: Metadata = serde_json::from_slice(&body).map_err(|_| {
                BackendError::Unreachable("Vault's answer is not KV version 2 metadata".to_owned())
            })?;
            let current = meta.data.versions.get(&meta.data.current_version.to_string());
            // `delete_version_after` gives live versions a deletion time in the future.
            let deleted = |v: &VersionMeta| {
                !v.deletion_time.is_empty()
                    && humantime::parse_rfc3339_weak(&v.deletion_time)
                        .map_or(true, |at| at <= std::time::SystemTime::now())
            };
            Ok(match current {
                Some(v) if v.destroyed => Look::Wrong("its current version is destroyed: write a new one (the Rotate command)".to_owned()),
                Some(v) if deleted(v) => Look::Wrong("its current version is deleted: undelete it (`vault kv undelete`) or write a new one".to_owned()),
                Some(_) => Look::Present,
                None => Look::Wrong("it has no versions".to_owned()),
            })
        }
        // A missing secret answers 404 with no errors; a path with no KV v2 engine behind it
        // (a wrong mount, a KV v1 mount) answers 404 with "no handler for route".
        StatusCode::NOT_FOUND => {
            let errors = serde_json::from_slice::<Errors>(&body).unwrap_or_default().errors;
            if errors.is_empty() {
                Ok(Look::Missing { near: Vec::new() })
            } else {
                Ok(Look::Wrong(format!(
                    "Vault has no KV version 2 secrets engine at `{mount}` (check the backend's mount, or `vault secrets list`)"
                )))
            }
        }
        StatusCode::FORBIDDEN => Err(BackendError::Forbidden(format!(
            "read on {mount}/metadata/{path} (Vault answers 403 for an expired token too: `vault login`)"
        ))),
        StatusCode::UNAUTHORIZED => Err(BackendError::Credentials {
            message: "Vault refused the token".to_owned(),
            login: LOGIN,
        }),
        other => Err(BackendError::Unreachable(format!("Vault answered {other}"))),
    }
}
