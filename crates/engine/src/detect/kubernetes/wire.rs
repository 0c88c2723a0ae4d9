//! The requests Greenlight makes to the API server, and the only shapes it reads back.
//!
//! Secrets are only ever asked for as a server-side Table with `includeObject=None`: name,
//! type, number of data keys and age. That form cannot carry a value (not even the
//! `last-applied-configuration` annotation that client-side `kubectl apply` writes), and the
//! types below keep nothing else even if a server sent more. Access, rules and who-am-I
//! reviews are in `access`, watch streams in `watch` (both re-exported here); the rest stays
//! together because every request shares the one `send` (deadline, 429 retry, status,
//! content type and size checks). Over 600 lines because of its tests: the shapes a server
//! may send back, each checked here where they are read.

use std::collections::BTreeMap;
use std::time::Duration;

use http::Request;
use serde::Deserialize;

use crate::text::{error_chain, scrub};

pub(crate) use super::access::{Rules, can, rules, whoami};
pub(crate) use super::watch::{Change, list_version, watch_changes, watch_secrets};

/// Accept header for the server-side Table form.
pub(crate) const TABLE: &str = "application/json;as=Table;v=v1;g=meta.k8s.io";

/// One Secret as a Table row: no value, no annotations, no managed fields.
#[derive(Debug, Clone, PartialEq, Eq)]
pub(crate) struct SecretRow {
    /// Secret name.
    pub name: String,
    /// Secret type, e.g. `Opaque`.
    pub secret_type: String,
    /// Number of data keys.
    pub keys: u32,
    /// When a watch saw it added or modified (its data, labels or annotations): Kubernetes
    /// keeps no last-change time, so this is only known for changes made while watching.
    pub seen_changed: Option<std::time::SystemTime>,
}

/// Why a request failed, or (`NotFound`) the clean answer that an object does not exist.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
pub(crate) enum ProbeError {
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
        /// When the server says to ask again.
        retry_after: Option<Duration>,
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
    /// 404 with a Kubernetes `Status` of reason NotFound: the object does not exist. An
    /// answer, which the callers that ask for one object turn into "missing".
    #[error("not found")]
    NotFound {
        /// The kind the server says it looked for (e.g. `secrets`), when it said.
        kind: String,
    },
}

fn detail(message: &str) -> String {
    if message.is_empty() || message == "Unauthorized" {
        String::new()
    } else {
        format!(": {message}")
    }
}

/// Largest answer read for a list or a single object (a Table of thousands of Secrets is a
/// few MiB).
const MAX_BODY: usize = 16 * 1024 * 1024;
/// Largest error answer read; only its Status is used.
const MAX_ERROR_BODY: usize = 64 * 1024;
/// Largest single watch event.
pub(super) const MAX_WATCH_LINE: usize = 1024 * 1024;

impl ProbeError {
    /// A failure before any answer: connection refused, TLS, DNS, a reset, or credentials
    /// that could not be refreshed.
    fn from_transport(error: kube::Error) -> Self {
        match error {
            // A token file or a legacy auth provider could not be refreshed; the library's
            // words may quote the command or the file, so they are not shown.
            kube::Error::Auth(_) => ProbeError::Credentials {
                message: "the credentials in the kubeconfig could not be refreshed".to_owned(),
            },
            other => ProbeError::Unreachable { message: error_chain(&other) },
        }
    }

    /// An error status. Only a Kubernetes `Status` object is taken at its word: a 404 from an
    /// ingress or proxy is not "not found", and its page is not shown.
    fn from_status(code: u16, status: Option<ApiStatus>, retry_after: Option<Duration>) -> Self {
        let Some(status) = status.filter(|s| s.kind == "Status") else {
            return ProbeError::Status {
                code,
                message: "the answer is not from the Kubernetes API (no Status object); check the server address and any proxy in between".to_owned(),
            };
        };
        let message = scrub(&status.message);
        match code {
            401 => ProbeError::Unauthorized { message },
            403 => ProbeError::Forbidden { message },
            404 if status.reason == "NotFound" => {
                ProbeError::NotFound { kind: status.details.kind }
            }
            410 => ProbeError::Gone,
            429 => ProbeError::Throttled { message, retry_after },
            code => ProbeError::Status {
                code,
                message: if message.is_empty() { scrub(&status.reason) } else { message },
            },
        }
    }
}

