//! Vault KV, at `VAULT_ADDR` with `VAULT_TOKEN` or the token `vault login` saved in
//! `~/.vault-token`, and `VAULT_NAMESPACE` when set. The mount's version is asked first
//! (`sys/internal/ui/mounts/MOUNT`, as `vault kv` does); on version 2, whether a secret exists
//! and its current version is live, from `metadata/PATH` (never `data/`); on version 1, where
//! any read returns the value, from a LIST of the parent folder (names only). Neither can
//! tell whether the value's key is in the secret; External Secrets' sync shows that. Written
//! with `vault kv put` / `vault kv patch`, the value on stdin.

use futures::future::BoxFuture;
use serde::Deserialize;

use super::{
    Answer, Asked, Backend, BackendError, BackendKind, Cli, Context, Expected, Field, Fields,
    Finding, Listing, Login, NotFound, Place, Source, ValueFrom, Write, encode, get, read_small,
};
use crate::place::names::{self, InvalidName};
use crate::shell::{Word, lit, raw};

const LOGIN: &[&str] = &["vault", "login"];

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
        rule: Some((property, "data key")),
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
    if path.starts_with('-') {
        return Err(InvalidName {
            rule: RULE,
            why: "it starts with '-', which the vault CLI would read as an option".to_owned(),
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

/// The key in a Vault secret's data: a data key that the vault CLI can take (`KEY=-`).
fn property(key: &str) -> Result<(), InvalidName> {
    names::kubernetes_key(key)?;
    if key.starts_with('-') {
        return Err(InvalidName {
            rule: "a property is letters, digits, '-', '_' and '.', not starting with '-'",
            why: "it starts with '-', which the vault CLI would read as an option".to_owned(),
        });
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

    fn fields_from_store(&self, provider: &serde_json::Value) -> Vec<(&'static str, String)> {
        super::fields_at(provider, &[("mount", &["path"])])
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

/// How Greenlight reaches Vault: its address, a token, and the namespace when set.
struct Vault<'a> {
    cx: &'a Context,
    address: String,
    token: String,
}

impl Vault<'_> {
    /// A GET of `path` (below `/v1/`), with the token and namespace.
    async fn get(&self, path: &str) -> Result<Answer, BackendError> {
        let url = format!("{}/v1/{path}", self.address.trim_end_matches('/'));
        let mut request = get(&url, ("x-vault-token", &self.token))?;
        if let Some(namespace) = self.cx.env.var("VAULT_NAMESPACE")
            && let Ok(value) = http::HeaderValue::from_str(namespace)
        {
            request.headers_mut().insert("x-vault-namespace", value);
        }
        self.cx.http.send(request).await
    }
}

fn encoded(path: &str) -> String {
    path.split('/').map(encode).collect::<Vec<_>>().join("/")
}

/// The KV version of a mount.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
enum Kv {
    V1,
    V2,
}

#[derive(Deserialize)]
struct MountAnswer {
    data: MountData,
}

#[derive(Deserialize)]
struct MountData {
    #[serde(default)]
    options: Option<std::collections::BTreeMap<String, String>>,
}

/// The one reading of `sys/internal/ui/mounts/MOUNT`, as `vault kv` reads it: version 2 when
/// its options say so, else 1; a Vault too old to answer (404) has version 1 mounts.
fn mount_version(answer: &Answer, mount: &str) -> Result<Kv, BackendError> {
    match answer.status {
        200 => {
            let found: MountAnswer = answer.json().ok_or_else(|| {
                BackendError::Unreachable("Vault's answer about the mount is not one".to_owned())
            })?;
            let version = found.data.options.and_then(|o| o.get("version").cloned());
            Ok(if version.as_deref() == Some("2") { Kv::V2 } else { Kv::V1 })
        }
        404 if answer.is_json() => Ok(Kv::V1),
        // Vault answers 403 for a mount that does not exist too, so it cannot be listed.
        403 => Err(BackendError::Forbidden(format!(
            "any access to the mount `{mount}` (or there is no such mount: `vault secrets list` shows them; Vault answers 403 for an expired token too: `vault login`)"
        ))),
        _ => Err(refused(answer, mount)),
    }
}

/// A missing KV version 2 secret: 404 with no errors.
const NOT_FOUND: NotFound =
    NotFound { status: 404, pointer: "/errors", expected: Expected::EmptyArray };

#[derive(Deserialize)]
struct Metadata {
    data: MetadataData,
}

#[derive(Deserialize)]
struct MetadataData {
    current_version: u64,
    versions: std::collections::BTreeMap<String, VersionMeta>,
}

#[derive(Deserialize)]
struct VersionMeta {
    #[serde(default)]
    created_time: String,
    #[serde(default)]
    deletion_time: String,
    #[serde(default)]
    destroyed: bool,
}

/// The one reading of KV version 2 metadata.
fn metadata(answer: &Answer, mount: &str, path: &str) -> Result<Finding, BackendError> {
    if let Some(absent) = NOT_FOUND.proves(answer) {
        return Ok(Finding::Missing(absent));
    }
    if answer.status != 200 {
        return Err(refused(answer, &format!("{mount}/metadata/{path}")));
    }
    let meta: Metadata = answer.json().ok_or_else(|| {
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
        Some(v) if v.destroyed => Finding::Wrong(
            "its current version is destroyed: write a new one (the Rotate command)".to_owned(),
        ),
        Some(v) if deleted(v) => Finding::Wrong(
            "its current version is deleted: undelete it (`vault kv undelete`) or write a new one"
                .to_owned(),
        ),
        Some(v) => {
            Finding::Present { changed: humantime::parse_rfc3339_weak(&v.created_time).ok() }
        }
        None => Finding::Wrong("it has no versions".to_owned()),
    })
}

#[derive(Deserialize)]
struct Keys {
    data: KeysData,
}

#[derive(Deserialize)]
struct KeysData {
    keys: Vec<String>,
}

/// The one reading of a KV version 1 LIST of a folder: its keys, or (404 with no errors) an
/// empty folder. A LIST never returns values.
fn folder(answer: &Answer, at: &str) -> Result<Listing, BackendError> {
    if NOT_FOUND.proves(answer).is_some() {
        return Ok(Listing::complete(Vec::new()));
    }
    if answer.status != 200 {
        return Err(refused(answer, &format!("list on {at}")));
    }
    answer
        .json::<Keys>()
        .map(|k| Listing::complete(k.data.keys))
        .ok_or_else(|| BackendError::Unreachable("Vault's answer is not a list of keys".to_owned()))
}

/// Why an answer is no answer.
fn refused(answer: &Answer, what: &str) -> BackendError {
    match answer.status {
        401 => BackendError::Credentials {
            message: "Vault refused the token".to_owned(),
            login: Login::run(LOGIN),
        },
        403 => BackendError::Forbidden(format!(
            "read on {what} (Vault answers 403 for an expired token too: `vault login`)"
        )),
        404 if answer.is_json() => BackendError::Unreachable(format!(
            "Vault has no KV secrets engine serving `{what}` (check the backend's mount, or `vault secrets list`)"
        )),
        _ => answer.failure("Vault"),
    }
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
            login: Login::run(LOGIN),
        });
    };
    let vault = Vault { cx, address: address.to_owned(), token };
    // A mount's version is asked once in a while, as `vault kv` asks it before every call.
    let memo = format!("vault-kv-version {address} {mount}");
    let version = match cx.memo.get(&memo).as_deref() {
        Some("1") => Kv::V1,
        Some("2") => Kv::V2,
        _ => {
            let answer = vault.get(&format!("sys/internal/ui/mounts/{}", encoded(mount))).await?;
            let version = mount_version(&answer, mount)?;
            let text = if version == Kv::V1 { "1" } else { "2" };
            cx.memo.put(&memo, text.to_owned(), std::time::Duration::from_secs(600));
            version
        }
    };
    match version {
        Kv::V2 => {
            // One LIST of the folder per round answers for every value not in it (names only);
            // a folder that may not be listed leaves each value to its metadata.
            let (parent, name) = path.rsplit_once('/').unwrap_or(("", path));
            let at = format!("{mount}/metadata/{parent}");
            let key = format!("vault-kv2 {address} {at}");
            let listing = cx
                .listing(&key, || async {
                    let answer = vault.get(&format!("{}?list=true", encoded(&at))).await?;
                    folder(&answer, &at)
                })
                .await;
            if let Ok(listing) = &listing
                && let Some(absent) = listing.proves_absent(name)
            {
                return Ok(Finding::Missing(absent));
            }
            let answer =
                vault.get(&format!("{}/metadata/{}", encoded(mount), encoded(path))).await?;
            metadata(&answer, mount, path)
        }
        Kv::V1 => {
            let (parent, name) = path.rsplit_once('/').unwrap_or(("", path));
            let at = if parent.is_empty() { mount.to_owned() } else { format!("{mount}/{parent}") };
            let key = format!("vault-kv1 {address} {at}");
            let listing = cx
                .listing(&key, || async {
                    let answer = vault.get(&format!("{}?list=true", encoded(&at))).await?;
                    folder(&answer, &at)
                })
                .await?;
            Ok(match listing.proves_absent(name) {
                Some(absent) => Finding::Missing(absent),
                None => Finding::Present { changed: None },
            })
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn a_key_the_cli_would_read_as_an_option_is_refused() {
        assert!(VaultKv.check_key("-platform/db").is_err());
        assert!(VaultKv.check_key("-platform/db".trim_start_matches('-')).is_ok());
    }

    fn answer(status: u16, content_type: &str, body: &str) -> Answer {
        Answer::new(status, content_type, body.as_bytes().to_vec().into(), None)
    }

    const JSON: &str = "application/json";

    #[test]
    fn the_mount_says_its_version() {
        let v2 = r#"{"data":{"path":"secret/","type":"kv","options":{"version":"2"}}}"#;
        let v1 = r#"{"data":{"path":"kv/","type":"kv","options":{"version":"1"}}}"#;
        assert_eq!(mount_version(&answer(200, JSON, v2), "secret"), Ok(Kv::V2));
        assert_eq!(mount_version(&answer(200, JSON, v1), "kv"), Ok(Kv::V1));
        assert_eq!(
            mount_version(&answer(200, JSON, r#"{"data":{"options":null}}"#), "kv"),
            Ok(Kv::V1)
        );
        assert_eq!(mount_version(&answer(404, JSON, r#"{"errors":[]}"#), "kv"), Ok(Kv::V1));
        let preflight = r#"{"errors":["preflight capability check returned 403, please ensure client's policies grant access to path \"nope/\""]}"#;
        assert!(matches!(
            mount_version(&answer(403, JSON, preflight), "nope"),
            Err(BackendError::Forbidden(_))
        ));
        assert!(mount_version(&answer(404, "text/html", "<html/>"), "kv").is_err());
        assert!(mount_version(&answer(200, JSON, "{}"), "kv").is_err());
    }

    #[test]
    fn only_a_kv2_not_found_is_missing() {
        let read = |a: &Answer| metadata(a, "secret", "platform/hf-token");
        assert!(matches!(read(&answer(404, JSON, r#"{"errors":[]}"#)), Ok(Finding::Missing(_))));
        let live = r#"{"data":{"current_version":2,"versions":{"2":{"created_time":"2026-02-01T00:00:00Z","deletion_time":"","destroyed":false}}}}"#;
        assert!(matches!(
            read(&answer(200, JSON, live)),
            Ok(Finding::Present { changed: Some(_) })
        ));
        for (status, content_type, body) in [
            (404, "text/html", "<html><h1>404 Not Found</h1></html>"),
            (404, JSON, r#"{"errors":["no handler for route \"kv/metadata/x\""]}"#),
            (404, JSON, "{}"),
            (403, JSON, r#"{"errors":["permission denied"]}"#),
            (429, JSON, "{}"),
            (503, JSON, r#"{"errors":["Vault is sealed"]}"#),
            (200, JSON, r#"{"data":{}}"#),
            (200, JSON, r#"{"data":{"current_versi"#),
        ] {
            let got = read(&answer(status, content_type, body));
            assert!(got.is_err(), "{status} {body}: {got:?}");
        }
    }

    #[test]
    fn on_kv1_a_folder_listing_decides() {
        let listed = folder(
            &answer(200, JSON, r#"{"data":{"keys":["hf-token","nested/"]}}"#),
            "kv/platform",
        )
        .unwrap();
        assert!(listed.proves_absent("hf-token").is_none());
        assert!(listed.proves_absent("hf-tokn").is_some());
        let empty = folder(&answer(404, JSON, r#"{"errors":[]}"#), "kv/platform").unwrap();
        assert!(empty.proves_absent("hf-token").is_some());
        for (status, content_type, body) in [
            (404, "text/html", "<html/>"),
            (403, JSON, r#"{"errors":["permission denied"]}"#),
            (200, JSON, r#"{"data":{}}"#),
            (500, JSON, "{}"),
        ] {
            assert!(
                folder(&answer(status, content_type, body), "kv/x").is_err(),
                "{status} {body}"
            );
        }
    }
}
