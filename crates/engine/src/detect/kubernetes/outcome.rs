//! Each entry's outcome from what the view knows: present (or present but wrong), missing
//! with a diagnosis of what was actually found (namespace missing, another namespace, a
//! near-miss name), forbidden, or unreachable with the failure behind it.

use std::collections::{BTreeMap, BTreeSet};
use std::time::{Duration, Instant};

use super::Settings;
use super::session::Session;
use super::view::{Access, NamespaceView};
use super::wire::{self, ProbeError, SecretRow};
use crate::commands::CommandKind;
use crate::detect::{CheckOutcome, DIAGNOSIS_BUDGET, Permission, Presence, WriteAccess};
use crate::diagnose::Hint;
use crate::diagnose::kubernetes::{self as hints, KubeIdentity};
use crate::spec::{KubernetesPlacement, SecretEntry};

/// What the view says about one placement, before any diagnosis.
#[derive(Clone)]
pub(super) enum Observation {
    /// The user may not read Secrets in the namespace.
    Denied,
    /// The answer: the Secret's row, or none. `stale` is the failure behind rows that are
    /// only the last known ones.
    Answered { row: Option<SecretRow>, stale: Option<ProbeError> },
    /// No answer.
    Failed(ProbeError),
}

impl Observation {
    /// An answer that does not hold the Secret.
    pub(super) fn not_found(&self) -> bool {
        matches!(self, Observation::Answered { row: None, .. })
    }

    /// The failure behind this observation, if any (for deciding whether the session broke).
    pub(super) fn failure(&self) -> Option<&ProbeError> {
        match self {
            Observation::Answered { stale, .. } => stale.as_ref(),
            Observation::Failed(error) => Some(error),
            Observation::Denied => None,
        }
    }
}

/// Whether `placement` exists, as far as `view` can tell now. Lists and watches were brought
/// up to date before; only get-only views ask here.
pub(super) async fn observe(
    settings: &Settings,
    session: &Session,
    view: &NamespaceView,
    placement: &KubernetesPlacement,
) -> Observation {
    match view.access {
        Access::Denied => Observation::Denied,
        Access::Get => {
            match wire::get_secret(
                &session.client,
                &placement.namespace,
                &placement.secret,
                settings.request_timeout,
            )
            .await
            {
                Ok(row) => Observation::Answered { row, stale: None },
                Err(error) => Observation::Failed(error),
            }
        }
        Access::Watch | Access::List => {
            if view.access == Access::Watch {
                // Wait for the first answer of a new watcher.
                let mut generation = view.secrets.generation.subscribe();
                let first = generation.wait_for(|g| *g > 0);
                tokio::time::timeout(settings.request_timeout + Duration::from_secs(1), first)
                    .await
                    .ok();
            }
            view.secrets.read(|rows, error| match (rows, error) {
                (Some(rows), stale) => Observation::Answered {
                    row: rows.get(&placement.secret).cloned(),
                    stale: stale.cloned(),
                },
                (None, Some(error)) => Observation::Failed(error.clone()),
                (None, None) => Observation::Failed(ProbeError::Timeout(settings.request_timeout)),
            })
        }
    }
}

/// What every judgment of one round shares.
pub(super) struct Round<'a> {
    pub(super) settings: &'a Settings,
    pub(super) session: &'a Session,
    /// Every (namespace, Secret) the spec places, needed now or not: a hint never offers to
    /// delete one of them.
    pub(super) placed: &'a BTreeSet<(String, String)>,
    /// Write permissions asked in an earlier epoch are asked again.
    pub(super) permissions_epoch: u64,
}

impl Round<'_> {
    fn placed(&self, namespace: &str, secret: &str) -> bool {
        self.placed.contains(&(namespace.to_owned(), secret.to_owned()))
    }
}

