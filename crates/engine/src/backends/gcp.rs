//! Google Secret Manager: whether a secret has an enabled `latest` version, from the
//! version's metadata (`GET .../versions/latest`, never `:access`), with Application Default
//! Credentials (an `authorized_user` from `gcloud auth application-default login`, or a
//! service-account key). The endpoint honours gcloud's
//! `CLOUDSDK_API_ENDPOINT_OVERRIDES_SECRETMANAGER`. Written with `gcloud secrets`.
//! Over 600 lines because a backend is one file by design (the registry's rule), tests included.

use std::path::PathBuf;
use std::time::{Duration, SystemTime};

use base64::Engine;
use bytes::Bytes;
use futures::future::BoxFuture;
use http::Request;
use http_body_util::Full;
use serde::Deserialize;

use super::{
    Answer, Asked, Backend, BackendError, BackendKind, Cli, Context, Env, Expected, Field, Fields,
    Finding, Listing, Login, NotFound, Place, Source, ValueFrom, Write, encode, get, read_small,
};
use crate::place::names::InvalidName;
use crate::shell::{Word, lit, raw};

const LOGIN: &[&str] = &["gcloud", "auth", "application-default", "login"];
const DEFAULT_TOKEN_URI: &str = "https://oauth2.googleapis.com/token";

/// Google Secret Manager.
pub(crate) struct SecretManager;

const FIELDS: &[Field] = &[Field {
    name: "project",
    doc: "Google Cloud project ID. Default: the operator's gcloud project.",
    required: false,
    rule: Some((project_id, "Google Cloud project ID")),
}];

/// Google Cloud project ID.
fn project_id(name: &str) -> Result<(), InvalidName> {
    const RULE: &str = "a project ID is 6 to 30 lowercase letters, digits and '-', starting with a letter and not ending with '-'";
    let broken = |why: String| Err(InvalidName { rule: RULE, why });
    if !(6..=30).contains(&name.len()) {
        return broken(format!("it is {} characters long", name.len()));
    }
    if let Some(bad) =
        name.chars().find(|c| !(c.is_ascii_lowercase() || c.is_ascii_digit() || *c == '-'))
    {
        return broken(format!("{bad:?} is not allowed"));
    }
    if !name.starts_with(|c: char| c.is_ascii_lowercase()) || name.ends_with('-') {
        return broken("it does not start with a letter, or ends with '-'".to_owned());
    }
    Ok(())
}

impl Backend for SecretManager {
    fn kind(&self) -> BackendKind {
        BackendKind::GcpSecretManager
    }

    fn name(&self) -> &'static str {
        "gcp-secret-manager"
    }

    fn title(&self) -> &'static str {
        "Google Secret Manager"
    }

    fn fields(&self) -> &'static [Field] {
        FIELDS
    }

    fn check_key(&self, name: &str) -> Result<(), InvalidName> {
        const RULE: &str =
            "a Secret Manager secret ID is 1 to 255 ASCII letters, digits, '-' and '_'";
        if name.is_empty() || name.len() > 255 {
            return Err(InvalidName {
                rule: RULE,
                why: format!("it is {} characters long", name.len()),
            });
        }
        if let Some(bad) =
            name.chars().find(|c| !(c.is_ascii_alphanumeric() || matches!(c, '-' | '_')))
        {
            return Err(InvalidName { rule: RULE, why: format!("{bad:?} is not allowed") });
        }
        if name.starts_with('-') {
            return Err(InvalidName {
                rule: RULE,
                why: "it starts with '-', which gcloud would read as an option".to_owned(),
            });
        }
        Ok(())
    }

    fn place(&self, fields: &Fields, key: &str) -> Source {
        Source::new(GcpSecret {
            project: fields.get("project").map(str::to_owned),
            secret: key.to_owned(),
        })
    }

    fn fields_from_store(&self, provider: &serde_json::Value) -> Vec<(&'static str, String)> {
        super::fields_at(provider, &[("project", &["projectID"])])
    }

    fn eso_provider(&self) -> &'static str {
        "gcpsm"
    }

    fn env(&self) -> &'static [&'static str] {
        &[
            "GOOGLE_APPLICATION_CREDENTIALS",
            "GOOGLE_CLOUD_PROJECT",
            "CLOUDSDK_CONFIG",
            "CLOUDSDK_CORE_PROJECT",
            "CLOUDSDK_API_ENDPOINT_OVERRIDES_SECRETMANAGER",
        ]
    }

    fn cli(&self) -> Cli {
        Cli { program: "gcloud", install: "https://cloud.google.com/sdk/docs/install" }
    }
}

