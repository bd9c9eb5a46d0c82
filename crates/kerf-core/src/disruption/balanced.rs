//! Karpenter's `Balanced` consolidation policy: a consolidation move in a
//! Balanced pool goes ahead only when the share of the pool's cost it saves
//! is at least half the share of the pool's disruption it causes
//! (`(savings / pool cost) / (disruption / pool disruption) >= 1/K`, K = 2).
//!
//! A node's disruption is 1 (draining it at all) plus each pod it would
//! evict, weighted by Kubernetes' own eviction preferences: the
//! `controller.kubernetes.io/pod-deletion-cost` annotation and the pod's
//! priority, each pod clamped to 0..10. Emptiness and drift are not scored.

use std::collections::BTreeMap;

use k8s_openapi::api::core::v1::Pod;
use kerf_api::labels::POD_DELETION_COST;

use super::candidates::reschedulable;
use super::{DisruptionInput, KeptReason, Policy};
use crate::template::PoolRef;

/// Karpenter's `BalancedK`: a move must score at least `1 / K`.
pub const BALANCED_K: f64 = 2.0;
/// What draining a node costs before any pod is counted.
const PER_NODE_DISRUPTION: f64 = 1.0;

/// What evicting one pod costs: 1, plus its deletion-cost annotation and its
/// priority scaled so the extremes of each weigh about 16 pods, clamped to
/// -10..10 (as Karpenter and the ReplicaSet controller rank pods). An
/// unparsable annotation counts as absent, as upstream does, and so does a
/// cost kerf wrote itself to steer scale-downs ([`super::deletion_cost`]).
pub fn eviction_cost(pod: &Pod) -> f64 {
    let mut cost = 1.0;
    let deletion_cost = pod
        .metadata
        .annotations
        .as_ref()
        .filter(|_| !super::deletion_cost::cost_is_kerfs(pod))
        .and_then(|a| a.get(POD_DELETION_COST))
        .and_then(|v| v.parse::<f64>().ok());
    if let Some(deletion_cost) = deletion_cost {
        cost += deletion_cost / 2f64.powi(27);
    }
    if let Some(priority) = pod.spec.as_ref().and_then(|s| s.priority) {
        cost += f64::from(priority) / 2f64.powi(25);
    }
    cost.clamp(-10.0, 10.0)
}

/// One Balanced pool's denominators: the $/h of all its nodes and the
/// disruption of draining all of them.
#[derive(Clone, Copy, Debug, Default)]
struct PoolTotals {
    cost: f64,
    disruption: f64,
}

/// One node of a Balanced pool, as the score reads it.
#[derive(Clone, Debug)]
struct Scored {
    pool: PoolRef,
    price: f64,
    disruption: f64,
}

/// The Balanced pools' totals and each of their nodes, computed once per
/// decision.
#[derive(Debug, Default)]
pub(super) struct Scorer {
    totals: BTreeMap<PoolRef, PoolTotals>,
    nodes: BTreeMap<String, Scored>,
}

impl Scorer {
    pub(super) fn new(input: &DisruptionInput) -> Scorer {
        let mut scorer = Scorer::default();
        if !input.pools.values().any(|p| p.policy == Policy::Balanced) {
            return scorer;
        }
        let facts: BTreeMap<&str, &super::NodeFacts> =
            input.nodes.iter().map(|f| (f.name.as_str(), f)).collect();
        for node in &input.cluster.nodes {
            let Some(f) = facts.get(node.name.as_str()) else {
                continue;
            };
            let balanced = input
                .pools
                .get(&f.pool)
                .is_some_and(|p| p.policy == Policy::Balanced);
            // Nodes of other pools are kept for their pool and price only:
            // a move across pools shares its saving by price.
            let disruption = if balanced {
                PER_NODE_DISRUPTION
                    + reschedulable(node)
                        .map(|p| eviction_cost(p).max(0.0))
                        .sum::<f64>()
            } else {
                0.0
            };
            let scored = Scored {
                pool: f.pool.clone(),
                price: f.price.unwrap_or(0.0),
                disruption,
            };
            if balanced {
                let totals = scorer.totals.entry(f.pool.clone()).or_default();
                totals.cost += scored.price;
                totals.disruption += scored.disruption;
            }
            scorer.nodes.insert(node.name.clone(), scored);
        }
        scorer
    }

    /// Whether deleting `node` outright (the best any move can do) would pass;
    /// nodes outside Balanced pools always pass.
    pub(super) fn can_pass(&self, node: &str) -> Result<(), KeptReason> {
        let Some(n) = self.nodes.get(node) else {
            return Ok(());
        };
        // Only Balanced pools have totals.
        match self.totals.get(&n.pool) {
            Some(totals) if totals.cost > 0.0 => score(n.price, n.disruption, *totals, &n.pool),
            _ => Ok(()),
        }
    }

    /// Whether a move removing `candidates` and saving `savings` $/h passes
    /// in every Balanced pool it touches; the net saving is shared among
    /// pools by their candidates' price. `source_cost` is the candidates'
    /// price, every pool's.
    pub(super) fn approve(
        &self,
        candidates: &[String],
        source_cost: f64,
        savings: f64,
    ) -> Result<(), KeptReason> {
        if self.totals.is_empty() {
            return Ok(());
        }
        // (price, disruption) of the candidates of each pool.
        let mut by_pool: BTreeMap<&PoolRef, (f64, f64)> = BTreeMap::new();
        for n in candidates.iter().filter_map(|c| self.nodes.get(c)) {
            let entry = by_pool.entry(&n.pool).or_default();
            entry.0 += n.price;
            entry.1 += n.disruption;
        }
        let pools_touched = by_pool.len();
        for (pool, (pool_cost, disruption)) in by_pool {
            let Some(totals) = self.totals.get(pool) else {
                continue;
            };
            let pool_savings = if pools_touched > 1 && source_cost > 0.0 {
                savings * pool_cost / source_cost
            } else {
                savings
            };
            score(pool_savings, disruption, *totals, pool)?;
        }
        Ok(())
    }
}

fn score(
    savings: f64,
    disruption: f64,
    totals: PoolTotals,
    pool: &PoolRef,
) -> Result<(), KeptReason> {
    let (savings_fraction, disruption_fraction) = if totals.cost > 0.0 && totals.disruption > 0.0 {
        (savings / totals.cost, disruption / totals.disruption)
    } else {
        (0.0, 0.0)
    };
    let score = if savings_fraction <= 0.0 {
        0.0
    } else if disruption_fraction == 0.0 {
        f64::INFINITY
    } else {
        savings_fraction / disruption_fraction
    };
    if score >= 1.0 / BALANCED_K {
        return Ok(());
    }
    Err(KeptReason::BalancedScore {
        pool: pool.name.clone(),
        savings_percent: savings_fraction * 100.0,
        disruption_percent: disruption_fraction * 100.0,
        score,
    })
}
