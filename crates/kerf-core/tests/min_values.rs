//! `minValues` on a pool's requirements: with the Strict policy (Karpenter's
//! default) a pod whose placement would leave a node's instance-type options
//! with fewer distinct values of a key than its minValues goes elsewhere, or
//! stays pending with a reason naming the key; the options kept for launch
//! hold at least minValues values per key. BestEffort lowers minValues
//! instead and marks the node. Each case names the test of Karpenter's
//! `pkg/controllers/provisioning/scheduling/instance_selection_test.go`
//! (Context "MinValues") it mirrors.

mod common;

use std::collections::{BTreeMap, BTreeSet};
use std::sync::Arc;

use common::*;
use kerf_core::instance_type::{InstanceType, Offering, Overhead};
use kerf_core::plan::Plan;
use kerf_core::requirements::Requirement;
use kerf_core::resources::Resources;
use kerf_core::scheduler::solve;
use kerf_core::snapshot::{MinValuesPolicy, Snapshot};
use kerf_core::validate::validate;

const TYPE: &str = "node.kubernetes.io/instance-type";
const ARCH: &str = "kubernetes.io/arch";
const GENERATION: &str = "karpenter/numerical-value";

/// A spot type in one zone with no overhead, as upstream's fake types.
fn fake(name: &str, cpu: i64, price: f64, labels: &[(&str, &str)]) -> Arc<InstanceType> {
    let mut all: BTreeMap<String, String> = [(ARCH, "arm64"), ("kubernetes.io/os", "linux")]
        .into_iter()
        .map(|(k, v)| (k.to_string(), v.to_string()))
        .collect();
    for (k, v) in labels {
        all.insert(k.to_string(), v.to_string());
    }
    Arc::new(InstanceType::new(
        name,
        all,
        Resources::new(cpu * 1000, cpu << 30, 110),
        Overhead::default(),
        vec![Offering {
            zone: "zone-a".into(),
            capacity_type: "spot".into(),
            price,
            available: true,
            zone_id: None,
        }],
    ))
}

/// A pool requirement with minValues.
fn req(key: &str, op: &str, values: &[&str], min: Option<u32>) -> Requirement {
    let values: Vec<String> = values.iter().map(|s| s.to_string()).collect();
    let mut r = Requirement::new(key, op, &values).expect("valid requirement");
    r.min_values = min;
    r
}

/// Two pods of 0.9 cpu and 900Mi: together they fit only the larger types.
fn two_pods() -> Vec<k8s_openapi::api::core::v1::Pod> {
    pods(
        "p",
        2,
        "{app: p}",
        "  containers: [{name: c, resources: {requests: {cpu: 900m, memory: 900Mi}}}]\n",
    )
}

