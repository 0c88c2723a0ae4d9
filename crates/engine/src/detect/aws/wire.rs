//! The AWS calls Greenlight makes, all value-free: Secrets Manager `DescribeSecret` and
//! `ListSecrets` (names and metadata), Parameter Store `DescribeParameters` (names, types,
//! key IDs). Never an operation that returns a value (the Get and BatchGet operations of
//! either service); the tests prove it from a recording proxy. Errors are classified from the
//! whole chain, since credential and region failures surface from the SDK as a bare
//! "dispatch failure".

use std::collections::BTreeMap;

use aws_sdk_secretsmanager::error::{ProvideErrorMetadata, SdkError};
use aws_sdk_secretsmanager::types::{Filter, FilterNameStringType};
use aws_sdk_ssm::types::{ParameterStringFilter, ParameterType};
use aws_smithy_runtime_api::client::orchestrator::HttpResponse;

/// Most names one `DescribeParameters` filter accepts.
pub(crate) const SSM_BATCH: usize = 50;

/// What a Secrets Manager secret's metadata says.
#[derive(Debug, Clone, PartialEq, Eq)]
pub(crate) struct SecretMeta {
    /// When it is scheduled to be deleted, if it is.
    pub deleted: Option<String>,
    /// Whether a version carries the AWSCURRENT stage.
    pub has_current: bool,
    /// KMS key, as stored.
    pub kms_key: Option<String>,
    /// When it last changed (`LastChangedDate`).
    pub changed: Option<std::time::SystemTime>,
}

/// What a parameter's metadata says.
#[derive(Debug, Clone, PartialEq, Eq)]
pub(crate) struct ParameterMeta {
    /// `SecureString`, `String` or `StringList`.
    pub kind: String,
    /// KMS key, for SecureString.
    pub kms_key: Option<String>,
    /// When it last changed (`LastModifiedDate`).
    pub changed: Option<std::time::SystemTime>,
}

/// Why a call failed. "Not found" is an answer, not an error.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
pub(crate) enum AwsError {
    /// AccessDenied: the IAM action the identity lacks.
    #[error("access denied: the identity may not call {action}{}", detail(.message))]
    Denied {
        /// e.g. `secretsmanager:DescribeSecret`.
        action: String,
        /// AWS's message.
        message: String,
    },
    /// The SSO session expired (or was never started).
    #[error("the SSO session has expired or is not logged in{}", detail(.message))]
    SsoExpired {
        /// The chain.
        message: String,
    },
    /// Temporary credentials expired.
    #[error("the credentials have expired{}", detail(.message))]
    Expired {
        /// AWS's message.
        message: String,
    },
    /// Keys AWS does not recognise.
    #[error("the access key is not valid{}", detail(.message))]
    InvalidKeys {
        /// AWS's message.
        message: String,
    },
    /// No credentials at all.
    #[error("no AWS credentials were found{}", detail(.message))]
    NoCredentials {
        /// The chain.
        message: String,
    },
    /// No region.
    #[error("no AWS region is set")]
    NoRegion,
    /// Throttled.
    #[error("AWS is throttling requests{}", detail(.message))]
    Throttled {
        /// AWS's message.
        message: String,
    },
    /// Timed out.
    #[error("AWS did not answer in time")]
    Timeout,
    /// No connection to the endpoint.
    #[error("cannot reach the AWS endpoint: {message}")]
    Unreachable {
        /// The chain.
        message: String,
    },
    /// Anything else.
    #[error("{message}")]
    Other {
        /// The chain.
        message: String,
    },
}

fn detail(message: &str) -> String {
    if message.is_empty() { String::new() } else { format!(" ({message})") }
}

impl AwsError {
    /// What the advice for this failure is about.
    pub(crate) fn problem(&self) -> crate::diagnose::aws::ConnectionProblem {
        use crate::diagnose::aws::ConnectionProblem as P;
        match self {
            AwsError::SsoExpired { .. } => P::SsoExpired,
            AwsError::Expired { .. } => P::Expired,
            AwsError::InvalidKeys { .. } => P::InvalidKeys,
            AwsError::NoCredentials { .. } => P::NoCredentials,
            AwsError::NoRegion => P::NoRegion,
            AwsError::Unreachable { .. } | AwsError::Timeout => P::Unreachable,
            AwsError::Denied { .. } | AwsError::Throttled { .. } | AwsError::Other { .. } => {
                P::Other
            }
        }
    }

    /// True when the identity (not the request) is the problem: re-read the profile.
    pub fn is_credentials(&self) -> bool {
        matches!(
            self,
            AwsError::SsoExpired { .. }
                | AwsError::Expired { .. }
                | AwsError::InvalidKeys { .. }
                | AwsError::NoCredentials { .. }
        )
    }
}

