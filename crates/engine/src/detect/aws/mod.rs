//! AWS detection: Secrets Manager secrets and Parameter Store parameters, by metadata only.
//!
//! Each round: Secrets Manager `DescribeSecret` per name (ListSecrets lags by minutes, so it
//! is only used for near-miss hints), at most 8 at a time per region; Parameter Store
//! `DescribeParameters` with `Name Equals` filters, 50 names per call. Polling is fast while a
//! required secret is missing, slow when all is present, and backs off with jitter while AWS
//! throttles. A failed call keeps the row's last known state, marked stale.

mod connection;
mod outcome;
mod session;
pub(crate) mod wire;
mod write;

use std::collections::{BTreeMap, BTreeSet, HashMap};
use std::sync::Arc;
use std::sync::atomic::{AtomicU32, Ordering};
use std::time::{Duration, Instant};

use futures::StreamExt;
use futures::future::BoxFuture;

pub use connection::profiles;
use outcome::{Round, create_hint, missing, parameter_outcome, secret_outcome};
use session::{Session, session};
use wire::{AwsError, ParameterMeta, SecretMeta};

use super::{
    CheckOutcome, ConnectionStatus, DIAGNOSIS_BUDGET, Mode, Pace, Presence, Probe, RoundAsk,
    RoundReport,
};
use crate::diagnose::aws as hints;
use crate::spec::{AwsService, Expect, SecretSpec};

/// From this many secrets known to exist, confirm them with ListSecrets pages instead of one
/// DescribeSecret each.
const LIST_THRESHOLD: usize = 10;

/// How often something found is confirmed while the rounds look for what is missing.
const CONFIRM_EVERY: Duration = Duration::from_secs(60);

/// After this long without a change, rounds for missing secrets ease off from 1 s to 5 s.
const QUIET_AFTER: Duration = Duration::from_secs(180);

/// How the probe works.
#[derive(Debug, Clone)]
pub struct Settings {
    /// AWS profile; `None` for the default chain (`AWS_PROFILE`, environment, `default`).
    pub profile: Option<String>,
    /// Region for placements that name none; `None` for the profile's.
    pub region: Option<String>,
    /// Live or once.
    pub mode: Mode,
    /// Longest wait for one call, retries included.
    pub request_timeout: Duration,
}

/// The AWS probe.
pub struct AwsProbe {
    settings: Settings,
    expect: Expect,
    spec_regions: BTreeSet<String>,
    state: Arc<ProbeState>,
}

pub(super) struct ProbeState {
    session: tokio::sync::Mutex<Option<Arc<Session>>>,
    connection: std::sync::Mutex<Option<ConnectionStatus>>,
    throttled: AtomicU32,
    /// Entries the last lookup found, confirmed in bulk next time.
    exists: std::sync::Mutex<BTreeSet<usize>>,
    /// What was last found for entries that exist, and when: confirmed once a minute, not
    /// every round.
    confirmed: std::sync::Mutex<HashMap<usize, (Instant, Found)>>,
    /// When what exists last changed (polling eases off after quiet minutes).
    last_change: std::sync::Mutex<Instant>,
    diagnoses: std::sync::Mutex<HashMap<String, (Instant, CheckOutcome)>>,
    /// Set by "Check now": the next round starts from a fresh session and fresh diagnoses.
    start_over: std::sync::atomic::AtomicBool,
    /// Write-permission answers by what they asked (`write`), and when.
    write: std::sync::Mutex<HashMap<String, (Instant, u64, crate::detect::WriteAccess)>>,
    /// Bumped after a Copy and on "Check now": write permissions are asked again.
    permissions_epoch: std::sync::atomic::AtomicU64,
}

