//! Pure tests of Drift in the disruption decision, each naming the upstream
//! case (kubernetes-sigs/karpenter pkg/controllers/disruption/drift_test.go
//! unless said otherwise) it mirrors.

use k8s_openapi::api::policy::v1::PodDisruptionBudget;
use serde_json::json;

use super::tests::{Cluster, everything_allowed, kept_reason, pod};
use super::*;

/// Marks `names` as drifted, as the callers that compare nodes with their
/// pool and node class would.
fn drift(mut input: DisruptionInput, names: &[&str]) -> DisruptionInput {
    for facts in &mut input.nodes {
        if names.contains(&facts.name.as_str()) {
            facts.drifted = Some("NodePoolDrifted".into());
        }
    }
    input
}

/// A budget of `count` nodes for `reason` only.
fn budget_for(reason: Reason, count: u32) -> BudgetRule {
    BudgetRule {
        nodes: BudgetNodes::Count(count),
        reasons: Some(vec![reason]),
        schedule: None,
        duration: None,
    }
}

fn command_of(input: &DisruptionInput) -> Command {
    let decision = decide(input);
    decision
        .command
        .unwrap_or_else(|| panic!("a command: {:?}", decision.kept))
}

// "should only consider 3 nodes allowed to be disrupted because of budgets", with
// consolidation off as in "should delete drifted nodes when they are empty and
// consolidation is disabled"; v1.0-v1.4 took every empty drifted node in one command.
#[test]
fn empty_drifted_nodes_go_together_within_the_drifted_budget() {
    let mut policy = everything_allowed();
    policy.consolidate_after = None;
    policy.budgets.push(budget_for(Reason::Drifted, 3));
    let input = Cluster::new()
        .node("a", "t.large", "on-demand", vec![])
        .node("b", "t.large", "on-demand", vec![])
        .node("c", "t.large", "on-demand", vec![])
        .node("d", "t.large", "on-demand", vec![])
        .node("e", "t.large", "on-demand", vec![pod("w", "1", json!({}))])
        .input(policy, &["on-demand"]);
    let input = drift(input, &["a", "b", "c", "d", "e"]);
    let decision = decide(&input);
    let command = decision.command.clone().expect("a command");
    assert_eq!(command.method, Method::Drift);
    assert_eq!(command.reason, Reason::Drifted);
    assert_eq!(command.candidates, ["a", "b", "c"]);
    assert!(command.replacements.is_empty(), "{command:?}");
    assert!((command.price_before - 0.30).abs() < 1e-9);
    // The empty ones used up the budget, the busy one included.
    for node in ["d", "e"] {
        assert_eq!(
            kept_reason(&decision, node),
            &KeptReason::Budget {
                reason: Reason::Drifted,
                pool: tests::pool().to_string()
            },
            "{node}"
        );
    }
}

// "should replace drifted nodes": a spot node in a pool that now allows only on-demand
// is replaced by a dearer on-demand node, which consolidation would never do.
#[test]
fn a_drifted_node_is_replaced_even_when_the_replacement_costs_more() {
    let cluster = || {
        Cluster::new()
            .node("sp", "t.large", "spot", vec![pod("w", "1500m", json!({}))])
            .input(everything_allowed(), &["on-demand"])
    };
    assert!(matches!(
        kept_reason(&decide(&cluster()), "sp"),
        KeptReason::NoCheaperFit { .. }
    ));

    let command = command_of(&drift(cluster(), &["sp"]));
    assert_eq!(command.method, Method::Drift);
    assert_eq!(command.candidates, ["sp"]);
    let [replacement] = command.replacements.as_slice() else {
        panic!("one replacement: {command:?}")
    };
    assert_eq!(replacement.node.chosen.instance_type, "t.large");
    assert_eq!(replacement.node.chosen.capacity_type, "on-demand");
    // Every type that holds the pod may be launched, not only cheaper ones.
    let types: Vec<&str> = replacement
        .node
        .options
        .iter()
        .map(|o| o.instance_type.as_str())
        .collect();
    assert_eq!(types, ["t.large", "t.xlarge", "t.2xlarge"]);
    assert_eq!(replacement.node.pods.len(), 1);
    assert!((command.price_before - 0.03).abs() < 1e-9);
    assert!((command.price_after - 0.10).abs() < 1e-9);
}

