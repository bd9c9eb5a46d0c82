//! Pure tests of the disruption decision, each naming the upstream case
//! (kubernetes-sigs/karpenter pkg/controllers/disruption/*_test.go) it mirrors,
//! and the helpers drift_tests.rs shares.

use std::collections::BTreeMap;
use std::sync::Arc;

use k8s_openapi::api::core::v1::Pod;
use k8s_openapi::api::policy::v1::PodDisruptionBudget;
use serde_json::{Value, json};

use super::*;
use crate::instance_type::{InstanceType, Offering, Overhead};
use crate::requirements::Requirements;
use crate::resources::Resources;
use crate::snapshot::ExistingNode;
use crate::template::{NodeTemplate, PoolKind};

const ZONE: &str = "zone-a";

pub(super) fn pool() -> PoolRef {
    PoolRef {
        kind: PoolKind::NodePool,
        name: "default".into(),
    }
}

/// (name, cpu cores, on-demand $/h, spot $/h)
pub(super) const TYPES: [(&str, i64, f64, f64); 3] = [
    ("t.large", 2, 0.10, 0.03),
    ("t.xlarge", 4, 0.20, 0.06),
    ("t.2xlarge", 8, 0.40, 0.12),
];

fn instance_type(name: &str, cpu: i64, od: f64, spot: f64) -> Arc<InstanceType> {
    let offering = |capacity_type: &str, price: f64| Offering {
        zone: ZONE.into(),
        capacity_type: capacity_type.into(),
        price,
        available: true,
        zone_id: None,
    };
    Arc::new(InstanceType::new(
        name,
        [("kubernetes.io/arch".to_string(), "amd64".to_string())].into(),
        Resources::new(cpu * 1000, 16 << 30, 110),
        Overhead::default(),
        vec![offering("on-demand", od), offering("spot", spot)],
    ))
}

fn template(capacity_types: &[&str]) -> NodeTemplate {
    let mut requirements = Requirements::new();
    requirements.add(crate::requirements::Requirement::in_values(
        kerf_api::labels::CAPACITY_TYPE,
        capacity_types.iter().map(|s| s.to_string()),
    ));
    NodeTemplate::new(
        pool(),
        requirements,
        TYPES
            .iter()
            .map(|(n, c, od, spot)| instance_type(n, *c, *od, *spot))
            .collect(),
    )
}

pub(super) fn pod(name: &str, cpu: &str, extra: Value) -> Pod {
    let mut v = json!({
        "metadata": {"name": name, "namespace": "default", "labels": {"app": "web"}},
        "spec": {"containers": [{"name": "c", "resources": {"requests": {"cpu": cpu}}}]},
        "status": {"phase": "Running", "startTime": "2026-12-05T11:00:00Z"},
    });
    if let (Some(meta), Some(extra)) = (v["metadata"].as_object_mut(), extra.as_object()) {
        for (k, val) in extra {
            meta.insert(k.clone(), val.clone());
        }
    }
    serde_json::from_value(v).expect("test pod")
}

pub(super) struct Cluster {
    nodes: Vec<ExistingNode>,
    facts: Vec<NodeFacts>,
}

impl Cluster {
    pub(super) fn new() -> Self {
        Cluster {
            nodes: Vec::new(),
            facts: Vec::new(),
        }
    }

