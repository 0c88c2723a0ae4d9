//! Where a secret lives, below everything that uses it: a Kubernetes Secret or an AWS secret
//! or parameter (`KubernetesPlacement`, `AwsPlacement`), and each backend's naming rules
//! (`names`). The spec resolves into these; the backends, commands and probes read them.

pub(crate) mod names;

use schemars::JsonSchema;
use serde::{Deserialize, Serialize};

/// The AWS service holding a secret.
#[derive(
    Debug, Clone, Copy, PartialEq, Eq, Hash, PartialOrd, Ord, Deserialize, Serialize, JsonSchema,
)]
#[serde(rename_all = "kebab-case")]
pub enum AwsService {
    /// AWS Secrets Manager.
    SecretsManager,
    /// AWS Systems Manager Parameter Store (as a `SecureString`).
    ParameterStore,
}

impl AwsService {
    /// The name used in spec files.
    pub fn as_str(self) -> &'static str {
        match self {
            AwsService::SecretsManager => "secrets-manager",
            AwsService::ParameterStore => "parameter-store",
        }
    }

    /// The name operators know it by.
    pub fn title(self) -> &'static str {
        match self {
            AwsService::SecretsManager => "Secrets Manager",
            AwsService::ParameterStore => "Parameter Store",
        }
    }
}

/// Where a Kubernetes Secret must exist.
#[derive(Debug, Clone, PartialEq, Eq, Hash, PartialOrd, Ord)]
pub struct KubernetesPlacement {
    /// Namespace.
    pub namespace: String,
    /// Secret name.
    pub secret: String,
    /// Data keys it must hold.
    pub keys: Vec<String>,
    /// Expected type, when the spec names one.
    pub secret_type: Option<String>,
}

/// Where an AWS secret or parameter must exist.
#[derive(Debug, Clone, PartialEq, Eq, Hash, PartialOrd, Ord)]
pub struct AwsPlacement {
    /// Secrets Manager or Parameter Store.
    pub service: AwsService,
    /// Secret or parameter name.
    pub name: String,
    /// Region; `None` means the operator's profile region.
    pub region: Option<String>,
    /// Expected KMS key.
    pub kms_key: Option<String>,
}

impl KubernetesPlacement {
    /// E.g. `Secret acme-prod/github-token`.
    pub fn describe(&self) -> String {
        format!("Secret {}/{}", self.namespace, self.secret)
    }
}

impl AwsPlacement {
    /// E.g. `Secrets Manager acme/github-token in us-east-1`.
    pub fn describe(&self) -> String {
        match &self.region {
            Some(region) => format!("{} {} in {}", self.service.title(), self.name, region),
            None => format!("{} {}", self.service.title(), self.name),
        }
    }
}
