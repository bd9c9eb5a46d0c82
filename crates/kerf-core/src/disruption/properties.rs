//! Properties of every disruption command over random clusters: it never
//! touches a node hosting a pod that do-not-disrupt or a PodDisruptionBudget
//! protects, never removes more nodes than the budget allows, and every pod
//! it moves has a place in the end state, as the independent plan validator
//! (`crate::validate`) checks it.

use std::collections::BTreeSet;

use proptest::prelude::*;
use serde_json::json;

use super::consolidation::end_state;
use super::tests::{Cluster, TYPES, pod};
use super::*;
use crate::scheduler::solve;

/// One pod: CPU in tenths of a core, and how it is protected
/// (0: not, 1: do-not-disrupt, 2: selected by a PDB that allows nothing).
type PodSpec = (i64, u8);

fn protection() -> impl Strategy<Value = u8> {
    prop_oneof![6 => Just(0u8), 1 => Just(1u8), 1 => Just(2u8)]
}

/// (instance type index, drifted, pods) per node.
type NodeSpec = (usize, bool, Vec<PodSpec>);

/// Nodes, the budget, and whether the pool is Balanced.
fn cluster() -> impl Strategy<Value = (Vec<NodeSpec>, u32, bool)> {
    let node = (
        0..TYPES.len(),
        any::<bool>(),
        prop::collection::vec((1i64..=15, protection()), 0..5),
    );
    (prop::collection::vec(node, 1..7), 0u32..5, any::<bool>())
}

fn build(nodes: &[NodeSpec], budget: u32, balanced: bool) -> DisruptionInput {
    let mut c = Cluster::new();
    let mut drifted = Vec::new();
    for (i, (type_index, is_drifted, pods)) in nodes.iter().enumerate() {
        let (type_, cores, _, _) = TYPES[*type_index];
        let mut room = cores * 10;
        let mut list = Vec::new();
        for (j, (tenths, protection)) in pods.iter().enumerate() {
            // Leave a little room: pods must fit the node they are on.
            if *tenths >= room {
                continue;
            }
            room -= tenths;
            let extra = match protection {
                1 => json!({"annotations": {"karpenter.sh/do-not-disrupt": "true"}}),
                2 => json!({"labels": {"app": "guarded"}}),
                _ => json!({}),
            };
            list.push(pod(
                &format!("p{i}-{j}"),
                &format!("{}m", tenths * 100),
                extra,
            ));
        }
        let name = format!("n{i}");
        if *is_drifted {
            drifted.push(name.clone());
        }
        c = c.node(&name, type_, "on-demand", list);
    }
    let policy = PoolPolicy {
        policy: if balanced {
            Policy::Balanced
        } else {
            Policy::WhenEmptyOrUnderutilized
        },
        budgets: vec![BudgetRule {
            nodes: BudgetNodes::Count(budget),
            reasons: None,
            schedule: None,
            duration: None,
        }],
        ..PoolPolicy::karpenter_default()
    };
    let mut input = c.input(policy, &["on-demand"]);
    for facts in &mut input.nodes {
        if drifted.contains(&facts.name) {
            facts.drifted = Some("template changed".into());
        }
    }
    input.pdbs = vec![
        serde_json::from_value(json!({
            "metadata": {"name": "guarded", "namespace": "default"},
            "spec": {"selector": {"matchLabels": {"app": "guarded"}}, "maxUnavailable": 0},
            "status": {"disruptionsAllowed": 0, "currentHealthy": 1, "desiredHealthy": 1, "expectedPods": 1},
        }))
        .expect("pdb"),
    ];
    input
}

fn protected(pod: &k8s_openapi::api::core::v1::Pod) -> bool {
    let meta = &pod.metadata;
    meta.annotations
        .as_ref()
        .is_some_and(|a| a.contains_key("karpenter.sh/do-not-disrupt"))
        || meta
            .labels
            .as_ref()
            .is_some_and(|l| l.get("app").map(String::as_str) == Some("guarded"))
}

proptest! {
    #![proptest_config(ProptestConfig::with_cases(300))]

    #[test]
    fn commands_respect_protection_and_budgets_and_place_every_pod((nodes, budget, balanced) in cluster()) {
        let input = build(&nodes, budget, balanced);
        let decision = decide(&input);
        let Some(command) = decision.command else {
            return Ok(());
        };
        let candidates: BTreeSet<&String> = command.candidates.iter().collect();
        prop_assert!(!candidates.is_empty());
        prop_assert!(candidates.len() <= budget as usize, "{} candidates, budget {budget}", candidates.len());
        for node in input.cluster.nodes.iter().filter(|n| candidates.contains(&n.name)) {
            for pod in pods_to_move(node) {
                prop_assert!(!protected(pod), "{} evicts protected pod {:?}", node.name, pod.metadata.name);
            }
        }
        let removed: Vec<String> = command.candidates.clone();
        let (snapshot, moved) = end_state(&super::indexed::Indexed::new(&input), &removed);
        let plan = solve(&snapshot);
        prop_assert!(plan.unschedulable.is_empty(), "{:?}", plan.unschedulable);
        let violations = crate::validate::validate(&snapshot, &plan);
        prop_assert!(violations.is_empty(), "{violations:?}");
        prop_assert_eq!(plan.new_nodes.len(), command.replacements.len());
        let placed: BTreeSet<_> = plan
            .placements
            .iter()
            .map(|p| p.pod.clone())
            .collect();
        for pods in moved.values() {
            for key in pods {
                prop_assert!(placed.contains(key), "{key:?} has no place");
            }
        }
        if command.method != Method::Drift {
            prop_assert!(command.replacements.len() <= 1, "consolidation never splits a node");
            prop_assert!(command.price_after < command.price_before || command.replacements.is_empty());
        }
    }
}
