//! "Compare environments": plain data for the matrix of secrets × environments. Each column
//! is one environment (one the spec declares, a kubeconfig context or an AWS profile) with its
//! own spec as it reads there, its own monitor (in `app::compare`) and its own rows; nothing
//! here does I/O.

use std::sync::Arc;
use std::time::SystemTime;

use serde::{Deserialize, Serialize};

use crate::commands::Target;
use crate::detect::{ConnectionStatus, MonitorEvent, Progress, Selection, State};
use crate::spec::SecretSpec;
use crate::ui::state::RowState;

/// Most environments compared at once; each is a connection and a probe of its own.
pub const MOST_COLUMNS: usize = 8;

/// What one column is, as the operator picked it (remembered per spec).
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub enum Choice {
    /// An environment the spec declares, by name.
    Declared(String),
    /// A kubeconfig context, with the spec as written.
    Context(String),
    /// An AWS profile, with the spec as written.
    Profile(String),
}

impl Choice {
    /// The column's heading.
    pub fn label(&self) -> String {
        match self {
            Choice::Declared(name) | Choice::Context(name) => name.clone(),
            Choice::Profile(name) => format!("profile {name}"),
        }
    }

    /// The spec as it reads in this environment, and where its probe connects: the operator's
    /// choices (`base`) with the environment's context, profile and region in place.
    pub fn resolve(&self, spec: &Arc<SecretSpec>, base: &Target) -> (Arc<SecretSpec>, Target) {
        let mut target = base.clone();
        match self {
            Choice::Declared(name) => {
                let Some(env) = spec.environment(name) else { return (spec.clone(), target) };
                if env.context.is_some() {
                    target.kube_context.clone_from(&env.context);
                }
                if env.profile.is_some() {
                    target.aws_profile.clone_from(&env.profile);
                }
                if env.region.is_some() {
                    target.aws_region.clone_from(&env.region);
                }
                (Arc::new(env.spec.as_ref().clone()), target)
            }
            Choice::Context(context) => {
                target.kube_context = Some(context.clone());
                (spec.clone(), target)
            }
            Choice::Profile(profile) => {
                target.aws_profile = Some(profile.clone());
                (spec.clone(), target)
            }
        }
    }
}

/// The environments a spec offers to compare, in the order the picker lists them: the spec's
/// own, then every kubeconfig context, then every AWS profile.
pub fn offered(spec: &SecretSpec, contexts: &[String], profiles: &[String]) -> Vec<Choice> {
    let declared = spec.environments.iter().map(|e| Choice::Declared(e.name.clone()));
    declared
        .chain(contexts.iter().map(|c| Choice::Context(c.clone())))
        .chain(profiles.iter().map(|p| Choice::Profile(p.clone())))
        .collect()
}

/// What is compared when the operator has not chosen for this spec: the environments it
/// declares.
pub fn first_choices(spec: &SecretSpec) -> Vec<Choice> {
    spec.environments.iter().map(|e| Choice::Declared(e.name.clone())).collect()
}

/// One environment's column.
#[derive(Debug, Clone)]
pub struct Column {
    /// What it is.
    pub choice: Choice,
    /// The spec as it reads there.
    pub spec: Arc<SecretSpec>,
    /// Where its probe connects.
    pub target: Target,
    /// One per entry, as the checklist's.
    pub rows: Vec<RowState>,
    /// Where its probe is connected.
    pub connection: Option<ConnectionStatus>,
    /// A round is in flight.
    pub checking: bool,
    /// When its last round finished.
    pub last_round_at: Option<SystemTime>,
}

impl Column {
    /// A column not checked yet.
    pub fn new(choice: Choice, spec: Arc<SecretSpec>, target: Target) -> Self {
        let rows = vec![RowState::default(); spec.entries.len()];
        Self { choice, spec, target, rows, connection: None, checking: true, last_round_at: None }
    }

    /// Folds one event of its own monitor in.
    pub fn apply(&mut self, event: MonitorEvent) {
        match event {
            MonitorEvent::RoundStarted => self.checking = true,
            MonitorEvent::Progress { .. } => {}
            MonitorEvent::Connection(status) => self.connection = Some(status),
            MonitorEvent::Changed { index, outcome } => {
                if let Some(row) = self.rows.get_mut(index) {
                    row.outcome = Some(outcome);
                }
            }
            MonitorEvent::RoundFinished { at, .. } => {
                self.checking = false;
                self.last_round_at = Some(at);
            }
        }
    }

    /// Required secrets present here, of those required.
    pub fn progress(&self, selection: &Selection) -> Progress {
        Progress::of(&self.spec, selection, self.rows.iter().map(|r| r.outcome.as_ref()))
    }

    /// Under the heading: how far this column is, and when it was last checked.
    pub fn summary(&self, selection: &Selection) -> String {
        let Some(at) = self.last_round_at else { return "checking…".to_owned() };
        let stamp = humantime::format_rfc3339_seconds(at).to_string();
        let progress = self.progress(selection);
        let unreachable = self.rows.iter().filter(|r| r.state() == State::Unreachable).count();
        let mut summary = format!("{} of {} ready", progress.confirmed, progress.total);
        if unreachable > 0 {
            summary.push_str(&format!(", {unreachable} cannot be checked"));
        }
        format!("{summary} · {} UTC", stamp.get(11..16).unwrap_or(&stamp))
    }
}

/// The compare view: its columns, and the cell whose details are shown.
#[derive(Debug, Clone, Default)]
pub struct Compare {
    /// One per environment, in the order picked.
    pub columns: Vec<Column>,
    /// The cell shown in details: (entry, column).
    pub selected: Option<(usize, usize)>,
    /// Whether the environment picker is open.
    pub picking: bool,
}
