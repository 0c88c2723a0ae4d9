//! Kubernetes detection benchmark, against the project's test API server over TLS, through
//! the same engine the app and `greenlight watch` use:
//! 1. latency from a Secret being created to the monitor reporting it present (median, p95);
//! 2. API requests per round for many Secrets in several namespaces, which should grow with
//!    namespaces, not Secrets.
//!
//! Run: `cargo bench --bench kubernetes` (optionally `-- RUNS`, default 100).

#![allow(clippy::unwrap_used, clippy::expect_used, clippy::indexing_slicing, clippy::panic)] // a benchmark, not product code

use greenlight_testkit::stats::{ms, percentile};

use greenlight_testkit::apiserver;

use std::sync::Arc;
use std::time::{Duration, Instant};

use apiserver::{ADMIN_TOKEN, ApiServer};
use greenlight::commands::Target;
use greenlight::detect::{
    self, Mode, Monitor, MonitorCommand, MonitorEvent, Presence, ProbeOptions, Selection,
};
use greenlight::spec::{Platform, SecretSpec, parse_bytes};
use tokio::sync::mpsc;

fn spec(namespaces: usize, per_namespace: usize) -> SecretSpec {
    let mut text =
        String::from("version: 1\ndeployment: bench\nplatforms: [kubernetes]\nsecrets:\n");
    for n in 0..namespaces {
        for s in 0..per_namespace {
            text.push_str(&format!("  - {{ name: s-{n}-{s}, description: bench, kubernetes: {{ namespace: ns-{n}, keys: [k] }} }}\n"));
        }
    }
    parse_bytes(text.as_bytes(), "bench.yaml".as_ref()).unwrap()
}

struct Bench {
    server: ApiServer,
    _dir: tempfile::TempDir,
    target: Target,
}

async fn bench(namespaces: usize) -> Bench {
    let server = ApiServer::start().await.unwrap().with_admin();
    for n in 0..namespaces {
        server.create_namespace(&format!("ns-{n}"));
    }
    let dir = tempfile::tempdir().unwrap();
    let path = dir.path().join("kubeconfig");
    std::fs::write(&path, server.kubeconfig(&[("bench", ADMIN_TOKEN)])).unwrap();
    let target = Target {
        kubeconfig: Some(path.display().to_string()),
        kube_context: Some("bench".into()),
        ..Target::default()
    };
    Bench { server, _dir: dir, target }
}

fn start(
    bench: &Bench,
    spec: &Arc<SecretSpec>,
) -> (Monitor, mpsc::UnboundedReceiver<MonitorEvent>) {
    let options = ProbeOptions {
        mode: Mode::Live,
        request_timeout: Duration::from_secs(10),
        env: greenlight::backends::Env::from_process(),
    };
    let probe = detect::probe_for(Platform::Kubernetes, &bench.target, spec, options);
    let (tx, rx) = mpsc::unbounded_channel();
    let monitor = Monitor::spawn(
        &tokio::runtime::Handle::current(),
        spec.clone(),
        Selection::defaults(spec),
        probe,
        tx,
        Arc::new(|| {}),
    );
    (monitor, rx)
}

async fn round(events: &mut mpsc::UnboundedReceiver<MonitorEvent>) {
    while let Some(event) = events.recv().await {
        if matches!(event, MonitorEvent::RoundFinished { .. }) {
            return;
        }
    }
}

async fn latency(runs: usize) {
    let bench = bench(1).await;
    let spec = Arc::new(spec(1, runs));
    let (_monitor, mut events) = start(&bench, &spec);
    round(&mut events).await;
    let mut samples = Vec::with_capacity(runs);
    for i in 0..runs {
        let started = Instant::now();
        bench.server.put_secret("ns-0", &format!("s-0-{i}"), &[("k", "bench-value")]);
        loop {
            match events.recv().await.unwrap() {
                MonitorEvent::Changed { index, outcome }
                    if index == i && outcome.presence == Presence::Present =>
                {
                    break;
                }
                _ => {}
            }
        }
        samples.push(started.elapsed());
        // Space the creations out as a person would, so each one is measured on its own.
        tokio::time::sleep(Duration::from_millis(20)).await;
    }
    samples.sort();
    println!("Detection latency, create -> present, {runs} runs:");
    println!(
        "  median {:>7.1} ms   p95 {:>7.1} ms   max {:>7.1} ms",
        ms(percentile(&samples, 0.5)),
        ms(percentile(&samples, 0.95)),
        ms(samples[samples.len() - 1])
    );
}

async fn requests(namespaces: usize, per_namespace: usize) {
    let bench = bench(namespaces).await;
    // Half of the Secrets exist; the rest are missing, which is the expensive case (diagnosis).
    for n in 0..namespaces {
        for s in (0..per_namespace).step_by(2) {
            bench.server.put_secret(
                &format!("ns-{n}"),
                &format!("s-{n}-{s}"),
                &[("k", "bench-value")],
            );
        }
    }
    let spec = Arc::new(spec(namespaces, per_namespace));
    bench.server.clear_records();
    let started = Instant::now();
    let (monitor, mut events) = start(&bench, &spec);
    round(&mut events).await;
    let first_round = started.elapsed();
    let initial = bench.server.records().len();
    let mut per_refresh = Vec::new();
    for _ in 0..5 {
        bench.server.clear_records();
        monitor.send(MonitorCommand::Refresh);
        round(&mut events).await;
        per_refresh.push(bench.server.records().len());
    }
    println!(
        "  {:>5} secrets in {:>2} namespaces: first round {:>4} requests in {:>6.0} ms; each refresh after: {:?} requests",
        namespaces * per_namespace,
        namespaces,
        initial,
        ms(first_round),
        per_refresh
    );
}

fn main() {
    let runs = std::env::args().skip(1).find_map(|a| a.parse().ok()).unwrap_or(100);
    let runtime =
        tokio::runtime::Builder::new_multi_thread().worker_threads(2).enable_all().build().unwrap();
    runtime.block_on(async {
        latency(runs).await;
        println!(
            "API requests (watch mode; the first round lists and opens one watch per namespace):"
        );
        requests(20, 50).await;
        requests(20, 5).await;
        requests(5, 200).await;
    });
}