    /// A managed, initialized node of `type_` with `pods`.
    pub(super) fn node(
        mut self,
        name: &str,
        type_: &str,
        capacity_type: &str,
        pods: Vec<Pod>,
    ) -> Self {
        let (_, cpu, od, spot) = TYPES.iter().find(|t| t.0 == type_).copied().unwrap();
        let labels: BTreeMap<String, String> = [
            (kerf_api::labels::ZONE, ZONE),
            (kerf_api::labels::HOSTNAME, name),
            (kerf_api::labels::INSTANCE_TYPE, type_),
            (kerf_api::labels::CAPACITY_TYPE, capacity_type),
            ("kubernetes.io/arch", "amd64"),
        ]
        .iter()
        .map(|(k, v)| (k.to_string(), v.to_string()))
        .collect();
        let pods = pods
            .into_iter()
            .map(|mut p| {
                p.spec.as_mut().unwrap().node_name = Some(name.into());
                Arc::new(p)
            })
            .collect();
        self.nodes.push(ExistingNode {
            name: name.into(),
            labels,
            taints: Vec::new(),
            allocatable: Resources::new(cpu * 1000, 16 << 30, 110),
            pods,
            pool: Some(pool()),
            in_flight: false,
            marked_for_deletion: false,
            unschedulable: false,
        });
        self.facts.push(NodeFacts {
            name: name.into(),
            pool: pool(),
            instance_type: type_.into(),
            zone: ZONE.into(),
            capacity_type: capacity_type.into(),
            price: Some(if capacity_type == "spot" { spot } else { od }),
            initialized: true,
            deleting: false,
            ready: true,
            nominated: false,
            do_not_disrupt: false,
            last_pod_event: None,
            drifted: None,
            drifted_since: None,
        });
        self
    }

    pub(super) fn input(self, policy: PoolPolicy, capacity_types: &[&str]) -> DisruptionInput {
        DisruptionInput {
            cluster: Snapshot {
                nodes: self.nodes,
                templates: vec![template(capacity_types)],
                ..Default::default()
            },
            nodes: self.facts,
            pools: [(pool(), policy)].into(),
            pdbs: Vec::new(),
            now: "2026-12-05T12:00:00Z".parse().unwrap(),
            options: DisruptionOptions::default(),
        }
    }
}

/// `n` pods of one cpu each, named `<name>-<i>`.
fn one_cpu_pods(name: &str, n: usize) -> Vec<Pod> {
    (0..n)
        .map(|i| pod(&format!("{name}-{i}"), "1", json!({})))
        .collect()
}

pub(super) fn everything_allowed() -> PoolPolicy {
    PoolPolicy {
        budgets: vec![BudgetRule {
            nodes: BudgetNodes::Percent(100),
            reasons: None,
            schedule: None,
            duration: None,
        }],
        ..PoolPolicy::karpenter_default()
    }
}

pub(super) fn kept_reason<'a>(d: &'a Decision, node: &str) -> &'a KeptReason {
    &d.kept
        .iter()
        .find(|k| k.node == node)
        .unwrap_or_else(|| panic!("{node} not kept: {d:?}"))
        .reason
}

// emptiness_test.go "should delete empty nodes" and "will consider a node with a
// DaemonSet pod as empty".
#[test]
fn empty_nodes_go_together_daemonset_pods_do_not_count() {
    let daemon = pod(
        "ds-1",
        "100m",
        json!({"ownerReferences": [{"apiVersion": "apps/v1", "kind": "DaemonSet", "name": "ds", "uid": "u", "controller": true}]}),
    );
    let input = Cluster::new()
        .node("a", "t.large", "on-demand", vec![])
        .node("b", "t.large", "on-demand", vec![daemon])
        .node(
            "c",
            "t.large",
            "on-demand",
            vec![pod("web-1", "1", json!({}))],
        )
        .input(everything_allowed(), &["on-demand"]);
    let command = decide(&input).command.expect("a command");
    assert_eq!(command.method, Method::Emptiness);
    assert_eq!(command.candidates, ["a", "b"]);
    assert!((command.savings_per_hour() - 0.20).abs() < 1e-9);
}

// consolidation_test.go "can delete nodes" (pods fit on the other node).
#[test]
fn a_node_whose_pods_fit_elsewhere_is_deleted() {
    let input = Cluster::new()
        .node(
            "big",
            "t.xlarge",
            "on-demand",
            vec![pod("a", "1", json!({}))],
        )
        .node(
            "small",
            "t.large",
            "on-demand",
            vec![pod("b", "1", json!({}))],
        )
        .input(everything_allowed(), &["on-demand"]);
    let command = decide(&input).command.expect("a command");
    assert!(command.replacements.is_empty(), "{command:?}");
    // Fewest pods first, then dearest: the 4-cpu node goes, its pod moves to the 2-cpu one.
    assert_eq!(command.candidates, ["big"]);
    assert_eq!(command.method, Method::SingleNodeConsolidation);
}

