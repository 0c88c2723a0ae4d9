//! The platform example in several environments, shared by the suite and the benchmarks: a
//! sandbox cluster per environment (the project's API server playing External Secrets, values
//! kept in its values namespace), seeded so that every row is present, and a kubeconfig each
//! with the context `k3s-ENV`.

// The suite uses the merged kubeconfig (the window takes one file), the benchmark the list.
#![allow(dead_code, reason = "each includer uses its own part")]

use std::path::{Path, PathBuf};

use greenlight::sandbox::{CONTEXT, Sandbox, VALUES_NAMESPACE, value_secret};
use greenlight::spec::{self, Platform, SecretSpec};

/// The platform example with its values kept where the sandbox keeps them (a Kubernetes
/// namespace ESO's Kubernetes provider reads) instead of a cloud backend.
pub fn spec_text() -> String {
    let example = std::fs::read_to_string(
        Path::new(env!("CARGO_MANIFEST_DIR")).join("specs/examples/platform-contract.yaml"),
    )
    .unwrap();
    let backends = "backends:\n  gcp: { kind: gcp-secret-manager }\n  aws: { kind: aws-secrets-manager, region: us-east-1 }\n";
    assert!(
        example.contains(backends),
        "the example's backends changed; update tests/shared/platform.rs"
    );
    example.replace(
        backends,
        &format!("backends:\n  values: {{ kind: kubernetes, namespace: {VALUES_NAMESPACE} }}\n"),
    )
}

/// Every value and plain Secret the spec places, so each environment is ready.
pub fn seed(sandbox: &Sandbox, spec: &SecretSpec) {
    let server = sandbox.server();
    for entry in &spec.entries {
        if let Some(delivered) = &entry.delivered {
            let name = value_secret(delivered.source.key());
            server.put_secret(VALUES_NAMESPACE, &name, &[("value", "environments-bench-value")]);
        } else if let Some(spec::Placement::Kubernetes(k)) = entry.placement(Platform::Kubernetes) {
            server.create_namespace(&k.namespace);
            let data: Vec<(&str, &str)> =
                k.keys.iter().map(|key| (key.as_str(), "environments-bench-value")).collect();
            server.put_secret(&k.namespace, &k.secret, &data);
        }
    }
}

/// The environments' clusters: a sandbox each, seeded ready.
pub struct Clusters {
    pub sandboxes: Vec<Sandbox>,
    /// A kubeconfig per environment (context `k3s-ENV`), for `KUBECONFIG=a:b:c`.
    pub kubeconfigs: Vec<PathBuf>,
    /// All of them in one file, as `kubectl config view --flatten` would merge them.
    pub merged: PathBuf,
}

/// A sandbox per environment, seeded ready, and its kubeconfigs.
pub fn clusters(
    runtime: &tokio::runtime::Runtime,
    spec: &SecretSpec,
    dir: &Path,
    environments: &[&str],
) -> Clusters {
    let mut kubeconfigs = Vec::new();
    let mut parts = [String::new(), String::new(), String::new()];
    let sandboxes = environments
        .iter()
        .map(|env| {
            let sandbox = runtime.block_on(Sandbox::start(spec, &dir.join(env))).unwrap();
            seed(&sandbox, spec);
            // Each cluster under its own context, as in kubeconfigs merged from several.
            let config = std::fs::read_to_string(sandbox.kubeconfig())
                .unwrap()
                .replace(CONTEXT, &format!("k3s-{env}"))
                .replace("- name: test\n", &format!("- name: {env}-cluster\n"))
                .replace("cluster: test\n", &format!("cluster: {env}-cluster\n"));
            let path = dir.join(format!("{env}.kubeconfig"));
            std::fs::write(&path, &config).unwrap();
            kubeconfigs.push(path);
            let (_, rest) = config.split_once("clusters:\n").unwrap();
            let (clusters, rest) = rest.split_once("contexts:\n").unwrap();
            let (contexts, users) = rest.split_once("users:\n").unwrap();
            for (part, text) in parts.iter_mut().zip([clusters, contexts, users]) {
                part.push_str(text);
            }
            sandbox
        })
        .collect();
    let [clusters, contexts, users] = parts;
    let first = environments.first().unwrap();
    let merged = dir.join("merged.kubeconfig");
    std::fs::write(
        &merged,
        format!("apiVersion: v1\nkind: Config\ncurrent-context: k3s-{first}\nclusters:\n{clusters}contexts:\n{contexts}users:\n{users}"),
    )
    .unwrap();
    Clusters { sandboxes, kubeconfigs, merged }
}