/// A secret in Secret Manager.
struct GcpSecret {
    /// Project ID; `None` means the operator's gcloud project.
    project: Option<String>,
    secret: String,
}

impl Place for GcpSecret {
    fn backend(&self) -> &'static dyn Backend {
        &SecretManager
    }

    fn key(&self) -> &str {
        &self.secret
    }

    fn describe(&self) -> String {
        match &self.project {
            Some(project) => format!("Secret Manager projects/{project}/secrets/{}", self.secret),
            None => format!("Secret Manager secret {}", self.secret),
        }
    }

    fn asked(&self) -> Asked<'_> {
        Asked::Directly
    }

    fn verify_words(&self) -> Vec<Word> {
        let mut words = vec![
            lit("gcloud"),
            lit("secrets"),
            lit("versions"),
            lit("describe"),
            lit("latest"),
            lit(format!("--secret={}", self.secret)),
        ];
        words.extend(self.project.iter().map(|p| lit(format!("--project={p}"))));
        words.push(lit("--format=value(name,state,createTime)"));
        words
    }

    fn write_words(&self, write: Write, from: ValueFrom) -> Vec<Word> {
        let mut words = vec![lit("gcloud"), lit("secrets")];
        if write == Write::Create {
            words.extend([lit("create"), lit(self.secret.clone())]);
            words.push(lit("--replication-policy=automatic"));
        } else {
            words.extend([lit("versions"), lit("add"), lit(self.secret.clone())]);
        }
        words.extend(self.project.iter().map(|p| lit(format!("--project={p}"))));
        // PowerShell splits an argument that starts with a quoted string before an expression,
        // so the file's name is one double-quoted word.
        words.push(match from {
            ValueFrom::Stdin => lit("--data-file=-"),
            ValueFrom::File => raw("\"--data-file=$($file.FullName)\""),
        });
        words
    }

    fn look<'a>(&'a self, cx: &'a Context) -> BoxFuture<'a, Result<Finding, BackendError>> {
        Box::pin(look(cx, self.project.as_deref(), &self.secret))
    }
}

/// The fields of an ADC file Greenlight uses.
#[derive(Deserialize)]
pub(super) struct Adc {
    #[serde(rename = "type", default)]
    kind: String,
    #[serde(default)]
    client_id: String,
    #[serde(default)]
    client_secret: String,
    #[serde(default)]
    refresh_token: String,
    #[serde(default)]
    client_email: String,
    #[serde(default)]
    private_key: String,
    #[serde(default)]
    token_uri: Option<String>,
    #[serde(default)]
    project_id: Option<String>,
    #[serde(default)]
    quota_project_id: Option<String>,
}

fn gcloud_dir(env: &Env) -> Option<PathBuf> {
    env.var("CLOUDSDK_CONFIG")
        .map(PathBuf::from)
        .or_else(|| env.home().map(|h| h.join(".config/gcloud")))
}

fn adc_path(env: &Env) -> Option<PathBuf> {
    env.var("GOOGLE_APPLICATION_CREDENTIALS")
        .map(PathBuf::from)
        .or_else(|| gcloud_dir(env).map(|d| d.join("application_default_credentials.json")))
}

fn no_credentials(why: &str) -> BackendError {
    BackendError::Credentials {
        message: format!("no usable Google Application Default Credentials: {why}"),
        login: Login::run(LOGIN),
    }
}

fn load_adc(env: &Env) -> Result<Adc, BackendError> {
    let path = adc_path(env).ok_or_else(|| no_credentials("no home directory"))?;
    let text = read_small(&path)
        .ok_or_else(|| no_credentials(&format!("{} cannot be read", path.display())))?;
    parse_adc(&text).map_err(|why| no_credentials(&format!("{}: {why}", path.display())))
}

