//! The delivery part of a spec: backends, the External Secrets store, values and targets.
//! Values become rows (entries with `delivered`); targets are attached to the values they
//! hold, per namespace.

use std::collections::HashMap;

use super::super::positions::{index_path, key_path};
use super::super::raw::{RawBackend, RawSpec, RawTarget, RawValue};
use super::super::{
    Delivered, Delivery, DeliveryTarget, Platform, SecretEntry, Source, StoreRef, names,
};
use super::{Common, Problems, closest, resolve_common};
use crate::backends::Fields;

/// What the delivery part resolves to: the store (when there is anything to deliver), the
/// value rows, and the target Secrets by label (`Kubernetes Secret ns/name`) with where each
/// is written, so plain secrets that collide with one can be reported.
pub(super) struct Resolved {
    pub delivery: Option<Delivery>,
    pub values: Vec<SecretEntry>,
    pub target_labels: Vec<(String, String)>,
}

pub(super) fn resolve(
    raw: &RawSpec,
    platforms: &[Platform],
    known_features: &[&str],
    p: &mut Problems<'_>,
) -> Resolved {
    let mut out = Resolved { delivery: None, values: Vec::new(), target_labels: Vec::new() };
    let anything = !raw.values.is_empty() || !raw.targets.is_empty();
    if !anything && raw.backends.is_empty() && raw.delivery.is_none() {
        return out;
    }
    for (id, backend) in &raw.backends {
        check_backend(id, backend, p);
    }
    if anything && raw.backends.is_empty() {
        p.key(
            if raw.values.is_empty() { "targets" } else { "values" },
            "missing-backend",
            "values are delivered from a backend, but `backends:` declares none".to_owned(),
            "add e.g. `backends: { aws: { kind: aws-secrets-manager, region: us-east-1 } }`"
                .to_owned(),
        );
    }
    let store = resolve_store(raw, anything, p);
    check_platforms(raw, anything, platforms, p);
    let value_names: Vec<&str> = raw.values.iter().map(|v| v.name.as_str()).collect();
    let mut per_value = targets_by_value(raw, &value_names, known_features, &mut out, p);
    let first_backend = raw.backends.keys().next();
    for (i, value) in raw.values.iter().enumerate() {
        let entry = resolve_value(raw, value, i, first_backend, &mut per_value, known_features, p);
        out.values.push(entry);
    }
    out.delivery = store.map(|(store, api_version)| Delivery {
        store,
        api_version,
        credential: raw.delivery.as_ref().and_then(|d| d.external_secrets.store.credential.clone()),
    });
    out
}

/// The store the ExternalSecrets read through, with the API version the spec names.
fn resolve_store(
    raw: &RawSpec,
    anything: bool,
    p: &mut Problems<'_>,
) -> Option<(StoreRef, Option<String>)> {
    match &raw.delivery {
        Some(delivery) => {
            let store = &delivery.external_secrets.store;
            if let Err(why) = names::kubernetes_secret(&store.name) {
                p.value(
                    "delivery.external_secrets.store.name",
                    "store-name",
                    format!(
                        "`{}` is not a valid {} name: {}",
                        store.name,
                        store.kind.as_str(),
                        why.why
                    ),
                    format!("use the name in the store's manifest; {}", why.rule),
                );
            }
            let api_version = match delivery.external_secrets.api_version.as_deref() {
                None => None,
                Some(given) => {
                    let version = given.strip_prefix("external-secrets.io/").unwrap_or(given);
                    if !["v1", "v1beta1", "v1alpha1"].contains(&version) {
                        p.value(
                            "delivery.external_secrets.api_version",
                            "api-version",
                            format!("`{given}` is not an External Secrets API version"),
                            "use the apiVersion of the deployment's ExternalSecret manifests, e.g. `external-secrets.io/v1`".to_owned(),
                        );
                    }
                    Some(version.to_owned())
                }
            };
            Some((StoreRef { kind: store.kind, name: store.name.clone() }, api_version))
        }
        None => {
            if anything {
                p.key(
                    if raw.values.is_empty() { "targets" } else { "values" },
                    "missing-delivery",
                    "values are delivered by External Secrets, but `delivery:` names no store"
                        .to_owned(),
                    "add `delivery: { external_secrets: { store: { kind: ClusterSecretStore, name: ... } } }` with the store the ExternalSecrets refer to".to_owned(),
                );
            }
            None
        }
    }
}

