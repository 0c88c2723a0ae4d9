//! The spec file exactly as written: serde types with `deny_unknown_fields`, from which the
//! published JSON Schema is generated. Nothing here is validated or resolved; see `validate`.

use indexmap::IndexMap;
use schemars::JsonSchema;
use serde::{Deserialize, Serialize};

use super::{AwsService, Platform, Provider};

/// A Greenlight secret spec, version 1: the secrets one deployment needs and where each must
/// live. Written by the vendor, read by the operator's Greenlight.
#[derive(Debug, Clone, Deserialize, Serialize, JsonSchema)]
#[serde(deny_unknown_fields)]
#[schemars(title = "Greenlight secret spec", rename = "SecretSpec")]
pub(crate) struct RawSpec {
    /// Optional link to this schema, for editors.
    #[serde(rename = "$schema", default, skip_serializing_if = "Option::is_none")]
    pub schema: Option<String>,
    /// Spec format version. Only `1` exists.
    #[schemars(range(min = 1, max = 1))]
    pub version: u32,
    /// The deployment these secrets belong to, shown as the checklist's title.
    pub deployment: String,
    /// The platforms this spec offers placements for; the operator picks one.
    pub platforms: Vec<Platform>,
    /// Values every secret falls back to.
    #[serde(default)]
    pub defaults: RawDefaults,
    /// Where the vendor expects the secrets to be created; Greenlight warns when the
    /// operator's cluster or account differs.
    #[serde(default)]
    pub expect: RawExpect,
    /// Switches for secrets that are only needed when a feature is enabled.
    #[serde(default)]
    pub features: IndexMap<String, RawFeature>,
    /// Where delivered values live, by an id `values` refer to.
    #[serde(default)]
    pub backends: IndexMap<String, RawBackend>,
    /// How delivered values reach the cluster.
    pub delivery: Option<RawDelivery>,
    /// Values kept in a backend and delivered into Kubernetes Secrets by External Secrets:
    /// what the operator (or a vendor tool) creates, once each.
    #[serde(default)]
    pub values: Vec<RawValue>,
    /// The Kubernetes Secrets External Secrets makes from the values: one ExternalSecret
    /// each, per namespace.
    #[serde(default)]
    pub targets: Vec<RawTarget>,
    /// The secrets the operator creates where they are used, in the order the checklist shows
    /// them within each group.
    #[serde(default)]
    pub secrets: Vec<RawEntry>,
    /// The environments this deployment runs in (e.g. `dev`, `stg`, `prd`), by name, and what
    /// differs in each. `greenlight check` then checks every one side by side.
    #[serde(default)]
    pub environments: IndexMap<String, RawEnvironment>,
}

/// One environment of the deployment: where it is reached and what differs there. Anything not
/// given is as in the rest of the spec.
#[derive(Debug, Clone, Default, Deserialize, Serialize, JsonSchema)]
#[serde(deny_unknown_fields)]
#[schemars(rename = "Environment")]
pub(crate) struct RawEnvironment {
    /// What this environment is, shown with its column.
    pub description: Option<String>,
    /// The kubeconfig context its cluster is reached by (the operator can point elsewhere
    /// with `--env NAME=CONTEXT`).
    pub context: Option<String>,
    /// The AWS profile its account is reached by.
    pub profile: Option<String>,
    /// Its AWS region: the session's region in this environment, and `defaults.aws.region`
    /// where the spec sets one.
    pub region: Option<String>,
    /// Namespace for secrets that do not name one, instead of `defaults.kubernetes.namespace`.
    pub namespace: Option<String>,
    /// Backend fields that differ here, by backend id, e.g. `{ doppler: { config: dev } }`.
    #[serde(default)]
    pub backends: IndexMap<String, IndexMap<String, String>>,
    /// Where this environment's secrets are expected, instead of the spec's `expect`.
    pub expect: Option<RawExpect>,
}

/// Defaults applied to every secret's placement.
#[derive(Debug, Clone, Default, Deserialize, Serialize, JsonSchema)]
#[serde(deny_unknown_fields)]
#[schemars(rename = "Defaults")]
pub(crate) struct RawDefaults {
    /// Kubernetes defaults.
    #[serde(default)]
    pub kubernetes: RawKubernetesDefaults,
    /// AWS defaults.
    #[serde(default)]
    pub aws: RawAwsDefaults,
    /// How often every value should be replaced, e.g. `90d`, unless an entry says.
    pub rotate_every: Option<String>,
}

