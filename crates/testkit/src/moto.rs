//! A real moto server (from the project's Python venv) behind a recording HTTP proxy, plus a
//! scratch AWS config with a `moto` profile. The proxy records every request (who sent it,
//! which API action, the response body) so tests can prove what Greenlight asked for and was
//! sent, and injects throttling, delays and outages on demand. Over 600 lines: the server, its
//! recording proxy and the helpers that run clients against it share one state.

use std::convert::Infallible;
use std::net::SocketAddr;
use std::path::PathBuf;
use std::process::Stdio;
use std::sync::{Arc, Mutex};
use std::time::Duration;

use bytes::Bytes;
use http_body_util::{BodyExt, Full};
use hyper::{Request, Response};
use hyper_util::rt::TokioIo;
use tokio::net::{TcpListener, TcpStream};
use tokio::process::{Child, Command};

/// One request through the proxy.
#[derive(Debug, Clone)]
pub struct AwsRecord {
    pub user_agent: String,
    /// `secretsmanager.DescribeSecret`, `AmazonSSM.DescribeParameters`, or `Action=...` for
    /// query-protocol services (STS, IAM).
    pub action: String,
    pub status: u16,
    /// The request body (names asked for; never a value from Greenlight).
    pub request: String,
    pub body: String,
}

impl AwsRecord {
    pub fn sent_by_greenlight(&self) -> bool {
        self.user_agent.contains("app/greenlight")
    }
}

/// What `iam:SimulatePrincipalPolicy` answers: moto (pinned) does not implement it, so the
/// proxy does, from these grants. `may_simulate: false` answers AccessDenied, as for an
/// identity without `iam:SimulatePrincipalPolicy`.
#[derive(Debug, Clone, Default)]
pub struct Simulation {
    pub may_simulate: bool,
    /// (action, resource) patterns allowed, IAM-style (`*` and `?`).
    pub allowed: Vec<(String, String)>,
}

impl Simulation {
    /// The grants of an IAM policy document's Allow statements.
    pub fn allow_policy(&mut self, policy: &serde_json::Value) {
        let list = |v: &serde_json::Value| -> Vec<String> {
            match v {
                serde_json::Value::String(s) => vec![s.clone()],
                serde_json::Value::Array(a) => {
                    a.iter().filter_map(|x| x.as_str().map(str::to_owned)).collect()
                }
                _ => Vec::new(),
            }
        };
        for statement in policy["Statement"].as_array().cloned().unwrap_or_default() {
            if statement["Effect"] != "Allow" {
                continue;
            }
            for action in list(&statement["Action"]) {
                for resource in list(&statement["Resource"]) {
                    self.allowed.push((action.clone(), resource));
                }
            }
        }
    }
}

/// IAM wildcard match: `*` any run, `?` one character.
fn glob(pattern: &str, text: &str) -> bool {
    let (p, t): (Vec<char>, Vec<char>) = (pattern.chars().collect(), text.chars().collect());
    let (mut pi, mut ti, mut star, mut mark) = (0, 0, None, 0);
    while ti < t.len() {
        if pi < p.len() && (p[pi] == '?' || p[pi].eq_ignore_ascii_case(&t[ti])) {
            pi += 1;
            ti += 1;
        } else if pi < p.len() && p[pi] == '*' {
            star = Some(pi);
            mark = ti;
            pi += 1;
        } else if let Some(s) = star {
            pi = s + 1;
            mark += 1;
            ti = mark;
        } else {
            return false;
        }
    }
    while pi < p.len() && p[pi] == '*' {
        pi += 1;
    }
    pi == p.len()
}

fn form_values(body: &str, prefix: &str) -> Vec<String> {
    body.split('&')
        .filter_map(|kv| kv.split_once('='))
        .filter(|(k, _)| k.starts_with(prefix))
        .map(|(_, v)| percent_decode(v))
        .collect()
}

fn percent_decode(text: &str) -> String {
    let bytes = text.as_bytes();
    let mut out = Vec::new();
    let mut i = 0;
    while i < bytes.len() {
        match bytes[i] {
            b'%' if i + 2 < bytes.len() => {
                let hex =
                    std::str::from_utf8(&bytes[i + 1..(i + 3).min(bytes.len())]).unwrap_or("");
                match u8::from_str_radix(hex, 16) {
                    Ok(b) => {
                        out.push(b);
                        i += 3;
                        continue;
                    }
                    Err(_) => out.push(b'%'),
                }
            }
            b'+' => out.push(b' '),
            b => out.push(b),
        }
        i += 1;
    }
    String::from_utf8_lossy(&out).into_owned()
}

