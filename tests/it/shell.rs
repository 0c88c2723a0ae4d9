//! The generated commands in the operator's real interactive shell: `bash -i` and `zsh -i` on
//! a pseudo-terminal, the command block pasted as a terminal pastes it (bracketed paste), a
//! multi-line value pasted at the hidden prompt, Ctrl-D, and then the shell's history file
//! read back. The value must arrive whole in the cluster and nowhere else: not run as
//! commands, not in the history, not printed by an inherited `set -x`.

use std::path::Path;

use base64::Engine;
use greenlight::commands::{self, CommandKind, Shell, Target};
use greenlight::spec;

use crate::support::{Cluster, step, write_spec};

/// A private key as an operator would paste it: several lines, the last one ending in a
/// newline. Every line is distinctive, so any line that leaks is found.
const PEM: &str = "-----BEGIN PRIVATE KEY-----\nMIIBVQIBADANBgkqhkiG9w0BAQEFAASCAT8wggE7AgEAAkEAq7BFUpkGp3+LQmlQ\nYx2eqEDmbpnvvvVuzo5ozmGXNHtl7fo0cloiy7l0sw4FpYxS4bCbVmRQfRNvIRc\necho LEAKED-AS-A-COMMAND-7f3a\n-----END PRIVATE KEY-----\n";

fn create_command(spec: &Path, name: &str) -> String {
    let spec = spec::load(spec).unwrap();
    let entry = spec.entries.iter().find(|e| e.name == name).unwrap();
    let target = Target { kube_context: Some("test".into()), ..Target::default() };
    commands::for_entry(entry, spec::Platform::Kubernetes, &target, Shell::Posix)
        .unwrap()
        .into_iter()
        .find(|c| c.kind == CommandKind::Create)
        .unwrap()
        .text
}

fn stored(cluster: &Cluster, name: &str, key: &str) -> String {
    let secret = cluster.server.secret("acme", name).unwrap_or_else(|| panic!("no Secret {name}"));
    let data = secret["data"][key].as_str().unwrap();
    String::from_utf8(base64::engine::general_purpose::STANDARD.decode(data).unwrap()).unwrap()
}

async fn a_pasted_multi_line_value_arrives_whole_and_nowhere_else(shell: &str) {
    let cluster = Cluster::start().await;
    cluster.server.create_namespace("acme");
    let spec = write_spec(
        cluster.dir.path(),
        "version: 1\ndeployment: paste\nplatforms: [kubernetes]\ndefaults: { kubernetes: { namespace: acme } }\nsecrets:\n  - { name: tls-key, description: A PEM private key, kubernetes: { keys: [tls.key] } }\n  - { name: pair, description: Two values, kubernetes: { keys: [cert, key] } }\n",
    );
    let single = create_command(&spec, "tls-key");
    let pair = create_command(&spec, "pair");
    let session = cluster
        .interactive(
            shell,
            vec![
                step("expect", "READY> "),
                // An xtrace left on in the operator's shell must not print the value.
                step("type", "set -x\r"),
                step("expect", "READY> "),
                step("paste", &single),
                step("type", "\r"),
                // The shell has stopped editing and runs the block; then its prompt shows.
                step("expect", "\u{1b}[?2004l"),
                step("expect", "then press Enter and Ctrl-D:"),
                step("paste", PEM),
                step("type", "\u{4}"),
                step("expect", "secret/tls-key created"),
                step("expect", "READY> "),
                step("paste", &pair),
                step("type", "\r"),
                step("expect", "\u{1b}[?2004l"),
                step("expect", "key cert of pair (hidden), then press Enter and Ctrl-D:"),
                step("paste", "first line of cert\nsecond line of cert\n"),
                step("type", "\u{4}"),
                step("expect", "key key of pair (hidden), then press Enter and Ctrl-D:"),
                step("paste", PEM),
                step("type", "\u{4}"),
                step("expect", "secret/pair created"),
                step("expect", "READY> "),
                step("type", "exit\r"),
            ],
        )
        .await;
    assert_eq!(stored(&cluster, "tls-key", "tls.key"), PEM.trim_end(), "the whole key arrived");
    assert_eq!(stored(&cluster, "pair", "cert"), "first line of cert\nsecond line of cert");
    assert_eq!(stored(&cluster, "pair", "key"), PEM.trim_end());
    assert!(
        session.history.contains("kubectl create secret generic tls-key"),
        "{}",
        session.history
    );
    for line in PEM.lines().chain(["first line of cert", "second line of cert"]) {
        assert!(
            !session.history.contains(line),
            "{shell} history holds {line:?}:\n{}",
            session.history
        );
        assert!(
            !session.transcript.contains(line),
            "{shell} showed {line:?} (echo or xtrace):\n{}",
            session.transcript
        );
    }
    assert!(!session.transcript.contains("LEAKED-AS-A-COMMAND"), "{}", session.transcript);
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn bash_a_pasted_multi_line_value_arrives_whole_and_nowhere_else() {
    a_pasted_multi_line_value_arrives_whole_and_nowhere_else("bash").await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn zsh_a_pasted_multi_line_value_arrives_whole_and_nowhere_else() {
    a_pasted_multi_line_value_arrives_whole_and_nowhere_else("zsh").await;
}
