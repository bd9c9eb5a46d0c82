//! Keeps `controller.kubernetes.io/pod-deletion-cost` on ReplicaSet pods as
//! [`kerf_core::disruption::deletion_cost`] ranks their nodes, so that a
//! Deployment scaling down empties the nodes disruption would remove first
//! and they go without an eviction. Off with `--feature-gates
//! PodDeletionCostManagement=false`.
//!
//! A loop of its own, not a step of the disruption round: a round waits out
//! validation delays and replacements, and a scale-down does not wait for it.

use std::sync::Arc;
use std::time::Duration;

use futures::StreamExt;
use k8s_openapi::api::core::v1::Pod;
use kerf_api::labels::{MANAGED_POD_DELETION_COST, POD_DELETION_COST};
use kerf_core::disruption::{DeletionCostChange, DeletionCosts, deletion_costs};
use kube::api::{Patch, PatchParams};

use super::{DisruptionError, build_input};
use crate::context::Context;

/// How often the loop looks; it writes only when the cluster changed.
const POLL: Duration = Duration::from_secs(2);
/// Writes in flight at once.
const CONCURRENCY: usize = 16;
/// Writes per look, so one look over a large scale-up does not hold the
/// next (which sees the newer ranking) for long.
const WRITES_PER_LOOK: usize = 2_000;

pub async fn run(ctx: Arc<Context>) {
    if !ctx.options.disruption.pod_deletion_cost {
        return std::future::pending().await;
    }
    let mut settled: Option<u64> = None;
    loop {
        tokio::time::sleep(POLL).await;
        if !ctx.is_active() {
            settled = None;
            continue;
        }
        let digest = ctx.state().disruption_digest();
        if settled == Some(digest) {
            continue;
        }
        match look(&ctx).await {
            // Every write landed (or none was needed): nothing to do until
            // the cluster changes, our own writes aside.
            Ok(true) => settled = Some(ctx.state().disruption_digest()),
            Ok(false) => settled = None,
            Err(e) => {
                settled = None;
                tracing::warn!(error = %e, "pod-deletion-cost round failed");
            }
        }
    }
}

/// Computes the writes and makes up to [`WRITES_PER_LOOK`] of them; true when
/// nothing is left to write and no node waits to be ranked.
async fn look(ctx: &Context) -> Result<bool, DisruptionError> {
    let pools = ctx.state().pools();
    let instance_types = kerf_state::resolve_instance_types(&pools, ctx.cloud.as_ref()).await?;
    let DeletionCosts { changes, waiting } = {
        // Drift the cloud reports is the disruption loop's to ask for; the
        // template drift every snapshot shows is enough to rank by.
        let built = build_input(ctx, &pools, &instance_types, Default::default());
        deletion_costs(&built.input)
    };
    // Nodes waiting to be ranked become rankable with time, not with a
    // change the digest sees: look again.
    let waiting = waiting > 0;
    if changes.is_empty() {
        return Ok(!waiting);
    }
    let total = changes.len();
    let results: Vec<bool> = futures::stream::iter(changes.into_iter().take(WRITES_PER_LOOK))
        .map(|change| write(ctx, change))
        .buffer_unordered(CONCURRENCY)
        .collect()
        .await;
    let written = results.iter().filter(|ok| **ok).count();
    ctx.metrics
        .disruption
        .deletion_cost_writes
        .inc_by(written as u64);
    tracing::debug!(total, written, "pod-deletion-cost writes");
    Ok(!waiting && total <= WRITES_PER_LOOK && written == results.len())
}

/// One pod's write, refused by the API server if the pod changed since the
/// snapshot (its resourceVersion), so a cost a user set meanwhile stays.
async fn write(ctx: &Context, change: DeletionCostChange) -> bool {
    let value = change.cost.map(|c| c.to_string());
    let patch = serde_json::json!({
        "metadata": {
            "resourceVersion": change.resource_version,
            "annotations": {
                POD_DELETION_COST: value,
                MANAGED_POD_DELETION_COST: value,
            }
        }
    });
    let api: kube::Api<Pod> = kube::Api::namespaced(ctx.client.clone(), &change.pod.namespace);
    match api
        .patch(
            &change.pod.name,
            &PatchParams::default(),
            &Patch::Merge(&patch),
        )
        .await
    {
        Ok(_) => true,
        // Gone, or changed since: the next look decides again.
        Err(kube::Error::Api(e)) if e.code == 404 || e.code == 409 => false,
        Err(e) => {
            tracing::warn!(pod = %change.pod, error = %e,
                "writing pod-deletion-cost");
            false
        }
    }
}
