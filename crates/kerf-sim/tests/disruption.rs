//! `kerf simulate --disruption`: the disruption loop over the manifests'
//! Nodes and bound pods, on `examples/consolidation` and variations of it.

use std::path::{Path, PathBuf};

use kerf_core::disruption::DisruptionOptions;
use kerf_sim::report::{DisruptionRow, KeptRow, ReplacementRow};
use kerf_sim::{
    DisruptionRun, Format, Report, SimError, SimulateOptions, Timestamp, render, simulate,
};

const NOW: i64 = 1_800_000_000;

fn example() -> PathBuf {
    PathBuf::from(env!("CARGO_MANIFEST_DIR")).join("../../examples/consolidation")
}

fn run_options(spot_to_spot: bool) -> DisruptionRun {
    DisruptionRun {
        now: Timestamp::from_second(NOW).unwrap(),
        options: DisruptionOptions { spot_to_spot },
    }
}

async fn simulate_dir(dir: &Path, spot_to_spot: bool) -> Result<Report, SimError> {
    simulate(&SimulateOptions {
        paths: vec![dir.to_path_buf()],
        disruption: Some(run_options(spot_to_spot)),
        ..Default::default()
    })
    .await
}

/// A copy of the example with `file` rewritten by `edit` (and `extra` files added).
fn variant(
    file: &str,
    edit: impl Fn(String) -> String,
    extra: &[(&str, &str)],
) -> tempfile::TempDir {
    let dir = tempfile::tempdir().unwrap();
    for name in ["nodepool.yaml", "nodes.yaml", "pods.yaml"] {
        let text = std::fs::read_to_string(example().join(name)).unwrap();
        let text = if name == file { edit(text) } else { text };
        std::fs::write(dir.path().join(name), text).unwrap();
    }
    for (name, text) in extra {
        std::fs::write(dir.path().join(name), text).unwrap();
    }
    dir
}

fn kept(node: &str, reason: &str) -> KeptRow {
    KeptRow {
        node: node.to_string(),
        reason: reason.to_string(),
    }
}

const DO_NOT_DISRUPT: &str = "pod default/report-0 has karpenter.sh/do-not-disrupt";
const PDB: &str =
    "PodDisruptionBudget default/ledger allows no eviction of pod default/ledger-0 now";

#[tokio::test]
async fn example_empties_one_node_then_replaces_two_by_one_spot_node() {
    let report = simulate_dir(&example(), false).await.unwrap();
    assert!(report.warnings.is_empty(), "{:?}", report.warnings);
    assert_eq!(
        report.disruptions.unwrap(),
        vec![
            DisruptionRow {
                method: "emptiness".to_string(),
                reason: "Empty".to_string(),
                candidates: vec!["ip-10-0-3-30.ec2.internal".to_string()],
                replacements: vec![],
                price_per_hour_before: 0.192,
                price_per_hour_after: 0.0,
                savings_per_hour: 0.192,
            },
            DisruptionRow {
                method: "multi-node consolidation".to_string(),
                reason: "Underutilized".to_string(),
                candidates: vec![
                    "ip-10-0-1-10.ec2.internal".to_string(),
                    "ip-10-0-2-20.ec2.internal".to_string(),
                ],
                replacements: vec![ReplacementRow {
                    node: "default-tbbrg".to_string(),
                    instance_type: "m5.2xlarge".to_string(),
                    zone: "us-east-1a".to_string(),
                    capacity_type: "spot".to_string(),
                    price_per_hour: 0.13819,
                }],
                price_per_hour_before: 0.384,
                price_per_hour_after: 0.13819,
                savings_per_hour: 0.24581,
            },
        ]
    );
    assert_eq!(
        report.kept.unwrap(),
        vec![
            kept(
                "default-tbbrg",
                "no cheaper fit: the best replacement, m5.2xlarge spot in us-east-1a, \
                 costs $0.1382/h against $0.1382/h now"
            ),
            kept("ip-10-0-1-40.ec2.internal", DO_NOT_DISRUPT),
            kept("ip-10-0-2-50.ec2.internal", PDB),
        ]
    );
}

