//! The command line: `Cli` (parsed by `main`), and the headless verbs `check`, `watch`,
//! `commands`, `lint`, `schema`, `init`. Parse, validate, run, and map the result to an exit code
//! scripts can rely on. Opening the desktop app is `main`'s choice, not this module's.
//! Over 600 lines because the argument types of every verb live together (clap's one tree);
//! verbs with their own logic are split out (`init`).

use std::collections::BTreeMap;
use std::io::Write;
use std::path::{Path, PathBuf};
use std::sync::Arc;
use std::time::{Duration, SystemTime};

use clap::{Args, Parser, Subcommand, ValueEnum};
use tokio::sync::mpsc;

use crate::commands::{self, Shell, Target};
use crate::detect::{self, CheckOutcome, Monitor, MonitorEvent, Presence, Selection, State};
use crate::report::{CheckReport, Verdict, Writing};
use crate::spec::{self, Platform, SecretSpec};
use crate::text::{one_line, printable};

mod envs;
mod init;

/// Exit codes, a stable contract for scripts.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
#[repr(u8)]
pub enum Exit {
    /// Every required secret is present (or the command succeeded).
    Ready = 0,
    /// Greenlight could not check (not connected, no permission, credentials expired, timeout).
    CouldNotCheck = 1,
    /// The spec or the command line is wrong.
    Usage = 2,
    /// A required secret is missing (or present but wrong).
    Missing = 3,
}

impl From<Exit> for std::process::ExitCode {
    fn from(exit: Exit) -> Self {
        std::process::ExitCode::from(exit as u8)
    }
}

/// Greenlight: create the secrets a deployment needs, and see each one turn green.
#[derive(Debug, Parser)]
#[command(name = "greenlight", version, about, args_conflicts_with_subcommands = true)]
pub struct Cli {
    /// A headless verb; without one, the desktop app opens.
    #[command(subcommand)]
    pub verb: Option<Verb>,
    /// Spec to open in the desktop app.
    pub spec: Option<PathBuf>,
    /// kubeconfig file for the desktop app (default: KUBECONFIG, else ~/.kube/config).
    #[arg(long, value_name = "PATH")]
    pub kubeconfig: Option<PathBuf>,
}

/// The headless verbs.
#[derive(Debug, Subcommand)]
pub enum Verb {
    /// Check every secret once and print the checklist. Exit 0 when every required secret is
    /// present, 3 when one is missing, 2 for a bad spec or usage, 1 when it could not check.
    Check(CheckArgs),
    /// Keep checking and print a line each time a secret's state changes. Exit 0 once every
    /// required secret is present; with --timeout, exit as `check` would when time is up.
    Watch {
        #[command(flatten)]
        check: CheckArgs,
        /// Give up after this many seconds (at most a week).
        #[arg(long, value_name = "SECS", value_parser = clap::value_parser!(u64).range(1..=604_800))]
        timeout: Option<u64>,
    },
    /// Print the create, verify and rotate commands for each secret.
    Commands {
        /// The spec file (YAML or JSON).
        spec: PathBuf,
        /// Shell to write the commands for.
        #[arg(long, value_enum, default_value_t = ShellArg::Posix)]
        shell: ShellArg,
        /// Only this secret.
        #[arg(long, value_name = "NAME")]
        secret: Option<String>,
        #[command(flatten)]
        target: TargetArgs,
        /// Write them for this environment: one the spec declares (its backends' config,
        /// namespace, context), or NAME=CONTEXT[,profile=P][,region=R].
        #[arg(long = "env", value_name = "NAME")]
        env: Option<String>,
    },
    /// Validate a spec and print every problem with its line and column.
    Lint {
        /// The spec file (YAML or JSON).
        spec: PathBuf,
    },
    /// Print the JSON Schema of the spec format.
    Schema,
    /// Draft a spec from the deployment's rendered manifests: the Secrets its workloads read,
    /// its ExternalSecrets' values and targets, its stores' backends and credentials. Never
    /// reads a value. E.g. `helm template acme ./chart | greenlight init - --out spec.yaml`.
    Init(init::InitArgs),
    /// Try Greenlight without a cluster: start a sandbox cluster inside Greenlight, print the
    /// path of a kubeconfig for it, and open the window on the quickstart example (or SPEC)
    /// against it. Paste a Copy'd command into a terminal and watch its row turn green.
    Demo {
        /// Spec to open (default: the bundled quickstart).
        spec: Option<PathBuf>,
        /// Keep the sandbox running without a window until Ctrl-C (for scripted tries).
        #[arg(long)]
        headless: bool,
    },
}

