//! Rendered manifests in, what they say about Secrets out. A Secret manifest's `data` and
//! `stringData` (and a SealedSecret's encrypted data) are skipped by the parser, never held;
//! an ExternalSecret's template is not read.

use std::collections::{BTreeMap, BTreeSet};

use serde::de::{IgnoredAny, MapAccess, Visitor};
use serde::{Deserialize, Deserializer};
use serde_json::Value;

use super::{Found, Need, Reference, StoreFound, Target};

/// One YAML document: the fields Greenlight reads, nothing else kept.
#[derive(Default)]
pub(super) struct Document {
    api_version: String,
    kind: String,
    name: String,
    namespace: Option<String>,
    labels: BTreeMap<String, String>,
    secret_type: Option<String>,
    spec: Option<Value>,
    items: Vec<Document>,
}

#[derive(Default, Deserialize)]
struct Meta {
    #[serde(default)]
    name: Option<String>,
    #[serde(default)]
    namespace: Option<String>,
    #[serde(default)]
    labels: BTreeMap<String, Value>,
}

impl<'de> Deserialize<'de> for Document {
    fn deserialize<D: Deserializer<'de>>(deserializer: D) -> Result<Self, D::Error> {
        struct Fields;
        impl<'de> Visitor<'de> for Fields {
            type Value = Document;
            fn expecting(&self, f: &mut std::fmt::Formatter) -> std::fmt::Result {
                f.write_str("a Kubernetes object")
            }
            fn visit_map<A: MapAccess<'de>>(self, mut map: A) -> Result<Document, A::Error> {
                let mut doc = Document::default();
                while let Some(key) = map.next_key::<String>()? {
                    match key.as_str() {
                        "apiVersion" => doc.api_version = text(map.next_value::<Value>()?),
                        "kind" => doc.kind = text(map.next_value::<Value>()?),
                        "metadata" => {
                            let meta = map.next_value::<Option<Meta>>()?.unwrap_or_default();
                            doc.name = meta.name.unwrap_or_default();
                            doc.namespace = meta.namespace.filter(|n| !n.is_empty());
                            doc.labels = meta
                                .labels
                                .into_iter()
                                .filter_map(|(k, v)| Some((k, v.as_str()?.to_owned())))
                                .collect();
                        }
                        "type" => doc.secret_type = Some(text(map.next_value::<Value>()?)),
                        "spec" => doc.spec = Some(map.next_value::<Value>()?),
                        "items" => {
                            doc.items =
                                map.next_value::<Option<Vec<Document>>>()?.unwrap_or_default();
                        }
                        // `data`, `stringData` and everything else: skipped, never held.
                        _ => {
                            map.next_value::<IgnoredAny>()?;
                        }
                    }
                }
                Ok(doc)
            }
            // Anything else (a scalar, a list) is not a Kubernetes object: nothing to read.
            fn visit_seq<A: serde::de::SeqAccess<'de>>(
                self,
                mut seq: A,
            ) -> Result<Document, A::Error> {
                while seq.next_element::<IgnoredAny>()?.is_some() {}
                Ok(Document::default())
            }
            fn visit_str<E>(self, _: &str) -> Result<Document, E> {
                Ok(Document::default())
            }
            fn visit_bool<E>(self, _: bool) -> Result<Document, E> {
                Ok(Document::default())
            }
            fn visit_i64<E>(self, _: i64) -> Result<Document, E> {
                Ok(Document::default())
            }
            fn visit_u64<E>(self, _: u64) -> Result<Document, E> {
                Ok(Document::default())
            }
            fn visit_f64<E>(self, _: f64) -> Result<Document, E> {
                Ok(Document::default())
            }
            fn visit_unit<E>(self) -> Result<Document, E> {
                Ok(Document::default())
            }
        }
        deserializer.deserialize_any(Fields)
    }
}

fn text(value: Value) -> String {
    match value {
        Value::String(s) => s,
        _ => String::new(),
    }
}

/// The string at `path`.
fn at<'v>(value: &'v Value, path: &[&str]) -> Option<&'v str> {
    let mut here = value;
    for key in path {
        here = here.get(key)?;
    }
    here.as_str().filter(|s| !s.is_empty())
}

fn list<'v>(value: &'v Value, key: &str) -> &'v [Value] {
    value.get(key).and_then(Value::as_array).map_or(&[], Vec::as_slice)
}

fn optional(value: &Value) -> bool {
    value.get("optional").and_then(Value::as_bool).unwrap_or(false)
}

