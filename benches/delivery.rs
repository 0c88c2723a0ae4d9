//! Delivery chain benchmark, through the built binary as a user runs it: the value created in
//! AWS Secrets Manager (moto) with the generated command, then Sync now with real kubectl, the
//! project's External Secrets stand-in syncing it into the test API server, and
//! `greenlight watch` printing the value present (every hop green). Reports the time from the
//! create command returning to the row turning green (median, p95).
//!
//! Needs the project's Python venv (scripts/test.sh creates it).
//! Run: `cargo bench --bench delivery` (optionally `-- RUNS`, default 10).

#![allow(clippy::unwrap_used, clippy::expect_used, clippy::indexing_slicing, clippy::panic)] // a benchmark, not product code

use greenlight_testkit::stats::{ms, percentile};

use greenlight_testkit as support;

use std::time::{Duration, Instant};

use greenlight::commands::{self, CommandKind, Shell, Target};
use greenlight::spec::{self, Platform};
use support::eso::{EsoStandIn, Sources, aws_cluster_store, external_secret};
use support::moto::Moto;
use support::{Cluster, Running};

fn spec_text(runs: usize) -> String {
    let mut text = String::from(
        "version: 1\ndeployment: bench\nplatforms: [kubernetes]\nbackends:\n  aws: { kind: aws-secrets-manager, region: us-east-1, name_prefix: bench/ }\ndelivery:\n  external_secrets:\n    store: { kind: ClusterSecretStore, name: secret-store }\nvalues:\n",
    );
    for i in 0..runs {
        text.push_str(&format!("  - {{ name: v-{i}, description: bench }}\n"));
    }
    text.push_str("targets:\n");
    for i in 0..runs {
        text.push_str(&format!(
            "  - {{ namespace: app, secret: t-{i}, keys: {{ value: v-{i} }} }}\n"
        ));
    }
    text
}

async fn latency(runs: usize) {
    let cluster = Cluster::start().await;
    let moto = Moto::start().await;
    cluster.server.create_namespace("app");
    cluster.server.install_eso(&["v1"]);
    cluster
        .server
        .put_custom("clustersecretstores", aws_cluster_store("secret-store", "us-east-1"));
    for i in 0..runs {
        let es = external_secret(
            "app",
            &format!("t-{i}"),
            ("ClusterSecretStore", "secret-store"),
            &format!("t-{i}"),
            &[("value", &format!("bench/v-{i}"))],
        );
        cluster.server.put_custom("externalsecrets", es);
    }
    // ESO's usual refresh is an hour; the operator's Sync now is what makes it look.
    let moto_source = Sources { moto: Some(moto.endpoint()), fakes: None };
    let hour = Duration::from_secs(3600);
    let _eso = EsoStandIn::running(cluster.server.handle(), moto_source, hour).await;
    let path = cluster.dir.path().join("bench.yaml");
    std::fs::write(&path, spec_text(runs)).unwrap();
    let loaded = spec::load(&path).unwrap();
    let target = Target {
        kube_context: Some("test".into()),
        aws_profile: Some("moto".into()),
        ..Target::default()
    };
    let command = |i: usize, kind: CommandKind| {
        let entry = &loaded.entries[i];
        commands::for_entry(entry, Platform::Kubernetes, &target, Shell::Posix)
            .unwrap()
            .into_iter()
            .find(|c| c.kind == kind)
            .unwrap()
            .text
    };
    let mut watch = Running::spawn(cluster.greenlight_with_aws(
        &moto,
        &[
            "watch",
            "--context",
            "test",
            "--profile",
            "moto",
            "--format",
            "json",
            path.to_str().unwrap(),
        ],
    ));
    watch.line_matching(Duration::from_secs(30), support::is("v-0", "missing")).await;
    let mut samples = Vec::new();
    for i in 0..runs {
        cluster.run_with_aws(&moto, &command(i, CommandKind::Create), "bench-value-123456\n").await;
        let created = Instant::now();
        cluster.run_with_aws(&moto, &command(i, CommandKind::Sync), "").await;
        watch
            .line_matching(Duration::from_secs(60), support::is(&format!("v-{i}"), "present"))
            .await;
        samples.push(created.elapsed());
    }
    samples.sort();
    println!(
        "Delivery chain, create command returned -> Sync now -> ESO stand-in syncs -> `greenlight watch` prints present, {runs} runs:"
    );
    println!(
        "  median {:>7.0} ms   p95 {:>7.0} ms   max {:>7.0} ms",
        ms(percentile(&samples, 0.5)),
        ms(percentile(&samples, 0.95)),
        ms(samples[samples.len() - 1])
    );
}

fn main() {
    let runs = std::env::args().skip(1).find_map(|a| a.parse().ok()).unwrap_or(10);
    let runtime =
        tokio::runtime::Builder::new_multi_thread().worker_threads(2).enable_all().build().unwrap();
    runtime.block_on(latency(runs));
}
