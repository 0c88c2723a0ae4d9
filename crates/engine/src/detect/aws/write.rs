//! Whether the operator may create (and rotate) an AWS secret where the spec places it, asked
//! without touching anything: `iam:SimulatePrincipalPolicy` on the exact actions the
//! generated commands need, on the exact resource ARNs, as the principal (an assumed role or
//! an SSO permission set is simulated as its role, not the session). Where the identity may
//! not simulate, the row says the check could not run and names the actions, with a policy
//! ready to send to an administrator.

use std::time::{Duration, Instant};

use aws_config::Region;
use aws_sdk_iam::types::PolicyEvaluationDecisionType;

use super::ProbeState;
use super::session::Session;
use crate::detect::{Permission, WriteAccess};
use crate::diagnose::Hint;
use crate::spec::{AwsPlacement, AwsService};

/// How long a "yes" is kept, and any other answer (a granted permission shows within this);
/// a Copy or "Check now" asks again at once.
const KEEP_YES: Duration = Duration::from_secs(300);
const KEEP_OTHER: Duration = Duration::from_secs(15);

/// One action on one resource the generated commands need.
#[derive(Debug, Clone, PartialEq, Eq, PartialOrd, Ord)]
pub(super) struct Need {
    pub action: &'static str,
    pub resource: String,
}

/// `arn:PARTITION:...`: the partition of the caller's ARN (`aws`, `aws-cn`, `aws-us-gov`).
fn partition(arn: &str) -> &str {
    arn.split(':').nth(1).filter(|p| !p.is_empty()).unwrap_or("aws")
}

/// The region whose endpoint serves IAM in `partition` (IAM is global within a partition,
/// and each partition has its own).
fn iam_region(partition: &str) -> &'static str {
    match partition {
        "aws-cn" => "cn-north-1",
        "aws-us-gov" => "us-gov-west-1",
        "aws-iso" => "us-iso-east-1",
        "aws-iso-b" => "us-isob-east-1",
        _ => "us-east-1",
    }
}

/// The KMS resource a key reference names.
fn kms_arn(key: &str, partition: &str, region: &str, account: &str) -> String {
    if key.starts_with("arn:") {
        key.to_owned()
    } else if key.starts_with("alias/") {
        format!("arn:{partition}:kms:{region}:{account}:{key}")
    } else {
        format!("arn:{partition}:kms:{region}:{account}:key/{key}")
    }
}

/// What creating and rotating `placement` in `region` needs.
pub(super) fn needs_for(
    placement: &AwsPlacement,
    region: &str,
    account: &str,
    caller: &str,
) -> Vec<Need> {
    let partition = partition(caller);
    let mut needs = Vec::new();
    match placement.service {
        AwsService::SecretsManager => {
            // A secret's ARN ends in a random six-character suffix made at creation.
            let resource = format!(
                "arn:{partition}:secretsmanager:{region}:{account}:secret:{}-??????",
                placement.name
            );
            for action in ["secretsmanager:CreateSecret", "secretsmanager:PutSecretValue"] {
                needs.push(Need { action, resource: resource.clone() });
            }
            if let Some(key) = &placement.kms_key {
                let key = kms_arn(key, partition, region, account);
                for action in ["kms:GenerateDataKey", "kms:Decrypt"] {
                    needs.push(Need { action, resource: key.clone() });
                }
            }
        }
        AwsService::ParameterStore => {
            let resource = format!(
                "arn:{partition}:ssm:{region}:{account}:parameter/{}",
                placement.name.trim_start_matches('/')
            );
            needs.push(Need { action: "ssm:PutParameter", resource });
            if let Some(key) = &placement.kms_key {
                let key = kms_arn(key, partition, region, account);
                needs.push(Need { action: "kms:Encrypt", resource: key });
            }
        }
    }
    needs
}

/// The IAM principal to simulate for the caller `arn`: users and roles as they are; an
/// assumed-role session as its role (with the role's path when `iam:GetRole` tells it; SSO
/// permission-set roles live under `/aws-reserved/sso.amazonaws.com/`). `None` for the root
/// user (who may do everything) and for identities that cannot be simulated.
pub(super) enum Principal {
    Arn(String),
    Role { name: String, fallback: String },
    Root,
    Unsupported(String),
}

pub(super) fn principal(arn: &str) -> Principal {
    let parts: Vec<&str> = arn.splitn(6, ':').collect();
    let (Some(partition), Some(account), Some(resource)) =
        (parts.get(1), parts.get(4), parts.get(5))
    else {
        return Principal::Unsupported(format!("`{arn}` is not an IAM principal"));
    };
    if *resource == "root" {
        return Principal::Root;
    }
    if let Some(rest) = resource.strip_prefix("assumed-role/") {
        let name = rest.split('/').next().unwrap_or_default().to_owned();
        let path = if name.starts_with("AWSReservedSSO_") {
            "aws-reserved/sso.amazonaws.com/"
        } else {
            ""
        };
        return Principal::Role {
            fallback: format!("arn:{partition}:iam::{account}:role/{path}{name}"),
            name,
        };
    }
    if resource.starts_with("user/") || resource.starts_with("role/") {
        return Principal::Arn(arn.to_owned());
    }
    Principal::Unsupported(format!(
        "the identity `{arn}` (a federated user or a service) cannot be simulated"
    ))
}

