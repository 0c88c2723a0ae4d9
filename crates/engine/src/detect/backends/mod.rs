//! Backends Greenlight asks directly about a delivered value, in forms that cannot return
//! it: Google Secret Manager (a version's metadata, never `:access`), Doppler (the names-only
//! endpoint) and Vault KV version 2 (`metadata/` only). Each answers present, missing (with
//! near-miss names where the API lists names) or wrong; a credential failure says how to log
//! in again.

mod doppler;
mod gcp;
mod vault;

use std::time::Duration;

use bytes::Bytes;
use http::{Request, StatusCode};
use http_body_util::{BodyExt, Full};

use crate::spec::Source;
use crate::text::scrub;

/// What a backend said about one value.
#[derive(Debug, Clone, PartialEq, Eq)]
pub(crate) enum Look {
    /// It exists and is usable.
    Present,
    /// The backend cleanly said it does not exist; `near` lists names that look like typos.
    Missing { near: Vec<String> },
    /// It exists but is not usable, and why.
    Wrong(String),
}

/// Why a backend could not answer.
#[derive(Debug, Clone, PartialEq, Eq)]
pub(crate) enum BackendError {
    /// No credentials, or they were refused: how to log in.
    Credentials { message: String, login: &'static str },
    /// The identity may not look.
    Forbidden(String),
    /// No answer, or not one the API promises.
    Unreachable(String),
}

impl BackendError {
    pub(crate) fn text(&self) -> String {
        match self {
            BackendError::Credentials { message, .. }
            | BackendError::Forbidden(message)
            | BackendError::Unreachable(message) => message.clone(),
        }
    }
}

/// Largest answer read from a backend (a names list of thousands is well under this).
const MAX_BODY: usize = 4 * 1024 * 1024;

/// One HTTP client for every backend, with the system's root certificates.
#[derive(Clone)]
pub(crate) struct Backends {
    client: Option<
        hyper_util::client::legacy::Client<
            hyper_rustls::HttpsConnector<hyper_util::client::legacy::connect::HttpConnector>,
            Full<Bytes>,
        >,
    >,
    gcp: std::sync::Arc<gcp::Tokens>,
}

impl Default for Backends {
    fn default() -> Self {
        let client = hyper_rustls::HttpsConnectorBuilder::new()
            .with_provider_and_native_roots(rustls::crypto::ring::default_provider())
            .ok()
            .map(|builder| {
                let connector = builder.https_or_http().enable_http1().build();
                hyper_util::client::legacy::Client::builder(hyper_util::rt::TokioExecutor::new())
                    .build(connector)
            });
        Self { client, gcp: std::sync::Arc::default() }
    }
}

impl Backends {
    /// Forgets cached access tokens ("Check now" after a new login).
    pub(crate) async fn start_over(&self) {
        self.gcp.forget().await;
    }

    /// Asks the backend whether `source` exists, within `timeout`.
    pub(crate) async fn look(
        &self,
        source: &Source,
        timeout: Duration,
    ) -> Result<Look, BackendError> {
        let asked = async {
            match source {
                Source::Gcp { project, secret } => {
                    gcp::look(self, &self.gcp, project.as_deref(), secret).await
                }
                Source::Doppler { project, config, name } => {
                    doppler::look(self, project, config, name).await
                }
                Source::Vault { mount, path, .. } => vault::look(self, mount, path).await,
                Source::Aws(_) | Source::Kubernetes(_) => {
                    Err(BackendError::Unreachable("asked through its own probe".to_owned()))
                }
            }
        };
        match tokio::time::timeout(timeout, asked).await {
            Ok(result) => result,
            Err(_) => Err(BackendError::Unreachable(format!(
                "{} did not answer within {} s",
                source.title(),
                timeout.as_secs()
            ))),
        }
    }

    /// Sends `request`; the status and at most [`MAX_BODY`] bytes of the answer.
    async fn send(
        &self,
        request: Request<Full<Bytes>>,
    ) -> Result<(StatusCode, Bytes), BackendError> {
        let Some(client) = &self.client else {
            return Err(BackendError::Unreachable(
                "the system's root certificates could not be loaded".to_owned(),
            ));
        };
        let host = request.uri().host().unwrap_or_default().to_owned();
        // Tokens travel with every request: plain HTTP only to this machine.
        let loopback = host == "localhost"
            || host
                .trim_matches(['[', ']'])
                .parse::<std::net::IpAddr>()
                .is_ok_and(|ip| ip.is_loopback());
        if request.uri().scheme_str() != Some("https") && !loopback {
            return Err(BackendError::Unreachable(format!(
                "refusing to send credentials to {host} over plain http; use its https address"
            )));
        }
        let response = client.request(request).await.map_err(|e| {
            BackendError::Unreachable(format!("cannot reach {host}: {}", scrub(&e.to_string())))
        })?;
        let status = response.status();
        let body = http_body_util::Limited::new(response.into_body(), MAX_BODY)
            .collect()
            .await
            .map_err(|_| {
                BackendError::Unreachable(format!("{host} sent an unreadable or oversized answer"))
            })?
            .to_bytes();
        Ok((status, body))
    }
}

/// A GET with a bearer-style header.
fn get(url: &str, header: (&str, &str)) -> Result<Request<Full<Bytes>>, BackendError> {
    Request::get(url)
        .header(header.0, header.1)
        .header(http::header::ACCEPT, "application/json")
        .header(http::header::USER_AGENT, concat!("greenlight/", env!("CARGO_PKG_VERSION")))
        .body(Full::new(Bytes::new()))
        .map_err(|_| BackendError::Unreachable(format!("`{url}` is not a valid address")))
}

/// Percent-encodes one path segment or query value.
fn encode(text: &str) -> String {
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

/// The operator's home directory.
fn home() -> Option<std::path::PathBuf> {
    std::env::var_os("HOME").filter(|h| !h.is_empty()).map(std::path::PathBuf::from)
}

/// Reads a small credentials or configuration file (at most 1 MiB).
fn read_small(path: &std::path::Path) -> Option<String> {
    use std::io::Read;
    let file = std::fs::File::open(path).ok()?;
    let mut text = String::new();
    file.take(1024 * 1024).read_to_string(&mut text).ok()?;
    Some(text)
}
