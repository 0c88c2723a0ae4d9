//! The built binary, run as a script or a person would: exit codes, output formats, messages.

use std::path::Path;
use std::process::{Command, Output};

/// Runs the binary with a hermetic environment: no kubeconfig, empty AWS files, no instance
/// metadata, nothing inherited (see `support::hermetic_env`).
fn greenlight(args: &[&str]) -> Output {
    let home = tempfile::tempdir().unwrap();
    let (set, remove) = crate::support::hermetic_env(home.path());
    let mut command = Command::new(env!("CARGO_BIN_EXE_greenlight"));
    for name in remove {
        command.env_remove(name);
    }
    command
        .args(args)
        .current_dir(env!("CARGO_MANIFEST_DIR"))
        .envs(set)
        .env("KUBECONFIG", "/nonexistent/greenlight-test/kubeconfig")
        .output()
        .unwrap()
}

fn stdout(out: &Output) -> String {
    String::from_utf8_lossy(&out.stdout).into_owned()
}

fn stderr(out: &Output) -> String {
    String::from_utf8_lossy(&out.stderr).into_owned()
}

const QUICKSTART: &str = "specs/examples/quickstart.yaml";

#[test]
fn lint_accepts_every_example() {
    for example in [
        "specs/examples/quickstart.yaml",
        "specs/examples/platform-contract.yaml",
        "specs/examples/doppler-eso.json",
    ] {
        let out = greenlight(&["lint", example]);
        assert_eq!(out.status.code(), Some(0), "{}", stderr(&out));
        assert!(stdout(&out).contains(": OK."), "{}", stdout(&out));
    }
}

#[test]
fn lint_reports_position_rule_and_fix_and_exits_2() {
    let out = greenlight(&["lint", "tests/fixtures/specs/bad/bad-names.yaml"]);
    assert_eq!(out.status.code(), Some(2));
    let err = stderr(&out);
    assert!(err.contains("tests/fixtures/specs/bad/bad-names.yaml:8:18: `Acme-Prod` is not a valid Kubernetes namespace"), "{err}");
    assert!(err.contains("[kubernetes-namespace]"), "{err}");
    assert!(err.contains("fix: use `acme-prod`"), "{err}");
}

#[test]
fn schema_prints_the_published_schema() {
    let out = greenlight(&["schema"]);
    assert_eq!(out.status.code(), Some(0));
    let published = std::fs::read_to_string(
        Path::new(env!("CARGO_MANIFEST_DIR")).join("specs/greenlight-spec.v1.schema.json"),
    )
    .unwrap();
    assert_eq!(stdout(&out), published);
}

#[test]
fn check_without_a_kubeconfig_says_so_and_exits_1() {
    let out = greenlight(&["check", QUICKSTART]);
    assert_eq!(out.status.code(), Some(1), "{}", stdout(&out));
    let text = stdout(&out);
    assert!(
        text.starts_with(
            "acme-analytics on kubernetes: not ready (0 of 4 required secrets present)"
        ),
        "{text}"
    );
    assert!(
        text.contains(
            "not connected: cannot read the kubeconfig (/nonexistent/greenlight-test/kubeconfig)"
        ),
        "{text}"
    );
    assert!(text.contains("kubectl config view --minify"), "{text}");
    assert!(
        !text.contains("missing"),
        "nothing may be reported missing without a backend's answer:\n{text}"
    );
}

#[test]
fn check_with_a_misspelled_aws_profile_names_the_real_ones() {
    let dir = tempfile::tempdir().unwrap();
    let config = dir.path().join("config");
    std::fs::write(
        &config,
        "[default]\nregion = us-east-1\n[profile acme-admin]\nregion = eu-west-1\n",
    )
    .unwrap();
    let out = Command::new(env!("CARGO_BIN_EXE_greenlight"))
        .args(["check", QUICKSTART, "--platform", "aws", "--profile", "acme-admn"])
        .current_dir(env!("CARGO_MANIFEST_DIR"))
        .env("AWS_CONFIG_FILE", &config)
        .env("AWS_SHARED_CREDENTIALS_FILE", dir.path().join("credentials"))
        .env("AWS_ACCESS_KEY_ID", "must-not-be-used")
        .env("AWS_SECRET_ACCESS_KEY", "must-not-be-used")
        .output()
        .unwrap();
    assert_eq!(out.status.code(), Some(1), "{}", stdout(&out));
    let text = stdout(&out);
    assert!(text.contains("AWS profile `acme-admn` does not exist"), "{text}");
    assert!(text.contains("profiles: acme-admin, default"), "{text}");
    assert!(text.contains("aws configure list-profiles"), "{text}");
}

