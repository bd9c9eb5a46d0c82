//! The one error type of this crate.

use std::path::PathBuf;
use std::time::Duration;

/// Result alias used throughout `kerf-testenv`.
pub type Result<T, E = Error> = std::result::Result<T, E>;

/// Everything that can go wrong while starting or using a test control plane.
#[derive(Debug, thiserror::Error)]
pub enum Error {
    /// An upstream binary (etcd, kube-apiserver, ...) has not been built.
    #[error(
        "test binary `{name}` not found at {}: run scripts/testbed-build.sh \
         (or point {} at a directory holding it)",
        path.display(),
        crate::binaries::ENV_BIN
    )]
    MissingBinary {
        /// Binary name, e.g. `kube-apiserver`.
        name: String,
        /// Where it was expected.
        path: PathBuf,
    },

    /// moto's server (installed into a venv by `scripts/python-tools.sh`) is missing.
    #[error(
        "moto_server not found at {}: run scripts/python-tools.sh (or set {})",
        path.display(),
        crate::moto::ENV_MOTO_SERVER
    )]
    MissingMoto {
        /// Where it was expected.
        path: PathBuf,
    },

    /// The binary directory could not be determined.
    #[error("cannot locate the testbed binaries: {0}")]
    Locate(String),

    /// A filesystem or process-spawning operation failed.
    #[error("{context}: {source}")]
    Io {
        /// What was being done.
        context: String,
        /// The underlying error.
        #[source]
        source: std::io::Error,
    },

    /// A managed process failed to start, exited early, or never became ready.
    #[error("{name}: {reason} (log: {})\n---- last lines of the log ----\n{log_tail}", log.display())]
    Process {
        /// Process name, e.g. `kube-apiserver`.
        name: String,
        /// What went wrong.
        reason: String,
        /// The process' combined stdout/stderr log file.
        log: PathBuf,
        /// The last lines of that log.
        log_tail: String,
    },

    /// A polled condition did not become true in time.
    #[error("timed out after {after:?} waiting for {what}")]
    Timeout {
        /// Description of the awaited condition.
        what: String,
        /// The timeout that elapsed.
        after: Duration,
    },

    /// Certificate or key generation failed.
    #[error("generating certificates: {0}")]
    Cert(#[from] rcgen::Error),

    /// A Kubernetes API call failed.
    #[error("kubernetes API: {0}")]
    Kube(#[from] kube::Error),

    /// The generated kubeconfig could not be loaded.
    #[error("kubeconfig: {0}")]
    Kubeconfig(#[from] kube::config::KubeconfigError),

    /// A TLS certificate, key or configuration could not be used.
    #[error("TLS: {0}")]
    Tls(String),

    /// A manifest could not be parsed.
    #[error("manifest: {0}")]
    Manifest(String),

    /// `kubectl` exited unsuccessfully.
    #[error("kubectl {args} failed ({status}): {stderr}")]
    Kubectl {
        /// The arguments, space separated.
        args: String,
        /// Its exit status.
        status: std::process::ExitStatus,
        /// Its standard error.
        stderr: String,
    },

    /// [`crate::ControlPlane::block_on`] was called on a control plane that does
    /// not own a runtime (it was started with the async
    /// [`crate::ControlPlane::start`]).
    #[error("this control plane was started with the async API and owns no runtime")]
    NoRuntime,
}

impl Error {
    pub(crate) fn io(context: impl Into<String>, source: std::io::Error) -> Self {
        Error::Io {
            context: context.into(),
            source,
        }
    }
}
