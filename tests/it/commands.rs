//! Generated commands: snapshots for both shells, a property test that POSIX quoting
//! re-parses to the intended argv, and the create commands run through real bash and zsh
//! into a real kubectl (client-side dry run) with the values typed on stdin.

use std::fs;
use std::io::Write;
use std::os::unix::fs::PermissionsExt;
use std::path::{Path, PathBuf};
use std::process::{Command, Stdio};

use base64::Engine;
use greenlight::commands::{self, CommandKind, Shell, Target, quote};
use greenlight::spec::{self, Encoding, KubernetesPlacement, Platform, Provider, SecretSpec};
use proptest::prelude::*;

fn example(name: &str) -> SecretSpec {
    spec::load(&Path::new(env!("CARGO_MANIFEST_DIR")).join("specs/examples").join(name)).unwrap()
}

/// The platform contract written as plain Kubernetes Secrets (the form it had before delivery
/// chains): sixteen multi-key Secrets, good material for create commands.
fn plain_contract() -> SecretSpec {
    spec::load(
        &Path::new(env!("CARGO_MANIFEST_DIR"))
            .join("tests/fixtures/specs/good/platform-contract-plain.yaml"),
    )
    .unwrap()
}

fn target() -> Target {
    Target {
        kube_context: Some("prod-cluster".into()),
        aws_profile: Some("acme-admin".into()),
        ..Target::default()
    }
}

fn all_commands(spec: &SecretSpec, platform: Platform, shell: Shell, target: &Target) -> String {
    let mut out = String::new();
    for entry in &spec.entries {
        for fix in commands::for_entry(entry, platform, target, shell).unwrap() {
            out.push_str(&format!("=== {} / {}\n{}\n\n", entry.name, fix.kind.title(), fix.text));
        }
    }
    out
}

#[test]
fn snapshots_quickstart_kubernetes_posix() {
    insta::assert_snapshot!(all_commands(
        &example("quickstart.yaml"),
        Platform::Kubernetes,
        Shell::Posix,
        &target()
    ));
}

#[test]
fn snapshots_quickstart_kubernetes_powershell() {
    insta::assert_snapshot!(all_commands(
        &example("quickstart.yaml"),
        Platform::Kubernetes,
        Shell::PowerShell,
        &target()
    ));
}

#[test]
fn snapshots_quickstart_aws_posix() {
    insta::assert_snapshot!(all_commands(
        &example("quickstart.yaml"),
        Platform::Aws,
        Shell::Posix,
        &target()
    ));
}

#[test]
fn snapshots_quickstart_aws_powershell() {
    insta::assert_snapshot!(all_commands(
        &example("quickstart.yaml"),
        Platform::Aws,
        Shell::PowerShell,
        &target()
    ));
}

#[test]
fn snapshots_multi_key_and_current_context() {
    let spec = plain_contract();
    let litellm = spec.entries.iter().find(|e| e.name == "litellm-secrets").unwrap();
    let mut out = String::new();
    for shell in [Shell::Posix, Shell::PowerShell] {
        for fix in
            commands::for_entry(litellm, Platform::Kubernetes, &Target::default(), shell).unwrap()
        {
            out.push_str(&format!(
                "=== {} / {}\n{}\n\n",
                shell.title(),
                fix.kind.title(),
                fix.text
            ));
        }
    }
    insta::assert_snapshot!(out);
}

#[test]
fn vendor_entries_get_only_a_verify_command() {
    let spec = example("quickstart.yaml");
    let license = spec.entries.iter().find(|e| e.provided_by == Provider::Vendor).unwrap();
    let kinds: Vec<CommandKind> =
        commands::for_entry(license, Platform::Kubernetes, &target(), Shell::Posix)
            .unwrap()
            .iter()
            .map(|c| c.kind)
            .collect();
    assert_eq!(kinds, [CommandKind::Verify]);
}

#[test]
fn rotation_never_deletes_first() {
    for spec in [example("quickstart.yaml"), plain_contract()] {
        for platform in spec.platforms.clone() {
            for shell in [Shell::Posix, Shell::PowerShell] {
                let text = all_commands(&spec, platform, shell, &target());
                assert!(!text.contains(" delete"), "{text}");
            }
        }
    }
}