#[test]
fn check_json_follows_the_contract() {
    let out = greenlight(&["check", QUICKSTART, "--format", "json"]);
    assert_eq!(out.status.code(), Some(1));
    let report: serde_json::Value = serde_json::from_slice(&out.stdout).unwrap();
    assert_eq!(report["deployment"], "acme-analytics");
    assert_eq!(report["platform"], "kubernetes");
    assert_eq!(report["ready"], false);
    let rows = report["secrets"].as_array().unwrap();
    assert_eq!(rows.len(), 6);
    for row in rows {
        for field in ["name", "required", "state", "location", "hints"] {
            assert!(row.get(field).is_some(), "{field} missing in {row}");
        }
    }
    let state = |name: &str| {
        rows.iter().find(|r| r["name"] == name).unwrap()["state"].as_str().unwrap().to_owned()
    };
    assert_eq!(state("github-token"), "unreachable");
    assert_eq!(state("slack-webhook-url"), "not_needed");
    assert_eq!(rows[0]["location"], "Secret acme-prod/github-token");
}

#[test]
fn features_and_skips_change_the_rows() {
    let out = greenlight(&[
        "check",
        QUICKSTART,
        "--format",
        "json",
        "--feature",
        "notifications",
        "--skip",
        "slack-webhook-url",
    ]);
    let report: serde_json::Value = serde_json::from_slice(&out.stdout).unwrap();
    let slack = report["secrets"]
        .as_array()
        .unwrap()
        .iter()
        .find(|r| r["name"] == "slack-webhook-url")
        .unwrap()
        .clone();
    assert_eq!(slack["state"], "skipped");
    let aws = greenlight(&["check", QUICKSTART, "--format", "json", "--platform", "aws"]);
    let report: serde_json::Value = serde_json::from_slice(&aws.stdout).unwrap();
    assert_eq!(report["platform"], "aws");
    assert_eq!(report["secrets"][0]["location"], "Secrets Manager acme/github-token in us-east-1");
}

#[test]
fn usage_mistakes_exit_2_with_the_fix() {
    let cases: [(&[&str], &str); 8] = [
        (&["check", QUICKSTART, "--request-timeout", "18446744073709551615"], "not in 1..=3600"),
        (&["check", QUICKSTART, "--request-timeout", "0"], "not in 1..=3600"),
        (
            &["check", QUICKSTART, "--feature", "notificatons"],
            "declares no such feature (declared: notifications)",
        ),
        (&["check", QUICKSTART, "--feature", "notifications=maybe"], "is not on or off"),
        (&["check", QUICKSTART, "--skip", "github-token"], "only optional secrets can be skipped"),
        (
            &["check", "specs/examples/platform-contract.yaml", "--platform", "aws"],
            "it offers: kubernetes",
        ),
        (&["commands", QUICKSTART, "--secret", "nope"], "the spec has no secret of that name"),
        (&["check", "no/such/spec.yaml"], "cannot read spec no/such/spec.yaml"),
    ];
    for (args, message) in cases {
        let out = greenlight(args);
        assert_eq!(out.status.code(), Some(2), "{args:?}");
        assert!(stderr(&out).contains(message), "{args:?}: {}", stderr(&out));
    }
    assert_eq!(greenlight(&["check"]).status.code(), Some(2), "clap usage errors exit 2");
    assert_eq!(
        greenlight(&["check", "tests/fixtures/specs/bad/syntax.yaml"]).status.code(),
        Some(2)
    );
}

#[test]
fn without_a_display_the_app_points_to_the_headless_commands() {
    let out = Command::new(env!("CARGO_BIN_EXE_greenlight"))
        .arg(QUICKSTART)
        .current_dir(env!("CARGO_MANIFEST_DIR"))
        .env_remove("DISPLAY")
        .env_remove("WAYLAND_DISPLAY")
        .output()
        .unwrap();
    assert_eq!(out.status.code(), Some(1));
    let err = stderr(&out);
    assert!(err.contains("Cannot open the Greenlight window"), "{err}");
    assert!(err.contains("greenlight check specs/examples/quickstart.yaml"), "{err}");
}

#[test]
fn watch_prints_json_lines_and_times_out() {
    let out = greenlight(&["watch", QUICKSTART, "--format", "json", "--timeout", "2"]);
    assert_eq!(out.status.code(), Some(1), "{}", stderr(&out));
    let lines: Vec<serde_json::Value> =
        stdout(&out).lines().map(|l| serde_json::from_str(l).unwrap()).collect();
    assert_eq!(lines.len(), 6, "one line per secret on the first round, none after");
    for line in &lines {
        assert!(line["at"].as_str().unwrap().ends_with('Z'));
        assert!(line["name"].is_string() && line["state"].is_string());
    }
}

