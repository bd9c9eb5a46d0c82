//! Expected replicas on the real control plane (etcd, kube-apiserver,
//! kube-controller-manager without its ReplicaSet controller, kube-scheduler,
//! kwok, the `kerf controller` binary, kubectl). The test plays the ReplicaSet
//! controller, so that the ramp is exact: a ReplicaSet wanting 20 one-cpu pods
//! has created 5. kube-scheduler marks them unschedulable; kerf launches nodes
//! for all 20 at once (3 × m5.2xlarge, 7 pods each), not for the 5 (1 node).
//! The other 15 then run on those nodes without a second launch.
//! Fails (never skips) when the control-plane binaries are missing.

mod common;

use std::time::Duration;

use common::*;
use kerf_testenv::{ControlPlane, ControlPlaneOptions, KwokNodes};

const REPLICA_SET: &str = r#"apiVersion: apps/v1
kind: ReplicaSet
metadata:
  name: inflate-5c8d
  namespace: default
spec:
  replicas: 20
  selector:
    matchLabels:
      app: inflate
  template:
    metadata:
      labels:
        app: inflate
    spec:
      containers:
        - name: inflate
          image: public.ecr.aws/eks-distro/kubernetes/pause:3.7
          resources:
            requests:
              cpu: 1
"#;

/// Pods `from..to` of the ReplicaSet, as its controller would create them.
fn replicas(uid: &str, from: usize, to: usize) -> String {
    (from..to)
        .map(|i| {
            format!(
                r#"apiVersion: v1
kind: Pod
metadata:
  name: inflate-5c8d-{i}
  namespace: default
  labels: {{app: inflate}}
  ownerReferences:
    - {{apiVersion: apps/v1, kind: ReplicaSet, name: inflate-5c8d, uid: {uid}, controller: true, blockOwnerDeletion: true}}
spec:
  terminationGracePeriodSeconds: 0
  containers:
    - name: inflate
      image: public.ecr.aws/eks-distro/kubernetes/pause:3.7
      resources: {{requests: {{cpu: 1}}}}
"#
            )
        })
        .collect::<Vec<_>>()
        .join("---\n")
}

async fn plane_without_replica_set_controller() -> ControlPlane {
    let mut options = ControlPlaneOptions::new()
        .with_controller_manager()
        .with_scheduler()
        .with_kwok()
        .with_kwok_nodes(KwokNodes::WithAnnotation("kwok.x-k8s.io/node=fake".into()));
    options.controllers.retain(|c| c != "replicaset-controller");
    let plane = ControlPlane::start(options)
        .await
        .expect("start the control plane (binaries from scripts/testbed-build.sh)");
    install_crds(&plane);
    plane
}

fn apply(plane: &ControlPlane, name: &str, yaml: &str) {
    let path = write(plane.dir(), name, yaml);
    kubectl(plane, &["apply", "-f", path.to_str().expect("utf-8")]);
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_ramping_replica_set_gets_its_nodes_in_the_first_batch() {
    let plane = plane_without_replica_set_controller().await;
    apply(&plane, "provisioner.yaml", SEED_PROVISIONER);
    let _controller = start_controller(&plane, false, &[]);
    apply(&plane, "replicaset.yaml", REPLICA_SET);
    let uid = kubectl(
        &plane,
        &[
            "get",
            "replicaset",
            "inflate-5c8d",
            "-o",
            "jsonpath={.metadata.uid}",
        ],
    );
    assert!(!uid.trim().is_empty(), "ReplicaSet has no uid");
    apply(&plane, "first.yaml", &replicas(uid.trim(), 0, 5));

    wait(
        &plane,
        "the first 5 pods Running",
        Duration::from_secs(90),
        || (running_inflate_pods(&plane).len() == 5).then_some(()),
    );
    let claims = claim_names(&plane);
    assert_eq!(
        claims.len(),
        3,
        "nodes for 20 one-cpu pods at 7 per m5.2xlarge, planned with the first 5: {claims:?}"
    );

    apply(&plane, "rest.yaml", &replicas(uid.trim(), 5, 20));
    wait(
        &plane,
        "all 20 pods Running",
        Duration::from_secs(90),
        || (running_inflate_pods(&plane).len() == 20).then_some(()),
    );
    assert_eq!(
        claim_names(&plane),
        claims,
        "no launch after the first batch"
    );
    assert_eq!(kerf_nodes(&plane).len(), 3);
}
