//! "Compare environments": plain data for the matrix of secrets × environments. Each column
//! is one environment (one the spec declares, a kubeconfig context or an AWS profile) with its
//! own spec as it reads there, its own monitor (in `app::compare`) and its own rows; nothing
//! here does I/O.

use std::sync::Arc;
use std::time::SystemTime;

use serde::{Deserialize, Serialize};

use crate::commands::Target;
use crate::detect::{ConnectionStatus, MonitorEvent, Progress, Selection, State};
use crate::report::{Environment, MatrixReport};
use crate::spec::SecretSpec;
use crate::ui::state::{AppState, Preferences, RowState};

/// Most environments compared at once; each is a connection and a probe of its own.
pub const MOST_COLUMNS: usize = 8;

/// What one column is, as the operator picked it (remembered per spec).
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub enum Choice {
    /// An environment the spec declares, by name.
    Declared(String),
    /// A kubeconfig context, with the spec as written.
    Context(String),
    /// An AWS profile and region (`None`: the profile's own), with the spec as written.
    Profile {
        /// The profile.
        profile: String,
        /// The region.
        region: Option<String>,
    },
}

impl Choice {
    /// The column's heading.
    pub fn label(&self) -> String {
        match self {
            Choice::Declared(name) | Choice::Context(name) => name.clone(),
            Choice::Profile { profile, region: None } => format!("profile {profile}"),
            Choice::Profile { profile, region: Some(region) } => format!("{profile} in {region}"),
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
            Choice::Profile { profile, region } => {
                target.aws_profile = Some(profile.clone());
                if region.is_some() {
                    target.aws_region.clone_from(region);
                }
                (spec.clone(), target)
            }
        }
    }
}

/// The environments a spec offers to compare, in the order the picker lists them: the spec's
/// own, then every kubeconfig context, then every AWS profile in `region` (the region field's;
/// `None`: each profile's own).
pub fn offered(
    spec: &SecretSpec,
    contexts: &[String],
    profiles: &[String],
    region: Option<&str>,
) -> Vec<Choice> {
    let declared = spec.environments.iter().map(|e| Choice::Declared(e.name.clone()));
    let region = region.map(str::to_owned);
    declared
        .chain(contexts.iter().map(|c| Choice::Context(c.clone())))
        .chain(
            profiles.iter().map(|p| Choice::Profile { profile: p.clone(), region: region.clone() }),
        )
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
    /// When its last round finished.
    pub last_round_at: Option<SystemTime>,
}

impl Column {
    /// A column not checked yet.
    pub fn new(choice: Choice, spec: Arc<SecretSpec>, target: Target) -> Self {
        let rows = vec![RowState::default(); spec.entries.len()];
        Self { choice, spec, target, rows, connection: None, last_round_at: None }
    }

    /// Folds one event of its own monitor in.
    pub fn apply(&mut self, event: MonitorEvent) {
        match event {
            MonitorEvent::RoundStarted | MonitorEvent::Progress { .. } => {}
            MonitorEvent::Connection(status) => self.connection = Some(status),
            MonitorEvent::Changed { index, outcome } => {
                if let Some(row) = self.rows.get_mut(index) {
                    row.outcome = Some(outcome);
                }
            }
            MonitorEvent::RoundFinished { at, .. } => self.last_round_at = Some(at),
        }
    }

    /// Required secrets present here, of those required.
    pub fn progress(&self, selection: &Selection) -> Progress {
        Progress::of(&self.spec, selection, self.rows.iter().map(|r| r.outcome.as_ref()))
    }

    /// The state this column's details are drawn from: its spec, connection and target, with
    /// the operator's selection and shell from `base` (its rows are not copied; a report adds
    /// them).
    pub fn as_app_state(&self, base: &AppState) -> AppState {
        AppState {
            spec: Some(self.spec.clone()),
            selection: base.selection.clone(),
            connection: self.connection.clone(),
            kubeconfig: self.target.kubeconfig.as_ref().map(Into::into),
            shell: base.shell,
            remembered: Preferences {
                context: self.target.kube_context.clone(),
                profile: self.target.aws_profile.clone(),
                region: self.target.aws_region.clone(),
                ..Preferences::default()
            },
            ..AppState::default()
        }
    }

