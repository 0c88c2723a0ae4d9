//! The secret spec: the vendor's list of secrets a deployment needs and where each must live.
//! `load` reads a YAML or JSON file, deserializes it (`raw`), then validates and resolves
//! defaults (`validate`) into a [`SecretSpec`]; every problem carries file, line and column.

mod error;
pub mod examples;
pub(crate) mod names;
mod positions;
pub(crate) mod raw;
mod validate;

use std::collections::BTreeMap;
use std::io::Read;
use std::path::{Path, PathBuf};

use schemars::JsonSchema;
use serde::{Deserialize, Serialize};

pub use error::{SpecError, SpecProblem};
pub use positions::Position;

/// Largest spec file Greenlight reads. Real specs are a few kilobytes.
pub const MAX_SPEC_BYTES: u64 = 4 * 1024 * 1024;

/// Where secrets can live.
#[derive(
    Debug, Clone, Copy, PartialEq, Eq, Hash, PartialOrd, Ord, Deserialize, Serialize, JsonSchema,
)]
#[serde(rename_all = "kebab-case")]
pub enum Platform {
    /// Kubernetes Secrets in the operator's cluster.
    Kubernetes,
    /// AWS Secrets Manager or SSM Parameter Store in the operator's account.
    Aws,
}

impl Platform {
    /// The name used in spec files and on the command line.
    pub fn as_str(self) -> &'static str {
        match self {
            Platform::Kubernetes => "kubernetes",
            Platform::Aws => "aws",
        }
    }
}

/// Who creates a secret's value.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Default, Deserialize, Serialize, JsonSchema)]
#[serde(rename_all = "kebab-case")]
pub enum Provider {
    /// The operator provides the value (an API key, a token).
    #[default]
    Customer,
    /// The vendor's deployment injects it; the operator has nothing to do.
    Vendor,
    /// A random value nobody needs to know; the create command makes it in the operator's
    /// own shell.
    Generated,
}

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

/// Text encoding of a generated value.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Default, Deserialize, Serialize, JsonSchema)]
#[serde(rename_all = "kebab-case")]
pub enum Encoding {
    /// `openssl rand -base64`.
    #[default]
    Base64,
    /// `openssl rand -hex`.
    Hex,
}

/// A validated spec with every default resolved.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct SecretSpec {
    /// The file it was read from.
    pub source: PathBuf,
    /// The deployment's name.
    pub deployment: String,
    /// Platforms offered, in the spec's order; the first is the default.
    pub platforms: Vec<Platform>,
    /// Where the vendor expects the secrets.
    pub expect: Expect,
    /// Feature switches, in the spec's order.
    pub features: Vec<Feature>,
    /// The secrets, in the spec's order.
    pub entries: Vec<SecretEntry>,
    /// Things that are allowed but probably wrong.
    pub warnings: Vec<SpecProblem>,
}

/// Where the vendor expects the secrets to be created.
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct Expect {
    /// Expected kubeconfig context.
    pub kubernetes_context: Option<String>,
    /// Expected API server URL.
    pub kubernetes_server: Option<String>,
    /// Expected AWS account ID.
    pub aws_account: Option<String>,
}

/// A feature switch.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Feature {
    /// Its name, as `when:` refers to it.
    pub name: String,
    /// What it does.
    pub description: String,
    /// Whether it is on unless switched.
    pub default: bool,
}

/// One secret the deployment needs.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct SecretEntry {
    /// Identifier within the spec.
    pub name: String,
    /// What it is for.
    pub description: String,
    /// Whether readiness waits for it.
    pub required: bool,
    /// Who creates the value.
    pub provided_by: Provider,
    /// Features that must all be on for it to be needed.
    pub when: Vec<String>,
    /// Documentation link.
    pub docs: Option<String>,
    /// Kubernetes placement, when the spec offers Kubernetes.
    pub kubernetes: Option<KubernetesPlacement>,
    /// AWS placement, when the spec offers AWS.
    pub aws: Option<AwsPlacement>,
    /// How a generated value is made.
    pub generate: Generate,
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

/// Where one entry must live on the chosen platform.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Placement<'a> {
    /// A Kubernetes Secret.
    Kubernetes(&'a KubernetesPlacement),
    /// An AWS secret or parameter.
    Aws(&'a AwsPlacement),
}

impl Placement<'_> {
    /// Human-readable location, e.g. `Secret acme-prod/github-token` or
    /// `Secrets Manager acme/github-token in us-east-1`.
    pub fn describe(&self) -> String {
        match self {
            Placement::Kubernetes(k) => format!("Secret {}/{}", k.namespace, k.secret),
            Placement::Aws(a) => match &a.region {
                Some(region) => format!("{} {} in {}", a.service.title(), a.name, region),
                None => format!("{} {}", a.service.title(), a.name),
            },
        }
    }
}

