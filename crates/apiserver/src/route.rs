//! Which handler answers a request: discovery, OpenAPI, access reviews, namespaces, Secrets,
//! Events and the External Secrets API; and the RBAC check every handler makes first.

use serde_json::{Value, json};

use crate::json::{JsonPath, query_param};
use crate::reply::{Reply, Repr, negotiate, reply, status};
use crate::state::{Shared, User, lock};
use crate::{eso, namespaces, protobuf, secrets};

/// One authenticated request, its body read.
pub(crate) struct Call<'a> {
    pub(crate) user: &'a User,
    pub(crate) method: &'a str,
    pub(crate) segments: &'a [&'a str],
    pub(crate) query: &'a str,
    pub(crate) accept: &'a str,
    pub(crate) content_type: &'a str,
    pub(crate) body: &'a [u8],
}

impl Call<'_> {
    /// The representation the client accepts, if any is served.
    pub(crate) fn repr(&self) -> Option<Repr> {
        negotiate(self.accept, self.query)
    }

    /// A decoded query parameter.
    pub(crate) fn param(&self, name: &str) -> Option<String> {
        query_param(self.query, name)
    }

    /// `None` when the user may `verb` `resource` there, else the 403 Status.
    pub(crate) fn authorize(
        &self,
        verb: &str,
        resource: &str,
        namespace: Option<&str>,
        name: Option<&str>,
    ) -> Option<Reply> {
        authorize(self.user, verb, resource, namespace, name).map(|denied| reply(403, denied))
    }
}

/// `None` when allowed, else the 403 Status.
pub(crate) fn authorize(
    user: &User,
    verb: &str,
    resource: &str,
    namespace: Option<&str>,
    name: Option<&str>,
) -> Option<Value> {
    let allowed = user.rules.iter().any(|rule| {
        let verb_ok = rule.verbs.iter().any(|v| v == "*" || v == verb);
        let resource_ok = rule.resources.iter().any(|r| r == "*" || r == resource);
        let scope_ok = match (&rule.namespace, namespace) {
            (None, _) => true,
            (Some(allowed), Some(ns)) => allowed == ns,
            (Some(_), None) => false,
        };
        verb_ok && resource_ok && scope_ok
    });
    if allowed {
        return None;
    }
    let subject = match name {
        Some(name) => format!("{resource} \"{name}\""),
        None => resource.to_owned(),
    };
    let scope = match namespace {
        Some(ns) => format!("in the namespace \"{ns}\""),
        None => "at the cluster scope".to_owned(),
    };
    let message = format!(
        "{subject} is forbidden: User \"{}\" cannot {verb} resource \"{resource}\" in API group \"\" {scope}",
        user.name
    );
    let mut details = json!({"kind": resource});
    if let Some(name) = name {
        details.set(&["name"], Value::String(name.to_owned()));
    }
    Some(status(403, "Forbidden", &message, details))
}

/// The answer to `call`.
pub(crate) fn route(shared: &Shared, call: &Call<'_>) -> Reply {
    match (call.method, call.segments) {
        ("GET", ["version"]) => reply(
            200,
            json!({"major": "1", "minor": "32", "gitVersion": "v1.32.0-greenlight-test", "platform": "linux/amd64"}),
        ),
        ("GET", ["api"]) => reply(
            200,
            json!({"kind": "APIVersions", "versions": ["v1"], "serverAddressByClientCIDRs": [{"clientCIDR": "0.0.0.0/0", "serverAddress": "127.0.0.1"}]}),
        ),
        ("GET", ["apis"]) => reply(200, groups(shared)),
        (_, ["apis", "external-secrets.io", version, rest @ ..]) => {
            eso::serve(shared, call, version, rest)
        }
        ("GET", ["api", "v1", "namespaces", ns, "events"]) => eso::events(shared, call, ns),
        ("GET", ["api", "v1"]) => reply(200, discovery_core()),
        // kubectl apply asks OpenAPI v3 whether the server validates fields itself
        // (`fieldValidation`); saying yes spares it client-side schema validation.
        ("GET", ["openapi", "v3"]) => reply(
            200,
            json!({"paths": {"api/v1": {"serverRelativeURL": "/openapi/v3/api/v1?hash=greenlight-test"}}}),
        ),
        ("GET", ["openapi", "v3", "api", "v1"]) => reply(200, protobuf::openapi_v3_core()),
        ("GET", ["apis", "authorization.k8s.io", "v1"]) => reply(
            200,
            discovery_group(
                "authorization.k8s.io",
                &[
                    ("selfsubjectaccessreviews", "SelfSubjectAccessReview"),
                    ("selfsubjectrulesreviews", "SelfSubjectRulesReview"),
                ],
            ),
        ),
        ("GET", ["apis", "authentication.k8s.io", "v1"]) => reply(
            200,
            discovery_group(
                "authentication.k8s.io",
                &[("selfsubjectreviews", "SelfSubjectReview")],
            ),
        ),
        ("POST", ["apis", "authorization.k8s.io", "v1", "selfsubjectaccessreviews"]) => {
            access_review(call)
        }
        ("POST", ["apis", "authorization.k8s.io", "v1", "selfsubjectrulesreviews"]) => {
            rules_review(shared, call)
        }
        ("POST", ["apis", "authentication.k8s.io", "v1", "selfsubjectreviews"]) => reply(
            201,
            json!({"kind": "SelfSubjectReview", "apiVersion": "authentication.k8s.io/v1", "metadata": {}, "status": {"userInfo": {"username": call.user.name, "groups": ["system:authenticated"]}}}),
        ),
        (_, ["api", "v1", "namespaces"]) => namespaces::serve(shared, call, None),
        (_, ["api", "v1", "namespaces", name]) => namespaces::serve(shared, call, Some(name)),
        (_, ["api", "v1", "namespaces", ns, "secrets", rest @ ..]) => {
            secrets::serve(shared, call, Some(ns), rest.first().copied())
        }
        ("GET", ["api", "v1", "secrets"]) => secrets::serve(shared, call, None, None),
        _ => reply(
            404,
            status(404, "NotFound", "the server could not find the requested resource", json!({})),
        ),
    }
}

