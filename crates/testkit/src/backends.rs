//! Loopback stand-ins for Google Secret Manager, Doppler and Vault KV (versions 2 and 1),
//! following their published REST APIs for the calls Greenlight makes (and the
//! value-returning ones it must never make, which are served so a test can prove they were
//! not called). Every request is recorded. Tokens: `gcp-access-token` (from `/token`),
//! `doppler-token`, `vault-token`. A test can force awkward answers on any path (an HTML
//! page from a proxy, a 200 without the field the API promises, 403, 429, 503).

use std::collections::BTreeMap;
use std::convert::Infallible;
use std::net::SocketAddr;
use std::sync::{Arc, Mutex};

use bytes::Bytes;
use http_body_util::{BodyExt, Full};
use hyper::{Request, Response};
use hyper_util::rt::TokioIo;
use serde_json::{Value, json};
use tokio::net::TcpListener;

pub const DOPPLER_TOKEN: &str = "dp.st.prd.test-doppler-token";
pub const VAULT_TOKEN: &str = "vault-token";
pub const GCP_TOKEN: &str = "gcp-access-token";
/// The service principal the fake Microsoft Entra ID accepts, and the token it gives.
pub const AZURE_CLIENT_ID: &str = "00000000-0000-0000-0000-0000000000aa";
pub const AZURE_CLIENT_SECRET: &str = "azure-client-secret-for-tests";
pub const AZURE_TENANT_ID: &str = "test-tenant";
pub const AZURE_TOKEN: &str = "azure-access-token";

/// One request.
#[derive(Debug, Clone)]
pub struct Call {
    pub method: String,
    pub path: String,
    pub query: String,
    pub body: String,
}

/// What the fake backends hold.
#[derive(Default)]
pub struct Held {
    /// (project, secret) -> (value, state of latest: ENABLED, DISABLED, ...)
    pub gcp: BTreeMap<(String, String), (String, String)>,
    /// (project, config) -> name -> value
    pub doppler: BTreeMap<(String, String), BTreeMap<String, String>>,
    /// (mount, path) -> key -> value
    pub vault: BTreeMap<(String, String), BTreeMap<String, String>>,
    /// Key Vault: name -> versions (value, enabled, created), oldest first.
    pub azure: BTreeMap<String, Vec<AzureVersion>>,
    /// Vault mounts served as KV version 1 (every other mount is version 2).
    pub vault_v1: std::collections::BTreeSet<String>,
    pub calls: Vec<Call>,
    /// Refuse every token (as after a revoked login).
    pub refuse: bool,
    /// Answers forced for requests whose path starts with the key.
    pub awkward: Vec<(String, Awkward)>,
    /// Answers forced for requests to exactly these paths.
    pub awkward_exact: Vec<(String, Awkward)>,
}

/// One version of a Key Vault secret.
#[derive(Debug, Clone)]
pub struct AzureVersion {
    pub value: String,
    pub enabled: bool,
    pub created: u64,
}

impl AzureVersion {
    /// An enabled version made now.
    pub fn new(value: &str) -> Self {
        let created =
            std::time::SystemTime::now().duration_since(std::time::UNIX_EPOCH).unwrap().as_secs();
        Self { value: value.to_owned(), enabled: true, created }
    }
}

/// An answer a backend (or a proxy in front of it) gives that is not one of its documented
/// ones.
#[derive(Debug, Clone)]
pub struct Awkward {
    pub status: u16,
    pub content_type: &'static str,
    pub body: String,
}

impl Awkward {
    /// A proxy's HTML page with this status.
    pub fn html(status: u16) -> Self {
        Self {
            status,
            content_type: "text/html",
            body: format!("<html><body><h1>{status}</h1><p>nginx</p></body></html>"),
        }
    }

    /// JSON with this status.
    pub fn json(status: u16, body: Value) -> Self {
        Self { status, content_type: "application/json", body: body.to_string() }
    }
}

/// The running fake backends.
pub struct FakeBackends {
    pub addr: SocketAddr,
    pub held: Arc<Mutex<Held>>,
    task: tokio::task::JoinHandle<()>,
}

