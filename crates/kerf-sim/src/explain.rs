//! `kerf explain`: the simulator's plan and disruption loop over manifests
//! or a cluster's state, explained for one pod ([`kerf_core::explain`]) or
//! one node.

use kerf_cloud::CloudProvider;
use kerf_core::explain::{PodExplanation, explain_pod};
use kerf_core::pod::PodKey;
use kerf_core::snapshot::SolveOptions;
use kerf_state::ClusterState;

use crate::SimError;

/// Plans the state (manifests as [`crate::load_input`] reads them, or a live
/// cluster's) as `kerf simulate` does and explains `pod`. A pod the state
/// does not hold is bad input, naming it.
pub async fn explain_state(
    state: &ClusterState,
    cloud: &dyn CloudProvider,
    solve: &SolveOptions,
    pod: &PodKey,
) -> Result<PodExplanation, SimError> {
    // The whole snapshot, not the provisioner's: with nothing pending it
    // builds none, and a bound pod is explained by where it is.
    let pools = state.pools();
    if !pools.skipped.is_empty() {
        return Err(SimError::Inconsistent(pools.skipped.join("\n")));
    }
    let types = kerf_state::resolve_instance_types(&pools, cloud)
        .await
        .map_err(|e| SimError::Provision(e.to_string()))?;
    let options = crate::provision_options(solve).snapshot_options();
    let built = state.snapshot_with_pools(&pools, &types, &options);
    if !built.problems.is_empty() {
        return Err(SimError::Inconsistent(built.problems.join("\n")));
    }
    let plan = kerf_core::scheduler::solve(&built.snapshot);
    explain_pod(&built.snapshot, &plan, pod).ok_or_else(|| {
        SimError::Inconsistent(format!(
            "pod {pod}: not found (pods are named NAMESPACE/NAME; \
             a workload's pods as `kerf simulate -o yaml` lists them)"
        ))
    })
}

/// What disruption does with one node of the manifests.
#[derive(Clone, Debug, PartialEq, serde::Serialize)]
#[serde(tag = "outcome", rename_all = "camelCase")]
pub enum NodeOutcome {
    /// A command removes it: the round of the loop, and the command.
    Disrupted {
        round: usize,
        command: kerf_core::disruption::Command,
    },
    /// It stays, and why (from the loop's last round).
    Kept { reason: String },
    /// A Node kerf does not manage (no pool): disruption never touches it.
    NotManaged,
}

/// `kerf explain node`'s answer.
#[derive(Clone, Debug, PartialEq, serde::Serialize)]
pub struct NodeExplanation {
    pub node: String,
    #[serde(flatten)]
    pub outcome: NodeOutcome,
}

/// Runs the disruption loop over the state as `kerf simulate --disruption`
/// does and tells what it does with `node`. A node the state does not hold
/// is bad input, naming it.
pub async fn explain_node_state(
    state: &ClusterState,
    cloud: &dyn CloudProvider,
    solve: &SolveOptions,
    run: &crate::DisruptionRun,
    node: &str,
) -> Result<NodeExplanation, SimError> {
    if !state
        .objects::<k8s_openapi::api::core::v1::Node>()
        .any(|(name, _)| name == node)
    {
        return Err(SimError::Inconsistent(format!("node {node}: not found")));
    }
    let outcome =
        crate::disruption::simulate_disruption(state, cloud, solve, run, &Default::default())
            .await?;
    let disrupted = outcome
        .commands
        .iter()
        .enumerate()
        .find(|(_, c)| c.candidates.iter().any(|n| n == node));
    let outcome = match disrupted {
        Some((i, command)) => NodeOutcome::Disrupted {
            round: i + 1,
            command: command.clone(),
        },
        None => match outcome.kept.iter().find(|k| k.node == node) {
            Some(kept) => NodeOutcome::Kept {
                reason: kept.reason.to_string(),
            },
            None => NodeOutcome::NotManaged,
        },
    };
    Ok(NodeExplanation {
        node: node.to_string(),
        outcome,
    })
}
