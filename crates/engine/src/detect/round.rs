//! One probe contract: a round in ([`RoundAsk`]: the rows to check, the operator's
//! selection, whether to start over, whether a command was just copied, how to wake the
//! monitor, and where decided rows go), a report out ([`RoundReport`]: when to come back).
//! Rows are decided one by one as their backend answers and go out at once, so a window
//! fills in while a slow round runs, and a round that runs out of time loses only the rows
//! still unanswered ([`drive`]).

use std::sync::Arc;
use std::time::Duration;

use futures::future::BoxFuture;
use tokio::sync::{Notify, mpsc};

use super::{CheckOutcome, ConnectionStatus, Selection};
use crate::spec::SecretSpec;

/// What a probe is asked for one round.
pub struct RoundAsk {
    /// The spec.
    pub spec: Arc<SecretSpec>,
    /// The rows to check (indices into `spec.entries`).
    pub rows: Vec<usize>,
    /// The operator's choices: platform, features, skips.
    pub selection: Selection,
    /// "Check now": configuration re-read, credentials renewed, permissions and diagnoses
    /// asked again.
    pub start_over: bool,
    /// A command was copied since the last round: the operator is about to create something,
    /// so permissions are asked again and missing values sooner.
    pub copied: bool,
    /// Asks the monitor for a round at once (a watch saw a change).
    pub wake: Wake,
    /// Where decided rows and the connection go, as soon as they are known.
    pub decided: Decided,
}

/// Asks the monitor for a round at once.
#[derive(Clone, Default)]
pub struct Wake(Arc<Notify>);

impl Wake {
    /// A round now (or as soon as the current one ends).
    pub fn now(&self) {
        self.0.notify_one();
    }

    /// Waits until woken.
    pub(crate) async fn woken(&self) {
        self.0.notified().await;
    }
}

/// What a probe decided during a round.
#[derive(Debug)]
pub enum Decision {
    /// A row's outcome.
    Row(usize, CheckOutcome),
    /// Where the probe is connected (or why not).
    Connection(ConnectionStatus),
}

/// Where decisions go.
#[derive(Clone)]
pub struct Decided(mpsc::UnboundedSender<Decision>);

impl Decided {
    /// A channel for one round's decisions.
    pub fn channel() -> (Self, mpsc::UnboundedReceiver<Decision>) {
        let (tx, rx) = mpsc::unbounded_channel();
        (Self(tx), rx)
    }

    /// Row `index` is decided.
    pub fn row(&self, index: usize, outcome: CheckOutcome) {
        // Nobody listens once the round is over or given up: nothing to do then.
        self.0.send(Decision::Row(index, outcome)).ok();
    }

    /// Where the probe is connected.
    pub fn connection(&self, status: ConnectionStatus) {
        self.0.send(Decision::Connection(status)).ok();
    }
}

/// How soon the probe wants the next round.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct Pace {
    /// While something that blocks readiness is not confirmed present.
    pub missing: Duration,
    /// When everything is.
    pub settled: Duration,
}

impl Pace {
    /// The wait before the next round.
    pub fn wait(&self, ready: bool) -> Duration {
        if ready { self.settled } else { self.missing }
    }
}

/// What a probe reports when its round ends.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct RoundReport {
    /// When to come back.
    pub pace: Pace,
}

/// Answers for one backend: a round in, a report out.
pub trait Probe: Send + Sync {
    /// Checks `ask.rows`, sending each outcome to `ask.decided` as soon as it is known.
    fn round(&self, ask: RoundAsk) -> BoxFuture<'static, RoundReport>;
}

/// Runs one round of `probe` for `ask` (without its `decided`, which this makes) for at most
/// `limit`, calling `on` with each decision as it comes. The report, or `None` when the round
/// ran out of time (rows not decided by then have no answer).
pub async fn drive(
    probe: &dyn Probe,
    ask: impl FnOnce(Decided) -> RoundAsk,
    limit: Duration,
    mut on: impl FnMut(Decision),
) -> Option<RoundReport> {
    let (decided, mut decisions) = Decided::channel();
    let round = probe.round(ask(decided));
    let mut round = std::pin::pin!(round);
    let deadline = tokio::time::sleep(limit);
    let mut deadline = std::pin::pin!(deadline);
    loop {
        tokio::select! {
            biased;
            Some(decision) = decisions.recv() => on(decision),
            report = &mut round => {
                while let Ok(decision) = decisions.try_recv() {
                    on(decision);
                }
                return Some(report);
            }
            () = &mut deadline => {
                while let Ok(decision) = decisions.try_recv() {
                    on(decision);
                }
                return None;
            }
        }
    }
}
