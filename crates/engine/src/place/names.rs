//! The backends' naming rules. Each check returns what is wrong with the name and the rule it
//! breaks, in words an operator can act on.

use std::fmt;

/// A name that breaks a backend's rule.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct InvalidName {
    /// The rule, stated in full.
    pub rule: &'static str,
    /// What about this name breaks it.
    pub why: String,
}

impl fmt::Display for InvalidName {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(f, "{}: {}", self.why, self.rule)
    }
}

fn broken(rule: &'static str, why: impl Into<String>) -> InvalidName {
    InvalidName { rule, why: why.into() }
}

/// Kubernetes namespace: an RFC 1123 label.
pub(crate) fn kubernetes_namespace(name: &str) -> Result<(), InvalidName> {
    dns1123_label(name).map_err(|why| {
        broken("a namespace is a DNS-1123 label: lowercase letters, digits and '-', starting and ending with a letter or digit, at most 63 characters", why)
    })
}

/// Kubernetes Secret name: an RFC 1123 subdomain.
pub(crate) fn kubernetes_secret(name: &str) -> Result<(), InvalidName> {
    dns1123_subdomain(name).map_err(|why| {
        broken("a Secret name is a DNS-1123 subdomain: lowercase letters, digits, '-' and '.', each part starting and ending with a letter or digit, at most 253 characters", why)
    })
}

/// Kubernetes Secret data key.
pub(crate) fn kubernetes_key(key: &str) -> Result<(), InvalidName> {
    const RULE: &str = "a data key may contain only letters, digits, '-', '_' and '.', at most 253 characters, and may not be '.' or '..' or start with '..'";
    if key.is_empty() {
        return Err(broken(RULE, "it is empty"));
    }
    if key.len() > 253 {
        return Err(broken(RULE, format!("it is {} characters long", key.len())));
    }
    if let Some(bad) =
        key.chars().find(|c| !(c.is_ascii_alphanumeric() || matches!(c, '-' | '_' | '.')))
    {
        return Err(broken(RULE, format!("{bad:?} is not allowed")));
    }
    if key == "." || key.starts_with("..") {
        return Err(broken(RULE, format!("{key:?} is a path component")));
    }
    Ok(())
}

/// Kubernetes Secret type, e.g. `Opaque` or `kubernetes.io/tls`.
pub(crate) fn kubernetes_secret_type(value: &str) -> Result<(), InvalidName> {
    let valid = !value.is_empty()
        && value.len() <= 253
        && value.chars().all(|c| c.is_ascii_alphanumeric() || matches!(c, '-' | '_' | '.' | '/'))
        && value.chars().next().is_some_and(|c| c.is_ascii_alphanumeric());
    if valid {
        Ok(())
    } else {
        Err(broken(
            "a Secret type is `Opaque` or a qualified name like `kubernetes.io/basic-auth` (letters, digits, '-', '_', '.', '/')",
            "it has other characters",
        ))
    }
}

/// AWS Secrets Manager secret name.
pub(crate) fn secrets_manager_name(name: &str) -> Result<(), InvalidName> {
    const RULE: &str =
        "a Secrets Manager name is 1 to 512 characters of letters, digits and /_+=.@-";
    if name.is_empty() || name.chars().count() > 512 {
        return Err(broken(RULE, format!("it has {} characters", name.chars().count())));
    }
    if let Some(bad) = name.chars().find(|c| !(c.is_ascii_alphanumeric() || "/_+=.@-".contains(*c)))
    {
        return Err(broken(RULE, format!("{bad:?} is not allowed")));
    }
    Ok(())
}

/// True when a Secrets Manager name ends like an ARN suffix (`-` and six characters), which
/// makes partial-ARN lookups ambiguous.
pub(crate) fn secrets_manager_name_looks_suffixed(name: &str) -> bool {
    let chars: Vec<char> = name.chars().collect();
    chars.len() > 7
        && chars.get(chars.len() - 7) == Some(&'-')
        && chars.iter().rev().take(6).all(|c| c.is_ascii_alphanumeric())
}

