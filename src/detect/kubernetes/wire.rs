//! The requests Greenlight makes to the API server, and the only shapes it reads back.
//!
//! Secrets are only ever asked for as a server-side Table with `includeObject=None`: name,
//! type, number of data keys and age. That form cannot carry a value (not even the
//! `last-applied-configuration` annotation that client-side `kubectl apply` writes), and the
//! types below keep nothing else even if a server sent more.

use std::time::Duration;

use futures::{AsyncBufReadExt, Stream, StreamExt};
use http::Request;
use serde::Deserialize;

use crate::detect::redact::error_chain;

/// Accept header for the server-side Table form.
pub const TABLE: &str = "application/json;as=Table;v=v1;g=meta.k8s.io";

/// One Secret as a Table row: no value, no annotations, no managed fields.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct SecretRow {
    /// Secret name.
    pub name: String,
    /// Secret type, e.g. `Opaque`.
    pub secret_type: String,
    /// Number of data keys.
    pub keys: u32,
}

/// Why a request failed. Never "not found": that is an answer, not a failure.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
pub enum ProbeError {
    /// 403: the server's own message names the missing permission.
    #[error("{message}")]
    Forbidden {
        /// The server's message.
        message: String,
    },
    /// 401: credentials missing, invalid or expired.
    #[error("the API server rejected the credentials (401 Unauthorized){}", detail(.message))]
    Unauthorized {
        /// The server's message.
        message: String,
    },
    /// 410: the watch's resource version is too old; relist.
    #[error("resource version expired (410 Gone)")]
    Gone,
    /// 429: slow down.
    #[error("the API server is throttling requests (429){}", detail(.message))]
    Throttled {
        /// The server's message.
        message: String,
    },
    /// Any other error status.
    #[error("the API server answered {code}: {message}")]
    Status {
        /// HTTP status.
        code: u16,
        /// The server's message.
        message: String,
    },
    /// The credential plugin failed or could not run.
    #[error("{message}")]
    Credentials {
        /// What happened.
        message: String,
    },
    /// No answer: connection refused, TLS failure, DNS, reset.
    #[error("cannot reach the API server: {message}")]
    Unreachable {
        /// The whole error chain.
        message: String,
    },
    /// No answer in time.
    #[error("the API server did not answer within {} s", .0.as_secs())]
    Timeout(Duration),
    /// An answer that is not what the API promises.
    #[error("unexpected answer from the API server: {0}")]
    Protocol(String),
}

fn detail(message: &str) -> String {
    if message.is_empty() || message == "Unauthorized" {
        String::new()
    } else {
        format!(": {message}")
    }
}

impl ProbeError {
    fn from_kube(error: kube::Error) -> Self {
        match error {
            kube::Error::Api(status) => match status.code {
                401 => ProbeError::Unauthorized { message: status.message },
                403 => ProbeError::Forbidden { message: status.message },
                410 => ProbeError::Gone,
                429 => ProbeError::Throttled { message: status.message },
                code => ProbeError::Status {
                    code,
                    message: if status.message.is_empty() { status.reason } else { status.message },
                },
            },
            // The credential (a token file, or a legacy auth provider) could not be refreshed;
            // the library's words may quote the command or the file, so they are not shown.
            kube::Error::Auth(_) => ProbeError::Credentials {
                message: "the credentials in the kubeconfig could not be refreshed".to_owned(),
            },
            other => ProbeError::Unreachable { message: error_chain(&other) },
        }
    }
}

async fn send(
    client: &kube::Client,
    request: Request<Vec<u8>>,
    timeout: Duration,
) -> Result<String, ProbeError> {
    match tokio::time::timeout(timeout, client.request_text(request)).await {
        Ok(result) => result.map_err(ProbeError::from_kube),
        Err(_) => Err(ProbeError::Timeout(timeout)),
    }
}

fn get(uri: &str, accept: &str) -> Result<Request<Vec<u8>>, ProbeError> {
    Request::get(uri)
        .header(http::header::ACCEPT, accept)
        .body(Vec::new())
        .map_err(|e| ProbeError::Protocol(e.to_string()))
}

fn encode(segment: &str) -> String {
    // Validated Kubernetes names need no escaping; anything else is escaped byte by byte.
    segment
        .bytes()
        .map(|b| {
            if b.is_ascii_alphanumeric() || b"-._".contains(&b) {
                (b as char).to_string()
            } else {
                format!("%{b:02X}")
            }
        })
        .collect()
}

