//! Runs the project's Kubernetes test API server so a person can point kubectl (or
//! Greenlight) at it:
//!
//!   cargo run --example test-apiserver -- --port 6443 --kubeconfig /tmp/test.kubeconfig
//!   KUBECONFIG=/tmp/test.kubeconfig kubectl get secrets
//!
//! It starts with an `admin` user (context `test-admin`) and the namespaces `default`,
//! `acme-prod` and `litellm`; `--user NAME:TOKEN:NAMESPACE` adds a user who may only get,
//! list and watch Secrets in NAMESPACE (context `NAME`).
//!
//! `--eso SPEC --moto URL` also serves External Secrets: the spec's store and one
//! ExternalSecret per target (with their namespaces), kept in sync from the moto server at
//! URL by the project's ESO stand-in, so a delivery chain can be walked by hand.

use greenlight_testkit::{apiserver, eso};

use apiserver::{ADMIN_TOKEN, ApiServer, Rule};

#[tokio::main]
async fn main() {
    let mut port = 0u16;
    let mut kubeconfig = None;
    let mut users: Vec<(String, String, String)> = Vec::new();
    let mut eso_spec: Option<String> = None;
    let mut moto: Option<String> = None;
    let mut args = std::env::args().skip(1);
    while let Some(arg) = args.next() {
        match arg.as_str() {
            "--port" => port = args.next().and_then(|p| p.parse().ok()).unwrap_or(0),
            "--kubeconfig" => kubeconfig = args.next(),
            "--eso" => eso_spec = args.next(),
            "--moto" => moto = args.next(),
            "--user" => {
                let spec = args.next().unwrap_or_default();
                let parts: Vec<&str> = spec.splitn(3, ':').collect();
                if let [name, token, namespace] = parts.as_slice() {
                    users.push((name.to_string(), token.to_string(), namespace.to_string()));
                } else {
                    eprintln!("--user takes NAME:TOKEN:NAMESPACE");
                    std::process::exit(2);
                }
            }
            _ => {
                eprintln!(
                    "usage: test-apiserver [--port N] [--kubeconfig PATH] [--user NAME:TOKEN:NAMESPACE]... [--eso SPEC --moto URL]"
                );
                std::process::exit(2);
            }
        }
    }
    let server = match ApiServer::start_on(port).await {
        Ok(server) => server.with_admin(),
        Err(error) => {
            eprintln!("{error}");
            std::process::exit(1);
        }
    };
    for namespace in ["acme-prod", "litellm"] {
        server.create_namespace(namespace);
    }
    let _stand_in = match (&eso_spec, &moto) {
        (Some(path), Some(endpoint)) => Some(serve_eso(&server, path, endpoint).await),
        (None, None) => None,
        _ => {
            eprintln!("--eso and --moto go together");
            std::process::exit(2);
        }
    };
    let mut contexts: Vec<(String, String)> = vec![("test-admin".into(), ADMIN_TOKEN.into())];
    for (name, token, namespace) in &users {
        server.add_user(
            name,
            token,
            vec![Rule::new(&["get", "list", "watch"], &["secrets"], Some(namespace))],
        );
        contexts.push((name.clone(), token.clone()));
    }
    let pairs: Vec<(&str, &str)> = contexts.iter().map(|(c, t)| (c.as_str(), t.as_str())).collect();
    let config = server.kubeconfig(&pairs);
    match kubeconfig {
        Some(path) => {
            if let Err(e) = std::fs::write(&path, config) {
                eprintln!("cannot write {path}: {e}");
                std::process::exit(1);
            }
            println!("Serving {}; kubeconfig written to {path}", server.url());
        }
        None => println!("Serving {}\n{config}", server.url()),
    }
    tokio::signal::ctrl_c().await.ok();
}

/// Installs External Secrets with the store and ExternalSecrets `path` describes, synced from
/// moto at `endpoint`.
async fn serve_eso(server: &ApiServer, path: &str, endpoint: &str) -> eso::EsoStandIn {
    let spec = match greenlight::spec::load(std::path::Path::new(path)) {
        Ok(spec) => spec,
        Err(error) => {
            eprintln!("{error}");
            std::process::exit(1);
        }
    };
    server.install_eso(&["v1"]);
    let Some(delivery) = &spec.delivery else {
        eprintln!("{path} delivers nothing (no `delivery:`)");
        std::process::exit(1);
    };
    let store = (delivery.store.kind.as_str(), delivery.store.name.as_str());
    let mut made = std::collections::BTreeMap::new();
    for entry in &spec.entries {
        let Some(delivered) = &entry.delivered else { continue };
        let greenlight::backends::Asked::Aws(placement) = delivered.source.asked() else {
            continue;
        };
        let key = placement.name.clone();
        for target in &delivered.targets {
            let es = made
                .entry((target.namespace.clone(), target.external_secret.clone()))
                .or_insert_with(|| (target.secret.clone(), Vec::new()));
            for data_key in &target.fed {
                es.1.push((data_key.clone(), key.clone()));
            }
        }
    }
    let region = spec.entries.iter().filter_map(|e| e.delivered.as_ref()).find_map(|d| {
        match d.source.asked() {
            greenlight::backends::Asked::Aws(a) => a.region.clone(),
            _ => None,
        }
    });
    server.put_custom(
        "clustersecretstores",
        eso::aws_cluster_store(store.1, region.as_deref().unwrap_or("us-east-1")),
    );
    for ((namespace, name), (secret, data)) in made {
        server.create_namespace(&namespace);
        let pairs: Vec<(&str, &str)> = data.iter().map(|(k, r)| (k.as_str(), r.as_str())).collect();
        server.put_custom(
            "externalsecrets",
            eso::external_secret(&namespace, &name, store, &secret, &pairs),
        );
    }
    eso::EsoStandIn::start(
        server.handle(),
        endpoint.to_owned(),
        std::time::Duration::from_secs(3600),
        std::time::Duration::from_secs(30),
    )
}
