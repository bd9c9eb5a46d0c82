//! `kerf simulate FILE|DIR ...`: plan nodes for the pods in Kubernetes
//! manifests against the built-in instance catalogue, and print the plan.
//! Exit codes: 0 every pod placed; 1 pods left unschedulable (unless
//! `--allow-unschedulable`); 2 bad input; 3 internal failure.

use std::path::PathBuf;

use clap::ValueEnum;
use kerf_sim::{Format, SimulateOptions};

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
    };
    let report = match runtime.block_on(kerf_sim::simulate(&options)) {
        Ok(report) => report,
        Err(e) => {
            eprintln!("error: {e}");
            return e.exit_code();
        }
    };
    let format = match args.output {
        Output::Table => Format::Table,
        Output::Json => Format::Json,
        Output::Yaml => Format::Yaml,
    };
    match kerf_sim::render(&report, format) {
        Ok(text) => print!("{text}"),
        Err(e) => {
            eprintln!("error: {e}");
            return e.exit_code();
        }
    }
    report.exit_code(args.allow_unschedulable)
}