/// Reads every object of one document (a `List`'s items too) into `found`.
pub(super) fn read(doc: &Document, default_namespace: &str, found: &mut Found) {
    if !doc.items.is_empty() {
        for item in &doc.items {
            read(item, default_namespace, found);
        }
        return;
    }
    if doc.kind.is_empty() {
        if doc.api_version.is_empty() && doc.spec.is_none() {
            found.skipped += 1;
        }
        return;
    }
    found.objects += 1;
    for (key, value) in &doc.labels {
        if matches!(key.as_str(), "app.kubernetes.io/part-of" | "app.kubernetes.io/instance") {
            *found.deployment_names.entry(value.clone()).or_default() += 1;
        }
    }
    let namespace = doc.namespace.clone().unwrap_or_else(|| default_namespace.to_owned());
    let object = format!("{} {}/{}", doc.kind, namespace, doc.name);
    let group = doc.api_version.split('/').next().unwrap_or_default();
    let spec = doc.spec.as_ref().unwrap_or(&Value::Null);
    match (group, doc.kind.as_str()) {
        (_, "Secret") if !doc.api_version.contains('/') => {
            let why = match doc.secret_type.as_deref() {
                Some("kubernetes.io/service-account-token") => "a service account token",
                _ => "a Secret",
            };
            found.created.insert((namespace, doc.name.clone()), format!("{why} in the manifests"));
        }
        ("bitnami.com", "SealedSecret") => {
            let name = at(spec, &["template", "metadata", "name"]).unwrap_or(&doc.name).to_owned();
            found.created.insert((namespace, name), format!("SealedSecret {}", doc.name));
        }
        ("cert-manager.io", "Certificate") => {
            if let Some(secret) = at(spec, &["secretName"]) {
                found
                    .created
                    .insert((namespace, secret.to_owned()), format!("cert-manager Certificate {}", doc.name));
            }
        }
        ("external-secrets.io", "ExternalSecret") => external_secret(doc, &namespace, spec, found),
        ("external-secrets.io", "ClusterExternalSecret") => found.notes.push(format!(
            "{object}: a ClusterExternalSecret makes its Secret in namespaces chosen by label; add those targets by hand"
        )),
        ("external-secrets.io", kind @ ("SecretStore" | "ClusterSecretStore")) => {
            store(kind, &doc.name, doc.namespace.as_deref(), spec, default_namespace, found);
        }
        (_, "Pod") => pod(spec, &namespace, &object, found),
        (_, "CronJob") => {
            if let Some(pod_spec) = spec.pointer("/jobTemplate/spec/template/spec") {
                pod(pod_spec, &namespace, &object, found);
            }
        }
        _ => {
            // Deployments, StatefulSets, DaemonSets, Jobs, ReplicaSets, and any other kind
            // with a pod template (Argo Rollouts, ...).
            if let Some(pod_spec) = spec.pointer("/template/spec").filter(|s| s.is_object()) {
                pod(pod_spec, &namespace, &object, found);
            }
        }
    }
}

/// The Secrets one pod spec consumes, with the keys it reads.
fn pod(spec: &Value, namespace: &str, object: &str, found: &mut Found) {
    found.workloads += 1;
    let mut need = |name: &str, key: Option<&str>, is_optional: bool, how: String, kind: Need| {
        if name.is_empty() {
            return;
        }
        let wanted = found.wanted.entry((namespace.to_owned(), name.to_owned())).or_default();
        if let Some(key) = key {
            wanted.keys.insert(key.to_owned());
        }
        wanted.required |= !is_optional;
        wanted.references.insert(Reference { object: object.to_owned(), how });
        if kind == Need::PullSecret {
            wanted.pull_secret = true;
        }
    };
    for containers in ["initContainers", "containers", "ephemeralContainers"] {
        for container in list(spec, containers) {
            let container_name = at(container, &["name"]).unwrap_or("?");
            for env in list(container, "env") {
                if let Some(reference) = env.pointer("/valueFrom/secretKeyRef") {
                    let variable = at(env, &["name"]).unwrap_or("?");
                    need(
                        at(reference, &["name"]).unwrap_or_default(),
                        at(reference, &["key"]),
                        optional(reference),
                        format!("env {variable} of container {container_name}"),
                        Need::Keys,
                    );
                }
            }
            for source in list(container, "envFrom") {
                if let Some(reference) = source.get("secretRef") {
                    need(
                        at(reference, &["name"]).unwrap_or_default(),
                        None,
                        optional(reference),
                        format!("envFrom of container {container_name}"),
                        Need::Keys,
                    );
                }
            }
        }
    }
    for volume in list(spec, "volumes") {
        let volume_name = at(volume, &["name"]).unwrap_or("?");
        let projected = volume
            .pointer("/projected/sources")
            .and_then(Value::as_array)
            .map_or(&[][..], Vec::as_slice)
            .iter()
            .filter_map(|source| source.get("secret"))
            .map(|secret| (secret, "name", format!("projected volume {volume_name}")));
        let plain =
            volume.get("secret").map(|s| (s, "secretName", format!("volume {volume_name}")));
        // A mount with `items` reads those keys; without, the whole Secret (no key known).
        for (secret, name_field, how) in plain.into_iter().chain(projected) {
            let name = at(secret, &[name_field]).unwrap_or_default();
            let items = list(secret, "items");
            if items.is_empty() {
                need(name, None, optional(secret), how.clone(), Need::Keys);
            }
            for item in items {
                need(name, at(item, &["key"]), optional(secret), how.clone(), Need::Keys);
            }
        }
    }
    for pull in list(spec, "imagePullSecrets") {
        need(
            at(pull, &["name"]).unwrap_or_default(),
            Some(".dockerconfigjson"),
            false,
            "imagePullSecrets".to_owned(),
            Need::PullSecret,
        );
    }
}

