//! Prints the scheduling benchmark as a markdown table: pods/s, nodes, $/h and
//! the lower bound per size, and the generic group alone for cost quality.
//! `kerf-bench [SIZES...]`, e.g. `cargo run --release -p kerf-bench -- 100 1000 5000 20000`.

use std::time::Instant;

use kerf_bench::{Group, benchmark_types, diverse_pods, group_pods, outcome, snapshot};
use kerf_core::scheduler::solve;
use kerf_core::snapshot::PreferencePolicy;

fn main() {
    let sizes: Vec<usize> = {
        let args: Vec<usize> = std::env::args()
            .skip(1)
            .filter_map(|a| a.parse().ok())
            .collect();
        if args.is_empty() {
            vec![100, 1_000, 5_000, 20_000]
        } else {
            args
        }
    };
    let types = benchmark_types();
    println!(
        "| workload | pods | scheduled | best solve (s) | pods/s | nodes | $/h | lower bound $/h | cost / bound |"
    );
    println!("|---|---|---|---|---|---|---|---|---|");
    for &size in &sizes {
        for (name, pods) in [
            ("diverse", diverse_pods(size, 42)),
            ("generic", group_pods(Group::Generic, size, 42)),
        ] {
            let snap = snapshot(pods.clone(), &types, PreferencePolicy::Respect);
            let runs = if size >= 5_000 { 3 } else { 5 };
            let mut best = f64::INFINITY;
            let mut plan = None;
            for _ in 0..runs {
                let start = Instant::now();
                let p = solve(&snap);
                best = best.min(start.elapsed().as_secs_f64());
                plan = Some(p);
            }
            let Some(plan) = plan else { continue };
            let o = outcome(&pods, &types, &plan);
            println!(
                "| {name} | {} | {} | {best:.3} | {:.0} | {} | {:.2} | {:.2} | {:.3} |",
                o.pods,
                o.scheduled,
                o.pods as f64 / best,
                o.nodes,
                o.cost,
                o.bound,
                o.cost / o.bound
            );
        }
    }
}
