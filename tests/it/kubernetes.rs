//! Kubernetes detection end to end: the built `greenlight` binary against the project's test
//! API server over TLS, with the generated commands run by real bash/zsh and kubectl. Every
//! test ends by proving from the server's records that no value reached Greenlight.
//! Over 600 lines because each test is a whole journey sharing the server's setup and proofs.

use std::time::Duration;

use crate::support::apiserver::{Fault, Rule};
use crate::support::eso::{EsoStandIn, Sources, cluster_store, external_secret};
use crate::support::{Cluster, hints, is, row, step, write_spec};
use greenlight::commands::{self, CommandKind, Shell, Target};
use greenlight::spec;

const SPEC: &str = "version: 1
deployment: e2e
platforms: [kubernetes]
defaults: { kubernetes: { namespace: acme } }
expect: { kubernetes: { context: test } }
secrets:
  - { name: github-token, description: GitHub token, kubernetes: { keys: [token] } }
  - { name: db-credentials, description: Database user and password, kubernetes: { keys: [username, password] } }
  - { name: webhook, description: Webhook signing secret, required: false, kubernetes: { keys: [secret] } }
";

const WAIT: Duration = Duration::from_secs(20);

async fn cluster() -> (Cluster, String) {
    let cluster = Cluster::start().await;
    cluster.server.create_namespace("acme");
    let spec = write_spec(cluster.dir.path(), SPEC).display().to_string();
    (cluster, spec)
}

async fn check_json(cluster: &Cluster, args: &[&str]) -> (Option<i32>, serde_json::Value) {
    let (code, stdout, stderr) =
        cluster.greenlight(&[&["check", "--format", "json"], args].concat()).await;
    let report = serde_json::from_str(&stdout)
        .unwrap_or_else(|e| panic!("no JSON ({e}): {stdout}\n{stderr}"));
    (code, report)
}