/// AWS Systems Manager Parameter Store parameter name.
pub(crate) fn parameter_store_name(name: &str) -> Result<(), InvalidName> {
    const RULE: &str = "a Parameter Store name is letters, digits and _.-/ (at most 1011 characters); a name with '/' is a hierarchy that must start with '/' and have at most 15 levels; it may not start with 'aws' or 'ssm'";
    if name.is_empty() || name.len() > 1011 {
        return Err(broken(RULE, format!("it has {} characters", name.len())));
    }
    if let Some(bad) = name.chars().find(|c| !(c.is_ascii_alphanumeric() || "_.-/".contains(*c))) {
        return Err(broken(RULE, format!("{bad:?} is not allowed")));
    }
    if name.contains('/') && !name.starts_with('/') {
        return Err(broken(RULE, "it contains '/' but does not start with '/'"));
    }
    if name.contains("//") || (name.len() > 1 && name.ends_with('/')) {
        return Err(broken(RULE, "it has an empty level"));
    }
    if name.matches('/').count() > 15 {
        return Err(broken(RULE, "it has more than 15 levels"));
    }
    let first = name.trim_start_matches('/').to_ascii_lowercase();
    if first.starts_with("aws") || first.starts_with("ssm") {
        return Err(broken(RULE, "names starting with 'aws' or 'ssm' are reserved"));
    }
    Ok(())
}

/// AWS region code, e.g. `us-east-1`, `us-gov-west-1`, `ap-southeast-2`.
pub(crate) fn aws_region(region: &str) -> Result<(), InvalidName> {
    let parts: Vec<&str> = region.split('-').collect();
    let valid = parts.len() >= 3
        && parts.iter().all(|p| !p.is_empty())
        && parts.first().is_some_and(|p| p.len() == 2 && p.chars().all(|c| c.is_ascii_lowercase()))
        && parts.last().is_some_and(|p| p.chars().all(|c| c.is_ascii_digit()))
        && parts
            .iter()
            .skip(1)
            .take(parts.len().saturating_sub(2))
            .all(|p| p.chars().all(|c| c.is_ascii_lowercase()));
    if valid {
        Ok(())
    } else {
        Err(broken(
            "an AWS region code looks like `us-east-1` or `eu-central-2`",
            "it is not a region code",
        ))
    }
}

/// AWS account ID: exactly 12 digits.
pub(crate) fn aws_account(account: &str) -> Result<(), InvalidName> {
    if account.len() == 12 && account.chars().all(|c| c.is_ascii_digit()) {
        Ok(())
    } else {
        Err(broken(
            "an AWS account ID is exactly 12 digits, written in quotes so leading zeros survive",
            "it is not 12 digits",
        ))
    }
}

/// KMS key reference: key ID, key ARN, alias name or alias ARN.
pub(crate) fn kms_key(key: &str) -> Result<(), InvalidName> {
    let valid = !key.is_empty()
        && key.len() <= 2048
        && key.chars().all(|c| c.is_ascii_alphanumeric() || ":/_-.".contains(c));
    if valid {
        Ok(())
    } else {
        Err(broken(
            "a KMS key is a key ID, a key ARN, `alias/NAME` or an alias ARN",
            "it has characters no KMS key reference has",
        ))
    }
}

/// Identifier of an entry or feature inside the spec.
pub(crate) fn identifier(name: &str) -> Result<(), InvalidName> {
    const RULE: &str = "a name is 1 to 253 characters of ASCII letters, digits and ._/- starting with a letter, digit or '/'";
    if let Some(bad) = name.chars().find(|c| !(c.is_ascii_alphanumeric() || "._/-".contains(*c))) {
        return Err(broken(RULE, format!("{bad:?} is not allowed")));
    }
    if name.is_empty() || name.len() > 253 {
        return Err(broken(RULE, format!("it is {} characters long", name.len())));
    }
    if name.starts_with(['.', '-']) {
        return Err(broken(RULE, "it starts with '.' or '-'"));
    }
    Ok(())
}

/// Name of an environment: short, and safe on a command line and in a report's heading.
pub(crate) fn environment(name: &str) -> Result<(), InvalidName> {
    const RULE: &str =
        "an environment name is 1 to 63 ASCII letters, digits and `-_.`, e.g. `stg` or `prod-eu`";
    if let Some(bad) = name.chars().find(|c| !(c.is_ascii_alphanumeric() || "-_.".contains(*c))) {
        return Err(broken(RULE, format!("{bad:?} is not allowed")));
    }
    if name.is_empty() || name.len() > 63 {
        return Err(broken(RULE, format!("it is {} characters long", name.len())));
    }
    Ok(())
}

