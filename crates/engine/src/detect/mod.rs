//! Detection: whether each placement exists, asked only in ways that cannot return a value.
//! A [`Probe`] per backend answers for a batch of entries; the [`Monitor`] keeps the answers
//! live. "Missing" is only ever reported when the backend cleanly said not found.

pub mod aws;
mod backoff;
mod cadence;
mod connection;
pub mod delivery;
pub mod kubernetes;
mod monitor;
mod round;

use std::sync::Arc;
use std::time::{Duration, SystemTime};

use serde::Serialize;

use crate::commands::Target;
use crate::diagnose::Hint;
use crate::spec::{FeatureSet, Platform, SecretEntry, SecretSpec};

pub use connection::{
    AwsConnection, Connection, ConnectionStatus, KubernetesConnection, command_target,
};
pub use monitor::{HURRY_INTERVAL, Monitor, MonitorCommand, MonitorEvent, ROUND_TIMEOUT};
pub use round::{Decided, Decision, Pace, Probe, RoundAsk, RoundReport, Wake, drive};

/// What is known about one secret.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Presence {
    /// A check is under way and nothing is known yet.
    Checking,
    /// It exists where the spec says.
    Present,
    /// It exists but is not usable as is (e.g. scheduled for deletion, wrong type).
    Wrong {
        /// What is wrong.
        reason: String,
    },
    /// The backend said it does not exist.
    Missing,
    /// It does not exist where expected but was found elsewhere.
    FoundElsewhere {
        /// Where it was found.
        location: String,
    },
    /// The operator's identity may not check it.
    Forbidden {
        /// The permission that is missing.
        permission: String,
    },
    /// The backend could not be asked (not connected, credentials expired, timeout).
    Unreachable {
        /// Why.
        reason: String,
    },
    /// Optional, and the operator chose to skip it.
    Skipped,
    /// Its feature is off.
    NotNeeded,
}

/// The stable names of the states, as the CLI's JSON prints them.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, Serialize)]
#[serde(rename_all = "snake_case")]
pub enum State {
    /// See [`Presence::Checking`].
    Checking,
    /// See [`Presence::Present`].
    Present,
    /// See [`Presence::Wrong`].
    Wrong,
    /// See [`Presence::Missing`].
    Missing,
    /// See [`Presence::FoundElsewhere`].
    FoundElsewhere,
    /// See [`Presence::Forbidden`].
    Forbidden,
    /// See [`Presence::Unreachable`].
    Unreachable,
    /// See [`Presence::Skipped`].
    Skipped,
    /// See [`Presence::NotNeeded`].
    NotNeeded,
}

impl State {
    /// The word shown next to the row's icon.
    pub fn as_str(self) -> &'static str {
        match self {
            State::Checking => "checking",
            State::Present => "present",
            State::Wrong => "wrong",
            State::Missing => "missing",
            State::FoundElsewhere => "found_elsewhere",
            State::Forbidden => "forbidden",
            State::Unreachable => "unreachable",
            State::Skipped => "skipped",
            State::NotNeeded => "not_needed",
        }
    }

    /// A symbol that, with the word, makes the state readable without colour, in a terminal
    /// (the window draws its own, from the fonts it ships).
    pub fn symbol(self) -> &'static str {
        match self {
            State::Checking => "…",
            State::Present => "✓", // terminal text
            State::Wrong => "!",
            State::Missing => "✗",        // terminal text
            State::FoundElsewhere => "≠", // terminal text
            State::Forbidden => "⊘",      // terminal text
            State::Unreachable => "?",
            State::Skipped => "–",
            State::NotNeeded => "·",
        }
    }
}