/// SelfSubjectAccessReview: may the caller do what the review asks?
fn access_review(call: &Call<'_>) -> Reply {
    let mut review: Value = serde_json::from_slice(call.body).unwrap_or(json!({}));
    let attrs = review.at(&["spec", "resourceAttributes"]).clone();
    let verb = attrs.at(&["verb"]).as_str().unwrap_or_default();
    let resource = attrs.at(&["resource"]).as_str().unwrap_or_default();
    let namespace = attrs.at(&["namespace"]).as_str().filter(|n| !n.is_empty());
    let name = attrs.at(&["name"]).as_str().filter(|n| !n.is_empty());
    let allowed = authorize(call.user, verb, resource, namespace, name).is_none();
    review.set(&["status"], json!({"allowed": allowed}));
    reply(201, review)
}

/// SelfSubjectRulesReview: what the caller may do in one namespace (rules bound there and
/// cluster-wide ones), as the real server lists them.
fn rules_review(shared: &Shared, call: &Call<'_>) -> Reply {
    let mut review: Value = serde_json::from_slice(call.body).unwrap_or(json!({}));
    // The real server answers a review without a namespace with 400, as here.
    let Some(namespace) =
        review.at(&["spec", "namespace"]).as_str().filter(|ns| !ns.is_empty()).map(str::to_owned)
    else {
        return reply(400, status(400, "BadRequest", "no namespace on request", json!({})));
    };
    let rules: Vec<Value> = call
        .user
        .rules
        .iter()
        .filter(|rule| rule.namespace.as_deref().is_none_or(|ns| ns == namespace))
        .map(|rule| json!({"verbs": rule.verbs, "apiGroups": ["*"], "resources": rule.resources}))
        .collect();
    let incomplete = crate::tap::rules_incomplete(shared);
    let mut answer =
        json!({"resourceRules": rules, "nonResourceRules": [], "incomplete": incomplete});
    if incomplete {
        answer.set(&["evaluationError"], json!("webhook authorizer: rules not listed"));
    }
    review.set(&["status"], answer);
    reply(201, review)
}

fn groups(shared: &Shared) -> Value {
    let mut groups = vec![
        json!({"name": "authorization.k8s.io", "versions": [{"groupVersion": "authorization.k8s.io/v1", "version": "v1"}], "preferredVersion": {"groupVersion": "authorization.k8s.io/v1", "version": "v1"}}),
        json!({"name": "authentication.k8s.io", "versions": [{"groupVersion": "authentication.k8s.io/v1", "version": "v1"}], "preferredVersion": {"groupVersion": "authentication.k8s.io/v1", "version": "v1"}}),
    ];
    let versions = lock(&shared.state).eso_versions.clone();
    if let Some(first) = versions.first() {
        let list: Vec<Value> = versions
            .iter()
            .map(|v| json!({"groupVersion": format!("external-secrets.io/{v}"), "version": v}))
            .collect();
        groups.push(json!({"name": "external-secrets.io", "versions": list, "preferredVersion": {"groupVersion": format!("external-secrets.io/{first}"), "version": first}}));
    }
    json!({"kind": "APIGroupList", "apiVersion": "v1", "groups": groups})
}

fn discovery_core() -> Value {
    let resource = |name: &str, kind: &str, namespaced: bool, verbs: &[&str], short: &[&str]| json!({"name": name, "singularName": kind.to_lowercase(), "namespaced": namespaced, "kind": kind, "verbs": verbs, "shortNames": short});
    json!({
        "kind": "APIResourceList",
        "groupVersion": "v1",
        "resources": [
            resource("namespaces", "Namespace", false, &["create", "delete", "get", "list", "patch", "update", "watch"], &["ns"]),
            resource("secrets", "Secret", true, &["create", "delete", "deletecollection", "get", "list", "patch", "update", "watch"], &[]),
        ]
    })
}

fn discovery_group(group: &str, resources: &[(&str, &str)]) -> Value {
    json!({
        "kind": "APIResourceList",
        "apiVersion": "v1",
        "groupVersion": format!("{group}/v1"),
        "resources": resources.iter().map(|(name, kind)| json!({"name": name, "singularName": "", "namespaced": false, "kind": kind, "verbs": ["create"]})).collect::<Vec<_>>(),
    })
}
