//! The HTTPS server: axum routes over hyper, TLS by rustls (ring), with a
//! certificate that can be swapped while serving (rotation), and the bounds
//! that keep slow or idle clients from holding it ([`Limits`]).
//!
//! Routes: `POST /validate` and `POST /mutate` (AdmissionReview v1, see
//! [`kerf_admission::admission`]), `GET /healthz`.
//!
//! Every connection holds one of [`Limits::max_connections`] slots from
//! before it is accepted until it closes, and each phase that waits on the
//! client has a deadline: the TLS handshake, the request head (HTTP/1; the
//! same deadline closes idle keep-alive connections), the whole request,
//! body reading included, and time without any request in flight (HTTP/2,
//! whose connections hyper would otherwise keep open for as long as the
//! client likes). HTTP/2 connections are also pinged so dead peers give
//! their slot back.

use std::net::SocketAddr;
use std::sync::{Arc, RwLock};
use std::time::Duration;

use axum::Json;
use axum::Router;
use axum::extract::{DefaultBodyLimit, Request, State};
use axum::http::StatusCode;
use axum::middleware::{self, Next};
use axum::response::{IntoResponse, Response};
use axum::routing::{get, post};
use hyper_util::rt::{TokioExecutor, TokioIo, TokioTimer};
use hyper_util::server::conn::auto;
use hyper_util::service::TowerToHyperService;
use kube::core::conversion::ConversionReview;
use tokio::net::TcpListener;
use tokio::sync::{OwnedSemaphorePermit, Semaphore, watch};
use tokio::task::JoinHandle;
use tokio_rustls::TlsAcceptor;
use tokio_rustls::rustls::ServerConfig;
use tokio_rustls::rustls::crypto::ring;
use tokio_rustls::rustls::server::{ClientHello, ResolvesServerCert};
use tokio_rustls::rustls::sign::CertifiedKey;

use crate::certs::{CertBundle, CertError};
use kerf_admission::admission::{self, Review};

/// Path of the validating webhook.
pub const VALIDATE_PATH: &str = "/validate";
/// Path of the mutating (defaulting) webhook.
pub const MUTATE_PATH: &str = "/mutate";
/// Liveness/readiness path.
pub const HEALTH_PATH: &str = "/healthz";
/// Where the CRDs' conversion webhook posts ConversionReviews (the path the
/// CRDs name).
pub const CONVERT_PATH: &str = kerf_api::crds::CONVERSION_SERVICE.2;

/// How often an idle HTTP/2 connection is pinged, and how long the ping may
/// go unanswered before the connection is closed: a peer that vanished
/// without a FIN (node gone, NAT entry expired) gives its slot back.
const HTTP2_KEEP_ALIVE_INTERVAL: Duration = Duration::from_secs(30);
const HTTP2_KEEP_ALIVE_TIMEOUT: Duration = Duration::from_secs(10);

/// After a failed `accept` (e.g. out of file descriptors) the loop pauses
/// this long instead of spinning on the same error.
const ACCEPT_ERROR_BACKOFF: Duration = Duration::from_millis(100);

/// Bounds on what one client can make the server hold. The defaults suit the
/// kube-apiserver (and the kubelet's probes) as clients; tests shorten them.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Limits {
    /// The TLS handshake must finish within this long of the TCP accept; a
    /// client that connects and sends nothing is disconnected then.
    pub tls_handshake_timeout: Duration,
    /// HTTP/1: the request line and headers must arrive within this long
    /// of the server starting to read them. This includes the wait for the
    /// next request on a keep-alive connection, so idle HTTP/1 connections
    /// are closed after it too.
    pub header_read_timeout: Duration,
    /// The whole request, reading its body included, must be answered
    /// within this long, else `408 Request Timeout`. The API server waits at
    /// most 30 s for a webhook (`timeoutSeconds` is capped at 30), so no
    /// answer later than that can be of use.
    pub request_timeout: Duration,
    /// A connection with no request in flight for this long is closed
    /// (HTTP/2: GOAWAY, then closed if the client has not closed it within
    /// `header_read_timeout`). Counted from the end of the TLS handshake, so
    /// it also ends an HTTP/2 connection that never sends its preface.
    /// HTTP/1 connections are closed sooner by `header_read_timeout`, which
    /// also runs while hyper waits for the next request.
    pub idle_timeout: Duration,
    /// Largest request body accepted (`413 Payload Too Large` beyond).
    /// The API server's own limit on a request body is 3 MiB; a review of
    /// an UPDATE carries the object twice, but objects of kerf's kinds are
    /// a few KiB. (axum's default, were this not set, is 2 MB.)
    pub max_body_bytes: usize,
    /// Connections open at once (TLS handshakes included). When all are
    /// taken the server stops accepting: new connections wait in the
    /// listen backlog until one closes, rather than being dropped. A
    /// dropped connection is an admission refused at once (failurePolicy
    /// Fail), whereas a waiting one is served as soon as a slot frees, and
    /// the deadlines above bound how long any slot is held.
    pub max_connections: usize,
}