impl Presence {
    /// Its stable state name.
    pub fn state(&self) -> State {
        match self {
            Presence::Checking => State::Checking,
            Presence::Present => State::Present,
            Presence::Wrong { .. } => State::Wrong,
            Presence::Missing => State::Missing,
            Presence::FoundElsewhere { .. } => State::FoundElsewhere,
            Presence::Forbidden { .. } => State::Forbidden,
            Presence::Unreachable { .. } => State::Unreachable,
            Presence::Skipped => State::Skipped,
            Presence::NotNeeded => State::NotNeeded,
        }
    }

    /// The detail behind the state, if any.
    pub fn detail(&self) -> Option<&str> {
        match self {
            Presence::Wrong { reason } | Presence::Unreachable { reason } => Some(reason),
            Presence::FoundElsewhere { location } => Some(location),
            Presence::Forbidden { permission } => Some(permission),
            _ => None,
        }
    }
}

/// The answer for one entry.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct CheckOutcome {
    /// What was found.
    pub presence: Presence,
    /// What to do about it.
    pub hints: Vec<Hint>,
    /// When the backend answered.
    pub checked_at: SystemTime,
    /// Set when `presence` is the last known state and the backend cannot be asked now: why.
    pub stale: Option<String>,
    /// For a secret the operator still has to create or fix: whether they may.
    pub write: Option<WriteAccess>,
    /// For a delivered value: each hop of its chain (backend, operator, store, and per target
    /// the ExternalSecret and the Secret), in order.
    pub hops: Vec<delivery::Hop>,
    /// When the value last changed, where the backend says so without a value (AWS
    /// `LastChangedDate`/`LastModifiedDate`, a version's creation time); `None` where it cannot
    /// be known value-free (a Kubernetes Secret keeps no such time).
    pub changed_at: Option<SystemTime>,
    /// For a Kubernetes Secret: when a watch saw it change (data, labels or annotations). Not
    /// the value's age, so never used for rotation; `None` until a change is seen.
    pub change_seen_at: Option<SystemTime>,
}

/// Whether the operator may create (and replace) a secret where it must live, asked without
/// touching anything (an access review), before they paste a command.
#[derive(Debug, Clone, PartialEq, Eq, Serialize)]
pub struct WriteAccess {
    /// Yes, no, or could not tell.
    pub can_create: Permission,
    /// Why, in words.
    pub reason: String,
}

/// An access review's answer.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize)]
#[serde(rename_all = "snake_case")]
pub enum Permission {
    /// Allowed.
    Yes,
    /// Denied.
    No,
    /// The review could not be asked or answered.
    Unknown,
}

impl Permission {
    /// `yes`, `no` or `unknown`, as the JSON says.
    pub fn as_str(self) -> &'static str {
        match self {
            Permission::Yes => "yes",
            Permission::No => "no",
            Permission::Unknown => "unknown",
        }
    }
}

impl CheckOutcome {
    /// An outcome without hints, checked now.
    pub fn now(presence: Presence) -> Self {
        Self {
            presence,
            hints: Vec::new(),
            checked_at: SystemTime::now(),
            stale: None,
            write: None,
            hops: Vec::new(),
            changed_at: None,
            change_seen_at: None,
        }
    }

    /// With when the value last changed.
    pub fn changed_at(mut self, at: Option<SystemTime>) -> Self {
        self.changed_at = at;
        self
    }

    /// With these hints.
    pub fn with_hints(mut self, hints: Vec<Hint>) -> Self {
        self.hints = hints;
        self
    }

    /// Whether it confirms the secret is there now: present, and not merely the last known
    /// state of a backend that cannot be asked.
    pub fn confirms_presence(&self) -> bool {
        self.presence == Presence::Present && self.stale.is_none()
    }

    /// Whether two outcomes would look the same to a person (ignores the check time).
    pub fn same_as(&self, other: &CheckOutcome) -> bool {
        self.presence == other.presence
            && self.hints == other.hints
            && self.stale == other.stale
            && self.write == other.write
            && self.hops == other.hops
            && self.changed_at == other.changed_at
            && self.change_seen_at == other.change_seen_at
    }

