//! Against a real cluster, when you point the suite at one:
//!
//!   GREENLIGHT_TEST_CONTEXT=my-context [GREENLIGHT_TEST_NAMESPACE=default] \
//!     cargo test --test real_cluster -- --ignored
//!
//! It creates one throwaway Secret with the generated command, watches it turn present, and
//! deletes it.

use std::io::{BufRead, BufReader, Write};
use std::process::{Command, Stdio};
use std::time::{Duration, Instant, SystemTime, UNIX_EPOCH};

use greenlight::commands::{self, CommandKind, Shell, Target};
use greenlight::spec::{self, Platform};

#[test]
#[ignore = "needs a real cluster: set GREENLIGHT_TEST_CONTEXT to a context where you may create Secrets, then run with --ignored"]
fn a_secret_created_with_the_generated_command_turns_present() {
    let context = std::env::var("GREENLIGHT_TEST_CONTEXT")
        .expect("set GREENLIGHT_TEST_CONTEXT to the kubeconfig context to test against");
    let namespace = std::env::var("GREENLIGHT_TEST_NAMESPACE").unwrap_or_else(|_| "default".into());
    let suffix = SystemTime::now().duration_since(UNIX_EPOCH).unwrap().as_millis() % 1_000_000;
    let name = format!("greenlight-e2e-{suffix}");
    let dir = tempfile::tempdir().unwrap();
    let spec_path = dir.path().join("spec.yaml");
    std::fs::write(&spec_path, format!("version: 1\ndeployment: real-cluster-test\nplatforms: [kubernetes]\nsecrets:\n  - {{ name: {name}, description: throwaway, kubernetes: {{ namespace: {namespace}, keys: [k] }} }}\n")).unwrap();
    let spec = spec::load(&spec_path).unwrap();
    let target = Target { kube_context: Some(context.clone()), ..Target::default() };
    let create = commands::for_entry(&spec.entries[0], Platform::Kubernetes, &target, Shell::Posix)
        .unwrap()
        .into_iter()
        .find(|c| c.kind == CommandKind::Create)
        .unwrap();

    let mut watch = Command::new(env!("CARGO_BIN_EXE_greenlight"))
        .args([
            "watch",
            spec_path.to_str().unwrap(),
            "--context",
            &context,
            "--format",
            "json",
            "--timeout",
            "60",
        ])
        .stdout(Stdio::piped())
        .spawn()
        .unwrap();
    let mut lines = BufReader::new(watch.stdout.take().unwrap()).lines();
    let first = lines.next().unwrap().unwrap();
    assert!(first.contains("\"missing\""), "{first}");

    let mut shell =
        Command::new("bash").arg("-c").arg(&create.text).stdin(Stdio::piped()).spawn().unwrap();
    shell.stdin.take().unwrap().write_all(b"throwaway-value\n").unwrap();
    assert!(shell.wait().unwrap().success());
    let created = Instant::now();
    let present =
        lines.find(|l| l.as_ref().is_ok_and(|l| l.contains("\"present\""))).unwrap().unwrap();
    let latency = created.elapsed();
    watch.wait().ok();
    Command::new("kubectl")
        .args(["delete", "secret", &name, "--context", &context, "--namespace", &namespace])
        .status()
        .ok();
    assert!(present.contains(&name));
    assert!(latency < Duration::from_secs(5), "took {latency:?}");
}
