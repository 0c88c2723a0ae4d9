//! The secret spec: the vendor's list of secrets a deployment needs and where each must live.
//! `load` reads a YAML or JSON file, deserializes it (`raw`), then validates and resolves
//! defaults (`validate`) into a [`SecretSpec`]; every problem carries file, line and column.

mod error;
pub mod examples;
mod positions;
pub(crate) mod raw;
mod validate;

use std::collections::{BTreeMap, BTreeSet};
use std::io::Read;
use std::path::{Path, PathBuf};

use schemars::JsonSchema;
use serde::{Deserialize, Serialize};

pub use crate::backends::{BackendKind, Source};
pub(crate) use crate::place::names;
pub use crate::place::{AwsPlacement, AwsService, KubernetesPlacement};
pub use error::{SpecError, SpecProblem};
pub use positions::Position;

/// Whether `region` is a well-formed AWS region name, e.g. `eu-west-1`.
pub fn is_aws_region(region: &str) -> bool {
    names::aws_region(region).is_ok()
}

/// What is wrong with `name` as an environment name, if anything: the rule, in words.
pub fn environment_name_problem(name: &str) -> Option<String> {
    names::environment(name).err().map(|e| e.to_string())
}

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

/// The kind of External Secrets store the ExternalSecrets refer to.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, Deserialize, Serialize, JsonSchema)]
pub enum StoreKind {
    /// One store for the whole cluster.
    ClusterSecretStore,
    /// One store per namespace, in each target's namespace.
    SecretStore,
}

impl StoreKind {
    /// The kind's name.
    pub fn as_str(self) -> &'static str {
        match self {
            StoreKind::ClusterSecretStore => "ClusterSecretStore",
            StoreKind::SecretStore => "SecretStore",
        }
    }

    /// Its resource (plural) name.
    pub fn plural(self) -> &'static str {
        match self {
            StoreKind::ClusterSecretStore => "clustersecretstores",
            StoreKind::SecretStore => "secretstores",
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
    /// The rows: delivered values first, then plain secrets, each in the spec's order.
    pub entries: Vec<SecretEntry>,
    /// How delivered values reach the cluster, when the spec has any.
    pub delivery: Option<Delivery>,
    /// Things that are allowed but probably wrong.
    pub warnings: Vec<SpecProblem>,
    /// The environments the spec declares, in its order (none for most specs).
    pub environments: Vec<SpecEnvironment>,
    /// In an environment's spec: where the spec's other environments place their secrets.
    pub other_environments: OtherEnvironments,
}

/// Where a spec's other environments (and the spec as written) place their secrets, set on each
/// environment's spec: a copy found there is another environment's, never offered for deletion
/// as a mistake, and the regions are searched first when a secret is not where it should be.
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct OtherEnvironments {
    /// Kubernetes Secrets, as (namespace, name).
    pub kubernetes: BTreeSet<(String, String)>,
    /// AWS secrets and parameters, as (service, region, name).
    pub aws: BTreeSet<(AwsService, String, String)>,
}

impl OtherEnvironments {
    /// Everything `spec` places; AWS placements without a region are taken to be in `region`.
    pub(crate) fn of(spec: &SecretSpec, region: Option<&str>) -> Self {
        let plain = spec.entries.iter().filter_map(|e| e.kubernetes.as_ref());
        let targets =
            spec.entries.iter().filter_map(|e| e.delivered.as_ref()).flat_map(|d| &d.targets);
        let kubernetes = plain
            .map(|k| (k.namespace.clone(), k.secret.clone()))
            .chain(targets.map(|t| (t.namespace.clone(), t.secret.clone())))
            .collect();
        let aws = spec
            .entries
            .iter()
            .filter_map(|e| e.aws.as_ref())
            .filter_map(|a| {
                Some((a.service, a.region.as_deref().or(region)?.to_owned(), a.name.clone()))
            })
            .collect();
        Self { kubernetes, aws }
    }

    pub(crate) fn extend(&mut self, other: &Self) {
        self.kubernetes.extend(other.kubernetes.iter().cloned());
        self.aws.extend(other.aws.iter().cloned());
    }
}

/// One environment a spec declares: where it is reached, and the spec as it reads there.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct SpecEnvironment {
    /// Its name, e.g. `stg`.
    pub name: String,
    /// What it is.
    pub description: Option<String>,
    /// The kubeconfig context it is reached by.
    pub context: Option<String>,
    /// The AWS profile it is reached by.
    pub profile: Option<String>,
    /// Its AWS region.
    pub region: Option<String>,
    /// The spec with this environment's differences applied (its own `environments` empty).
    pub spec: Box<SecretSpec>,
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
    /// For a value delivered by External Secrets: where it lives and where it goes.
    pub delivered: Option<Delivered>,
    /// How often the value should be replaced, when the spec says.
    pub rotate_every: Option<std::time::Duration>,
}

