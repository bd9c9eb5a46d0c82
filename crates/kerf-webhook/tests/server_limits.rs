//! The webhook server's bounds ([`kerf_webhook::server::Limits`]) as a client
//! meets them over real TCP and TLS on loopback: a client that never starts
//! the TLS handshake, one that stops halfway through its request head, one
//! that negotiates HTTP/2 and then says nothing, one that stalls its body
//! and one that sends too large a body are all cut off, connections beyond
//! the cap wait instead of being served alongside the others, and an
//! ordinary AdmissionReview is still answered.
//!
//! The limits are shortened to fractions of a second; the assertions are
//! about what happens (disconnected, refused, waiting), with upper bounds
//! many times the configured ones, not about how fast.

use std::net::{Ipv4Addr, SocketAddr};
use std::sync::Arc;
use std::time::{Duration, Instant};

use kerf_webhook::CertBundle;
use kerf_webhook::server::{
    CertResolver, HEALTH_PATH, Limits, RunningServer, VALIDATE_PATH, serve_with_limits,
};
use serde_json::{Value, json};
use time::OffsetDateTime;
use tokio::io::{AsyncReadExt, AsyncWriteExt};
use tokio::net::TcpStream;
use tokio_rustls::TlsConnector;
use tokio_rustls::client::TlsStream;
use tokio_rustls::rustls::pki_types::pem::PemObject;
use tokio_rustls::rustls::pki_types::{CertificateDer, ServerName};
use tokio_rustls::rustls::{ClientConfig, RootCertStore, crypto::ring};

/// What each test waits at most for something the server must do after a
/// limit of a few hundred ms: generous, so a loaded machine does not fail it.
const BOUND: Duration = Duration::from_secs(10);

/// Limits of a few hundred ms (long ones where a test must not hit them).
fn short() -> Limits {
    Limits {
        tls_handshake_timeout: Duration::from_millis(200),
        header_read_timeout: Duration::from_millis(200),
        request_timeout: Duration::from_millis(300),
        idle_timeout: Duration::from_millis(300),
        max_body_bytes: 64 * 1024,
        max_connections: 16,
    }
}

struct Server {
    running: Option<RunningServer>,
    addr: SocketAddr,
    ca_pem: String,
}

impl Server {
    async fn start(limits: Limits) -> Self {
        let bundle =
            CertBundle::generate(&["localhost".to_string()], OffsetDateTime::now_utc()).unwrap();
        let ca_pem = bundle.ca_pem.clone();
        let resolver = CertResolver::new(bundle).unwrap();
        let running = serve_with_limits((Ipv4Addr::LOCALHOST, 0).into(), resolver, limits)
            .await
            .unwrap();
        Self {
            addr: running.local_addr,
            running: Some(running),
            ca_pem,
        }
    }

    /// A TLS client trusting the server's CA, offering `alpn`.
    fn connector(&self, alpn: &[&[u8]]) -> TlsConnector {
        let mut roots = RootCertStore::empty();
        roots
            .add(CertificateDer::from_pem_slice(self.ca_pem.as_bytes()).unwrap())
            .unwrap();
        let mut config = ClientConfig::builder_with_provider(Arc::new(ring::default_provider()))
            .with_safe_default_protocol_versions()
            .unwrap()
            .with_root_certificates(roots)
            .with_no_client_auth();
        config.alpn_protocols = alpn.iter().map(|p| p.to_vec()).collect();
        TlsConnector::from(Arc::new(config))
    }

    async fn tls(&self, alpn: &[&[u8]]) -> TlsStream<TcpStream> {
        let tcp = TcpStream::connect(self.addr).await.unwrap();
        self.connector(alpn)
            .connect(ServerName::try_from("localhost").unwrap(), tcp)
            .await
            .expect("TLS handshake with the webhook")
    }

    async fn shutdown(mut self) {
        if let Some(running) = self.running.take() {
            running.shutdown().await;
        }
    }
}

/// Reads until the server closes the connection (EOF or reset); what it
/// sent first. Panics if it is still open after [`BOUND`].
async fn read_until_closed<S: AsyncReadExt + Unpin>(stream: &mut S) -> String {
    let mut out = Vec::new();
    let mut buf = [0u8; 4096];
    let deadline = Instant::now() + BOUND;
    loop {
        let left = deadline.saturating_duration_since(Instant::now());
        match tokio::time::timeout(left, stream.read(&mut buf)).await {
            Err(_) => panic!(
                "connection still open after {BOUND:?}; received so far: {:?}",
                String::from_utf8_lossy(&out)
            ),
            Ok(Ok(0)) | Ok(Err(_)) => return String::from_utf8_lossy(&out).into_owned(),
            Ok(Ok(n)) => out.extend_from_slice(&buf[..n]),
        }
    }
}

