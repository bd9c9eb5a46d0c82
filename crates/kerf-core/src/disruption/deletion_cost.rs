//! Which `controller.kubernetes.io/pod-deletion-cost` each ReplicaSet pod on
//! a kerf-managed node should carry, so that a ReplicaSet scaling down
//! deletes its pods from the nodes disruption would remove first and empties
//! them, instead of spreading the deletions over every node (its default)
//! and leaving consolidation to evict the rest. This is the controller
//! Karpenter's RFC proposes (kubernetes-sigs/karpenter#2935, feature gate
//! `PodDeletionCostManagement`); kerf differs in never overwriting a cost it
//! did not write ([`labels::MANAGED_POD_DELETION_COST`]).
//!
//! Every pod of one node gets the same cost, lower for nodes that should
//! empty first: nodes being deleted, then drifted nodes, then the nodes of
//! pools that consolidate, the dearest per pod first. Not Karpenter's
//! candidate order (fewest pods first): emptying the smallest nodes first
//! leaves the remaining pods on the largest ones, one of them part-full, and
//! a part-full spot node can be neither removed (no room elsewhere) nor
//! replaced (spot to spot is off by default). Dearest per pod first empties
//! what saves most per deleted pod and keeps the pods on the nodes that hold
//! them most cheaply; among equally efficient nodes the part-full one is then
//! whichever the count reaches, and a later consolidation fills it.
//! Pods count in powers of two and nodes of one value are ordered by a hash
//! of their name, so a node's cost changes only when its pod count doubles
//! or halves: a scale-up does not rewrite every pod each time two nodes swap
//! places. Every cost is negative, below the default 0, so pods kerf has not
//! reached yet (and pods on nodes it leaves alone) go last.

use std::collections::BTreeMap;

use k8s_openapi::api::core::v1::Pod;
use kerf_api::labels::{MANAGED_POD_DELETION_COST, POD_DELETION_COST};

use super::DisruptionInput;
use super::candidates::{do_not_disrupt, reschedulable};
use crate::pod::PodKey;

/// One pod whose deletion cost kerf should write (`Some`) or take back (`None`).
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct DeletionCostChange {
    pub pod: PodKey,
    /// The version the decision read: a write against a newer one is refused,
    /// so a cost a user set meanwhile is never overwritten.
    pub resource_version: Option<String>,
    pub cost: Option<i32>,
}

/// What a node's pods should carry.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
enum NodeCost {
    Cost(i32),
    /// Disruption will not take this node: a ranking would only thin its
    /// ReplicaSets' spread for nothing.
    Clear,
    /// Not yet decidable (initializing, nominated): keep what is there
    /// rather than churn.
    Leave,
}

/// Rank classes, emptied in this order.
const DELETING: i32 = 0;
const DRIFTED: i32 = 1;
const CONSOLIDATABLE: i32 = 2;
const GROUP_SHIFT: u32 = 28;
const KEY_SHIFT: u32 = 16;
const NAME_BITS: u32 = 16;
/// The largest `16 log2($/h)` told apart (prices up to $65,536/h).
const TOP_PRICE: i32 = 256;
/// Keys fit 10 bits; an unknown price takes the last.
const LAST_KEY: i32 = 1023;

/// `i32::MIN` plus the group, the node's $/h per pod (dearest first) and the
/// name's hash: negative for every input. Price per pod is the saving each
/// deletion buys once the node empties. Pods count by their power of two
/// (1, 2-3, 4-7, ...) and the price in sixteenths of a doubling, so the
/// value moves only when the pod count doubles or halves.
fn rank(group: i32, pods: usize, price: Option<f64>, node: &str) -> i32 {
    let pods_class = (usize::BITS - pods.leading_zeros()) as i32;
    let key = match price.filter(|p| *p > 0.0 && p.is_finite()) {
        Some(price) => {
            let price16 = (price.log2() * 16.0).round().clamp(-256.0, 256.0) as i32;
            (TOP_PRICE - (price16 - 16 * pods_class)).clamp(0, LAST_KEY - 1)
        }
        None => LAST_KEY,
    };
    let name = (fnv1a(node) & ((1 << NAME_BITS) - 1)) as i32;
    i32::MIN + (group << GROUP_SHIFT) + (key << KEY_SHIFT) + name
}

