//! The desktop app, driven through egui_kittest by the labels users see: the welcome screen
//! and examples, spec errors in the window, Copy putting only the command on the clipboard,
//! rows flipping through the real engine against the test API server, skip and features,
//! keyboard navigation, and a 1,000-secret spec drawing only the visible rows. Over 600 lines
//! because the window's tests share one harness and its helpers.

use std::path::PathBuf;
use std::time::{Duration, Instant};

use egui_kittest::Harness;
use egui_kittest::kittest::Queryable;
use greenlight::commands::{self, CommandKind, Shell};
use greenlight::detect::State;
use greenlight::spec::Platform;
use greenlight::ui::actions::label;
use greenlight::ui::{AppOptions, GreenlightApp};

pub(crate) fn runtime() -> tokio::runtime::Runtime {
    tokio::runtime::Builder::new_multi_thread().worker_threads(2).enable_all().build().unwrap()
}

pub(crate) fn app<'a>(
    runtime: &tokio::runtime::Runtime,
    options: AppOptions,
) -> Harness<'a, GreenlightApp> {
    let handle = runtime.handle().clone();
    Harness::builder()
        .with_size([1180.0, 760.0])
        .build_eframe(move |cc| GreenlightApp::new(cc, handle, options))
}

/// Steps frames until `done`, as background work finishes (at most 20 s).
pub(crate) fn settle(
    harness: &mut Harness<'_, GreenlightApp>,
    done: impl Fn(&GreenlightApp) -> bool,
) {
    let deadline = Instant::now() + Duration::from_secs(20);
    while !done(harness.state()) {
        assert!(
            Instant::now() < deadline,
            "the app did not reach the expected state; log: {:?}",
            harness.state().state.log
        );
        harness.step();
        std::thread::sleep(Duration::from_millis(20));
    }
    harness.step();
    harness.step();
}

/// A few frames, for panels that appear the frame after an action.
pub(crate) fn frames(harness: &mut Harness<'_, GreenlightApp>, n: usize) {
    for _ in 0..n {
        harness.step();
    }
}

/// Where the secret called `name` is in the checklist the app shows.
pub(crate) fn index_of(app: &GreenlightApp, name: &str) -> usize {
    app.state.spec.as_ref().unwrap().entries.iter().position(|e| e.name == name).unwrap()
}

fn no_cluster() -> Option<PathBuf> {
    Some(PathBuf::from("/nonexistent/greenlight-ui-test/kubeconfig"))
}

fn copied(harness: &Harness<'_, GreenlightApp>) -> Vec<String> {
    harness
        .output()
        .platform_output
        .commands
        .iter()
        .filter_map(|c| match c {
            egui::OutputCommand::CopyText(text) => Some(text.clone()),
            _ => None,
        })
        .collect()
}

fn example(name: &str) -> Option<PathBuf> {
    Some(PathBuf::from(env!("CARGO_MANIFEST_DIR")).join("specs/examples").join(name))
}

#[test]
fn the_welcome_screen_opens_a_bundled_example() {
    let runtime = runtime();
    let mut harness =
        app(&runtime, AppOptions { spec: None, kubeconfig: no_cluster(), sandbox: None });
    harness.step();
    harness.get_by_label(label::OPEN);
    harness.get_by_label("Quickstart (Kubernetes and AWS)").click();
    settle(&mut harness, |app| app.state.spec.is_some());
    harness.get_by_label("acme-analytics");
    harness.get_by_label("github-token");
    harness.get_by_label("Required");
    harness.get_by_label("Provided by the vendor");
    // Read from memory: nothing written to a shared temporary folder, not a recent file.
    let written = std::env::temp_dir().join(format!("greenlight-examples-{}", std::process::id()));
    assert!(!written.exists(), "{} was written", written.display());
    assert!(harness.state().state.remembered.recent.is_empty());
    assert_eq!(
        harness.state().state.spec_path.as_deref(),
        Some(std::path::Path::new("specs/examples/quickstart.yaml"))
    );
}

#[test]
fn a_bad_spec_shows_its_problems_in_the_window() {
    let runtime = runtime();
    let bad =
        PathBuf::from(env!("CARGO_MANIFEST_DIR")).join("tests/fixtures/specs/bad/bad-names.yaml");
    let mut harness =
        app(&runtime, AppOptions { spec: Some(bad), kubeconfig: no_cluster(), sandbox: None });
    settle(&mut harness, |app| app.state.spec_error.is_some());
    harness.get_by_label_contains("The spec file has problems");
    harness.get_by_label_contains(
        "bad-names.yaml:8:18: `Acme-Prod` is not a valid Kubernetes namespace",
    );
    harness.get_by_label(label::OPEN);
}

