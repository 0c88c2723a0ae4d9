//! The integration tests, as one binary; the test servers and helpers they share are the
//! test kit crate (`crates/testkit`), compiled once. Each module covers one layer as a user meets it: spec files, generated
//! commands, the CLI, Kubernetes and AWS detection end to end, the desktop app (egui_kittest
//! and a real window under Xvfb), and an opt-in real cluster.

// Test code: a failed unwrap is a failed test.
#![allow(clippy::unwrap_used, clippy::expect_used, clippy::indexing_slicing, clippy::panic)]

use greenlight_testkit as support;

mod aws;
mod batch;
mod cli;
mod commands;
mod delivery;
mod demo;
mod distance;
mod environments;
mod fuzz_regressions;
mod gui_smoke;
mod init;
mod kubernetes;
mod paste;
#[path = "../shared/platform.rs"]
mod platform;
mod real_cluster;
mod sandbox;
mod shell;
mod spec_files;
mod ui;
mod ui_compare;
mod vendor_text;
