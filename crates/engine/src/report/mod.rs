//! The status report: one row per secret with its state, location and hints, never a value.
//! Rendered as text (the CLI), JSON (scripts and the vendor) and Markdown (the vendor).

use serde::Serialize;

mod matrix;

pub use matrix::{Cell, Environment, MatrixReport, MatrixRow};

use crate::commands::{Shell, Target};
use crate::detect::delivery::{RootCause, root_cause};
use crate::detect::{CheckOutcome, ConnectionStatus, Permission, Progress, Selection, State};
use crate::diagnose::{Hint, Shown};
use crate::spec::{Group, SecretEntry, SecretSpec};
use crate::text::one_line;

/// Appends one formatted line to a `String`.
macro_rules! put {
    ($out:expr, $($arg:tt)*) => {{
        $out.push_str(&format!($($arg)*));
        $out.push('\n');
    }};
}

/// A redacted status report.
#[derive(Debug, Clone, PartialEq, Eq, Serialize)]
pub struct CheckReport {
    /// The deployment's name.
    pub deployment: String,
    /// The platform checked.
    pub platform: &'static str,
    /// True when every secret that blocks readiness is present.
    pub ready: bool,
    /// One row per secret, in spec order.
    pub secrets: Vec<ReportRow>,
    /// Where the check ran (context, cluster, user; or account, profile, region) and warnings.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub connection: Option<ConnectionStatus>,
    /// The one broken part several values wait on (External Secrets, the store, its
    /// credential), told once.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub root_cause: Option<RootCause>,
    /// Counts behind `ready`.
    #[serde(skip)]
    pub progress: Progress,
}

/// One secret in a report.
#[derive(Debug, Clone, PartialEq, Eq, Serialize)]
pub struct ReportRow {
    /// The entry's name.
    pub name: String,
    /// Whether the spec marks it required.
    pub required: bool,
    /// Its state.
    pub state: State,
    /// Where it must live.
    pub location: String,
    /// Advice, with commands written for the report's shell and target.
    pub hints: Vec<ReportHint>,
    /// The checklist group.
    pub group: Group,
    /// What it is for.
    pub description: String,
    /// The detail behind the state (why unreachable, where found instead, ...).
    #[serde(skip_serializing_if = "Option::is_none")]
    pub detail: Option<String>,
    /// Set when the state is the last known one and the backend cannot be asked now: why.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub stale: Option<String>,
    /// Whether readiness waits for it with the current selection.
    pub blocks_readiness: bool,
    /// For a secret still to create or fix: whether the operator may create it.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub can_create: Option<Permission>,
    /// Why `can_create` says what it says.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub can_create_reason: Option<String>,
    /// For a value delivered by External Secrets: each hop of its chain with its own state.
    #[serde(skip_serializing_if = "Vec::is_empty")]
    pub hops: Vec<crate::detect::delivery::Hop>,
    /// When the value last changed (RFC 3339), where its backend says so without a value.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub changed_at: Option<String>,
    /// For a Kubernetes Secret: when a watch saw it change (RFC 3339). Kubernetes keeps no
    /// last-change time, so this is only known for changes made while Greenlight watched, and
    /// it is any change (data, labels, annotations), never used for `due`.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub change_seen_at: Option<String>,
    /// The spec's rotation period for it, e.g. `90days`.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub rotate_every: Option<String>,
    /// With `rotate_every`, for a present value: whether it last changed longer ago; absent
    /// when its age cannot be known value-free.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub due: Option<bool>,
}

impl ReportRow {
    /// `entry`'s row: its outcome with hints written for `writing`, and the rotate command
    /// when it is due for rotation.
    fn of(
        entry: &SecretEntry,
        outcome: &CheckOutcome,
        selection: &Selection,
        writing: &Writing,
    ) -> Self {
        let changed_at =
            outcome.changed_at.map(|at| humantime::format_rfc3339_seconds(at).to_string());
        let rotate_every = entry.rotate_every.map(period);
        let due = due(entry, outcome, std::time::SystemTime::now());
        let mut hints = outcome.hints.clone();
        if due == Some(true) {
            hints.push(Hint::entry(
                format!(
                    "Due for rotation: it last changed {}, and the spec says rotate every {}. Replace it in place:",
                    changed_at.as_deref().unwrap_or("long ago"),
                    rotate_every.as_deref().unwrap_or_default()
                ),
                crate::commands::CommandKind::Rotate,
            ));
        }
        Self {
            name: entry.name.clone(),
            required: entry.required,
            state: outcome.presence.state(),
            location: entry.placement(selection.platform).map(|p| p.describe()).unwrap_or_default(),
            hints: written(&hints, entry, selection, writing),
            group: entry.group(),
            description: entry.description.clone(),
            detail: outcome.presence.detail().map(str::to_owned),
            stale: outcome.stale.clone(),
            blocks_readiness: selection.blocks_readiness(entry),
            can_create: outcome.write.as_ref().map(|w| w.can_create),
            can_create_reason: outcome.write.as_ref().map(|w| w.reason.clone()),
            hops: outcome.hops.clone(),
            changed_at,
            change_seen_at: outcome
                .change_seen_at
                .map(|at| humantime::format_rfc3339_seconds(at).to_string()),
            rotate_every,
            due,
        }
    }
}

