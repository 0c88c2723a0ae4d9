//! Each entry's outcome from what AWS said: present, present but wrong (scheduled for
//! deletion, no current value, not a SecureString, another KMS key), or missing with a
//! diagnosis of what was actually found (another region, the other service, a near-miss).

use std::collections::BTreeSet;

use super::session::Session;
use super::wire::{self, ParameterMeta, SecretMeta};
use crate::commands::CommandKind;
use crate::detect::{CheckOutcome, Presence};
use crate::diagnose::{Hint, aws as hints};
use crate::spec::{AwsPlacement, AwsService, SecretEntry};
use crate::text::is_near_miss;

/// What every diagnosis of one round shares.
pub(super) struct Round<'a> {
    pub(super) state: &'a super::ProbeState,
    pub(super) session: &'a Session,
    /// The regions the spec names.
    pub(super) spec_regions: &'a BTreeSet<String>,
    /// Every (service, region, name) the spec places, needed now or not: a hint never offers
    /// to delete one of them, and none of them is a near-miss of another.
    pub(super) placed: &'a BTreeSet<(AwsService, String, String)>,
}

impl Round<'_> {
    fn placed(&self, service: AwsService, region: &str, name: &str) -> bool {
        self.placed.contains(&(service, region.to_owned(), name.to_owned()))
    }
}

/// Regions searched for a missing secret, besides the spec's own.
const COMMON_REGIONS: [&str; 6] =
    ["us-east-1", "us-east-2", "us-west-2", "eu-west-1", "eu-central-1", "ap-southeast-1"];

pub(super) fn create_hint(entry: &SecretEntry, text: &str) -> Vec<Hint> {
    if entry.provided_by == crate::spec::Provider::Vendor {
        return vec![Hint::says(
            "The vendor's deployment creates it; there is nothing to do until it runs.",
        )];
    }
    vec![Hint::entry(text, CommandKind::Create)]
}

/// Loose KMS key comparison: the same ID, ARN or alias, or one the suffix of the other.
pub(super) fn same_key(found: &str, wanted: &str) -> bool {
    found == wanted
        || found.ends_with(&format!("/{wanted}"))
        || found.ends_with(&format!(":{wanted}"))
        || wanted.ends_with(&format!("/{found}"))
}

/// The key actually used, when it is not the one the spec requires. AWS leaves the key out
/// of the metadata when the service's AWS managed key (`default_alias`) is used, so absent
/// means that key, never "whatever the spec wants".
fn other_key(wanted: Option<&str>, found: Option<&str>, default_alias: &str) -> Option<String> {
    let wanted = wanted?;
    let found = found.unwrap_or(default_alias);
    (!same_key(found, wanted)).then(|| found.to_owned())
}

pub(super) fn secret_outcome(
    placement: &AwsPlacement,
    region: &str,
    meta: &SecretMeta,
    profile: Option<&str>,
) -> CheckOutcome {
    if let Some(date) = &meta.deleted {
        return CheckOutcome::now(Presence::Wrong {
            reason: format!("scheduled for deletion ({date})"),
        })
        .with_hints(vec![hints::scheduled_for_deletion(&placement.name, region, profile)]);
    }
    if !meta.has_current {
        return CheckOutcome::now(Presence::Wrong {
            reason: "exists, but has no current value".to_owned(),
        })
        .with_hints(vec![hints::no_current_value()]);
    }
    key_outcome(placement, meta.kms_key.as_deref(), "alias/aws/secretsmanager")
        .changed_at(meta.changed)
}

pub(super) fn parameter_outcome(placement: &AwsPlacement, meta: &ParameterMeta) -> CheckOutcome {
    if meta.kind != wire::secure_string() {
        return CheckOutcome::now(Presence::Wrong {
            reason: format!("type {}, the spec expects SecureString", meta.kind),
        })
        .with_hints(vec![hints::not_secure_string(&meta.kind)]);
    }
    key_outcome(placement, meta.kms_key.as_deref(), "alias/aws/ssm").changed_at(meta.changed)
}

