//! What the scale run (`scale_run`), the controller head-to-head
//! (`controller_h2h`) and the fault run (`faults`) share: the workload they
//! scale, kubectl against the run's control plane, a free port, and waiting
//! for a controller to be ready. Included by path from each example.

use std::path::Path;
use std::process::Child;
use std::time::{Duration, Instant};

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

/// A free loopback port.
pub fn free_port() -> anyhow::Result<u16> {
    kerf_testenv::free_port().map_err(|e| anyhow::anyhow!("no free loopback port: {e}"))
}

/// Waits until the controller answers `GET /readyz` with 200.
pub async fn wait_ready(port: u16, child: &mut Child, timeout: Duration) -> anyhow::Result<()> {
    use std::io::{Read, Write};
    let deadline = Instant::now() + timeout;
    while Instant::now() < deadline {
        if let Ok(Some(status)) = child.try_wait() {
            return Err(anyhow::anyhow!("controller exited with {status}"));
        }
        if let Ok(mut s) = std::net::TcpStream::connect(("127.0.0.1", port)) {
            let _ = s.set_read_timeout(Some(Duration::from_secs(2)));
            let mut reply = String::new();
            let asked = write!(
                s,
                "GET /readyz HTTP/1.1\r\nHost: x\r\nConnection: close\r\n\r\n"
            );
            if asked.is_ok()
                && s.read_to_string(&mut reply).is_ok()
                && reply.starts_with("HTTP/1.1 200")
            {
                return Ok(());
            }
        }
        tokio::time::sleep(Duration::from_millis(200)).await;
    }
    Err(anyhow::anyhow!("controller not ready after {timeout:?}"))
}
