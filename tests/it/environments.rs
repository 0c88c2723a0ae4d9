//! One spec in several environments side by side (`check --env`), each its own cluster (the
//! project's API server): a secret missing in one environment only, and an environment that
//! does not answer marking only its own column.

use greenlight_apiserver::{ApiServer, Rule};

use crate::support::{hermetic_greenlight, write_spec};

const SPEC: &str = "version: 1
deployment: envs
platforms: [kubernetes]
defaults: { kubernetes: { namespace: app } }
secrets:
  - { name: api-token, description: API token, kubernetes: { keys: [token] } }
  - { name: db-password, description: Database password, kubernetes: { keys: [password] } }
";

async fn cluster(name: &str, dir: &std::path::Path) -> (ApiServer, std::path::PathBuf) {
    let server = ApiServer::start().await.unwrap();
    let token = format!("{name}-token-5521");
    server.add_user(&format!("{name}-operator"), &token, vec![Rule::admin()]);
    server.create_namespace("app");
    let path = dir.join(format!("{name}.kubeconfig"));
    // Each cluster under its own name, as real kubeconfigs merged from several files are.
    let config = server
        .kubeconfig(&[(name, &token)])
        .replace("- name: test\n", &format!("- name: {name}-cluster\n"))
        .replace("cluster: test\n", &format!("cluster: {name}-cluster\n"));
    std::fs::write(&path, config).unwrap();
    (server, path)
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn each_environment_is_its_own_column_and_the_worst_decides() {
    let dir = tempfile::tempdir().unwrap();
    let spec = write_spec(dir.path(), SPEC);
    let (staging, staging_config) = cluster("staging", dir.path()).await;
    let (production, production_config) = cluster("production", dir.path()).await;
    let (gone, gone_config) = cluster("gone", dir.path()).await;
    gone.stop();
    for server in [&staging, &production] {
        server.put_secret("app", "api-token", &[("token", "env-value-801")]);
    }
    production.put_secret("app", "db-password", &[("password", "env-value-802")]);
    let kubeconfig =
        std::env::join_paths([&staging_config, &production_config, &gone_config]).unwrap();
    let run = |extra: &[&str]| {
        let mut args = vec!["check", "--env", "stg=staging", "--env", "prd=production"];
        args.extend(extra);
        args.push(spec.to_str().unwrap());
        let mut command = hermetic_greenlight(dir.path(), &args);
        command.env("KUBECONFIG", &kubeconfig);
        command
    };
    // Staging lacks db-password: the matrix says so, and the check fails as one would.
    let out = run(&["--format", "json"]).output().await.unwrap();
    let report: serde_json::Value = serde_json::from_slice(&out.stdout)
        .unwrap_or_else(|_| panic!("{}", String::from_utf8_lossy(&out.stderr)));
    assert_eq!(out.status.code(), Some(3), "{report:#}");
    let states = |name: &str| -> Vec<(String, String)> {
        let row = report["secrets"].as_array().unwrap().iter().find(|r| r["name"] == name).unwrap();
        row["states"]
            .as_array()
            .unwrap()
            .iter()
            .map(|c| {
                (c["environment"].as_str().unwrap().into(), c["state"].as_str().unwrap().into())
            })
            .collect()
    };
    let pair = |e: &str, s: &str| (e.to_owned(), s.to_owned());
    assert_eq!(states("api-token"), [pair("stg", "present"), pair("prd", "present")]);
    assert_eq!(states("db-password"), [pair("stg", "missing"), pair("prd", "present")]);
    let envs = report["environments"].as_array().unwrap();
    assert_eq!(envs[0]["name"], "stg");
    assert_eq!(envs[0]["connection"]["context"], "staging");
    assert_eq!(envs[1]["ready"], true);
    assert!(envs[1]["checked_at"].as_str().is_some_and(|t| t.starts_with("20")));

    // The vendor's report: the matrix with when each column was checked, then each report.
    let out = run(&["--format", "markdown"]).output().await.unwrap();
    let markdown = String::from_utf8_lossy(&out.stdout).into_owned();
    assert!(markdown.contains("| Secret | stg (checked 20"), "{markdown}");
    let db = markdown.lines().find(|l| l.starts_with("| `db-password` |")).unwrap();
    assert!(db.contains("missing") && db.contains("present"), "{markdown}");
    assert!(markdown.contains("Environment **prd**"), "{markdown}");
    assert!(!markdown.contains("env-value-80"), "names only: {markdown}");

    // An environment that does not answer marks only its own column.
    let out = run(&["--env", "old=gone"]).output().await.unwrap();
    let text = String::from_utf8_lossy(&out.stdout).into_owned();
    assert_eq!(out.status.code(), Some(3), "missing in stg beats could-not-check in old: {text}");
    let db = text.lines().find(|l| l.trim_start().starts_with("db-password")).unwrap();
    assert!(
        db.contains("missing") && db.contains("present") && db.contains("unreachable"),
        "{text}"
    );

    // Only production: ready.
    let mut command = hermetic_greenlight(
        dir.path(),
        &["check", "--env", "prd=production", spec.to_str().unwrap()],
    );
    command.env("KUBECONFIG", &kubeconfig);
    let out = command.output().await.unwrap();
    assert_eq!(out.status.code(), Some(0), "{}", String::from_utf8_lossy(&out.stdout));

    // A mistyped --env says how to write it.
    let mut command =
        hermetic_greenlight(dir.path(), &["check", "--env", "staging", spec.to_str().unwrap()]);
    command.env("KUBECONFIG", &kubeconfig);
    let out = command.output().await.unwrap();
    assert_eq!(out.status.code(), Some(2));
    assert!(String::from_utf8_lossy(&out.stderr).contains("--env NAME=CONTEXT"));
}
