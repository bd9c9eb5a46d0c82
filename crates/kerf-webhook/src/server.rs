//! The HTTPS server: axum routes over hyper, TLS by rustls (ring), with a
//! certificate that can be swapped while serving (rotation).
//!
//! Routes: `POST /validate` and `POST /mutate` (AdmissionReview v1, see
//! [`crate::admission`]), `GET /healthz`.

use std::net::SocketAddr;
use std::sync::{Arc, RwLock};

use axum::Json;
use axum::Router;
use axum::routing::{get, post};
use hyper_util::rt::{TokioExecutor, TokioIo};
use hyper_util::server::conn::auto;
use hyper_util::service::TowerToHyperService;
use tokio::net::TcpListener;
use tokio::sync::watch;
use tokio::task::JoinHandle;
use tokio_rustls::TlsAcceptor;
use tokio_rustls::rustls::ServerConfig;
use tokio_rustls::rustls::crypto::ring;
use tokio_rustls::rustls::server::{ClientHello, ResolvesServerCert};
use tokio_rustls::rustls::sign::CertifiedKey;

use crate::admission::{self, Review};
use crate::certs::{CertBundle, CertError};

/// Path of the validating webhook.
pub const VALIDATE_PATH: &str = "/validate";
/// Path of the mutating (defaulting) webhook.
pub const MUTATE_PATH: &str = "/mutate";
/// Liveness/readiness path.
pub const HEALTH_PATH: &str = "/healthz";

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

/// The axum routes (no TLS): useful on its own for tests.
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
        .route(HEALTH_PATH, get(|| async { "ok" }))
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
/// certificate until shut down.
pub async fn serve(
    addr: SocketAddr,
    resolver: Arc<CertResolver>,
) -> std::io::Result<RunningServer> {
    let listener = TcpListener::bind(addr).await?;
    let local_addr = listener.local_addr()?;
    let config = tls_config(resolver).map_err(std::io::Error::other)?;
    let acceptor = TlsAcceptor::from(Arc::new(config));
    let (shutdown, mut stop) = watch::channel(false);
    let app = router();
    let task = tokio::spawn(async move {
        loop {
            tokio::select! {
                _ = stop.changed() => break,
                accepted = listener.accept() => match accepted {
                    Ok((tcp, peer)) => {
                        tokio::spawn(serve_connection(acceptor.clone(), app.clone(), tcp, peer, stop.clone()));
                    }
                    Err(e) => tracing::warn!(error = %e, "accepting a webhook connection"),
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
/// connections see the webhook gone rather than a zombie answering.
async fn serve_connection(
    acceptor: TlsAcceptor,
    app: Router,
    tcp: tokio::net::TcpStream,
    peer: SocketAddr,
    mut stop: watch::Receiver<bool>,
) {
    let tls = match acceptor.accept(tcp).await {
        Ok(tls) => tls,
        Err(e) => {
            tracing::debug!(%peer, error = %e, "TLS handshake failed");
            return;
        }
    };
    let builder = auto::Builder::new(TokioExecutor::new());
    let connection = builder.serve_connection(TokioIo::new(tls), TowerToHyperService::new(app));
    tokio::pin!(connection);
    let result = tokio::select! {
        result = connection.as_mut() => result,
        _ = stop.changed() => {
            connection.as_mut().graceful_shutdown();
            connection.await
        }
    };
    if let Err(e) = result {
        tracing::debug!(%peer, error = %e, "webhook connection ended with an error");
    }
}
