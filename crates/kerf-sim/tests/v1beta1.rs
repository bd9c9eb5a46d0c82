//! v1beta1 manifests load and plan exactly as their v1 twins: each case in
//! `tests/v1beta1/` is a v1beta1 file and its hand-written v1 translation,
//! simulated with the same workload.

use std::collections::BTreeMap;
use std::path::{Path, PathBuf};

use kerf_api::v1::{EC2NodeClass, NodeClaim, NodePool};
use kerf_sim::load::{Loaded, load_paths, load_text};
use kerf_sim::report::NodeRow;
use kerf_sim::{SimulateOptions, simulate};

fn case(file: &str) -> PathBuf {
    PathBuf::from(env!("CARGO_MANIFEST_DIR"))
        .join("tests/v1beta1")
        .join(file)
}

/// The hardware a plan buys: (pool, instance type, zone, capacity type, pods).
type Hardware = Vec<(String, String, String, String, Vec<String>)>;

async fn hardware(file: &str) -> (Hardware, Vec<NodeRow>) {
    let report = simulate(&SimulateOptions {
        paths: vec![case(file), case("workload.yaml")],
        ..Default::default()
    })
    .await
    .unwrap_or_else(|e| panic!("{file}: {e}"));
    assert!(
        report.unschedulable.is_empty(),
        "{file}: {:?}",
        report.unschedulable
    );
    assert!(report.warnings.is_empty(), "{file}: {:?}", report.warnings);
    let mut rows: Hardware = report
        .nodes
        .iter()
        .map(|n| {
            let mut pods = n.pods.clone();
            pods.sort();
            (
                n.pool.clone(),
                n.instance_type.clone(),
                n.zone.clone(),
                n.capacity_type.clone(),
                pods,
            )
        })
        .collect();
    rows.sort();
    (rows, report.nodes)
}

fn loaded(file: &str) -> Loaded {
    load_paths(&[case(file)]).unwrap_or_else(|e| panic!("{file}: {e}"))
}

fn only<T: kerf_state::Tracked + Clone>(l: &Loaded) -> T {
    let (_, obj) = l.state.objects::<T>().next().expect("one object");
    obj.clone()
}

async fn same_plan(name: &str) -> Vec<NodeRow> {
    let (beta, nodes) = hardware(&format!("{name}.v1beta1.yaml")).await;
    let (v1, _) = hardware(&format!("{name}.v1.yaml")).await;
    assert!(!beta.is_empty(), "{name}: nothing planned");
    assert_eq!(beta, v1, "{name}: v1beta1 and v1 plans differ");
    nodes
}

/// The stored NodePool and EC2NodeClass specs are the v1 twin's.
fn same_objects(name: &str, class_kubelet_moves: bool) {
    let beta = loaded(&format!("{name}.v1beta1.yaml"));
    let v1 = loaded(&format!("{name}.v1.yaml"));
    assert_eq!(
        only::<NodePool>(&beta).spec,
        only::<NodePool>(&v1).spec,
        "{name}"
    );
    let mut twin = only::<EC2NodeClass>(&v1).spec;
    if class_kubelet_moves {
        twin.kubelet = None;
    }
    assert_eq!(only::<EC2NodeClass>(&beta).spec, twin, "{name}");
}

#[tokio::test]
async fn general_purpose_plans_as_its_v1_twin() {
    same_objects("general", false);
    let nodes = same_plan("general").await;
    assert!(nodes.iter().all(|n| n.capacity_type == "on-demand"));
}

#[tokio::test]
async fn template_kubelet_plans_as_the_v1_node_class_kubelet() {
    same_objects("kubelet", true);
    let nodes = same_plan("kubelet").await;
    // maxPods 4 shapes the plan: 14 pods need at least four nodes.
    assert!(nodes.len() >= 4, "{}", nodes.len());
    assert!(nodes.iter().all(|n| n.pods.len() <= 4), "{nodes:?}");
    assert!(nodes.iter().all(|n| n.capacity_type == "spot"));
}

#[tokio::test]
async fn min_values_custom_family_and_never_expiring_plan_as_the_v1_twin() {
    same_objects("flexible", false);
    let nodes = same_plan("flexible").await;
    // minValues 3 on instance-family: three distinct families among each
    // node's options, not three types (c6g.xlarge and c6g.2xlarge are one).
    let catalog = kerf_cloud::catalog::Catalog::builtin();
    for n in &nodes {
        let families: std::collections::BTreeSet<String> = n
            .instance_type_options
            .iter()
            .map(|t| {
                catalog
                    .get(t)
                    .unwrap_or_else(|| panic!("{t} is in the catalogue"))
                    .labels(&catalog.region)
                    .get("karpenter.k8s.aws/instance-family")
                    .cloned()
                    .unwrap_or_else(|| panic!("{t} has an instance-family label"))
            })
            .collect();
        assert!(
            families.len() >= 3,
            "{}: families {families:?} across {:?}",
            n.name,
            n.instance_type_options
        );
    }
}

