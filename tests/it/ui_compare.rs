//! "Compare environments" in the window: two clusters and one that does not answer, side by
//! side through the real engine against the project's API server; the choices remembered per
//! spec; a cell's details written for its own environment. And the platform example across
//! two clusters, from the CLI and in the window, with a value missing in one of them only.

use egui_kittest::kittest::Queryable;
use greenlight::detect::State;
use greenlight::ui::actions::{UiAction, label};
use greenlight::ui::compare::Choice;
use greenlight::ui::{AppOptions, GreenlightApp};
use greenlight_apiserver::{ApiServer, Rule};

use crate::environments::SPEC;
use crate::ui::{app, frames, index_of, runtime, settle};

fn state_of(app: &GreenlightApp, column: usize, name: &str) -> State {
    let compare = app.state.compare.as_ref().unwrap();
    let column = &compare.columns[column];
    let index = column.spec.entries.iter().position(|e| e.name == name).unwrap();
    column.rows[index].state()
}

/// Staging lacks db-password, production has both, and a third cluster has stopped; one
/// kubeconfig reaches all three (contexts `stg`, `prd`, `gone`).
fn clusters(
    runtime: &tokio::runtime::Runtime,
    dir: &std::path::Path,
) -> (Vec<ApiServer>, std::path::PathBuf) {
    let servers: Vec<ApiServer> = runtime.block_on(async {
        let mut servers = Vec::new();
        for name in ["stg", "prd", "gone"] {
            let server = ApiServer::start().await.unwrap();
            server.add_user(
                &format!("{name}-operator"),
                &format!("{name}-token-5521"),
                vec![Rule::admin()],
            );
            server.create_namespace("app");
            server.put_secret("app", "api-token", &[("token", "compare-value-901")]);
            servers.push(server);
        }
        servers
    });
    servers[1].put_secret("app", "db-password", &[("password", "compare-value-902")]);
    servers[2].stop();
    let config = ApiServer::merged_kubeconfig(&[
        (&servers[0], "stg", "stg-token-5521"),
        (&servers[1], "prd", "prd-token-5521"),
        (&servers[2], "gone", "gone-token-5521"),
    ]);
    let kubeconfig = dir.join("kubeconfig");
    std::fs::write(&kubeconfig, config).unwrap();
    (servers, kubeconfig)
}

#[test]
fn environments_side_by_side_each_its_own_column() {
    let runtime = runtime();
    let dir = tempfile::tempdir().unwrap();
    let (servers, kubeconfig) = clusters(&runtime, dir.path());
    let spec = dir.path().join("envs.yaml");
    std::fs::write(&spec, SPEC).unwrap();
    let options =
        AppOptions { spec: Some(spec.clone()), kubeconfig: Some(kubeconfig), sandbox: None };
    let mut harness = app(&runtime, options);
    settle(&mut harness, |app| {
        app.state.contexts.len() == 3 && app.state.rows.iter().all(|r| r.outcome.is_some())
    });

    // Nothing declared in the spec: the picker opens with the kubeconfig's contexts.
    harness.get_by_label(label::COMPARE).click();
    frames(&mut harness, 2);
    for context in ["stg", "prd", "gone"] {
        harness.get_by_label(context).click();
        frames(&mut harness, 1);
    }
    settle(&mut harness, |app| {
        let compare = app.state.compare.as_ref().unwrap();
        compare.columns.len() == 3
            && compare.columns.iter().all(|c| c.rows.iter().all(|r| r.outcome.is_some()))
    });
    let app = harness.state();
    assert_eq!(state_of(app, 0, "db-password"), State::Missing);
    assert_eq!(state_of(app, 1, "db-password"), State::Present);
    assert_eq!(state_of(app, 0, "api-token"), State::Present);
    assert_eq!(state_of(app, 2, "api-token"), State::Unreachable, "only its own column");
    // Remembered for this spec file.
    let key = spec.display().to_string();
    assert_eq!(
        app.state.remembered.compare.get(&key).unwrap(),
        &[
            Choice::Context("stg".into()),
            Choice::Context("prd".into()),
            Choice::Context("gone".into())
        ]
    );
    harness.get_by_label_contains("1 of 2 ready");
    harness.get_by_label_contains("2 of 2 ready");

    // The report covers every column, when each was checked, names only.
    let matrix = harness.state().state.matrix_report().unwrap();
    let markdown = matrix.to_markdown();
    assert!(markdown.contains("| Secret | stg (checked 20"), "{markdown}");
    assert!(!markdown.contains("compare-value"), "{markdown}");
    assert_eq!(matrix.environments.len(), 3);

    // A cell's details: the same as the checklist's, with commands for its own context.
    let cell = harness.state().state.compare.as_ref().unwrap().columns[0]
        .spec
        .entries
        .iter()
        .position(|e| e.name == "db-password")
        .unwrap();
    harness.state_mut().dispatch(vec![UiAction::SelectCell(Some((cell, 0)))]);
    frames(&mut harness, 3);
    harness.get_by_label("In stg");
    assert!(harness.query_all_by_label_contains("--context stg").count() > 0);
    assert_eq!(harness.query_all_by_label_contains("--context prd").count(), 0);

    // The secret created in staging turns its cell green; production's column is untouched.
    servers[0].put_secret("app", "db-password", &[("password", "compare-value-903")]);
    settle(&mut harness, |app| state_of(app, 0, "db-password") == State::Present);
    assert_eq!(state_of(harness.state(), 1, "db-password"), State::Present);

    // Back to the checklist stops the columns; opening again brings back the same three.
    harness.get_by_label(label::BACK_TO_CHECKLIST).click();
    frames(&mut harness, 2);
    assert!(harness.state().state.compare.is_none());
    harness.get_by_label(label::COMPARE).click();
    frames(&mut harness, 2);
    assert_eq!(harness.state().state.compare.as_ref().unwrap().columns.len(), 3);
}

