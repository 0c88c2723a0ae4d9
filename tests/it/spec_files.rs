//! Spec files as users write them: the examples and good fixtures load, each bad fixture
//! fails with exactly the positions and rules in its `.expect` file, the published JSON
//! Schema is in sync, and no input makes the loader panic.

use std::fs;
use std::path::{Path, PathBuf};

use greenlight::spec::{self, AwsService, Platform, SpecError};
use proptest::prelude::*;

fn root() -> PathBuf {
    PathBuf::from(env!("CARGO_MANIFEST_DIR"))
}

fn files_in(dir: &str) -> Vec<PathBuf> {
    let mut files: Vec<PathBuf> =
        fs::read_dir(root().join(dir)).unwrap().map(|e| e.unwrap().path()).collect();
    files.sort();
    files
}

#[test]
fn examples_and_good_fixtures_load_cleanly() {
    let mut loaded = 0;
    for dir in ["specs/examples", "tests/fixtures/specs/good"] {
        for path in files_in(dir) {
            let spec = spec::load(&path)
                .unwrap_or_else(|e| panic!("{} should load:\n{e}", path.display()));
            assert!(spec.warnings.is_empty(), "{}: {:?}", path.display(), spec.warnings);
            assert!(!spec.entries.is_empty());
            loaded += 1;
        }
    }
    assert!(loaded >= 5, "examples missing: only {loaded} specs found");
}

#[test]
fn each_bad_fixture_fails_with_the_expected_positions_and_rules() {
    let fixtures: Vec<PathBuf> = files_in("tests/fixtures/specs/bad")
        .into_iter()
        .filter(|p| p.extension().is_none_or(|e| e != "expect"))
        .collect();
    assert!(fixtures.len() >= 20, "only {} bad fixtures", fixtures.len());
    for path in fixtures {
        let expect_path = PathBuf::from(format!("{}.expect", path.display()));
        let expected = fs::read_to_string(&expect_path)
            .unwrap_or_else(|_| panic!("{} has no .expect file", path.display()));
        let error = spec::load(&path).expect_err(&format!("{} should be rejected", path.display()));
        let problems = error.problems();
        let got: Vec<String> =
            problems.iter().map(|p| format!("{}:{} {}", p.line, p.column, p.rule)).collect();
        let want: Vec<&str> = expected.lines().filter(|l| !l.trim().is_empty()).collect();
        assert_eq!(got, want, "{}:\n{error}", path.display());
        for problem in problems {
            assert_eq!(problem.file, path, "every problem names the file");
            assert!(!problem.message.is_empty() && !problem.fix.is_empty(), "{problem}");
            let shown = problem.to_string();
            assert!(
                shown.starts_with(&format!(
                    "{}:{}:{}: ",
                    path.display(),
                    problem.line,
                    problem.column
                )),
                "{shown}"
            );
            assert!(shown.contains("fix: "), "{shown}");
        }
    }
}

#[test]
fn every_expect_file_has_its_fixture() {
    for path in files_in("tests/fixtures/specs/bad") {
        if path.extension().is_some_and(|e| e == "expect") {
            let fixture = path.with_extension("");
            assert!(fixture.exists(), "{} has no fixture", path.display());
        }
    }
}

#[test]
fn errors_show_the_source_line_with_a_caret_under_the_column() {
    let error = spec::load(&root().join("tests/fixtures/specs/bad/bad-names.yaml")).unwrap_err();
    let text = error.to_string();
    assert!(text.contains(" 8 |       namespace: Acme-Prod\n   |                  ^\n"), "{text}");
    assert!(text.contains("fix: use `acme-prod`"), "{text}");
    assert!(text.ends_with("5 problems found; the spec was not loaded."), "{text}");
}

#[test]
fn missing_and_unreadable_files_say_what_to_check() {
    let missing = spec::load(Path::new("/nonexistent/spec.yaml")).unwrap_err();
    assert!(matches!(missing, SpecError::Read { .. }));
    assert!(missing.to_string().contains("/nonexistent/spec.yaml"), "{missing}");
    let dir = spec::load(&root().join("specs")).unwrap_err();
    assert!(dir.to_string().contains("is a directory"), "{dir}");
}

#[test]
fn huge_files_are_refused_before_parsing() {
    let dir = tempfile::tempdir().unwrap();
    let path = dir.path().join("huge.yaml");
    let mut text = String::from("version: 1\n# ");
    text.push_str(&"x".repeat(spec::MAX_SPEC_BYTES as usize));
    fs::write(&path, text).unwrap();
    let error = spec::load(&path).unwrap_err();
    let rules: Vec<&str> = error.problems().iter().map(|p| p.rule).collect();
    assert_eq!(rules, ["file-too-large"]);
}

#[test]
fn defaults_fill_in_placements() {
    let spec = spec::load(&root().join("specs/examples/quickstart.yaml")).unwrap();
    let github = &spec.entries[0];
    let k8s = github.kubernetes.as_ref().unwrap();
    assert_eq!(
        (k8s.namespace.as_str(), k8s.secret.as_str(), k8s.keys.as_slice()),
        ("acme-prod", "github-token", &["token".to_owned()][..])
    );
    let aws = github.aws.as_ref().unwrap();
    assert_eq!(
        (aws.service, aws.name.as_str(), aws.region.as_deref()),
        (AwsService::SecretsManager, "acme/github-token", Some("us-east-1"))
    );
    let webhook = spec.entries.iter().find(|e| e.name == "stripe-webhook-token").unwrap();
    assert_eq!(webhook.aws.as_ref().unwrap().service, AwsService::ParameterStore);
    assert_eq!(webhook.kubernetes.as_ref().unwrap().secret, "stripe-webhook");
    assert_eq!(spec.platforms, [Platform::Kubernetes, Platform::Aws]);
    assert_eq!(spec.expect.aws_account.as_deref(), Some("123456789012"));
}