/// How delivered values reach the cluster.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Delivery {
    /// The store every ExternalSecret refers to.
    pub store: StoreRef,
    /// The External Secrets API version the deployment's manifests use, e.g. `v1`, when the
    /// spec says.
    pub api_version: Option<String>,
    /// The plain entry holding the store's own credential (its name), when the spec says.
    pub credential: Option<String>,
}

/// A SecretStore or ClusterSecretStore by name.
#[derive(Debug, Clone, PartialEq, Eq, Hash)]
pub struct StoreRef {
    /// Cluster-wide or per namespace.
    pub kind: StoreKind,
    /// Its name.
    pub name: String,
}

/// A value kept in a backend and delivered into Kubernetes Secrets.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Delivered {
    /// The id of its backend in the spec.
    pub backend: String,
    /// Where it lives.
    pub source: Source,
    /// The vendor's command that creates it instead of the operator.
    pub create_with: Option<String>,
    /// The Secrets made from it (one per namespace), in the spec's order.
    pub targets: Vec<DeliveryTarget>,
}

/// One Kubernetes Secret External Secrets makes, in one namespace.
#[derive(Debug, Clone, PartialEq, Eq, Hash)]
pub struct DeliveryTarget {
    /// Namespace.
    pub namespace: String,
    /// Secret name.
    pub secret: String,
    /// The ExternalSecret that makes it.
    pub external_secret: String,
    /// Every data key the Secret gets.
    pub keys: Vec<String>,
    /// The data keys the value this target is listed under fills.
    pub fed: Vec<String>,
    /// Features that must all be on for it to be needed.
    pub when: Vec<String>,
}

impl DeliveryTarget {
    /// Whether it is needed with these features on.
    pub fn is_needed(&self, features: &FeatureSet) -> bool {
        self.when.iter().all(|name| features.is_on(name))
    }

    /// The target Secret as a placement.
    pub fn placement(&self) -> KubernetesPlacement {
        KubernetesPlacement {
            namespace: self.namespace.clone(),
            secret: self.secret.clone(),
            keys: self.keys.clone(),
            secret_type: None,
        }
    }
}

/// Where one entry must live on the chosen platform.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Placement<'a> {
    /// A Kubernetes Secret.
    Kubernetes(&'a KubernetesPlacement),
    /// An AWS secret or parameter.
    Aws(&'a AwsPlacement),
    /// A value in a backend, delivered into Kubernetes Secrets.
    Delivered(&'a Delivered),
}

impl Placement<'_> {
    /// Human-readable location, e.g. `Secret acme-prod/github-token` or
    /// `Secrets Manager acme/github-token in us-east-1`.
    pub fn describe(&self) -> String {
        match self {
            Placement::Kubernetes(k) => k.describe(),
            Placement::Aws(a) => a.describe(),
            Placement::Delivered(d) => {
                let targets: Vec<String> =
                    d.targets.iter().map(|t| format!("{}/{}", t.namespace, t.secret)).collect();
                if targets.is_empty() {
                    d.source.describe()
                } else {
                    format!("{}, delivered to Secret {}", d.source.describe(), targets.join(", "))
                }
            }
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
            Platform::Kubernetes => match &self.delivered {
                Some(delivered) => Some(Placement::Delivered(delivered)),
                None => self.kubernetes.as_ref().map(Placement::Kubernetes),
            },
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

    /// Whether it is needed with these features on: its own features on and, for a delivered
    /// value that fills Secrets, at least one of those Secrets needed.
    pub fn is_needed(&self, features: &FeatureSet) -> bool {
        self.when.iter().all(|name| features.is_on(name))
            && self.delivered.as_ref().is_none_or(|d| {
                d.targets.is_empty() || d.targets.iter().any(|t| t.is_needed(features))
            })
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
    /// The environment the spec declares under `name`.
    pub fn environment(&self, name: &str) -> Option<&SpecEnvironment> {
        self.environments.iter().find(|e| e.name == name)
    }

    /// The spec as it reads in environment `name`, still declaring every environment (so
    /// another can be chosen from it).
    pub fn in_environment(&self, name: &str) -> Option<SecretSpec> {
        let env = self.environment(name)?;
        Some(SecretSpec {
            source: self.source.clone(),
            warnings: self.warnings.clone(),
            environments: self.environments.clone(),
            ..env.spec.as_ref().clone()
        })
    }

    /// The platform used when the operator does not choose one.
    pub fn default_platform(&self) -> Platform {
        self.platforms.first().copied().unwrap_or(Platform::Kubernetes)
    }

    /// Whether some value is delivered from an AWS backend (so AWS is asked too).
    pub fn delivers_from_aws(&self) -> bool {
        self.entries
            .iter()
            .filter_map(|e| e.delivered.as_ref())
            .any(|d| matches!(d.source.asked(), crate::backends::Asked::Aws(_)))
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
