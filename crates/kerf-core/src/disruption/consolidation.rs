//! Emptiness and consolidation commands, each checked by running the
//! scheduler over the cluster without the candidates: their pods must all
//! find a place on nodes that exist and are initialized, or on one new node
//! strictly cheaper than the candidates together.
//!
//! Multi-node consolidation first packs every candidate's pods in one pass of
//! the scheduler (unless [`repacking::exceeds_room`] shows they cannot all
//! fit): if they do not all fit, the candidates whose pods all landed on
//! existing nodes are a removal set of their own, checked once more (moving
//! pods only frees capacity, but topology rules can still differ). Next,
//! [`repacking::repacked`] packs the pods again over the whole cluster and
//! takes the candidates it leaves empty. Karpenter's binary search over
//! prefixes of the candidates runs last, and only when that set is smaller
//! than the 100 candidates Karpenter's search considers, so kerf never takes
//! fewer nodes than Karpenter does.

use std::collections::{BTreeMap, BTreeSet};
use std::sync::Arc;

use rustc_hash::{FxHashMap, FxHashSet};

use super::balanced::Scorer;
use super::candidates::{is_reschedulable, reschedulable};
use super::indexed::Indexed;
use super::repacking;
use super::{Command, Kept, KeptReason, Method, Reason, Replacement};
use crate::instance_type::CAPACITY_TYPE_SPOT;
use crate::plan::{Plan, Target};
use crate::pod::PodKey;
use crate::scheduler::solve;
use crate::snapshot::{Snapshot, SolveOptions};
use crate::template::PoolRef;

/// Candidate node → the pods that would move off it.
pub(super) type Moved = BTreeMap<String, Vec<PodKey>>;

/// The most candidates Karpenter's multi-node consolidation considers at once.
const KARPENTER_MULTI_NODE_CANDIDATES: usize = 100;

/// Karpenter's minimum flexibility for a spot-to-spot replacement.
const SPOT_TO_SPOT_MIN_TYPES: usize = 15;

/// Every empty candidate (within budget, already applied) in one command.
pub(super) fn emptiness(input: &Indexed, empty: &[String]) -> Option<Command> {
    if empty.is_empty() {
        return None;
    }
    Some(Command {
        method: Method::Emptiness,
        reason: Reason::Empty,
        candidates: empty.to_vec(),
        replacements: Vec::new(),
        price_before: price_of(input, empty).unwrap_or(0.0),
        price_after: 0.0,
    })
}

/// All candidates the budgets allow, removed together.
pub(super) fn multi_node(
    input: &Indexed,
    scorer: &Scorer,
    candidates: &[String],
    allowance: &BTreeMap<PoolRef, usize>,
) -> Option<Command> {
    let mut left = allowance.clone();
    let chosen: Vec<String> = candidates
        .iter()
        .filter(|name| {
            let Some(pool) = input.facts(name).map(|f| &f.pool) else {
                return false;
            };
            match left.get_mut(pool) {
                Some(n) if *n > 0 => {
                    *n -= 1;
                    true
                }
                _ => false,
            }
        })
        .cloned()
        .collect();
    if chosen.len() < 2 {
        return None;
    }
    if !repacking::exceeds_room(input, &chosen) {
        let simulated = simulate(input, &chosen);
        let method = Method::MultiNodeConsolidation;
        if let Ok(command) = evaluate(input, scorer, &chosen, &simulated, method) {
            return Some(command);
        }
        if let Some(command) = removable_subset(input, scorer, &chosen, &simulated) {
            return Some(command);
        }
    }
    let repacked = repacking::repacked(input, scorer, &chosen);
    let found = repacked.as_ref().map_or(0, |c| c.candidates.len());
    if found >= KARPENTER_MULTI_NODE_CANDIDATES {
        // More than Karpenter's multi-node pass ever takes at once.
        return repacked;
    }
    // Only a longer prefix than the set found can do better by Karpenter's
    // measure; without one, the set stands.
    longest_prefix(input, scorer, &chosen, found + 1).or(repacked)
}

