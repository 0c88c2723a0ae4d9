//! One paste for a whole step: every generated value of a backend, every generated plain
//! Secret of a namespace, and Sync now for every ExternalSecret the spec names. Each batch
//! is the entries' own commands on one [`Sheet`], so quoting and inert remarks stay where
//! they are written once; generated values are made in the pipeline and never shown.

use std::collections::BTreeMap;

use super::{CommandKind, Sheet, Shell, Target, command, delivery::sync_lines};
use crate::shell::QuoteError;
use crate::spec::{FeatureSet, Platform, Provider, SecretEntry, SecretSpec};

/// What one paste does.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum BatchKind {
    /// Creates every generated value of one backend (its id in the spec).
    Backend(String),
    /// Creates every generated plain Secret of one namespace.
    Namespace(String),
    /// Sync now for every ExternalSecret the spec names.
    SyncAll,
}

/// A batch: its title as a button says it, and the entries it covers.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Batch {
    /// What it does.
    pub kind: BatchKind,
    /// E.g. "Create the 4 generated values in Google Secret Manager".
    pub title: String,
    /// The entries (indices in the spec) it covers, in spec order.
    pub entries: Vec<usize>,
}

fn needed(entry: &SecretEntry, features: Option<&FeatureSet>) -> bool {
    features.is_none_or(|f| entry.is_needed(f))
}

/// The batches of `spec` on `platform` with `features` on (every feature without): only those
/// that cover at least two entries, since one entry's own command is already one paste.
pub fn batches(spec: &SecretSpec, platform: Platform, features: Option<&FeatureSet>) -> Vec<Batch> {
    let generated = |e: &&(usize, &SecretEntry)| {
        e.1.provided_by == Provider::Generated && needed(e.1, features)
    };
    let entries: Vec<(usize, &SecretEntry)> = spec.entries.iter().enumerate().collect();
    let mut by_backend: BTreeMap<&str, Vec<usize>> = BTreeMap::new();
    let mut by_namespace: BTreeMap<&str, Vec<usize>> = BTreeMap::new();
    for (i, entry) in entries.iter().filter(generated) {
        match (&entry.delivered, &entry.kubernetes, platform) {
            (Some(d), _, Platform::Kubernetes) => {
                by_backend.entry(&d.backend).or_default().push(*i)
            }
            (None, Some(k), Platform::Kubernetes) => {
                by_namespace.entry(&k.namespace).or_default().push(*i);
            }
            _ => {}
        }
    }
    let mut out = Vec::new();
    for (backend, members) in by_backend.into_iter().filter(|(_, m)| m.len() > 1) {
        let title = members
            .first()
            .and_then(|i| spec.entries.get(*i)?.delivered.as_ref())
            .map_or("its backend", |d| d.source.title());
        out.push(Batch {
            kind: BatchKind::Backend(backend.to_owned()),
            title: format!("Create the {} generated values in {title}", members.len()),
            entries: members,
        });
    }
    for (namespace, members) in by_namespace.into_iter().filter(|(_, m)| m.len() > 1) {
        out.push(Batch {
            kind: BatchKind::Namespace(namespace.to_owned()),
            title: format!(
                "Create the {} generated Secrets in namespace {namespace}",
                members.len()
            ),
            entries: members,
        });
    }
    let synced: Vec<usize> = entries
        .iter()
        .filter(|(_, e)| needed(e, features))
        .filter(|(_, e)| {
            e.delivered
                .as_ref()
                .is_some_and(|d| d.targets.iter().any(|t| features.is_none_or(|f| t.is_needed(f))))
        })
        .map(|(i, _)| *i)
        .collect();
    let externals = external_secrets(spec, &synced, features);
    let count: usize = externals.iter().map(|(_, names)| names.len()).sum();
    if platform == Platform::Kubernetes && count > 1 {
        out.push(Batch {
            kind: BatchKind::SyncAll,
            title: format!("Sync now: all {count} ExternalSecrets"),
            entries: synced,
        });
    }
    out
}

/// The needed ExternalSecrets of `entries`, each once, by namespace.
fn external_secrets(
    spec: &SecretSpec,
    entries: &[usize],
    features: Option<&FeatureSet>,
) -> Vec<(String, Vec<String>)> {
    let mut by_namespace: BTreeMap<String, Vec<String>> = BTreeMap::new();
    let targets = entries
        .iter()
        .filter_map(|i| spec.entries.get(*i)?.delivered.as_ref())
        .flat_map(|d| &d.targets)
        .filter(|t| features.is_none_or(|f| t.is_needed(f)));
    for t in targets {
        let names = by_namespace.entry(t.namespace.clone()).or_default();
        if !names.contains(&t.external_secret) {
            names.push(t.external_secret.clone());
        }
    }
    by_namespace.into_iter().collect()
}

/// The batch's commands as one paste for `shell`, pointing at `target`. Fails with the
/// entry's name when one of its names cannot be written safely.
pub fn render(
    batch: &Batch,
    spec: &SecretSpec,
    platform: Platform,
    target: &Target,
    shell: Shell,
    features: Option<&FeatureSet>,
) -> Result<String, (String, QuoteError)> {
    let mut sheet = Sheet::new(shell);
    let names: Vec<&str> = batch
        .entries
        .iter()
        .filter_map(|i| spec.entries.get(*i))
        .map(|e| e.name.as_str())
        .collect();
    let whole = |e| (String::from("the batch"), e);
    if batch.kind == BatchKind::SyncAll {
        sheet.remark(&batch.title).map_err(whole)?;
        let externals = external_secrets(spec, &batch.entries, features);
        sheet.command(&sync_lines(&externals, target, shell).map_err(whole)?);
        return Ok(sheet.text().to_owned());
    }
    sheet.remark(&format!("{}: {}", batch.title, names.join(", "))).map_err(whole)?;
    sheet.remark("Each value is made in the pipeline and never shown.").map_err(whole)?;
    for entry in batch.entries.iter().filter_map(|i| spec.entries.get(*i)) {
        let text = command(entry, platform, target, shell, CommandKind::Create, features)
            .map_err(|e| (entry.name.clone(), e))?;
        if let Some(text) = text {
            sheet.command(&text);
        }
    }
    Ok(sheet.text().to_owned())
}
