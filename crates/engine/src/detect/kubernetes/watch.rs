//! Watch streams over the API server's Table form with no objects: a namespace's Secrets as
//! rows, or any collection as the names that changed. Each line of a watch is read up to
//! [`MAX_WATCH_LINE`] bytes; a 410 ends the stream with `Gone` (relist).

use std::time::Duration;

use futures::{Stream, StreamExt};
use serde::Deserialize;

use super::wire::{
    Layout, MAX_WATCH_LINE, ProbeError, SecretRow, Shape, TABLE, encode, get, get_table, respond,
    rows,
};
use crate::text::{error_chain, scrub};

/// One thing a watch reported.
#[derive(Debug, Clone, PartialEq, Eq)]
pub(crate) enum Change {
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
pub(crate) async fn watch_secrets(
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
    let lines = open_watch(client, &uri, idle).await?;
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
                    Ok(Some(Err(e))) => return Some((Err(e), (lines, layout, true))),
                    Ok(Some(Ok(line))) => line,
                };
                if line.iter().all(u8::is_ascii_whitespace) {
                    continue;
                }
                let event: WatchLine = match serde_json::from_slice(&line) {
                    Ok(event) => event,
                    Err(_) => {
                        return Some((
                            Err(ProbeError::Protocol("a watch event that is not JSON".to_owned())),
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
                    "ERROR" => Err(ProbeError::Status {
                        code: object.code,
                        message: scrub(&object.message),
                    }),
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

/// The resource version of the (Table) list at `path`, to watch from.
pub(crate) async fn list_version(
    client: &kube::Client,
    path: &str,
    timeout: Duration,
) -> Result<String, ProbeError> {
    let uri = format!("{path}?includeObject=None");
    let shape = get_table(client, &uri, timeout).await?;
    Ok(shape.metadata.resource_version.unwrap_or_default())
}

/// Watches the collection at `path` from `version`, in Table form with no objects, yielding
/// the name of each object that changed (a wake-up: the next round reads what changed). The
/// stream ends when the server closes the watch; an error (410 included) ends it too.
pub(crate) async fn watch_changes(
    client: &kube::Client,
    path: &str,
    version: &str,
    server_timeout: Duration,
    idle: Duration,
) -> Result<impl Stream<Item = Result<String, ProbeError>> + use<>, ProbeError> {
    let uri = format!(
        "{path}?watch=1&includeObject=None&allowWatchBookmarks=true&resourceVersion={}&timeoutSeconds={}",
        encode(version),
        server_timeout.as_secs()
    );
    let lines = open_watch(client, &uri, idle).await?;
    Ok(futures::stream::unfold((Box::pin(lines), false), move |(mut lines, done)| async move {
        if done {
            return None;
        }
        loop {
            let line = match tokio::time::timeout(idle, lines.next()).await {
                Err(_) => return Some((Err(ProbeError::Timeout(idle)), (lines, true))),
                Ok(None) => return None,
                Ok(Some(Err(e))) => return Some((Err(e), (lines, true))),
                Ok(Some(Ok(line))) => line,
            };
            if line.iter().all(u8::is_ascii_whitespace) {
                continue;
            }
            let Ok(event) = serde_json::from_slice::<WatchLine>(&line) else {
                let error = ProbeError::Protocol("a watch event that is not JSON".to_owned());
                return Some((Err(error), (lines, true)));
            };
            match event.kind.as_str() {
                "ADDED" | "MODIFIED" | "DELETED" => {
                    let layout = event
                        .object
                        .columns
                        .as_deref()
                        .filter(|c| !c.is_empty())
                        .map(Layout::from_columns)
                        .unwrap_or_default();
                    let name = rows(&event.object, layout)
                        .into_iter()
                        .next()
                        .map(|r| r.name)
                        .unwrap_or_default();
                    return Some((Ok(name), (lines, false)));
                }
                "ERROR" if event.object.code == 410 => {
                    return Some((Err(ProbeError::Gone), (lines, true)));
                }
                "ERROR" => {
                    let error = ProbeError::Status {
                        code: event.object.code,
                        message: scrub(&event.object.message),
                    };
                    return Some((Err(error), (lines, true)));
                }
                _ => continue,
            }
        }
    }))
}

/// Opens the watch at `uri` (Table form) within `idle`, as a stream of lines.
async fn open_watch(
    client: &kube::Client,
    uri: &str,
    idle: Duration,
) -> Result<impl Stream<Item = Result<Vec<u8>, ProbeError>> + Send + use<>, ProbeError> {
    match tokio::time::timeout(idle, respond(client, get(uri, TABLE)?)).await {
        Ok(Ok(response)) => Ok(lines(response.into_body())),
        Ok(Err(e)) => Err(e),
        Err(_) => Err(ProbeError::Timeout(idle)),
    }
}

/// The lines of a streamed body, each at most [`MAX_WATCH_LINE`] bytes.
fn lines(
    body: kube::client::Body,
) -> impl Stream<Item = Result<Vec<u8>, ProbeError>> + Send + use<> {
    use http_body_util::BodyExt;
    let chunks = Box::pin(body.into_data_stream());
    futures::stream::unfold(
        (chunks, Vec::new(), false),
        |(mut chunks, mut buffer, done): (_, Vec<u8>, bool)| async move {
            if done {
                return None;
            }
            loop {
                if let Some(at) = buffer.iter().position(|b| *b == b'\n') {
                    let line: Vec<u8> = buffer.drain(..=at).collect();
                    return Some((Ok(line), (chunks, buffer, false)));
                }
                if buffer.len() > MAX_WATCH_LINE {
                    let error = ProbeError::Protocol(format!(
                        "a watch event larger than {} KiB",
                        MAX_WATCH_LINE / 1024
                    ));
                    return Some((Err(error), (chunks, buffer, true)));
                }
                match chunks.next().await {
                    Some(Ok(bytes)) => buffer.extend_from_slice(&bytes),
                    Some(Err(e)) => {
                        let error = ProbeError::Unreachable { message: error_chain(&e) };
                        return Some((Err(error), (chunks, buffer, true)));
                    }
                    None if buffer.is_empty() => return None,
                    None => {
                        let line = std::mem::take(&mut buffer);
                        return Some((Ok(line), (chunks, buffer, true)));
                    }
                }
            }
        },
    )
}