/// The Table shape (and, for watch events, the Status and bookmark shapes): only the fields
/// Greenlight uses are declared, so nothing else is kept.
#[derive(Debug, Default, Deserialize)]
struct Shape {
    #[serde(default)]
    kind: String,
    #[serde(default)]
    metadata: Meta,
    #[serde(default, rename = "columnDefinitions")]
    columns: Option<Vec<Column>>,
    #[serde(default)]
    rows: Vec<Row>,
    #[serde(default)]
    code: u16,
    #[serde(default)]
    message: String,
}

#[derive(Debug, Default, Deserialize)]
struct Meta {
    #[serde(default, rename = "resourceVersion")]
    resource_version: Option<String>,
}

#[derive(Debug, Deserialize)]
struct Column {
    name: String,
}

#[derive(Debug, Deserialize)]
struct Row {
    cells: Vec<Cell>,
}

/// A table cell: the secret columns hold only strings and numbers.
#[derive(Debug, Deserialize)]
#[serde(untagged)]
enum Cell {
    Text(String),
    Number(i64),
    Other(serde::de::IgnoredAny),
}

impl Cell {
    fn text(&self) -> String {
        match self {
            Cell::Text(s) => s.clone(),
            Cell::Number(n) => n.to_string(),
            Cell::Other(_) => String::new(),
        }
    }
}

/// Column positions, from the definitions when present.
#[derive(Debug, Clone, Copy)]
pub struct Layout {
    name: usize,
    kind: usize,
    data: usize,
}

impl Default for Layout {
    fn default() -> Self {
        Self { name: 0, kind: 1, data: 2 }
    }
}

impl Layout {
    fn from_columns(columns: &[Column]) -> Self {
        let find = |wanted: &str, default: usize| {
            columns.iter().position(|c| c.name.eq_ignore_ascii_case(wanted)).unwrap_or(default)
        };
        Self { name: find("Name", 0), kind: find("Type", 1), data: find("Data", 2) }
    }
}

fn rows(shape: &Shape, layout: Layout) -> Vec<SecretRow> {
    shape
        .rows
        .iter()
        .filter_map(|row| {
            let cell = |i: usize| row.cells.get(i).map(Cell::text).unwrap_or_default();
            let name = cell(layout.name);
            (!name.is_empty()).then(|| SecretRow {
                name,
                secret_type: cell(layout.kind),
                keys: cell(layout.data).parse().unwrap_or(0),
            })
        })
        .collect()
}

fn parse_table(text: &str) -> Result<Shape, ProbeError> {
    let shape: Shape = serde_json::from_str(text)
        .map_err(|e| ProbeError::Protocol(format!("not a Table: {e}")))?;
    if shape.kind != "Table" {
        return Err(ProbeError::Protocol(format!("expected a Table, got `{}`", shape.kind)));
    }
    Ok(shape)
}

/// Every Secret in `namespace`, and the list's resource version.
pub async fn list_secrets(
    client: &kube::Client,
    namespace: &str,
    timeout: Duration,
) -> Result<(Vec<SecretRow>, String), ProbeError> {
    let uri = format!("/api/v1/namespaces/{}/secrets?includeObject=None", encode(namespace));
    let shape = parse_table(&send(client, get(&uri, TABLE)?, timeout).await?)?;
    let layout = shape.columns.as_deref().map(Layout::from_columns).unwrap_or_default();
    let version = shape.metadata.resource_version.clone().unwrap_or_default();
    Ok((rows(&shape, layout), version))
}

/// One Secret, or `None` when the server says it does not exist.
pub async fn get_secret(
    client: &kube::Client,
    namespace: &str,
    name: &str,
    timeout: Duration,
) -> Result<Option<SecretRow>, ProbeError> {
    let uri = format!(
        "/api/v1/namespaces/{}/secrets/{}?includeObject=None",
        encode(namespace),
        encode(name)
    );
    match send(client, get(&uri, TABLE)?, timeout).await {
        Ok(text) => {
            let shape = parse_table(&text)?;
            let layout = shape.columns.as_deref().map(Layout::from_columns).unwrap_or_default();
            Ok(rows(&shape, layout).into_iter().next())
        }
        Err(ProbeError::Status { code: 404, .. }) => Ok(None),
        Err(other) => Err(other),
    }
}