/// A policy that would allow `needs`, to hand to an administrator.
pub(super) fn policy(needs: &[Need]) -> String {
    let mut statements: Vec<serde_json::Value> = Vec::new();
    let mut resources: Vec<&str> = needs.iter().map(|n| n.resource.as_str()).collect();
    resources.dedup();
    for resource in resources {
        let actions: Vec<&str> =
            needs.iter().filter(|n| n.resource == resource).map(|n| n.action).collect();
        // The secret's suffix is random: the policy allows any.
        let resource =
            resource.strip_suffix("??????").map_or(resource.to_owned(), |r| format!("{r}*"));
        statements
            .push(serde_json::json!({"Effect": "Allow", "Action": actions, "Resource": resource}));
    }
    serde_json::to_string_pretty(
        &serde_json::json!({"Version": "2012-10-17", "Statement": statements}),
    )
    .unwrap_or_default()
}

/// Whether the caller may do every one of `needs`, from the cache or a simulation.
pub(super) async fn access(
    session: &Session,
    state: &ProbeState,
    needs: &[Need],
    epoch: u64,
) -> WriteAccess {
    let key =
        needs.iter().map(|n| format!("{} {}", n.action, n.resource)).collect::<Vec<_>>().join("\n");
    if let Ok(cache) = state.write.lock()
        && let Some((at, at_epoch, answer)) = cache.get(&key)
        && *at_epoch == epoch
        && at.elapsed() < if answer.can_create == Permission::Yes { KEEP_YES } else { KEEP_OTHER }
    {
        return answer.clone();
    }
    let answer = simulate(session, needs).await;
    if let Ok(mut cache) = state.write.lock() {
        cache.insert(key, (Instant::now(), epoch, answer.clone()));
    }
    answer
}

async fn simulate(session: &Session, needs: &[Need]) -> WriteAccess {
    let iam = aws_sdk_iam::Client::from_conf(
        aws_sdk_iam::config::Builder::from(&session.identity.config)
            .region(Region::new(iam_region(partition(&session.identity.arn))))
            .build(),
    );
    let source = match principal(&session.identity.arn) {
        Principal::Root => {
            return WriteAccess {
                can_create: Permission::Yes,
                reason: "the account's root user may do everything".to_owned(),
            };
        }
        Principal::Unsupported(why) => return unknown(why),
        Principal::Arn(arn) => arn,
        Principal::Role { name, fallback } => match iam.get_role().role_name(&name).send().await {
            Ok(out) => out.role().map_or(fallback, |r| r.arn().to_owned()),
            Err(_) => fallback,
        },
    };
    let mut denied: Vec<String> = Vec::new();
    let mut resources: Vec<&str> = needs.iter().map(|n| n.resource.as_str()).collect();
    resources.dedup();
    for resource in resources {
        let actions: Vec<String> =
            needs.iter().filter(|n| n.resource == resource).map(|n| n.action.to_owned()).collect();
        let answer = iam
            .simulate_principal_policy()
            .policy_source_arn(&source)
            .set_action_names(Some(actions))
            .resource_arns(resource)
            .send()
            .await;
        let results = match answer {
            Ok(out) => out.evaluation_results,
            Err(error) => {
                let error = super::wire::classify(&error, "iam:SimulatePrincipalPolicy");
                return unknown(match error {
                    super::wire::AwsError::Denied { .. } => "this identity may not call iam:SimulatePrincipalPolicy on itself, so Greenlight cannot tell".to_owned(),
                    other => format!("the permission check could not run: {other}"),
                });
            }
        };
        for result in results.unwrap_or_default() {
            let decision = match result.eval_decision {
                PolicyEvaluationDecisionType::Allowed => continue,
                PolicyEvaluationDecisionType::ExplicitDeny => "explicitly denied",
                _ => "no policy allows it",
            };
            denied.push(format!("{} ({decision})", result.eval_action_name));
        }
    }
    verdict(&source, &denied, needs)
}

/// The answer from what the simulation denied. IAM's simulation does not read a KMS key's
/// own policy, so an allowed KMS action is not proven: the answer is then "unknown", naming
/// what is left to check.
fn verdict(source: &str, denied: &[String], needs: &[Need]) -> WriteAccess {
    if !denied.is_empty() {
        return WriteAccess {
            can_create: Permission::No,
            reason: format!("{source} may not: {}", denied.join(", ")),
        };
    }
    let kms: Vec<&str> =
        needs.iter().filter(|n| n.action.starts_with("kms:")).map(|n| n.action).collect();
    if kms.is_empty() {
        return WriteAccess {
            can_create: Permission::Yes,
            reason: format!("{source} may create and replace it (simulated)"),
        };
    }
    unknown(format!(
        "IAM allows {source} to create and replace it (simulated), but whether the KMS key's own policy allows {} is not proven: the simulation does not read key policies",
        kms.join(" and ")
    ))
}

