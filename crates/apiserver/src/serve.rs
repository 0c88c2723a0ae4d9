//! Connections and the front door of every request: TLS with a handshake timeout, HTTP/1 with
//! a header timeout, then the bearer token checked before anything else is read, the body
//! read up to a limit, and the request handed to a watch or to `route`.

use std::convert::Infallible;
use std::sync::Arc;
use std::time::Duration;

use http_body_util::BodyExt;
use hyper::body::Incoming;
use hyper::{Request, Response};
use hyper_util::rt::{TokioIo, TokioTimer};
use serde_json::json;
use tokio::net::TcpListener;
use tokio::task::JoinSet;
use tokio_rustls::TlsAcceptor;

use crate::json::query_param;
use crate::protobuf;
use crate::reply::{Body, build, full, negotiate, reply, status};
use crate::route::{Call, authorize, route};
use crate::state::{Shared, lock};
use crate::tap::{Facts, Tap};
use crate::watch::{self, Watch};

/// Longest a client may take to finish the TLS handshake, or to send a request's headers.
const HANDSHAKE: Duration = Duration::from_secs(10);

/// Largest request body read (the real API server's limit is 3 MiB too).
const MAX_BODY: usize = 3 * 1024 * 1024;

/// Accepts connections until aborted; aborting it drops every connection it serves.
pub(crate) async fn accept(shared: Arc<Shared>, acceptor: TlsAcceptor, listener: TcpListener) {
    let mut connections = JoinSet::new();
    let mut pause = Duration::from_millis(10);
    loop {
        while connections.try_join_next().is_some() {}
        let tcp = match listener.accept().await {
            Ok((tcp, _)) => {
                pause = Duration::from_millis(10);
                tcp
            }
            // Out of file descriptors, or a connection reset before it was accepted: wait a
            // little (longer each time) instead of spinning.
            Err(_) => {
                tokio::time::sleep(pause).await;
                pause = (pause * 2).min(Duration::from_secs(1));
                continue;
            }
        };
        let shared = shared.clone();
        let acceptor = acceptor.clone();
        connections.spawn(async move {
            crate::tap::latency(&shared).await;
            let Ok(Ok(tls)) = tokio::time::timeout(HANDSHAKE, acceptor.accept(tcp)).await else {
                return;
            };
            let service = hyper::service::service_fn(move |req| {
                let shared = shared.clone();
                async move { Ok::<_, Infallible>(handle(shared, req).await) }
            });
            hyper::server::conn::http1::Builder::new()
                .timer(TokioTimer::new())
                .header_read_timeout(HANDSHAKE)
                .serve_connection(TokioIo::new(tls), service)
                .await
                .ok();
        });
    }
}

fn json_response(code: u16, body: &serde_json::Value, tap: &Tap) -> Response<Body> {
    let bytes = serde_json::to_vec(body).unwrap_or_default();
    tap.status(code);
    tap.body(&bytes);
    build(Response::builder().status(code).header("content-type", "application/json"), full(bytes))
}

/// The OpenAPI v2 document. kubectl 1.20 validates against it; it only reads protobuf, and
/// a Content-Type with '@' in it (the real one) trips its media type parser, so octet-stream.
fn openapi_v2() -> Response<Body> {
    build(
        Response::builder().status(200).header("content-type", "application/octet-stream"),
        full(protobuf::openapi_v2()),
    )
}

/// A body in a format the API server does not read.
fn unsupported_media(content_type: &str) -> crate::reply::Reply {
    let message = format!(
        "the body of the request was in an unknown format - accepted media types include: application/json, application/yaml, application/apply-patch+yaml, application/merge-patch+json, application/strategic-merge-patch+json; got {content_type}"
    );
    reply(415, status(415, "UnsupportedMediaType", &message, json!({})))
}

