//! The real binary in a real window under Xvfb, as a person uses it: it opens a spec, checks
//! a cluster, a screenshot is taken, the keyboard selects a secret and copies its create
//! command, xclip reads the clipboard, and that command run in bash creates the Secret.
//! Needs Xvfb, xdotool, xclip and ImageMagick (scripts/test.sh installs them).

use std::path::Path;
use std::process::{Command, Stdio};
use std::time::{Duration, Instant};

fn need(program: &str) {
    let found = Command::new("sh")
        .arg("-c")
        .arg(format!("command -v {program}"))
        .stdout(Stdio::null())
        .status()
        .is_ok_and(|s| s.success());
    assert!(
        found,
        "{program} is not installed: run scripts/test.sh, which installs Xvfb, xdotool, xclip and ImageMagick"
    );
}

/// An X display of our own, stopped on drop.
struct Display {
    number: u32,
    server: std::process::Child,
}

/// The first line a process prints, trimmed.
fn first_line(stdout: std::process::ChildStdout) -> String {
    let mut line = String::new();
    std::io::BufRead::read_line(&mut std::io::BufReader::new(stdout), &mut line).unwrap();
    line.trim().to_owned()
}

impl Display {
    fn start() -> Self {
        need("Xvfb");
        // Xvfb picks a free display itself (atomically, stale locks included) and writes its
        // number on the given descriptor; tests in parallel cannot collide.
        let mut server = Command::new("Xvfb")
            .args(["-displayfd", "1", "-screen", "0", "1280x800x24", "-nolisten", "tcp"])
            .stdout(Stdio::piped())
            .stderr(Stdio::null())
            .spawn()
            .unwrap();
        let line = first_line(server.stdout.take().unwrap());
        let number: u32 = line.parse().expect("Xvfb did not say which display it took");
        Self { number, server }
    }

    fn name(&self) -> String {
        format!(":{}", self.number)
    }

    fn run(&self, program: &str, args: &[&str]) -> String {
        let out = Command::new(program).args(args).env("DISPLAY", self.name()).output().unwrap();
        String::from_utf8_lossy(&out.stdout).into_owned()
    }
}

