//! Keeps kerf's `kerf.sh/consolidation-planned:PreferNoSchedule` taint on
//! exactly the nodes the last decision plans to remove in later commands
//! ([`kerf_core::disruption::Decision::planned`]). Under a budget of one node
//! at a time, pods evicted from one candidate would otherwise spread onto the
//! next ones (kube-scheduler favours the emptiest nodes) and be evicted again.
//! The taint is soft: a pod that fits nowhere else still lands there.

use k8s_openapi::api::core::v1::{Node, Taint};
use kerf_api::labels::CONSOLIDATION_PLANNED_TAINT_KEY;

use super::execute::edit_node;
use crate::context::Context;

const EFFECT: &str = "PreferNoSchedule";

fn is_planned_taint(t: &Taint) -> bool {
    t.key == CONSOLIDATION_PLANNED_TAINT_KEY && t.effect == EFFECT
}

fn has_planned_taint(node: &Node) -> bool {
    node.spec
        .as_ref()
        .and_then(|s| s.taints.as_ref())
        .is_some_and(|ts| ts.iter().any(is_planned_taint))
}

/// Adds the taint to the planned nodes that lack it and removes it from every
/// other node. A failed write is logged and retried on the next round: the
/// taint only steers, so a stale one costs placement quality, not safety.
pub async fn sync(ctx: &Context, planned: &[String]) {
    let changes: Vec<(String, bool)> = {
        let state = ctx.state();
        state
            .objects::<Node>()
            .filter_map(|(name, node)| {
                let want = planned.contains(name);
                (want != has_planned_taint(node)).then(|| (name.clone(), want))
            })
            .collect()
    };
    for (node, want) in changes {
        let result = edit_node(ctx, &node, |n| {
            let taints = n
                .spec
                .get_or_insert_with(Default::default)
                .taints
                .get_or_insert_with(Vec::new);
            taints.retain(|t| !is_planned_taint(t));
            if want {
                taints.push(Taint {
                    key: CONSOLIDATION_PLANNED_TAINT_KEY.to_string(),
                    effect: EFFECT.to_string(),
                    ..Taint::default()
                });
            }
        })
        .await;
        match result {
            Ok(()) => tracing::debug!(%node, planned = want, "consolidation-planned taint"),
            Err(e) => tracing::warn!(%node, error = %e, "updating the consolidation-planned taint"),
        }
    }
}
