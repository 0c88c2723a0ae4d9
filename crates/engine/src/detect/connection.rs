//! Who and where the operator is, as a probe found it. This is the typed seam between the
//! probes and everything that shows or uses the connection: the app's header, the report, and
//! the target every generated command points at ([`command_target`]).

use serde::Serialize;

use crate::commands::Target;

/// Where a probe is connected (or tried to connect), per backend. In JSON, an object with
/// `platform` and the backend's fields in snake_case; unknown facts are left out.
#[derive(Debug, Clone, PartialEq, Eq, Serialize)]
#[serde(tag = "platform", rename_all = "snake_case")]
pub enum Connection {
    /// A kubeconfig context.
    Kubernetes(KubernetesConnection),
    /// An AWS profile and account.
    Aws(AwsConnection),
}

/// A kubeconfig context and the cluster behind it.
#[derive(Debug, Clone, Default, PartialEq, Eq, Serialize)]
pub struct KubernetesConnection {
    /// The context in use (or asked for, when not connected).
    #[serde(skip_serializing_if = "Option::is_none")]
    pub context: Option<String>,
    /// The API server URL.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub server: Option<String>,
    /// The user name as the API server sees it.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub user: Option<String>,
    /// The exec credential plugin's program name, when the kubeconfig user has one.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub credential_plugin: Option<String>,
}

/// An AWS profile and the identity behind it.
#[derive(Debug, Clone, Default, PartialEq, Eq, Serialize)]
pub struct AwsConnection {
    /// The profile in use; `None` for the default chain.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub profile: Option<String>,
    /// The region placements without one are checked in.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub region: Option<String>,
    /// The account ID STS reported.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub account: Option<String>,
    /// The caller ARN STS reported.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub identity: Option<String>,
    /// The endpoint override, when one is set (tests, LocalStack, VPC endpoints).
    #[serde(skip_serializing_if = "Option::is_none")]
    pub endpoint: Option<String>,
    /// Where the credentials came from, in words (a profile, SSO, the environment, a role).
    #[serde(skip_serializing_if = "Option::is_none")]
    pub credentials: Option<String>,
}

/// What a probe reports about its connection: where, and what the operator should know.
#[derive(Debug, Clone, PartialEq, Eq, Serialize)]
pub struct ConnectionStatus {
    /// Where.
    #[serde(flatten)]
    pub connection: Connection,
    /// Differences from what the spec expects, and connection problems.
    pub warnings: Vec<String>,
}

impl ConnectionStatus {
    /// Label/value pairs in display order, e.g. ("Context", "prod").
    pub fn facts(&self) -> Vec<(&'static str, String)> {
        let mut facts = Vec::new();
        let mut push = |label: &'static str, value: &Option<String>| {
            if let Some(value) = value {
                facts.push((label, value.clone()));
            }
        };
        match &self.connection {
            Connection::Kubernetes(k) => {
                push("Context", &k.context);
                push("Cluster", &k.server);
                push("User", &k.user);
                push("Credential plugin", &k.credential_plugin);
            }
            Connection::Aws(a) => {
                // Once connected, say what the defaults resolved to.
                let connected = a.account.is_some();
                let or = |value: &Option<String>, default: &str| {
                    value.clone().or_else(|| connected.then(|| default.to_owned()))
                };
                push("Profile", &or(&a.profile, "(default chain)"));
                push("Credentials", &a.credentials);
                push("Region", &or(&a.region, "(none)"));
                push("Account", &a.account);
                push("Identity", &a.identity);
                push("Endpoint", &a.endpoint);
            }
        }
        facts
    }

    /// "Context: prod · Cluster: https://… · User: alice", then one line per warning.
    pub fn to_text(&self) -> String {
        let mut out =
            self.facts().iter().map(|(k, v)| format!("{k}: {v}")).collect::<Vec<_>>().join(" · ");
        out.push('\n');
        for warning in &self.warnings {
            out.push_str(&format!("warning: {warning}\n"));
        }
        out
    }
}

/// Where generated commands point: the operator's explicit choices, completed by what the
/// probe found (the context actually used, the profile and region actually resolved). The
/// one place every command target is made, for the app, the CLI and the probes' hints.
pub fn command_target(choices: &Target, connection: Option<&Connection>) -> Target {
    let mut target = choices.clone();
    match connection {
        Some(Connection::Kubernetes(k)) => {
            target.kube_context = target.kube_context.or_else(|| k.context.clone());
        }
        Some(Connection::Aws(a)) => {
            target.aws_profile = target.aws_profile.or_else(|| a.profile.clone());
            target.aws_region = target.aws_region.or_else(|| a.region.clone());
        }
        None => {}
    }
    target
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn choices_win_and_the_connection_fills_the_rest() {
        let choices = Target { kubeconfig: Some("/k".into()), ..Target::default() };
        let k = Connection::Kubernetes(KubernetesConnection {
            context: Some("prod".into()),
            ..KubernetesConnection::default()
        });
        let target = command_target(&choices, Some(&k));
        assert_eq!(target.kubeconfig.as_deref(), Some("/k"), "the kubeconfig is kept");
        assert_eq!(target.kube_context.as_deref(), Some("prod"));
        let chosen = Target { kube_context: Some("dev".into()), ..choices };
        assert_eq!(command_target(&chosen, Some(&k)).kube_context.as_deref(), Some("dev"));

        let a = Connection::Aws(AwsConnection {
            profile: Some("ops".into()),
            region: Some("eu-west-1".into()),
            ..AwsConnection::default()
        });
        let chosen = Target { aws_region: Some("us-east-1".into()), ..Target::default() };
        let target = command_target(&chosen, Some(&a));
        assert_eq!(target.aws_profile.as_deref(), Some("ops"));
        assert_eq!(target.aws_region.as_deref(), Some("us-east-1"));
    }
}