/// Present, or wrong when it is encrypted with another key than the spec names.
fn key_outcome(placement: &AwsPlacement, found: Option<&str>, default_alias: &str) -> CheckOutcome {
    let wanted = placement.kms_key.as_deref();
    match other_key(wanted, found, default_alias) {
        Some(found) => {
            let wanted = wanted.unwrap_or_default();
            CheckOutcome::now(Presence::Wrong {
                reason: format!("encrypted with KMS key {found}, the spec expects {wanted}"),
            })
            .with_hints(vec![hints::other_kms_key(&found, wanted)])
        }
        None => CheckOutcome::now(Presence::Present),
    }
}

/// Whether `name` exists in `service` in `region`; errors count as "not seen".
pub(super) async fn exists(
    session: &Session,
    service: AwsService,
    region: &str,
    name: &str,
) -> bool {
    match service {
        AwsService::SecretsManager => matches!(
            wire::describe_secret(&session.secrets_manager(region), name).await,
            Ok(Some(_))
        ),
        AwsService::ParameterStore => {
            if crate::place::names::parameter_store_name(name).is_err() {
                return false;
            }
            matches!(wire::describe_parameters(&session.parameter_store(region), &[name.to_owned()]).await, Ok(found) if found.contains_key(name))
        }
    }
}

/// Diagnosis of a missing secret: other regions, the other service, near-miss names.
pub(super) async fn missing(
    round: &Round<'_>,
    entry: &SecretEntry,
    placement: &AwsPlacement,
    region: &str,
) -> CheckOutcome {
    if let Some(found) = without_prefix(round, entry, placement, region).await {
        return found;
    }
    if let Some(found) = in_other_regions(round, entry, placement, region).await {
        return found;
    }
    if let Some(found) = in_other_service(round, entry, placement, region).await {
        return found;
    }
    if let Some(found) = near_miss(round, entry, placement, region).await {
        return found;
    }
    CheckOutcome::now(Presence::Missing).with_hints(create_hint(
        entry,
        &format!("Not found in {} in {region}. Create it:", placement.service.title()),
    ))
}

/// A delivered value kept under its bare name, without the backend's `name_prefix` (the
/// seeds' tables list bare keys): External Secrets asks for the prefixed one.
async fn without_prefix(
    round: &Round<'_>,
    entry: &SecretEntry,
    placement: &AwsPlacement,
    region: &str,
) -> Option<CheckOutcome> {
    let bare = entry.name.as_str();
    let prefix = placement.name.strip_suffix(bare).filter(|p| !p.is_empty())?;
    if round.placed(placement.service, region, bare)
        || !exists(round.session, placement.service, region, bare).await
    {
        return None;
    }
    let title = placement.service.title();
    let mut hints_list = vec![hints::without_prefix(bare, prefix, &placement.name)];
    hints_list.extend(create_hint(entry, "Create it under the full name:"));
    Some(
        CheckOutcome::now(Presence::FoundElsewhere {
            location: format!("{title} {bare} in {region} (without the name_prefix `{prefix}`)"),
        })
        .with_hints(hints_list),
    )
}

