//! Namespaces: get, list, create and delete.

use serde_json::{Value, json};

use crate::json::JsonPath;
use crate::reply::{
    Reply, method_not_allowed, not_acceptable, not_found, render_list, render_one, reply, shaped,
    status, verb,
};
use crate::route::Call;
use crate::state::{Shared, State, lock, stamp};

/// A new, active Namespace object.
pub(crate) fn object(name: &str) -> Value {
    json!({"apiVersion": "v1", "kind": "Namespace", "metadata": {"name": name}, "spec": {"finalizers": ["kubernetes"]}, "status": {"phase": "Active"}})
}

/// Creates namespace `name` (no-op when it exists).
pub(crate) fn create(state: &mut State, name: &str) {
    if !state.namespaces.contains_key(name) {
        let object = stamp(state, object(name), None);
        state.namespaces.insert(name.to_owned(), object);
    }
}

pub(crate) fn serve(shared: &Shared, call: &Call<'_>, name: Option<&str>) -> Reply {
    let Some(verb) = verb(call.method, name.is_some(), &["get", "list", "create", "delete"]) else {
        return method_not_allowed();
    };
    if let Some(denied) = call.authorize(verb, "namespaces", name, name) {
        return denied;
    }
    let Some(repr) = call.repr() else {
        return not_acceptable();
    };
    let mut state = lock(&shared.state);
    let name = name.unwrap_or_default();
    let missing = || not_found("namespaces", name, &format!("namespaces \"{name}\" not found"));
    match verb {
        "get" => match state.namespaces.get(name) {
            Some(ns) => shaped(200, repr, render_one(ns, repr)),
            None => missing(),
        },
        "list" => {
            let all: Vec<&Value> = state.namespaces.values().collect();
            shaped(200, repr, render_list("Namespace", state.rv, &all, repr))
        }
        "create" => {
            let object: Value = serde_json::from_slice(call.body).unwrap_or(json!({}));
            let Some(new) = object.at(&["metadata", "name"]).as_str().map(str::to_owned) else {
                return reply(
                    422,
                    status(422, "Invalid", "metadata.name: Required value", json!({})),
                );
            };
            if state.namespaces.contains_key(&new) {
                return reply(
                    409,
                    status(
                        409,
                        "AlreadyExists",
                        &format!("namespaces \"{new}\" already exists"),
                        json!({"name": new, "kind": "namespaces"}),
                    ),
                );
            }
            create(&mut state, &new);
            reply(201, state.namespaces.get(&new).cloned().unwrap_or_default())
        }
        _ => match state.namespaces.remove(name) {
            Some(ns) => reply(200, ns),
            None => missing(),
        },
    }
}
