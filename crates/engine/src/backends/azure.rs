//! Azure Key Vault: whether a secret exists and its latest version is usable, from the names
//! list (`GET {vault}/secrets`) and the secret's versions (`GET {vault}/secrets/{name}/versions`),
//! attributes only: never `GET {vault}/secrets/{name}`, which returns the value. The vault is
//! named by its name (public cloud) or its URL (sovereign clouds: `vault.azure.cn`,
//! `vault.usgovcloudapi.net`; plain http only to this machine). Credentials as the Azure SDKs
//! read them: `AZURE_CLIENT_ID`, `AZURE_CLIENT_SECRET` and `AZURE_TENANT_ID` (with
//! `AZURE_AUTHORITY_HOST`), else the Azure CLI's login (`az account get-access-token`, run
//! like a credential plugin: no terminal, under a timeout, its output never shown). Written
//! with `az keyvault secret set --file`, whose output (the secret, value included) is dropped.
//! Over 600 lines because a backend is one file by design (the registry's rule), tests
//! included.

use std::time::{Duration, SystemTime};

use bytes::Bytes;
use futures::future::BoxFuture;
use http::Request;
use http_body_util::Full;
use serde::Deserialize;

use super::{
    Answer, Asked, Backend, BackendError, BackendKind, Cli, Context, Env, Expected, Field, Fields,
    Finding, Listing, Login, NotFound, Place, Source, ValueFrom, Write, encode, get,
};
use crate::place::names::InvalidName;
use crate::shell::{Word, lit, raw};

const LOGIN: &[&str] = &["az", "login"];
const API: &str = "api-version=7.4";

/// Azure Key Vault.
pub(crate) struct KeyVault;

const FIELDS: &[Field] = &[
    Field {
        name: "vault",
        doc: "The vault's name, in Azure's public cloud (its address is https://NAME.vault.azure.net). Give this or `vault_url`.",
        required: false,
        rule: Some((vault_name, "Key Vault name")),
    },
    Field {
        name: "vault_url",
        doc: "The vault's address, e.g. `https://acme.vault.azure.cn` in a sovereign cloud. Give this or `vault`.",
        required: false,
        rule: Some((vault_url, "Key Vault address")),
    },
];

/// A vault name: 3 to 24 letters, digits and dashes, starting with a letter.
fn vault_name(name: &str) -> Result<(), InvalidName> {
    const RULE: &str = "a Key Vault name is 3 to 24 letters, digits and '-', starting with a letter, ending with a letter or digit, without '--'";
    let broken = |why: String| Err(InvalidName { rule: RULE, why });
    if !(3..=24).contains(&name.len()) {
        return broken(format!("it is {} characters long", name.len()));
    }
    if let Some(bad) = name.chars().find(|c| !(c.is_ascii_alphanumeric() || *c == '-')) {
        return broken(format!("{bad:?} is not allowed"));
    }
    if !name.starts_with(|c: char| c.is_ascii_alphabetic()) || name.ends_with('-') {
        return broken("it does not start with a letter, or ends with '-'".to_owned());
    }
    if name.contains("--") {
        return broken("it contains '--'".to_owned());
    }
    Ok(())
}

/// A vault address: `https://HOST[/]`, or `http://` to this machine.
fn vault_url(url: &str) -> Result<(), InvalidName> {
    const RULE: &str = "a Key Vault address is https://NAME.vault.azure.net (or the sovereign cloud's domain), without a path; plain http only to this machine";
    let broken = |why: &str| Err(InvalidName { rule: RULE, why: why.to_owned() });
    let Ok(uri) = url.parse::<http::Uri>() else { return broken("it is not an address") };
    let loopback = uri.host().is_some_and(|h| {
        h == "localhost" || h.parse::<std::net::IpAddr>().is_ok_and(|ip| ip.is_loopback())
    });
    match uri.scheme_str() {
        Some("https") => {}
        Some("http") if loopback => {}
        _ => return broken("it is not an https address"),
    }
    if !uri.path().trim_end_matches('/').is_empty() || uri.query().is_some() {
        return broken("it has a path");
    }
    if uri.host().is_none_or(str::is_empty) {
        return broken("it names no host");
    }
    Ok(())
}

impl Backend for KeyVault {
    fn kind(&self) -> BackendKind {
        BackendKind::AzureKeyVault
    }