/// The XML answer to a simulation of `body` under `simulation`.
fn simulated(simulation: &Simulation, body: &str) -> (u16, String) {
    if !simulation.may_simulate {
        let source = form_values(body, "PolicySourceArn").pop().unwrap_or_default();
        return (
            403,
            format!(
                "<ErrorResponse xmlns=\"https://iam.amazonaws.com/doc/2010-05-08/\"><Error><Type>Sender</Type><Code>AccessDenied</Code><Message>User: {source} is not authorized to perform: iam:SimulatePrincipalPolicy on resource: {source}</Message></Error><RequestId>sim</RequestId></ErrorResponse>"
            ),
        );
    }
    let actions = form_values(body, "ActionNames.member.");
    let resources = form_values(body, "ResourceArns.member.");
    let mut members = String::new();
    for action in &actions {
        let allowed = resources.iter().all(|resource| {
            simulation.allowed.iter().any(|(a, r)| glob(a, action) && glob(r, resource))
        });
        let decision = if allowed { "allowed" } else { "implicitDeny" };
        members.push_str(&format!(
            "<member><EvalActionName>{action}</EvalActionName><EvalResourceName>{}</EvalResourceName><EvalDecision>{decision}</EvalDecision><MatchedStatements/><MissingContextValues/></member>",
            resources.first().cloned().unwrap_or_default()
        ));
    }
    (
        200,
        format!(
            "<SimulatePrincipalPolicyResponse xmlns=\"https://iam.amazonaws.com/doc/2010-05-08/\"><SimulatePrincipalPolicyResult><IsTruncated>false</IsTruncated><EvaluationResults>{members}</EvaluationResults></SimulatePrincipalPolicyResult><ResponseMetadata><RequestId>sim</RequestId></ResponseMetadata></SimulatePrincipalPolicyResponse>"
        ),
    )
}

#[derive(Debug, Default)]
struct Faults {
    /// Answer this many requests from Greenlight with ThrottlingException.
    throttle: usize,
    /// Wait this long before forwarding.
    delay: Duration,
    /// Wait this long before forwarding requests whose action contains the text.
    delay_actions: Vec<(String, Duration)>,
    /// Wait this long before forwarding requests signed for the region.
    delay_regions: Vec<(String, Duration)>,
    /// How `iam:SimulatePrincipalPolicy` is answered (allow nothing, by default).
    simulation: Simulation,
}

struct ProxyState {
    records: Mutex<Vec<AwsRecord>>,
    faults: Mutex<Faults>,
    upstream: Mutex<u16>,
}

/// moto behind the recording proxy.
pub struct Moto {
    child: Option<Child>,
    port: u16,
    extra_env: Vec<(String, String)>,
    proxy: SocketAddr,
    state: Arc<ProxyState>,
    pub dir: tempfile::TempDir,
    /// Values seeded into secrets and parameters, which must never reach Greenlight.
    pub seeded: Vec<String>,
}

fn venv_bin(program: &str) -> PathBuf {
    let venv = std::env::var_os("GREENLIGHT_VENV").map(PathBuf::from).unwrap_or_else(|| {
        PathBuf::from(std::env::var("HOME").unwrap_or_default()).join(".cache/greenlight/venv")
    });
    let path = venv.join("bin").join(program);
    assert!(
        path.exists(),
        "{} is missing: run scripts/test.sh, which creates the Python venv with moto and awscli",
        path.display()
    );
    path
}

fn free_port() -> u16 {
    std::net::TcpListener::bind("127.0.0.1:0").unwrap().local_addr().unwrap().port()
}

async fn spawn_moto(port: u16, env: &[(String, String)]) -> Child {
    let mut command = Command::new(venv_bin("moto_server"));
    command
        .args(["-H", "127.0.0.1", "-p", &port.to_string()])
        .stdout(Stdio::null())
        .stderr(Stdio::null())
        .kill_on_drop(true);
    for (k, v) in env {
        command.env(k, v);
    }
    let child = command.spawn().unwrap();
    for _ in 0..200 {
        if TcpStream::connect(("127.0.0.1", port)).await.is_ok() {
            return child;
        }
        tokio::time::sleep(Duration::from_millis(50)).await;
    }
    panic!("moto did not start on port {port}");
}

