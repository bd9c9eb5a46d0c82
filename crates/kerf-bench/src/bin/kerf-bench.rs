//! Prints the scheduling benchmark as a markdown table: pods/s, nodes (and the
//! anti-affinity node bound), $/h and the cost lower bound per size for
//! upstream's diverse mix and for the generic group alone (cost quality), then
//! the 4,000-pod preference workload under Respect and Ignore.
//! `kerf-bench [SIZES...]`, e.g. `cargo run --release -p kerf-bench -- 100 1000 5000 20000`.

use std::time::Instant;

use k8s_openapi::api::core::v1::Pod;
use kerf_bench::{
    Group, benchmark_types, diverse_pods, group_pods, outcome, preference_pods, snapshot,
};
use kerf_core::instance_type::InstanceType;
use kerf_core::scheduler::solve;
use kerf_core::snapshot::PreferencePolicy;
use std::sync::Arc;

const PREFERENCE_PODS: usize = 4_000;

fn row(name: &str, pods: Vec<Pod>, types: &[Arc<InstanceType>], policy: PreferencePolicy) {
    let snap = snapshot(pods.clone(), types, policy);
    let runs = if pods.len() >= 5_000 { 3 } else { 5 };
    let mut best = f64::INFINITY;
    let mut plan = None;
    for _ in 0..runs {
        let start = Instant::now();
        let p = solve(&snap);
        best = best.min(start.elapsed().as_secs_f64());
        plan = Some(p);
    }
    let Some(plan) = plan else { return };
    let o = outcome(&pods, types, &plan);
    println!(
        "| {name} | {} | {} | {best:.3} | {:.0} | {} | {} | {:.2} | {:.2} | {:.3} |",
        o.pods,
        o.scheduled,
        o.pods as f64 / best,
        o.nodes,
        o.node_bound,
        o.cost,
        o.bound,
        o.cost / o.bound
    );
}

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
        "| workload | pods | scheduled | best solve (s) | pods/s | nodes | node bound | $/h | lower bound $/h | cost / bound |"
    );
    println!("|---|---|---|---|---|---|---|---|---|---|");
    for &size in &sizes {
        let respect = PreferencePolicy::Respect;
        row("diverse", diverse_pods(size, 42), &types, respect);
        row(
            "generic",
            group_pods(Group::Generic, size, 42),
            &types,
            respect,
        );
    }
    for (name, policy) in [
        ("preferences (Respect)", PreferencePolicy::Respect),
        ("preferences (Ignore)", PreferencePolicy::Ignore),
    ] {
        row(name, preference_pods(PREFERENCE_PODS, 42), &types, policy);
    }
}
