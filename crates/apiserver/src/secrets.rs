//! Secrets: get, list (with field and label selectors), create, update, patch (merge,
//! strategic merge and server-side apply) and delete, with the real server's answers.

use base64::Engine;
use serde_json::{Value, json};

use crate::json::{JsonPath, merge};
use crate::reply::{
    Reply, method_not_allowed, not_acceptable, not_found, render_list, render_one, reply, shaped,
    status, verb,
};
use crate::route::Call;
use crate::state::{Shared, State, lock, now_rfc3339, publish, stamp};

pub(crate) fn serve(
    shared: &Shared,
    call: &Call<'_>,
    namespace: Option<&str>,
    name: Option<&str>,
) -> Reply {
    let allowed = ["get", "list", "create", "update", "patch", "delete"];
    let Some(verb) = verb(call.method, name.is_some(), &allowed) else {
        return method_not_allowed();
    };
    if let Some(denied) = call.authorize(verb, "secrets", namespace, name) {
        return denied;
    }
    let Some(repr) = call.repr() else {
        return not_acceptable();
    };
    let mut state = lock(&shared.state);
    let ns = namespace.unwrap_or_default();
    let name = name.unwrap_or_default();
    match verb {
        "get" => match state.secrets.get(&(ns.to_owned(), name.to_owned())) {
            Some(secret) => shaped(200, repr, render_one(secret, repr)),
            None => missing(name),
        },
        "list" => list(&state, call, namespace, repr),
        "create" => create(shared, &mut state, call, ns),
        "update" | "patch" => write(shared, &mut state, call, verb, ns, name),
        _ => delete(shared, &mut state, ns, name),
    }
}

fn missing(name: &str) -> Reply {
    not_found("secrets", name, &format!("secrets \"{name}\" not found"))
}

fn list(
    state: &State,
    call: &Call<'_>,
    namespace: Option<&str>,
    repr: crate::reply::Repr,
) -> Reply {
    let wanted_name = call
        .param("fieldSelector")
        .and_then(|s| s.strip_prefix("metadata.name=").map(str::to_owned));
    let labels = call.param("labelSelector").unwrap_or_default();
    let wanted_labels: Vec<(&str, &str)> =
        labels.split(',').filter_map(|kv| kv.split_once('=')).collect();
    let all: Vec<&Value> = state
        .secrets
        .iter()
        .filter(|((n, s), _)| {
            namespace.is_none_or(|ns| ns == n) && wanted_name.as_ref().is_none_or(|w| w == s)
        })
        .filter(|(_, v)| {
            wanted_labels.iter().all(|(k, want)| v.at(&["metadata", "labels", *k]) == *want)
        })
        .map(|(_, v)| v)
        .collect();
    shaped(200, repr, render_list("Secret", state.rv, &all, repr))
}

fn create(shared: &Shared, state: &mut State, call: &Call<'_>, ns: &str) -> Reply {
    let object: Value = match serde_json::from_slice(call.body) {
        Ok(v) => v,
        Err(e) => {
            return reply(400, status(400, "BadRequest", &format!("invalid JSON: {e}"), json!({})));
        }
    };
    let new = object.at(&["metadata", "name"]).as_str().unwrap_or_default().to_owned();
    if !valid_name(&new) {
        return reply(
            422,
            status(
                422,
                "Invalid",
                &format!(
                    "Secret \"{new}\" is invalid: metadata.name: Invalid value: \"{new}\": a lowercase RFC 1123 subdomain must consist of lower case alphanumeric characters, '-' or '.'"
                ),
                json!({"name": new, "kind": "Secret"}),
            ),
        );
    }
    if !state.namespaces.contains_key(ns) {
        return not_found("namespaces", ns, &format!("namespaces \"{ns}\" not found"));
    }
    if state.secrets.contains_key(&(ns.to_owned(), new.clone())) {
        return reply(
            409,
            status(
                409,
                "AlreadyExists",
                &format!("secrets \"{new}\" already exists"),
                json!({"name": new, "kind": "secrets"}),
            ),
        );
    }
    let mut object = normalize(object, ns);
    manage(&mut object, &manager(call), "Update");
    let object = stamp(state, object, None);
    state.secrets.insert((ns.to_owned(), new), object.clone());
    publish(shared, state, "ADDED", ns, object.clone());
    reply(201, object)
}

fn manager(call: &Call<'_>) -> String {
    call.param("fieldManager").unwrap_or_else(|| "kubectl".to_owned())
}

