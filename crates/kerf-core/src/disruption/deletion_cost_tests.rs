//! Tests of the pod-deletion-cost ranking that steers ReplicaSet scale-downs.

use std::collections::BTreeMap;

use k8s_openapi::api::core::v1::Pod;
use kerf_api::labels::{MANAGED_POD_DELETION_COST, POD_DELETION_COST};
use serde_json::{Value, json};

use super::tests::{Cluster, everything_allowed, pod};
use super::*;

fn owned(name: &str, extra: Value) -> Pod {
    let mut meta = json!({"ownerReferences": [{"apiVersion": "apps/v1", "kind": "ReplicaSet",
        "name": "web-1", "uid": "u", "controller": true}], "resourceVersion": "7"});
    if let (Some(m), Some(e)) = (meta.as_object_mut(), extra.as_object()) {
        m.extend(e.clone());
    }
    pod(name, "100m", meta)
}

fn replicas(prefix: &str, n: usize) -> Vec<Pod> {
    (0..n)
        .map(|i| owned(&format!("{prefix}-{i}"), json!({})))
        .collect()
}

fn costs(input: &DisruptionInput) -> BTreeMap<String, Option<i32>> {
    deletion_costs(input)
        .changes
        .into_iter()
        .map(|c| (c.pod.name, c.cost))
        .collect()
}

fn cost(costs: &BTreeMap<String, Option<i32>>, pod: &str) -> i32 {
    costs
        .get(pod)
        .copied()
        .flatten()
        .unwrap_or_else(|| panic!("{pod} gets no cost: {costs:?}"))
}

/// A pod as it is once kerf wrote `cost` on it.
fn written(name: &str, cost: i32) -> Pod {
    owned(
        name,
        json!({"annotations": {POD_DELETION_COST: cost.to_string(),
            MANAGED_POD_DELETION_COST: cost.to_string()}}),
    )
}

#[test]
fn pods_of_the_emptiest_node_go_first_and_every_pod_of_a_node_shares_its_cost() {
    let input = Cluster::new()
        .node("few", "t.2xlarge", "on-demand", replicas("f", 2))
        .node("many", "t.2xlarge", "on-demand", replicas("m", 9))
        .input(everything_allowed(), &["on-demand"]);
    let costs = costs(&input);
    assert_eq!(costs.len(), 11, "{costs:?}");
    assert_eq!(cost(&costs, "f-0"), cost(&costs, "f-1"));
    assert!(cost(&costs, "f-0") < cost(&costs, "m-0"), "{costs:?}");
    // Below the default of 0, so pods kerf has not ranked yet go last.
    assert!(costs.values().all(|c| c.is_some_and(|c| c < 0)));
}

/// Not Karpenter's fewest-pods-first: of two nodes with as many pods, the
/// dearer empties first (it saves more per deleted pod), and a node without
/// a known price empties last.
#[test]
fn the_dearest_node_per_pod_empties_first() {
    let mut input = Cluster::new()
        .node("small", "t.large", "on-demand", replicas("s", 4))
        .node("large", "t.2xlarge", "on-demand", replicas("l", 4))
        .node("unpriced", "t.2xlarge", "on-demand", replicas("u", 1))
        .input(everything_allowed(), &["on-demand"]);
    input.nodes[2].price = None;
    let costs = costs(&input);
    assert!(cost(&costs, "l-0") < cost(&costs, "s-0"), "{costs:?}");
    assert!(cost(&costs, "s-0") < cost(&costs, "u-0"), "{costs:?}");
}

#[test]
fn only_replica_set_pods_are_ranked() {
    let stateful = pod(
        "db-0",
        "100m",
        json!({"ownerReferences": [{"apiVersion": "apps/v1", "kind": "StatefulSet",
            "name": "db", "uid": "u", "controller": true}]}),
    );
    let bare = pod("bare", "100m", json!({}));
    let input = Cluster::new()
        .node(
            "a",
            "t.large",
            "on-demand",
            vec![stateful, bare, owned("w", json!({}))],
        )
        .input(everything_allowed(), &["on-demand"]);
    assert_eq!(costs(&input).keys().collect::<Vec<_>>(), ["w"]);
}

