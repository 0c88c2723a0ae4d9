//! The External Secrets side of a delivery chain, asked only in value-free forms: API
//! discovery (is ESO installed, which version is served), the store and ExternalSecret
//! printer columns (Tables with `includeObject=None`: an ExternalSecret's template can hold
//! literals), the names of Secrets ESO manages (a label-selected Table), and for an
//! ExternalSecret that is not synced, its latest Warning Event classified into a [`Cause`]
//! in memory; the event's words are dropped.

use std::collections::{BTreeMap, BTreeSet};
use std::sync::Arc;

use super::session::Session;
use super::wire::{self, ProbeError};
use super::{KubernetesProbe, session};
use crate::spec::{StoreKind, StoreRef};

/// The API group External Secrets serves.
pub(crate) const GROUP: &str = "external-secrets.io";
/// The label ESO puts on every Secret it writes (since ESO 0.11).
pub(crate) const MANAGED_LABEL: &str = "reconcile.external-secrets.io/managed";

/// What to ask.
#[derive(Debug, Clone, Default)]
pub(crate) struct Ask {
    /// The store, when the spec names one.
    pub store: Option<StoreRef>,
    /// The API version the deployment's manifests use, when the spec says.
    pub manifests: Option<String>,
    /// ExternalSecrets by (namespace, name).
    pub externals: BTreeSet<(String, String)>,
}

/// Which External Secrets API the cluster serves.
#[derive(Debug, Clone, PartialEq, Eq)]
pub(crate) enum Api {
    /// No `external-secrets.io` group: ESO is not installed.
    NotInstalled,
    /// Served; `using` is the version Greenlight reads (v1 when served).
    Served { using: String, served: Vec<String> },
    /// The group is there, but in none of the versions ExternalSecrets are read in (v1, the
    /// manifests' version, v1beta1).
    Unusable { served: Vec<String> },
}

/// An ExternalSecret's printer columns, and why it is not synced when it is not.
#[derive(Debug, Clone, PartialEq, Eq)]
pub(crate) struct External {
    /// The Ready column: `True`, `False`, or empty when never reconciled.
    pub ready: String,
    /// The Status column (the Ready condition's reason), e.g. `SecretSynced`.
    pub reason: String,
    /// The Last Sync column, when the server has it.
    pub last_sync: String,
    /// The Store column: the store it reads through.
    pub store: String,
    /// The StoreType column: the store's kind (empty means SecretStore, ESO's default).
    pub store_kind: String,
    /// For one that is not synced: the latest Warning Event, classified.
    pub cause: Option<Cause>,
    /// The backend key of the entry that failed (`spec.data[i] (key: K)` in the Warning), when
    /// the Warning names one that reads as a key; nothing else of its text is kept.
    pub failing_key: Option<String>,
}

/// Why External Secrets could not sync, in Greenlight's own words (from the latest Warning
/// Event; its text is never kept).
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub(crate) enum Cause {
    /// The backend has no such key (or the key has no such property).
    BackendKeyMissing,
    /// The store the ExternalSecret names does not exist.
    StoreMissing,
    /// The store exists but is not ready.
    StoreNotReady,
    /// A ClusterSecretStore that does not allow this namespace.
    NamespaceNotAllowed,
    /// The target Secret belongs to another ExternalSecret or controller.
    OwnedByOther,
    /// The target Secret is immutable.
    Immutable,
    /// The backend refused the store's credentials.
    AccessDenied,
    /// The store's own credential (a Secret or ServiceAccount it names) is missing.
    StoreCredentialMissing,
    /// A Warning Greenlight does not recognise.
    Other,
}

