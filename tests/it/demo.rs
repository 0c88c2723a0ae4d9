//! `greenlight demo`: the sandbox cluster inside Greenlight, as a newcomer without a cluster
//! tries it: its kubeconfig path on stdout, the shown commands working against it with real
//! kubectl, rows turning present, and nothing left behind when it stops.

use std::time::Duration;

use tokio::io::AsyncBufReadExt;

use crate::support::{hermetic_greenlight, run_with_stdin};

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn demo_headless_is_a_sandbox_the_shown_commands_work_against() {
    let home = tempfile::tempdir().unwrap();
    let runtime_dir = home.path().join("run");
    let command = |args: &[&str]| {
        let mut command = hermetic_greenlight(home.path(), args);
        command
            .env("XDG_RUNTIME_DIR", &runtime_dir)
            .env("KUBECONFIG", "/nonexistent/greenlight-test/kubeconfig")
            .kill_on_drop(true);
        command
    };
    let mut demo = command(&["demo", "--headless"])
        .stdout(std::process::Stdio::piped())
        .stderr(std::process::Stdio::piped())
        .spawn()
        .unwrap();
    let mut lines = tokio::io::BufReader::new(demo.stdout.take().unwrap()).lines();
    let first = tokio::time::timeout(Duration::from_secs(30), lines.next_line())
        .await
        .expect("demo printed nothing")
        .unwrap()
        .expect("demo exited");
    let kubeconfig = std::path::PathBuf::from(first.trim());
    assert!(kubeconfig.starts_with(runtime_dir.join("greenlight")), "{}", kubeconfig.display());
    {
        use std::os::unix::fs::PermissionsExt;
        let mode = std::fs::metadata(&kubeconfig).unwrap().permissions().mode() & 0o777;
        assert_eq!(mode, 0o600, "the kubeconfig holds the sandbox's token");
    }
    let spec = runtime_dir.join("greenlight/quickstart.yaml");
    let kc = kubeconfig.to_str().unwrap();
    let spec_arg = spec.to_str().unwrap();

    // The command the window shows for github-token, as `greenlight commands` prints it.
    let out = command(&["commands", "--kubeconfig", kc, "--secret", "github-token", spec_arg])
        .output()
        .await
        .unwrap();
    let text = String::from_utf8_lossy(&out.stdout).into_owned();
    let create: String = text
        .split("\n\n")
        .find_map(|block| block.strip_prefix(": '## Create'\n"))
        .map(str::to_owned)
        .expect("no create command");
    assert!(create.contains("--context greenlight-sandbox"), "labelled in every command: {create}");
    let mut bash = tokio::process::Command::new("bash");
    bash.arg("-c").arg(&create);
    let (ok, _, stderr) = run_with_stdin(&mut bash, "demo-typed-value-5521\n").await;
    assert!(ok, "{create}\n{stderr}");

    let out = command(&["check", "--kubeconfig", kc, "--format", "json", spec_arg])
        .output()
        .await
        .unwrap();
    let report: serde_json::Value = serde_json::from_slice(&out.stdout).unwrap();
    let row = crate::support::row(&report, "github-token");
    assert_eq!(row["state"], "present", "{report:#}");
    assert_eq!(crate::support::row(&report, "database-password")["state"], "missing");
    assert_eq!(report["connection"]["context"], "greenlight-sandbox", "{report:#}");

    // The sandbox has one user, with the token in its kubeconfig: no built-in admin.
    let port: u16 = std::fs::read_to_string(&kubeconfig)
        .unwrap()
        .split("server: https://127.0.0.1:")
        .nth(1)
        .and_then(|rest| rest.lines().next())
        .and_then(|p| p.trim().parse().ok())
        .expect("the kubeconfig names the sandbox's port");
    let probe = format!(
        "import ssl, urllib.request\nctx = ssl.create_default_context(); ctx.check_hostname = False; ctx.verify_mode = ssl.CERT_NONE\nreq = urllib.request.Request('https://127.0.0.1:{port}/api/v1/secrets', headers={{'Authorization': 'Bearer admin-token'}})\ntry:\n    print(urllib.request.urlopen(req, context=ctx).status)\nexcept urllib.error.HTTPError as e:\n    print(e.code)\n"
    );
    let out = tokio::process::Command::new("python3").args(["-c", &probe]).output().await.unwrap();
    assert_eq!(String::from_utf8_lossy(&out.stdout).trim(), "401", "a well-known token got in");

    // SIGTERM stops it cleanly and takes the kubeconfig (and its token) along.
    let pid = rustix::process::Pid::from_raw(demo.id().unwrap() as i32).unwrap();
    rustix::process::kill_process(pid, rustix::process::Signal::TERM).unwrap();
    let status = tokio::time::timeout(Duration::from_secs(10), demo.wait()).await.unwrap().unwrap();
    assert!(status.success(), "{status}");
    assert!(!kubeconfig.exists(), "the kubeconfig was left behind");
}