impl Drop for FakeBackends {
    fn drop(&mut self) {
        self.task.abort();
    }
}

impl FakeBackends {
    pub async fn start() -> Self {
        let listener = TcpListener::bind("127.0.0.1:0").await.unwrap();
        let addr = listener.local_addr().unwrap();
        let held: Arc<Mutex<Held>> = Arc::default();
        let shared = held.clone();
        let task = tokio::spawn(async move {
            loop {
                let Ok((tcp, _)) = listener.accept().await else { continue };
                let held = shared.clone();
                tokio::spawn(async move {
                    let service = hyper::service::service_fn(move |req| {
                        let held = held.clone();
                        async move { Ok::<_, Infallible>(handle(held, req).await) }
                    });
                    hyper::server::conn::http1::Builder::new()
                        .serve_connection(TokioIo::new(tcp), service)
                        .await
                        .ok();
                });
            }
        });
        Self { addr, held, task }
    }

    pub fn url(&self) -> String {
        format!("http://{}", self.addr)
    }

    pub fn calls(&self) -> Vec<Call> {
        self.held.lock().unwrap().calls.clone()
    }

    /// Proves no value-returning endpoint was called and no held value was sent.
    pub fn assert_value_free(&self) {
        let held = self.held.lock().unwrap();
        assert!(!held.calls.is_empty(), "no backend was asked; the check proves nothing");
        for call in &held.calls {
            assert!(!call.path.ends_with(":access"), "Secret Manager value read: {call:?}");
            let segments: Vec<&str> = call.path.split('/').filter(|s| !s.is_empty()).collect();
            let key_vault_read = matches!(segments.as_slice(), ["secrets", _] | ["secrets", _, _])
                && segments.get(2) != Some(&"versions");
            assert!(!key_vault_read, "Key Vault value read: {call:?}");
            assert!(!call.path.contains("/data/"), "Vault value read: {call:?}");
            let v1_read = call
                .path
                .strip_prefix("/v1/")
                .and_then(|p| p.split('/').next())
                .is_some_and(|m| held.vault_v1.contains(m))
                && !call.query.contains("list=true");
            assert!(!v1_read, "Vault KV version 1 value read: {call:?}");
            assert!(
                call.path != "/v3/configs/config/secrets" && !call.path.ends_with("/secret"),
                "Doppler values read: {call:?}"
            );
        }
    }

    /// A service-account key (a fixed RSA key made for these tests only: ring cannot make
    /// RSA keys) whose token address is this server, for
    /// `GOOGLE_APPLICATION_CREDENTIALS`.
    pub fn service_account_key(&self, project: &str) -> String {
        let key = include_str!("../data/test-rsa-key.pem");
        json!({
            "type": "service_account",
            "project_id": project,
            "private_key_id": "0",
            "private_key": key,
            "client_email": format!("greenlight-test@{project}.iam.gserviceaccount.com"),
            "token_uri": format!("{}/token", self.url()),
        })
        .to_string()
    }
}

fn reply(code: u16, body: Value) -> Response<Full<Bytes>> {
    Response::builder()
        .status(code)
        .header("content-type", "application/json")
        .body(Full::new(Bytes::from(body.to_string())))
        .unwrap()
}

/// A Vault LIST of the folder `at` in `mount`: the keys below it (folders end in '/'), or
/// 404 with no errors for an empty folder.
fn folder(held: &Held, mount: &str, at: &str) -> Response<Full<Bytes>> {
    let prefix = if at.is_empty() { String::new() } else { format!("{at}/") };
    let mut keys: Vec<String> = held
        .vault
        .keys()
        .filter(|(m, p)| m == mount && p.starts_with(&prefix))
        .map(|(_, p)| {
            let below = &p[prefix.len()..];
            match below.split_once('/') {
                Some((folder, _)) => format!("{folder}/"),
                None => below.to_owned(),
            }
        })
        .collect();
    keys.dedup();
    if keys.is_empty() {
        return reply(404, json!({"errors": []}));
    }
    reply(200, json!({"data": {"keys": keys}}))
}