#[test]
fn unsafe_context_names_are_refused_not_mangled() {
    let spec = example("quickstart.yaml");
    let bad = Target { kube_context: Some("prod\ncluster".into()), ..Target::default() };
    let error = commands::for_entry(&spec.entries[0], Platform::Kubernetes, &bad, Shell::Posix)
        .unwrap_err();
    assert!(error.to_string().contains("control character"), "{error}");
    assert!(
        commands::for_entry(&spec.entries[0], Platform::Kubernetes, &bad, Shell::PowerShell)
            .is_err()
    );
}

/// Undoes PowerShell single quoting: '' and the doubled Unicode quotes become one.
fn powershell_unquote(word: &str) -> String {
    let Some(inner) = word.strip_prefix('\'').and_then(|w| w.strip_suffix('\'')) else {
        return word.to_owned();
    };
    let quotes = ['\'', '\u{2018}', '\u{2019}', '\u{201A}', '\u{201B}'];
    let mut out = String::new();
    let mut chars = inner.chars().peekable();
    while let Some(c) = chars.next() {
        out.push(c);
        if quotes.contains(&c) {
            let next = chars.next();
            assert_eq!(next, Some(c), "a quote inside {word:?} was not doubled");
        }
    }
    out
}

fn dns_label() -> impl Strategy<Value = String> {
    "[a-z0-9]([a-z0-9-]{0,20}[a-z0-9])?"
}

/// What `shell` makes of `rendered` as command-line words: the real parser is the oracle.
fn words_in(shell: &str, rendered: &str) -> Vec<String> {
    let out = Command::new(shell)
        .arg("-c")
        .arg(format!("printf '%s\\0' {rendered}"))
        .env("LC_ALL", "C.UTF-8")
        .output()
        .unwrap_or_else(|e| panic!("{shell} is not installed ({e}): run scripts/test.sh"));
    assert!(
        out.status.success(),
        "{shell} rejected: {rendered}\n{}",
        String::from_utf8_lossy(&out.stderr)
    );
    let mut words: Vec<String> =
        String::from_utf8(out.stdout).unwrap().split('\0').map(str::to_owned).collect();
    words.pop();
    words
}

/// What PowerShell makes of `rendered` as arguments, when `pwsh` is installed.
fn words_in_powershell(rendered: &str) -> Vec<String> {
    let out = Command::new("pwsh")
        .args(["-NoProfile", "-NonInteractive", "-Command"])
        .arg(format!("function show {{ foreach ($a in $args) {{ [Console]::Out.Write($a + [char]0) }} }}; show {rendered}"))
        .output()
        .unwrap();
    let mut words: Vec<String> =
        String::from_utf8(out.stdout).unwrap().split('\0').map(str::to_owned).collect();
    words.pop();
    words
}

proptest! {
    #![proptest_config(ProptestConfig { cases: 48, ..ProptestConfig::default() })]

    #[test]
    fn posix_create_commands_reparse_to_the_intended_argv_in_bash_and_zsh(
        namespace in dns_label(),
        secret in "[a-z0-9]([a-z0-9.-]{0,30}[a-z0-9])?".prop_filter("no empty parts", |s| !s.contains("..") && !s.contains(".-") && !s.contains("-.")),
        key in "[-._a-zA-Z0-9]{1,30}".prop_filter("not a path", |k| k != "." && !k.starts_with("..")),
        context in "[^\\p{Cc}]{1,40}",
    ) {
        let placement = KubernetesPlacement { namespace, secret, keys: vec![key], secret_type: None };
        let argv = commands::kubernetes_create_argv(&placement, &context);
        let rendered = commands::render_posix_argv(&argv).unwrap();
        prop_assert_eq!(&words_in("bash", &rendered), &argv);
        prop_assert_eq!(&words_in("zsh", &rendered), &argv);
    }

    #[test]
    fn posix_quoting_round_trips_any_text_through_bash_and_zsh(
        words in proptest::collection::vec("[^\\p{Cc}]{0,40}", 1..40),
    ) {
        let rendered =
            words.iter().map(|w| quote::posix(w).unwrap()).collect::<Vec<_>>().join(" ");
        prop_assert_eq!(&words_in("bash", &rendered), &words);
        prop_assert_eq!(&words_in("zsh", &rendered), &words);
    }

    #[test]
    fn powershell_quoting_doubles_every_quote(word in "[^\\p{Cc}]{0,40}") {
        let quoted = quote::powershell(&word).unwrap();
        prop_assert_eq!(powershell_unquote(&quoted), word);
    }
}