impl ReportRow {
    /// How old the value is, in words, where that can be known value-free.
    fn age(&self) -> Option<String> {
        match (&self.changed_at, self.due, &self.rotate_every, &self.change_seen_at) {
            (Some(at), Some(true), Some(every), _) => {
                Some(format!("due for rotation: last changed {at}, rotate every {every}"))
            }
            (Some(at), _, _, _) => Some(format!("last changed {at}")),
            (None, _, _, Some(seen)) => Some(format!(
                "created or changed at {seen}, seen while watching (Kubernetes keeps no last-change time)"
            )),
            (None, _, Some(_), None) if self.state == State::Present => Some(
                "age not known: the backend keeps no last-change time Greenlight can read without the value"
                    .to_owned(),
            ),
            _ => None,
        }
    }
}

/// One piece of advice as the report shows it.
#[derive(Debug, Clone, PartialEq, Eq, Serialize)]
pub struct ReportHint {
    /// What was found and what to do.
    pub text: String,
    /// What to copy, written for the report's shell and target.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub command: Option<String>,
}

/// How a report writes its commands: for which shell, pointing where.
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct Writing {
    /// Where commands point (kubeconfig, context, profile, region).
    pub target: Target,
    /// The shell they are written for.
    pub shell: Shell,
}

/// How a check ended, for exit codes.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Verdict {
    /// Every blocking secret is present.
    Ready,
    /// At least one blocking secret is known to be missing or wrong.
    Missing,
    /// Nothing known missing, but some blocking secret could not be checked.
    Unknown,
}

impl CheckReport {
    /// Builds the report from one outcome per entry (in spec order).
    pub fn build(
        spec: &SecretSpec,
        selection: &Selection,
        outcomes: &[CheckOutcome],
        writing: &Writing,
    ) -> Self {
        let secrets: Vec<ReportRow> = spec
            .entries
            .iter()
            .zip(outcomes)
            .map(|(entry, outcome)| ReportRow::of(entry, outcome, selection, writing))
            .collect();
        let progress = Progress::of(spec, selection, outcomes.iter().map(Some));
        Self {
            deployment: spec.deployment.clone(),
            platform: selection.platform.as_str(),
            ready: progress.ready(),
            secrets,
            connection: None,
            root_cause: root_cause(spec, outcomes.iter().map(Some)),
            progress,
        }
    }

    /// Ready, missing, or unknown.
    pub fn verdict(&self) -> Verdict {
        let blocking = || self.secrets.iter().filter(|r| r.blocks_readiness);
        if self.ready {
            Verdict::Ready
        } else if blocking()
            .any(|r| matches!(r.state, State::Missing | State::FoundElsewhere | State::Wrong))
        {
            Verdict::Missing
        } else {
            Verdict::Unknown
        }
    }

    /// "3 of 5 required secrets present", and how many could not be re-checked.
    pub fn progress(&self) -> String {
        self.progress.text()
    }

    /// Pretty JSON.
    pub fn to_json(&self) -> String {
        serde_json::to_string_pretty(self).unwrap_or_default()
    }