    fn name(&self) -> &'static str {
        "azure-key-vault"
    }

    fn title(&self) -> &'static str {
        "Azure Key Vault"
    }

    fn fields(&self) -> &'static [Field] {
        FIELDS
    }

    fn check_fields(&self, fields: &Fields) -> Vec<String> {
        match (fields.get("vault"), fields.get("vault_url")) {
            (None, None) => vec!["needs `vault: NAME` or `vault_url: https://…`".to_owned()],
            (Some(_), Some(_)) => vec!["gives both `vault` and `vault_url`; keep one".to_owned()],
            _ => Vec::new(),
        }
    }

    fn check_key(&self, name: &str) -> Result<(), InvalidName> {
        const RULE: &str =
            "a Key Vault secret name is 1 to 127 letters, digits and '-', not starting with '-'";
        if name.is_empty() || name.len() > 127 {
            return Err(InvalidName {
                rule: RULE,
                why: format!("it is {} characters long", name.len()),
            });
        }
        if let Some(bad) = name.chars().find(|c| !(c.is_ascii_alphanumeric() || *c == '-')) {
            return Err(InvalidName { rule: RULE, why: format!("{bad:?} is not allowed") });
        }
        if name.starts_with('-') {
            return Err(InvalidName {
                rule: RULE,
                why: "it starts with '-', which az would read as an option".to_owned(),
            });
        }
        Ok(())
    }

    fn place(&self, fields: &Fields, key: &str) -> Source {
        let url = match (fields.get("vault_url"), fields.get("vault")) {
            (Some(url), _) => url.trim_end_matches('/').to_owned(),
            (None, Some(name)) => format!("https://{name}.vault.azure.net"),
            (None, None) => String::new(),
        };
        Source::new(VaultSecret { url, name: key.to_owned() })
    }

    fn fields_from_store(&self, provider: &serde_json::Value) -> Vec<(&'static str, String)> {
        super::fields_at(provider, &[("vault_url", &["vaultUrl"])])
    }

    fn eso_provider(&self) -> &'static str {
        "azurekv"
    }

    fn env(&self) -> &'static [&'static str] {
        &["AZURE_CLIENT_ID", "AZURE_CLIENT_SECRET", "AZURE_TENANT_ID", "AZURE_AUTHORITY_HOST"]
    }

    fn cli(&self) -> Cli {
        Cli { program: "az", install: "https://learn.microsoft.com/cli/azure/install-azure-cli" }
    }
}

/// A secret in a vault at `url`.
struct VaultSecret {
    url: String,
    name: String,
}

impl VaultSecret {
    /// The vault's name, as `az --vault-name` takes it: the first label of its host.
    fn vault_name(&self) -> String {
        let host = self.url.parse::<http::Uri>().ok().and_then(|u| u.host().map(str::to_owned));
        host.unwrap_or_default().split('.').next().unwrap_or_default().to_owned()
    }

    fn whereabouts(&self) -> Vec<Word> {
        vec![
            lit(format!("--vault-name={}", self.vault_name())),
            lit(format!("--name={}", self.name)),
        ]
    }
}

impl Place for VaultSecret {
    fn backend(&self) -> &'static dyn Backend {
        &KeyVault
    }

    fn key(&self) -> &str {
        &self.name
    }

    fn describe(&self) -> String {
        format!("Key Vault {} secret {}", self.vault_name(), self.name)
    }

    fn asked(&self) -> Asked<'_> {
        Asked::Directly
    }

    fn verify_words(&self) -> Vec<Word> {
        let mut words = vec![lit("az"), lit("keyvault"), lit("secret"), lit("list-versions")];
        words.extend(self.whereabouts());
        words.extend([
            lit("--query"),
            lit("[].{version:id,enabled:attributes.enabled,updated:attributes.updated,expires:attributes.expires}"),
            lit("--output=table"),
        ]);
        words
    }

    fn write_words(&self, _write: Write, from: ValueFrom) -> Vec<Word> {
        let mut words = vec![lit("az"), lit("keyvault"), lit("secret"), lit("set")];
        words.extend(self.whereabouts());
        words.push(match from {
            ValueFrom::Stdin => lit("--file=/dev/stdin"),
            ValueFrom::File => raw("\"--file=$($file.FullName)\""),
        });
        // It prints the secret it set, value included: nothing is printed.
        words.extend([lit("--encoding=utf-8"), lit("--output=none"), lit("--only-show-errors")]);
        words
    }

    fn look<'a>(&'a self, cx: &'a Context) -> BoxFuture<'a, Result<Finding, BackendError>> {
        Box::pin(look(cx, &self.url, &self.name))
    }
}