#[test]
fn a_cost_the_user_set_is_never_changed_and_kerfs_own_is_not_rewritten() {
    let user = || owned("user", json!({"annotations": {POD_DELETION_COST: "100"}}));
    let input = Cluster::new()
        .node(
            "a",
            "t.large",
            "on-demand",
            vec![user(), owned("new", json!({}))],
        )
        .input(everything_allowed(), &["on-demand"]);
    let first = deletion_costs(&input).changes;
    assert_eq!(first.len(), 1, "{first:?}");
    assert_eq!(first[0].pod.name, "new");
    assert_eq!(first[0].resource_version.as_deref(), Some("7"));
    let value = first[0].cost.expect("a cost");

    // Once written, the same cluster needs no write; a user who edits the
    // value takes it over.
    let settled = Cluster::new()
        .node(
            "a",
            "t.large",
            "on-demand",
            vec![user(), written("new", value)],
        )
        .node(
            "b",
            "t.large",
            "on-demand",
            vec![owned(
                "taken",
                json!({"annotations": {POD_DELETION_COST: "5", MANAGED_POD_DELETION_COST: "-3"}}),
            )],
        )
        .input(everything_allowed(), &["on-demand"]);
    assert_eq!(deletion_costs(&settled).changes, []);
}

#[test]
fn a_node_disruption_will_not_take_loses_kerfs_costs() {
    let guarded = owned("guarded", json!({"annotations": {labels_dnd(): "true"}}));
    let input = Cluster::new()
        .node("a", "t.large", "on-demand", vec![guarded, written("w", -5)])
        .input(everything_allowed(), &["on-demand"]);
    assert_eq!(costs(&input), [("w".to_string(), None)].into());

    // consolidateAfter: Never: no ranking, unless the node drifted.
    let never = PoolPolicy {
        consolidate_after: None,
        ..everything_allowed()
    };
    let input = Cluster::new()
        .node("a", "t.large", "on-demand", vec![written("w", -5)])
        .node("b", "t.large", "on-demand", replicas("d", 1))
        .input(never, &["on-demand"]);
    let mut input = input;
    input.nodes[1].drifted = Some("NodePoolDrifted".into());
    let costs = costs(&input);
    assert_eq!(costs.get("w"), Some(&None), "{costs:?}");
    assert!(cost(&costs, "d-0") < 0);
}

fn labels_dnd() -> &'static str {
    kerf_api::labels::DO_NOT_DISRUPT
}

#[test]
fn deleting_then_drifted_then_consolidatable_nodes_empty_first() {
    let mut input = Cluster::new()
        .node("consolidatable", "t.large", "on-demand", replicas("c", 1))
        .node("drifted", "t.large", "on-demand", replicas("d", 8))
        .node("deleting", "t.large", "on-demand", replicas("x", 9))
        .input(everything_allowed(), &["on-demand"]);
    input.nodes[1].drifted = Some("NodePoolDrifted".into());
    input.nodes[2].deleting = true;
    let costs = costs(&input);
    assert!(cost(&costs, "x-0") < cost(&costs, "d-0"), "{costs:?}");
    assert!(cost(&costs, "d-0") < cost(&costs, "c-0"), "{costs:?}");
}

#[test]
fn initializing_and_nominated_nodes_are_left_as_they_are() {
    let mut input = Cluster::new()
        .node("a", "t.large", "on-demand", vec![written("w", -5)])
        .node("b", "t.large", "on-demand", replicas("n", 1))
        .input(everything_allowed(), &["on-demand"]);
    input.nodes[0].initialized = false;
    input.nodes[1].nominated = true;
    assert_eq!(
        deletion_costs(&input),
        DeletionCosts {
            changes: vec![],
            waiting: 2
        }
    );
}

/// Only a node left as it is waits: one being deleted is ranked first
/// whether or not it ever initialized, so nothing is left to look again for.
#[test]
fn a_deleting_node_that_never_initialized_does_not_wait() {
    let mut input = Cluster::new()
        .node("a", "t.large", "on-demand", replicas("d", 1))
        .input(everything_allowed(), &["on-demand"]);
    input.nodes[0].initialized = false;
    input.nodes[0].deleting = true;
    let decided = deletion_costs(&input);
    assert_eq!(decided.waiting, 0);
    assert_eq!(decided.changes.len(), 1, "{decided:?}");
}

#[test]
fn a_node_keeps_its_cost_until_its_pod_count_doubles() {
    let cost_with = |n: usize| {
        let input = Cluster::new()
            .node("a", "t.2xlarge", "on-demand", replicas("p", n))
            .input(everything_allowed(), &["on-demand"]);
        cost(&costs(&input), "p-0")
    };
    assert_eq!(cost_with(4), cost_with(7));
    assert!(cost_with(7) < cost_with(8));
}