fn unknown(reason: String) -> WriteAccess {
    WriteAccess { can_create: Permission::Unknown, reason }
}

/// What to do when the answer is not yes: the actions, as a policy to attach.
pub(super) fn hints(access: &WriteAccess, needs: &[Need]) -> Vec<Hint> {
    match access.can_create {
        Permission::Yes => Vec::new(),
        Permission::No => vec![Hint::document(
            "Before pasting: you may not create or replace it here. An administrator can attach this policy (or the equivalent) to your user or role:",
            policy(needs),
        )],
        Permission::Unknown => vec![Hint::document(
            "Creating it needs these permissions; if the command fails with AccessDenied, an administrator can attach this policy:",
            policy(needs),
        )],
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn iam_is_asked_in_the_caller_s_partition() {
        assert_eq!(iam_region(partition("arn:aws-cn:iam::123456789012:user/ops")), "cn-north-1");
        assert_eq!(
            iam_region(partition("arn:aws-us-gov:sts::123456789012:assumed-role/r/s")),
            "us-gov-west-1"
        );
        assert_eq!(iam_region(partition("arn:aws:iam::123456789012:user/ops")), "us-east-1");
    }

    #[test]
    fn an_allowed_kms_action_is_not_proven() {
        let placement = |kms: Option<&str>| AwsPlacement {
            service: AwsService::SecretsManager,
            name: "acme/token".into(),
            region: None,
            kms_key: kms.map(str::to_owned),
        };
        let caller = "arn:aws:iam::123456789012:user/ops";
        let plain = needs_for(&placement(None), "us-east-1", "123456789012", caller);
        assert_eq!(verdict(caller, &[], &plain).can_create, Permission::Yes);
        let with_key =
            needs_for(&placement(Some("alias/acme")), "us-east-1", "123456789012", caller);
        let answer = verdict(caller, &[], &with_key);
        assert_eq!(answer.can_create, Permission::Unknown);
        assert!(answer.reason.contains("not proven"), "{}", answer.reason);
        let denied = verdict(caller, &["kms:Decrypt (no policy allows it)".into()], &with_key);
        assert_eq!(denied.can_create, Permission::No);
    }

    #[test]
    fn sessions_are_simulated_as_their_role() {
        match principal("arn:aws:sts::123456789012:assumed-role/deployer/alice") {
            Principal::Role { name, fallback } => {
                assert_eq!(name, "deployer");
                assert_eq!(fallback, "arn:aws:iam::123456789012:role/deployer");
            }
            _ => panic!("not a role"),
        }
        match principal(
            "arn:aws:sts::123456789012:assumed-role/AWSReservedSSO_Admin_0123abcd/alice@example.com",
        ) {
            Principal::Role { fallback, .. } => assert_eq!(
                fallback,
                "arn:aws:iam::123456789012:role/aws-reserved/sso.amazonaws.com/AWSReservedSSO_Admin_0123abcd"
            ),
            _ => panic!("not a role"),
        }
        assert!(matches!(principal("arn:aws:iam::123456789012:root"), Principal::Root));
        assert!(matches!(principal("arn:aws:iam::123456789012:user/ops/bob"), Principal::Arn(_)));
        assert!(matches!(
            principal("arn:aws:sts::123456789012:federated-user/x"),
            Principal::Unsupported(_)
        ));
    }

    #[test]
    fn needs_name_the_exact_actions_and_resources() {
        let placement = AwsPlacement {
            service: AwsService::SecretsManager,
            name: "acme/github-token".into(),
            region: None,
            kms_key: Some("alias/acme".into()),
        };
        let needs = needs_for(
            &placement,
            "eu-west-1",
            "123456789012",
            "arn:aws:iam::123456789012:user/bob",
        );
        let pairs: Vec<(&str, &str)> =
            needs.iter().map(|n| (n.action, n.resource.as_str())).collect();
        assert_eq!(
            pairs,
            [
                (
                    "secretsmanager:CreateSecret",
                    "arn:aws:secretsmanager:eu-west-1:123456789012:secret:acme/github-token-??????"
                ),
                (
                    "secretsmanager:PutSecretValue",
                    "arn:aws:secretsmanager:eu-west-1:123456789012:secret:acme/github-token-??????"
                ),
                ("kms:GenerateDataKey", "arn:aws:kms:eu-west-1:123456789012:alias/acme"),
                ("kms:Decrypt", "arn:aws:kms:eu-west-1:123456789012:alias/acme"),
            ]
        );
        let policy: serde_json::Value = serde_json::from_str(&policy(&needs)).unwrap();
        assert_eq!(
            policy["Statement"][0]["Resource"],
            "arn:aws:secretsmanager:eu-west-1:123456789012:secret:acme/github-token-*"
        );
        let parameter = AwsPlacement {
            service: AwsService::ParameterStore,
            name: "/acme/db".into(),
            region: None,
            kms_key: None,
        };
        let needs = needs_for(
            &parameter,
            "us-east-1",
            "123456789012",
            "arn:aws-cn:iam::123456789012:user/bob",
        );
        assert_eq!(needs[0].resource, "arn:aws-cn:ssm:us-east-1:123456789012:parameter/acme/db");
    }
}