/// The fields of a Kubernetes `Status` Greenlight reads.
#[derive(Debug, Default, Deserialize)]
struct ApiStatus {
    #[serde(default)]
    kind: String,
    #[serde(default)]
    message: String,
    #[serde(default)]
    reason: String,
    #[serde(default)]
    details: StatusDetails,
}

#[derive(Debug, Default, Deserialize)]
struct StatusDetails {
    #[serde(default)]
    kind: String,
}

fn is_json(response: &http::Response<kube::client::Body>) -> bool {
    response
        .headers()
        .get(http::header::CONTENT_TYPE)
        .and_then(|v| v.to_str().ok())
        .is_some_and(|v| v.trim_start().to_ascii_lowercase().starts_with("application/json"))
}

/// At most `limit` bytes of a body, or an error saying it was larger.
async fn read_limited(body: kube::client::Body, limit: usize) -> Result<bytes::Bytes, ProbeError> {
    use http_body_util::BodyExt;
    match http_body_util::Limited::new(body, limit).collect().await {
        Ok(collected) => Ok(collected.to_bytes()),
        Err(error) if error.is::<http_body_util::LengthLimitError>() => {
            Err(ProbeError::Protocol(format!("an answer larger than {} KiB", limit / 1024)))
        }
        Err(error) => Err(ProbeError::Unreachable { message: scrub(&error.to_string()) }),
    }
}

/// Sends `request` and returns the successful answer's response, after checking its status
/// and that it is JSON.
pub(super) async fn respond(
    client: &kube::Client,
    request: Request<Vec<u8>>,
) -> Result<http::Response<kube::client::Body>, ProbeError> {
    let response = client
        .send(request.map(kube::client::Body::from))
        .await
        .map_err(ProbeError::from_transport)?;
    let code = response.status().as_u16();
    if !response.status().is_success() {
        let json = is_json(&response);
        // Seconds only (as the API server sends), at most a minute.
        let retry_after = response
            .headers()
            .get(http::header::RETRY_AFTER)
            .and_then(|v| v.to_str().ok())
            .and_then(|v| v.trim().parse::<u64>().ok())
            .map(|s| Duration::from_secs(s.min(60)));
        let body = read_limited(response.into_body(), MAX_ERROR_BODY).await.unwrap_or_default();
        let status = json.then(|| serde_json::from_slice::<ApiStatus>(&body).ok()).flatten();
        return Err(ProbeError::from_status(code, status, retry_after));
    }
    if !is_json(&response) {
        return Err(ProbeError::Protocol(
            "the answer is not JSON; check the server address and any proxy in between".to_owned(),
        ));
    }
    Ok(response)
}

/// Sends `request` and reads the answer, within `timeout`. A 429 (API priority and
/// fairness shedding load) is asked again after the server's `Retry-After` (1 s when it
/// names none), while the time allows.
pub(super) async fn send(
    client: &kube::Client,
    request: Request<Vec<u8>>,
    timeout: Duration,
) -> Result<bytes::Bytes, ProbeError> {
    let deadline = tokio::time::Instant::now() + timeout;
    loop {
        let exchange = async {
            read_limited(respond(client, copy(&request)).await?.into_body(), MAX_BODY).await
        };
        let result = match tokio::time::timeout_at(deadline, exchange).await {
            Ok(result) => result,
            Err(_) => return Err(ProbeError::Timeout(timeout)),
        };
        let Err(ProbeError::Throttled { retry_after, .. }) = &result else { return result };
        let again = tokio::time::Instant::now() + retry_after.unwrap_or(Duration::from_secs(1));
        if again >= deadline {
            return result;
        }
        tokio::time::sleep_until(again).await;
    }
}

/// The same request again (requests here are small: a GET or a review).
fn copy(request: &Request<Vec<u8>>) -> Request<Vec<u8>> {
    let mut copy = Request::new(request.body().clone());
    *copy.method_mut() = request.method().clone();
    *copy.uri_mut() = request.uri().clone();
    *copy.headers_mut() = request.headers().clone();
    copy
}

pub(super) fn get(uri: &str, accept: &str) -> Result<Request<Vec<u8>>, ProbeError> {
    Request::get(uri)
        .header(http::header::ACCEPT, accept)
        .body(Vec::new())
        .map_err(|e| ProbeError::Protocol(e.to_string()))
}