/// One HTTP/1.1 request on a fresh connection (`Connection: close`); the
/// status code and the body.
async fn request(server: &Server, method: &str, path: &str, body: &[u8]) -> (u16, String) {
    let mut tls = server.tls(&[b"http/1.1"]).await;
    let head = format!(
        "{method} {path} HTTP/1.1\r\nHost: localhost\r\nContent-Type: application/json\r\n\
         Content-Length: {}\r\nConnection: close\r\n\r\n",
        body.len()
    );
    tls.write_all(head.as_bytes()).await.unwrap();
    tls.write_all(body).await.unwrap();
    tls.flush().await.unwrap();
    parse_response(&read_until_closed(&mut tls).await)
}

fn parse_response(text: &str) -> (u16, String) {
    let status = text
        .split_whitespace()
        .nth(1)
        .and_then(|s| s.parse().ok())
        .unwrap_or_else(|| panic!("not an HTTP response: {text:?}"));
    let body = text
        .split_once("\r\n\r\n")
        .map(|(_, b)| b.to_string())
        .unwrap_or_default();
    (status, body)
}

fn review() -> Value {
    json!({
        "apiVersion": "admission.k8s.io/v1",
        "kind": "AdmissionReview",
        "request": {
            "uid": "705ab4f5-6393-11e8-b7cc-42010a800002",
            "kind": {"group": "karpenter.sh", "version": "v1alpha5", "kind": "Provisioner"},
            "resource": {"group": "karpenter.sh", "version": "v1alpha5", "resource": "provisioners"},
            "name": "default",
            "operation": "CREATE",
            "userInfo": {"username": "admin"},
            "object": {
                "apiVersion": "karpenter.sh/v1alpha5", "kind": "Provisioner",
                "metadata": {"name": "default"},
                "spec": {"requirements": [
                    {"key": "karpenter.sh/capacity-type", "operator": "Gte", "values": ["spot"]}
                ]}
            },
            "oldObject": null,
            "dryRun": false
        }
    })
}

#[tokio::test]
async fn a_client_that_never_starts_tls_is_disconnected_after_the_handshake_timeout() {
    let server = Server::start(short()).await;
    let mut tcp = TcpStream::connect(server.addr).await.unwrap();
    let connected = Instant::now();
    let sent = read_until_closed(&mut tcp).await;
    // The server sends nothing before a ClientHello, and closes on its own
    // deadline, not at once.
    assert_eq!(sent, "");
    assert!(
        connected.elapsed() >= Duration::from_millis(150),
        "closed after {:?}, before the handshake timeout",
        connected.elapsed()
    );
    server.shutdown().await;
}

#[tokio::test]
async fn a_client_that_stops_in_the_request_head_is_disconnected() {
    let server = Server::start(Limits {
        // Only the head deadline may end this connection.
        idle_timeout: Duration::from_secs(60),
        ..short()
    })
    .await;
    let mut tls = server.tls(&[b"http/1.1"]).await;
    tls.write_all(b"POST /validate HTTP/1.1\r\nHost: localhost\r\nContent-Type: appl")
        .await
        .unwrap();
    tls.flush().await.unwrap();
    let sent = read_until_closed(&mut tls).await;
    // hyper answers a head timeout with 408 before closing; nothing else.
    assert!(
        sent.is_empty() || sent.starts_with("HTTP/1.1 408"),
        "unexpected answer: {sent:?}"
    );
    server.shutdown().await;
}

#[tokio::test]
async fn an_http2_client_that_sends_nothing_is_disconnected_after_the_idle_timeout() {
    let server = Server::start(short()).await;
    let mut tls = server.tls(&[b"h2"]).await;
    assert_eq!(tls.get_ref().1.alpn_protocol(), Some(b"h2".as_slice()));
    // No connection preface: hyper's HTTP/2 handshake would wait forever.
    read_until_closed(&mut tls).await;
    server.shutdown().await;
}

