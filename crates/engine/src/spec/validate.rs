//! From bytes to a [`SecretSpec`]: decoding, deserializing, then checking every rule and
//! resolving defaults. Problems are collected (not stopped at the first) and positioned with
//! the [`PositionIndex`]. Here: the collector and the spec-wide and per-entry rules; in
//! `decode` the bytes-to-text checks and syntax errors, in `placement` the Kubernetes and AWS
//! placement rules, in `delivery` the backends, store, values and targets.
mod decode;
mod delivery;
mod environments;
mod placement;

use decode::{deserialize_problem, text_of};
use placement::{resolve_aws, resolve_kubernetes};

use std::collections::HashMap;
use std::path::Path;

use super::positions::{PositionIndex, index_path, key_path};
use super::raw::{RawEntry, RawSpec};
use super::{
    Expect, Feature, Generate, Platform, Provider, SecretEntry, SecretSpec, SpecError, SpecProblem,
    names,
};

/// Most problems reported for one file; a file with more is reported as having more.
const MAX_PROBLEMS: usize = 100;

/// Collects problems against one file.
struct Problems<'a> {
    file: &'a Path,
    text: &'a str,
    /// Byte offset of each line's start, indexed once (looking lines up per problem was
    /// quadratic in big files).
    lines: Vec<usize>,
    index: PositionIndex,
    found: Vec<SpecProblem>,
    warnings: Vec<SpecProblem>,
}

impl<'a> Problems<'a> {
    fn at(
        &self,
        line: usize,
        column: usize,
        rule: &'static str,
        message: String,
        fix: String,
    ) -> SpecProblem {
        SpecProblem {
            file: self.file.to_owned(),
            line,
            column,
            rule,
            message,
            fix,
            source_line: self.line_text(line).map(|l| {
                l.chars()
                    .map(|c| if c.is_control() && c != '\t' { '\u{fffd}' } else { c })
                    .collect()
            }),
        }
    }

    /// The text of 1-based `line`, without its line break.
    fn line_text(&self, line: usize) -> Option<&str> {
        let start = *self.lines.get(line.checked_sub(1)?)?;
        let rest = self.text.get(start..)?;
        Some(rest.split('\n').next().unwrap_or(rest).trim_end_matches('\r'))
    }

    /// A problem with the value at `path`.
    fn value(&mut self, path: &str, rule: &'static str, message: String, fix: String) {
        let pos = self.index.value(path);
        let problem = self.at(pos.line, pos.column, rule, message, fix);
        self.found.push(problem);
    }

    /// A problem with the entry at `path` as a whole (e.g. a field missing from it).
    fn key(&mut self, path: &str, rule: &'static str, message: String, fix: String) {
        let pos = self.index.key(path);
        let problem = self.at(pos.line, pos.column, rule, message, fix);
        self.found.push(problem);
    }

    /// Free text from the vendor (descriptions, the deployment name, links, expected
    /// context and server) is shown in terminals and pasted into shells: a control character
    /// (a newline, an escape sequence that rewrites the clipboard) or a bidirectional override
    /// is refused. Surrounding whitespace (a folded scalar's final newline) is fine.
    fn free_text(&mut self, path: &str, what: &str, text: &str) {
        if let Some(bad) = text.trim().chars().find(|c| crate::text::is_hidden_control(*c)) {
            self.value(
                path,
                "control-character",
                format!("{what} contains the control character U+{:04X}", u32::from(bad)),
                "remove it; this text is shown in terminals and next to commands, so it must be plain text on one line (a folded scalar `>-` joins lines)".to_owned(),
            );
        }
    }

