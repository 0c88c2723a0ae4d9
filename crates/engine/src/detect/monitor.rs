//! The monitor: one task that keeps every row's outcome live and reports changes.
//! Commands come in on a channel, events go out on another, and an injected `wake` closure
//! tells the UI (or CLI) to look. Rounds are latest-wins: one in flight, refresh requests made
//! during a round are merged into one follow-up round. A spec reload replaces the monitor.

use std::sync::Arc;
use std::time::Duration;

use tokio::sync::mpsc;
use tokio::task::JoinHandle;

use super::{CheckOutcome, Decision, Pace, Presence, Probe, RoundAsk, Selection, Wake, drive};
use crate::spec::SecretSpec;

/// Longest a probe may take for one round (a request timeout for presence, then the
/// diagnosis budget) before its unanswered rows keep their last known state, marked stale.
pub const ROUND_TIMEOUT: Duration = Duration::from_secs(20);

/// Requests to the monitor.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum MonitorCommand {
    /// Check everything now.
    Refresh,
    /// The operator changed platform, features or skips; check again with these.
    Select(Selection),
    /// Check now, then at most every [`HURRY_INTERVAL`] for this long (after a Copy, the
    /// operator is about to create a secret).
    Hurry(Duration),
}

/// The pace while hurrying.
pub const HURRY_INTERVAL: Duration = Duration::from_secs(1);

/// What the monitor reports.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum MonitorEvent {
    /// A round started.
    RoundStarted,
    /// The outcome of entry `index` changed (or was first known).
    Changed {
        /// Index into `spec.entries`.
        index: usize,
        /// The new outcome.
        outcome: CheckOutcome,
    },
    /// Where the probe is connected changed (or became known).
    Connection(super::ConnectionStatus),
    /// How far the round is: rows decided of rows asked.
    Progress {
        /// Rows decided so far this round.
        decided: usize,
        /// Rows asked this round.
        asked: usize,
    },
    /// A round finished; every row has been checked.
    RoundFinished {
        /// True when every entry that blocks readiness is confirmed present (a stale row
        /// does not count).
        ready: bool,
        /// When it finished.
        at: std::time::SystemTime,
    },
}

/// Handle to a running monitor; dropping it stops the task.
pub struct Monitor {
    commands: mpsc::UnboundedSender<MonitorCommand>,
    task: JoinHandle<()>,
}

impl Monitor {
    /// Starts monitoring `spec` on `runtime`. Events go to `events`; `wake` is called after
    /// each batch of events.
    pub fn spawn(
        runtime: &tokio::runtime::Handle,
        spec: Arc<SecretSpec>,
        selection: Selection,
        probe: Arc<dyn Probe>,
        events: mpsc::UnboundedSender<MonitorEvent>,
        wake: Arc<dyn Fn() + Send + Sync>,
    ) -> Self {
        let (commands, inbox) = mpsc::unbounded_channel();
        let task = runtime.spawn(run(spec, selection, probe, inbox, events, wake));
        Self { commands, task }
    }

    /// Sends a command; ignored if the monitor has stopped.
    pub fn send(&self, command: MonitorCommand) {
        // A stopped monitor has nobody to act on the command; the owner replaces it on reload.
        self.commands.send(command).ok();
    }
}

impl Drop for Monitor {
    fn drop(&mut self) {
        self.task.abort();
    }
}

/// What the loop carries from one round to the next.
struct Loop {
    spec: Arc<SecretSpec>,
    selection: Selection,
    probe: Arc<dyn Probe>,
    events: mpsc::UnboundedSender<MonitorEvent>,
    /// Each row's last outcome.
    known: Vec<Option<CheckOutcome>>,
    connection: Option<super::ConnectionStatus>,
    wake: Wake,
    start_over: bool,
    copied: bool,
    pace: Pace,
    /// Tells the window (or CLI) to look.
    look: Arc<dyn Fn() + Send + Sync>,
}

/// A round slower than this shows its rows as they come, at most once per [`FILL_EVERY`].
const SLOW_ROUND: Duration = Duration::from_millis(200);
const FILL_EVERY: Duration = Duration::from_millis(100);

impl Loop {
    /// Sends `event`; false when nobody listens any more.
    fn send(&self, event: MonitorEvent) -> bool {
        self.events.send(event).is_ok()
    }