#[test]
fn copy_puts_only_the_command_on_the_clipboard() {
    let runtime = runtime();
    let mut harness = app(
        &runtime,
        AppOptions { spec: example("quickstart.yaml"), kubeconfig: no_cluster(), sandbox: None },
    );
    settle(&mut harness, |app| {
        app.state.spec.is_some() && app.state.rows.iter().all(|r| r.outcome.is_some())
    });
    harness.get_by_label("database-password").click();
    frames(&mut harness, 3);
    harness.get_by_label("Copy create").click();
    harness.step();
    let clipboard = copied(&harness);
    assert_eq!(clipboard.len(), 1, "{clipboard:?}");
    assert!(
        clipboard[0].starts_with(": 'Creates Secret database-password in namespace acme-prod"),
        "{}",
        clipboard[0]
    );
    assert!(clipboard[0].contains("--from-file=password=/dev/stdin"));
    assert!(
        clipboard[0].contains("--kubeconfig /nonexistent/greenlight-ui-test/kubeconfig"),
        "the app was started with --kubeconfig, so every copied command names it: {}",
        clipboard[0]
    );
    frames(&mut harness, 2);
    harness.get_by_label_contains("Copied the create command");

    // PowerShell is remembered for every command.
    harness.get_by_label("PowerShell").click();
    frames(&mut harness, 3);
    harness.get_by_label("Copy create").click();
    harness.step();
    assert!(copied(&harness)[0].contains("Read-Host -AsSecureString"));
    assert!(harness.state().state.remembered.powershell);
}

/// A test API server on a runtime of its own, so the app's runtime is dropped the ordinary
/// way (nothing hidden by a background shutdown).
fn cluster_on(runtime: &tokio::runtime::Runtime) -> crate::support::Cluster {
    let cluster = runtime.block_on(crate::support::Cluster::start());
    cluster.server.create_namespace("acme");
    cluster
}

/// Waits (at most 10 s) until the server has `wanted` watches open.
fn wait_for_watches(cluster: &crate::support::Cluster, wanted: usize) {
    let deadline = Instant::now() + Duration::from_secs(10);
    while cluster.server.open_watches() != wanted {
        assert!(
            Instant::now() < deadline,
            "{} watches open, expected {wanted}",
            cluster.server.open_watches()
        );
        std::thread::sleep(Duration::from_millis(20));
    }
}

#[test]
fn rows_follow_the_engine_against_a_cluster() {
    let server_runtime = runtime();
    let mut cluster = cluster_on(&server_runtime);
    let spec = crate::support::write_spec(
        cluster.dir.path(),
        "version: 1\ndeployment: ui-e2e\nplatforms: [kubernetes]\ndefaults: { kubernetes: { namespace: acme } }\nfeatures: { extra: { description: An extra feature } }\nsecrets:\n  - { name: github-token, description: GitHub token, kubernetes: { keys: [token] } }\n  - { name: webhook, description: Webhook, required: false, kubernetes: { keys: [secret] } }\n  - { name: extra-key, description: Only with the extra feature, when: extra, kubernetes: { keys: [k] } }\n",
    );
    let kubeconfig = cluster.kubeconfig();
    let runtime = runtime();
    let state = |harness: &Harness<'_, GreenlightApp>, index: usize| {
        harness.state().state.rows[index].state()
    };
    let mut harness =
        app(&runtime, AppOptions { spec: Some(spec), kubeconfig: Some(kubeconfig), sandbox: None });
    settle(&mut harness, |app| app.state.rows.first().is_some_and(|r| r.state() == State::Missing));
    harness.get_by_label_contains("Context");
    harness.get_by_label(&cluster.server.url());
    assert_eq!(state(&harness, 2), State::NotNeeded);

    cluster.seed("acme", "github-token", &[("token", "ui-value-201")]);
    settle(&mut harness, |app| app.state.rows[0].state() == State::Present && app.state.ready);
    harness.get_by_label_contains("Ready: 1 of 1 required secret present");
    // The row, and its details: it was missing at the start, so the window selected it.
    assert_eq!(harness.state().state.selected, Some(0));
    assert_eq!(harness.get_all_by_label("✔ present").count(), 2);

    // Features and skips go to the engine.
    harness.get_by_label("extra").click();
    settle(&mut harness, |app| app.state.rows[2].state() == State::Missing);
    harness.get_by_label("webhook").click();
    frames(&mut harness, 3);
    harness.get_by_label(label::SKIP).click();
    settle(&mut harness, |app| app.state.rows[1].state() == State::Skipped);
    harness.get_by_label(label::UNSKIP);
    cluster.assert_value_free();
}