/// Delivered values land in Kubernetes Secrets, so the spec's platforms must say so.
fn check_platforms(raw: &RawSpec, anything: bool, platforms: &[Platform], p: &mut Problems<'_>) {
    if anything && !platforms.contains(&Platform::Kubernetes) {
        p.value(
            "platforms",
            "delivery-platform",
            "values are delivered into Kubernetes Secrets, but `platforms` does not list kubernetes".to_owned(),
            "add `kubernetes` to `platforms`".to_owned(),
        );
    }
    if !raw.values.is_empty() && platforms.contains(&Platform::Aws) {
        p.value(
            "platforms",
            "delivery-platform",
            "values are delivered into Kubernetes Secrets by External Secrets, so they have no place on the aws platform".to_owned(),
            "list only `kubernetes` in `platforms`; an AWS backend is declared under `backends:`".to_owned(),
        );
    }
}

/// Every target, per namespace, attached to the values it holds; the target labels are
/// kept in `out` so plain secrets that collide with one can be reported.
fn targets_by_value<'v>(
    raw: &RawSpec,
    value_names: &[&'v str],
    known_features: &[&str],
    out: &mut Resolved,
    p: &mut Problems<'_>,
) -> HashMap<&'v str, Vec<DeliveryTarget>> {
    let mut per_value: HashMap<&str, Vec<DeliveryTarget>> = HashMap::new();
    let mut seen: HashMap<String, String> = HashMap::new();
    for (i, target) in raw.targets.iter().enumerate() {
        let path = index_path("targets", i);
        for (resolved, fed_by) in resolve_target(target, &path, value_names, known_features, p) {
            let label = format!("Kubernetes Secret {}/{}", resolved.namespace, resolved.secret);
            if let Some(first) = seen.get(&label) {
                let line = p.index.value(first).line;
                p.value(
                    &key_path(&path, "secret"),
                    "duplicate-placement",
                    format!("two targets make {label} (the first on line {line})"),
                    "list each Secret once; give one Secret every key it needs".to_owned(),
                );
                continue;
            }
            seen.insert(label.clone(), path.clone());
            out.target_labels.push((label, key_path(&path, "secret")));
            for (value, fed) in fed_by {
                let mut for_value = resolved.clone();
                for_value.fed = fed;
                per_value.entry(value).or_default().push(for_value);
            }
        }
    }

    per_value
}

/// One value's row, with its place in its backend and the targets that hold it.
fn resolve_value(
    raw: &RawSpec,
    value: &RawValue,
    i: usize,
    first_backend: Option<&String>,
    per_value: &mut HashMap<&str, Vec<DeliveryTarget>>,
    known_features: &[&str],
    p: &mut Problems<'_>,
) -> SecretEntry {
    let path = index_path("values", i);
    let mut entry = resolve_common(&common(value), &path, known_features, p);
    let backend_id = match (&value.backend, first_backend) {
        (Some(id), _) => Some((id, key_path(&path, "backend"))),
        (None, Some(id)) => Some((id, path.clone())),
        (None, None) => None,
    };
    let backend = backend_id.and_then(|(id, at)| match raw.backends.get(id) {
        Some(backend) => Some((id, backend)),
        None => {
            let declared: Vec<&str> = raw.backends.keys().map(String::as_str).collect();
            let fix = match closest(id, &declared) {
                Some(best) => format!("did you mean `{best}`?"),
                None => {
                    format!("declare it under `backends:` (declared: {})", declared.join(", "))
                }
            };
            p.value(
                &at,
                "unknown-backend",
                format!("value `{}` names backend `{id}`, which is not declared", value.name),
                fix,
            );
            None
        }
    });
    if let Some(command) = &value.create_with {
        p.free_text(&key_path(&path, "create_with"), "the create_with command", command);
    }
    if let Some((id, backend)) = backend {
        let source = source(value, backend, &path, p);
        let targets = per_value.remove(value.name.as_str()).unwrap_or_default();
        entry.delivered = source.map(|source| Delivered {
            backend: id.clone(),
            source,
            create_with: value.create_with.as_ref().map(|c| c.trim().to_owned()),
            targets,
        });
    }
    entry
}

fn common(value: &RawValue) -> Common<'_> {
    Common {
        name: &value.name,
        description: &value.description,
        required: value.required,
        provided_by: value.provided_by,
        when: &value.when,
        docs: &value.docs,
        generate: &value.generate,
        rotate_every: &value.rotate_every,
    }
}