impl Default for Limits {
    fn default() -> Self {
        Self {
            tls_handshake_timeout: Duration::from_secs(10),
            header_read_timeout: Duration::from_secs(10),
            request_timeout: Duration::from_secs(30),
            // Below Go's usual 90 s idle-connection timeout, after which the
            // API server's client drops them itself; a GOAWAY on an idle
            // connection only makes the next call open a new one.
            idle_timeout: Duration::from_secs(60),
            max_body_bytes: 3 * 1024 * 1024,
            max_connections: 256,
        }
    }
}

/// The serving certificate, replaceable while the server runs: new TLS
/// handshakes use the latest one.
#[derive(Debug)]
pub struct CertResolver {
    current: RwLock<(CertBundle, Arc<CertifiedKey>)>,
}

impl CertResolver {
    /// A resolver serving `bundle`.
    pub fn new(bundle: CertBundle) -> Result<Arc<Self>, CertError> {
        let key = bundle.certified_key()?;
        Ok(Arc::new(Self {
            current: RwLock::new((bundle, key)),
        }))
    }

    /// Serves `bundle` from the next handshake on. Returns whether it differs
    /// from the one served so far.
    pub fn set(&self, bundle: CertBundle) -> Result<bool, CertError> {
        let key = bundle.certified_key()?;
        let mut current = self.current.write().unwrap_or_else(|p| p.into_inner());
        let changed = current.0 != bundle;
        *current = (bundle, key);
        Ok(changed)
    }

    /// The bundle being served.
    pub fn bundle(&self) -> CertBundle {
        self.read().0.clone()
    }

    fn read(&self) -> std::sync::RwLockReadGuard<'_, (CertBundle, Arc<CertifiedKey>)> {
        // A writer cannot panic mid-update (it only assigns), so a poisoned
        // lock still holds a consistent value.
        self.current.read().unwrap_or_else(|p| p.into_inner())
    }
}

impl ResolvesServerCert for CertResolver {
    fn resolve(&self, _hello: ClientHello<'_>) -> Option<Arc<CertifiedKey>> {
        Some(self.read().1.clone())
    }
}

/// The axum routes (no TLS, no limits): useful on its own for tests.
pub fn router() -> Router {
    Router::new()
        .route(
            VALIDATE_PATH,
            post(|Json(review): Json<Review>| async move { Json(admission::validate(review)) }),
        )
        .route(
            MUTATE_PATH,
            post(|Json(review): Json<Review>| async move { Json(admission::mutate(review)) }),
        )
        .route(
            CONVERT_PATH,
            post(|Json(review): Json<ConversionReview>| async move {
                Json(kerf_admission::conversion::convert(review))
            }),
        )
        .route(HEALTH_PATH, get(|| async { "ok" }))
}

/// The routes with `limits`' body size limit and request deadline: what
/// [`serve_with_limits`] serves.
pub fn app(limits: &Limits) -> Router {
    router()
        // Read by the `Json` extractor while it collects the body.
        .layer(DefaultBodyLimit::max(limits.max_body_bytes))
        // Outermost, so it also bounds how long reading the body may take.
        .layer(middleware::from_fn_with_state(
            limits.request_timeout,
            request_deadline,
        ))
}

