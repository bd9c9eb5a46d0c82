//! Which managed nodes disruption may consider, and why the others stay:
//! Karpenter's candidate rules (initialized, not deleting, not nominated, no
//! do-not-disrupt on the node or an active one on a pod, no pod a PDB
//! protects now, `consolidateAfter` passed), the pool's policy, and its budgets.

use std::collections::BTreeMap;
use std::fmt;
use std::time::Duration;

use k8s_openapi::api::core::v1::Pod;
use k8s_openapi::api::policy::v1::PodDisruptionBudget;
use k8s_openapi::jiff::Timestamp;
use kerf_api::duration::GoDuration;
use kerf_api::labels;
use serde::{Deserialize, Serialize};

use super::{DisruptionInput, NodeFacts, Policy, Reason, budgets};
use crate::selector::Selector;
use crate::snapshot::ExistingNode;
use crate::template::PoolRef;

/// Why a managed node is not disrupted, in words a person can act on.
#[derive(Clone, Debug, PartialEq, Serialize, Deserialize)]
pub enum KeptReason {
    NotInCluster,
    NotInitialized,
    Deleting,
    Nominated,
    DoNotDisruptNode,
    DoNotDisruptPod {
        pod: String,
    },
    PodDisruptionBudget {
        pod: String,
        pdb: String,
    },
    UnknownPool,
    UnknownPrice,
    ConsolidateAfterNever,
    ConsolidateAfter {
        remaining: Duration,
    },
    OnlyWhenEmpty,
    Budget {
        reason: Reason,
        pool: String,
    },
    PodsWouldNotFit {
        pod: String,
        why: String,
    },
    WouldNeedNodes {
        count: usize,
    },
    NoCheaperFit {
        cheapest: Option<f64>,
        current: f64,
    },
    SpotToSpotDisabled,
    SpotToSpotFlexibility {
        cheaper_types: usize,
    },
    /// Eligible, but another command goes first this round.
    NotThisRound,
}

impl fmt::Display for KeptReason {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        use KeptReason::*;
        match self {
            NotInCluster => write!(f, "not in the cluster snapshot"),
            NotInitialized => write!(f, "not initialized yet"),
            Deleting => write!(f, "already being deleted"),
            Nominated => write!(f, "nominated for a pending pod"),
            DoNotDisruptNode => write!(f, "node has karpenter.sh/do-not-disrupt"),
            DoNotDisruptPod { pod } => write!(f, "pod {pod} has karpenter.sh/do-not-disrupt"),
            PodDisruptionBudget { pod, pdb } => {
                write!(
                    f,
                    "PodDisruptionBudget {pdb} allows no eviction of pod {pod} now"
                )
            }
            UnknownPool => write!(f, "its pool is not known"),
            UnknownPrice => write!(f, "its instance type has no known price"),
            ConsolidateAfterNever => write!(f, "consolidateAfter is Never"),
            ConsolidateAfter { remaining } => {
                write!(f, "consolidateAfter has {}s to run", remaining.as_secs())
            }
            OnlyWhenEmpty => write!(f, "consolidationPolicy is WhenEmpty and it has pods"),
            Budget { reason, pool } => {
                write!(
                    f,
                    "disruption budget of {pool} allows no more {reason} disruptions now"
                )
            }
            PodsWouldNotFit { pod, why } => write!(f, "pod {pod} would not fit elsewhere: {why}"),
            WouldNeedNodes { count } => {
                write!(
                    f,
                    "its pods would need {count} new nodes (never split one node)"
                )
            }
            NoCheaperFit { cheapest, current } => match cheapest {
                Some(p) => write!(
                    f,
                    "no cheaper fit: the best replacement costs ${p:.4}/h against ${current:.4}/h"
                ),
                None => write!(f, "no cheaper fit than ${current:.4}/h"),
            },
            SpotToSpotDisabled => write!(
                f,
                "spot-to-spot consolidation is off (--feature-gates SpotToSpotConsolidation=true)"
            ),
            SpotToSpotFlexibility { cheaper_types } => write!(
                f,
                "spot-to-spot needs at least 15 cheaper instance types, found {cheaper_types}"
            ),
            NotThisRound => write!(f, "eligible; another command goes first"),
        }
    }
}