impl Cause {
    /// Classifies one Warning Event message. The message is not kept.
    pub(crate) fn of(message: &str) -> Cause {
        let m = message.strip_prefix("(combined from similar events): ").unwrap_or(message);
        let lower = m.to_ascii_lowercase();
        if lower.contains("could not get secretstore")
            || lower.contains("could not get clustersecretstore")
        {
            Cause::StoreMissing
        } else if lower.contains("is not allowed from namespace") {
            Cause::NamespaceNotAllowed
        } else if lower.contains("is not ready") {
            Cause::StoreNotReady
        } else if lower.contains("owned by another") {
            Cause::OwnedByOther
        } else if lower.contains("secret is immutable") || lower.contains("target is immutable") {
            Cause::Immutable
        } else if lower.contains("cannot get kubernetes secret")
            || lower.contains("serviceaccounts \"")
            || lower.contains("could not fetch serviceaccount")
        {
            Cause::StoreCredentialMissing
        } else if lower.contains("permissiondenied")
            || lower.contains("accessdenied")
            || lower.contains("is forbidden")
            || lower.contains("(http 401)")
            || lower.contains("(http 403)")
            || lower.contains("unauthorized")
        {
            Cause::AccessDenied
        } else if lower.contains("secret does not exist")
            || lower.contains("does not exist in secret")
            || lower.contains("does not exist in data of secret")
            || lower.contains("cannot find secret data for key")
            || lower.contains("resourcenotfoundexception")
            || (lower.contains("not found") && !lower.contains("store"))
        {
            Cause::BackendKeyMissing
        } else {
            Cause::Other
        }
    }

    /// What it means, in words.
    pub(crate) fn text(self) -> &'static str {
        match self {
            Cause::BackendKeyMissing => "the backend has no such key (or no such property in it)",
            Cause::StoreMissing => "the store it names does not exist",
            Cause::StoreNotReady => "its store is not ready",
            Cause::NamespaceNotAllowed => "the store does not allow this namespace",
            Cause::OwnedByOther => {
                "the target Secret belongs to another ExternalSecret or controller"
            }
            Cause::Immutable => "the target Secret is immutable, so it cannot be updated",
            Cause::AccessDenied => "the backend refused the store's credentials",
            Cause::StoreCredentialMissing => {
                "the store's own credential (a Secret or ServiceAccount it names) is missing"
            }
            Cause::Other => {
                "External Secrets reports an error; `kubectl describe externalsecret` shows it"
            }
        }
    }
}

/// The backend key a Warning names for the entry that failed: ESO writes
/// `error processing spec.data[N] (key: KEY), err: ...`. Kept only when it is 1 to 512
/// characters a backend key can hold (letters, digits and `/_+=.@-`), so no other text of the
/// Warning reaches Greenlight's words.
pub(crate) fn failing_key(message: &str) -> Option<String> {
    let after = message.split_once("spec.data[")?.1;
    let key = after.split_once("(key: ")?.1.split_once(')')?.0;
    let keyish = |c: char| c.is_ascii_alphanumeric() || "/_+=.@-".contains(c);
    (!key.is_empty() && key.len() <= 512 && key.chars().all(keyish)).then(|| key.to_owned())
}

/// Everything asked, each part with its own answer or failure.
#[derive(Debug, Clone)]
pub(crate) struct Answer {
    /// Which API is served, or why that is not known (not connected, refused, ...).
    pub api: Result<Api, ProbeError>,
    /// The store's printer columns, per scope; `None` when it does not exist.
    pub stores: BTreeMap<Scope, Result<Option<StoreRow>, ProbeError>>,
    /// Each ExternalSecret; `None` when it does not exist.
    pub externals: BTreeMap<(String, String), Result<Option<External>, ProbeError>>,
    /// Per namespace, the names of the Secrets ESO manages there.
    pub managed: BTreeMap<String, Result<BTreeSet<String>, ProbeError>>,
}

impl KubernetesProbe {
    /// Asks the cluster about External Secrets, on the probe's session.
    pub(crate) async fn eso(&self, ask: &Ask) -> Answer {
        let session = session(&self.settings, &self.expect, &self.state).await;
        let session = match session {
            Ok(session) => session,
            Err(error) => {
                let failed = ProbeError::Unreachable { message: error.message };
                return Answer {
                    api: Err(failed),
                    stores: BTreeMap::new(),
                    externals: BTreeMap::new(),
                    managed: BTreeMap::new(),
                };
            }
        };
        ask_all(&session, ask, self.settings.request_timeout).await
    }
}

