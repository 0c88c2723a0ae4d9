//! Test-only machinery, behind the `test-machinery` feature (the test kit turns it on; the
//! release build leaves it off): a record of every request with its response body, faults on
//! demand, expiring users, compaction, paused and muted watches, and a restart on the same
//! port.

use std::sync::{Arc, Mutex};
use std::time::Duration;

use hyper::Response;
use serde_json::json;

use crate::ApiServer;
use crate::json::query_param;
use crate::reply::{Body, build, full, status};
use crate::state::{Shared, lock};
use crate::tap::Facts;

/// Misbehaviour on demand.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Default)]
pub enum Fault {
    /// Behave.
    #[default]
    None,
    /// Accept requests and never answer.
    Hang,
    /// Answer every request with 500.
    Error500,
    /// Keep open watches open but send nothing on them (no events, no bookmarks), as a
    /// stalled proxy or a half-dead connection does.
    MuteWatches,
    /// A proxy in front that answers resource requests with its own HTML 404 page (access
    /// reviews still reach the server).
    NotFoundPages,
}

/// One request and what the server answered.
#[derive(Debug, Clone)]
pub struct Record {
    pub user: String,
    pub user_agent: String,
    pub method: String,
    pub path: String,
    pub query: String,
    pub accept: String,
    /// Content type of the request body.
    pub content_type: String,
    pub status: u16,
    /// The whole response body; for a watch, every event sent so far.
    pub body: Arc<Mutex<Vec<u8>>>,
}

impl Record {
    /// The response body sent so far.
    pub fn body(&self) -> Vec<u8> {
        lock(&self.body).clone()
    }

    /// A decoded query parameter of the request.
    pub fn param(&self, name: &str) -> Option<String> {
        query_param(&self.query, name)
    }
}

#[derive(Default)]
pub(crate) struct Machinery {
    fault: Fault,
    records: Vec<Record>,
    watches_paused: bool,
    /// Added before every answer and every new connection, as a far cluster's round trip.
    latency: Duration,
    /// Requests still to be answered 429 (with `Retry-After: 1`).
    throttled: usize,
    /// SelfSubjectRulesReview answers say `incomplete` (as with a webhook authorizer).
    rules_incomplete: bool,
}

/// Where one request's record is kept.
#[derive(Clone)]
pub(crate) struct Tap {
    shared: Arc<Shared>,
    index: usize,
    body: Arc<Mutex<Vec<u8>>>,
}

impl Tap {
    pub(crate) fn open(shared: &Arc<Shared>, facts: &Facts<'_>) -> Self {
        let body = Arc::new(Mutex::new(Vec::new()));
        let record = Record {
            user: facts.user.to_owned(),
            user_agent: facts.user_agent.to_owned(),
            method: facts.method.to_owned(),
            path: facts.path.to_owned(),
            query: facts.query.to_owned(),
            accept: facts.accept.to_owned(),
            content_type: facts.content_type.to_owned(),
            status: 0,
            body: body.clone(),
        };
        let mut state = lock(&shared.state);
        state.machinery.records.push(record);
        Self { shared: shared.clone(), index: state.machinery.records.len() - 1, body }
    }

    pub(crate) fn status(&self, code: u16) {
        if let Some(record) = lock(&self.shared.state).machinery.records.get_mut(self.index) {
            record.status = code;
        }
    }

    pub(crate) fn body(&self, bytes: &[u8]) {
        lock(&self.body).extend_from_slice(bytes);
    }
}

/// Waits the round trip a far cluster adds.
pub(crate) async fn latency(shared: &Shared) {
    let latency = lock(&shared.state).machinery.latency;
    if !latency.is_zero() {
        tokio::time::sleep(latency).await;
    }
}

/// Whether rules reviews say they are incomplete.
pub(crate) fn rules_incomplete(shared: &Shared) -> bool {
    lock(&shared.state).machinery.rules_incomplete
}

