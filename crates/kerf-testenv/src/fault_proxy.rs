//! A fault-injecting HTTPS proxy in front of kube-apiserver, on loopback: a
//! client pointed at it (through [`FaultProxy::kubeconfig_path`]) gets some of
//! its requests answered `429 Too Many Requests` (with `Retry-After`), `500`
//! or `503` by the proxy instead of the API server, and its watches cut
//! mid-stream after a while, as a loaded or flapping API server (or a load
//! balancer in front of it) would do. Everything else is forwarded to the
//! real API server with the admin identity, bodies streamed both ways.
//!
//! The proxy serves the API server's own certificate (it names 127.0.0.1 and
//! is signed by the plane's CA), so the kubeconfig differs from the admin one
//! only in its server URL; the client certificate it carries is not asked
//! for, the proxy authenticates upstream itself.

use std::net::SocketAddr;
use std::path::{Path, PathBuf};
use std::sync::Arc;
use std::sync::atomic::{AtomicU64, Ordering};
use std::time::Duration;

use axum::body::Body;
use axum::extract::{Request, State};
use axum::response::{IntoResponse, Response};
use futures::StreamExt;
use http::{HeaderValue, StatusCode, header};
use hyper_util::rt::{TokioExecutor, TokioIo};
use hyper_util::server::conn::auto;
use hyper_util::service::TowerToHyperService;
use tokio::net::TcpListener;
use tokio::task::JoinHandle;
use tokio_rustls::TlsAcceptor;
use tokio_rustls::rustls::ServerConfig;
use tokio_rustls::rustls::crypto::ring;
use tokio_rustls::rustls::pki_types::pem::PemObject;
use tokio_rustls::rustls::pki_types::{CertificateDer, PrivateKeyDer};

use crate::error::{Error, Result};

/// Which faults to inject.
#[derive(Clone, Copy, Debug)]
pub struct Faults {
    /// Every `fail_every`-th request (not counting watches) is answered by
    /// the proxy with an error, in turn 429, 500 and 503; 0 never.
    pub fail_every: u64,
    /// A watch's response ends this long after it started (the client sees
    /// the stream end, as when a connection drops); `None` never.
    pub cut_watches_after: Option<Duration>,
}

/// What the proxy did so far.
#[derive(Debug, Default)]
pub struct FaultCounts {
    pub forwarded: AtomicU64,
    pub too_many_requests: AtomicU64,
    pub server_errors: AtomicU64,
    pub watches_cut: AtomicU64,
    seen: AtomicU64,
}

impl FaultCounts {
    fn get(counter: &AtomicU64) -> u64 {
        counter.load(Ordering::Relaxed)
    }

    /// (forwarded, 429s, 5xx, watches cut) so far.
    pub fn snapshot(&self) -> (u64, u64, u64, u64) {
        (
            Self::get(&self.forwarded),
            Self::get(&self.too_many_requests),
            Self::get(&self.server_errors),
            Self::get(&self.watches_cut),
        )
    }
}

/// A running proxy; dropping it stops accepting connections.
pub struct FaultProxy {
    addr: SocketAddr,
    kubeconfig: PathBuf,
    counts: Arc<FaultCounts>,
    task: JoinHandle<()>,
}

impl Drop for FaultProxy {
    fn drop(&mut self) {
        self.task.abort();
    }
}

impl FaultProxy {
    /// `https://127.0.0.1:<port>` of the proxy.
    pub fn url(&self) -> String {
        format!("https://{}", self.addr)
    }

    /// A kubeconfig like the admin one, with the proxy as its server.
    pub fn kubeconfig_path(&self) -> &Path {
        &self.kubeconfig
    }

    pub fn counts(&self) -> &FaultCounts {
        &self.counts
    }
}

struct Shared {
    upstream: kube::Client,
    faults: Faults,
    counts: Arc<FaultCounts>,
}

/// Starts the proxy on a free loopback port. `admin_kubeconfig` is rewritten
/// (server URL only) into `dir/kubeconfig-fault-proxy`.
pub(crate) async fn start(
    upstream: kube::Client,
    faults: Faults,
    serving_cert: &Path,
    serving_key: &Path,
    admin_kubeconfig: &Path,
    server_url: &str,
    dir: &Path,
) -> Result<FaultProxy> {
    let tls = tls_config(serving_cert, serving_key)?;
    let listener = TcpListener::bind("127.0.0.1:0")
        .await
        .map_err(|e| Error::io("binding the fault proxy", e))?;
    let addr = listener
        .local_addr()
        .map_err(|e| Error::io("the fault proxy's address", e))?;
    let admin = std::fs::read_to_string(admin_kubeconfig)
        .map_err(|e| Error::io("reading the admin kubeconfig", e))?;
    let kubeconfig = dir.join("kubeconfig-fault-proxy");
    std::fs::write(
        &kubeconfig,
        admin.replace(server_url, &format!("https://{addr}")),
    )
    .map_err(|e| Error::io("writing the fault proxy's kubeconfig", e))?;

    let counts = Arc::new(FaultCounts::default());
    let shared = Arc::new(Shared {
        upstream,
        faults,
        counts: counts.clone(),
    });
    let app = axum::Router::new().fallback(handle).with_state(shared);
    let acceptor = TlsAcceptor::from(Arc::new(tls));
    let task = tokio::spawn(async move {
        loop {
            let Ok((tcp, _)) = listener.accept().await else {
                continue;
            };
            let acceptor = acceptor.clone();
            let app = app.clone();
            tokio::spawn(async move {
                let Ok(tls) = acceptor.accept(tcp).await else {
                    return;
                };
                let service = TowerToHyperService::new(app);
                let _ = auto::Builder::new(TokioExecutor::new())
                    .http1_only()
                    .serve_connection(TokioIo::new(tls), service)
                    .await;
            });
        }
    });
    Ok(FaultProxy {
        addr,
        kubeconfig,
        counts,
        task,
    })
}