fn external_secret(doc: &Document, namespace: &str, spec: &Value, found: &mut Found) {
    let store_kind = at(spec, &["secretStoreRef", "kind"]).unwrap_or("SecretStore").to_owned();
    let store_name = at(spec, &["secretStoreRef", "name"]).unwrap_or_default().to_owned();
    let secret = at(spec, &["target", "name"]).unwrap_or(&doc.name).to_owned();
    let mut keys = BTreeMap::new();
    for (index, entry) in list(spec, "data").iter().enumerate() {
        let (Some(data_key), Some(remote)) =
            (at(entry, &["secretKey"]), at(entry, &["remoteRef", "key"]))
        else {
            found.notes.push(format!(
                "ExternalSecret {namespace}/{}: spec.data[{index}] names no secretKey or remoteRef.key",
                doc.name
            ));
            continue;
        };
        let property = at(entry, &["remoteRef", "property"]).map(str::to_owned);
        keys.insert(data_key.to_owned(), (remote.to_owned(), property));
    }
    let data_from: Vec<String> = list(spec, "dataFrom")
        .iter()
        .map(|from| {
            at(from, &["extract", "key"])
                .map(|k| format!("all of {k}"))
                .or_else(|| {
                    at(from, &["find", "name", "regexp"]).map(|r| format!("names matching {r}"))
                })
                .unwrap_or_else(|| "a find or generator".to_owned())
        })
        .collect();
    *found.stores_used.entry((store_kind.clone(), store_name.clone())).or_default() += 1;
    found.targets.push(Target {
        namespace: namespace.to_owned(),
        secret,
        external_secret: doc.name.clone(),
        api_version: doc.api_version.clone(),
        store: (store_kind, store_name),
        keys,
        data_from,
    });
}

fn store(
    kind: &str,
    name: &str,
    namespace: Option<&str>,
    spec: &Value,
    default_namespace: &str,
    found: &mut Found,
) {
    let provider = spec.get("provider").and_then(Value::as_object);
    let (provider_name, block) = match provider.and_then(|p| p.iter().next()) {
        Some((key, block)) => (key.clone(), block.clone()),
        None => (String::new(), Value::Null),
    };
    // Credentials the store authenticates with: every {name, key} selector under its
    // provider block. A namespaced store's selectors are in its own namespace.
    let mut credentials = BTreeSet::new();
    let home = match kind {
        "SecretStore" => namespace.unwrap_or(default_namespace),
        _ => default_namespace,
    };
    selectors(&block, "", home, kind == "SecretStore", &mut credentials);
    found.stores.insert(
        (kind.to_owned(), name.to_owned()),
        StoreFound { provider: provider_name, block, credentials },
    );
}

/// Every Secret key selector (`{name, key[, namespace]}`) under `value`.
fn selectors(
    value: &Value,
    path: &str,
    home: &str,
    namespaced: bool,
    out: &mut BTreeSet<(String, String, String, String)>,
) {
    match value {
        Value::Object(map) => {
            if let (Some(name), Some(key)) = (at(value, &["name"]), at(value, &["key"])) {
                let namespace = match (namespaced, at(value, &["namespace"])) {
                    (false, Some(ns)) => ns,
                    _ => home,
                };
                out.insert((
                    namespace.to_owned(),
                    name.to_owned(),
                    key.to_owned(),
                    path.to_owned(),
                ));
                return;
            }
            for (key, inner) in map {
                let path = if path.is_empty() { key.clone() } else { format!("{path}.{key}") };
                selectors(inner, &path, home, namespaced, out);
            }
        }
        Value::Array(items) => {
            for item in items {
                selectors(item, path, home, namespaced, out);
            }
        }
        _ => {}
    }
}
