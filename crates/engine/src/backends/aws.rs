//! AWS Secrets Manager and Parameter Store as backends of delivered values. Their values are
//! asked by the AWS probe (DescribeSecret, DescribeParameters) and written with its commands;
//! this file holds what a spec declares them with and their naming rules.

use super::{Asked, Backend, BackendKind, Cli, Field, Fields, Place, Source};
use crate::place::names::{self, InvalidName};
use crate::place::{AwsPlacement, AwsService};

/// One of the two AWS services.
pub(crate) struct Aws {
    kind: BackendKind,
    service: AwsService,
}

/// AWS Secrets Manager.
pub(crate) static SECRETS_MANAGER: Aws =
    Aws { kind: BackendKind::AwsSecretsManager, service: AwsService::SecretsManager };
/// AWS Systems Manager Parameter Store.
pub(crate) static PARAMETER_STORE: Aws =
    Aws { kind: BackendKind::AwsParameterStore, service: AwsService::ParameterStore };

const FIELDS: &[Field] = &[Field {
    name: "region",
    doc: "AWS region, e.g. `us-east-1`. Default: the operator's profile region.",
    required: false,
    rule: Some((names::aws_region, "AWS region")),
}];

impl Backend for Aws {
    fn kind(&self) -> BackendKind {
        self.kind
    }

    fn name(&self) -> &'static str {
        match self.service {
            AwsService::SecretsManager => "aws-secrets-manager",
            AwsService::ParameterStore => "aws-parameter-store",
        }
    }

    fn title(&self) -> &'static str {
        self.service.title()
    }

    fn fields(&self) -> &'static [Field] {
        FIELDS
    }

    fn check_key(&self, key: &str) -> Result<(), InvalidName> {
        match self.service {
            AwsService::SecretsManager => names::secrets_manager_name(key),
            AwsService::ParameterStore => names::parameter_store_name(key),
        }
    }

    fn place(&self, fields: &Fields, key: &str) -> Source {
        let backend: &'static Aws = match self.service {
            AwsService::SecretsManager => &SECRETS_MANAGER,
            AwsService::ParameterStore => &PARAMETER_STORE,
        };
        Source::new(AwsPlace {
            backend,
            placement: AwsPlacement {
                service: self.service,
                name: key.to_owned(),
                region: fields.get("region").map(str::to_owned),
                kms_key: None,
            },
        })
    }

    fn fields_from_store(&self, provider: &serde_json::Value) -> Vec<(&'static str, String)> {
        super::fields_at(provider, &[("region", &["region"])])
    }

    fn eso_provider(&self) -> &'static str {
        "aws"
    }

    fn eso_service(&self) -> Option<&'static str> {
        Some(match self.service {
            AwsService::SecretsManager => "SecretsManager",
            AwsService::ParameterStore => "ParameterStore",
        })
    }

    fn cli(&self) -> Cli {
        Cli { program: "aws", install: "https://aws.amazon.com/cli/" }
    }
}

/// A value in Secrets Manager or Parameter Store.
struct AwsPlace {
    backend: &'static Aws,
    placement: AwsPlacement,
}

impl Place for AwsPlace {
    fn backend(&self) -> &'static dyn Backend {
        self.backend
    }

    fn key(&self) -> &str {
        &self.placement.name
    }

    fn describe(&self) -> String {
        self.placement.describe()
    }

    fn asked(&self) -> Asked<'_> {
        Asked::Aws(&self.placement)
    }
}