/// The resource a vault's tokens are for: `https://vault.azure.net` in the public cloud (and
/// for a vault on this machine), the sovereign cloud's own otherwise.
fn resource(url: &str) -> &'static str {
    let host =
        url.parse::<http::Uri>().ok().and_then(|u| u.host().map(str::to_owned)).unwrap_or_default();
    if host.ends_with(".vault.azure.cn") {
        "https://vault.azure.cn"
    } else if host.ends_with(".vault.usgovcloudapi.net") {
        "https://vault.usgovcloudapi.net"
    } else if host.ends_with(".vault.microsoftazure.de") {
        "https://vault.microsoftazure.de"
    } else {
        "https://vault.azure.net"
    }
}

/// The authority that issues tokens for `resource`, unless `AZURE_AUTHORITY_HOST` says.
fn authority(env: &Env, resource: &str) -> String {
    let default = match resource {
        "https://vault.azure.cn" => "https://login.chinacloudapi.cn",
        "https://vault.usgovcloudapi.net" => "https://login.microsoftonline.us",
        "https://vault.microsoftazure.de" => "https://login.microsoftonline.de",
        _ => "https://login.microsoftonline.com",
    };
    env.var("AZURE_AUTHORITY_HOST").unwrap_or(default).trim_end_matches('/').to_owned()
}

fn not_logged_in(message: String) -> BackendError {
    BackendError::Credentials { message, login: Login::run(LOGIN) }
}

#[derive(Deserialize)]
struct TokenAnswer {
    access_token: String,
    #[serde(default)]
    expires_in: Option<u64>,
}

/// An access token for `resource`: a service principal from the environment, else the Azure
/// CLI's login; kept until a minute before it expires.
async fn token(cx: &Context, resource: &str) -> Result<String, BackendError> {
    let memo = format!("azure-token {resource}");
    if let Some(token) = cx.memo.get(&memo) {
        return Ok(token);
    }
    let env = &cx.env;
    let (token, lifetime) = match (
        env.var("AZURE_CLIENT_ID"),
        env.var("AZURE_CLIENT_SECRET"),
        env.var("AZURE_TENANT_ID"),
    ) {
        (Some(client), Some(secret), Some(tenant)) => {
            client_credentials(cx, resource, tenant, client, secret).await?
        }
        _ => cli_token(resource, env).await?,
    };
    cx.memo.put(
        &memo,
        token.clone(),
        lifetime.saturating_sub(Duration::from_secs(60)).max(Duration::from_secs(60)),
    );
    Ok(token)
}

async fn client_credentials(
    cx: &Context,
    resource: &str,
    tenant: &str,
    client: &str,
    secret: &str,
) -> Result<(String, Duration), BackendError> {
    let url = format!("{}/{}/oauth2/v2.0/token", authority(&cx.env, resource), encode(tenant));
    let body = [
        ("grant_type", "client_credentials"),
        ("client_id", client),
        ("client_secret", secret),
        ("scope", &format!("{resource}/.default")),
    ]
    .iter()
    .map(|(k, v)| format!("{k}={}", encode(v)))
    .collect::<Vec<_>>()
    .join("&");
    let request = Request::post(&url)
        .header(http::header::CONTENT_TYPE, "application/x-www-form-urlencoded")
        .header(http::header::ACCEPT, "application/json")
        .body(Full::new(Bytes::from(body)))
        .map_err(|_| {
            BackendError::Unreachable("AZURE_AUTHORITY_HOST is not a valid address".to_owned())
        })?;
    let answer = cx.http.send(request).await?;
    if answer.status != 200 {
        // The answer may echo what was sent; only the status is kept.
        return Err(BackendError::Credentials {
            message: format!(
                "Microsoft Entra ID refused the service principal in AZURE_CLIENT_ID ({}); its secret may have expired",
                answer.status
            ),
            login: Login {
                command: super::LoginCommand::Run(LOGIN),
                note: Some("the service principal comes from AZURE_CLIENT_ID, AZURE_CLIENT_SECRET and AZURE_TENANT_ID, which win over `az login`: correct them, or unset them to use your login".to_owned()),
            },
        });
    }
    let token: TokenAnswer = answer.json().ok_or_else(|| {
        BackendError::Unreachable("Microsoft Entra ID's token answer is not JSON".to_owned())
    })?;
    Ok((token.access_token, Duration::from_secs(token.expires_in.unwrap_or(3600))))
}