/// What the ReplicaSet controller does with the costs: scale 30 replicas on
/// three nodes down to 10, lowest cost first. Two nodes empty, so emptiness
/// removes them without an eviction (spread evenly, every node would keep a
/// third of the pods and consolidation would evict them).
#[test]
fn a_replica_set_scaling_down_by_the_costs_empties_whole_nodes() {
    let input = Cluster::new()
        .node("a", "t.2xlarge", "on-demand", replicas("a", 10))
        .node("b", "t.2xlarge", "on-demand", replicas("b", 10))
        .node("c", "t.2xlarge", "on-demand", replicas("c", 10))
        .input(everything_allowed(), &["on-demand"]);
    let costs = costs(&input);
    let mut order: Vec<(&i32, &String)> = costs
        .iter()
        .map(|(pod, c)| (c.as_ref().expect("a cost"), pod))
        .collect();
    order.sort();
    let mut left: BTreeMap<char, usize> = BTreeMap::new();
    for (_, pod) in &order[20..] {
        *left.entry(pod.chars().next().expect("name")).or_default() += 1;
    }
    assert_eq!(left.len(), 1, "pods left on {left:?}");
}

#[test]
fn consolidation_does_not_read_kerfs_own_cost_as_the_users() {
    let ours = written("ours", -2_000_000_000);
    let theirs = owned(
        "theirs",
        json!({"annotations": {POD_DELETION_COST: "-2000000000"}}),
    );
    assert_eq!(eviction_cost(&ours), 1.0);
    assert!(eviction_cost(&theirs) < 1.0);
}

/// A pod's deletion-cost annotations before the ranking: none, one a user
/// set, or one kerf wrote (current or stale).
fn annotated(name: &str, kind: u8) -> Pod {
    match kind {
        0 => owned(name, json!({})),
        1 => owned(name, json!({"annotations": {POD_DELETION_COST: "42"}})),
        _ => written(name, -7),
    }
}

/// The pod once `change` is applied, as the API server would store it.
fn apply(pod: &mut Pod, cost: Option<i32>) {
    let annotations = pod
        .metadata
        .annotations
        .get_or_insert_with(Default::default);
    match cost {
        Some(c) => {
            annotations.insert(POD_DELETION_COST.into(), c.to_string());
            annotations.insert(MANAGED_POD_DELETION_COST.into(), c.to_string());
        }
        None => {
            annotations.remove(POD_DELETION_COST);
            annotations.remove(MANAGED_POD_DELETION_COST);
        }
    }
}

proptest::proptest! {
    /// Over random nodes and pods: a cost a user set is never in the
    /// changes, every cost kerf writes is negative and the same for every
    /// pod of a node, and once the changes are applied there are none left.
    #[test]
    fn costs_respect_users_agree_per_node_and_settle(
        nodes in proptest::collection::vec(
            (proptest::collection::vec(0u8..3, 0..6), proptest::bool::ANY, proptest::bool::ANY),
            1..6,
        ),
    ) {
        let build = |pods: &dyn Fn(usize, usize, u8) -> Pod| {
            let mut cluster = Cluster::new();
            for (i, (kinds, _, _)) in nodes.iter().enumerate() {
                let list = kinds.iter().enumerate().map(|(j, k)| pods(i, j, *k)).collect();
                cluster = cluster.node(&format!("n{i}"), "t.2xlarge", "on-demand", list);
            }
            let mut input = cluster.input(everything_allowed(), &["on-demand"]);
            for (facts, (_, drifted, deleting)) in input.nodes.iter_mut().zip(&nodes) {
                facts.drifted = drifted.then(|| "NodePoolDrifted".to_string());
                facts.deleting = *deleting;
            }
            input
        };
        let input = build(&|i, j, k| annotated(&format!("p{i}-{j}"), k));
        let changes = deletion_costs(&input).changes;
        let mut per_node: BTreeMap<String, Option<i32>> = BTreeMap::new();
        for change in &changes {
            let (i, j) = change.pod.name[1..].split_once('-').expect("p<i>-<j>");
            let (i, j): (usize, usize) = (i.parse().expect("i"), j.parse().expect("j"));
            proptest::prop_assert_ne!(nodes[i].0[j], 1, "a user's cost changed: {:?}", change);
            proptest::prop_assert!(change.cost.is_none_or(|c| c < 0), "{:?}", change);
            if let Some(cost) = change.cost {
                let node = format!("n{i}");
                let same = per_node.entry(node).or_insert(Some(cost));
                proptest::prop_assert_eq!(*same, Some(cost));
            }
        }
        let applied: BTreeMap<&str, Option<i32>> =
            changes.iter().map(|c| (c.pod.name.as_str(), c.cost)).collect();
        let after = build(&|i, j, k| {
            let name = format!("p{i}-{j}");
            let mut pod = annotated(&name, k);
            if let Some(cost) = applied.get(name.as_str()) {
                apply(&mut pod, *cost);
            }
            pod
        });
        proptest::prop_assert_eq!(deletion_costs(&after).changes, vec![]);
    }
}
