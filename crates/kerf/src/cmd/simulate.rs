//! `kerf simulate FILE|DIR ...`: plan nodes for the pods in Kubernetes
//! manifests against the built-in instance catalogue, and print the plan.
//! With `--disruption`, also run Karpenter's disruption loop over the
//! manifests' Nodes and bound pods and print its commands. With `--report
//! FILE.html`, also write the plan as one self-contained HTML page. Exit codes: 0
//! every pod placed; 1 pods left unschedulable (unless
//! `--allow-unschedulable`); 2 bad input; 3 internal failure.

use std::path::PathBuf;

use clap::ValueEnum;
use kerf_core::disruption::DisruptionOptions;
use kerf_sim::{DisruptionRun, Format, SimulateOptions};

use super::feature_gates::FeatureGates;

#[derive(Clone, Copy, Debug, Default, ValueEnum)]
pub enum Output {
    /// A table for people.
    #[default]
    Table,
    Json,
    Yaml,
}

/// Plan the nodes kerf would launch for the pods in Kubernetes manifests.
///
/// Reads Provisioners / AWSNodeTemplates or NodePools / EC2NodeClasses,
/// Deployments, ReplicaSets, StatefulSets, Jobs, Pods, DaemonSets, Nodes,
/// PVCs, PVs, StorageClasses, PDBs and Namespaces (multi-document YAML or
/// JSON; directories are read file by file, sorted). Every unbound pod is
/// pending. Exit code 0: all placed; 1: pods unschedulable; 2: bad input.
#[derive(clap::Args, Debug)]
pub struct Args {
    /// Manifest files or directories.
    #[arg(required = true, value_name = "FILE|DIR")]
    pub paths: Vec<PathBuf>,
    /// Output format.
    #[arg(short, long, value_enum, default_value_t = Output::Table)]
    pub output: Output,
    /// Instance catalogue file (YAML or JSON) instead of the built-in AWS us-east-1 one.
    #[arg(long, value_name = "FILE")]
    pub catalog: Option<PathBuf>,
    /// Exit 0 even when pods stay unschedulable.
    #[arg(long)]
    pub allow_unschedulable: bool,
    /// Ignore preferred affinities, spreads and PreferNoSchedule taints entirely.
    #[arg(long)]
    pub ignore_preferences: bool,
    /// When a pod would leave fewer instance-type values than a pool's
    /// minValues: Strict keeps it off that node, BestEffort lowers minValues.
    #[arg(long, value_enum, ignore_case = true, default_value_t = super::MinValuesPolicy::Strict)]
    pub min_values_policy: super::MinValuesPolicy,
    /// Also run Karpenter's disruption loop over the Nodes and bound pods
    /// (every round at the same instant, at most 100 rounds), and print every
    /// command in order and why each managed node left stays.
    #[arg(long)]
    pub disruption: bool,
    /// Karpenter's feature gates, e.g. `SpotToSpotConsolidation=true` (the
    /// only one `--disruption` reads).
    #[arg(long, value_name = "NAME=BOOL,...", default_value = "")]
    pub feature_gates: FeatureGates,
    /// Also write the plan as one self-contained HTML page (inline CSS and
    /// SVG charts; it fetches nothing, so it opens with the network off).
    #[arg(long, value_name = "FILE.html")]
    pub report: Option<PathBuf>,
}

pub fn run(args: Args) -> i32 {
    let runtime = match super::runtime() {
        Ok(rt) => rt,
        Err(e) => {
            eprintln!("error: {e}");
            return 3;
        }
    };
    let mut solve = kerf_core::snapshot::SolveOptions::default();
    if args.ignore_preferences {
        solve.preference_policy = kerf_core::snapshot::PreferencePolicy::Ignore;
    }
    solve.min_values_policy = args.min_values_policy.into();
    let options = SimulateOptions {
        paths: args.paths,
        catalog: args.catalog,
        solve,
        // The one clock read: every disruption round runs at this instant.
        disruption: args.disruption.then(|| DisruptionRun {
            now: kerf_sim::Timestamp::now(),
            options: DisruptionOptions {
                spot_to_spot: args.feature_gates.spot_to_spot_consolidation,
            },
        }),
    };
    // Cleared (dropped) before anything else is printed.
    let progress = super::progress::Progress::start("simulate");
    let simulated = runtime.block_on(kerf_sim::simulate_observed(&options, &mut |phase| {
        progress.stage(phase)
    }));
    let report = match simulated {
        Ok(report) => report,
        Err(e) => {
            progress.finish();
            eprintln!("error: {e}");
            return e.exit_code();
        }
    };
    progress.stage("writing the plan");
    let format = match args.output {
        Output::Table => Format::Table,
        Output::Json => Format::Json,
        Output::Yaml => Format::Yaml,
    };
    let text = kerf_sim::render(&report, format);
    let html = args
        .report
        .as_ref()
        .map(|_| kerf_sim::report::html(&report));
    progress.finish();
    let text = match text {
        Ok(text) => text,
        Err(e) => {
            eprintln!("error: {e}");
            return e.exit_code();
        }
    };
    // Written before anything is printed: a bad --report path is bad input,
    // and leaves no half-done run behind on stdout.
    if let (Some(path), Some(html)) = (&args.report, html)
        && let Err(e) = std::fs::write(path, html)
    {
        eprintln!(
            "error: --report {}: cannot write the report: {e}",
            path.display()
        );
        return 2;
    }
    print!("{text}");
    report.exit_code(args.allow_unschedulable)
}
