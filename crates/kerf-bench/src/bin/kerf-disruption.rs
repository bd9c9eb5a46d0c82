//! One-shot figures for the disruption decision (issue 26): for each pod
//! count, a cluster planned by kerf for upstream's diverse mix on the
//! built-in catalogue, 60% of the pods then deleted (seeded), and
//! `kerf_core::disruption::decide` timed over it, with the input build
//! (`ClusterState::disruption_input`) timed apart. Three cases per size: the
//! cluster just after the deletion (budget 100%), the same once its empty
//! nodes are gone (what consolidation decides; budget 100%), and that again
//! under Karpenter's default 10% budget. `--case nothing-deleted` times the
//! cluster as planned, and `--case full-pass` the same with a minimum saving
//! no replacement meets, so single-node consolidation tries every candidate
//! (Karpenter's full single-node pass). Prints a markdown table, one row per
//! case, and the kept nodes' reasons.
//! `cargo run --release -p kerf-bench --bin kerf-disruption -- [--runs N] [PODS...]`.

use std::collections::{BTreeMap, BTreeSet};
use std::time::Instant;

use anyhow::Context;
use clap::Parser;
use kerf_bench::disruption::{BenchCluster, Scenario, cluster};
use kerf_cloud::InMemoryCloud;
use kerf_core::disruption::{Decision, DisruptionOptions, decide};
use kerf_core::snapshot::SolveOptions;
use kerf_sim::disruption::{DisruptionRun, simulate_disruption};

#[derive(Parser)]
#[command(about = "Times kerf's disruption decision over a scaled-down cluster")]
struct Args {
    /// Timed runs of each decision (median, min and max are reported).
    #[arg(long, default_value_t = 5)]
    runs: usize,
    /// Cases to run (repeatable): after-deletion, consolidation,
    /// consolidation-10, nothing-deleted (every pod kept), and full-pass
    /// (every pod kept and a minimum saving no replacement meets, so
    /// single-node consolidation tries every candidate: slow).
    #[arg(long = "case", default_values_t = ["after-deletion".to_string(), "consolidation".into(), "consolidation-10".into()])]
    cases: Vec<String>,
    /// Run the disruption loop to its end instead of timing one decision.
    #[arg(long)]
    converge: bool,
    /// Pod counts to plan before the deletion (the diverse mix needs one node per 5 pods).
    #[arg(default_values_t = [5_000usize, 20_000])]
    pods: Vec<usize>,
}

/// A case's name and title, its scenario at `pods`, and whether the empty
/// nodes are removed first.
fn case(name: &str, pods: usize) -> anyhow::Result<(&'static str, Scenario, bool)> {
    let full = Scenario::scale_down(pods);
    Ok(match name {
        "after-deletion" => ("after deletion, budget 100%", full, false),
        "consolidation" => ("empty nodes removed, budget 100%", full, true),
        "consolidation-10" => (
            "empty nodes removed, budget 10%",
            Scenario {
                budget: "10%".into(),
                ..full
            },
            true,
        ),
        "nothing-deleted" => (
            "nothing deleted, budget 100%",
            Scenario {
                deleted: 0.0,
                ..full
            },
            false,
        ),
        "full-pass" => (
            "nothing deleted, min savings $1000/h, budget 100%",
            Scenario {
                deleted: 0.0,
                min_savings: Some("1000".into()),
                ..full
            },
            false,
        ),
        other => anyhow::bail!("unknown case {other:?}"),
    })
}

/// Seconds of each of `runs` calls (the first one included: the controller
/// decides once per pass), sorted, and the last result.
fn time<T>(runs: usize, mut f: impl FnMut() -> T) -> (Vec<f64>, T) {
    let mut times = Vec::with_capacity(runs);
    let start = Instant::now();
    let mut last = f();
    times.push(start.elapsed().as_secs_f64());
    for _ in 1..runs {
        let start = Instant::now();
        last = f();
        times.push(start.elapsed().as_secs_f64());
    }
    times.sort_by(f64::total_cmp);
    (times, last)
}

fn spread(times: &[f64]) -> String {
    let median = times[times.len() / 2];
    let (min, max) = (times[0], times[times.len() - 1]);
    format!("{median:.3} ({min:.3}–{max:.3})")
}

/// Peak resident set of this process so far, in MiB (Linux `VmHWM`).
fn peak_rss_mib() -> Option<f64> {
    let status = std::fs::read_to_string("/proc/self/status").ok()?;
    let line = status.lines().find(|l| l.starts_with("VmHWM:"))?;
    let kib: f64 = line.split_whitespace().nth(1)?.parse().ok()?;
    Some(kib / 1024.0)
}

