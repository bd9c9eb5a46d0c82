//! `helm install` of charts/kerf with the REAL helm into the REAL control plane
//! (etcd, kube-apiserver, controller-manager, scheduler, kwok): the CRDs are
//! established, and `kubectl get po -n karpenter` shows the two controller and
//! two webhook pods Running (kwok plays their kubelets), the controller pods on
//! distinct nodes and none on a node kerf manages. Fails, never skips, when
//! the binaries are missing (run scripts/testbed-build.sh).

use std::collections::BTreeSet;
use std::path::Path;

use k8s_openapi::api::core::v1::Node;
use kerf_testenv::{ControlPlane, ControlPlaneOptions, kwok_node};
use kube::api::{Api, PostParams};
use serde_json::Value;

/// Runs the testbed's helm against the plane; (success, stdout + stderr).
fn helm(plane: &ControlPlane, args: &[&str]) -> (bool, String) {
    plane
        .helm(args)
        .expect("helm is built by scripts/testbed-build.sh")
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn helm_install_runs_controller_and_webhook_in_karpenter() {
    let plane = ControlPlane::start(ControlPlaneOptions::cluster())
        .await
        .expect("start the full control plane");
    let client = plane.client();
    let nodes: Api<Node> = Api::all(client.clone());
    for i in 0..3 {
        let mut node = kwok_node(
            &format!("system-{i}"),
            &[("cpu", "8"), ("memory", "32Gi"), ("pods", "110")],
        );
        let labels = node.metadata.labels.get_or_insert_default();
        labels.insert(
            "topology.kubernetes.io/zone".into(),
            format!("us-east-1{}", ['a', 'b', 'c'][i]),
        );
        nodes.create(&PostParams::default(), &node).await.unwrap();
    }
    // A node kerf launched: the chart must keep kerf off it.
    let mut managed = kwok_node(
        "kerf-managed",
        &[("cpu", "64"), ("memory", "256Gi"), ("pods", "110")],
    );
    managed
        .metadata
        .labels
        .get_or_insert_default()
        .insert("karpenter.sh/nodepool".into(), "default".into());
    nodes
        .create(&PostParams::default(), &managed)
        .await
        .unwrap();

    let chart = Path::new(env!("CARGO_MANIFEST_DIR")).join("../../charts/kerf");
    let chart = chart.display().to_string();
    let (ok, out) = tokio::task::block_in_place(|| {
        helm(
            &plane,
            &[
                "install",
                "kerf",
                &chart,
                "--namespace",
                "karpenter",
                "--create-namespace",
                "--set",
                "settings.clusterName=test",
                "--set",
                "serviceAccount.annotations.eks\\.amazonaws\\.com/role-arn=arn:aws:iam::111122223333:role/kerf",
                "--wait",
                "--timeout",
                "120s",
            ],
        )
    });
    assert!(ok, "helm install failed:\n{out}");

    // The seed's check.
    let pods = kerf_testenv::running_pods(&plane, "karpenter", 4)
        .await
        .unwrap();
    let table = plane.kubectl_ok(["get", "po", "-n", "karpenter"]).unwrap();
    eprintln!("{table}");

    let component = |p: &Value| {
        p["metadata"]["labels"]["app.kubernetes.io/component"]
            .as_str()
            .unwrap_or("")
            .to_string()
    };
    let node_of = |p: &Value| p["spec"]["nodeName"].as_str().unwrap_or("").to_string();
    let controllers: Vec<&Value> = pods
        .iter()
        .filter(|p| component(p) == "controller")
        .collect();
    let webhooks: Vec<&Value> = pods.iter().filter(|p| component(p) == "webhook").collect();
    assert_eq!((controllers.len(), webhooks.len()), (2, 2));
    let controller_nodes: BTreeSet<String> = controllers.iter().map(|p| node_of(p)).collect();
    assert_eq!(
        controller_nodes.len(),
        2,
        "controllers share a node: {controller_nodes:?}"
    );
    for p in &pods {
        assert_ne!(
            node_of(p),
            "kerf-managed",
            "a kerf pod landed on a node kerf manages"
        );
        assert_eq!(p["spec"]["priorityClassName"], "system-cluster-critical");
    }

    // The CRDs came with the chart and are served.
    let crds = plane.kubectl_ok(["get", "crd", "-o", "name"]).unwrap();
    for crd in [
        "provisioners.karpenter.sh",
        "nodepools.karpenter.sh",
        "nodeclaims.karpenter.sh",
        "awsnodetemplates.karpenter.k8s.aws",
        "ec2nodeclasses.karpenter.k8s.aws",
    ] {
        assert!(crds.contains(crd), "{crd} not installed: {crds}");
    }
    let sa = plane
        .kubectl_ok([
            "get",
            "sa",
            "karpenter",
            "-n",
            "karpenter",
            "-o",
            "jsonpath={.metadata.annotations}",
        ])
        .unwrap();
    assert!(sa.contains("arn:aws:iam::111122223333:role/kerf"), "{sa}");
}
