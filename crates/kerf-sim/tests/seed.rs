//! The seed walk-through: all 10 pods on m5.2xlarge in us-east-1c, as many
//! nodes as the catalogue's allocatable dictates, at the catalogue's price.

use std::path::PathBuf;

use kerf_cloud::{CloudProvider, InMemoryCloud, NodeTemplateContext};
use kerf_core::template::KubeletSettings;
use kerf_sim::{Format, SimulateOptions, render, simulate};

fn example(name: &str) -> PathBuf {
    PathBuf::from(env!("CARGO_MANIFEST_DIR"))
        .join("../../examples")
        .join(name)
}

#[tokio::test]
async fn seed_places_all_pods_on_m5_2xlarge_in_us_east_1c() {
    let report = simulate(&SimulateOptions {
        paths: vec![example("seed")],
        ..Default::default()
    })
    .await
    .unwrap();

    // Expected from the catalogue itself: one m5.2xlarge's allocatable CPU
    // (capacity − kube-reserved − system-reserved − eviction threshold; the
    // seed has no daemonsets) in whole 1-cpu pods, and its cheapest offering
    // in us-east-1c among spot and on-demand.
    let cloud = InMemoryCloud::builtin();
    let ctx = NodeTemplateContext::new("default", KubeletSettings::default());
    let types = cloud.instance_types(&ctx).await.unwrap();
    let m5 = types.iter().find(|t| t.name == "m5.2xlarge").unwrap();
    let overhead = m5.overhead.total();
    assert_eq!(m5.allocatable().cpu, m5.capacity.cpu - overhead.cpu);
    assert!(overhead.cpu > 0, "kube-reserved CPU is counted");
    let per_node = (m5.allocatable().cpu / 1000) as usize;
    let expected_nodes = 10usize.div_ceil(per_node);
    let cheapest = m5
        .offerings
        .iter()
        .filter(|o| o.zone == "us-east-1c" && o.available)
        .min_by(|a, b| a.price.total_cmp(&b.price))
        .unwrap();

    assert!(
        report.unschedulable.is_empty(),
        "{:?}",
        report.unschedulable
    );
    assert_eq!(report.nodes.len(), expected_nodes);
    assert_eq!(report.pods.pending, 10);
    assert_eq!(report.pods.on_new_nodes, 10);
    let mut counts: Vec<usize> = report.nodes.iter().map(|n| n.pods.len()).collect();
    counts.sort_unstable_by(|a, b| b.cmp(a));
    assert_eq!(counts[0], per_node, "the first node is full");
    for node in &report.nodes {
        assert_eq!(node.instance_type, "m5.2xlarge");
        assert_eq!(node.zone, "us-east-1c");
        assert_eq!(node.capacity_type, cheapest.capacity_type);
        assert_eq!(node.pool_kind, "Provisioner");
        assert_eq!(node.pool, "default");
        assert!((node.price_per_hour - cheapest.price).abs() < 1e-9);
        assert!(node.pods.iter().all(|p| p.starts_with("default/inflate-")));
        assert!(node.provider_id.starts_with("kerf-memory:///us-east-1c/"));
        assert!(node.cpu.percent <= 100.0);
    }
    let total = cheapest.price * expected_nodes as f64;
    assert!((report.total_price_per_hour - total).abs() < 1e-6);
    assert_eq!(report.exit_code(false), 0);

    // The table names what was chosen and the total.
    let table = render(&report, Format::Table).unwrap();
    assert!(table.contains("m5.2xlarge"), "{table}");
    assert!(table.contains("us-east-1c"));
    assert!(table.contains(&format!("${total:.4}/hour")), "{table}");
}

#[tokio::test]
async fn json_and_yaml_output_parse_with_stable_names() {
    let report = simulate(&SimulateOptions {
        paths: vec![example("seed")],
        ..Default::default()
    })
    .await
    .unwrap();
    let json = render(&report, Format::Json).unwrap();
    let v: serde_json::Value = serde_json::from_str(&json).unwrap();
    for key in [
        "nodes",
        "totalPricePerHour",
        "existing",
        "unschedulable",
        "pods",
        "warnings",
    ] {
        assert!(v.get(key).is_some(), "missing {key}: {json}");
    }
    let node = &v["nodes"][0];
    for key in [
        "name",
        "poolKind",
        "pool",
        "instanceType",
        "zone",
        "capacityType",
        "pricePerHour",
        "providerId",
        "pods",
        "cpu",
        "memory",
        "instanceTypeOptions",
    ] {
        assert!(node.get(key).is_some(), "missing nodes[0].{key}");
    }
    let back: kerf_sim::Report = serde_json::from_str(&json).unwrap();
    assert_eq!(back, report);
    let yaml = render(&report, Format::Yaml).unwrap();
    let back: kerf_sim::Report = serde_yaml::from_str(&yaml).unwrap();
    assert_eq!(back.nodes.len(), report.nodes.len());
}

#[tokio::test]
async fn reproducible() {
    let opts = SimulateOptions {
        paths: vec![example("seed")],
        ..Default::default()
    };
    let a = simulate(&opts).await.unwrap();
    let b = simulate(&opts).await.unwrap();
    assert_eq!(a, b);
}