#[test]
fn reloads_and_context_switches_stop_the_old_watches() {
    let server_runtime = runtime();
    let cluster = cluster_on(&server_runtime);
    cluster.server.create_namespace("billing");
    let spec = crate::support::write_spec(
        cluster.dir.path(),
        "version: 1\ndeployment: reloads\nplatforms: [kubernetes]\ndefaults: { kubernetes: { namespace: acme } }\nsecrets:\n  - { name: a, description: A, kubernetes: { keys: [k] } }\n  - { name: b, description: B, kubernetes: { namespace: billing, keys: [k] } }\n",
    );
    let runtime = runtime();
    let mut harness = app(
        &runtime,
        AppOptions {
            spec: Some(spec.clone()),
            kubeconfig: Some(cluster.kubeconfig()),
            sandbox: None,
        },
    );
    let decided = |app: &GreenlightApp| {
        !app.state.rows.is_empty() && app.state.rows.iter().all(|r| r.state() == State::Missing)
    };
    settle(&mut harness, decided);
    wait_for_watches(&cluster, 2);
    for n in 1..=5 {
        harness
            .state_mut()
            .dispatch(vec![greenlight::ui::actions::UiAction::OpenPath(spec.clone())]);
        settle(&mut harness, |app| {
            app.state.log.iter().filter(|l| l.text.starts_with("Reloaded")).count() == n
                && decided(app)
        });
    }
    wait_for_watches(&cluster, 2);
    harness
        .state_mut()
        .dispatch(vec![greenlight::ui::actions::UiAction::SetContext("admin".to_owned())]);
    settle(&mut harness, |app| {
        decided(app)
            && app.state.connection.as_ref().is_some_and(|c| {
                c.connection
                    == greenlight::detect::Connection::Kubernetes(
                        greenlight::detect::KubernetesConnection {
                            context: Some("admin".into()),
                            server: Some(cluster.server.url()),
                            user: Some("admin".into()),
                            credential_plugin: None,
                        },
                    )
            })
    });
    wait_for_watches(&cluster, 2);
    // Closing the window stops every watch, with the runtime still running.
    drop(harness);
    wait_for_watches(&cluster, 0);
}

#[test]
fn the_keyboard_selects_and_copies() {
    let runtime = runtime();
    let mut harness = app(
        &runtime,
        AppOptions { spec: example("quickstart.yaml"), kubeconfig: no_cluster(), sandbox: None },
    );
    settle(&mut harness, |app| app.state.spec.is_some());
    harness.key_press(egui::Key::ArrowDown);
    harness.step();
    assert_eq!(harness.state().state.selected, Some(0));
    harness.key_press(egui::Key::ArrowDown);
    harness.step();
    assert_eq!(harness.state().state.selected, Some(1));
    // Press and release in one frame, so that frame's output carries the clipboard command.
    let modifiers = egui::Modifiers::COMMAND | egui::Modifiers::SHIFT;
    harness.input_mut().events.push(egui::Event::Key {
        key: egui::Key::C,
        physical_key: None,
        pressed: true,
        repeat: false,
        modifiers,
    });
    harness.step();
    assert!(
        copied(&harness).first().is_some_and(|c| c.contains("database-password")),
        "{:?}",
        copied(&harness)
    );
    harness.key_press(egui::Key::Escape);
    harness.step();
    assert_eq!(harness.state().state.selected, None);
}

#[test]
fn a_thousand_secrets_draw_only_the_visible_rows() {
    let dir = tempfile::tempdir().unwrap();
    let mut text = String::from(
        "version: 1\ndeployment: big\nplatforms: [kubernetes]\ndefaults: { kubernetes: { namespace: big } }\nsecrets:\n",
    );
    for i in 0..1000 {
        text.push_str(&format!(
            "  - {{ name: secret-{i:04}, description: number {i}, kubernetes: {{ keys: [k] }} }}\n"
        ));
    }
    let path = crate::support::write_spec(dir.path(), &text);
    let runtime = runtime();
    let mut harness =
        app(&runtime, AppOptions { spec: Some(path), kubeconfig: no_cluster(), sandbox: None });
    settle(&mut harness, |app| app.state.spec.is_some());
    let drawn = harness.query_all_by_label_contains("secret-0").count();
    assert!(drawn > 5 && drawn < 60, "{drawn} rows drawn");
    let started = Instant::now();
    for _ in 0..20 {
        harness.step();
    }
    // Not a timing test: a coarse guard that a frame does not walk all 1,000 rows' widgets.
    assert!(started.elapsed() < Duration::from_secs(10), "{:?} for 20 frames", started.elapsed());
}

#[test]
fn editing_the_spec_on_disk_reloads_it_and_a_broken_edit_keeps_the_checklist() {
    let dir = tempfile::tempdir().unwrap();
    let good = "version: 1\ndeployment: live\nplatforms: [kubernetes]\ndefaults: { kubernetes: { namespace: live } }\nsecrets:\n  - { name: first, description: First secret, kubernetes: { keys: [k] } }\n";
    let path = crate::support::write_spec(dir.path(), good);
    let runtime = runtime();
    let mut harness = app(
        &runtime,
        AppOptions { spec: Some(path.clone()), kubeconfig: no_cluster(), sandbox: None },
    );
    settle(&mut harness, |app| app.state.spec.is_some());
    harness.get_by_label("first");

    // Modification times have one-second resolution on some filesystems.
    std::thread::sleep(Duration::from_millis(1100));
    std::fs::write(&path, format!("{good}  - {{ name: second, description: Second secret, kubernetes: {{ keys: [k] }} }}\n")).unwrap();
    settle(&mut harness, |app| app.state.rows.len() == 2);
    harness.get_by_label("second");

    std::thread::sleep(Duration::from_millis(1100));
    std::fs::write(
        &path,
        format!(
            "{good}  - {{ name: Bad_Name, description: broken, kubernetes: {{ keys: [k] }} }}\n"
        ),
    )
    .unwrap();
    settle(&mut harness, |app| app.state.spec_error.is_some());
    harness.get_by_label_contains("The spec file has problems");
    harness.get_by_label("second");
}