/// What `demo` asks the window to open.
#[derive(Debug, Clone)]
pub struct Launch {
    /// The spec.
    pub spec: PathBuf,
    /// The sandbox's kubeconfig.
    pub kubeconfig: PathBuf,
    /// What the sandbox is, for a banner.
    pub sandbox: String,
}

/// The flags `check` and `watch` share.
#[derive(Debug, Args)]
pub struct CheckArgs {
    /// The spec file (YAML or JSON).
    spec: PathBuf,
    #[command(flatten)]
    target: TargetArgs,
    /// Turn a feature on (NAME or NAME=on) or off (NAME=off). Repeatable.
    #[arg(long = "feature", value_name = "NAME[=on|off]")]
    features: Vec<String>,
    /// Skip an optional secret. Repeatable.
    #[arg(long = "skip", value_name = "NAME")]
    skips: Vec<String>,
    /// Output format.
    #[arg(long, value_enum, default_value_t = Format::Text)]
    format: Format,
    /// Shell the commands in hints are written for.
    #[arg(long, value_enum, default_value_t = ShellArg::Posix)]
    shell: ShellArg,
    /// Longest wait for any one request to the cluster or AWS, in seconds (1 to 3600).
    #[arg(long, value_name = "SECS", default_value_t = 10,
          value_parser = clap::value_parser!(u64).range(1..=3600))]
    request_timeout: u64,
    /// Check the spec in several environments side by side: NAME=CONTEXT, with `,profile=P`,
    /// `,region=R` or `,kubeconfig=PATH` as needed (`NAME=profile=P` for AWS only), or just
    /// NAME for one the spec declares (a spec with `environments:` is checked in all of them
    /// when no --env, --context or --profile is given). Repeatable; the exit code is the worst
    /// environment's. `watch` takes one.
    #[arg(long = "env", value_name = "NAME[=CONTEXT[,profile=P][,region=R]]")]
    envs: Vec<String>,
    /// Exit 3 when a required value is past the spec's `rotate_every` (by its backend's
    /// last-change time), as when it is missing.
    #[arg(long)]
    fail_on_due: bool,
}

/// Where to check or point commands: platform, kubeconfig and context, AWS profile and region.
#[derive(Debug, Clone, Args)]
pub struct TargetArgs {
    /// Platform to check (default: the spec's first).
    #[arg(long, value_enum)]
    platform: Option<PlatformArg>,
    /// kubeconfig file (default: KUBECONFIG, else ~/.kube/config).
    #[arg(long, value_name = "PATH")]
    kubeconfig: Option<PathBuf>,
    /// kubeconfig context (default: the kubeconfig's current context).
    #[arg(long)]
    context: Option<String>,
    /// AWS profile (default: AWS_PROFILE, else `default`).
    #[arg(long)]
    profile: Option<String>,
    /// AWS region for secrets whose spec names none.
    #[arg(long)]
    region: Option<String>,
}

/// `--platform`.
#[derive(Debug, Clone, Copy, ValueEnum)]
pub enum PlatformArg {
    /// Kubernetes Secrets.
    Kubernetes,
    /// AWS Secrets Manager and Parameter Store.
    Aws,
}

/// `--format`.
#[derive(Debug, Clone, Copy, PartialEq, Eq, ValueEnum)]
pub enum Format {
    /// Plain text for a terminal.
    Text,
    /// JSON: one object (`check`), or one line per change (`watch`).
    Json,
    /// Markdown (`check`): the redacted report to hand to the vendor; `watch` prints text.
    Markdown,
}

/// `--shell`.
#[derive(Debug, Clone, Copy, PartialEq, Eq, ValueEnum)]
pub enum ShellArg {
    /// bash and zsh.
    Posix,
    /// PowerShell 5.1 and 7.
    Powershell,
}

/// A failure that ends the command with a message and an exit code.
struct Failure {
    exit: Exit,
    message: String,
}

fn usage(message: impl Into<String>) -> Failure {
    Failure { exit: Exit::Usage, message: message.into() }
}

fn could_not(message: impl Into<String>) -> Failure {
    Failure { exit: Exit::CouldNotCheck, message: message.into() }
}

