//! Disruption decisions: which kerf-managed nodes to remove or replace, and
//! why every other one stays. Pure functions over the scheduler's snapshot
//! plus the facts disruption needs about each node (price, age, pool policy,
//! drift), as Karpenter v1 decides them: Emptiness first, then Drift, then
//! multi-node and single-node consolidation; the first method that yields a
//! command wins.
//!
//! Consolidation asks the scheduler itself ([`crate::scheduler::solve`])
//! where the candidates' pods would go without them: a command is valid
//! only when every such pod has a place, on nodes that exist and are
//! initialized or on at most one new node that is strictly cheaper than the
//! candidates together (never one node split into several).
//!
//! When budgets let consolidation take only a few nodes per command, it takes
//! first the members of the cheapest fleet it can reach by deletion
//! ([`target`]), and names the members it leaves for later
//! ([`Decision::planned`]).
//!
//! Drift asks the scheduler the same question for one node at a time, but
//! takes any number of new nodes at any price. Callers that know templates
//! and node classes decide *whether* a node drifted ([`NodeFacts::drifted`]);
//! this module decides what to do about it.

mod balanced;
#[cfg(test)]
mod balanced_tests;
pub mod budgets;
mod candidates;
mod consolidation;
pub mod deletion_cost;
#[cfg(test)]
mod deletion_cost_tests;
mod drift;
#[cfg(test)]
mod drift_tests;
mod indexed;
mod kept;
#[cfg(test)]
mod properties;
mod repacking;
mod target;
#[cfg(test)]
mod target_tests;
#[cfg(test)]
mod tests;

use std::collections::BTreeMap;
use std::fmt;
use std::time::Duration;

use k8s_openapi::api::policy::v1::PodDisruptionBudget;
use k8s_openapi::jiff::Timestamp;
use rustc_hash::FxHashSet;
use serde::{Deserialize, Serialize};

use crate::plan::PlannedNode;
use crate::snapshot::Snapshot;
use crate::template::PoolRef;

pub use balanced::{BALANCED_K, eviction_cost};
pub use budgets::{BudgetNodes, BudgetRule};
/// The pods that would have to move off a node: not DaemonSet, mirror, terminal or deleting ones.
pub use candidates::reschedulable as pods_to_move;
pub use deletion_cost::{DeletionCostChange, DeletionCosts, deletion_costs};
pub use kept::KeptReason;

/// Why a node is disrupted (Karpenter's `reasons` in budgets and events).
#[derive(Clone, Copy, Debug, PartialEq, Eq, PartialOrd, Ord, Hash, Serialize, Deserialize)]
pub enum Reason {
    Empty,
    Drifted,
    Underutilized,
}

impl fmt::Display for Reason {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(match self {
            Reason::Empty => "Empty",
            Reason::Drifted => "Drifted",
            Reason::Underutilized => "Underutilized",
        })
    }
}

/// The method that produced a command, in the order they are tried.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Serialize, Deserialize)]
pub enum Method {
    Emptiness,
    Drift,
    MultiNodeConsolidation,
    SingleNodeConsolidation,
}

impl fmt::Display for Method {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(match self {
            Method::Emptiness => "emptiness",
            Method::Drift => "drift",
            Method::MultiNodeConsolidation => "multi-node consolidation",
            Method::SingleNodeConsolidation => "single-node consolidation",
        })
    }
}

/// Which nodes a pool lets consolidation remove.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Serialize, Deserialize)]
pub enum Policy {
    /// Only nodes without workload pods.
    WhenEmpty,
    /// Empty nodes, and nodes whose pods fit elsewhere or on one cheaper node.
    WhenEmptyOrUnderutilized,
    /// As WhenEmptyOrUnderutilized, but a consolidation move must save a
    /// share of the pool's cost at least half the share of the pool's
    /// disruption it causes (Karpenter v1.14's Balanced).
    Balanced,
}

/// A kerf-only guard against churn: a replacement must save at least this
/// much (both bounds apply; zero for both is Karpenter's "strictly cheaper").
#[derive(Clone, Copy, Debug, Default, PartialEq, Serialize, Deserialize)]
pub struct MinSavings {
    /// Dollars per hour.
    pub per_hour: f64,
    /// Fraction of the candidates' price, 0 to 1.
    pub fraction: f64,
}

/// What one pool says about disrupting its nodes.
#[derive(Clone, Debug, PartialEq, Serialize, Deserialize)]
pub struct PoolPolicy {
    pub policy: Policy,
    /// How long a node must have been quiet (no pod arriving or leaving)
    /// before consolidation touches it; `None` is `Never`.
    pub consolidate_after: Option<Duration>,
    pub budgets: Vec<BudgetRule>,
    pub min_savings: MinSavings,
}

impl PoolPolicy {
    /// Karpenter v1's defaults: WhenEmptyOrUnderutilized, consolidateAfter 0s, 10%.
    pub fn karpenter_default() -> Self {
        PoolPolicy {
            policy: Policy::WhenEmptyOrUnderutilized,
            consolidate_after: Some(Duration::ZERO),
            budgets: vec![BudgetRule::default_rule()],
            min_savings: MinSavings::default(),
        }
    }
}