/// The candidates, best first, and the nodes that stay.
pub(super) struct Sorted {
    /// Empty candidates within their pools' Empty budgets.
    pub empty: Vec<String>,
    /// Non-empty candidates of pools whose Underutilized budget allows one more.
    pub underutilized: Vec<String>,
    /// How many Underutilized disruptions each pool allows now.
    pub allowance: BTreeMap<PoolRef, usize>,
    pub kept: Vec<super::Kept>,
}

/// Pods that would have to move: not DaemonSet, mirror, terminal or deleting ones.
pub(super) fn reschedulable(node: &ExistingNode) -> impl Iterator<Item = &Pod> {
    node.pods.iter().map(|p| p.as_ref()).filter(|p| {
        let owned_by_daemonset = p
            .metadata
            .owner_references
            .iter()
            .flatten()
            .any(|o| o.kind == "DaemonSet");
        let mirror = p
            .metadata
            .annotations
            .as_ref()
            .is_some_and(|a| a.contains_key("kubernetes.io/config.mirror"));
        let terminal = matches!(
            p.status.as_ref().and_then(|s| s.phase.as_deref()),
            Some("Succeeded") | Some("Failed")
        );
        !owned_by_daemonset && !mirror && !terminal && p.metadata.deletion_timestamp.is_none()
    })
}

pub(super) fn pod_name(pod: &Pod) -> String {
    format!(
        "{}/{}",
        pod.metadata.namespace.as_deref().unwrap_or("default"),
        pod.metadata.name.as_deref().unwrap_or_default()
    )
}

/// `karpenter.sh/do-not-disrupt` (or v1alpha5's `do-not-evict`) in force on a
/// pod: `"true"`, or a duration not yet over since the pod started. A value
/// that is neither protects the pod, as the safer reading.
fn do_not_disrupt(pod: &Pod, now: Timestamp) -> bool {
    let Some(annotations) = pod.metadata.annotations.as_ref() else {
        return false;
    };
    if annotations.get(labels::DO_NOT_EVICT).map(String::as_str) == Some("true") {
        return true;
    }
    let Some(value) = annotations.get(labels::DO_NOT_DISRUPT) else {
        return false;
    };
    if value == "true" {
        return true;
    }
    let Some(window) = value.parse::<GoDuration>().ok().and_then(|d| d.to_std()) else {
        return value != "false";
    };
    let started = pod.status.as_ref().and_then(|s| s.start_time.as_ref());
    match started {
        Some(t) => elapsed(t.0, now) < window,
        None => true,
    }
}

fn elapsed(since: Timestamp, now: Timestamp) -> Duration {
    Duration::try_from(now.duration_since(since)).unwrap_or_default()
}

/// The PDB that forbids evicting `pod` now, if any: it selects the pod and
/// allows no disruption (a PDB without status has not been counted yet and
/// allows none either).
fn blocking_pdb<'a>(pod: &Pod, pdbs: &'a [PodDisruptionBudget]) -> Option<&'a PodDisruptionBudget> {
    let namespace = pod.metadata.namespace.as_deref().unwrap_or("default");
    let pod_labels = pod.metadata.labels.clone().unwrap_or_default();
    pdbs.iter().find(|pdb| {
        if pdb.metadata.namespace.as_deref().unwrap_or("default") != namespace {
            return false;
        }
        let Some(selector) = pdb.spec.as_ref().and_then(|s| s.selector.as_ref()) else {
            return false;
        };
        let Ok(selector) = Selector::compile(selector, "spec.selector") else {
            return false;
        };
        let allowed = pdb.status.as_ref().map_or(0, |s| s.disruptions_allowed);
        selector.matches(&pod_labels) && allowed <= 0
    })
}

enum Verdict {
    Empty,
    Underutilized,
    Kept(KeptReason),
}