/// Runs a headless verb (or `demo`, whose `window` opens the desktop app) and returns its
/// exit code.
pub fn run(verb: Verb, window: &dyn Fn(Launch) -> Result<(), String>) -> std::process::ExitCode {
    let result = match verb {
        Verb::Demo { spec, headless } => run_demo(spec.as_deref(), headless, window),
        Verb::Check(args) => run_check(&args),
        Verb::Watch { check, timeout } => run_watch(&check, timeout.map(Duration::from_secs)),
        Verb::Commands { spec, shell, secret, target, env } => {
            run_commands(&spec, shell, secret.as_deref(), &target, env.as_deref())
        }
        Verb::Lint { spec } => run_lint(&spec),
        Verb::Init(args) => init::run(&args),
        Verb::Schema => {
            print!("{}", spec::json_schema());
            Ok(Exit::Ready)
        }
    };
    finish(result)
}

/// The window could not open (no display, no OpenGL): say what to use instead.
pub fn window_failed(error: &str, spec: Option<&Path>) -> std::process::ExitCode {
    finish(Err(Failure {
        exit: Exit::CouldNotCheck,
        message: format!(
            "Cannot open the Greenlight window: {error}\nWithout a display, use the headless commands, e.g. `greenlight check {}`; see `greenlight --help`.",
            spec.map_or("SPEC".into(), |p| p.display().to_string())
        ),
    }))
}

fn finish(result: Result<Exit, Failure>) -> std::process::ExitCode {
    match result {
        Ok(exit) => exit.into(),
        Err(failure) => {
            eprintln!("{}", printable(&failure.message));
            failure.exit.into()
        }
    }
}

fn load(path: &Path) -> Result<SecretSpec, Failure> {
    spec::load(path).map_err(|e| usage(e.to_string()))
}

fn platform_of(spec: &SecretSpec, arg: Option<PlatformArg>) -> Result<Platform, Failure> {
    let Some(arg) = arg else { return Ok(spec.default_platform()) };
    let platform = match arg {
        PlatformArg::Kubernetes => Platform::Kubernetes,
        PlatformArg::Aws => Platform::Aws,
    };
    if spec.platforms.contains(&platform) {
        Ok(platform)
    } else {
        let offered: Vec<&str> = spec.platforms.iter().map(|p| p.as_str()).collect();
        Err(usage(format!(
            "{} does not offer {}; it offers: {}",
            spec.source.display(),
            platform.as_str(),
            offered.join(", ")
        )))
    }
}

/// Where commands and checks point: the flags, else the kubeconfig's current context. The
/// spec's expected context is only a guard (warned about), never silently switched to.
fn target_of(_spec: &SecretSpec, args: &TargetArgs) -> Target {
    Target {
        kubeconfig: args.kubeconfig.as_ref().map(|p| p.display().to_string()),
        kube_context: args
            .context
            .clone()
            .or_else(|| detect::kubernetes::current_context(args.kubeconfig.as_deref())),
        aws_profile: args
            .profile
            .clone()
            .or_else(|| std::env::var("AWS_PROFILE").ok().filter(|p| !p.is_empty())),
        aws_region: args.region.clone(),
    }
}

/// How a report writes its commands: for `shell`, pointing where the flags (completed by the
/// connection, when known) say.
fn writing_of(
    spec: &SecretSpec,
    args: &TargetArgs,
    shell: ShellArg,
    connection: Option<&detect::ConnectionStatus>,
) -> Writing {
    Writing {
        target: detect::command_target(&target_of(spec, args), connection.map(|c| &c.connection)),
        shell: shell.into(),
    }
}

impl From<ShellArg> for Shell {
    fn from(shell: ShellArg) -> Self {
        match shell {
            ShellArg::Posix => Shell::Posix,
            ShellArg::Powershell => Shell::PowerShell,
        }
    }
}