fn param(query: &str, name: &str) -> String {
    query
        .split('&')
        .filter_map(|kv| kv.split_once('='))
        .find(|(k, _)| *k == name)
        .map(|(_, v)| v.replace("%2F", "/"))
        .unwrap_or_default()
}

#[expect(
    clippy::too_many_lines,
    reason = "the route table of four fake APIs, one arm per endpoint"
)]
async fn handle(
    held: Arc<Mutex<Held>>,
    req: Request<hyper::body::Incoming>,
) -> Response<Full<Bytes>> {
    let method = req.method().as_str().to_owned();
    let path = req.uri().path().to_owned();
    let query = req.uri().query().unwrap_or_default().to_owned();
    let header = |name: &str| {
        req.headers().get(name).and_then(|v| v.to_str().ok()).unwrap_or_default().to_owned()
    };
    let bearer = header("authorization").strip_prefix("Bearer ").unwrap_or_default().to_owned();
    let vault_token = header("x-vault-token");
    let host = header("host");
    let body = req.into_body().collect().await.map(|b| b.to_bytes()).unwrap_or_default();
    let body = String::from_utf8_lossy(&body).into_owned();
    let mut held = held.lock().unwrap();
    held.calls.push(Call {
        method: method.clone(),
        path: path.clone(),
        query: query.clone(),
        body: body.clone(),
    });
    let exact = held.awkward_exact.iter().find(|(at, _)| *at == path);
    if let Some((_, awkward)) =
        exact.or_else(|| held.awkward.iter().find(|(prefix, _)| path.starts_with(prefix)))
    {
        return Response::builder()
            .status(awkward.status)
            .header("content-type", awkward.content_type)
            .body(Full::new(Bytes::from(awkward.body.clone())))
            .unwrap();
    }
    let refuse = held.refuse;
    let segments: Vec<&str> = path.split('/').filter(|s| !s.is_empty()).collect();
    match (method.as_str(), segments.as_slice()) {
        ("POST", ["token"]) => {
            if refuse || !body.contains("assertion=") {
                return reply(400, json!({"error": "invalid_grant"}));
            }
            reply(
                200,
                json!({"access_token": GCP_TOKEN, "expires_in": 3599, "token_type": "Bearer"}),
            )
        }
        ("GET", ["v1", "projects", project, "secrets", secret, "versions", version]) => {
            if refuse || bearer != GCP_TOKEN {
                return reply(
                    401,
                    json!({"error": {"code": 401, "message": "Request had invalid authentication credentials.", "status": "UNAUTHENTICATED"}}),
                );
            }
            let key = ((*project).to_owned(), (*secret).to_owned());
            match (held.gcp.get(&key), *version) {
                (Some((value, _)), "latest:access") => {
                    reply(200, json!({"payload": {"data": value}}))
                }
                // A secret created without a version ("NO_VERSION" here) has no `latest`.
                (Some((_, state)), "latest") if state != "NO_VERSION" => reply(
                    200,
                    json!({"name": format!("projects/{project}/secrets/{secret}/versions/1"), "state": state, "createTime": "2026-01-01T00:00:00Z"}),
                ),
                _ => reply(
                    404,
                    json!({"error": {"code": 404, "message": format!("Secret [projects/{project}/secrets/{secret}] not found or has no versions."), "status": "NOT_FOUND"}}),
                ),
            }
        }
        ("GET", ["v1", "projects", project, "secrets", secret]) => {
            if refuse || bearer != GCP_TOKEN {
                return reply(401, json!({"error": {"code": 401, "status": "UNAUTHENTICATED"}}));
            }
            match held.gcp.get(&((*project).to_owned(), (*secret).to_owned())) {
                Some(_) => reply(
                    200,
                    json!({"name": format!("projects/{project}/secrets/{secret}"), "replication": {"automatic": {}}}),
                ),
                None => reply(
                    404,
                    json!({"error": {"code": 404, "message": format!("Secret [projects/{project}/secrets/{secret}] not found."), "status": "NOT_FOUND"}}),
                ),
            }
        }
        ("GET", ["v1", "projects", project, "secrets"]) => {
            if refuse || bearer != GCP_TOKEN {
                return reply(401, json!({"error": {"code": 401, "status": "UNAUTHENTICATED"}}));
            }
            let names: Vec<Value> = held
                .gcp
                .keys()
                .filter(|(p, _)| p == project)
                .map(|(p, s)| json!({"name": format!("projects/{p}/secrets/{s}")}))
                .collect();
            reply(200, json!({"secrets": names, "totalSize": names.len()}))
        }
        ("GET", ["v3", "configs", "config", "secrets", rest @ ..]) => {
            if refuse || bearer != DOPPLER_TOKEN {
                return reply(401, json!({"messages": ["Invalid Auth token"], "success": false}));
            }
            let key = (param(&query, "project"), param(&query, "config"));
            match (held.doppler.get(&key), rest) {
                (Some(names), ["names"]) => {
                    reply(200, json!({"names": names.keys().collect::<Vec<_>>(), "success": true}))
                }
                (Some(values), []) => reply(200, json!({"secrets": values, "success": true})),
                _ => reply(
                    404,
                    json!({"messages": ["Could not find requested config"], "success": false}),
                ),
            }
        }
        ("GET", ["v1", "sys", "internal", "ui", "mounts", mount, ..]) => {
            if refuse || vault_token != VAULT_TOKEN {
                return reply(403, json!({"errors": ["permission denied"]}));
            }
            let v1 = held.vault_v1.contains(*mount);
            // `secret` and `kv` are mounted, as on a fresh dev server with a KV engine added.
            if v1 || ["secret", "kv"].contains(mount) || held.vault.keys().any(|(m, _)| m == mount)
            {
                let version = if v1 { "1" } else { "2" };
                reply(
                    200,
                    json!({"data": {"path": format!("{mount}/"), "type": "kv", "options": {"version": version}}}),
                )
            } else {
                reply(
                    403,
                    json!({"errors": [format!("preflight capability check returned 403, please ensure client's policies grant access to path \"{mount}/\"")]}),
                )
            }
        }
        ("GET", ["v1", mount, rest @ ..]) if held.vault_v1.contains(*mount) => {
            if refuse || vault_token != VAULT_TOKEN {
                return reply(403, json!({"errors": ["permission denied"]}));
            }
            let at = rest.join("/");
            if param(&query, "list") == "true" {
                return folder(&held, mount, &at);
            }
            // A KV version 1 read returns the value: served so a test can prove it was not
            // called.
            match held.vault.get(&((*mount).to_owned(), at)) {
                Some(data) => reply(200, json!({"data": data})),
                None => reply(404, json!({"errors": []})),
            }
        }
        ("GET", ["v1", mount, kind, rest @ ..]) => {
            if refuse || vault_token != VAULT_TOKEN {
                return reply(403, json!({"errors": ["permission denied"]}));
            }
            if *kind == "metadata" && param(&query, "list") == "true" {
                return folder(&held, mount, rest.join("/").trim_end_matches('/'));
            }
            let key = ((*mount).to_owned(), rest.join("/"));
            match (held.vault.get(&key), *kind) {
                (Some(_), "metadata") => reply(
                    200,
                    json!({"data": {"current_version": 1, "versions": {"1": {"created_time": "2026-01-01T00:00:00Z", "deletion_time": "", "destroyed": false}}}}),
                ),
                (Some(data), "data") => reply(200, json!({"data": {"data": data}})),
                _ => reply(404, json!({"errors": []})),
            }
        }
        (_, [_, "oauth2", "v2.0", "token"]) | (_, ["secrets", ..]) => {
            let call = KeyVaultCall {
                method: &method,
                segments: &segments,
                query: &query,
                body: &body,
                bearer: &bearer,
                host: &host,
            };
            key_vault(&mut held, &call, refuse)
        }
        _ => reply(404, json!({"error": "not served here"})),
    }
}

