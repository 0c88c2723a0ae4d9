//! How answers are shaped: content negotiation (full object, metadata, Table with or without
//! objects), Kubernetes `Status` bodies, the Table columns and rows of each kind served, and
//! the RBAC verb of a request.

use std::convert::Infallible;
use std::time::SystemTime;

use bytes::Bytes;
use http_body_util::{BodyExt, Full, combinators::BoxBody};
use hyper::Response;
use serde_json::{Value, json};

use crate::json::{JsonPath, query_param};

pub(crate) type Body = BoxBody<Bytes, Infallible>;

/// A response, or a bare 500 if the parts cannot make one.
pub(crate) fn build(builder: http::response::Builder, body: Body) -> Response<Body> {
    builder.body(body).unwrap_or_else(|_| {
        let mut response = Response::new(full(Vec::new()));
        *response.status_mut() = hyper::StatusCode::INTERNAL_SERVER_ERROR;
        response
    })
}

pub(crate) fn full(bytes: Vec<u8>) -> Body {
    Full::new(Bytes::from(bytes)).boxed()
}

/// How the client asked to see objects.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub(crate) enum Repr {
    Full,
    Metadata,
    Table(Include),
}

/// What a Table row carries besides its cells (`includeObject`).
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub(crate) enum Include {
    None,
    Metadata,
    Object,
}

pub(crate) fn negotiate(accept: &str, query: &str) -> Option<Repr> {
    let include = match query_param(query, "includeObject").as_deref() {
        Some("None") => Include::None,
        Some("Object") => Include::Object,
        _ => Include::Metadata,
    };
    for media in accept.split(',') {
        let media = media.trim();
        if media.contains("as=Table") {
            return Some(Repr::Table(include));
        }
        if media.contains("as=PartialObjectMetadata") {
            return Some(Repr::Metadata);
        }
        if media.starts_with("application/json") || media.starts_with("*/*") || media.is_empty() {
            return Some(Repr::Full);
        }
    }
    None
}

fn age(object: &Value) -> String {
    let created = object
        .at(&["metadata", "creationTimestamp"])
        .as_str()
        .and_then(|t| humantime::parse_rfc3339(t).ok());
    let secs =
        created.and_then(|c| SystemTime::now().duration_since(c).ok()).map_or(0, |d| d.as_secs());
    if secs < 120 { format!("{secs}s") } else { format!("{}m", secs / 60) }
}

fn partial_metadata(object: &Value) -> Value {
    json!({"kind": "PartialObjectMetadata", "apiVersion": "meta.k8s.io/v1", "metadata": object["metadata"].clone()})
}

/// The printer columns of `kind`, as the real server (or ESO's CRDs) define them.
fn columns(kind: &str) -> Value {
    let col = |name: &str, kind: &str, format: &str, description: &str| json!({"name": name, "type": kind, "format": format, "description": description, "priority": 0});
    let name = col("Name", "string", "name", "Name must be unique within a namespace.");
    let age = col(
        "Age",
        "string",
        "",
        "CreationTimestamp is a timestamp representing the server time when this object was created.",
    );
    match kind {
        "Secret" => json!([
            name,
            col("Type", "string", "", "Used to facilitate programmatic handling of secret data."),
            col("Data", "string", "", "Data contains the secret data."),
            age,
        ]),
        "ExternalSecret" => json!([
            name,
            col("StoreType", "string", "", ""),
            col("Store", "string", "", ""),
            col("Refresh Interval", "string", "", ""),
            col("Status", "string", "", ""),
            col("Ready", "string", "", ""),
            col("Last Sync", "date", "", ""),
        ]),
        "SecretStore" | "ClusterSecretStore" => json!([
            name,
            col("AGE", "date", "", ""),
            col("Status", "string", "", ""),
            col("Capabilities", "string", "", ""),
            col("Ready", "string", "", ""),
        ]),
        _ => json!([name, col("Status", "string", "", "The status of the namespace"), age]),
    }
}