/// Kubernetes defaults.
#[derive(Debug, Clone, Default, Deserialize, Serialize, JsonSchema)]
#[serde(deny_unknown_fields)]
#[schemars(rename = "KubernetesDefaults")]
pub(crate) struct RawKubernetesDefaults {
    /// Namespace for secrets that do not name one (a DNS-1123 label).
    pub namespace: Option<String>,
    /// Prefix added to a secret's `name` when its Kubernetes `secret` name is not given.
    pub name_prefix: Option<String>,
}

/// AWS defaults.
#[derive(Debug, Clone, Default, Deserialize, Serialize, JsonSchema)]
#[serde(deny_unknown_fields)]
#[schemars(rename = "AwsDefaults")]
pub(crate) struct RawAwsDefaults {
    /// Region for secrets that do not name one, e.g. `us-east-1`. When neither is given the
    /// operator's profile region is used.
    pub region: Option<String>,
    /// Service for secrets that do not name one.
    pub service: Option<AwsService>,
    /// Prefix added to a secret's `name` when its AWS `name` is not given, e.g. `acme/` or
    /// `/acme/prod/`.
    pub name_prefix: Option<String>,
}

/// Guards: where the vendor expects the secrets to be created.
#[derive(Debug, Clone, Default, Deserialize, Serialize, JsonSchema)]
#[serde(deny_unknown_fields)]
#[schemars(rename = "Expect")]
pub(crate) struct RawExpect {
    /// Expected Kubernetes cluster.
    #[serde(default)]
    pub kubernetes: RawKubernetesExpect,
    /// Expected AWS account.
    #[serde(default)]
    pub aws: RawAwsExpect,
}

/// Expected Kubernetes cluster.
#[derive(Debug, Clone, Default, Deserialize, Serialize, JsonSchema)]
#[serde(deny_unknown_fields)]
#[schemars(rename = "KubernetesExpect")]
pub(crate) struct RawKubernetesExpect {
    /// Expected kubeconfig context name.
    pub context: Option<String>,
    /// Expected API server URL, e.g. `https://10.0.0.1:6443`.
    pub server: Option<String>,
}

/// Expected AWS account.
#[derive(Debug, Clone, Default, Deserialize, Serialize, JsonSchema)]
#[serde(deny_unknown_fields)]
#[schemars(rename = "AwsExpect")]
pub(crate) struct RawAwsExpect {
    /// Expected 12-digit AWS account ID, as a string.
    pub account: Option<String>,
}

/// A feature switch that conditional secrets depend on.
#[derive(Debug, Clone, Default, Deserialize, Serialize, JsonSchema)]
#[serde(deny_unknown_fields)]
#[schemars(rename = "Feature")]
pub(crate) struct RawFeature {
    /// What the feature does, shown next to its switch.
    #[serde(default)]
    pub description: String,
    /// Whether the feature is on unless the operator says otherwise.
    #[serde(default)]
    pub default: bool,
}

/// One secret the deployment needs.
#[derive(Debug, Clone, Deserialize, Serialize, JsonSchema)]
#[serde(deny_unknown_fields)]
#[schemars(rename = "SecretEntry")]
pub(crate) struct RawEntry {
    /// Identifier of the secret in this spec; also the default Kubernetes secret name and AWS
    /// name (after the defaults' `name_prefix`).
    pub name: String,
    /// What the secret is for, in the operator's words.
    pub description: String,
    /// Whether the deployment cannot proceed without it. Default `true`.
    #[serde(default = "default_required")]
    pub required: bool,
    /// Who creates the value. Default `customer`.
    #[serde(default)]
    pub provided_by: Provider,
    /// Feature(s) that must all be on for this secret to be needed.
    #[serde(default)]
    pub when: Option<FeatureList>,
    /// Link to documentation on obtaining the value.
    pub docs: Option<String>,
    /// Where the secret lives on Kubernetes. Falls back to `defaults.kubernetes`.
    pub kubernetes: Option<RawKubernetesPlacement>,
    /// Where the secret lives on AWS. Falls back to `defaults.aws`.
    pub aws: Option<RawAwsPlacement>,
    /// How the create command makes a random value, for `provided_by: generated`.
    pub generate: Option<RawGenerate>,
    /// How often the value should be replaced, e.g. `90d` or `12h`: once its backend says it
    /// last changed longer ago, the row says "due for rotation" (readiness is unchanged unless
    /// `check --fail-on-due`). Falls back to `defaults.rotate_every`.
    pub rotate_every: Option<String>,
}

