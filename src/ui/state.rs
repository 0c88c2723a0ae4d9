//! Plain data the window is drawn from: the spec, one row per entry, where the operator is
//! connected, and what happened. Engine events are folded in here; nothing here does I/O.

use std::collections::VecDeque;
use std::path::PathBuf;
use std::sync::Arc;
use std::time::{Instant, SystemTime};

use serde::{Deserialize, Serialize};

use crate::commands::{Shell, Target};
use crate::detect::delivery::{RootCause, root_cause};
use crate::detect::{
    CheckOutcome, ConnectionStatus, MonitorEvent, Presence, Progress, Selection, State,
    command_target,
};
use crate::report::{CheckReport, Writing};
use crate::spec::{Group, Platform, SecretSpec};

/// One entry's live state.
#[derive(Debug, Clone, Default)]
pub struct RowState {
    /// The latest outcome, once known.
    pub outcome: Option<CheckOutcome>,
    /// When the state last changed.
    pub since: Option<Instant>,
    /// When the operator last copied a command for it.
    pub copied_at: Option<Instant>,
}

impl RowState {
    /// The state to show: `checking` until the first answer.
    pub fn state(&self) -> State {
        self.outcome.as_ref().map_or(State::Checking, |o| o.presence.state())
    }
}

/// A line of the activity log.
#[derive(Debug, Clone)]
pub struct LogLine {
    /// When.
    pub at: SystemTime,
    /// What happened.
    pub text: String,
}

/// What the operator chose, remembered between runs.
#[derive(Debug, Clone, Default, Serialize, Deserialize, PartialEq, Eq)]
pub struct Preferences {
    /// Recently opened specs, newest first.
    pub recent: Vec<PathBuf>,
    /// The last spec open.
    pub last_spec: Option<PathBuf>,
    /// Shell for commands: false for POSIX, true for PowerShell.
    pub powershell: bool,
    /// kubeconfig context, when not the current one.
    pub context: Option<String>,
    /// AWS profile, when not the default.
    pub profile: Option<String>,
    /// AWS region override.
    pub region: Option<String>,
    /// The environments compared, per spec file.
    #[serde(default)]
    pub compare: std::collections::BTreeMap<String, Vec<crate::ui::compare::Choice>>,
}

/// Everything the window shows.
#[derive(Debug, Default)]
pub struct AppState {
    /// The spec file.
    pub spec_path: Option<PathBuf>,
    /// The kubeconfig file given at start, when not the default one.
    pub kubeconfig: Option<PathBuf>,
    /// Set when the cluster is Greenlight's own sandbox (`greenlight demo`): what it is.
    pub sandbox: Option<String>,
    /// The loaded spec (the last good one while the file has errors).
    pub spec: Option<Arc<SecretSpec>>,
    /// Why the spec file cannot be used, with positions.
    pub spec_error: Option<String>,
    /// Platform, features, skips.
    pub selection: Option<Selection>,
    /// One per entry.
    pub rows: Vec<RowState>,
    /// Where the probe is connected.
    pub connection: Option<ConnectionStatus>,
    /// A round is in flight.
    pub checking: bool,
    /// How far the round in flight is: rows decided of rows asked.
    pub progress: Option<(usize, usize)>,
    /// When the last round finished.
    pub last_round_at: Option<SystemTime>,
    /// Every required secret is present.
    pub ready: bool,
    /// The entry whose details are shown.
    pub selected: Option<usize>,
    /// Row filter text.
    pub filter: String,
    /// Shell commands are written for.
    pub shell: Shell,
    /// Activity, newest last (at most 200 lines).
    pub log: VecDeque<LogLine>,
    /// Whether the log is shown.
    pub show_log: bool,
    /// kubeconfig contexts and the current one.
    pub contexts: Vec<String>,
    /// AWS profiles.
    pub profiles: Vec<String>,
    /// Preferences choices.
    pub remembered: Preferences,
    /// A short message, e.g. "Copied"; shown for a few seconds.
    pub notice: Option<(String, Instant)>,
    /// The region field being edited.
    pub region_draft: String,
    /// The path field, shown (with what is typed) when no file chooser could open.
    pub path_entry: Option<String>,
    /// Whether the row to start with was chosen for this spec (once, after its first round).
    pub start_chosen: bool,
    /// The manifests field of "New spec from manifests…", while shown.
    pub manifests_entry: Option<String>,
    /// A spec drafted from manifests, not saved yet.
    pub draft: Option<DraftShown>,
    /// Why the last draft failed.
    pub draft_error: Option<String>,
    /// "Compare environments", while shown.
    pub compare: Option<crate::ui::compare::Compare>,
    /// The spec as read from its file, with every environment it declares.
    pub written: Option<Arc<SecretSpec>>,
    /// The declared environment the checklist shows (`None`: the spec as written).
    pub environment: Option<String>,
}