/// The same name in other regions: the spec's and the common ones, at most eight.
async fn in_other_regions(
    round: &Round<'_>,
    entry: &SecretEntry,
    placement: &AwsPlacement,
    region: &str,
) -> Option<CheckOutcome> {
    let (session, spec_regions) = (round.session, round.spec_regions);
    let service = placement.service;
    let name = &placement.name;
    let profile = session.identity.profile.as_deref();
    let mut candidates: Vec<String> = spec_regions
        .iter()
        .cloned()
        .chain(COMMON_REGIONS.iter().map(|r| (*r).to_owned()))
        .filter(|r| r != region)
        .collect();
    candidates.dedup();
    candidates.truncate(8);
    let found: Vec<bool> =
        futures::future::join_all(candidates.iter().map(|r| exists(session, service, r, name)))
            .await;
    let others: Vec<String> =
        candidates.into_iter().zip(found).filter(|(_, f)| *f).map(|(r, _)| r).collect();
    if others.is_empty() {
        return None;
    }
    let location = others
        .iter()
        .map(|r| format!("{} {name} in {r}", service.title()))
        .collect::<Vec<_>>()
        .join(", ");
    let mut hints_list = create_hint(entry, &format!("Create it in {region}:"));
    let stray = others.iter().find(|r| !round.placed(service, r, name));
    hints_list.push(hints::in_other_regions(
        service.title(),
        name,
        region,
        &others,
        stray,
        profile,
    ));
    Some(CheckOutcome::now(Presence::FoundElsewhere { location }).with_hints(hints_list))
}

/// The same name in the other AWS service (Parameter Store for Secrets Manager and back).
async fn in_other_service(
    round: &Round<'_>,
    entry: &SecretEntry,
    placement: &AwsPlacement,
    region: &str,
) -> Option<CheckOutcome> {
    let service = placement.service;
    let name = &placement.name;
    let (other_service, other_names) = match service {
        AwsService::SecretsManager => (
            AwsService::ParameterStore,
            vec![format!("/{}", name.trim_start_matches('/')), name.clone()],
        ),
        AwsService::ParameterStore => (
            AwsService::SecretsManager,
            vec![name.trim_start_matches('/').to_owned(), name.clone()],
        ),
    };
    for other in other_names.iter().collect::<BTreeSet<_>>() {
        if exists(round.session, other_service, region, other).await {
            let mut hints_list = create_hint(entry, &format!("Create it in {}:", service.title()));
            hints_list.push(hints::in_other_service(other_service.title(), other, service.title()));
            return Some(
                CheckOutcome::now(Presence::FoundElsewhere {
                    location: format!("{} {other} in {region}", other_service.title()),
                })
                .with_hints(hints_list),
            );
        }
    }
    None
}

/// A similar name in the same service and region that the spec does not place itself.
async fn near_miss(
    round: &Round<'_>,
    entry: &SecretEntry,
    placement: &AwsPlacement,
    region: &str,
) -> Option<CheckOutcome> {
    let (session, service, name) = (round.session, placement.service, &placement.name);
    let prefix: String = match name.rfind('/') {
        Some(cut) if cut > 0 => name.get(..=cut).unwrap_or_default().to_owned(),
        _ => name.chars().take(3).collect(),
    };
    let similar = match service {
        AwsService::SecretsManager => {
            wire::list_secret_names(&session.secrets_manager(region), &prefix).await
        }
        AwsService::ParameterStore => {
            wire::parameter_names_beginning(&session.parameter_store(region), &prefix).await
        }
    };
    // A similar name that the spec itself places is another entry, not a typo.
    let near = similar.ok().and_then(|names| {
        names.into_iter().find(|n| is_near_miss(name, n) && !round.placed(service, region, n))
    })?;
    let mut hints_list = vec![hints::near_miss(&near, name)];
    hints_list.extend(create_hint(entry, "Create it under the right name:"));
    Some(
        CheckOutcome::now(Presence::FoundElsewhere {
            location: format!("{} {near} in {region} (a similar name)", service.title()),
        })
        .with_hints(hints_list),
    )
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn an_absent_key_is_the_aws_managed_one() {
        let managed = "alias/aws/secretsmanager";
        assert_eq!(other_key(None, None, managed), None, "no requirement, nothing to check");
        assert_eq!(
            other_key(Some("alias/acme"), None, managed).as_deref(),
            Some(managed),
            "the spec asks for a customer key and the secret uses the default one"
        );
        assert_eq!(other_key(Some(managed), None, managed), None);
        assert_eq!(
            other_key(Some("alias/acme"), Some("arn:aws:kms:us-east-1:1:alias/acme"), managed),
            None
        );
    }
}
