//! AWS detection benchmark against a real moto server behind the recording proxy, through the
//! built binary as a user runs it:
//! 1. latency from `aws secretsmanager create-secret` returning to `greenlight watch` printing
//!    the row present (median, p95);
//! 2. API calls per refresh for 1,000 Secrets Manager secrets and 1,000 parameters, in a live
//!    `watch` (known secrets are confirmed in bulk once seen).
//!
//! Needs the project's Python venv (scripts/test.sh creates it).
//! Run: `cargo bench --bench aws` (optionally `-- RUNS`, default 20).

#![allow(clippy::unwrap_used, clippy::expect_used, clippy::indexing_slicing, clippy::panic)] // a benchmark, not product code

use greenlight_testkit::stats::{ms, percentile};

use greenlight_testkit as support;

use std::time::{Duration, Instant};

use support::moto::Moto;

fn spec(service: &str, count: usize) -> String {
    let mut text = format!(
        "version: 1\ndeployment: bench\nplatforms: [aws]\ndefaults: {{ aws: {{ region: us-east-1, service: {service} }} }}\nsecrets:\n"
    );
    for i in 0..count {
        let name = if service == "parameter-store" {
            format!("/bench/p-{i}")
        } else {
            format!("bench/s-{i}")
        };
        text.push_str(&format!(
            "  - {{ name: e-{i}, description: bench, aws: {{ name: \"{name}\" }} }}\n"
        ));
    }
    text
}

async fn latency(runs: usize) {
    let mut moto = Moto::start().await;
    let path = moto.dir.path().join("latency.yaml");
    std::fs::write(&path, spec("secrets-manager", runs)).unwrap();
    let mut watch = moto.watch_json(path.to_str().unwrap());
    watch.line_matching(Duration::from_secs(30), support::is("e-0", "missing")).await;
    let mut samples = Vec::new();
    for i in 0..runs {
        moto.seed_secret("us-east-1", &format!("bench/s-{i}"), "bench-value-1234").await;
        let created = Instant::now();
        watch
            .line_matching(Duration::from_secs(60), support::is(&format!("e-{i}"), "present"))
            .await;
        samples.push(created.elapsed());
    }
    samples.sort();
    println!(
        "Detection latency, `aws secretsmanager create-secret` returned -> `greenlight watch` prints present, {runs} runs:"
    );
    println!(
        "  median {:>7.0} ms   p95 {:>7.0} ms   max {:>7.0} ms",
        ms(percentile(&samples, 0.5)),
        ms(percentile(&samples, 0.95)),
        ms(samples[samples.len() - 1])
    );
}

async fn calls(service: &str, count: usize) {
    let moto = Moto::start().await;
    // Seed quickly in one Python process (boto3 ships with moto in the venv). All exist but
    // one, so `watch` keeps polling at its fast pace and each round is seen in the records.
    let script = format!(
        "import boto3\nsm = boto3.client('secretsmanager', region_name='us-east-1')\nssm = boto3.client('ssm', region_name='us-east-1')\nfor i in range(1, {count}):\n    if '{service}' == 'parameter-store':\n        ssm.put_parameter(Name=f'/bench/p-{{i}}', Value='bench-value', Type='SecureString')\n    else:\n        sm.create_secret(Name=f'bench/s-{{i}}', SecretString='bench-value')\n"
    );
    let (ok, _, err) = moto
        .shell("bash", "AWS_ACCESS_KEY_ID=testing AWS_SECRET_ACCESS_KEY=testing python -", &script)
        .await;
    assert!(ok, "{err}");
    let path = moto.dir.path().join("calls.yaml");
    std::fs::write(&path, spec(service, count)).unwrap();
    let mut watch = moto.watch_json(path.to_str().unwrap());
    watch
        .line_matching(
            Duration::from_secs(120),
            support::is(&format!("e-{}", count - 1), "present"),
        )
        .await;
    // Let the first rounds (full lookups, diagnosis of the missing one) pass, then count.
    tokio::time::sleep(Duration::from_secs(8)).await;
    moto.clear_records();
    tokio::time::sleep(Duration::from_secs(20)).await;
    let records: Vec<_> = moto.records().into_iter().filter(|r| r.sent_by_greenlight()).collect();
    let missing = if service == "parameter-store" { "/bench/p-0\"" } else { "bench/s-0\"" };
    // One round asks for the missing name once in its first request (follow-up pages repeat
    // the filter with a NextToken).
    let rounds = records
        .iter()
        .filter(|r| r.request.contains(missing) && !r.request.contains("NextToken"))
        .count()
        .max(1);
    let pages =
        records.iter().filter(|r| r.request.contains("NextToken")).count() as f64 / rounds as f64;
    let per = |suffix: &str| {
        records.iter().filter(|r| r.action.ends_with(suffix)).count() as f64 / rounds as f64
    };
    println!(
        "  {count} {service} entries (1 missing): {rounds} rounds in 20 s; per round {:.1} calls ({pages:.1} of them follow-up pages): DescribeSecret {:.1}, ListSecrets {:.1}, DescribeParameters {:.1}",
        records.len() as f64 / rounds as f64,
        per("DescribeSecret"),
        per("ListSecrets"),
        per("DescribeParameters"),
    );
    watch.child.kill().await.ok();
}

fn main() {
    let runs = std::env::args().skip(1).find_map(|a| a.parse().ok()).unwrap_or(20);
    let runtime =
        tokio::runtime::Builder::new_multi_thread().worker_threads(2).enable_all().build().unwrap();
    runtime.block_on(async {
        if runs > 0 {
            latency(runs).await;
        }
        println!("API calls per refresh:");
        calls("parameter-store", 1000).await;
        calls("secrets-manager", 1000).await;
    });
}