#[derive(Deserialize)]
struct CliToken {
    #[serde(rename = "accessToken")]
    access_token: String,
    #[serde(default)]
    expires_on: Option<u64>,
}

/// The Azure CLI's token for `resource`, as a credential plugin is run: no terminal, stdin
/// closed, killed after 20 s; its output is read, never shown.
async fn cli_token(resource: &str, env: &Env) -> Result<(String, Duration), BackendError> {
    if !env.has_program("az") {
        return Err(not_logged_in(
            "no Azure credentials: set AZURE_CLIENT_ID, AZURE_CLIENT_SECRET and AZURE_TENANT_ID, or install the Azure CLI and run `az login`".to_owned(),
        ));
    }
    let mut command = tokio::process::Command::new("az");
    command
        .args(["account", "get-access-token", "--resource", resource, "--output", "json"])
        .stdin(std::process::Stdio::null())
        .stdout(std::process::Stdio::piped())
        .stderr(std::process::Stdio::null())
        .kill_on_drop(true);
    let ran = tokio::time::timeout(Duration::from_secs(20), command.output()).await;
    let output = match ran {
        Ok(Ok(output)) => output,
        Ok(Err(_)) => return Err(not_logged_in("the Azure CLI could not be run".to_owned())),
        Err(_) => return Err(not_logged_in("the Azure CLI did not answer within 20 s".to_owned())),
    };
    if !output.status.success() {
        return Err(not_logged_in(format!(
            "the Azure CLI has no login for {resource} (az account get-access-token exited with {}); log in again",
            output.status.code().map_or("a signal".to_owned(), |c| c.to_string())
        )));
    }
    let token: CliToken = serde_json::from_slice(&output.stdout)
        .map_err(|_| not_logged_in("the Azure CLI's answer is not a token".to_owned()))?;
    let now = SystemTime::now().duration_since(SystemTime::UNIX_EPOCH).map_or(0, |d| d.as_secs());
    let lifetime = token
        .expires_on
        .map_or(Duration::from_secs(300), |at| Duration::from_secs(at.saturating_sub(now)));
    Ok((token.access_token, lifetime))
}

/// Key Vault's documented not-found: 404 with `error.code` `SecretNotFound`.
const NOT_FOUND: NotFound =
    NotFound { status: 404, pointer: "/error/code", expected: Expected::Text("SecretNotFound") };

#[derive(Deserialize)]
struct Items {
    value: Vec<Item>,
    #[serde(default, rename = "nextLink")]
    next: Option<String>,
}

#[derive(Deserialize)]
struct Item {
    id: String,
    #[serde(default)]
    attributes: Attributes,
}

#[derive(Deserialize, Default)]
struct Attributes {
    #[serde(default)]
    enabled: Option<bool>,
    #[serde(default)]
    exp: Option<u64>,
    #[serde(default)]
    nbf: Option<u64>,
    #[serde(default)]
    created: Option<u64>,
    #[serde(default)]
    updated: Option<u64>,
}

/// Why an answer is no answer.
fn refused(answer: &Answer, vault: &str) -> BackendError {
    match answer.status {
        401 => not_logged_in("Key Vault refused the access token (401)".to_owned()),
        403 => BackendError::Forbidden(format!(
            "listing secrets in {vault} (the Key Vault Reader role, or an access policy with List on secrets)"
        )),
        _ => answer.failure("Key Vault"),
    }
}

/// The one reading of a page of the names list: the names, and the next page.
fn names_page(answer: &Answer, vault: &str) -> Result<(Vec<String>, Option<String>), BackendError> {
    if answer.status != 200 {
        return Err(refused(answer, vault));
    }
    let page: Items = answer.json().ok_or_else(|| {
        BackendError::Unreachable("Key Vault's answer is not a list of secrets".to_owned())
    })?;
    let names =
        page.value.iter().filter_map(|i| i.id.rsplit('/').next()).map(str::to_owned).collect();
    Ok((names, page.next.filter(|n| !n.is_empty())))
}