// consolidation_test.go "can merge 3 nodes into 1".
#[test]
fn several_nodes_merge_into_one_cheaper_node() {
    let input = Cluster::new()
        .node(
            "n1",
            "t.large",
            "on-demand",
            vec![pod("a", "1200m", json!({}))],
        )
        .node(
            "n2",
            "t.large",
            "on-demand",
            vec![pod("b", "1200m", json!({}))],
        )
        .node(
            "n3",
            "t.large",
            "on-demand",
            vec![pod("c", "1200m", json!({}))],
        )
        .input(everything_allowed(), &["on-demand"]);
    let command = decide(&input).command.expect("a command");
    assert_eq!(command.method, Method::MultiNodeConsolidation);
    assert_eq!(command.candidates.len(), 3);
    let [replacement] = command.replacements.as_slice() else {
        panic!("one replacement: {command:?}")
    };
    assert_eq!(replacement.node.chosen.instance_type, "t.xlarge");
    assert!(command.price_after < command.price_before);
}

// consolidation_test.go "won't replace on-demand node if on-demand replacement is more
// expensive": one node that is already the cheapest fit stays, saying why.
#[test]
fn no_cheaper_fit_keeps_the_node() {
    let input = Cluster::new()
        .node(
            "only",
            "t.large",
            "on-demand",
            vec![pod("a", "1500m", json!({}))],
        )
        .input(everything_allowed(), &["on-demand"]);
    let decision = decide(&input);
    assert!(decision.command.is_none(), "{decision:?}");
    assert!(matches!(
        kept_reason(&decision, "only"),
        KeptReason::NoCheaperFit { .. }
    ));
}

// consolidation_test.go "can replace node with a cheaper spot node" and "cannot replace
// spot with spot" without the feature gate.
#[test]
fn on_demand_may_become_spot_but_spot_to_spot_needs_the_gate() {
    let input = Cluster::new()
        .node(
            "od",
            "t.xlarge",
            "on-demand",
            vec![pod("a", "1500m", json!({}))],
        )
        .input(everything_allowed(), &["on-demand", "spot"]);
    let command = decide(&input).command.expect("a command");
    assert_eq!(command.replacements[0].node.chosen.capacity_type, "spot");
    assert!(
        command.replacements[0]
            .node
            .options
            .iter()
            .all(|o| o.capacity_type == "spot")
    );

    let input = Cluster::new()
        .node("sp", "t.xlarge", "spot", vec![pod("a", "1500m", json!({}))])
        .input(everything_allowed(), &["spot"]);
    let decision = decide(&input);
    assert!(decision.command.is_none());
    assert_eq!(
        kept_reason(&decision, "sp"),
        &KeptReason::SpotToSpotDisabled
    );
    // With the gate, a single node needs 15 cheaper types; this catalogue has one.
    let mut input = input;
    input.options.spot_to_spot = true;
    assert_eq!(
        kept_reason(&decide(&input), "sp"),
        &KeptReason::SpotToSpotFlexibility { cheaper_types: 1 }
    );
}

// consolidation_test.go "can delete nodes, considers PDB" and "considers
// karpenter.sh/do-not-disrupt on pods".
#[test]
fn pdbs_and_do_not_disrupt_pods_block() {
    let protected = pod(
        "guarded",
        "1",
        json!({"annotations": {"karpenter.sh/do-not-disrupt": "true"}}),
    );
    let mut input = Cluster::new()
        .node("big", "t.xlarge", "on-demand", vec![protected])
        .node(
            "small",
            "t.large",
            "on-demand",
            vec![pod("b", "1", json!({}))],
        )
        .input(everything_allowed(), &["on-demand"]);
    let pdb: PodDisruptionBudget = serde_json::from_value(json!({
        "metadata": {"name": "web", "namespace": "default"},
        "spec": {"selector": {"matchLabels": {"app": "web"}}, "maxUnavailable": 0},
        "status": {"disruptionsAllowed": 0, "currentHealthy": 2, "desiredHealthy": 2, "expectedPods": 2},
    }))
    .unwrap();
    input.pdbs.push(pdb);
    let decision = decide(&input);
    assert!(decision.command.is_none(), "{decision:?}");
    assert_eq!(
        kept_reason(&decision, "big"),
        &KeptReason::DoNotDisruptPod {
            pod: "default/guarded".into()
        }
    );
    assert!(matches!(
        kept_reason(&decision, "small"),
        KeptReason::PodDisruptionBudget { pdb, .. } if pdb == "default/web"
    ));
}