fn row(object: &Value, include: Include) -> Value {
    let name = object.at(&["metadata", "name"]).clone();
    let ready = |field: &str| {
        object
            .at(&["status", "conditions"])
            .as_array()
            .and_then(|c| c.iter().find(|c| c["type"] == "Ready"))
            .map_or(Value::Null, |c| c[field].clone())
    };
    let cells = match object["kind"].as_str().unwrap_or_default() {
        "Secret" => {
            let count = object["data"].as_object().map_or(0, |d| d.len());
            json!([name, object["type"].clone(), count, age(object)])
        }
        "ExternalSecret" => {
            let store = &object.at(&["spec", "secretStoreRef"]);
            json!([
                name,
                store["kind"].clone(),
                store["name"].clone(),
                object.at(&["spec", "refreshInterval"]).clone(),
                ready("reason"),
                ready("status"),
                object.at(&["status", "refreshTime"]).clone()
            ])
        }
        "SecretStore" | "ClusterSecretStore" => json!([
            name,
            age(object),
            ready("reason"),
            object.at(&["status", "capabilities"]).clone(),
            ready("status")
        ]),
        _ => json!([name, object.at(&["status", "phase"]).clone(), age(object)]),
    };
    match include {
        Include::None => json!({"cells": cells}),
        Include::Metadata => json!({"cells": cells, "object": partial_metadata(object)}),
        Include::Object => json!({"cells": cells, "object": object}),
    }
}

pub(crate) fn table(kind: &str, rv: u64, objects: &[&Value], include: Include) -> Value {
    json!({
        "kind": "Table",
        "apiVersion": "meta.k8s.io/v1",
        "metadata": {"resourceVersion": rv.to_string()},
        "columnDefinitions": columns(kind),
        "rows": objects.iter().map(|o| row(o, include)).collect::<Vec<_>>(),
    })
}

pub(crate) fn render_one(object: &Value, repr: Repr) -> Value {
    match repr {
        Repr::Full => object.clone(),
        Repr::Metadata => partial_metadata(object),
        Repr::Table(include) => {
            let rv = object
                .at(&["metadata", "resourceVersion"])
                .as_str()
                .and_then(|s| s.parse().ok())
                .unwrap_or(0);
            table(object["kind"].as_str().unwrap_or("Secret"), rv, &[object], include)
        }
    }
}

pub(crate) fn render_list(kind: &str, rv: u64, objects: &[&Value], repr: Repr) -> Value {
    match repr {
        Repr::Full => {
            json!({"kind": format!("{kind}List"), "apiVersion": "v1", "metadata": {"resourceVersion": rv.to_string()}, "items": objects})
        }
        Repr::Metadata => json!({
            "kind": "PartialObjectMetadataList",
            "apiVersion": "meta.k8s.io/v1",
            "metadata": {"resourceVersion": rv.to_string()},
            "items": objects.iter().map(|o| partial_metadata(o)).collect::<Vec<_>>(),
        }),
        Repr::Table(include) => table(kind, rv, objects, include),
    }
}

pub(crate) fn content_type(repr: Repr) -> &'static str {
    match repr {
        Repr::Table(_) => "application/json;as=Table;v=v1;g=meta.k8s.io",
        Repr::Metadata => "application/json;as=PartialObjectMetadata;v=v1;g=meta.k8s.io",
        Repr::Full => "application/json",
    }
}

pub(crate) fn status(code: u16, reason: &str, message: &str, details: Value) -> Value {
    json!({"kind": "Status", "apiVersion": "v1", "metadata": {}, "status": "Failure", "message": message, "reason": reason, "details": details, "code": code})
}

/// A JSON answer before it is sent.
pub(crate) struct Reply {
    pub(crate) code: u16,
    pub(crate) content_type: &'static str,
    pub(crate) body: Value,
}

pub(crate) fn reply(code: u16, body: Value) -> Reply {
    Reply { code, content_type: "application/json", body }
}

/// `object` (or a list) in the form the client asked for.
pub(crate) fn shaped(code: u16, repr: Repr, body: Value) -> Reply {
    Reply { code, content_type: content_type(repr), body }
}

/// 404 with a NotFound Status about `name` of `kind` (a resource's plural).
pub(crate) fn not_found(kind: &str, name: &str, message: &str) -> Reply {
    reply(404, status(404, "NotFound", message, json!({"name": name, "kind": kind})))
}

/// The RBAC verb of `method` on one object (`named`) or the collection, if `allowed` has it.
pub(crate) fn verb(method: &str, named: bool, allowed: &[&str]) -> Option<&'static str> {
    let verb = match (method, named) {
        ("GET", true) => "get",
        ("GET", false) => "list",
        ("POST", false) => "create",
        ("PUT", true) => "update",
        ("PATCH", true) => "patch",
        ("DELETE", true) => "delete",
        _ => return None,
    };
    allowed.contains(&verb).then_some(verb)
}

pub(crate) fn method_not_allowed() -> Reply {
    reply(
        405,
        status(
            405,
            "MethodNotAllowed",
            "the server does not allow this method on the requested resource",
            json!({}),
        ),
    )
}

pub(crate) fn not_acceptable() -> Reply {
    reply(406, status(406, "NotAcceptable", "only JSON is served", json!({})))
}