/// Credentials of a supported kind from an ADC file's `text`, or why not.
pub(super) fn parse_adc(text: &str) -> Result<Adc, String> {
    let adc: Adc =
        serde_json::from_str(text).map_err(|_| "it is not a credentials file".to_owned())?;
    match adc.kind.as_str() {
        "authorized_user" | "service_account" => Ok(adc),
        other => Err(format!(
            "credentials of type `{}` are not supported here; use a user login or a service-account key",
            other.chars().filter(char::is_ascii_alphanumeric).take(40).collect::<String>()
        )),
    }
}

/// The project from the spec, else the one `gcloud` (which runs the commands) would use:
/// `CLOUDSDK_CORE_PROJECT`, then its configuration; then `GOOGLE_CLOUD_PROJECT` and a
/// service-account key's own project.
fn project(given: Option<&str>, adc: &Adc, env: &Env) -> Option<String> {
    given
        .map(str::to_owned)
        .or_else(|| env.var("CLOUDSDK_CORE_PROJECT").map(str::to_owned))
        .or_else(|| gcloud_project(env))
        .or_else(|| env.var("GOOGLE_CLOUD_PROJECT").map(str::to_owned))
        .or_else(|| adc.project_id.clone())
}

fn gcloud_project(env: &Env) -> Option<String> {
    let dir = gcloud_dir(env)?;
    let active = read_small(&dir.join("active_config"))
        .map(|t| t.trim().to_owned())
        .filter(|t| !t.is_empty())
        .unwrap_or_else(|| "default".to_owned());
    let config = read_small(&dir.join("configurations").join(format!("config_{active}")))?;
    let mut in_core = false;
    for line in config.lines().map(str::trim) {
        if line.starts_with('[') {
            in_core = line == "[core]";
        } else if in_core
            && let Some((key, value)) = line.split_once('=')
            && key.trim() == "project"
        {
            return Some(value.trim().to_owned()).filter(|v| !v.is_empty());
        }
    }
    None
}

#[derive(Deserialize)]
struct TokenAnswer {
    access_token: String,
    #[serde(default)]
    expires_in: Option<u64>,
}

fn form(pairs: &[(&str, &str)]) -> String {
    pairs.iter().map(|(k, v)| format!("{k}={}", encode(v))).collect::<Vec<_>>().join("&")
}

