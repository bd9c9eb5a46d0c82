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
