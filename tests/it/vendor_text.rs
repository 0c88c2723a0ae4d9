//! The spec is the vendor's text, untrusted. Arbitrary strings in every free-text and name
//! field either fail lint or come out inert in everything Greenlight prints: the commands
//! (checked by real bash and zsh, for syntax and by running them, with a marker each string
//! would create if it ran), the check report as text, JSON and Markdown, and the strings the
//! window shows.

use std::path::Path;
use std::process::Stdio;

use greenlight::commands::{self, Shell, Target};
use greenlight::detect::{CheckOutcome, Presence, Selection};
use greenlight::report::{CheckReport, Writing};
use greenlight::spec::{self, Platform};
use greenlight::text::is_hidden_control;
use proptest::prelude::*;
use serde_json::json;

/// Stand-ins for the CLIs, each reading nothing and doing nothing.
fn stand_ins(dir: &Path) -> std::path::PathBuf {
    use std::os::unix::fs::PermissionsExt;
    let bin = dir.join("bin");
    std::fs::create_dir_all(&bin).unwrap();
    for cli in ["kubectl", "aws", "gcloud", "doppler", "vault", "az", "openssl"] {
        let path = bin.join(cli);
        std::fs::write(&path, "#!/bin/sh\nexit 0\n").unwrap();
        std::fs::set_permissions(&path, std::fs::Permissions::from_mode(0o755)).unwrap();
    }
    bin
}

/// Runs `script` with `shell ARGS`, stdin empty; whether it exited, and its stderr.
fn run(shell: &str, args: &[&str], script: &str, bin: &Path) -> (bool, String) {
    let path = format!("{}:{}", bin.display(), std::env::var("PATH").unwrap_or_default());
    let out = std::process::Command::new(shell)
        .args(args)
        .arg(script)
        .env("PATH", path)
        .env("HOME", bin)
        .stdin(Stdio::null())
        .output()
        .unwrap();
    (out.status.code().is_some(), String::from_utf8_lossy(&out.stderr).into_owned())
}

/// A spec with `text` (and a marker-creating suffix) in every free-text field and `name` in
/// the name fields.
fn spec_with(text: &str, name: &str, marker: &Path) -> String {
    let m = marker.display();
    let hostile = format!("{text} $(touch {m}) `touch {m}` ; touch {m}");
    json!({
        "version": 1,
        "deployment": hostile,
        "platforms": ["kubernetes"],
        "features": {"f": {"description": hostile, "default": true}},
        "backends": {"src": {"kind": "kubernetes", "namespace": "source"}},
        "delivery": {"external_secrets": {"store": {"kind": "ClusterSecretStore", "name": "store"}}},
        "values": [{"name": name, "description": hostile, "create_with": hostile, "when": "f"}],
        "targets": [{"namespace": "app", "secret": name, "keys": {"k": name}}],
        "secrets": [{"name": format!("{name}-plain"), "description": hostile, "kubernetes": {"namespace": "app", "keys": ["k"]}}],
    })
    .to_string()
}

proptest! {
    #![proptest_config(ProptestConfig { cases: 96, ..ProptestConfig::default() })]

    #[test]
    fn vendor_text_fails_lint_or_comes_out_inert(
        text in "\\PC{0,30}|[ -~]{0,30}|[$`'\"\\\\;|&<>(){}!#*?\\[\\]~\u{2019}\u{2028}\u{202e}\u{1b}\n\t ]{0,20}",
        name in "[a-z][a-z0-9-]{0,10}[a-z0-9]|[a-z0-9.-]{1,12}|\\PC{1,8}",
    ) {
        let dir = tempfile::tempdir().unwrap();
        let marker = dir.path().join("ran");
        let Ok(spec) = spec::parse_bytes(spec_with(&text, &name, &marker).as_bytes(), "spec.json".as_ref()) else {
            return Ok(());
        };
        // Lint accepted it: every field is plain text for the window.
        for entry in &spec.entries {
            prop_assert!(!entry.description.trim().chars().any(is_hidden_control));
            prop_assert!(!entry.name.chars().any(is_hidden_control));
        }
        prop_assert!(!spec.deployment.trim().chars().any(is_hidden_control));
        let target = Target { kube_context: Some("test".into()), ..Target::default() };
        for shell in [Shell::Posix, Shell::PowerShell] {
            let sheet = commands::sheet(&spec.entries, Platform::Kubernetes, &target, shell);
            prop_assert!(sheet.is_ok(), "lint accepted what cannot be written: {sheet:?}");
        }
        let sheet = commands::sheet(&spec.entries, Platform::Kubernetes, &target, Shell::Posix).unwrap();
        let bin = stand_ins(dir.path());
        for (shell, args) in [("bash", vec!["--norc", "-n", "-c"]), ("zsh", vec!["-f", "-n", "-c"])] {
            let (_, err) = run(shell, &args, sheet.text(), &bin);
            prop_assert!(err.is_empty(), "{shell} -n: {err}\n{}", sheet.text());
        }
        for (shell, args) in [("bash", vec!["--norc", "-c"]), ("zsh", vec!["-f", "-c"])] {
            run(shell, &args, sheet.text(), &bin);
            prop_assert!(!marker.exists(), "{shell} ran vendor text:\n{}", sheet.text());
        }
        // The report: text escapes, JSON round-trips, Markdown keeps its table.
        let selection = Selection::defaults(&spec);
        let outcomes: Vec<CheckOutcome> = spec
            .entries
            .iter()
            .map(|_| CheckOutcome::now(Presence::Unreachable { reason: "not connected".into() }))
            .collect();
        let report = CheckReport::build(&spec, &selection, &outcomes, &Writing::default());
        let text_out = greenlight::text::printable(&report.to_text()).into_owned();
        prop_assert!(!text_out.chars().any(|c| c != '\n' && is_hidden_control(c)));
        let parsed: serde_json::Value = serde_json::from_str(&report.to_json()).unwrap();
        prop_assert_eq!(parsed["deployment"].as_str(), Some(spec.deployment.as_str()));
        for line in report.to_markdown().lines().filter(|l| l.starts_with("| ")) {
            let cells = line.replace("\\|", "").matches('|').count();
            prop_assert_eq!(cells, 5, "a Markdown row broke: {}", line);
        }
    }
}