    /// Where this column's probe is connected, and what it warns about, for its heading's
    /// tooltip.
    pub fn connection_text(&self) -> String {
        match &self.connection {
            Some(status) => status.to_text().trim().to_owned(),
            None => "connecting…".to_owned(),
        }
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

impl AppState {
    /// The report of every compared environment, while "Compare environments" shows some.
    pub fn matrix_report(&self) -> Option<MatrixReport> {
        let compare = self.compare.as_ref().filter(|c| !c.columns.is_empty())?;
        let environments = compare
            .columns
            .iter()
            .filter_map(|column| {
                let shown = AppState { rows: column.rows.clone(), ..column.as_app_state(self) };
                let report = shown.report()?;
                let checked_at = column.last_round_at.map_or_else(
                    || "not yet".to_owned(),
                    |at| humantime::format_rfc3339_seconds(at).to_string(),
                );
                Some(Environment { name: column.choice.label(), checked_at, report })
            })
            .collect();
        Some(MatrixReport::build(environments))
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    const SPEC: &str = "version: 1
deployment: apps
platforms: [kubernetes]
backends: { doppler: { kind: doppler, project: apps, config: prd } }
delivery: { external_secrets: { store: { kind: ClusterSecretStore, name: doppler } } }
values: [ { name: DATABASE_URL, description: Connection string } ]
targets: [ { namespace: default, secret: app, keys: { DATABASE_URL: DATABASE_URL } } ]
environments:
  dev: { context: k3s-dev, backends: { doppler: { config: dev } } }
  prd: { context: k3s-prd, region: eu-west-1 }
";

    fn spec() -> Arc<SecretSpec> {
        Arc::new(crate::spec::parse_bytes(SPEC.as_bytes(), "apps.yaml".as_ref()).unwrap())
    }

    #[test]
    fn a_declared_environment_brings_its_spec_and_where_it_is_reached() {
        let spec = spec();
        assert_eq!(
            first_choices(&spec),
            [Choice::Declared("dev".into()), Choice::Declared("prd".into())]
        );
        let base = Target { kube_context: Some("mine".into()), ..Target::default() };
        let (dev, target) = Choice::Declared("dev".into()).resolve(&spec, &base);
        assert_eq!(target.kube_context.as_deref(), Some("k3s-dev"));
        let location = dev.entries.first().unwrap().placement(crate::spec::Platform::Kubernetes);
        assert!(location.unwrap().describe().contains("apps/dev"));
        let (_, target) = Choice::Declared("prd".into()).resolve(&spec, &base);
        assert_eq!(target.aws_region.as_deref(), Some("eu-west-1"));
        let (as_written, target) = Choice::Context("other".into()).resolve(&spec, &base);
        assert_eq!(target.kube_context.as_deref(), Some("other"));
        assert!(Arc::ptr_eq(&as_written, &spec));
        let offered = offered(&spec, &["a".into()], &["p".into()], Some("eu-west-2"));
        assert_eq!(offered.len(), 4);
        let pair = offered.last().unwrap();
        assert_eq!(pair.label(), "p in eu-west-2");
        let (_, target) = pair.resolve(&spec, &base);
        assert_eq!(
            (target.aws_profile.as_deref(), target.aws_region.as_deref()),
            (Some("p"), Some("eu-west-2"))
        );
    }

    #[test]
    fn a_column_folds_only_its_own_events() {
        let spec = spec();
        let mut column = Column::new(Choice::Context("c".into()), spec, Target::default());
        let outcome = crate::detect::CheckOutcome::now(crate::detect::Presence::Present);
        column.apply(MonitorEvent::Changed { index: 0, outcome });
        column.apply(MonitorEvent::Changed {
            index: 9,
            outcome: crate::detect::CheckOutcome::now(crate::detect::Presence::Present),
        });
        assert_eq!(column.rows.first().unwrap().state(), State::Present);
        assert_eq!(column.summary(&Selection::defaults(&column.spec)), "checking…");
        column.apply(MonitorEvent::RoundFinished { ready: true, at: SystemTime::UNIX_EPOCH });
        let selection = Selection::defaults(&column.spec);
        assert_eq!(column.summary(&selection), "1 of 1 ready · 00:00 UTC");
    }
}
