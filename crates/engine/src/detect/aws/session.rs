//! One AWS session: the identity STS reported for the chosen profile, and an SDK client per
//! service and region, made on first use.

use std::collections::{BTreeSet, HashMap};
use std::sync::Arc;

use aws_config::Region;

use super::connection;
use super::{ProbeState, Settings};
use crate::detect::ConnectError;
use crate::detect::{AwsConnection, Connection, ConnectionStatus};
use crate::spec::Expect;

pub(super) struct Session {
    pub(super) identity: connection::Identity,
    secrets_manager: std::sync::Mutex<HashMap<String, aws_sdk_secretsmanager::Client>>,
    parameter_store: std::sync::Mutex<HashMap<String, aws_sdk_ssm::Client>>,
}

impl Session {
    pub(super) fn secrets_manager(&self, region: &str) -> aws_sdk_secretsmanager::Client {
        let mut clients =
            self.secrets_manager.lock().unwrap_or_else(std::sync::PoisonError::into_inner);
        clients
            .entry(region.to_owned())
            .or_insert_with(|| {
                let config = aws_sdk_secretsmanager::config::Builder::from(&self.identity.config)
                    .region(Region::new(region.to_owned()))
                    .build();
                aws_sdk_secretsmanager::Client::from_conf(config)
            })
            .clone()
    }

    pub(super) fn parameter_store(&self, region: &str) -> aws_sdk_ssm::Client {
        let mut clients =
            self.parameter_store.lock().unwrap_or_else(std::sync::PoisonError::into_inner);
        clients
            .entry(region.to_owned())
            .or_insert_with(|| {
                let config = aws_sdk_ssm::config::Builder::from(&self.identity.config)
                    .region(Region::new(region.to_owned()))
                    .build();
                aws_sdk_ssm::Client::from_conf(config)
            })
            .clone()
    }
}

/// The typed connection of a connected session.
pub(super) fn connected(identity: &connection::Identity) -> Connection {
    Connection::Aws(AwsConnection {
        profile: identity.profile.clone(),
        region: identity.region.clone(),
        account: Some(identity.account.clone()),
        identity: Some(identity.arn.clone()),
        endpoint: identity.endpoint.clone(),
        credentials: Some(identity.credentials.clone()),
    })
}

pub(super) fn describe(
    identity: &connection::Identity,
    expect: &Expect,
    spec_regions: &BTreeSet<String>,
) -> ConnectionStatus {
    let mut warnings = Vec::new();
    if let Some(wanted) = expect.aws_account.as_ref().filter(|w| **w != identity.account) {
        warnings.push(format!(
            "The spec expects AWS account {wanted}, but this profile is in account {}.",
            identity.account
        ));
    }
    if let Some(region) = &identity.region
        && !spec_regions.is_empty()
        && !spec_regions.contains(region)
    {
        let listed: Vec<&str> = spec_regions.iter().map(String::as_str).collect();
        warnings.push(format!("The spec places its secrets in {}; your profile's region is {region}. Greenlight checks where the spec says.", listed.join(", ")));
    }
    ConnectionStatus { connection: connected(identity), warnings }
}

pub(super) async fn session(
    settings: &Settings,
    expect: &Expect,
    spec_regions: &BTreeSet<String>,
    state: &ProbeState,
) -> Result<Arc<Session>, ConnectError> {
    let mut slot = state.session.lock().await;
    if let Some(session) = slot.as_ref() {
        return Ok(session.clone());
    }
    match connection::connect(
        settings.profile.as_deref(),
        settings.region.as_deref(),
        settings.request_timeout,
    )
    .await
    {
        Ok(identity) => {
            if let Ok(mut c) = state.connection.lock() {
                *c = Some(describe(&identity, expect, spec_regions));
            }
            let session = Arc::new(Session {
                identity,
                secrets_manager: std::sync::Mutex::new(HashMap::new()),
                parameter_store: std::sync::Mutex::new(HashMap::new()),
            });
            *slot = Some(session.clone());
            Ok(session)
        }
        Err(error) => {
            if let Ok(mut c) = state.connection.lock() {
                *c = Some(ConnectionStatus {
                    connection: Connection::Aws(AwsConnection {
                        profile: settings.profile.clone(),
                        ..AwsConnection::default()
                    }),
                    warnings: vec![format!("Not connected: {error}")],
                });
            }
            Err(error)
        }
    }
}