#[test]
#[ignore = "needs pwsh (PowerShell 7), which cannot be installed from these machines' package registries"]
fn powershell_quoting_round_trips_through_pwsh() {
    let words: Vec<String> = [
        "plain",
        "it's",
        "it\u{2019}s",
        "$env:HOME",
        "a b",
        "",
        "--x=y",
        "\u{201A}q\u{201B}",
        "`tick",
    ]
    .iter()
    .map(|w| (*w).to_owned())
    .collect();
    let rendered =
        words.iter().map(|w| quote::powershell(w).unwrap()).collect::<Vec<_>>().join(" ");
    assert_eq!(words_in_powershell(&rendered), words);
}

/// A directory with a kubeconfig and a `kubectl` wrapper that records its argv and turns
/// every call into a client-side dry run printing the Secret as JSON.
struct DryRun {
    dir: tempfile::TempDir,
}

impl DryRun {
    fn new() -> Self {
        let real = which("kubectl")
            .expect("kubectl is not on PATH: run scripts/test.sh, which installs it");
        let dir = tempfile::tempdir().unwrap();
        fs::write(
            dir.path().join("kubeconfig"),
            "apiVersion: v1\nkind: Config\ncurrent-context: other\nclusters:\n- name: c\n  cluster: { server: 'https://127.0.0.1:9' }\nusers:\n- name: u\n  user: { token: not-used }\ncontexts:\n- name: prod-cluster\n  context: { cluster: c, user: u }\n- name: other\n  context: { cluster: c, user: u }\n",
        )
        .unwrap();
        let wrapper = dir.path().join("kubectl");
        fs::write(&wrapper, format!("#!/bin/sh\nprintf '%s\\n' \"$@\" >> \"$GL_ARGV_LOG\"\nexec '{}' \"$@\" --dry-run=client -o json\n", real.display())).unwrap();
        fs::set_permissions(&wrapper, fs::Permissions::from_mode(0o755)).unwrap();
        Self { dir }
    }

    /// Runs `script` with `shell`, typing `input`; returns the Secret kubectl would create and
    /// the argv kubectl was given.
    fn run(&self, shell: &str, script: &str, input: &str) -> (serde_json::Value, String) {
        let log = self.dir.path().join("argv.log");
        fs::write(&log, "").unwrap();
        let path =
            format!("{}:{}", self.dir.path().display(), std::env::var("PATH").unwrap_or_default());
        let mut child = Command::new(shell)
            .arg("-c")
            .arg(script)
            .env("PATH", path)
            .env("KUBECONFIG", self.dir.path().join("kubeconfig"))
            .env("GL_ARGV_LOG", &log)
            .stdin(Stdio::piped())
            .stdout(Stdio::piped())
            .stderr(Stdio::piped())
            .spawn()
            .unwrap_or_else(|e| {
                panic!("{shell} is not installed ({e}): run scripts/test.sh, which installs it")
            });
        child.stdin.take().unwrap().write_all(input.as_bytes()).unwrap();
        let out = child.wait_with_output().unwrap();
        let stderr = String::from_utf8_lossy(&out.stderr);
        assert!(out.status.success(), "{shell} failed:\n{script}\n--- stderr:\n{stderr}");
        let manifest = serde_json::from_slice(&out.stdout).unwrap_or_else(|e| {
            panic!(
                "no JSON from kubectl ({e}):\n{}\n{stderr}",
                String::from_utf8_lossy(&out.stdout)
            )
        });
        (manifest, fs::read_to_string(&log).unwrap())
    }
}