impl Moto {
    pub async fn start() -> Self {
        Self::start_with_env(&[]).await
    }

    /// moto with extra environment, e.g. `INITIAL_NO_AUTH_ACTION_COUNT` for IAM enforcement.
    pub async fn start_with_env(env: &[(&str, &str)]) -> Self {
        let extra_env: Vec<(String, String)> =
            env.iter().map(|(k, v)| (k.to_string(), v.to_string())).collect();
        let port = free_port();
        let child = spawn_moto(port, &extra_env).await;
        let state = Arc::new(ProxyState {
            records: Mutex::new(Vec::new()),
            faults: Mutex::new(Faults::default()),
            upstream: Mutex::new(port),
        });
        let listener = TcpListener::bind("127.0.0.1:0").await.unwrap();
        let proxy = listener.local_addr().unwrap();
        let shared = state.clone();
        tokio::spawn(async move {
            loop {
                let Ok((tcp, _)) = listener.accept().await else { continue };
                let state = shared.clone();
                tokio::spawn(async move {
                    let service = hyper::service::service_fn(move |req| {
                        let state = state.clone();
                        async move { Ok::<_, Infallible>(forward(state, req).await) }
                    });
                    hyper::server::conn::http1::Builder::new()
                        .serve_connection(TokioIo::new(tcp), service)
                        .await
                        .ok();
                });
            }
        });
        let dir = tempfile::tempdir().unwrap();
        std::fs::write(
            dir.path().join("config"),
            "[profile moto]\nregion = us-east-1\n[profile other]\nregion = eu-west-1\n",
        )
        .unwrap();
        std::fs::write(dir.path().join("credentials"), "[moto]\naws_access_key_id = testing\naws_secret_access_key = testing\n[other]\naws_access_key_id = testing\naws_secret_access_key = testing\n").unwrap();
        Self { child: Some(child), port, extra_env, proxy, state, dir, seeded: Vec::new() }
    }

    pub fn endpoint(&self) -> String {
        format!("http://{}", self.proxy)
    }

    /// Replaces the `moto` profile's keys (e.g. with an IAM user's).
    pub fn set_keys(&self, access_key: &str, secret_key: &str) {
        std::fs::write(
            self.dir.path().join("credentials"),
            format!(
                "[moto]\naws_access_key_id = {access_key}\naws_secret_access_key = {secret_key}\n"
            ),
        )
        .unwrap();
    }

    /// The environment every AWS client here runs with: the scratch config, the proxy as the
    /// endpoint, and nothing inherited that could pick another identity.
    pub fn environment(&self, command: &mut Command) {
        for name in [
            "AWS_PROFILE",
            "AWS_ACCESS_KEY_ID",
            "AWS_SECRET_ACCESS_KEY",
            "AWS_SESSION_TOKEN",
            "AWS_REGION",
            "AWS_DEFAULT_REGION",
        ] {
            command.env_remove(name);
        }
        command
            .env("AWS_CONFIG_FILE", self.dir.path().join("config"))
            .env("AWS_SHARED_CREDENTIALS_FILE", self.dir.path().join("credentials"))
            .env("AWS_ENDPOINT_URL", self.endpoint())
            .env("AWS_EC2_METADATA_DISABLED", "true")
            .env("HOME", self.dir.path());
    }

    /// Runs the real `aws` CLI; returns (success, stdout, stderr).
    pub async fn aws(&self, args: &[&str], stdin: &str) -> (bool, String, String) {
        self.shell(
            "bash",
            &format!(
                "aws {}",
                args.iter()
                    .map(|a| shlex::try_quote(a).unwrap().into_owned())
                    .collect::<Vec<_>>()
                    .join(" ")
            ),
            stdin,
        )
        .await
    }

    /// Runs `script` with `shell`, the venv's `aws` first on PATH, `input` on stdin.
    pub async fn shell(&self, shell: &str, script: &str, input: &str) -> (bool, String, String) {
        let path = format!(
            "{}:{}",
            venv_bin("aws").parent().unwrap().display(),
            std::env::var("PATH").unwrap_or_default()
        );
        let mut command = Command::new(shell);
        command.arg("-c").arg(script).env("PATH", path);
        self.environment(&mut command);
        super::run_with_stdin(&mut command, input).await
    }