fn judge(input: &DisruptionInput, facts: &NodeFacts) -> Verdict {
    let Some(node) = input.cluster.nodes.iter().find(|n| n.name == facts.name) else {
        return Verdict::Kept(KeptReason::NotInCluster);
    };
    let Some(pool) = input.pools.get(&facts.pool) else {
        return Verdict::Kept(KeptReason::UnknownPool);
    };
    if facts.deleting || node.marked_for_deletion {
        return Verdict::Kept(KeptReason::Deleting);
    }
    if !facts.initialized || node.in_flight {
        return Verdict::Kept(KeptReason::NotInitialized);
    }
    if facts.nominated {
        return Verdict::Kept(KeptReason::Nominated);
    }
    if facts.do_not_disrupt {
        return Verdict::Kept(KeptReason::DoNotDisruptNode);
    }
    let mut empty = true;
    for pod in reschedulable(node) {
        empty = false;
        if do_not_disrupt(pod, input.now) {
            return Verdict::Kept(KeptReason::DoNotDisruptPod { pod: pod_name(pod) });
        }
        if let Some(pdb) = blocking_pdb(pod, &input.pdbs) {
            return Verdict::Kept(KeptReason::PodDisruptionBudget {
                pod: pod_name(pod),
                pdb: format!(
                    "{}/{}",
                    pdb.metadata.namespace.as_deref().unwrap_or("default"),
                    pdb.metadata.name.as_deref().unwrap_or_default()
                ),
            });
        }
    }
    let Some(after) = pool.consolidate_after else {
        return Verdict::Kept(KeptReason::ConsolidateAfterNever);
    };
    if let Some(since) = facts.last_pod_event {
        let quiet = elapsed(since, input.now);
        if quiet < after {
            return Verdict::Kept(KeptReason::ConsolidateAfter {
                remaining: after - quiet,
            });
        }
    }
    if empty {
        return Verdict::Empty;
    }
    if pool.policy == Policy::WhenEmpty {
        return Verdict::Kept(KeptReason::OnlyWhenEmpty);
    }
    if facts.price.is_none() {
        return Verdict::Kept(KeptReason::UnknownPrice);
    }
    Verdict::Underutilized
}

/// Sorts every managed node into empty candidates, underutilized candidates
/// (fewest pods first, then dearest) and kept nodes, within budgets.
pub(super) fn sort(input: &DisruptionInput) -> Sorted {
    let mut kept = Vec::new();
    let mut empty: Vec<&NodeFacts> = Vec::new();
    let mut underutilized: Vec<(usize, &NodeFacts)> = Vec::new();
    // Per pool: managed nodes, and those deleting or NotReady.
    let mut counts: BTreeMap<&PoolRef, (usize, usize)> = BTreeMap::new();
    for facts in &input.nodes {
        let entry = counts.entry(&facts.pool).or_default();
        entry.0 += 1;
        if facts.deleting || !facts.ready {
            entry.1 += 1;
        }
        match judge(input, facts) {
            Verdict::Empty => empty.push(facts),
            Verdict::Underutilized => {
                let pods = input
                    .cluster
                    .nodes
                    .iter()
                    .find(|n| n.name == facts.name)
                    .map_or(0, |n| reschedulable(n).count());
                underutilized.push((pods, facts));
            }
            Verdict::Kept(reason) => kept.push(super::Kept {
                node: facts.name.clone(),
                reason,
            }),
        }
    }
    let allow = |pool: &PoolRef, reason: Reason| {
        let (total, disrupting) = counts.get(pool).copied().unwrap_or_default();
        let rules = input.pools.get(pool).map_or(&[][..], |p| &p.budgets[..]);
        budgets::allowed(rules, reason, total, disrupting, input.now)
    };
    let budget_kept = |facts: &NodeFacts, reason: Reason| super::Kept {
        node: facts.name.clone(),
        reason: KeptReason::Budget {
            reason,
            pool: facts.pool.to_string(),
        },
    };

    empty.sort_by(|a, b| a.name.cmp(&b.name));
    let mut left: BTreeMap<&PoolRef, usize> = BTreeMap::new();
    let mut empty_names = Vec::new();
    for facts in empty {
        let n = left
            .entry(&facts.pool)
            .or_insert_with(|| allow(&facts.pool, Reason::Empty));
        if *n == 0 {
            kept.push(budget_kept(facts, Reason::Empty));
        } else {
            *n -= 1;
            empty_names.push(facts.name.clone());
        }
    }

    underutilized.sort_by(|(pa, a), (pb, b)| {
        pa.cmp(pb)
            .then_with(|| {
                b.price
                    .partial_cmp(&a.price)
                    .unwrap_or(std::cmp::Ordering::Equal)
            })
            .then_with(|| a.name.cmp(&b.name))
    });
    let mut allowance = BTreeMap::new();
    let mut names = Vec::new();
    for (_, facts) in underutilized {
        let n = *allowance
            .entry(facts.pool.clone())
            .or_insert_with(|| allow(&facts.pool, Reason::Underutilized));
        if n == 0 {
            kept.push(budget_kept(facts, Reason::Underutilized));
        } else {
            names.push(facts.name.clone());
        }
    }
    Sorted {
        empty: empty_names,
        underutilized: names,
        allowance,
        kept,
    }
}