    /// Keeps `fresh` for row `index` (its last known state when `fresh` is no answer) and
    /// reports it when it changed; whether it changed.
    fn decide(&mut self, index: usize, fresh: CheckOutcome) -> bool {
        let outcome = keep_last_known(self.known.get(index).and_then(Option::as_ref), fresh);
        let Some(slot) = self.known.get_mut(index) else { return false };
        let changed = slot.as_ref().is_none_or(|previous| !previous.same_as(&outcome));
        *slot = Some(outcome.clone());
        if changed {
            self.send(MonitorEvent::Changed { index, outcome });
        }
        changed
    }

    /// One round: settled rows at once, the rest as the probe decides them, and what it
    /// did not decide in time as no answer. Whether anything changed.
    async fn round(&mut self) -> bool {
        let mut news = false;
        let mut rows = Vec::new();
        let spec = self.spec.clone();
        for (index, entry) in spec.entries.iter().enumerate() {
            match self.selection.settled(entry) {
                Some(presence) => news |= self.decide(index, CheckOutcome::now(presence)),
                None => rows.push(index),
            }
        }
        if rows.is_empty() {
            return news;
        }
        let asked = rows.len();
        let mut decided = vec![false; spec.entries.len()];
        let mut count = 0;
        let (selection, start_over, copied, wake) = (
            self.selection.clone(),
            std::mem::take(&mut self.start_over),
            std::mem::take(&mut self.copied),
            self.wake.clone(),
        );
        let probe = self.probe.clone();
        let started = tokio::time::Instant::now();
        let mut looked: Option<tokio::time::Instant> = None;
        let ask = |sink| RoundAsk {
            spec: spec.clone(),
            rows: rows.clone(),
            selection,
            start_over,
            copied,
            wake,
            decided: sink,
        };
        // Each decision goes out at once: a window reading the events sees rows fill in.
        let report = drive(probe.as_ref(), ask, ROUND_TIMEOUT, |decision| match decision {
            Decision::Row(index, outcome) => {
                if let Some(flag) = decided.get_mut(index).filter(|f| !**f) {
                    *flag = true;
                    count += 1;
                }
                let changed = self.decide(index, outcome);
                news |= changed;
                self.send(MonitorEvent::Progress { decided: count, asked });
                // A slow round fills the window in as it goes.
                if changed
                    && started.elapsed() >= SLOW_ROUND
                    && looked.is_none_or(|at| at.elapsed() >= FILL_EVERY)
                {
                    (self.look)();
                    looked = Some(tokio::time::Instant::now());
                }
            }
            Decision::Connection(status) => {
                if self.connection.as_ref() != Some(&status) {
                    news = true;
                    self.connection = Some(status.clone());
                    self.send(MonitorEvent::Connection(status));
                }
            }
        })
        .await;
        for index in rows {
            if decided.get(index) == Some(&false) {
                news |= self.decide(index, CheckOutcome::now(super::no_answer()));
            }
        }
        if let Some(report) = report {
            self.pace = report.pace;
        }
        news
    }
}

async fn run(
    spec: Arc<SecretSpec>,
    selection: Selection,
    probe: Arc<dyn Probe>,
    mut inbox: mpsc::UnboundedReceiver<MonitorCommand>,
    events: mpsc::UnboundedSender<MonitorEvent>,
    wake: Arc<dyn Fn() + Send + Sync>,
) {
    let mut state = Loop {
        known: vec![None; spec.entries.len()],
        spec,
        selection,
        probe,
        events,
        connection: None,
        wake: Wake::default(),
        start_over: false,
        copied: false,
        pace: Pace { missing: Duration::from_secs(5), settled: Duration::from_secs(30) },
        look: wake.clone(),
    };
    let mut hurry_until: Option<tokio::time::Instant> = None;
    // The UI is woken only when there is something new to show (or once a minute, for the
    // time of the last check), so an idle window draws nothing.
    let mut last_wake: Option<tokio::time::Instant> = None;
    let mut last_ready = None;
    let mut asked = true;
    loop {
        if !state.send(MonitorEvent::RoundStarted) {
            return;
        }
        if asked {
            wake();
        }
        let news = state.round().await;
        let ready = super::Progress::of(
            &state.spec,
            &state.selection,
            state.known.iter().map(Option::as_ref),
        )
        .ready();
        let at = std::time::SystemTime::now();
        if !state.send(MonitorEvent::RoundFinished { ready, at }) {
            return;
        }
        let minute = last_wake.is_none_or(|w| w.elapsed() >= Duration::from_secs(60));
        if news || asked || minute || last_ready != Some(ready) {
            wake();
            last_wake = Some(tokio::time::Instant::now());
        }
        last_ready = Some(ready);

        // Wait for the next round: a command, the probe's pace, or a watch's wake-up.
        let mut interval = state.pace.wait(ready);
        if hurry_until.is_some_and(|until| tokio::time::Instant::now() < until) {
            interval = interval.min(HURRY_INTERVAL);
        }
        let woken = state.wake.clone();
        let first = tokio::select! {
            command = inbox.recv() => match command {
                Some(command) => Some(command),
                None => return,
            },
            () = tokio::time::sleep(interval) => None,
            () = woken.woken() => None,
        };
        // Latest wins: fold everything already queued into one round.
        let mut pending = first.into_iter().collect::<Vec<_>>();
        while let Ok(command) = inbox.try_recv() {
            pending.push(command);
        }
        asked = !pending.is_empty();
        for command in pending {
            match command {
                MonitorCommand::Select(next) => state.selection = next,
                MonitorCommand::Hurry(period) => {
                    hurry_until = Some(tokio::time::Instant::now() + period);
                    state.copied = true;
                }
                MonitorCommand::Refresh => state.start_over = true,
            }
        }
    }
}

