//! `limits.nodes` through the API types: a NodePool's `spec.limits.nodes` and
//! a Provisioner's `spec.limits.resources.nodes` cap the pool's node count,
//! counting its registered Nodes and its NodeClaims still in flight.

mod common;

use common::{node_pool, pod, seed_provisioner, yaml};
use k8s_openapi::api::core::v1::Node;
use kerf_api::v1::NodeClaim;
use kerf_cloud::InMemoryCloud;
use kerf_state::{ClusterState, DeterministicNames, PendingMode, ProvisionOptions, provision};

fn options() -> ProvisionOptions {
    ProvisionOptions {
        pending: PendingMode::AllUnbound,
        ..Default::default()
    }
}

/// A registered node of the pool, with no room left.
fn full_node(name: &str, pool_label: &str, pool: &str) -> Node {
    yaml(&format!(
        r#"
metadata:
  name: {name}
  labels: {{"{pool_label}": "{pool}", node.kubernetes.io/instance-type: m5.large, topology.kubernetes.io/zone: us-east-1a}}
status:
  capacity: {{cpu: "2", memory: 8Gi, pods: "29"}}
  allocatable: {{cpu: "0", memory: 7Gi, pods: "29"}}
  conditions: [{{type: Ready, status: "True"}}]
"#
    ))
}

/// Pods that each need a node of their own (3 cpu, one host port).
fn big_pods(state: &mut ClusterState, prefix: &str, n: usize) {
    for i in 0..n {
        let mut p = pod(&format!("{prefix}-{i}"), "3", false);
        let c = &mut p.spec.as_mut().unwrap().containers[0];
        c.ports = Some(vec![yaml("{containerPort: 80, hostPort: 8080}")]);
        state.apply(p).unwrap();
    }
}

#[tokio::test]
async fn nodepool_limit_counts_nodes_and_in_flight_claims() {
    let cloud = InMemoryCloud::builtin();
    let (np, class) = node_pool("capped", "  limits: {nodes: '3'}");
    let mut state = ClusterState::new();
    state.apply(np).unwrap();
    state.apply(class).unwrap();
    state
        .apply(full_node("n1", "karpenter.sh/nodepool", "capped"))
        .unwrap();
    big_pods(&mut state, "first", 1);
    // A first pass launches one node (2 of 3 then); persist its claim unlaunched.
    let mut names = DeterministicNames::default();
    let first = provision(&state, &cloud, &options(), &mut names)
        .await
        .unwrap();
    assert_eq!(first.claims.len(), 1, "{:?}", first.unschedulable);
    state.apply(first.claims[0].claim.clone()).unwrap();
    // Its pod is bound there, as kube-scheduler will do once the node registers.
    let mut bound = state
        .get::<k8s_openapi::api::core::v1::Pod>("default/first-0")
        .unwrap()
        .clone();
    bound.spec.as_mut().unwrap().node_name = first.claims[0].claim.metadata.name.clone();
    state.apply(bound).unwrap();

    big_pods(&mut state, "more", 4);
    let out = provision(&state, &cloud, &options(), &mut names)
        .await
        .unwrap();
    assert!(out.problems.is_empty(), "{:?}", out.problems);
    assert_eq!(out.claims.len(), 1, "3 allowed: n1 and one claim exist");
    assert_eq!(out.unschedulable.len(), 3);
    for u in &out.unschedulable {
        assert!(
            u.reason.contains("nodepool capped")
                && u.reason.contains("spec.limits.nodes is 3")
                && u.reason.contains("2 node(s) existing or launching"),
            "{}",
            u.reason
        );
    }
    for c in &out.claims {
        assert!(
            state
                .get::<NodeClaim>(c.claim.metadata.name.as_deref().unwrap())
                .is_none()
        );
    }
    let plan_violations = kerf_core::validate::validate(&out.snapshot, &out.plan);
    assert!(plan_violations.is_empty(), "{plan_violations:?}");
}

#[tokio::test]
async fn provisioner_limit_resources_nodes_is_a_node_count() {
    let cloud = InMemoryCloud::builtin();
    let mut p = seed_provisioner();
    p.spec.limits = Some(yaml("{resources: {nodes: '1'}}"));
    let mut state = ClusterState::new();
    state.apply(p).unwrap();
    state
        .apply(full_node("n1", "karpenter.sh/provisioner-name", "default"))
        .unwrap();
    big_pods(&mut state, "big", 2);
    let out = provision(
        &state,
        &cloud,
        &options(),
        &mut DeterministicNames::default(),
    )
    .await
    .unwrap();
    assert!(
        out.claims.is_empty(),
        "n1 already uses the one node allowed"
    );
    assert_eq!(out.unschedulable.len(), 2);
    assert!(
        out.unschedulable[0]
            .reason
            .contains("provisioner default: node limit reached: spec.limits.resources.nodes is 1"),
        "{}",
        out.unschedulable[0].reason
    );
}