#[tokio::test]
async fn spot_to_spot_gate_changes_why_the_spot_node_stays() {
    let report = simulate_dir(&example(), true).await.unwrap();
    assert_eq!(report.disruptions.as_ref().map(Vec::len), Some(2));
    assert_eq!(
        report.kept.unwrap()[0],
        kept(
            "default-tbbrg",
            "spot-to-spot needs at least 15 cheaper instance types, found 0"
        )
    );
}

#[tokio::test]
async fn json_has_the_disruptions_and_kept_lists() {
    let report = simulate_dir(&example(), false).await.unwrap();
    let json: serde_json::Value =
        serde_json::from_str(&render(&report, Format::Json).unwrap()).unwrap();
    let d = &json["disruptions"];
    assert_eq!(d[0]["method"], "emptiness");
    assert_eq!(d[0]["candidates"][0], "ip-10-0-3-30.ec2.internal");
    assert_eq!(d[1]["method"], "multi-node consolidation");
    assert_eq!(d[1]["reason"], "Underutilized");
    assert_eq!(d[1]["candidates"].as_array().unwrap().len(), 2);
    assert_eq!(d[1]["replacements"][0]["instanceType"], "m5.2xlarge");
    assert_eq!(d[1]["replacements"][0]["capacityType"], "spot");
    assert_eq!(d[1]["replacements"][0]["pricePerHour"], 0.13819);
    assert_eq!(d[1]["savingsPerHour"], 0.24581);
    let reasons: Vec<&str> = json["kept"]
        .as_array()
        .unwrap()
        .iter()
        .map(|k| k["reason"].as_str().unwrap())
        .collect();
    assert_eq!(reasons[1..], [DO_NOT_DISRUPT, PDB]);
    // The spot node stays naming the replacement it was weighed against.
    assert!(
        reasons[0].contains("the best replacement, m5.2xlarge spot in us-east-1a, costs"),
        "{reasons:?}"
    );
    // YAML carries the same names.
    let yaml = render(&report, Format::Yaml).unwrap();
    assert!(yaml.contains("savingsPerHour: 0.24581"), "{yaml}");
}

#[tokio::test]
async fn without_the_flag_the_report_has_no_disruption_fields() {
    let report = simulate(&SimulateOptions {
        paths: vec![example()],
        ..Default::default()
    })
    .await
    .unwrap();
    let json: serde_json::Value =
        serde_json::from_str(&render(&report, Format::Json).unwrap()).unwrap();
    assert!(json.get("disruptions").is_none(), "{json}");
    assert!(json.get("kept").is_none(), "{json}");
    assert!(
        !render(&report, Format::Table)
            .unwrap()
            .contains("Disruption")
    );
}

#[tokio::test]
async fn the_clock_stands_still_so_a_new_node_waits_out_consolidate_after() {
    let dir = variant(
        "nodepool.yaml",
        |t| t.replace("consolidateAfter: 0s", "consolidateAfter: 10m"),
        &[],
    );
    let report = simulate_dir(dir.path(), false).await.unwrap();
    // The input's Nodes have no creationTimestamp: quiet long enough.
    assert_eq!(report.disruptions.unwrap().len(), 2);
    assert_eq!(
        report.kept.unwrap()[0],
        kept("default-tbbrg", "consolidateAfter has 600s to run")
    );
}