    /// Checks a `when:` at `path` against the declared features; `subject` says whose it is.
    fn features(
        &mut self,
        when: &Option<super::raw::FeatureList>,
        path: &str,
        subject: &str,
        known_features: &[&str],
    ) -> Vec<String> {
        let names: Vec<String> = when
            .as_ref()
            .map(|w| w.names().into_iter().map(str::to_owned).collect())
            .unwrap_or_default();
        for (n, feature) in names.iter().enumerate() {
            if known_features.contains(&feature.as_str()) {
                continue;
            }
            let at = match when {
                Some(super::raw::FeatureList::All(_)) => index_path(path, n),
                _ => path.to_owned(),
            };
            let fix = match closest(feature, known_features) {
                Some(best) => {
                    format!("did you mean `{best}`? Otherwise declare it under `features:`")
                }
                None if known_features.is_empty() => format!(
                    "declare it under `features:`, e.g. `features: {{ {feature}: {{ description: ..., default: false }} }}`"
                ),
                None => format!(
                    "declare it under `features:` (declared: {})",
                    known_features.join(", ")
                ),
            };
            self.value(
                &at,
                "unknown-feature",
                format!("{subject} depends on feature `{feature}`, which is not declared"),
                fix,
            );
        }
        names
    }

    fn warn(&mut self, path: &str, rule: &'static str, message: String, fix: String) {
        let pos = self.index.value(path);
        let problem = self.at(pos.line, pos.column, rule, message, fix);
        self.warnings.push(problem);
    }
}

pub(super) fn parse(bytes: &[u8], file: &Path) -> Result<SecretSpec, SpecError> {
    let text = text_of(bytes, file)?;
    let raw: RawSpec = match serde_saphyr::from_str(text) {
        Ok(raw) => raw,
        Err(e) => return Err(deserialize_problem(file, text, &e)),
    };
    let mut problems = Problems {
        file,
        text,
        lines: line_starts(text),
        index: PositionIndex::build(text),
        found: Vec::new(),
        warnings: Vec::new(),
    };
    let spec = resolve(raw, &mut problems);
    problems.found.sort_by_key(|p| (p.line, p.column));
    if problems.found.len() > MAX_PROBLEMS {
        let more = problems.found.len() - MAX_PROBLEMS;
        problems.found.truncate(MAX_PROBLEMS);
        let last = problems.found.last().map_or(1, |p| p.line);
        let note = problems.at(
            last,
            1,
            "too-many-problems",
            format!("{more} more problem{} not shown", if more == 1 { "" } else { "s" }),
            "fix the ones above and run `greenlight lint` again".to_owned(),
        );
        problems.found.push(note);
    }
    if problems.found.is_empty() {
        Ok(SecretSpec { warnings: problems.warnings, ..spec })
    } else {
        Err(SpecError::Invalid { problems: problems.found })
    }
}

/// Byte offsets where each line starts.
fn line_starts(text: &str) -> Vec<usize> {
    std::iter::once(0).chain(text.match_indices('\n').map(|(at, _)| at + 1)).collect()
}

/// The closest of `candidates` to `word`, if it is close enough to be a typo.
fn closest<'a>(word: &str, candidates: &[&'a str]) -> Option<&'a str> {
    candidates
        .iter()
        .map(|c| (strsim::levenshtein(word, c), *c))
        .filter(|(distance, c)| *distance <= (c.len() / 3).max(2))
        .min_by_key(|(distance, _)| *distance)
        .map(|(_, c)| c)
}

fn resolve(raw: RawSpec, p: &mut Problems<'_>) -> SecretSpec {
    let spec = resolve_spec(&raw, p);
    let environments = environments::resolve(&raw, &spec, p, resolve_spec);
    SecretSpec { environments, ..spec }
}