    /// Whether the operator still has to create or fix the secret.
    pub fn needs_action(&self) -> bool {
        matches!(
            self.presence,
            Presence::Missing | Presence::Wrong { .. } | Presence::FoundElsewhere { .. }
        )
    }
}

/// Why a probe could not connect (the kubeconfig, the credentials, the profile), in words,
/// with what to do.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
#[error("{message}")]
pub struct ConnectError {
    /// What went wrong, in words.
    pub message: String,
    /// What to do.
    pub hints: Vec<Hint>,
}

/// What the operator chose: the platform, features on or off, optional secrets skipped.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Selection {
    /// The platform being checked.
    pub platform: Platform,
    /// Features on or off.
    pub features: FeatureSet,
    /// Names of optional entries the operator skipped.
    pub skipped: Vec<String>,
}

impl Selection {
    /// The spec's defaults on its first platform.
    pub fn defaults(spec: &SecretSpec) -> Self {
        Self {
            platform: spec.default_platform(),
            features: FeatureSet::defaults(spec),
            skipped: Vec::new(),
        }
    }

    /// Whether readiness waits for `entry` with this selection: required, not the vendor's,
    /// needed (its features on) and not skipped.
    pub fn blocks_readiness(&self, entry: &SecretEntry) -> bool {
        entry.blocks_readiness() && self.settled(entry).is_none()
    }

    /// The presence of `entry` decided without asking a backend, if any.
    pub fn settled(&self, entry: &SecretEntry) -> Option<Presence> {
        if !entry.is_needed(&self.features) {
            Some(Presence::NotNeeded)
        } else if !entry.required && self.skipped.contains(&entry.name) {
            Some(Presence::Skipped)
        } else {
            None
        }
    }
}

/// Longest a diagnosis of one missing secret may take (searching other namespaces, regions
/// or services). Past it the row says "missing" with the create command: a slow search never
/// costs a row its answer.
pub const DIAGNOSIS_BUDGET: Duration = Duration::from_secs(5);

/// How far a deployment is from ready: the one readiness rule, for the monitor, the reports
/// and the app.
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq)]
pub struct Progress {
    /// Entries that block readiness and are confirmed present.
    pub confirmed: usize,
    /// Entries that block readiness.
    pub total: usize,
    /// Entries that block readiness whose state is only the last known one.
    pub stale: usize,
}

impl Progress {
    /// Counts the entries of `spec` that block readiness under `selection`, given each
    /// entry's outcome (in spec order; `None` while unknown).
    pub fn of<'a>(
        spec: &SecretSpec,
        selection: &Selection,
        outcomes: impl IntoIterator<Item = Option<&'a CheckOutcome>>,
    ) -> Self {
        let mut progress = Progress::default();
        for (entry, outcome) in spec.entries.iter().zip(outcomes) {
            if !selection.blocks_readiness(entry) {
                continue;
            }
            progress.total += 1;
            progress.confirmed += usize::from(outcome.is_some_and(CheckOutcome::confirms_presence));
            progress.stale += usize::from(outcome.is_some_and(|o| o.stale.is_some()));
        }
        progress
    }

    /// Every entry that blocks readiness is confirmed present.
    pub fn ready(&self) -> bool {
        self.confirmed == self.total
    }

    /// "3 of 5 required secrets present", and how many could not be re-checked.
    pub fn text(&self) -> String {
        let total = self.total;
        let mut text = format!(
            "{} of {total} required secret{} present",
            self.confirmed,
            if total == 1 { "" } else { "s" }
        );
        if self.stale > 0 {
            text.push_str(&format!("; {} could not be re-checked", self.stale));
        }
        text
    }
}

