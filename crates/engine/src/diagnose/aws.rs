//! AWS hints: what was found, in words, with the AWS CLI command that fixes or checks it.

use super::{Hint, argv};
use crate::commands::CommandKind;

/// `aws COMMAND... [--profile PROFILE] ARGS...`: the profile only when the connection names
/// one.
fn aws(command: &[&str], args: &[&str], profile: Option<&str>) -> Vec<String> {
    let mut line = argv(&["aws"]);
    line.extend(argv(command));
    if let Some(profile) = profile {
        line.extend(argv(&["--profile", profile]));
    }
    line.extend(argv(args));
    line
}

/// The IAM policy Greenlight needs: describe and list only, never a value.
pub const GREENLIGHT_POLICY: &str = r#"{
  "Version": "2012-10-17",
  "Statement": [
    {
      "Sid": "GreenlightDetectsSecretsWithoutReadingThem",
      "Effect": "Allow",
      "Action": ["secretsmanager:DescribeSecret", "secretsmanager:ListSecrets", "ssm:DescribeParameters"],
      "Resource": "*"
    }
  ]
}"#;

/// Why the AWS identity or configuration cannot be used, as far as the advice goes.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum ConnectionProblem {
    /// The SSO session expired or was never started.
    SsoExpired,
    /// Temporary credentials expired.
    Expired,
    /// AWS does not know the access key.
    InvalidKeys,
    /// No credentials at all.
    NoCredentials,
    /// No region.
    NoRegion,
    /// The endpoint cannot be reached, or did not answer in time.
    Unreachable,
    /// Anything else.
    Other,
}

/// What to do when the identity or configuration cannot be used.
pub fn for_connection(problem: ConnectionProblem, profile: Option<&str>) -> Vec<Hint> {
    let (text, words): (&str, &[&str]) = match problem {
        ConnectionProblem::SsoExpired => {
            ("Log in again with SSO; Greenlight reconnects by itself:", &["sso", "login"])
        }
        ConnectionProblem::Expired => (
            "The temporary credentials expired. Refresh them (SSO login, your credential process, or new keys), then check:",
            &["sts", "get-caller-identity"],
        ),
        ConnectionProblem::InvalidKeys => {
            ("AWS does not recognise the access key. Enter a valid key pair:", &["configure"])
        }
        ConnectionProblem::NoCredentials => {
            ("Set up credentials for this profile (or log in with SSO):", &["configure"])
        }
        ConnectionProblem::NoRegion => (
            "Set a default region for the profile (or pass --region):",
            &["configure", "set", "region", "us-east-1"],
        ),
        ConnectionProblem::Unreachable => (
            "Check the network path to AWS (VPN, proxy, endpoint settings):",
            &["sts", "get-caller-identity"],
        ),
        ConnectionProblem::Other => {
            ("Check that the AWS CLI works with this profile:", &["sts", "get-caller-identity"])
        }
    };
    vec![Hint::lines(text, vec![aws(words, &[], profile)])]
}

/// The identity may not call `action`: the policy that would allow it, and how to verify.
pub fn denied(action: &str, profile: Option<&str>, caller_arn: Option<&str>) -> Vec<Hint> {
    let source = caller_arn.filter(|a| !a.is_empty()).unwrap_or("YOUR-ROLE-OR-USER-ARN");
    vec![
        Hint::document(
            format!(
                "Your identity may not call {action}. Greenlight needs only these read-metadata permissions (no value is ever read); an administrator can attach this policy:"
            ),
            GREENLIGHT_POLICY,
        ),
        Hint::lines(
            "Verify the permissions:",
            vec![aws(
                &["iam", "simulate-principal-policy"],
                &[
                    "--policy-source-arn",
                    source,
                    "--action-names",
                    "secretsmanager:DescribeSecret",
                    "secretsmanager:ListSecrets",
                    "ssm:DescribeParameters",
                ],
                profile,
            )],
        ),
    ]
}

/// A Secrets Manager secret scheduled for deletion.
pub fn scheduled_for_deletion(name: &str, region: &str, profile: Option<&str>) -> Hint {
    Hint::lines(
        "It is scheduled for deletion and unusable until restored. Restore it (this keeps its value):",
        vec![aws(
            &["secretsmanager", "restore-secret"],
            &["--region", region, &format!("--secret-id={name}")],
            profile,
        )],
    )
}

/// Exists but has no current value.
pub fn no_current_value() -> Hint {
    Hint::entry(
        "It exists but has no current value (no version is labelled AWSCURRENT). Store one:",
        CommandKind::Rotate,
    )
}

/// A parameter of the wrong type.
pub fn not_secure_string(kind: &str) -> Hint {
    Hint::entry(
        format!(
            "It is a {kind} parameter, stored unencrypted; it must be a SecureString. Overwrite it as a SecureString:"
        ),
        CommandKind::Rotate,
    )
}

/// Encrypted with a different KMS key than the spec names.
pub fn other_kms_key(found: &str, wanted: &str) -> Hint {
    Hint::says(format!(
        "It is encrypted with KMS key {found}, but the spec expects {wanted}. Recreate or update it with the expected key (the create command names it)."
    ))
}

/// Found in other regions. `stray` is a copy the spec does not place there, which may be a
/// mistake; a copy the spec places is never offered for deletion.
pub fn in_other_regions(
    service: &str,
    name: &str,
    region: &str,
    others: &[String],
    stray: Option<&String>,
    profile: Option<&str>,
) -> Hint {
    let text = format!(
        "{name} exists in {}, not in {region} where the workload reads it. Create it in {region} with the create command",
        others.join(", ")
    );
    let Some(stray) = stray else {
        return Hint::says(format!(
            "{text} (the spec needs the other copies too: keep them, and use the same value if they must match)."
        ));
    };
    let line = match service {
        "Parameter Store" => aws(
            &["ssm", "delete-parameter"],
            &["--region", stray, &format!("--name={name}")],
            profile,
        ),
        _ => aws(
            &["secretsmanager", "delete-secret"],
            &["--region", stray, &format!("--secret-id={name}")],
            profile,
        ),
    };
    Hint::lines(format!("{text}; if the copy in {stray} was a mistake, remove it:"), vec![line])
}

/// Found in the other service.
pub fn in_other_service(found_in: &str, found_name: &str, wanted_in: &str) -> Hint {
    Hint::says(format!(
        "`{found_name}` exists in {found_in}, but the workload reads {wanted_in}. Create it in {wanted_in} with the create command."
    ))
}

/// A similar name exists.
/// A value kept under its bare name, without the backend's prefix.
pub fn without_prefix(bare: &str, prefix: &str, wanted: &str) -> Hint {
    Hint::says(format!(
        "`{bare}` exists without the spec's name_prefix `{prefix}`; External Secrets asks for `{wanted}`. Create `{wanted}` (and delete `{bare}` once nothing reads it)."
    ))
}

pub fn near_miss(found: &str, wanted: &str) -> Hint {
    Hint::says(format!(
        "`{found}` exists, but the workload reads `{wanted}`. Create `{wanted}` with the create command."
    ))
}
