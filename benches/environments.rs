//! Environments side by side: the platform example in three clusters (the project's API
//! server, each playing External Secrets as the sandbox does, values in its values namespace),
//! checked as the operator runs it: `greenlight check` in one environment, then
//! `greenlight check --env` with one, two and three. Every cluster answers after a fixed round
//! trip, as a far cluster does. Reports median wall times, the ratio of three environments to
//! one, and the peak memory of each, from which the memory per added environment.
//!
//! Run: `cargo bench --bench environments` (optionally `-- RUNS`, default 7).

#![allow(clippy::unwrap_used, clippy::expect_used, clippy::indexing_slicing, clippy::panic)] // a benchmark, not product code

use std::path::Path;
use std::process::Command;
use std::time::Duration;

use greenlight::sandbox::{CONTEXT, Sandbox, VALUES_NAMESPACE, value_secret};
use greenlight::spec::{self, Platform, SecretSpec};
use greenlight_testkit::stats::{ms, percentile, timed};

/// The round trip every cluster adds before each answer.
const LATENCY: Duration = Duration::from_millis(30);

const ENVIRONMENTS: [&str; 3] = ["dev", "stg", "prd"];

/// The platform example with its values kept where the sandbox keeps them (a Kubernetes
/// namespace ESO's Kubernetes provider reads) instead of a cloud backend.
fn spec_text() -> String {
    let example = std::fs::read_to_string(
        Path::new(env!("CARGO_MANIFEST_DIR")).join("specs/examples/platform-contract.yaml"),
    )
    .unwrap();
    let backends = "backends:\n  gcp: { kind: gcp-secret-manager }\n  aws: { kind: aws-secrets-manager, region: us-east-1 }\n";
    assert!(example.contains(backends), "the example's backends changed; update the bench");
    example.replace(
        backends,
        &format!("backends:\n  values: {{ kind: kubernetes, namespace: {VALUES_NAMESPACE} }}\n"),
    )
}

/// Every value and plain Secret the spec places, so each environment is ready.
fn seed(sandbox: &Sandbox, spec: &SecretSpec) {
    let server = sandbox.server();
    for entry in &spec.entries {
        if let Some(delivered) = &entry.delivered {
            let name = value_secret(delivered.source.key());
            server.put_secret(VALUES_NAMESPACE, &name, &[("value", "environments-bench-value")]);
        } else if let Some(spec::Placement::Kubernetes(k)) = entry.placement(Platform::Kubernetes) {
            server.create_namespace(&k.namespace);
            let data: Vec<(&str, &str)> =
                k.keys.iter().map(|key| (key.as_str(), "environments-bench-value")).collect();
            server.put_secret(&k.namespace, &k.secret, &data);
        }
    }
}

/// A sandbox per environment, seeded ready, and a kubeconfig each (context `k3s-ENV`).
fn clusters(
    runtime: &tokio::runtime::Runtime,
    spec: &SecretSpec,
    dir: &Path,
) -> (Vec<Sandbox>, Vec<std::path::PathBuf>) {
    let mut kubeconfigs = Vec::new();
    let sandboxes = ENVIRONMENTS
        .iter()
        .map(|env| {
            let sandbox = runtime.block_on(Sandbox::start(spec, &dir.join(env))).unwrap();
            seed(&sandbox, spec);
            // Each cluster under its own context, as a kubeconfig merged from three.
            let config = std::fs::read_to_string(sandbox.kubeconfig())
                .unwrap()
                .replace(CONTEXT, &format!("k3s-{env}"))
                .replace("- name: test\n", &format!("- name: {env}-cluster\n"))
                .replace("cluster: test\n", &format!("cluster: {env}-cluster\n"));
            let path = dir.join(format!("{env}.kubeconfig"));
            std::fs::write(&path, config).unwrap();
            kubeconfigs.push(path);
            sandbox
        })
        .collect();
    (sandboxes, kubeconfigs)
}

fn main() {
    let runs = std::env::args().nth(1).and_then(|a| a.parse().ok()).unwrap_or(7);
    let runtime = tokio::runtime::Runtime::new().unwrap();
    let dir = tempfile::tempdir().unwrap();
    let spec_path = dir.path().join("platform.yaml");
    std::fs::write(&spec_path, spec_text()).unwrap();
    let spec = spec::load(&spec_path).unwrap();
    let (sandboxes, kubeconfigs) = clusters(&runtime, &spec, dir.path());
    let kubeconfig = std::env::join_paths(&kubeconfigs).unwrap();
    let home = dir.path().join("home");
    let greenlight = |envs: &[&str]| {
        let mut command = Command::new(env!("CARGO_BIN_EXE_greenlight"));
        command.arg("check");
        match envs {
            [] => {
                command.args(["--context", "k3s-dev"]);
            }
            envs => {
                for env in envs {
                    command.args(["--env", &format!("{env}=k3s-{env}")]);
                }
            }
        }
        command
            .arg(&spec_path)
            .env("KUBECONFIG", &kubeconfig)
            .env("HOME", &home)
            .env("XDG_CONFIG_HOME", home.join("config"))
            .env("XDG_CACHE_HOME", home.join("cache"))
            .env("AWS_EC2_METADATA_DISABLED", "true");
        command
    };
    // The stand-ins sync every target once the values exist (they retry every 5 s).
    let deadline = std::time::Instant::now() + Duration::from_secs(90);
    while timed(&mut greenlight(&ENVIRONMENTS)).1 != 0 {
        assert!(std::time::Instant::now() < deadline, "the three environments never got ready");
        std::thread::sleep(Duration::from_secs(1));
    }
    for sandbox in &sandboxes {
        sandbox.server().set_latency(LATENCY);
    }

    println!(
        "Medians of {runs} runs, the platform example ({} rows) in each environment, {} ms round trip.\n",
        spec.entries.len(),
        LATENCY.as_millis()
    );
    println!("| check | wall time | ratio to one environment | peak memory |");
    println!("|---|---|---|---|");
    let cases: [(&str, &[&str]); 4] = [
        ("`check --context k3s-dev`", &[]),
        ("`check --env dev=…`", &ENVIRONMENTS[..1]),
        ("`check --env` ×2", &ENVIRONMENTS[..2]),
        ("`check --env` ×3", &ENVIRONMENTS),
    ];
    let mut single = None;
    let mut peaks = Vec::new();
    for (label, envs) in cases {
        let mut times = Vec::new();
        let mut peak = 0;
        for _ in 0..runs {
            let (took, code, rss) = timed(&mut greenlight(envs));
            assert_eq!(code, 0, "{label}: every environment is ready");
            times.push(took);
            peak = peak.max(rss);
        }
        times.sort();
        let median = percentile(&times, 0.5);
        let base = *single.get_or_insert(median);
        println!(
            "| {label} | {:.0} ms | {:.2}x | {:.1} MB |",
            ms(median),
            ms(median) / ms(base),
            peak as f64 / 1024.0
        );
        peaks.push(peak);
    }
    let per_env = (peaks[3] as f64 - peaks[1] as f64) / 2.0 / 1024.0;
    println!("\nMemory per added environment: {per_env:.1} MB (three against one, halved).");
}