/// A backend holding delivered values: its `kind`, and the fields that kind takes (each
/// backend lists its own; see `backends`). The JSON Schema has one shape per kind.
#[derive(Debug, Clone, Deserialize, Serialize)]
pub(crate) struct RawBackend {
    /// The service.
    pub kind: crate::backends::BackendKind,
    /// Prefix added to each value's name to make its key in the backend, e.g. `platform/`.
    pub name_prefix: Option<String>,
    /// The kind's own fields, checked against its list when the spec is validated.
    #[serde(flatten)]
    pub fields: IndexMap<String, String>,
}

impl JsonSchema for RawBackend {
    fn schema_name() -> std::borrow::Cow<'static, str> {
        "Backend".into()
    }

    fn json_schema(_: &mut schemars::SchemaGenerator) -> schemars::Schema {
        let shapes: Vec<serde_json::Value> = crate::backends::BackendKind::ALL
            .iter()
            .map(|kind| {
                let backend = kind.backend();
                let mut properties = serde_json::Map::new();
                properties.insert("kind".into(), serde_json::json!({"const": backend.name(), "description": format!("{}.", backend.title())}));
                properties.insert("name_prefix".into(), serde_json::json!({"type": "string", "description": "Prefix added to each value's name to make its key in the backend, e.g. `platform/`."}));
                let mut required = vec![serde_json::json!("kind")];
                for field in backend.fields() {
                    properties.insert(field.name.into(), serde_json::json!({"type": "string", "description": field.doc}));
                    if field.required {
                        required.push(serde_json::json!(field.name));
                    }
                }
                serde_json::json!({"type": "object", "properties": properties, "required": required, "additionalProperties": false})
            })
            .collect();
        schemars::json_schema!({
            "description": "A backend holding delivered values. Which fields apply depends on `kind`.",
            "oneOf": shapes,
        })
    }
}

/// How delivered values reach the cluster.
#[derive(Debug, Clone, Deserialize, Serialize, JsonSchema)]
#[serde(deny_unknown_fields)]
#[schemars(rename = "Delivery")]
pub(crate) struct RawDelivery {
    /// The External Secrets Operator.
    pub external_secrets: RawExternalSecrets,
}

/// External Secrets Operator settings.
#[derive(Debug, Clone, Deserialize, Serialize, JsonSchema)]
#[serde(deny_unknown_fields)]
#[schemars(rename = "ExternalSecrets")]
pub(crate) struct RawExternalSecrets {
    /// The store every ExternalSecret refers to.
    pub store: RawStore,
    /// The `apiVersion` the deployment's ExternalSecret manifests use, e.g.
    /// `external-secrets.io/v1`. When given, Greenlight says so if the cluster does not serve
    /// it (ESO 0.17 and later no longer serve `v1beta1`).
    pub api_version: Option<String>,
}

/// A SecretStore or ClusterSecretStore.
#[derive(Debug, Clone, Deserialize, Serialize, JsonSchema)]
#[serde(deny_unknown_fields)]
#[schemars(rename = "Store")]
pub(crate) struct RawStore {
    /// `ClusterSecretStore` (one for the cluster) or `SecretStore` (one per target namespace).
    pub kind: crate::spec::StoreKind,
    /// Its name.
    pub name: String,
    /// The name of the `secrets` entry holding the store's own credential (a Doppler service
    /// token, a cloud access key). It is listed first, and when the store cannot log in it is
    /// the row Greenlight says to fix first.
    pub credential: Option<String>,
}

/// A value kept in a backend.
#[derive(Debug, Clone, Deserialize, Serialize, JsonSchema)]
#[serde(deny_unknown_fields)]
#[schemars(rename = "Value")]
pub(crate) struct RawValue {
    /// Its key in the backend (after the backend's `name_prefix`); `targets` refer to it.
    pub name: String,
    /// What the value is, in the operator's words.
    pub description: String,
    /// The id of the backend holding it. Default: the first backend.
    pub backend: Option<String>,
    /// Whether the deployment cannot proceed without it. Default `true`.
    #[serde(default = "default_required")]
    pub required: bool,
    /// Who creates the value. Default `customer`.
    #[serde(default)]
    pub provided_by: Provider,
    /// Feature(s) that must all be on for this value to be needed.
    #[serde(default)]
    pub when: Option<FeatureList>,
    /// Link to documentation on obtaining the value.
    pub docs: Option<String>,
    /// How the create command makes a random value, for `provided_by: generated`.
    pub generate: Option<RawGenerate>,
    /// How often the value should be replaced, e.g. `90d` or `12h`: once its backend says it
    /// last changed longer ago, the row says "due for rotation" (readiness is unchanged unless
    /// `check --fail-on-due`). Falls back to `defaults.rotate_every`.
    pub rotate_every: Option<String>,
    /// The vendor's command that creates this value instead (e.g. `make seed-secrets`).
    pub create_with: Option<String>,
}