/// Microsoft Entra ID's token endpoint and Key Vault's secrets API, as far as Greenlight and
/// the External Secrets stand-in use them (and the value-returning reads, to prove they are
/// not made).
struct KeyVaultCall<'a> {
    method: &'a str,
    segments: &'a [&'a str],
    query: &'a str,
    body: &'a str,
    bearer: &'a str,
    host: &'a str,
}

fn key_vault(held: &mut Held, call: &KeyVaultCall<'_>, refuse: bool) -> Response<Full<Bytes>> {
    let KeyVaultCall { method, segments, query, body, bearer, host } = *call;
    let unauthorized = || {
        Response::builder()
            .status(401)
            .header("content-type", "application/json")
            .header("www-authenticate", "Bearer authorization=\"https://login.windows.net/test-tenant\", resource=\"https://vault.azure.net\"")
            .body(Full::new(Bytes::from(json!({"error": {"code": "Unauthorized", "message": "Request is missing a Bearer or PoP token."}}).to_string())))
            .unwrap()
    };
    let not_found = |name: &str| {
        reply(
            404,
            json!({"error": {"code": "SecretNotFound", "message": format!("A secret with (name/id) {name} was not found in this key vault. If you recently deleted this secret you may be able to recover it using the correct recovery command.")}}),
        )
    };
    match (method, segments) {
        ("POST", [tenant, "oauth2", "v2.0", "token"]) => {
            let ok = !refuse
                && *tenant == AZURE_TENANT_ID
                && body.contains(&format!("client_id={AZURE_CLIENT_ID}"))
                && body.contains(&format!("client_secret={AZURE_CLIENT_SECRET}"))
                && body.contains("scope=https%3A%2F%2Fvault.azure.net%2F.default");
            if ok {
                reply(
                    200,
                    json!({"token_type": "Bearer", "expires_in": 3599, "access_token": AZURE_TOKEN}),
                )
            } else {
                reply(
                    401,
                    json!({"error": "invalid_client", "error_description": "AADSTS7000215: Invalid client secret provided."}),
                )
            }
        }
        _ if refuse || bearer != AZURE_TOKEN => unauthorized(),
        ("GET", ["secrets"]) => {
            let skip: usize = param(query, "$skiptoken").parse().unwrap_or(0);
            let names: Vec<&String> = held.azure.keys().collect();
            let page: Vec<Value> = names
                .iter()
                .skip(skip)
                .take(25)
                .map(|n| json!({"id": format!("https://fake.vault.azure.net/secrets/{n}"), "attributes": {"enabled": true}}))
                .collect();
            let next = (skip + 25 < names.len())
                .then(|| format!("http://{host}/secrets?api-version=7.4&$skiptoken={}", skip + 25));
            reply(200, json!({"value": page, "nextLink": next}))
        }
        ("GET", ["secrets", name, "versions"]) => match held.azure.get(*name) {
            Some(versions) => {
                let items: Vec<Value> = versions
                    .iter()
                    .enumerate()
                    .map(|(n, v)| json!({"id": format!("https://fake.vault.azure.net/secrets/{name}/{n}"), "attributes": {"enabled": v.enabled, "created": v.created, "updated": v.created, "recoveryLevel": "Recoverable+Purgeable"}}))
                    .collect();
                reply(200, json!({"value": items, "nextLink": null}))
            }
            None => not_found(name),
        },
        // The value: what Greenlight must never ask for (the stand-in reads it).
        ("GET", ["secrets", name, ..]) => match held.azure.get(*name).and_then(|v| v.last()) {
            Some(version) => reply(
                200,
                json!({"value": version.value, "id": format!("https://fake.vault.azure.net/secrets/{name}/0")}),
            ),
            None => not_found(name),
        },
        ("PUT", ["secrets", name]) => {
            let value: Value = serde_json::from_str(body).unwrap_or_default();
            let version = AzureVersion::new(value["value"].as_str().unwrap_or_default());
            held.azure.entry((*name).to_owned()).or_default().push(version);
            reply(200, json!({"id": format!("https://fake.vault.azure.net/secrets/{name}/1")}))
        }
        _ => reply(404, json!({"error": {"code": "BadParameter"}})),
    }
}
