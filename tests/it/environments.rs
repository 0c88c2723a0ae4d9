//! One spec in several environments side by side (`check --env`), each its own cluster (the
//! project's API server): a secret missing in one environment only, and an environment that
//! does not answer marking only its own column.

use greenlight_apiserver::{ApiServer, Rule};

use crate::support::{hermetic_greenlight, write_spec};

pub(crate) const SPEC: &str = "version: 1
deployment: envs
platforms: [kubernetes]
defaults: { kubernetes: { namespace: app } }
secrets:
  - { name: api-token, description: API token, kubernetes: { keys: [token] } }
  - { name: db-password, description: Database password, kubernetes: { keys: [password] } }
";

/// Each environment's state of secret `name` in a matrix report, as `ENV=STATE`.
fn cells(report: &serde_json::Value, name: &str) -> Vec<String> {
    let row = report["secrets"].as_array().unwrap().iter().find(|r| r["name"] == name).unwrap();
    let states = row["states"].as_array().unwrap().iter();
    states
        .map(|c| format!("{}={}", c["environment"].as_str().unwrap(), c["state"].as_str().unwrap()))
        .collect()
}

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
    assert_eq!(cells(&report, "api-token"), ["stg=present", "prd=present"]);
    assert_eq!(cells(&report, "db-password"), ["stg=missing", "prd=present"]);
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

/// One cluster of the seed-004 layout: External Secrets with a Doppler ClusterSecretStore on
/// this environment's config, the three apps' ExternalSecrets, and the store's token.
async fn doppler_cluster(
    name: &str,
    config: &str,
    dir: &std::path::Path,
) -> (ApiServer, std::path::PathBuf) {
    use crate::support::eso::{cluster_store, external_secret};
    let (server, path) = cluster(name, dir).await;
    server.create_namespace("default");
    server.create_namespace("external-secrets");
    server.install_eso(&["v1beta1", "v1"]);
    server.put_secret(
        "external-secrets",
        "doppler-token-auth",
        &[("dopplerToken", "dp-token-value-81")],
    );
    let provider = serde_json::json!({"doppler": {"project": "k3s-apps", "config": config, "auth": {"secretRef": {"dopplerToken": {"name": "doppler-token-auth", "key": "dopplerToken", "namespace": "external-secrets"}}}}});
    server.put_custom("clustersecretstores", cluster_store("doppler-secret-store", provider));
    let store = ("ClusterSecretStore", "doppler-secret-store");
    let both = [("DATABASE_URL", "DATABASE_URL"), ("JWT_SECRET", "JWT_SECRET")];
    let one = [("DATABASE_URL", "DATABASE_URL")];
    for (secret, data) in [
        ("bookmarked-secrets", &both[..]),
        ("code-talk-secrets", &one[..]),
        ("tenantflow-secrets", &one[..]),
    ] {
        server
            .put_custom("externalsecrets", external_secret("default", secret, store, secret, data));
    }
    (server, path)
}

