//! One connection to the cluster: the client with its credential, who the server says the
//! user is, and what is known per namespace. Renewed when the credential is about to expire
//! or the server rejects it.

use std::collections::{BTreeMap, HashMap};
use std::sync::Arc;
use std::time::{Duration, Instant};

use tokio::task::JoinHandle;

use super::connection::{self, ContextInfo};
use super::view::NamespaceView;
use super::wire::{self, ProbeError};
use super::{ProbeState, Settings};
use crate::detect::ConnectError;
use crate::detect::{Connection, ConnectionStatus, KubernetesConnection};
use crate::diagnose::kubernetes::KubeIdentity;
use crate::spec::Expect;

/// A connected client and what is known per namespace.
pub(super) struct Session {
    pub(super) client: kube::Client,
    /// When the exec plugin's credential stops working; the session is renewed before.
    pub(super) expires: Option<std::time::SystemTime>,
    /// Starts a round when the credential is due for renewal.
    pub(super) renewal: Option<JoinHandle<()>>,
    pub(super) scene: KubeIdentity,
    pub(super) views: tokio::sync::Mutex<HashMap<String, Arc<NamespaceView>>>,
    /// What the user may do with Secrets in every namespace, asked once per permissions
    /// epoch (four access reviews for the whole spec instead of a review per namespace).
    pub(super) cluster_wide: tokio::sync::Mutex<Option<(u64, Instant, super::view::ClusterWide)>>,
    /// Secret names in namespaces the spec does not use, listed at most once a minute.
    pub(super) others: tokio::sync::Mutex<Option<(Instant, Listing)>>,
}

/// Secret names per namespace.
pub(super) type Listing = BTreeMap<String, Vec<String>>;

pub(super) fn describe(
    info: &ContextInfo,
    user: Option<&str>,
    expect: &Expect,
) -> ConnectionStatus {
    let connection = Connection::Kubernetes(KubernetesConnection {
        context: Some(info.context.clone()),
        server: Some(info.server.clone()),
        user: user.map(str::to_owned),
        credential_plugin: info.plugin.clone(),
    });
    let mut warnings = Vec::new();
    if let Some(wanted) = expect.kubernetes_context.as_ref().filter(|w| **w != info.context) {
        warnings.push(format!(
            "The spec expects context `{wanted}`, but Greenlight is using `{}`.",
            info.context
        ));
    }
    if let Some(wanted) = expect
        .kubernetes_server
        .as_ref()
        .filter(|w| w.trim_end_matches('/') != info.server.trim_end_matches('/'))
    {
        warnings.push(format!(
            "The spec expects the cluster at {wanted}, but context `{}` points at {}.",
            info.context, info.server
        ));
    }
    ConnectionStatus { connection, warnings }
}

pub(super) async fn session(
    settings: &Settings,
    expect: &Expect,
    state: &ProbeState,
) -> Result<Arc<Session>, ConnectError> {
    let mut slot = state.session.lock().await;
    if let Some(session) = slot.as_ref() {
        // A plugin's credential is renewed shortly before it expires, as kubectl does.
        if session.expires.is_none_or(|at| std::time::SystemTime::now() < renew_at(at)) {
            return Ok(session.clone());
        }
    }
    let connected = connection::connect(
        settings.kubeconfig.as_deref(),
        settings.context.as_deref(),
        settings.request_timeout,
    )
    .await;
    let connection::Connected { client, info, expires } = match connected {
        Ok(connected) => connected,
        Err(error) => {
            let status = ConnectionStatus {
                connection: Connection::Kubernetes(KubernetesConnection {
                    context: settings.context.clone(),
                    ..KubernetesConnection::default()
                }),
                warnings: vec![format!("Not connected: {error}")],
            };
            if let Ok(mut c) = state.connection.lock() {
                *c = Some(status);
            }
            return Err(error);
        }
    };
    // The user name as the server sees it; servers before 1.28 may not offer this.
    let user = wire::whoami(&client, settings.request_timeout).await.ok().filter(|u| !u.is_empty());
    if let Ok(mut c) = state.connection.lock() {
        *c = Some(describe(&info, user.as_deref(), expect));
    }
    let scene = KubeIdentity {
        context: info.context.clone(),
        user: user.clone(),
        login: info.login.clone(),
    };
    let renewal = expires.map(|at| {
        let nudge = state.nudge();
        let wait = renew_at(at).duration_since(std::time::SystemTime::now()).unwrap_or_default();
        tokio::spawn(async move {
            tokio::time::sleep(wait).await;
            nudge.notify();
        })
    });
    let session = Arc::new(Session {
        client,
        expires,
        renewal,
        scene,
        views: tokio::sync::Mutex::new(HashMap::new()),
        cluster_wide: tokio::sync::Mutex::new(None),
        others: tokio::sync::Mutex::new(None),
    });
    *slot = Some(session.clone());
    Ok(session)
}

/// When a credential that expires at `at` is renewed.
pub(super) fn renew_at(at: std::time::SystemTime) -> std::time::SystemTime {
    at.checked_sub(Duration::from_secs(30)).unwrap_or(at)
}

impl Drop for Session {
    fn drop(&mut self) {
        if let Some(task) = &self.renewal {
            task.abort();
        }
    }
}

/// The first failure that means the session itself is broken (re-read kubeconfig, re-run the
/// credential plugin): credentials or authentication.
pub(super) fn breaks_session(error: &ProbeError) -> bool {
    matches!(error, ProbeError::Unauthorized { .. } | ProbeError::Credentials { .. })
}