/// The one reading of a secret's versions: its latest version's state.
fn versions(answer: &Answer, vault: &str, name: &str, now: u64) -> Result<Finding, BackendError> {
    if let Some(absent) = NOT_FOUND.proves(answer) {
        return Ok(Finding::Missing(absent));
    }
    if answer.status != 200 {
        return Err(refused(answer, vault));
    }
    let page: Items = answer.json().ok_or_else(|| {
        BackendError::Unreachable("Key Vault's answer is not a list of versions".to_owned())
    })?;
    let Some(latest) = page.value.iter().max_by_key(|i| i.attributes.created.unwrap_or(0)) else {
        return Ok(Finding::Wrong(format!(
            "the secret {name} has no versions: set a value (the Rotate command)"
        )));
    };
    let at = &latest.attributes;
    Ok(if at.enabled == Some(false) {
        Finding::Wrong(
            "its latest version is disabled: enable it, or set a new value (the Rotate command)"
                .to_owned(),
        )
    } else if at.exp.is_some_and(|exp| exp <= now) {
        Finding::Wrong(
            "its latest version has expired: set a new value (the Rotate command)".to_owned(),
        )
    } else if at.nbf.is_some_and(|nbf| nbf > now) {
        Finding::Wrong("its latest version is not active yet (not before a later date)".to_owned())
    } else {
        let changed =
            at.updated.or(at.created).map(|s| SystemTime::UNIX_EPOCH + Duration::from_secs(s));
        Finding::Present { changed }
    })
}

/// Most pages of the names list read (25 names each) before asking one by one instead.
const MAX_PAGES: usize = 200;

async fn list(cx: &Context, url: &str, bearer: &str) -> Result<Listing, BackendError> {
    let mut names = Vec::new();
    let mut next = Some(format!("{url}/secrets?{API}&maxresults=25"));
    for _ in 0..MAX_PAGES {
        let Some(page) = next.take() else { return Ok(Listing::complete(names)) };
        // Follow nextLink only on the vault's own address.
        if !page.starts_with(url) {
            return Err(BackendError::Unreachable(
                "Key Vault's next page is on another address".to_owned(),
            ));
        }
        let answer = cx.http.send(get(&page, ("authorization", bearer))?).await?;
        let (found, more) = names_page(&answer, url)?;
        names.extend(found);
        next = more;
    }
    Err(BackendError::Unreachable(format!("{url} has more than {} secrets", MAX_PAGES * 25)))
}

async fn look(cx: &Context, url: &str, name: &str) -> Result<Finding, BackendError> {
    let resource = resource(url);
    let token = token(cx, resource).await?;
    let bearer = format!("Bearer {token}");
    let listing = cx.listing(&format!("azure {url}"), || list(cx, url, &bearer)).await;
    if let Ok(listing) = &listing
        && let Some(absent) = listing.proves_absent(name)
    {
        return Ok(Finding::Missing(absent));
    }
    let versions_url = format!("{url}/secrets/{}/versions?{API}&maxresults=25", encode(name));
    let answer = cx.http.send(get(&versions_url, ("authorization", &bearer))?).await?;
    if answer.status == 401 {
        cx.memo.forget(&format!("azure-token {resource}"));
    }
    let now = SystemTime::now().duration_since(SystemTime::UNIX_EPOCH).map_or(0, |d| d.as_secs());
    versions(&answer, url, name, now)
}

#[cfg(test)]
mod tests {
    use super::*;

    fn answer(status: u16, content_type: &str, body: &str) -> Answer {
        Answer::new(status, content_type, body.as_bytes().to_vec().into(), None)
    }

    const JSON: &str = "application/json; charset=utf-8";

