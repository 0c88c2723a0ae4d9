//! `init --merge`: what the vendor already wrote in their spec (descriptions, links, features,
//! conditions, who provides a value) is kept; what the manifests no longer show is kept too,
//! flagged, never dropped.

use std::collections::BTreeMap;

use indexmap::IndexMap;

use crate::spec::Platform;
use crate::spec::raw::{
    RawAwsDefaults, RawEntry, RawExpect, RawFeature, RawSpec, RawTarget, RawValue,
};

/// The vendor's existing spec, by the names a draft matches on.
pub struct Merged {
    /// Its `deployment`.
    pub deployment: String,
    /// Its platforms: an AWS placement written beside the Kubernetes one is kept.
    pub(super) platforms: Vec<Platform>,
    pub(super) defaults_aws: RawAwsDefaults,
    pub(super) expect: RawExpect,
    pub(super) features: IndexMap<String, RawFeature>,
    /// Entries by (namespace, Secret) where they say so, else by name.
    pub(super) entries: BTreeMap<String, RawEntry>,
    pub(super) values: BTreeMap<String, RawValue>,
    pub(super) targets: BTreeMap<(String, String), RawTarget>,
}

impl Merged {
    /// Reads the spec to merge into; it must at least parse.
    pub(super) fn read(text: &str) -> Result<Self, String> {
        let raw: RawSpec = serde_saphyr::from_str(text).map_err(|e| {
            format!(
                "the spec to merge into does not parse ({}); run `greenlight lint` on it and fix it first",
                crate::text::one_line(&e.to_string())
            )
        })?;
        let default_namespace = raw.defaults.kubernetes.namespace.clone().unwrap_or_default();
        let entries = raw
            .secrets
            .into_iter()
            .map(|entry| {
                let placement = entry.kubernetes.clone().unwrap_or_default();
                let namespace = placement.namespace.unwrap_or_else(|| default_namespace.clone());
                let secret = placement.secret.unwrap_or_else(|| entry.name.clone());
                (format!("{namespace}/{secret}"), entry)
            })
            .collect();
        let values = raw.values.into_iter().map(|v| (v.name.clone(), v)).collect();
        let mut targets = BTreeMap::new();
        for target in raw.targets {
            let namespaces = target
                .namespaces
                .clone()
                .unwrap_or_default()
                .into_iter()
                .chain(target.namespace.clone());
            for namespace in namespaces.collect::<Vec<_>>() {
                targets.insert((namespace, target.secret.clone()), target.clone());
            }
        }
        Ok(Self {
            deployment: raw.deployment,
            platforms: raw.platforms,
            defaults_aws: raw.defaults.aws,
            expect: raw.expect,
            features: raw.features,
            entries,
            values,
            targets,
        })
    }
}
