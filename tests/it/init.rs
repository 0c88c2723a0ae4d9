//! `greenlight init` as a vendor runs it: a Helm-rendered chart and seed 004's ExternalSecrets
//! drafted into specs that lint, the same rows as the hand-written example, `--merge` keeping
//! what the vendor wrote, hostile input answered with an error, and the draft checked against
//! the test API server.

use std::io::Write as _;
use std::path::{Path, PathBuf};
use std::process::{Command, Output, Stdio};

use greenlight_testkit::{Cluster, row};

fn fixture(name: &str) -> PathBuf {
    Path::new(env!("CARGO_MANIFEST_DIR")).join("tests/fixtures/manifests").join(name)
}

fn greenlight(args: &[&str], stdin: Option<&[u8]>) -> Output {
    let home = tempfile::tempdir().unwrap();
    let (set, remove) = crate::support::hermetic_env(home.path());
    let mut command = Command::new(env!("CARGO_BIN_EXE_greenlight"));
    for name in remove {
        command.env_remove(name);
    }
    let mut child = command
        .args(args)
        .envs(set)
        .env("KUBECONFIG", "/nonexistent/greenlight-test/kubeconfig")
        .stdin(Stdio::piped())
        .stdout(Stdio::piped())
        .stderr(Stdio::piped())
        .spawn()
        .unwrap();
    let mut input = child.stdin.take().unwrap();
    let bytes = stdin.unwrap_or_default().to_vec();
    let writer = std::thread::spawn(move || {
        input.write_all(&bytes).ok();
    });
    let out = child.wait_with_output().unwrap();
    writer.join().unwrap();
    out
}

fn text(bytes: &[u8]) -> String {
    String::from_utf8_lossy(bytes).into_owned()
}

/// Every row's name and location, as `check` reports them without a cluster (the spec as
/// written, not its environments).
fn rows(spec: &Path) -> Vec<(String, String)> {
    let args = ["check", "--context", "none", "--format", "json", spec.to_str().unwrap()];
    let out = greenlight(&args, None);
    let report: serde_json::Value = serde_json::from_slice(&out.stdout)
        .unwrap_or_else(|e| panic!("{e}: {}{}", text(&out.stdout), text(&out.stderr)));
    let mut rows: Vec<(String, String)> = report["secrets"]
        .as_array()
        .unwrap()
        .iter()
        .map(|r| {
            (r["name"].as_str().unwrap().to_owned(), r["location"].as_str().unwrap().to_owned())
        })
        .collect();
    rows.sort();
    rows
}

/// The draft with every placeholder description written.
fn described(draft: &str) -> String {
    draft.replace("\"TODO: what this is, and where the operator gets it\"", "Written by the vendor")
}