fn which(program: &str) -> Option<PathBuf> {
    std::env::var_os("PATH").and_then(|paths| {
        std::env::split_paths(&paths).map(|d| d.join(program)).find(|p| p.is_file())
    })
}

fn decode(manifest: &serde_json::Value, key: &str) -> Vec<u8> {
    let encoded =
        manifest["data"][key].as_str().unwrap_or_else(|| panic!("key {key} missing in {manifest}"));
    base64::engine::general_purpose::STANDARD.decode(encoded).unwrap()
}

/// Values that break naive quoting: spaces at both ends, quotes, `$`, backslashes, Unicode.
fn tricky_value(n: usize) -> String {
    format!("  p@ss w'o\"rd $(id) `x` \\n {n} ünï 🔑  ")
}

fn create_commands_produce_the_intended_secret(shell: &str) {
    let dry = DryRun::new();
    let mut checked = 0;
    for spec in [example("quickstart.yaml"), plain_contract()] {
        for entry in &spec.entries {
            let Some(placement) = &entry.kubernetes else { continue };
            let Some(create) =
                commands::for_entry(entry, Platform::Kubernetes, &target(), Shell::Posix)
                    .unwrap()
                    .into_iter()
                    .find(|c| c.kind == CommandKind::Create)
            else {
                continue;
            };
            let values: Vec<String> = (0..placement.keys.len()).map(tricky_value).collect();
            let typed: String = values.iter().map(|v| format!("{v}\n")).collect();
            let (manifest, argv) = dry.run(shell, &create.text, &typed);
            assert_eq!(manifest["kind"], "Secret");
            assert_eq!(manifest["metadata"]["name"], placement.secret.as_str(), "{}", create.text);
            assert_eq!(manifest["metadata"]["namespace"], placement.namespace.as_str());
            let mut keys: Vec<&String> = manifest["data"].as_object().unwrap().keys().collect();
            keys.sort();
            let mut want: Vec<&String> = placement.keys.iter().collect();
            want.sort();
            assert_eq!(keys, want);
            assert!(argv.contains("--context\nprod-cluster\n"), "{argv}");
            for (n, key) in placement.keys.iter().enumerate() {
                let value = decode(&manifest, key);
                match entry.provided_by {
                    Provider::Generated => {
                        let text = String::from_utf8(value).unwrap();
                        let raw = match entry.generate.encoding {
                            Encoding::Base64 => {
                                base64::engine::general_purpose::STANDARD.decode(&text).unwrap()
                            }
                            Encoding::Hex => (0..text.len())
                                .step_by(2)
                                .map(|i| u8::from_str_radix(&text[i..i + 2], 16).unwrap())
                                .collect(),
                        };
                        assert_eq!(raw.len(), usize::from(entry.generate.bytes), "{}", entry.name);
                    }
                    _ => assert_eq!(
                        String::from_utf8(value).unwrap(),
                        values[n],
                        "value of {key} arrived changed"
                    ),
                }
            }
            for value in &values {
                assert!(!argv.contains(value.trim()), "a value reached kubectl's argv: {argv}");
            }
            checked += 1;
        }
    }
    assert!(checked >= 15, "only {checked} create commands ran");
}

#[test]
fn create_commands_work_in_bash_with_real_kubectl() {
    create_commands_produce_the_intended_secret("bash");
}

#[test]
fn create_commands_work_in_zsh_with_real_kubectl() {
    create_commands_produce_the_intended_secret("zsh");
}

#[test]
fn an_empty_value_creates_nothing() {
    let dry = DryRun::new();
    let spec = example("quickstart.yaml");
    let create =
        commands::for_entry(&spec.entries[0], Platform::Kubernetes, &target(), Shell::Posix)
            .unwrap()
            .remove(0);
    let log = dry.dir.path().join("argv.log");
    let path =
        format!("{}:{}", dry.dir.path().display(), std::env::var("PATH").unwrap_or_default());
    let out = Command::new("bash")
        .arg("-c")
        .arg(&create.text)
        .env("PATH", path)
        .env("GL_ARGV_LOG", &log)
        .stdin(Stdio::null())
        .output()
        .unwrap();
    assert!(!out.status.success());
    assert!(fs::read_to_string(&log).unwrap_or_default().is_empty(), "kubectl ran with no value");
}

