//! Subcommands, one module each, and what they share (logging, the runtime).

pub mod controller;
pub mod simulate;
pub mod webhook;

use tracing_subscriber::EnvFilter;

/// Logs to stderr, filtered by `RUST_LOG` if set, else by `default`.
pub fn init_logging(default: &str) {
    let filter = EnvFilter::try_from_default_env()
        .or_else(|_| EnvFilter::try_new(default))
        .unwrap_or_else(|_| EnvFilter::new("warn"));
    let _ = tracing_subscriber::fmt()
        .with_env_filter(filter)
        .with_writer(std::io::stderr)
        .try_init();
}

/// A multi-threaded tokio runtime, or the error as text.
pub fn runtime() -> Result<tokio::runtime::Runtime, String> {
    tokio::runtime::Builder::new_multi_thread()
        .enable_all()
        .build()
        .map_err(|e| format!("starting the async runtime: {e}"))
}