/// Whether the matrix says what it should: `gone` missing in production only, every other row
/// the same in both and present (or not needed).
fn as_expected(report: &serde_json::Value, gone: &str) -> bool {
    report["secrets"].as_array().unwrap().iter().all(|row| {
        let states: Vec<&str> = row["states"]
            .as_array()
            .unwrap()
            .iter()
            .map(|c| c["state"].as_str().unwrap())
            .collect();
        if row["name"] == gone {
            states == ["present", "missing"]
        } else {
            states.iter().all(|s| ["present", "not_needed"].contains(s))
                && states.windows(2).all(|w| w[0] == w[1])
        }
    })
}

/// The platform example across two clusters (each playing External Secrets): production lacks
/// one value, so that value's row is missing there only, down to its target Secrets; the CLI
/// and the window say the same.
#[test]
fn the_platform_example_across_two_clusters() {
    let runtime = runtime();
    let dir = tempfile::tempdir().unwrap();
    let spec_path = dir.path().join("platform.yaml");
    std::fs::write(&spec_path, crate::platform::spec_text()).unwrap();
    let spec = greenlight::spec::load(&spec_path).unwrap();
    let clusters = crate::platform::clusters(&runtime, &spec, dir.path(), &["stg", "prd"]);
    let gone = "litellm-db-password";
    clusters.sandboxes[1].server().delete_secret(
        greenlight::sandbox::VALUES_NAMESPACE,
        &greenlight::sandbox::value_secret(gone),
    );
    let kubeconfig = std::env::join_paths(&clusters.kubeconfigs).unwrap();
    let check = |args: &[&str]| {
        let mut all = vec!["check", "--format", "json"];
        all.extend(args);
        all.push(spec_path.to_str().unwrap());
        let mut command = crate::support::hermetic_greenlight(dir.path(), &all);
        command.env("KUBECONFIG", &kubeconfig);
        let out = runtime.block_on(async move { command.output().await }).unwrap();
        let report: serde_json::Value = serde_json::from_slice(&out.stdout)
            .unwrap_or_else(|_| panic!("{}", String::from_utf8_lossy(&out.stderr)));
        (out.status.code(), report)
    };
    // The stand-ins sync every target once the values exist (they retry every 5 s).
    let deadline = std::time::Instant::now() + std::time::Duration::from_secs(60);
    loop {
        let (code, report) = check(&["--env", "stg=k3s-stg", "--env", "prd=k3s-prd"]);
        if as_expected(&report, gone) {
            assert_eq!(code, Some(3), "missing in one environment fails the check");
            break;
        }
        assert!(std::time::Instant::now() < deadline, "{report:#}");
        std::thread::sleep(std::time::Duration::from_millis(500));
    }

    // The window: the same two clusters, the same one cell missing.
    let options = AppOptions {
        spec: Some(spec_path.clone()),
        kubeconfig: Some(clusters.merged.clone()),
        sandbox: None,
    };
    let mut harness = app(&runtime, options);
    settle(&mut harness, |app| app.state.contexts.len() == 2 && app.state.selection.is_some());
    harness.state_mut().dispatch(vec![
        UiAction::ToggleCompare,
        UiAction::SetCompared(Choice::Context("k3s-stg".into()), true),
        UiAction::SetCompared(Choice::Context("k3s-prd".into()), true),
    ]);
    settle(&mut harness, |app| {
        let compare = app.state.compare.as_ref().unwrap();
        compare.columns.len() == 2 && compare.columns.iter().all(|c| c.last_round_at.is_some())
    });
    let app = harness.state();
    assert_eq!(state_of(app, 0, gone), State::Present);
    assert_eq!(state_of(app, 1, gone), State::Missing);
    let columns = &app.state.compare.as_ref().unwrap().columns;
    let differing: Vec<&str> = columns[0]
        .spec
        .entries
        .iter()
        .enumerate()
        .filter(|(i, _)| columns[0].rows[*i].state() != columns[1].rows[*i].state())
        .map(|(_, e)| e.name.as_str())
        .collect();
    assert_eq!(differing, [gone]);
}

