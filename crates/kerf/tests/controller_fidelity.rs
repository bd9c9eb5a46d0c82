//! Fidelity of kerf's plan to what the real kube-scheduler does with it.
//!
//! Seeded random workloads (bare Pods in groups, each group carrying one
//! constraint kind the core supports: requests of varying size, nodeSelector
//! on zone / arch / capacity type, required node affinity, zone spread with
//! DoNotSchedule, hostname anti-affinity, hostname pod affinity, a toleration
//! for a tainted Provisioner) are applied one after another to a real control
//! plane with kube-scheduler, kwok and `kerf controller` in nominate mode
//! (kerf only provisions; kube-scheduler binds). For each workload: every pod
//! ends Running, none stays Pending, every Node is the registration of a
//! NodeClaim kerf created (no node kerf did not plan), and the number of
//! nodes kerf launched is compared with what `kerf simulate -o json` plans
//! for the same manifests. Between workloads the pods and NodeClaims are
//! deleted (termination removes the nodes).
//!
//! A fixed workload checks the DaemonSet rules the same way: overhead per
//! instance type and daemon host ports on new nodes (see `fidelity/daemonsets.rs`).
//!
//! The seed is printed; `KERF_FIDELITY_SEED=<n>` reproduces a run and
//! `KERF_FIDELITY_WORKLOADS=<n>` changes how many workloads are tried.

mod common;
#[path = "fidelity/daemonsets.rs"]
mod daemonsets;
#[path = "fidelity/workload.rs"]
mod workload;

use std::collections::{BTreeMap, BTreeSet};
use std::process::Command;
use std::time::{Duration, Instant};

use common::*;
use kerf_testenv::ControlPlane;
use rand::SeedableRng;
use rand_chacha::ChaCha8Rng;

const DEFAULT_SEED: u64 = 0x6b65_7266;
const DEFAULT_WORKLOADS: usize = 6;

fn env_number(name: &str, default: u64) -> u64 {
    std::env::var(name)
        .ok()
        .map(|v| v.parse().unwrap_or_else(|e| panic!("{name}={v:?}: {e}")))
        .unwrap_or(default)
}

/// Nodes kerf's plan for the same manifests launches, from `kerf simulate`.
fn simulated_nodes(provisioners: &std::path::Path, pods: &std::path::Path) -> usize {
    let out = Command::new(env!("CARGO_BIN_EXE_kerf"))
        .args(["simulate", "-o", "json"])
        .arg(provisioners)
        .arg(pods)
        .env_remove("RUST_LOG")
        .output()
        .expect("run kerf simulate");
    let stdout = String::from_utf8_lossy(&out.stdout);
    assert_eq!(
        out.status.code(),
        Some(0),
        "kerf simulate places every pod\n{stdout}{}",
        String::from_utf8_lossy(&out.stderr)
    );
    let report: serde_json::Value = serde_json::from_str(&stdout).expect("simulate json");
    report["nodes"].as_array().expect("nodes").len()
}

/// `name=value` lines from a jsonpath range.
fn pairs(plane: &ControlPlane, what: &[&str], fields: &str) -> Vec<(String, String)> {
    let jsonpath = format!("jsonpath={{range .items[*]}}{fields}{{\"\\n\"}}{{end}}");
    let mut args = vec!["get"];
    args.extend_from_slice(what);
    args.extend(["-o", &jsonpath]);
    kubectl(plane, &args)
        .lines()
        .filter_map(|l| l.split_once('='))
        .map(|(a, b)| (a.to_string(), b.to_string()))
        .collect()
}

/// Nodes (name → providerID) with no NodeClaim of that providerID naming
/// another node; records every claim seen in `claims_seen`.
fn unplanned_nodes(plane: &ControlPlane, claims_seen: &mut BTreeSet<String>) -> Vec<String> {
    // Nodes first: a claim always exists before its node, so a node listed
    // here whose claim is missing below was either never planned or is being
    // removed right now (the caller re-checks).
    let nodes = pairs(plane, &["nodes"], "{.metadata.name}={.spec.providerID}");
    let claims = pairs(
        plane,
        &["nodeclaims"],
        "{.status.providerID}={.metadata.name}/{.status.nodeName}",
    );
    let by_provider: BTreeMap<String, String> = claims.into_iter().collect();
    claims_seen.extend(
        by_provider
            .values()
            .filter_map(|c| c.split_once('/').map(|(name, _)| name.to_string())),
    );
    let mut unplanned = Vec::new();
    for (node, provider) in nodes {
        match by_provider.get(&provider) {
            None => unplanned.push(format!("{node} ({provider}) has no NodeClaim")),
            Some(claim) => {
                let named = claim.split_once('/').map(|(_, n)| n).unwrap_or_default();
                if !named.is_empty() && named != node {
                    unplanned.push(format!("{node}: its claim {claim} names another node"));
                }
            }
        }
    }
    unplanned
}