#[test]
fn yaml_and_json_load_into_the_same_model() {
    let yaml = spec::load(&root().join("specs/examples/quickstart.yaml")).unwrap();
    let json = spec::load(&root().join("tests/fixtures/specs/good/quickstart-twin.json")).unwrap();
    assert_eq!(yaml.entries, json.entries);
    assert_eq!(yaml.features, json.features);
    assert_eq!(yaml.expect, json.expect);
    assert_eq!(yaml.deployment, json.deployment);
}

#[test]
fn the_platform_contract_example_covers_the_seed_table() {
    let spec = spec::load(&root().join("specs/examples/platform-contract.yaml")).unwrap();
    let value = |name: &str| {
        spec.entries
            .iter()
            .find(|e| e.name == name)
            .and_then(|e| e.delivered.as_ref())
            .unwrap_or_else(|| panic!("{name} is not a delivered value"))
    };
    // Every value of the seed's table, once, in the backend.
    let values = spec.entries.iter().filter(|e| e.delivered.is_some()).count();
    assert_eq!(values, 18);
    // dex-secrets takes seven keys from seven values; one value can fill several Secrets.
    let dex: Vec<&str> = spec
        .entries
        .iter()
        .filter_map(|e| e.delivered.as_ref())
        .flat_map(|d| &d.targets)
        .filter(|t| t.secret == "dex-secrets")
        .flat_map(|t| t.fed.iter().map(String::as_str))
        .collect();
    assert_eq!(dex.len(), 7, "{dex:?}");
    let argocd = value("dex-argocd-client-secret");
    let secrets: Vec<&str> = argocd.targets.iter().map(|t| t.secret.as_str()).collect();
    assert_eq!(secrets, ["argocd-secret", "dex-secrets"]);
    let cloudflare: Vec<&str> =
        value("cloudflare-api-token").targets.iter().map(|t| t.namespace.as_str()).collect();
    assert_eq!(cloudflare, ["external-dns", "cert-manager"]);
    assert_eq!(value("hf-token").targets[0].when, ["gated-model"]);
    assert_eq!(value("litellm-master-key").create_with.as_deref(), Some("make seed-secrets"));
    // A value is needed when one of its Secrets is: hf-token only with gated-model on.
    let mut features = spec::FeatureSet::defaults(&spec);
    let hf = spec.entries.iter().find(|e| e.name == "hf-token").unwrap();
    assert!(!hf.is_needed(&features));
    features.set("gated-model", true);
    assert!(hf.is_needed(&features));
    // The store's own credential stays a plain Secret.
    let key = spec.entries.iter().find(|e| e.name == "secret-store-key").unwrap();
    assert_eq!(key.kubernetes.as_ref().unwrap().namespace, "external-secrets");
}

#[test]
fn the_published_schema_is_in_sync() {
    let path = root().join("specs/greenlight-spec.v1.schema.json");
    let generated = spec::json_schema();
    if std::env::var_os("GREENLIGHT_UPDATE_SCHEMA").is_some() {
        fs::write(&path, &generated).unwrap();
    }
    let published = fs::read_to_string(&path).unwrap_or_default();
    assert!(
        published == generated,
        "specs/greenlight-spec.v1.schema.json is out of date; regenerate it with\n  GREENLIGHT_UPDATE_SCHEMA=1 cargo test --test it the_published_schema_is_in_sync"
    );
    let schema: serde_json::Value = serde_json::from_str(&published).unwrap();
    assert_eq!(schema["title"], "Greenlight secret spec");
    assert!(schema["properties"]["secrets"].is_object());
}

fn example_texts() -> Vec<String> {
    files_in("specs/examples").into_iter().map(|p| fs::read_to_string(p).unwrap()).collect()
}

/// Loads without panicking; every problem has a real position.
fn loads_safely(bytes: &[u8]) {
    if let Err(error) = spec::parse_bytes(bytes, Path::new("fuzz.yaml")) {
        for problem in error.problems() {
            assert!(problem.line >= 1 && problem.column >= 1, "{problem}");
        }
        let _ = error.to_string();
    }
}

proptest! {
    #![proptest_config(ProptestConfig { cases: 600, ..ProptestConfig::default() })]

    #[test]
    fn arbitrary_bytes_never_panic(bytes in proptest::collection::vec(any::<u8>(), 0..400)) {
        loads_safely(&bytes);
    }

    #[test]
    fn arbitrary_text_never_panics(text in "\\PC{0,300}") {
        loads_safely(text.as_bytes());
    }

    #[test]
    fn mutated_examples_never_panic(which in 0usize..3, edits in proptest::collection::vec((any::<prop::sample::Index>(), 0u8..4, "[ -~\t\n\u{80}-\u{10ffff}]{0,4}"), 1..6)) {
        let texts = example_texts();
        let mut text: Vec<char> = texts[which % texts.len()].chars().collect();
        for (at, kind, insert) in edits {
            let at = at.index(text.len().max(1)).min(text.len());
            match kind {
                0 => { text.splice(at..at, insert.chars()); }
                1 => { let end = (at + 3).min(text.len()); text.drain(at..end); }
                2 => { let end = (at + insert.chars().count()).min(text.len()); text.splice(at..end, insert.chars()); }
                _ => { if at < text.len() { let c = text[at]; text.insert(at, c); } }
            }
        }
        let mutated: String = text.into_iter().collect();
        loads_safely(mutated.as_bytes());
    }
}