#[test]
fn a_rendered_chart_becomes_a_spec_of_what_the_operator_creates() {
    let chart = fixture("chart");
    let out = greenlight(&["init", chart.to_str().unwrap(), "--namespace", "acme"], None);
    assert_eq!(out.status.code(), Some(0), "{}", text(&out.stderr));
    let draft = text(&out.stdout);
    let stderr = text(&out.stderr);
    // Values the manifests hold (a Secret's data and stringData, a SealedSecret's ciphertext,
    // a last-applied annotation, a literal env value) never reach the draft or the terminal.
    for value in
        ["Y2hhcnQtbWFkZS1", "chart-made-string", "AgBy3i4", "annotation-held", "literal-env-value"]
    {
        assert!(
            !draft.contains(value) && !stderr.contains(value),
            "{value} leaked:\n{draft}\n{stderr}"
        );
    }
    assert!(draft.contains("deployment: acme-analytics"), "{draft}");
    assert!(stderr.contains("3 Secrets made by the manifests themselves"), "{stderr}");

    let dir = tempfile::tempdir().unwrap();
    let spec = dir.path().join("spec.yaml");
    std::fs::write(&spec, described(&draft).replace("keys: []", "keys: [LICENSE_KEY]")).unwrap();
    let lint = greenlight(&["lint", spec.to_str().unwrap()], None);
    assert_eq!(
        lint.status.code(),
        Some(0),
        "{}{}\n{draft}",
        text(&lint.stdout),
        text(&lint.stderr)
    );
    let loaded = greenlight_engine::spec::load(&spec).unwrap();
    let entry = |name: &str| {
        loaded
            .entries
            .iter()
            .find(|e| e.name == name)
            .unwrap_or_else(|| panic!("no {name}:\n{draft}"))
    };
    let placement = |name: &str| entry(name).kubernetes.clone().unwrap();
    assert_eq!(placement("database-password").keys, ["password"]);
    assert_eq!(placement("database-password").namespace, "acme");
    assert!(!entry("slack-webhook-url").required, "every reference is optional");
    assert!(entry("database-password").required);
    assert_eq!(placement("stripe-webhook").keys, ["signing-secret"]);
    assert_eq!(placement("session-signing-key").keys, ["key"]);
    assert_eq!(
        placement("acme-registry").secret_type.as_deref(),
        Some("kubernetes.io/dockerconfigjson")
    );
    // The same Secret name in two namespaces: two rows, named apart.
    assert_eq!(placement("acme/github-token").secret, "github-token");
    assert_eq!(placement("acme-tools/github-token").namespace, "acme-tools");
    for made in ["acme-internal", "acme-sealed", "acme-tls"] {
        assert!(!loaded.entries.iter().any(|e| e.name == made), "{made} is made by the chart");
    }
    assert_eq!(loaded.entries.len(), 8, "{draft}");

    // Without the descriptions written, lint says so and nothing else (beside the envFrom
    // Secret whose keys no manifest names).
    std::fs::write(&spec, &draft).unwrap();
    let lint = greenlight(&["lint", spec.to_str().unwrap()], None);
    let said = text(&lint.stderr) + &text(&lint.stdout);
    assert!(said.contains("[missing-keys]") && said.contains("acme-license"), "{said}");

    // Stable: the same input gives the same draft, byte for byte.
    let again = greenlight(&["init", chart.to_str().unwrap(), "--namespace", "acme"], None);
    assert_eq!(text(&again.stdout), draft);
}

#[test]
fn seed_004_s_manifests_give_the_rows_of_the_hand_written_example() {
    let manifests = std::fs::read(fixture("doppler-eso.yaml")).unwrap();
    let dir = tempfile::tempdir().unwrap();
    let spec = dir.path().join("drafted.yaml");
    let out = greenlight(
        &["init", "-", "--deployment", "k3s-apps", "--out", spec.to_str().unwrap()],
        Some(&manifests),
    );
    assert_eq!(out.status.code(), Some(0), "{}", text(&out.stderr));
    let stderr = text(&out.stderr);
    assert!(stderr.contains("3 descriptions to write"), "{stderr}");
    let draft = std::fs::read_to_string(&spec).unwrap();
    assert!(!draft.contains("{{ .DATABASE_URL }}"), "templates are not copied:\n{draft}");
    let lint = greenlight(&["lint", spec.to_str().unwrap()], None);
    let said = text(&lint.stderr);
    assert_eq!(lint.status.code(), Some(0), "{said}");
    assert_eq!(said.matches("[placeholder-description]").count(), 3, "{said}");
    assert_eq!(said.matches("warning:").count(), 3, "only the descriptions are flagged: {said}");

    let example = Path::new(env!("CARGO_MANIFEST_DIR")).join("specs/examples/doppler-eso.json");
    assert_eq!(rows(&spec), rows(&example));
    // The store's credential is named, so it is listed first and named first when the store
    // cannot log in.
    let credential = |path: &Path| {
        greenlight_engine::spec::load(path).unwrap().delivery.and_then(|d| d.credential)
    };
    assert_eq!(credential(&spec).as_deref(), Some("doppler-token-auth"));
    assert_eq!(credential(&spec), credential(&example));

    // An existing file is not replaced...
    let again = greenlight(&["init", "-", "--out", spec.to_str().unwrap()], Some(&manifests));
    assert_eq!(again.status.code(), Some(2));
    assert!(text(&again.stderr).contains("--merge"), "{}", text(&again.stderr));
    assert_eq!(std::fs::read_to_string(&spec).unwrap(), draft);

    // ...but merged into: what the vendor wrote is kept, what the manifests dropped is
    // kept and flagged.
    let vendor = described(&draft).replace(
        "  - name: JWT_SECRET\n    description: Written by the vendor\n",
        "  - name: JWT_SECRET\n    description: Signing key for tokens\n    provided_by: generated\n    generate: { bytes: 48, encoding: base64 }\n",
    );
    std::fs::write(&spec, &vendor).unwrap();
    let fewer = text(&manifests)
        .replace("    - secretKey: JWT_SECRET\n      remoteRef:\n        key: JWT_SECRET\n", "");
    let merged = greenlight(
        &["init", "-", "--merge", spec.to_str().unwrap(), "--out", spec.to_str().unwrap()],
        Some(fewer.as_bytes()),
    );
    assert_eq!(merged.status.code(), Some(0), "{}", text(&merged.stderr));
    let after = std::fs::read_to_string(&spec).unwrap();
    assert!(after.contains("deployment: k3s-apps"), "{after}");
    assert!(after.contains("description: \"Written by the vendor\""), "{after}");
    assert!(after.contains("no ExternalSecret here reads it"), "{after}");
    assert!(after.contains("Signing key for tokens"), "{after}");
    let lint = greenlight(&["lint", spec.to_str().unwrap()], None);
    assert_eq!(lint.status.code(), Some(0), "{}\n{after}", text(&lint.stderr));
}