fn check_backend(id: &str, raw: &RawBackend, p: &mut Problems<'_>) {
    let at = key_path("backends", id);
    if let Err(why) = names::identifier(id) {
        p.key(
            &at,
            "backend-id",
            format!("backend id `{id}` is invalid: {}", why.why),
            why.rule.to_owned(),
        );
    }
    let backend = raw.kind.backend();
    let kind = backend.name();
    let fields = backend.fields();
    let takes = || {
        let mut names: Vec<&str> = fields.iter().map(|f| f.name).collect();
        names.push("name_prefix");
        names.join(", ")
    };
    for (name, value) in &raw.fields {
        let field_at = key_path(&at, name);
        let Some(field) = fields.iter().find(|f| f.name == name) else {
            p.key(
                &field_at,
                "backend-field",
                format!("backend `{id}` ({kind}) has no `{name}`"),
                format!("remove it; the {kind} kind takes {}", takes()),
            );
            continue;
        };
        if let Some((rule, what)) = field.rule
            && let Err(why) = rule(value)
        {
            p.value(
                &field_at,
                "backend-field",
                format!("`{value}` is not a valid {what}: {}", why.why),
                why.rule.to_owned(),
            );
        }
    }
    let given = Fields(raw.fields.iter().map(|(k, v)| (k.clone(), v.clone())).collect());
    for problem in backend.check_fields(&given) {
        p.key(
            &at,
            "backend-field",
            format!("backend `{id}` ({kind}) {problem}"),
            format!("see the {kind} fields in the spec format"),
        );
    }
    for field in fields.iter().filter(|f| f.required && !raw.fields.contains_key(f.name)) {
        p.key(
            &at,
            "backend-field",
            format!("backend `{id}` ({kind}) needs `{}`", field.name),
            format!("add `{}: ...`", field.name),
        );
    }
}

/// Where `value` lives in `backend`, with its key checked by the backend's rules.
fn source(value: &RawValue, raw: &RawBackend, path: &str, p: &mut Problems<'_>) -> Option<Source> {
    let key = format!("{}{}", raw.name_prefix.as_deref().unwrap_or_default(), value.name);
    let backend = raw.kind.backend();
    match backend.check_key(&key) {
        Ok(()) => {
            let fields = Fields(raw.fields.iter().map(|(k, v)| (k.clone(), v.clone())).collect());
            Some(backend.place(&fields, &key))
        }
        Err(why) => {
            p.value(
                &key_path(path, "name"),
                "backend-key",
                format!("`{key}` is not a valid key in a {} backend: {}", backend.name(), why.why),
                format!("rename the value (or the backend's name_prefix); {}", why.rule),
            );
            None
        }
    }
}

/// The values a target holds, each with the data keys it fills.
type Fed<'v> = Vec<(&'v str, Vec<String>)>;

/// One target, per namespace, with the values it holds and the keys each fills.
fn resolve_target<'v>(
    target: &RawTarget,
    path: &str,
    value_names: &[&'v str],
    known_features: &[&str],
    p: &mut Problems<'_>,
) -> Vec<(DeliveryTarget, Fed<'v>)> {
    let external_secret = target.external_secret.clone().unwrap_or_else(|| target.secret.clone());
    let Some(namespaces) = target_namespaces(target, path, p) else {
        return Vec::new();
    };
    let names_ok = target_names_ok(target, &namespaces, &external_secret, path, p);
    let fed = fed_keys(target, path, value_names, p);
    let when = p.features(
        &target.when,
        &key_path(path, "when"),
        &format!("target `{}`", target.secret),
        known_features,
    );
    let (Some(fed), true) = (fed, names_ok) else {
        return Vec::new();
    };
    let keys: Vec<String> = target.keys.keys().cloned().collect();
    namespaces
        .into_iter()
        .map(|(namespace, _)| {
            let resolved = DeliveryTarget {
                namespace,
                secret: target.secret.clone(),
                external_secret: external_secret.clone(),
                keys: keys.clone(),
                fed: Vec::new(),
                when: when.clone(),
            };
            (resolved, fed.clone())
        })
        .collect()
}

/// The namespaces a target names, each with where it is written.
fn target_namespaces(
    target: &RawTarget,
    path: &str,
    p: &mut Problems<'_>,
) -> Option<Vec<(String, String)>> {
    match (&target.namespace, &target.namespaces) {
        (Some(ns), None) => Some(vec![(ns.clone(), key_path(path, "namespace"))]),
        (None, Some(list)) if !list.is_empty() => Some(
            list.iter()
                .enumerate()
                .map(|(n, ns)| (ns.clone(), index_path(&key_path(path, "namespaces"), n)))
                .collect(),
        ),
        (Some(_), Some(_)) => {
            p.key(
                &key_path(path, "namespaces"),
                "target-namespace",
                "a target has both `namespace` and `namespaces`".to_owned(),
                "keep one: `namespace: ns` or `namespaces: [a, b]`".to_owned(),
            );
            None
        }
        _ => {
            p.key(
                path,
                "target-namespace",
                format!("target `{}` names no namespace", target.secret),
                "add `namespace: ...` (or `namespaces: [...]`)".to_owned(),
            );
            None
        }
    }
}

