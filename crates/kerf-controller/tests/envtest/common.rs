//! What the reconcile-once tests share: a real control plane (etcd and
//! kube-apiserver from the testbed binaries; fails, never skips, when they
//! are missing) with kerf's CRDs and the seed Provisioner.

use std::path::Path;

use kerf_testenv::{ControlPlane, ControlPlaneOptions};

pub async fn plane_with_crds() -> ControlPlane {
    let plane = ControlPlane::start(ControlPlaneOptions::new())
        .await
        .expect("start etcd and kube-apiserver (binaries from scripts/testbed-build.sh)");
    let crds = Path::new(env!("CARGO_MANIFEST_DIR")).join("../kerf-api/crds");
    let crds = crds.to_str().expect("utf-8 path");
    plane.kubectl_ok(["apply", "-f", crds]).expect("apply CRDs");
    plane
        .kubectl_ok([
            "wait",
            "--for=condition=Established",
            "crd",
            "--all",
            "--timeout=60s",
        ])
        .expect("CRDs established");
    let seed = include_str!("../../../../examples/seed/provisioner.yaml");
    plane.apply_yaml(seed).await.expect("seed Provisioner");
    plane
}