/// A spec drafted from manifests, shown for review before it is saved.
#[derive(Debug, Clone)]
pub struct DraftShown {
    /// The manifests it was drafted from.
    pub source: std::path::PathBuf,
    /// The spec's text.
    pub text: String,
    /// What was found, a line each.
    pub summary: Vec<String>,
    /// Places only the vendor can fill in (placeholder descriptions and fields).
    pub todo: usize,
}

/// Whether the filter text (lower case) finds `entry`: by its name or description, or by where
/// it lives on the chosen platform (namespace, Secret, backend key, the target Secrets and
/// ExternalSecrets that deliver it).
fn matches_filter(
    entry: &crate::spec::SecretEntry,
    platform: Option<Platform>,
    needle: &str,
) -> bool {
    let found = |text: &str| text.to_lowercase().contains(needle);
    if found(&entry.name) || found(&entry.description) {
        return true;
    }
    let Some(placement) = platform.and_then(|p| entry.placement(p)) else { return false };
    if found(&placement.describe()) {
        return true;
    }
    match placement {
        crate::spec::Placement::Delivered(d) => d.targets.iter().any(|t| found(&t.external_secret)),
        _ => false,
    }
}

/// What the checklist shows, in order: group headings and entries.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Line {
    /// A group heading.
    Heading(Group),
    /// An entry, by index.
    Entry(usize),
}

impl AppState {
    /// Appends to the activity log.
    pub fn note(&mut self, text: impl Into<String>) {
        self.log.push_back(LogLine { at: SystemTime::now(), text: text.into() });
        while self.log.len() > 200 {
            self.log.pop_front();
        }
    }

    /// Shows a short notice.
    pub fn notify(&mut self, text: impl Into<String>) {
        self.notice = Some((text.into(), Instant::now()));
    }

    /// A new spec: rows reset, selection from the spec's defaults. `remember` adds it to the
    /// recent files (not for a bundled example).
    pub fn set_spec(&mut self, path: PathBuf, spec: SecretSpec, remember: bool) {
        let keep_selection = self.spec_path.as_ref() == Some(&path);
        let previous = self.selection.take();
        let mut selection = Selection::defaults(&spec);
        if let (true, Some(previous)) = (keep_selection, previous) {
            if spec.platforms.contains(&previous.platform) {
                selection.platform = previous.platform;
            }
            for feature in &spec.features {
                selection.features.set(&feature.name, previous.features.is_on(&feature.name));
            }
            selection.skipped = previous
                .skipped
                .into_iter()
                .filter(|s| spec.entries.iter().any(|e| &e.name == s))
                .collect();
        }
        self.rows = vec![RowState::default(); spec.entries.len()];
        self.selected = self.selected.filter(|i| *i < spec.entries.len() && keep_selection);
        self.start_chosen = keep_selection;
        self.selection = Some(selection);
        self.spec = Some(Arc::new(spec));
        self.spec_error = None;
        self.ready = false;
        self.connection = None;
        if remember {
            self.remembered.recent.retain(|p| p != &path);
            self.remembered.recent.insert(0, path.clone());
            self.remembered.recent.truncate(8);
            self.remembered.last_spec = Some(path.clone());
        }
        self.spec_path = Some(path);
    }

    /// Folds one engine event in.
    pub fn apply(&mut self, event: MonitorEvent) {
        match event {
            MonitorEvent::RoundStarted => {
                self.checking = true;
                self.progress = None;
            }
            MonitorEvent::Progress { decided, asked } => self.progress = Some((decided, asked)),
            MonitorEvent::Connection(status) => self.connection = Some(status),
            MonitorEvent::Changed { index, outcome } => {
                let name = self
                    .spec
                    .as_ref()
                    .and_then(|s| s.entries.get(index))
                    .map(|e| e.name.clone())
                    .unwrap_or_default();
                let Some(row) = self.rows.get_mut(index) else { return };
                let before = row.outcome.as_ref().map(|o| o.presence.state());
                let after = outcome.presence.state();
                let stale_now = outcome.stale.clone();
                let was_stale = row.outcome.as_ref().is_some_and(|o| o.stale.is_some());
                if before != Some(after) {
                    row.since = Some(Instant::now());
                    let took =
                        row.copied_at.filter(|_| after == State::Present).map(|at| at.elapsed());
                    row.outcome = Some(outcome);
                    // The same words as the list's badges.
                    let words = crate::ui::widgets::state_words;
                    let mut text = match before {
                        Some(before) => format!("{name}: {} (was {})", words(after), words(before)),
                        None => format!("{name}: {}", words(after)),
                    };
                    if let Some(took) = took {
                        text.push_str(&format!(
                            " ({:.1} s after the command was copied)",
                            took.as_secs_f64()
                        ));
                    }
                    if before.is_some() {
                        self.note(text);
                    }
                } else {
                    row.outcome = Some(outcome);
                }
                match (was_stale, stale_now) {
                    (false, Some(reason)) => self.note(format!(
                        "{name}: cannot check now, showing the last known state ({reason})"
                    )),
                    (true, None) => self.note(format!("{name}: checking again")),
                    _ => {}
                }
            }
            MonitorEvent::RoundFinished { ready, at } => {
                self.checking = false;
                self.progress = None;
                self.last_round_at = Some(at);
                if ready && !self.ready {
                    self.note("Ready: every required secret is present.");
                }
                self.ready = ready;
                if !self.start_chosen {
                    self.start_chosen = true;
                    if self.selected.is_none() {
                        self.selected = self.first_to_do();
                    }
                }
            }
        }
    }