#[tokio::test]
async fn a_stalled_body_is_answered_408_and_a_large_one_413() {
    let server = Server::start(Limits {
        idle_timeout: Duration::from_secs(60),
        header_read_timeout: Duration::from_secs(60),
        ..short()
    })
    .await;

    // Says 100 bytes, sends 10.
    let mut tls = server.tls(&[b"http/1.1"]).await;
    tls.write_all(
        b"POST /validate HTTP/1.1\r\nHost: localhost\r\nContent-Type: application/json\r\n\
          Content-Length: 100\r\nConnection: close\r\n\r\n{\"apiVersi",
    )
    .await
    .unwrap();
    tls.flush().await.unwrap();
    let (status, body) = parse_response(&read_until_closed(&mut tls).await);
    assert_eq!(status, 408, "{body}");

    // Over max_body_bytes (64 KiB here).
    let mut big = review();
    big["request"]["object"]["metadata"]["annotations"] = json!({"pad": "x".repeat(100 * 1024)});
    let (status, body) = request(
        &server,
        "POST",
        VALIDATE_PATH,
        &serde_json::to_vec(&big).unwrap(),
    )
    .await;
    assert_eq!(status, 413, "{body}");
    server.shutdown().await;
}

#[tokio::test]
async fn an_admission_review_is_still_answered() {
    let server = Server::start(short()).await;
    let (status, body) = request(
        &server,
        "POST",
        VALIDATE_PATH,
        &serde_json::to_vec(&review()).unwrap(),
    )
    .await;
    assert_eq!(status, 200, "{body}");
    let answer: Value = serde_json::from_str(&body).unwrap();
    assert_eq!(answer["kind"], "AdmissionReview");
    assert_eq!(
        answer["response"]["uid"],
        "705ab4f5-6393-11e8-b7cc-42010a800002"
    );
    // The operator Gte is not one Karpenter allows: refused, with a reason.
    assert_eq!(answer["response"]["allowed"], false, "{answer}");
    let (status, body) = request(&server, "GET", HEALTH_PATH, b"").await;
    assert_eq!((status, body.as_str()), (200, "ok"));
    server.shutdown().await;
}

#[tokio::test]
async fn connections_beyond_the_cap_wait_for_a_free_slot() {
    let server = Server::start(Limits {
        max_connections: 2,
        // Long enough that the two held connections are not closed by a
        // deadline while the third waits.
        header_read_timeout: Duration::from_secs(30),
        idle_timeout: Duration::from_secs(30),
        tls_handshake_timeout: Duration::from_secs(30),
        ..short()
    })
    .await;
    let first = server.tls(&[b"http/1.1"]).await;
    let second = server.tls(&[b"http/1.1"]).await;

    // The third connects (the kernel's listen backlog takes it) but is not
    // accepted, so its TLS handshake does not complete while both slots
    // are held.
    let tcp = TcpStream::connect(server.addr).await.unwrap();
    let connector = server.connector(&[b"http/1.1"]);
    let handshake = tokio::spawn(async move {
        connector
            .connect(ServerName::try_from("localhost").unwrap(), tcp)
            .await
    });
    tokio::time::sleep(Duration::from_millis(700)).await;
    assert!(
        !handshake.is_finished(),
        "a third connection was served while two of two slots were taken"
    );

    // A slot frees: the waiting connection is served.
    drop(first);
    let mut third = tokio::time::timeout(BOUND, handshake)
        .await
        .expect("the waiting connection was never accepted")
        .unwrap()
        .expect("TLS handshake of the waiting connection");
    third
        .write_all(b"GET /healthz HTTP/1.1\r\nHost: localhost\r\nConnection: close\r\n\r\n")
        .await
        .unwrap();
    third.flush().await.unwrap();
    let (status, body) = parse_response(&read_until_closed(&mut third).await);
    assert_eq!((status, body.as_str()), (200, "ok"));
    drop(second);
    server.shutdown().await;
}

#[tokio::test]
async fn a_zero_connection_cap_is_refused() {
    let bundle =
        CertBundle::generate(&["localhost".to_string()], OffsetDateTime::now_utc()).unwrap();
    let resolver = CertResolver::new(bundle).unwrap();
    let err = serve_with_limits(
        (Ipv4Addr::LOCALHOST, 0).into(),
        resolver,
        Limits {
            max_connections: 0,
            ..Limits::default()
        },
    )
    .await
    .unwrap_err();
    assert!(err.to_string().contains("max_connections"), "{err}");
}