/// Classifies any SDK error for a call to `action`.
pub(crate) fn classify<E>(error: &SdkError<E, HttpResponse>, action: &str) -> AwsError
where
    E: ProvideErrorMetadata + std::error::Error + 'static,
{
    let chain = crate::text::error_chain(error);
    // An error body the SDK could not parse (moto answers IAM denials in XML) still has its
    // status: classify by status and message as a fallback.
    let status = error.raw_response().map(|r| r.status().as_u16());
    let body = error
        .raw_response()
        .and_then(|r| r.body().bytes())
        .map(|b| String::from_utf8_lossy(b).into_owned())
        .unwrap_or_default();
    let (code, message) = match error {
        SdkError::ServiceError(service) if service.err().code().is_some() => (
            service.err().code().unwrap_or_default().to_owned(),
            service.err().message().unwrap_or_default().to_owned(),
        ),
        SdkError::TimeoutError(_) => return AwsError::Timeout,
        SdkError::DispatchFailure(failure) if failure.is_timeout() => return AwsError::Timeout,
        _ => (
            xml_field(&body, "Code").unwrap_or_default(),
            xml_field(&body, "Message").unwrap_or_default(),
        ),
    };
    classify_parts(&code, &message, status, &format!("{chain} {message}"), action)
}

/// `<Name>text</Name>` from an XML error body the SDK could not parse.
fn xml_field(body: &str, name: &str) -> Option<String> {
    let start = body.find(&format!("<{name}>"))? + name.len() + 2;
    let end = body.get(start..)?.find(&format!("</{name}>"))? + start;
    body.get(start..end).map(str::to_owned)
}

/// The classification itself, from code, message, status and the whole chain.
pub(crate) fn classify_parts(
    code: &str,
    message: &str,
    status: Option<u16>,
    chain: &str,
    action: &str,
) -> AwsError {
    let lower = chain.to_ascii_lowercase();
    let text = if message.is_empty() { chain.to_owned() } else { message.to_owned() };
    let denied_code =
        matches!(code, "AccessDeniedException" | "AccessDenied" | "UnauthorizedOperation");
    let invalid_code = matches!(
        code,
        "InvalidClientTokenId"
            | "UnrecognizedClientException"
            | "InvalidSignatureException"
            | "SignatureDoesNotMatch"
    );
    if denied_code
        || lower.contains("is not authorized to perform")
        || (status == Some(403) && code.is_empty() && !lower.contains("security token"))
    {
        let action = denied_action(chain).unwrap_or_else(|| action.to_owned());
        return AwsError::Denied { action, message: text };
    }
    if matches!(
        code,
        "ThrottlingException" | "Throttling" | "TooManyRequestsException" | "RequestLimitExceeded"
    ) || lower.contains("rate exceeded")
        || status == Some(429)
    {
        return AwsError::Throttled { message: text };
    }
    if code == "ExpiredTokenException"
        || code == "ExpiredToken"
        || lower.contains("security token included in the request is expired")
    {
        return AwsError::Expired { message: text };
    }
    if lower.contains("sso") && (lower.contains("expired") || lower.contains("refresh")) {
        return AwsError::SsoExpired { message: first_line(chain) };
    }
    if invalid_code || lower.contains("security token included in the request is invalid") {
        return AwsError::InvalidKeys { message: text };
    }
    if lower.contains("no credentials")
        || lower.contains("credentials provider was not enabled")
        || lower.contains("failed to load credentials")
        || lower.contains("could not load credentials")
        || lower.contains("error occurred while loading credentials")
    {
        return AwsError::NoCredentials { message: first_line(chain) };
    }
    if lower.contains("region")
        && (lower.contains("must be set")
            || lower.contains("missing")
            || lower.contains("no region"))
    {
        return AwsError::NoRegion;
    }
    if lower.contains("connection refused")
        || lower.contains("dns error")
        || lower.contains("failed to lookup")
        || lower.contains("connection reset")
        || lower.contains("io error")
        || lower.contains("error trying to connect")
    {
        return AwsError::Unreachable { message: first_line(chain) };
    }
    AwsError::Other { message: chain.to_owned() }
}

fn first_line(text: &str) -> String {
    text.lines().next().unwrap_or(text).to_owned()
}

/// `service:Action` from an "is not authorized to perform: service:Action" message.
fn denied_action(chain: &str) -> Option<String> {
    let at = chain.find("perform: ")? + "perform: ".len();
    let rest = chain.get(at..)?;
    let action: String =
        rest.chars().take_while(|c| c.is_ascii_alphanumeric() || *c == ':').collect();
    action.contains(':').then_some(action)
}