fn selection_of(spec: &SecretSpec, args: &CheckArgs) -> Result<Selection, Failure> {
    let mut selection = Selection::defaults(spec);
    selection.platform = platform_of(spec, args.target.platform)?;
    for given in &args.features {
        let (name, on) = match given.split_once('=') {
            None => (given.as_str(), true),
            Some((name, "on" | "true" | "yes" | "1")) => (name, true),
            Some((name, "off" | "false" | "no" | "0")) => (name, false),
            Some((_, other)) => {
                return Err(usage(format!("--feature {given}: `{other}` is not on or off")));
            }
        };
        if spec.feature(name).is_none() {
            let known: Vec<&str> = spec.features.iter().map(|f| f.name.as_str()).collect();
            return Err(usage(format!(
                "--feature {name}: the spec declares no such feature (declared: {})",
                if known.is_empty() { "none".to_owned() } else { known.join(", ") }
            )));
        }
        selection.features.set(name, on);
    }
    for name in &args.skips {
        match spec.entries.iter().find(|e| &e.name == name) {
            None => {
                return Err(usage(format!("--skip {name}: the spec has no secret of that name")));
            }
            Some(entry) if entry.required => {
                return Err(usage(format!(
                    "--skip {name}: it is required; only optional secrets can be skipped"
                )));
            }
            Some(_) => selection.skipped.push(name.clone()),
        }
    }
    Ok(selection)
}

fn runtime() -> Result<tokio::runtime::Runtime, Failure> {
    detect::runtime().map_err(|message| Failure { exit: Exit::CouldNotCheck, message })
}

fn exit_of(report: &CheckReport) -> Exit {
    exit_of_verdict(report.verdict())
}

fn exit_of_verdict(verdict: Verdict) -> Exit {
    match verdict {
        Verdict::Ready => Exit::Ready,
        Verdict::Missing => Exit::Missing,
        Verdict::Unknown => Exit::CouldNotCheck,
    }
}

fn print_report(report: &CheckReport, format: Format) {
    match format {
        Format::Text => print!("{}", printable(&report.to_text())),
        Format::Json => println!("{}", report.to_json()),
        Format::Markdown => print!("{}", printable(&report.to_markdown())),
    }
}

fn run_check(args: &CheckArgs) -> Result<Exit, Failure> {
    let spec = Arc::new(load(&args.spec)?);
    if envs::compares(&spec, args) {
        return envs::run(&spec, args);
    }
    let selection = selection_of(&spec, args)?;
    let runtime = runtime()?;
    let report = runtime.block_on(check_at(&spec, &selection, &args.target, args));
    print_report(&report, args.format);
    Ok(with_due(exit_of(&report), args.fail_on_due, &[&report]))
}

/// One check of `spec` where `target` points, as its report.
async fn check_at(
    spec: &Arc<SecretSpec>,
    selection: &Selection,
    target: &TargetArgs,
    args: &CheckArgs,
) -> CheckReport {
    let options = detect::ProbeOptions {
        mode: detect::Mode::Once,
        request_timeout: Duration::from_secs(args.request_timeout),
        env: crate::backends::Env::from_process(),
    };
    let probe = detect::probe_for(selection.platform, &target_of(spec, target), spec, options);
    let (outcomes, connection) = detect::check_once(spec.clone(), selection, probe.as_ref()).await;
    let writing = writing_of(spec, target, args.shell, connection.as_ref());
    let mut report = CheckReport::build(spec, selection, &outcomes, &writing);
    report.connection = connection;
    report
}

/// `exit`, or 3 with `--fail-on-due` when a value readiness waits for is due for rotation.
fn with_due(exit: Exit, fail_on_due: bool, reports: &[&CheckReport]) -> Exit {
    let due = reports
        .iter()
        .flat_map(|r| &r.secrets)
        .any(|row| row.blocks_readiness && row.due == Some(true));
    if fail_on_due && due && exit == Exit::Ready { Exit::Missing } else { exit }
}

