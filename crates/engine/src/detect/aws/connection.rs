//! The operator's AWS configuration: profiles from the shared config and credentials files,
//! the chosen profile (never silently another one), region, and the identity STS reports.
//! Endpoint overrides (`AWS_ENDPOINT_URL`, per-service variants) are honoured by the SDK
//! itself, so tests against a local server use the production code path.

use std::time::Duration;

use aws_config::{BehaviorVersion, Region, SdkConfig};
use aws_smithy_http_client::tls::{Provider, rustls_provider::CryptoMode};
use aws_types::os_shim_internal::{Env, Fs};

use super::wire::{AwsError, classify};
use crate::detect::ConnectError;
use crate::diagnose::Hint;
use crate::diagnose::aws as hints;

/// Profiles in the shared config and credentials files, and the one selected by default
/// (`AWS_PROFILE`, else `default`).
pub async fn profiles() -> (Vec<String>, String) {
    match load_profiles().await {
        Some(set) => {
            let mut names: Vec<String> = set.profiles().map(str::to_owned).collect();
            names.sort();
            (names, set.selected_profile().to_owned())
        }
        None => (Vec::new(), std::env::var("AWS_PROFILE").unwrap_or_else(|_| "default".to_owned())),
    }
}

async fn load_profiles() -> Option<aws_config::profile::ProfileSet> {
    let files = aws_runtime::env_config::file::EnvConfigFiles::default();
    aws_config::profile::load(&Fs::real(), &Env::real(), &files, None).await.ok()
}

/// Whether the profile gets its credentials from IAM Identity Center (SSO).
async fn is_sso(profile: &str) -> bool {
    load_profiles()
        .await
        .and_then(|set| {
            set.get_profile(profile)
                .map(|p| p.get("sso_start_url").is_some() || p.get("sso_session").is_some())
        })
        .unwrap_or(false)
}

/// A loaded configuration and who it is: the SDK configuration for the chosen profile and
/// the identity STS reported for it.
#[derive(Debug, Clone)]
pub struct Identity {
    /// SDK configuration for the chosen profile.
    pub config: SdkConfig,
    /// Profile name, when one is chosen.
    pub profile: Option<String>,
    /// The profile's (or flag's) region, when known.
    pub region: Option<String>,
    /// Account ID from STS.
    pub account: String,
    /// Caller ARN from STS.
    pub arn: String,
    /// Endpoint override, when set (tests, LocalStack, VPC endpoints).
    pub endpoint: Option<String>,
    /// Where the credentials came from, in words.
    pub credentials: String,
}

/// Where the SDK's credentials come from, in the order its default chain tries them, so the
/// operator knows what a pasted `aws` command will use too.
pub(crate) fn credential_source(
    profile: Option<&str>,
    sso: bool,
    env: impl Fn(&str) -> Option<String>,
    known_profiles: &[String],
) -> String {
    let set = |name: &str| env(name).is_some_and(|v| !v.is_empty());
    match profile {
        Some(name) if sso => format!("SSO, profile {name}"),
        Some(name) => format!("profile {name}"),
        None if set("AWS_ACCESS_KEY_ID") => "environment variables (AWS_ACCESS_KEY_ID)".to_owned(),
        None if known_profiles.iter().any(|p| p == "default") => "profile default".to_owned(),
        None if set("AWS_WEB_IDENTITY_TOKEN_FILE") => {
            "web identity token (AWS_WEB_IDENTITY_TOKEN_FILE)".to_owned()
        }
        None if set("AWS_CONTAINER_CREDENTIALS_RELATIVE_URI")
            || set("AWS_CONTAINER_CREDENTIALS_FULL_URI") =>
        {
            "the container's role".to_owned()
        }
        None => "the instance's role (or another source of the default chain)".to_owned(),
    }
}

/// The SDK configuration for `profile` (the default chain when `None`) and `region`, with
/// Greenlight's timeouts, TLS and user agent.
async fn load_config(
    profile: Option<&str>,
    region: Option<&str>,
    timeout: Duration,
) -> aws_config::SdkConfig {
    let http = aws_smithy_http_client::Builder::new()
        .tls_provider(Provider::Rustls(CryptoMode::Ring))
        .build_https();
    let timeouts = aws_config::timeout::TimeoutConfig::builder()
        .connect_timeout(Duration::from_secs(3))
        .operation_timeout(timeout)
        .build();
    let mut loader = aws_config::defaults(BehaviorVersion::latest())
        .http_client(http.clone())
        .timeout_config(timeouts);
    // Names Greenlight in the user agent, so CloudTrail shows which tool made the calls.
    if let Ok(name) = aws_types::app_name::AppName::new("greenlight") {
        loader = loader.app_name(name);
    }
    if let Some(name) = profile {
        // The profile the operator chose, and only it: environment credentials must not
        // quietly stand in for it. The provider needs the same HTTP client (SSO, STS).
        let providers = aws_config::provider_config::ProviderConfig::default()
            .with_http_client(http)
            .with_region(region.map(|r| Region::new(r.to_owned())));
        let credentials = aws_config::profile::ProfileFileCredentialsProvider::builder()
            .configure(&providers)
            .profile_name(name)
            .build();
        loader = loader.profile_name(name).credentials_provider(credentials);
    }
    if let Some(region) = region {
        loader = loader.region(Region::new(region.to_owned()));
    }
    loader.load().await
}

