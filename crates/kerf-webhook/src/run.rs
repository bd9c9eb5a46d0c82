//! The webhook process (`kerf webhook`): get the serving certificate, serve,
//! and every refresh interval re-read (and, from a Secret, rotate) the
//! certificate and keep the caBundle in the webhook configurations current.

use std::future::Future;
use std::net::SocketAddr;
use std::path::PathBuf;
use std::time::Duration;

use kube::Client;
use time::OffsetDateTime;

use crate::certs::{CertBundle, CertError};
use crate::configurations::{WebhookService, patch_ca_bundle};
use crate::secret::{SecretError, ensure_secret};
use crate::server::{CertResolver, serve};

/// Where the serving certificate comes from.
#[derive(Debug, Clone)]
pub enum CertSource {
    /// `ca.crt`, `tls.crt`, `tls.key` in a directory (a mounted Secret, e.g.
    /// from cert-manager); re-read every refresh.
    Dir(PathBuf),
    /// A Secret the webhook generates, rotates and shares between replicas.
    Secret {
        namespace: String,
        name: String,
        /// Names the certificate must cover (the Service's DNS names).
        sans: Vec<String>,
    },
}

/// What `kerf webhook` runs with.
#[derive(Debug, Clone)]
pub struct Options {
    pub addr: SocketAddr,
    pub cert: CertSource,
    /// The ValidatingWebhookConfiguration and MutatingWebhookConfiguration to
    /// patch the CA into; `None` leaves them alone (e.g. cert-manager's CA
    /// injector does it).
    pub configurations: Option<(String, String)>,
    /// The Service in front of this webhook, written into the CRDs'
    /// conversion config with the CA; `None` leaves their reference alone.
    pub service: Option<WebhookService>,
    /// How often the certificate is re-read / checked for rotation.
    pub refresh: Duration,
}

/// Errors that stop the webhook.
#[derive(Debug, thiserror::Error)]
pub enum RunError {
    #[error(transparent)]
    Cert(#[from] CertError),
    #[error(transparent)]
    Secret(#[from] SecretError),
    #[error("binding {addr}: {source}")]
    Bind {
        addr: SocketAddr,
        source: std::io::Error,
    },
    #[error("a Kubernetes client is needed to {0}")]
    NoClient(&'static str),
}

async fn load(source: &CertSource, client: Option<&Client>) -> Result<CertBundle, RunError> {
    match source {
        CertSource::Dir(dir) => Ok(CertBundle::read_dir(dir)?),
        CertSource::Secret {
            namespace,
            name,
            sans,
        } => {
            let client = client.ok_or(RunError::NoClient("keep the certificate Secret"))?;
            let now = OffsetDateTime::now_utc();
            Ok(ensure_secret(client, namespace, name, sans, now).await?)
        }
    }
}

async fn publish_ca(opts: &Options, client: Option<&Client>, ca_pem: &str) {
    let (Some((validating, mutating)), Some(client)) = (&opts.configurations, client) else {
        return;
    };
    // Retried on the next refresh: the configurations may be created after
    // the webhook starts (e.g. by the same helm release).
    if let Err(e) =
        patch_ca_bundle(client, validating, mutating, ca_pem, opts.service.as_ref()).await
    {
        tracing::warn!(error = %e, "caBundle not patched yet");
    }
}

/// Runs the webhook until `shutdown` completes.
pub async fn run(
    opts: Options,
    client: Option<Client>,
    shutdown: impl Future<Output = ()>,
) -> Result<(), RunError> {
    if opts.configurations.is_some() && client.is_none() {
        return Err(RunError::NoClient("patch the webhook configurations"));
    }
    let bundle = load(&opts.cert, client.as_ref()).await?;
    let resolver = CertResolver::new(bundle.clone())?;
    publish_ca(&opts, client.as_ref(), &bundle.ca_pem).await;
    let server = serve(opts.addr, resolver.clone())
        .await
        .map_err(|source| RunError::Bind {
            addr: opts.addr,
            source,
        })?;
    tokio::pin!(shutdown);
    let mut ticks = tokio::time::interval(opts.refresh);
    ticks.tick().await;
    loop {
        tokio::select! {
            _ = &mut shutdown => break,
            _ = ticks.tick() => {
                match load(&opts.cert, client.as_ref()).await {
                    Ok(bundle) => {
                        match resolver.set(bundle.clone()) {
                            Ok(true) => tracing::info!("serving a new webhook certificate"),
                            Ok(false) => {}
                            Err(e) => tracing::warn!(error = %e, "keeping the previous certificate"),
                        }
                        publish_ca(&opts, client.as_ref(), &bundle.ca_pem).await;
                    }
                    Err(e) => tracing::warn!(error = %e, "reloading the webhook certificate"),
                }
            }
        }
    }
    server.shutdown().await;
    Ok(())
}