impl Drop for Display {
    fn drop(&mut self) {
        // SIGTERM, so Xvfb removes its lock and socket; SIGKILL only if it does not stop.
        let pid = self.server.id().try_into().ok().and_then(rustix::process::Pid::from_raw);
        if let Some(pid) = pid {
            rustix::process::kill_process(pid, rustix::process::Signal::TERM).ok();
        }
        let deadline = Instant::now() + Duration::from_secs(5);
        while Instant::now() < deadline {
            if matches!(self.server.try_wait(), Ok(Some(_))) {
                return;
            }
            std::thread::sleep(Duration::from_millis(20));
        }
        self.server.kill().ok();
        self.server.wait().ok();
    }
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn the_window_opens_a_spec_and_copies_a_command_a_person_can_run() {
    for program in ["xdotool", "xclip", "import"] {
        need(program);
    }
    let cluster = crate::support::Cluster::start().await;
    cluster.server.create_namespace("acme");
    let spec = crate::support::write_spec(
        cluster.dir.path(),
        "version: 1\ndeployment: smoke\nplatforms: [kubernetes]\ndefaults: { kubernetes: { namespace: acme } }\nsecrets:\n  - { name: github-token, description: GitHub token for CI, kubernetes: { keys: [token] } }\n  - { name: db-password, description: Database password, kubernetes: { keys: [password] } }\n",
    );
    let display = Display::start();
    let home = cluster.dir.path().join("home");
    std::fs::create_dir_all(&home).unwrap();
    let mut app = Command::new(env!("CARGO_BIN_EXE_greenlight"))
        .arg(&spec)
        .arg("--kubeconfig")
        .arg(cluster.kubeconfig())
        .env("DISPLAY", display.name())
        .env("HOME", &home)
        .env_remove("WAYLAND_DISPLAY")
        .stdout(Stdio::null())
        .stderr(Stdio::piped())
        .spawn()
        .unwrap();

    let window = window_named(&display, &mut app, "^smoke - Greenlight$");
    // Let it connect and check the cluster.
    tokio::time::sleep(Duration::from_secs(3)).await;
    let shot = Path::new(env!("CARGO_TARGET_TMPDIR")).join("gui-smoke.png");
    display.run("import", &["-window", "root", shot.to_str().unwrap()]);
    let size = std::fs::metadata(&shot).map(|m| m.len()).unwrap_or(0);
    assert!(size > 10_000, "the screenshot is {size} bytes: nothing drawn?");
    println!("screenshot: {}", shot.display());

    let clipboard = copy_first_create(&display, &window).await;
    assert!(
        clipboard.contains("kubectl create secret generic github-token --kubeconfig")
            && clipboard.contains("--namespace acme"),
        "{clipboard}"
    );

    let (ok, _, stderr) = cluster.shell("bash", &clipboard, "typed-in-the-terminal-301\n").await;
    assert!(ok, "{stderr}");
    assert!(cluster.server.secret("acme", "github-token").is_some());
    assert!(app.try_wait().unwrap().is_none(), "the app must still be running");
    app.kill().ok();
    app.wait().ok();
}

/// Selects the first row with the keyboard, copies its create command (Ctrl+Shift+C) and
/// returns what the clipboard then holds.
async fn copy_first_create(display: &Display, window: &str) -> String {
    // The window starts on the first row to create (github-token): no key to reach it.
    display.run("xdotool", &["windowfocus", "--sync", window]);
    tokio::time::sleep(Duration::from_millis(300)).await;
    display.run("xdotool", &["key", "--window", window, "ctrl+shift+c"]);
    let deadline = Instant::now() + Duration::from_secs(10);
    loop {
        let text = display.run("xclip", &["-o", "-selection", "clipboard"]);
        if text.contains("kubectl create secret generic") {
            return text;
        }
        assert!(Instant::now() < deadline, "the clipboard never got the create command: {text:?}");
        tokio::time::sleep(Duration::from_millis(200)).await;
    }
}

/// Waits (at most 30 s) for a window whose title matches `name` and returns its id.
fn window_named(display: &Display, app: &mut std::process::Child, name: &str) -> String {
    let deadline = Instant::now() + Duration::from_secs(30);
    loop {
        let found = display.run("xdotool", &["search", "--name", name]);
        if let Some(id) = found.lines().next() {
            return id.to_owned();
        }
        if let Ok(Some(status)) = app.try_wait() {
            // What it said on the way out, so a failure on another machine can be read.
            let mut said = String::new();
            if let Some(mut stderr) = app.stderr.take() {
                std::io::Read::read_to_string(&mut stderr, &mut said).ok();
            }
            panic!("greenlight exited ({status}): {said}");
        }
        assert!(Instant::now() < deadline, "no window named {name}");
        std::thread::sleep(Duration::from_millis(100));
    }
}

#[test]
fn without_a_file_chooser_the_window_says_so_and_takes_a_typed_path() {
    for program in ["xdotool", "import"] {
        need(program);
    }
    let display = Display::start();
    let home = tempfile::tempdir().unwrap();
    // No session bus (so no portal) and nothing on PATH (so no zenity): a plain X11 session.
    let mut app = Command::new(env!("CARGO_BIN_EXE_greenlight"))
        .env_clear()
        .env("DISPLAY", display.name())
        .env("HOME", home.path())
        .env("PATH", home.path())
        .stdout(Stdio::null())
        .stderr(Stdio::null())
        .spawn()
        .unwrap();
    let window = window_named(&display, &mut app, "^Greenlight$");
    std::thread::sleep(Duration::from_millis(500));
    display.run("xdotool", &["windowfocus", "--sync", &window]);
    display.run("xdotool", &["key", "--window", &window, "ctrl+o"]);
    std::thread::sleep(Duration::from_millis(500));
    let shot = Path::new(env!("CARGO_TARGET_TMPDIR")).join("gui-no-file-chooser.png");
    display.run("import", &["-window", "root", shot.to_str().unwrap()]);
    println!("screenshot: {}", shot.display());
    // The path field has the focus: type the path as a person would, then Enter.
    let spec = Path::new(env!("CARGO_MANIFEST_DIR")).join("specs/examples/quickstart.yaml");
    display.run(
        "xdotool",
        &["type", "--window", &window, "--delay", "5", &spec.display().to_string()],
    );
    display.run("xdotool", &["key", "--window", &window, "Return"]);
    window_named(&display, &mut app, "^acme-analytics - Greenlight$");
    app.kill().ok();
    app.wait().ok();
}

/// The first five minutes without a cluster: `greenlight demo` opens the quickstart against
/// its sandbox, a Copy'd command pasted into a terminal creates the Secret there, and the
/// window changes (its row turns present).
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn the_demo_window_turns_a_copied_command_green() {
    for program in ["xdotool", "xclip", "import"] {
        need(program);
    }
    let display = Display::start();
    let home = tempfile::tempdir().unwrap();
    let mut app = Command::new(env!("CARGO_BIN_EXE_greenlight"))
        .arg("demo")
        .env("DISPLAY", display.name())
        .env("HOME", home.path())
        .env("XDG_RUNTIME_DIR", home.path().join("run"))
        .env("KUBECONFIG", "/nonexistent/greenlight-test/kubeconfig")
        .env_remove("WAYLAND_DISPLAY")
        .stdout(Stdio::piped())
        .stderr(Stdio::piped())
        .spawn()
        .unwrap();
    let kubeconfig = first_line(app.stdout.take().unwrap());
    assert!(Path::new(&kubeconfig).exists(), "{kubeconfig}");
    let window = window_named(&display, &mut app, "^acme-analytics - Greenlight$");
    tokio::time::sleep(Duration::from_secs(3)).await;
    let before = Path::new(env!("CARGO_TARGET_TMPDIR")).join("gui-demo-before.png");
    display.run("import", &["-window", "root", before.to_str().unwrap()]);

    let clipboard = copy_first_create(&display, &window).await;
    assert!(clipboard.contains("--context greenlight-sandbox"), "{clipboard}");
    let mut bash = tokio::process::Command::new("bash");
    bash.arg("-c").arg(&clipboard);
    let (ok, _, stderr) =
        crate::support::run_with_stdin(&mut bash, "typed-in-the-demo-777\n").await;
    assert!(ok, "{stderr}");
    tokio::time::sleep(Duration::from_secs(2)).await;
    let after = Path::new(env!("CARGO_TARGET_TMPDIR")).join("gui-demo-after.png");
    display.run("import", &["-window", "root", after.to_str().unwrap()]);
    assert_ne!(
        std::fs::read(&before).unwrap(),
        std::fs::read(&after).unwrap(),
        "the window did not change"
    );
    // What the window shows, asked the way a script would.
    let out = Command::new(env!("CARGO_BIN_EXE_greenlight"))
        .args(["check", "--kubeconfig", &kubeconfig, "--format", "json"])
        .arg(home.path().join("run/greenlight/quickstart.yaml"))
        .env("HOME", home.path())
        .output()
        .unwrap();
    let report: serde_json::Value = serde_json::from_slice(&out.stdout).unwrap();
    let present: Vec<&str> = report["secrets"]
        .as_array()
        .unwrap()
        .iter()
        .filter(|r| r["state"] == "present")
        .filter_map(|r| r["name"].as_str())
        .collect();
    assert_eq!(present.len(), 1, "{report:#}");
    println!("screenshots: {} {}", before.display(), after.display());
    app.kill().ok();
    app.wait().ok();
}
