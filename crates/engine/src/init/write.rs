//! The draft as YAML: block style, every scalar quoted where YAML could misread it, a comment
//! above each item saying which manifests asked for it.

use std::collections::{BTreeMap, BTreeSet};
use std::fmt::Write as _;

use super::merge::Merged;
use super::{DESCRIBE_ME, Draft, Found, Reference};
use crate::backends::BackendKind;
use crate::spec::Provider;

/// A scalar as YAML reads it back unchanged: plain where safe, else JSON's double quotes.
fn q(text: &str) -> String {
    let plain = !text.is_empty()
        && text.chars().all(|c| c.is_ascii_alphanumeric() || "._/-".contains(c))
        && text.starts_with(|c: char| c.is_ascii_alphabetic())
        && !matches!(
            text.to_ascii_lowercase().as_str(),
            "true" | "false" | "yes" | "no" | "on" | "off" | "null" | "y" | "n"
        );
    if plain { text.to_owned() } else { serde_json::to_string(text).unwrap_or_default() }
}

/// Text for a comment: one line, no control characters.
fn c(text: &str) -> String {
    crate::text::one_line(text).replace(['\r', '\n'], " ")
}

fn json<T: serde::Serialize>(value: &T) -> String {
    serde_json::to_string(value).unwrap_or_default()
}

fn references(out: &mut String, indent: &str, refs: &BTreeSet<Reference>) {
    const SHOWN: usize = 4;
    for reference in refs.iter().take(SHOWN) {
        let _ = writeln!(out, "{indent}# {}: {}", c(&reference.object), c(&reference.how));
    }
    if refs.len() > SHOWN {
        let _ = writeln!(out, "{indent}# and {} more", refs.len() - SHOWN);
    }
}

/// What the vendor wrote for a value or a secret, kept by `--merge`.
struct Kept<'a> {
    provided_by: Provider,
    when: Option<&'a crate::spec::raw::FeatureList>,
    docs: Option<&'a str>,
    generate: Option<&'a crate::spec::raw::RawGenerate>,
}

macro_rules! kept_from {
    ($raw:ty) => {
        impl<'a> From<&'a $raw> for Kept<'a> {
            fn from(raw: &'a $raw) -> Self {
                Kept {
                    provided_by: raw.provided_by,
                    when: raw.when.as_ref(),
                    docs: raw.docs.as_deref(),
                    generate: raw.generate.as_ref(),
                }
            }
        }
    };
}
kept_from!(crate::spec::raw::RawValue);
kept_from!(crate::spec::raw::RawEntry);

impl Kept<'_> {
    fn write(&self, out: &mut String) {
        if self.provided_by != Provider::Customer {
            let _ = writeln!(out, "    provided_by: {}", json(&self.provided_by));
        }
        if let Some(when) = self.when {
            let _ = writeln!(out, "    when: {}", json(when));
        }
        if let Some(docs) = self.docs {
            let _ = writeln!(out, "    docs: {}", json(&docs));
        }
        if let Some(generate) = self.generate {
            let _ = writeln!(out, "    generate: {}", json(generate));
        }
    }
}

/// One operator-made Secret in the draft.
struct Entry {
    namespace: String,
    secret: String,
    keys: BTreeSet<String>,
    required: bool,
    pull_secret: bool,
    refs: BTreeSet<Reference>,
}