/// Kept nodes by reason, the reason's variant name only.
fn kept_reasons(decision: &Decision) -> String {
    let mut counts: BTreeMap<String, usize> = BTreeMap::new();
    for k in &decision.kept {
        let debug = format!("{:?}", k.reason);
        let variant = debug
            .split([' ', '{', '('])
            .next()
            .unwrap_or_default()
            .to_string();
        *counts.entry(variant).or_default() += 1;
    }
    counts
        .iter()
        .map(|(r, n)| format!("{r} {n}"))
        .collect::<Vec<_>>()
        .join(", ")
}

fn row(case: &str, pods: usize, bench: &BenchCluster, runs: usize) -> anyhow::Result<String> {
    let (build, input) = time(runs, || bench.input());
    let input = input?;
    let (decide_times, decision) = time(runs, || decide(&input));
    let cluster_cost: f64 = input.nodes.iter().filter_map(|f| f.price).sum();
    let (method, candidates, replacements, before, after) = match &decision.command {
        Some(c) => (
            c.method.to_string(),
            c.candidates.len(),
            c.replacements.len(),
            c.price_before,
            c.price_after,
        ),
        None => ("none".to_string(), 0, 0, 0.0, 0.0),
    };
    println!(
        "<!-- {case}, {pods} pods: kept {} -->",
        kept_reasons(&decision)
    );
    Ok(format!(
        "| {case} | {pods} | {} | {} | {cluster_cost:.2} | {} | {} | {method} | {candidates} | {replacements} | {before:.2} → {after:.2} |",
        bench.nodes(),
        bench.pods_left,
        spread(&build),
        spread(&decide_times),
    ))
}

/// The disruption loop from the case's cluster to its end, as a table row.
fn converge_row(case: &str, pods: usize, bench: &BenchCluster) -> anyhow::Result<String> {
    let input = bench.input()?;
    let cost_before: f64 = input.nodes.iter().filter_map(|f| f.price).sum();
    let cloud = InMemoryCloud::builtin();
    let run = DisruptionRun {
        now: bench.now,
        options: DisruptionOptions::default(),
    };
    let start = Instant::now();
    let outcome = futures::executor::block_on(simulate_disruption(
        &bench.state,
        &cloud,
        &SolveOptions::default(),
        &run,
        &BTreeSet::new(),
    ))?;
    let seconds = start.elapsed().as_secs_f64();
    let saved: f64 = outcome.commands.iter().map(|c| c.savings_per_hour()).sum();
    let removed: usize = outcome.commands.iter().map(|c| c.candidates.len()).sum();
    let launched: usize = outcome.commands.iter().map(|c| c.replacements.len()).sum();
    let moved: usize = outcome.moved_pods.iter().sum();
    let per_command: Vec<String> = outcome
        .commands
        .iter()
        .zip(&outcome.moved_pods)
        .map(|(c, m)| {
            format!(
                "{} {}→{} ({m} pods)",
                c.method,
                c.candidates.len(),
                c.replacements.len()
            )
        })
        .collect();
    println!("<!-- {case}, {pods} pods: {} -->", per_command.join("; "));
    Ok(format!(
        "| {case} | {pods} | {} | {cost_before:.2} | {} | {removed} | {launched} | {moved} | {:.2} | {seconds:.2} |",
        bench.nodes(),
        outcome.commands.len(),
        cost_before - saved,
    ))
}

fn main() -> anyhow::Result<()> {
    let args = Args::parse();
    let runs = args.runs.max(1);
    if args.converge {
        println!(
            "| case | pods planned | nodes | cluster $/h | commands | nodes removed | launched | pods moved | final $/h | loop s |"
        );
        println!("|---|---|---|---|---|---|---|---|---|---|");
        for &pods in &args.pods {
            for name in &args.cases {
                let (title, scenario, remove_empty) = case(name, pods)?;
                let mut bench =
                    cluster(&scenario).with_context(|| format!("{title}, {pods} pods"))?;
                if remove_empty {
                    bench.remove_empty_nodes();
                }
                println!("{}", converge_row(title, pods, &bench)?);
            }
        }
        return Ok(());
    }
    println!(
        "| case | pods planned | nodes | pods left | cluster $/h | input build s, median (min–max) | decide s, median (min–max) | method | candidates | replacements | command $/h before → after |"
    );
    println!("|---|---|---|---|---|---|---|---|---|---|---|");
    let mut rows = Vec::new();
    for &pods in &args.pods {
        for name in &args.cases {
            let (title, scenario, remove_empty) = case(name, pods)?;
            let mut bench = cluster(&scenario).with_context(|| format!("{title}, {pods} pods"))?;
            if remove_empty {
                bench.remove_empty_nodes();
            }
            rows.push(row(title, pods, &bench, runs)?);
        }
    }
    for r in rows {
        println!("{r}");
    }
    if let Some(rss) = peak_rss_mib() {
        println!("\npeak RSS {rss:.0} MiB");
    }
    Ok(())
}