#[test]
fn check_now_asks_again_at_once_after_a_role_is_granted() {
    use crate::support::apiserver::Rule;
    let server_runtime = runtime();
    let mut cluster =
        server_runtime.block_on(crate::support::Cluster::start_with(vec![Rule::new(
            &["create"],
            &["selfsubjectaccessreviews"],
            None,
        )]));
    cluster.server.create_namespace("acme");
    cluster.seed("acme", "github-token", &[("token", "check-now-value-202")]);
    let spec = crate::support::write_spec(
        cluster.dir.path(),
        "version: 1\ndeployment: check-now\nplatforms: [kubernetes]\ndefaults: { kubernetes: { namespace: acme } }\nsecrets:\n  - { name: github-token, description: GitHub token, kubernetes: { keys: [token] } }\n",
    );
    let runtime = runtime();
    let mut harness = app(
        &runtime,
        AppOptions { spec: Some(spec), kubeconfig: Some(cluster.kubeconfig()), sandbox: None },
    );
    settle(&mut harness, |app| app.state.rows[0].state() == State::Forbidden);
    cluster.server.set_rules(
        crate::support::OPERATOR_TOKEN,
        vec![
            Rule::new(&["create"], &["selfsubjectaccessreviews"], None),
            Rule::new(&["get", "list", "watch"], &["secrets"], Some("acme")),
        ],
    );
    let clicked = Instant::now();
    harness.get_by_label(label::CHECK_NOW).click();
    settle(&mut harness, |app| app.state.rows[0].state() == State::Present);
    // Without "Check now" the denial would only be reviewed again 15 s after it was seen.
    assert!(clicked.elapsed() < Duration::from_secs(10), "{:?}", clicked.elapsed());
    cluster.assert_value_free();
}

#[test]
fn the_ready_banner_never_rests_on_rows_that_could_not_be_rechecked() {
    let server_runtime = runtime();
    let mut cluster = cluster_on(&server_runtime);
    cluster.seed("acme", "github-token", &[("token", "stale-ui-value-203")]);
    let spec = crate::support::write_spec(
        cluster.dir.path(),
        "version: 1\ndeployment: stale\nplatforms: [kubernetes]\ndefaults: { kubernetes: { namespace: acme } }\nsecrets:\n  - { name: github-token, description: GitHub token, kubernetes: { keys: [token] } }\n",
    );
    let runtime = runtime();
    let mut harness = app(
        &runtime,
        AppOptions { spec: Some(spec), kubeconfig: Some(cluster.kubeconfig()), sandbox: None },
    );
    settle(&mut harness, |app| app.state.ready);
    harness.get_by_label_contains("Ready: 1 of 1 required secret present");
    cluster.server.stop();
    settle(&mut harness, |app| {
        !app.state.ready && app.state.rows[0].outcome.as_ref().is_some_and(|o| o.stale.is_some())
    });
    assert!(harness.query_by_label_contains("Ready:").is_none(), "no Ready banner on stale rows");
    harness.get_by_label_contains("0 of 1 required secret present; 1 could not be re-checked");
    harness.get_by_label("✔ present (stale)");
    let markdown = harness.state().state.report().unwrap().to_markdown();
    assert!(markdown.contains("**Not ready**"), "{markdown}");
    assert!(markdown.contains("*(stale)*"), "{markdown}");
}

#[test]
fn a_failing_credential_plugin_leaves_no_credential_in_the_app_or_its_exports() {
    let server_runtime = runtime();
    let cluster = cluster_on(&server_runtime);
    let markers =
        ["arg-marker-ui-secret-41aa", "env-marker-ui-secret-52bb", "stderr-marker-ui-63cc"];
    let plugin = cluster.dir.path().join("aws");
    std::fs::write(
        &plugin,
        format!(
            "#!/bin/sh\necho \"token refresh failed: $* $GL_SECRET {}\" >&2\necho {} \nexit 255\n",
            markers[2], markers[2]
        ),
    )
    .unwrap();
    use std::os::unix::fs::PermissionsExt;
    std::fs::set_permissions(&plugin, std::fs::Permissions::from_mode(0o755)).unwrap();
    let kubeconfig = cluster.server.kubeconfig(&[("test", "unused")]).replace(
        "  user:\n    token: unused\n",
        &format!(
            "  user:\n    exec:\n      apiVersion: client.authentication.k8s.io/v1\n      command: {}\n      args: [eks, get-token, --profile, ops, --oidc-client-secret={}]\n      env:\n        - {{ name: GL_SECRET, value: {} }}\n",
            plugin.display(),
            markers[0],
            markers[1]
        ),
    );
    std::fs::write(cluster.kubeconfig(), kubeconfig).unwrap();
    let spec = crate::support::write_spec(
        cluster.dir.path(),
        "version: 1\ndeployment: plugin\nplatforms: [kubernetes]\ndefaults: { kubernetes: { namespace: acme } }\nsecrets:\n  - { name: github-token, description: GitHub token, kubernetes: { keys: [token] } }\n",
    );
    let runtime = runtime();
    let mut harness = app(
        &runtime,
        AppOptions { spec: Some(spec), kubeconfig: Some(cluster.kubeconfig()), sandbox: None },
    );
    settle(&mut harness, |app| {
        app.state.rows[0].state() == State::Unreachable && app.state.connection.is_some()
    });
    harness.get_by_label_contains("the credential plugin `aws` failed");
    let app = &harness.state().state;
    let report = app.report().unwrap();
    let everything = format!(
        "{app:?}\n{}\n{}\n{}",
        report.to_markdown(),
        report.to_json(),
        app.log.iter().map(|l| l.text.as_str()).collect::<Vec<_>>().join("\n")
    );
    assert!(everything.contains("aws sso login --profile ops"), "the login command is shown");
    for marker in markers {
        assert!(!everything.contains(marker), "the app shows a credential ({marker})");
    }
}

