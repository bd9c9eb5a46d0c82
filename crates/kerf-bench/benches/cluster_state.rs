//! The shell's side of a pass at cluster scale: building the scheduler's
//! snapshot from a [`ClusterState`] of N Ready nodes with 30 bound pods each
//! (plus 1,000 pending), and listing every node's pods as the disruption
//! loop does. `cargo bench -p kerf-bench --bench cluster_state`.

use criterion::{BenchmarkId, Criterion, Throughput, criterion_group, criterion_main};
use k8s_openapi::api::core::v1::{Node, Pod};
use kerf_state::{ClusterState, InstanceTypes, SnapshotOptions};
use serde_json::json;

const PODS_PER_NODE: usize = 30;
const PENDING: usize = 1_000;

fn node(i: usize) -> Node {
    serde_json::from_value(json!({
        "metadata": {"name": format!("node-{i}"), "labels": {
            "karpenter.sh/nodepool": "default",
            "topology.kubernetes.io/zone": format!("us-east-1{}", ["a", "b", "c"][i % 3]),
            "node.kubernetes.io/instance-type": "m5.4xlarge",
            "kubernetes.io/hostname": format!("node-{i}"),
        }},
        "spec": {"providerID": format!("aws:///us-east-1a/i-{i:017x}")},
        "status": {
            "capacity": {"cpu": "16", "memory": "64Gi", "pods": "234"},
            "allocatable": {"cpu": "15890m", "memory": "62Gi", "pods": "234"},
            "conditions": [{"type": "Ready", "status": "True"}],
        },
    }))
    .expect("node fixture")
}

fn pod(i: usize, node: Option<usize>) -> Pod {
    let mut pod: Pod = serde_json::from_value(json!({
        "metadata": {"namespace": "default", "name": format!("p-{i}"), "labels": {"app": format!("a{}", i % 50)}},
        "spec": {"containers": [{"name": "c", "image": "pause",
            "resources": {"requests": {"cpu": "100m", "memory": "128Mi"}}}]},
        "status": {"phase": "Pending", "conditions": [
            {"type": "PodScheduled", "status": "False", "reason": "Unschedulable"}]},
    }))
    .expect("pod fixture");
    if let Some(n) = node {
        let spec = pod.spec.as_mut().expect("fixture has a spec");
        spec.node_name = Some(format!("node-{n}"));
        pod.status = serde_json::from_value(json!({"phase": "Running"})).ok();
    }
    pod
}

fn cluster(nodes: usize) -> ClusterState {
    let mut state = ClusterState::new();
    for i in 0..nodes {
        state.apply(node(i)).expect("node applies");
    }
    // Round-robin, so each node's pods are spread over the pod key order.
    for i in 0..nodes * PODS_PER_NODE {
        state.apply(pod(i, Some(i % nodes))).expect("pod applies");
    }
    for i in 0..PENDING {
        state
            .apply(pod(nodes * PODS_PER_NODE + i, None))
            .expect("pod applies");
    }
    state
}

fn cluster_state(c: &mut Criterion) {
    let types = InstanceTypes::new();
    let options = SnapshotOptions::default();
    let mut snapshot = c.benchmark_group("cluster_state/snapshot");
    snapshot.sample_size(10);
    for nodes in [100, 1_000] {
        let state = cluster(nodes);
        snapshot.throughput(Throughput::Elements(nodes as u64));
        snapshot.bench_with_input(BenchmarkId::from_parameter(nodes), &state, |b, state| {
            b.iter(|| state.snapshot(&types, &options))
        });
    }
    snapshot.finish();

    let mut per_node = c.benchmark_group("cluster_state/pods_on_every_node");
    per_node.sample_size(10);
    for nodes in [100, 1_000] {
        let state = cluster(nodes);
        let names: Vec<String> = (0..nodes).map(|i| format!("node-{i}")).collect();
        per_node.throughput(Throughput::Elements(nodes as u64));
        per_node.bench_with_input(BenchmarkId::from_parameter(nodes), &state, |b, state| {
            b.iter(|| {
                names
                    .iter()
                    .map(|n| state.pods_on_node(n).len())
                    .sum::<usize>()
            })
        });
    }
    per_node.finish();
}

criterion_group!(benches, cluster_state);
criterion_main!(benches);
