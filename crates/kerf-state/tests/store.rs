//! Applying and deleting objects; validation and defaulting on the way in.

mod common;

use common::{node_pool, pod, seed_provisioner, yaml};
use k8s_openapi::api::core::v1::Pod;
use kerf_api::v1alpha5::Provisioner;
use kerf_core::template::PoolKind;
use kerf_state::{ClusterState, StateError};

#[test]
fn apply_replace_delete() {
    let mut state = ClusterState::new();
    assert_eq!(state.apply(pod("a", "1", true)).unwrap(), "default/a");
    assert_eq!(state.apply(pod("a", "2", true)).unwrap(), "default/a");
    assert_eq!(state.len::<Pod>(), 1);
    let stored = state.get::<Pod>("default/a").unwrap();
    let cpu = &stored.spec.as_ref().unwrap().containers[0]
        .resources
        .as_ref()
        .unwrap()
        .requests
        .as_ref()
        .unwrap()["cpu"];
    assert_eq!(cpu.0, "2", "apply replaces");
    assert!(state.delete::<Pod>("default/a").is_some());
    assert_eq!(state.len::<Pod>(), 0);
    assert!(state.delete::<Pod>("default/a").is_none());
}

#[test]
fn provisioners_are_validated_and_defaulted() {
    let mut state = ClusterState::new();
    state.apply(seed_provisioner()).unwrap();
    let p = state.get::<Provisioner>("default").unwrap();
    assert!(
        p.spec
            .requirements
            .iter()
            .any(|r| r.key == "kubernetes.io/os"),
        "AWS defaults added: {:?}",
        p.spec.requirements
    );
    let mut bad = seed_provisioner();
    bad.spec.requirements[2].operator = "Gte".into();
    let err = state.apply(bad).unwrap_err();
    assert!(matches!(err, StateError::Invalid(_)));
    let text = err.to_string();
    assert!(
        text.contains("Provisioner \"default\": spec.requirements[2].operator"),
        "{text}"
    );
    // The valid one is still there.
    assert!(state.get::<Provisioner>("default").is_some());
}

#[test]
fn missing_name_is_named() {
    let mut state = ClusterState::new();
    let p: Pod = yaml("metadata: {namespace: default}\nspec: {containers: []}");
    let err = state.apply(p).unwrap_err().to_string();
    assert_eq!(err, "Pod \"\": metadata.name: is required");
}

#[test]
fn pools_of_both_kinds_and_missing_node_classes() {
    let mut state = ClusterState::new();
    state.apply(seed_provisioner()).unwrap();
    let (np, class) = node_pool("general", "");
    state.apply(np).unwrap();
    let pools = state.pools();
    assert_eq!(pools.ready.len(), 1);
    assert_eq!(
        pools.skipped,
        [
            "NodePool \"general\": spec.template.spec.nodeClassRef.name: EC2NodeClass \"general\" not found"
        ]
    );
    state.apply(class).unwrap();
    let pools = state.pools();
    let kinds: Vec<(PoolKind, &str, &str)> = pools
        .ready
        .iter()
        .map(|p| (p.pool.kind, p.pool.name.as_str(), p.label_key()))
        .collect();
    assert_eq!(
        kinds,
        [
            (
                PoolKind::Provisioner,
                "default",
                "karpenter.sh/provisioner-name"
            ),
            (PoolKind::NodePool, "general", "karpenter.sh/nodepool"),
        ]
    );
    // A Provisioner with an inline provider: its node class is named after it.
    assert_eq!(
        pools.ready[0].context().node_class.as_deref(),
        Some("default")
    );
}

#[test]
fn provisioner_kubelet_settings_reach_the_context() {
    let mut state = ClusterState::new();
    let mut p = seed_provisioner();
    p.spec.kubelet_configuration = Some(yaml(
        "{maxPods: 20, kubeReserved: {cpu: 200m, memory: 1Gi}, evictionHard: {memory.available: 5%}}",
    ));
    state.apply(p).unwrap();
    let ctx = state.pools().ready[0].context();
    assert_eq!(ctx.kubelet.max_pods, Some(20));
    assert_eq!(ctx.kubelet.kube_reserved["cpu"], 200);
    assert_eq!(ctx.kubelet.kube_reserved["memory"], (1i64 << 30) * 1000);
    assert_eq!(ctx.kubelet.eviction_hard["memory.available"], "5%");
}

/// A pod `name` bound to `node` (if any), finished when `done`.
fn bound_pod(name: &str, node: Option<&str>, done: bool) -> Pod {
    let mut p = pod(name, "1", node.is_none());
    p.spec.as_mut().unwrap().node_name = node.map(str::to_string);
    if done {
        p.status = Some(yaml("phase: Succeeded"));
    }
    p
}

/// What `pods_on_node` must return: every stored pod bound to `node`, not
/// finished, in key order.
fn scan_pods_on_node(state: &ClusterState, node: &str) -> Vec<String> {
    state
        .objects::<Pod>()
        .filter(|(_, p)| p.spec.as_ref().and_then(|s| s.node_name.as_deref()) == Some(node))
        .filter(|(_, p)| !kerf_state::pending::is_terminal(p))
        .map(|(k, _)| k.clone())
        .collect()
}

#[test]
fn a_pod_moves_between_nodes_in_the_index_as_it_is_rebound_and_deleted() {
    let mut state = ClusterState::new();
    state.apply(bound_pod("a", Some("n1"), false)).unwrap();
    state.apply(bound_pod("b", Some("n1"), false)).unwrap();
    state.apply(bound_pod("c", None, false)).unwrap();
    let names = |state: &ClusterState, node: &str| -> Vec<String> {
        let pods = state.pods_on_node(node);
        pods.iter()
            .map(|p| p.metadata.name.clone().unwrap())
            .collect()
    };
    assert_eq!(names(&state, "n1"), ["a", "b"]);
    state.apply(bound_pod("a", Some("n2"), false)).unwrap();
    state.apply(bound_pod("c", Some("n2"), false)).unwrap();
    assert_eq!(names(&state, "n1"), ["b"]);
    assert_eq!(names(&state, "n2"), ["a", "c"]);
    state.apply(bound_pod("c", Some("n2"), true)).unwrap();
    assert_eq!(
        names(&state, "n2"),
        ["a"],
        "finished pods are not on a node"
    );
    state.delete::<Pod>("default/a");
    state.delete::<Pod>("default/b");
    assert!(names(&state, "n1").is_empty() && names(&state, "n2").is_empty());
}

proptest::proptest! {
    /// Any sequence of applies (bound, unbound, rebound, finished) and
    /// deletes leaves `pods_on_node` equal to a scan of every pod.
    #[test]
    fn pods_on_node_matches_a_scan_of_every_pod(
        ops in proptest::collection::vec((0..6usize, proptest::option::of(0..3usize), proptest::bool::ANY, proptest::bool::ANY), 1..60)
    ) {
        let mut state = ClusterState::new();
        for (pod_i, node_i, done, delete) in ops {
            let name = format!("p{pod_i}");
            if delete {
                state.delete::<Pod>(&format!("default/{name}"));
            } else {
                let node = node_i.map(|n| format!("n{n}"));
                state.apply(bound_pod(&name, node.as_deref(), done)).unwrap();
            }
        }
        for n in 0..3 {
            let node = format!("n{n}");
            let indexed: Vec<String> = state
                .pods_on_node(&node)
                .iter()
                .map(|p| format!("default/{}", p.metadata.name.as_deref().unwrap()))
                .collect();
            proptest::prop_assert_eq!(indexed, scan_pods_on_node(&state, &node));
        }
    }
}