#[test]
fn nothing_repaints_while_nothing_changes() {
    let runtime = runtime();
    let mut harness = app(
        &runtime,
        AppOptions { spec: example("quickstart.yaml"), kubeconfig: no_cluster(), sandbox: None },
    );
    settle(&mut harness, |app| {
        app.state.spec.is_some()
            && !app.state.checking
            && app.state.rows.iter().all(|r| r.outcome.is_some())
    });
    harness.get_by_label_contains("checked at ");
    let delay = |harness: &Harness<'_, GreenlightApp>| {
        harness.output().viewport_output.get(&egui::ViewportId::ROOT).unwrap().repaint_delay
    };
    assert_eq!(delay(&harness), Duration::MAX, "an idle window asks for no repaint");
    // A notice asks for one repaint, to go away.
    harness.get_by_label(label::COPY_REPORT).click();
    harness.step();
    assert!(delay(&harness) <= Duration::from_secs(8), "{:?}", delay(&harness));
}

#[test]
fn a_granted_write_permission_shows_after_a_copy() {
    use crate::support::apiserver::Rule;
    use greenlight::detect::Permission;
    let read_only = vec![
        Rule::new(&["create"], &["selfsubjectaccessreviews"], None),
        Rule::new(&["get", "list", "watch"], &["secrets", "namespaces"], Some("acme")),
    ];
    let server_runtime = runtime();
    let cluster = server_runtime.block_on(crate::support::Cluster::start_with(read_only.clone()));
    cluster.server.create_namespace("acme");
    let spec = crate::support::write_spec(
        cluster.dir.path(),
        "version: 1\ndeployment: write\nplatforms: [kubernetes]\ndefaults: { kubernetes: { namespace: acme } }\nsecrets:\n  - { name: github-token, description: GitHub token, kubernetes: { keys: [token] } }\n",
    );
    let runtime = runtime();
    let mut harness = app(
        &runtime,
        AppOptions { spec: Some(spec), kubeconfig: Some(cluster.kubeconfig()), sandbox: None },
    );
    let can_create = |app: &GreenlightApp| {
        app.state.rows[0].outcome.as_ref().and_then(|o| o.write.as_ref()).map(|w| w.can_create)
    };
    settle(&mut harness, |app| can_create(app) == Some(Permission::No));
    // Missing and required: the window starts on it.
    assert_eq!(harness.state().state.selected, Some(0));
    frames(&mut harness, 3);
    harness.get_by_label_contains("Can create: you may read but not create Secrets");
    let mut granted = read_only;
    granted.push(Rule::new(&["create", "patch", "update"], &["secrets"], Some("acme")));
    cluster.server.set_rules(crate::support::OPERATOR_TOKEN, granted);
    let copied = Instant::now();
    harness.get_by_label("Copy create").click();
    settle(&mut harness, |app| can_create(app) == Some(Permission::Yes));
    // Without the Copy the answer would be kept for 15 s.
    assert!(copied.elapsed() < Duration::from_secs(10), "{:?}", copied.elapsed());
    harness.get_by_label_contains("Can create: you may create and replace Secrets");
}

#[test]
fn a_slow_first_round_fills_the_window_in_as_namespaces_answer() {
    let server_runtime = runtime();
    let mut cluster = server_runtime.block_on(crate::support::Cluster::start());
    // More namespaces than are asked at once, each answer 400 ms away: the last ones answer
    // a round trip after the first.
    let mut text = String::from("version: 1\ndeployment: far\nplatforms: [kubernetes]\nsecrets:\n");
    for n in 0..40 {
        let namespace = format!("far-{n:02}");
        cluster.server.create_namespace(&namespace);
        cluster.seed(&namespace, "token", &[("k", &format!("far-value-{n:03}"))]);
        text.push_str(&format!(
            "  - {{ name: token-{n:02}, description: d, kubernetes: {{ namespace: {namespace}, secret: token, keys: [k] }} }}\n"
        ));
    }
    let spec = crate::support::write_spec(cluster.dir.path(), &text);
    cluster.server.set_latency(Duration::from_millis(400));
    let runtime = runtime();
    let mut harness = app(
        &runtime,
        AppOptions { spec: Some(spec), kubeconfig: Some(cluster.kubeconfig()), sandbox: None },
    );
    let decided =
        |app: &GreenlightApp| app.state.rows.iter().filter(|r| r.state() == State::Present).count();
    // Some rows present while others are still being checked, the header counting.
    settle(&mut harness, |app| decided(app) > 0);
    let shown = decided(harness.state());
    assert!(shown < 40, "every row arrived at once ({shown}): nothing filled in");
    assert!(
        harness.state().state.freshness().starts_with("checking… "),
        "{}",
        harness.state().state.freshness()
    );
    harness.get_by_label_contains("checking… ");
    settle(&mut harness, |app| decided(app) == 40);
    assert!(!harness.state().state.freshness().starts_with("checking"));
    cluster.assert_value_free();
}

