//! Vault KV: whether a secret exists and its current version is live, from
//! `GET /v1/MOUNT/metadata/PATH` (never `data/`), at `VAULT_ADDR` with `VAULT_TOKEN` or the
//! token `vault login` saved in `~/.vault-token`, and `VAULT_NAMESPACE` when set. Metadata
//! cannot tell whether the value's key is in the secret; External Secrets' sync shows that.
//! Written with `vault kv put` / `vault kv patch`, the value on stdin.

use futures::future::BoxFuture;
use serde::Deserialize;

use super::{
    Absent, Asked, Backend, BackendError, BackendKind, Cli, Context, Field, Fields, Finding, Login,
    Place, Source, ValueFrom, Write, encode, get, read_small,
};
use crate::place::names::{self, InvalidName};
use crate::shell::{Word, lit, raw};

const LOGIN: &str = "vault login";

/// HashiCorp Vault's KV secrets engine.
pub(crate) struct VaultKv;

const FIELDS: &[Field] = &[
    Field {
        name: "mount",
        doc: "The KV mount. Default `secret`. The address comes from `VAULT_ADDR`.",
        required: false,
        rule: Some((path, "Vault mount")),
    },
    Field {
        name: "property",
        doc: "The key in each Vault secret's data holding the value. Default `value`.",
        required: false,
        rule: Some((names::kubernetes_key, "data key")),
    },
];

/// Vault KV mount or secret path: segments of letters, digits, '-', '_' and '.', joined by
/// '/', with no empty, '.' or '..' segment.
fn path(path: &str) -> Result<(), InvalidName> {
    const RULE: &str = "a Vault path is segments of ASCII letters, digits, '-', '_' and '.' joined by '/', without empty, '.' or '..' segments";
    if path.is_empty() || path.len() > 512 {
        return Err(InvalidName {
            rule: RULE,
            why: format!("it is {} characters long", path.len()),
        });
    }
    for segment in path.split('/') {
        if segment.is_empty() || segment == "." || segment == ".." {
            return Err(InvalidName { rule: RULE, why: format!("it has the segment {segment:?}") });
        }
        if let Some(bad) =
            segment.chars().find(|c| !(c.is_ascii_alphanumeric() || matches!(c, '-' | '_' | '.')))
        {
            return Err(InvalidName { rule: RULE, why: format!("{bad:?} is not allowed") });
        }
    }
    Ok(())
}

impl Backend for VaultKv {
    fn kind(&self) -> BackendKind {
        BackendKind::VaultKv
    }

    fn name(&self) -> &'static str {
        "vault-kv"
    }

    fn title(&self) -> &'static str {
        "Vault"
    }

    fn fields(&self) -> &'static [Field] {
        FIELDS
    }

    fn check_key(&self, key: &str) -> Result<(), InvalidName> {
        path(key)
    }

    fn place(&self, fields: &Fields, key: &str) -> Source {
        Source::new(VaultSecret {
            mount: fields.get("mount").unwrap_or("secret").to_owned(),
            path: key.to_owned(),
            property: fields.get("property").unwrap_or("value").to_owned(),
        })
    }

    fn eso_provider(&self) -> &'static str {
        "vault"
    }

    fn env(&self) -> &'static [&'static str] {
        &["VAULT_ADDR", "VAULT_TOKEN", "VAULT_NAMESPACE"]
    }

    fn cli(&self) -> Cli {
        Cli { program: "vault", install: "https://developer.hashicorp.com/vault/install" }
    }
}

/// A secret in a KV mount, and the key in its data that holds the value.
struct VaultSecret {
    mount: String,
    path: String,
    property: String,
}

