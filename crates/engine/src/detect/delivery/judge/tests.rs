//! Every hop combination that decides a row, judged without asking anything.

use std::collections::BTreeSet;
use std::path::Path;

use super::*;
use crate::backends::Finding;
use crate::detect::delivery::direct::direct_outcome;
use crate::diagnose::Fix;

const SPEC: &str = r"
version: 1
deployment: judged
platforms: [kubernetes]
backends:
  aws: { kind: aws-secrets-manager, region: us-east-1 }
delivery:
  external_secrets:
    store: { kind: ClusterSecretStore, name: aws-store }
values:
  - { name: master-key, description: The master key }
  - { name: salt-key, description: The salt }
targets:
  - namespace: app
    secret: app-secrets
    keys: { MASTER_KEY: master-key, SALT_KEY: salt-key }
";

/// What the round saw, hop by hop; `None` where nothing answered.
#[derive(Clone)]
struct Seen {
    backend: Option<Presence>,
    api: Result<Api, ProbeError>,
    store: Option<(&'static str, &'static str)>,
    external: Option<External>,
    secret: Option<Presence>,
    managed: bool,
    stale_backend: bool,
    store_refused: bool,
}

fn synced() -> External {
    External {
        ready: "True".into(),
        reason: "SecretSynced".into(),
        last_sync: "2026-12-01T10:00:00Z".into(),
        store: "aws-store".into(),
        store_kind: "ClusterSecretStore".into(),
        cause: None,
        failing_key: None,
    }
}

fn failing(cause: Cause) -> External {
    External {
        ready: "False".into(),
        reason: "SecretSyncedError".into(),
        cause: Some(cause),
        ..synced()
    }
}

/// Everything fine: the value, ESO v1, a valid store, a synced ExternalSecret, the Secret.
fn green() -> Seen {
    Seen {
        backend: Some(Presence::Present),
        api: Ok(Api::Served { using: "v1".into(), served: vec!["v1".into()] }),
        store: Some(("True", "Valid")),
        external: Some(synced()),
        secret: Some(Presence::Present),
        managed: true,
        stale_backend: false,
        store_refused: false,
    }
}

fn judge(seen: &Seen) -> CheckOutcome {
    let spec = crate::spec::parse_bytes(SPEC.as_bytes(), Path::new("judged.yaml")).unwrap();
    let entry = spec.entries.iter().find(|e| e.name == "master-key").unwrap();
    let delivered = entry.delivered.as_ref().unwrap();
    let features = FeatureSet::defaults(&spec);
    let backend = seen.backend.clone().map(|presence| {
        let mut outcome = CheckOutcome::now(presence);
        if seen.stale_backend {
            outcome.stale = Some("the backend stopped answering".into());
        }
        outcome
    });
    let targets = BTreeMap::from([(("app".to_owned(), "app-secrets".to_owned()), 7)]);
    let answers: BTreeMap<usize, CheckOutcome> =
        seen.secret.clone().map(|p| (7, CheckOutcome::now(p))).into_iter().collect();
    let row =
        |ready: &str, reason: &str| StoreRow { ready: ready.to_owned(), reason: reason.to_owned() };
    let answer = Answer {
        api: seen.api.clone(),
        stores: seen
            .store
            .map(|(ready, reason)| {
                let refused = ProbeError::Forbidden { message: "stores are forbidden".into() };
                let answer =
                    if seen.store_refused { Err(refused) } else { Ok(Some(row(ready, reason))) };
                (Scope::Cluster, answer)
            })
            .into_iter()
            .collect(),
        externals: seen
            .external
            .clone()
            .map(|es| (("app".to_owned(), "app-secrets".to_owned()), Ok(Some(es))))
            .into_iter()
            .collect(),
        managed: BTreeMap::from([(
            "app".to_owned(),
            Ok(if seen.managed {
                BTreeSet::from(["app-secrets".to_owned()])
            } else {
                BTreeSet::new()
            }),
        )]),
    };
    let chain = Chain {
        spec: &spec,
        delivered,
        features: &features,
        backend: backend.as_ref(),
        targets: &targets,
        answers: &answers,
        eso: Some(&answer),
    };
    chain.judge()
}