    /// Where the operator starts: the first row, in the order shown, that is required, theirs
    /// to create, and missing, misplaced or wrong.
    fn first_to_do(&self) -> Option<usize> {
        let spec = self.spec.as_ref()?;
        self.lines().into_iter().find_map(|line| {
            let Line::Entry(index) = line else { return None };
            let entry = spec.entries.get(index)?;
            let state = self.rows.get(index)?.state();
            let theirs = entry.required && entry.provided_by != crate::spec::Provider::Vendor;
            (theirs && matches!(state, State::Missing | State::FoundElsewhere | State::Wrong))
                .then_some(index)
        })
    }

    /// Group headings and entries to show, filtered by the filter text.
    pub fn lines(&self) -> Vec<Line> {
        let Some(spec) = &self.spec else { return Vec::new() };
        let needle = self.filter.trim().to_lowercase();
        let platform = self.selection.as_ref().map(|s| s.platform);
        let mut lines = Vec::new();
        for group in Group::ALL {
            let members: Vec<usize> = spec
                .entries
                .iter()
                .enumerate()
                .filter(|(_, e)| e.group() == group)
                .filter(|(_, e)| needle.is_empty() || matches_filter(e, platform, &needle))
                .map(|(i, _)| i)
                .collect();
            if !members.is_empty() {
                lines.push(Line::Heading(group));
                lines.extend(members.into_iter().map(Line::Entry));
            }
        }
        lines
    }

    /// Required secrets confirmed present, required in all, and shown stale, with the current
    /// selection. Derived from the rows each frame without building a report.
    pub fn progress(&self) -> Progress {
        let (Some(spec), Some(selection)) = (&self.spec, &self.selection) else {
            return Progress::default();
        };
        Progress::of(spec, selection, self.rows.iter().map(|r| r.outcome.as_ref()))
    }

    /// The one broken part several values wait on, if one does.
    pub fn root_cause(&self) -> Option<RootCause> {
        let spec = self.spec.as_ref()?;
        root_cause(spec, self.rows.iter().map(|r| r.outcome.as_ref()))
    }

    /// The redacted report of what is shown now.
    pub fn report(&self) -> Option<CheckReport> {
        let spec = self.spec.as_ref()?;
        let selection = self.selection.as_ref()?;
        let outcomes: Vec<CheckOutcome> = self
            .rows
            .iter()
            .map(|r| {
                r.outcome.clone().unwrap_or_else(|| {
                    CheckOutcome::now(Presence::Unreachable {
                        reason: "not checked yet".to_owned(),
                    })
                })
            })
            .collect();
        let writing =
            Writing { target: self.command_target(selection.platform), shell: self.shell };
        let mut report = CheckReport::build(spec, selection, &outcomes, &writing);
        report.connection.clone_from(&self.connection);
        Some(report)
    }

    /// The operator's choices of where to work: the probes connect there.
    pub fn choices(&self) -> Target {
        let remembered = &self.remembered;
        Target {
            kubeconfig: self.kubeconfig.as_ref().map(|p| p.display().to_string()),
            kube_context: remembered.context.clone(),
            aws_profile: remembered.profile.clone(),
            aws_region: remembered.region.clone(),
        }
    }

    /// Where the commands shown for `platform` point: the choices completed by the connection.
    pub fn command_target(&self, platform: Platform) -> Target {
        let connection = self.connection.as_ref().map(|c| &c.connection);
        let mut target = command_target(&self.choices(), connection);
        if platform == Platform::Aws {
            target.kube_context = None;
        }
        target
    }

    /// "checked at 20:58 UTC", or "checking…" before the first answer and while a check the
    /// operator asked for runs. A clock time to the minute rather than "3 s ago", so nothing
    /// has to repaint while nothing changes.
    pub fn freshness(&self) -> String {
        match (self.checking, self.last_round_at) {
            (true, _) | (false, None) => match self.progress {
                Some((decided, asked)) if decided < asked => {
                    format!("checking… {decided} of {asked}")
                }
                _ => "checking…".to_owned(),
            },
            (false, Some(at)) => {
                let stamp = humantime::format_rfc3339_seconds(at).to_string();
                format!("checked at {} UTC", stamp.get(11..16).unwrap_or(&stamp))
            }
        }
    }
}
