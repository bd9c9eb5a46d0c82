//! What the scale run (`scale_run`) and the controller head-to-head
//! (`controller_h2h`) share: the workload both scale, and kubectl against the
//! run's control plane. Included by path from both examples.

use std::path::Path;

use kerf_testenv::ControlPlane;

/// Small pods (100m CPU, 128Mi), scaled from 0 by the run.
pub const DEPLOYMENT: &str = r#"apiVersion: apps/v1
kind: Deployment
metadata:
  name: scale
spec:
  replicas: 0
  selector:
    matchLabels:
      app: scale
  template:
    metadata:
      labels:
        app: scale
    spec:
      terminationGracePeriodSeconds: 0
      containers:
        - name: pause
          image: registry.k8s.io/pause:3.9
          resources:
            requests:
              cpu: 100m
              memory: 128Mi
"#;

/// Real kubectl against the plane; an error names the arguments.
pub fn kubectl(plane: &ControlPlane, args: &[&str]) -> anyhow::Result<String> {
    plane
        .kubectl_ok(args)
        .map_err(|e| anyhow::anyhow!("kubectl {args:?}: {e}"))
}

/// Writes `text` into the plane's folder as `name` and applies it.
pub fn apply(plane: &ControlPlane, name: &str, text: &str) -> anyhow::Result<()> {
    let path = plane.dir().join(name);
    std::fs::write(&path, text).map_err(|e| anyhow::anyhow!("write {}: {e}", path.display()))?;
    kubectl(plane, &["apply", "-f", &path.display().to_string()]).map(drop)
}

/// Applies the CRDs in `dir` and waits until the API server serves them.
pub fn apply_crds(plane: &ControlPlane, dir: &Path) -> anyhow::Result<()> {
    kubectl(plane, &["apply", "-f", &dir.display().to_string()])?;
    kubectl(
        plane,
        &[
            "wait",
            "--for=condition=Established",
            "crd",
            "--all",
            "--timeout=60s",
        ],
    )
    .map(drop)
}