/// Every Node is a NodeClaim's registration. A node whose claim vanished
/// while it is being removed gets 10 s to go; one that stays is unplanned.
fn assert_every_node_planned(plane: &ControlPlane, claims_seen: &mut BTreeSet<String>) {
    let deadline = Instant::now() + Duration::from_secs(10);
    loop {
        let unplanned = unplanned_nodes(plane, claims_seen);
        if unplanned.is_empty() {
            return;
        }
        assert!(
            Instant::now() < deadline,
            "kerf launched nodes it did not plan: {unplanned:?}"
        );
        std::thread::sleep(Duration::from_millis(500));
    }
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn random_workloads_run_on_the_nodes_kerf_planned() {
    let seed = env_number("KERF_FIDELITY_SEED", DEFAULT_SEED);
    let count = env_number("KERF_FIDELITY_WORKLOADS", DEFAULT_WORKLOADS as u64) as usize;
    eprintln!("fidelity: seed {seed} (KERF_FIDELITY_SEED), {count} workloads");
    let mut rng = ChaCha8Rng::seed_from_u64(seed);

    let plane = cluster(true).await;
    let _controller = start_controller(&plane, false, &[]);
    let dir = plane.dir().to_path_buf();
    let provisioners = write(&dir, "fidelity-provisioners.yaml", workload::PROVISIONERS);
    kubectl(
        &plane,
        &["apply", "-f", provisioners.to_str().expect("utf-8")],
    );

    let started = Instant::now();
    let mut pods_tried = 0;
    let mut summary = Vec::new();
    for i in 0..count {
        let w = workload::generate(&mut rng, &format!("w{i}"));
        let pods = workload::write_pods(&dir, &w);
        let planned = simulated_nodes(&provisioners, &pods);
        eprintln!(
            "[{}] {} pods: {} — kerf simulate plans {planned} node(s)",
            w.name,
            w.pod_count(),
            w.describe()
        );
        let t = Instant::now();
        let selector = format!("fidelity={}", w.name);
        kubectl(&plane, &["apply", "-f", pods.to_str().expect("utf-8")]);
        let mut claims_seen = BTreeSet::new();
        wait(
            &plane,
            &format!("all {} pods of {} Running", w.pod_count(), w.name),
            Duration::from_secs(120),
            || {
                assert_every_node_planned(&plane, &mut claims_seen);
                let phases = pairs(
                    &plane,
                    &["pods", "-l", &selector],
                    "{.metadata.name}={.status.phase}",
                );
                let running = phases.iter().filter(|(_, p)| p == "Running").count();
                (phases.len() == w.pod_count() && running == w.pod_count()).then_some(())
            },
        );
        let up = t.elapsed();
        assert_every_node_planned(&plane, &mut claims_seen);
        let nodes = pairs(&plane, &["nodes"], "{.metadata.name}={.spec.providerID}").len();
        let pending = kubectl(
            &plane,
            &[
                "get",
                "pods",
                "-A",
                "--field-selector=status.phase=Pending",
                "-o",
                "name",
            ],
        );
        assert!(pending.trim().is_empty(), "pods still Pending: {pending}");
        eprintln!(
            "[{}] all Running in {up:.1?}: {nodes} node(s) up, {} NodeClaim(s) created, simulate planned {planned}",
            w.name,
            claims_seen.len()
        );
        summary.push((w.name.clone(), w.pod_count(), planned, claims_seen.len()));
        pods_tried += w.pod_count();

        // Emptiness would take the nodes too, after ttlSecondsAfterEmpty and
        // the disruption validation delay; deleting the claims (termination
        // drains and removes them) makes room for the next workload sooner.
        kubectl(&plane, &["delete", "pods", "-l", &selector, "--wait=false"]);
        kubectl(&plane, &["delete", "nodeclaims", "--all", "--wait=false"]);
        wait(
            &plane,
            &format!("{}'s nodes and claims gone", w.name),
            Duration::from_secs(90),
            || {
                let empty = kubectl(&plane, &["get", "nodes,nodeclaims", "-o", "name"]);
                empty.trim().is_empty().then_some(())
            },
        );
    }
    eprintln!(
        "fidelity: seed {seed}: {count} workloads, {pods_tried} pods, all Running in {:.1?}",
        started.elapsed()
    );
    for (name, pods, planned, launched) in &summary {
        eprintln!(
            "  {name}: {pods} pods, simulate planned {planned} node(s), kerf launched {launched}"
        );
    }
}

/// Names of pods in `phase`, across namespaces.
fn pods_in_phase(plane: &ControlPlane, phase: &str) -> Vec<String> {
    let field = format!("--field-selector=status.phase={phase}");
    lines(&kubectl(
        plane,
        &["get", "pods", "-A", &field, "-o", "name"],
    ))
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn daemonset_overhead_and_host_ports_match_kube_scheduler() {
    let plane = cluster(true).await;
    let _controller = start_controller(&plane, false, &[]);
    let dir = plane.dir().to_path_buf();
    let provisioners = write(&dir, "fidelity-provisioners.yaml", workload::PROVISIONERS);
    let manifests = write(&dir, "fidelity-daemonsets.yaml", daemonsets::MANIFESTS);
    let planned = simulated_nodes(&provisioners, &manifests);
    // One node per hostPort-9100 pod, none beside the exporter.
    assert_eq!(
        planned, 3,
        "kerf simulate plans one arm64 node per port pod"
    );
    kubectl(
        &plane,
        &["apply", "-f", provisioners.to_str().expect("utf-8")],
    );
    kubectl(&plane, &["apply", "-f", manifests.to_str().expect("utf-8")]);

    let mut claims_seen = BTreeSet::new();
    wait(
        &plane,
        "the daemonsets workload Running",
        Duration::from_secs(120),
        || {
            assert_every_node_planned(&plane, &mut claims_seen);
            let phases = pairs(
                &plane,
                &["pods", "-l", daemonsets::SELECTOR],
                "{.metadata.name}={.status.phase}",
            );
            let running = phases.iter().filter(|(_, p)| p == "Running").count();
            (running == daemonsets::PODS).then_some(())
        },
    );
    // The daemons come once their nodes are up and initialized; every one of
    // them must find room (and its port) there.
    wait(
        &plane,
        "no pod Pending, an agent on every node",
        Duration::from_secs(60),
        || {
            let nodes = pairs(&plane, &["nodes"], "{.metadata.name}={.spec.providerID}").len();
            let agents = pairs(
                &plane,
                &["pods", "-l", "app=fid-arm-agent"],
                "{.metadata.name}={.status.phase}",
            );
            let running = agents.iter().filter(|(_, p)| p == "Running").count();
            (pods_in_phase(&plane, "Pending").is_empty() && nodes > 0 && running == nodes)
                .then_some(())
        },
    );
    assert_every_node_planned(&plane, &mut claims_seen);
    let arch: BTreeMap<String, String> = pairs(
        &plane,
        &["nodes"],
        "{.metadata.name}={.metadata.labels.kubernetes\\.io/arch}",
    )
    .into_iter()
    .collect();
    let placed = pairs(
        &plane,
        &["pods", "-l", daemonsets::SELECTOR],
        "{.metadata.name}={.spec.nodeName}",
    );
    for (pod, node) in &placed {
        assert_eq!(
            arch.get(node).map(String::as_str),
            Some("arm64"),
            "{pod} on {node}: {arch:?}"
        );
    }
    let exporters = pairs(
        &plane,
        &["pods", "-l", "app=fid-exporter"],
        "{.metadata.name}={.status.phase}",
    );
    assert!(
        exporters.is_empty(),
        "no amd64 node, no exporter: {exporters:?}"
    );
    eprintln!(
        "daemonsets: {} node(s), {} claim(s), simulate planned {planned}",
        arch.len(),
        claims_seen.len()
    );
}