/// AWS v1.0 `GetKubletConfigurationWithNodePool`: the pool's carried-over
/// kubelet block outranks the EC2NodeClass's.
#[tokio::test]
async fn a_carried_over_kubelet_outranks_the_node_class_kubelet() {
    let text = std::fs::read_to_string(case("kubelet.v1.yaml")).expect("reads");
    let text = text
        .replace("maxPods: 4", "maxPods: 110")
        .replace(
            "metadata: {name: spot}\nspec:\n  template:",
            "metadata:\n  name: spot\n  annotations: {compatibility.karpenter.sh/v1beta1-kubelet-conversion: '{\"maxPods\":4,\"systemReserved\":{\"cpu\":\"200m\",\"memory\":\"200Mi\"}}'}\nspec:\n  template:",
        );
    assert!(text.contains("v1beta1-kubelet-conversion") && text.contains("maxPods: 110"));
    let dir = tempfile::tempdir().expect("tempdir");
    let file = dir.path().join("pool.yaml");
    std::fs::write(&file, text).expect("writes");
    let report = simulate(&SimulateOptions {
        paths: vec![file, case("workload.yaml")],
        ..Default::default()
    })
    .await
    .expect("simulates");
    assert!(report.nodes.iter().all(|n| n.pods.len() <= 4));
    let (beta, _) = hardware("kubelet.v1beta1.yaml").await;
    assert_eq!(beta.len(), report.nodes.len());
}

#[test]
fn a_v1beta1_nodeclaim_takes_its_pools_expire_after_even_when_read_first() {
    let mut l = Loaded::default();
    let claim = r#"
apiVersion: karpenter.sh/v1beta1
kind: NodeClaim
metadata: {name: flexible-abc, labels: {karpenter.sh/nodepool: flexible}}
spec:
  requirements: [{key: node.kubernetes.io/instance-type, operator: In, values: [c6g.xlarge]}]
  nodeClassRef: {name: custom}
"#;
    load_text(&mut l, Path::new("claim.yaml"), claim).expect("loads");
    let dir = tempfile::tempdir().expect("tempdir");
    let file = dir.path().join("a-claim.yaml");
    std::fs::write(&file, claim).expect("writes");
    // The claim's file sorts before the pool's: the pool is read after it.
    let l2 = load_paths(&[file, case("flexible.v1beta1.yaml")]).expect("loads");
    let stored = l2.state.get::<NodeClaim>("flexible-abc").expect("stored");
    assert_eq!(stored.spec.expire_after.map(|d| d.is_never()), Some(true));
    assert_eq!(stored.spec.node_class_ref.group, "karpenter.k8s.aws");
    // Without the pool, the v1 default stands.
    let alone = l.state.get::<NodeClaim>("flexible-abc").expect("stored");
    assert_eq!(
        alone.spec.expire_after.map(|d| d.to_string()).as_deref(),
        Some("720h0m0s")
    );
}

async fn load_error(text: &str) -> String {
    let dir = tempfile::tempdir().expect("tempdir");
    let file = dir.path().join("bad.yaml");
    std::fs::write(&file, text).expect("writes");
    let err = simulate(&SimulateOptions {
        paths: vec![file],
        ..Default::default()
    })
    .await
    .expect_err("refused");
    assert_eq!(err.exit_code(), 2, "{err}");
    err.to_string()
}

#[tokio::test]
async fn a_manifest_karpenter_v0_37_rejects_is_rejected_naming_the_field() {
    let pool = std::fs::read_to_string(case("general.v1beta1.yaml")).expect("reads");
    let bad = pool.replace(
        "{consolidationPolicy: WhenUnderutilized, expireAfter: 720h}",
        "{consolidationPolicy: WhenUnderutilized, consolidateAfter: 30s}",
    );
    assert_ne!(bad, pool);
    let err = load_error(&bad).await;
    assert!(err.contains("NodePool \"general\""), "{err}");
    assert!(err.contains("spec.disruption.consolidateAfter"), "{err}");

    let bad = pool.replace("  amiFamily: AL2\n", "");
    let err = load_error(&bad).await;
    assert!(
        err.contains("EC2NodeClass \"general\"") && err.contains("spec.amiFamily"),
        "{err}"
    );

    // v1 fields are unknown in v1beta1, as strict field validation says.
    let bad = pool.replace(
        "  amiFamily: AL2\n",
        "  amiFamily: AL2\n  kubelet: {maxPods: 4}\n",
    );
    let err = load_error(&bad).await;
    assert!(err.contains("spec.kubelet: unknown field"), "{err}");
}

#[test]
fn every_case_converts_with_compatibility_annotations() {
    for name in ["general", "kubelet", "flexible"] {
        let l = loaded(&format!("{name}.v1beta1.yaml"));
        let pool = only::<NodePool>(&l);
        let notes: BTreeMap<String, String> = pool.metadata.annotations.unwrap_or_default();
        assert!(
            notes.contains_key("compatibility.karpenter.sh/v1beta1-nodeclass-reference"),
            "{name}: {notes:?}"
        );
    }
}