/// The outcome for one placement from what was observed: present (or wrong), missing with a
/// diagnosis made within [`DIAGNOSIS_BUDGET`], forbidden, or unreachable.
pub(super) async fn judge(
    round: &Round<'_>,
    view: &NamespaceView,
    entry: &SecretEntry,
    placement: &KubernetesPlacement,
    observation: Observation,
) -> CheckOutcome {
    let scene = &round.session.scene;
    let namespace = &placement.namespace;
    let (row, stale) = match observation {
        Observation::Denied => {
            return CheckOutcome::now(Presence::Forbidden {
                permission: format!("get secrets in namespace {namespace}"),
            })
            .with_hints(hints::rbac(scene, namespace, "get"));
        }
        Observation::Failed(error) => return failed(scene, namespace, &error),
        Observation::Answered { row, stale } => (row, stale),
    };
    let mut outcome = match row {
        Some(row) => present(scene, placement, &row),
        None => {
            let diagnosis = missing(round, view, entry, placement);
            match tokio::time::timeout(DIAGNOSIS_BUDGET, diagnosis).await {
                Ok(outcome) => outcome,
                Err(_) => plain_missing(entry, placement),
            }
        }
    };
    outcome.stale = stale.map(|e| format!("last known state; {e}"));
    if outcome.needs_action() && entry.provided_by != crate::spec::Provider::Vendor {
        let write = write_access(round, view).await;
        if write.can_create == Permission::No {
            outcome.hints.extend(hints::may_not_create(scene, namespace, &write.reason));
        }
        outcome.write = Some(write);
    }
    outcome
}

/// How long an answer about write permission is kept (a Copy or "Check now" asks again).
const WRITE_ANSWER_FOR: Duration = Duration::from_secs(15);

/// Whether the operator may create and replace Secrets in the view's namespace (and create
/// the namespace, when it does not exist), from access reviews: nothing is written.
async fn write_access(round: &Round<'_>, view: &NamespaceView) -> WriteAccess {
    let mut cached = view.write.lock().await;
    if let Some((at, epoch, answer)) = cached.as_ref()
        && *epoch == round.permissions_epoch
        && at.elapsed() < WRITE_ANSWER_FOR
    {
        return answer.clone();
    }
    let (client, timeout, namespace) =
        (&round.session.client, round.settings.request_timeout, view.namespace.as_str());
    let namespace_missing = view.exists.lock().await.is_some_and(|(_, e)| e == Some(false));
    // No request when Secrets may be written in every namespace; else the rules reviewed
    // with the view when they are of this epoch, or one rules review; access reviews only
    // for what rules cannot tell.
    let wide =
        super::view::cluster_wide(round.settings, round.session, round.permissions_epoch).await;
    let rules = match view.rules_of(round.permissions_epoch, WRITE_ANSWER_FOR) {
        _ if wide.create && wide.patch => None,
        Some(rules) => Some(rules),
        None => wire::rules(client, namespace, timeout).await.ok(),
    };
    let ask = |verb: &'static str| {
        let known = match verb {
            "create" if wide.create => Some(true),
            "patch" if wide.patch => Some(true),
            _ => rules.as_ref().and_then(|r| r.answer(verb, "secrets")),
        };
        async move {
            match known {
                Some(answer) => Ok(answer),
                None => wire::can(client, verb, "secrets", Some(namespace), timeout).await,
            }
        }
    };
    let (create, patch, create_namespace) = tokio::join!(ask("create"), ask("patch"), async {
        if namespace_missing {
            Some(wire::can(client, "create", "namespaces", None, timeout).await)
        } else {
            None
        }
    },);
    let answer = match (create, patch, create_namespace) {
        (Err(e), _, _) | (_, _, Some(Err(e))) => WriteAccess {
            can_create: Permission::Unknown,
            reason: format!("the permission could not be checked: {e}"),
        },
        (Ok(_), _, Some(Ok(false))) => WriteAccess {
            can_create: Permission::No,
            reason: format!("namespace {namespace} does not exist, and you may not create it"),
        },
        (Ok(false), _, _) => WriteAccess {
            can_create: Permission::No,
            reason: format!("you may read but not create Secrets in namespace {namespace}"),
        },
        (Ok(true), Ok(true), _) => WriteAccess {
            can_create: Permission::Yes,
            reason: format!("you may create and replace Secrets in namespace {namespace}"),
        },
        (Ok(true), _, _) => WriteAccess {
            can_create: Permission::Yes,
            reason: format!(
                "you may create Secrets in namespace {namespace}, but not replace them (rotation needs patch)"
            ),
        },
    };
    *cached = Some((Instant::now(), round.permissions_epoch, answer.clone()));
    answer
}

