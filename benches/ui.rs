//! The desktop app at scale, without a GPU: frames with 1,000 and 10,000 secrets (egui layout
//! and tessellation of the whole window: header, checklist, details), a filter keystroke, and
//! the process's memory with the 10,000-secret spec. Rows are virtualised, so a frame should
//! cost about the same whatever the spec's size; 60 fps leaves 16.7 ms a frame.
//!
//! Run: `cargo bench --bench ui` (optionally `-- FRAMES`, default 120).

#![allow(clippy::unwrap_used, clippy::expect_used, clippy::indexing_slicing, clippy::panic)] // a benchmark, not product code

use greenlight_testkit::stats::{ms, percentile};

use std::path::PathBuf;
use std::time::{Duration, Instant};

use egui_kittest::Harness;
use greenlight::ui::actions::UiAction;
use greenlight::ui::compare::Choice;
use greenlight::ui::{AppOptions, GreenlightApp};

fn spec(count: usize) -> String {
    let mut text = String::from(
        "version: 1\ndeployment: scale\nplatforms: [kubernetes]\ndefaults: { kubernetes: { namespace: ns-0 } }\nsecrets:\n",
    );
    for i in 0..count {
        text.push_str(&format!(
            "  - {{ name: secret-{i}, description: Secret number {i} of the scale test, kubernetes: {{ namespace: ns-{}, keys: [value] }} }}\n",
            i % 20
        ));
    }
    text
}

/// One frame: egui's layout of the whole window, then tessellation into meshes.
fn frame(harness: &mut Harness<'_, GreenlightApp>) -> Duration {
    let started = Instant::now();
    harness.step();
    let output = harness.output();
    let meshes = harness.ctx.tessellate(output.shapes.clone(), output.pixels_per_point);
    std::hint::black_box(meshes);
    started.elapsed()
}

/// Frames of Compare environments with three columns (contexts the kubeconfig does not have:
/// every cell decided at once, as "cannot check").
fn compare(harness: &mut Harness<'_, GreenlightApp>, frames: usize, count: usize) {
    let mut actions = vec![UiAction::ToggleCompare];
    for name in ["dev", "stg", "prd"] {
        actions.push(UiAction::SetCompared(Choice::Context(name.into()), true));
    }
    harness.state_mut().dispatch(actions);
    let deadline = Instant::now() + Duration::from_secs(60);
    while !harness.state().state.compare.as_ref().is_some_and(|c| {
        c.columns.len() == 3 && c.columns.iter().all(|c| c.rows.iter().all(|r| r.outcome.is_some()))
    }) {
        assert!(Instant::now() < deadline, "the columns did not fill");
        harness.step();
        std::thread::sleep(Duration::from_millis(20));
    }
    for _ in 0..5 {
        frame(harness);
    }
    let mut times: Vec<Duration> = (0..frames).map(|_| frame(harness)).collect();
    times.sort();
    println!(
        "  {count:>6} secrets × 3 environments (Compare environments): median {:.1} ms, p95 {:.1} ms; RSS {:.0} MiB",
        ms(percentile(&times, 0.5)),
        ms(percentile(&times, 0.95)),
        rss_mib()
    );
    harness.state_mut().dispatch(vec![UiAction::ToggleCompare]);
}

fn rss_mib() -> f64 {
    let statm = std::fs::read_to_string("/proc/self/statm").unwrap_or_default();
    let pages: f64 = statm.split_whitespace().nth(1).and_then(|p| p.parse().ok()).unwrap_or(0.0);
    pages * 4096.0 / (1024.0 * 1024.0)
}

fn main() {
    let frames: usize = std::env::args().skip(1).find_map(|a| a.parse().ok()).unwrap_or(120);
    let runtime =
        tokio::runtime::Builder::new_multi_thread().worker_threads(2).enable_all().build().unwrap();
    let dir = tempfile::tempdir().unwrap();
    println!("Frames of the whole window (layout + tessellation), {frames} frames each:");
    for count in [1_000, 10_000] {
        let path = dir.path().join(format!("scale-{count}.yaml"));
        std::fs::write(&path, spec(count)).unwrap();
        let handle = runtime.handle().clone();
        let options = AppOptions {
            spec: Some(path),
            kubeconfig: Some(PathBuf::from("/nonexistent/greenlight-bench/kubeconfig")),
            sandbox: None,
        };
        let mut harness = Harness::builder()
            .with_size([1180.0, 760.0])
            .build_eframe(move |cc| GreenlightApp::new(cc, handle, options));
        let deadline = Instant::now() + Duration::from_secs(60);
        while !harness.state().state.rows.iter().all(|r| r.outcome.is_some())
            || harness.state().state.rows.is_empty()
        {
            assert!(Instant::now() < deadline, "the spec did not load");
            harness.step();
            std::thread::sleep(Duration::from_millis(20));
        }
        harness.state_mut().dispatch(vec![UiAction::Select(Some(count / 2))]);
        for _ in 0..5 {
            frame(&mut harness);
        }
        let mut times: Vec<Duration> = (0..frames).map(|_| frame(&mut harness)).collect();
        times.sort();
        let filter_started = Instant::now();
        harness.state_mut().dispatch(vec![UiAction::SetFilter(format!("secret-{}", count - 1))]);
        frame(&mut harness);
        let filtered = filter_started.elapsed();
        harness.state_mut().dispatch(vec![UiAction::SetFilter(String::new())]);
        frame(&mut harness);
        println!(
            "  {count:>6} secrets: median {:.1} ms, p95 {:.1} ms, max {:.1} ms; a filter keystroke {:.1} ms; RSS {:.0} MiB",
            ms(percentile(&times, 0.5)),
            ms(percentile(&times, 0.95)),
            ms(*times.last().unwrap()),
            ms(filtered),
            rss_mib()
        );
        compare(&mut harness, frames, count);
    }
}