// A do-not-disrupt duration protects the pod only until it has run that long.
#[test]
fn a_do_not_disrupt_duration_runs_out() {
    let for_an_hour = |d: &str| {
        pod(
            "timed",
            "1",
            json!({"annotations": {"karpenter.sh/do-not-disrupt": d}}),
        )
    };
    // The pod started at 11:00; now is 12:00. Unprotected, the dearer node
    // goes first; protected, it stays and the other moves onto it.
    for (window, removed) in [("30m", "big"), ("2h", "small")] {
        let input = Cluster::new()
            .node("big", "t.xlarge", "on-demand", vec![for_an_hour(window)])
            .node(
                "small",
                "t.large",
                "on-demand",
                vec![pod("b", "1", json!({}))],
            )
            .input(everything_allowed(), &["on-demand"]);
        let decision = decide(&input);
        let command = decision.command.clone().expect("a command");
        assert_eq!(command.candidates, [removed], "{window}: {decision:?}");
    }
}

// consolidation_test.go "should not consolidate if the budget is 0" and consolidateAfter.
#[test]
fn a_zero_budget_and_consolidate_after_keep_nodes() {
    let mut policy = everything_allowed();
    policy.budgets[0].nodes = BudgetNodes::Count(0);
    let input = Cluster::new()
        .node("a", "t.large", "on-demand", vec![])
        .input(policy, &["on-demand"]);
    let decision = decide(&input);
    assert!(decision.command.is_none());
    assert!(matches!(
        kept_reason(&decision, "a"),
        KeptReason::Budget {
            reason: Reason::Empty,
            ..
        }
    ));

    let mut policy = everything_allowed();
    policy.consolidate_after = Some(Duration::from_secs(600));
    let mut input = Cluster::new()
        .node("a", "t.large", "on-demand", vec![])
        .input(policy, &["on-demand"]);
    input.nodes[0].last_pod_event = Some("2026-12-05T11:55:00Z".parse().unwrap());
    assert_eq!(
        kept_reason(&decide(&input), "a"),
        &KeptReason::ConsolidateAfter {
            remaining: Duration::from_secs(300)
        }
    );
}

// consolidation_test.go "won't delete node if it would require pods to schedule on an
// uninitialized node" and WhenEmpty pools.
#[test]
fn uninitialized_nodes_take_no_pods_and_when_empty_pools_keep_busy_nodes() {
    let mut input = Cluster::new()
        .node(
            "big",
            "t.xlarge",
            "on-demand",
            vec![pod("a", "1", json!({}))],
        )
        .node("new", "t.xlarge", "on-demand", vec![])
        .input(everything_allowed(), &["on-demand"]);
    input.nodes[1].initialized = false;
    let decision = decide(&input);
    // The pod cannot count on "new"; a 2-cpu replacement is cheaper, so "big" is replaced.
    let command = decision.command.clone().expect("a command");
    assert_eq!(command.candidates, ["big"]);
    assert_eq!(command.replacements.len(), 1);
    assert_eq!(kept_reason(&decision, "new"), &KeptReason::NotInitialized);

    let mut policy = everything_allowed();
    policy.policy = Policy::WhenEmpty;
    let input = Cluster::new()
        .node(
            "big",
            "t.xlarge",
            "on-demand",
            vec![pod("a", "1", json!({}))],
        )
        .input(policy, &["on-demand"]);
    assert_eq!(
        kept_reason(&decide(&input), "big"),
        &KeptReason::OnlyWhenEmpty
    );
}