pub(super) fn encode(segment: &str) -> String {
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
pub(super) struct Shape {
    #[serde(default)]
    pub(super) kind: String,
    #[serde(default)]
    pub(super) metadata: Meta,
    #[serde(default, rename = "columnDefinitions")]
    pub(super) columns: Option<Vec<Column>>,
    #[serde(default)]
    pub(super) rows: Vec<Row>,
    #[serde(default)]
    pub(super) code: u16,
    #[serde(default)]
    pub(super) message: String,
}

#[derive(Debug, Default, Deserialize)]
pub(super) struct Meta {
    #[serde(default, rename = "resourceVersion")]
    pub(super) resource_version: Option<String>,
}

#[derive(Debug, Deserialize)]
pub(super) struct Column {
    name: String,
}

#[derive(Debug, Deserialize)]
pub(super) struct Row {
    cells: Vec<Cell>,
}

/// A table cell: the secret columns hold only strings and numbers.
#[derive(Debug, Deserialize)]
#[serde(untagged)]
pub(super) enum Cell {
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
pub(crate) struct Layout {
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
    pub(super) fn from_columns(columns: &[Column]) -> Self {
        let find = |wanted: &str, default: usize| {
            columns.iter().position(|c| c.name.eq_ignore_ascii_case(wanted)).unwrap_or(default)
        };
        Self { name: find("Name", 0), kind: find("Type", 1), data: find("Data", 2) }
    }
}

pub(super) fn rows(shape: &Shape, layout: Layout) -> Vec<SecretRow> {
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
                seen_changed: None,
            })
        })
        .collect()
}

/// A Table, or an error: anything else (another kind, no column definitions) is not taken
/// for an empty list.
fn parse_table(body: &[u8]) -> Result<Shape, ProbeError> {
    let shape: Shape = serde_json::from_slice(body)
        .map_err(|_| ProbeError::Protocol("the answer is not a Table".to_owned()))?;
    if shape.kind != "Table" {
        return Err(ProbeError::Protocol(format!(
            "expected a Table, got `{}`",
            scrub(&shape.kind)
        )));
    }
    if shape.columns.as_ref().is_none_or(|c| !c.iter().any(|c| c.name.eq_ignore_ascii_case("Name")))
    {
        return Err(ProbeError::Protocol("the Table has no Name column".to_owned()));
    }
    Ok(shape)
}

/// The Table at `uri`: any other answer is an error.
pub(super) async fn get_table(
    client: &kube::Client,
    uri: &str,
    timeout: Duration,
) -> Result<Shape, ProbeError> {
    parse_table(&send(client, get(uri, TABLE)?, timeout).await?)
}

/// Every Secret in `namespace`, and the list's resource version.
pub(crate) async fn list_secrets(
    client: &kube::Client,
    namespace: &str,
    timeout: Duration,
) -> Result<(Vec<SecretRow>, String), ProbeError> {
    let uri = format!("/api/v1/namespaces/{}/secrets?includeObject=None", encode(namespace));
    let shape = get_table(client, &uri, timeout).await?;
    let layout = shape.columns.as_deref().map(Layout::from_columns).unwrap_or_default();
    let version = shape.metadata.resource_version.clone().unwrap_or_default();
    Ok((rows(&shape, layout), version))
}

/// One Secret, or `None` when the server says it does not exist.
pub(crate) async fn get_secret(
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
        Ok(body) => {
            let shape = parse_table(&body)?;
            let layout = shape.columns.as_deref().map(Layout::from_columns).unwrap_or_default();
            Ok(rows(&shape, layout).into_iter().next())
        }
        Err(ProbeError::NotFound { kind }) if kind.is_empty() || kind == "secrets" => Ok(None),
        Err(other) => Err(other),
    }
}

/// One Table row as column name (lower case) -> cell text. Only printer columns: no object.
pub(crate) type TableRow = BTreeMap<String, String>;

fn named_rows(shape: &Shape) -> Vec<TableRow> {
    let names: Vec<String> =
        shape.columns.iter().flatten().map(|c| c.name.to_ascii_lowercase()).collect();
    shape
        .rows
        .iter()
        .map(|row| {
            names.iter().cloned().zip(row.cells.iter().map(Cell::text)).collect::<TableRow>()
        })
        .filter(|row| row.get("name").is_some_and(|n| !n.is_empty()))
        .collect()
}