#[test]
fn a_spec_drafted_from_manifests_is_reviewed_then_saved_and_opened() {
    let dir = tempfile::tempdir().unwrap();
    let manifests = dir.path().join("rendered.yaml");
    std::fs::copy(
        PathBuf::from(env!("CARGO_MANIFEST_DIR")).join("tests/fixtures/manifests/doppler-eso.yaml"),
        &manifests,
    )
    .unwrap();
    let runtime = runtime();
    let mut harness =
        app(&runtime, AppOptions { spec: None, kubeconfig: no_cluster(), sandbox: None });
    harness.step();
    harness.get_by_label(label::FROM_MANIFESTS).click();
    frames(&mut harness, 2);
    // A path that is not there first, as operators type them.
    harness.get_by_label(label::MANIFESTS_PATH).click();
    frames(&mut harness, 2);
    harness.get_by_label(label::MANIFESTS_PATH).type_text("/nonexistent/rendered.yaml");
    frames(&mut harness, 2);
    assert_eq!(
        harness.state().state.manifests_entry.as_deref(),
        Some("/nonexistent/rendered.yaml")
    );
    harness.get_by_label(label::DRAFT).click();
    settle(&mut harness, |app| app.state.draft_error.is_some());
    harness.get_by_label_contains("- for standard input");

    harness.state_mut().state.manifests_entry = Some(manifests.display().to_string());
    frames(&mut harness, 2);
    harness.get_by_label(label::DRAFT).click();
    settle(&mut harness, |app| app.state.draft.is_some());
    harness.get_by_label_contains("3 ExternalSecrets: 2 values in the backend, 3 target Secrets");
    harness.get_by_label_contains("places are marked TODO");
    let text = harness.state().state.draft.as_ref().unwrap().text.clone();
    assert!(text.contains("doppler-token-auth"), "{text}");

    let chooser = std::env::var_os("PATH")
        .is_some_and(|paths| std::env::split_paths(&paths).any(|d| d.join("zenity").is_file()))
        || (std::env::var_os("DBUS_SESSION_BUS_ADDRESS").is_some()
            && std::path::Path::new("/usr/libexec/xdg-desktop-portal").exists());
    if chooser {
        eprintln!("a file chooser would open here; the save is covered where none is installed");
        return;
    }
    harness.get_by_label(label::SAVE_DRAFT).click();
    let saved = dir.path().join("greenlight-spec.yaml");
    settle(&mut harness, |app| app.state.spec.is_some() || app.state.spec_error.is_some());
    assert_eq!(std::fs::read_to_string(&saved).unwrap(), text);
    assert_eq!(harness.state().state.spec_path.as_deref(), Some(saved.as_path()));
    // Saving again never replaces the file the vendor may have edited since.
    harness.get_by_label(label::CLOSE).click();
    frames(&mut harness, 2);
    harness.get_by_label(label::FROM_MANIFESTS).click();
    frames(&mut harness, 2);
    harness.state_mut().state.manifests_entry = Some(manifests.display().to_string());
    harness.get_by_label(label::DRAFT).click();
    settle(&mut harness, |app| app.state.draft.is_some());
    harness.get_by_label(label::SAVE_DRAFT).click();
    settle(&mut harness, |app| app.state.draft_error.is_some());
    harness.get_by_label_contains("already exists");
}

/// Every character outside ASCII in the text Greenlight writes (string literals in the app
/// and the engine, comments left out).
fn written_characters() -> std::collections::BTreeMap<char, String> {
    fn walk(dir: &std::path::Path, out: &mut std::collections::BTreeMap<char, String>) {
        for entry in std::fs::read_dir(dir).unwrap() {
            let path = entry.unwrap().path();
            if path.is_dir() {
                walk(&path, out);
            } else if path.extension().is_some_and(|e| e == "rs") {
                let text = std::fs::read_to_string(&path).unwrap();
                // A file's unit tests (at its end) are not written to anyone.
                for (number, line) in
                    text.lines().enumerate().take_while(|(_, l)| l.trim() != "#[cfg(test)]")
                {
                    let code = line.split("//").next().unwrap_or_default();
                    // Lines marked `// terminal text` are for terminals, whose fonts differ.
                    if line.trim_start().starts_with("//")
                        || line.contains("// terminal text")
                        || code.matches('"').count() < 2
                    {
                        continue;
                    }
                    for c in code.chars().filter(|c| !c.is_ascii()) {
                        out.entry(c)
                            .or_insert_with(|| format!("{}:{}", path.display(), number + 1));
                    }
                }
            }
        }
    }
    let root = PathBuf::from(env!("CARGO_MANIFEST_DIR"));
    let mut out = std::collections::BTreeMap::new();
    walk(&root.join("src"), &mut out);
    walk(&root.join("crates/engine/src"), &mut out);
    out
}

