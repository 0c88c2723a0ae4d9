//! Where a plain entry lives: its Kubernetes namespace, Secret name, data keys and type, and
//! its AWS service, name, region and KMS key, each checked by its platform's naming rules.

use super::super::positions::{index_path, key_path};
use super::super::raw::{RawEntry, RawSpec};
use super::super::{AwsPlacement, AwsService, KubernetesPlacement, Provider, names};
use super::Problems;

/// `name_ok` is false when the entry's name was already reported invalid, so a placement name
/// derived from it is not reported a second time.
pub(super) fn resolve_kubernetes(
    raw: &RawSpec,
    entry: &RawEntry,
    path: &str,
    name_ok: bool,
    p: &mut Problems<'_>,
) -> Option<KubernetesPlacement> {
    let at = key_path(path, "kubernetes");
    let given = entry.kubernetes.clone().unwrap_or_default();
    let defaults = &raw.defaults.kubernetes;
    let namespace = match (&given.namespace, &defaults.namespace) {
        (Some(ns), _) => (ns.clone(), key_path(&at, "namespace")),
        (None, Some(ns)) => (ns.clone(), "defaults.kubernetes.namespace".to_owned()),
        (None, None) => {
            let whole = if entry.kubernetes.is_some() { at.clone() } else { path.to_owned() };
            p.key(&whole, "missing-placement", format!("secret `{}` has no Kubernetes namespace", entry.name), "add `kubernetes: { namespace: ... }` to the secret, or set `defaults.kubernetes.namespace`".to_owned());
            return None;
        }
    };
    if let Err(why) = names::kubernetes_namespace(&namespace.0) {
        p.value(
            &namespace.1,
            "kubernetes-namespace",
            format!("`{}` is not a valid Kubernetes namespace: {}", namespace.0, why.why),
            format!("use `{}`; {}", names::kubernetes_suggestion(&namespace.0), why.rule),
        );
    }
    let (secret, secret_at) = match &given.secret {
        Some(s) => (s.clone(), key_path(&at, "secret")),
        None => (
            format!("{}{}", defaults.name_prefix.as_deref().unwrap_or_default(), entry.name),
            key_path(path, "name"),
        ),
    };
    let derived = given.secret.is_none();
    match names::kubernetes_secret(&secret) {
        Err(_) if derived && !name_ok => {}
        Err(why) => {
            let suggestion = names::kubernetes_suggestion(&secret);
            let fix = if derived {
                format!(
                    "set `kubernetes: {{ secret: {suggestion} }}` or rename the entry; {}",
                    why.rule
                )
            } else {
                format!("use `{suggestion}`; {}", why.rule)
            };
            p.value(
                &secret_at,
                "kubernetes-secret-name",
                format!("`{secret}` is not a valid Kubernetes Secret name: {}", why.why),
                fix,
            );
        }
        Ok(()) => {}
    }
    let keys = data_keys(&given.keys, &at, p);
    if given.keys.is_empty() && entry.provided_by != Provider::Vendor {
        let whole = if entry.kubernetes.is_some() { at.clone() } else { path.to_owned() };
        p.key(
            &whole,
            "missing-keys",
            format!(
                "secret `{}` lists no data keys, so no create command can be given",
                entry.name
            ),
            "add `keys: [...]` with the key names the workload reads, e.g. `keys: [token]`"
                .to_owned(),
        );
    }
    if let Some(kind) = &given.secret_type
        && let Err(why) = names::kubernetes_secret_type(kind)
    {
        p.value(
            &key_path(&at, "type"),
            "kubernetes-secret-type",
            format!("`{kind}` is not a Secret type: {}", why.why),
            why.rule.to_owned(),
        );
    }
    Some(KubernetesPlacement {
        namespace: namespace.0,
        secret,
        keys,
        secret_type: given.secret_type.clone(),
    })
}

/// The entry's data keys, each checked and listed once.
fn data_keys(given: &[String], at: &str, p: &mut Problems<'_>) -> Vec<String> {
    let mut keys: Vec<String> = Vec::new();
    for (n, key) in given.iter().enumerate() {
        let key_at = index_path(&key_path(at, "keys"), n);
        if let Err(why) = names::kubernetes_key(key) {
            p.value(
                &key_at,
                "kubernetes-key",
                format!("`{key}` is not a valid data key: {}", why.why),
                format!("rename the key; {}", why.rule),
            );
        } else if keys.contains(key) {
            p.value(
                &key_at,
                "duplicate-key",
                format!("data key `{key}` is listed twice"),
                "list each key once".to_owned(),
            );
        } else {
            keys.push(key.clone());
        }
    }
    keys
}

pub(super) fn resolve_aws(
    raw: &RawSpec,
    entry: &RawEntry,
    path: &str,
    name_ok: bool,
    p: &mut Problems<'_>,
) -> Option<AwsPlacement> {
    let at = key_path(path, "aws");
    let given = entry.aws.clone().unwrap_or_default();
    let defaults = &raw.defaults.aws;
    let Some(service) = given.service.or(defaults.service) else {
        let whole = if entry.aws.is_some() { at.clone() } else { path.to_owned() };
        p.key(&whole, "missing-placement", format!("secret `{}` has no AWS service", entry.name), "add `aws: { service: secrets-manager }` (or `parameter-store`) to the secret, or set `defaults.aws.service`".to_owned());
        return None;
    };
    let (name, name_at) = match &given.name {
        Some(n) => (n.clone(), key_path(&at, "name")),
        None => (
            format!("{}{}", defaults.name_prefix.as_deref().unwrap_or_default(), entry.name),
            key_path(path, "name"),
        ),
    };
    let checked = match service {
        AwsService::SecretsManager => names::secrets_manager_name(&name),
        AwsService::ParameterStore => names::parameter_store_name(&name),
    };
    match checked {
        Err(_) if !name_ok && given.name.is_none() => {}
        Err(why) => {
            let fix = match service {
                AwsService::ParameterStore if name.contains('/') && !name.starts_with('/') => {
                    format!("use `/{name}`")
                }
                _ => format!("rename it; {}", why.rule),
            };
            p.value(
                &name_at,
                "aws-name",
                format!("`{name}` is not a valid {} name: {}", service.title(), why.why),
                fix,
            );
        }
        Ok(())
            if service == AwsService::SecretsManager
                && names::secrets_manager_name_looks_suffixed(&name) =>
        {
            p.warn(&name_at, "aws-name-suffix", format!("`{name}` ends in '-' and six characters, like the random suffix of a secret ARN"), "AWS advises against such names because partial ARNs become ambiguous; consider another name".to_owned());
        }
        Ok(()) => {}
    }
    let region = match (&given.region, &defaults.region) {
        (Some(r), _) => Some((r.clone(), key_path(&at, "region"))),
        (None, Some(r)) => Some((r.clone(), "defaults.aws.region".to_owned())),
        (None, None) => None,
    };
    if let Some((region, region_at)) = &region
        && let Err(why) = names::aws_region(region)
    {
        p.value(
            region_at,
            "aws-region",
            format!("`{region}` is not an AWS region: {}", why.why),
            why.rule.to_owned(),
        );
    }
    if let Some(key) = &given.kms_key
        && let Err(why) = names::kms_key(key)
    {
        p.value(
            &key_path(&at, "kms_key"),
            "kms-key",
            format!("`{key}` is not a KMS key reference: {}", why.why),
            why.rule.to_owned(),
        );
    }
    Some(AwsPlacement {
        service,
        name,
        region: region.map(|r| r.0),
        kms_key: given.kms_key.clone(),
    })
}
