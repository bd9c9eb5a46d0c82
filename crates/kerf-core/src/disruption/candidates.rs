//! Which managed nodes disruption may consider, and why the others stay.
//! Karpenter's candidate rules hold for every method (initialized, not
//! deleting, not nominated, no do-not-disrupt on the node or an active one on
//! a pod, no pod a PDB protects now). Consolidation adds its own:
//! `consolidateAfter` passed, the pool's policy, a known price. Drift adds
//! none: a drifted node goes even from a pool that never consolidates. Last,
//! each reason's budgets.

use std::collections::BTreeMap;
use std::time::Duration;

use k8s_openapi::api::core::v1::Pod;
use k8s_openapi::api::policy::v1::PodDisruptionBudget;
use k8s_openapi::jiff::Timestamp;
use kerf_api::duration::GoDuration;
use kerf_api::labels;

use super::indexed::Indexed;
use super::{Kept, KeptReason, NodeFacts, Policy, PoolPolicy, Reason, budgets};
use crate::scheduler::is_terminal;
use crate::selector::Selector;
use crate::snapshot::ExistingNode;
use crate::template::PoolRef;

/// The candidates, best first, and the nodes that stay.
pub(super) struct Sorted {
    /// Empty candidates within their pools' Empty budgets.
    pub empty: Vec<String>,
    /// Drifted candidates, fewest pods first (so the empty ones lead), then by
    /// name: every empty one within its pool's Drifted budget, and the others
    /// of pools whose Drifted budget allows one more.
    pub drifted: Vec<String>,
    /// Non-empty candidates that have not drifted, of pools whose
    /// Underutilized budget allows one more.
    pub underutilized: Vec<String>,
    /// Every non-empty candidate consolidation could take if budgets did not
    /// stop it, in the same order: where consolidation is heading
    /// ([`super::target`]) does not change while a budget is used up.
    pub consolidatable: Vec<String>,
    /// How many Underutilized disruptions each pool allows now.
    pub allowance: BTreeMap<PoolRef, usize>,
    pub kept: Vec<Kept>,
}

/// Pods that would have to move: not DaemonSet, mirror, terminal or deleting ones.
pub fn reschedulable(node: &ExistingNode) -> impl Iterator<Item = &Pod> {
    node.pods
        .iter()
        .map(|p| p.as_ref())
        .filter(|p| is_reschedulable(p))
}

