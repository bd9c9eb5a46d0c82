//! Pool status, as Karpenter's counter controller keeps it: each Provisioner's
//! and NodePool's `status.resources` is the summed capacity of the pool's
//! nodes and of its launched claims that have no Node yet (their capacity is
//! known from the launch), leaving out what is being deleted. A NodePool also
//! reports `nodes` (in `status.resources` and `status.nodes`) and shows zeros
//! for the base resources, as Karpenter v1 does; a Provisioner with nothing
//! drops the field (v1alpha5's `omitempty`). [`status_patches`] is pure and
//! returns a patch only for pools whose status would change, so an idle
//! cluster causes no writes; [`reconcile_once`] writes them through the status
//! subresource.

use kerf_kube::is_not_found;
use std::collections::{BTreeMap, BTreeSet};

use k8s_openapi::api::core::v1::Node;
use k8s_openapi::apimachinery::pkg::api::resource::Quantity;
use kerf_api::v1::{NodeClaim, NodePool};
use kerf_api::v1alpha5::Provisioner;
use kerf_cloud::provider::quantity::to_quantities;
use kerf_core::resources::Resources;
use kerf_core::template::{PoolKind, PoolRef};
use kerf_state::ClusterState;
use kerf_state::pools::pool_of_labels;
use kube::Api;
use kube::api::{Patch, PatchParams};
use serde_json::{Value, json};

use crate::context::Context;

/// The resource key counting nodes (Karpenter's `resources.Node`).
pub const NODES: &str = "nodes";
/// Resources a NodePool's status always lists, zero when it has no nodes.
const BASE_RESOURCES: [&str; 5] = ["cpu", "memory", "pods", "ephemeral-storage", NODES];

/// What a pool's nodes add up to.
#[derive(Clone, Debug, Default, PartialEq)]
pub struct PoolUsage {
    pub resources: Resources,
    pub nodes: i64,
}

fn capacity_of(list: Option<&BTreeMap<String, Quantity>>) -> Option<Resources> {
    list.filter(|l| !l.is_empty())
        .and_then(|l| Resources::from_quantities(l).ok())
}

/// Capacity per pool over the state's nodes and launched, unregistered claims.
pub fn usage(state: &ClusterState) -> BTreeMap<PoolRef, PoolUsage> {
    let mut out: BTreeMap<PoolRef, PoolUsage> = BTreeMap::new();
    let mut counted_nodes: BTreeSet<String> = BTreeSet::new();
    let mut add = |pool: Option<PoolRef>, capacity: Option<Resources>| {
        if let (Some(pool), Some(capacity)) = (pool, capacity) {
            let u = out.entry(pool).or_default();
            u.resources.add(&capacity);
            u.nodes += 1;
        }
    };
    for (_, claim) in state.objects::<NodeClaim>() {
        let node = state.node_for_claim(claim);
        if let Some(name) = node.and_then(|n| n.metadata.name.clone()) {
            counted_nodes.insert(name);
        }
        if claim.metadata.deletion_timestamp.is_some()
            || node.is_some_and(|n| n.metadata.deletion_timestamp.is_some())
        {
            continue;
        }
        let pool = claim.metadata.labels.as_ref().and_then(pool_of_labels);
        let from_node = node.and_then(|n| capacity_of(n.status.as_ref()?.capacity.as_ref()));
        let from_claim = || capacity_of(claim.status.as_ref().map(|s| &s.capacity));
        add(pool, from_node.or_else(from_claim));
    }
    // Nodes of a pool without a claim (registered before kerf knew of them).
    for (name, node) in state.objects::<Node>() {
        if counted_nodes.contains(name) || node.metadata.deletion_timestamp.is_some() {
            continue;
        }
        let pool = node.metadata.labels.as_ref().and_then(pool_of_labels);
        add(
            pool,
            capacity_of(node.status.as_ref().and_then(|s| s.capacity.as_ref())),
        );
    }
    out
}

/// The `status.resources` the pool should report.
pub fn desired_resources(kind: PoolKind, usage: &PoolUsage) -> BTreeMap<String, Quantity> {
    let mut resources = usage.resources.clone();
    let mut out = BTreeMap::new();
    if kind == PoolKind::NodePool {
        resources.set(NODES, usage.nodes * kerf_core::resources::MILLI);
        for key in BASE_RESOURCES {
            out.insert(key.to_string(), Quantity("0".to_string()));
        }
    }
    out.extend(to_quantities(&resources));
    out
}