#[expect(clippy::too_many_lines, reason = "one document, written top to bottom")]
pub(super) fn write(
    found: &Found,
    deployment: &str,
    origins: &[&str],
    merged: Option<&Merged>,
) -> Draft {
    let mut out = String::new();
    let mut summary = Vec::new();
    let mut notes = found.notes.clone();

    // The stores: the one most ExternalSecrets use is the spec's; a backend per store used.
    let primary = found
        .stores_used
        .iter()
        .max_by(|a, b| a.1.cmp(b.1).then_with(|| b.0.cmp(a.0)))
        .map(|(store, _)| store.clone());
    if found.stores_used.len() > 1 {
        let others: Vec<String> = found
            .stores_used
            .keys()
            .filter(|s| Some(*s) != primary.as_ref())
            .map(|(kind, name)| format!("{kind} {name}"))
            .collect();
        notes.push(format!(
            "ExternalSecrets refer to {} stores; a spec has one, so {} is used and the values read through {} point at their own backend",
            found.stores_used.len(),
            primary.as_ref().map_or_else(String::new, |(k, n)| format!("{k} {n}")),
            others.join(", ")
        ));
    }
    let backend_id = |store: &(String, String)| -> String {
        let id: String =
            store.1.chars().filter(|c| c.is_ascii_alphanumeric() || "._-".contains(*c)).collect();
        if id.is_empty() { "store".to_owned() } else { id }
    };

    // Operator-made Secrets: what workloads read that nothing in the manifests makes, and
    // the stores' credentials.
    let targets: BTreeMap<(String, String), &super::Target> =
        found.targets.iter().map(|t| ((t.namespace.clone(), t.secret.clone()), t)).collect();
    let mut entries: BTreeMap<(String, String), Entry> = BTreeMap::new();
    let mut made_by_manifests = Vec::new();
    for ((namespace, secret), wanted) in &found.wanted {
        let at = (namespace.clone(), secret.clone());
        if let Some(maker) = found.created.get(&at) {
            made_by_manifests.push(format!("{namespace}/{secret} ({maker})"));
            continue;
        }
        if let Some(target) = targets.get(&at) {
            if target.data_from.is_empty() {
                for key in wanted.keys.iter().filter(|k| !target.keys.contains_key(*k)) {
                    notes.push(format!(
                        "{} reads key {key} of Secret {namespace}/{secret}, which ExternalSecret {} does not make",
                        wanted.references.iter().next().map_or("a workload", |r| r.object.as_str()),
                        target.external_secret
                    ));
                }
            }
            continue;
        }
        entries.insert(
            at.clone(),
            Entry {
                namespace: namespace.clone(),
                secret: secret.clone(),
                keys: wanted.keys.clone(),
                required: wanted.required,
                pull_secret: wanted.pull_secret,
                refs: wanted.references.clone(),
            },
        );
    }
    for ((kind, name), store) in &found.stores {
        if !found.stores_used.contains_key(&(kind.clone(), name.clone())) {
            continue;
        }
        for (namespace, secret, key, path) in &store.credentials {
            let at = (namespace.clone(), secret.clone());
            if found.created.contains_key(&at) {
                continue;
            }
            let entry = entries.entry(at).or_insert_with(|| Entry {
                namespace: namespace.clone(),
                secret: secret.clone(),
                keys: BTreeSet::new(),
                required: true,
                pull_secret: false,
                refs: BTreeSet::new(),
            });
            entry.keys.insert(key.clone());
            entry.required = true;
            entry.refs.insert(Reference {
                object: format!("{kind} {name}"),
                how: format!("spec.provider.{}.{path} (the store's credential)", store.provider),
            });
        }
    }
    // Entry names: the Secret's, or namespace/Secret where two namespaces share one.
    let mut by_secret: BTreeMap<&str, usize> = BTreeMap::new();
    for entry in entries.values() {
        *by_secret.entry(entry.secret.as_str()).or_default() += 1;
    }

    // Header.
    let _ = writeln!(
        out,
        "# yaml-language-server: $schema=https://greenlight.dev/greenlight-spec.v1.schema.json"
    );
    let _ = writeln!(out, "# Drafted by `greenlight init` from {}.", c(&origins.join(", ")));
    let _ = writeln!(
        out,
        "# Write each description marked TODO (`greenlight lint` lists them), then review the rest."
    );
    out.push_str("version: 1\n");
    let _ = writeln!(out, "deployment: {}", q(deployment));
    // What the vendor wrote beyond the manifests (other platforms, AWS defaults, the expected
    // cluster or account) is kept when merging.
    let mut platforms = vec![crate::spec::Platform::Kubernetes];
    if let Some(merged) = merged {
        platforms
            .extend(merged.platforms.iter().filter(|p| **p != crate::spec::Platform::Kubernetes));
    }
    let _ = writeln!(out, "platforms: {}", json(&platforms));
    if let Some(merged) = merged {
        let defaults = json(&merged.defaults_aws);
        if defaults != json(&crate::spec::raw::RawAwsDefaults::default()) {
            let _ = writeln!(out, "defaults: {{ aws: {defaults} }}");
        }
        let expect = json(&merged.expect);
        if expect != json(&crate::spec::raw::RawExpect::default()) {
            let _ = writeln!(out, "expect: {expect}");
        }
    }
    if let Some(merged) = merged.filter(|m| !m.features.is_empty()) {
        out.push_str("\nfeatures:\n");
        for (name, feature) in &merged.features {
            let _ = writeln!(
                out,
                "  {}: {{ description: {}, default: {} }}",
                q(name),
                json(&feature.description),
                feature.default
            );
        }
    }

    // Backends and delivery.
    let mut backends_written = 0;
    if !found.stores_used.is_empty() {
        out.push_str("\nbackends:\n");
        let mut order: Vec<&(String, String)> = found.stores_used.keys().collect();
        order.sort_by_key(|s| Some(*s) != primary.as_ref());
        for store in order {
            let id = backend_id(store);
            match found.stores.get(store) {
                Some(found_store) => {
                    let service = found_store.block.get("service").and_then(|s| s.as_str());
                    match BackendKind::of_provider(&found_store.provider, service) {
                        Some(kind) => {
                            let backend = kind.backend();
                            let _ = writeln!(
                                out,
                                "  # {} {} (provider {})",
                                c(&store.0),
                                c(&store.1),
                                c(&found_store.provider)
                            );
                            let given = backend.fields_from_store(&found_store.block);
                            let missing: Vec<&str> = backend
                                .fields()
                                .iter()
                                .filter(|f| f.required && !given.iter().any(|(g, _)| *g == f.name))
                                .map(|f| f.name)
                                .collect();
                            if !missing.is_empty() {
                                let _ = writeln!(
                                    out,
                                    "  # The store does not say its {}: set {} (TODO below).",
                                    missing.join(" and "),
                                    if missing.len() == 1 { "it" } else { "them" }
                                );
                            }
                            let mut line = format!("  {}: {{ kind: {}", q(&id), backend.name());
                            for (field, value) in given {
                                let _ = write!(line, ", {field}: {}", q(&value));
                            }
                            for field in missing {
                                let _ = write!(line, ", {field}: TODO");
                            }
                            line.push_str(" }\n");
                            out.push_str(&line);
                        }
                        None => {
                            let _ = writeln!(
                                out,
                                "  # {} {} uses provider `{}`, which Greenlight cannot check: set kind to the backend that holds the values.",
                                c(&store.0),
                                c(&store.1),
                                c(&found_store.provider)
                            );
                            let _ = writeln!(out, "  {}: {{ kind: TODO }}", q(&id));
                        }
                    }
                }
                None => {
                    let _ = writeln!(
                        out,
                        "  # {} {} is not in these manifests: set kind to its provider's backend",
                        c(&store.0),
                        c(&store.1)
                    );
                    let _ = writeln!(
                        out,
                        "  # ({}) and its fields; `greenlight schema` lists them.",
                        BackendKind::ALL
                            .iter()
                            .map(|k| k.backend().name())
                            .collect::<Vec<_>>()
                            .join(", ")
                    );
                    let _ = writeln!(out, "  {}: {{ kind: TODO }}", q(&id));
                }
            }
            backends_written += 1;
        }
        if let Some((kind, name)) = &primary {
            out.push_str("\ndelivery:\n  external_secrets:\n");
            let credential = found
                .stores
                .get(&(kind.clone(), name.clone()))
                .into_iter()
                .flat_map(|store| &store.credentials)
                .find(|(ns, secret, _, _)| {
                    !found.created.contains_key(&(ns.clone(), secret.clone()))
                })
                .map(|(ns, secret, _, _)| {
                    let shared = by_secret.get(secret.as_str()).copied().unwrap_or(0) > 1;
                    if shared { format!("{ns}/{secret}") } else { secret.clone() }
                });
            match credential {
                Some(credential) => {
                    let _ = writeln!(
                        out,
                        "    store: {{ kind: {}, name: {}, credential: {} }}",
                        q(kind),
                        q(name),
                        q(&credential)
                    );
                }
                None => {
                    let _ = writeln!(out, "    store: {{ kind: {}, name: {} }}", q(kind), q(name));
                }
            }
            let versions: BTreeSet<&str> =
                found.targets.iter().map(|t| t.api_version.as_str()).collect();
            if let [version] = versions.into_iter().collect::<Vec<_>>()[..] {
                let _ = writeln!(out, "    api_version: {}", q(version));
            }
        }
    }

    // Values: one per backend key, with the ExternalSecrets that read it.
    let mut values: BTreeMap<String, (String, BTreeSet<String>, BTreeSet<String>)> =
        BTreeMap::new();
    for target in &found.targets {
        for (data_key, (remote, property)) in &target.keys {
            let value = values
                .entry(remote.clone())
                .or_insert_with(|| (backend_id(&target.store), BTreeSet::new(), BTreeSet::new()));
            value.1.insert(format!(
                "ExternalSecret {}/{}: {data_key}",
                target.namespace, target.external_secret
            ));
            if let Some(property) = property {
                value.2.insert(property.clone());
            }
        }
    }
    let primary_id = primary.as_ref().map(backend_id);
    let gone_values: Vec<&crate::spec::raw::RawValue> = merged
        .map(|m| {
            m.values.iter().filter(|(k, _)| !values.contains_key(*k)).map(|(_, v)| v).collect()
        })
        .unwrap_or_default();
    if !values.is_empty() || !gone_values.is_empty() {
        out.push_str("\nvalues:\n");
        for (name, (backend, readers, properties)) in &values {
            let refs: BTreeSet<Reference> = readers
                .iter()
                .map(|r| Reference { object: r.clone(), how: "reads it".into() })
                .collect();
            for reference in refs.iter().take(3) {
                let _ = writeln!(out, "  # {}", c(&reference.object));
            }
            if refs.len() > 3 {
                let _ = writeln!(out, "  # and {} more", refs.len() - 3);
            }
            if !properties.is_empty() {
                let _ = writeln!(
                    out,
                    "  # read by property ({}): Greenlight checks that the key exists, not each property",
                    c(&properties.iter().cloned().collect::<Vec<_>>().join(", "))
                );
            }
            let kept = merged.and_then(|m| m.values.get(name));
            let _ = writeln!(out, "  - name: {}", q(name));
            let _ = writeln!(
                out,
                "    description: {}",
                json(&kept.map_or(DESCRIBE_ME, |v| v.description.as_str()))
            );
            if Some(backend) != primary_id.as_ref() && backends_written > 1 {
                let _ = writeln!(out, "    backend: {}", q(backend));
            }
            if let Some(kept) = kept {
                if !kept.required {
                    out.push_str("    required: false\n");
                }
                Kept::from(kept).write(&mut out);
                if let Some(create_with) = &kept.create_with {
                    let _ = writeln!(out, "    create_with: {}", json(create_with));
                }
            }
        }
        for value in &gone_values {
            out.push_str(
                "  # kept from the spec merged into, but no ExternalSecret here reads it\n",
            );
            let _ = writeln!(out, "  - {}", json(value));
        }
    }

    // Targets.
    let listed: Vec<&super::Target> = {
        let mut t: Vec<&super::Target> =
            found.targets.iter().filter(|t| !t.keys.is_empty()).collect();
        t.sort_by(|a, b| (&a.namespace, &a.secret).cmp(&(&b.namespace, &b.secret)));
        t
    };
    if !listed.is_empty() {
        out.push_str("\ntargets:\n");
        for target in &listed {
            let _ = writeln!(
                out,
                "  # ExternalSecret {}/{} through {} {}",
                c(&target.namespace),
                c(&target.external_secret),
                c(&target.store.0),
                c(&target.store.1)
            );
            if !target.data_from.is_empty() {
                let _ = writeln!(
                    out,
                    "  # also dataFrom ({}): those keys cannot be listed here",
                    c(&target.data_from.join("; "))
                );
            }
            let _ = writeln!(out, "  - namespace: {}", q(&target.namespace));
            let _ = writeln!(out, "    secret: {}", q(&target.secret));
            if target.external_secret != target.secret {
                let _ = writeln!(out, "    external_secret: {}", q(&target.external_secret));
            }
            out.push_str("    keys:\n");
            for (data_key, (remote, _)) in &target.keys {
                let _ = writeln!(out, "      {}: {}", q(data_key), q(remote));
            }
            let kept = merged
                .and_then(|m| m.targets.get(&(target.namespace.clone(), target.secret.clone())));
            if let Some(when) = kept.and_then(|t| t.when.as_ref()) {
                let _ = writeln!(out, "    when: {}", json(when));
            }
        }
    }
    for target in found.targets.iter().filter(|t| t.keys.is_empty()) {
        notes.push(format!(
            "ExternalSecret {}/{} takes {} (dataFrom): its keys cannot be listed, so add a target for Secret {} by hand",
            target.namespace,
            target.external_secret,
            target.data_from.join("; "),
            target.secret
        ));
    }

    // Secrets the operator makes where they are used.
    let gone_entries: Vec<&crate::spec::raw::RawEntry> = merged
        .map(|m| {
            m.entries
                .iter()
                .filter(|(k, _)| {
                    !entries.values().any(|e| format!("{}/{}", e.namespace, e.secret) == **k)
                })
                .map(|(_, e)| e)
                .collect()
        })
        .unwrap_or_default();
    if !entries.is_empty() || !gone_entries.is_empty() {
        out.push_str("\nsecrets:\n");
        for entry in entries.values() {
            let shared = by_secret.get(entry.secret.as_str()).copied().unwrap_or(0) > 1;
            let name = if shared {
                format!("{}/{}", entry.namespace, entry.secret)
            } else {
                entry.secret.clone()
            };
            let key = format!("{}/{}", entry.namespace, entry.secret);
            let kept = merged.and_then(|m| m.entries.get(&key));
            references(&mut out, "  ", &entry.refs);
            if entry.keys.is_empty() {
                out.push_str(
                    "  # read whole (envFrom or a volume without items): no key is known\n",
                );
            }
            let _ = writeln!(out, "  - name: {}", q(kept.map_or(&name, |k| &k.name)));
            let _ = writeln!(
                out,
                "    description: {}",
                json(&kept.map_or(DESCRIBE_ME, |k| k.description.as_str()))
            );
            let required = kept.map_or(entry.required, |k| k.required);
            if !required {
                out.push_str("    required: false\n");
            }
            if let Some(kept) = kept {
                Kept::from(kept).write(&mut out);
                if let Some(aws) = &kept.aws {
                    let _ = writeln!(out, "    aws: {}", json(aws));
                }
            }
            let mut placement = format!("namespace: {}", q(&entry.namespace));
            if name != entry.secret || kept.is_some_and(|k| k.name != entry.secret) {
                let _ = write!(placement, ", secret: {}", q(&entry.secret));
            }
            let keys: Vec<String> = entry.keys.iter().map(|k| q(k)).collect();
            let _ = write!(placement, ", keys: [{}]", keys.join(", "));
            if entry.pull_secret {
                placement.push_str(", type: kubernetes.io/dockerconfigjson");
            }
            let _ = writeln!(out, "    kubernetes: {{ {placement} }}");
        }
        for entry in &gone_entries {
            out.push_str("  # kept from the spec merged into, but no workload here reads it\n");
            let _ = writeln!(out, "  - {}", json(entry));
        }
    }

    if !made_by_manifests.is_empty() {
        out.push_str("\n# Made by the manifests themselves, so not asked of the operator:\n");
        for made in &made_by_manifests {
            let _ = writeln!(out, "#   {}", c(made));
        }
    }
    if !notes.is_empty() {
        out.push_str("\n# Noticed while reading the manifests:\n");
        for note in &notes {
            let _ = writeln!(out, "#   {}", c(note));
        }
    }

    summary.push(format!(
        "{} Kubernetes objects read, {} with a pod spec",
        found.objects, found.workloads
    ));
    let plural =
        |n: usize, one: &str, many: &str| format!("{n} {}", if n == 1 { one } else { many });
    summary.push(format!(
        "{} the operator creates where used",
        plural(entries.len(), "Secret", "Secrets")
    ));
    if !found.targets.is_empty() {
        summary.push(format!(
            "{} ExternalSecrets: {} values in the backend, {} target Secrets",
            found.targets.len(),
            values.len(),
            listed.len()
        ));
    }
    if !made_by_manifests.is_empty() {
        summary.push(format!(
            "{} made by the manifests themselves (left out)",
            plural(made_by_manifests.len(), "Secret", "Secrets")
        ));
    }
    if found.skipped > 0 {
        summary
            .push(format!("{} documents that are not Kubernetes objects (skipped)", found.skipped));
    }
    for note in &notes {
        summary.push(format!("note: {note}"));
    }
    Draft { text: out, summary }
}