fn run_watch(args: &CheckArgs, timeout: Option<Duration>) -> Result<Exit, Failure> {
    let spec = Arc::new(load(&args.spec)?);
    let (spec, target) = envs::watched(spec, args)?;
    let selection = selection_of(&spec, args)?;
    let runtime = runtime()?;
    let options = detect::ProbeOptions {
        mode: detect::Mode::Live,
        request_timeout: Duration::from_secs(args.request_timeout),
        env: crate::backends::Env::from_process(),
    };
    let probe = runtime.block_on(async {
        detect::probe_for(selection.platform, &target_of(&spec, &target), &spec, options)
    });
    let (events, mut inbox) = mpsc::unbounded_channel();
    let _monitor = Monitor::spawn(
        runtime.handle(),
        spec.clone(),
        selection.clone(),
        probe,
        events,
        Arc::new(|| {}),
    );
    let mut outcomes: Vec<CheckOutcome> =
        spec.entries.iter().map(|_| CheckOutcome::now(Presence::Checking)).collect();
    let mut printed: BTreeMap<usize, (State, bool, Option<detect::Permission>)> = BTreeMap::new();
    let format = args.format;
    let watching = async {
        while let Some(event) = inbox.recv().await {
            match event {
                MonitorEvent::Changed { index, outcome } => {
                    // A line when the state changes, or whether the operator may create it.
                    let shown = (
                        outcome.presence.state(),
                        outcome.stale.is_some(),
                        outcome.write.as_ref().map(|w| w.can_create),
                    );
                    if printed.get(&index) != Some(&shown) {
                        printed.insert(index, shown);
                        if let Some(entry) = spec.entries.get(index) {
                            print_change(entry, selection.platform, &outcome, format);
                        }
                    }
                    if let Some(slot) = outcomes.get_mut(index) {
                        *slot = outcome;
                    }
                }
                MonitorEvent::Connection(status) => {
                    if format != Format::Json {
                        eprintln!("{}", printable(status.to_text().trim_end()));
                    }
                }
                MonitorEvent::RoundFinished { ready: true, .. } => return true,
                MonitorEvent::RoundFinished { ready: false, .. }
                | MonitorEvent::RoundStarted
                | MonitorEvent::Progress { .. } => {}
            }
        }
        false
    };
    let finished = runtime.block_on(async {
        match timeout {
            Some(limit) => tokio::time::timeout(limit, watching).await.unwrap_or(false),
            None => watching.await,
        }
    });
    let writing = writing_of(&spec, &target, args.shell, None);
    let report = CheckReport::build(&spec, &selection, &outcomes, &writing);
    if finished {
        if format != Format::Json {
            println!("{}: READY ({})", one_line(&report.deployment), report.progress());
        }
        return Ok(Exit::Ready);
    }
    if format != Format::Json {
        eprintln!("Timed out: {}.", report.progress());
    }
    Ok(match exit_of(&report) {
        Exit::Ready => Exit::Missing,
        other => other,
    })
}

fn print_change(
    entry: &spec::SecretEntry,
    platform: Platform,
    outcome: &CheckOutcome,
    format: Format,
) {
    let at = humantime::format_rfc3339_millis(SystemTime::now()).to_string();
    let state = outcome.presence.state();
    let location = entry.placement(platform).map(|p| p.describe()).unwrap_or_default();
    let line = match format {
        Format::Json => serde_json::json!({
            "at": at,
            "name": entry.name,
            "state": state,
            "location": location,
            "detail": outcome.presence.detail(),
            "stale": outcome.stale,
            "can_create": outcome.write.as_ref().map(|w| w.can_create),
        })
        .to_string(),
        Format::Text | Format::Markdown => {
            let detail =
                outcome.presence.detail().map(|d| format!(": {}", one_line(d))).unwrap_or_default();
            let stale = outcome
                .stale
                .as_deref()
                .map(|s| format!(" [stale: {}]", one_line(s)))
                .unwrap_or_default();
            format!(
                "{at} {} {} {} ({location}){detail}{stale}",
                state.symbol(),
                state.as_str(),
                entry.name
            )
        }
    };
    let mut stdout = std::io::stdout().lock();
    // A closed stdout (e.g. `| head`) must not stop the watch from reaching its exit code.
    writeln!(stdout, "{}", printable(&line)).and_then(|()| stdout.flush()).ok();
}

fn run_commands(
    path: &Path,
    shell: ShellArg,
    only: Option<&str>,
    target_args: &TargetArgs,
    env: Option<&str>,
) -> Result<Exit, Failure> {
    let spec = Arc::new(load(path)?);
    let (spec, target_args) = match env {
        Some(text) => {
            let env = envs::chosen(&spec, text, target_args)?;
            (env.spec, env.target)
        }
        None => (spec, target_args.clone()),
    };
    let target_args = &target_args;
    let platform = platform_of(&spec, target_args.platform)?;
    let target = target_of(&spec, target_args);
    let shell = Shell::from(shell);
    if let Some(name) = only
        && !spec.entries.iter().any(|e| e.name == name)
    {
        return Err(usage(format!("--secret {name}: the spec has no secret of that name")));
    }
    let entries = spec.entries.iter().filter(|e| only.is_none_or(|name| e.name == name));
    let cannot = |(name, e): (String, _)| usage(format!("cannot write commands for {name}: {e}"));
    let sheet = commands::sheet(entries, platform, &target, shell).map_err(cannot)?;
    let mut out = sheet.text().to_owned();
    // One paste per step, after every entry's own commands.
    if only.is_none() {
        for batch in commands::batches(&spec, platform, None) {
            out.push('\n');
            out.push_str(
                &commands::render_batch(&batch, &spec, platform, &target, shell, None)
                    .map_err(cannot)?,
            );
        }
    }
    print!("{}", printable(&out));
    Ok(Exit::Ready)
}

