//! Every example under `examples/` runs and shows what its README says.

use std::collections::{BTreeMap, BTreeSet};
use std::path::PathBuf;

use kerf_sim::{Report, SimulateOptions, simulate};

async fn run(name: &str) -> Report {
    let dir = PathBuf::from(env!("CARGO_MANIFEST_DIR"))
        .join("../../examples")
        .join(name);
    let report = simulate(&SimulateOptions {
        paths: vec![dir],
        ..Default::default()
    })
    .await
    .unwrap_or_else(|e| panic!("{name}: {e}"));
    assert!(report.warnings.is_empty(), "{name}: {:?}", report.warnings);
    report
}

#[tokio::test]
async fn zonal_spread_uses_every_zone_evenly() {
    let r = run("zonal-spread").await;
    assert!(r.unschedulable.is_empty(), "{:?}", r.unschedulable);
    let mut per_zone: BTreeMap<&str, usize> = BTreeMap::new();
    for n in &r.nodes {
        *per_zone.entry(n.zone.as_str()).or_default() += n.pods.len();
    }
    assert_eq!(
        per_zone,
        BTreeMap::from([("us-east-1a", 2), ("us-east-1b", 2), ("us-east-1c", 2)])
    );
    for n in &r.nodes {
        assert!(n.instance_type.starts_with("m5.") || n.instance_type.starts_with("c5."));
    }
}

#[tokio::test]
async fn hostname_anti_affinity_gives_each_pod_a_node() {
    let r = run("hostname-anti-affinity").await;
    assert!(r.unschedulable.is_empty());
    assert_eq!(r.nodes.len(), 4);
    let pods: BTreeSet<&str> = r
        .nodes
        .iter()
        .flat_map(|n| n.pods.iter().map(String::as_str))
        .collect();
    assert_eq!(
        pods,
        BTreeSet::from([
            "default/cache-0",
            "default/cache-1",
            "default/cache-2",
            "default/cache-3"
        ])
    );
    assert!(
        r.nodes
            .iter()
            .all(|n| n.pods.len() == 1 && n.capacity_type == "on-demand")
    );
}

#[tokio::test]
async fn gpu_job_lands_on_gpu_nodes_and_the_rest_does_not() {
    let r = run("gpu-job").await;
    assert!(r.unschedulable.is_empty(), "{:?}", r.unschedulable);
    let job_pods: Vec<&str> = r
        .nodes
        .iter()
        .filter(|n| n.pool == "gpu")
        .flat_map(|n| n.pods.iter().map(String::as_str))
        .collect();
    assert_eq!(job_pods.len(), 2, "parallelism 2");
    assert!(job_pods.iter().all(|p| p.starts_with("ml/train-")));
    for n in r.nodes.iter().filter(|n| n.pool == "gpu") {
        assert!(
            n.instance_type.starts_with("g4dn.") || n.instance_type.starts_with("g5."),
            "{}",
            n.instance_type
        );
    }
    for n in r.nodes.iter().filter(|n| n.pool == "general") {
        assert!(n.pods.iter().all(|p| p.starts_with("ml/api-")));
        assert!(!n.instance_type.starts_with('g'));
    }
}

#[tokio::test]
async fn weighted_provisioners_prefer_the_heavier() {
    let r = run("weighted-provisioners").await;
    assert!(r.unschedulable.is_empty());
    for n in &r.nodes {
        assert_eq!(n.pool, "on-demand");
        assert_eq!(n.capacity_type, "on-demand");
        assert!(n.instance_type.starts_with("m6i."), "{}", n.instance_type);
    }
    let placed: usize = r.nodes.iter().map(|n| n.pods.len()).sum();
    assert_eq!(placed, 12);
    // Weight, not price, decided: the spot Provisioner alone would be cheaper.
    let spot_only = tempfile::tempdir().unwrap();
    let dir =
        PathBuf::from(env!("CARGO_MANIFEST_DIR")).join("../../examples/weighted-provisioners");
    let provisioners = std::fs::read_to_string(dir.join("provisioners.yaml")).unwrap();
    let spot = &provisioners[provisioners.rfind("---").unwrap()..];
    std::fs::write(spot_only.path().join("p.yaml"), spot).unwrap();
    std::fs::copy(dir.join("workload.yaml"), spot_only.path().join("w.yaml")).unwrap();
    let cheaper = simulate(&SimulateOptions {
        paths: vec![spot_only.path().to_path_buf()],
        ..Default::default()
    })
    .await
    .unwrap();
    assert!(cheaper.nodes.iter().all(|n| n.pool == "spot"));
    assert!(cheaper.total_price_per_hour < r.total_price_per_hour);
}

#[tokio::test]
async fn unschedulable_pod_has_an_actionable_reason() {
    let r = run("unschedulable").await;
    assert_eq!(r.unschedulable.len(), 1);
    let u = &r.unschedulable[0];
    assert_eq!(u.pod, "default/huge");
    assert!(u.reason.contains("provisioner default"), "{}", u.reason);
    // m5.metal and m5.24xlarge tie at 346.9Gi allocatable; the reason names the metal one.
    assert!(
        u.reason
            .contains("the largest instance type, m5.metal, has 346.9Gi allocatable"),
        "{}",
        u.reason
    );
    assert!(u.reason.contains("memory"), "{}", u.reason);
    assert_eq!(r.exit_code(false), 1);
    assert_eq!(r.exit_code(true), 0);
    assert_eq!(r.nodes.len(), 1, "the small pod still gets a node");
    assert_eq!(r.nodes[0].pods, ["default/small"]);
}

#[tokio::test]
async fn nodepool_v1_launches_arm64_with_daemon_overhead() {
    let r = run("nodepool-v1").await;
    assert!(r.unschedulable.is_empty(), "{:?}", r.unschedulable);
    assert!(!r.nodes.is_empty());
    let graviton = ["c6g.", "c7g.", "m6g.", "m7g."];
    for n in &r.nodes {
        assert_eq!(n.pool_kind, "NodePool");
        assert_eq!(n.pool, "general");
        assert!(
            graviton.iter().any(|f| n.instance_type.starts_with(f)),
            "{}",
            n.instance_type
        );
        assert!(n.name.starts_with("general-"));
        // 750m per frontend pod plus the daemonset's 200m.
        let pods = n.pods.len() as f64;
        let expected = pods * 0.75 + 0.2;
        let requested = parse_cpu(&n.cpu.requested);
        assert!(
            (requested - expected).abs() < 1e-9,
            "{} vs {expected}",
            n.cpu.requested
        );
        assert!(n.pods.len() < 30, "maxPods 30 less the daemon");
    }
}

fn parse_cpu(s: &str) -> f64 {
    match s.strip_suffix('m') {
        Some(m) => m.parse::<f64>().unwrap() / 1000.0,
        None => s.parse().unwrap(),
    }
}