/// `DescribeSecret` for one name: `Ok(None)` only on ResourceNotFoundException.
pub(crate) async fn describe_secret(
    client: &aws_sdk_secretsmanager::Client,
    name: &str,
) -> Result<Option<SecretMeta>, AwsError> {
    match client.describe_secret().secret_id(name).send().await {
        Ok(out) => Ok(Some(SecretMeta {
            deleted: out.deleted_date().map(|d| d.to_string()),
            has_current: out
                .version_ids_to_stages()
                .is_some_and(|v| v.values().any(|stages| stages.iter().any(|s| s == "AWSCURRENT"))),
            kms_key: out.kms_key_id().map(str::to_owned),
            changed: out.last_changed_date().and_then(|d| std::time::SystemTime::try_from(*d).ok()),
        })),
        Err(error)
            if error.as_service_error().is_some_and(|e| e.is_resource_not_found_exception()) =>
        {
            Ok(None)
        }
        Err(error) => Err(classify(&error, "secretsmanager:DescribeSecret")),
    }
}

/// Metadata of every secret whose name starts with one of `prefixes` (at most 10), scheduled
/// deletions included, following every page. Used to confirm many known secrets in a few
/// calls; it lags behind creations, so new and missing names still go through
/// [`describe_secret`].
pub(crate) async fn list_secrets(
    client: &aws_sdk_secretsmanager::Client,
    prefixes: &[String],
) -> Result<BTreeMap<String, SecretMeta>, AwsError> {
    let filter = Filter::builder()
        .key(FilterNameStringType::Name)
        .set_values(Some(prefixes.to_vec()))
        .build();
    let mut found = BTreeMap::new();
    let mut token: Option<String> = None;
    loop {
        let result = client
            .list_secrets()
            .filters(filter.clone())
            .include_planned_deletion(true)
            .max_results(100)
            .set_next_token(token.clone())
            .send()
            .await;
        let out = result.map_err(|e| classify(&e, "secretsmanager:ListSecrets"))?;
        for entry in out.secret_list() {
            if let Some(name) = entry.name() {
                let has_current = entry.secret_versions_to_stages().is_some_and(|v| {
                    v.values().any(|stages| stages.iter().any(|s| s == "AWSCURRENT"))
                });
                found.insert(
                    name.to_owned(),
                    SecretMeta {
                        deleted: entry.deleted_date().map(|d| d.to_string()),
                        has_current,
                        kms_key: entry.kms_key_id().map(str::to_owned),
                        changed: entry
                            .last_changed_date()
                            .and_then(|d| std::time::SystemTime::try_from(*d).ok()),
                    },
                );
            }
        }
        token = out.next_token().filter(|t| !t.is_empty()).map(str::to_owned);
        if token.is_none() {
            return Ok(found);
        }
    }
}

/// Secret names starting with `prefix` (at most one page of 100), for near-miss hints.
pub(crate) async fn list_secret_names(
    client: &aws_sdk_secretsmanager::Client,
    prefix: &str,
) -> Result<Vec<String>, AwsError> {
    let filter = Filter::builder().key(FilterNameStringType::Name).values(prefix).build();
    match client.list_secrets().filters(filter).max_results(100).send().await {
        Ok(out) => {
            Ok(out.secret_list().iter().filter_map(|s| s.name().map(str::to_owned)).collect())
        }
        Err(error) => Err(classify(&error, "secretsmanager:ListSecrets")),
    }
}

/// `DescribeParameters` with `Name Equals` filters, 50 names per call, following every
/// `NextToken` (even pages with no results can carry one). Returns what exists.
pub(crate) async fn describe_parameters(
    client: &aws_sdk_ssm::Client,
    names: &[String],
) -> Result<BTreeMap<String, ParameterMeta>, AwsError> {
    let mut found = BTreeMap::new();
    for batch in names.chunks(SSM_BATCH) {
        let filter = ParameterStringFilter::builder()
            .key("Name")
            .option("Equals")
            .set_values(Some(batch.to_vec()))
            .build()
            .map_err(|e| AwsError::Other { message: e.to_string() })?;
        let mut token: Option<String> = None;
        loop {
            let result = client
                .describe_parameters()
                .parameter_filters(filter.clone())
                .max_results(50)
                .set_next_token(token.clone())
                .send()
                .await;
            let out = result.map_err(|e| classify(&e, "ssm:DescribeParameters"))?;
            for parameter in out.parameters() {
                if let Some(name) = parameter.name() {
                    let kind =
                        parameter.r#type().map(|t| t.as_str().to_owned()).unwrap_or_default();
                    found.insert(
                        name.to_owned(),
                        ParameterMeta {
                            kind,
                            kms_key: parameter.key_id().map(str::to_owned),
                            changed: parameter
                                .last_modified_date()
                                .and_then(|d| std::time::SystemTime::try_from(*d).ok()),
                        },
                    );
                }
            }
            token = out.next_token().filter(|t| !t.is_empty()).map(str::to_owned);
            if token.is_none() {
                break;
            }
        }
    }
    Ok(found)
}