impl KubernetesProbe {
    /// In live mode, keeps a watch on the ExternalSecrets of `namespace` (API `version`) and
    /// calls `wake` when one of `names` (kept current by the caller) changes, so a status change without a Secret change (a sync that
    /// starts failing) shows at once; reconnects with backoff. `None` in one-shot mode. The
    /// task holds the probe's state only through `Arc`s; aborting it ends the watch.
    pub(crate) fn watch_externalsecrets(
        self: &Arc<Self>,
        namespace: String,
        version: String,
        names: Arc<std::sync::Mutex<BTreeSet<String>>>,
        wake: crate::detect::Wake,
    ) -> Option<tokio::task::JoinHandle<()>> {
        if self.settings.mode != crate::detect::Mode::Live {
            return None;
        }
        let probe = Arc::clone(self);
        Some(tokio::spawn(async move {
            use futures::StreamExt;
            let settings = &probe.settings;
            let mut backoff = crate::detect::backoff::Backoff::new(settings.backoff);
            let path = wire::path_of(&[
                "apis",
                GROUP,
                &version,
                "namespaces",
                &namespace,
                "externalsecrets",
            ]);
            loop {
                let watched = async {
                    let session = session(settings, &probe.expect, &probe.state).await.ok()?;
                    let client = &session.client;
                    let from =
                        wire::list_version(client, &path, settings.request_timeout).await.ok()?;
                    let stream = wire::watch_changes(
                        client,
                        &path,
                        &from,
                        settings.watch_renew,
                        settings.watch_idle,
                    )
                    .await
                    .ok()?;
                    let mut stream = Box::pin(stream);
                    let mut changes = 0usize;
                    while let Some(Ok(name)) = stream.next().await {
                        changes += 1;
                        // Only the ExternalSecrets the spec names start a round.
                        if names.lock().map_or(true, |names| names.contains(&name)) {
                            wake.now();
                        }
                    }
                    Some(changes)
                };
                match watched.await {
                    // A watch the server ended on schedule: watch again at once.
                    Some(_) => backoff.reset(),
                    None => tokio::time::sleep(backoff.wait()).await,
                }
            }
        }))
    }
}

fn choose(served: &[String], manifests: Option<&str>) -> Option<String> {
    ["v1", manifests.unwrap_or("v1"), "v1beta1"]
        .into_iter()
        .find(|v| served.iter().any(|s| s == v))
        .map(str::to_owned)
}

async fn ask_all(session: &Arc<Session>, ask: &Ask, timeout: std::time::Duration) -> Answer {
    let client = &session.client;
    let namespaces: BTreeSet<&String> = ask.externals.iter().map(|(ns, _)| ns).collect();
    let api = match wire::group_versions(client, GROUP, timeout).await {
        Ok(None) => Ok(Api::NotInstalled),
        Ok(Some(served)) => match choose(&served, ask.manifests.as_deref()) {
            Some(using) => Ok(Api::Served { using, served }),
            None => Ok(Api::Unusable { served }),
        },
        Err(error) => Err(error),
    };
    let mut answer = Answer {
        api: api.clone(),
        stores: BTreeMap::new(),
        externals: BTreeMap::new(),
        managed: ask_managed(client, &namespaces, timeout).await,
    };
    let Ok(Api::Served { using, .. }) = api else { return answer };
    if let Some(store) = &ask.store {
        answer.stores = ask_stores(client, store, &using, &namespaces, timeout).await;
    }
    answer.externals = ask_externals(client, &ask.externals, &using, timeout).await;
    answer
}