/// The target's namespaces, Secret, ExternalSecret and data key names checked; false when one
/// is invalid.
fn target_names_ok(
    target: &RawTarget,
    namespaces: &[(String, String)],
    external_secret: &str,
    path: &str,
    p: &mut Problems<'_>,
) -> bool {
    let mut ok = true;
    for (ns, at) in namespaces {
        if let Err(why) = names::kubernetes_namespace(ns) {
            ok = false;
            p.value(
                at,
                "kubernetes-namespace",
                format!("`{ns}` is not a valid Kubernetes namespace: {}", why.why),
                format!("use `{}`; {}", names::kubernetes_suggestion(ns), why.rule),
            );
        }
    }
    if let Err(why) = names::kubernetes_secret(&target.secret) {
        ok = false;
        p.value(
            &key_path(path, "secret"),
            "kubernetes-secret-name",
            format!("`{}` is not a valid Kubernetes Secret name: {}", target.secret, why.why),
            format!("use `{}`; {}", names::kubernetes_suggestion(&target.secret), why.rule),
        );
    }
    if let Err(why) = names::kubernetes_secret(external_secret) {
        ok = false;
        p.value(
            &key_path(path, "external_secret"),
            "external-secret-name",
            format!("`{external_secret}` is not a valid ExternalSecret name: {}", why.why),
            why.rule.to_owned(),
        );
    }
    if target.keys.is_empty() {
        ok = false;
        p.key(
            path,
            "missing-keys",
            format!("target `{}` lists no keys", target.secret),
            "add `keys: { data-key: value-name }` for each key the workload reads".to_owned(),
        );
    }
    for key in target.keys.keys() {
        if let Err(why) = names::kubernetes_key(key) {
            ok = false;
            p.key(
                &key_path(&key_path(path, "keys"), key),
                "kubernetes-key",
                format!("`{key}` is not a valid data key: {}", why.why),
                format!("rename the key; {}", why.rule),
            );
        }
    }
    ok
}

/// The values a target holds, each with the data keys it fills; `None` when a key is filled
/// from a value the spec does not declare.
fn fed_keys<'v>(
    target: &RawTarget,
    path: &str,
    value_names: &[&'v str],
    p: &mut Problems<'_>,
) -> Option<Fed<'v>> {
    let mut ok = true;
    let mut fed: Fed<'v> = Vec::new();
    for (key, value) in &target.keys {
        let at = key_path(&key_path(path, "keys"), key);
        match value_names.iter().find(|v| **v == value.as_str()) {
            Some(name) => match fed.iter_mut().find(|(v, _)| v == name) {
                Some((_, keys)) => keys.push(key.clone()),
                None => fed.push((name, vec![key.clone()])),
            },
            None => {
                ok = false;
                let fix = match closest(value, value_names) {
                    Some(best) => {
                        format!("did you mean `{best}`? Otherwise declare it under `values:`")
                    }
                    None => "declare it under `values:`".to_owned(),
                };
                p.value(
                    &at,
                    "unknown-value",
                    format!(
                        "key `{key}` of `{}` is filled from value `{value}`, which is not declared",
                        target.secret
                    ),
                    fix,
                );
            }
        }
    }
    ok.then_some(fed)
}

/// The store's credential names a plain entry, which is moved to the top of the list: when
/// the store cannot log in, it is the row to fix first.
pub(super) fn credential_first(
    delivery: Option<&Delivery>,
    entries: &mut Vec<SecretEntry>,
    p: &mut Problems<'_>,
) {
    let Some(name) = delivery.and_then(|d| d.credential.as_deref()) else { return };
    match entries.iter().position(|e| e.name == name && e.delivered.is_none()) {
        Some(at) => {
            let entry = entries.remove(at);
            entries.insert(0, entry);
        }
        None => {
            let plain: Vec<&str> =
                entries.iter().filter(|e| e.delivered.is_none()).map(|e| e.name.as_str()).collect();
            let fix = match closest(name, &plain) {
                Some(best) => format!("did you mean `{best}`?"),
                None => "list the store's credential under `secrets:` and name it here".to_owned(),
            };
            p.value(
                "delivery.external_secrets.store.credential",
                "unknown-credential",
                format!("the store's credential `{name}` is not an entry under `secrets:`"),
                fix,
            );
        }
    }
}
