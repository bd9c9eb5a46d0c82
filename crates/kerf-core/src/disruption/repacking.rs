//! Multi-node consolidation's own search for a removal set, for when the
//! candidates cannot all go: one scheduler pass packs every candidate's pods
//! again over the whole cluster, filling the nodes consolidation would rather
//! keep first, and the candidates it leaves empty are the set. A second pass
//! checks that set as any command is checked.
//!
//! When budgets allow many candidates (a scale-down with `nodes: 100%`),
//! Karpenter's prefix search runs a dozen scheduler passes over the whole
//! cluster; this takes two, and the set need not be a prefix.

use rustc_hash::FxHashSet;

use super::balanced::Scorer;
use super::candidates::reschedulable;
use super::consolidation::{evaluate, pass_state, removable_subset, simulate};
use super::indexed::Indexed;
use super::{Command, Method};
use crate::plan::Target;
use crate::pod::pod_requests;
use crate::resources::Resources;
use crate::scheduler::{is_terminal, solve};

/// Whether the pods of `chosen` need more cpu, memory or pod slots than the
/// other nodes have free plus the largest node any pool could launch. Then
/// no pass can place them all, and the pass that would find so (a pass over
/// every candidate at once, the slowest there is) need not run.
pub(super) fn exceeds_room(input: &Indexed, chosen: &[String]) -> bool {
    let chosen: FxHashSet<&str> = chosen.iter().map(String::as_str).collect();
    let mut need = Resources::default();
    let mut room = Resources::default();
    for node in &input.cluster.nodes {
        if chosen.contains(node.name.as_str()) {
            // A pod whose requests cannot be read counts as needing nothing:
            // the bound only gets weaker.
            for r in reschedulable(node).filter_map(|p| pod_requests(p).ok()) {
                need.add(&r);
            }
            continue;
        }
        let settled = input
            .facts(&node.name)
            .is_none_or(|f| f.initialized && !f.deleting);
        if node.in_flight || node.marked_for_deletion || !settled {
            continue;
        }
        let mut free = node.allocatable.clone();
        let running = node.pods.iter().filter(|p| !is_terminal(p));
        for r in running.filter_map(|p| pod_requests(p).ok()) {
            free.sub(&r);
        }
        room.cpu += free.cpu.max(0);
        room.memory += free.memory.max(0);
        room.pods += free.pods.max(0);
    }
    // The largest new node, per resource: capacity, not allocatable, so
    // still an upper bound.
    let (mut cpu, mut memory, mut pods) = (0, 0, 0);
    for it in input
        .cluster
        .templates
        .iter()
        .flat_map(|t| &t.instance_types)
    {
        cpu = cpu.max(it.capacity.cpu);
        memory = memory.max(it.capacity.memory);
        pods = pods.max(it.capacity.pods);
    }
    need.cpu > room.cpu + cpu || need.memory > room.memory + memory || need.pods > room.pods + pods
}

/// The candidates one packing of all their pods leaves empty, removed
/// together, when the scheduler confirms they can go (or, failing that, the
/// ones among them whose pods all found room on nodes that stay).
pub(super) fn repacked(input: &Indexed, scorer: &Scorer, chosen: &[String]) -> Option<Command> {
    let (snapshot, _) = pass_state(input, &[], chosen);
    let plan = solve(&snapshot);
    let filled: FxHashSet<&str> = plan
        .placements
        .iter()
        .filter_map(|p| match &p.target {
            Target::Existing(node) => Some(node.as_str()),
            Target::New(_) => None,
        })
        .collect();
    let emptied: Vec<String> = chosen
        .iter()
        .filter(|name| !filled.contains(name.as_str()))
        .cloned()
        .collect();
    if emptied.len() < 2 {
        return None;
    }
    let simulated = simulate(input, &emptied);
    let method = Method::MultiNodeConsolidation;
    if let Ok(command) = evaluate(input, scorer, &emptied, &simulated, method) {
        return Some(command);
    }
    removable_subset(input, scorer, &emptied, &simulated)
}
