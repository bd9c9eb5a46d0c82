//! The cost-quality suite (`kerf_bench::quality`): for each mix and size,
//! kerf's $/h on the built-in catalogue against the per-dimension and LP
//! lower bounds (per-dimension, LP, pattern) and a first-fit-decreasing
//! baseline, as markdown on stdout.
//! `cargo run --release -p kerf-bench --bin kerf-quality -- [--sizes 100,1000,5000] [--mix web ...]`.

use std::process::ExitCode;

use clap::Parser;
use kerf_bench::quality::{MIXES, Mix, evaluate, mixes, report};

#[derive(Parser)]
#[command(about = "kerf's $/h on realistic mixes against lower bounds and first-fit-decreasing")]
struct Args {
    /// Pod counts per mix.
    #[arg(long, value_delimiter = ',', default_values_t = [100, 1_000, 5_000])]
    sizes: Vec<usize>,
    /// Mixes to run (web, batch, memory, gpu, all); every one when absent.
    #[arg(long)]
    mix: Vec<Mix>,
    #[arg(long, default_value_t = 42)]
    seed: u64,
    /// Solves timed per row (the best is reported).
    #[arg(long, default_value_t = 3)]
    runs: usize,
    /// Also write each mix as `<mix>-<pods>.yaml` (pools and pods) into this
    /// folder, for `kerf simulate`.
    #[arg(long)]
    dump_manifests: Option<std::path::PathBuf>,
}

fn main() -> ExitCode {
    let args = Args::parse();
    let mixes = if args.mix.is_empty() {
        MIXES.to_vec()
    } else {
        args.mix.clone()
    };
    let mut rows = Vec::new();
    for &mix in &mixes {
        for &size in &args.sizes {
            if let Some(dir) = &args.dump_manifests {
                let path = dir.join(format!("{mix}-{size}.yaml"));
                let written = mixes::manifests(mix, size, args.seed)
                    .and_then(|y| Ok(std::fs::write(&path, y)?));
                if let Err(e) = written {
                    eprintln!("error: writing {}: {e}", path.display());
                    return ExitCode::FAILURE;
                }
            }
            match evaluate(mix, size, args.seed, args.runs) {
                Ok(e) => {
                    eprintln!(
                        "{mix} × {size}: kerf {:.2} $/h, LP bound {:.2}, pattern bound {:.2} (gap {:.4}, {} patterns), kerf ÷ best {:.3}",
                        e.kerf_cost,
                        e.lp.cost,
                        e.pattern.cost,
                        e.pattern.gap,
                        e.pattern.patterns,
                        e.kerf_cost / e.best_bound()
                    );
                    rows.push(e);
                }
                Err(e) => {
                    eprintln!("error: {e}");
                    return ExitCode::FAILURE;
                }
            }
        }
    }
    println!("{}", report::table(&rows));
    println!("What each plan bought (nodes per pool/type, largest first; LP: fractional nodes):\n");
    print!("{}", report::details(&rows));
    ExitCode::SUCCESS
}
