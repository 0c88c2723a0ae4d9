//! What the tests and benches share, compiled once: the Kubernetes test API server (the
//! sandbox server with its test machinery), a kubeconfig pointing at it, moto, loopback fakes
//! of the other backends, the External Secrets stand-in, and helpers to run the built
//! `greenlight` binary and the generated shell commands as a user would.

// Test code: a failed unwrap is a failed test.
#![allow(clippy::unwrap_used, clippy::expect_used, clippy::indexing_slicing, clippy::panic)]

pub use greenlight_apiserver as apiserver;

pub mod backends;
pub mod eso;
pub mod moto;
pub mod stats;

use std::path::{Path, PathBuf};
use std::process::Stdio;
use std::time::Duration;

use apiserver::{ADMIN_TOKEN, ApiServer, Rule};
use base64::Engine;
use tokio::io::{AsyncBufReadExt, AsyncWriteExt, BufReader};
use tokio::process::{Child, Command};

/// Variables that could point a test at the machine's real credentials or cloud.
const INHERITED_CREDENTIALS: [&str; 23] = [
    "AWS_PROFILE",
    "AWS_DEFAULT_PROFILE",
    "AWS_ACCESS_KEY_ID",
    "AWS_SECRET_ACCESS_KEY",
    "AWS_SESSION_TOKEN",
    "AWS_REGION",
    "AWS_DEFAULT_REGION",
    "AWS_ENDPOINT_URL",
    "AWS_WEB_IDENTITY_TOKEN_FILE",
    "AWS_ROLE_ARN",
    "AWS_CONTAINER_CREDENTIALS_FULL_URI",
    "AWS_CONTAINER_CREDENTIALS_RELATIVE_URI",
    "GOOGLE_APPLICATION_CREDENTIALS",
    "GOOGLE_CLOUD_PROJECT",
    "CLOUDSDK_CONFIG",
    "CLOUDSDK_CORE_PROJECT",
    "CLOUDSDK_API_ENDPOINT_OVERRIDES_SECRETMANAGER",
    "DOPPLER_TOKEN",
    "DOPPLER_API_HOST",
    "DOPPLER_CONFIG_DIR",
    "VAULT_ADDR",
    "VAULT_TOKEN",
    "VAULT_NAMESPACE",
];