fn dns1123_label(name: &str) -> Result<(), String> {
    if name.is_empty() {
        return Err("it is empty".to_owned());
    }
    if name.len() > 63 {
        return Err(format!("it is {} characters long", name.len()));
    }
    if let Some(bad) =
        name.chars().find(|c| !(c.is_ascii_lowercase() || c.is_ascii_digit() || *c == '-'))
    {
        return Err(if bad.is_ascii_uppercase() {
            format!("{bad:?} is uppercase")
        } else {
            format!("{bad:?} is not allowed")
        });
    }
    if name.starts_with('-') || name.ends_with('-') {
        return Err("it starts or ends with '-'".to_owned());
    }
    Ok(())
}

fn dns1123_subdomain(name: &str) -> Result<(), String> {
    if name.len() > 253 {
        return Err(format!("it is {} characters long", name.len()));
    }
    if name.is_empty() {
        return Err("it is empty".to_owned());
    }
    for part in name.split('.') {
        if part.is_empty() {
            return Err("it has an empty part between dots".to_owned());
        }
        dns1123_label(part).map_err(|why| {
            if part.len() > 63 {
                "a part between dots is longer than 63 characters".to_owned()
            } else {
                why
            }
        })?;
    }
    Ok(())
}

/// Suggests a valid Kubernetes name for `name`: lowercase, `_` and other characters to `-`.
pub(crate) fn kubernetes_suggestion(name: &str) -> String {
    let mapped: String = name
        .chars()
        .map(|c| match c {
            'A'..='Z' => c.to_ascii_lowercase(),
            'a'..='z' | '0'..='9' | '-' | '.' => c,
            _ => '-',
        })
        .collect();
    mapped.trim_matches(|c| c == '-' || c == '.').to_owned()
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn kubernetes_rules() {
        assert!(kubernetes_secret("github-token").is_ok());
        assert!(kubernetes_secret("a.b-c.d").is_ok());
        assert!(kubernetes_secret("GitHub").is_err());
        assert!(kubernetes_secret("a..b").is_err());
        assert!(kubernetes_secret("-a").is_err());
        assert!(kubernetes_secret(&"a".repeat(254)).is_err());
        assert!(kubernetes_namespace("acme-prod").is_ok());
        assert!(kubernetes_namespace("a.b").is_err());
        assert!(kubernetes_namespace(&"a".repeat(64)).is_err());
        assert!(kubernetes_key("oidc.dex.clientSecret").is_ok());
        assert!(kubernetes_key(".dockerconfigjson").is_ok());
        assert!(kubernetes_key("..data").is_err());
        assert!(kubernetes_key("a b").is_err());
        assert!(kubernetes_key("").is_err());
        assert_eq!(kubernetes_suggestion("GitHub_Token"), "github-token");
    }

    #[test]
    fn aws_rules() {
        assert!(secrets_manager_name("acme/github-token").is_ok());
        assert!(secrets_manager_name("a b").is_err());
        assert!(secrets_manager_name("").is_err());
        assert!(secrets_manager_name_looks_suffixed("acme/token-AbC123"));
        assert!(!secrets_manager_name_looks_suffixed("github-token"));
        assert!(parameter_store_name("/acme/prod/token").is_ok());
        assert!(parameter_store_name("token").is_ok());
        assert!(parameter_store_name("acme/token").is_err());
        assert!(parameter_store_name("/aws/x").is_err());
        assert!(parameter_store_name("/Ssm-x").is_err());
        assert!(parameter_store_name("/a//b").is_err());
        assert!(parameter_store_name(&"/a".repeat(16)).is_err());
        assert!(aws_region("us-east-1").is_ok());
        assert!(aws_region("us-gov-west-1").is_ok());
        assert!(aws_region("useast1").is_err());
        assert!(aws_region("US-EAST-1").is_err());
        assert!(aws_account("012345678901").is_ok());
        assert!(aws_account("12345").is_err());
    }
}