/// The candidates whose pods all found room on existing nodes in `simulated`
/// (the plan for removing all of `chosen`), removed together if the
/// scheduler confirms it: moving pods only frees capacity, but topology
/// rules can still differ.
pub(super) fn removable_subset(
    input: &Indexed,
    scorer: &Scorer,
    chosen: &[String],
    (plan, moved): &(Plan, Moved),
) -> Option<Command> {
    let stranded = not_on_existing_nodes(plan);
    let removable: Vec<String> = chosen
        .iter()
        .filter(|name| {
            moved
                .get(*name)
                .is_none_or(|pods| pods.iter().all(|p| !stranded.contains(p)))
        })
        .cloned()
        .collect();
    if removable.len() < 2 || removable.len() >= chosen.len() {
        return None;
    }
    let simulated = simulate(input, &removable);
    let method = Method::MultiNodeConsolidation;
    evaluate(input, scorer, &removable, &simulated, method).ok()
}

/// Karpenter's search, as the last resort: the longest prefix of the
/// candidates (in order) that can go together, by binary search over its
/// length. With it kerf finds every removal Karpenter's multi-node pass finds.
/// Prefixes shorter than `shortest` are not tried.
fn longest_prefix(
    input: &Indexed,
    scorer: &Scorer,
    chosen: &[String],
    shortest: usize,
) -> Option<Command> {
    // The whole list already failed, or cannot fit; a prefix of one is
    // single-node's.
    let (mut low, mut high) = (shortest.max(2), chosen.len().saturating_sub(1));
    let mut best = None;
    while low <= high {
        let mid = low + (high - low) / 2;
        let prefix = &chosen[..mid];
        let simulated = simulate(input, prefix);
        match evaluate(
            input,
            scorer,
            prefix,
            &simulated,
            Method::MultiNodeConsolidation,
        ) {
            Ok(command) => {
                best = Some(command);
                low = mid + 1;
            }
            Err(_) => high = mid - 1,
        }
    }
    best
}

/// The first candidate, in order, that can go alone; the ones tried before
/// it are kept with the reason they could not.
pub(super) fn single_node(
    input: &Indexed,
    scorer: &Scorer,
    candidates: &[String],
    kept: &mut Vec<Kept>,
) -> Option<Command> {
    for name in candidates {
        // Deleting it outright is the best any move can score; when even
        // that fails, no simulation is worth running.
        if let Err(reason) = scorer.can_pass(name) {
            kept.push(Kept {
                node: name.clone(),
                reason,
            });
            continue;
        }
        let one = std::slice::from_ref(name);
        let simulated = simulate(input, one);
        match evaluate(
            input,
            scorer,
            one,
            &simulated,
            Method::SingleNodeConsolidation,
        ) {
            Ok(command) => return Some(command),
            Err(reason) => kept.push(Kept {
                node: name.clone(),
                reason,
            }),
        }
    }
    None
}

/// The pods the plan put on no node that exists: on a new node, or nowhere.
pub(super) fn not_on_existing_nodes(plan: &Plan) -> BTreeSet<&PodKey> {
    let on_new = plan
        .placements
        .iter()
        .filter(|p| matches!(p.target, Target::New(_)))
        .map(|p| &p.pod);
    let unplaced = plan.unschedulable.iter().map(|u| &u.pod);
    on_new.chain(unplaced).collect()
}

pub(super) fn price_of(input: &Indexed, names: &[String]) -> Option<f64> {
    names
        .iter()
        .map(|n| input.facts(n).and_then(|f| f.price))
        .sum()
}

/// The scheduler's plan for the candidates' pods with the candidates gone,
/// and which pods came from which candidate. Nodes that are not initialized
/// or are being deleted take no pods; pods already pending are planned too
/// (see [`end_state`]).
pub(super) fn simulate(input: &Indexed, removed: &[String]) -> (Plan, Moved) {
    let (snapshot, moved) = end_state(input, removed);
    (solve(&snapshot), moved)
}

/// The scheduler's input with `removed` gone: their pods pending, the other
/// nodes as they are (those not initialized or being deleted take no pods),
/// and which pods came from which candidate.
pub(super) fn end_state(input: &Indexed, removed: &[String]) -> (Snapshot, Moved) {
    pass_state(input, removed, &[])
}

