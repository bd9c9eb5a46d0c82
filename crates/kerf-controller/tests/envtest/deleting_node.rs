//! On a real control plane (etcd and kube-apiserver from the testbed
//! binaries; fails, never skips, when they are missing): pods running on a
//! Node that is going away get a NodeClaim of their own from one provisioning
//! pass, as Karpenter's provisioner gives them (issue 27 item 6; Karpenter's
//! scheduling suite "should re-schedule pods from a deleting node when pods
//! are active"). The same pods on the same node, not going away, get nothing.

use std::sync::Arc;
use std::time::Duration;

use k8s_openapi::api::core::v1::{Node, Pod};
use kerf_api::v1::NodeClaim;
use kerf_cloud::InMemoryCloud;
use kerf_controller::{Context, ControllerOptions, provisioner, watch};
use kerf_core::resources::Resources;
use kerf_testenv::{ControlPlane, wait_for};
use kube::Api;
use kube::api::{DeleteParams, ListParams, Patch, PatchParams, PostParams};
use serde_json::json;
use tokio::task::JoinSet;

use crate::common::plane_with_crds;

const WAIT: Duration = Duration::from_secs(30);

/// How the node says it is going away.
#[derive(Clone, Copy, Debug)]
enum Sign {
    DisruptedTaint,
    DeletionTimestamp,
}

/// A Ready 8-cpu node of the seed Provisioner with two running 1-cpu pods.
async fn node_with_pods(plane: &ControlPlane) {
    let client = plane.client();
    let nodes: Api<Node> = Api::all(client.clone());
    let node: Node = serde_json::from_value(json!({
        "metadata": {
            "name": "old",
            "finalizers": ["kerf.test/hold"],
            "labels": {
                "karpenter.sh/provisioner-name": "default",
                "node.kubernetes.io/instance-type": "m5.2xlarge",
                "topology.kubernetes.io/zone": "us-east-1c",
            },
        },
        "spec": {"providerID": "aws:///us-east-1c/i-old"},
    }))
    .expect("node");
    nodes
        .create(&PostParams::default(), &node)
        .await
        .expect("create node");
    let status = json!({"status": {
        "capacity": {"cpu": "8", "memory": "32Gi", "pods": "58"},
        "allocatable": {"cpu": "8", "memory": "28Gi", "pods": "58"},
        "conditions": [{"type": "Ready", "status": "True", "reason": "KubeletReady", "message": "ready"}],
    }});
    nodes
        .patch_status("old", &PatchParams::default(), &Patch::Merge(&status))
        .await
        .expect("node status");

    let pods: Api<Pod> = Api::namespaced(client, "default");
    for i in 0..2 {
        let name = format!("web-{i}");
        let pod: Pod = serde_json::from_value(json!({
            "metadata": {"name": name, "labels": {"app": "web"}},
            "spec": {
                "nodeName": "old",
                "containers": [{"name": "c", "image": "registry.k8s.io/pause:3.10",
                                "resources": {"requests": {"cpu": "1"}}}],
            },
        }))
        .expect("pod");
        pods.create(&PostParams::default(), &pod)
            .await
            .expect("create pod");
        pods.patch_status(
            &name,
            &PatchParams::default(),
            &Patch::Merge(&json!({"status": {"phase": "Running"}})),
        )
        .await
        .expect("pod status");
    }
}

async fn mark_going_away(plane: &ControlPlane, sign: Sign) {
    let nodes: Api<Node> = Api::all(plane.client());
    match sign {
        Sign::DisruptedTaint => {
            let taint = json!({"spec": {"taints": [{"key": "karpenter.sh/disrupted", "effect": "NoSchedule"}]}});
            nodes
                .patch("old", &PatchParams::default(), &Patch::Merge(&taint))
                .await
                .expect("taint node");
        }
        Sign::DeletionTimestamp => {
            // The test's finalizer keeps the Node, now with a deletionTimestamp.
            nodes
                .delete("old", &DeleteParams::default())
                .await
                .expect("delete node");
        }
    }
}

async fn pods_of_a_node_going_away_get_a_claim(sign: Sign) {
    let plane = plane_with_crds().await;
    node_with_pods(&plane).await;

    let options = ControllerOptions {
        cluster_name: "test".into(),
        ..Default::default()
    };
    let ctx = Arc::new(Context::new(
        options,
        plane.client(),
        Arc::new(InMemoryCloud::builtin()),
    ));
    let mut tasks = JoinSet::new();
    watch::spawn_all(&ctx, &mut tasks);
    wait_for("the cache to sync with both pods", WAIT, || {
        let ctx = ctx.clone();
        async move {
            let state = ctx.state();
            (ctx.is_active() && state.pods_on_node("old").len() == 2).then_some(())
        }
    })
    .await
    .expect("synced");

    // Running on a node that stays: nothing needs capacity.
    let created = provisioner::provision_once(&ctx).await.expect("first pass");
    assert_eq!(created, 0, "{sign:?}: nothing to plan yet");

    mark_going_away(&plane, sign).await;
    wait_for("the cache to see the node going away", WAIT, || {
        let ctx = ctx.clone();
        async move { ctx.state().deleting_nodes().contains("old").then_some(()) }
    })
    .await
    .expect("node going away");

    let created = provisioner::provision_once(&ctx)
        .await
        .expect("second pass");
    assert_eq!(created, 1, "{sign:?}: one claim for the moving pods");
    let claims: Api<NodeClaim> = Api::all(plane.client());
    let listed = claims
        .list(&ListParams::default())
        .await
        .expect("list claims");
    assert_eq!(listed.items.len(), 1, "{sign:?}");
    let requests = Resources::from_quantities(&listed.items[0].spec.resources.requests)
        .expect("claim requests");
    assert!(
        requests.cpu >= 2000,
        "{sign:?}: the claim holds both 1-cpu pods: {requests:?}"
    );
    tasks.abort_all();
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn pods_on_a_disrupted_node_get_new_capacity() {
    pods_of_a_node_going_away_get_a_claim(Sign::DisruptedTaint).await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn pods_on_a_node_with_a_deletion_timestamp_get_new_capacity() {
    pods_of_a_node_going_away_get_a_claim(Sign::DeletionTimestamp).await;
}
