//! DaemonSet room on nodes that exist or are launching: a DaemonSet that will
//! run on a node takes its requests there even before its pod exists (the
//! node is still launching), exactly once when the pod is there, and not at
//! all on a node whose taints it does not tolerate.

mod common;

use common::*;
use k8s_openapi::api::apps::v1::DaemonSet;
use k8s_openapi::api::core::v1::{Pod, Taint};
use kerf_core::plan::Plan;
use kerf_core::resources::Resources;
use kerf_core::scheduler::solve;
use kerf_core::snapshot::{ExistingNode, Snapshot};
use kerf_core::validate::validate;

/// A logging agent asking 1500m cpu, on every node that has no taint it lacks.
fn agent() -> DaemonSet {
    serde_yaml::from_str(
        "metadata: {name: agent, namespace: kube-system}
spec:
  selector: {matchLabels: {app: agent}}
  template:
    metadata: {labels: {app: agent}}
    spec:
      containers: [{name: a, resources: {requests: {cpu: 1500m, memory: 100Mi}}}]
",
    )
    .expect("daemonset yaml")
}

/// The agent's pod, bound to `node`.
fn agent_pod(node: &str) -> Pod {
    pod(&format!(
        "metadata:
  name: agent-{node}
  namespace: kube-system
  labels: {{app: agent}}
  ownerReferences: [{{apiVersion: apps/v1, kind: DaemonSet, name: agent, uid: u1, controller: true}}]
spec:
  nodeName: {node}
  containers: [{{name: a, resources: {{requests: {{cpu: 1500m, memory: 100Mi}}}}}}]
status: {{phase: Running}}
"
    ))
}

/// A 4-cpu node in zone-a, launched by kerf and still coming up.
fn launching(name: &str, pods: Vec<Pod>, taints: Vec<Taint>) -> ExistingNode {
    let mut node = existing_node(name, Resources::new(4000, 16 << 30, 110), true);
    node.pods = pods.into_iter().map(std::sync::Arc::new).collect();
    node.taints = taints;
    node
}

/// Three 1-cpu pods that tolerate everything, planned with the agent
/// DaemonSet and one node; returns how many land on that node.
fn on_node(node: ExistingNode) -> usize {
    let spec = "  tolerations: [{operator: Exists}]\n  containers: [{name: c, resources: {requests: {cpu: '1'}}}]\n";
    let snap = Snapshot {
        nodes: vec![node],
        daemonsets: vec![agent()],
        ..snapshot(
            vec![template("default", &[])],
            pods("web", 3, "{app: web}", spec),
        )
    };
    let plan: Plan = solve(&snap);
    let v = validate(&snap, &plan);
    assert!(v.is_empty(), "{v:#?}");
    assert!(plan.unschedulable.is_empty(), "{:?}", plan.unschedulable);
    plan.existing.iter().map(|e| e.pods.len()).sum()
}

#[test]
fn a_launching_node_keeps_room_for_its_daemonsets() {
    // 4 cpu − 1.5 for the agent to come leaves room for two, not three.
    assert_eq!(on_node(launching("n1", Vec::new(), Vec::new())), 2);
}

#[test]
fn a_daemon_pod_already_there_is_charged_once() {
    assert_eq!(
        on_node(launching("n1", vec![agent_pod("n1")], Vec::new())),
        2
    );
}

#[test]
fn a_daemonset_that_does_not_tolerate_the_node_takes_no_room() {
    let taint = Taint {
        key: "dedicated".into(),
        value: Some("web".into()),
        effect: "NoSchedule".into(),
        time_added: None,
    };
    assert_eq!(on_node(launching("n1", Vec::new(), vec![taint])), 3);
}