/// Checks every entry once: settled ones without asking, the rest through `probe`, within
/// [`ROUND_TIMEOUT`]. Returns one outcome per entry, in spec order, and where the probe is
/// connected.
pub async fn check_once(
    spec: Arc<SecretSpec>,
    selection: &Selection,
    probe: &dyn Probe,
) -> (Vec<CheckOutcome>, Option<ConnectionStatus>) {
    let mut outcomes: Vec<Option<CheckOutcome>> =
        spec.entries.iter().map(|e| selection.settled(e).map(CheckOutcome::now)).collect();
    let asked: Vec<usize> =
        outcomes.iter().enumerate().filter(|(_, o)| o.is_none()).map(|(i, _)| i).collect();
    let mut connection = None;
    if !asked.is_empty() {
        let ask = |decided| RoundAsk {
            spec: spec.clone(),
            rows: asked,
            selection: selection.clone(),
            start_over: false,
            copied: false,
            wake: Wake::default(),
            decided,
        };
        drive(probe, ask, ROUND_TIMEOUT, |decision| match decision {
            Decision::Row(index, outcome) => {
                if let Some(slot) = outcomes.get_mut(index) {
                    *slot = Some(outcome);
                }
            }
            Decision::Connection(status) => connection = Some(status),
        })
        .await;
    }
    let outcomes =
        outcomes.into_iter().map(|o| o.unwrap_or_else(|| CheckOutcome::now(no_answer()))).collect();
    (outcomes, connection)
}

/// A row a round did not answer in time.
pub(crate) fn no_answer() -> Presence {
    Presence::Unreachable { reason: format!("no answer within {} s", ROUND_TIMEOUT.as_secs()) }
}

/// The tokio runtime the engine's I/O runs on, for the CLI and the app alike: two workers
/// are plenty for a few watches and batched calls.
pub fn runtime() -> Result<tokio::runtime::Runtime, String> {
    tokio::runtime::Builder::new_multi_thread()
        .worker_threads(2)
        .enable_all()
        .build()
        .map_err(|e| format!("cannot start the async runtime: {e}"))
}

/// How a probe should work: watch continuously (the app, `watch`) or answer once (`check`).
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Mode {
    /// Keep watches open and push changes.
    Live,
    /// One answer, as few requests as possible.
    Once,
}

/// How probes are built.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct ProbeOptions {
    /// Live or once.
    pub mode: Mode,
    /// Longest wait for any one request.
    pub request_timeout: Duration,
    /// The environment the backends read their configuration from (taken at the edge:
    /// [`crate::backends::Env::from_process`]).
    pub env: crate::backends::Env,
}

/// The probe for `platform`, working where `target` says. Call inside a tokio runtime.
pub fn probe_for(
    platform: Platform,
    target: &Target,
    spec: &SecretSpec,
    options: ProbeOptions,
) -> Arc<dyn Probe> {
    match platform {
        Platform::Kubernetes => {
            let mut settings = kubernetes::Settings::new(target.kube_context.clone(), options.mode);
            settings.kubeconfig = target.kubeconfig.as_ref().map(std::path::PathBuf::from);
            settings.request_timeout = options.request_timeout;
            let kube = Arc::new(kubernetes::KubernetesProbe::new(settings, spec));
            if spec.entries.iter().any(|e| e.delivered.is_some()) {
                let aws = |lowered: &SecretSpec| {
                    spec.delivers_from_aws().then(|| Arc::new(aws_probe(target, lowered, &options)))
                };
                let context = crate::backends::Context::new(options.env.clone());
                Arc::new(delivery::DeliveryProbe::new(
                    kube,
                    aws,
                    spec,
                    context,
                    options.request_timeout,
                ))
            } else {
                kube
            }
        }
        Platform::Aws => Arc::new(aws_probe(target, spec, &options)),
    }
}

fn aws_probe(target: &Target, spec: &SecretSpec, options: &ProbeOptions) -> aws::AwsProbe {
    aws::AwsProbe::new(
        aws::Settings {
            profile: target.aws_profile.clone(),
            region: target.aws_region.clone(),
            mode: options.mode,
            request_timeout: options.request_timeout,
        },
        spec,
    )
}
