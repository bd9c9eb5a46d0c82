//! Drift commands: replacing nodes that no longer match their pool or node
//! class. Callers decide whether a node drifted ([`super::NodeFacts::drifted`]);
//! this decides what to do about it: every empty drifted candidate in one
//! command (as Karpenter v1.0 to v1.4), otherwise the first drifted candidate
//! whose pods all find a place, on nodes that exist or on as many new nodes as
//! they need (docs/differences.md says where the order differs).
//!
//! Drift is not about cost: a replacement may cost more than the node it
//! replaces, and no saving or spot-to-spot rule applies.

use std::slice;

use super::candidates::reschedulable;
use super::consolidation::{first_unplaced, price_of, simulate};
use super::indexed::Indexed;
use super::{Command, Kept, Method, Reason, Replacement};

/// The drift command for `candidates` (in order, budgets already applied);
/// the non-empty ones tried before the chosen one are kept with the reason
/// their pods could not move.
pub(super) fn drift(
    input: &Indexed,
    candidates: &[String],
    kept: &mut Vec<Kept>,
) -> Option<Command> {
    let (empty, busy): (Vec<String>, Vec<String>) = candidates
        .iter()
        .cloned()
        .partition(|name| is_empty(input, name));
    if !empty.is_empty() {
        return Some(Command {
            method: Method::Drift,
            reason: Reason::Drifted,
            price_before: price_of(input, &empty).unwrap_or(0.0),
            candidates: empty,
            replacements: Vec::new(),
            price_after: 0.0,
        });
    }
    for name in &busy {
        let one = slice::from_ref(name);
        let (plan, moved) = simulate(input, one);
        if let Some(reason) = first_unplaced(&plan, &moved) {
            kept.push(Kept {
                node: name.clone(),
                reason,
            });
            continue;
        }
        let replacements: Vec<Replacement> = plan
            .new_nodes
            .iter()
            .map(|node| Replacement { node: node.clone() })
            .collect();
        // fold, not sum: an empty f64 sum is -0.0, which prints as "$-0.0000".
        let price_after = replacements
            .iter()
            .fold(0.0, |total, r| total + r.node.chosen.price);
        return Some(Command {
            method: Method::Drift,
            reason: Reason::Drifted,
            candidates: one.to_vec(),
            replacements,
            price_before: price_of(input, one).unwrap_or(0.0),
            price_after,
        });
    }
    None
}

fn is_empty(input: &Indexed, name: &str) -> bool {
    input
        .node(name)
        .is_none_or(|n| reschedulable(n).next().is_none())
}
