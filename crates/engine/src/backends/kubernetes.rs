//! A source namespace as a backend: each value is a Secret there, read by the External
//! Secrets Kubernetes provider. Asked by the Kubernetes probe and written with kubectl.

use super::{Asked, Backend, BackendKind, Cli, Field, Fields, Place, Source};
use crate::place::KubernetesPlacement;
use crate::place::names::{self, InvalidName};

/// Secrets in a source namespace.
pub(crate) struct SourceNamespace;

const FIELDS: &[Field] = &[
    Field {
        name: "namespace",
        doc: "The source namespace: one Secret per value, named after it.",
        required: true,
        rule: Some((names::kubernetes_namespace, "namespace")),
    },
    Field {
        name: "property",
        doc: "Data key holding the value in each source Secret. Default `value`.",
        required: false,
        rule: Some((names::kubernetes_key, "data key")),
    },
];

impl Backend for SourceNamespace {
    fn kind(&self) -> BackendKind {
        BackendKind::Kubernetes
    }

    fn name(&self) -> &'static str {
        "kubernetes"
    }

    fn title(&self) -> &'static str {
        "source namespace"
    }

    fn fields(&self) -> &'static [Field] {
        FIELDS
    }

    fn check_key(&self, key: &str) -> Result<(), InvalidName> {
        names::kubernetes_secret(key)
    }

    fn place(&self, fields: &Fields, key: &str) -> Source {
        Source::new(SourceSecret(KubernetesPlacement {
            namespace: fields.get("namespace").unwrap_or_default().to_owned(),
            secret: key.to_owned(),
            keys: vec![fields.get("property").unwrap_or("value").to_owned()],
            secret_type: None,
        }))
    }

    fn fields_from_store(&self, provider: &serde_json::Value) -> Vec<(&'static str, String)> {
        super::fields_at(provider, &[("namespace", &["remoteNamespace"])])
    }

    fn eso_provider(&self) -> &'static str {
        "kubernetes"
    }

    fn cli(&self) -> Cli {
        Cli { program: "kubectl", install: "https://kubernetes.io/docs/tasks/tools/" }
    }
}

/// A value as a Secret in the source namespace; `keys` holds the one data key it is in.
struct SourceSecret(KubernetesPlacement);

impl Place for SourceSecret {
    fn backend(&self) -> &'static dyn Backend {
        &SourceNamespace
    }

    fn key(&self) -> &str {
        &self.0.secret
    }

    fn describe(&self) -> String {
        self.0.describe()
    }

    fn asked(&self) -> Asked<'_> {
        Asked::Cluster(&self.0)
    }
}