impl AwsProbe {
    /// A probe for `spec`; it connects on the first check.
    pub fn new(settings: Settings, spec: &SecretSpec) -> Self {
        let spec_regions = spec
            .entries
            .iter()
            .filter_map(|e| e.aws.as_ref().and_then(|a| a.region.clone()))
            .chain(spec.other_environments.aws.iter().map(|(_, region, _)| region.clone()))
            .collect();
        Self {
            settings,
            expect: spec.expect.clone(),
            spec_regions,
            state: Arc::new(ProbeState {
                session: tokio::sync::Mutex::new(None),
                connection: std::sync::Mutex::new(None),
                throttled: AtomicU32::new(0),
                start_over: std::sync::atomic::AtomicBool::new(false),
                exists: std::sync::Mutex::new(BTreeSet::new()),
                confirmed: std::sync::Mutex::new(HashMap::new()),
                last_change: std::sync::Mutex::new(Instant::now()),
                diagnoses: std::sync::Mutex::new(HashMap::new()),
                write: std::sync::Mutex::new(HashMap::new()),
                permissions_epoch: std::sync::atomic::AtomicU64::new(0),
            }),
        }
    }
}

impl Probe for AwsProbe {
    fn round(&self, ask: RoundAsk) -> BoxFuture<'static, RoundReport> {
        self.take(&ask);
        let probe = self.clone_parts();
        Box::pin(async move {
            let (settings, expect, regions, state) = probe;
            let outcomes = check(&settings, &expect, &regions, &state, &ask.spec, ask.rows).await;
            if let Some(status) = state.connection.lock().ok().and_then(|c| c.clone()) {
                ask.decided.connection(status);
            }
            for (index, outcome) in outcomes {
                ask.decided.row(index, outcome);
            }
            RoundReport { pace: pace(&state) }
        })
    }
}

impl AwsProbe {
    /// Takes the round's requests: "Check now" and a Copy.
    pub(crate) fn take(&self, ask: &RoundAsk) {
        if ask.start_over {
            self.state.start_over.store(true, Ordering::Relaxed);
        }
        if ask.start_over || ask.copied {
            self.state.permissions_epoch.fetch_add(1, Ordering::Relaxed);
        }
    }

    fn clone_parts(&self) -> (Settings, Expect, BTreeSet<String>, Arc<ProbeState>) {
        (self.settings.clone(), self.expect.clone(), self.spec_regions.clone(), self.state.clone())
    }

    /// One round's outcomes, for a probe that judges them further (delivery chains).
    pub(crate) async fn outcomes(
        &self,
        spec: &SecretSpec,
        rows: Vec<usize>,
    ) -> Vec<(usize, CheckOutcome)> {
        let (settings, expect, regions, state) = self.clone_parts();
        check(&settings, &expect, &regions, &state, spec, rows).await
    }

    /// The next round's pace.
    pub(crate) fn pace(&self) -> Pace {
        pace(&self.state)
    }
}

/// While something is missing the missing names are looked up every second (secrets already
/// found are confirmed once a minute), easing off after a few quiet minutes; throttling
/// doubles the wait, with jitter, so several Greenlights behind one account do not poll in
/// step.
fn pace(state: &ProbeState) -> Pace {
    let quiet = state.last_change.lock().map_or(true, |at| at.elapsed() > QUIET_AFTER);
    let streak = state.throttled.load(Ordering::Relaxed).min(5);
    let paced = |base: Duration| {
        let backed_off = (base * 2u32.pow(streak)).min(Duration::from_secs(120));
        crate::detect::backoff::jitter(backed_off, Duration::from_millis(500))
    };
    let missing = if quiet { Duration::from_secs(5) } else { Duration::from_secs(1) };
    Pace { missing: paced(missing), settled: paced(Duration::from_secs(60)) }
}

/// What one lookup found.
#[derive(Debug, Clone)]
enum Found {
    Secret(Option<SecretMeta>),
    Parameter(Option<ParameterMeta>),
}

impl Found {
    fn exists(&self) -> bool {
        matches!(self, Found::Secret(Some(_)) | Found::Parameter(Some(_)))
    }
}

/// Every row of `indices` unreachable, with why the connection failed.
fn not_connected(
    indices: Vec<usize>,
    error: &crate::detect::ConnectError,
) -> Vec<(usize, CheckOutcome)> {
    indices
        .into_iter()
        .map(|i| {
            let reason = format!("not connected: {}", error.message);
            (i, CheckOutcome::now(Presence::Unreachable { reason }).with_hints(error.hints.clone()))
        })
        .collect()
}

