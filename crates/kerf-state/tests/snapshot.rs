//! Snapshot details: node flags, bound pods, ephemeral taints, namespaces,
//! claim requirement conversion.

mod common;

use std::collections::BTreeMap;

use common::{pod, seed_state, yaml};
use k8s_openapi::api::core::v1::{Namespace, Node};
use kerf_core::requirements::Requirement;
use kerf_core::template::{PoolKind, PoolRef};
use kerf_state::claims::to_v1;
use kerf_state::{InstanceTypes, SnapshotOptions};

#[test]
fn nodes_carry_flags_pods_and_pool() {
    let mut state = seed_state(1);
    let node: Node = yaml(
        r#"
metadata:
  name: n1
  deletionTimestamp: "2026-01-01T00:00:00Z"
  labels: {karpenter.sh/nodepool: general}
spec: {unschedulable: true, taints: [{key: dedicated, value: db, effect: NoSchedule}]}
status:
  allocatable: {cpu: "4", memory: 16Gi, pods: "110"}
"#,
    );
    state.apply(node).unwrap();
    let mut bound = pod("bound", "1", false);
    bound.spec.as_mut().unwrap().node_name = Some("n1".into());
    state.apply(bound).unwrap();
    let ns: Namespace = yaml("metadata: {name: team-a, labels: {tier: gold}}");
    state.apply(ns).unwrap();

    let built = state.snapshot(&InstanceTypes::new(), &SnapshotOptions::default());
    assert!(built.problems.is_empty(), "{:?}", built.problems);
    let snap = &built.snapshot;
    assert_eq!(snap.nodes.len(), 1);
    let n = &snap.nodes[0];
    assert!(
        n.marked_for_deletion && n.unschedulable && n.in_flight,
        "not Ready → in flight"
    );
    assert_eq!(n.allocatable.cpu, 4000);
    assert_eq!(n.taints.len(), 1);
    // The node is being deleted: its running pod moves (it is planned for
    // with the pending ones, see tests/deleting.rs) and leaves the node's list.
    assert!(n.pods.is_empty());
    assert_eq!(
        n.pool,
        Some(PoolRef {
            kind: PoolKind::NodePool,
            name: "general".into()
        })
    );
    // Karpenter's rule: the seed pod is marked Unschedulable; the bound one
    // needs capacity only because its node is going away.
    let names: Vec<&str> = snap
        .pending
        .iter()
        .filter_map(|p| p.metadata.name.as_deref())
        .collect();
    assert_eq!(names, ["inflate-0", "bound"]);
    assert_eq!(snap.namespaces["team-a"]["tier"], "gold");
    assert_eq!(
        snap.namespaces["default"],
        BTreeMap::from([(
            "kubernetes.io/metadata.name".to_string(),
            "default".to_string()
        )])
    );
    // The template: requirements with the pool label folded in, no instance types given.
    let t = &snap.templates[0];
    assert!(
        t.requirements
            .get("karpenter.sh/provisioner-name")
            .unwrap()
            .has("default")
    );
    assert!(t.instance_types.is_empty());
}

/// The taints the snapshot keeps of a node with `taints`, Ready or not.
fn kept_taints(ready: bool, taints: &str) -> Vec<String> {
    let mut state = seed_state(0);
    let status = if ready { "True" } else { "False" };
    let node: Node = yaml(&format!(
        r#"
metadata: {{name: n1}}
spec: {{taints: {taints}}}
status:
  allocatable: {{cpu: "4", memory: 16Gi, pods: "110"}}
  conditions: [{{type: Ready, status: "{status}"}}]
"#
    ));
    state.apply(node).unwrap();
    let built = state.snapshot(&InstanceTypes::new(), &SnapshotOptions::default());
    built.snapshot.nodes[0]
        .taints
        .iter()
        .map(|t| t.key.clone())
        .collect()
}

#[test]
fn ephemeral_taints_are_ignored_while_they_are_stale_or_the_node_comes_up() {
    let all = "[{key: node.kubernetes.io/not-ready, effect: NoSchedule}, \
               {key: node.kubernetes.io/unreachable, effect: NoExecute}, \
               {key: node.cloudprovider.kubernetes.io/uninitialized, value: 'true', effect: NoSchedule}, \
               {key: dedicated, value: db, effect: NoSchedule}]";
    // Coming up: only the user's taint counts.
    assert_eq!(kept_taints(false, all), ["dedicated"]);
    // Just turned Ready, before the node lifecycle controller's next sync:
    // not-ready and unreachable contradict the condition; the cloud
    // controller's taint still holds pods off.
    assert_eq!(
        kept_taints(true, all),
        [
            "node.cloudprovider.kubernetes.io/uninitialized",
            "dedicated"
        ]
    );
}

#[test]
fn bad_node_quantities_are_reported_with_the_field() {
    let mut state = seed_state(0);
    let node: Node = yaml("metadata: {name: n1}\nstatus: {allocatable: {cpu: lots}}");
    state.apply(node).unwrap();
    let built = state.snapshot(&InstanceTypes::new(), &SnapshotOptions::default());
    assert_eq!(built.problems.len(), 1);
    assert!(
        built.problems[0].starts_with("Node \"n1\": status.allocatable.cpu"),
        "{:?}",
        built.problems
    );
}

#[test]
fn requirements_convert_to_v1() {
    let s = |v: &[&str]| v.iter().map(|x| x.to_string()).collect::<Vec<_>>();
    let cases = [
        (
            Requirement::new("k", "In", &s(&["a", "b"])).unwrap(),
            vec![("In", s(&["a", "b"]))],
        ),
        (
            Requirement::new("k", "NotIn", &s(&["a"])).unwrap(),
            vec![("NotIn", s(&["a"]))],
        ),
        (
            Requirement::new("k", "Exists", &[]).unwrap(),
            vec![("Exists", vec![])],
        ),
        (
            Requirement::new("k", "DoesNotExist", &[]).unwrap(),
            vec![("DoesNotExist", vec![])],
        ),
        (
            Requirement::new("k", "Gt", &s(&["2"])).unwrap(),
            vec![("Gt", s(&["2"]))],
        ),
        (
            Requirement::new("k", "Gt", &s(&["2"]))
                .unwrap()
                .intersection(&Requirement::new("k", "Lt", &s(&["9"])).unwrap()),
            vec![("Gt", s(&["2"])), ("Lt", s(&["9"]))],
        ),
    ];
    for (req, expected) in cases {
        let got: Vec<(String, Vec<String>)> = to_v1(&req)
            .into_iter()
            .map(|r| (r.operator, r.values))
            .collect();
        let expected: Vec<(String, Vec<String>)> = expected
            .into_iter()
            .map(|(o, v)| (o.to_string(), v))
            .collect();
        assert_eq!(got, expected, "{req}");
        // Round trip: the v1 form reads back as the same requirement.
        let mut back = kerf_core::requirements::Requirements::new();
        for r in to_v1(&req) {
            back.add(kerf_state::pools::requirement(&r).unwrap());
        }
        assert_eq!(back.get("k"), Some(&req), "{req}");
    }
}
