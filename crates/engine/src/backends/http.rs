//! One HTTP client for every backend asked directly. The client (and the system's root
//! certificates it loads) is made on first use, on the runtime, never where a probe is made.
//! Credentials travel with every request, so plain HTTP goes to this machine only; an answer
//! is read up to a limit and kept as [`Answer`] for the backend's one classifying function.

use std::time::Duration;

use bytes::Bytes;
use http::Request;
use http_body_util::{BodyExt, Full};
use tokio::sync::OnceCell;

use super::BackendError;
use crate::text::scrub;

/// Largest answer read from a backend (a names list of thousands is well under this).
const MAX_BODY: usize = 4 * 1024 * 1024;

type Client = hyper_util::client::legacy::Client<
    hyper_rustls::HttpsConnector<hyper_util::client::legacy::connect::HttpConnector>,
    Full<Bytes>,
>;

/// The client, made on first use.
#[derive(Default)]
pub(crate) struct Http {
    client: OnceCell<Option<Client>>,
}

/// A backend's answer: status, content type, body and `Retry-After`, nothing else.
#[derive(Debug, Clone, PartialEq, Eq)]
pub(crate) struct Answer {
    pub(crate) status: u16,
    content_type: String,
    pub(crate) body: Bytes,
    pub(crate) retry_after: Option<Duration>,
}

impl Answer {
    /// An answer as a server gave it (also for tests of a backend's classification).
    pub(crate) fn new(
        status: u16,
        content_type: &str,
        body: Bytes,
        retry_after: Option<Duration>,
    ) -> Self {
        Self { status, content_type: content_type.to_ascii_lowercase(), body, retry_after }
    }

    /// Whether it says it is JSON.
    pub(crate) fn is_json(&self) -> bool {
        self.content_type.trim_start().starts_with("application/json")
    }

    /// The body as `T`, when it is JSON of that shape.
    pub(crate) fn json<T: serde::de::DeserializeOwned>(&self) -> Option<T> {
        if self.is_json() { serde_json::from_slice(&self.body).ok() } else { None }
    }

    /// The failure a status means when the backend's own classification has nothing more
    /// specific: throttling, or an answer that is not one of its documented ones.
    pub(crate) fn failure(&self, who: &str) -> BackendError {
        match self.status {
            429 | 503 => BackendError::Throttled {
                message: format!("{who} asked to slow down ({})", self.status),
                retry_after: self.retry_after,
            },
            status if !self.is_json() => BackendError::Unreachable(format!(
                "{who} answered {status} with something that is not its API's answer (a proxy or a wrong address?)"
            )),
            status => BackendError::Unreachable(format!("{who} answered {status}")),
        }
    }
}

fn client() -> Option<Client> {
    let builder = hyper_rustls::HttpsConnectorBuilder::new()
        .with_provider_and_native_roots(rustls::crypto::ring::default_provider())
        .ok()?;
    let connector = builder.https_or_http().enable_http1().build();
    Some(
        hyper_util::client::legacy::Client::builder(hyper_util::rt::TokioExecutor::new())
            .build(connector),
    )
}

impl Http {
    /// Sends `request`; the answer, at most [`MAX_BODY`] bytes of it.
    pub(crate) async fn send(&self, request: Request<Full<Bytes>>) -> Result<Answer, BackendError> {
        let Some(client) = self.client.get_or_init(|| async { client() }).await else {
            return Err(BackendError::Unreachable(
                "the system's root certificates could not be loaded".to_owned(),
            ));
        };
        let host = request.uri().host().unwrap_or_default().to_owned();
        if request.uri().scheme_str() != Some("https") && !is_loopback(&host) {
            return Err(BackendError::Unreachable(format!(
                "refusing to send credentials to {host} over plain http; use its https address"
            )));
        }
        let response = client.request(request).await.map_err(|e| {
            BackendError::Unreachable(format!("cannot reach {host}: {}", scrub(&e.to_string())))
        })?;
        let status = response.status().as_u16();
        let header = |name: http::header::HeaderName| {
            response.headers().get(name).and_then(|v| v.to_str().ok()).map(str::to_owned)
        };
        let content_type = header(http::header::CONTENT_TYPE).unwrap_or_default();
        let retry_after = header(http::header::RETRY_AFTER)
            .and_then(|v| v.trim().parse::<u64>().ok())
            .map(|secs| Duration::from_secs(secs.min(3600)));
        let body = http_body_util::Limited::new(response.into_body(), MAX_BODY)
            .collect()
            .await
            .map_err(|_| {
                BackendError::Unreachable(format!("{host} sent an unreadable or oversized answer"))
            })?
            .to_bytes();
        Ok(Answer::new(status, &content_type, body, retry_after))
    }
}

/// Whether `host` is this machine.
fn is_loopback(host: &str) -> bool {
    host == "localhost"
        || host
            .trim_matches(['[', ']'])
            .parse::<std::net::IpAddr>()
            .is_ok_and(|ip| ip.is_loopback())
}

/// A GET with one credential header, asking for JSON.
pub(crate) fn get(url: &str, header: (&str, &str)) -> Result<Request<Full<Bytes>>, BackendError> {
    Request::get(url)
        .header(header.0, header.1)
        .header(http::header::ACCEPT, "application/json")
        .header(http::header::USER_AGENT, concat!("greenlight/", env!("CARGO_PKG_VERSION")))
        .body(Full::new(Bytes::new()))
        .map_err(|_| BackendError::Unreachable(format!("`{}` is not a valid address", scrub(url))))
}

/// Percent-encodes one path segment or query value.
pub(crate) fn encode(text: &str) -> String {
    text.bytes()
        .map(|b| {
            if b.is_ascii_alphanumeric() || b"-._~".contains(&b) {
                (b as char).to_string()
            } else {
                format!("%{b:02X}")
            }
        })
        .collect()
}