#[test]
fn every_character_greenlight_writes_is_in_the_fonts_it_ships() {
    let runtime = runtime();
    let mut harness =
        app(&runtime, AppOptions { spec: None, kubeconfig: no_cluster(), sandbox: None });
    harness.step();
    let written = written_characters();
    assert!(written.contains_key(&'…'), "the scan finds what the app writes: {written:?}");
    let missing: Vec<String> = harness.ctx.fonts_mut(|fonts| {
        written
            .iter()
            .filter(|(c, _)| {
                !fonts.has_glyph(&egui::FontId::proportional(14.0), **c)
                    || !fonts.has_glyph(&egui::FontId::monospace(14.0), **c)
            })
            .map(|(c, at)| format!("{c:?} (U+{:04X}) at {at}", u32::from(*c)))
            .collect()
    });
    assert!(missing.is_empty(), "characters the fonts cannot draw: {missing:#?}");
}

#[test]
fn the_filter_finds_a_row_by_where_it_lives() {
    let runtime = runtime();
    let mut harness = app(
        &runtime,
        AppOptions {
            spec: example("platform-contract.yaml"),
            kubeconfig: no_cluster(),
            sandbox: None,
        },
    );
    settle(&mut harness, |app| app.state.selection.is_some());
    let shown = |harness: &mut Harness<'_, GreenlightApp>, text: &str| -> Vec<String> {
        harness.state_mut().state.filter = text.to_owned();
        let state = &harness.state().state;
        let spec = state.spec.as_ref().unwrap();
        state
            .lines()
            .into_iter()
            .filter_map(|line| match line {
                greenlight::ui::state::Line::Entry(i) => Some(spec.entries[i].name.clone()),
                greenlight::ui::state::Line::Heading(_) => None,
            })
            .collect()
    };
    // A target Secret, its namespace, and the store's credential by its namespace.
    assert_eq!(shown(&mut harness, "key-portal"), ["litellm-master-key"]);
    assert!(shown(&mut harness, "experience").contains(&"dex-open-webui-client-secret".to_owned()));
    assert_eq!(shown(&mut harness, "external-secrets/"), ["secret-store-key"]);
    assert!(shown(&mut harness, "no such thing").is_empty());
}

#[test]
fn the_window_starts_on_the_first_row_the_operator_must_create() {
    let server_runtime = runtime();
    let mut cluster = cluster_on(&server_runtime);
    cluster.seed("acme", "present-one", &[("k", "start-value-401")]);
    let spec = crate::support::write_spec(
        cluster.dir.path(),
        "version: 1\ndeployment: start\nplatforms: [kubernetes]\ndefaults: { kubernetes: { namespace: acme } }\nsecrets:\n  - { name: present-one, description: Already there, kubernetes: { keys: [k] } }\n  - { name: vendors-one, description: The vendor's, provided_by: vendor, kubernetes: { keys: [k] } }\n  - { name: optional-one, description: Optional, required: false, kubernetes: { keys: [k] } }\n  - { name: todo-one, description: To create, kubernetes: { keys: [k] } }\n",
    );
    let runtime = runtime();
    let mut harness = app(
        &runtime,
        AppOptions { spec: Some(spec), kubeconfig: Some(cluster.kubeconfig()), sandbox: None },
    );
    settle(&mut harness, |app| app.state.last_round_at.is_some());
    let state = &harness.state().state;
    let selected = state.selected.map(|i| state.spec.as_ref().unwrap().entries[i].name.clone());
    assert_eq!(selected.as_deref(), Some("todo-one"));
    harness.get_by_label_contains("Not found in namespace acme");
    cluster.assert_value_free();
}

#[test]
fn the_list_and_the_details_both_fit_from_800_by_600_up() {
    for (width, height) in [(800.0, 600.0), (1180.0, 760.0), (1920.0, 1080.0)] {
        let runtime = runtime();
        let handle = runtime.handle().clone();
        let options = AppOptions {
            spec: example("platform-contract.yaml"),
            kubeconfig: no_cluster(),
            sandbox: None,
        };
        let mut harness = Harness::builder()
            .with_size([width, height])
            .build_eframe(move |cc| GreenlightApp::new(cc, handle, options));
        settle(&mut harness, |app| app.state.spec.is_some());
        // The first value (the row with the longest chain text), selected.
        let spec = harness.state().state.spec.clone().unwrap();
        let first_value = spec.entries.iter().position(|e| e.delivered.is_some()).unwrap();
        harness.state_mut().state.selected = Some(first_value);
        frames(&mut harness, 4);
        let name = spec.entries[first_value].name.clone();
        let shown: Vec<egui::Rect> =
            harness.get_all_by_label(&name).map(|node| node.rect()).collect();
        assert_eq!(shown.len(), 2, "{width}x{height}: the row and the details' heading");
        let (row, heading) = if shown[0].left() < shown[1].left() {
            (shown[0], shown[1])
        } else {
            (shown[1], shown[0])
        };
        assert!(row.right() <= heading.left(), "{width}x{height}: the details cover the list");
        assert!(heading.left() >= 300.0, "{width}x{height}: the list is squeezed ({heading:?})");
        for node in harness.get_all_by_label_contains("Secret Manager secret") {
            let at = node.rect();
            assert!(at.right() <= width + 1.0, "{width}x{height}: the details run off ({at:?})");
            assert!(at.left() >= heading.left() - 1.0, "{width}x{height}: clipped ({at:?})");
        }
    }
}

