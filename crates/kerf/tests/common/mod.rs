//! Shared by the controller end-to-end tests: the seed manifests, a control
//! plane with kerf's CRDs, the real `kerf controller` process, and kubectl
//! polling helpers. Each test binary uses a subset.
#![allow(dead_code)]

use std::io::{Read, Write};
use std::net::TcpStream;
use std::path::{Path, PathBuf};
use std::process::{Child, Command, Stdio};
use std::time::{Duration, Instant};

use kerf_testenv::{ControlPlane, ControlPlaneOptions, KwokNodes};

pub mod addon;
pub mod moto;
pub mod tmux;

/// The seed's Provisioner, verbatim (the same file `kerf simulate examples/seed` reads).
pub const SEED_PROVISIONER: &str = include_str!("../../../../examples/seed/provisioner.yaml");

/// The seed's inflate Deployment (pause containers requesting one CPU each),
/// applied at 0 replicas and then scaled with kubectl as the walk-through does.
pub const INFLATE: &str = r#"apiVersion: apps/v1
kind: Deployment
metadata:
  name: inflate
spec:
  replicas: 0
  selector:
    matchLabels:
      app: inflate
  template:
    metadata:
      labels:
        app: inflate
    spec:
      terminationGracePeriodSeconds: 0
      containers:
        - name: inflate
          image: public.ecr.aws/eks-distro/kubernetes/pause:3.7
          resources:
            requests:
              cpu: 1
"#;

pub const POOL_SELECTOR: &str = "karpenter.sh/provisioner-name=default";

/// The `kerf controller` process; killed (and its log printed) on drop.
pub struct Controller {
    pub child: Child,
    pub log: PathBuf,
    pub metrics_port: u16,
    pub health_port: u16,
}

impl Controller {
    /// Panics with `why` if the controller process has exited.
    pub fn assert_running(&mut self, why: &str) {
        let status = self.child.try_wait().expect("controller status");
        assert!(status.is_none(), "{why}: {status:?}");
    }
}

impl Drop for Controller {
    fn drop(&mut self) {
        let _ = self.child.kill();
        let _ = self.child.wait();
        if std::thread::panicking() {
            let log = std::fs::read_to_string(&self.log).unwrap_or_default();
            let tail: Vec<&str> = log.lines().rev().take(80).collect();
            eprintln!("--- kerf controller log (last 80 lines) ---");
            for line in tail.iter().rev() {
                eprintln!("{line}");
            }
        }
    }
}

pub fn free_port() -> u16 {
    kerf_testenv::free_port().unwrap_or_else(|e| panic!("{e}"))
}

pub fn http_get(port: u16, path: &str) -> Option<(u16, String)> {
    let mut s = TcpStream::connect(("127.0.0.1", port)).ok()?;
    s.set_read_timeout(Some(Duration::from_secs(5))).ok()?;
    write!(
        s,
        "GET {path} HTTP/1.1\r\nHost: 127.0.0.1\r\nConnection: close\r\n\r\n"
    )
    .ok()?;
    let mut out = String::new();
    s.read_to_string(&mut out).ok()?;
    let code = out.split_whitespace().nth(1)?.parse().ok()?;
    let body = out.split_once("\r\n\r\n").map(|(_, b)| b.to_string())?;
    Some((code, body))
}

pub fn start_controller(plane: &ControlPlane, bind_pods: bool, extra: &[&str]) -> Controller {
    start_controller_with_env(plane, "kwok", bind_pods, extra, &[])
}

/// [`start_controller`] with another cloud provider and extra environment variables.
pub fn start_controller_with_env(
    plane: &ControlPlane,
    cloud_provider: &str,
    bind_pods: bool,
    extra: &[&str],
    env: &[(&str, &str)],
) -> Controller {
    let metrics_port = free_port();
    let health_port = free_port();
    let mut cmd = Command::new(env!("CARGO_BIN_EXE_kerf"));
    cmd.arg("controller")
        .args([
            "--cluster-name",
            "kerf-e2e",
            "--cloud-provider",
            cloud_provider,
        ])
        .arg("--kubeconfig")
        .arg(plane.kubeconfig_path())
        .args(["--metrics-port", &metrics_port.to_string()])
        .args(["--health-port", &health_port.to_string()]);
    if bind_pods {
        cmd.arg("--bind-pods");
    }
    cmd.args(extra);
    cmd.envs(env.iter().copied());
    spawn_controller(plane, cmd, metrics_port, health_port)
}