// "should delete drifted nodes when they are empty and consolidation is disabled"
// (kubernetes-sigs/karpenter#2423): consolidateAfter, WhenEmpty and an unknown price
// only hold back consolidation.
#[test]
fn drift_ignores_consolidate_after_the_when_empty_policy_and_an_unknown_price() {
    let mut policy = everything_allowed();
    policy.policy = Policy::WhenEmpty;
    policy.consolidate_after = Some(Duration::from_secs(600));
    let mut input = Cluster::new()
        .node(
            "busy",
            "t.xlarge",
            "on-demand",
            vec![pod("w", "1", json!({}))],
        )
        .input(policy, &["on-demand"]);
    input.nodes[0].last_pod_event = Some("2026-12-05T11:55:00Z".parse().unwrap());
    input.nodes[0].price = None;
    // Karpenter names the policy first: no wait would make this node go.
    assert_eq!(
        kept_reason(&decide(&input), "busy"),
        &KeptReason::OnlyWhenEmpty
    );
    let command = command_of(&drift(input, &["busy"]));
    assert_eq!(
        (command.method, command.candidates.as_slice()),
        (Method::Drift, &["busy".to_string()][..])
    );
    assert_eq!(command.replacements.len(), 1);
    assert_eq!(command.price_before, 0.0);

    let mut never = everything_allowed();
    never.consolidate_after = None;
    let input = Cluster::new()
        .node("idle", "t.large", "on-demand", vec![])
        .input(never, &["on-demand"]);
    assert_eq!(
        kept_reason(&decide(&input), "idle"),
        &KeptReason::ConsolidateAfterNever
    );
    let command = command_of(&drift(input, &["idle"]));
    assert_eq!(command.method, Method::Drift);
    assert_eq!(command.candidates, ["idle"]);
}

// Budgets: "should allow 0 nodes to be disrupted for a drifted budget of 0" in spirit, and
// budgets apply per reason (nodepool_budgets_test.go "should only consider budgets for the
// reason"). A drifted node is drift's alone: consolidation does not take it either.
#[test]
fn a_zero_drifted_budget_keeps_drifted_nodes_but_an_underutilized_one_does_not() {
    let cluster = |budget: BudgetRule| {
        let mut policy = everything_allowed();
        policy.budgets.push(budget);
        // A 4-cpu node whose pod fits a 2-cpu one: consolidation would replace it.
        let input = Cluster::new()
            .node(
                "big",
                "t.xlarge",
                "on-demand",
                vec![pod("w", "1", json!({}))],
            )
            .input(policy, &["on-demand"]);
        drift(input, &["big"])
    };
    let decision = decide(&cluster(budget_for(Reason::Drifted, 0)));
    assert!(decision.command.is_none(), "{decision:?}");
    assert_eq!(
        kept_reason(&decision, "big"),
        &KeptReason::Budget {
            reason: Reason::Drifted,
            pool: tests::pool().to_string()
        }
    );

    let command = command_of(&cluster(budget_for(Reason::Underutilized, 0)));
    assert_eq!(command.method, Method::Drift);
    assert_eq!(command.candidates, ["big"]);
}

// "should ignore nodes with the karpenter.sh/do-not-disrupt annotation set to true",
// "should not create replacements for drifted nodes that have pods with the
// karpenter.sh/do-not-disrupt annotation set to true" and "... with the blocking PDBs".
#[test]
fn do_not_disrupt_and_pdbs_block_drift() {
    let guarded = pod(
        "guarded",
        "1",
        json!({"annotations": {"karpenter.sh/do-not-disrupt": "true"}}),
    );
    let mut input = Cluster::new()
        .node("annotated", "t.large", "on-demand", vec![])
        .node("guarding", "t.large", "on-demand", vec![guarded])
        .node(
            "budgeted",
            "t.large",
            "on-demand",
            vec![pod("w", "1", json!({}))],
        )
        .input(everything_allowed(), &["on-demand"]);
    input.nodes[0].do_not_disrupt = true;
    let pdb: PodDisruptionBudget = serde_json::from_value(json!({
        "metadata": {"name": "web", "namespace": "default"},
        "spec": {"selector": {"matchLabels": {"app": "web"}}, "maxUnavailable": 0},
        "status": {"disruptionsAllowed": 0, "currentHealthy": 1, "desiredHealthy": 1, "expectedPods": 1},
    }))
    .unwrap();
    input.pdbs.push(pdb);
    let decision = decide(&drift(input, &["annotated", "guarding", "budgeted"]));
    assert!(decision.command.is_none(), "{decision:?}");
    assert_eq!(
        kept_reason(&decision, "annotated"),
        &KeptReason::DoNotDisruptNode
    );
    assert_eq!(
        kept_reason(&decision, "guarding"),
        &KeptReason::DoNotDisruptPod {
            pod: "default/guarded".into()
        }
    );
    assert!(matches!(
        kept_reason(&decision, "budgeted"),
        KeptReason::PodDisruptionBudget { pdb, .. } if pdb == "default/web"
    ));
}