/// PUT, or PATCH as a merge, strategic merge or server-side apply (which creates).
fn write(
    shared: &Shared,
    state: &mut State,
    call: &Call<'_>,
    verb: &str,
    ns: &str,
    name: &str,
) -> Reply {
    let key = (ns.to_owned(), name.to_owned());
    let existing = state.secrets.get(&key).cloned();
    let media = call.content_type;
    let (object, operation) = if verb == "update" {
        if existing.is_none() {
            return missing(name);
        }
        (normalize(serde_json::from_slice(call.body).unwrap_or(json!({})), ns), "Update")
    } else if media.starts_with("application/apply-patch") {
        let applied: Value = match serde_saphyr::from_slice(call.body) {
            Ok(v) => v,
            Err(e) => {
                let message = format!("invalid apply patch: {e}");
                return reply(400, status(400, "BadRequest", &message, json!({})));
            }
        };
        let mut object = existing.clone().unwrap_or_else(|| json!({"apiVersion": "v1", "kind": "Secret", "metadata": {"name": name, "namespace": ns}}));
        merge(&mut object, &normalize(applied, ns));
        (object, "Apply")
    } else if media.starts_with("application/merge-patch")
        || media.starts_with("application/strategic-merge-patch")
    {
        let Some(mut object) = existing.clone() else { return missing(name) };
        merge(&mut object, &serde_json::from_slice(call.body).unwrap_or(json!({})));
        (normalize(object, ns), "Update")
    } else {
        let message = format!("the body of the request was in an unknown format: {media}");
        return reply(415, status(415, "UnsupportedMediaType", &message, json!({})));
    };
    let mut object = object;
    manage(&mut object, &manager(call), operation);
    let object = stamp(state, object, existing.as_ref());
    state.secrets.insert(key, object.clone());
    let created = existing.is_none();
    publish(shared, state, if created { "ADDED" } else { "MODIFIED" }, ns, object.clone());
    reply(if created { 201 } else { 200 }, object)
}

fn delete(shared: &Shared, state: &mut State, ns: &str, name: &str) -> Reply {
    let Some(mut object) = state.secrets.remove(&(ns.to_owned(), name.to_owned())) else {
        return missing(name);
    };
    state.rv += 1;
    object.set(&["metadata", "resourceVersion"], Value::String(state.rv.to_string()));
    let uid = object.at(&["metadata", "uid"]).clone();
    publish(shared, state, "DELETED", ns, object);
    reply(
        200,
        json!({"kind": "Status", "apiVersion": "v1", "metadata": {}, "status": "Success", "details": {"name": name, "kind": "secrets", "uid": uid}}),
    )
}

fn valid_name(name: &str) -> bool {
    !name.is_empty()
        && name.len() <= 253
        && name.split('.').all(|part| {
            !part.is_empty()
                && part.chars().all(|c| c.is_ascii_lowercase() || c.is_ascii_digit() || c == '-')
                && !part.starts_with('-')
                && !part.ends_with('-')
        })
}

/// Turns `stringData` into base64 `data`, defaults the type, keeps only Secret fields.
pub(crate) fn normalize(mut object: Value, namespace: &str) -> Value {
    let mut data = object.at(&["data"]).as_object().cloned().unwrap_or_default();
    if let Some(strings) = object.at(&["stringData"]).as_object() {
        for (k, v) in strings {
            data.insert(
                k.clone(),
                Value::String(
                    base64::engine::general_purpose::STANDARD
                        .encode(v.as_str().unwrap_or_default()),
                ),
            );
        }
    }
    let mut metadata = serde_json::Map::new();
    metadata.insert("name".into(), object.at(&["metadata", "name"]).clone());
    metadata.insert("namespace".into(), Value::String(namespace.to_owned()));
    for field in ["labels", "annotations"] {
        if let Some(v) = object.at(&["metadata"]).get(field).filter(|v| !v.is_null()) {
            metadata.insert(field.into(), v.clone());
        }
    }
    let kind =
        object.at(&["type"]).as_str().filter(|t| !t.is_empty()).unwrap_or("Opaque").to_owned();
    object = json!({"apiVersion": "v1", "kind": "Secret", "metadata": metadata, "type": kind});
    if !data.is_empty() {
        object.set(&["data"], Value::Object(data));
    }
    object
}

/// Records who manages which data keys, as the real server's managedFields do (names only).
fn manage(object: &mut Value, manager: &str, operation: &str) {
    let keys: serde_json::Map<String, Value> = object["data"]
        .as_object()
        .map(|d| d.keys().map(|k| (format!("f:{k}"), json!({}))).collect())
        .unwrap_or_default();
    object.set(
        &["metadata", "managedFields"],
        json!([{
            "manager": manager,
            "operation": operation,
            "apiVersion": "v1",
            "time": now_rfc3339(),
            "fieldsType": "FieldsV1",
            "fieldsV1": {"f:data": keys, "f:type": {}},
        }]),
    );
}

/// A Secret object holding `data` (given as plain text), encoded as the API stores it.
pub(crate) fn with_data(namespace: &str, name: &str, data: &[(String, String)]) -> Value {
    let encoded: serde_json::Map<String, Value> = data
        .iter()
        .map(|(k, v)| {
            (k.clone(), Value::String(base64::engine::general_purpose::STANDARD.encode(v)))
        })
        .collect();
    json!({"apiVersion": "v1", "kind": "Secret", "type": "Opaque", "metadata": {"name": name, "namespace": namespace}, "data": encoded})
}