/// Seed 004: one Doppler project with dev, stg and prd configs, each synced into its own
/// cluster, written as one spec (the bundled example declares the three environments). Staging
/// lacks JWT_SECRET in its config: only staging's column says so, down the chain.
#[expect(
    clippy::too_many_lines,
    reason = "one journey: three clusters, then check, commands and one environment"
)]
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn the_seed_004_layout_is_one_spec_with_an_environment_per_config() {
    use crate::support::backends::{DOPPLER_TOKEN, FakeBackends};
    use crate::support::eso::{EsoStandIn, Sources};
    let fakes = FakeBackends::start().await;
    let dir = tempfile::tempdir().unwrap();
    let mut clusters = Vec::new();
    for (env, config) in [("dev", "dev"), ("stg", "stg"), ("prd", "prd")] {
        let mut values = vec![("DATABASE_URL".to_owned(), format!("postgres://{env}-value-83"))];
        if env != "stg" {
            values.push(("JWT_SECRET".to_owned(), format!("{env}-jwt-value-84")));
        }
        fakes
            .held
            .lock()
            .unwrap()
            .doppler
            .insert(("k3s-apps".into(), config.into()), values.into_iter().collect());
        let (server, path) = doppler_cluster(&format!("k3s-{env}"), config, dir.path()).await;
        let fake_sources = Sources { moto: None, fakes: Some(fakes.held.clone()) };
        let often = std::time::Duration::from_millis(300);
        let eso = EsoStandIn::running(server.handle(), fake_sources, often).await;
        clusters.push((server, path, eso));
    }
    let kubeconfig = std::env::join_paths(clusters.iter().map(|c| &c.1)).unwrap();
    let example =
        std::path::Path::new(env!("CARGO_MANIFEST_DIR")).join("specs/examples/doppler-eso.json");
    let greenlight = |args: &[&str]| {
        let mut command = hermetic_greenlight(dir.path(), args);
        command
            .env("KUBECONFIG", &kubeconfig)
            .env("DOPPLER_TOKEN", DOPPLER_TOKEN)
            .env("DOPPLER_API_HOST", fakes.url());
        command
    };

    // No flags: every environment the spec declares, each at its own context.
    let out = greenlight(&["check", "--format", "json", example.to_str().unwrap()])
        .output()
        .await
        .unwrap();
    let report: serde_json::Value = serde_json::from_slice(&out.stdout)
        .unwrap_or_else(|_| panic!("{}", String::from_utf8_lossy(&out.stderr)));
    assert_eq!(out.status.code(), Some(3), "{report:#}");
    // Staging's bookmarked-secrets stops at JWT_SECRET, so DATABASE_URL waits there too.
    assert_eq!(
        cells(&report, "DATABASE_URL"),
        ["dev=present", "stg=wrong", "prd=present"],
        "{report:#}"
    );
    assert_eq!(
        cells(&report, "JWT_SECRET"),
        ["dev=present", "stg=missing", "prd=present"],
        "{report:#}"
    );
    let contexts: Vec<&str> = report["environments"]
        .as_array()
        .unwrap()
        .iter()
        .map(|e| e["connection"]["context"].as_str().unwrap())
        .collect();
    assert_eq!(contexts, ["k3s-dev", "k3s-stg", "k3s-prd"]);
    let stg = &report["environments"][1];
    let jwt =
        stg["secrets"].as_array().unwrap().iter().find(|r| r["name"] == "JWT_SECRET").unwrap();
    assert!(crate::support::hints(jwt).contains("--config stg"), "staging's own config: {jwt:#}");

    // One environment: its commands name its config.
    let out = greenlight(&[
        "commands",
        "--env",
        "dev",
        "--secret",
        "JWT_SECRET",
        example.to_str().unwrap(),
    ])
    .output()
    .await
    .unwrap();
    let text = String::from_utf8_lossy(&out.stdout).into_owned();
    assert!(text.contains("--config dev") && !text.contains("--config prd"), "{text}");
    let out =
        greenlight(&["check", "--env", "prd", example.to_str().unwrap()]).output().await.unwrap();
    assert_eq!(out.status.code(), Some(0), "{}", String::from_utf8_lossy(&out.stdout));
    // A context given on the command line checks the spec as written there.
    let out = greenlight(&["check", "--context", "k3s-stg", example.to_str().unwrap()])
        .output()
        .await
        .unwrap();
    let text = String::from_utf8_lossy(&out.stdout).into_owned();
    assert_eq!(
        out.status.code(),
        Some(3),
        "the prd config's values, through stg's cluster: {text}"
    );
    // A machine that reaches only dev: the others say how to point them elsewhere.
    let mut command = hermetic_greenlight(dir.path(), &["check", example.to_str().unwrap()]);
    command.env("KUBECONFIG", &clusters[0].1).env("DOPPLER_TOKEN", DOPPLER_TOKEN);
    let out = command.output().await.unwrap();
    let said = String::from_utf8_lossy(&out.stderr).into_owned();
    assert!(
        said.contains("stg: nothing could be checked; the spec reaches it by context `k3s-stg`"),
        "{said}"
    );
    assert!(said.contains("--env prd=CONTEXT") && !said.contains("dev: nothing"), "{said}");
    let seeded: Vec<String> = ["dev", "stg", "prd"]
        .iter()
        .flat_map(|env| [format!("postgres://{env}-value-83"), format!("{env}-jwt-value-84")])
        .chain(["dp-token-value-81".to_owned()])
        .collect();
    for (server, _, _) in &clusters {
        crate::support::assert_value_free(server, &seeded);
    }
}

/// AWS environments are profile and region pairs: one account's two regions, declared in the
/// spec; a secret present in one region only is missing in the other's column alone.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn aws_environments_are_profile_and_region_pairs() {
    let mut moto = crate::support::moto::Moto::start().await;
    let spec = moto.dir.path().join("regions.yaml");
    std::fs::write(
        &spec,
        "version: 1
deployment: regions
platforms: [aws]
defaults: { aws: { service: secrets-manager } }
secrets:
  - { name: api-token, description: API token }
environments:
  east: { profile: moto, region: us-east-1 }
  west: { profile: moto, region: eu-west-1 }
",
    )
    .unwrap();
    let spec = spec.to_str().unwrap();
    moto.seed_secret("us-east-1", "api-token", "region-value-951").await;
    let (code, out, err) = moto.greenlight(&["check", "--format", "json", spec]).await;
    let report: serde_json::Value =
        serde_json::from_str(&out).unwrap_or_else(|_| panic!("{out}\n{err}"));
    assert_eq!(code, Some(3), "{report:#}");
    // West finds east's copy: found elsewhere, and never offered for deletion (it is east's).
    assert_eq!(cells(&report, "api-token"), ["east=present", "west=found_elsewhere"], "{report:#}");
    let west = &report["environments"][1]["secrets"][0];
    let advice = crate::support::hints(west);
    assert!(advice.contains("--region eu-west-1") && !advice.contains("delete-secret"), "{advice}");
    assert_eq!(report["environments"][1]["connection"]["region"], "eu-west-1", "{report:#}");
    // Pointed elsewhere from the command line: west's check in us-east-1.
    let args = ["check", "--env", "west=profile=moto,region=us-east-1", spec];
    let (code, out, _) = moto.greenlight(&args).await;
    assert_eq!(code, Some(0), "{out}");
    moto.assert_value_free();
}