fn create_command(spec_path: &str, name: &str, shell: Shell) -> String {
    let spec = spec::load(spec_path.as_ref()).unwrap();
    let entry = spec.entries.iter().find(|e| e.name == name).unwrap();
    let target = Target { kube_context: Some("test".into()), ..Target::default() };
    commands::for_entry(entry, spec::Platform::Kubernetes, &target, shell)
        .unwrap()
        .into_iter()
        .find(|c| c.kind == CommandKind::Create)
        .unwrap()
        .text
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn check_reports_present_wrong_and_missing_with_exit_codes() {
    let (mut cluster, spec) = cluster().await;
    cluster
        .seed_with_kubectl_apply("acme", "github-token", "token", "ghp-applied-value-1f2e3d")
        .await;
    cluster.seed("acme", "db-credentials", &[("username", "db-user-value-77")]);
    let (code, report) = check_json(&cluster, &[&spec]).await;
    assert_eq!(code, Some(3), "{report:#}");
    assert_eq!(row(&report, "github-token")["state"], "present");
    let db = row(&report, "db-credentials");
    assert_eq!(db["state"], "wrong");
    assert_eq!(db["detail"], "has 1 of the 2 data keys the spec lists");
    assert!(hints(db).contains("kubectl apply --server-side"), "{}", hints(db));
    assert_eq!(row(&report, "webhook")["state"], "missing");
    assert_eq!(report["connection"]["platform"], "kubernetes");
    assert_eq!(report["connection"]["context"], "test");
    assert!(report["connection"]["server"].as_str().unwrap().starts_with("https://127.0.0.1:"));
    assert_eq!(report["connection"]["user"], "operator");
    assert!(report["connection"]["warnings"].as_array().unwrap().is_empty());

    cluster.seed(
        "acme",
        "db-credentials",
        &[("username", "db-user-value-77"), ("password", "db-password-value-88")],
    );
    let (code, report) = check_json(&cluster, &[&spec]).await;
    assert_eq!(code, Some(0), "an optional secret does not block readiness: {report:#}");
    assert_eq!(report["ready"], true);
    cluster.assert_value_free();
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn diagnoses_what_was_actually_found() {
    let (mut cluster, _) = cluster().await;
    let spec = write_spec(
        cluster.dir.path(),
        "version: 1
deployment: diagnose
platforms: [kubernetes]
defaults: { kubernetes: { namespace: acme } }
expect: { kubernetes: { context: prod } }
secrets:
  - { name: in-default, description: Lives in the wrong namespace, kubernetes: { keys: [k] } }
  - { name: github-token, description: Has a near-miss twin, kubernetes: { keys: [token] } }
  - { name: basic, description: Wrong type, kubernetes: { keys: [username], type: kubernetes.io/basic-auth } }
  - { name: nowhere, description: Its namespace does not exist, kubernetes: { namespace: not-created, keys: [k] } }
",
    )
    .display()
    .to_string();
    cluster.seed("default", "in-default", &[("k", "elsewhere-value-31")]);
    cluster.seed("acme", "github.token", &[("token", "near-miss-value-32")]);
    cluster.seed("acme", "basic", &[("username", "basic-value-33")]);
    let (code, report) = check_json(&cluster, &[&spec]).await;
    assert_eq!(code, Some(3));

    let elsewhere = row(&report, "in-default");
    assert_eq!(elsewhere["state"], "found_elsewhere");
    assert_eq!(elsewhere["detail"], "Secret default/in-default");
    assert!(
        hints(elsewhere)
            .contains("kubectl delete secret in-default --context test --namespace default"),
        "{}",
        hints(elsewhere)
    );

    let near = row(&report, "github-token");
    assert_eq!(near["state"], "found_elsewhere");
    assert_eq!(near["detail"], "Secret acme/github.token (a similar name)");

    let basic = row(&report, "basic");
    assert_eq!(basic["state"], "wrong");
    assert_eq!(basic["detail"], "type is Opaque, the spec expects kubernetes.io/basic-auth");

    let nowhere = row(&report, "nowhere");
    assert_eq!(nowhere["state"], "missing");
    assert!(
        hints(nowhere).contains("kubectl create namespace not-created --context test"),
        "{}",
        hints(nowhere)
    );

    let warnings = report["connection"]["warnings"].to_string();
    assert!(
        warnings.contains("The spec expects context `prod`, but Greenlight is using `test`"),
        "{warnings}"
    );
    cluster.assert_value_free();
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn rbac_denials_are_forbidden_with_the_rule_never_missing() {
    let mut cluster =
        Cluster::start_with(vec![Rule::new(&["create"], &["selfsubjectaccessreviews"], None)])
            .await;
    cluster.server.create_namespace("acme");
    cluster.seed("acme", "github-token", &[("token", "forbidden-value-41")]);
    let spec = write_spec(cluster.dir.path(), SPEC).display().to_string();
    let (code, report) = check_json(&cluster, &[&spec]).await;
    assert_eq!(code, Some(1), "{report:#}");
    for name in ["github-token", "db-credentials", "webhook"] {
        assert_eq!(row(&report, name)["state"], "forbidden", "{name}");
    }
    let text = hints(row(&report, "github-token"));
    assert!(text.contains("kubectl create role greenlight-reader --verb=get,list,watch --resource=secrets --context test --namespace acme"), "{text}");
    assert!(text.contains("--user=operator"), "{text}");
    assert!(
        text.contains("kubectl auth can-i get secrets --context test --namespace acme"),
        "{text}"
    );
    cluster.assert_value_free();
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn get_only_users_are_checked_secret_by_secret() {
    let mut cluster =
        Cluster::start_with(vec![Rule::new(&["get"], &["secrets", "namespaces"], Some("acme"))])
            .await;
    cluster.server.create_namespace("acme");
    cluster.seed("acme", "github-token", &[("token", "get-only-value-51")]);
    cluster.seed(
        "acme",
        "db-credentials",
        &[("username", "user-value-52"), ("password", "pass-value-53")],
    );
    let spec = write_spec(cluster.dir.path(), SPEC).display().to_string();
    let (code, report) = check_json(&cluster, &[&spec]).await;
    assert_eq!(code, Some(0), "{report:#}");
    assert_eq!(row(&report, "webhook")["state"], "missing");
    let lists = cluster
        .server
        .records()
        .into_iter()
        .filter(|r| r.path.ends_with("/secrets") && r.user_agent.starts_with("greenlight/"))
        .count();
    assert_eq!(lists, 0, "list is forbidden, so Greenlight must not try it");

    // A proxy's 404 page is not the API server saying "not found".
    cluster.server.set_fault(Fault::NotFoundPages);
    let (code, report) = check_json(&cluster, &[&spec]).await;
    assert_eq!(code, Some(1), "{report:#}");
    for name in ["github-token", "db-credentials", "webhook"] {
        let secret = row(&report, name);
        assert_eq!(secret["state"], "unreachable", "{secret:#}");
        assert!(
            secret["detail"].as_str().unwrap().contains("not from the Kubernetes API"),
            "{secret:#}"
        );
        assert!(!secret.to_string().contains("nginx"), "the page is not shown: {secret:#}");
    }
    cluster.assert_value_free();
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn expired_credentials_and_a_dead_server_are_unreachable_never_missing() {
    let (cluster, spec) = cluster().await;
    cluster.server.expire_user(crate::support::OPERATOR_TOKEN);
    let (code, report) = check_json(&cluster, &[&spec]).await;
    assert_eq!(code, Some(1));
    let github = row(&report, "github-token");
    assert_eq!(github["state"], "unreachable");
    assert!(github["detail"].as_str().unwrap().contains("401"), "{github}");
    assert!(hints(github).contains("kubectl auth whoami --context test"), "{}", hints(github));

    cluster.server.stop();
    let (code, report) = check_json(&cluster, &[&spec]).await;
    assert_eq!(code, Some(1));
    let github = row(&report, "github-token");
    assert_eq!(github["state"], "unreachable");
    assert!(
        github["detail"].as_str().unwrap().contains("not connected")
            || github["detail"].as_str().unwrap().contains("cannot reach"),
        "{github}"
    );
    cluster.assert_value_free();
}

/// Secrets a credential plugin carries in its arguments, environment and output. None of
/// them may appear in anything Greenlight prints, shows or exports.
const PLUGIN_MARKERS: [&str; 4] = [
    "arg-marker-oidc-secret-5f1e",
    "env-marker-aws-secret-9c2d",
    "stderr-marker-refresh-token-77ab",
    "stdout-marker-partial-token-31cd",
];

fn assert_no_plugin_marker(what: &str, text: &str) {
    for marker in PLUGIN_MARKERS {
        assert!(!text.contains(marker), "{what} shows a credential ({marker}):\n{text}");
    }
}

/// A home with plugins in `~/.local/bin` (found only through the PATH Greenlight adds for
/// plugins), and a way to run Greenlight there as a desktop launch would: a minimal PATH.
struct PluginHome {
    home: std::path::PathBuf,
    bin: std::path::PathBuf,
}

impl PluginHome {
    fn new(cluster: &Cluster) -> Self {
        let home = cluster.dir.path().join("home");
        let bin = home.join(".local/bin");
        std::fs::create_dir_all(&bin).unwrap();
        Self { home, bin }
    }

    fn plugin(&self, name: &str, body: &str) {
        let path = self.bin.join(name);
        std::fs::write(&path, format!("#!/bin/sh\n{body}\n")).unwrap();
        use std::os::unix::fs::PermissionsExt;
        std::fs::set_permissions(&path, std::fs::Permissions::from_mode(0o755)).unwrap();
    }

    /// Runs `greenlight ARGS` to completion; returns (exit code, stdout, stderr).
    async fn run(&self, cluster: &Cluster, args: &[&str]) -> (Option<i32>, String, String) {
        let out = tokio::process::Command::new(env!("CARGO_BIN_EXE_greenlight"))
            .args(args)
            .env("HOME", &self.home)
            .env("PATH", "/usr/bin:/bin")
            .env("KUBECONFIG", cluster.kubeconfig())
            .output()
            .await
            .unwrap();
        (
            out.status.code(),
            String::from_utf8_lossy(&out.stdout).into_owned(),
            String::from_utf8_lossy(&out.stderr).into_owned(),
        )
    }
}

/// The test server's kubeconfig with the `test` user's token replaced by an exec plugin.
fn exec_kubeconfig(cluster: &Cluster, exec: &str) -> String {
    cluster
        .server
        .kubeconfig(&[("test", "unused")])
        .replace("  user:\n    token: unused\n", &format!("  user:\n    exec:\n{exec}"))
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn exec_plugins_run_without_a_terminal_and_failures_say_how_to_log_in() {
    let (mut cluster, spec) = cluster().await;
    cluster.seed("acme", "github-token", &[("token", "exec-value-61")]);
    let home = PluginHome::new(&cluster);
    home.plugin(
        "gl-token-plugin",
        &format!(
            "[ -t 0 ] && {{ echo 'stdin must not be a terminal' >&2; exit 9; }}\necho '{{\"apiVersion\":\"client.authentication.k8s.io/v1\",\"kind\":\"ExecCredential\",\"status\":{{\"token\":\"{}\"}}}}'",
            crate::support::OPERATOR_TOKEN
        ),
    );
    // A failing plugin that echoes its arguments, its environment and a token.
    home.plugin(
        "aws",
        "echo \"Error when retrieving token from sso: Token has expired and refresh failed; args: $*; key: $AWS_SECRET_ACCESS_KEY; stderr-marker-refresh-token-77ab\" >&2\necho 'stdout-marker-partial-token-31cd'\nexit 255",
    );
    let working = exec_kubeconfig(
        &cluster,
        "      apiVersion: client.authentication.k8s.io/v1\n      command: gl-token-plugin\n      interactiveMode: IfAvailable\n",
    );
    std::fs::write(cluster.kubeconfig(), &working).unwrap();
    let (code, stdout, stderr) = home.run(&cluster, &["check", "--format", "json", &spec]).await;
    let report: serde_json::Value =
        serde_json::from_str(&stdout).unwrap_or_else(|_| panic!("{stdout}\n{stderr}"));
    assert_eq!(row(&report, "github-token")["state"], "present", "{report:#}");
    assert_eq!(report["connection"]["credential_plugin"], "gl-token-plugin", "{report:#}");
    assert_eq!(code, Some(3), "the other required secret is missing");

    let failing = exec_kubeconfig(
        &cluster,
        &format!(
            "      apiVersion: client.authentication.k8s.io/v1\n      command: {}\n      args: [eks, get-token, --cluster-name, prod, --profile, ops, --oidc-client-secret=arg-marker-oidc-secret-5f1e]\n      env:\n        - {{ name: AWS_SECRET_ACCESS_KEY, value: env-marker-aws-secret-9c2d }}\n",
            home.bin.join("aws").display()
        ),
    );
    std::fs::write(cluster.kubeconfig(), &failing).unwrap();
    let (code, stdout, stderr) = home.run(&cluster, &["check", "--format", "json", &spec]).await;
    assert_eq!(code, Some(1), "{stdout}\n{stderr}");
    assert_no_plugin_marker("check --format json", &format!("{stdout}\n{stderr}"));
    let report: serde_json::Value = serde_json::from_str(&stdout).unwrap();
    let github = row(&report, "github-token");
    assert_eq!(github["state"], "unreachable");
    assert_eq!(
        github["detail"],
        "not connected: the credential plugin `aws` failed (exit status: 255); it asks for a new login"
    );
    assert!(hints(github).contains("aws sso login --profile ops"), "{}", hints(github));
    assert_eq!(report["connection"]["context"], "test");

    let (_, stdout, stderr) = home.run(&cluster, &["check", &spec]).await;
    assert!(stdout.contains("the credential plugin `aws` failed"), "{stdout}");
    assert_no_plugin_marker("check (text)", &format!("{stdout}\n{stderr}"));
    let (_, stdout, stderr) =
        home.run(&cluster, &["watch", &spec, "--timeout", "3", "--format", "json"]).await;
    assert!(stdout.contains("the credential plugin `aws` failed"), "{stdout}");
    assert_no_plugin_marker("watch", &format!("{stdout}\n{stderr}"));
    let (_, stdout, stderr) = home.run(&cluster, &["watch", &spec, "--timeout", "3"]).await;
    assert_no_plugin_marker("watch (text)", &format!("{stdout}\n{stderr}"));
    cluster.assert_value_free();
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_plugin_that_fails_at_renewal_leaves_stale_rows_and_no_credential_in_sight() {
    let (mut cluster, spec) = cluster().await;
    cluster.seed("acme", "github-token", &[("token", "renewal-value-62")]);
    let home = PluginHome::new(&cluster);
    let state = home.home.join("plugin-ran");
    // First run: a token that expires in 31 s (so Greenlight renews it within a second or
    // two); every later run fails, echoing its secrets.
    home.plugin(
        "gl-renewing-plugin",
        &format!(
            "if [ ! -e {state} ]; then\n  touch {state}\n  echo \"{{\\\"kind\\\":\\\"ExecCredential\\\",\\\"status\\\":{{\\\"token\\\":\\\"{token}\\\",\\\"expirationTimestamp\\\":\\\"$(date -u -d '+31 seconds' +%Y-%m-%dT%H:%M:%SZ)\\\"}}}}\"\n  exit 0\nfi\necho \"refresh failed for $* with $GL_PLUGIN_SECRET stderr-marker-refresh-token-77ab\" >&2\nexit 1",
            state = state.display(),
            token = crate::support::OPERATOR_TOKEN
        ),
    );
    let kubeconfig = exec_kubeconfig(
        &cluster,
        "      apiVersion: client.authentication.k8s.io/v1\n      command: gl-renewing-plugin\n      args: [--client-secret=arg-marker-oidc-secret-5f1e]\n      env:\n        - { name: GL_PLUGIN_SECRET, value: env-marker-aws-secret-9c2d }\n",
    );
    std::fs::write(cluster.kubeconfig(), &kubeconfig).unwrap();
    let (code, stdout, stderr) =
        home.run(&cluster, &["watch", &spec, "--timeout", "8", "--format", "json"]).await;
    assert_eq!(code, Some(3), "db-credentials is missing: {stdout}\n{stderr}");
    assert_no_plugin_marker("watch across a failed renewal", &format!("{stdout}\n{stderr}"));
    let lines: Vec<serde_json::Value> =
        stdout.lines().map(|l| serde_json::from_str(l).unwrap()).collect();
    let github: Vec<&serde_json::Value> =
        lines.iter().filter(|l| l["name"] == "github-token").collect();
    assert_eq!(github.first().map(|l| &l["state"]), Some(&"present".into()), "{stdout}");
    let last = github.last().unwrap();
    assert_eq!(last["state"], "present", "the last known state is kept: {stdout}");
    assert!(
        last["stale"]
            .as_str()
            .unwrap_or_default()
            .contains("the credential plugin `gl-renewing-plugin` failed"),
        "{stdout}"
    );
    cluster.assert_value_free();
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn watch_turns_green_when_the_generated_commands_run() {
    let (cluster, spec) = cluster().await;
    let mut watch = cluster.spawn_greenlight(&["watch", &spec, "--format", "json"]);
    watch.states(WAIT, &[("github-token", "missing"), ("db-credentials", "missing")]).await;

    let (ok, _, stderr) = cluster
        .shell(
            "bash",
            &create_command(&spec, "github-token", Shell::Posix),
            "typed in bash ' \" $x\n",
        )
        .await;
    assert!(ok, "{stderr}");
    watch.line_matching(WAIT, is("github-token", "present")).await;

    // Two values, each ended with Ctrl-D at its hidden prompt, in an interactive zsh.
    let session = cluster
        .interactive(
            "zsh",
            vec![
                step("expect", "READY> "),
                step("paste", &create_command(&spec, "db-credentials", Shell::Posix)),
                step("type", "\r"),
                step("expect", "\u{1b}[?2004l"),
                step("expect", "key username of db-credentials (hidden)"),
                step("type", "app-user\r\u{4}"),
                step("expect", "key password of db-credentials (hidden)"),
                step("type", "pass word\r\u{4}"),
                step("expect", "secret/db-credentials created"),
                step("expect", "READY> "),
                step("type", "exit\r"),
            ],
        )
        .await;
    let ok = !session.transcript.contains("app-user") && !session.history.contains("pass word");
    let stderr = session.transcript;
    assert!(ok, "{stderr}");
    watch.line_matching(WAIT, is("db-credentials", "present")).await;
    let status = tokio::time::timeout(WAIT, watch.child.wait()).await.unwrap().unwrap();
    assert_eq!(status.code(), Some(0), "watch exits 0 once every required secret is present");

    let stored = cluster.server.secret("acme", "github-token").unwrap();
    assert_eq!(stored["data"]["token"], base64_of("typed in bash ' \" $x"));
    assert_eq!(
        cluster.server.secret("acme", "db-credentials").unwrap()["data"]["password"],
        base64_of("pass word")
    );
    let mut cluster = cluster;
    cluster.seeded.extend([
        "typed in bash ' \" $x".to_owned(),
        "pass word".to_owned(),
        "app-user".to_owned(),
    ]);
    cluster.assert_value_free();
}

fn base64_of(text: &str) -> String {
    use base64::Engine;
    base64::engine::general_purpose::STANDARD.encode(text)
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn each_diagnosis_clears_once_the_fix_runs() {
    let (mut cluster, _) = cluster().await;
    let spec = write_spec(
        cluster.dir.path(),
        "version: 1
deployment: fixes
platforms: [kubernetes]
defaults: { kubernetes: { namespace: acme } }
secrets:
  - { name: misplaced, description: In the wrong namespace, kubernetes: { keys: [k] } }
  - { name: api-token, description: Created under a near-miss name, kubernetes: { keys: [k] } }
  - { name: homeless, description: Namespace not created yet, kubernetes: { namespace: later, keys: [k] } }
",
    )
    .display()
    .to_string();
    cluster.seed("default", "misplaced", &[("k", "misplaced-value-71")]);
    cluster.seed("acme", "api.token", &[("k", "near-value-72")]);
    let mut watch = cluster.spawn_greenlight(&["watch", &spec, "--format", "json"]);
    watch
        .states(
            WAIT,
            &[
                ("misplaced", "found_elsewhere"),
                ("api-token", "found_elsewhere"),
                ("homeless", "missing"),
            ],
        )
        .await;

    for name in ["misplaced", "api-token"] {
        let (ok, _, stderr) = cluster
            .shell("bash", &create_command(&spec, name, Shell::Posix), "fixed-value\n")
            .await;
        assert!(ok, "{stderr}");
        watch.line_matching(WAIT, is(name, "present")).await;
    }
    let (ok, _, stderr) =
        cluster.shell("bash", "kubectl create namespace later --context test", "").await;
    assert!(ok, "{stderr}");
    let (ok, _, stderr) = cluster
        .shell("bash", &create_command(&spec, "homeless", Shell::Posix), "fixed-value\n")
        .await;
    assert!(ok, "{stderr}");
    watch.line_matching(WAIT, is("homeless", "present")).await;
    cluster.seeded.push("fixed-value".to_owned());
    cluster.assert_value_free();
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_server_that_goes_away_mid_watch_leaves_stale_state_then_recovers() {
    let (mut cluster, spec) = cluster().await;
    cluster.seed("acme", "github-token", &[("token", "stale-value-81")]);
    let mut watch = cluster.spawn_greenlight(&["watch", &spec, "--format", "json"]);
    watch.states(WAIT, &[("github-token", "present"), ("db-credentials", "missing")]).await;

    cluster.server.stop();
    let stale =
        watch.line_matching(WAIT, |l| l["name"] == "github-token" && l["stale"].is_string()).await;
    assert_eq!(stale["state"], "present", "the last known state is kept, marked stale");

    cluster.server.restart().await;
    watch
        .line_matching(WAIT, |l| {
            l["name"] == "github-token" && l["stale"].is_null() && l["state"] == "present"
        })
        .await;
    cluster.seed(
        "acme",
        "db-credentials",
        &[("username", "user-value-82"), ("password", "pass-value-83")],
    );
    watch.line_matching(WAIT, is("db-credentials", "present")).await;
    cluster.assert_value_free();
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn expired_watch_history_relists_without_missing_a_change() {
    let (mut cluster, spec) = cluster().await;
    cluster.server.set_bookmark_interval(Duration::from_secs(3600));
    let mut watch = cluster.spawn_greenlight(&["watch", &spec, "--format", "json"]);
    watch.line_matching(WAIT, is("github-token", "missing")).await;
    // Forget the history and end the watch: it resumes from an expired version, gets
    // 410 Gone, relists, and sees the Secret created in between.
    let watches =
        || cluster.server.records().into_iter().filter(|r| r.param("watch").is_some()).count();
    let before = watches();
    cluster.server.pause_watches(true);
    cluster.server.end_watches();
    // The old watch is over once the client has asked again (and is held).
    let deadline = std::time::Instant::now() + WAIT;
    while watches() == before {
        assert!(std::time::Instant::now() < deadline, "the client did not watch again");
        tokio::time::sleep(Duration::from_millis(10)).await;
    }
    cluster.seed("acme", "github-token", &[("token", "after-compaction-91")]);
    cluster.server.compact();
    cluster.server.pause_watches(false);
    watch
        .line_matching(WAIT, |l| {
            l["name"] == "github-token" && l["state"] == "present" && l["stale"].is_null()
        })
        .await;
    let gone = cluster
        .server
        .records()
        .into_iter()
        .any(|r| String::from_utf8_lossy(&r.body()).contains("too old resource version"));
    assert!(gone, "the watch should have been answered with 410 Gone");
    cluster.assert_value_free();
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_500_storm_is_unreachable_and_passes() {
    let (mut cluster, spec) = cluster().await;
    cluster.seed("acme", "github-token", &[("token", "storm-value-95")]);
    cluster.server.set_fault(Fault::Error500);
    let (code, report) = check_json(&cluster, &[&spec]).await;
    assert_eq!(code, Some(1));
    assert_eq!(row(&report, "github-token")["state"], "unreachable");

    let mut watch = cluster.spawn_greenlight(&["watch", &spec, "--format", "json"]);
    watch.line_matching(WAIT, is("github-token", "unreachable")).await;
    cluster.server.set_fault(Fault::None);
    watch.line_matching(Duration::from_secs(40), is("github-token", "present")).await;
    cluster.assert_value_free();
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_hung_server_times_out_instead_of_hanging() {
    let (cluster, spec) = cluster().await;
    cluster.server.set_fault(Fault::Hang);
    let started = std::time::Instant::now();
    let (code, report) = check_json(&cluster, &[&spec, "--request-timeout", "1"]).await;
    assert_eq!(code, Some(1), "{report:#}");
    let github = row(&report, "github-token");
    assert_eq!(github["state"], "unreachable");
    assert!(github["detail"].as_str().unwrap().contains("did not answer within 1 s"), "{github}");
    assert!(started.elapsed() < Duration::from_secs(20), "took {:?}", started.elapsed());
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn rotate_replaces_in_place_and_verify_prints_no_value() {
    let (mut cluster, spec) = cluster().await;
    cluster.seed("acme", "github-token", &[("token", "before-rotation-99")]);
    let loaded = spec::load(spec.as_ref()).unwrap();
    let target = Target { kube_context: Some("test".into()), ..Target::default() };
    let all =
        commands::for_entry(&loaded.entries[0], spec::Platform::Kubernetes, &target, Shell::Posix)
            .unwrap();
    let rotate = &all.iter().find(|c| c.kind == CommandKind::Rotate).unwrap().text;
    let verify = &all.iter().find(|c| c.kind == CommandKind::Verify).unwrap().text;
    let (ok, _, stderr) = cluster.shell("bash", rotate, "after-rotation-100\n").await;
    assert!(ok, "{stderr}");
    assert_eq!(
        cluster.server.secret("acme", "github-token").unwrap()["data"]["token"],
        base64_of("after-rotation-100")
    );
    let deletes = cluster.server.records().into_iter().filter(|r| r.method == "DELETE").count();
    assert_eq!(deletes, 0, "rotation must not delete first");
    let (ok, stdout, stderr) = cluster.shell("bash", verify, "").await;
    assert!(ok, "{stderr}");
    assert!(stdout.contains("github-token") && stdout.contains("Opaque"), "{stdout}");
    assert!(
        !stdout.contains("after-rotation-100")
            && !stdout.contains(&base64_of("after-rotation-100")),
        "{stdout}"
    );
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_plain_contract_of_sixteen_secrets_against_the_test_server() {
    let mut cluster = Cluster::start().await;
    for namespace in
        ["litellm", "monitoring", "serving", "experience", "argocd", "dex", "oauth2-proxy"]
    {
        cluster.server.create_namespace(namespace);
    }
    let spec = "tests/fixtures/specs/good/platform-contract-plain.yaml";
    let (code, report) = check_json(&cluster, &[spec]).await;
    assert_eq!(code, Some(3), "{report:#}");
    assert_eq!(row(&report, "litellm-secrets")["state"], "missing");
    assert_eq!(row(&report, "hf-token")["state"], "not_needed");
    assert!(hints(row(&report, "litellm-secrets")).contains("openssl rand -base64 32"));

    // Run every generated create command the operator is shown, as they would.
    let (_, text, _) = cluster.greenlight(&["commands", spec]).await;
    assert!(text.contains("## Create"));
    let loaded = spec::load(spec.as_ref()).unwrap();
    let target = Target { kube_context: Some("test".into()), ..Target::default() };
    for entry in loaded.entries.iter().filter(|e| e.when.iter().all(|f| f == "identity")) {
        if let Some(create) =
            commands::for_entry(entry, spec::Platform::Kubernetes, &target, Shell::Posix)
                .unwrap()
                .into_iter()
                .find(|c| c.kind == CommandKind::Create)
        {
            let (ok, _, stderr) = cluster.shell("bash", &create.text, "").await;
            assert!(ok, "{}: {stderr}", entry.name);
        }
    }
    cluster.seed(
        "dex",
        "dex-secrets",
        &[
            ("DEX_ADMIN_PASSWORD_HASH", "dex-hash-value-201"),
            ("OAUTH2_PROXY_CLIENT_SECRET", "dex-value-202"),
            ("ARGOCD_CLIENT_SECRET", "dex-value-203"),
            ("LITELLM_CLIENT_SECRET", "dex-value-204"),
            ("GRAFANA_CLIENT_SECRET", "dex-value-205"),
            ("OPENWEBUI_CLIENT_SECRET", "dex-value-206"),
            ("TABBY_CLIENT_SECRET", "dex-value-207"),
        ],
    );
    let (code, report) = check_json(&cluster, &[spec]).await;
    assert_eq!(code, Some(0), "{report:#}");
    assert_eq!(report["ready"], true);
    let (code, _) = check_json(&cluster, &[spec, "--feature", "gated-model"]).await;
    assert_eq!(code, Some(3), "turning a feature on makes its secret required");
    cluster.assert_value_free();
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_watch_gone_silent_is_noticed_and_what_it_missed_shows_up() {
    use greenlight::detect::{self, Presence, kubernetes};

    let (mut cluster, spec_path) = cluster().await;
    let mut settings = kubernetes::Settings::new(Some("test".into()), detect::Mode::Live);
    settings.kubeconfig = Some(cluster.kubeconfig());
    // Real servers send a bookmark about once a minute; a watch silent for longer than this
    // is treated as broken. Shortened here so the test takes seconds.
    settings.watch_idle = Duration::from_secs(2);
    settings.request_timeout = Duration::from_secs(2);
    let (spec, _monitor, mut inbox) = live(&spec_path, settings);
    let github = spec.entries.iter().position(|e| e.name == "github-token").unwrap();
    async fn wait_for(inbox: &mut Inbox, index: usize, wanted: Presence) {
        loop {
            let outcome = next_change(inbox, index).await;
            if outcome.presence == wanted && outcome.stale.is_none() {
                return;
            }
        }
    }
    wait_for(&mut inbox, github, Presence::Missing).await;
    cluster.server.set_fault(Fault::MuteWatches);
    cluster.seed("acme", "github-token", &[("token", "while-silent-value-71")]);
    // The watch renews only every few minutes: seeing the Secret within WAIT means the silence
    // was noticed and the namespace listed again.
    wait_for(&mut inbox, github, Presence::Present).await;
    cluster.assert_value_free();
}

/// A monitor's events.
type Inbox = tokio::sync::mpsc::UnboundedReceiver<greenlight::detect::MonitorEvent>;

/// The spec at `spec_path` watched live by the Kubernetes probe with `settings`.
fn live(
    spec_path: &str,
    settings: greenlight::detect::kubernetes::Settings,
) -> (std::sync::Arc<spec::SecretSpec>, greenlight::detect::Monitor, Inbox) {
    use std::sync::Arc;

    use greenlight::detect::{Monitor, Selection, kubernetes};
    let spec = Arc::new(spec::load(spec_path.as_ref()).unwrap());
    let probe = Arc::new(kubernetes::KubernetesProbe::new(settings, &spec));
    let (events, inbox) = tokio::sync::mpsc::unbounded_channel();
    let monitor = Monitor::spawn(
        &tokio::runtime::Handle::current(),
        spec.clone(),
        Selection::defaults(&spec),
        probe,
        events,
        Arc::new(|| {}),
    );
    (spec, monitor, inbox)
}

/// The next outcome the monitor reports for row `index` (within WAIT).
async fn next_change(inbox: &mut Inbox, index: usize) -> greenlight::detect::CheckOutcome {
    use greenlight::detect::MonitorEvent;
    loop {
        match tokio::time::timeout(WAIT, inbox.recv()).await {
            Ok(Some(MonitorEvent::Changed { index: i, outcome })) if i == index => return outcome,
            Ok(Some(_)) => {}
            other => panic!("no change for row {index}: {other:?}"),
        }
    }
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_list_only_role_is_polled_with_list_in_live_mode() {
    // get and list, no watch: a very common Role.
    let mut cluster = Cluster::start_with(vec![Rule::new(
        &["get", "list"],
        &["secrets", "namespaces"],
        Some("acme"),
    )])
    .await;
    cluster.server.create_namespace("acme");
    let spec = write_spec(cluster.dir.path(), SPEC).display().to_string();
    let mut watch = cluster.spawn_greenlight(&["watch", &spec, "--format", "json"]);
    watch.line_matching(WAIT, is("github-token", "missing")).await;
    cluster.seed("acme", "github-token", &[("token", "list-only-value-93")]);
    watch
        .line_matching(WAIT, |l| {
            l["name"] == "github-token" && l["state"] == "present" && l["stale"].is_null()
        })
        .await;
    let greenlight =
        |r: &crate::support::apiserver::Record| r.user_agent.starts_with("greenlight/");
    let records = cluster.server.records();
    assert!(
        records.iter().filter(|r| greenlight(r)).all(|r| r.param("watch").is_none()),
        "watch is not allowed, so Greenlight must not try it"
    );
    assert!(
        records.iter().filter(|r| greenlight(r) && r.path.ends_with("/secrets")).count() >= 2,
        "the namespace is listed every round"
    );
    cluster.assert_value_free();
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_granted_role_is_noticed_without_a_restart() {
    let mut cluster =
        Cluster::start_with(vec![Rule::new(&["create"], &["selfsubjectaccessreviews"], None)])
            .await;
    cluster.server.create_namespace("acme");
    cluster.seed("acme", "github-token", &[("token", "granted-value-94")]);
    let spec = write_spec(cluster.dir.path(), SPEC).display().to_string();
    let mut watch = cluster.spawn_greenlight(&["watch", &spec, "--format", "json"]);
    watch.line_matching(WAIT, is("github-token", "forbidden")).await;
    // The admin applies the Role the hint suggests.
    cluster.server.set_rules(
        crate::support::OPERATOR_TOKEN,
        vec![
            Rule::new(&["create"], &["selfsubjectaccessreviews"], None),
            Rule::new(&["get", "list", "watch"], &["secrets"], Some("acme")),
        ],
    );
    // Access is reviewed again within about 15 s of a denial.
    watch.line_matching(Duration::from_secs(40), is("github-token", "present")).await;
    cluster.assert_value_free();
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_rejected_token_rebuilds_the_session_from_the_rewritten_kubeconfig() {
    let (mut cluster, spec) = cluster().await;
    cluster.seed("acme", "github-token", &[("token", "rotation-value-95")]);
    let mut watch = cluster.spawn_greenlight(&["watch", &spec, "--format", "json"]);
    watch.line_matching(WAIT, is("github-token", "present")).await;
    // The token is revoked and the watch ends: the relist is refused, the row goes stale.
    cluster.server.expire_user(crate::support::OPERATOR_TOKEN);
    cluster.server.end_watches();
    watch.line_matching(WAIT, |l| l["name"] == "github-token" && !l["stale"].is_null()).await;
    // The operator gets a new token into the kubeconfig; Greenlight picks it up by itself.
    cluster.server.add_user("operator", "rotated-token", vec![Rule::admin()]);
    cluster.write_kubeconfig(&[("test", "rotated-token")]);
    watch
        .line_matching(WAIT, |l| {
            l["name"] == "github-token" && l["state"] == "present" && l["stale"].is_null()
        })
        .await;
    cluster.assert_value_free();
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn hints_never_offer_to_delete_what_the_spec_places() {
    let (mut cluster, _) = cluster().await;
    cluster.server.create_namespace("external-dns");
    cluster.server.create_namespace("cert-manager");
    let spec = write_spec(
        cluster.dir.path(),
        "version: 1
deployment: shared-token
platforms: [kubernetes]
secrets:
  - { name: token-external-dns, description: For external-dns, kubernetes: { namespace: external-dns, secret: cloudflare-api-token, keys: [api-token] } }
  - { name: token-cert-manager, description: For cert-manager, kubernetes: { namespace: cert-manager, secret: cloudflare-api-token, keys: [api-token] } }
  - { name: github-token, description: One token, kubernetes: { namespace: acme, keys: [token] } }
  - { name: github-tokens, description: Another entry with a similar name, kubernetes: { namespace: acme, keys: [token] } }
",
    )
    .display()
    .to_string();
    cluster.seed("external-dns", "cloudflare-api-token", &[("api-token", "cloudflare-value-96")]);
    cluster.seed("acme", "github-tokens", &[("token", "tokens-value-97")]);
    let (code, report) = check_json(&cluster, &[&spec]).await;
    assert_eq!(code, Some(3), "{report:#}");
    let missing_copy = row(&report, "token-cert-manager");
    assert_eq!(missing_copy["state"], "found_elsewhere", "{missing_copy:#}");
    assert_eq!(missing_copy["detail"], "Secret external-dns/cloudflare-api-token");
    // Another entry of the spec is no typo of this one.
    let github = row(&report, "github-token");
    assert_eq!(github["state"], "missing", "{github:#}");
    for secret in report["secrets"].as_array().unwrap() {
        assert!(!hints(secret).contains("kubectl delete"), "a destructive hint: {secret:#}");
    }

    // A stray copy the spec does not place may still be offered for deletion.
    cluster.server.create_namespace("default");
    cluster.seed("default", "github-token", &[("token", "stray-value-98")]);
    let (_, report) = check_json(&cluster, &[&spec]).await;
    let github = row(&report, "github-token");
    assert_eq!(github["state"], "found_elsewhere", "{github:#}");
    assert!(
        hints(github)
            .contains("kubectl delete secret github-token --context test --namespace default"),
        "{}",
        hints(github)
    );
    cluster.assert_value_free();
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_hung_credential_plugin_is_stopped_at_the_request_timeout() {
    let (cluster, spec) = cluster().await;
    let home = PluginHome::new(&cluster);
    // A wrapper that starts the real (hung) program, as many plugins do.
    home.plugin("gl-hung-plugin", "sleep 617 &\nwait");
    std::fs::write(
        cluster.kubeconfig(),
        exec_kubeconfig(
            &cluster,
            "      apiVersion: client.authentication.k8s.io/v1\n      command: gl-hung-plugin\n",
        ),
    )
    .unwrap();
    let started = std::time::Instant::now();
    let (code, stdout, stderr) =
        home.run(&cluster, &["check", "--format", "json", "--request-timeout", "2", &spec]).await;
    assert_eq!(code, Some(1), "{stdout}\n{stderr}");
    let report: serde_json::Value = serde_json::from_str(&stdout).unwrap();
    assert_eq!(
        row(&report, "github-token")["detail"],
        "not connected: the credential plugin `gl-hung-plugin` did not finish within 2 s and was stopped"
    );
    assert!(started.elapsed() < Duration::from_secs(30), "{:?}", started.elapsed());
    // Killed processes take a moment to go; give them two seconds.
    for left in ["gl-hung-plugin", "sleep 617"] {
        let running = || {
            std::process::Command::new("pgrep")
                .args(["-f", left])
                .output()
                .is_ok_and(|o| !o.stdout.is_empty())
        };
        let deadline = std::time::Instant::now() + Duration::from_secs(2);
        while running() && std::time::Instant::now() < deadline {
            tokio::time::sleep(Duration::from_millis(50)).await;
        }
        assert!(!running(), "`{left}` was left running");
    }
}

/// The kubectl `variable` names (set by scripts/test.sh), as a directory to put first on PATH.
fn kubectl_dir(variable: &str) -> String {
    let path = std::env::var(variable).unwrap_or_else(|_| {
        panic!("{variable} is not set: run scripts/test.sh, which installs that kubectl")
    });
    assert!(std::path::Path::new(&path).is_file(), "{variable}={path} is missing");
    std::path::Path::new(&path).parent().unwrap().display().to_string()
}

/// Every kind of generated command, run by `kubectl_variable`'s kubectl in bash: create (a
/// value typed on stdin, and a generated multi-key Secret), client-side apply (as operators
/// seed Secrets), rotate (server-side apply), verify, and the permission check hints give.
async fn the_generated_commands_work_with(kubectl_variable: &str) {
    let (mut cluster, _) = cluster().await;
    // A value delivered from a source namespace by External Secrets (the project's stand-in).
    cluster.server.create_namespace("secret-source");
    cluster.server.install_eso(&["v1"]);
    let provider = serde_json::json!({"kubernetes": {"remoteNamespace": "secret-source"}});
    cluster.server.put_custom("clustersecretstores", cluster_store("source-store", provider));
    let es = external_secret(
        "acme",
        "app",
        ("ClusterSecretStore", "source-store"),
        "app",
        &[("token", "source-token")],
    );
    cluster.server.put_custom("externalsecrets", es);
    let _eso = EsoStandIn::start_with(
        cluster.server.handle(),
        Sources::default(),
        Duration::from_secs(3600),
        Duration::from_secs(3600),
    );
    let spec = write_spec(
        cluster.dir.path(),
        "version: 1\ndeployment: kubectl-versions\nplatforms: [kubernetes]\ndefaults: { kubernetes: { namespace: acme } }\nbackends: { source: { kind: kubernetes, namespace: secret-source } }\ndelivery: { external_secrets: { store: { kind: ClusterSecretStore, name: source-store } } }\nvalues:\n  - { name: source-token, description: Delivered }\ntargets:\n  - { namespace: acme, secret: app, keys: { token: source-token } }\nsecrets:\n  - { name: github-token, description: Typed, kubernetes: { keys: [token] } }\n  - { name: session-keys, description: Generated, provided_by: generated, kubernetes: { keys: [signing, encryption] } }\n",
    )
    .display()
    .to_string();
    let dir = kubectl_dir(kubectl_variable);
    let with_kubectl =
        |script: &str| format!("export PATH={dir}:$PATH\nkubectl version --client >&2\n{script}");
    let command = |name: &str, kind: CommandKind| {
        let spec = spec::load(spec.as_ref()).unwrap();
        let entry = spec.entries.iter().find(|e| e.name == name).unwrap();
        let target = Target { kube_context: Some("test".into()), ..Target::default() };
        commands::for_entry(entry, spec::Platform::Kubernetes, &target, Shell::Posix)
            .unwrap()
            .into_iter()
            .find(|c| c.kind == kind)
            .unwrap()
            .text
    };
    for (script, input) in [
        (command("github-token", CommandKind::Create), "typed-with-this-kubectl-41\n"),
        (command("session-keys", CommandKind::Create), ""),
        (command("github-token", CommandKind::Rotate), "rotated-with-this-kubectl-42\n"),
        (command("github-token", CommandKind::Verify), ""),
        (command("source-token", CommandKind::Create), "delivered-with-this-kubectl-44\n"),
        (command("source-token", CommandKind::Sync), ""),
        ("kubectl auth can-i get secrets --context test --namespace acme".to_owned(), ""),
    ] {
        let (ok, stdout, stderr) = cluster.shell("bash", &with_kubectl(&script), input).await;
        assert!(ok, "{script}\n{stdout}\n{stderr}");
        assert!(
            stderr.contains(if kubectl_variable.ends_with("1_20") { "v1.20" } else { "v1.32" }),
            "{stderr}"
        );
    }
    // Client-side apply validates against the server's OpenAPI document (v2 protobuf for 1.20).
    let manifest = "apiVersion: v1\nkind: Secret\nmetadata:\n  name: applied-here\n  namespace: acme\nstringData:\n  token: applied-with-this-kubectl-43\n";
    let (ok, _, stderr) =
        cluster.shell("bash", &with_kubectl("kubectl apply --context admin -f -"), manifest).await;
    assert!(ok, "{stderr}");
    cluster.seeded.push("applied-with-this-kubectl-43".to_owned());
    let (code, report) = check_json(&cluster, &[&spec]).await;
    assert_eq!(code, Some(0), "{report:#}");
    let stored = cluster.server.secret("acme", "github-token").unwrap();
    assert_eq!(stored["data"]["token"], base64_of("rotated-with-this-kubectl-42"));
    let delivered = cluster.server.secret("acme", "app").unwrap();
    assert_eq!(delivered["data"]["token"], base64_of("delivered-with-this-kubectl-44"));
    cluster.seeded.extend([
        "typed-with-this-kubectl-41".to_owned(),
        "rotated-with-this-kubectl-42".to_owned(),
        "delivered-with-this-kubectl-44".to_owned(),
    ]);
    cluster.assert_value_free();
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn the_generated_commands_work_with_debian_12_kubectl_1_20() {
    the_generated_commands_work_with("GREENLIGHT_KUBECTL_1_20").await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn the_generated_commands_work_with_a_current_kubectl() {
    the_generated_commands_work_with("GREENLIGHT_KUBECTL_CURRENT").await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_read_only_operator_is_told_before_pasting_and_a_granted_role_shows() {
    let read_only = vec![
        Rule::new(&["create"], &["selfsubjectaccessreviews"], None),
        Rule::new(&["get", "list", "watch"], &["secrets", "namespaces"], Some("acme")),
    ];
    let mut cluster = Cluster::start_with(read_only.clone()).await;
    cluster.server.create_namespace("acme");
    cluster.seed("acme", "github-token", &[("token", "present-value-99")]);
    let spec = write_spec(cluster.dir.path(), SPEC).display().to_string();
    let (code, report) = check_json(&cluster, &[&spec]).await;
    assert_eq!(code, Some(3), "{report:#}");
    let db = row(&report, "db-credentials");
    assert_eq!(db["state"], "missing");
    assert_eq!(db["can_create"], "no", "{db:#}");
    assert_eq!(db["can_create_reason"], "you may read but not create Secrets in namespace acme");
    let text = hints(db);
    assert!(
        text.contains("kubectl create role greenlight-writer --verb=create,patch,update --resource=secrets --context test --namespace acme"),
        "{text}"
    );
    assert!(text.contains("kubectl auth can-i create secrets --context test --namespace acme"));
    assert!(row(&report, "github-token")["can_create"].is_null(), "present rows need nothing");
    let (_, text_report, _) = cluster.greenlight(&["check", &spec]).await;
    assert!(text_report.contains("can create: no: you may read but not create"), "{text_report}");

    // The admin applies the suggested Role; the next check says so (the app re-asks after a
    // Copy: ui::a_granted_write_permission_shows_after_a_copy).
    let mut granted = read_only;
    granted.push(Rule::new(&["create", "patch", "update"], &["secrets"], Some("acme")));
    cluster.server.set_rules(crate::support::OPERATOR_TOKEN, granted);
    let (code, report) = check_json(&cluster, &[&spec]).await;
    assert_eq!(code, Some(3));
    let db = row(&report, "db-credentials");
    assert_eq!(db["can_create"], "yes", "{db:#}");
    assert_eq!(db["can_create_reason"], "you may create and replace Secrets in namespace acme");
    assert!(!hints(db).contains("greenlight-writer"), "{}", hints(db));
    cluster.assert_value_free();
}

/// Kubernetes keeps no last-change time: a Secret present from the start has no age, and a
/// change made while watching is known from then on, as seen, never as the value's age.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_change_seen_while_watching_is_known_from_then_on() {
    use greenlight::detect::{self, kubernetes};

    let (mut cluster, spec_path) = cluster().await;
    cluster.seed("acme", "github-token", &[("token", "before-change-value-41")]);
    let mut settings = kubernetes::Settings::new(Some("test".into()), detect::Mode::Live);
    settings.kubeconfig = Some(cluster.kubeconfig());
    let (spec, _monitor, mut inbox) = live(&spec_path, settings);
    let github = spec.entries.iter().position(|e| e.name == "github-token").unwrap();
    let first = next_change(&mut inbox, github).await;
    assert_eq!(first.presence, detect::Presence::Present);
    assert_eq!(first.change_seen_at, None, "present from the start: its age is not known");
    assert_eq!(first.changed_at, None);

    let before = std::time::SystemTime::now();
    let loaded = spec::load(spec_path.as_ref()).unwrap();
    let target = Target { kube_context: Some("test".into()), ..Target::default() };
    let all =
        commands::for_entry(&loaded.entries[0], spec::Platform::Kubernetes, &target, Shell::Posix)
            .unwrap();
    let rotate = &all.iter().find(|c| c.kind == CommandKind::Rotate).unwrap().text;
    let (ok, _, stderr) = cluster.shell("bash", rotate, "after-change-value-42\n").await;
    assert!(ok, "{stderr}");
    let seen = next_change(&mut inbox, github).await;
    assert_eq!(seen.presence, detect::Presence::Present);
    assert!(seen.change_seen_at.is_some_and(|at| at >= before), "{seen:?}");
    assert_eq!(seen.changed_at, None, "a change seen is not the value's age");
    cluster.assert_value_free();
}
