//! Expected replicas on the real control plane (etcd, kube-apiserver,
//! kube-controller-manager without its ReplicaSet controller, kube-scheduler,
//! kwok, the `kerf controller` binary, kubectl). The test plays the ReplicaSet
//! controller, so that the ramp is exact: a ReplicaSet wanting 20 one-cpu pods
//! has created 5. kube-scheduler marks them unschedulable; kerf launches nodes
//! for all 20 at once (3 × m5.2xlarge, 7 pods each), not for the 5 (1 node).
//! The other 15 then run on those nodes without a second launch. A
//! ReplicaSet whose pods trickle in does not hold the batch open: it closes
//! an idle period after the first pod, mid-ramp, with nodes for all 20.
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
    install_crds(&plane).await;
    plane
}

fn apply(plane: &ControlPlane, name: &str, yaml: &str) {
    let path = write(plane.dir(), name, yaml);
    kubectl(plane, &["apply", "-f", path.to_str().expect("utf-8")]);
}

/// Creates the ReplicaSet (no pods: the test creates them) and returns its uid.
fn create_replica_set(plane: &ControlPlane) -> String {
    apply(plane, "replicaset.yaml", REPLICA_SET);
    let uid = kubectl(
        plane,
        &[
            "get",
            "replicaset",
            "inflate-5c8d",
            "-o",
            "jsonpath={.metadata.uid}",
        ],
    );
    let uid = uid.trim();
    assert!(!uid.is_empty(), "ReplicaSet has no uid");
    uid.to_string()
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_ramping_replica_set_gets_its_nodes_in_the_first_batch() {
    let plane = plane_without_replica_set_controller().await;
    apply(&plane, "provisioner.yaml", SEED_PROVISIONER);
    let _controller = start_controller(&plane, false, &[]);
    let uid = create_replica_set(&plane);
    apply(&plane, "first.yaml", &replicas(&uid, 0, 5));

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

    apply(&plane, "rest.yaml", &replicas(&uid, 5, 20));
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

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_trickling_replica_set_does_not_hold_its_batch_open() {
    let plane = plane_without_replica_set_controller().await;
    apply(&plane, "provisioner.yaml", SEED_PROVISIONER);
    // A 3 s idle period and no practical maximum: pods arriving every
    // ~0.5-1 s would hold a per-pod batch open until the ramp ends.
    let _controller = start_controller(
        &plane,
        false,
        &["--batch-idle-duration=3s", "--batch-max-duration=10m"],
    );
    let uid = create_replica_set(&plane);

    const RAMP: usize = 16;
    let mut claims_seen_after = None;
    for i in 0..RAMP {
        apply(&plane, &format!("pod-{i}.yaml"), &replicas(&uid, i, i + 1));
        std::thread::sleep(Duration::from_millis(500));
        if !claim_names(&plane).is_empty() {
            claims_seen_after = Some(i + 1);
            break;
        }
    }
    let created = claims_seen_after.unwrap_or_else(|| {
        panic!(
            "no NodeClaim while the ReplicaSet created {RAMP} pods: the batch waited for the ramp"
        )
    });
    let claims = claim_names(&plane);
    assert_eq!(
        claims.len(),
        3,
        "one pass, after {created} pods, plans for all 20: {claims:?}"
    );

    apply(&plane, "rest.yaml", &replicas(&uid, created, 20));
    wait(
        &plane,
        "all 20 pods Running",
        Duration::from_secs(90),
        || (running_inflate_pods(&plane).len() == 20).then_some(()),
    );
    assert_eq!(claim_names(&plane), claims, "no launch after the first");
}