#[test]
fn one_cause_is_told_once_with_the_row_to_fix_first() {
    let server_runtime = runtime();
    let mut cluster = cluster_on(&server_runtime);
    cluster.server.create_namespace("source");
    cluster.seed("source", "api-key", &[("value", "root-value-301")]);
    cluster.seed("source", "salt", &[("value", "root-value-302")]);
    let spec = crate::support::write_spec(
        cluster.dir.path(),
        "version: 1\ndeployment: root\nplatforms: [kubernetes]\nbackends: { src: { kind: kubernetes, namespace: source } }\ndelivery: { external_secrets: { store: { kind: ClusterSecretStore, name: store, credential: store-token } } }\nvalues:\n  - { name: api-key, description: API key }\n  - { name: salt, description: Salt }\ntargets:\n  - { namespace: acme, secret: app, keys: { API_KEY: api-key, SALT: salt } }\nsecrets:\n  - { name: store-token, description: The store's token, kubernetes: { namespace: acme, keys: [token] } }\n",
    );
    let runtime = runtime();
    let mut harness = app(
        &runtime,
        AppOptions { spec: Some(spec), kubeconfig: Some(cluster.kubeconfig()), sandbox: None },
    );
    settle(&mut harness, |app| app.state.root_cause().is_some());
    // The store's credential is listed first, and the cause is told once, above the list.
    let first = &harness.state().state.spec.as_ref().unwrap().entries[0];
    assert_eq!(first.name, "store-token");
    harness.get_by_label("One cause blocks 2 values: External Secrets Operator");
    assert_eq!(harness.get_all_by_label_contains("install External Secrets").count(), 1);
    harness.state_mut().state.selected = None;
    harness.get_by_label("Fix this first: store-token").click();
    frames(&mut harness, 3);
    assert_eq!(harness.state().state.selected, Some(0));
    // The activity log uses the list's words.
    cluster.server.delete_secret("source", "api-key");
    let index = index_of(harness.state(), "api-key");
    settle(&mut harness, |app| app.state.rows[index].state() == State::Missing);
    let log: Vec<String> = harness.state().state.log.iter().map(|l| l.text.clone()).collect();
    assert!(log.iter().any(|l| l == "api-key: missing (was needs a fix)"), "{log:?}");
    cluster.assert_value_free();
}

#[test]
fn the_sandbox_walks_a_delivery_chain_to_green() {
    let runtime = runtime();
    let dir = tempfile::tempdir().unwrap();
    let path = example("doppler-eso.json").unwrap();
    let spec = greenlight::spec::load(&path).unwrap();
    let sandbox = runtime.block_on(greenlight::sandbox::Sandbox::start(&spec, dir.path())).unwrap();
    assert!(sandbox.label().contains("standing in for Doppler"), "{}", sandbox.label());
    let options = AppOptions {
        spec: Some(path),
        kubeconfig: Some(sandbox.kubeconfig().to_owned()),
        sandbox: Some(sandbox.label()),
    };
    let mut harness = app(&runtime, options);
    let index = index_of;
    settle(&mut harness, |app| {
        app.state.rows[index(app, "DATABASE_URL")].state() == State::Missing
    });
    // The operator's commands, as the window writes them: the value into the sandbox's values
    // namespace, then Sync now.
    let run = |app: &GreenlightApp, name: &str, kind: CommandKind, input: &str| {
        let entry = &app.state.spec.as_ref().unwrap().entries[index(app, name)];
        let target = app.state.command_target(Platform::Kubernetes);
        let text = commands::for_entry(entry, Platform::Kubernetes, &target, Shell::Posix)
            .unwrap()
            .into_iter()
            .find(|c| c.kind == kind)
            .unwrap()
            .text;
        assert!(!text.contains("doppler "), "the sandbox stands in for Doppler: {text}");
        let mut command = std::process::Command::new("bash");
        command.arg("-c").arg(&text).stdin(std::process::Stdio::piped());
        let mut child = command.spawn().unwrap();
        use std::io::Write as _;
        child.stdin.take().unwrap().write_all(input.as_bytes()).unwrap();
        assert!(child.wait().unwrap().success(), "{text}");
    };
    for (name, input) in [("DATABASE_URL", "postgres://demo\n"), ("JWT_SECRET", "")] {
        run(harness.state(), name, CommandKind::Create, input);
        run(harness.state(), name, CommandKind::Sync, "");
    }
    settle(&mut harness, |app| {
        ["DATABASE_URL", "JWT_SECRET"]
            .iter()
            .all(|n| app.state.rows[index(app, n)].state() == State::Present)
    });
}