/// The names of the Secrets External Secrets manages, per namespace.
async fn ask_managed(
    client: &kube::Client,
    namespaces: &BTreeSet<&String>,
    timeout: std::time::Duration,
) -> BTreeMap<String, Result<BTreeSet<String>, ProbeError>> {
    let managed = futures::future::join_all(namespaces.iter().map(|ns| async move {
        let query = format!("labelSelector={MANAGED_LABEL}%3Dtrue");
        let path = wire::path_of(&["api", "v1", "namespaces", ns, "secrets"]);
        let rows = wire::table(client, &path, &query, timeout).await;
        (
            (*ns).clone(),
            rows.map(|rows| rows.into_iter().filter_map(|mut r| r.remove("name")).collect()),
        )
    }))
    .await;
    managed.into_iter().collect()
}

/// Where a store lives: the cluster (a ClusterSecretStore) or one namespace (a SecretStore).
#[derive(Debug, Clone, PartialEq, Eq, PartialOrd, Ord)]
pub(crate) enum Scope {
    /// Cluster-wide.
    Cluster,
    /// In this namespace.
    Namespace(String),
}

impl Scope {
    /// Where a store of `kind` is looked for: once for the cluster, or in each namespace.
    pub(crate) fn all(kind: StoreKind, namespaces: impl IntoIterator<Item = String>) -> Vec<Self> {
        match kind {
            StoreKind::ClusterSecretStore => vec![Scope::Cluster],
            StoreKind::SecretStore => {
                let set: BTreeSet<String> = namespaces.into_iter().collect();
                set.into_iter().map(Scope::Namespace).collect()
            }
        }
    }
}

/// A store's printer columns: its Ready condition and the condition's reason.
#[derive(Debug, Clone, PartialEq, Eq)]
pub(crate) struct StoreRow {
    /// `True`, `False`, or empty when never validated.
    pub ready: String,
    /// E.g. `Valid`, `ValidationUnknown`, `InvalidProviderConfig`.
    pub reason: String,
}

/// The spec's store: once for a ClusterSecretStore, per namespace otherwise.
async fn ask_stores(
    client: &kube::Client,
    store: &StoreRef,
    version: &str,
    namespaces: &BTreeSet<&String>,
    timeout: std::time::Duration,
) -> BTreeMap<Scope, Result<Option<StoreRow>, ProbeError>> {
    let scopes = Scope::all(store.kind, namespaces.iter().map(|ns| (*ns).clone()));
    let stores = futures::future::join_all(scopes.into_iter().map(|scope| async move {
        let (plural, name) = (store.kind.plural(), store.name.as_str());
        let path = match &scope {
            Scope::Cluster => wire::path_of(&["apis", GROUP, version, plural, name]),
            Scope::Namespace(ns) => {
                wire::path_of(&["apis", GROUP, version, "namespaces", ns, plural, name])
            }
        };
        let row = wire::table_row(client, &path, plural, timeout).await.map(|row| {
            row.map(|row| StoreRow {
                ready: row.get("ready").cloned().unwrap_or_default(),
                reason: row.get("status").cloned().unwrap_or_default(),
            })
        });
        (scope, row)
    }))
    .await;
    stores.into_iter().collect()
}