/// Whether `namespace` exists. Namespaces carry no secret values.
pub async fn namespace_exists(
    client: &kube::Client,
    namespace: &str,
    timeout: Duration,
) -> Result<bool, ProbeError> {
    let uri = format!("/api/v1/namespaces/{}", encode(namespace));
    match send(client, get(&uri, TABLE)?, timeout).await {
        Ok(_) => Ok(true),
        Err(ProbeError::Status { code: 404, .. }) => Ok(false),
        Err(other) => Err(other),
    }
}

/// Names of all namespaces, when the user may list them.
pub async fn list_namespaces(
    client: &kube::Client,
    timeout: Duration,
) -> Result<Vec<String>, ProbeError> {
    let shape = parse_table(
        &send(client, get("/api/v1/namespaces?includeObject=None", TABLE)?, timeout).await?,
    )?;
    Ok(shape
        .rows
        .iter()
        .filter_map(|r| r.cells.first().map(Cell::text))
        .filter(|n| !n.is_empty())
        .collect())
}

#[derive(Deserialize)]
struct Review {
    #[serde(default)]
    status: ReviewStatus,
}

#[derive(Default, Deserialize)]
struct ReviewStatus {
    #[serde(default)]
    allowed: bool,
    #[serde(default, rename = "userInfo")]
    user: Option<UserInfo>,
}

#[derive(Deserialize)]
struct UserInfo {
    #[serde(default)]
    username: String,
}

/// SelfSubjectAccessReview: may the current user `verb` Secrets in `namespace`?
pub async fn can(
    client: &kube::Client,
    verb: &str,
    resource: &str,
    namespace: Option<&str>,
    timeout: Duration,
) -> Result<bool, ProbeError> {
    let body = serde_json::json!({
        "apiVersion": "authorization.k8s.io/v1",
        "kind": "SelfSubjectAccessReview",
        "spec": {"resourceAttributes": {"namespace": namespace.unwrap_or_default(), "verb": verb, "resource": resource, "group": ""}}
    });
    let request = Request::post("/apis/authorization.k8s.io/v1/selfsubjectaccessreviews")
        .header(http::header::CONTENT_TYPE, "application/json")
        .header(http::header::ACCEPT, "application/json")
        .body(serde_json::to_vec(&body).unwrap_or_default())
        .map_err(|e| ProbeError::Protocol(e.to_string()))?;
    let review: Review = serde_json::from_str(&send(client, request, timeout).await?)
        .map_err(|e| ProbeError::Protocol(e.to_string()))?;
    Ok(review.status.allowed)
}

/// SelfSubjectReview: the user name the server sees, when the server offers it.
pub async fn whoami(client: &kube::Client, timeout: Duration) -> Result<String, ProbeError> {
    let body =
        serde_json::json!({"apiVersion": "authentication.k8s.io/v1", "kind": "SelfSubjectReview"});
    let request = Request::post("/apis/authentication.k8s.io/v1/selfsubjectreviews")
        .header(http::header::CONTENT_TYPE, "application/json")
        .header(http::header::ACCEPT, "application/json")
        .body(serde_json::to_vec(&body).unwrap_or_default())
        .map_err(|e| ProbeError::Protocol(e.to_string()))?;
    let review: Review = serde_json::from_str(&send(client, request, timeout).await?)
        .map_err(|e| ProbeError::Protocol(e.to_string()))?;
    Ok(review.status.user.map(|u| u.username).unwrap_or_default())
}

/// One thing a watch reported.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Change {
    /// Added or modified.
    Upsert(SecretRow, String),
    /// Deleted.
    Delete(String, String),
    /// Nothing changed; the resource version moved on.
    Bookmark(String),
}

#[derive(Deserialize)]
struct WatchLine {
    #[serde(rename = "type")]
    kind: String,
    #[serde(default)]
    object: Shape,
}