/// Loads the configuration for `profile` (or the default chain when `None`) and asks STS who
/// it is. A profile that does not exist is an error naming those that do.
pub async fn connect(
    profile: Option<&str>,
    region: Option<&str>,
    timeout: Duration,
) -> Result<Identity, ConnectError> {
    let (known, _) = profiles().await;
    let chosen = profile
        .map(str::to_owned)
        .or_else(|| std::env::var("AWS_PROFILE").ok().filter(|p| !p.is_empty()));
    if let Some(name) = &chosen
        && !known.iter().any(|k| k == name)
    {
        let list = if known.is_empty() {
            "there are none; run `aws configure` to create one".to_owned()
        } else {
            format!("profiles: {}", known.join(", "))
        };
        return Err(ConnectError {
            message: format!(
                "AWS profile `{name}` does not exist in ~/.aws/config or ~/.aws/credentials ({list})"
            ),
            hints: vec![Hint::run(
                "Pick one of the profiles the AWS CLI knows:",
                &["aws", "configure", "list-profiles"],
            )],
        });
    }
    let config = load_config(chosen.as_deref(), region, timeout).await;
    let endpoint = config.endpoint_url().map(str::to_owned);
    let resolved_region = config.region().map(|r| r.to_string());
    // STS is global but needs a region to sign; any works for GetCallerIdentity.
    let sts_config = aws_sdk_sts::config::Builder::from(&config)
        .region(Region::new(resolved_region.clone().unwrap_or_else(|| "us-east-1".to_owned())))
        .build();
    let sts = aws_sdk_sts::Client::from_conf(sts_config);
    let identity = match sts.get_caller_identity().send().await {
        Ok(identity) => identity,
        Err(e) => {
            let mut error = classify(&e, "sts:GetCallerIdentity");
            let sso = match &chosen {
                Some(name) => is_sso(name).await,
                None => false,
            };
            // An SSO profile whose credentials cannot be loaded needs a fresh login, whatever
            // the SDK's words (an expired token, a refresh the portal refused, no network).
            if sso
                && (error.is_credentials()
                    || matches!(error, AwsError::Other { .. } | AwsError::Unreachable { .. }))
            {
                error = AwsError::SsoExpired { message: error.to_string() };
            }
            let profile = chosen.as_deref();
            return Err(ConnectError {
                message: format!("cannot tell who you are in AWS: {error}"),
                hints: hints::for_connection(error.problem(), profile),
            });
        }
    };
    let sso = match &chosen {
        Some(name) => is_sso(name).await,
        None => false,
    };
    let credentials =
        credential_source(chosen.as_deref(), sso, |name| std::env::var(name).ok(), &known);
    Ok(Identity {
        config,
        credentials,
        profile: chosen,
        region: resolved_region,
        account: identity.account().unwrap_or_default().to_owned(),
        arn: identity.arn().unwrap_or_default().to_owned(),
        endpoint,
    })
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn the_credential_source_is_named_as_the_default_chain_finds_it() {
        let env = |vars: &'static [(&'static str, &'static str)]| {
            move |name: &str| vars.iter().find(|(k, _)| *k == name).map(|(_, v)| (*v).to_owned())
        };
        let none: &[String] = &[];
        let default = ["default".to_owned()];
        assert_eq!(credential_source(Some("ops"), true, env(&[]), none), "SSO, profile ops");
        assert_eq!(credential_source(Some("ops"), false, env(&[]), none), "profile ops");
        assert_eq!(
            credential_source(None, false, env(&[("AWS_ACCESS_KEY_ID", "AKIA")]), &default),
            "environment variables (AWS_ACCESS_KEY_ID)"
        );
        assert_eq!(credential_source(None, false, env(&[]), &default), "profile default");
        assert!(credential_source(None, false, env(&[]), none).contains("instance's role"));
    }
}
