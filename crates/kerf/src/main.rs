//! The `kerf` binary: one subcommand per module under `cmd/`. Logging goes to
//! stderr (`RUST_LOG` or `--log-level`), output to stdout.

mod cmd;

use std::process::ExitCode;

use clap::{CommandFactory, Parser, Subcommand};

// jemalloc, not glibc's malloc: with thousands of pods in the cache the
// controller's peak RSS under glibc was about twice its peak heap (per-thread
// arenas holding freed memory), and RSS is what a pod's memory limit counts.
// The simulator-only build (no `cluster`) keeps the system allocator.
#[cfg(feature = "cluster")]
#[global_allocator]
static ALLOCATOR: tikv_jemallocator::Jemalloc = tikv_jemallocator::Jemalloc;

// One arena, not four per CPU: the controller allocates from a handful of
// tokio threads, and every extra arena keeps its own freed pages resident
// (peak RSS at 1,000 pods: 31.5 MiB with the default, 29.2 with one).
// `_RJEM_MALLOC_CONF` in the environment still overrides it.
#[cfg(feature = "cluster")]
#[allow(non_upper_case_globals)]
#[unsafe(export_name = "_rjem_malloc_conf")]
pub static malloc_conf: &[u8] = b"narenas:1\0";

/// glibc's malloc still serves the C code linked in (the TLS library's
/// crypto), and gives each thread that calls it an arena of its own: one
/// arena there too (peak RSS at 1,000 pods in the controller head-to-head:
/// 33.2 MiB with glibc's default, 30.9–31.3 with one). Called before any
/// thread starts.
fn one_glibc_arena() {
    #[cfg(all(target_os = "linux", target_env = "gnu"))]
    // SAFETY: mallopt only sets a malloc tunable; no thread has started yet.
    unsafe {
        libc::mallopt(libc::M_ARENA_MAX, 1);
    }
}

/// kerf: a Kubernetes node autoscaler, drop-in compatible with Karpenter.
#[derive(Parser, Debug)]
#[command(name = "kerf", version, about, long_about = None)]
struct Cli {
    /// Log level when RUST_LOG is unset (error, warn, info, debug, trace);
    /// default info for `controller`, warn otherwise.
    #[arg(long, global = true, env = "LOG_LEVEL")]
    log_level: Option<String>,
    /// Log lines as `json` (default for `controller`, as Karpenter logs) or `text`.
    #[arg(long, global = true, env = "LOG_FORMAT", value_enum)]
    log_format: Option<cmd::LogFormat>,
    #[command(subcommand)]
    command: Command,
}

#[derive(Subcommand, Debug)]
// Parsed once at start; boxing the controller's many flags buys nothing.
#[allow(clippy::large_enum_variant)]
enum Command {
    Simulate(cmd::simulate::Args),
    Explain(cmd::explain::ExplainArgs),
    #[cfg(feature = "cluster")]
    Top(cmd::top::TopArgs),
    #[cfg(feature = "cluster")]
    Controller(cmd::controller::ControllerArgs),
    #[cfg(feature = "cluster")]
    Webhook(cmd::webhook::WebhookArgs),
    #[cfg(feature = "addon")]
    Addon(cmd::addon::AddonArgs),
    /// Prints a completion script for SHELL, e.g.
    /// `source <(kerf completion bash)`, or
    /// `kerf completion zsh > "${fpath[1]}/_kerf"`.
    Completion {
        #[arg(value_enum)]
        shell: clap_complete::Shell,
    },
}

/// Writes the completion script to stdout. Generated into memory first:
/// clap_complete panics on a write error, and a reader that stops early
/// (`| head`) is not an error.
fn print_completion(shell: clap_complete::Shell) -> i32 {
    use std::io::Write;
    let script = cmd::completion::script(shell, &mut Cli::command(), "kerf");
    match std::io::stdout().write_all(&script) {
        Ok(()) => 0,
        Err(e) if e.kind() == std::io::ErrorKind::BrokenPipe => 0,
        Err(e) => {
            eprintln!("kerf completion: writing to stdout: {e}");
            1
        }
    }
}

fn main() -> ExitCode {
    one_glibc_arena();
    let cli = Cli::parse();
    #[cfg(feature = "cluster")]
    let controller = matches!(cli.command, Command::Controller(_));
    #[cfg(not(feature = "cluster"))]
    let controller = false;
    let (level, format) = if controller {
        ("info", cmd::LogFormat::Json)
    } else {
        ("warn", cmd::LogFormat::Text)
    };
    let level = cli.log_level.as_deref().unwrap_or(level);
    if let Err(e) = cmd::init_logging(level, cli.log_format.unwrap_or(format)) {
        eprintln!("kerf: {e}");
        return ExitCode::from(u8::try_from(e.exit_code()).unwrap_or(1));
    }
    let code = match cli.command {
        Command::Simulate(args) => cmd::simulate::run(args),
        Command::Explain(args) => cmd::explain::run(args),
        #[cfg(feature = "cluster")]
        Command::Top(args) => cmd::top::run(args),
        #[cfg(feature = "cluster")]
        Command::Controller(args) => cmd::controller::run(args),
        #[cfg(feature = "cluster")]
        Command::Webhook(args) => cmd::webhook::run(args),
        #[cfg(feature = "addon")]
        Command::Addon(args) => cmd::addon::run(args),
        Command::Completion { shell } => print_completion(shell),
    };
    ExitCode::from(u8::try_from(code).unwrap_or(1))
}