impl Place for VaultSecret {
    fn backend(&self) -> &'static dyn Backend {
        &VaultKv
    }

    fn key(&self) -> &str {
        &self.path
    }

    fn describe(&self) -> String {
        format!("Vault {}/{} (key {})", self.mount, self.path, self.property)
    }

    fn asked(&self) -> Asked<'_> {
        Asked::Directly
    }

    fn verify_words(&self) -> Vec<Word> {
        vec![
            lit("vault"),
            lit("kv"),
            lit("metadata"),
            lit("get"),
            lit(format!("-mount={}", self.mount)),
            lit(self.path.clone()),
        ]
    }

    fn write_words(&self, write: Write, from: ValueFrom) -> Vec<Word> {
        let verb = if write == Write::Create { "put" } else { "patch" };
        let value = match from {
            ValueFrom::Stdin => lit(format!("{}=-", self.property)),
            // One double-quoted word: PowerShell splits one that starts with a quoted string.
            ValueFrom::File => raw(format!("\"{}=@$($file.FullName)\"", self.property)),
        };
        vec![
            lit("vault"),
            lit("kv"),
            lit(verb),
            lit(format!("-mount={}", self.mount)),
            lit(self.path.clone()),
            value,
        ]
    }

    fn look<'a>(&'a self, cx: &'a Context) -> BoxFuture<'a, Result<Finding, BackendError>> {
        Box::pin(look(cx, &self.mount, &self.path))
    }
}

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

async fn look(cx: &Context, mount: &str, path: &str) -> Result<Finding, BackendError> {
    let env = &cx.env;
    let Some(address) = env.var("VAULT_ADDR") else {
        return Err(BackendError::Unreachable(
            "VAULT_ADDR is not set: export the address of your Vault, e.g. `export VAULT_ADDR=https://vault.example.com:8200`".to_owned(),
        ));
    };
    let token = env.var("VAULT_TOKEN").map(str::to_owned).or_else(|| {
        env.home().and_then(|h| read_small(&h.join(".vault-token"))).map(|t| t.trim().to_owned())
    });
    let Some(token) = token.filter(|t| !t.is_empty()) else {
        return Err(BackendError::Credentials {
            message: "not logged in to Vault (no VAULT_TOKEN and no ~/.vault-token)".to_owned(),
            login: Login { command: LOGIN, note: None },
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
    if let Some(namespace) = env.var("VAULT_NAMESPACE")
        && let Ok(value) = http::HeaderValue::from_str(namespace)
    {
        request.headers_mut().insert("x-vault-namespace", value);
    }
    let answer = cx.http.send(request).await?;
    match answer.status {
        200 => {
            let meta: Metadata = serde_json::from_slice(&answer.body).map_err(|_| {
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
                Some(v) if v.destroyed => Finding::Wrong("its current version is destroyed: write a new one (the Rotate command)".to_owned()),
                Some(v) if deleted(v) => Finding::Wrong("its current version is deleted: undelete it (`vault kv undelete`) or write a new one".to_owned()),
                Some(_) => Finding::Present { changed: None },
                None => Finding::Wrong("it has no versions".to_owned()),
            })
        }
        // A missing secret answers 404 with no errors; a path with no KV v2 engine behind it
        // (a wrong mount, a KV v1 mount) answers 404 with "no handler for route".
        404 => {
            let errors = serde_json::from_slice::<Errors>(&answer.body).unwrap_or_default().errors;
            if errors.is_empty() {
                Ok(Finding::Missing(Absent::legacy(Vec::new())))
            } else {
                Ok(Finding::Wrong(format!(
                    "Vault has no KV version 2 secrets engine at `{mount}` (check the backend's mount, or `vault secrets list`)"
                )))
            }
        }
        403 => Err(BackendError::Forbidden(format!(
            "read on {mount}/metadata/{path} (Vault answers 403 for an expired token too: `vault login`)"
        ))),
        401 => Err(BackendError::Credentials {
            message: "Vault refused the token".to_owned(),
            login: Login { command: LOGIN, note: None },
        }),
        other => Err(BackendError::Unreachable(format!("Vault answered {other}"))),
    }
}