/// Whether the pod would have to move off its node: not a DaemonSet, mirror,
/// terminal or deleting pod.
pub(super) fn is_reschedulable(p: &Pod) -> bool {
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
    !owned_by_daemonset && !mirror && !is_terminal(p) && p.metadata.deletion_timestamp.is_none()
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
pub(super) fn do_not_disrupt(pod: &Pod, now: Timestamp) -> bool {
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

/// What consolidation may do with a candidate.
enum Consolidation {
    Empty,
    Underutilized,
}

/// The rules every method shares. `Ok` holds the node's pool and how many of
/// its pods would have to move.
fn disruptable<'a>(
    input: &'a Indexed,
    facts: &NodeFacts,
) -> Result<(&'a PoolPolicy, usize), KeptReason> {
    let Some(node) = input.node(&facts.name) else {
        return Err(KeptReason::NotInCluster);
    };
    let Some(pool) = input.pools.get(&facts.pool) else {
        return Err(KeptReason::UnknownPool);
    };
    if facts.deleting || node.marked_for_deletion {
        return Err(KeptReason::Deleting);
    }
    if !facts.initialized || node.in_flight {
        return Err(KeptReason::NotInitialized);
    }
    if facts.nominated {
        return Err(KeptReason::Nominated);
    }
    if facts.do_not_disrupt {
        return Err(KeptReason::DoNotDisruptNode);
    }
    let mut pods = 0;
    for pod in reschedulable(node) {
        pods += 1;
        if do_not_disrupt(pod, input.now) {
            return Err(KeptReason::DoNotDisruptPod { pod: pod_name(pod) });
        }
        if let Some(pdb) = blocking_pdb(pod, &input.pdbs) {
            return Err(KeptReason::PodDisruptionBudget {
                pod: pod_name(pod),
                pdb: format!(
                    "{}/{}",
                    pdb.metadata.namespace.as_deref().unwrap_or("default"),
                    pdb.metadata.name.as_deref().unwrap_or_default()
                ),
            });
        }
    }
    Ok((pool, pods))
}

/// `consolidateAfter` has passed since the node's last pod event (a node
/// with none counts as quiet long ago).
pub(super) fn quiet(
    now: Timestamp,
    facts: &NodeFacts,
    pool: &PoolPolicy,
) -> Result<(), KeptReason> {
    let after = pool
        .consolidate_after
        .ok_or(KeptReason::ConsolidateAfterNever)?;
    if let Some(since) = facts.last_pod_event {
        let quiet = elapsed(since, now);
        if quiet < after {
            return Err(KeptReason::ConsolidateAfter {
                remaining: after - quiet,
            });
        }
    }
    Ok(())
}

/// The rules consolidation adds: `consolidateAfter` passed, the pool's
/// policy, and a price to compare replacements with.
///
/// Checked in Karpenter's order (its consolidation `ShouldDisrupt`):
/// `consolidateAfter: Never`, then the policy, then the time left, so a busy
/// node of a WhenEmpty pool is kept for the policy, which no wait changes.
fn consolidatable(
    now: Timestamp,
    facts: &NodeFacts,
    pool: &PoolPolicy,
    pods: usize,
) -> Result<Consolidation, KeptReason> {
    if pool.consolidate_after.is_none() {
        return Err(KeptReason::ConsolidateAfterNever);
    }
    if pods > 0 && pool.policy == Policy::WhenEmpty {
        return Err(KeptReason::OnlyWhenEmpty);
    }
    quiet(now, facts, pool)?;
    if pods == 0 {
        return Ok(Consolidation::Empty);
    }
    if facts.price.is_none() {
        return Err(KeptReason::UnknownPrice);
    }
    Ok(Consolidation::Underutilized)
}

/// Sorts every managed node into empty, drifted and underutilized candidates
/// and kept nodes, within budgets.
pub(super) fn sort(input: &Indexed) -> Sorted {
    let mut kept = Vec::new();
    let mut empty: Vec<&NodeFacts> = Vec::new();
    let mut drifted: Vec<(usize, &NodeFacts)> = Vec::new();
    let mut underutilized: Vec<(usize, &NodeFacts)> = Vec::new();
    // Per pool: managed nodes, and those deleting or NotReady.
    let mut counts: BTreeMap<&PoolRef, (usize, usize)> = BTreeMap::new();
    for facts in &input.nodes {
        let entry = counts.entry(&facts.pool).or_default();
        entry.0 += 1;
        if facts.deleting || !facts.ready {
            entry.1 += 1;
        }
        let (pool, pods) = match disruptable(input, facts) {
            Ok(candidate) => candidate,
            Err(reason) => {
                kept.push(Kept {
                    node: facts.name.clone(),
                    reason,
                });
                continue;
            }
        };
        let consolidation = consolidatable(input.now, facts, pool, pods);
        // Emptiness goes first and takes an empty node whether or not it
        // drifted; consolidation never takes a drifted one, drift does.
        if matches!(consolidation, Ok(Consolidation::Empty)) {
            empty.push(facts);
        }
        if facts.drifted.is_some() {
            drifted.push((pods, facts));
            continue;
        }
        match consolidation {
            Ok(Consolidation::Empty) => {}
            Ok(Consolidation::Underutilized) => underutilized.push((pods, facts)),
            Err(reason) => kept.push(Kept {
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
    let budget_kept = |facts: &NodeFacts, reason: Reason| Kept {
        node: facts.name.clone(),
        reason: KeptReason::Budget {
            reason,
            pool: facts.pool.to_string(),
        },
    };

    // Empty nodes go together, each using up one of its pool's allowance.
    empty.sort_by(|a, b| a.name.cmp(&b.name));
    let mut left: BTreeMap<&PoolRef, usize> = BTreeMap::new();
    let mut empty_names = Vec::new();
    for facts in empty {
        let n = left
            .entry(&facts.pool)
            .or_insert_with(|| allow(&facts.pool, Reason::Empty));
        if *n > 0 {
            *n -= 1;
            empty_names.push(facts.name.clone());
        } else if facts.drifted.is_none() {
            // A drifted one still has drift's budget to go by.
            kept.push(budget_kept(facts, Reason::Empty));
        }
    }

    // Empty drifted nodes go together too; any other drifted node goes
    // alone, the longest-drifted first (as Karpenter orders them; a drift
    // not yet recorded on the claim is the newest).
    drifted.sort_by(|(pa, a), (pb, b)| {
        (*pa > 0)
            .cmp(&(*pb > 0))
            .then_with(|| match (a.drifted_since, b.drifted_since) {
                (Some(x), Some(y)) => x.cmp(&y),
                (Some(_), None) => std::cmp::Ordering::Less,
                (None, Some(_)) => std::cmp::Ordering::Greater,
                (None, None) => std::cmp::Ordering::Equal,
            })
            .then_with(|| a.name.cmp(&b.name))
    });
    let mut left: BTreeMap<&PoolRef, usize> = BTreeMap::new();
    let mut drifted_names = Vec::new();
    for (pods, facts) in drifted {
        let n = left
            .entry(&facts.pool)
            .or_insert_with(|| allow(&facts.pool, Reason::Drifted));
        if *n > 0 {
            if pods == 0 {
                *n -= 1;
            }
            drifted_names.push(facts.name.clone());
        } else if !empty_names.contains(&facts.name) {
            kept.push(budget_kept(facts, Reason::Drifted));
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
    // Where consolidation is heading counts the pools whose budgets allow a
    // disruption when nothing is being disrupted: a budget held by a node
    // being deleted frees again, one of 0 (or a closed window) does not.
    let consolidatable = underutilized
        .iter()
        .filter(|(_, f)| {
            let total = counts.get(&f.pool).map_or(0, |c| c.0);
            let rules = input.pools.get(&f.pool).map_or(&[][..], |p| &p.budgets[..]);
            budgets::allowed(rules, Reason::Underutilized, total, 0, input.now) > 0
        })
        .map(|(_, f)| f.name.clone())
        .collect();
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
        drifted: drifted_names,
        underutilized: names,
        consolidatable,
        allowance,
        kept,
    }
}