/// The spec as written, without its environments.
fn resolve_spec(raw: &RawSpec, p: &mut Problems<'_>) -> SecretSpec {
    if raw.version != 1 {
        p.value(
            "version",
            "unsupported-version",
            format!("spec version {} is not supported", raw.version),
            "this Greenlight reads version 1; set `version: 1` or update Greenlight".to_owned(),
        );
    }
    p.free_text("deployment", "the deployment name", &raw.deployment);
    if raw.deployment.trim().is_empty() {
        p.value(
            "deployment",
            "deployment-name",
            "the deployment name is empty".to_owned(),
            "give the deployment a short readable name, e.g. `acme-analytics`".to_owned(),
        );
    }
    let platforms = resolve_platforms(raw, p);
    let expect = resolve_expect(raw, p);
    let features = resolve_features(raw, p);
    let known: Vec<&str> = features.iter().map(|f| f.name.as_str()).collect();

    let delivered = delivery::resolve(raw, &platforms, &known, p);
    if raw.secrets.is_empty() && raw.values.is_empty() {
        p.value(
            "secrets",
            "no-secrets",
            "the spec lists no secrets".to_owned(),
            "add at least one entry under `secrets:` (or `values:` delivered by External Secrets)"
                .to_owned(),
        );
    }
    let mut first_seen = unique_values(raw, p);
    let mut entries = delivered.values;
    let mut placements_seen: HashMap<String, (String, String)> = delivered
        .target_labels
        .into_iter()
        .map(|(label, at)| (label, (at, "a target".to_owned())))
        .collect();
    for (i, entry) in raw.secrets.iter().enumerate() {
        let path = index_path("secrets", i);
        if let Some(first) = first_seen.get(&entry.name) {
            let line = p.index.value(&key_path(first, "name")).line;
            p.value(&key_path(&path, "name"), "duplicate-secret", format!("secret `{}` is listed twice (first on line {line})", entry.name), "give each entry a unique `name`; to place the same secret name in two namespaces, use two names and set `kubernetes.secret`".to_owned());
        } else {
            first_seen.insert(entry.name.clone(), path.clone());
        }
        let resolved = resolve_entry(raw, entry, &path, &platforms, &known, p);
        for (label, field) in placement_keys(&resolved) {
            if let Some((other, other_name)) = placements_seen.get(&label) {
                let line = p.index.value(other).line;
                p.key(&key_path(&path, field), "duplicate-placement", format!("`{}` and {other_name} (line {line}) both point at {label}", entry.name), "each entry needs its own place; change the name, namespace or region of one of them".to_owned());
            } else {
                placements_seen.insert(label, (path.clone(), format!("`{}`", entry.name)));
            }
        }
        entries.push(resolved);
    }
    delivery::credential_first(delivered.delivery.as_ref(), &mut entries, p);
    let rotate_every = raw
        .defaults
        .rotate_every
        .as_deref()
        .and_then(|every| rotation(every, "defaults.rotate_every", p));
    for entry in entries.iter_mut().filter(|e| e.rotate_every.is_none()) {
        entry.rotate_every = rotate_every;
    }

    SecretSpec {
        source: p.file.to_owned(),
        deployment: raw.deployment.clone(),
        platforms,
        expect,
        features,
        entries,
        delivery: delivered.delivery,
        warnings: Vec::new(),
        environments: Vec::new(),
        other_environments: super::OtherEnvironments::default(),
    }
}

/// Where each value is first declared (a name declared twice is a problem).
fn unique_values(raw: &RawSpec, p: &mut Problems<'_>) -> HashMap<String, String> {
    let mut first_seen: HashMap<String, String> = HashMap::new();
    for (i, value) in raw.values.iter().enumerate() {
        let path = index_path("values", i);
        if let Some(first) = first_seen.get(&value.name) {
            let line = p.index.value(&key_path(first, "name")).line;
            p.value(
                &key_path(&path, "name"),
                "duplicate-secret",
                format!("value `{}` is listed twice (first on line {line})", value.name),
                "give each value a unique `name`".to_owned(),
            );
        } else {
            first_seen.insert(value.name.clone(), path);
        }
    }
    first_seen
}

/// A rotation period such as `90d` or `12h`, or a problem at `at`.
fn rotation(every: &str, at: &str, p: &mut Problems<'_>) -> Option<std::time::Duration> {
    match humantime::parse_duration(every.trim()) {
        Ok(period) if !period.is_zero() => Some(period),
        Ok(_) | Err(_) => {
            p.value(
                at,
                "rotate-every",
                format!("`{every}` is not a rotation period"),
                "write a period such as `90d`, `30d` or `12h`".to_owned(),
            );
            None
        }
    }
}

/// The platforms the spec offers, each once.
fn resolve_platforms(raw: &RawSpec, p: &mut Problems<'_>) -> Vec<Platform> {
    let mut platforms = Vec::new();
    for (i, platform) in raw.platforms.iter().enumerate() {
        if platforms.contains(platform) {
            p.value(
                &index_path("platforms", i),
                "duplicate-platform",
                format!("platform `{}` is listed twice", platform.as_str()),
                "list each platform once".to_owned(),
            );
        } else {
            platforms.push(*platform);
        }
    }
    if platforms.is_empty() {
        p.value(
            "platforms",
            "no-platform",
            "the spec offers no platform".to_owned(),
            "list at least one: `platforms: [kubernetes]` or `platforms: [aws]`".to_owned(),
        );
    }
    platforms
}

