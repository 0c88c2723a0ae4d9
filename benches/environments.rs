//! Environments side by side: the platform example in three clusters (the project's API
//! server, each playing External Secrets as the sandbox does, values in its values namespace),
//! checked as the operator runs it: `greenlight check` in one environment, then
//! `greenlight check --env` with one, two and three. Every cluster answers after a fixed round
//! trip, as a far cluster does. Reports median wall times, the ratio of three environments to
//! one, and the peak memory of each, from which the memory per added environment.
//!
//! Run: `cargo bench --bench environments` (optionally `-- RUNS`, default 7).

#![allow(clippy::unwrap_used, clippy::expect_used, clippy::indexing_slicing, clippy::panic)] // a benchmark, not product code

use std::process::Command;
use std::time::Duration;

use greenlight::spec;
use greenlight_testkit::stats::{ms, percentile, timed};

#[path = "../tests/shared/platform.rs"]
mod platform;

/// The round trip every cluster adds before each answer.
const LATENCY: Duration = Duration::from_millis(30);

const ENVIRONMENTS: [&str; 3] = ["dev", "stg", "prd"];

fn main() {
    let runs = std::env::args().nth(1).and_then(|a| a.parse().ok()).unwrap_or(7);
    let runtime = tokio::runtime::Runtime::new().unwrap();
    let dir = tempfile::tempdir().unwrap();
    let spec_path = dir.path().join("platform.yaml");
    std::fs::write(&spec_path, platform::spec_text()).unwrap();
    let spec = spec::load(&spec_path).unwrap();
    let clusters = platform::clusters(&runtime, &spec, dir.path(), &ENVIRONMENTS);
    let kubeconfig = std::env::join_paths(&clusters.kubeconfigs).unwrap();
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
    for sandbox in &clusters.sandboxes {
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