/// A signed JWT asking for a cloud-platform token as the service account.
fn assertion(adc: &Adc, audience: &str) -> Result<String, BackendError> {
    let invalid = || {
        no_credentials("the service-account key cannot be used (its private key does not parse)")
    };
    let der = adc.private_key.lines().filter(|l| !l.starts_with("-----")).collect::<String>();
    let der =
        base64::engine::general_purpose::STANDARD.decode(der.trim()).map_err(|_| invalid())?;
    let key = ring::signature::RsaKeyPair::from_pkcs8(&der).map_err(|_| invalid())?;
    let now = SystemTime::now().duration_since(SystemTime::UNIX_EPOCH).map_or(0, |d| d.as_secs());
    let url = base64::engine::general_purpose::URL_SAFE_NO_PAD;
    let header = url.encode(br#"{"alg":"RS256","typ":"JWT"}"#);
    let claims = serde_json::json!({
        "iss": adc.client_email,
        "scope": "https://www.googleapis.com/auth/cloud-platform",
        "aud": audience,
        "iat": now,
        "exp": now + 3600,
    });
    let message = format!("{header}.{}", url.encode(claims.to_string()));
    let mut signature = vec![0; key.public().modulus_len()];
    key.sign(
        &ring::signature::RSA_PKCS1_SHA256,
        &ring::rand::SystemRandom::new(),
        message.as_bytes(),
        &mut signature,
    )
    .map_err(|_| invalid())?;
    Ok(format!("{message}.{}", url.encode(signature)))
}

const TOKEN_MEMO: &str = "gcp-access-token";

/// An access token for `adc`, reused until a minute before it expires.
async fn token(cx: &Context, adc: &Adc) -> Result<String, BackendError> {
    if let Some(token) = cx.memo.get(TOKEN_MEMO) {
        return Ok(token);
    }
    let uri = adc.token_uri.clone().unwrap_or_else(|| DEFAULT_TOKEN_URI.to_owned());
    let body = if adc.kind == "service_account" {
        let jwt = assertion(adc, &uri)?;
        form(&[("grant_type", "urn:ietf:params:oauth:grant-type:jwt-bearer"), ("assertion", &jwt)])
    } else {
        form(&[
            ("grant_type", "refresh_token"),
            ("client_id", &adc.client_id),
            ("client_secret", &adc.client_secret),
            ("refresh_token", &adc.refresh_token),
        ])
    };
    let request = Request::post(&uri)
        .header(http::header::CONTENT_TYPE, "application/x-www-form-urlencoded")
        .header(http::header::ACCEPT, "application/json")
        .body(Full::new(Bytes::from(body)))
        .map_err(|_| no_credentials("the token address in the credentials is not valid"))?;
    let answer = cx.http.send(request).await?;
    if !(200..300).contains(&answer.status) {
        // The answer may echo what was sent; only the status is kept.
        return Err(BackendError::Credentials {
            message: format!(
                "Google refused the Application Default Credentials ({}); they may have expired or been revoked",
                answer.status
            ),
            login: Login::run(LOGIN),
        });
    }
    let answer: TokenAnswer = serde_json::from_slice(&answer.body)
        .map_err(|_| BackendError::Unreachable("Google's token answer is not JSON".to_owned()))?;
    let lifetime =
        Duration::from_secs(answer.expires_in.unwrap_or(3600).saturating_sub(60).max(60));
    cx.memo.put(TOKEN_MEMO, answer.access_token.clone(), lifetime);
    Ok(answer.access_token)
}

#[derive(Deserialize, Default)]
struct SecretList {
    /// Google leaves an empty list out of its JSON.
    #[serde(default)]
    secrets: Vec<SecretName>,
    #[serde(default, rename = "nextPageToken")]
    next: String,
}

#[derive(Deserialize)]
struct SecretName {
    name: String,
}

/// Most pages of the secrets list read (250 secrets each) before asking one by one instead.
const MAX_PAGES: usize = 40;

/// The secret IDs in `project`, from the secrets list (names and metadata, never payloads),
/// every page; an error when it cannot be read whole (no permission to list, too many), in
/// which case each value is asked for by itself.
async fn list(
    cx: &Context,
    endpoint: &str,
    project: &str,
    bearer: &str,
    quota: Option<&str>,
) -> Result<Listing, BackendError> {
    let mut ids = Vec::new();
    let mut token = String::new();
    for _ in 0..MAX_PAGES {
        let mut url = format!("{endpoint}/v1/projects/{}/secrets?pageSize=250", encode(project));
        if !token.is_empty() {
            url.push_str(&format!("&pageToken={}", encode(&token)));
        }
        let answer = cx.http.send(request(&url, bearer, quota)?).await?;
        let page: SecretList = match (answer.status, answer.json()) {
            (200, Some(page)) => page,
            _ => return Err(refused(&answer, project, "*")),
        };
        ids.extend(
            page.secrets
                .into_iter()
                .map(|s| s.name.rsplit('/').next().unwrap_or_default().to_owned()),
        );
        if page.next.is_empty() {
            return Ok(Listing::complete(ids));
        }
        token = page.next;
    }
    Err(BackendError::Unreachable(format!(
        "project {project} has more than {} secrets",
        MAX_PAGES * 250
    )))
}

#[derive(Deserialize)]
struct Version {
    state: String,
    #[serde(default, rename = "createTime")]
    create_time: Option<String>,
}

/// Secret Manager's documented not-found: 404 with `error.status` `NOT_FOUND`.
const NOT_FOUND: NotFound =
    NotFound { status: 404, pointer: "/error/status", expected: Expected::Text("NOT_FOUND") };

/// What the answer about `versions/latest` means.
#[derive(Debug, PartialEq, Eq)]
enum Latest {
    /// The secret has a latest version, in this state.
    Found(Finding),
    /// No such secret, or a secret without a version: the secret itself tells them apart.
    AskTheSecret,
}

/// The one reading of the answer about `versions/latest`.
fn latest(answer: &Answer, project: &str, secret: &str) -> Result<Latest, BackendError> {
    match answer.status {
        200 => {
            let version: Version = answer.json().ok_or_else(|| {
                BackendError::Unreachable(
                    "Secret Manager's answer is not a secret version".to_owned(),
                )
            })?;
            let changed =
                version.create_time.as_deref().and_then(|t| humantime::parse_rfc3339_weak(t).ok());
            Ok(Latest::Found(match version.state.as_str() {
                "ENABLED" => Finding::Present { changed },
                "DISABLED" => Finding::Wrong(format!(
                    "its latest version in project {project} is disabled: enable it (`gcloud secrets versions list {secret}` shows its number) or add a version (the Rotate command)"
                )),
                "DESTROYED" => Finding::Wrong(
                    "its latest version is destroyed: add a new version (the Rotate command)"
                        .to_owned(),
                ),
                _ => Finding::Wrong("its latest version is in an unknown state".to_owned()),
            }))
        }
        _ if NOT_FOUND.proves(answer).is_some() => Ok(Latest::AskTheSecret),
        _ => Err(refused(answer, project, secret)),
    }
}

/// The one reading of the answer about the secret itself, once `latest` was not found.
fn the_secret(answer: &Answer, project: &str, secret: &str) -> Result<Finding, BackendError> {
    if answer.status == 200 && answer.is_json() {
        return Ok(no_version(project));
    }
    match NOT_FOUND.proves(answer) {
        Some(absent) => Ok(Finding::Missing(absent)),
        None => Err(refused(answer, project, secret)),
    }
}

/// Why an answer is no answer: credentials, permission, throttling or something else.
fn refused(answer: &Answer, project: &str, secret: &str) -> BackendError {
    match answer.status {
        401 => BackendError::Credentials {
            message: "Secret Manager refused the access token (401)".to_owned(),
            login: Login::run(LOGIN),
        },
        403 => BackendError::Forbidden(format!(
            "secretmanager.versions.get on projects/{project}/secrets/{secret} (Google also answers this for a secret that does not exist when you may not see it)"
        )),
        _ => answer.failure("Secret Manager"),
    }
}

/// A GET to Secret Manager with the token and, when the credentials name one, the quota
/// project (every request, or Google refuses some with 403).
fn request(
    url: &str,
    bearer: &str,
    quota: Option<&str>,
) -> Result<Request<Full<Bytes>>, BackendError> {
    let mut request = get(url, ("authorization", bearer))?;
    if let Some(quota) = quota
        && let Ok(value) = http::HeaderValue::from_str(quota)
    {
        request.headers_mut().insert("x-goog-user-project", value);
    }
    Ok(request)
}

async fn look(
    cx: &Context,
    given_project: Option<&str>,
    secret: &str,
) -> Result<Finding, BackendError> {
    let adc = load_adc(&cx.env)?;
    let Some(project) = project(given_project, &adc, &cx.env) else {
        return Err(BackendError::Unreachable(
            "no Google Cloud project: set `project:` on the backend, or run `gcloud config set project PROJECT`".to_owned(),
        ));
    };
    let token = token(cx, &adc).await?;
    let endpoint = cx
        .env
        .var("CLOUDSDK_API_ENDPOINT_OVERRIDES_SECRETMANAGER")
        .unwrap_or("https://secretmanager.googleapis.com/")
        .trim_end_matches('/')
        .to_owned();
    let bearer = format!("Bearer {token}");
    let quota = adc.quota_project_id.as_deref();
    // One list of the project's secrets per round answers for every value not in it; a list
    // that cannot be read (no permission to list) leaves each value to be asked by itself.
    let listing = cx
        .listing(&format!("gcp {project}"), || list(cx, &endpoint, &project, &bearer, quota))
        .await;
    if let Ok(listing) = &listing
        && let Some(absent) = listing.proves_absent(secret)
    {
        return Ok(Finding::Missing(absent));
    }
    let secret_url =
        format!("{endpoint}/v1/projects/{}/secrets/{}", encode(&project), encode(secret));
    let latest_url = format!("{secret_url}/versions/latest");
    let answer = cx.http.send(request(&latest_url, &bearer, quota)?).await?;
    if answer.status == 401 {
        cx.memo.forget(TOKEN_MEMO);
    }
    match latest(&answer, &project, secret)? {
        Latest::Found(finding) => Ok(finding),
        // Listed, so it exists: it has no version.
        Latest::AskTheSecret if listing.is_ok() => Ok(no_version(&project)),
        Latest::AskTheSecret => {
            let answer = cx.http.send(request(&secret_url, &bearer, quota)?).await?;
            the_secret(&answer, &project, secret)
        }
    }
}

fn no_version(project: &str) -> Finding {
    Finding::Wrong(format!(
        "the secret exists in project {project} but has no version: add one (the Rotate command, `gcloud secrets versions add`)"
    ))
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn a_key_the_cli_would_read_as_an_option_is_refused() {
        assert!(SecretManager.check_key("-api-key").is_err());
        assert!(SecretManager.check_key("-api-key".trim_start_matches('-')).is_ok());
    }

    fn answer(status: u16, content_type: &str, body: &str) -> Answer {
        Answer::new(status, content_type, body.as_bytes().to_vec().into(), None)
    }

    const JSON: &str = "application/json; charset=UTF-8";
    const NOT_FOUND_BODY: &str = r#"{"error":{"code":404,"message":"Secret [projects/p/secrets/s] not found.","status":"NOT_FOUND"}}"#;

    #[test]
    fn only_google_s_not_found_leads_to_missing() {
        let ask = |a: &Answer| latest(a, "p", "s");
        assert_eq!(ask(&answer(404, JSON, NOT_FOUND_BODY)), Ok(Latest::AskTheSecret));
        assert!(matches!(
            ask(&answer(200, JSON, r#"{"state":"ENABLED","createTime":"2026-01-01T00:00:00Z"}"#)),
            Ok(Latest::Found(Finding::Present { changed: Some(_) }))
        ));
        // Nothing else is a way to "missing": each is an error with its reason.
        for (status, content_type, body) in [
            (404, "text/html", "<html><body>Error 404 (Not Found)</body></html>"),
            (404, JSON, r#"{"error":{"code":404,"status":"SOMETHING_ELSE"}}"#),
            (403, JSON, r#"{"error":{"code":403,"status":"PERMISSION_DENIED"}}"#),
            (429, JSON, r#"{"error":{"code":429,"status":"RESOURCE_EXHAUSTED"}}"#),
            (503, "text/plain", "unavailable"),
            (200, JSON, r#"{"state":"ENAB"#),
            (200, "text/html", "<html/>"),
            (500, JSON, "{}"),
        ] {
            let got = ask(&answer(status, content_type, body));
            assert!(got.is_err(), "{status} {body}: {got:?}");
        }
    }

    #[test]
    fn after_not_found_only_a_second_not_found_is_missing() {
        let secret = |a: &Answer| the_secret(a, "p", "s");
        assert!(matches!(secret(&answer(404, JSON, NOT_FOUND_BODY)), Ok(Finding::Missing(_))));
        assert!(matches!(
            secret(&answer(200, JSON, r#"{"name":"projects/p/secrets/s"}"#)),
            Ok(Finding::Wrong(_))
        ));
        for status in [403, 429, 500, 503] {
            let got = secret(&answer(status, JSON, r#"{"error":{"code":1}}"#));
            assert!(got.is_err(), "{status}: {got:?}");
        }
        assert!(matches!(secret(&answer(429, JSON, "{}")), Err(BackendError::Throttled { .. })));
        assert!(matches!(secret(&answer(403, JSON, "{}")), Err(BackendError::Forbidden(_))));
        assert!(secret(&answer(404, "text/html", "<html/>")).is_err());
    }
}