fn states(outcome: &CheckOutcome) -> Vec<HopState> {
    outcome.hops.iter().map(|h| h.state).collect()
}

fn offers_sync(outcome: &CheckOutcome) -> bool {
    outcome.hints.iter().any(|h| h.fix == Some(Fix::Entry(CommandKind::Sync)))
}

use HopState::{Failing, Missing, NotInstalled, NotManaged, NotProven, Ok as Good, Stale, Waiting};

type Case = (&'static str, Seen, &'static str, Vec<HopState>);

fn check(cases: Vec<Case>) {
    for (name, seen, word, hops) in cases {
        let outcome = judge(&seen);
        assert_eq!(states(&outcome), hops, "{name}: hops");
        assert_eq!(outcome.presence.state().as_str(), word, "{name}: {:?}", outcome.presence);
    }
}

#[test]
fn the_backend_hop_and_what_a_sync_proves() {
    let mut cases: Vec<Case> = Vec::new();
    cases.push(("all green", green(), "present", vec![Good, Good, Good, Good, Good]));
    let mut s = green();
    s.backend = Some(Presence::Missing);
    s.external = Some(failing(Cause::BackendKeyMissing));
    s.secret = Some(Presence::Missing);
    cases.push((
        "value missing: the backend decides",
        s,
        "missing",
        vec![Missing, Good, Good, Failing, Waiting],
    ));
    let mut s = green();
    s.backend = None;
    cases.push((
        "backend not asked, proven by the sync",
        s,
        "present",
        vec![Good, Good, Good, Good, Good],
    ));
    let mut s = green();
    s.backend = Some(Presence::Missing);
    cases.push((
        "not found here but synced: another account",
        s,
        "wrong",
        vec![Failing, Good, Good, Good, Good],
    ));
    check(cases);
}

#[test]
fn the_cluster_hops() {
    let mut cases: Vec<Case> = Vec::new();
    let mut s = green();
    s.api = Ok(Api::NotInstalled);
    s.store = None;
    s.external = None;
    s.secret = Some(Presence::Missing);
    cases.push((
        "External Secrets not installed",
        s,
        "wrong",
        vec![Good, NotInstalled, Waiting, Waiting, Waiting],
    ));
    let mut s = green();
    s.store = Some(("True", "ValidationUnknown"));
    cases.push((
        "validation unknown, proven by a sync",
        s,
        "present",
        vec![Good, Good, Good, Good, Good],
    ));
    let mut s = green();
    s.store = Some(("True", "ValidationUnknown"));
    s.external = Some(External { ready: String::new(), reason: String::new(), ..synced() });
    s.secret = Some(Presence::Missing);
    cases.push((
        "validation unknown, nothing synced",
        s,
        "wrong",
        vec![Good, Good, NotProven, Waiting, Waiting],
    ));
    let mut s = green();
    s.store = Some(("False", "InvalidProviderConfig"));
    s.external = Some(failing(Cause::StoreNotReady));
    cases.push(("store not ready", s, "wrong", vec![Good, Good, Failing, Failing, Stale]));
    let mut s = green();
    s.external = Some(External { store: "other-store".into(), ..synced() });
    cases.push(("reads through another store", s, "wrong", vec![Good, Good, Good, Failing, Stale]));
    let mut s = green();
    s.external = Some(External { ready: String::new(), reason: String::new(), ..synced() });
    s.managed = false;
    cases.push((
        "a hand-made Secret before the first sync",
        s,
        "wrong",
        vec![Good, Good, Good, Waiting, NotManaged],
    ));
    let mut s = green();
    s.secret = Some(Presence::Missing);
    cases.push((
        "synced, yet no Secret (creationPolicy)",
        s,
        "wrong",
        vec![Good, Good, Good, Good, Failing],
    ));
    let mut s = green();
    s.api = Err(ProbeError::Forbidden { message: "may not list".into() });
    s.store = None;
    s.external = None;
    cases.push((
        "the ESO API refused",
        s,
        "forbidden",
        vec![Good, HopState::Forbidden, Waiting, Waiting, Good],
    ));
    check(cases);
}