/// The rows of the Table at `path` (a list), `includeObject=None`.
pub(crate) async fn table(
    client: &kube::Client,
    path: &str,
    query: &str,
    timeout: Duration,
) -> Result<Vec<TableRow>, ProbeError> {
    let separator = if query.is_empty() { "" } else { "&" };
    let uri = format!("{path}?includeObject=None{separator}{query}");
    Ok(named_rows(&get_table(client, &uri, timeout).await?))
}

/// The Table row of the one object at `path`, or `None` when the server says there is no
/// such `resource`.
pub(crate) async fn table_row(
    client: &kube::Client,
    path: &str,
    resource: &str,
    timeout: Duration,
) -> Result<Option<TableRow>, ProbeError> {
    match table(client, path, "", timeout).await {
        Ok(rows) => Ok(rows.into_iter().next()),
        Err(ProbeError::NotFound { kind }) if kind.is_empty() || kind == resource => Ok(None),
        Err(other) => Err(other),
    }
}

/// `path` segments, escaped.
pub(crate) fn path_of(segments: &[&str]) -> String {
    segments.iter().map(|s| format!("/{}", encode(s))).collect()
}

/// The versions the server serves of API `group`, or `None` when it serves none (the group
/// is not installed). Discovery carries no values.
pub(crate) async fn group_versions(
    client: &kube::Client,
    group: &str,
    timeout: Duration,
) -> Result<Option<Vec<String>>, ProbeError> {
    #[derive(Deserialize)]
    struct Groups {
        #[serde(default)]
        groups: Vec<Group>,
    }
    #[derive(Deserialize)]
    struct Group {
        name: String,
        #[serde(default)]
        versions: Vec<Version>,
    }
    #[derive(Deserialize)]
    struct Version {
        version: String,
    }
    let body = send(client, get("/apis", "application/json")?, timeout).await?;
    let groups: Groups = serde_json::from_slice(&body)
        .map_err(|_| ProbeError::Protocol("the API group list is not JSON".to_owned()))?;
    Ok(groups
        .groups
        .into_iter()
        .find(|g| g.name == group)
        .map(|g| g.versions.into_iter().map(|v| v.version).collect()))
}

/// The newest Warning Event about the `kind` object `name` in `namespace`, as `classify`
/// reads its message. The message is a controller's words (for External Secrets, a
/// provider's error, which has echoed credentials before): it is classified here and dropped,
/// never returned, shown, stored or logged.
pub(crate) async fn newest_warning<T>(
    client: &kube::Client,
    namespace: &str,
    kind: &str,
    name: &str,
    timeout: Duration,
    classify: impl Fn(&str) -> T,
) -> Result<Option<T>, ProbeError> {
    #[derive(Deserialize)]
    struct List {
        #[serde(default)]
        items: Vec<Item>,
    }
    #[derive(Deserialize)]
    struct Item {
        #[serde(default, rename = "type")]
        kind: String,
        #[serde(default)]
        message: String,
        #[serde(default, rename = "lastTimestamp")]
        last: Option<String>,
        #[serde(default, rename = "eventTime")]
        event_time: Option<String>,
        #[serde(default)]
        series: Option<Series>,
    }
    #[derive(Deserialize)]
    struct Series {
        #[serde(default, rename = "lastObservedTime")]
        last_observed: Option<String>,
    }
    let selector = format!("involvedObject.kind={kind},involvedObject.name={name},type=Warning");
    let uri = format!(
        "/api/v1/namespaces/{}/events?fieldSelector={}",
        encode(namespace),
        encode(&selector)
    );
    let body = send(client, get(&uri, "application/json")?, timeout).await?;
    let list: List = serde_json::from_slice(&body)
        .map_err(|_| ProbeError::Protocol("the event list is not JSON".to_owned()))?;
    // Newest by when it was last seen: a repeating event's series, else its last timestamp,
    // else its event time (RFC 3339 in UTC sorts as text).
    let newest = list.items.into_iter().filter(|i| i.kind == "Warning").max_by_key(|i| {
        i.series
            .as_ref()
            .and_then(|s| s.last_observed.clone())
            .or_else(|| i.last.clone())
            .or_else(|| i.event_time.clone())
            .unwrap_or_default()
    });
    Ok(newest.map(|i| classify(&i.message)))
}