    /// `greenlight watch --format json` on `spec` against this moto.
    pub fn watch_json(&self, spec: &str) -> super::Running {
        self.spawn_greenlight(&[
            "watch",
            "--platform",
            "aws",
            "--profile",
            "moto",
            "--format",
            "json",
            spec,
        ])
    }

    /// Creates a secret with the real CLI (value on stdin) and remembers the value.
    pub async fn seed_secret(&mut self, region: &str, name: &str, value: &str) {
        self.seeded.push(value.to_owned());
        let (ok, _, err) = self
            .aws(
                &[
                    "secretsmanager",
                    "create-secret",
                    "--profile",
                    "moto",
                    "--region",
                    region,
                    "--name",
                    name,
                    "--secret-string",
                    "file:///dev/stdin",
                ],
                value,
            )
            .await;
        assert!(ok, "{err}");
    }

    /// Creates a parameter with the real CLI and remembers the value.
    pub async fn seed_parameter(&mut self, region: &str, name: &str, kind: &str, value: &str) {
        self.seeded.push(value.to_owned());
        let (ok, _, err) = self
            .aws(
                &[
                    "ssm",
                    "put-parameter",
                    "--profile",
                    "moto",
                    "--region",
                    region,
                    "--name",
                    name,
                    "--type",
                    kind,
                    "--value",
                    "file:///dev/stdin",
                ],
                value,
            )
            .await;
        assert!(ok, "{err}");
    }

    pub async fn greenlight(&self, args: &[&str]) -> (Option<i32>, String, String) {
        let mut command = Command::new(super::greenlight_bin());
        command.args(args).current_dir(super::project_root());
        self.environment(&mut command);
        let out = tokio::time::timeout(Duration::from_secs(120), command.output())
            .await
            .expect("greenlight hung")
            .unwrap();
        (
            out.status.code(),
            String::from_utf8_lossy(&out.stdout).into_owned(),
            String::from_utf8_lossy(&out.stderr).into_owned(),
        )
    }

    pub fn spawn_greenlight(&self, args: &[&str]) -> super::Running {
        let mut command = Command::new(super::greenlight_bin());
        command.args(args).current_dir(super::project_root());
        self.environment(&mut command);
        super::Running::spawn(command)
    }

    pub fn records(&self) -> Vec<AwsRecord> {
        self.state.records.lock().unwrap().clone()
    }

    pub fn clear_records(&self) {
        self.state.records.lock().unwrap().clear();
    }

    /// How `iam:SimulatePrincipalPolicy` answers from now on.
    pub fn set_simulation(&self, simulation: Simulation) {
        self.state.faults.lock().unwrap().simulation = simulation;
    }

    pub fn throttle(&self, requests: usize) {
        self.state.faults.lock().unwrap().throttle = requests;
    }

    pub fn delay(&self, delay: Duration) {
        self.state.faults.lock().unwrap().delay = delay;
    }

    /// Delays only requests whose action contains `action` (e.g. `DescribeSecret`).
    pub fn delay_action(&self, action: &str, delay: Duration) {
        self.state.faults.lock().unwrap().delay_actions.push((action.to_owned(), delay));
    }

    /// Delays only requests signed for `region`, as an endpoint behind an unreachable VPC
    /// endpoint or a firewall does.
    pub fn delay_region(&self, region: &str, delay: Duration) {
        self.state.faults.lock().unwrap().delay_regions.push((region.to_owned(), delay));
    }

    /// Kills moto (the proxy then answers 502, as a dead endpoint behind a load balancer would
    /// not; requests fail either way).
    pub async fn kill(&mut self) {
        if let Some(mut child) = self.child.take() {
            child.kill().await.ok();
        }
    }

    /// Starts a fresh moto (empty, like any restarted moto) on a new port behind the proxy.
    pub async fn restart(&mut self) {
        self.kill().await;
        let port = free_port();
        self.child = Some(spawn_moto(port, &self.extra_env).await);
        self.port = port;
        *self.state.upstream.lock().unwrap() = port;
    }

