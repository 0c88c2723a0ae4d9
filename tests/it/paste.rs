//! Everything `greenlight commands` prints is meant to be pasted whole into the operator's
//! shell, and a spec's free text is the vendor's, untrusted: pasted into interactive bash, and
//! into zsh with and without `interactive_comments` (zsh's default is off, so a `#` line is a
//! command there), no line of vendor text may run. The hostile spec below puts command
//! substitutions, backticks and `;` in every free-text field; each would create a marker file
//! if it ran.

use std::path::Path;

use crate::support::{Cluster, greenlight_bin, hermetic_env, project_root, step, write_spec};

fn hostile_spec(markers: &Path) -> String {
    let m = markers.display();
    format!(
        r#"version: 1
deployment: "hostile $(touch {m}/deployment)"
platforms: [kubernetes]
features:
  f: {{ description: "feature; touch {m}/feature", default: true }}
backends:
  src: {{ kind: kubernetes, namespace: source }}
delivery: {{ external_secrets: {{ store: {{ kind: ClusterSecretStore, name: store }} }} }}
values:
  - name: v1
    description: "value `touch {m}/backtick` and $(touch {m}/dollar); touch {m}/semicolon"
    create_with: "make seed; touch {m}/create-with"
    when: f
targets:
  - {{ namespace: app, secret: target, keys: {{ k: v1 }} }}
secrets:
  - name: plain
    description: "it's!; touch {m}/plain | touch {m}/pipe && touch {m}/and # $(touch {m}/hash)"
    when: f
    kubernetes: {{ namespace: app, keys: [k] }}
"#
    )
}

/// `greenlight commands ARGS` for the POSIX shells, as printed.
async fn commands_output(home: &Path, args: &[&str]) -> String {
    let mut command = tokio::process::Command::new(greenlight_bin());
    let (set, remove) = hermetic_env(home);
    for name in remove {
        command.env_remove(name);
    }
    command.arg("commands").args(args).current_dir(project_root()).envs(set);
    let out = command.output().await.unwrap();
    assert!(out.status.success(), "{}", String::from_utf8_lossy(&out.stderr));
    String::from_utf8(out.stdout).unwrap()
}

/// Pastes `text` into `shell` (`zsh-comments` is zsh with `interactive_comments` set first),
/// presses Enter, answers every hidden prompt with Ctrl-D (nothing entered, nothing created)
/// and returns the terminal's transcript.
async fn paste_whole(cluster: &Cluster, shell: &str, text: &str) -> String {
    paste_whole_with(cluster, None, shell, text).await
}

/// Stand-ins for the CLIs the commands call, each reading its input and doing nothing, for
/// tests about what the shell makes of the text rather than what the CLIs do (other tests run
/// the real kubectl and aws).
fn stand_in_clis(dir: &Path) -> std::path::PathBuf {
    use std::os::unix::fs::PermissionsExt;
    let bin = dir.join("stand-in-bin");
    std::fs::create_dir_all(&bin).unwrap();
    for cli in ["kubectl", "aws", "gcloud", "doppler", "vault", "az", "openssl"] {
        let path = bin.join(cli);
        std::fs::write(&path, "#!/bin/sh\ncat >/dev/null 2>&1 </dev/null\nexit 0\n").unwrap();
        std::fs::set_permissions(&path, std::fs::Permissions::from_mode(0o755)).unwrap();
    }
    bin
}

async fn paste_whole_with(
    cluster: &Cluster,
    bin: Option<&Path>,
    shell: &str,
    text: &str,
) -> String {
    let (shell, setup) = match shell {
        "zsh-comments" => ("zsh", Some("setopt interactive_comments\r")),
        other => (other, None),
    };
    let mut steps = vec![step("expect", "READY> ")];
    if let Some(setup) = setup {
        steps.extend([step("type", setup), step("expect", "READY> ")]);
    }
    // The paste ends with a line that says it is done (quoted, so its echo does not match).
    steps.extend([step("paste", &format!("{text}echo PASTE''-DONE\n")), step("type", "\r")]);
    steps.push(serde_json::json!({
        "answer": "then press Enter and Ctrl-D:", "with": "\u{4}", "until": "PASTE-DONE"
    }));
    steps.extend([step("expect", "READY> "), step("type", "exit\r")]);
    cluster.interactive_with(shell, bin, steps).await.transcript
}

fn assert_inert(markers: &Path, shell: &str, transcript: &str) {
    let ran: Vec<String> = std::fs::read_dir(markers)
        .unwrap()
        .map(|e| e.unwrap().file_name().to_string_lossy().into_owned())
        .collect();
    assert!(ran.is_empty(), "{shell} ran vendor text {ran:?}:\n{transcript}");
    for symptom in ["command not found: #", "parse error", "bad pattern", "event not found"] {
        assert!(!transcript.contains(symptom), "{shell}: {symptom}\n{transcript}");
    }
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn pasting_the_commands_of_a_hostile_spec_runs_no_vendor_text() {
    let cluster = Cluster::start().await;
    let markers = cluster.dir.path().join("markers");
    std::fs::create_dir(&markers).unwrap();
    let spec = write_spec(cluster.dir.path(), &hostile_spec(&markers));
    let spec = spec.to_str().unwrap();
    let text = commands_output(cluster.dir.path(), &[spec, "--context", "test"]).await;
    assert!(text.contains("touch"), "the vendor text is printed, inert: {text}");
    for shell in ["bash", "zsh", "zsh-comments"] {
        let transcript = paste_whole(&cluster, shell, &text).await;
        assert_inert(&markers, shell, &transcript);
    }
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn pasting_the_commands_of_every_bundled_example_is_clean() {
    let cluster = Cluster::start().await;
    let markers = cluster.dir.path().join("markers");
    std::fs::create_dir(&markers).unwrap();
    let bin = stand_in_clis(cluster.dir.path());
    for (example, platform) in [
        ("quickstart.yaml", "kubernetes"),
        ("quickstart.yaml", "aws"),
        ("platform-contract.yaml", "kubernetes"),
        ("doppler-eso.json", "kubernetes"),
    ] {
        let spec = project_root().join("specs/examples").join(example);
        let spec = spec.to_str().unwrap();
        let args = [spec, "--platform", platform, "--context", "test", "--region", "us-east-1"];
        let text = commands_output(cluster.dir.path(), &args).await;
        for shell in ["zsh", "bash"] {
            let transcript = paste_whole_with(&cluster, Some(&bin), shell, &text).await;
            assert_inert(&markers, &format!("{shell} ({example}, {platform})"), &transcript);
        }
    }
}

#[test]
fn the_powershell_commands_of_a_hostile_spec_keep_vendor_text_in_comments() {
    let dir = tempfile::tempdir().unwrap();
    let markers = Path::new("/markers");
    let spec = write_spec(dir.path(), &hostile_spec(markers));
    let out = std::process::Command::new(greenlight_bin())
        .args(["commands", spec.to_str().unwrap(), "--shell", "powershell", "--context", "test"])
        .env("KUBECONFIG", dir.path().join("none"))
        .output()
        .unwrap();
    assert!(out.status.success());
    let text = String::from_utf8(out.stdout).unwrap();
    // Every line holding vendor text is a PowerShell comment, whole.
    for line in text.lines().filter(|l| l.contains("touch")) {
        assert!(line.starts_with("# "), "vendor text outside a comment: {line}");
    }
    insta::assert_snapshot!(text);
}