#[test]
fn sync_now_is_offered_only_where_it_helps() {
    let mut s = green();
    s.external = Some(failing(Cause::BackendKeyMissing));
    s.secret = Some(Presence::Missing);
    let outcome = judge(&s);
    assert!(offers_sync(&outcome), "the value exists now; a sync picks it up");
    let mut s = green();
    s.backend = Some(Presence::Missing);
    s.external = Some(failing(Cause::BackendKeyMissing));
    let outcome = judge(&s);
    assert!(!offers_sync(&outcome), "create first (the backend's own hint): {:?}", outcome.hints);
    let mut s = green();
    s.store = Some(("False", "InvalidProviderConfig"));
    s.external = Some(failing(Cause::StoreNotReady));
    assert!(!offers_sync(&judge(&s)), "a sync cannot mend the store");
    assert!(!offers_sync(&judge(&green())));
}

#[test]
fn the_value_a_warning_names_is_the_one_blamed() {
    let naming = |key: &str| {
        let mut s = green();
        s.external = Some(External {
            failing_key: Some(key.to_owned()),
            ..failing(Cause::BackendKeyMissing)
        });
        judge(&s)
    };
    let es = |outcome: &CheckOutcome| outcome.hops.get(3).cloned().unwrap();
    // Another value of the same ExternalSecret is missing: this one waits on it.
    let other = naming("salt-key");
    assert_eq!(es(&other).state, Waiting);
    let words = es(&other).detail.unwrap();
    assert!(words.contains("`salt-key`") && words.contains("not the cause"), "{words}");
    assert!(!offers_sync(&other), "a sync cannot help before salt-key exists");
    // This value's own key: the one to create (or, once created, to sync).
    let mine = naming("master-key");
    assert_eq!(es(&mine).state, Failing);
    assert!(es(&mine).detail.unwrap().contains("this value's key"));
    assert!(offers_sync(&mine), "the value exists now; a sync picks it up");
    // A key the spec does not list for this Secret: not this value's fault either.
    let unlisted = naming("platform/other");
    assert_eq!(es(&unlisted).state, Failing);
    assert!(es(&unlisted).detail.unwrap().contains("does not list"));
    assert!(!offers_sync(&unlisted));
}

#[test]
fn a_broken_store_or_operator_is_marked_as_shared_by_every_value() {
    let mut s = green();
    s.external = Some(failing(Cause::StoreCredentialMissing));
    let shared = judge(&s).hops.get(3).and_then(|h| h.shared.clone()).unwrap();
    assert_eq!(shared.location, "ClusterSecretStore aws-store");
    assert!(shared.detail.contains("create the store's credential first"), "{shared:?}");
    let mut s = green();
    s.store = Some(("False", "InvalidProviderConfig"));
    assert!(judge(&s).hops.get(2).unwrap().shared.is_some());
    let mut s = green();
    s.api = Ok(Api::NotInstalled);
    assert!(judge(&s).hops.get(1).unwrap().shared.is_some());
    // A value's own missing key is its own, never shared.
    let mut s = green();
    s.external = Some(failing(Cause::BackendKeyMissing));
    assert!(judge(&s).hops.iter().all(|h| h.shared.is_none()));
}