/// Whether `namespace` exists. Namespaces carry no secret values.
pub(crate) async fn namespace_exists(
    client: &kube::Client,
    namespace: &str,
    timeout: Duration,
) -> Result<bool, ProbeError> {
    let uri = format!("/api/v1/namespaces/{}", encode(namespace));
    match send(client, get(&uri, TABLE)?, timeout).await {
        Ok(_) => Ok(true),
        Err(ProbeError::NotFound { kind }) if kind.is_empty() || kind == "namespaces" => Ok(false),
        Err(other) => Err(other),
    }
}

/// Names of all namespaces, when the user may list them.
pub(crate) async fn list_namespaces(
    client: &kube::Client,
    timeout: Duration,
) -> Result<Vec<String>, ProbeError> {
    let shape = get_table(client, "/api/v1/namespaces?includeObject=None", timeout).await?;
    Ok(shape
        .rows
        .iter()
        .filter_map(|r| r.cells.first().map(Cell::text))
        .filter(|n| !n.is_empty())
        .collect())
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn tables_yield_rows_and_keep_nothing_else() {
        let text = r#"{"kind":"Table","apiVersion":"meta.k8s.io/v1","metadata":{"resourceVersion":"42"},
            "columnDefinitions":[{"name":"Name"},{"name":"Type"},{"name":"Data"},{"name":"Age"}],
            "rows":[{"cells":["github-token","Opaque",2,"5m"],"object":{"metadata":{"annotations":{"kubectl.kubernetes.io/last-applied-configuration":"hunter2"}}}}]}"#;
        let shape = parse_table(text.as_bytes()).unwrap();
        let found = rows(&shape, Layout::from_columns(shape.columns.as_deref().unwrap()));
        assert_eq!(
            found,
            vec![SecretRow {
                name: "github-token".into(),
                secret_type: "Opaque".into(),
                keys: 2,
                seen_changed: None
            }]
        );
        assert!(!format!("{shape:?}").contains("hunter2"), "the object must not be kept");
    }

    #[test]
    fn columns_may_come_in_another_order() {
        let text = r#"{"kind":"Table","columnDefinitions":[{"name":"Age"},{"name":"Data"},{"name":"Name"},{"name":"Type"}],"rows":[{"cells":["1m","3","x","Opaque"]}]}"#;
        let shape = parse_table(text.as_bytes()).unwrap();
        let found = rows(&shape, Layout::from_columns(shape.columns.as_deref().unwrap()));
        assert_eq!(
            found[0],
            SecretRow {
                name: "x".into(),
                secret_type: "Opaque".into(),
                keys: 3,
                seen_changed: None
            }
        );
    }

    #[test]
    fn only_a_kubernetes_not_found_means_not_found() {
        let status = |json: &str| serde_json::from_str::<ApiStatus>(json).ok();
        let secret = status(
            r#"{"kind":"Status","reason":"NotFound","message":"secrets \"x\" not found","details":{"kind":"secrets","name":"x"}}"#,
        );
        assert_eq!(
            ProbeError::from_status(404, secret, None),
            ProbeError::NotFound { kind: "secrets".into() }
        );
        // An ingress's 404 page, or a JSON 404 that is not a Status, is not an answer.
        assert!(matches!(
            ProbeError::from_status(404, None, None),
            ProbeError::Status { code: 404, .. }
        ));
        let other = status(r#"{"kind":"Error","reason":"NotFound"}"#);
        assert!(matches!(
            ProbeError::from_status(404, other, None),
            ProbeError::Status { code: 404, .. }
        ));
        let forbidden = status(
            r#"{"kind":"Status","reason":"Forbidden","message":"secrets is forbidden\u001b]52;c;x\u0007"}"#,
        );
        assert_eq!(
            ProbeError::from_status(403, forbidden, None),
            ProbeError::Forbidden { message: "secrets is forbidden]52;c;x".into() }
        );
    }

    #[test]
    fn a_table_without_columns_is_not_an_empty_list() {
        assert!(parse_table(br#"{"kind":"Table","rows":[]}"#).is_err());
        assert!(
            parse_table(br#"{"kind":"Table","columnDefinitions":[{"name":"Name"}],"rows":[]}"#)
                .is_ok()
        );
    }

    #[test]
    fn a_full_object_is_not_a_table() {
        assert!(matches!(
            parse_table(br#"{"kind":"Secret","data":{"k":"aHVudGVyMg=="}}"#),
            Err(ProbeError::Protocol(_))
        ));
    }
}