// kerf's anti-churn control: a saving below the pool's minimum is not worth the evictions.
#[test]
fn a_minimum_saving_stops_marginal_replacements() {
    let mut policy = everything_allowed();
    policy.min_savings.fraction = 0.6;
    let input = Cluster::new()
        .node(
            "big",
            "t.xlarge",
            "on-demand",
            vec![pod("a", "1", json!({}))],
        )
        .input(policy, &["on-demand"]);
    // 0.20 → 0.10 saves 50%, under the 60% asked for.
    let decision = decide(&input);
    let reason = kept_reason(&decision, "big");
    assert!(
        matches!(reason, KeptReason::NoCheaperFit { best: Some(best), .. } if best.instance_type == "t.large"),
        "{reason:?}"
    );
    // The reason names the replacement it weighed, not only its price.
    assert_eq!(
        reason.to_string(),
        "no cheaper fit: the best replacement, t.large on-demand in zone-a, \
         costs $0.1000/h against $0.2000/h now"
    );
}

// multinodeconsolidation.go filterOutSameInstanceType: merging three nodes
// into one t.2xlarge, a type two of them already are, saves nothing over
// keeping one of them; a cheaper command is found instead.
#[test]
fn merging_into_a_candidates_own_type_must_beat_its_price() {
    let input = Cluster::new()
        .node(
            "a",
            "t.2xlarge",
            "on-demand",
            vec![pod("a", "3", json!({}))],
        )
        .node(
            "b",
            "t.2xlarge",
            "on-demand",
            vec![pod("b", "2", json!({}))],
        )
        .node("c", "t.xlarge", "on-demand", vec![pod("c", "1", json!({}))])
        .input(everything_allowed(), &["on-demand"]);
    let command = decide(&input).command.expect("a command");
    assert!(
        command
            .replacements
            .iter()
            .all(|r| r.node.chosen.instance_type != "t.2xlarge"),
        "{command:?}"
    );
    assert!(command.price_after < command.price_before, "{command:?}");
}

// consolidation_test.go "can replace node with a cheaper spot offering of the
// same instance type": single-node consolidation compares prices only.
#[test]
fn a_node_may_become_a_cheaper_offering_of_its_own_type() {
    let input = Cluster::new()
        .node(
            "a",
            "t.large",
            "on-demand",
            vec![pod("a", "1500m", json!({}))],
        )
        .input(everything_allowed(), &["on-demand", "spot"]);
    let command = decide(&input).command.expect("a command");
    assert_eq!(command.method, Method::SingleNodeConsolidation);
    let chosen = &command.replacements[0].node.chosen;
    assert_eq!(
        (chosen.instance_type.as_str(), chosen.capacity_type.as_str()),
        ("t.large", "spot")
    );
}

// helpers.go SimulateScheduling schedules the pending pods with the
// candidates' pods: consolidation must not take the room a pending pod needs.
#[test]
fn pending_pods_keep_the_room_they_need() {
    let cluster = || {
        Cluster::new()
            .node("a", "t.large", "on-demand", vec![pod("a", "1", json!({}))])
            .node(
                "b",
                "t.large",
                "on-demand",
                vec![pod("b", "500m", json!({}))],
            )
    };
    let alone = cluster().input(everything_allowed(), &["on-demand"]);
    let command = decide(&alone)
        .command
        .expect("either node's pods fit on the other");
    assert_eq!(command.candidates.len(), 1);
    assert!(command.replacements.is_empty());

    let mut crowded = cluster().input(everything_allowed(), &["on-demand"]);
    crowded
        .cluster
        .pending
        .push(Arc::new(pod("waiting", "900m", json!({}))));
    let decision = decide(&crowded);
    assert!(decision.command.is_none(), "{decision:?}");
    for node in ["a", "b"] {
        assert!(
            matches!(
                kept_reason(&decision, node),
                KeptReason::NoCheaperFit { .. }
            ),
            "{decision:?}"
        );
    }
}

