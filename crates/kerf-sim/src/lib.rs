//! `kerf simulate`: reads ordinary Kubernetes manifests, plans the nodes kerf
//! would launch for their pods, and reports them — no cluster, no cloud.
//!
//! The pipeline is the live controller's, with the simulator's inputs:
//! [`load`] builds a [`kerf_state::ClusterState`] from the files (workloads
//! expanded into pods by [`workloads`], and the DaemonSet pods the input's
//! Nodes would be running created by [`daemons`]); [`kerf_state::provision`] runs
//! against a [`kerf_cloud::InMemoryCloud`] selling the built-in (or a given)
//! catalogue, with every unbound pod pending; each resulting NodeClaim is
//! launched with `cloud.create` so the [`report`] shows the offering the
//! cloud actually chose. With `--disruption`, [`disruption`] then runs
//! Karpenter's disruption loop over the input's Nodes and bound pods and the
//! report lists its commands and the nodes it keeps.

pub mod daemons;
pub mod disruption;
pub mod error;
pub mod explain;
pub mod limits;
pub mod load;
pub mod report;
mod v1beta1;
pub mod validate;
pub mod workloads;

use std::path::PathBuf;

use kerf_cloud::{Catalog, CloudProvider, InMemoryCloud};
use kerf_core::snapshot::SolveOptions;
use kerf_state::{DeterministicNames, PendingMode, ProvisionOptions};

pub use disruption::DisruptionRun;
pub use error::{Location, SimError};
/// The clock type of [`DisruptionRun::now`].
pub use k8s_openapi::jiff::Timestamp;
pub use report::Report;

/// What to simulate.
#[derive(Clone, Debug, Default)]
pub struct SimulateOptions {
    /// Manifest files and directories.
    pub paths: Vec<PathBuf>,
    /// Instance catalogue (YAML or JSON); the built-in AWS us-east-1 one when absent.
    pub catalog: Option<PathBuf>,
    pub solve: SolveOptions,
    /// Also run the disruption loop over the input's Nodes (`--disruption`).
    pub disruption: Option<DisruptionRun>,
}

/// Output formats of the report.
#[derive(Clone, Copy, Debug, Default, PartialEq, Eq)]
pub enum Format {
    #[default]
    Table,
    Json,
    Yaml,
}

/// Loads the manifests, plans and launches on the in-memory cloud, and reports.
pub async fn simulate(options: &SimulateOptions) -> Result<Report, SimError> {
    simulate_observed(options, &mut |_| {}).await
}

/// A stage of [`simulate_observed`], with the size of its work, for a
/// person watching a long run (`kerf simulate` shows it on a terminal).
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum Phase {
    /// Reading and checking the manifests.
    Loading { paths: usize },
    /// Planning nodes for the pending pods.
    Planning { pods: usize, pools: usize },
    /// Karpenter's disruption loop over the input's nodes (`--disruption`).
    Disrupting { nodes: usize },
}

impl std::fmt::Display for Phase {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        let plural = |n: usize| if n == 1 { "" } else { "s" };
        match *self {
            Phase::Loading { paths } => write!(f, "reading {paths} path{}", plural(paths)),
            Phase::Planning { pods, pools } => write!(
                f,
                "planning nodes for {pods} pending pod{} across {pools} pool{}",
                plural(pods),
                plural(pools)
            ),
            Phase::Disrupting { nodes } => {
                write!(f, "running disruption over {nodes} node{}", plural(nodes))
            }
        }
    }
}

/// [`simulate`], telling `on_phase` as each stage starts.
pub async fn simulate_observed(
    options: &SimulateOptions,
    on_phase: &mut dyn FnMut(Phase),
) -> Result<Report, SimError> {
    on_phase(Phase::Loading {
        paths: options.paths.len(),
    });
    let (state, cloud) = load_input(options)?;
    on_phase(Phase::Planning {
        pods: state.pending_pods(PendingMode::AllUnbound).len(),
        // Every pool object: simulate_state refuses the run if one is unusable.
        pools: state.len::<kerf_api::v1alpha5::Provisioner>()
            + state.len::<kerf_api::v1::NodePool>(),
    });
    let mut report = simulate_state(&state, &cloud, &options.solve).await?;
    if let Some(run) = &options.disruption {
        on_phase(Phase::Disrupting {
            nodes: state.len::<k8s_openapi::api::core::v1::Node>(),
        });
        let taken = report.nodes.iter().map(|n| n.name.clone()).collect();
        let outcome =
            disruption::simulate_disruption(&state, &cloud, &options.solve, run, &taken).await?;
        report::add_disruption(&mut report, &outcome);
    }
    Ok(report)
}