#[tokio::test]
async fn unbound_pods_are_planned_but_left_out_of_the_loop() {
    let pending = r#"apiVersion: v1
kind: Pod
metadata: {name: pending-0, namespace: default}
spec:
  containers: [{name: c, image: x, resources: {requests: {cpu: "1"}}}]
"#;
    let dir = variant("pods.yaml", |t| t, &[("pending.yaml", pending)]);
    let report = simulate_dir(dir.path(), false).await.unwrap();
    assert_eq!(report.pods.pending, 1);
    assert_eq!(report.disruptions.unwrap().len(), 2);
    assert_eq!(report.warnings.len(), 1, "{:?}", report.warnings);
    assert!(
        report.warnings[0].contains("1 unbound pod(s)"),
        "{:?}",
        report.warnings
    );
}

#[tokio::test]
async fn a_pool_policy_kerf_cannot_read_is_an_error_naming_the_field() {
    let dir = variant(
        "nodepool.yaml",
        |t| {
            t.replacen(
                "  name: default\n",
                "  name: default\n  annotations:\n    kerf.sh/consolidation-min-savings: lots\n",
                1,
            )
        },
        &[],
    );
    let err = simulate_dir(dir.path(), false).await.unwrap_err();
    let text = err.to_string();
    assert!(text.contains("NodePool"), "{text}");
    assert!(text.contains("default"), "{text}");
    assert!(
        text.contains("metadata.annotations[kerf.sh/consolidation-min-savings]"),
        "{text}"
    );
    assert_eq!(err.exit_code(), 2, "{text}");
}

#[tokio::test]
async fn a_node_list_dump_loads_item_by_item_and_errors_name_the_item() {
    // The example's nodes.yaml is a `kind: List` dump: five Nodes.
    let loaded = kerf_sim::load::load_paths(&[example().join("nodes.yaml")]).unwrap();
    assert_eq!(loaded.documents, 5);
    assert_eq!(
        loaded
            .state
            .objects::<k8s_openapi::api::core::v1::Node>()
            .count(),
        5
    );

    let dir = variant(
        "nodes.yaml",
        |t| {
            t.replacen(
                "pods: \"58\"}\n      conditions",
                "pods: \"58\"}\n      conditions: 7\n      x",
                1,
            )
        },
        &[],
    );
    let err = simulate_dir(dir.path(), false).await.unwrap_err();
    let text = err.to_string();
    assert!(
        text.contains("nodes.yaml: document 1, List item 0"),
        "{text}"
    );
    assert!(
        text.contains("Node \"ip-10-0-1-10.ec2.internal\""),
        "{text}"
    );
    assert!(text.contains("status.conditions"), "{text}");
    assert_eq!(err.exit_code(), 2, "{text}");
}

fn budget_example() -> PathBuf {
    PathBuf::from(env!("CARGO_MANIFEST_DIR")).join("../../examples/consolidation-budget")
}

/// kerf's own rule (see docs/differences.md): under a budget of one node at
/// a time, the two emptier m5.2xlarge go, one per command, and the fleet
/// left (one m5.2xlarge and both full m5.large) is the cheapest the same
/// deletions can reach; fewest pods first would keep two m5.2xlarge.
#[tokio::test]
async fn a_one_node_budget_removes_the_nodes_that_leave_the_cheapest_fleet() {
    let report = simulate_dir(&budget_example(), false).await.unwrap();
    assert!(report.warnings.is_empty(), "{:?}", report.warnings);
    let disruptions = report.disruptions.unwrap();
    let removed: Vec<&str> = disruptions
        .iter()
        .flat_map(|d| d.candidates.iter().map(String::as_str))
        .collect();
    assert_eq!(
        removed,
        ["ip-10-0-1-11.ec2.internal", "ip-10-0-1-12.ec2.internal"]
    );
    assert!(
        disruptions
            .iter()
            .all(|d| d.replacements.is_empty() && d.method == "single-node consolidation")
    );
    let kept: Vec<String> = report.kept.unwrap().into_iter().map(|k| k.node).collect();
    assert_eq!(
        kept,
        [
            "ip-10-0-1-13.ec2.internal",
            "ip-10-0-1-21.ec2.internal",
            "ip-10-0-1-22.ec2.internal"
        ]
    );
}