// multinodeconsolidation.go's binary search, kerf's last resort: all five
// candidates cannot go (their pods need more than one new node) and none of
// their pods land on a node that stays, but a prefix of them can go at once.
#[test]
fn when_all_candidates_cannot_go_the_longest_prefix_that_can_does() {
    let input = Cluster::new()
        .node("a", "t.2xlarge", "on-demand", one_cpu_pods("a", 1))
        .node("b", "t.2xlarge", "on-demand", one_cpu_pods("b", 1))
        .node("c", "t.2xlarge", "on-demand", one_cpu_pods("c", 2))
        .node("d", "t.2xlarge", "on-demand", one_cpu_pods("d", 3))
        .node("e", "t.2xlarge", "on-demand", one_cpu_pods("e", 3))
        .input(everything_allowed(), &["on-demand"]);
    let command = decide(&input).command.expect("a command");
    assert_eq!(
        command.method,
        Method::MultiNodeConsolidation,
        "{command:?}"
    );
    assert!(command.candidates.len() >= 3, "{command:?}");
    assert!(command.price_after < command.price_before);
}

// kerf only: Karpenter's search takes prefixes of the candidates, so a first
// candidate whose pod can go nowhere (here pinned to its node) blocks every
// prefix, and single-node consolidation then takes one node per round. Over
// more candidates than the removal target considers (100), packing every
// candidate's pods again over the cluster finds the small nodes that can go,
// and they go together.
#[test]
fn a_candidate_that_cannot_move_does_not_block_the_others() {
    let mut pinned = pod("pinned", "1", json!({}));
    if let Some(spec) = pinned.spec.as_mut() {
        let on_x = [(kerf_api::labels::HOSTNAME.to_string(), "x".to_string())];
        spec.node_selector = Some(on_x.into());
    }
    // x has 7 cpu free, each full node 2 and each small node that stays 6:
    // k small nodes can go while 2k <= 107 + 6(60 - k), so 58 at most.
    let mut cluster = Cluster::new().node("x", "t.2xlarge", "on-demand", vec![pinned]);
    for i in 0..60 {
        let name = format!("small-{i:02}");
        cluster = cluster.node(&name, "t.2xlarge", "on-demand", one_cpu_pods(&name, 2));
    }
    for i in 0..50 {
        let name = format!("full-{i:02}");
        cluster = cluster.node(&name, "t.2xlarge", "on-demand", one_cpu_pods(&name, 6));
    }
    let input = cluster.input(everything_allowed(), &["on-demand"]);
    let command = decide(&input).command.expect("a command");
    assert_eq!(
        command.method,
        Method::MultiNodeConsolidation,
        "{command:?}"
    );
    assert!(command.replacements.is_empty(), "{command:?}");
    let small = |name: &String| name.starts_with("small-");
    assert!(command.candidates.iter().all(small), "{command:?}");
    assert!(
        (50..=58).contains(&command.candidates.len()),
        "{} candidates: {command:?}",
        command.candidates.len()
    );
}

// The bound that spares the pass over every candidate at once: it holds only
// when their pods need more than the other nodes have free plus the largest
// node a pool can launch (t.2xlarge, 8 cpu).
#[test]
fn the_room_bound_skips_only_a_pass_that_cannot_succeed() {
    let input = Cluster::new()
        .node("a", "t.2xlarge", "on-demand", one_cpu_pods("a", 4))
        .node("b", "t.2xlarge", "on-demand", one_cpu_pods("b", 5))
        .node("c", "t.2xlarge", "on-demand", one_cpu_pods("c", 6))
        .input(everything_allowed(), &["on-demand"]);
    let input = indexed::Indexed::new(&input);
    let names = |n: &[&str]| n.iter().map(|s| s.to_string()).collect::<Vec<_>>();
    // 9 cpu of pods; c has 2 free and a new node 8: 10.
    assert!(!repacking::exceeds_room(&input, &names(&["a", "b"])));
    // 15 cpu of pods; nothing stays, a new node holds 8.
    assert!(repacking::exceeds_room(&input, &names(&["a", "b", "c"])));
    // 11 cpu; a has 4 free, new node 8: 12, so the pass must run.
    assert!(!repacking::exceeds_room(&input, &names(&["b", "c"])));
}