/// Every (service, region, name) the spec places, and its other environments place, so a
/// similar name the spec places itself is not taken for a typo nor a copy for a mistake.
fn placed_in(
    spec: &SecretSpec,
    default_region: Option<&str>,
) -> BTreeSet<(AwsService, String, String)> {
    spec.entries
        .iter()
        .filter_map(|e| e.aws.as_ref())
        .filter_map(|a| {
            let region = a.region.as_deref().or(default_region)?;
            Some((a.service, region.to_owned(), a.name.clone()))
        })
        .chain(spec.other_environments.aws.iter().cloned())
        .collect()
}

/// Entries checked together: one service in one region.
type Groups = BTreeMap<(AwsService, String), Vec<usize>>;

async fn check(
    settings: &Settings,
    expect: &Expect,
    spec_regions: &BTreeSet<String>,
    state: &Arc<ProbeState>,
    spec: &SecretSpec,
    indices: Vec<usize>,
) -> Vec<(usize, CheckOutcome)> {
    if state.start_over.swap(false, Ordering::Relaxed) {
        // "Check now": re-read the profile (a fresh SSO login) and diagnose again.
        *state.session.lock().await = None;
        if let Ok(mut diagnoses) = state.diagnoses.lock() {
            diagnoses.clear();
        }
    }
    let session = match session(settings, expect, spec_regions, state).await {
        Ok(session) => session,
        Err(error) => return not_connected(indices, &error),
    };
    let profile = session.identity.profile.clone();
    let default_region = settings.region.clone().or_else(|| session.identity.region.clone());
    let (groups, mut outcomes) = plan(spec, indices, default_region.as_deref(), profile.as_deref());
    let results = look_up(&session, state, spec, &groups).await;
    remember(state, &results);
    let region_of: HashMap<usize, &str> = groups
        .iter()
        .flat_map(|((_, region), members)| members.iter().map(move |&i| (i, region.as_str())))
        .collect();
    let broken = results.values().any(|r| r.as_ref().is_err_and(AwsError::is_credentials));
    let placed = placed_in(spec, default_region.as_deref());
    let round = Round { state, session: &session, spec_regions, placed: &placed };
    let mut diagnosed = 0usize;
    let judged = futures::future::join_all(results.into_iter().filter_map(|(index, result)| {
        let entry = spec.entries.get(index)?;
        let placement = entry.aws.as_ref()?;
        let region = *region_of.get(&index)?;
        // Diagnosis costs calls; a bounded number of missing rows get it each round.
        let diagnose = matches!(&result, Ok(found) if !found.exists()) && {
            diagnosed += 1;
            diagnosed <= 10
        };
        let (session, profile, round) = (&session, profile.as_deref(), &round);
        Some(async move {
            let mut outcome = match result {
                Ok(Found::Secret(Some(meta))) => secret_outcome(placement, region, &meta, profile),
                Ok(Found::Parameter(Some(meta))) => parameter_outcome(placement, &meta),
                Ok(_) => diagnosis(round, entry, placement, region, diagnose).await,
                Err(AwsError::Denied { action, .. }) => {
                    CheckOutcome::now(Presence::Forbidden { permission: action.clone() })
                        .with_hints(hints::denied(&action, profile, Some(&session.identity.arn)))
                }
                Err(error) => {
                    CheckOutcome::now(Presence::Unreachable { reason: error.to_string() })
                        .with_hints(hints::for_connection(error.problem(), profile))
                }
            };
            // Before the paste: may the operator create it here?
            if outcome.needs_action() && entry.provided_by != crate::spec::Provider::Vendor {
                let identity = &session.identity;
                let needs = write::needs_for(placement, region, &identity.account, &identity.arn);
                let epoch = round.state.permissions_epoch.load(Ordering::Relaxed);
                let access = write::access(session, round.state, &needs, epoch).await;
                outcome.hints.extend(write::hints(&access, &needs));
                outcome.write = Some(access);
            }
            (index, outcome)
        })
    }))
    .await;
    outcomes.extend(judged);
    if broken {
        *state.session.lock().await = None;
    }
    outcomes
}