/// A spec that declares its environments opens Compare environments on them, each column the
/// spec as it reads there (here, its own namespace) at its own context.
#[test]
fn the_spec_s_own_environments_are_the_first_columns() {
    let runtime = runtime();
    let dir = tempfile::tempdir().unwrap();
    let (servers, kubeconfig) = clusters(&runtime, dir.path());
    let spec = dir.path().join("declared.yaml");
    let declared = SPEC.replace("namespace: app }", "namespace: nowhere }")
        + "environments:\n  stg: { context: stg, namespace: app, description: Staging }\n  prd: { context: prd, namespace: app }\n";
    std::fs::write(&spec, declared).unwrap();
    let options = AppOptions { spec: Some(spec), kubeconfig: Some(kubeconfig), sandbox: None };
    let mut harness = app(&runtime, options);
    settle(&mut harness, |app| app.state.selection.is_some());
    harness.state_mut().dispatch(vec![UiAction::ToggleCompare]);
    settle(&mut harness, |app| {
        let compare = app.state.compare.as_ref().unwrap();
        compare.columns.len() == 2 && compare.columns.iter().all(|c| c.last_round_at.is_some())
    });
    let app = harness.state();
    let compare = app.state.compare.as_ref().unwrap();
    assert!(!compare.picking, "the spec's own environments need no picking");
    let labels: Vec<String> = compare.columns.iter().map(|c| c.choice.label()).collect();
    assert_eq!(labels, ["stg", "prd"]);
    assert_eq!(state_of(app, 0, "db-password"), State::Missing);
    assert_eq!(state_of(app, 1, "db-password"), State::Present);
    assert_eq!(state_of(app, 1, "api-token"), State::Present, "in namespace app, not nowhere");

    // Open production's cell in the checklist: the spec as it reads there, at its context.
    let row = |app: &GreenlightApp, name: &str| app.state.rows[index_of(app, name)].state();
    let db = compare.columns[1].spec.entries.iter().position(|e| e.name == "db-password").unwrap();
    harness.state_mut().dispatch(vec![UiAction::OpenCell(db, 1)]);
    settle(&mut harness, |app| row(app, "db-password") == State::Present);
    let state = &harness.state().state;
    assert!(state.compare.is_none());
    assert_eq!(state.environment.as_deref(), Some("prd"));
    assert_eq!(state.remembered.context.as_deref(), Some("prd"));
    assert_eq!(state.selected, Some(db));
    harness.get_by_label("Environment");
    // A context compared is the spec as written there, whatever the checklist shows.
    harness.state_mut().dispatch(vec![
        UiAction::ToggleCompare,
        UiAction::SetCompared(Choice::Context("stg".into()), true),
    ]);
    settle(&mut harness, |app| {
        let columns = &app.state.compare.as_ref().unwrap().columns;
        columns.len() == 3 && columns[2].last_round_at.is_some()
    });
    assert_ne!(state_of(harness.state(), 2, "api-token"), State::Present, "namespace nowhere");
    harness.state_mut().dispatch(vec![UiAction::ToggleCompare]);
    // Back to the spec as written (namespace `nowhere`): nothing there.
    harness.state_mut().dispatch(vec![UiAction::SetEnvironment(None)]);
    settle(&mut harness, |app| {
        app.state.last_round_at.is_some()
            && app.state.rows.iter().all(|r| r.outcome.is_some())
            && row(app, "api-token") != State::Present
    });
    assert!(harness.state().state.environment.is_none());
    drop(servers);
}
