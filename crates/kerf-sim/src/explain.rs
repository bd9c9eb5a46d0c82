//! `kerf explain pod` over manifests: the simulator's snapshot and plan,
//! explained for one pod by [`kerf_core::explain`].

use kerf_core::explain::{PodExplanation, explain_pod};
use kerf_core::pod::PodKey;

use crate::{SimError, SimulateOptions, load_input, plan_state};

/// Plans the manifests as `kerf simulate` does and explains `pod`. A pod the
/// manifests do not hold is bad input, naming it.
pub async fn explain(options: &SimulateOptions, pod: &PodKey) -> Result<PodExplanation, SimError> {
    let (state, cloud) = load_input(options)?;
    let outcome = plan_state(&state, &cloud, &options.solve).await?;
    explain_pod(&outcome.snapshot, &outcome.plan, pod).ok_or_else(|| {
        SimError::Inconsistent(format!(
            "pod {pod}: not in the manifests (pods are named NAMESPACE/NAME; \
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

/// Runs the disruption loop over the manifests as `kerf simulate
/// --disruption` does and tells what it does with `node`. A node the
/// manifests do not hold is bad input, naming it.
pub async fn explain_node(
    options: &SimulateOptions,
    run: &crate::DisruptionRun,
    node: &str,
) -> Result<NodeExplanation, SimError> {
    let (state, cloud) = load_input(options)?;
    if !state
        .objects::<k8s_openapi::api::core::v1::Node>()
        .any(|(name, _)| name == node)
    {
        return Err(SimError::Inconsistent(format!(
            "node {node}: not in the manifests (a `kubectl get nodes -o yaml` dump is read item by item)"
        )));
    }
    let outcome = crate::disruption::simulate_disruption(
        &state,
        &cloud,
        &options.solve,
        run,
        &Default::default(),
    )
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