/// Missing, with the create command and no diagnosis.
fn plain_missing(entry: &SecretEntry, placement: &KubernetesPlacement) -> CheckOutcome {
    let text = format!("Not found in namespace {}. Create it:", placement.namespace);
    CheckOutcome::now(Presence::Missing).with_hints(vec![create_hint(entry, &text)])
}

pub(super) fn failed(scene: &KubeIdentity, namespace: &str, error: &ProbeError) -> CheckOutcome {
    match error {
        ProbeError::Forbidden { message } => {
            CheckOutcome::now(Presence::Forbidden { permission: message.clone() })
                .with_hints(hints::rbac(scene, namespace, "get"))
        }
        ProbeError::Unauthorized { .. } | ProbeError::Credentials { .. } => {
            CheckOutcome::now(Presence::Unreachable { reason: error.to_string() })
                .with_hints(vec![hints::credentials(scene)])
        }
        _ => CheckOutcome::now(Presence::Unreachable { reason: error.to_string() })
            .with_hints(vec![hints::unreachable(scene)]),
    }
}

pub(super) fn present(
    scene: &KubeIdentity,
    placement: &KubernetesPlacement,
    row: &SecretRow,
) -> CheckOutcome {
    if let Some(wanted) = placement.secret_type.as_ref().filter(|w| **w != row.secret_type) {
        return CheckOutcome::now(Presence::Wrong {
            reason: format!("type is {}, the spec expects {wanted}", row.secret_type),
        })
        .with_hints(vec![hints::wrong_type(
            scene,
            &placement.secret,
            &placement.namespace,
            &row.secret_type,
            wanted,
        )]);
    }
    let wanted = u32::try_from(placement.keys.len()).unwrap_or(u32::MAX);
    if row.keys < wanted {
        return CheckOutcome::now(Presence::Wrong {
            reason: format!("has {} of the {wanted} data keys the spec lists", row.keys),
        })
        .with_hints(vec![hints::too_few_keys(row.keys, &placement.keys)]);
    }
    CheckOutcome { change_seen_at: row.seen_changed, ..CheckOutcome::now(Presence::Present) }
}

pub(super) async fn missing(
    round: &Round<'_>,
    view: &NamespaceView,
    entry: &SecretEntry,
    placement: &KubernetesPlacement,
) -> CheckOutcome {
    let session = round.session;
    let scene = &session.scene;
    let namespace = &placement.namespace;
    if entry.provided_by == crate::spec::Provider::Vendor {
        return CheckOutcome::now(Presence::Missing).with_hints(vec![Hint::says(format!(
            "Not found in namespace {namespace}. The vendor's deployment creates it; there is nothing to do until it runs."
        ))]);
    }
    let create_hint = |text: &str| create_hint(entry, text);
    match namespace_exists(round.settings, session, view).await {
        Some(false) => {
            return CheckOutcome::now(Presence::Missing).with_hints(vec![
                hints::namespace_missing(scene, namespace),
                create_hint("Then create the Secret:"),
            ]);
        }
        None => {
            return CheckOutcome::now(Presence::Missing).with_hints(vec![
                create_hint("Not found. Create it:"),
                hints::namespace_unknown(scene, namespace),
            ]);
        }
        Some(true) => {}
    }
    // A similar name that the spec itself places is another entry, not a typo.
    let similar = view.secrets.read(|rows, _| {
        rows?
            .keys()
            .find(|name| {
                crate::text::is_near_miss(&placement.secret, name) && !round.placed(namespace, name)
            })
            .cloned()
    });
    if let Some(similar) = similar {
        return CheckOutcome::now(Presence::FoundElsewhere {
            location: format!("Secret {namespace}/{similar} (a similar name)"),
        })
        .with_hints(vec![
            hints::near_miss(scene, &placement.secret, namespace, &similar),
            create_hint("Create it under the right name:"),
        ]);
    }
    let others = elsewhere(round, &placement.secret, namespace).await;
    if !others.is_empty() {
        let location = others
            .iter()
            .map(|ns| format!("Secret {ns}/{}", placement.secret))
            .collect::<Vec<_>>()
            .join(", ");
        let stray = others.iter().find(|ns| !round.placed(ns, &placement.secret));
        return CheckOutcome::now(Presence::FoundElsewhere { location }).with_hints(vec![
            create_hint(&format!("Create it in namespace {namespace}:")),
            hints::in_other_namespaces(scene, &placement.secret, namespace, &others, stray),
        ]);
    }
    CheckOutcome::now(Presence::Missing)
        .with_hints(vec![create_hint(&format!("Not found in namespace {namespace}. Create it:"))])
}