/// A Kubernetes Secret External Secrets makes from values.
#[derive(Debug, Clone, Deserialize, Serialize, JsonSchema)]
#[serde(deny_unknown_fields)]
#[schemars(rename = "Target")]
pub(crate) struct RawTarget {
    /// Its namespace.
    pub namespace: Option<String>,
    /// Its namespaces, when the same Secret is made in several.
    pub namespaces: Option<Vec<String>>,
    /// The Secret's name.
    pub secret: String,
    /// The ExternalSecret's name. Default: the Secret's name.
    pub external_secret: Option<String>,
    /// Data key in the Secret -> the name of the value it holds.
    pub keys: IndexMap<String, String>,
    /// Feature(s) that must all be on for this Secret to be needed.
    #[serde(default)]
    pub when: Option<FeatureList>,
}

fn default_required() -> bool {
    true
}

/// A Kubernetes Secret placement.
#[derive(Debug, Clone, Default, Deserialize, Serialize, JsonSchema)]
#[serde(deny_unknown_fields)]
#[schemars(rename = "KubernetesPlacement")]
pub(crate) struct RawKubernetesPlacement {
    /// Namespace (a DNS-1123 label). Falls back to `defaults.kubernetes.namespace`.
    pub namespace: Option<String>,
    /// Secret name (a DNS-1123 subdomain). Falls back to the entry's `name`.
    pub secret: Option<String>,
    /// Data keys the Secret must hold.
    #[serde(default)]
    pub keys: Vec<String>,
    /// Secret type, e.g. `kubernetes.io/basic-auth`. Default `Opaque`.
    #[serde(rename = "type")]
    pub secret_type: Option<String>,
}

/// An AWS placement.
#[derive(Debug, Clone, Default, Deserialize, Serialize, JsonSchema)]
#[serde(deny_unknown_fields)]
#[schemars(rename = "AwsPlacement")]
pub(crate) struct RawAwsPlacement {
    /// Secrets Manager or Parameter Store. Falls back to `defaults.aws.service`.
    pub service: Option<AwsService>,
    /// Secret or parameter name. Falls back to `defaults.aws.name_prefix` + the entry's `name`.
    pub name: Option<String>,
    /// Region. Falls back to `defaults.aws.region`, then to the operator's profile region.
    pub region: Option<String>,
    /// KMS key the secret must be encrypted with (key ID, ARN or `alias/...`).
    pub kms_key: Option<String>,
}

/// How a generated value is made in the operator's own shell.
#[derive(Debug, Clone, Deserialize, Serialize, JsonSchema)]
#[serde(deny_unknown_fields)]
#[schemars(rename = "Generate")]
pub(crate) struct RawGenerate {
    /// Random bytes before encoding (16 to 512). Default 32.
    #[serde(default = "default_bytes")]
    pub bytes: u16,
    /// Text encoding of the random bytes. Default `base64`.
    #[serde(default)]
    pub encoding: crate::spec::Encoding,
}

fn default_bytes() -> u16 {
    32
}

/// One feature name or a list of them (all must be on).
#[derive(Debug, Clone, PartialEq, Eq, Serialize, JsonSchema)]
#[serde(untagged)]
pub(crate) enum FeatureList {
    /// A single feature.
    One(String),
    /// Several features, all of which must be on.
    All(Vec<String>),
}

impl FeatureList {
    /// The feature names, in the order written.
    pub fn names(&self) -> Vec<&str> {
        match self {
            FeatureList::One(name) => vec![name.as_str()],
            FeatureList::All(names) => names.iter().map(String::as_str).collect(),
        }
    }
}

impl<'de> Deserialize<'de> for FeatureList {
    fn deserialize<D: serde::Deserializer<'de>>(deserializer: D) -> Result<Self, D::Error> {
        struct Visitor;
        impl<'de> serde::de::Visitor<'de> for Visitor {
            type Value = FeatureList;
            fn expecting(&self, f: &mut std::fmt::Formatter) -> std::fmt::Result {
                f.write_str("a feature name or a list of feature names")
            }
            fn visit_str<E: serde::de::Error>(self, v: &str) -> Result<FeatureList, E> {
                Ok(FeatureList::One(v.to_owned()))
            }
            fn visit_seq<A: serde::de::SeqAccess<'de>>(
                self,
                mut seq: A,
            ) -> Result<FeatureList, A::Error> {
                let mut names = Vec::new();
                while let Some(name) = seq.next_element::<String>()? {
                    names.push(name);
                }
                Ok(FeatureList::All(names))
            }
        }
        deserializer.deserialize_any(Visitor)
    }
}