/// Answers `408 Request Timeout` when the request (its body included) is not
/// handled within `limit`; dropping the handler's future stops reading.
async fn request_deadline(State(limit): State<Duration>, request: Request, next: Next) -> Response {
    match tokio::time::timeout(limit, next.run(request)).await {
        Ok(response) => response,
        Err(_) => (
            StatusCode::REQUEST_TIMEOUT,
            format!("request not received and answered within {limit:?}"),
        )
            .into_response(),
    }
}

/// Requests in flight on one connection, raised and lowered by
/// [`track_in_flight`] and watched by [`serve_connection`] for idleness.
type InFlight = Arc<watch::Sender<usize>>;

/// Lowers the in-flight count when the request ends, also when its handler
/// is dropped unfinished (connection closed, request deadline).
struct InFlightGuard(InFlight);

impl Drop for InFlightGuard {
    fn drop(&mut self) {
        self.0.send_modify(|n| *n = n.saturating_sub(1));
    }
}

async fn track_in_flight(State(busy): State<InFlight>, request: Request, next: Next) -> Response {
    busy.send_modify(|n| *n += 1);
    let _guard = InFlightGuard(busy);
    next.run(request).await
}

/// The rustls configuration: TLS 1.2/1.3, HTTP/2 and HTTP/1.1 by ALPN.
pub fn tls_config(resolver: Arc<CertResolver>) -> Result<ServerConfig, CertError> {
    let mut config = ServerConfig::builder_with_provider(Arc::new(ring::default_provider()))
        .with_safe_default_protocol_versions()
        .map_err(|e| CertError::Invalid {
            what: "TLS configuration".into(),
            message: e.to_string(),
        })?
        .with_no_client_auth()
        .with_cert_resolver(resolver);
    config.alpn_protocols = vec![b"h2".to_vec(), b"http/1.1".to_vec()];
    Ok(config)
}

/// A running server; dropping it does not stop it, [`RunningServer::shutdown`] does.
#[derive(Debug)]
pub struct RunningServer {
    /// The address actually bound (useful with port 0).
    pub local_addr: SocketAddr,
    shutdown: watch::Sender<bool>,
    task: JoinHandle<()>,
}

impl RunningServer {
    /// Stops accepting connections, closes the open ones gracefully and waits
    /// for the accept loop to end.
    pub async fn shutdown(self) {
        let _ = self.shutdown.send(true);
        let _ = self.task.await;
    }

    /// Waits until the server stops (it only stops on shutdown).
    pub async fn wait(self) {
        let _ = self.task.await;
    }
}

/// Binds `addr` and serves the webhook routes over TLS with `resolver`'s
/// certificate until shut down, with the default [`Limits`].
pub async fn serve(
    addr: SocketAddr,
    resolver: Arc<CertResolver>,
) -> std::io::Result<RunningServer> {
    serve_with_limits(addr, resolver, Limits::default()).await
}

/// [`serve`] with the given limits.
pub async fn serve_with_limits(
    addr: SocketAddr,
    resolver: Arc<CertResolver>,
    limits: Limits,
) -> std::io::Result<RunningServer> {
    if limits.max_connections == 0 || limits.max_connections > Semaphore::MAX_PERMITS {
        return Err(std::io::Error::new(
            std::io::ErrorKind::InvalidInput,
            format!(
                "max_connections must be between 1 and {}, not {}",
                Semaphore::MAX_PERMITS,
                limits.max_connections
            ),
        ));
    }
    let listener = TcpListener::bind(addr).await?;
    let local_addr = listener.local_addr()?;
    let config = tls_config(resolver).map_err(std::io::Error::other)?;
    let acceptor = TlsAcceptor::from(Arc::new(config));
    let (shutdown, mut stop) = watch::channel(false);
    let app = app(&limits);
    let slots = Arc::new(Semaphore::new(limits.max_connections));
    let limits = Arc::new(limits);
    let task = tokio::spawn(async move {
        loop {
            // A slot first, then the connection: while every slot is taken
            // nothing is accepted and new connections queue in the kernel's
            // listen backlog (see `Limits::max_connections`).
            let slot = tokio::select! {
                _ = stop.changed() => break,
                slot = slots.clone().acquire_owned() => match slot {
                    Ok(slot) => slot,
                    // Only a closed semaphore fails; this one is never closed.
                    Err(_) => break,
                },
            };
            tokio::select! {
                _ = stop.changed() => break,
                accepted = listener.accept() => match accepted {
                    Ok((tcp, peer)) => {
                        tokio::spawn(serve_connection(
                            acceptor.clone(),
                            app.clone(),
                            limits.clone(),
                            tcp,
                            peer,
                            stop.clone(),
                            slot,
                        ));
                    }
                    Err(e) => {
                        tracing::warn!(error = %e, "accepting a webhook connection");
                        tokio::time::sleep(ACCEPT_ERROR_BACKOFF).await;
                    }
                },
            }
        }
    });
    tracing::info!(%local_addr, "webhook server listening");
    Ok(RunningServer {
        local_addr,
        shutdown,
        task,
    })
}

