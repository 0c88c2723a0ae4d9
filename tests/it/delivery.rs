//! Delivery chains end to end: values in moto's Secrets Manager, External Secrets (the
//! project's stand-in) syncing them into the test API server, Greenlight watching every hop,
//! and the generated commands run with the real `aws` CLI and `kubectl`. Over 600 lines because
//! each test is a whole chain (backend, store, ExternalSecret, Secret) sharing one setup.

use std::time::Duration;

use greenlight::commands::{self, CommandKind, Shell, Target};
use greenlight::spec::{self, Platform};
use serde_json::Value;

use crate::support::eso::{EsoStandIn, aws_cluster_store, external_secret};
use crate::support::moto::Moto;
use crate::support::{Cluster, Running, hints, is, row, write_spec};

const SPEC: &str = r#"
version: 1
deployment: chain-test
platforms: [kubernetes]
features:
  dns: { description: Public DNS, default: true }
backends:
  aws: { kind: aws-secrets-manager, region: us-east-1, name_prefix: platform/ }
delivery:
  external_secrets:
    store: { kind: ClusterSecretStore, name: secret-store }
values:
  - name: api-token
    description: Cloudflare API token
  - name: signing-key
    description: Signing key
    provided_by: generated
targets:
  - namespaces: [app, dns]
    secret: api-token
    keys: { token: api-token }
    when: dns
  - namespace: app
    secret: app-secrets
    external_secret: app
    keys: { signing: signing-key, token: api-token }
"#;

struct Chain {
    cluster: Cluster,
    moto: Moto,
    spec: std::path::PathBuf,
    _eso: EsoStandIn,
}

/// A cluster with External Secrets serving `versions`, the store and the deployment's
/// ExternalSecrets, and moto behind it. The stand-in re-syncs only when told (a force-sync
/// annotation) or after an hour, as ESO with `refreshInterval: 1h` does.
async fn chain(versions: &[&str]) -> Chain {
    let cluster = Cluster::start().await;
    let moto = Moto::start().await;
    for ns in ["app", "dns"] {
        cluster.server.create_namespace(ns);
    }
    cluster.server.install_eso(versions);
    cluster
        .server
        .put_custom("clustersecretstores", aws_cluster_store("secret-store", "us-east-1"));
    let store = ("ClusterSecretStore", "secret-store");
    for ns in ["app", "dns"] {
        let es = external_secret(
            ns,
            "api-token",
            store,
            "api-token",
            &[("token", "platform/api-token")],
        );
        cluster.server.put_custom("externalsecrets", es);
    }
    let app = external_secret(
        "app",
        "app",
        store,
        "app-secrets",
        &[("signing", "platform/signing-key"), ("token", "platform/api-token")],
    );
    cluster.server.put_custom("externalsecrets", app);
    let eso = EsoStandIn::start(
        cluster.server.handle(),
        moto.endpoint(),
        Duration::from_secs(3600),
        Duration::from_secs(3600),
    );
    if !versions.is_empty() {
        EsoStandIn::settled(&cluster.server.handle()).await;
    }
    let spec = write_spec(cluster.dir.path(), SPEC);
    Chain { cluster, moto, spec, _eso: eso }
}

impl Chain {
    fn command(&self, args: &[&str]) -> tokio::process::Command {
        self.cluster.greenlight_with_aws(&self.moto, args)
    }

    async fn check(&self, extra: &[&str]) -> (Option<i32>, Value) {
        let spec = self.spec.to_str().unwrap();
        let mut args =
            vec!["check", "--context", "test", "--profile", "moto", "--format", "json", spec];
        args.extend(extra);
        let out = tokio::time::timeout(Duration::from_secs(60), self.command(&args).output())
            .await
            .expect("greenlight hung")
            .unwrap();
        let report = serde_json::from_slice(&out.stdout)
            .unwrap_or_else(|_| panic!("not JSON: {}", String::from_utf8_lossy(&out.stderr)));
        (out.status.code(), report)
    }

    fn watch(&self) -> Running {
        let spec = self.spec.to_str().unwrap();
        Running::spawn(self.command(&[
            "watch",
            "--context",
            "test",
            "--profile",
            "moto",
            "--format",
            "json",
            spec,
        ]))
    }

    /// The `kind` command for value `name`, as the operator copies it.
    fn generated(&self, name: &str, kind: CommandKind) -> String {
        let spec = spec::load(&self.spec).unwrap();
        let entry = spec.entries.iter().find(|e| e.name == name).unwrap();
        let target = Target {
            kube_context: Some("test".into()),
            aws_profile: Some("moto".into()),
            ..Target::default()
        };
        commands::for_entry(entry, Platform::Kubernetes, &target, Shell::Posix)
            .unwrap()
            .into_iter()
            .find(|c| c.kind == kind)
            .unwrap()
            .text
    }

    /// Runs a generated command in bash with both the kubeconfig and the AWS profile, `input`
    /// typed at its prompt.
    async fn run(&self, script: &str, input: &str) {
        self.cluster.run_with_aws(&self.moto, script, input).await;
    }
}