/// As [`end_state`], and besides the `emptied` nodes' pods pending with the
/// nodes still there to take pods: last in the node order, in reverse, so
/// that first-fit fills them last and the first of them are the ones it
/// leaves empty.
pub(super) fn pass_state(
    input: &Indexed,
    removed: &[String],
    emptied: &[String],
) -> (Snapshot, Moved) {
    let cluster = &input.cluster;
    let removed: FxHashSet<&str> = removed.iter().map(String::as_str).collect();
    let emptied: FxHashMap<&str, usize> = emptied
        .iter()
        .enumerate()
        .map(|(i, name)| (name.as_str(), emptied.len() - i))
        .collect();
    let mut moved = BTreeMap::new();
    let mut pending = Vec::new();
    let mut freed: BTreeMap<PoolRef, crate::resources::Resources> = BTreeMap::new();
    let mut nodes = Vec::with_capacity(cluster.nodes.len());
    for node in &cluster.nodes {
        let removing = removed.contains(node.name.as_str());
        let emptying = emptied.contains_key(node.name.as_str());
        if removing || emptying {
            let mut keys = Vec::new();
            for pod in reschedulable(node) {
                let mut pod = pod.clone();
                if let Some(spec) = pod.spec.as_mut() {
                    spec.node_name = None;
                }
                keys.push(PodKey::of(&pod));
                pending.push(Arc::new(pod));
            }
            moved.insert(node.name.clone(), keys);
        }
        if removing {
            if let Some(pool) = &node.pool {
                // Allocatable stands in for the capacity the pool's limits
                // count: it frees a little less than the node had, never more.
                freed
                    .entry(pool.clone())
                    .or_default()
                    .add(&node.allocatable);
            }
            continue;
        }
        let mut node = node.clone();
        if emptying {
            node.pods.retain(|p| !is_reschedulable(p));
        }
        let settled = input
            .facts(&node.name)
            .is_none_or(|f| f.initialized && !f.deleting);
        if node.in_flight || !settled {
            node.marked_for_deletion = true;
        }
        nodes.push(node);
    }
    if !emptied.is_empty() {
        // Stable: the other nodes keep the cluster's order, ahead of them.
        nodes.sort_by_key(|n| emptied.get(n.name.as_str()).copied().unwrap_or(0));
    }
    let mut templates = cluster.templates.clone();
    for t in &mut templates {
        if let Some(f) = freed.get(&t.pool) {
            t.in_use.sub(f);
        }
    }
    // Pods already waiting compete for the room the candidates' pods would
    // take, as in Karpenter's simulation: consolidation must not use up
    // capacity they need. Only the candidates' pods must all find a place.
    pending.extend(cluster.pending.iter().cloned());
    let snapshot = Snapshot {
        pending,
        expected: Vec::new(),
        nodes,
        templates,
        daemonsets: cluster.daemonsets.clone(),
        claims: cluster.claims.clone(),
        volumes: cluster.volumes.clone(),
        storage_classes: cluster.storage_classes.clone(),
        namespaces: cluster.namespaces.clone(),
        options: SolveOptions {
            consolidating: true,
            ..cluster.options.clone()
        },
    };
    (snapshot, moved)
}

/// The first of the moved pods the plan found no place for.
pub(super) fn first_unplaced(plan: &Plan, moved: &Moved) -> Option<KeptReason> {
    let moving: BTreeSet<&PodKey> = moved.values().flatten().collect();
    plan.unschedulable
        .iter()
        .find(|u| moving.contains(&u.pod))
        .map(|u| KeptReason::PodsWouldNotFit {
            pod: format!("{}/{}", u.pod.namespace, u.pod.name),
            why: u.reason.clone(),
        })
}