/// Starts `cmd` (a `kerf controller` serving metrics and health on these
/// ports) with its output in the plane's logs, and waits until it is ready.
pub fn spawn_controller(
    plane: &ControlPlane,
    mut cmd: Command,
    metrics_port: u16,
    health_port: u16,
) -> Controller {
    let log = (0..)
        .map(|i| {
            plane
                .dir()
                .join("logs")
                .join(format!("kerf-controller-{i}.log"))
        })
        .find(|p| !p.exists())
        .expect("a free log name");
    let file = std::fs::File::create(&log).expect("controller log file");
    cmd.env("RUST_LOG", "info,kube=warn")
        .stdin(Stdio::null())
        .stdout(file.try_clone().expect("log file"))
        .stderr(file);
    let child = cmd.spawn().expect("start kerf controller");
    let mut controller = Controller {
        child,
        log,
        metrics_port,
        health_port,
    };
    let deadline = Instant::now() + Duration::from_secs(60);
    loop {
        if let Some((200, _)) = http_get(health_port, "/readyz") {
            break;
        }
        if let Ok(Some(status)) = controller.child.try_wait() {
            panic!("kerf controller exited early with {status}");
        }
        assert!(
            Instant::now() < deadline,
            "kerf controller not ready after 60 s"
        );
        std::thread::sleep(Duration::from_millis(200));
    }
    assert_eq!(http_get(health_port, "/healthz").map(|r| r.0), Some(200));
    controller
}

pub fn write(dir: &Path, name: &str, text: &str) -> PathBuf {
    kerf_testenv::write_file(dir, name, text).unwrap_or_else(|e| panic!("{e}"))
}

/// A finished command's stdout, after asserting it exited 0 (stdout and
/// stderr in the message otherwise).
#[track_caller]
pub fn success_stdout(out: &std::process::Output) -> String {
    let text = String::from_utf8_lossy(&out.stdout).into_owned();
    assert_eq!(
        out.status.code(),
        Some(0),
        "{text}{}",
        String::from_utf8_lossy(&out.stderr)
    );
    text
}

pub fn kubectl(plane: &ControlPlane, args: &[&str]) -> String {
    plane
        .kubectl_ok(args)
        .unwrap_or_else(|e| panic!("kubectl {args:?}: {e}"))
}

pub fn lines(s: &str) -> Vec<String> {
    s.split_whitespace().map(str::to_string).collect()
}

/// Scales the seed's `inflate` Deployment to `replicas`.
pub fn scale_inflate(plane: &ControlPlane, replicas: usize) {
    kubectl(
        plane,
        &[
            "scale",
            "deployment",
            "inflate",
            "--replicas",
            &replicas.to_string(),
        ],
    );
}

/// [`scale_inflate`], then waits, up to `timeout`, until that many of its
/// pods are Running.
pub fn scale_inflate_until_running(plane: &ControlPlane, replicas: usize, timeout: Duration) {
    scale_inflate(plane, replicas);
    wait(plane, &format!("{replicas} pods Running"), timeout, || {
        (running_inflate_pods(plane).len() == replicas).then_some(())
    });
}

/// Polls every 200 ms until `check` returns `Some`, or panics after `timeout`
/// with the cluster's state.
pub fn wait<T>(
    plane: &ControlPlane,
    what: &str,
    timeout: Duration,
    mut check: impl FnMut() -> Option<T>,
) -> T {
    let deadline = Instant::now() + timeout;
    loop {
        if let Some(v) = check() {
            return v;
        }
        if Instant::now() >= deadline {
            let state = plane.kubectl(["get", "nodes,nodeclaims,pods", "-A", "-o", "wide"]);
            let out = state
                .map(|o| String::from_utf8_lossy(&o.stdout).into_owned())
                .unwrap_or_default();
            panic!("timed out after {timeout:?} waiting for {what}\n{out}");
        }
        std::thread::sleep(Duration::from_millis(200));
    }
}

pub fn kerf_nodes(plane: &ControlPlane) -> Vec<String> {
    nodes_labelled(plane, POOL_SELECTOR)
}

/// The names of the nodes that match a label selector.
pub fn nodes_labelled(plane: &ControlPlane, selector: &str) -> Vec<String> {
    lines(&kubectl(
        plane,
        &[
            "get",
            "nodes",
            "-l",
            selector,
            "-o",
            "jsonpath={.items[*].metadata.name}",
        ],
    ))
}

/// `kubectl get pods -l app=inflate` with `filters` (e.g. a field
/// selector), printed through `jsonpath`.
pub fn inflate_pods(plane: &ControlPlane, filters: &[&str], jsonpath: &str) -> String {
    let output = format!("jsonpath={jsonpath}");
    let mut args = vec!["get", "pods", "-l", "app=inflate"];
    args.extend_from_slice(filters);
    args.extend(["-o", output.as_str()]);
    kubectl(plane, &args)
}