/// Whether the view's namespace exists: `None` when the user may not tell. Cached briefly.
pub(super) async fn namespace_exists(
    settings: &Settings,
    session: &Session,
    view: &NamespaceView,
) -> Option<bool> {
    // A namespace with Secrets in it exists: no request needed.
    if view.secrets.read(|rows, _| rows.is_some_and(|rows| !rows.is_empty())) {
        return Some(true);
    }
    // Held while asking, so the Secrets of one namespace share one request.
    let mut cached = view.exists.lock().await;
    if let Some((_, known)) = cached.filter(|(at, _)| at.elapsed() < Duration::from_secs(15)) {
        return known;
    }
    let answer =
        match wire::namespace_exists(&session.client, &view.namespace, settings.request_timeout)
            .await
        {
            Ok(exists) => Some(exists),
            Err(_) => {
                // No permission to read the namespace: a non-empty list proves it exists.
                view.secrets.read(|rows, _| rows.filter(|r| !r.is_empty()).map(|_| true))
            }
        };
    *cached = Some((Instant::now(), answer));
    answer
}

/// Lists the namespaces the spec does not use (up to 50, when the user may list namespaces),
/// unless that was done within the last minute; the listing, locked.
pub(super) async fn search_others<'a>(
    round: &Round<'a>,
) -> tokio::sync::MutexGuard<'a, Option<(Instant, super::session::Listing)>> {
    let (settings, session) = (round.settings, round.session);
    let mut others = session.others.lock().await;
    if others.as_ref().is_none_or(|(at, _)| at.elapsed() > Duration::from_secs(60)) {
        let mut skip: BTreeSet<String> = session.views.lock().await.keys().cloned().collect();
        skip.extend(round.placed.iter().map(|(namespace, _)| namespace.clone()));
        let mut listed = BTreeMap::new();
        // Only when the cluster-wide review allowed it: nothing refused is tried.
        let wide = super::view::cluster_wide(settings, session, round.permissions_epoch).await;
        let all = match wide.list_namespaces {
            true => wire::list_namespaces(&session.client, settings.request_timeout).await.ok(),
            false => None,
        };
        if let Some(all) = all {
            let candidates: Vec<String> =
                all.into_iter().filter(|ns| !skip.contains(ns)).take(50).collect();
            let answers = futures::future::join_all(
                candidates
                    .iter()
                    .map(|ns| wire::list_secrets(&session.client, ns, settings.request_timeout)),
            )
            .await;
            for (ns, answer) in candidates.into_iter().zip(answers) {
                // A namespace the user may not list is simply not searched.
                if let Ok((rows, _)) = answer {
                    listed.insert(ns, rows.into_iter().map(|r| r.name).collect());
                }
            }
        }
        *others = Some((Instant::now(), listed));
    }
    others
}

/// Other namespaces holding a Secret named `name`: the namespaces already watched, and, when
/// the user may list namespaces, up to 50 others. Those are listed (as Tables) at most once a
/// minute for all missing Secrets together, so the cost grows with namespaces, not Secrets.
pub(super) async fn elsewhere(round: &Round<'_>, name: &str, namespace: &str) -> Vec<String> {
    let session = round.session;
    let mut found: Vec<String> = session
        .views
        .lock()
        .await
        .values()
        .filter(|v| {
            v.namespace != namespace
                && v.secrets.read(|rows, _| rows.is_some_and(|rows| rows.contains_key(name)))
        })
        .map(|v| v.namespace.clone())
        .collect();
    let others = search_others(round).await;
    if let Some((_, listed)) = others.as_ref() {
        found.extend(
            listed
                .iter()
                .filter(|(ns, names)| ns.as_str() != namespace && names.iter().any(|n| n == name))
                .map(|(ns, _)| ns.clone()),
        );
    }
    found.sort();
    found
}

/// "Create it" with the entry's create command (the vendor's entries have none).
fn create_hint(entry: &SecretEntry, text: &str) -> Hint {
    if entry.provided_by == crate::spec::Provider::Vendor {
        Hint::says(text)
    } else {
        Hint::entry(text, CommandKind::Create)
    }
}