/// Groups the entries by service and region; entries without a region are answered at once.
fn plan(
    spec: &SecretSpec,
    indices: Vec<usize>,
    default_region: Option<&str>,
    profile: Option<&str>,
) -> (Groups, Vec<(usize, CheckOutcome)>) {
    let mut groups = Groups::new();
    let mut unplaced = Vec::new();
    for index in indices {
        let Some(placement) = spec.entries.get(index).and_then(|e| e.aws.as_ref()) else {
            continue;
        };
        match placement.region.as_deref().or(default_region) {
            Some(region) => {
                groups.entry((placement.service, region.to_owned())).or_default().push(index)
            }
            None => unplaced.push((
                index,
                CheckOutcome::now(Presence::Unreachable { reason: AwsError::NoRegion.to_string() })
                    .with_hints(hints::for_connection(AwsError::NoRegion.problem(), profile)),
            )),
        }
    }
    (groups, unplaced)
}

/// Whether each entry exists: every group at once.
async fn look_up(
    session: &Session,
    state: &ProbeState,
    spec: &SecretSpec,
    groups: &Groups,
) -> HashMap<usize, Result<Found, AwsError>> {
    let known: BTreeSet<usize> = state.exists.lock().map(|e| e.clone()).unwrap_or_default();
    let recent: HashMap<usize, Found> = state
        .confirmed
        .lock()
        .map(|c| {
            c.iter()
                .filter(|(_, (at, _))| at.elapsed() < CONFIRM_EVERY)
                .map(|(i, (_, found))| (*i, found.clone()))
                .collect()
        })
        .unwrap_or_default();
    let answers = futures::future::join_all(groups.iter().map(|((service, region), members)| {
        let names: Vec<(usize, String)> = members
            .iter()
            .filter(|i| !recent.contains_key(i))
            .filter_map(|&i| Some((i, spec.entries.get(i)?.aws.as_ref()?.name.clone())))
            .collect();
        let known = &known;
        async move {
            match service {
                AwsService::SecretsManager => {
                    look_up_secrets(&session.secrets_manager(region), names, known).await
                }
                AwsService::ParameterStore => {
                    look_up_parameters(&session.parameter_store(region), names).await
                }
            }
        }
    }))
    .await;
    let mut results: HashMap<usize, Result<Found, AwsError>> =
        answers.into_iter().flatten().collect();
    // A recent confirmation stands in for a lookup, unless its service and region just
    // failed: then it is no more certain than the rest, and goes stale with them.
    for members in groups.values() {
        let failure = members.iter().find_map(|i| results.get(i).and_then(|r| r.clone().err()));
        for index in members {
            if let Some(found) = recent.get(index) {
                let answer = failure.clone().map_or_else(|| Ok(found.clone()), Err);
                results.insert(*index, answer);
            }
        }
    }
    results
}

/// Secrets known to exist are confirmed in bulk (ListSecrets pages); the rest, and any the
/// (lagging) list does not show, get an exact DescribeSecret each, 8 at a time.
async fn look_up_secrets(
    client: &aws_sdk_secretsmanager::Client,
    names: Vec<(usize, String)>,
    known: &BTreeSet<usize>,
) -> Vec<(usize, Result<Found, AwsError>)> {
    let (confirm, mut exact): (Vec<_>, Vec<_>) =
        names.into_iter().partition(|(i, _)| known.contains(i));
    let mut results = Vec::new();
    if confirm.len() >= LIST_THRESHOLD {
        match wire::list_secrets(client, &prefixes(confirm.iter().map(|(_, n)| n.as_str()))).await {
            Ok(listed) => {
                for (i, name) in confirm {
                    match listed.get(&name) {
                        Some(meta) => results.push((i, Ok(Found::Secret(Some(meta.clone()))))),
                        None => exact.push((i, name)),
                    }
                }
            }
            Err(_) => exact.extend(confirm),
        }
    } else {
        exact.extend(confirm);
    }
    let described: Vec<(usize, Result<Found, AwsError>)> = futures::stream::iter(exact)
        .map(|(i, name)| async move {
            (i, wire::describe_secret(client, &name).await.map(Found::Secret))
        })
        .buffer_unordered(8)
        .collect()
        .await;
    results.extend(described);
    results
}