#[test]
fn a_store_this_login_may_not_read_is_proven_by_a_sync_and_the_role_is_given() {
    let mut s = green();
    s.store_refused = true;
    let proven = judge(&s);
    assert_eq!(proven.presence, Presence::Present, "{proven:?}");
    assert!(proven.hops[2].detail.as_deref().unwrap().contains("proves it works"));
    s.external = Some(External { ready: String::new(), reason: String::new(), ..synced() });
    s.secret = Some(Presence::Missing);
    let refused = judge(&s);
    assert_eq!(refused.presence.state().as_str(), "forbidden", "{refused:?}");
    let words = refused.presence.detail().unwrap();
    assert!(!words.contains("stores are forbidden"), "the API's own words are not shown: {words}");
    let role = refused.hints.iter().find_map(|h| match &h.fix {
        Some(Fix::Run(lines)) => Some(lines.concat().join(" ")),
        _ => None,
    });
    let role = role.expect("the Role that would allow it");
    assert!(role.contains("clustersecretstores.external-secrets.io"), "{role}");
    assert!(role.contains("--verb=get,list,watch"), "{role}");
}

#[test]
fn a_directly_asked_value_names_its_prefix_and_a_missing_cli() {
    let spec = crate::spec::parse_bytes(
        br"
version: 1
deployment: direct
platforms: [kubernetes]
backends: { doppler: { kind: doppler, project: p, config: prd, name_prefix: PROD_ } }
delivery: { external_secrets: { store: { kind: ClusterSecretStore, name: doppler } } }
values: [{ name: API_KEY, description: A key }]
targets: [{ namespace: app, secret: s, keys: { API_KEY: API_KEY } }]
",
        Path::new("direct.yaml"),
    )
    .unwrap();
    let entry = spec.entries.first().unwrap();
    let source = &entry.delivered.as_ref().unwrap().source;
    let absent = || {
        let listing = crate::backends::proof::Listing::complete(vec!["API_KEY".to_owned()]);
        Ok(Finding::Missing(listing.proves_absent("PROD_API_KEY").unwrap()))
    };
    let words =
        |o: &CheckOutcome| o.hints.iter().map(|h| h.text.clone()).collect::<Vec<_>>().join("\n");
    let without = direct_outcome(entry, source, absent(), false);
    let said = words(&without);
    assert!(
        said.contains("`API_KEY`, this value without the spec's name_prefix `PROD_`"),
        "{said}"
    );
    assert!(said.contains("`doppler`, which is not installed here"), "{said}");
    assert!(said.contains("https://docs.doppler.com/docs/install-cli"), "{said}");
    let with = direct_outcome(entry, source, absent(), true);
    assert!(!words(&with).contains("not installed"));
    // A present value carries its age from the version's metadata.
    let at = std::time::SystemTime::UNIX_EPOCH + std::time::Duration::from_secs(1_700_000_000);
    let present = direct_outcome(entry, source, Ok(Finding::Present { changed: Some(at) }), true);
    assert_eq!(present.changed_at, Some(at));
}

#[test]
fn a_hop_known_only_from_before_makes_the_row_stale() {
    let mut s = green();
    s.stale_backend = true;
    let outcome = judge(&s);
    assert!(outcome.stale.is_some(), "never counted as present: {outcome:?}");
}

#[test]
fn without_needed_targets_only_the_backend_is_judged() {
    let spec = crate::spec::parse_bytes(
        SPEC.replace("  - namespace: app\n", "  - namespace: app\n    when: [extra]\n")
            .replace("targets:", "features:\n  extra: { description: More }\ntargets:")
            .as_bytes(),
        Path::new("judged.yaml"),
    )
    .unwrap();
    let entry = spec.entries.iter().find(|e| e.name == "master-key").unwrap();
    let features = FeatureSet::defaults(&spec);
    let backend = CheckOutcome::now(Presence::Present);
    let chain = Chain {
        spec: &spec,
        delivered: entry.delivered.as_ref().unwrap(),
        features: &features,
        backend: Some(&backend),
        targets: &BTreeMap::new(),
        answers: &BTreeMap::new(),
        eso: None,
    };
    let outcome = chain.judge();
    assert_eq!(states(&outcome), vec![Good]);
    assert_eq!(outcome.presence, Presence::Present);
}