    /// Plain text for a terminal.
    pub fn to_text(&self) -> String {
        let mut out = String::new();
        let verdict = if self.ready { "READY" } else { "not ready" };
        put!(
            out,
            "{} on {}: {verdict} ({})",
            one_line(&self.deployment),
            self.platform,
            self.progress()
        );
        if let Some(connection) = &self.connection {
            out.push_str(&connection.to_text());
        }
        if let Some(root) = &self.root_cause {
            put!(out, "\n{}", one_line(&root.headline()));
            put!(out, "  {}", one_line(&root.detail));
            if let Some(first) = &root.first {
                put!(out, "  Fix first: {}", one_line(first));
            }
        }
        for (group, rows) in self.groups() {
            put!(out, "\n{}", group.title());
            for row in rows {
                put!(
                    out,
                    "  {} {:<15} {}  ({})",
                    row.state.symbol(),
                    row.state.as_str(),
                    one_line(&row.name),
                    one_line(&row.location)
                );
                put!(out, "      {}", one_line(&row.description));
                if let Some(detail) = &row.detail {
                    put!(out, "      {}", one_line(detail));
                }
                if let Some(stale) = &row.stale {
                    put!(out, "      (stale: {})", one_line(stale));
                }
                if let Some(age) = row.age() {
                    put!(out, "      {age}");
                }
                if let (Some(can), Some(reason)) = (row.can_create, &row.can_create_reason) {
                    put!(out, "      can create: {}: {}", can.as_str(), one_line(reason));
                }
                for hop in &row.hops {
                    let detail = match hop.detail.as_deref() {
                        _ if hop.root_cause => ": the one cause above".to_owned(),
                        Some(d) => format!(": {}", one_line(d)),
                        None => String::new(),
                    };
                    put!(
                        out,
                        "      {} {:<18} {}{detail}",
                        if hop.state.passes() { "✓" } else { "·" }, // terminal text
                        hop.state.as_str(),
                        one_line(&hop.location)
                    );
                }
                for hint in &row.hints {
                    put!(out, "      → {}", one_line(&hint.text)); // terminal text
                    if let Some(command) = &hint.command {
                        for line in command.lines() {
                            put!(out, "          {line}");
                        }
                    }
                }
            }
        }
        out
    }

    /// Markdown for the vendor.
    pub fn to_markdown(&self) -> String {
        let mut out = String::new();
        put!(out, "# {}: secret status on {}\n", self.deployment, self.platform);
        let verdict = if self.ready { "**Ready**" } else { "**Not ready**" };
        put!(
            out,
            "{verdict}: {}. No secret values are included in this report.\n",
            self.progress()
        );
        let stale = self.secrets.iter().filter(|r| r.stale.is_some()).count();
        if stale > 0 {
            put!(
                out,
                "**{stale} secret{} could not be re-checked** when this report was made; {} shown in its last known state, marked *(stale)*.\n",
                if stale == 1 { "" } else { "s" },
                if stale == 1 { "it is" } else { "they are" }
            );
        }
        if let Some(root) = &self.root_cause {
            let first =
                root.first.as_ref().map(|f| format!(" Fix `{f}` first.")).unwrap_or_default();
            put!(
                out,
                "**{}**: {}.{first}\n",
                markdown_cell(&root.headline()),
                markdown_cell(&root.detail)
            );
        }
        for (group, rows) in self.groups() {
            put!(out, "## {}\n", group.title());
            put!(out, "| State | Secret | Location | Detail |");
            put!(out, "|---|---|---|---|");
            for row in rows {
                let can_create = row
                    .can_create
                    .zip(row.can_create_reason.as_deref())
                    .map(|(can, why)| format!("can create: {} ({why})", can.as_str()));
                let age = row.age();
                let detail = [
                    row.detail.as_deref(),
                    row.stale.as_deref(),
                    can_create.as_deref(),
                    age.as_deref(),
                ]
                .into_iter()
                .flatten()
                .collect::<Vec<_>>()
                .join("; ");
                let stale = if row.stale.is_some() { " *(stale)*" } else { "" };
                put!(
                    out,
                    "| {} {}{stale} | `{}` | {} | {} |",
                    row.state.symbol(),
                    row.state.as_str(),
                    row.name,
                    markdown_cell(&row.location),
                    markdown_cell(&detail)
                );
            }
            out.push('\n');
        }
        out
    }

    fn groups(&self) -> Vec<(Group, Vec<&ReportRow>)> {
        let mut groups: Vec<(Group, Vec<&ReportRow>)> = Vec::new();
        for group in Group::ALL {
            let rows: Vec<&ReportRow> = self.secrets.iter().filter(|r| r.group == group).collect();
            if !rows.is_empty() {
                groups.push((group, rows));
            }
        }
        groups
    }
}

/// A rotation period as a spec writes it: `90d`, `12h`, `30m` or `45s`.
pub fn period(every: std::time::Duration) -> String {
    let secs = every.as_secs();
    match secs {
        s if s >= 86_400 && s % 86_400 == 0 => format!("{}d", s / 86_400),
        s if s >= 3_600 && s % 3_600 == 0 => format!("{}h", s / 3_600),
        s if s >= 60 && s % 60 == 0 => format!("{}m", s / 60),
        s => format!("{s}s"),
    }
}

/// With a rotation period, for a present value whose backend says when it last changed:
/// whether that is longer ago than the period.
pub fn due(
    entry: &SecretEntry,
    outcome: &CheckOutcome,
    now: std::time::SystemTime,
) -> Option<bool> {
    let every = entry.rotate_every?;
    if outcome.presence != crate::detect::Presence::Present {
        return None;
    }
    let changed = outcome.changed_at?;
    Some(now.duration_since(changed).is_ok_and(|age| age > every))
}