#[test]
fn hostile_input_is_refused_with_a_reason_and_never_a_panic() {
    let dir = tempfile::tempdir().unwrap();
    let cases: Vec<(&str, String)> = vec![
        ("anchors", {
            let mut t = String::from("a: &a [x, x, x, x, x, x, x, x, x, x]\n");
            for i in 0..30 {
                let prev = if i == 0 { "a".to_owned() } else { format!("l{}", i - 1) };
                t.push_str(&format!("l{i}: &l{i} [*{prev}, *{prev}, *{prev}, *{prev}, *{prev}, *{prev}, *{prev}, *{prev}, *{prev}]\n"));
            }
            t
        }),
        ("deep", format!("kind: Deployment\nspec: {}{}\n", "[".repeat(5_000), "]".repeat(5_000))),
        ("not-yaml", "kind: [unclosed\n  - : : :\n\t".to_owned()),
        (
            "template",
            "apiVersion: v1\nkind: Secret\nmetadata:\n  name: {{ .Values.name }}\n".to_owned(),
        ),
        ("plain", "just a sentence\n---\n- a list\n".to_owned()),
    ];
    for (name, content) in cases {
        let path = dir.path().join(format!("{name}.yaml"));
        std::fs::write(&path, content).unwrap();
        let out = greenlight(&["init", path.to_str().unwrap()], None);
        let stderr = text(&out.stderr);
        assert_eq!(out.status.code(), Some(2), "{name}: {stderr}");
        assert!(!stderr.contains("panicked"), "{name}: {stderr}");
        assert!(
            stderr.contains(path.to_str().unwrap()) || stderr.contains("nothing consumes"),
            "{name}: {stderr}"
        );
        assert!(out.stdout.is_empty(), "{name}: no half a spec");
    }
    let missing = greenlight(&["init", "/nonexistent/chart"], None);
    assert_eq!(missing.status.code(), Some(2));
    assert!(text(&missing.stderr).contains("- for standard input"), "{}", text(&missing.stderr));
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_drafted_spec_checks_against_the_cluster() {
    let mut cluster = Cluster::start().await;
    for namespace in ["acme", "acme-tools"] {
        cluster.server.create_namespace(namespace);
    }
    cluster.seed("acme", "database-password", &[("password", "drafted-value-301")]);
    cluster.seed("acme-tools", "github-token", &[("token", "drafted-value-302")]);
    let chart = fixture("chart");
    let out = greenlight(&["init", chart.to_str().unwrap(), "--namespace", "acme"], None);
    let spec = cluster.dir.path().join("spec.yaml");
    std::fs::write(&spec, described(&text(&out.stdout)).replace("keys: []", "keys: [LICENSE_KEY]"))
        .unwrap();
    let (code, stdout, stderr) =
        cluster.greenlight(&["check", "--format", "json", spec.to_str().unwrap()]).await;
    assert_eq!(code, Some(3), "{stdout}{stderr}");
    let report: serde_json::Value = serde_json::from_str(&stdout).unwrap();
    assert_eq!(row(&report, "database-password")["state"], "present");
    assert_eq!(row(&report, "acme-tools/github-token")["state"], "present");
    assert_eq!(row(&report, "acme/github-token")["state"], "found_elsewhere");
    assert_eq!(row(&report, "stripe-webhook")["state"], "missing");
    assert_eq!(row(&report, "slack-webhook-url")["state"], "missing");
    assert_eq!(row(&report, "slack-webhook-url")["required"], false);
    cluster.assert_value_free();
}