pub fn running_inflate_pods(plane: &ControlPlane) -> Vec<(String, String)> {
    let out = inflate_pods(
        plane,
        &["--field-selector=status.phase=Running"],
        "{range .items[*]}{.metadata.name}={.spec.nodeName}{\"\\n\"}{end}",
    );
    out.lines()
        .filter_map(|l| l.split_once('='))
        .map(|(p, n)| (p.to_string(), n.to_string()))
        .collect()
}

pub fn metric(text: &str, name: &str) -> Option<f64> {
    text.lines()
        .find(|l| l.starts_with(name))
        .and_then(|l| l.rsplit(' ').next())
        .and_then(|v| v.parse().ok())
}

pub fn claim_names(plane: &ControlPlane) -> Vec<String> {
    lines(&kubectl(
        plane,
        &[
            "get",
            "nodeclaims",
            "-o",
            "jsonpath={.items[*].metadata.name}",
        ],
    ))
}

pub fn lease_holder(plane: &ControlPlane) -> String {
    plane
        .kubectl_ok([
            "-n",
            "kube-system",
            "get",
            "lease",
            "kerf-leader-election",
            "-o",
            "jsonpath={.spec.holderIdentity}",
        ])
        .unwrap_or_default()
}

/// A control plane with kwok managing kerf's nodes (and kube-scheduler when
/// `scheduler`), kerf's CRDs installed and established.
pub async fn cluster(scheduler: bool) -> ControlPlane {
    let mut options = ControlPlaneOptions::new()
        .with_controller_manager()
        .with_kwok()
        .with_kwok_nodes(KwokNodes::WithAnnotation("kwok.x-k8s.io/node=fake".into()));
    if scheduler {
        options = options.with_scheduler();
    }
    let plane = ControlPlane::start(options)
        .await
        .expect("start the control plane (binaries from scripts/testbed-build.sh)");
    install_crds(&plane).await;
    plane
}

/// kerf's CRDs, applied and established.
pub async fn install_crds(plane: &ControlPlane) {
    kerf_testenv::install_crds(&plane.client(), kerf_api::crds::all())
        .await
        .unwrap_or_else(|e| panic!("install kerf's CRDs: {e}"));
}

/// Applies the seed Provisioner and the inflate Deployment (0 replicas).
pub fn apply_seed(plane: &ControlPlane) {
    let dir = plane.dir().to_path_buf();
    let provisioner = write(&dir, "provisioner.yaml", SEED_PROVISIONER);
    let inflate = write(&dir, "inflate.yaml", INFLATE);
    kubectl(
        plane,
        &["apply", "-f", provisioner.to_str().expect("utf-8")],
    );
    kubectl(plane, &["apply", "-f", inflate.to_str().expect("utf-8")]);
}

/// `status.resources.<resource>` of the seed Provisioner ("" when absent).
pub fn provisioner_resource(plane: &ControlPlane, resource: &str) -> String {
    pool_status(
        plane,
        "provisioner",
        "default",
        &format!("resources.{resource}"),
    )
}

/// One field of a pool's status (`kind` is `provisioner` or `nodepool`), by
/// its jsonpath under `.status`; empty when unset.
pub fn pool_status(plane: &ControlPlane, kind: &str, name: &str, path: &str) -> String {
    kubectl(
        plane,
        &[
            "get",
            kind,
            name,
            "-o",
            &format!("jsonpath={{.status.{path}}}"),
        ],
    )
    .trim()
    .to_string()
}

/// The summed `status.capacity.cpu` of kerf's nodes, in whole CPUs.
pub fn kerf_nodes_cpu(plane: &ControlPlane) -> i64 {
    let out = kubectl(
        plane,
        &[
            "get",
            "nodes",
            "-l",
            POOL_SELECTOR,
            "-o",
            "jsonpath={.items[*].status.capacity.cpu}",
        ],
    );
    out.split_whitespace()
        .map(|c| c.parse::<i64>().unwrap_or_else(|_| panic!("cpu {c:?}")))
        .sum()
}

/// Every line of the controller's log as JSON; panics naming a line that is not.
pub fn json_log_lines(controller: &Controller) -> Vec<serde_json::Value> {
    let text = std::fs::read_to_string(&controller.log).expect("controller log");
    text.lines()
        .filter(|l| !l.trim().is_empty())
        .map(|l| {
            serde_json::from_str(l).unwrap_or_else(|e| panic!("log line is not JSON ({e}): {l}"))
        })
        .collect()
}
