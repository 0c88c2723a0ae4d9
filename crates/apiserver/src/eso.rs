//! The External Secrets API as an installed operator serves it: discovery, ExternalSecrets,
//! SecretStores and ClusterSecretStores (get and list, full or Table; merge patches, which is
//! what `kubectl annotate` sends), and the core/v1 Events its controller records.

use serde_json::{Value, json};

use crate::json::{JsonPath, merge, query_param};
use crate::reply::{
    Reply, not_acceptable, not_found, render_list, render_one, reply, shaped, status, verb,
};
use crate::route::Call;
use crate::state::{Shared, lock, publish, stamp};

/// The API group External Secrets serves.
pub const GROUP: &str = "external-secrets.io";

fn discovery(version: &str) -> Value {
    let resource = |name: &str, kind: &str, namespaced: bool, short: &str| json!({"name": name, "singularName": kind.to_lowercase(), "namespaced": namespaced, "kind": kind, "verbs": ["delete", "get", "list", "patch", "update", "watch"], "shortNames": [short], "categories": ["external-secrets"]});
    json!({
        "kind": "APIResourceList", "apiVersion": "v1",
        "groupVersion": format!("{GROUP}/{version}"),
        "resources": [
            resource("externalsecrets", "ExternalSecret", true, "es"),
            resource("secretstores", "SecretStore", true, "ss"),
            resource("clustersecretstores", "ClusterSecretStore", false, "css"),
        ],
    })
}

/// The kind of an External Secrets resource (plural), if it is one served here.
pub(crate) fn kind_of(plural: &str) -> Option<&'static str> {
    match plural {
        "externalsecrets" => Some("ExternalSecret"),
        "secretstores" => Some("SecretStore"),
        "clustersecretstores" => Some("ClusterSecretStore"),
        _ => None,
    }
}

/// `/apis/external-secrets.io/VERSION/REST...`.
pub(crate) fn serve(shared: &Shared, call: &Call<'_>, version: &str, rest: &[&str]) -> Reply {
    let nothing = || not_found("", "", "the server could not find the requested resource");
    if !lock(&shared.state).eso_versions.iter().any(|v| v == version) {
        return nothing();
    }
    let (plural, namespace, name) = match rest {
        [] if call.method == "GET" => return reply(200, discovery(version)),
        [plural] => (*plural, "", None),
        [plural, name] => (*plural, "", Some(*name)),
        ["namespaces", ns, plural] => (*plural, *ns, None),
        ["namespaces", ns, plural, name] => (*plural, *ns, Some(*name)),
        _ => return nothing(),
    };
    let Some(verb) = verb(call.method, name.is_some(), &["get", "list", "patch"]) else {
        return reply(405, status(405, "MethodNotAllowed", "not served here", json!({})));
    };
    let scope = (!namespace.is_empty()).then_some(namespace);
    if let Some(denied) = call.authorize(verb, plural, scope, name) {
        return denied;
    }
    let Some(repr) = call.repr() else {
        return not_acceptable();
    };
    let Some(kind) = kind_of(plural) else { return nothing() };
    let mut state = lock(&shared.state);
    let name = name.unwrap_or_default();
    let key = (plural.to_owned(), namespace.to_owned(), name.to_owned());
    let missing = || not_found(plural, name, &format!("{plural}.{GROUP} \"{name}\" not found"));
    match verb {
        "get" => match state.custom.get(&key) {
            Some(object) => shaped(200, repr, render_one(object, repr)),
            None => missing(),
        },
        "list" => {
            let all: Vec<&Value> = state
                .custom
                .iter()
                .filter(|((p, ns, _), _)| p == plural && (namespace.is_empty() || ns == namespace))
                .map(|(_, v)| v)
                .collect();
            shaped(200, repr, render_list(kind, state.rv, &all, repr))
        }
        _ => {
            if !call.content_type.contains("merge-patch") {
                let message = "only merge patches are served for custom resources";
                return reply(415, status(415, "UnsupportedMediaType", message, json!({})));
            }
            let Ok(patch) = serde_json::from_slice::<Value>(call.body) else {
                return reply(400, status(400, "BadRequest", "invalid JSON", json!({})));
            };
            let Some(current) = state.custom.get(&key).cloned() else { return missing() };
            let mut object = current.clone();
            merge(&mut object, &patch);
            let object = stamp(&mut state, object, Some(&current));
            publish(shared, &mut state, "MODIFIED", namespace, object.clone());
            state.custom.insert(key, object.clone());
            reply(200, object)
        }
    }
}

/// core/v1 Events in a namespace, filtered by the field selector (involvedObject.kind,
/// involvedObject.name, type), as JSON.
pub(crate) fn events(shared: &Shared, call: &Call<'_>, namespace: &str) -> Reply {
    if let Some(denied) = call.authorize("list", "events", Some(namespace), None) {
        return denied;
    }
    let selector = query_param(call.query, "fieldSelector").unwrap_or_default();
    let wanted: Vec<(&str, &str)> =
        selector.split(',').filter_map(|kv| kv.split_once('=')).collect();
    let field = |event: &Value, path: &str| -> String {
        path.split('.').fold(event, |v, p| &v[p]).as_str().unwrap_or_default().to_owned()
    };
    let state = lock(&shared.state);
    let items: Vec<&Value> = state
        .core_events
        .iter()
        .filter(|e| e.at(&["metadata", "namespace"]) == namespace)
        .filter(|e| wanted.iter().all(|(k, v)| field(e, k) == *v))
        .collect();
    reply(
        200,
        json!({"kind": "EventList", "apiVersion": "v1", "metadata": {"resourceVersion": state.rv.to_string()}, "items": items}),
    )
}