fn tls_config(cert: &Path, key: &Path) -> Result<ServerConfig> {
    let bad = |what: &str, e: &dyn std::fmt::Display| Error::Tls(format!("{what}: {e}"));
    let certs = CertificateDer::pem_file_iter(cert)
        .map_err(|e| bad("the serving certificate", &e))?
        .collect::<std::result::Result<Vec<_>, _>>()
        .map_err(|e| bad("the serving certificate", &e))?;
    let key = PrivateKeyDer::from_pem_file(key).map_err(|e| bad("the serving key", &e))?;
    let mut config = ServerConfig::builder_with_provider(Arc::new(ring::default_provider()))
        .with_safe_default_protocol_versions()
        .map_err(|e| bad("TLS versions", &e))?
        .with_no_client_auth()
        .with_single_cert(certs, key)
        .map_err(|e| bad("the serving certificate", &e))?;
    config.alpn_protocols = vec![b"http/1.1".to_vec()];
    Ok(config)
}

fn is_watch(request: &Request) -> bool {
    request
        .uri()
        .query()
        .is_some_and(|q| q.split('&').any(|p| p == "watch=true" || p == "watch=1"))
}

async fn handle(State(shared): State<Arc<Shared>>, request: Request) -> Response {
    let watch = is_watch(&request);
    if !watch && shared.faults.fail_every > 0 {
        let n = shared.counts.seen.fetch_add(1, Ordering::Relaxed) + 1;
        if n.is_multiple_of(shared.faults.fail_every) {
            return injected(&shared.counts, n / shared.faults.fail_every);
        }
    }
    match forward(&shared.upstream, request).await {
        Ok(response) => {
            shared.counts.forwarded.fetch_add(1, Ordering::Relaxed);
            match shared.faults.cut_watches_after {
                Some(after) if watch => cut(response, after, shared.counts.clone()),
                _ => response,
            }
        }
        Err(e) => (StatusCode::BAD_GATEWAY, format!("fault proxy: {e}")).into_response(),
    }
}

/// The `k`-th injected failure: 429, 500, 503 in turn, each with a Status
/// body as the API server writes one.
fn injected(counts: &FaultCounts, k: u64) -> Response {
    let (status, reason) = match k % 3 {
        1 => (StatusCode::TOO_MANY_REQUESTS, "TooManyRequests"),
        2 => (StatusCode::INTERNAL_SERVER_ERROR, "InternalError"),
        _ => (StatusCode::SERVICE_UNAVAILABLE, "ServiceUnavailable"),
    };
    let counter = if status == StatusCode::TOO_MANY_REQUESTS {
        &counts.too_many_requests
    } else {
        &counts.server_errors
    };
    counter.fetch_add(1, Ordering::Relaxed);
    let body = serde_json::json!({
        "kind": "Status", "apiVersion": "v1", "status": "Failure",
        "message": "injected by kerf-testenv's fault proxy",
        "reason": reason, "code": status.as_u16(),
        "details": {"retryAfterSeconds": 1},
    });
    let mut response = (status, body.to_string()).into_response();
    let headers = response.headers_mut();
    headers.insert(
        header::CONTENT_TYPE,
        HeaderValue::from_static("application/json"),
    );
    headers.insert(header::RETRY_AFTER, HeaderValue::from_static("1"));
    response
}

async fn forward(
    upstream: &kube::Client,
    request: Request,
) -> std::result::Result<Response, String> {
    let (parts, body) = request.into_parts();
    let bytes = axum::body::to_bytes(body, 64 << 20)
        .await
        .map_err(|e| format!("reading the request body: {e}"))?;
    let path = parts
        .uri
        .path_and_query()
        .map(|p| p.as_str().to_string())
        .unwrap_or_else(|| "/".into());
    let mut builder = http::Request::builder().method(parts.method).uri(path);
    for (name, value) in &parts.headers {
        // The proxy's own connection and identity, not the client's.
        if name != header::HOST && name != header::AUTHORIZATION && name != header::CONNECTION {
            builder = builder.header(name, value);
        }
    }
    let upstream_request = builder
        .body(kube::client::Body::from(bytes.to_vec()))
        .map_err(|e| format!("building the request: {e}"))?;
    let response = upstream
        .send(upstream_request)
        .await
        .map_err(|e| format!("forwarding: {e}"))?;
    let (mut parts, body) = response.into_parts();
    // Hop-by-hop: hyper frames the body for the client's connection itself.
    for hop in [header::CONNECTION, header::TRANSFER_ENCODING] {
        parts.headers.remove(hop);
    }
    Ok(Response::from_parts(parts, Body::new(body)))
}

/// The watch response, ended `after` it started.
fn cut(response: Response, after: Duration, counts: Arc<FaultCounts>) -> Response {
    let (parts, body) = response.into_parts();
    let deadline = tokio::time::sleep(after);
    let stream = body.into_data_stream().take_until(async move {
        deadline.await;
        counts.watches_cut.fetch_add(1, Ordering::Relaxed);
    });
    let mut parts = parts;
    parts.headers.remove(header::CONTENT_LENGTH);
    Response::from_parts(parts, Body::from_stream(stream))
}