enum Expect {
    /// Every pod on its own new node.
    SeparateNodes,
    /// Every pod on a new node, maybe one together.
    Placed,
    /// Every pod pending with a reason containing this.
    Pending(&'static str),
}

struct Case {
    mirrors: &'static str,
    types: Vec<Arc<InstanceType>>,
    requirements: Vec<Requirement>,
    policy: MinValuesPolicy,
    max_instance_types: usize,
    expect: Expect,
    /// Whether planned nodes must be marked relaxed.
    relaxed: bool,
}

fn cases() -> Vec<Case> {
    let one_and_four = || {
        vec![
            fake("instance-type-1", 1, 0.52, &[]),
            fake("instance-type-2", 4, 1.0, &[]),
        ]
    };
    let generations = |gens: &[(&str, i64, f64, &str)]| -> Vec<Arc<InstanceType>> {
        gens.iter()
            .map(|(n, cpu, price, g)| fake(n, *cpu, *price, &[(GENERATION, g)]))
            .collect()
    };
    let strict = |mirrors, types, requirements, expect| Case {
        mirrors,
        types,
        requirements,
        policy: MinValuesPolicy::Strict,
        max_instance_types: 600,
        expect,
        relaxed: false,
    };
    vec![
        strict(
            "should schedule respecting the minValues from instance-type requirements",
            one_and_four(),
            vec![req(
                TYPE,
                "In",
                &["instance-type-1", "instance-type-2"],
                Some(2),
            )],
            Expect::SeparateNodes,
        ),
        strict(
            "should schedule respecting the minValues in Gt operator",
            generations(&[
                ("instance-type-1", 1, 0.52, "2"),
                ("instance-type-2", 1, 1.0, "3"),
                ("instance-type-3", 4, 1.2, "4"),
            ]),
            vec![req(GENERATION, "Gt", &["2"], Some(2))],
            Expect::SeparateNodes,
        ),
        strict(
            "scheduler should fail if the minValues in Gt operator is not satisfied",
            generations(&[
                ("instance-type-1", 1, 0.52, "2"),
                ("instance-type-2", 4, 1.0, "3"),
            ]),
            vec![req(GENERATION, "Gt", &["2"], Some(2))],
            Expect::Pending("karpenter/numerical-value has 1 value(s), minValues is 2"),
        ),
        strict(
            "should schedule respecting the minValues in Lt operator",
            generations(&[
                ("instance-type-1", 1, 0.52, "2"),
                ("instance-type-2", 4, 1.0, "3"),
                ("instance-type-3", 4, 1.2, "4"),
            ]),
            vec![req(GENERATION, "Lt", &["4"], Some(2))],
            Expect::SeparateNodes,
        ),
        strict(
            "scheduler should fail if the minValues in Lt operator is not satisfied",
            generations(&[
                ("instance-type-1", 1, 0.52, "2"),
                ("instance-type-2", 4, 1.0, "4"),
            ]),
            vec![req(GENERATION, "Lt", &["3"], Some(2))],
            Expect::Pending("karpenter/numerical-value has 1 value(s), minValues is 2"),
        ),
        strict(
            "should schedule considering the max of the minValues of In and NotIn operators in the instance-type requirements",
            vec![
                fake("instance-type-1", 1, 0.52, &[]),
                fake("instance-type-2", 2, 1.0, &[]),
                fake("instance-type-3", 4, 1.2, &[]),
            ],
            vec![
                req(
                    TYPE,
                    "In",
                    &["instance-type-1", "instance-type-2", "instance-type-3"],
                    Some(1),
                ),
                req(TYPE, "NotIn", &["instance-type-3"], Some(2)),
            ],
            Expect::SeparateNodes,
        ),
        strict(
            "schedule should fail if minimum number of InstanceTypes is not met as per the minValues in the requirement",
            catalogue(),
            vec![req(TYPE, "Exists", &[], Some(11))],
            Expect::Pending("node.kubernetes.io/instance-type has 7 value(s), minValues is 11"),
        ),
        Case {
            max_instance_types: 1,
            ..strict(
                "schedule should fail if minimum number of InstanceTypes is not met as per the minValues in the requirement after truncation",
                one_and_four(),
                vec![req(
                    TYPE,
                    "In",
                    &["instance-type-1", "instance-type-2"],
                    Some(2),
                )],
                Expect::Pending("among the 1 cheapest instance types kept for launch"),
            )
        },
        strict(
            "should schedule and respect multiple requirement keys with minValues",
            vec![
                fake("instance-type-1", 1, 0.52, &[(ARCH, "amd64")]),
                fake("instance-type-2", 4, 1.0, &[]),
            ],
            vec![
                req(ARCH, "Exists", &[], Some(2)),
                req(TYPE, "In", &["instance-type-1", "instance-type-2"], Some(1)),
            ],
            Expect::SeparateNodes,
        ),
        // BestEffort (`--min-values-policy BestEffort`): scheduled, minValues lowered.
        Case {
            policy: MinValuesPolicy::BestEffort,
            max_instance_types: 1,
            relaxed: true,
            ..strict(
                "(BestEffort) minValues relaxed after truncation",
                one_and_four(),
                vec![req(
                    TYPE,
                    "In",
                    &["instance-type-1", "instance-type-2"],
                    Some(2),
                )],
                Expect::Placed,
            )
        },
        Case {
            policy: MinValuesPolicy::BestEffort,
            relaxed: true,
            ..strict(
                "(BestEffort) minValues relaxed when too few types exist",
                catalogue(),
                vec![req(TYPE, "Exists", &[], Some(11))],
                Expect::Placed,
            )
        },
    ]
}

/// Distinct values of `key` among a node's options.
fn values_in_options(plan: &Plan, node: usize, types: &[Arc<InstanceType>], key: &str) -> usize {
    let by_name: BTreeMap<&str, &InstanceType> = types
        .iter()
        .map(|t| (t.name.as_str(), t.as_ref()))
        .collect();
    plan.new_nodes[node]
        .options
        .iter()
        .filter_map(|o| by_name.get(o.instance_type.as_str()))
        .filter_map(|t| t.labels.get(key))
        .collect::<BTreeSet<_>>()
        .len()
}

#[test]
fn min_values_are_enforced_as_karpenter_does() {
    for case in cases() {
        let mut pool = template("default", &[]);
        pool.instance_types = case.types.clone();
        for r in &case.requirements {
            pool.requirements.add(r.clone());
        }
        let pool_reqs = pool.requirements.clone();
        let mut snap: Snapshot = snapshot(vec![pool], two_pods());
        snap.options.min_values_policy = case.policy;
        snap.options.max_instance_types = case.max_instance_types;
        let plan = solve(&snap);
        let name = case.mirrors;
        match case.expect {
            Expect::SeparateNodes | Expect::Placed => {
                let violations = validate(&snap, &plan);
                assert!(violations.is_empty(), "{name}: {violations:#?}");
                assert!(
                    plan.unschedulable.is_empty(),
                    "{name}: {:?}",
                    plan.unschedulable
                );
                if matches!(case.expect, Expect::SeparateNodes) {
                    assert_ne!(
                        node_of(&plan, "p-0").name,
                        node_of(&plan, "p-1").name,
                        "{name}"
                    );
                }
                for (n, node) in plan.new_nodes.iter().enumerate() {
                    assert_eq!(node.min_values_relaxed, case.relaxed, "{name}");
                    // Requirements on one key merge to the largest minValues.
                    for r in pool_reqs.iter().filter(|r| r.min_values.is_some()) {
                        let min = node
                            .requirements
                            .get(&r.key)
                            .and_then(|r| r.min_values)
                            .unwrap_or(0) as usize;
                        if !case.relaxed {
                            assert_eq!(min, r.min_values.unwrap_or(0) as usize, "{name}");
                        }
                        let have = values_in_options(&plan, n, &case.types, &r.key);
                        assert!(have >= min, "{name}: {} has {have} < {min}", r.key);
                    }
                }
            }
            Expect::Pending(reason) => {
                assert!(plan.new_nodes.is_empty(), "{name}: {:?}", plan.new_nodes);
                assert!(plan.placements.is_empty(), "{name}: {:?}", plan.placements);
                assert_eq!(plan.unschedulable.len(), 2, "{name}");
                for u in &plan.unschedulable {
                    assert!(u.reason.contains(reason), "{name}: {}", u.reason);
                    assert!(u.reason.contains("minValues"), "{name}: {}", u.reason);
                }
            }
        }
    }
}

/// Without minValues the same two pods share one instance-type-2: the rule,
/// not the sizes, is what splits them above.
#[test]
fn without_min_values_the_pods_share_a_node() {
    let mut pool = template("default", &[]);
    pool.instance_types = vec![
        fake("instance-type-1", 1, 0.52, &[]),
        fake("instance-type-2", 4, 1.0, &[]),
    ];
    pool.requirements.add(req(
        TYPE,
        "In",
        &["instance-type-1", "instance-type-2"],
        None,
    ));
    let plan = solve(&snapshot(vec![pool], two_pods()));
    assert_eq!(plan.new_nodes.len(), 1, "{:?}", plan.new_nodes);
    assert_eq!(plan.new_nodes[0].chosen.instance_type, "instance-type-2");
}
