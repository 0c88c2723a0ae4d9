//! The first answer from a far cluster: `greenlight check` next to `kubectl get secrets -A`
//! on the same server, which adds a fixed round trip before every answer and every new
//! connection (as a cluster behind a VPN or in another region does).
//!
//! For each case it prints the median wall time of both (the binary as the operator runs it,
//! exit code 3 expected: half the Secrets are missing), their ratio, Greenlight's requests on
//! the first round (total and per namespace), and its peak memory.
//!
//! Run: `cargo bench --bench distance` (optionally `-- RUNS`, default 5). Needs `kubectl` on
//! PATH (`scripts/setup.sh` installs it). With `DISTANCE_HOLD=200` the 200-namespace server
//! stays up for an hour and the command to run against it is printed (for a profiler).

#![allow(clippy::unwrap_used, clippy::expect_used, clippy::indexing_slicing, clippy::panic)] // a benchmark, not product code

use std::path::Path;
use std::process::Command;
use std::time::Duration;

use greenlight_testkit::apiserver::{ADMIN_TOKEN, ApiServer};
use greenlight_testkit::stats::{ms, percentile, timed};

struct Case {
    namespaces: usize,
    secrets: usize,
    latency: Duration,
}

const CASES: [Case; 2] = [
    Case { namespaces: 20, secrets: 1_000, latency: Duration::from_millis(50) },
    Case { namespaces: 200, secrets: 10_000, latency: Duration::from_millis(30) },
];

fn spec(case: &Case) -> String {
    let per = case.secrets / case.namespaces;
    let mut text =
        String::from("version: 1\ndeployment: distance\nplatforms: [kubernetes]\nsecrets:\n");
    for n in 0..case.namespaces {
        for s in 0..per {
            text.push_str(&format!(
                "  - {{ name: s-{n}-{s}, description: bench, kubernetes: {{ namespace: ns-{n}, keys: [k] }} }}\n"
            ));
        }
    }
    text
}

fn kubectl() -> String {
    std::env::var("GREENLIGHT_KUBECTL").unwrap_or_else(|_| "kubectl".to_owned())
}

#[expect(
    clippy::too_many_lines,
    reason = "one benchmark case set up, timed and reported top to bottom"
)]
async fn run(case: &Case, runs: usize, breakdown: &mut Vec<String>) {
    let server = ApiServer::start().await.unwrap().with_admin();
    let per = case.secrets / case.namespaces;
    for n in 0..case.namespaces {
        let namespace = format!("ns-{n}");
        server.create_namespace(&namespace);
        // Half of them exist: the other half is missing, the case that is diagnosed.
        for s in (0..per).step_by(2) {
            server.put_secret(&namespace, &format!("s-{n}-{s}"), &[("k", "distance-value")]);
        }
    }
    let dir = tempfile::tempdir().unwrap();
    let kubeconfig = dir.path().join("kubeconfig");
    std::fs::write(&kubeconfig, server.kubeconfig(&[("far", ADMIN_TOKEN)])).unwrap();
    let spec_path = dir.path().join("spec.yaml");
    std::fs::write(&spec_path, spec(case)).unwrap();
    server.set_latency(case.latency);
    if std::env::var("DISTANCE_HOLD").is_ok_and(|n| n == case.namespaces.to_string()) {
        // For profiling by hand: the server stays up with the spec and kubeconfig printed.
        println!(
            "KUBECONFIG={} greenlight check --context far {}",
            kubeconfig.display(),
            spec_path.display()
        );
        tokio::time::sleep(Duration::from_secs(3600)).await;
    }

    let home = dir.path();
    let greenlight = |spec: &Path| {
        let mut command = Command::new(env!("CARGO_BIN_EXE_greenlight"));
        command
            .args(["check", "--context", "far"])
            .arg(spec)
            .env("KUBECONFIG", &kubeconfig)
            .env("HOME", home)
            .env("XDG_CONFIG_HOME", home.join("config"))
            .env("XDG_CACHE_HOME", home.join("cache"))
            .env("AWS_EC2_METADATA_DISABLED", "true");
        command
    };
    let kubectl = || {
        let mut command = Command::new(kubectl());
        command
            .args(["get", "secrets", "-A", "--context", "far", "--kubeconfig"])
            .arg(&kubeconfig)
            .env("HOME", home)
            .env("KUBECACHEDIR", home.join("kube-cache"));
        command
    };
    // One of each first: kubectl fills its discovery cache, as on an operator's machine.
    let (_, code, _) = timed(&mut kubectl());
    assert_eq!(code, 0, "kubectl get secrets -A failed; is kubectl on PATH?");
    server.clear_records();
    let (_, code, _) = timed(&mut greenlight(&spec_path));
    assert_eq!(code, 3, "greenlight check: half the Secrets are missing");
    let records: Vec<_> =
        server.records().into_iter().filter(|r| r.user_agent.contains("greenlight")).collect();
    let requests = records.len();
    let mut kinds = std::collections::BTreeMap::<String, usize>::new();
    for r in &records {
        let kind = match (r.method.as_str(), r.path.rsplit('/').next().unwrap_or_default()) {
            ("POST", review) => review.to_owned(),
            ("GET", "secrets") => "list secrets".to_owned(),
            ("GET", _)
                if r.path.starts_with("/api/v1/namespaces/")
                    && r.path.matches('/').count() == 4 =>
            {
                "get namespace".to_owned()
            }
            ("GET", _) if r.path == "/api/v1/namespaces" => "list namespaces".to_owned(),
            (method, _) => format!("{method} {}", r.path),
        };
        *kinds.entry(kind).or_default() += 1;
    }
    breakdown.push(format!("{} namespaces: {kinds:?}", case.namespaces));

    let mut ours = Vec::new();
    let mut theirs = Vec::new();
    let mut peak = 0;
    for _ in 0..runs {
        let (took, code, rss) = timed(&mut greenlight(&spec_path));
        assert_eq!(code, 3);
        ours.push(took);
        peak = peak.max(rss);
        let (took, code, _) = timed(&mut kubectl());
        assert_eq!(code, 0);
        theirs.push(took);
    }
    ours.sort();
    theirs.sort();
    let (g, k) = (percentile(&ours, 0.5), percentile(&theirs, 0.5));
    println!(
        "| {} secrets over {} namespaces | {} ms | {:.2} s | {:.2} s | {:.1}x | {} ({:.1} per namespace) | {:.0} MB |",
        case.secrets,
        case.namespaces,
        case.latency.as_millis(),
        ms(k) / 1000.0,
        ms(g) / 1000.0,
        ms(g) / ms(k),
        requests,
        requests as f64 / case.namespaces as f64,
        peak as f64 / 1024.0,
    );
}

fn main() {
    let runs = std::env::args().nth(1).and_then(|a| a.parse().ok()).unwrap_or(5);
    let runtime = tokio::runtime::Runtime::new().unwrap();
    println!("Medians of {runs} runs each, side by side on the same delayed server.\n");
    println!(
        "| spec | round trip | `kubectl get secrets -A` | `greenlight check` | ratio | requests, first round | peak memory |"
    );
    println!("|---|---|---|---|---|---|---|");
    let mut breakdown = Vec::new();
    for case in &CASES {
        runtime.block_on(run(case, runs, &mut breakdown));
    }
    println!("\nGreenlight's requests on the first round, by kind:");
    for line in breakdown {
        println!("  {line}");
    }
}
