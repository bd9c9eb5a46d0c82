//! Subcommands, one module each, and what they share (logging, the runtime,
//! progress on a terminal).

#[cfg(feature = "addon")]
pub mod addon;
#[cfg(feature = "aws")]
pub mod aws_flags;
pub mod completion;
#[cfg(feature = "cluster")]
pub mod controller;
mod error;
pub mod explain;
pub mod feature_gates;
pub mod progress;
pub mod simulate;
#[cfg(feature = "cluster")]
pub mod top;
#[cfg(feature = "cluster")]
pub mod webhook;

use std::io::IsTerminal;

use tracing_subscriber::EnvFilter;

pub use error::CmdError;

/// The Kubernetes client configuration: `--kubeconfig` when given, else what
/// kubectl would use (KUBECONFIG, ~/.kube/config, or the in-cluster account).
#[cfg(feature = "cluster")]
pub async fn kube_config(kubeconfig: Option<&std::path::Path>) -> Result<kube::Config, CmdError> {
    use kube::config::{KubeConfigOptions, Kubeconfig};
    match kubeconfig {
        Some(path) => {
            let invalid = |e: &dyn std::fmt::Display| {
                CmdError::invalid_flag("--kubeconfig", format!("{}: {e}", path.display()))
            };
            let kubeconfig = Kubeconfig::read_from(path).map_err(|e| invalid(&e))?;
            kube::Config::from_custom_kubeconfig(kubeconfig, &KubeConfigOptions::default())
                .await
                .map_err(|e| invalid(&e))
        }
        None => kube::Config::infer().await.map_err(|e| {
            CmdError::failed("no --kubeconfig and no in-cluster configuration")(Box::new(e))
        }),
    }
}

/// How log lines are written.
#[derive(Clone, Copy, Debug, PartialEq, Eq, clap::ValueEnum)]
pub enum LogFormat {
    /// One JSON object per line with `level`, `message`, `timestamp`, `target` and the fields.
    Json,
    /// Human-readable lines.
    Text,
}

/// Karpenter's `--min-values-policy`: what planning does when a pod would
/// leave a node's instance types with fewer values than a pool's minValues.
#[derive(Clone, Copy, Debug, Default, PartialEq, Eq, clap::ValueEnum)]
pub enum MinValuesPolicy {
    /// The pod goes elsewhere or stays pending, naming the key.
    #[default]
    #[value(name = "Strict")]
    Strict,
    /// The pod is placed and the node's minValues lowered (the NodeClaim is annotated).
    #[value(name = "BestEffort")]
    BestEffort,
}

impl From<MinValuesPolicy> for kerf_core::snapshot::MinValuesPolicy {
    fn from(p: MinValuesPolicy) -> Self {
        match p {
            MinValuesPolicy::Strict => kerf_core::snapshot::MinValuesPolicy::Strict,
            MinValuesPolicy::BestEffort => kerf_core::snapshot::MinValuesPolicy::BestEffort,
        }
    }
}

/// Logs to stderr, filtered by `RUST_LOG` if set, else by `level` (an
/// invalid `level` is an error naming the setting).
pub fn init_logging(level: &str, format: LogFormat) -> Result<(), CmdError> {
    const FLAG: &str = "--log-level (LOG_LEVEL)";
    const LEVELS: [&str; 6] = ["off", "error", "warn", "info", "debug", "trace"];
    // A bare word would parse as a target name and silently log nothing.
    let plain = !level.contains(['=', ',']);
    if plain && !LEVELS.contains(&level.to_ascii_lowercase().as_str()) {
        return Err(CmdError::invalid_flag(
            FLAG,
            format!("{level:?} is not one of {}", LEVELS.join(", ")),
        ));
    }
    let filter = match EnvFilter::try_from_default_env() {
        Ok(f) => f,
        Err(_) => EnvFilter::try_new(level).map_err(|e| {
            CmdError::invalid_flag(FLAG, format!("{level:?} is not a level or filter: {e}"))
        })?,
    };
    // Colour only for a person at a terminal: escape codes in a file, a
    // pipe or a pod's log (the webhook's, the controller's) are noise.
    let builder = tracing_subscriber::fmt()
        .with_env_filter(filter)
        .with_ansi(std::io::stderr().is_terminal())
        .with_writer(std::io::stderr);
    // A second initialisation (tests) keeps the first subscriber.
    let _ = match format {
        LogFormat::Json => builder.json().flatten_event(true).try_init(),
        LogFormat::Text => builder.try_init(),
    };
    Ok(())
}

/// A multi-threaded tokio runtime.
pub fn runtime() -> Result<tokio::runtime::Runtime, CmdError> {
    tokio::runtime::Builder::new_multi_thread()
        .enable_all()
        .build()
        .map_err(|e| CmdError::failed("starting the async runtime")(Box::new(e)))
}