/// When a backend cannot be asked now, a row keeps what was last known about it, marked
/// stale with the reason and carrying the failure's hints; only a row never answered shows
/// the failure itself.
fn keep_last_known(previous: Option<&CheckOutcome>, fresh: CheckOutcome) -> CheckOutcome {
    let Presence::Unreachable { reason } = &fresh.presence else { return fresh };
    match previous {
        Some(last)
            if !matches!(last.presence, Presence::Unreachable { .. } | Presence::Checking) =>
        {
            CheckOutcome {
                presence: last.presence.clone(),
                hints: fresh.hints,
                checked_at: last.checked_at,
                stale: Some(format!("last known state; {reason}")),
                write: last.write.clone(),
                hops: last.hops.clone(),
                changed_at: last.changed_at,
                change_seen_at: last.change_seen_at,
            }
        }
        _ => fresh,
    }
}

#[cfg(test)]
mod tests {
    use std::sync::Mutex;
    use std::sync::atomic::{AtomicUsize, Ordering};

    use super::*;
    use crate::detect::RoundReport;
    use crate::spec::parse_bytes;

    const SPEC: &str = "version: 1\ndeployment: t\nplatforms: [kubernetes]\ndefaults: { kubernetes: { namespace: ns } }\nsecrets:\n  - { name: a, description: A, kubernetes: { keys: [k] } }\n  - { name: b, description: B, required: false, kubernetes: { keys: [k] } }\n";

    /// A probe whose answers the test sets, counting calls.
    struct FakeProbe {
        present: Mutex<Vec<bool>>,
        calls: AtomicUsize,
        delay: Duration,
        hang: std::sync::atomic::AtomicBool,
        started_over: AtomicUsize,
        copied: AtomicUsize,
    }

