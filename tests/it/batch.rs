//! One paste per step, run as the operator runs it: every generated value of a backend with
//! the real `aws` CLI against moto, every generated plain Secret of a namespace with the real
//! `kubectl`, and Sync now for every ExternalSecret through the External Secrets stand-in.

use std::time::Duration;

use greenlight::commands::{self, BatchKind, Shell, Target};
use greenlight::spec::{self, Platform};

use crate::support::eso::{EsoStandIn, Sources, aws_cluster_store, external_secret};
use crate::support::moto::Moto;
use crate::support::{Cluster, row, write_spec};

fn target() -> Target {
    Target {
        kube_context: Some("test".into()),
        aws_profile: Some("moto".into()),
        ..Target::default()
    }
}

/// The batch of `kind` for the spec at `path`, as the operator copies it.
fn batch(path: &std::path::Path, kind: &BatchKind) -> String {
    let spec = spec::load(path).unwrap();
    let all = commands::batches(&spec, Platform::Kubernetes, None);
    let batch =
        all.iter().find(|b| b.kind == *kind).unwrap_or_else(|| panic!("no {kind:?} in {all:?}"));
    commands::render_batch(batch, &spec, Platform::Kubernetes, &target(), Shell::Posix, None)
        .unwrap()
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn one_paste_creates_every_generated_secret_of_a_namespace() {
    let cluster = Cluster::start().await;
    cluster.server.create_namespace("acme");
    let spec = write_spec(
        cluster.dir.path(),
        "version: 1\ndeployment: batch\nplatforms: [kubernetes]\ndefaults: { kubernetes: { namespace: acme } }\nsecrets:\n  - { name: session-key, description: Session key, provided_by: generated, kubernetes: { keys: [key] } }\n  - { name: cookie-secret, description: Cookie secret, provided_by: generated, generate: { bytes: 16, encoding: hex }, kubernetes: { keys: [secret] } }\n  - { name: api-token, description: Typed by the operator, kubernetes: { keys: [token] } }\n",
    );
    let script = batch(&spec, &BatchKind::Namespace("acme".into()));
    assert!(!script.contains("api-token"), "only the generated ones: {script}");
    let (ok, stdout, stderr) = cluster.shell("bash", &script, "").await;
    assert!(ok, "{script}\n{stderr}");
    for (name, key) in [("session-key", "key"), ("cookie-secret", "secret")] {
        let made =
            cluster.server.secret("acme", name).unwrap_or_else(|| panic!("{name}: {stderr}"));
        let value = made["data"][key].as_str().unwrap();
        assert!(!value.is_empty(), "{made:#}");
        // Made in the pipeline, never shown.
        assert!(!stdout.contains(value) && !stderr.contains(value), "{stdout}{stderr}");
    }
    let (code, report, _) = cluster
        .greenlight(&["check", "--context", "test", "--format", "json", spec.to_str().unwrap()])
        .await;
    let report: serde_json::Value = serde_json::from_str(&report).unwrap();
    assert_eq!(code, Some(3), "api-token is still the operator's to create: {report:#}");
    assert_eq!(row(&report, "session-key")["state"], "present");
    assert_eq!(row(&report, "cookie-secret")["state"], "present");
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn one_paste_creates_a_backend_s_generated_values_and_one_syncs_them_all() {
    let cluster = Cluster::start().await;
    let moto = Moto::start().await;
    cluster.server.create_namespace("app");
    cluster.server.install_eso(&["v1"]);
    cluster.server.put_custom("clustersecretstores", aws_cluster_store("store", "us-east-1"));
    let store = ("ClusterSecretStore", "store");
    let app = external_secret("app", "app", store, "app", &[("a", "p/key-a"), ("b", "p/key-b")]);
    cluster.server.put_custom("externalsecrets", app);
    let other = external_secret("app", "other", store, "other", &[("c", "p/key-c")]);
    cluster.server.put_custom("externalsecrets", other);
    let moto_source = Sources { moto: Some(moto.endpoint()), fakes: None };
    let hour = Duration::from_secs(3600);
    let _eso = EsoStandIn::running(cluster.server.handle(), moto_source, hour).await;
    let spec = write_spec(
        cluster.dir.path(),
        "version: 1\ndeployment: batch\nplatforms: [kubernetes]\nbackends: { aws: { kind: aws-secrets-manager, region: us-east-1, name_prefix: p/ } }\ndelivery: { external_secrets: { store: { kind: ClusterSecretStore, name: store } } }\nvalues:\n  - { name: key-a, description: A, provided_by: generated }\n  - { name: key-b, description: B, provided_by: generated }\n  - { name: key-c, description: C, provided_by: generated }\ntargets:\n  - { namespace: app, secret: app, external_secret: app, keys: { a: key-a, b: key-b } }\n  - { namespace: app, secret: other, external_secret: other, keys: { c: key-c } }\n",
    );
    let create = batch(&spec, &BatchKind::Backend("aws".into()));
    cluster.run_with_aws(&moto, &create, "").await;
    let sync = batch(&spec, &BatchKind::SyncAll);
    assert_eq!(sync.matches("kubectl annotate externalsecret app other ").count(), 1, "{sync}");
    cluster.run_with_aws(&moto, &sync, "").await;
    let mut last = serde_json::Value::Null;
    for _ in 0..50 {
        let out = cluster
            .greenlight_with_aws(
                &moto,
                &[
                    "check",
                    "--context",
                    "test",
                    "--profile",
                    "moto",
                    "--format",
                    "json",
                    spec.to_str().unwrap(),
                ],
            )
            .output()
            .await
            .unwrap();
        last = serde_json::from_slice(&out.stdout).unwrap();
        if out.status.code() == Some(0) {
            break;
        }
        tokio::time::sleep(Duration::from_millis(200)).await;
    }
    for name in ["key-a", "key-b", "key-c"] {
        assert_eq!(row(&last, name)["state"], "present", "{last:#}");
    }
    cluster.assert_value_free();
    moto.assert_value_free();
}
