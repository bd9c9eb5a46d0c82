//! What the simulator and the benchmarks write in place of a kubelet and
//! kube-scheduler once a claim has launched: the Ready Node it registers as,
//! and a pod's binding. The live controller gets both from the cluster.

use k8s_openapi::api::core::v1::{Node, NodeCondition, NodeSpec, NodeStatus, Pod, PodCondition};
use k8s_openapi::apimachinery::pkg::apis::meta::v1::{ObjectMeta, Time};
use k8s_openapi::jiff::Timestamp;
use kerf_api::labels;
use kerf_api::v1::NodeClaim;

/// The Node a launched claim registers as: its labels (plus hostname,
/// registered and initialized), taints, provider ID, capacity and
/// allocatable, Ready, created at `at`.
pub fn registered_node(claim: &NodeClaim, at: Timestamp) -> Node {
    let name = claim.metadata.name.clone().unwrap_or_default();
    let mut node_labels = claim.metadata.labels.clone().unwrap_or_default();
    node_labels.insert(labels::HOSTNAME.to_string(), name.clone());
    node_labels.insert(labels::NODE_REGISTERED.to_string(), "true".to_string());
    node_labels.insert(labels::NODE_INITIALIZED.to_string(), "true".to_string());
    let status = claim.status.clone().unwrap_or_default();
    Node {
        metadata: ObjectMeta {
            name: Some(name),
            labels: Some(node_labels),
            creation_timestamp: Some(Time(at)),
            ..ObjectMeta::default()
        },
        spec: Some(NodeSpec {
            provider_id: status.provider_id,
            taints: (!claim.spec.taints.is_empty()).then(|| claim.spec.taints.clone()),
            ..NodeSpec::default()
        }),
        status: Some(NodeStatus {
            capacity: Some(status.capacity),
            allocatable: Some(status.allocatable),
            conditions: Some(vec![NodeCondition {
                type_: "Ready".to_string(),
                status: "True".to_string(),
                ..NodeCondition::default()
            }]),
            ..NodeStatus::default()
        }),
    }
}

/// Bound to `node` and Running, with a `PodScheduled` condition at `at` (the
/// pod event that restarts the node's `consolidateAfter`).
pub fn bind(pod: &mut Pod, node: &str, at: Timestamp) {
    pod.spec.get_or_insert_with(Default::default).node_name = Some(node.to_string());
    let status = pod.status.get_or_insert_with(Default::default);
    status.phase = Some("Running".to_string());
    let conditions = status.conditions.get_or_insert_with(Vec::new);
    conditions.retain(|c| c.type_ != "PodScheduled");
    conditions.push(PodCondition {
        type_: "PodScheduled".to_string(),
        status: "True".to_string(),
        last_transition_time: Some(Time(at)),
        ..PodCondition::default()
    });
}