    impl Probe for Arc<FakeProbe> {
        fn round(&self, ask: RoundAsk) -> futures::future::BoxFuture<'static, RoundReport> {
            let me = self.clone();
            Box::pin(async move {
                me.calls.fetch_add(1, Ordering::SeqCst);
                if ask.start_over {
                    me.started_over.fetch_add(1, Ordering::SeqCst);
                }
                if ask.copied {
                    me.copied.fetch_add(1, Ordering::SeqCst);
                }
                if me.hang.load(Ordering::SeqCst) {
                    std::future::pending::<()>().await;
                }
                let present = me.present.lock().map(|p| p.clone()).unwrap_or_default();
                for i in ask.rows {
                    // Row 0 answers at once; the others after the delay.
                    if i > 0 {
                        tokio::time::sleep(me.delay).await;
                    }
                    let presence = if present.get(i).copied().unwrap_or(false) {
                        Presence::Present
                    } else {
                        Presence::Missing
                    };
                    ask.decided.row(i, CheckOutcome::now(presence));
                }
                RoundReport {
                    pace: Pace {
                        missing: Duration::from_secs(2),
                        settled: Duration::from_secs(30),
                    },
                }
            })
        }
    }

    fn start(delay: Duration) -> (Arc<FakeProbe>, Monitor, mpsc::UnboundedReceiver<MonitorEvent>) {
        let spec = Arc::new(parse_bytes(SPEC.as_bytes(), "t.yaml".as_ref()).unwrap());
        let probe = Arc::new(FakeProbe {
            present: Mutex::new(vec![false, false]),
            calls: AtomicUsize::new(0),
            delay,
            hang: std::sync::atomic::AtomicBool::new(false),
            started_over: AtomicUsize::new(0),
            copied: AtomicUsize::new(0),
        });
        let (tx, rx) = mpsc::unbounded_channel();
        let selection = Selection::defaults(&spec);
        let monitor = Monitor::spawn(
            &tokio::runtime::Handle::current(),
            spec,
            selection,
            Arc::new(probe.clone()),
            tx,
            Arc::new(|| {}),
        );
        (probe, monitor, rx)
    }

    async fn next_round(
        rx: &mut mpsc::UnboundedReceiver<MonitorEvent>,
    ) -> (Vec<(usize, Presence)>, bool) {
        let mut changes = Vec::new();
        loop {
            match rx.recv().await.unwrap() {
                MonitorEvent::Changed { index, outcome } => changes.push((index, outcome.presence)),
                MonitorEvent::RoundFinished { ready, .. } => return (changes, ready),
                MonitorEvent::RoundStarted
                | MonitorEvent::Connection(_)
                | MonitorEvent::Progress { .. } => {}
            }
        }
    }

    #[tokio::test(start_paused = true)]
    async fn reports_changes_only_and_polls_faster_while_missing() {
        let (probe, _monitor, mut rx) = start(Duration::ZERO);
        let (changes, ready) = next_round(&mut rx).await;
        assert_eq!(changes, vec![(0, Presence::Missing), (1, Presence::Missing)]);
        assert!(!ready);
        // Nothing changed: the next round reports no rows.
        let before = tokio::time::Instant::now();
        let (changes, _) = next_round(&mut rx).await;
        assert!(changes.is_empty());
        assert_eq!(before.elapsed(), Duration::from_secs(2));
        probe.present.lock().unwrap()[0] = true;
        let (changes, ready) = next_round(&mut rx).await;
        assert_eq!(changes, vec![(0, Presence::Present)]);
        assert!(ready, "the optional entry does not block readiness");
        // All present: the slow interval applies.
        let before = tokio::time::Instant::now();
        next_round(&mut rx).await;
        assert_eq!(before.elapsed(), Duration::from_secs(30));
    }

    #[tokio::test(start_paused = true)]
    async fn refreshes_during_a_round_fold_into_one() {
        let (probe, monitor, mut rx) = start(Duration::from_secs(1));
        next_round(&mut rx).await;
        assert_eq!(probe.calls.load(Ordering::SeqCst), 1);
        // Three refreshes while idle: one round follows, not three.
        monitor.send(MonitorCommand::Refresh);
        monitor.send(MonitorCommand::Refresh);
        monitor.send(MonitorCommand::Refresh);
        next_round(&mut rx).await;
        assert_eq!(probe.calls.load(Ordering::SeqCst), 2);
        let before = tokio::time::Instant::now();
        next_round(&mut rx).await;
        assert!(before.elapsed() >= Duration::from_secs(2), "no queued refresh left over");
    }

    #[tokio::test(start_paused = true)]
    async fn hurrying_polls_faster_for_a_while() {
        let (probe, monitor, mut rx) = start(Duration::ZERO);
        probe.present.lock().unwrap()[0] = true;
        next_round(&mut rx).await;
        // All present: 30 s between rounds, unless hurried.
        monitor.send(MonitorCommand::Hurry(Duration::from_secs(10)));
        next_round(&mut rx).await;
        let before = tokio::time::Instant::now();
        next_round(&mut rx).await;
        assert_eq!(before.elapsed(), HURRY_INTERVAL);
        // Once the hurry is over (and the rounds it made are read), the probe's pace is back.
        tokio::time::sleep(Duration::from_secs(10)).await;
        while rx.try_recv().is_ok() {}
        next_round(&mut rx).await;
        let before = tokio::time::Instant::now();
        next_round(&mut rx).await;
        assert_eq!(before.elapsed(), Duration::from_secs(30), "back to the probe's pace");
    }

    #[tokio::test(start_paused = true)]
    async fn the_ui_is_woken_for_news_only_and_once_a_minute() {
        let spec = Arc::new(parse_bytes(SPEC.as_bytes(), "t.yaml".as_ref()).unwrap());
        let probe = Arc::new(FakeProbe {
            present: Mutex::new(vec![false, false]),
            calls: AtomicUsize::new(0),
            delay: Duration::ZERO,
            hang: std::sync::atomic::AtomicBool::new(false),
            started_over: AtomicUsize::new(0),
            copied: AtomicUsize::new(0),
        });
        let wakes = Arc::new(AtomicUsize::new(0));
        let counter = wakes.clone();
        let (tx, mut rx) = mpsc::unbounded_channel();
        let selection = Selection::defaults(&spec);
        let _monitor = Monitor::spawn(
            &tokio::runtime::Handle::current(),
            spec,
            selection,
            Arc::new(probe.clone()),
            tx,
            Arc::new(move || {
                counter.fetch_add(1, Ordering::SeqCst);
            }),
        );
        next_round(&mut rx).await;
        let after_first = wakes.load(Ordering::SeqCst);
        assert!(after_first >= 1, "the first answers are shown");
        // Ten quiet rounds (2 s apart): nothing new, nothing to draw.
        for _ in 0..10 {
            next_round(&mut rx).await;
        }
        assert_eq!(wakes.load(Ordering::SeqCst), after_first, "quiet rounds wake nobody");
        // A change is news.
        probe.present.lock().unwrap()[1] = true;
        next_round(&mut rx).await;
        assert_eq!(wakes.load(Ordering::SeqCst), after_first + 1);
        // And the time of the last check is refreshed once a minute.
        for _ in 0..30 {
            next_round(&mut rx).await;
        }
        assert_eq!(wakes.load(Ordering::SeqCst), after_first + 2);
    }

    #[tokio::test(start_paused = true)]
    async fn a_row_that_cannot_be_checked_keeps_its_state_marked_stale_and_is_not_ready() {
        let (probe, _monitor, mut rx) = start(Duration::ZERO);
        probe.present.lock().unwrap()[0] = true;
        let (_, ready) = next_round(&mut rx).await;
        assert!(ready);
        // The backend stops answering: a round that hangs past the round timeout.
        probe.hang.store(true, Ordering::SeqCst);
        let (changes, ready) = next_round(&mut rx).await;
        assert!(!ready, "a stale present row does not make the deployment ready");
        let (_, row) = changes.into_iter().find(|(i, _)| *i == 0).unwrap();
        assert_eq!(row, Presence::Present, "the last known state is kept");
    }

    #[tokio::test(start_paused = true)]
    async fn a_round_out_of_time_keeps_what_was_answered_and_the_monitor_goes_on() {
        let (_probe, _monitor, mut rx) = start(Duration::from_secs(3600));
        let mut progress = Vec::new();
        let mut changes = Vec::new();
        let ready = loop {
            match rx.recv().await.unwrap() {
                MonitorEvent::Changed { index, outcome } => changes.push((index, outcome.presence)),
                MonitorEvent::Progress { decided, asked } => progress.push((decided, asked)),
                MonitorEvent::RoundFinished { ready, .. } => break ready,
                _ => {}
            }
        };
        assert!(!ready);
        assert_eq!(progress, vec![(1, 2)], "row 0 was shown while row 1 was still asked");
        assert_eq!(changes[0], (0, Presence::Missing), "the answered row is kept");
        assert!(matches!(changes[1], (1, Presence::Unreachable { .. })), "{changes:?}");
        // The next round starts on the probe's pace.
        let (_, ready) = next_round(&mut rx).await;
        assert!(!ready);
    }

    #[tokio::test(start_paused = true)]
    async fn check_now_and_copy_reach_the_probe_once() {
        let (probe, monitor, mut rx) = start(Duration::ZERO);
        next_round(&mut rx).await;
        monitor.send(MonitorCommand::Refresh);
        monitor.send(MonitorCommand::Hurry(Duration::from_secs(5)));
        next_round(&mut rx).await;
        next_round(&mut rx).await;
        assert_eq!(probe.started_over.load(Ordering::SeqCst), 1);
        assert_eq!(probe.copied.load(Ordering::SeqCst), 1);
    }

    #[tokio::test(start_paused = true)]
    async fn selection_changes_apply_on_the_next_round() {
        let (_probe, monitor, mut rx) = start(Duration::ZERO);
        next_round(&mut rx).await;
        let spec = parse_bytes(SPEC.as_bytes(), "t.yaml".as_ref()).unwrap();
        let mut selection = Selection::defaults(&spec);
        selection.skipped.push("b".to_owned());
        monitor.send(MonitorCommand::Select(selection));
        let (changes, _) = next_round(&mut rx).await;
        assert_eq!(changes, vec![(1, Presence::Skipped)]);
    }
}