#[test]
fn commands_prints_every_kind_for_both_shells() {
    let posix = stdout(&greenlight(&["commands", QUICKSTART, "--secret", "github-token"]));
    for heading in ["## Create", "## Verify", "## Rotate"] {
        assert!(posix.contains(heading), "{posix}");
    }
    assert!(posix.contains("--from-file=token=/dev/stdin"), "{posix}");
    let powershell = stdout(&greenlight(&[
        "commands",
        QUICKSTART,
        "--shell",
        "powershell",
        "--platform",
        "aws",
    ]));
    assert!(powershell.contains("Read-Host -AsSecureString"), "{powershell}");
    // No profile named: the aws CLI finds credentials as Greenlight's SDK did.
    assert!(!powershell.contains("--profile"), "{powershell}");
    let named = stdout(&greenlight(&[
        "commands",
        QUICKSTART,
        "--shell",
        "powershell",
        "--platform",
        "aws",
        "--profile",
        "prod",
    ]));
    assert!(named.contains("--profile prod"), "{named}");
}

#[test]
fn vendor_text_never_reaches_the_terminal_raw() {
    let raw = ['\u{1b}', '\u{7}', '\u{9b}', '\u{202e}'];
    let out = greenlight(&["lint", "tests/fixtures/specs/bad/control-characters.yaml"]);
    assert_eq!(out.status.code(), Some(2));
    let err = stderr(&out);
    assert!(err.contains("control character U+001B [control-character]"), "{err}");
    assert!(!err.contains(raw), "{err:?}");

    // Names the parser echoes (an unknown field, an undeclared feature) are escaped too.
    let dir = tempfile::tempdir().unwrap();
    let path = dir.path().join("spec.yaml");
    std::fs::write(
        &path,
        "version: 1\ndeployment: d\nplatforms: [kubernetes]\ndefaults: { kubernetes: { namespace: acme } }\nsecrets:\n  - { name: a, description: A, when: \"x\\e]52;c;cm0=\\a\", kubernetes: { keys: [k] } }\n  - { name: b, description: B, \"\\e[2Jfield\\u202e\": 1, kubernetes: { keys: [k] } }\n",
    )
    .unwrap();
    let spec = path.display().to_string();
    for args in [vec!["lint", &spec], vec!["check", &spec], vec!["commands", &spec]] {
        let out = greenlight(&args);
        assert_eq!(out.status.code(), Some(2), "{args:?}");
        let shown = format!("{}{}", stdout(&out), stderr(&out));
        assert!(!shown.contains(raw), "{args:?} printed a raw control character: {shown:?}");
        assert!(shown.contains("\\u{1b}"), "{args:?} shows it escaped: {shown}");
    }
}

#[test]
fn a_fifo_or_a_device_is_refused_without_waiting_for_a_writer() {
    let dir = tempfile::tempdir().unwrap();
    let fifo = dir.path().join("spec.yaml");
    let made = Command::new("mkfifo").arg(&fifo).status().unwrap();
    assert!(made.success());
    let started = std::time::Instant::now();
    let out = greenlight(&["lint", &fifo.display().to_string()]);
    assert_eq!(out.status.code(), Some(2));
    assert!(stderr(&out).contains("it is not a regular file"), "{}", stderr(&out));
    assert!(started.elapsed() < std::time::Duration::from_secs(10), "it waited for a writer");
    let out = greenlight(&["lint", "/dev/zero"]);
    assert!(stderr(&out).contains("it is not a regular file"), "{}", stderr(&out));
}

#[test]
fn thousands_of_problems_are_reported_quickly_and_capped() {
    let mut text = String::from(
        "version: 1\ndeployment: many\nplatforms: [kubernetes]\ndefaults: { kubernetes: { namespace: acme } }\nsecrets:\n",
    );
    for n in 0..20_000 {
        text.push_str(&format!(
            "  - {{ name: Bad_Name_{n}, description: d, kubernetes: {{ keys: [k] }} }}\n"
        ));
    }
    let dir = tempfile::tempdir().unwrap();
    let path = dir.path().join("spec.yaml");
    std::fs::write(&path, text).unwrap();
    let error = greenlight::spec::load(&path).unwrap_err();
    let problems = error.problems();
    assert_eq!(problems.len(), 101, "100 problems and a note");
    let note = problems.last().unwrap();
    assert_eq!(note.rule, "too-many-problems");
    assert_eq!(note.message, "19900 more problems not shown");
}