/// A stable hash (std's is not promised to stay the same across releases, and
/// a changed hash would rewrite every pod after an upgrade).
fn fnv1a(s: &str) -> u32 {
    s.bytes().fold(0x811c_9dc5, |h, b| {
        (h ^ u32::from(b)).wrapping_mul(0x0100_0193)
    })
}

fn owned_by_replica_set(pod: &Pod) -> bool {
    pod.metadata
        .owner_references
        .iter()
        .flatten()
        .any(|o| o.kind == "ReplicaSet" && o.controller == Some(true))
}

/// What every node's pods should carry.
fn node_costs(input: &DisruptionInput) -> BTreeMap<&str, NodeCost> {
    let facts: BTreeMap<&str, &super::NodeFacts> =
        input.nodes.iter().map(|f| (f.name.as_str(), f)).collect();
    input
        .cluster
        .nodes
        .iter()
        .map(|node| {
            let pods = reschedulable(node).count();
            let cost = match facts.get(node.name.as_str()) {
                None => NodeCost::Clear,
                Some(f) if f.deleting || node.marked_for_deletion => {
                    NodeCost::Cost(rank(DELETING, 0, None, &node.name))
                }
                Some(f) if f.do_not_disrupt => NodeCost::Clear,
                Some(_) if reschedulable(node).any(|p| do_not_disrupt(p, input.now)) => {
                    NodeCost::Clear
                }
                Some(f) if !f.initialized || node.in_flight || f.nominated => NodeCost::Leave,
                Some(f) if f.drifted.is_some() => {
                    NodeCost::Cost(rank(DRIFTED, pods, f.price, &node.name))
                }
                Some(f) => match input.pools.get(&f.pool) {
                    Some(pool) if pool.consolidate_after.is_some() => {
                        NodeCost::Cost(rank(CONSOLIDATABLE, pods, f.price, &node.name))
                    }
                    _ => NodeCost::Clear,
                },
            };
            (node.name.as_str(), cost)
        })
        .collect()
}

/// What [`deletion_costs`] decides.
#[derive(Clone, Debug, Default, PartialEq, Eq)]
pub struct DeletionCosts {
    /// The writes, ordered by namespace and name.
    pub changes: Vec<DeletionCostChange>,
    /// Nodes left as they are while nominated or initializing: they become
    /// rankable with time, not with a change of any object, so a caller
    /// that waits for changes must look again.
    pub waiting: usize,
}

/// The writes that bring every ReplicaSet pod's deletion cost to what its
/// node's rank says, ordered by namespace and name (a pod whose cost kerf
/// did not write is never in them), and how many nodes wait to be ranked.
pub fn deletion_costs(input: &DisruptionInput) -> DeletionCosts {
    let costs = node_costs(input);
    let waiting = costs
        .values()
        .filter(|c| matches!(c, NodeCost::Leave))
        .count();
    let mut changes = Vec::new();
    for node in &input.cluster.nodes {
        let Some(&want) = costs.get(node.name.as_str()) else {
            continue;
        };
        for pod in reschedulable(node).filter(|p| owned_by_replica_set(p)) {
            let annotations = pod.metadata.annotations.as_ref();
            let current = annotations.and_then(|a| a.get(POD_DELETION_COST));
            let written = annotations.and_then(|a| a.get(MANAGED_POD_DELETION_COST));
            let ours = current.is_none() || current == written;
            let cost = match want {
                NodeCost::Leave => continue,
                _ if !ours => continue,
                NodeCost::Clear if written.is_none() => continue,
                NodeCost::Clear => None,
                NodeCost::Cost(c) => {
                    let value = c.to_string();
                    if current == Some(&value) && written == Some(&value) {
                        continue;
                    }
                    Some(c)
                }
            };
            changes.push(DeletionCostChange {
                pod: PodKey::of(pod),
                resource_version: pod.metadata.resource_version.clone(),
                cost,
            });
        }
    }
    changes.sort_by(|a, b| a.pod.cmp(&b.pod));
    DeletionCosts { changes, waiting }
}

/// Whether the pod's deletion cost is one kerf wrote (and so says nothing
/// about what evicting it costs the user).
pub fn cost_is_kerfs(pod: &Pod) -> bool {
    let annotations = pod.metadata.annotations.as_ref();
    let current = annotations.and_then(|a| a.get(POD_DELETION_COST));
    current.is_some() && current == annotations.and_then(|a| a.get(MANAGED_POD_DELETION_COST))
}