/// The injected fault's answer, when one applies.
pub(crate) async fn intercept(shared: &Shared, path: &str) -> Option<Response<Body>> {
    latency(shared).await;
    let (fault, throttled) = {
        let mut state = lock(&shared.state);
        let machinery = &mut state.machinery;
        let throttled = machinery.throttled > 0;
        machinery.throttled = machinery.throttled.saturating_sub(1);
        (machinery.fault, throttled)
    };
    if throttled {
        let body = serde_json::to_vec(&status(
            429,
            "TooManyRequests",
            "Too many requests, please try again later.",
            json!({"retryAfterSeconds": 1}),
        ))
        .unwrap_or_default();
        return Some(build(
            Response::builder()
                .status(429)
                .header("content-type", "application/json")
                .header("retry-after", "1"),
            full(body),
        ));
    }
    match fault {
        Fault::Hang => std::future::pending().await,
        Fault::Error500 => {
            let body = serde_json::to_vec(&status(
                500,
                "InternalError",
                "an error on the server (\"injected\") has prevented the request from succeeding",
                json!({}),
            ))
            .unwrap_or_default();
            Some(build(
                Response::builder().status(500).header("content-type", "application/json"),
                full(body),
            ))
        }
        Fault::NotFoundPages if !path.contains("/selfsubject") => Some(build(
            Response::builder().status(404).header("content-type", "text/html"),
            full(b"<html><body><h1>404 Not Found</h1><p>nginx</p></body></html>".to_vec()),
        )),
        Fault::None | Fault::MuteWatches | Fault::NotFoundPages => None,
    }
}

/// Holds a new watch while watches are paused.
pub(crate) async fn watch_gate(shared: &Shared) {
    while lock(&shared.state).machinery.watches_paused {
        tokio::time::sleep(Duration::from_millis(10)).await;
    }
}

/// Whether open watches are muted.
pub(crate) fn muted(shared: &Shared) -> bool {
    lock(&shared.state).machinery.fault == Fault::MuteWatches
}

impl ApiServer {
    /// Misbehave from now on (or behave again with [`Fault::None`]).
    pub fn set_fault(&self, fault: Fault) {
        lock(&self.shared.state).machinery.fault = fault;
    }

    /// Adds `latency` before every answer and every new connection, as a cluster behind a
    /// VPN or in another region does.
    pub fn set_latency(&self, latency: Duration) {
        lock(&self.shared.state).machinery.latency = latency;
    }

    /// Answers the next `requests` requests with 429 and `Retry-After: 1`, as API priority
    /// and fairness does under load.
    pub fn throttle(&self, requests: usize) {
        lock(&self.shared.state).machinery.throttled = requests;
    }

    /// SelfSubjectRulesReview answers say `incomplete` from now on (as when a webhook
    /// authorizer also decides), so clients must fall back to access reviews.
    pub fn set_rules_incomplete(&self, incomplete: bool) {
        lock(&self.shared.state).machinery.rules_incomplete = incomplete;
    }

    /// Rejects the user's token with 401 from now on, as an expired credential is.
    pub fn expire_user(&self, token: &str) {
        for user in &mut lock(&self.shared.state).users {
            if user.token == token {
                user.expired = true;
            }
        }
    }

    /// Every request so far, with what was answered.
    pub fn records(&self) -> Vec<Record> {
        lock(&self.shared.state).machinery.records.clone()
    }

    /// Forgets the requests so far.
    pub fn clear_records(&self) {
        lock(&self.shared.state).machinery.records.clear();
    }

    /// Forgets watch history up to now: watches from older resource versions get 410 Gone.
    pub fn compact(&self) {
        let mut state = lock(&self.shared.state);
        state.compacted = state.rv;
        state.events.clear();
    }

    /// Holds new watch requests (they are answered once resumed), to stage what a client
    /// finds when it comes back.
    pub fn pause_watches(&self, paused: bool) {
        lock(&self.shared.state).machinery.watches_paused = paused;
    }

    /// Ends every open watch cleanly (as a server-side timeout does); clients watch again from
    /// the last version they saw.
    pub fn end_watches(&self) {
        self.shared.end_watches.send(()).ok();
    }

    /// Watches open now (a client that went away closes its watch within a few milliseconds).
    pub fn open_watches(&self) -> usize {
        self.shared.open_watches.load(std::sync::atomic::Ordering::SeqCst)
    }

    /// How often open watches get a bookmark.
    pub fn set_bookmark_interval(&self, every: Duration) {
        lock(&self.shared.state).bookmark_every = every;
    }

    /// Listens again on the same port, with the same data, after [`ApiServer::stop`].
    pub async fn restart(&self) {
        self.stop();
        let listener = loop {
            match tokio::net::TcpListener::bind(self.addr).await {
                Ok(listener) => break listener,
                Err(_) => tokio::time::sleep(Duration::from_millis(20)).await,
            }
        };
        self.listen(listener);
    }
}