/// Parameters by `DescribeParameters` batches of 50 names.
async fn look_up_parameters(
    client: &aws_sdk_ssm::Client,
    names: Vec<(usize, String)>,
) -> Vec<(usize, Result<Found, AwsError>)> {
    let wanted: Vec<String> = names.iter().map(|(_, n)| n.clone()).collect();
    match wire::describe_parameters(client, &wanted).await {
        Ok(found) => names
            .into_iter()
            .map(|(i, name)| (i, Ok(Found::Parameter(found.get(&name).cloned()))))
            .collect(),
        Err(error) => names.into_iter().map(|(i, _)| (i, Err(error.clone()))).collect(),
    }
}

/// What this round taught, kept at once (before any diagnosis): which entries exist, for
/// bulk confirmation next round, and whether AWS throttled.
fn remember(state: &ProbeState, results: &HashMap<usize, Result<Found, AwsError>>) {
    let throttled = results.values().any(|r| matches!(r, Err(AwsError::Throttled { .. })));
    if throttled {
        state.throttled.fetch_add(1, Ordering::Relaxed);
    } else {
        state.throttled.store(0, Ordering::Relaxed);
    }
    let mut changed = false;
    if let Ok(mut exists) = state.exists.lock() {
        for (index, result) in results {
            changed |= match result {
                Ok(found) if found.exists() => exists.insert(*index),
                Ok(_) => exists.remove(index),
                Err(_) => false,
            };
        }
    }
    if let Ok(mut confirmed) = state.confirmed.lock() {
        confirmed.retain(|_, (at, _)| at.elapsed() < CONFIRM_EVERY);
        for (index, result) in results {
            match result {
                // A fresh answer restarts the minute; a reused one keeps its time.
                Ok(found @ Found::Secret(Some(_)) | found @ Found::Parameter(Some(_))) => {
                    confirmed.entry(*index).or_insert_with(|| (Instant::now(), found.clone()));
                }
                _ => {
                    confirmed.remove(index);
                }
            }
        }
    }
    if changed && let Ok(mut at) = state.last_change.lock() {
        *at = Instant::now();
    }
}

/// A missing entry's outcome: the cached diagnosis if recent, else (when `diagnose`) a new
/// one within [`DIAGNOSIS_BUDGET`], else "missing" with the create command.
async fn diagnosis(
    round: &Round<'_>,
    entry: &crate::spec::SecretEntry,
    placement: &crate::spec::AwsPlacement,
    region: &str,
    diagnose: bool,
) -> CheckOutcome {
    let key = format!("{}|{region}|{}", placement.service.as_str(), placement.name);
    let cached = round
        .state
        .diagnoses
        .lock()
        .ok()
        .and_then(|d| d.get(&key).cloned())
        .filter(|(at, _)| at.elapsed() < Duration::from_secs(60))
        .map(|(_, o)| o);
    if let Some(outcome) = cached {
        return outcome;
    }
    let plain = || {
        CheckOutcome::now(Presence::Missing).with_hints(create_hint(
            entry,
            &format!("Not found in {} in {region}. Create it:", placement.service.title()),
        ))
    };
    if !diagnose {
        return plain();
    }
    // A search that does not finish in time (another region behind a firewall) leaves the
    // plain answer for a minute, not a lost one.
    let search = missing(round, entry, placement, region);
    let outcome = tokio::time::timeout(DIAGNOSIS_BUDGET, search).await.unwrap_or_else(|_| plain());
    if let Ok(mut diagnoses) = round.state.diagnoses.lock() {
        diagnoses.insert(key, (Instant::now(), outcome.clone()));
    }
    outcome
}

/// Up to 10 name prefixes (ListSecrets' limit) covering `names`: the part up to the first '/',
/// or the common start of everything when there are more.
fn prefixes<'a>(names: impl Iterator<Item = &'a str>) -> Vec<String> {
    let names: Vec<&str> = names.collect();
    let mut set: BTreeSet<String> = names
        .iter()
        .map(|n| n.find('/').map_or(*n, |cut| n.get(..=cut).unwrap_or(n)).to_owned())
        .collect();
    if set.len() > 10 {
        let first = names.first().copied().unwrap_or_default();
        let common = names.iter().fold(first.len(), |len, n| {
            first.bytes().zip(n.bytes()).take(len).take_while(|(a, b)| a == b).count()
        });
        set = BTreeSet::from([first.get(..common).unwrap_or_default().to_owned()]);
    }
    set.into_iter().collect()
}