/// `greenlight demo`: the sandbox, its kubeconfig's path on stdout, then the window (or, with
/// `--headless`, nothing until Ctrl-C or SIGTERM).
fn run_demo(
    spec: Option<&Path>,
    headless: bool,
    window: &dyn Fn(Launch) -> Result<(), String>,
) -> Result<Exit, Failure> {
    let dir = crate::sandbox::default_dir();
    let path = match spec {
        Some(path) => path.to_owned(),
        None => {
            let example = spec::examples::example("quickstart.yaml")
                .ok_or_else(|| usage("the bundled quickstart is missing".to_owned()))?;
            std::fs::create_dir_all(&dir)
                .map_err(|e| could_not(format!("cannot create {}: {e}", dir.display())))?;
            let path = dir.join(example.file);
            std::fs::write(&path, example.text)
                .map_err(|e| could_not(format!("cannot write {}: {e}", path.display())))?;
            path
        }
    };
    let loaded = load(&path)?;
    let runtime = detect::runtime().map_err(could_not)?;
    let sandbox = runtime
        .block_on(crate::sandbox::Sandbox::start(&loaded, &dir))
        .map_err(|e| could_not(format!("cannot start the sandbox cluster: {e}")))?;
    let kubeconfig = sandbox.kubeconfig().to_owned();
    {
        let mut stdout = std::io::stdout().lock();
        writeln!(stdout, "{}", kubeconfig.display()).and_then(|()| stdout.flush()).ok();
    }
    eprintln!("{}", printable(&sandbox.label()));
    eprintln!(
        "In a terminal: export KUBECONFIG={}   (every command Greenlight shows names it, with --context {})",
        printable(&kubeconfig.display().to_string()),
        crate::sandbox::CONTEXT
    );
    if headless {
        if loaded.delivery.is_some() {
            eprintln!(
                "Values go into namespace {} (`greenlight commands` and `check` still name the spec's own backends; the window uses the sandbox's).",
                crate::sandbox::VALUES_NAMESPACE
            );
        }
        eprintln!("Running without a window; Ctrl-C stops the sandbox.");
        runtime.block_on(stopped());
        drop(sandbox);
        return Ok(Exit::Ready);
    }
    // Ctrl-C in the terminal or SIGTERM while the window is open: tidy up, then leave.
    let file = kubeconfig.clone();
    runtime.spawn(async move {
        stopped().await;
        std::fs::remove_file(&file).ok();
        std::process::exit(130);
    });
    let opened = window(Launch { spec: path, kubeconfig, sandbox: sandbox.label() });
    drop(sandbox);
    match opened {
        Ok(()) => Ok(Exit::Ready),
        Err(error) => Err(could_not(format!(
            "Cannot open the Greenlight window: {error}\nWithout a display, `greenlight demo --headless` keeps the sandbox running for the CLI."
        ))),
    }
}

/// Waits for Ctrl-C or SIGTERM.
async fn stopped() {
    #[cfg(unix)]
    {
        if let Ok(mut term) =
            tokio::signal::unix::signal(tokio::signal::unix::SignalKind::terminate())
        {
            tokio::select! {
                _ = tokio::signal::ctrl_c() => {}
                _ = term.recv() => {}
            }
            return;
        }
    }
    tokio::signal::ctrl_c().await.ok();
}

fn run_lint(path: &Path) -> Result<Exit, Failure> {
    let spec = load(path)?;
    for warning in &spec.warnings {
        eprintln!("warning: {}\n", printable(&warning.to_string()));
    }
    let platforms: Vec<&str> = spec.platforms.iter().map(|p| p.as_str()).collect();
    let verdict = format!(
        "{}: OK. {} secret{} for {} on {}.",
        path.display(),
        spec.entries.len(),
        if spec.entries.len() == 1 { "" } else { "s" },
        one_line(&spec.deployment),
        platforms.join(" and ")
    );
    println!("{}", printable(&verdict));
    Ok(Exit::Ready)
}
