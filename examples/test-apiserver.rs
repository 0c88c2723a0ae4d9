//! Runs the project's Kubernetes test API server so a person can point kubectl (or
//! Greenlight) at it:
//!
//!   cargo run --example test-apiserver -- --port 6443 --kubeconfig /tmp/test.kubeconfig
//!   KUBECONFIG=/tmp/test.kubeconfig kubectl get secrets
//!
//! It starts with an `admin` user (context `test-admin`) and the namespaces `default`,
//! `acme-prod` and `litellm`; `--user NAME:TOKEN:NAMESPACE` adds a user who may only get,
//! list and watch Secrets in NAMESPACE (context `NAME`).

#[path = "../tests/support/apiserver.rs"]
mod apiserver;

use apiserver::{ADMIN_TOKEN, ApiServer, Rule};

#[tokio::main]
async fn main() {
    let mut port = 0u16;
    let mut kubeconfig = None;
    let mut users: Vec<(String, String, String)> = Vec::new();
    let mut args = std::env::args().skip(1);
    while let Some(arg) = args.next() {
        match arg.as_str() {
            "--port" => port = args.next().and_then(|p| p.parse().ok()).unwrap_or(0),
            "--kubeconfig" => kubeconfig = args.next(),
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
                    "usage: test-apiserver [--port N] [--kubeconfig PATH] [--user NAME:TOKEN:NAMESPACE]..."
                );
                std::process::exit(2);
            }
        }
    }
    let server = ApiServer::start_on(port).await;
    for namespace in ["acme-prod", "litellm"] {
        server.create_namespace(namespace);
    }
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