/// Watches Secrets in `namespace` from `version`, as a stream of changes. The stream ends when
/// the server closes the watch; `Err(Gone)` means relist.
pub async fn watch_secrets(
    client: &kube::Client,
    namespace: &str,
    version: &str,
    server_timeout: Duration,
    idle: Duration,
) -> Result<impl Stream<Item = Result<Change, ProbeError>> + use<>, ProbeError> {
    let uri = format!(
        "/api/v1/namespaces/{}/secrets?watch=1&includeObject=None&allowWatchBookmarks=true&resourceVersion={}&timeoutSeconds={}",
        encode(namespace),
        encode(version),
        server_timeout.as_secs()
    );
    let lines = match tokio::time::timeout(idle, client.request_stream(get(&uri, TABLE)?)).await {
        Ok(Ok(reader)) => reader.lines(),
        Ok(Err(e)) => return Err(ProbeError::from_kube(e)),
        Err(_) => return Err(ProbeError::Timeout(idle)),
    };
    let layout = Layout::default();
    Ok(futures::stream::unfold(
        (Box::pin(lines), layout, false),
        move |(mut lines, mut layout, done)| async move {
            if done {
                return None;
            }
            loop {
                let line = match tokio::time::timeout(idle, lines.next()).await {
                    Err(_) => return Some((Err(ProbeError::Timeout(idle)), (lines, layout, true))),
                    Ok(None) => return None,
                    Ok(Some(Err(e))) => {
                        return Some((
                            Err(ProbeError::Unreachable { message: e.to_string() }),
                            (lines, layout, true),
                        ));
                    }
                    Ok(Some(Ok(line))) => line,
                };
                if line.trim().is_empty() {
                    continue;
                }
                let event: WatchLine = match serde_json::from_str(&line) {
                    Ok(event) => event,
                    Err(e) => {
                        return Some((
                            Err(ProbeError::Protocol(format!("bad watch event: {e}"))),
                            (lines, layout, true),
                        ));
                    }
                };
                let object = event.object;
                if let Some(columns) = object.columns.as_deref().filter(|c| !c.is_empty()) {
                    layout = Layout::from_columns(columns);
                }
                let version = object.metadata.resource_version.clone().unwrap_or_default();
                let item = match event.kind.as_str() {
                    "ERROR" if object.code == 410 => Err(ProbeError::Gone),
                    "ERROR" => {
                        Err(ProbeError::Status { code: object.code, message: object.message })
                    }
                    "BOOKMARK" => Ok(Change::Bookmark(version)),
                    "ADDED" | "MODIFIED" => match rows(&object, layout).into_iter().next() {
                        Some(row) => Ok(Change::Upsert(row, version)),
                        None => continue,
                    },
                    "DELETED" => match rows(&object, layout).into_iter().next() {
                        Some(row) => Ok(Change::Delete(row.name, version)),
                        None => continue,
                    },
                    _ => continue,
                };
                let done = item.is_err();
                return Some((item, (lines, layout, done)));
            }
        },
    ))
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn tables_yield_rows_and_keep_nothing_else() {
        let text = r#"{"kind":"Table","apiVersion":"meta.k8s.io/v1","metadata":{"resourceVersion":"42"},
            "columnDefinitions":[{"name":"Name"},{"name":"Type"},{"name":"Data"},{"name":"Age"}],
            "rows":[{"cells":["github-token","Opaque",2,"5m"],"object":{"metadata":{"annotations":{"kubectl.kubernetes.io/last-applied-configuration":"hunter2"}}}}]}"#;
        let shape = parse_table(text).unwrap();
        let found = rows(&shape, Layout::from_columns(shape.columns.as_deref().unwrap()));
        assert_eq!(
            found,
            vec![SecretRow { name: "github-token".into(), secret_type: "Opaque".into(), keys: 2 }]
        );
        assert!(!format!("{shape:?}").contains("hunter2"), "the object must not be kept");
    }

    #[test]
    fn columns_may_come_in_another_order() {
        let text = r#"{"kind":"Table","columnDefinitions":[{"name":"Age"},{"name":"Data"},{"name":"Name"},{"name":"Type"}],"rows":[{"cells":["1m","3","x","Opaque"]}]}"#;
        let shape = parse_table(text).unwrap();
        let found = rows(&shape, Layout::from_columns(shape.columns.as_deref().unwrap()));
        assert_eq!(found[0], SecretRow { name: "x".into(), secret_type: "Opaque".into(), keys: 3 });
    }

    #[test]
    fn a_full_object_is_not_a_table() {
        assert!(matches!(
            parse_table(r#"{"kind":"Secret","data":{"k":"aHVudGVyMg=="}}"#),
            Err(ProbeError::Protocol(_))
        ));
    }
}
