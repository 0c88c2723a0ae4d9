//! Watches on Secrets and ExternalSecrets: the backlog since a resource version (or every
//! object, as ADDED), then live changes, bookmarks when asked for, 410 Gone for a compacted
//! version, and an end when `timeoutSeconds` runs out.

use std::convert::Infallible;
use std::sync::Arc;
use std::time::Duration;

use bytes::Bytes;
use http_body_util::{BodyExt, StreamBody};
use hyper::Response;
use hyper::body::Frame;
use serde_json::{Value, json};
use tokio::sync::{broadcast, mpsc};

use crate::json::{JsonPath, query_param};
use crate::reply::{Body, Repr, build, content_type, render_one, status, table};
use crate::state::{Event, OpenWatch, Shared, lock};
use crate::tap::{self, Tap};

fn line(kind: &str, object: Value) -> Vec<u8> {
    let mut line = serde_json::to_vec(&json!({"type": kind, "object": object})).unwrap_or_default();
    line.push(b'\n');
    line
}

/// What one watch asked for.
pub(crate) struct Watch {
    pub(crate) namespace: Option<String>,
    pub(crate) resource: &'static str,
    pub(crate) repr: Repr,
    from: Option<u64>,
    bookmarks: bool,
    timeout: Duration,
}

impl Watch {
    pub(crate) fn new(
        namespace: Option<String>,
        resource: &'static str,
        repr: Repr,
        query: &str,
    ) -> Self {
        Self {
            namespace,
            resource,
            repr,
            from: query_param(query, "resourceVersion")
                .and_then(|v| v.parse().ok())
                .filter(|v| *v > 0),
            bookmarks: matches!(
                query_param(query, "allowWatchBookmarks").as_deref(),
                Some("true" | "1")
            ),
            timeout: query_param(query, "timeoutSeconds")
                .and_then(|v| v.parse().ok())
                .map(Duration::from_secs)
                .unwrap_or(Duration::from_secs(1800)),
        }
    }

    fn kind(&self) -> &'static str {
        if self.resource == "secrets" { "Secret" } else { "ExternalSecret" }
    }

    fn matches(&self, event: &Event) -> bool {
        self.namespace.as_deref().is_none_or(|ns| ns == event.namespace)
            && event.object.at(&["kind"]).as_str() == Some(self.kind())
    }

    fn render(&self, event: &Event) -> Vec<u8> {
        let object = match self.repr {
            Repr::Table(include) => table(self.kind(), event.rv, &[&event.object], include),
            other => render_one(&event.object, other),
        };
        line(event.kind, object)
    }

    /// Every object as ADDED (no version given), or the changes after `from`.
    fn backlog(&self, shared: &Shared) -> (Vec<Event>, broadcast::Receiver<Event>, bool, u64) {
        let state = lock(&shared.state);
        let live = shared.events.subscribe();
        let gone = self.from.is_some_and(|rv| rv < state.compacted);
        let backlog: Vec<Event> = match self.from {
            Some(rv) => {
                state.events.iter().filter(|e| e.rv > rv && self.matches(e)).cloned().collect()
            }
            None => state
                .secrets
                .values()
                .chain(
                    state
                        .custom
                        .iter()
                        .filter(|((plural, _, _), _)| plural == self.resource)
                        .map(|(_, o)| o),
                )
                .map(|o| Event {
                    rv: 0,
                    kind: "ADDED",
                    namespace: o
                        .at(&["metadata", "namespace"])
                        .as_str()
                        .unwrap_or_default()
                        .to_owned(),
                    object: o.clone(),
                })
                .filter(|e| self.matches(e))
                .collect(),
        };
        (backlog, live, gone, state.rv)
    }
}

/// Streams `watch` to the client.
pub(crate) fn serve(shared: Arc<Shared>, watch: Watch, tap: Tap) -> Response<Body> {
    let (tx, rx) = mpsc::channel::<Vec<u8>>(256);
    let repr = watch.repr;
    let mut end = shared.end_watches.subscribe();
    tokio::spawn(async move {
        let _open = OpenWatch::new(shared.clone());
        tap::watch_gate(&shared).await;
        let send = |bytes: Vec<u8>| {
            let muted = tap::muted(&shared);
            if !muted {
                tap.body(&bytes);
            }
            let tx = tx.clone();
            async move { if muted { Ok(()) } else { tx.send(bytes).await } }
        };
        let (backlog, mut live, gone, rv_now) = watch.backlog(&shared);
        if gone {
            let message =
                format!("too old resource version: {} ({rv_now})", watch.from.unwrap_or(0));
            send(line("ERROR", status(410, "Expired", &message, json!({})))).await.ok();
            return;
        }
        let mut last = watch.from.unwrap_or(rv_now);
        for event in &backlog {
            last = last.max(event.rv);
            if send(watch.render(event)).await.is_err() {
                return;
            }
        }
        let deadline = tokio::time::Instant::now() + watch.timeout;
        let mut ticker = tokio::time::interval(lock(&shared.state).bookmark_every);
        ticker.tick().await;
        loop {
            tokio::select! {
                event = live.recv() => match event {
                    Ok(event) if event.rv > last && watch.matches(&event) => {
                        last = event.rv;
                        if send(watch.render(&event)).await.is_err() { return; }
                    }
                    Ok(_) => {}
                    Err(broadcast::error::RecvError::Lagged(_) | broadcast::error::RecvError::Closed) => return,
                },
                _ = ticker.tick(), if watch.bookmarks => {
                    let rv = last.max(lock(&shared.state).rv);
                    last = rv;
                    let object = json!({"kind": watch.kind(), "apiVersion": "v1", "metadata": {"resourceVersion": rv.to_string(), "annotations": {"k8s.io/initial-events-end": "true"}}});
                    if send(line("BOOKMARK", object)).await.is_err() { return; }
                }
                _ = tokio::time::sleep_until(deadline) => return,
                _ = end.recv() => return,
                _ = tx.closed() => return,
            }
        }
    });
    let stream = futures::stream::unfold(rx, |mut rx| async move {
        rx.recv().await.map(|bytes| (Ok::<_, Infallible>(Frame::data(Bytes::from(bytes))), rx))
    });
    build(
        Response::builder().status(200).header("content-type", content_type(repr)),
        StreamBody::new(stream).boxed(),
    )
}
