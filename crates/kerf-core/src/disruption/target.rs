//! Where consolidation is heading when budgets let it remove only a few
//! nodes per command.
//!
//! Karpenter takes its candidates in disruption-cost order (fewest pods
//! first) every round. Under a budget of one node at a time that removes the
//! small, full nodes first and keeps the large ones the scale-down emptied: a
//! fleet dearer than the one the same number of deletions could reach. kerf
//! first looks for the set of candidates whose pods all fit, together, on the
//! nodes that would stay (the dearest first: a greedy for the cheapest fleet
//! left), then takes that set's members before any other candidate, round
//! after round. The members a command does not take yet are reported as
//! [`super::Decision::planned`], so the controller can steer pods that are
//! evicted meanwhile away from them.

use std::cmp::Ordering;

use rustc_hash::FxHashSet;

use super::balanced::Scorer;
use super::candidates::reschedulable;
use super::consolidation::{not_on_existing_nodes, simulate};
use super::indexed::Indexed;

/// Above this many candidates the search is skipped: each step is a
/// scheduling pass over the whole cluster, and in a cluster that large the
/// default budget (10%) already lets multi-node consolidation take many
/// nodes per command.
pub const MAX_CANDIDATES: usize = 100;
/// Candidates tried one at a time after the longest prefix that fits.
const MAX_EXTENSIONS: usize = 16;

/// The candidates to remove, dearest first: every one's pods fit on the
/// nodes outside the set, all at once. Empty when there are fewer than two
/// candidates or more than [`MAX_CANDIDATES`].
pub(super) fn removal_target(
    input: &Indexed,
    scorer: &Scorer,
    consolidatable: &[String],
) -> Vec<String> {
    if consolidatable.len() < 2 || consolidatable.len() > MAX_CANDIDATES {
        return Vec::new();
    }
    let mut order: Vec<(&String, f64, usize)> = consolidatable
        .iter()
        // A node the Balanced score would never let go is no target.
        .filter(|name| scorer.can_pass(name).is_ok())
        .filter_map(|name| {
            let price = input.facts(name)?.price?;
            let pods = input.node(name).map_or(0, |n| reschedulable(n).count());
            Some((name, price, pods))
        })
        .collect();
    order.sort_by(|a, b| {
        b.1.partial_cmp(&a.1)
            .unwrap_or(Ordering::Equal)
            .then(a.2.cmp(&b.2))
            .then_with(|| a.0.cmp(b.0))
    });
    let names: Vec<String> = order.into_iter().map(|(n, ..)| n.clone()).collect();
    let fits = |set: &[String]| {
        let (plan, moved) = simulate(input, set);
        let stranded = not_on_existing_nodes(&plan);
        moved.values().flatten().all(|p| !stranded.contains(p))
    };
    // Moving pods off a node only frees room, so whether a prefix fits is
    // (topology rules aside) monotone in its length.
    let (mut low, mut high, mut best) = (1, names.len(), 0);
    while low <= high {
        let mid = low + (high - low) / 2;
        if fits(&names[..mid]) {
            best = mid;
            low = mid + 1;
        } else {
            high = mid - 1;
        }
    }
    let mut target = names[..best].to_vec();
    for name in names[best..].iter().take(MAX_EXTENSIONS) {
        target.push(name.clone());
        if !fits(&target) {
            target.pop();
        }
    }
    target
}

/// `candidates` with the target's members first, each group in its own order.
pub(super) fn members_first(candidates: &[String], target: &[String]) -> Vec<String> {
    let members: FxHashSet<&String> = target.iter().collect();
    let (mut first, rest): (Vec<String>, Vec<String>) = candidates
        .iter()
        .cloned()
        .partition(|c| members.contains(c));
    first.extend(rest);
    first
}