/// An environment that touches loopback only and never the machine's real credentials: empty
/// AWS config and credentials files in `home`, no instance metadata, nothing inherited.
/// Returns (variables to set, variables to remove).
pub fn hermetic_env(home: &Path) -> (Vec<(&'static str, PathBuf)>, &'static [&'static str]) {
    let config = home.join(".aws-config-empty");
    let credentials = home.join(".aws-credentials-empty");
    std::fs::write(&config, "").unwrap();
    std::fs::write(&credentials, "").unwrap();
    (
        vec![
            ("HOME", home.to_owned()),
            ("AWS_CONFIG_FILE", config),
            ("AWS_SHARED_CREDENTIALS_FILE", credentials),
            ("AWS_EC2_METADATA_DISABLED", PathBuf::from("true")),
        ],
        &INHERITED_CREDENTIALS,
    )
}

/// The project's root directory (where `specs/` and `tests/fixtures/` are).
pub fn project_root() -> PathBuf {
    Path::new(env!("CARGO_MANIFEST_DIR")).join("../..")
}

/// A file of the test kit's `data/` (the pseudo-terminal driver, a test key).
pub fn data(name: &str) -> PathBuf {
    Path::new(env!("CARGO_MANIFEST_DIR")).join("data").join(name)
}

/// The built `greenlight` binary: the test runner says where (nextest's
/// `NEXTEST_BIN_EXE_greenlight`), else it sits beside the test's own `deps/` directory, as
/// cargo lays out a profile's output.
pub fn greenlight_bin() -> PathBuf {
    if let Some(path) = std::env::var_os("NEXTEST_BIN_EXE_greenlight") {
        return PathBuf::from(path);
    }
    let exe = std::env::current_exe().unwrap();
    let mut dir = exe.parent().unwrap();
    if dir.ends_with("deps") {
        dir = dir.parent().unwrap();
    }
    dir.join(format!("greenlight{}", std::env::consts::EXE_SUFFIX))
}

/// Token of the operator Greenlight runs as (context `test`).
pub const OPERATOR_TOKEN: &str = "operator-token";

/// A test API server with an operator user, a kubeconfig for it, and a scratch directory.
pub struct Cluster {
    pub server: ApiServer,
    pub dir: tempfile::TempDir,
    /// Values seeded into Secrets, which must never reach Greenlight.
    pub seeded: Vec<String>,
}

impl Cluster {
    /// A server whose operator (context `test`) may do everything, and an `admin` context.
    pub async fn start() -> Self {
        Self::start_with(vec![Rule::admin()]).await
    }

    /// A server whose operator has only `rules`.
    pub async fn start_with(rules: Vec<Rule>) -> Self {
        let server = ApiServer::start().await.unwrap().with_admin();
        server.add_user("operator", OPERATOR_TOKEN, rules);
        let dir = tempfile::tempdir().unwrap();
        let cluster = Self { server, dir, seeded: Vec::new() };
        cluster.write_kubeconfig(&[("test", OPERATOR_TOKEN), ("admin", ADMIN_TOKEN)]);
        cluster
    }

    pub fn write_kubeconfig(&self, contexts: &[(&str, &str)]) {
        std::fs::write(self.kubeconfig(), self.server.kubeconfig(contexts)).unwrap();
    }

    pub fn kubeconfig(&self) -> PathBuf {
        self.dir.path().join("kubeconfig")
    }

    /// Seeds a Secret whose values the value-free check will look for.
    pub fn seed(&mut self, namespace: &str, name: &str, data: &[(&str, &str)]) {
        for (_, value) in data {
            assert!(
                value.len() >= 8,
                "seed distinctive values (8+ characters) so the value-free check means something"
            );
            self.seeded.push((*value).to_owned());
        }
        self.server.put_secret(namespace, name, data);
    }

    /// Creates a Secret with client-side `kubectl apply`, which copies the whole manifest,
    /// value included, into the last-applied-configuration annotation.
    pub async fn seed_with_kubectl_apply(
        &mut self,
        namespace: &str,
        name: &str,
        key: &str,
        value: &str,
    ) {
        self.seeded.push(value.to_owned());
        let manifest = format!(
            "apiVersion: v1\nkind: Secret\nmetadata:\n  name: {name}\n  namespace: {namespace}\nstringData:\n  {key}: {value}\n"
        );
        let out = self.shell("bash", "kubectl apply --context admin -f -", &manifest).await;
        assert!(out.0, "kubectl apply failed: {}", out.2);
        let stored = self.server.secret(namespace, name).unwrap();
        let annotation =
            stored["metadata"]["annotations"]["kubectl.kubernetes.io/last-applied-configuration"]
                .as_str()
                .unwrap_or_default()
                .to_owned();
        assert!(
            annotation.contains(value),
            "client-side apply should have written the value into the annotation: {annotation}"
        );
    }

    /// Runs `script` with `shell` as the user would, with `input` typed on stdin. Returns
    /// (success, stdout, stderr).
    pub async fn shell(&self, shell: &str, script: &str, input: &str) -> (bool, String, String) {
        let mut command = Command::new(shell);
        command.arg("-c").arg(script).env("KUBECONFIG", self.kubeconfig());
        run_with_stdin(&mut command, input).await
    }

    /// Runs `steps` in an interactive `shell` (bash or zsh) on a pseudo-terminal, with a
    /// private home and history file, as a person at a terminal (see `pty_session.py`).
    pub async fn interactive(&self, shell: &str, steps: Vec<serde_json::Value>) -> ShellSession {
        self.interactive_with(shell, None, steps).await
    }

    /// [`Cluster::interactive`] with `bin` first on the shell's PATH (stand-ins for the CLIs
    /// the pasted commands call, where a test is about the shell and not the CLIs).
    pub async fn interactive_with(
        &self,
        shell: &str,
        bin: Option<&Path>,
        steps: Vec<serde_json::Value>,
    ) -> ShellSession {
        let cluster = self;
        let home = tempfile::tempdir().unwrap();
        let history = home.path().join("history");
        // zsh takes its history settings from its startup file only, as users have them.
        std::fs::write(
            home.path().join(".zshrc"),
            format!(
                "HISTFILE={}\nHISTSIZE=1000\nSAVEHIST=1000\nPROMPT='READY> '\n",
                history.display()
            ),
        )
        .unwrap();
        let argv: Vec<&str> = match shell {
            "bash" => vec!["bash", "--norc", "--noprofile", "-i"],
            _ => vec!["zsh", "-i"],
        };
        let env = serde_json::json!({
            "HOME": home.path(),
            "PATH": match bin {
                Some(bin) => format!("{}:{}", bin.display(), std::env::var("PATH").unwrap_or_default()),
                None => std::env::var("PATH").unwrap_or_default(),
            },
            "TERM": "xterm-256color",
            "KUBECONFIG": cluster.kubeconfig(),
            "HISTFILE": history,
            "HISTSIZE": "1000",
            "HISTFILESIZE": "1000",
            "SAVEHIST": "1000",
            "PS1": "READY> ",
            "ZDOTDIR": home.path(),
        });
        let script = serde_json::json!({ "argv": argv, "env": env, "steps": steps });
        let mut child = tokio::process::Command::new("python3")
            .arg(data("pty_session.py"))
            .stdin(Stdio::piped())
            .stdout(Stdio::piped())
            .spawn()
            .unwrap();
        child.stdin.take().unwrap().write_all(script.to_string().as_bytes()).await.unwrap();
        let out = child.wait_with_output().await.unwrap();
        let result: serde_json::Value = serde_json::from_slice(&out.stdout).unwrap();
        let transcript = result["transcript"].as_str().unwrap_or_default().to_owned();
        assert!(result["ok"] == true, "{}\n--- terminal ---\n{transcript}", result["error"]);
        ShellSession { transcript, history: std::fs::read_to_string(&history).unwrap_or_default() }
    }

    /// Runs `greenlight ARGS` to completion against this cluster.
    pub async fn greenlight(&self, args: &[&str]) -> (Option<i32>, String, String) {
        let out =
            tokio::time::timeout(Duration::from_secs(120), self.greenlight_command(args).output())
                .await
                .expect("greenlight hung")
                .unwrap();
        (
            out.status.code(),
            String::from_utf8_lossy(&out.stdout).into_owned(),
            String::from_utf8_lossy(&out.stderr).into_owned(),
        )
    }

    /// Starts `greenlight ARGS` (e.g. `watch`) and returns a reader of its stdout lines.
    pub fn spawn_greenlight(&self, args: &[&str]) -> Running {
        Running::spawn(self.greenlight_command(args))
    }

    pub fn greenlight_command(&self, args: &[&str]) -> Command {
        let mut command = hermetic_greenlight(self.dir.path(), args);
        command.env("KUBECONFIG", self.kubeconfig());
        command
    }

    /// Runs `script` in bash with this cluster's kubeconfig and `moto`'s AWS profile, `input`
    /// typed on stdin; fails the test if it fails.
    pub async fn run_with_aws(&self, moto: &moto::Moto, script: &str, input: &str) {
        let mut command = Command::new("bash");
        command.arg("-c").arg(script);
        moto.environment(&mut command);
        command.env("KUBECONFIG", self.kubeconfig());
        let (ok, _, stderr) = run_with_stdin(&mut command, input).await;
        assert!(ok, "{script}\n{stderr}");
    }

    /// `greenlight ARGS` against this cluster and `moto`'s AWS (a delivery chain).
    pub fn greenlight_with_aws(&self, moto: &moto::Moto, args: &[&str]) -> Command {
        let mut command = self.greenlight_command(args);
        moto.environment(&mut command);
        command.env("KUBECONFIG", self.kubeconfig()).env("HOME", self.dir.path());
        command
    }

    /// Proves from the server's records that Greenlight never asked for a Secret in a form
    /// that can carry a value, and that no seeded value (raw or base64) was ever sent to it.
    pub fn assert_value_free(&self) {
        assert_value_free(&self.server, &self.seeded);
    }
}

/// Every request Greenlight made to `server` asked for Secrets (and ExternalSecrets, stores)
/// as Tables without objects, and no `seeded` value (plain or base64) was in any reply.
pub fn assert_value_free(server: &ApiServer, seeded: &[String]) {
    let records: Vec<_> =
        server.records().into_iter().filter(|r| r.user_agent.starts_with("greenlight/")).collect();
    assert!(!records.is_empty(), "Greenlight made no requests; the check proves nothing");
    for record in &records {
        // ExternalSecrets and stores too: a template or a provider block can hold literals.
        if record.path.contains("/secrets")
            || record.path.contains("/externalsecrets")
            || record.path.contains("secretstores/")
        {
            assert!(
                record.accept.contains("as=Table")
                    && !record.accept.contains("application/json,")
                    && !record.accept.contains("PartialObjectMetadata"),
                "Secret request not in Table form: {record:?}"
            );
            assert_eq!(
                record.param("includeObject").as_deref(),
                Some("None"),
                "Secret request may include objects: {record:?}"
            );
        }
        let body = String::from_utf8_lossy(&record.body()).into_owned();
        for value in seeded {
            let encoded = base64::engine::general_purpose::STANDARD.encode(value);
            assert!(
                !body.contains(value.as_str()) && !body.contains(&encoded),
                "a seeded value reached Greenlight in {} {}?{}",
                record.method,
                record.path,
                record.query
            );
        }
    }
}

/// What an interactive shell showed and left behind.
pub struct ShellSession {
    /// Everything the terminal showed.
    pub transcript: String,
    /// The shell's history file after it exited.
    pub history: String,
}

/// One step of an interactive session: `expect`, `paste`, `type` or `wait` (see
/// `pty_session.py`).
pub fn step(kind: &str, text: &str) -> serde_json::Value {
    serde_json::json!({ kind: text })
}

/// `greenlight ARGS` from the project's root with the hermetic environment of `home`.
pub fn hermetic_greenlight(home: &Path, args: &[&str]) -> Command {
    let mut command = Command::new(greenlight_bin());
    let (set, remove) = hermetic_env(home);
    for name in remove {
        command.env_remove(name);
    }
    command.args(args).current_dir(project_root()).envs(set);
    command
}

/// A running `greenlight` process.
pub struct Running {
    pub child: Child,
    lines: tokio::io::Lines<BufReader<tokio::process::ChildStdout>>,
}

impl Running {
    /// Starts `command`, reading its stdout line by line (its stderr is dropped).
    pub fn spawn(mut command: Command) -> Self {
        let mut child = command
            .stdout(Stdio::piped())
            .stderr(Stdio::null())
            .kill_on_drop(true)
            .spawn()
            .unwrap();
        let lines = BufReader::new(child.stdout.take().unwrap()).lines();
        Self { child, lines }
    }

    /// Reads lines until one satisfies `wanted`, up to `limit`; returns it, or panics with
    /// what was seen.
    pub async fn line_matching(
        &mut self,
        limit: Duration,
        wanted: impl Fn(&serde_json::Value) -> bool,
    ) -> serde_json::Value {
        let mut seen = Vec::new();
        let deadline = tokio::time::Instant::now() + limit;
        loop {
            let next = tokio::time::timeout_at(deadline, self.lines.next_line()).await;
            match next {
                Ok(Ok(Some(line))) => {
                    let value: serde_json::Value =
                        serde_json::from_str(&line).unwrap_or_else(|_| panic!("not JSON: {line}"));
                    if wanted(&value) {
                        return value;
                    }
                    seen.push(line);
                }
                Ok(Ok(None)) => panic!("greenlight exited; lines seen:\n{}", seen.join("\n")),
                Ok(Err(e)) => panic!("reading greenlight: {e}"),
                Err(_) => {
                    panic!("no matching line within {limit:?}; lines seen:\n{}", seen.join("\n"))
                }
            }
        }
    }
}

/// A test of one line of `watch --format json`.
pub type LinePredicate = Box<dyn Fn(&serde_json::Value) -> bool>;

impl Running {
    /// Reads lines until each of `wanted` has been satisfied by one of them, in any order, up
    /// to `limit`; panics with what was seen otherwise.
    pub async fn lines_matching_all(&mut self, limit: Duration, wanted: Vec<LinePredicate>) {
        let mut met = vec![false; wanted.len()];
        let mut seen = Vec::new();
        let deadline = tokio::time::Instant::now() + limit;
        while met.iter().any(|m| !m) {
            match tokio::time::timeout_at(deadline, self.lines.next_line()).await {
                Ok(Ok(Some(line))) => {
                    let value: serde_json::Value =
                        serde_json::from_str(&line).unwrap_or_else(|_| panic!("not JSON: {line}"));
                    for (i, wanted) in wanted.iter().enumerate() {
                        met[i] |= wanted(&value);
                    }
                    seen.push(line);
                }
                Ok(Ok(None)) => panic!("greenlight exited; lines seen:\n{}", seen.join("\n")),
                Ok(Err(e)) => panic!("reading greenlight: {e}"),
                Err(_) => panic!(
                    "not every line wanted came within {limit:?} (met: {met:?}); lines seen:\n{}",
                    seen.join("\n")
                ),
            }
        }
    }
}

impl Running {
    /// Reads lines until each `(name, state)` has been seen, in any order (rows are decided
    /// as their backend answers, not in spec order).
    pub async fn states(&mut self, limit: Duration, wanted: &[(&str, &str)]) {
        let wanted: Vec<LinePredicate> =
            wanted.iter().map(|(name, state)| Box::new(is(name, state)) as LinePredicate).collect();
        self.lines_matching_all(limit, wanted).await;
    }
}

/// A line for `name` in `state`.
pub fn is(name: &str, state: &str) -> impl Fn(&serde_json::Value) -> bool + use<> {
    let (name, state) = (name.to_owned(), state.to_owned());
    move |line| line["name"] == name.as_str() && line["state"] == state.as_str()
}

/// Writes a spec into `dir` and returns its path.
pub fn write_spec(dir: &Path, text: &str) -> PathBuf {
    let path = dir.join("spec.yaml");
    std::fs::write(&path, text).unwrap();
    path
}

/// The report row for `name`.
pub fn row<'a>(report: &'a serde_json::Value, name: &str) -> &'a serde_json::Value {
    report["secrets"]
        .as_array()
        .unwrap()
        .iter()
        .find(|r| r["name"] == name)
        .unwrap_or_else(|| panic!("no row {name}"))
}

/// A row's hints, text and command, one per line.
pub fn hints(row: &serde_json::Value) -> String {
    row["hints"]
        .as_array()
        .unwrap()
        .iter()
        .map(|h| {
            format!("{} {}", h["text"].as_str().unwrap_or(""), h["command"].as_str().unwrap_or(""))
        })
        .collect::<Vec<_>>()
        .join("\n")
}

/// Spawns `command`, types `input` on its stdin and waits (at most a minute) for it to
/// finish. Returns (success, stdout, stderr).
pub async fn run_with_stdin(command: &mut Command, input: &str) -> (bool, String, String) {
    let mut child = command
        .stdin(Stdio::piped())
        .stdout(Stdio::piped())
        .stderr(Stdio::piped())
        .spawn()
        .unwrap();
    let mut stdin = child.stdin.take().unwrap();
    stdin.write_all(input.as_bytes()).await.unwrap();
    drop(stdin);
    let out = tokio::time::timeout(Duration::from_secs(60), child.wait_with_output())
        .await
        .expect("shell command hung")
        .unwrap();
    (
        out.status.success(),
        String::from_utf8_lossy(&out.stdout).into_owned(),
        String::from_utf8_lossy(&out.stderr).into_owned(),
    )
}