/// Each ExternalSecret the spec names, with the cause of a failure classified from its newest
/// Warning.
async fn ask_externals(
    client: &kube::Client,
    externals: &BTreeSet<(String, String)>,
    version: &str,
    timeout: std::time::Duration,
) -> BTreeMap<(String, String), Result<Option<External>, ProbeError>> {
    let externals = futures::future::join_all(externals.iter().map(|(ns, name)| async move {
        let path =
            wire::path_of(&["apis", GROUP, version, "namespaces", ns, "externalsecrets", name]);
        let found = match wire::table_row(client, &path, "externalsecrets", timeout).await {
            Ok(Some(row)) => {
                let cell = |name: &str| row.get(name).cloned().unwrap_or_default();
                let mut external = External {
                    ready: cell("ready"),
                    reason: cell("status"),
                    last_sync: cell("last sync"),
                    store: cell("store"),
                    store_kind: cell("storetype"),
                    cause: None,
                    failing_key: None,
                };
                if external.ready == "False" {
                    // The newest Warning says why; its words are classified in `wire`, never kept.
                    let classify = |m: &str| (Cause::of(m), failing_key(m));
                    let newest =
                        wire::newest_warning(client, ns, "ExternalSecret", name, timeout, classify)
                            .await;
                    let (cause, key) = newest.ok().flatten().unwrap_or((Cause::Other, None));
                    external.cause = Some(cause);
                    external.failing_key = key;
                }
                Ok(Some(external))
            }
            Ok(None) => Ok(None),
            Err(error) => Err(error),
        };
        ((ns.clone(), name.clone()), found)
    }))
    .await;
    externals.into_iter().collect()
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn warnings_are_classified_without_keeping_their_words() {
        let cases = [
            (
                "error processing spec.data[0] (key: platform/hf-token), err: Secret does not exist",
                Cause::BackendKeyMissing,
            ),
            (
                "(combined from similar events): error processing spec.data[0] (key: x), err: Secret does not exist",
                Cause::BackendKeyMissing,
            ),
            (
                "error processing spec.data[0] (key: DB), err: could not get secret DB: Doppler API Client Error: secret 'DB' not found",
                Cause::BackendKeyMissing,
            ),
            (
                "error processing spec.data[0] (key: app), err: could not get ClusterSecretStore \"vault-backend\", ClusterSecretStore.external-secrets.io \"vault-backend\" not found",
                Cause::StoreMissing,
            ),
            (
                "error processing spec.data[0] (key: a), err: ClusterSecretStore \"secret-store\" is not ready",
                Cause::StoreNotReady,
            ),
            (
                "using cluster store \"s\" is not allowed from namespace \"n\": denied by spec.condition",
                Cause::NamespaceNotAllowed,
            ),
            (
                "unable to mutate secret t: secret is owned by another ExternalSecret: other",
                Cause::OwnedByOther,
            ),
            (
                "unable to access Secret from SecretManager Client: rpc error: code = PermissionDenied desc = denied",
                Cause::AccessDenied,
            ),
            (
                "error processing spec.data[0] (key: a), err: cannot get Kubernetes secret \"doppler-token-auth\" from namespace \"external-secrets\": secrets \"doppler-token-auth\" not found",
                Cause::StoreCredentialMissing,
            ),
            (
                "unable to create client: serviceaccounts \"eso-reader\" not found",
                Cause::StoreCredentialMissing,
            ),
            ("something else entirely", Cause::Other),
        ];
        for (message, cause) in cases {
            assert_eq!(Cause::of(message), cause, "{message}");
        }
    }

    #[test]
    fn only_a_key_is_kept_from_a_warning() {
        let key = |m: &str| failing_key(m);
        assert_eq!(
            key("error processing spec.data[1] (key: platform/litellm-salt-key), err: Secret does not exist").as_deref(),
            Some("platform/litellm-salt-key")
        );
        assert_eq!(
            key("(combined from similar events): error processing spec.data[0] (key: DATABASE_URL), err: not found").as_deref(),
            Some("DATABASE_URL")
        );
        for message in [
            "error processing spec.data[0] (key: a b), err: x",
            "error processing spec.data[0] (key: $(touch /tmp/x)), err: x",
            "error processing spec.data[0] (key: ), err: x",
            "error processing spec.dataFrom[0], err: x",
            "could not get secret data from provider (key: nope)",
        ] {
            assert_eq!(key(message), None, "{message}");
        }
        let long = format!("error processing spec.data[0] (key: {}), err: x", "k".repeat(513));
        assert_eq!(key(&long), None);
    }

    #[test]
    fn v1_is_read_when_served_and_v1beta1_only_when_it_is_all_there_is() {
        let served = |v: &[&str]| v.iter().map(|s| (*s).to_owned()).collect::<Vec<_>>();
        assert_eq!(choose(&served(&["v1", "v1beta1"]), Some("v1beta1")).as_deref(), Some("v1"));
        assert_eq!(choose(&served(&["v1beta1"]), Some("v1")).as_deref(), Some("v1beta1"));
        assert_eq!(choose(&served(&["v1beta1"]), None).as_deref(), Some("v1beta1"));
        assert_eq!(choose(&served(&["v1alpha1"]), None), None);
    }
}