// "can replace drifted nodes with multiple nodes": the pool now offers only 2-cpu
// nodes, so the 8-cpu node's two 1.5-cpu pods need one each.
#[test]
fn a_drifted_node_whose_pods_need_two_nodes_gets_two_replacements() {
    let cluster = || {
        let mut input = Cluster::new()
            .node(
                "big",
                "t.2xlarge",
                "on-demand",
                vec![pod("p1", "1500m", json!({})), pod("p2", "1500m", json!({}))],
            )
            .input(everything_allowed(), &["on-demand"]);
        input.cluster.templates[0]
            .instance_types
            .retain(|t| t.name == "t.large");
        input
    };
    assert_eq!(
        kept_reason(&decide(&cluster()), "big"),
        &KeptReason::WouldNeedNodes { count: 2 }
    );

    let command = command_of(&drift(cluster(), &["big"]));
    assert_eq!(command.method, Method::Drift);
    assert_eq!(command.replacements.len(), 2, "{command:?}");
    for replacement in &command.replacements {
        assert_eq!(replacement.node.chosen.instance_type, "t.large");
        assert_eq!(replacement.node.pods.len(), 1);
    }
    assert!((command.price_before - 0.40).abs() < 1e-9);
    assert!((command.price_after - 0.20).abs() < 1e-9);
}

// "should continue to the next drifted node if the first cannot reschedule all pods".
#[test]
fn drift_moves_on_when_a_nodes_pods_would_not_fit() {
    let mut input = Cluster::new()
        .node(
            "a",
            "t.2xlarge",
            "on-demand",
            vec![pod("huge", "7", json!({}))],
        )
        .node("b", "t.large", "on-demand", vec![pod("w", "1", json!({}))])
        .input(everything_allowed(), &["on-demand"]);
    // Nothing the pool launches now holds 7 cpus.
    input.cluster.templates[0]
        .instance_types
        .retain(|t| t.name != "t.2xlarge");
    let decision = decide(&drift(input, &["a", "b"]));
    let command = decision.command.clone().expect("a command");
    assert_eq!(command.method, Method::Drift);
    assert_eq!(command.candidates, ["b"]);
    assert!(matches!(
        kept_reason(&decision, "a"),
        KeptReason::PodsWouldNotFit { pod, .. } if pod == "default/huge"
    ));
}

// controller.go's order since v1.5 (kubernetes-sigs/karpenter#2180): Emptiness, then
// Drift. Emptiness takes an empty node whether or not it drifted; one it leaves to its
// Empty budget is drift's to take.
#[test]
fn emptiness_goes_before_drift() {
    let input = Cluster::new()
        .node("idle", "t.large", "on-demand", vec![])
        .node(
            "old",
            "t.large",
            "on-demand",
            vec![pod("w", "1", json!({}))],
        )
        .input(everything_allowed(), &["on-demand"]);
    let decision = decide(&drift(input, &["old"]));
    let command = decision.command.clone().expect("a command");
    assert_eq!(command.method, Method::Emptiness);
    assert_eq!(command.candidates, ["idle"]);
    assert_eq!(kept_reason(&decision, "old"), &KeptReason::NotThisRound);

    let cluster = |policy: PoolPolicy| {
        let input = Cluster::new()
            .node("gone", "t.large", "on-demand", vec![])
            .input(policy, &["on-demand"]);
        drift(input, &["gone"])
    };
    let command = command_of(&cluster(everything_allowed()));
    assert_eq!(
        (command.method, command.reason),
        (Method::Emptiness, Reason::Empty)
    );

    let mut no_empty = everything_allowed();
    no_empty.budgets.push(budget_for(Reason::Empty, 0));
    let command = command_of(&cluster(no_empty));
    assert_eq!(
        (command.method, command.reason),
        (Method::Drift, Reason::Drifted)
    );
    assert_eq!(command.candidates, ["gone"]);
}

// drift.go sorts candidates by when their Drifted condition turned True: the
// longest-drifted busy node goes first, whatever its pod count; a drift not
// yet recorded on the claim comes last.
#[test]
fn the_longest_drifted_node_goes_first() {
    let mut input = drift(
        Cluster::new()
            .node(
                "a-few",
                "t.xlarge",
                "on-demand",
                vec![pod("a", "1", json!({}))],
            )
            .node(
                "b-many",
                "t.xlarge",
                "on-demand",
                vec![pod("b1", "1", json!({})), pod("b2", "1", json!({}))],
            )
            .node(
                "c-new",
                "t.xlarge",
                "on-demand",
                vec![pod("c", "1", json!({}))],
            )
            .input(everything_allowed(), &["on-demand"]),
        &["a-few", "b-many", "c-new"],
    );
    let at = |s: &str| Some(s.parse::<Timestamp>().expect("timestamp"));
    for facts in &mut input.nodes {
        facts.drifted_since = match facts.name.as_str() {
            "a-few" => at("2026-12-05T11:30:00Z"),
            "b-many" => at("2026-12-05T11:00:00Z"),
            _ => None,
        };
    }
    assert_eq!(command_of(&input).candidates, ["b-many"]);
    for facts in &mut input.nodes {
        if facts.name == "b-many" {
            facts.drifted_since = None;
        }
    }
    assert_eq!(command_of(&input).candidates, ["a-few"]);
}