    /// Proves from the proxy's records that Greenlight never called an operation that returns
    /// values, and was never sent a seeded value.
    pub fn assert_value_free(&self) {
        let records: Vec<AwsRecord> =
            self.records().into_iter().filter(AwsRecord::sent_by_greenlight).collect();
        assert!(!records.is_empty(), "Greenlight made no AWS requests; the check proves nothing");
        let forbidden = [
            "GetSecretValue",
            "BatchGetSecretValue",
            "GetParameter",
            "GetParameters",
            "GetParametersByPath",
            "GetParameterHistory",
        ];
        for record in &records {
            let operation = record.action.rsplit(['.', '=']).next().unwrap_or_default();
            assert!(!forbidden.contains(&operation), "Greenlight called {} ", record.action);
            for value in &self.seeded {
                assert!(
                    !record.body.contains(value.as_str()),
                    "a seeded value reached Greenlight in the answer to {}",
                    record.action
                );
            }
        }
    }
}

#[expect(
    clippy::too_many_lines,
    reason = "the proxy's route table: each intercepted AWS action is one arm"
)]
async fn forward(
    state: Arc<ProxyState>,
    req: Request<hyper::body::Incoming>,
) -> Response<Full<Bytes>> {
    let (parts, body) = req.into_parts();
    let body = body.collect().await.map(|b| b.to_bytes()).unwrap_or_default();
    let header = |name: &str| {
        parts.headers.get(name).and_then(|v| v.to_str().ok()).unwrap_or_default().to_owned()
    };
    let user_agent = header("user-agent");
    let action = match header("x-amz-target") {
        target if !target.is_empty() => target,
        _ => String::from_utf8_lossy(&body)
            .split('&')
            .find(|kv| kv.starts_with("Action="))
            .unwrap_or_default()
            .to_owned(),
    };
    let greenlight = user_agent.contains("app/greenlight");
    // SigV4: Credential=KEY/DATE/REGION/SERVICE/aws4_request
    let region = header("authorization")
        .split("Credential=")
        .nth(1)
        .and_then(|scope| scope.split('/').nth(2))
        .unwrap_or_default()
        .to_owned();
    let (throttle, delay) = {
        let mut faults = state.faults.lock().unwrap();
        let throttle = greenlight && faults.throttle > 0;
        if throttle {
            faults.throttle -= 1;
        }
        let targeted = faults
            .delay_actions
            .iter()
            .filter(|(a, _)| action.contains(a.as_str()))
            .chain(faults.delay_regions.iter().filter(|(r, _)| *r == region))
            .map(|(_, d)| *d)
            .max()
            .unwrap_or_default();
        (throttle, faults.delay.max(targeted))
    };
    let request_text = String::from_utf8_lossy(&body).into_owned();
    let record = |status: u16, body: &str| {
        state.records.lock().unwrap().push(AwsRecord {
            user_agent: user_agent.clone(),
            action: action.clone(),
            status,
            request: request_text.clone(),
            body: body.to_owned(),
        });
    };
    if action == "Action=SimulatePrincipalPolicy" {
        let simulation = state.faults.lock().unwrap().simulation.clone();
        let (status, text) = simulated(&simulation, &request_text);
        record(status, &text);
        return Response::builder()
            .status(status)
            .header("content-type", "text/xml")
            .body(Full::new(Bytes::from(text)))
            .unwrap();
    }
    if throttle {
        let text = r#"{"__type":"ThrottlingException","message":"Rate exceeded"}"#;
        record(400, text);
        return Response::builder()
            .status(400)
            .header("content-type", "application/x-amz-json-1.1")
            .body(Full::new(Bytes::from(text)))
            .unwrap();
    }
    if !delay.is_zero() {
        tokio::time::sleep(delay).await;
    }
    let port = *state.upstream.lock().unwrap();
    let upstream = async {
        let tcp = TcpStream::connect(("127.0.0.1", port)).await.ok()?;
        let (mut sender, connection) =
            hyper::client::conn::http1::handshake(TokioIo::new(tcp)).await.ok()?;
        tokio::spawn(connection);
        let mut request = Request::from_parts(parts, Full::new(body));
        *request.uri_mut() =
            request.uri().path_and_query().map(|p| p.as_str()).unwrap_or("/").parse().ok()?;
        let response = sender.send_request(request).await.ok()?;
        let (parts, body) = response.into_parts();
        let bytes = body.collect().await.ok()?.to_bytes();
        Some((parts, bytes))
    };
    match upstream.await {
        Some((parts, bytes)) => {
            record(parts.status.as_u16(), &String::from_utf8_lossy(&bytes));
            Response::from_parts(parts, Full::new(bytes))
        }
        None => {
            record(502, "");
            Response::builder()
                .status(502)
                .body(Full::new(Bytes::from_static(b"moto is down")))
                .unwrap()
        }
    }
}