    #[test]
    fn only_secret_not_found_is_missing() {
        let read = |a: &Answer| versions(a, "https://v.vault.azure.net", "db", 1_000);
        let missing = r#"{"error":{"code":"SecretNotFound","message":"A secret with (name/id) db was not found in this key vault."}}"#;
        assert!(matches!(read(&answer(404, JSON, missing)), Ok(Finding::Missing(_))));
        let live = r#"{"value":[{"id":"https://v.vault.azure.net/secrets/db/1","attributes":{"enabled":true,"created":100,"updated":200}}],"nextLink":null}"#;
        assert!(matches!(
            read(&answer(200, JSON, live)),
            Ok(Finding::Present { changed: Some(_) })
        ));
        for (status, content_type, body) in [
            (404, "text/html", "<html>404</html>"),
            (404, JSON, r#"{"error":{"code":"NotFound"}}"#),
            (
                401,
                JSON,
                r#"{"error":{"code":"Unauthorized","message":"Request is missing a Bearer or PoP token."}}"#,
            ),
            (
                403,
                JSON,
                r#"{"error":{"code":"Forbidden","innererror":{"code":"ForbiddenByRbac"}}}"#,
            ),
            (429, JSON, "{}"),
            (503, "text/plain", "busy"),
            (200, JSON, r#"{"valu"#),
        ] {
            let got = read(&answer(status, content_type, body));
            assert!(got.is_err(), "{status} {body}: {got:?}");
        }
    }

    #[test]
    fn disabled_expired_and_early_versions_are_wrong() {
        let read = |attributes: &str| {
            let body = format!(
                r#"{{"value":[{{"id":"https://v/secrets/db/1","attributes":{attributes}}}]}}"#
            );
            versions(&answer(200, JSON, &body), "v", "db", 1_000)
        };
        assert!(matches!(read(r#"{"enabled":false,"created":1}"#), Ok(Finding::Wrong(_))));
        assert!(matches!(read(r#"{"enabled":true,"created":1,"exp":500}"#), Ok(Finding::Wrong(_))));
        assert!(matches!(
            read(r#"{"enabled":true,"created":1,"nbf":5000}"#),
            Ok(Finding::Wrong(_))
        ));
        assert!(matches!(
            read(r#"{"enabled":true,"created":1,"exp":5000}"#),
            Ok(Finding::Present { .. })
        ));
        let empty = versions(&answer(200, JSON, r#"{"value":[]}"#), "v", "db", 1_000);
        assert!(matches!(empty, Ok(Finding::Wrong(_))));
    }

    #[test]
    fn the_names_list_is_read_whole() {
        let page = r#"{"value":[{"id":"https://v.vault.azure.net/secrets/db"},{"id":"https://v.vault.azure.net/secrets/api-key"}],"nextLink":"https://v.vault.azure.net/secrets?api-version=7.4&$skiptoken=x"}"#;
        let (names, next) = names_page(&answer(200, JSON, page), "v").unwrap();
        assert_eq!(names, ["db", "api-key"]);
        assert!(next.is_some());
        assert!(names_page(&answer(200, JSON, r#"{"nextLink":null}"#), "v").is_err());
        assert!(matches!(
            names_page(&answer(403, JSON, "{}"), "v"),
            Err(BackendError::Forbidden(_))
        ));
    }

    #[test]
    fn vaults_are_named_or_addressed_and_sovereign_clouds_keep_their_resource() {
        assert!(vault_name("acme-prod").is_ok());
        assert!(vault_name("1acme").is_err());
        assert!(vault_name("a--b").is_err());
        assert!(vault_url("https://acme.vault.azure.cn").is_ok());
        assert!(vault_url("http://127.0.0.1:8443").is_ok());
        assert!(vault_url("http://acme.vault.azure.net").is_err());
        assert!(vault_url("https://acme.vault.azure.net/secrets").is_err());
        assert_eq!(resource("https://acme.vault.azure.cn"), "https://vault.azure.cn");
        assert_eq!(
            resource("https://acme.vault.usgovcloudapi.net"),
            "https://vault.usgovcloudapi.net"
        );
        assert_eq!(resource("http://127.0.0.1:9"), "https://vault.azure.net");
        assert_eq!(
            authority(&Env::default(), "https://vault.azure.cn"),
            "https://login.chinacloudapi.cn"
        );
        let env = Env::default().with_var("AZURE_AUTHORITY_HOST", "http://127.0.0.1:9/");
        assert_eq!(authority(&env, "https://vault.azure.net"), "http://127.0.0.1:9");
        assert!(KeyVault.check_key("-db").is_err());
        assert!(KeyVault.check_key("db-password").is_ok());
        assert!(KeyVault.check_key("db_password").is_err());
    }
}
