//! Google Secret Manager: whether a secret has an enabled `latest` version, from the
//! version's metadata (`GET .../versions/latest`, never `:access`), with Application Default
//! Credentials (an `authorized_user` from `gcloud auth application-default login`, or a
//! service-account key). The endpoint honours gcloud's
//! `CLOUDSDK_API_ENDPOINT_OVERRIDES_SECRETMANAGER`.

use std::path::PathBuf;
use std::time::{Duration, Instant, SystemTime};

use base64::Engine;
use bytes::Bytes;
use http::{Request, StatusCode};
use http_body_util::Full;
use serde::Deserialize;

use super::{BackendError, Backends, Look, encode, get, home, read_small};

const LOGIN: &str = "gcloud auth application-default login";
const DEFAULT_TOKEN_URI: &str = "https://oauth2.googleapis.com/token";

/// Access tokens, reused until a minute before they expire.
#[derive(Default)]
pub(super) struct Tokens {
    cached: tokio::sync::Mutex<Option<(String, Instant)>>,
}

/// The fields of an ADC file Greenlight uses.
#[derive(Deserialize)]
struct Adc {
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

fn gcloud_dir() -> Option<PathBuf> {
    std::env::var_os("CLOUDSDK_CONFIG")
        .filter(|p| !p.is_empty())
        .map(PathBuf::from)
        .or_else(|| home().map(|h| h.join(".config/gcloud")))
}

fn adc_path() -> Option<PathBuf> {
    std::env::var_os("GOOGLE_APPLICATION_CREDENTIALS")
        .filter(|p| !p.is_empty())
        .map(PathBuf::from)
        .or_else(|| gcloud_dir().map(|d| d.join("application_default_credentials.json")))
}

fn no_credentials(why: &str) -> BackendError {
    BackendError::Credentials {
        message: format!("no usable Google Application Default Credentials: {why}"),
        login: LOGIN,
    }
}

fn load_adc() -> Result<Adc, BackendError> {
    let path = adc_path().ok_or_else(|| no_credentials("no home directory"))?;
    let text = read_small(&path)
        .ok_or_else(|| no_credentials(&format!("{} cannot be read", path.display())))?;
    let adc: Adc = serde_json::from_str(&text)
        .map_err(|_| no_credentials(&format!("{} is not a credentials file", path.display())))?;
    match adc.kind.as_str() {
        "authorized_user" | "service_account" => Ok(adc),
        other => Err(no_credentials(&format!(
            "credentials of type `{}` are not supported here; use a user login or a service-account key",
            other.chars().filter(char::is_ascii_alphanumeric).take(40).collect::<String>()
        ))),
    }
}

/// The project from the spec, else the one `gcloud` (which runs the commands) would use:
/// `CLOUDSDK_CORE_PROJECT`, then its configuration; then `GOOGLE_CLOUD_PROJECT` and a
/// service-account key's own project.
fn project(given: Option<&str>, adc: &Adc) -> Option<String> {
    let env = |name: &str| std::env::var(name).ok().filter(|v| !v.is_empty());
    given
        .map(str::to_owned)
        .or_else(|| env("CLOUDSDK_CORE_PROJECT"))
        .or_else(gcloud_project)
        .or_else(|| env("GOOGLE_CLOUD_PROJECT"))
        .or_else(|| adc.project_id.clone())
}

fn gcloud_project() -> Option<String> {
    let dir = gcloud_dir()?;
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

impl Tokens {
    async fn token(&self, backends: &Backends, adc: &Adc) -> Result<String, BackendError> {
        let mut cached = self.cached.lock().await;
        if let Some((token, until)) = cached.as_ref()
            && Instant::now() < *until
        {
            return Ok(token.clone());
        }
        let uri = adc.token_uri.clone().unwrap_or_else(|| DEFAULT_TOKEN_URI.to_owned());
        let body = if adc.kind == "service_account" {
            let jwt = assertion(adc, &uri)?;
            form(&[
                ("grant_type", "urn:ietf:params:oauth:grant-type:jwt-bearer"),
                ("assertion", &jwt),
            ])
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
        let (status, answer) = backends.send(request).await?;
        if !status.is_success() {
            // The answer may echo what was sent; only the status is kept.
            return Err(BackendError::Credentials {
                message: format!(
                    "Google refused the Application Default Credentials ({status}); they may have expired or been revoked"
                ),
                login: LOGIN,
            });
        }
        let answer: TokenAnswer = serde_json::from_slice(&answer).map_err(|_| {
            BackendError::Unreachable("Google's token answer is not JSON".to_owned())
        })?;
        let lifetime =
            Duration::from_secs(answer.expires_in.unwrap_or(3600).saturating_sub(60).max(60));
        *cached = Some((answer.access_token.clone(), Instant::now() + lifetime));
        Ok(answer.access_token)
    }

    pub(super) async fn forget(&self) {
        *self.cached.lock().await = None;
    }
}

#[derive(Deserialize, Default)]
struct SecretList {
    #[serde(default)]
    secrets: Vec<SecretName>,
    #[serde(default, rename = "nextPageToken")]
    next: String,
}

#[derive(Deserialize)]
struct SecretName {
    #[serde(default)]
    name: String,
}

/// Secret IDs in `project` that look like typos of `wanted`, from the secret list (metadata:
/// names, never payloads), at most two pages of 250.
async fn near_misses(
    backends: &Backends,
    endpoint: &str,
    project: &str,
    wanted: &str,
    bearer: &str,
) -> Vec<String> {
    let mut near = Vec::new();
    let mut token = String::new();
    for _ in 0..2 {
        let mut url = format!(
            "{}/v1/projects/{}/secrets?pageSize=250",
            endpoint.trim_end_matches('/'),
            encode(project)
        );
        if !token.is_empty() {
            url.push_str(&format!("&pageToken={}", encode(&token)));
        }
        let Ok(request) = get(&url, ("authorization", bearer)) else { break };
        let Ok((StatusCode::OK, body)) = backends.send(request).await else { break };
        let list: SecretList = serde_json::from_slice(&body).unwrap_or_default();
        for secret in list.secrets {
            let id = secret.name.rsplit('/').next().unwrap_or_default().to_owned();
            if crate::text::is_near_miss(wanted, &id) && near.len() < 3 {
                near.push(id);
            }
        }
        if list.next.is_empty() {
            break;
        }
        token = list.next;
    }
    near
}

#[derive(Deserialize)]
struct Version {
    #[serde(default)]
    state: String,
}

#[derive(Deserialize, Default)]
struct ErrorAnswer {
    #[serde(default)]
    error: ErrorBody,
}

#[derive(Deserialize, Default)]
struct ErrorBody {
    #[serde(default)]
    status: String,
}

pub(super) async fn look(
    backends: &Backends,
    tokens: &Tokens,
    given_project: Option<&str>,
    secret: &str,
) -> Result<Look, BackendError> {
    let adc = load_adc()?;
    let Some(project) = project(given_project, &adc) else {
        return Err(BackendError::Unreachable(
            "no Google Cloud project: set `project:` on the backend, or run `gcloud config set project PROJECT`".to_owned(),
        ));
    };
    let token = tokens.token(backends, &adc).await?;
    let endpoint = std::env::var("CLOUDSDK_API_ENDPOINT_OVERRIDES_SECRETMANAGER")
        .ok()
        .filter(|v| !v.is_empty())
        .unwrap_or_else(|| "https://secretmanager.googleapis.com/".to_owned());
    let url = format!(
        "{}/v1/projects/{}/secrets/{}/versions/latest",
        endpoint.trim_end_matches('/'),
        encode(&project),
        encode(secret)
    );
    let bearer = format!("Bearer {token}");
    let mut request = get(&url, ("authorization", &bearer))?;
    if let Some(quota) = &adc.quota_project_id
        && let Ok(value) = http::HeaderValue::from_str(quota)
    {
        request.headers_mut().insert("x-goog-user-project", value);
    }
    let (status, body) = backends.send(request).await?;
    let google_status =
        || serde_json::from_slice::<ErrorAnswer>(&body).unwrap_or_default().error.status;
    match status {
        StatusCode::OK => {
            let version: Version = serde_json::from_slice(&body).map_err(|_| {
                BackendError::Unreachable(
                    "Secret Manager's answer is not a secret version".to_owned(),
                )
            })?;
            Ok(match version.state.as_str() {
                "ENABLED" => Look::Present,
                "DISABLED" => Look::Wrong(format!(
                    "its latest version in project {project} is disabled: enable it (`gcloud secrets versions list {secret}` shows its number) or add a version (the Rotate command)"
                )),
                "DESTROYED" => Look::Wrong(
                    "its latest version is destroyed: add a new version (the Rotate command)"
                        .to_owned(),
                ),
                _ => Look::Wrong("its latest version is in an unknown state".to_owned()),
            })
        }
        // The same answer for "no such secret" and "a secret with no version": the secret
        // itself (its metadata) tells them apart.
        StatusCode::NOT_FOUND if google_status() == "NOT_FOUND" => {
            let secret_url = url.trim_end_matches("/versions/latest").to_owned();
            let (status, _) = backends.send(get(&secret_url, ("authorization", &bearer))?).await?;
            if status == StatusCode::OK {
                Ok(Look::Wrong(format!(
                    "the secret exists in project {project} but has no version: add one (the Rotate command, `gcloud secrets versions add`)"
                )))
            } else {
                let near = near_misses(backends, &endpoint, &project, secret, &bearer).await;
                Ok(Look::Missing { near })
            }
        }
        StatusCode::UNAUTHORIZED => {
            tokens.forget().await;
            Err(BackendError::Credentials {
                message: "Secret Manager refused the access token (401)".to_owned(),
                login: LOGIN,
            })
        }
        StatusCode::FORBIDDEN => Err(BackendError::Forbidden(format!(
            "secretmanager.versions.get on projects/{project}/secrets/{secret} (Google also answers this for a secret that does not exist when you may not see it)"
        ))),
        other => Err(BackendError::Unreachable(format!("Secret Manager answered {other}"))),
    }
}