async fn handle(shared: Arc<Shared>, req: Request<Incoming>) -> Response<Body> {
    let (parts, body) = req.into_parts();
    let header = |name: &str| {
        parts.headers.get(name).and_then(|v| v.to_str().ok()).unwrap_or_default().to_owned()
    };
    let (accept, content_type, user_agent) =
        (header("accept"), header("content-type"), header("user-agent"));
    let method = parts.method.as_str();
    let path = parts.uri.path();
    let query = parts.uri.query().unwrap_or_default();
    // Who is asking, before anything else is read: an unknown caller gets 401 and its body
    // is never read.
    let user = header("authorization")
        .strip_prefix("Bearer ")
        .and_then(|token| lock(&shared.state).user(token));
    let name = user.as_ref().map_or("system:anonymous", |u| u.name.as_str());
    let facts = Facts {
        user: name,
        user_agent: &user_agent,
        method,
        path,
        query,
        accept: &accept,
        content_type: &content_type,
    };
    let tap = Tap::open(&shared, &facts);
    if let Some(answer) = crate::tap::intercept(&shared, path).await {
        tap.status(answer.status().as_u16());
        return answer;
    }
    let Some(user) = user else {
        let body = json!({"kind": "Status", "apiVersion": "v1", "metadata": {}, "status": "Failure", "message": "Unauthorized", "reason": "Unauthorized", "code": 401});
        return json_response(401, &body, &tap);
    };
    let segments: Vec<&str> = path.split('/').filter(|s| !s.is_empty()).collect();
    if method == "GET" && segments == ["openapi", "v2"] {
        tap.status(200);
        return openapi_v2();
    }
    if method == "GET" && matches!(query_param(query, "watch").as_deref(), Some("1" | "true")) {
        return open_watch(&shared, &user, &segments, &accept, query, tap);
    }
    let body = match http_body_util::Limited::new(body, MAX_BODY).collect().await {
        Ok(collected) => collected.to_bytes().to_vec(),
        Err(_) => {
            let message = format!("the request body is larger than {} MiB", MAX_BODY >> 20);
            let too_large = status(413, "RequestEntityTooLarge", &message, json!({}));
            return json_response(413, &too_large, &tap);
        }
    };
    let (body, content_type) = decode_body(method, body, content_type);
    let answer = if !body.is_empty()
        && method != "DELETE"
        && !(content_type.contains("json") || content_type.contains("yaml"))
    {
        unsupported_media(&content_type)
    } else {
        let call = Call {
            user: &user,
            method,
            segments: &segments,
            query,
            accept: &accept,
            content_type: &content_type,
            body: &body,
        };
        route(&shared, &call)
    };
    tap.status(answer.code);
    let bytes = serde_json::to_vec(&answer.body).unwrap_or_default();
    tap.body(&bytes);
    build(
        Response::builder().status(answer.code).header("content-type", answer.content_type),
        full(bytes),
    )
}

/// kubectl sends typed objects as protobuf: the few kinds served here are decoded into JSON.
/// kubectl 1.20's `create secret`/`create namespace` send JSON with no Content-Type, which
/// the real API server takes as JSON.
fn decode_body(method: &str, body: Vec<u8>, content_type: String) -> (Vec<u8>, String) {
    if content_type.starts_with("application/vnd.kubernetes.protobuf") && method != "DELETE" {
        match protobuf::decode(&body) {
            Some(object) => {
                (serde_json::to_vec(&object).unwrap_or_default(), "application/json".to_owned())
            }
            None => (body, content_type),
        }
    } else if content_type.is_empty() {
        (body, "application/json".to_owned())
    } else {
        (body, content_type)
    }
}

/// A watch on Secrets (in a namespace or everywhere) or on ExternalSecrets in a namespace.
fn open_watch(
    shared: &Arc<Shared>,
    user: &crate::state::User,
    segments: &[&str],
    accept: &str,
    query: &str,
    tap: Tap,
) -> Response<Body> {
    let served = |version: &str| lock(&shared.state).eso_versions.iter().any(|v| v == version);
    let (namespace, resource) = match segments {
        ["api", "v1", "namespaces", ns, "secrets"] => (Some(ns.to_string()), "secrets"),
        ["api", "v1", "secrets"] => (None, "secrets"),
        ["apis", "external-secrets.io", version, "namespaces", ns, "externalsecrets"]
            if served(version) =>
        {
            (Some(ns.to_string()), "externalsecrets")
        }
        _ => {
            let message = "watch is only supported on secrets and externalsecrets here";
            return json_response(405, &status(405, "MethodNotAllowed", message, json!({})), &tap);
        }
    };
    if let Some(denied) = authorize(user, "watch", resource, namespace.as_deref(), None) {
        return json_response(403, &denied, &tap);
    }
    let Some(repr) = negotiate(accept, query) else {
        tap.status(406);
        return build(Response::builder().status(406), full(Vec::new()));
    };
    tap.status(200);
    watch::serve(shared.clone(), Watch::new(namespace, resource, repr, query), tap)
}