/// Serves one connection until it ends or the server shuts down; on shutdown
/// the connection is closed gracefully (HTTP/2 GOAWAY), so clients that pool
/// connections see the webhook gone rather than a zombie answering. `_slot`
/// is this connection's share of [`Limits::max_connections`], given back when
/// the connection ends.
async fn serve_connection(
    acceptor: TlsAcceptor,
    app: Router,
    limits: Arc<Limits>,
    tcp: tokio::net::TcpStream,
    peer: SocketAddr,
    mut stop: watch::Receiver<bool>,
    _slot: OwnedSemaphorePermit,
) {
    // Dropping the unfinished handshake closes the socket.
    let tls = match tokio::time::timeout(limits.tls_handshake_timeout, acceptor.accept(tcp)).await {
        Ok(Ok(tls)) => tls,
        Ok(Err(e)) => {
            tracing::debug!(%peer, error = %e, "TLS handshake failed");
            return;
        }
        Err(_) => {
            tracing::debug!(%peer, timeout = ?limits.tls_handshake_timeout, "TLS handshake timed out");
            return;
        }
    };
    // The protocol is the one ALPN settled on (HTTP/2 over TLS requires
    // ALPN, RFC 9113 3.2), so hyper does not sniff the first bytes for the
    // HTTP/2 preface: that read has no deadline of its own, and a client
    // sending nothing would hold its slot forever.
    let h2 = tls.get_ref().1.alpn_protocol() == Some(b"h2".as_slice());
    let mut builder = auto::Builder::new(TokioExecutor::new());
    builder
        .http1()
        .timer(TokioTimer::new())
        .header_read_timeout(limits.header_read_timeout);
    builder
        .http2()
        .timer(TokioTimer::new())
        .keep_alive_interval(HTTP2_KEEP_ALIVE_INTERVAL)
        .keep_alive_timeout(HTTP2_KEEP_ALIVE_TIMEOUT);
    let builder = if h2 {
        builder.http2_only()
    } else {
        builder.http1_only()
    };
    let (busy, mut idle_watch) = watch::channel(0usize);
    let app = app.layer(middleware::from_fn_with_state(
        Arc::new(busy),
        track_in_flight,
    ));
    let connection = builder.serve_connection(TokioIo::new(tls), TowerToHyperService::new(app));
    tokio::pin!(connection);
    let result = loop {
        let idle = *idle_watch.borrow_and_update() == 0;
        tokio::select! {
            result = connection.as_mut() => break result,
            _ = stop.changed() => {
                connection.as_mut().graceful_shutdown();
                break connection.await;
            }
            // A request started or ended: the idle clock starts over.
            changed = idle_watch.changed() => {
                // The sender lives in the connection's service, so this only
                // fails once hyper dropped the service: nothing left to time.
                if changed.is_err() {
                    break connection.await;
                }
            }
            _ = tokio::time::sleep(limits.idle_timeout), if idle => {
                tracing::debug!(%peer, timeout = ?limits.idle_timeout, "closing an idle webhook connection");
                connection.as_mut().graceful_shutdown();
                // hyper finishes a graceful shutdown only once the client
                // reads the GOAWAY (or, mid HTTP/2 handshake, sends its
                // preface): past the grace the connection is dropped, which
                // closes the socket. Nothing is in flight to lose.
                match tokio::time::timeout(limits.header_read_timeout, connection.as_mut()).await {
                    Ok(result) => break result,
                    Err(_) => return,
                }
            }
        }
    };
    if let Err(e) = result {
        tracing::debug!(%peer, error = %e, "webhook connection ended with an error");
    }
}