/// The spec's optional features, with their names checked.
fn resolve_features(raw: &RawSpec, p: &mut Problems<'_>) -> Vec<Feature> {
    let mut features = Vec::new();
    for (name, feature) in &raw.features {
        if let Err(why) = names::identifier(name) {
            p.key(
                &key_path("features", name),
                "feature-name",
                format!("feature name `{name}` is invalid: {}", why.why),
                format!("rename the feature, e.g. `identity` or `dns.automate`; {}", why.rule),
            );
        }
        p.free_text(
            &key_path(&key_path("features", name), "description"),
            &format!("the description of feature `{name}`"),
            &feature.description,
        );
        features.push(Feature {
            name: name.clone(),
            description: feature.description.trim().to_owned(),
            default: feature.default,
        });
    }
    features
}

fn placement_keys(entry: &SecretEntry) -> Vec<(String, &'static str)> {
    let mut keys = Vec::new();
    if let Some(k) = &entry.kubernetes {
        keys.push((format!("Kubernetes Secret {}/{}", k.namespace, k.secret), "kubernetes"));
    }
    if let Some(a) = &entry.aws {
        let region = a.region.as_deref().unwrap_or("the profile region");
        keys.push((format!("{} {} in {region}", a.service.title(), a.name), "aws"));
    }
    keys
}

fn resolve_expect(raw: &RawSpec, p: &mut Problems<'_>) -> Expect {
    let context = raw.expect.kubernetes.context.clone();
    if let Some(context) = &context {
        p.free_text("expect.kubernetes.context", "the expected context", context);
    }
    if context.as_deref().is_some_and(str::is_empty) {
        p.value(
            "expect.kubernetes.context",
            "context-name",
            "the expected context is empty".to_owned(),
            "use the context name shown by `kubectl config get-contexts`".to_owned(),
        );
    }
    let server = raw.expect.kubernetes.server.clone();
    if let Some(url) = &server {
        p.free_text("expect.kubernetes.server", "the expected server", url);
    }
    if let Some(url) = &server
        && (!(url.starts_with("https://") || url.starts_with("http://"))
            || url.contains(char::is_whitespace))
    {
        p.value("expect.kubernetes.server", "server-url", format!("`{url}` is not an API server URL"), "use the URL from `kubectl config view --minify -o jsonpath='{.clusters[0].cluster.server}'`".to_owned());
    }
    let account = raw.expect.aws.account.clone();
    if let Some(account) = &account
        && let Err(why) = names::aws_account(account)
    {
        p.value(
            "expect.aws.account",
            "aws-account",
            format!("`{account}` is not an AWS account ID: {}", why.why),
            format!("use the Account from `aws sts get-caller-identity`; {}", why.rule),
        );
    }
    Expect { kubernetes_context: context, kubernetes_server: server, aws_account: account }
}

/// The fields a plain secret and a delivered value share.
pub(super) struct Common<'r> {
    pub name: &'r str,
    pub description: &'r str,
    pub required: bool,
    pub provided_by: Provider,
    pub when: &'r Option<super::raw::FeatureList>,
    pub docs: &'r Option<String>,
    pub generate: &'r Option<super::raw::RawGenerate>,
    pub rotate_every: &'r Option<String>,
}

impl<'r> Common<'r> {
    fn of_entry(entry: &'r RawEntry) -> Self {
        Self {
            name: &entry.name,
            description: &entry.description,
            required: entry.required,
            provided_by: entry.provided_by,
            when: &entry.when,
            docs: &entry.docs,
            generate: &entry.generate,
            rotate_every: &entry.rotate_every,
        }
    }
}