/// Parameter names beginning with `prefix` (one page), for near-miss hints.
pub(crate) async fn parameter_names_beginning(
    client: &aws_sdk_ssm::Client,
    prefix: &str,
) -> Result<Vec<String>, AwsError> {
    let filter = ParameterStringFilter::builder()
        .key("Name")
        .option("BeginsWith")
        .values(prefix)
        .build()
        .map_err(|e| AwsError::Other { message: e.to_string() })?;
    match client.describe_parameters().parameter_filters(filter).max_results(50).send().await {
        Ok(out) => {
            Ok(out.parameters().iter().filter_map(|p| p.name().map(str::to_owned)).collect())
        }
        Err(error) => Err(classify(&error, "ssm:DescribeParameters")),
    }
}

/// The type Greenlight expects for parameters.
pub(crate) fn secure_string() -> &'static str {
    ParameterType::SecureString.as_str()
}

#[cfg(test)]
mod tests {
    use super::*;

    #[expect(
        clippy::too_many_lines,
        reason = "one table of real AWS error shapes and what each is classified as"
    )]
    #[test]
    fn classification_covers_the_common_failures() {
        let denied = classify_parts(
            "",
            "",
            Some(403),
            "User: arn:aws:iam::123456789012:user/ops is not authorized to perform: secretsmanager:DescribeSecret on resource: x",
            "secretsmanager:DescribeSecret",
        );
        assert_eq!(denied, AwsError::Denied { action: "secretsmanager:DescribeSecret".into(), message: "User: arn:aws:iam::123456789012:user/ops is not authorized to perform: secretsmanager:DescribeSecret on resource: x".into() });
        assert!(
            matches!(classify_parts("AccessDeniedException", "nope", None, "", "ssm:DescribeParameters"), AwsError::Denied { action, .. } if action == "ssm:DescribeParameters")
        );
        assert!(matches!(
            classify_parts("ThrottlingException", "Rate exceeded", None, "", "x"),
            AwsError::Throttled { .. }
        ));
        assert!(matches!(
            classify_parts(
                "ExpiredTokenException",
                "The security token included in the request is expired",
                None,
                "",
                "x"
            ),
            AwsError::Expired { .. }
        ));
        assert!(matches!(
            classify_parts(
                "",
                "",
                None,
                "dispatch failure: other: the credentials provider was not enabled: failed to load SSO token: SSO token has expired and refresh failed",
                "x"
            ),
            AwsError::SsoExpired { .. }
        ));
        assert!(matches!(
            classify_parts(
                "UnrecognizedClientException",
                "The security token included in the request is invalid.",
                None,
                "",
                "x"
            ),
            AwsError::InvalidKeys { .. }
        ));
        assert!(matches!(
            classify_parts(
                "",
                "",
                None,
                "dispatch failure: io error: error trying to connect: tcp connect error: Connection refused (os error 111)",
                "x"
            ),
            AwsError::Unreachable { .. }
        ));
        assert!(matches!(
            classify_parts(
                "",
                "",
                None,
                "failed to construct request: No region was set; a region must be set",
                "x"
            ),
            AwsError::NoRegion
        ));
        assert!(matches!(
            classify_parts(
                "",
                "",
                None,
                "dispatch failure: other: an error occurred while loading credentials: failed to load IMDS session token",
                "x"
            ),
            AwsError::NoCredentials { .. }
        ));
        let xml = "<ErrorResponse><Errors><Error><Code>AccessDenied</Code><Message>User: arn:aws:iam::123456789012:user/ops is not authorized to perform: secretsmanager:DescribeSecret</Message></Error></Errors></ErrorResponse>";
        assert_eq!(xml_field(xml, "Code").as_deref(), Some("AccessDenied"));
        assert!(matches!(
            classify_parts(
                "InvalidClientTokenId",
                "The security token included in the request is invalid.",
                Some(403),
                "",
                "sts:GetCallerIdentity"
            ),
            AwsError::InvalidKeys { .. }
        ));
    }
}
