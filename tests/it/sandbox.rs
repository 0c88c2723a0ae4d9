//! The sandbox API server as something running on the operator's machine, where other local
//! users and processes can reach its port: only its own token gets in, and nobody can knock it
//! over without one.

use std::time::{Duration, Instant};

use crate::support::apiserver::{ADMIN_TOKEN, ApiServer, Rule};

/// Sends `request` (raw HTTP/1.1, `BODY` replaced by `body_len` bytes sent in 1 MiB chunks
/// after the headers, if any) over TLS to `port` and returns the status line, or why not.
async fn raw(port: u16, request: &str, body_len: usize) -> String {
    let script = r#"
import socket, ssl, sys
port, request, body_len = int(sys.argv[1]), sys.argv[2].encode(), int(sys.argv[3])
ctx = ssl.create_default_context(); ctx.check_hostname = False; ctx.verify_mode = ssl.CERT_NONE
s = ctx.wrap_socket(socket.create_connection(("127.0.0.1", port)), server_hostname="localhost")
s.settimeout(10)
s.sendall(request)
try:
    sent = 0
    while sent < body_len:
        s.sendall(b"x" * min(1 << 20, body_len - sent)); sent += 1 << 20
except OSError:
    pass
try:
    print(s.recv(200).decode("latin-1").split("\r\n")[0])
except OSError as e:
    print("error:", e)
"#;
    let out = tokio::process::Command::new("python3")
        .args(["-c", script, &port.to_string(), request, &body_len.to_string()])
        .output()
        .await
        .unwrap();
    String::from_utf8_lossy(&out.stdout).trim().to_owned()
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_server_has_no_users_but_those_added() {
    let server = ApiServer::start().await.unwrap();
    let get = |token: &str| {
        format!("GET /api/v1/secrets HTTP/1.1\r\nHost: x\r\nAuthorization: Bearer {token}\r\n\r\n")
    };
    assert_eq!(raw(server.port(), &get(ADMIN_TOKEN), 0).await, "HTTP/1.1 401 Unauthorized");
    server.add_user("operator", "random-operator-token-1234", vec![Rule::admin()]);
    assert_eq!(raw(server.port(), &get("random-operator-token-1234"), 0).await, "HTTP/1.1 200 OK");
    let server = server.with_admin();
    assert_eq!(raw(server.port(), &get(ADMIN_TOKEN), 0).await, "HTTP/1.1 200 OK");
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_caller_without_a_token_is_refused_before_its_body_is_read() {
    let server = ApiServer::start().await.unwrap();
    // Announces a gigabyte and sends nothing more: the answer comes at once.
    let request = "POST /api/v1/namespaces/default/secrets HTTP/1.1\r\nHost: x\r\nContent-Type: application/json\r\nContent-Length: 1073741824\r\n\r\n";
    let started = Instant::now();
    assert_eq!(raw(server.port(), request, 0).await, "HTTP/1.1 401 Unauthorized");
    assert!(started.elapsed() < Duration::from_secs(5));
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_body_past_the_limit_is_refused() {
    let server = ApiServer::start().await.unwrap();
    server.add_user("operator", "operator-token-5678", vec![Rule::admin()]);
    let size = 4 * 1024 * 1024;
    let request = format!(
        "POST /api/v1/namespaces/default/secrets HTTP/1.1\r\nHost: x\r\nAuthorization: Bearer operator-token-5678\r\nContent-Type: application/json\r\nContent-Length: {size}\r\n\r\n"
    );
    assert_eq!(raw(server.port(), &request, size).await, "HTTP/1.1 413 Payload Too Large");
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_connection_that_never_finishes_its_handshake_is_closed() {
    use tokio::io::AsyncReadExt;
    let server = ApiServer::start().await.unwrap();
    let mut tcp = tokio::net::TcpStream::connect(("127.0.0.1", server.port())).await.unwrap();
    let mut buffer = [0u8; 16];
    let closed = tokio::time::timeout(Duration::from_secs(20), tcp.read(&mut buffer)).await;
    assert!(matches!(closed, Ok(Ok(0) | Err(_))), "still open after 20 s: {closed:?}");
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn history_is_compacted_so_old_versions_are_gone() {
    let server = ApiServer::start().await.unwrap().with_admin();
    server.create_namespace("ns");
    for i in 0..1100 {
        server.put_secret("ns", &format!("s{i}"), &[("k", "value-long-enough")]);
    }
    // A watch from the very first version finds it compacted away.
    let request = format!(
        "GET /api/v1/namespaces/ns/secrets?watch=1&resourceVersion=101 HTTP/1.1\r\nHost: x\r\nAuthorization: Bearer {ADMIN_TOKEN}\r\n\r\n"
    );
    assert_eq!(raw(server.port(), &request, 0).await, "HTTP/1.1 200 OK");
    let records = server.records();
    let watch = records.iter().rev().find(|r| r.query.contains("watch=1")).unwrap();
    tokio::time::sleep(Duration::from_millis(200)).await;
    let body = String::from_utf8_lossy(&watch.body()).into_owned();
    assert!(body.contains("\"code\":410"), "{body}");
}
