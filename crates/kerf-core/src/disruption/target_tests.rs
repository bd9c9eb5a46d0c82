//! Tests of where consolidation heads under a budget of one node at a time
//! (kerf's own rule: Karpenter takes the fewest-pods candidate first).

use k8s_openapi::api::core::v1::Pod;
use serde_json::json;

use super::tests::{Cluster, everything_allowed, pod};
use super::*;

fn pods(name: &str, n: usize, cpu: &str) -> Vec<Pod> {
    (0..n)
        .map(|i| pod(&format!("{name}-{i}"), cpu, json!({})))
        .collect()
}

fn one_at_a_time() -> PoolPolicy {
    PoolPolicy {
        budgets: vec![BudgetRule {
            nodes: BudgetNodes::Count(1),
            reasons: None,
            schedule: None,
            duration: None,
        }],
        ..everything_allowed()
    }
}

/// Three 8-cpu nodes emptied by a scale-down and two full 2-cpu nodes: 12
/// cpu of pods. Fewest pods first removes both small nodes, then one large
/// one, and stops at two large nodes ($0.80/h); the same budget can reach one
/// large and both small ones ($0.60/h) by removing two large nodes.
fn scaled_down(big_one_pods: usize) -> Cluster {
    Cluster::new()
        .node(
            "big-1",
            "t.2xlarge",
            "on-demand",
            pods("b1", big_one_pods, "1"),
        )
        .node("big-2", "t.2xlarge", "on-demand", pods("b2", 2, "1"))
        .node("big-3", "t.2xlarge", "on-demand", pods("b3", 4, "1"))
        .node("small-1", "t.large", "on-demand", pods("s1", 1, "2"))
        .node("small-2", "t.large", "on-demand", pods("s2", 1, "2"))
}

#[test]
fn a_tight_budget_removes_the_nodes_that_leave_the_cheapest_fleet_first() {
    let decision = decide(&scaled_down(2).input(one_at_a_time(), &["on-demand"]));
    let command = decision.command.expect("a command");
    assert_eq!(command.method, Method::SingleNodeConsolidation);
    assert_eq!(command.candidates, ["big-1"], "{command:?}");
    assert!(command.replacements.is_empty());
    // big-2 goes next; until then pods should stay off it.
    assert_eq!(decision.planned, ["big-2"]);

    // The next round, big-1's pods on big-3: big-2 goes, and the fleet left
    // (big-3 and the two small nodes) is the cheapest that holds the pods.
    let next = Cluster::new()
        .node("big-2", "t.2xlarge", "on-demand", pods("b2", 2, "1"))
        .node("big-3", "t.2xlarge", "on-demand", pods("b3", 6, "1"))
        .node("small-1", "t.large", "on-demand", pods("s1", 1, "2"))
        .node("small-2", "t.large", "on-demand", pods("s2", 1, "2"));
    let decision = decide(&next.input(one_at_a_time(), &["on-demand"]));
    let command = decision.command.expect("a command");
    assert_eq!(command.candidates, ["big-2"], "{command:?}");
    assert!(decision.planned.is_empty());
}

#[test]
fn with_room_for_every_candidate_at_once_nothing_is_planned_for_later() {
    let decision = decide(&scaled_down(2).input(everything_allowed(), &["on-demand"]));
    let command = decision.command.expect("a command");
    // One command takes the target and more (the small nodes' pods go to
    // one new, cheaper node): nothing is left for later.
    assert_eq!(command.method, Method::MultiNodeConsolidation);
    for member in ["big-1", "big-2"] {
        assert!(
            command.candidates.iter().any(|c| c == member),
            "{command:?}"
        );
    }
    assert!(decision.planned.is_empty(), "{:?}", decision.planned);
}

#[test]
fn a_budget_of_zero_plans_nothing_but_a_held_budget_keeps_the_plan() {
    let zero = PoolPolicy {
        budgets: vec![BudgetRule {
            nodes: BudgetNodes::Count(0),
            reasons: None,
            schedule: None,
            duration: None,
        }],
        ..everything_allowed()
    };
    let decision = decide(&scaled_down(2).input(zero, &["on-demand"]));
    assert!(decision.command.is_none());
    assert!(decision.planned.is_empty(), "{:?}", decision.planned);

    // big-1 is being deleted and holds the one-node budget: no command, but
    // the nodes to remove next stay planned while it drains.
    let mut input = scaled_down(2).input(one_at_a_time(), &["on-demand"]);
    if let Some(f) = input.nodes.iter_mut().find(|f| f.name == "big-1") {
        f.deleting = true;
    }
    let decision = decide(&input);
    assert!(decision.command.is_none(), "{:?}", decision.command);
    assert!(
        decision.planned.contains(&"big-2".to_string()),
        "{:?}",
        decision.planned
    );
}
