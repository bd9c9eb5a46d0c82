//! kerf-testenv: a real Kubernetes control plane for tests, envtest-style and
//! without Docker.
//!
//! This crate owns starting, health-checking and tearing down per-test
//! control planes made of upstream binaries: etcd and kube-apiserver, and
//! optionally kube-controller-manager, kube-scheduler and kwok (fake kubelets
//! that make Nodes Ready and bound Pods Running). It also owns locating those
//! binaries, which `scripts/testbed-build.sh` builds from the Go modules pinned
//! in `tools/testbed/` into a per-machine cache outside the clone (see
//! [`binaries`]). It owns nothing of kerf's own logic.
//!
//! ```no_run
//! # async fn demo() -> kerf_testenv::Result<()> {
//! use kerf_testenv::{ControlPlane, ControlPlaneOptions};
//! let plane = ControlPlane::start(ControlPlaneOptions::cluster()).await?;
//! let client = plane.client(); // admin, group system:masters
//! let nodes = plane.kubectl_ok(["get", "nodes", "-o", "json"])?;
//! # Ok(()) }
//! ```
//!
//! Each [`ControlPlane`] has its own temporary directory (certificates,
//! kubeconfig, etcd data, one log file per process) and its own loopback
//! ports, so tests may run in parallel. Dropping it (also on panic) stops every
//! process group and removes the directory; set `KERF_TESTENV_KEEP_DIR=1` to
//! keep it. Start-up errors include the tail of the failing process' log.
//!
//! Start-up time on the 2-core development machine (debug test build, other
//! builds running): 6.5-8.5 s for etcd + kube-apiserver (etcd 0.5-1.4 s,
//! kube-apiserver 4.5-7.5 s of it), 7-8 s for the full cluster
//! (controller-manager and scheduler about 0.7-1.1 s each, kwok 0.1 s). A
//! kwok Node is Ready about 0.15 s after creation and a 2-replica Deployment's
//! Pods are Running about 0.4 s after it is applied. Teardown takes 1-2 s.
//!
//! kwok runs as `kwok --kubeconfig=<admin> --config=<stages.yaml>
//! --server-address=127.0.0.1:<port> --node-lease-duration-seconds=40
//! --manage-all-nodes=true` (or `--manage-nodes-with-annotation-selector=` /
//! `--manage-nodes-with-label-selector=`, see [`KwokNodes`]), with
//! `KWOK_WORKDIR` pointing into the plane's directory. The kwok binary ships
//! no stages of its own (without `--config` it exits with "no stages found");
//! `stages.yaml` is kwok v0.8.0's "fast" stage set embedded in this crate
//! (`kwok/stages-fast.yaml`), plus one stage of kerf's own that makes a
//! Running pod Ready again after the node lifecycle controller marked it not
//! Ready (a kubelet does so once it is back). `--enable-crds=Stage` would instead read Stage
//! objects from the cluster, which would then have to be installed first.
//! [`MotoServer`] starts moto's AWS API emulator the same way, for the AWS
//! provider's tests, and [`ContainerRegistry`] crane's registry, for the
//! container image's.
//!
//! A missing binary is an error (never a skip) naming the binary and
//! "run scripts/testbed-build.sh".

pub mod binaries;
mod certs;
mod control_plane;
mod error;
pub mod fault_proxy;
mod kube_util;
pub mod moto;
mod net;
mod process;
pub mod registry;

pub use binaries::Binaries;
pub use certs::{ADMIN_GROUP, ADMIN_USER};
pub use control_plane::{
    ControlPlane, ControlPlaneOptions, DEFAULT_CONTROLLERS, ENV_KEEP_DIR, KwokNodes, SERVICE_CIDR,
};
pub use error::{Error, Result};
pub use fault_proxy::{FaultProxy, Faults};
pub use kube_util::{
    FIELD_MANAGER, KWOK_NODE_ANNOTATION, add_system_nodes, apply_yaml, install_crds, kwok_node,
    node_is_ready, running_pods, wait_established, wait_for,
};
pub use moto::MotoServer;
pub use registry::ContainerRegistry;

/// A non-loopback IPv4 address of this machine, for endpoints (which may not
/// be loopback) of a process the test runs here.
pub fn host_ipv4() -> Result<std::net::Ipv4Addr> {
    net::host_ipv4().map_err(|e| Error::io("finding a non-loopback IPv4 address", e))
}

/// Writes `text` to `dir/name` (a manifest for kubectl or kerf) and returns the path.
pub fn write_file(dir: &std::path::Path, name: &str, text: &str) -> Result<std::path::PathBuf> {
    let path = dir.join(name);
    std::fs::write(&path, text).map_err(|e| Error::io(format!("writing {}", path.display()), e))?;
    Ok(path)
}

/// A free loopback port, never handed out twice within this test binary.
pub fn free_port() -> Result<u16> {
    net::free_ports(1)
        .map_err(|e| Error::io("finding a free loopback port", e))?
        .pop()
        .ok_or_else(|| Error::Locate("no free loopback port".into()))
}