/// The manifests' cluster state (DaemonSets' pods materialised) and a cloud
/// selling the catalogue.
pub fn load_input(
    options: &SimulateOptions,
) -> Result<(kerf_state::ClusterState, InMemoryCloud), SimError> {
    let mut loaded = load::load_paths(&options.paths)?;
    daemons::materialise(&mut loaded.state)?;
    Ok((loaded.state, cloud(options.catalog.as_deref())?))
}

/// The in-memory cloud selling `catalog` (a file), or the built-in one.
pub fn cloud(catalog: Option<&std::path::Path>) -> Result<InMemoryCloud, SimError> {
    Ok(InMemoryCloud::new(load_catalog(catalog)?))
}

/// The catalogue `--catalog` names (a file), or the built-in one: what
/// [`cloud`] sells and `kerf top` prices nodes by.
pub fn load_catalog(catalog: Option<&std::path::Path>) -> Result<Catalog, SimError> {
    match catalog {
        Some(path) => Catalog::from_file(path).map_err(|e| SimError::Catalog(e.to_string())),
        None => Ok(Catalog::builtin()),
    }
}

/// How the simulator plans: every unbound pod is pending, and, as the
/// controller does, expected replicas count (every replica of a workload
/// read from the manifests is already a pod here, so nothing is expected).
pub(crate) fn provision_options(solve: &SolveOptions) -> ProvisionOptions {
    ProvisionOptions {
        pending: PendingMode::AllUnbound,
        solve: solve.clone(),
        expected_replicas: true,
    }
}

/// [`simulate`] for an already loaded state and a given cloud.
pub async fn simulate_state(
    state: &kerf_state::ClusterState,
    cloud: &dyn CloudProvider,
    solve: &SolveOptions,
) -> Result<Report, SimError> {
    let pools = state.pools();
    if !pools.skipped.is_empty() {
        return Err(SimError::Inconsistent(pools.skipped.join("\n")));
    }
    let options = provision_options(solve);
    let mut names = DeterministicNames::default();
    let outcome = kerf_state::provision(state, cloud, &options, &mut names)
        .await
        .map_err(|e| SimError::Provision(e.to_string()))?;
    if !outcome.problems.is_empty() {
        return Err(SimError::Inconsistent(outcome.problems.join("\n")));
    }
    let mut launched = Vec::with_capacity(outcome.claims.len());
    for planned in &outcome.claims {
        let claim = cloud.create(&planned.claim).await.map_err(|e| {
            SimError::Provision(format!(
                "launching NodeClaim {}: {e}",
                planned.claim.metadata.name.as_deref().unwrap_or_default()
            ))
        })?;
        launched.push(claim);
    }
    // Conversion warnings (unset subnet selectors, ...) matter for a live
    // cluster, not for a plan; the validator's findings do.
    let mut warnings = Vec::new();
    warnings.extend(
        kerf_core::validate::validate(&outcome.snapshot, &outcome.plan)
            .into_iter()
            .map(|v| format!("plan validator: {v}")),
    );
    Ok(report::build(&outcome, &launched, warnings))
}

/// The report in the requested format.
pub fn render(report: &Report, format: Format) -> Result<String, SimError> {
    match format {
        Format::Table => Ok(report::render_table(report)),
        _ => render_data(report, format),
    }
}

/// Any result as JSON or YAML (`Format::Table` is JSON too: tables are
/// each command's own).
pub fn render_data<T: serde::Serialize>(value: &T, format: Format) -> Result<String, SimError> {
    match format {
        Format::Yaml => serde_yaml::to_string(value)
            .map_err(|e| SimError::Provision(format!("rendering YAML: {e}"))),
        Format::Json | Format::Table => serde_json::to_string_pretty(value)
            .map(|s| s + "\n")
            .map_err(|e| SimError::Provision(format!("rendering JSON: {e}"))),
    }
}