/// How a generated value is made.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct Generate {
    /// Random bytes.
    pub bytes: u16,
    /// Text encoding.
    pub encoding: Encoding,
}

impl Default for Generate {
    fn default() -> Self {
        Self { bytes: 32, encoding: Encoding::Base64 }
    }
}

/// The checklist groups, in display order.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, PartialOrd, Ord, Serialize)]
#[serde(rename_all = "snake_case")]
pub enum Group {
    /// Required, provided by the operator.
    Required,
    /// Optional, provided by the operator.
    Optional,
    /// Random values the operator's own shell makes.
    Generated,
    /// Provided by the vendor; shown for information, never blocks readiness.
    Vendor,
}

impl Group {
    /// Every group, in display order.
    pub const ALL: [Group; 4] = [Group::Required, Group::Optional, Group::Generated, Group::Vendor];

    /// Heading shown above the group.
    pub fn title(self) -> &'static str {
        match self {
            Group::Required => "Required",
            Group::Optional => "Optional",
            Group::Generated => "Generated at deploy time",
            Group::Vendor => "Provided by the vendor",
        }
    }
}

impl SecretEntry {
    /// Its placement on `platform`.
    pub fn placement(&self, platform: Platform) -> Option<Placement<'_>> {
        match platform {
            Platform::Kubernetes => self.kubernetes.as_ref().map(Placement::Kubernetes),
            Platform::Aws => self.aws.as_ref().map(Placement::Aws),
        }
    }

    /// The checklist group it belongs to.
    pub fn group(&self) -> Group {
        match (self.provided_by, self.required) {
            (Provider::Vendor, _) => Group::Vendor,
            (Provider::Generated, _) => Group::Generated,
            (Provider::Customer, true) => Group::Required,
            (Provider::Customer, false) => Group::Optional,
        }
    }

    /// Whether readiness waits for it: required and not the vendor's to provide.
    pub fn blocks_readiness(&self) -> bool {
        self.required && self.provided_by != Provider::Vendor
    }

    /// Whether it is needed with these features on.
    pub fn is_needed(&self, features: &FeatureSet) -> bool {
        self.when.iter().all(|name| features.is_on(name))
    }
}

/// Which features are on.
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct FeatureSet {
    on: BTreeMap<String, bool>,
}

impl FeatureSet {
    /// The spec's defaults.
    pub fn defaults(spec: &SecretSpec) -> Self {
        Self { on: spec.features.iter().map(|f| (f.name.clone(), f.default)).collect() }
    }

    /// Switches a feature.
    pub fn set(&mut self, name: &str, on: bool) {
        self.on.insert(name.to_owned(), on);
    }

    /// Whether `name` is on.
    pub fn is_on(&self, name: &str) -> bool {
        self.on.get(name).copied().unwrap_or(false)
    }
}

impl SecretSpec {
    /// The platform used when the operator does not choose one.
    pub fn default_platform(&self) -> Platform {
        self.platforms.first().copied().unwrap_or(Platform::Kubernetes)
    }

    /// Looks up a feature by name.
    pub fn feature(&self, name: &str) -> Option<&Feature> {
        self.features.iter().find(|f| f.name == name)
    }
}

/// Reads and validates the spec at `path` (YAML or JSON).
pub fn load(path: &Path) -> Result<SecretSpec, SpecError> {
    let read_error =
        |e: std::io::Error| SpecError::Read { path: path.to_owned(), reason: e.to_string() };
    // Looked at before opening: opening a FIFO (or a device) would block until a writer came.
    let kind = std::fs::metadata(path).map_err(read_error)?.file_type();
    if !kind.is_file() {
        let reason = if kind.is_dir() { "it is a directory" } else { "it is not a regular file" };
        return Err(SpecError::Read { path: path.to_owned(), reason: reason.to_owned() });
    }
    let file = std::fs::File::open(path).map_err(read_error)?;
    let mut bytes = Vec::new();
    file.take(MAX_SPEC_BYTES + 1).read_to_end(&mut bytes).map_err(read_error)?;
    parse_bytes(&bytes, path)
}

/// Validates spec text already in memory; `file` is used in messages.
pub fn parse_bytes(bytes: &[u8], file: &Path) -> Result<SecretSpec, SpecError> {
    validate::parse(bytes, file)
}

/// The JSON Schema of the spec format, as published in `specs/`.
pub fn json_schema() -> String {
    let schema = schemars::schema_for!(raw::RawSpec);
    let mut text = serde_json::to_string_pretty(&schema).unwrap_or_default();
    text.push('\n');
    text
}