fn hop<'a>(row: &'a Value, location: &str) -> &'a Value {
    row["hops"]
        .as_array()
        .unwrap()
        .iter()
        .find(|h| h["location"].as_str().unwrap_or_default().starts_with(location))
        .unwrap_or_else(|| panic!("no hop {location} in {row:#}"))
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn values_created_in_the_backend_turn_every_hop_green() {
    let mut chain = chain(&["v1"]).await;
    let (code, report) = chain.check(&[]).await;
    assert_eq!(code, Some(3), "{report:#}");
    let token = row(&report, "api-token");
    assert_eq!(token["state"], "missing", "{token:#}");
    assert_eq!(hop(token, "Secrets Manager platform/api-token")["state"], "missing");
    assert_eq!(hop(token, "External Secrets Operator")["state"], "ok");
    assert_eq!(hop(token, "ClusterSecretStore secret-store")["state"], "ok");
    let es = hop(token, "ExternalSecret dns/api-token");
    assert_eq!(es["state"], "failing", "{es:#}");
    let words = es["detail"].as_str().unwrap();
    assert!(words.contains("no `platform/api-token`, this value's key"), "{es:#}");
    assert_eq!(hop(token, "Secret dns/api-token")["state"], "waiting");
    let advice = hints(token);
    assert!(advice.contains("aws secretsmanager create-secret"), "{advice}");
    assert!(!advice.contains("create secret generic"), "{advice}");

    let mut watch = chain.watch();
    watch.line_matching(Duration::from_secs(30), is("api-token", "missing")).await;

    // The operator creates the value once, in the backend, with the generated command.
    chain.moto.seeded.push("cf-token-value-8841".to_owned());
    chain.run(&chain.generated("api-token", CommandKind::Create), "cf-token-value-8841\n").await;
    // The value is there; ESO has not looked again yet (refreshInterval 1h), so the row
    // says so and offers the sync.
    let line = watch
        .line_matching(Duration::from_secs(30), |l| {
            l["name"] == "api-token" && l["state"] == "wrong"
        })
        .await;
    assert!(line["detail"].as_str().unwrap().contains("ExternalSecret"), "{line}");
    // The hint's Sync now names the kubeconfig and context in use, as every command does.
    let kubeconfig = chain.cluster.kubeconfig();
    let (_, report) = chain.check(&["--kubeconfig", kubeconfig.to_str().unwrap()]).await;
    let advice = hints(row(&report, "api-token"));
    let sync = format!(
        "kubectl annotate externalsecret api-token --kubeconfig {} --context test",
        kubeconfig.display()
    );
    assert!(advice.contains(&sync), "{advice}");
    chain.run(&chain.generated("api-token", CommandKind::Sync), "").await;
    // The ExternalSecret for app also needs signing-key, so api-token's app hops wait for it:
    // ESO's Warning names signing-key's backend key, and api-token is not blamed.
    let mut waiting = None;
    for _ in 0..50 {
        let (_, report) = chain.check(&[]).await;
        let token = row(&report, "api-token").clone();
        if hop(&token, "ExternalSecret dns/api-token")["state"] == "ok" {
            waiting = Some(token);
            break;
        }
        tokio::time::sleep(Duration::from_millis(200)).await;
    }
    let token = waiting.expect("the dns ExternalSecret never synced");
    let app = hop(&token, "ExternalSecret app/app");
    assert_eq!(app["state"], "waiting", "{app:#}");
    let words = app["detail"].as_str().unwrap();
    assert!(words.contains("value `signing-key`") && words.contains("not the cause"), "{app:#}");
    assert!(!hints(&token).contains("kubectl annotate"), "a sync cannot help: {token:#}");
    chain.run(&chain.generated("signing-key", CommandKind::Create), "").await;
    chain.run(&chain.generated("signing-key", CommandKind::Sync), "").await;
    watch
        .states(Duration::from_secs(30), &[("api-token", "present"), ("signing-key", "present")])
        .await;

    let (code, report) = chain.check(&[]).await;
    assert_eq!(code, Some(0), "{report:#}");
    let token = row(&report, "api-token");
    for h in token["hops"].as_array().unwrap() {
        assert_eq!(h["state"], "ok", "{h:#}");
    }
    // Green claims only what was observed: a key count, not key names; the spec's mapping.
    let secret = hop(token, "Secret dns/api-token")["detail"].as_str().unwrap().to_owned();
    assert!(secret.contains("names not read") && !secret.starts_with("has "), "{secret}");
    let es = hop(token, "ExternalSecret dns/api-token")["detail"].as_str().unwrap().to_owned();
    assert!(es.contains("the spec's, not read from the cluster"), "{es}");
    // What ESO wrote is what the operator typed (read here by the test, never by Greenlight).
    let written = chain.cluster.server.secret("dns", "api-token").unwrap();
    assert_eq!(written["data"]["token"], base64_of("cf-token-value-8841"));
    chain.cluster.seeded.push("cf-token-value-8841".to_owned());
    chain.cluster.assert_value_free();
    chain.moto.assert_value_free();
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_value_created_without_the_name_prefix_is_found() {
    let mut chain = chain(&["v1"]).await;
    // The seed's table lists bare keys; the operator created the value under one.
    chain.moto.seed_secret("us-east-1", "api-token", "cf-token-value-6620").await;
    let (code, report) = chain.check(&[]).await;
    assert_eq!(code, Some(3), "{report:#}");
    let token = row(&report, "api-token");
    assert_eq!(token["state"], "found_elsewhere", "{token:#}");
    let backend = hop(token, "Secrets Manager platform/api-token");
    let words = backend["detail"].as_str().unwrap();
    assert!(
        words.contains("api-token in us-east-1 (without the name_prefix `platform/`)"),
        "{backend:#}"
    );
    let advice = hints(token);
    assert!(advice.contains("External Secrets asks for `platform/api-token`"), "{advice}");
    assert!(advice.contains("aws secretsmanager create-secret"), "{advice}");
    chain.moto.assert_value_free();
    chain.cluster.assert_value_free();
}

fn base64_of(text: &str) -> String {
    use base64::Engine;
    base64::engine::general_purpose::STANDARD.encode(text)
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_hand_made_target_is_not_green_while_external_secrets_fails() {
    let mut chain = chain(&["v1"]).await;
    // Someone made the target by hand; the backend has nothing.
    chain.cluster.seed("dns", "api-token", &[("token", "hand-made-value-1234")]);
    let (code, report) = chain.check(&[]).await;
    assert_eq!(code, Some(3), "{report:#}");
    let token = row(&report, "api-token");
    assert_eq!(token["state"], "missing");
    let secret = hop(token, "Secret dns/api-token");
    assert_eq!(secret["state"], "not_managed", "{secret:#}");
    assert!(secret["detail"].as_str().unwrap().contains("overwrite"), "{secret:#}");
    // With the feature off, the dns target is not needed and its hops are not shown.
    let (_, report) = chain.check(&["--feature", "dns=off"]).await;
    let token = row(&report, "api-token");
    assert!(
        token["hops"]
            .as_array()
            .unwrap()
            .iter()
            .all(|h| !h["location"].as_str().unwrap().contains("dns/"))
    );
    chain.cluster.assert_value_free();
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn only_a_sync_through_the_spec_s_store_counts() {
    let mut chain = chain(&["v1"]).await;
    chain.moto.seed_secret("us-east-1", "platform/api-token", "cf-token-value-6604").await;
    // The dns ExternalSecret reads through another store than the spec names; it syncs.
    let server = &chain.cluster.server;
    server.put_custom("clustersecretstores", aws_cluster_store("other-store", "us-east-1"));
    let es = external_secret(
        "dns",
        "api-token",
        ("ClusterSecretStore", "other-store"),
        "api-token",
        &[("token", "platform/api-token")],
    );
    server.put_custom("externalsecrets", es);
    EsoStandIn::settled(&server.handle()).await;
    let (_, report) = chain.check(&[]).await;
    let token = row(&report, "api-token");
    assert_ne!(token["state"], "present", "{token:#}");
    let dns = hop(token, "ExternalSecret dns/api-token");
    assert_eq!(dns["state"], "failing", "{dns:#}");
    assert!(dns["detail"].as_str().unwrap().contains("other-store"), "{dns:#}");
    chain.moto.assert_value_free();
    chain.cluster.assert_value_free();
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn external_secrets_missing_or_on_another_version_is_its_own_state() {
    let mut chain = chain(&[]).await;
    chain.moto.seed_secret("us-east-1", "platform/api-token", "cf-token-value-5512").await;
    chain.moto.seed_secret("us-east-1", "platform/signing-key", "signing-value-0713").await;
    let (code, report) = chain.check(&[]).await;
    assert_eq!(code, Some(3), "{report:#}");
    let token = row(&report, "api-token");
    assert_eq!(token["state"], "wrong", "{token:#}");
    assert_eq!(hop(token, "Secrets Manager")["state"], "ok");
    let operator = hop(token, "External Secrets Operator");
    assert_eq!(operator["state"], "not_installed");
    assert_eq!(operator["root_cause"], true, "{operator:#}");
    // One cause, told once: both values wait on it, and the report says it at the top.
    for name in ["api-token", "signing-key"] {
        let detail = row(&report, name)["detail"].as_str().unwrap().to_owned();
        assert_eq!(detail, "waits on External Secrets Operator (one cause for 2 values)");
        assert!(row(&report, name)["hints"].as_array().unwrap().is_empty(), "{report:#}");
    }
    let root = &report["root_cause"];
    assert_eq!(root["location"], "External Secrets Operator", "{report:#}");
    assert!(root["detail"].as_str().unwrap().contains("not installed"), "{root:#}");
    let spec = chain.spec.to_str().unwrap();
    let args = ["check", "--context", "test", "--profile", "moto", spec];
    let text = chain.command(&args).output().await.unwrap();
    let text = String::from_utf8_lossy(&text.stdout);
    assert_eq!(text.matches("not installed").count(), 1, "once, at the top: {text}");
    assert!(text.contains("One cause blocks 2 values: External Secrets Operator"), "{text}");

    // Installed, serving v1 only, while the spec says the manifests use v1beta1.
    chain.cluster.server.install_eso(&["v1"]);
    let text = std::fs::read_to_string(&chain.spec).unwrap().replace(
        "store: { kind: ClusterSecretStore, name: secret-store }",
        "store: { kind: ClusterSecretStore, name: secret-store }\n    api_version: external-secrets.io/v1beta1",
    );
    std::fs::write(&chain.spec, text).unwrap();
    let (_, report) = chain.check(&[]).await;
    let operator = hop(row(&report, "api-token"), "External Secrets Operator").clone();
    assert_eq!(operator["state"], "version_not_served", "{operator:#}");
    assert!(
        operator["detail"].as_str().unwrap().contains("external-secrets.io/v1"),
        "{operator:#}"
    );
    chain.moto.assert_value_free();
    chain.cluster.assert_value_free();
}

/// A spec whose one value `name` lives in `backend`, delivered through ClusterSecretStore
/// `store` into Secret `app/<target>`.
fn one_backend_spec(backend: &str, store: &str, name: &str, target: &str) -> String {
    format!(
        r#"
version: 1
deployment: {store}
platforms: [kubernetes]
backends:
  b: {backend}
delivery:
  external_secrets:
    store: {{ kind: ClusterSecretStore, name: {store} }}
values:
  - {{ name: {name}, description: A value }}
targets:
  - {{ namespace: app, secret: {target}, keys: {{ value: {name} }} }}
"#
    )
}

#[expect(
    clippy::too_many_lines,
    reason = "one journey through three backends sharing one cluster and one set of fakes"
)]
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn secret_manager_doppler_and_vault_are_asked_by_metadata_and_names_only() {
    use crate::support::backends::{DOPPLER_TOKEN, FakeBackends, VAULT_TOKEN};
    use crate::support::eso::{Sources, cluster_store};

    let fakes = FakeBackends::start().await;
    let mut cluster = Cluster::start().await;
    cluster.server.create_namespace("app");
    cluster.server.install_eso(&["v1"]);
    let stores = [
        (
            "gcp-store",
            serde_json::json!({"gcpsm": {"projectID": "acme-prod-1"}}),
            "api-key",
            "gcp-target",
        ),
        (
            "doppler-store",
            serde_json::json!({"doppler": {"project": "apps", "config": "prd"}}),
            "DATABASE_URL",
            "doppler-target",
        ),
        (
            "vault-store",
            serde_json::json!({"vault": {"path": "kv"}}),
            "platform/db",
            "vault-target",
        ),
    ];
    for (store, provider, key, target) in &stores {
        cluster.server.put_custom("clustersecretstores", cluster_store(store, provider.clone()));
        let es = external_secret(
            "app",
            target,
            ("ClusterSecretStore", store),
            target,
            &[("value", key)],
        );
        cluster.server.put_custom("externalsecrets", es);
    }
    let fake_sources = Sources { moto: None, fakes: Some(fakes.held.clone()) };
    let often = Duration::from_millis(300);
    let _eso = EsoStandIn::running(cluster.server.handle(), fake_sources, often).await;
    let dir = cluster.dir.path().to_owned();
    let key = dir.join("sa.json");
    std::fs::write(&key, fakes.service_account_key("acme-prod-1")).unwrap();
    let specs = [
        (
            "gcp",
            one_backend_spec(
                "{ kind: gcp-secret-manager, project: acme-prod-1 }",
                "gcp-store",
                "api-key",
                "gcp-target",
            ),
        ),
        (
            "doppler",
            one_backend_spec(
                "{ kind: doppler, project: apps, config: prd }",
                "doppler-store",
                "DATABASE_URL",
                "doppler-target",
            ),
        ),
        (
            "vault",
            one_backend_spec(
                "{ kind: vault-kv, mount: kv, name_prefix: platform/ }",
                "vault-store",
                "db",
                "vault-target",
            ),
        ),
    ];
    let check = |spec: &str| {
        let path = dir.join(format!("{spec}.yaml"));
        let mut command = cluster.greenlight_command(&[
            "check",
            "--context",
            "test",
            "--format",
            "json",
            path.to_str().unwrap(),
        ]);
        command
            .env("GOOGLE_APPLICATION_CREDENTIALS", &key)
            .env("CLOUDSDK_API_ENDPOINT_OVERRIDES_SECRETMANAGER", format!("{}/", fakes.url()))
            .env("DOPPLER_TOKEN", DOPPLER_TOKEN)
            .env("DOPPLER_API_HOST", fakes.url())
            .env("VAULT_ADDR", fakes.url())
            .env("VAULT_TOKEN", VAULT_TOKEN);
        async move {
            let out = command.output().await.unwrap();
            let report: Value = serde_json::from_slice(&out.stdout)
                .unwrap_or_else(|_| panic!("not JSON: {}", String::from_utf8_lossy(&out.stderr)));
            (out.status.code(), report)
        }
    };
    for (name, text) in &specs {
        std::fs::write(dir.join(format!("{name}.yaml")), text).unwrap();
    }

    // Refused logins: each backend says how to log in again.
    fakes.held.lock().unwrap().refuse = true;
    // A refused DOPPLER_TOKEN is fixed in the variable, which wins over `doppler login`.
    for (name, login) in
        [("gcp", "gcloud auth application-default login"), ("doppler", "unset DOPPLER_TOKEN")]
    {
        let (_, report) = check(name).await;
        let value = &report["secrets"][0];
        assert_eq!(value["state"], "unreachable", "{value:#}");
        assert!(hints(value).contains(login), "{value:#}");
    }
    let (_, report) = check("vault").await;
    assert_eq!(report["secrets"][0]["state"], "forbidden", "{report:#}");
    fakes.held.lock().unwrap().refuse = false;

    // Nothing there yet: missing, with the backend's create command; a near miss is named.
    fakes.held.lock().unwrap().doppler.insert(
        ("apps".into(), "prd".into()),
        [("DATABASE_URI".to_owned(), "postgres://typo-value-1".to_owned())].into(),
    );
    let mut seeded = vec!["postgres://typo-value-1".to_owned()];
    for (name, create) in [
        ("gcp", "gcloud secrets create api-key"),
        ("doppler", "doppler secrets set DATABASE_URL"),
        ("vault", "vault kv put -mount=kv platform/db"),
    ] {
        let (code, report) = check(name).await;
        assert_eq!(code, Some(3), "{report:#}");
        let value = &report["secrets"][0];
        assert_eq!(value["state"], "missing", "{value:#}");
        assert!(hints(value).contains(create), "{value:#}");
    }
    let (_, report) = check("doppler").await;
    assert!(hints(&report["secrets"][0]).contains("DATABASE_URI"), "{report:#}");
    // Secret Manager: a near miss (from the names list, never payloads), and a secret that
    // exists without a version is not "missing".
    fakes.held.lock().unwrap().gcp.insert(
        ("acme-prod-1".into(), "api_key".into()),
        ("gcp-typo-value-11".into(), "ENABLED".into()),
    );
    seeded.push("gcp-typo-value-11".to_owned());
    let (_, report) = check("gcp").await;
    assert!(hints(&report["secrets"][0]).contains("`api_key`"), "{report:#}");
    fakes.held.lock().unwrap().gcp.remove(&("acme-prod-1".to_owned(), "api_key".to_owned()));
    fakes
        .held
        .lock()
        .unwrap()
        .gcp
        .insert(("acme-prod-1".into(), "api-key".into()), (String::new(), "NO_VERSION".into()));
    let (_, report) = check("gcp").await;
    let value = &report["secrets"][0];
    assert_eq!(value["state"], "wrong", "{value:#}");
    assert!(value["detail"].as_str().unwrap().contains("has no version"), "{value:#}");
    fakes.held.lock().unwrap().gcp.remove(&("acme-prod-1".to_owned(), "api-key".to_owned()));

    // The operator creates each value (here straight into the fakes, as the CLIs would);
    // External Secrets syncs within its refresh interval and every chain turns green.
    {
        let mut held = fakes.held.lock().unwrap();
        held.gcp.insert(
            ("acme-prod-1".into(), "api-key".into()),
            ("gcp-value-77123".into(), "ENABLED".into()),
        );
        held.doppler
            .get_mut(&("apps".into(), "prd".into()))
            .unwrap()
            .insert("DATABASE_URL".into(), "postgres://value-77124".into());
        held.vault.insert(
            ("kv".into(), "platform/db".into()),
            [("value".to_owned(), "vault-value-77125".to_owned())].into(),
        );
    }
    seeded.extend(
        ["gcp-value-77123", "postgres://value-77124", "vault-value-77125"].map(String::from),
    );
    for (name, _) in &specs {
        let mut last = Value::Null;
        for _ in 0..40 {
            let (code, report) = check(name).await;
            if code == Some(0) {
                last = Value::Null;
                break;
            }
            last = report;
            tokio::time::sleep(Duration::from_millis(250)).await;
        }
        assert!(last.is_null(), "{name} never turned green: {last:#}");
    }

    // A disabled latest version is not a usable value.
    fakes.held.lock().unwrap().gcp.insert(
        ("acme-prod-1".into(), "api-key".into()),
        ("gcp-value-77123".into(), "DISABLED".into()),
    );
    let (_, report) = check("gcp").await;
    let value = &report["secrets"][0];
    assert_eq!(hop(value, "Secret Manager")["state"], "failing", "{value:#}");

    // The backend refuses this machine's login, but the cluster synced: proven by the sync.
    fakes.held.lock().unwrap().refuse = true;
    let (code, report) = check("doppler").await;
    assert_eq!(code, Some(0), "{report:#}");
    let backend = hop(&report["secrets"][0], "Doppler");
    assert!(backend["detail"].as_str().unwrap().contains("which proves it exists"), "{backend:#}");

    fakes.assert_value_free();
    cluster.seeded.extend(seeded);
    cluster.assert_value_free();
    let calls = fakes.calls();
    for call in &calls {
        for value in &cluster.seeded {
            assert!(!call.body.contains(value.as_str()), "a value was sent to a backend: {call:?}");
        }
    }
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_value_synced_from_elsewhere_is_never_offered_a_second_copy() {
    let mut chain = chain(&["v1"]).await;
    // The store reads us-east-1; the spec (so Greenlight) looks in eu-west-1.
    let text = std::fs::read_to_string(&chain.spec).unwrap().replace("us-east-1", "eu-west-1");
    std::fs::write(&chain.spec, text).unwrap();
    chain.moto.seed_secret("us-east-1", "platform/api-token", "cf-token-value-9931").await;
    chain.moto.seed_secret("us-east-1", "platform/signing-key", "signing-value-9932").await;
    chain.run(&chain.generated("api-token", CommandKind::Sync), "").await;
    let mut last = Value::Null;
    for _ in 0..40 {
        let (_, report) = chain.check(&[]).await;
        let token = row(&report, "api-token");
        if hop(token, "ExternalSecret dns/api-token")["state"] == "ok" {
            last = token.clone();
            break;
        }
        tokio::time::sleep(Duration::from_millis(100)).await;
    }
    assert!(!last.is_null(), "the ExternalSecret never synced");
    assert_ne!(last["state"], "present", "{last:#}");
    assert_ne!(last["state"], "missing", "{last:#}");
    let backend = hop(&last, "Secrets Manager");
    assert_ne!(backend["state"], "ok", "{backend:#}");
    assert!(!hints(&last).contains("create-secret"), "a second copy was offered: {last:#}");
    chain.moto.assert_value_free();
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn an_older_external_secrets_serving_only_v1beta1_is_read_in_v1beta1() {
    let chain = chain(&["v1beta1"]).await;
    let (_, report) = chain.check(&[]).await;
    let token = row(&report, "api-token");
    let operator = hop(token, "External Secrets Operator");
    assert_eq!(operator["state"], "ok", "{operator:#}");
    assert!(operator["detail"].as_str().unwrap().contains("v1beta1"), "{operator:#}");
    // Its ExternalSecrets were read (they say why they fail), not unreachable.
    assert_eq!(hop(token, "ExternalSecret dns/api-token")["state"], "failing", "{token:#}");
    let records = chain.cluster.server.records();
    assert!(
        records.iter().any(|r| r.path.starts_with("/apis/external-secrets.io/v1beta1/")),
        "nothing was read in v1beta1"
    );
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn an_external_secret_that_starts_failing_shows_at_once() {
    let mut chain = chain(&["v1"]).await;
    // Something else stays missing, so `watch` keeps running.
    let mut text = std::fs::read_to_string(&chain.spec).unwrap();
    text.push_str("secrets:\n  - { name: never-created, description: Kept missing, kubernetes: { namespace: app, keys: [k] } }\n");
    std::fs::write(&chain.spec, text).unwrap();
    chain.moto.seed_secret("us-east-1", "platform/api-token", "cf-token-value-4471").await;
    chain.moto.seed_secret("us-east-1", "platform/signing-key", "signing-value-4472").await;
    chain.run(&chain.generated("api-token", CommandKind::Sync), "").await;
    let mut watch = chain.watch();
    watch.line_matching(Duration::from_secs(30), is("api-token", "present")).await;
    // Green chains are re-read every 30 s; the ExternalSecret watch must not wait for that.
    tokio::time::sleep(Duration::from_secs(3)).await;
    let server = chain.cluster.server.handle();
    server.record_event(
        "dns",
        "ExternalSecret",
        "api-token",
        "Warning",
        "UpdateFailed",
        "error processing spec.data[0] (key: platform/api-token), err: Secret does not exist",
    );
    server.set_status(
        "externalsecrets",
        "dns",
        "api-token",
        serde_json::json!({"conditions": [{"type": "Ready", "status": "False", "reason": "SecretSyncedError", "message": "could not get secret data from provider"}]}),
    );
    let line = watch
        .line_matching(Duration::from_secs(10), |l| {
            l["name"] == "api-token" && l["state"] == "wrong"
        })
        .await;
    assert!(line["detail"].as_str().unwrap().contains("ExternalSecret dns/api-token"), "{line}");
    // ExternalSecrets are watched like Secrets: Table rows, no objects.
    let watched = chain.cluster.server.records().into_iter().any(|r| {
        r.user_agent.starts_with("greenlight/")
            && r.path == "/apis/external-secrets.io/v1/namespaces/dns/externalsecrets"
            && r.param("watch").as_deref() == Some("1")
            && r.param("includeObject").as_deref() == Some("None")
    });
    assert!(watched, "no ExternalSecret watch was opened");
    chain.cluster.assert_value_free();
}

#[expect(
    clippy::too_many_lines,
    reason = "a table of awkward answers, each checked against the same round"
)]
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn awkward_answers_never_read_missing_and_kv1_is_asked_by_listing() {
    use crate::support::backends::{Awkward, DOPPLER_TOKEN, FakeBackends, VAULT_TOKEN};

    let fakes = FakeBackends::start().await;
    let cluster = Cluster::start().await;
    let dir = cluster.dir.path().to_owned();
    let key = dir.join("sa.json");
    std::fs::write(&key, fakes.service_account_key("acme-prod-1")).unwrap();
    let specs = [
        ("gcp", "{ kind: gcp-secret-manager, project: acme-prod-1 }", "api-key"),
        ("doppler", "{ kind: doppler, project: apps, config: prd }", "DATABASE_URL"),
        ("vault", "{ kind: vault-kv, mount: kv, name_prefix: platform/ }", "db"),
        ("vault1", "{ kind: vault-kv, mount: kv1, name_prefix: platform/ }", "db"),
    ];
    for (name, backend, value) in specs {
        let text = one_backend_spec(backend, &format!("{name}-store"), value, "target");
        std::fs::write(dir.join(format!("{name}.yaml")), text).unwrap();
    }
    let check = |spec: &str| {
        let path = dir.join(format!("{spec}.yaml"));
        let mut command = cluster.greenlight_command(&[
            "check",
            "--context",
            "test",
            "--format",
            "json",
            path.to_str().unwrap(),
        ]);
        command
            .env("GOOGLE_APPLICATION_CREDENTIALS", &key)
            .env("CLOUDSDK_API_ENDPOINT_OVERRIDES_SECRETMANAGER", format!("{}/", fakes.url()))
            .env("DOPPLER_TOKEN", DOPPLER_TOKEN)
            .env("DOPPLER_API_HOST", fakes.url())
            .env("VAULT_ADDR", fakes.url())
            .env("VAULT_TOKEN", VAULT_TOKEN);
        async move {
            let out = command.output().await.unwrap();
            let report: Value = serde_json::from_slice(&out.stdout)
                .unwrap_or_else(|_| panic!("not JSON: {}", String::from_utf8_lossy(&out.stderr)));
            report["secrets"][0].clone()
        }
    };
    let force = |prefix: &str, answer: Awkward| {
        let mut held = fakes.held.lock().unwrap();
        held.awkward.clear();
        held.awkward.push((prefix.to_owned(), answer));
    };
    fakes.held.lock().unwrap().vault_v1.insert("kv1".into());

    // Secret Manager: `latest` is not found, and the secret itself cannot be asked cleanly.
    let secret = "/v1/projects/acme-prod-1/secrets/api-key";
    for awkward in [
        Awkward::json(
            403,
            serde_json::json!({"error": {"code": 403, "status": "PERMISSION_DENIED"}}),
        ),
        Awkward::json(
            429,
            serde_json::json!({"error": {"code": 429, "status": "RESOURCE_EXHAUSTED"}}),
        ),
        Awkward::html(503),
        Awkward::html(404),
    ] {
        // Only the secret's own path: `versions/latest` still answers NOT_FOUND.
        let value = check_secret_only(&fakes, secret, awkward.clone(), || check("gcp")).await;
        assert_ne!(value["state"], "missing", "{awkward:?}: {value:#}");
    }
    // Doppler: a 200 without names, a 404 (no such config, or not visible), an HTML page.
    let names = "/v3/configs/config/secrets/names";
    for awkward in [
        Awkward::json(200, serde_json::json!({"success": true})),
        Awkward::json(
            404,
            serde_json::json!({"messages": ["Could not find requested config"], "success": false}),
        ),
        Awkward::html(404),
        Awkward::json(429, serde_json::json!({"messages": ["slow down"]})),
    ] {
        force(names, awkward.clone());
        let value = check("doppler").await;
        assert_eq!(value["state"], "unreachable", "{awkward:?}: {value:#}");
    }
    // Vault: a proxy's HTML 404, a sealed Vault, an answer without metadata.
    for awkward in [
        Awkward::html(404),
        Awkward::json(503, serde_json::json!({"errors": ["Vault is sealed"]})),
        Awkward::json(200, serde_json::json!({"data": {}})),
        Awkward::json(
            404,
            serde_json::json!({"errors": ["no handler for route \"kv/metadata/platform/db\""]}),
        ),
    ] {
        force("/v1/kv/metadata", awkward.clone());
        let value = check("vault").await;
        assert_ne!(value["state"], "missing", "{awkward:?}: {value:#}");
        assert_ne!(value["state"], "present", "{awkward:?}: {value:#}");
    }
    fakes.held.lock().unwrap().awkward.clear();
    fakes.held.lock().unwrap().doppler.insert(("apps".into(), "prd".into()), Default::default());
    // The clean answers still say missing.
    for name in ["gcp", "doppler", "vault", "vault1"] {
        assert_eq!(check(name).await["state"], "missing", "{name}");
    }
    // KV version 1: found by listing its folder, never by reading it.
    fakes.held.lock().unwrap().vault.insert(
        ("kv1".into(), "platform/db".into()),
        [("value".to_owned(), "kv1-value-55501".to_owned())].into(),
    );
    let value = check("vault1").await;
    assert_ne!(value["state"], "missing", "{value:#}");
    assert_eq!(value["hops"][0]["state"], "ok", "{value:#}");
    fakes.assert_value_free();
    cluster.assert_value_free();
}

/// Runs `check` while the project's secrets list is refused and only the secret's own path
/// (`secret`, not `secret/versions/...`) gives `answer`.
async fn check_secret_only<F, Fut>(
    fakes: &crate::support::backends::FakeBackends,
    secret: &str,
    answer: crate::support::backends::Awkward,
    check: F,
) -> Value
where
    F: FnOnce() -> Fut,
    Fut: std::future::Future<Output = Value>,
{
    // The project's list may not be read, so the secret is asked for by itself.
    let list = secret.rsplit_once('/').unwrap().0.to_owned();
    let refused = crate::support::backends::Awkward::json(
        403,
        serde_json::json!({"error": {"code": 403, "status": "PERMISSION_DENIED"}}),
    );
    fakes.held.lock().unwrap().awkward_exact = vec![(list, refused), (secret.to_owned(), answer)];
    let value = check().await;
    fakes.held.lock().unwrap().awkward_exact.clear();
    value
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_value_whose_backend_stops_answering_goes_stale_and_is_not_ready() {
    let mut cluster = Cluster::start().await;
    for ns in ["source", "app"] {
        cluster.server.create_namespace(ns);
    }
    cluster.seed("source", "lonely", &[("value", "lonely-value-19283")]);
    cluster.seed("app", "plain", &[("k", "plain-value-20311")]);
    let spec = write_spec(
        cluster.dir.path(),
        "version: 1\ndeployment: stale\nplatforms: [kubernetes]\nbackends:\n  src: { kind: kubernetes, namespace: source }\ndelivery: { external_secrets: { store: { kind: ClusterSecretStore, name: s } } }\nvalues:\n  - { name: lonely, description: A value no Secret is made from yet }\nsecrets:\n  - { name: plain, description: A plain one, kubernetes: { namespace: app, keys: [k] } }\n  - { name: absent, description: Keeps the watch going, kubernetes: { namespace: app, keys: [k] } }\n",
    );
    let spec = spec.to_str().unwrap();
    let mut watch =
        cluster.spawn_greenlight(&["watch", "--context", "test", "--format", "json", spec]);
    watch.states(Duration::from_secs(30), &[("lonely", "present"), ("plain", "present")]).await;
    // The cluster (the value's backend) stops answering: both rows keep their last known
    // state, marked stale, and neither counts as present.
    cluster.server.stop();
    let stale = |name: &'static str| -> Box<dyn Fn(&Value) -> bool> {
        Box::new(move |l: &Value| {
            l["name"] == name && l["state"] == "present" && !l["stale"].is_null()
        })
    };
    watch.lines_matching_all(Duration::from_secs(60), vec![stale("plain"), stale("lonely")]).await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn one_names_list_serves_a_whole_doppler_config() {
    use crate::support::backends::{DOPPLER_TOKEN, FakeBackends};

    let fakes = FakeBackends::start().await;
    let cluster = Cluster::start().await;
    fakes.held.lock().unwrap().doppler.insert(("apps".into(), "prd".into()), Default::default());
    let mut text = String::from(
        "version: 1\ndeployment: many\nplatforms: [kubernetes]\nbackends:\n  d: { kind: doppler, project: apps, config: prd }\ndelivery: { external_secrets: { store: { kind: ClusterSecretStore, name: s } } }\nvalues:\n",
    );
    for n in 0..20 {
        text.push_str(&format!("  - {{ name: VALUE_{n}, description: One of many }}\n"));
    }
    let spec = write_spec(cluster.dir.path(), &text);
    let mut command =
        cluster.greenlight_command(&["check", "--context", "test", spec.to_str().unwrap()]);
    command.env("DOPPLER_TOKEN", DOPPLER_TOKEN).env("DOPPLER_API_HOST", fakes.url());
    let out = command.output().await.unwrap();
    assert_eq!(out.status.code(), Some(3), "{}", String::from_utf8_lossy(&out.stdout));
    let lists = fakes.calls().iter().filter(|c| c.path.ends_with("/names")).count();
    assert_eq!(lists, 1, "twenty values of one config, one names list");
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn only_the_spec_s_external_secrets_wake_a_round() {
    let mut cluster = Cluster::start().await;
    for ns in ["source", "app"] {
        cluster.server.create_namespace(ns);
    }
    cluster.server.install_eso(&["v1"]);
    let provider = serde_json::json!({"kubernetes": {"remoteNamespace": "source"}});
    cluster
        .server
        .put_custom("clustersecretstores", crate::support::eso::cluster_store("store", provider));
    let store = ("ClusterSecretStore", "store");
    cluster.server.put_custom(
        "externalsecrets",
        external_secret("app", "mine", store, "mine", &[("k", "token")]),
    );
    cluster.server.put_custom(
        "externalsecrets",
        external_secret("app", "theirs", store, "theirs", &[("k", "token")]),
    );
    cluster.seed("source", "token", &[("value", "source-value-70011")]);
    let hour = Duration::from_secs(3600);
    let _eso =
        EsoStandIn::running(cluster.server.handle(), crate::support::eso::Sources::default(), hour)
            .await;
    let spec = write_spec(
        cluster.dir.path(),
        "version: 1\ndeployment: wake\nplatforms: [kubernetes]\nbackends: { src: { kind: kubernetes, namespace: source } }\ndelivery: { external_secrets: { store: { kind: ClusterSecretStore, name: store } } }\nvalues:\n  - { name: token, description: Delivered }\ntargets:\n  - { namespace: app, secret: mine, keys: { k: token } }\nsecrets:\n  - { name: absent, description: Keeps the watch going, kubernetes: { namespace: app, keys: [k] } }\n",
    );
    let mut watch = cluster.spawn_greenlight(&[
        "watch",
        "--context",
        "test",
        "--format",
        "json",
        spec.to_str().unwrap(),
    ]);
    watch.line_matching(Duration::from_secs(30), is("token", "present")).await;
    tokio::time::sleep(Duration::from_secs(3)).await;
    let reads = |server: &crate::support::apiserver::ApiServer| {
        server.records().iter().filter(|r| r.path.ends_with("/externalsecrets/mine")).count()
    };
    let before = reads(&cluster.server);
    // Someone else's ExternalSecret changes again and again: no round reads ours.
    for n in 0..5 {
        cluster.server.handle().set_status(
            "externalsecrets",
            "app",
            "theirs",
            serde_json::json!({"refreshTime": format!("2026-01-01T00:00:0{n}Z"), "conditions": [{"type": "Ready", "status": "True", "reason": "SecretSynced"}]}),
        );
        tokio::time::sleep(Duration::from_millis(200)).await;
    }
    assert_eq!(reads(&cluster.server), before, "another ExternalSecret woke a round");
    // Ours changing does.
    cluster.server.handle().set_status(
        "externalsecrets",
        "app",
        "mine",
        serde_json::json!({"conditions": [{"type": "Ready", "status": "False", "reason": "SecretSyncedError"}]}),
    );
    watch
        .line_matching(Duration::from_secs(10), |l| l["name"] == "token" && l["state"] != "present")
        .await;
}

#[expect(
    clippy::too_many_lines,
    reason = "one journey: create, awkward answers, sync through the ESO stand-in"
)]
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn azure_key_vault_values_are_asked_by_names_and_versions_only() {
    use crate::support::backends::{
        AZURE_CLIENT_ID, AZURE_CLIENT_SECRET, AZURE_TENANT_ID, AzureVersion, FakeBackends,
    };
    use crate::support::eso::{Sources, cluster_store};

    let fakes = FakeBackends::start().await;
    let mut cluster = Cluster::start().await;
    cluster.server.create_namespace("app");
    cluster.server.install_eso(&["v1"]);
    let provider =
        serde_json::json!({"azurekv": {"vaultUrl": fakes.url(), "tenantId": AZURE_TENANT_ID}});
    cluster.server.put_custom("clustersecretstores", cluster_store("kv-store", provider));
    let es = external_secret(
        "app",
        "db",
        ("ClusterSecretStore", "kv-store"),
        "db",
        &[("password", "db-password")],
    );
    cluster.server.put_custom("externalsecrets", es);
    let fake_sources = Sources { moto: None, fakes: Some(fakes.held.clone()) };
    let often = Duration::from_millis(300);
    let _eso = EsoStandIn::running(cluster.server.handle(), fake_sources, often).await;
    let backend = format!("{{ kind: azure-key-vault, vault_url: \"{}\" }}", fakes.url());
    let spec = write_spec(
        cluster.dir.path(),
        &one_backend_spec(&backend, "kv-store", "db-password", "db"),
    );
    let spec = spec.to_str().unwrap().to_owned();
    let check = |secret: &str| {
        let mut command =
            cluster.greenlight_command(&["check", "--context", "test", "--format", "json", &spec]);
        command
            .env("AZURE_CLIENT_ID", AZURE_CLIENT_ID)
            .env("AZURE_CLIENT_SECRET", secret)
            .env("AZURE_TENANT_ID", AZURE_TENANT_ID)
            .env("AZURE_AUTHORITY_HOST", fakes.url());
        async move {
            let out = command.output().await.unwrap();
            let report: Value = serde_json::from_slice(&out.stdout)
                .unwrap_or_else(|_| panic!("not JSON: {}", String::from_utf8_lossy(&out.stderr)));
            (out.status.code(), report["secrets"][0].clone())
        }
    };

    // A refused service principal: the environment wins over `az login`, and says so.
    let (_, value) = check("not-the-secret").await;
    assert_eq!(value["state"], "unreachable", "{value:#}");
    assert!(hints(&value).contains("AZURE_CLIENT_ID"), "{value:#}");

    // Nothing there: missing, with the az command that sets it from a hidden prompt.
    fakes
        .held
        .lock()
        .unwrap()
        .azure
        .insert("db-pasword".into(), vec![AzureVersion::new("typo-value-99120")]);
    let (code, value) = check(AZURE_CLIENT_SECRET).await;
    assert_eq!(code, Some(3), "{value:#}");
    assert_eq!(value["state"], "missing", "{value:#}");
    let advice = hints(&value);
    assert!(
        advice.contains(
            "az keyvault secret set --vault-name=127 --name=db-password --file=/dev/stdin"
        ),
        "{advice}"
    );
    assert!(advice.contains("--output=none"), "{advice}");
    assert!(advice.contains("db-pasword"), "a near miss is named: {advice}");

    // A disabled latest version is wrong; an enabled one, synced by External Secrets, is green.
    fakes.held.lock().unwrap().azure.insert(
        "db-password".into(),
        vec![AzureVersion { enabled: false, ..AzureVersion::new("disabled-value-99121") }],
    );
    let (_, value) = check(AZURE_CLIENT_SECRET).await;
    assert_eq!(value["state"], "wrong", "{value:#}");
    assert!(value["detail"].as_str().unwrap().contains("disabled"), "{value:#}");
    fakes
        .held
        .lock()
        .unwrap()
        .azure
        .get_mut("db-password")
        .unwrap()
        .push(AzureVersion::new("azure-value-99122"));
    let mut last = Value::Null;
    for _ in 0..40 {
        let (code, value) = check(AZURE_CLIENT_SECRET).await;
        if code == Some(0) {
            last = Value::Null;
            break;
        }
        last = value;
        tokio::time::sleep(Duration::from_millis(250)).await;
    }
    assert!(last.is_null(), "never green: {last:#}");
    cluster.seeded.extend(
        ["typo-value-99120", "disabled-value-99121", "azure-value-99122"].map(String::from),
    );
    fakes.assert_value_free();
    cluster.assert_value_free();
}
