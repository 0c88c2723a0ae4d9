//! From bytes to a [`SecretSpec`]: decoding, deserializing, then checking every rule and
//! resolving defaults. Problems are collected (not stopped at the first) and positioned with
//! the [`PositionIndex`]. Over 600 lines: the per-entry rules share one `Problems` collector
//! and its positions; delivery's rules are already in `validate::delivery`. A split of the
//! name and placement rules is an open refactor (issue 20).

mod delivery;

use std::collections::HashMap;
use std::path::Path;

use super::positions::{PositionIndex, index_path, key_path};
use super::raw::{RawEntry, RawSpec};
use super::{
    AwsPlacement, AwsService, Expect, Feature, Generate, KubernetesPlacement, MAX_SPEC_BYTES,
    Platform, Provider, SecretEntry, SecretSpec, SpecError, SpecProblem, names,
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

fn single(
    file: &Path,
    text: &str,
    line: usize,
    column: usize,
    rule: &'static str,
    message: String,
    fix: String,
) -> SpecError {
    let problems = Problems {
        file,
        text,
        lines: line_starts(text),
        index: PositionIndex::default(),
        found: Vec::new(),
        warnings: Vec::new(),
    };
    SpecError::Invalid { problems: vec![problems.at(line, column, rule, message, fix)] }
}

pub(super) fn parse(bytes: &[u8], file: &Path) -> Result<SecretSpec, SpecError> {
    if bytes.len() as u64 > MAX_SPEC_BYTES {
        return Err(single(
            file,
            "",
            1,
            1,
            "file-too-large",
            format!("the file is larger than {} MiB", MAX_SPEC_BYTES / (1024 * 1024)),
            "a spec lists secrets by name and is a few kilobytes; check that this is the spec file"
                .to_owned(),
        ));
    }
    let text = match std::str::from_utf8(bytes) {
        Ok(text) => text,
        Err(e) => {
            let good = std::str::from_utf8(bytes.get(..e.valid_up_to()).unwrap_or_default())
                .unwrap_or_default();
            let (line, column) = line_column(good, good.len());
            return Err(single(
                file,
                "",
                line,
                column,
                "not-utf8",
                "the file is not UTF-8 text".to_owned(),
                "save the spec as UTF-8; if this is not a YAML or JSON spec, open the right file"
                    .to_owned(),
            ));
        }
    };
    if let Some(at) = text.find('\0') {
        let (line, column) = line_column(text, at);
        return Err(single(
            file,
            "",
            line,
            column,
            "binary-file",
            "the file contains a NUL byte, so it is not a text spec".to_owned(),
            "open the YAML or JSON spec file, not a binary".to_owned(),
        ));
    }
    let text = text.strip_prefix('\u{feff}').unwrap_or(text);
    if text.trim().is_empty() {
        return Err(single(
            file,
            text,
            1,
            1,
            "empty-file",
            "the spec file is empty".to_owned(),
            "start from an example: `greenlight schema` prints the format, and specs/examples/ has complete specs".to_owned(),
        ));
    }
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

/// 1-based line and column (in characters) of byte offset `at`.
fn line_column(text: &str, at: usize) -> (usize, usize) {
    let before = text.get(..at).unwrap_or(text);
    let line = before.matches('\n').count() + 1;
    let column = before.rsplit('\n').next().map_or(0, |l| l.chars().count()) + 1;
    (line, column)
}

fn deserialize_problem(file: &Path, text: &str, error: &serde_saphyr::Error) -> SpecError {
    let (line, column) = error
        .location()
        .map(|l| {
            (
                usize::try_from(l.line()).unwrap_or(1).max(1),
                usize::try_from(l.column()).unwrap_or(1).max(1),
            )
        })
        .unwrap_or((1, 1));
    let message = strip_location(&error.without_snippet().to_string());
    let (line, column) =
        if message.contains("tab") { the_tab(text, line, column) } else { (line, column) };
    let index = PositionIndex::build(text);
    let field = index.path_at(super::Position { line, column }).filter(|p| !p.is_empty());
    let (rule, message, fix) = classify(&message, field, PositionIndex::well_formed(text));
    single(file, text, line, column, rule, message, fix)
}

/// Where the tab a parser complains about really is: the parser may place the complaint just
/// after it, or at the end of the line before (a tab that starts the next line). The first
/// tab on the complaint's line, else the first one after it within two lines.
fn the_tab(text: &str, line: usize, column: usize) -> (usize, usize) {
    let start = line_starts(text).get(line.saturating_sub(1)).copied().unwrap_or(0);
    let this_line = text.get(start..).and_then(|rest| rest.split('\n').next()).unwrap_or("");
    let from = if this_line.contains('\t') {
        start
    } else {
        text.get(start..)
            .and_then(|rest| rest.char_indices().nth(column.saturating_sub(1)))
            .map_or(start, |(at, _)| start + at)
    };
    match text.get(from..).and_then(|rest| rest.find('\t')) {
        Some(at) => {
            let (tab_line, tab_column) = line_column(text, from + at);
            if tab_line <= line + 2 { (tab_line, tab_column) } else { (line, column) }
        }
        None => (line, column),
    }
}

/// Drops the trailing "at line X column Y" the parser appends; the position is shown anyway.
fn strip_location(message: &str) -> String {
    let first = message.lines().next().unwrap_or(message).trim();
    match first.rfind(" at line ") {
        Some(cut) => first.get(..cut).unwrap_or(first).to_owned(),
        None => first.to_owned(),
    }
}

/// Rule, message and fix for a deserializer error. `field` is the path at the error's position;
/// `well_formed` tells a type error in valid YAML from broken YAML.
fn classify(
    message: &str,
    field: Option<&str>,
    well_formed: bool,
) -> (&'static str, String, String) {
    let schema = "`greenlight schema` describes every field";
    if let Some(rest) = message.strip_prefix("unknown field `") {
        let name = rest.split('`').next().unwrap_or_default();
        let allowed: Vec<&str> = rest
            .split_once("expected one of ")
            .map(|(_, list)| list.split(", ").collect())
            .unwrap_or_default();
        let fix = match closest(name, &allowed) {
            Some(best) => format!("did you mean `{best}`? Allowed here: {}", allowed.join(", ")),
            None if allowed.is_empty() => format!("remove `{name}`"),
            None => format!(
                "remove `{name}` or correct its spelling; allowed here: {}",
                allowed.join(", ")
            ),
        };
        let subject = field.map(|f| format!(" in `{f}`")).unwrap_or_default();
        return ("unknown-field", format!("unknown field `{name}`{subject}"), fix);
    }
    if let Some(rest) = message.strip_prefix("missing field `") {
        let name = rest.split('`').next().unwrap_or_default();
        return (
            "missing-field",
            format!("required field `{name}` is missing here"),
            format!("add `{name}:`; {schema}"),
        );
    }
    let subject = field.map(|f| format!("`{f}`: ")).unwrap_or_default();
    if message.starts_with("unknown variant") {
        return (
            "unknown-value",
            format!("{subject}{message}"),
            "use one of the values listed".to_owned(),
        );
    }
    if message.contains("duplicate") {
        let message = message.split(", set ").next().unwrap_or(message);
        return (
            "duplicate-key",
            message.to_owned(),
            "each key may appear once per mapping; remove one of them".to_owned(),
        );
    }
    if well_formed {
        let fix = if message.contains("boolean") {
            "write `true` or `false`".to_owned()
        } else {
            format!(
                "write a value of the expected type (quote text that looks like a number, e.g. \"123456789012\"); {schema}"
            )
        };
        return ("wrong-type", format!("{subject}{message}"), fix);
    }
    let fix = if message.contains("tab") {
        "replace the tab with spaces: YAML indents with spaces only"
    } else {
        "fix the YAML syntax here: indentation, a missing ':', or an unclosed quote or bracket"
    };
    ("yaml-syntax", message.to_owned(), fix.to_owned())
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

    let expect = resolve_expect(&raw, p);
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
    let known: Vec<&str> = features.iter().map(|f| f.name.as_str()).collect();

    let delivered = delivery::resolve(&raw, &platforms, &known, p);
    if raw.secrets.is_empty() && raw.values.is_empty() {
        p.value(
            "secrets",
            "no-secrets",
            "the spec lists no secrets".to_owned(),
            "add at least one entry under `secrets:` (or `values:` delivered by External Secrets)"
                .to_owned(),
        );
    }
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
        let resolved = resolve_entry(&raw, entry, &path, &platforms, &known, p);
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

    SecretSpec {
        source: p.file.to_owned(),
        deployment: raw.deployment.clone(),
        platforms,
        expect,
        features,
        entries,
        delivery: delivered.delivery,
        warnings: Vec::new(),
    }
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

/// `name_ok` is false when the entry's name was already reported invalid, so a placement name
/// derived from it is not reported a second time.
fn resolve_kubernetes(
    raw: &RawSpec,
    entry: &RawEntry,
    path: &str,
    name_ok: bool,
    p: &mut Problems<'_>,
) -> Option<KubernetesPlacement> {
    let at = key_path(path, "kubernetes");
    let given = entry.kubernetes.clone().unwrap_or_default();
    let defaults = &raw.defaults.kubernetes;
    let namespace = match (&given.namespace, &defaults.namespace) {
        (Some(ns), _) => (ns.clone(), key_path(&at, "namespace")),
        (None, Some(ns)) => (ns.clone(), "defaults.kubernetes.namespace".to_owned()),
        (None, None) => {
            let whole = if entry.kubernetes.is_some() { at.clone() } else { path.to_owned() };
            p.key(&whole, "missing-placement", format!("secret `{}` has no Kubernetes namespace", entry.name), "add `kubernetes: { namespace: ... }` to the secret, or set `defaults.kubernetes.namespace`".to_owned());
            return None;
        }
    };
    if let Err(why) = names::kubernetes_namespace(&namespace.0) {
        p.value(
            &namespace.1,
            "kubernetes-namespace",
            format!("`{}` is not a valid Kubernetes namespace: {}", namespace.0, why.why),
            format!("use `{}`; {}", names::kubernetes_suggestion(&namespace.0), why.rule),
        );
    }
    let (secret, secret_at) = match &given.secret {
        Some(s) => (s.clone(), key_path(&at, "secret")),
        None => (
            format!("{}{}", defaults.name_prefix.as_deref().unwrap_or_default(), entry.name),
            key_path(path, "name"),
        ),
    };
    let derived = given.secret.is_none();
    match names::kubernetes_secret(&secret) {
        Err(_) if derived && !name_ok => {}
        Err(why) => {
            let suggestion = names::kubernetes_suggestion(&secret);
            let fix = if derived {
                format!(
                    "set `kubernetes: {{ secret: {suggestion} }}` or rename the entry; {}",
                    why.rule
                )
            } else {
                format!("use `{suggestion}`; {}", why.rule)
            };
            p.value(
                &secret_at,
                "kubernetes-secret-name",
                format!("`{secret}` is not a valid Kubernetes Secret name: {}", why.why),
                fix,
            );
        }
        Ok(()) => {}
    }
    let mut keys: Vec<String> = Vec::new();
    for (n, key) in given.keys.iter().enumerate() {
        let key_at = index_path(&key_path(&at, "keys"), n);
        if let Err(why) = names::kubernetes_key(key) {
            p.value(
                &key_at,
                "kubernetes-key",
                format!("`{key}` is not a valid data key: {}", why.why),
                format!("rename the key; {}", why.rule),
            );
        } else if keys.contains(key) {
            p.value(
                &key_at,
                "duplicate-key",
                format!("data key `{key}` is listed twice"),
                "list each key once".to_owned(),
            );
        } else {
            keys.push(key.clone());
        }
    }
    if given.keys.is_empty() && entry.provided_by != Provider::Vendor {
        let whole = if entry.kubernetes.is_some() { at.clone() } else { path.to_owned() };
        p.key(
            &whole,
            "missing-keys",
            format!(
                "secret `{}` lists no data keys, so no create command can be given",
                entry.name
            ),
            "add `keys: [...]` with the key names the workload reads, e.g. `keys: [token]`"
                .to_owned(),
        );
    }
    if let Some(kind) = &given.secret_type
        && let Err(why) = names::kubernetes_secret_type(kind)
    {
        p.value(
            &key_path(&at, "type"),
            "kubernetes-secret-type",
            format!("`{kind}` is not a Secret type: {}", why.why),
            why.rule.to_owned(),
        );
    }
    Some(KubernetesPlacement {
        namespace: namespace.0,
        secret,
        keys,
        secret_type: given.secret_type.clone(),
    })
}

fn resolve_aws(
    raw: &RawSpec,
    entry: &RawEntry,
    path: &str,
    name_ok: bool,
    p: &mut Problems<'_>,
) -> Option<AwsPlacement> {
    let at = key_path(path, "aws");
    let given = entry.aws.clone().unwrap_or_default();
    let defaults = &raw.defaults.aws;
    let Some(service) = given.service.or(defaults.service) else {
        let whole = if entry.aws.is_some() { at.clone() } else { path.to_owned() };
        p.key(&whole, "missing-placement", format!("secret `{}` has no AWS service", entry.name), "add `aws: { service: secrets-manager }` (or `parameter-store`) to the secret, or set `defaults.aws.service`".to_owned());
        return None;
    };
    let (name, name_at) = match &given.name {
        Some(n) => (n.clone(), key_path(&at, "name")),
        None => (
            format!("{}{}", defaults.name_prefix.as_deref().unwrap_or_default(), entry.name),
            key_path(path, "name"),
        ),
    };
    let checked = match service {
        AwsService::SecretsManager => names::secrets_manager_name(&name),
        AwsService::ParameterStore => names::parameter_store_name(&name),
    };
    match checked {
        Err(_) if !name_ok && given.name.is_none() => {}
        Err(why) => {
            let fix = match service {
                AwsService::ParameterStore if name.contains('/') && !name.starts_with('/') => {
                    format!("use `/{name}`")
                }
                _ => format!("rename it; {}", why.rule),
            };
            p.value(
                &name_at,
                "aws-name",
                format!("`{name}` is not a valid {} name: {}", service.title(), why.why),
                fix,
            );
        }
        Ok(())
            if service == AwsService::SecretsManager
                && names::secrets_manager_name_looks_suffixed(&name) =>
        {
            p.warn(&name_at, "aws-name-suffix", format!("`{name}` ends in '-' and six characters, like the random suffix of a secret ARN"), "AWS advises against such names because partial ARNs become ambiguous; consider another name".to_owned());
        }
        Ok(()) => {}
    }
    let region = match (&given.region, &defaults.region) {
        (Some(r), _) => Some((r.clone(), key_path(&at, "region"))),
        (None, Some(r)) => Some((r.clone(), "defaults.aws.region".to_owned())),
        (None, None) => None,
    };
    if let Some((region, region_at)) = &region
        && let Err(why) = names::aws_region(region)
    {
        p.value(
            region_at,
            "aws-region",
            format!("`{region}` is not an AWS region: {}", why.why),
            why.rule.to_owned(),
        );
    }
    if let Some(key) = &given.kms_key
        && let Err(why) = names::kms_key(key)
    {
        p.value(
            &key_path(&at, "kms_key"),
            "kms-key",
            format!("`{key}` is not a KMS key reference: {}", why.why),
            why.rule.to_owned(),
        );
    }
    Some(AwsPlacement {
        service,
        name,
        region: region.map(|r| r.0),
        kms_key: given.kms_key.clone(),
    })
}