/// `hints` with their fixes written for `writing`'s shell and target. A fix that cannot be
/// written safely is left out, and its hint says so.
fn written(
    hints: &[Hint],
    entry: &SecretEntry,
    selection: &Selection,
    writing: &Writing,
) -> Vec<ReportHint> {
    let at = Shown {
        entry,
        platform: selection.platform,
        target: &writing.target,
        shell: writing.shell,
        features: &selection.features,
    };
    hints
        .iter()
        .map(|hint| match hint.fix.as_ref().map(|fix| fix.render(&at)) {
            Some(Err(error)) => ReportHint {
                text: format!("{} (the command cannot be written safely: {error})", hint.text),
                command: None,
            },
            Some(Ok(command)) => ReportHint { text: hint.text.clone(), command },
            None => ReportHint { text: hint.text.clone(), command: None },
        })
        .collect()
}

fn markdown_cell(text: &str) -> String {
    one_line(&text.replace('|', "\\|").replace('\n', " ")).into_owned()
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::detect::Presence;
    use crate::spec::parse_bytes;

    const SPEC: &str = "version: 1\ndeployment: t\nplatforms: [kubernetes]\ndefaults: { kubernetes: { namespace: ns } }\nsecrets:\n  - { name: a, description: A, kubernetes: { keys: [k] } }\n  - { name: b, description: B, kubernetes: { keys: [k] } }\n  - { name: v, description: V, provided_by: vendor, kubernetes: { keys: [k] } }\n";

    fn verdict(a: Presence, b: Presence) -> (Verdict, String) {
        let spec = parse_bytes(SPEC.as_bytes(), "t.yaml".as_ref()).unwrap();
        let selection = Selection::defaults(&spec);
        let outcomes =
            [CheckOutcome::now(a), CheckOutcome::now(b), CheckOutcome::now(Presence::Missing)];
        let report = CheckReport::build(&spec, &selection, &outcomes, &Writing::default());
        (report.verdict(), report.progress())
    }

    #[test]
    fn verdicts_follow_blocking_rows_only() {
        let unreachable = || Presence::Unreachable { reason: "down".into() };
        assert_eq!(
            verdict(Presence::Present, Presence::Present),
            (Verdict::Ready, "2 of 2 required secrets present".into())
        );
        assert_eq!(verdict(Presence::Present, Presence::Missing).0, Verdict::Missing);
        assert_eq!(verdict(unreachable(), Presence::Missing).0, Verdict::Missing);
        assert_eq!(verdict(Presence::Present, unreachable()).0, Verdict::Unknown);
        assert_eq!(
            verdict(Presence::Forbidden { permission: "get".into() }, Presence::Present).0,
            Verdict::Unknown
        );
        assert_eq!(
            verdict(Presence::Wrong { reason: "x".into() }, Presence::Present).0,
            Verdict::Missing
        );
    }

    #[test]
    fn a_stale_row_is_never_counted_as_present() {
        let spec = parse_bytes(SPEC.as_bytes(), "t.yaml".as_ref()).unwrap();
        let selection = Selection::defaults(&spec);
        let mut stale = CheckOutcome::now(Presence::Present);
        stale.stale = Some("last known state; the API server did not answer within 10 s".into());
        let outcomes =
            [CheckOutcome::now(Presence::Present), stale, CheckOutcome::now(Presence::Missing)];
        let report = CheckReport::build(&spec, &selection, &outcomes, &Writing::default());
        assert!(!report.ready);
        assert_eq!(report.verdict(), Verdict::Unknown);
        assert_eq!(report.progress(), "1 of 2 required secrets present; 1 could not be re-checked");
        let markdown = report.to_markdown();
        assert!(markdown.contains("**Not ready**"), "{markdown}");
        assert!(markdown.contains("**1 secret could not be re-checked**"), "{markdown}");
        assert!(
            markdown.contains("| ✓ present *(stale)* | `b` | Secret ns/b | last known state; the API server did not answer within 10 s |"),
            "{markdown}"
        );
    }

    #[test]
    fn markdown_has_a_row_per_secret_and_no_values() {
        let spec = parse_bytes(SPEC.as_bytes(), "t.yaml".as_ref()).unwrap();
        let selection = Selection::defaults(&spec);
        let outcomes: Vec<CheckOutcome> =
            spec.entries.iter().map(|_| CheckOutcome::now(Presence::Present)).collect();
        let markdown =
            CheckReport::build(&spec, &selection, &outcomes, &Writing::default()).to_markdown();
        assert!(markdown.contains("**Ready**: 2 of 2 required secrets present."), "{markdown}");
        assert!(markdown.contains("| ✓ present | `a` | Secret ns/a |  |"), "{markdown}");
        assert!(markdown.contains("## Provided by the vendor"), "{markdown}");
    }
}