/// The command the plan supports for removing `removed`, or why there is none.
pub(super) fn evaluate(
    input: &Indexed,
    scorer: &Scorer,
    removed: &[String],
    (plan, moved): &(Plan, Moved),
    method: Method,
) -> Result<Command, KeptReason> {
    if let Some(unplaced) = first_unplaced(plan, moved) {
        return Err(unplaced);
    }
    let price_before = price_of(input, removed).ok_or(KeptReason::UnknownPrice)?;
    let command = |replacements: Vec<Replacement>| {
        // fold, not sum: an empty f64 sum is -0.0, which prints as "$-0.0000".
        let price_after = replacements
            .iter()
            .fold(0.0, |total, r| total + r.node.chosen.price);
        Command {
            method,
            reason: Reason::Underutilized,
            candidates: removed.to_vec(),
            replacements,
            price_before,
            price_after,
        }
    };
    let approved = |command: Command| {
        scorer
            .approve(removed, command.price_before, command.savings_per_hour())
            .map(|()| command)
    };
    let node = match plan.new_nodes.as_slice() {
        [] => return approved(command(Vec::new())),
        [node] => node,
        more => return Err(KeptReason::WouldNeedNodes { count: more.len() }),
    };
    let candidate_facts: Vec<&super::NodeFacts> =
        removed.iter().filter_map(|n| input.facts(n)).collect();
    let pool = input.pools.get(&node.pool);
    let min = pool.map_or(0.0, |p| {
        p.min_savings
            .per_hour
            .max(p.min_savings.fraction * price_before)
    });
    // Replacing several nodes by one of a type among them must beat the
    // cheapest candidate of that type, or deleting the others alone would
    // move fewer pods (Karpenter's filterOutSameInstanceType).
    let same_type_cap = if method == Method::MultiNodeConsolidation {
        node.options
            .iter()
            .filter_map(|o| {
                candidate_facts
                    .iter()
                    .filter(|f| f.instance_type == o.instance_type)
                    .filter_map(|f| f.price)
                    .reduce(f64::min)
            })
            .reduce(f64::min)
    } else {
        None
    };
    let mut options: Vec<_> = node
        .options
        .iter()
        .filter(|o| o.price < price_before && price_before - o.price >= min)
        .filter(|o| same_type_cap.is_none_or(|cap| o.price < cap))
        .cloned()
        .collect();
    let no_cheaper = KeptReason::NoCheaperFit {
        best: node.options.first().cloned(),
        current: price_before,
    };
    let all_spot = candidate_facts
        .iter()
        .all(|f| f.capacity_type == CAPACITY_TYPE_SPOT);
    if all_spot {
        if !input.options.spot_to_spot {
            let had_spot = options
                .iter()
                .any(|o| o.capacity_type == CAPACITY_TYPE_SPOT);
            options.retain(|o| o.capacity_type != CAPACITY_TYPE_SPOT);
            if options.is_empty() && had_spot {
                return Err(KeptReason::SpotToSpotDisabled);
            }
        } else if method == Method::SingleNodeConsolidation {
            let types: BTreeSet<&str> = options
                .iter()
                .filter(|o| o.capacity_type == CAPACITY_TYPE_SPOT)
                .map(|o| o.instance_type.as_str())
                .collect();
            if types.len() < SPOT_TO_SPOT_MIN_TYPES {
                return Err(KeptReason::SpotToSpotFlexibility {
                    cheaper_types: types.len(),
                });
            }
            truncate_to_types(&mut options, SPOT_TO_SPOT_MIN_TYPES);
        }
    } else if options
        .iter()
        .any(|o| o.capacity_type == CAPACITY_TYPE_SPOT)
    {
        // On-demand to spot: launch only spot, which is what makes it cheaper.
        options.retain(|o| o.capacity_type == CAPACITY_TYPE_SPOT);
    }
    let Some(chosen) = options.first().cloned() else {
        return Err(no_cheaper);
    };
    let mut node = node.clone();
    node.chosen = chosen;
    node.options = options;
    approved(command(vec![Replacement { node }]))
}

/// Keeps the offerings of the `n` cheapest distinct instance types (options are cheapest first).
fn truncate_to_types(options: &mut Vec<crate::plan::InstanceOption>, n: usize) {
    let mut seen = BTreeSet::new();
    options.retain(|o| {
        if seen.contains(&o.instance_type) {
            return true;
        }
        if seen.len() < n {
            seen.insert(o.instance_type.clone());
            return true;
        }
        false
    });
}