fn same_amounts(a: &BTreeMap<String, Quantity>, b: &BTreeMap<String, Quantity>) -> bool {
    let amount = |q: &Quantity| kerf_api::quantity::parse_quantity(&q.0).ok();
    a.len() == b.len()
        && a.iter()
            .all(|(k, v)| b.get(k).is_some_and(|w| amount(v) == amount(w)))
}

/// The status merge patch that brings `current` to what `usage` says, or
/// `None` when nothing would change. Keys no longer present are nulled (a
/// merge patch would otherwise keep them).
pub fn status_patch(
    kind: PoolKind,
    current: &BTreeMap<String, Quantity>,
    current_nodes: Option<i64>,
    usage: &PoolUsage,
) -> Option<Value> {
    let want = desired_resources(kind, usage);
    let nodes_match = kind != PoolKind::NodePool || current_nodes == Some(usage.nodes);
    if same_amounts(current, &want) && nodes_match {
        return None;
    }
    let resources = if want.is_empty() {
        Value::Null
    } else {
        let mut map = serde_json::Map::new();
        for key in current.keys().filter(|k| !want.contains_key(*k)) {
            map.insert(key.clone(), Value::Null);
        }
        for (key, q) in &want {
            map.insert(key.clone(), Value::String(q.0.clone()));
        }
        Value::Object(map)
    };
    Some(match kind {
        PoolKind::Provisioner => json!({ "status": { "resources": resources } }),
        PoolKind::NodePool => {
            json!({ "status": { "resources": resources, "nodes": usage.nodes } })
        }
    })
}

/// Every pool whose status must change, with its patch.
pub fn status_patches(state: &ClusterState) -> Vec<(PoolRef, Value)> {
    let usage = usage(state);
    let none = PoolUsage::default();
    let mut out = Vec::new();
    for (name, p) in state.objects::<Provisioner>() {
        let pool = PoolRef {
            kind: PoolKind::Provisioner,
            name: name.clone(),
        };
        let current = p.status.as_ref().map(|s| s.resources.clone());
        let u = usage.get(&pool).unwrap_or(&none);
        if let Some(patch) = status_patch(pool.kind, &current.unwrap_or_default(), None, u) {
            out.push((pool, patch));
        }
    }
    for (name, np) in state.objects::<NodePool>() {
        let pool = PoolRef {
            kind: PoolKind::NodePool,
            name: name.clone(),
        };
        let status = np.status.clone().unwrap_or_default();
        let u = usage.get(&pool).unwrap_or(&none);
        if let Some(patch) = status_patch(pool.kind, &status.resources, status.nodes, u) {
            out.push((pool, patch));
        }
    }
    out
}

/// Writes the pools' status where it changed.
pub async fn reconcile_once(ctx: &Context) {
    let patches = status_patches(&ctx.state());
    for (pool, patch) in patches {
        let params = PatchParams::default();
        let result = match pool.kind {
            PoolKind::Provisioner => {
                let api: Api<Provisioner> = Api::all(ctx.client.clone());
                api.patch_status(&pool.name, &params, &Patch::Merge(&patch))
                    .await
                    .map(|stored| {
                        ctx.state_mut()
                            .apply(stored)
                            .map(drop)
                            .map_err(|e| e.to_string())
                    })
            }
            PoolKind::NodePool => {
                let api: Api<NodePool> = Api::all(ctx.client.clone());
                api.patch_status(&pool.name, &params, &Patch::Merge(&patch))
                    .await
                    .map(|stored| {
                        ctx.state_mut()
                            .apply(stored)
                            .map(drop)
                            .map_err(|e| e.to_string())
                    })
            }
        };
        match result {
            Ok(Ok(())) => tracing::debug!(%pool, status = %patch["status"], "pool status updated"),
            Ok(Err(e)) => tracing::warn!(%pool, error = %e, "caching pool"),
            Err(e) if is_not_found(&e) => {}
            Err(e) => tracing::warn!(%pool, error = %e, "writing pool status.resources"),
        }
    }
}

#[cfg(test)]
#[path = "counter_tests.rs"]
mod tests;
