//! What the current user may do, asked of the API server without doing it: access reviews
//! (SelfSubjectAccessReview), rules reviews (SelfSubjectRulesReview) and who am I
//! (SelfSubjectReview). Nothing here touches a Secret.

use std::time::Duration;

use http::Request;
use serde::Deserialize;

use super::wire::{ProbeError, send};
use crate::text::scrub;

#[derive(Deserialize)]
struct Review {
    #[serde(default)]
    status: ReviewStatus,
}

#[derive(Default, Deserialize)]
struct ReviewStatus {
    #[serde(default)]
    allowed: bool,
    #[serde(default, rename = "userInfo")]
    user: Option<UserInfo>,
}

#[derive(Deserialize)]
struct UserInfo {
    #[serde(default)]
    username: String,
}

/// SelfSubjectAccessReview: may the current user `verb` Secrets in `namespace`?
pub(crate) async fn can(
    client: &kube::Client,
    verb: &str,
    resource: &str,
    namespace: Option<&str>,
    timeout: Duration,
) -> Result<bool, ProbeError> {
    let body = serde_json::json!({
        "apiVersion": "authorization.k8s.io/v1",
        "kind": "SelfSubjectAccessReview",
        "spec": {"resourceAttributes": {"namespace": namespace.unwrap_or_default(), "verb": verb, "resource": resource, "group": ""}}
    });
    let answer = post_review(client, "selfsubjectaccessreviews", &body, timeout).await?;
    let review: Review = serde_json::from_slice(&answer)
        .map_err(|_| ProbeError::Protocol("not a SelfSubjectAccessReview".to_owned()))?;
    Ok(review.status.allowed)
}

/// What the user may do in one namespace, from a SelfSubjectRulesReview: the rules bound
/// there and cluster-wide ones. `incomplete` when another authorizer (a webhook) also
/// decides: then a missing rule proves nothing.
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub(crate) struct Rules {
    rules: Vec<ResourceRule>,
    /// The server could not list everything the user may do.
    pub(crate) incomplete: bool,
}

#[derive(Debug, Clone, Default, PartialEq, Eq, Deserialize)]
struct ResourceRule {
    #[serde(default)]
    verbs: Vec<String>,
    #[serde(default, rename = "apiGroups")]
    api_groups: Vec<String>,
    #[serde(default)]
    resources: Vec<String>,
    #[serde(default, rename = "resourceNames")]
    resource_names: Vec<String>,
}

impl Rules {
    /// Whether a rule lets the user `verb` core `resource` (every object of it: a rule
    /// limited to some names does not count).
    pub(crate) fn allow(&self, verb: &str, resource: &str) -> bool {
        let any = |list: &[String], wanted: &str| list.iter().any(|v| v == "*" || v == wanted);
        self.rules.iter().any(|rule| {
            any(&rule.verbs, verb)
                && any(&rule.api_groups, "")
                && any(&rule.resources, resource)
                && rule.resource_names.is_empty()
        })
    }

    /// Whether `verb` on `resource` is allowed: `Some(true)` when a rule says so,
    /// `Some(false)` when the rules are complete and none does, `None` when they cannot tell.
    pub(crate) fn answer(&self, verb: &str, resource: &str) -> Option<bool> {
        if self.allow(verb, resource) {
            Some(true)
        } else if self.incomplete {
            None
        } else {
            Some(false)
        }
    }
}

#[derive(Deserialize)]
struct RulesReview {
    #[serde(default)]
    status: Option<RulesStatus>,
}

#[derive(Deserialize)]
struct RulesStatus {
    #[serde(default, rename = "resourceRules")]
    resource_rules: Vec<ResourceRule>,
    #[serde(default)]
    incomplete: bool,
}

/// POSTs a review of the `authorization.k8s.io/v1` `resource` kind; its answer's body.
async fn post_review(
    client: &kube::Client,
    resource: &str,
    body: &serde_json::Value,
    timeout: Duration,
) -> Result<Vec<u8>, ProbeError> {
    let request = Request::post(format!("/apis/authorization.k8s.io/v1/{resource}"))
        .header(http::header::CONTENT_TYPE, "application/json")
        .header(http::header::ACCEPT, "application/json")
        .body(serde_json::to_vec(body).unwrap_or_default())
        .map_err(|e| ProbeError::Protocol(e.to_string()))?;
    Ok(send(client, request, timeout).await?.to_vec())
}

/// SelfSubjectRulesReview: what the current user may do in `namespace`, in one request.
pub(crate) async fn rules(
    client: &kube::Client,
    namespace: &str,
    timeout: Duration,
) -> Result<Rules, ProbeError> {
    let body = serde_json::json!({
        "apiVersion": "authorization.k8s.io/v1",
        "kind": "SelfSubjectRulesReview",
        "spec": {"namespace": namespace}
    });
    let answer = post_review(client, "selfsubjectrulesreviews", &body, timeout).await?;
    let review: RulesReview = serde_json::from_slice(&answer)
        .map_err(|_| ProbeError::Protocol("not a SelfSubjectRulesReview".to_owned()))?;
    let status = review.status.ok_or_else(|| {
        ProbeError::Protocol("a SelfSubjectRulesReview without status".to_owned())
    })?;
    Ok(Rules { rules: status.resource_rules, incomplete: status.incomplete })
}

/// SelfSubjectReview: the user name the server sees, when the server offers it.
pub(crate) async fn whoami(client: &kube::Client, timeout: Duration) -> Result<String, ProbeError> {
    let body =
        serde_json::json!({"apiVersion": "authentication.k8s.io/v1", "kind": "SelfSubjectReview"});
    let request = Request::post("/apis/authentication.k8s.io/v1/selfsubjectreviews")
        .header(http::header::CONTENT_TYPE, "application/json")
        .header(http::header::ACCEPT, "application/json")
        .body(serde_json::to_vec(&body).unwrap_or_default())
        .map_err(|e| ProbeError::Protocol(e.to_string()))?;
    let review: Review = serde_json::from_slice(&send(client, request, timeout).await?)
        .map_err(|_| ProbeError::Protocol("not a SelfSubjectReview".to_owned()))?;
    Ok(review.status.user.map(|u| scrub(&u.username)).unwrap_or_default())
}
