//! Test support (feature `testing`): the webhook run in-process exactly as
//! `kerf webhook` runs it, on loopback, for tests that point a real API server
//! at it by URL.

use std::net::{Ipv4Addr, SocketAddr};
use std::time::Duration;

use kube::Client;
use tokio::sync::oneshot;
use tokio::task::JoinHandle;

use crate::configurations::{MUTATING_NAME, VALIDATING_NAME};
use crate::run::{CertSource, Options, RunError, run};

/// The running webhook: it stops when [`Webhook::stop`] is called or the
/// handle is dropped.
pub struct Webhook {
    stop: oneshot::Sender<()>,
    task: JoinHandle<Result<(), RunError>>,
}

impl Webhook {
    /// Stops the webhook and returns how its run ended.
    pub async fn stop(self) -> Result<(), RunError> {
        // The run ends by itself only on an error, which the task returns.
        let _ = self.stop.send(());
        match self.task.await {
            Ok(ended) => ended,
            Err(join) => std::panic::resume_unwind(join.into_panic()),
        }
    }
}

/// Starts the webhook on `127.0.0.1:port` with the certificate from `cert`,
/// patching its CA into the configurations named [`VALIDATING_NAME`] and
/// [`MUTATING_NAME`] every `refresh`. It is reached by URL, so there is no
/// Service to point the CRDs' conversion at. Must be called on a tokio runtime.
pub fn start_on_loopback(
    client: Client,
    port: u16,
    cert: CertSource,
    refresh: Duration,
) -> Webhook {
    let options = Options {
        addr: SocketAddr::from((Ipv4Addr::LOCALHOST, port)),
        cert,
        configurations: Some((VALIDATING_NAME.into(), MUTATING_NAME.into())),
        service: None,
        refresh,
    };
    let (stop, stopped) = oneshot::channel::<()>();
    let task = tokio::spawn(run(options, Some(client), async {
        let _ = stopped.await;
    }));
    Webhook { stop, task }
}