#[test]
fn a_non_default_kubeconfig_is_named_in_every_kubectl_command() {
    let spec = example("quickstart.yaml");
    let target = Target {
        kubeconfig: Some("/home/op/my kube/config".into()),
        kube_context: Some("prod".into()),
        ..Target::default()
    };
    for shell in [Shell::Posix, Shell::PowerShell] {
        for fix in
            commands::for_entry(&spec.entries[0], Platform::Kubernetes, &target, shell).unwrap()
        {
            let kubectl_calls = fix.text.matches("kubectl ").count();
            let named =
                fix.text.matches("--kubeconfig '/home/op/my kube/config' --context prod").count();
            assert_eq!(kubectl_calls, named, "{}", fix.text);
        }
    }
}

#[test]
fn delivered_values_are_created_in_their_backend_never_as_target_secrets() {
    for name in ["platform-contract.yaml", "doppler-eso.json"] {
        let spec = example(name);
        let mut delivered = 0;
        for entry in spec.entries.iter().filter(|e| e.delivered.is_some()) {
            delivered += 1;
            for shell in [Shell::Posix, Shell::PowerShell] {
                let fixes =
                    commands::for_entry(entry, Platform::Kubernetes, &target(), shell).unwrap();
                let kinds: Vec<CommandKind> = fixes.iter().map(|f| f.kind).collect();
                let targets = &entry.delivered.as_ref().unwrap().targets;
                let mut want = vec![CommandKind::Create, CommandKind::Verify, CommandKind::Rotate];
                if !targets.is_empty() {
                    want.push(CommandKind::Sync);
                }
                assert_eq!(kinds, want, "{}", entry.name);
                for fix in &fixes {
                    assert!(!fix.text.contains("create secret"), "{}: {}", entry.name, fix.text);
                    assert!(!fix.text.contains("kubectl apply"), "{}: {}", entry.name, fix.text);
                }
                let sync = fixes.get(3).map_or("", |f| f.text.as_str());
                for t in targets {
                    assert!(
                        sync.contains(&format!("annotate externalsecret {}", t.external_secret)),
                        "{sync}"
                    );
                    assert!(sync.contains("--overwrite"), "{sync}");
                }
            }
        }
        assert!(delivered >= 2, "{name}: only {delivered} delivered values");
    }
}

#[test]
fn snapshots_backend_commands() {
    let spec = spec::parse_bytes(
        br#"
version: 1
deployment: backends
platforms: [kubernetes]
backends:
  gcp: { kind: gcp-secret-manager, project: acme-prod-1 }
  doppler: { kind: doppler, project: apps, config: prd }
  vault: { kind: vault-kv, mount: kv, name_prefix: platform/ }
  source: { kind: kubernetes, namespace: secret-source, property: token }
  ssm: { kind: aws-parameter-store, region: eu-west-1, name_prefix: /platform/ }
delivery: { external_secrets: { store: { kind: ClusterSecretStore, name: secret-store } } }
values:
  - { name: api-key, description: An API key, backend: gcp }
  - { name: API_KEY, description: An API key, backend: doppler, provided_by: generated }
  - { name: vault-key, description: An API key, backend: vault }
  - { name: source-key, description: An API key, backend: source }
  - { name: ssm-key, description: An API key, backend: ssm }
targets:
  - namespace: app
    secret: app
    keys: { a: api-key, b: API_KEY, c: vault-key, d: source-key, e: ssm-key }
"#,
        Path::new("backends.yaml"),
    )
    .unwrap();
    let mut out = String::new();
    for shell in [Shell::Posix, Shell::PowerShell] {
        out.push_str(&all_commands(&spec, Platform::Kubernetes, shell, &target()));
    }
    insta::assert_snapshot!(out);
}