/// What disruption knows about one node beyond what the scheduler sees. Nodes
/// of the snapshot without facts are not kerf's and are never candidates.
#[derive(Clone, Debug, PartialEq, Serialize, Deserialize)]
pub struct NodeFacts {
    /// The node's name, as in [`crate::snapshot::ExistingNode::name`].
    pub name: String,
    pub pool: PoolRef,
    pub instance_type: String,
    pub zone: String,
    pub capacity_type: String,
    /// $/h of its offering, when the catalogue knows it.
    pub price: Option<f64>,
    /// Registered and initialized (a launch still in flight is not).
    pub initialized: bool,
    /// The Node or its NodeClaim is being deleted.
    pub deleting: bool,
    pub ready: bool,
    /// A pending pod was just planned onto it.
    pub nominated: bool,
    /// `karpenter.sh/do-not-disrupt: "true"` (or v1alpha5's `do-not-consolidate`) on the node.
    pub do_not_disrupt: bool,
    /// When a pod last arrived on or left it (or it initialized); `None`
    /// counts as long ago.
    pub last_pod_event: Option<Timestamp>,
    /// Why it no longer matches its pool or node class, if it does not.
    pub drifted: Option<String>,
    /// Since when its claim has said so (the `Drifted` condition's
    /// transition); drift takes the longest-drifted node first.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub drifted_since: Option<Timestamp>,
}

/// Switches that change what disruption may do.
#[derive(Clone, Copy, Debug, Default, PartialEq, Eq, Serialize, Deserialize)]
pub struct DisruptionOptions {
    /// `--feature-gates SpotToSpotConsolidation=true`.
    pub spot_to_spot: bool,
}

/// Everything a disruption decision reads.
#[derive(Clone, Debug)]
pub struct DisruptionInput {
    /// The cluster as the scheduler sees it: every node with its pods, the
    /// pools' templates with their instance types, daemonsets, volumes.
    pub cluster: Snapshot,
    pub nodes: Vec<NodeFacts>,
    pub pools: BTreeMap<PoolRef, PoolPolicy>,
    /// With their status (`disruptionsAllowed`).
    pub pdbs: Vec<PodDisruptionBudget>,
    pub now: Timestamp,
    pub options: DisruptionOptions,
}

/// A node to launch in place of the candidates: the scheduler's planned node
/// with its options narrowed to the offerings the command allows (for
/// consolidation, only those cheaper than the candidates; for drift, every
/// one that fits the pods); `node.chosen` is the cheapest of them.
#[derive(Clone, Debug, PartialEq, Serialize, Deserialize)]
pub struct Replacement {
    pub node: PlannedNode,
}

/// One decision: remove `candidates`, launching `replacements` first.
#[derive(Clone, Debug, PartialEq, Serialize, Deserialize)]
pub struct Command {
    pub method: Method,
    pub reason: Reason,
    pub candidates: Vec<String>,
    pub replacements: Vec<Replacement>,
    /// $/h of the candidates.
    pub price_before: f64,
    /// $/h of the replacements.
    pub price_after: f64,
}

impl Command {
    pub fn savings_per_hour(&self) -> f64 {
        self.price_before - self.price_after
    }
}

/// A managed node no command touches, and why.
#[derive(Clone, Debug, PartialEq, Serialize, Deserialize)]
pub struct Kept {
    pub node: String,
    pub reason: KeptReason,
}

/// The next command, if any, and why every other managed node stays.
#[derive(Clone, Debug, Default, PartialEq, Serialize, Deserialize)]
pub struct Decision {
    pub command: Option<Command>,
    pub kept: Vec<Kept>,
    /// Nodes consolidation means to remove in later commands (budgets stop
    /// it taking them now), by name: pods should not move onto them.
    #[serde(default, skip_serializing_if = "Vec::is_empty")]
    pub planned: Vec<String>,
}

/// Karpenter's `Consolidatable` NodeClaim condition: the node is initialized
/// and its pool's `consolidateAfter` has passed since its last pod event.
pub fn is_consolidatable(facts: &NodeFacts, pool: &PoolPolicy, now: Timestamp) -> bool {
    facts.initialized && candidates::quiet(now, facts, pool).is_ok()
}

/// The one command Karpenter's loop would run next: Emptiness, then Drift,
/// then multi-node, then single-node consolidation.
pub fn decide(input: &DisruptionInput) -> Decision {
    let input = &indexed::Indexed::new(input);
    let sorted = candidates::sort(input);
    let mut kept = sorted.kept;
    let scorer = balanced::Scorer::new(input);
    let target = target::removal_target(input, &scorer, &sorted.consolidatable);
    let underutilized = target::members_first(&sorted.underutilized, &target);
    let command = consolidation::emptiness(input, &sorted.empty)
        .or_else(|| drift::drift(input, &sorted.drifted, &mut kept))
        .or_else(|| consolidation::multi_node(input, &scorer, &underutilized, &sorted.allowance))
        .or_else(|| consolidation::single_node(input, &scorer, &underutilized, &mut kept));
    let chosen: FxHashSet<&String> = command.iter().flat_map(|c| &c.candidates).collect();
    let planned = target
        .iter()
        .filter(|name| !chosen.contains(name))
        .cloned()
        .collect();
    let mut explained: FxHashSet<String> = kept.iter().map(|k| k.node.clone()).collect();
    // Drift and single-node consolidation explain every candidate they
    // tried; the ones left were eligible but another command went first.
    // A node in two of the lists (empty and drifted) is kept once.
    let candidates = sorted.empty.iter().chain(&sorted.drifted);
    for name in candidates.chain(&sorted.underutilized) {
        if !chosen.contains(&name) && explained.insert(name.clone()) {
            kept.push(Kept {
                node: name.clone(),
                reason: KeptReason::NotThisRound,
            });
        }
    }
    kept.sort_by(|a, b| a.node.cmp(&b.node));
    Decision {
        command,
        kept,
        planned,
    }
}
