//! The `kerf` binary: one subcommand per module under `cmd/`. Logging goes to
//! stderr (`RUST_LOG` or `--log-level`), output to stdout.

mod cmd;

use std::process::ExitCode;

use clap::{Parser, Subcommand};

/// kerf: a Kubernetes node autoscaler, drop-in compatible with Karpenter.
#[derive(Parser, Debug)]
#[command(name = "kerf", version, about, long_about = None)]
struct Cli {
    /// Log filter when RUST_LOG is unset (error, warn, info, debug, trace).
    #[arg(long, global = true, default_value = "warn")]
    log_level: String,
    #[command(subcommand)]
    command: Command,
}

#[derive(Subcommand, Debug)]
enum Command {
    Simulate(cmd::simulate::Args),
    Controller(cmd::controller::ControllerArgs),
    Webhook(cmd::webhook::WebhookArgs),
}

fn main() -> ExitCode {
    let cli = Cli::parse();
    cmd::init_logging(&cli.log_level);
    let code = match cli.command {
        Command::Simulate(args) => cmd::simulate::run(args),
        Command::Controller(args) => cmd::controller::run(args),
        Command::Webhook(args) => cmd::webhook::run(args),
    };
    ExitCode::from(u8::try_from(code).unwrap_or(1))
}