/// Checks the shared fields of the entry at `path` into an entry without placements.
fn resolve_common(
    entry: &Common<'_>,
    path: &str,
    known_features: &[&str],
    p: &mut Problems<'_>,
) -> SecretEntry {
    let name_path = key_path(path, "name");
    if let Err(why) = names::identifier(entry.name) {
        p.value(
            &name_path,
            "secret-name",
            format!("secret name `{}` is invalid: {}", entry.name, why.why),
            format!("use a short identifier such as `github-token`; {}", why.rule),
        );
    }
    p.free_text(
        &key_path(path, "description"),
        &format!("the description of secret `{}`", entry.name),
        entry.description,
    );
    if entry.description.trim().is_empty() {
        p.value(
            &key_path(path, "description"),
            "description",
            format!("secret `{}` has an empty description", entry.name),
            "say what the secret is for, e.g. \"GitHub Personal Access Token for CI\"".to_owned(),
        );
    }
    if entry.description.trim_start().starts_with("TODO") {
        p.warn(
            &key_path(path, "description"),
            "placeholder-description",
            format!("secret `{}` still has a placeholder description", entry.name),
            "say what the secret is for and where the operator gets it, e.g. \"GitHub Personal Access Token for CI\"".to_owned(),
        );
    }
    let when = p.features(
        entry.when,
        &key_path(path, "when"),
        &format!("secret `{}`", entry.name),
        known_features,
    );
    if let Some(docs) = entry.docs {
        p.free_text(&key_path(path, "docs"), "the documentation link", docs);
    }
    if let Some(docs) = entry.docs
        && (!(docs.starts_with("https://") || docs.starts_with("http://"))
            || docs.contains(char::is_whitespace)
            || docs.len() < 10)
    {
        p.value(
            &key_path(path, "docs"),
            "docs-link",
            format!("`{docs}` is not a web link"),
            "use a full https:// address".to_owned(),
        );
    }
    SecretEntry {
        name: entry.name.to_owned(),
        description: entry.description.trim().to_owned(),
        required: entry.required,
        provided_by: entry.provided_by,
        when,
        docs: entry.docs.clone(),
        kubernetes: None,
        aws: None,
        generate: resolve_generate(entry, path, p),
        delivered: None,
        rotate_every: entry
            .rotate_every
            .as_deref()
            .and_then(|every| rotation(every, &key_path(path, "rotate_every"), p)),
    }
}

fn resolve_entry(
    raw: &RawSpec,
    entry: &RawEntry,
    path: &str,
    platforms: &[Platform],
    known_features: &[&str],
    p: &mut Problems<'_>,
) -> SecretEntry {
    let name_ok = names::identifier(&entry.name).is_ok();
    let common = resolve_common(&Common::of_entry(entry), path, known_features, p);
    let kubernetes = if platforms.contains(&Platform::Kubernetes) {
        resolve_kubernetes(raw, entry, path, name_ok, p)
    } else {
        if entry.kubernetes.is_some() {
            p.key(&key_path(path, "kubernetes"), "undeclared-platform", format!("secret `{}` has a kubernetes placement but `platforms` does not list kubernetes", entry.name), "add `kubernetes` to `platforms`, or remove this placement".to_owned());
        }
        None
    };
    let aws = if platforms.contains(&Platform::Aws) {
        resolve_aws(raw, entry, path, name_ok, p)
    } else {
        if entry.aws.is_some() {
            p.key(
                &key_path(path, "aws"),
                "undeclared-platform",
                format!(
                    "secret `{}` has an aws placement but `platforms` does not list aws",
                    entry.name
                ),
                "add `aws` to `platforms`, or remove this placement".to_owned(),
            );
        }
        None
    };
    SecretEntry { kubernetes, aws, ..common }
}

fn resolve_generate(entry: &Common<'_>, path: &str, p: &mut Problems<'_>) -> Generate {
    let Some(generate) = entry.generate else { return Generate::default() };
    let at = key_path(path, "generate");
    if entry.provided_by != Provider::Generated {
        p.key(
            &at,
            "generate-without-generated",
            format!("secret `{}` has `generate` but is not `provided_by: generated`", entry.name),
            "set `provided_by: generated`, or remove `generate`".to_owned(),
        );
    }
    if !(16..=512).contains(&generate.bytes) {
        p.value(
            &key_path(&at, "bytes"),
            "generate-bytes",
            format!("{} random bytes is outside 16 to 512", generate.bytes),
            "use 32 unless the consumer needs another size".to_owned(),
        );
    }
    Generate { bytes: generate.bytes, encoding: generate.encoding }
}
