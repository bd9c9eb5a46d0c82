//! The two controllers under test and how each is started: upstream
//! Karpenter's kwok build (`sigs.k8s.io/karpenter/kwok`, configured through
//! its environment variables) and `kerf controller --cloud-provider kwok`.
//! Both run with leader election off, metrics and health on free loopback
//! ports, their usual log level for production (warnings and errors), and the
//! same instance types: upstream from its `instance_types.json`, kerf from
//! that file converted into a kerf catalogue. kerf runs as it ships (pods
//! left to kube-scheduler) and, as a third entrant, with `--bind-pods`
//! (kerf binds the pods it planned once their node is Ready; kube-scheduler
//! still runs, as it does in every cluster).

use std::path::{Path, PathBuf};
use std::process::{Child, Command, Stdio};

#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum Which {
    Upstream,
    Kerf,
    KerfBindPods,
}

impl Which {
    pub fn parse(s: &str) -> anyhow::Result<Which> {
        match s {
            "upstream" => Ok(Which::Upstream),
            "kerf" => Ok(Which::Kerf),
            "kerf-bind-pods" => Ok(Which::KerfBindPods),
            _ => Err(anyhow::anyhow!(
                "--controller {s:?}: expected upstream, kerf or kerf-bind-pods"
            )),
        }
    }

    pub fn name(self) -> &'static str {
        match self {
            Which::Upstream => "upstream",
            Which::Kerf => "kerf",
            Which::KerfBindPods => "kerf-bind-pods",
        }
    }
}

/// Files a run needs besides the control plane.
pub struct Inputs {
    pub binary: PathBuf,
    /// kerf catalogue (kerf's `--catalog`, and the prices of both fleets).
    pub catalog: PathBuf,
    /// upstream's instance types file (`INSTANCE_TYPES_FILE_PATH`).
    pub instance_types: PathBuf,
    /// Directory of upstream's CRDs (NodePool, NodeClaim, NodeOverlay,
    /// CapacityBuffer, KWOKNodeClass).
    pub upstream_crds: PathBuf,
}

/// The CRDs to apply for `which`.
pub fn crds(which: Which, inputs: &Inputs) -> PathBuf {
    match which {
        Which::Upstream => inputs.upstream_crds.clone(),
        Which::Kerf | Which::KerfBindPods => {
            Path::new(env!("CARGO_MANIFEST_DIR")).join("../kerf-api/crds")
        }
    }
}

pub struct Ports {
    pub metrics: u16,
    pub health: u16,
}

/// `KERF_H2H_RUST_LOG`: kerf's log filter for a diagnostic run (the log is
/// then kept in the temp dir); unset, kerf logs warnings only, so logging
/// costs nothing in the figures.
pub fn diagnostic_log() -> Option<String> {
    std::env::var("KERF_H2H_RUST_LOG")
        .ok()
        .filter(|v| !v.is_empty())
}

/// Starts the controller, its output going to `log`.
pub fn spawn(
    which: Which,
    inputs: &Inputs,
    kubeconfig: &Path,
    ports: &Ports,
    log: &Path,
) -> anyhow::Result<Child> {
    let out =
        std::fs::File::create(log).map_err(|e| anyhow::anyhow!("create {}: {e}", log.display()))?;
    let err = out.try_clone()?;
    let mut cmd = Command::new(&inputs.binary);
    match which {
        Which::Upstream => {
            cmd.env("KUBECONFIG", kubeconfig)
                .env("DISABLE_LEADER_ELECTION", "true")
                .env("METRICS_PORT", ports.metrics.to_string())
                .env("HEALTH_PROBE_PORT", ports.health.to_string())
                .env("INSTANCE_TYPES_FILE_PATH", &inputs.instance_types)
                .env("LOG_LEVEL", "error");
        }
        Which::Kerf | Which::KerfBindPods => {
            cmd.args([
                "controller",
                "--cluster-name",
                "kerf-h2h",
                "--cloud-provider",
                "kwok",
            ])
            .arg("--kubeconfig")
            .arg(kubeconfig)
            .arg("--catalog")
            .arg(&inputs.catalog)
            .args(["--metrics-port", &ports.metrics.to_string()])
            .args(["--health-port", &ports.health.to_string()])
            .env(
                "RUST_LOG",
                diagnostic_log().unwrap_or_else(|| "warn".into()),
            );
            if which == Which::KerfBindPods {
                cmd.arg("--bind-pods");
            }
        }
    }
    cmd.stdin(Stdio::null())
        .stdout(out)
        .stderr(err)
        .spawn()
        .map_err(|e| anyhow::anyhow!("start {}: {e}", inputs.binary.display()))
}
