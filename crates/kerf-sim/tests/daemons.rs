//! DaemonSet pods on the input's existing Nodes: created where the DaemonSet
//! would schedule (selectors, affinity, tolerations), charged against the
//! node's allocatable, never doubled when the input lists one already.

use std::path::{Path, PathBuf};

use k8s_openapi::api::core::v1::Pod;
use kerf_sim::load::{Loaded, load_paths, load_text};
use kerf_sim::{Report, SimulateOptions, daemons, simulate};

fn example() -> PathBuf {
    PathBuf::from(env!("CARGO_MANIFEST_DIR")).join("../../examples/existing-daemonsets")
}

/// Daemon pods in the state: (daemonset, node).
fn daemon_pods(loaded: &Loaded) -> Vec<(String, String)> {
    let mut out: Vec<(String, String)> = loaded
        .state
        .objects::<Pod>()
        .filter_map(|(_, p)| {
            let owner = p.metadata.owner_references.as_ref()?.first()?;
            let node = p.spec.as_ref()?.node_name.clone()?;
            (owner.kind == "DaemonSet").then(|| (owner.name.clone(), node))
        })
        .collect();
    out.sort();
    out
}

async fn simulate_dir(dir: &Path) -> Report {
    simulate(&SimulateOptions {
        paths: vec![dir.to_path_buf()],
        ..Default::default()
    })
    .await
    .unwrap()
}

#[test]
fn only_daemonsets_that_schedule_on_the_node_get_a_pod() {
    let mut loaded = load_paths(&[example()]).unwrap();
    assert_eq!(daemons::materialise(&mut loaded.state).unwrap(), 1);
    assert_eq!(
        daemon_pods(&loaded),
        vec![(
            "node-agent".to_string(),
            "ip-10-0-0-1.ec2.internal".to_string()
        )],
        "arm-tuner selects arm64; log-shipper does not tolerate team=infra"
    );
    // Running again creates nothing: the pod is there now.
    assert_eq!(daemons::materialise(&mut loaded.state).unwrap(), 0);
}

#[tokio::test]
async fn daemon_pods_take_room_on_existing_nodes() {
    let report = simulate_dir(&example()).await;
    assert!(report.warnings.is_empty(), "{:?}", report.warnings);
    assert!(
        report.unschedulable.is_empty(),
        "{:?}",
        report.unschedulable
    );
    assert!(
        report.existing.is_empty(),
        "node-agent leaves 1 CPU, api needs 1.5: {:?}",
        report.existing
    );
    assert_eq!(report.nodes.len(), 1);
    assert_eq!(report.nodes[0].pods.len(), 1);
    assert!(report.nodes[0].pods[0].starts_with("default/api-"));
    assert_eq!(report.pods.pending, 1, "daemon pods are not pending");

    // The same cluster without node-agent: the node holds api.
    let dir = tempfile::tempdir().unwrap();
    for file in ["provisioner.yaml", "api.yaml"] {
        std::fs::copy(example().join(file), dir.path().join(file)).unwrap();
    }
    let cluster = std::fs::read_to_string(example().join("cluster.yaml")).unwrap();
    let without_agent: Vec<&str> = cluster
        .split("\n---\n")
        .filter(|doc| !doc.contains("name: node-agent"))
        .collect();
    std::fs::write(
        dir.path().join("cluster.yaml"),
        without_agent.join("\n---\n"),
    )
    .unwrap();
    let report = simulate_dir(dir.path()).await;
    assert!(report.nodes.is_empty(), "{:?}", report.nodes);
    assert_eq!(report.existing.len(), 1);
    assert_eq!(report.existing[0].node, "ip-10-0-0-1.ec2.internal");
}

const TWO_NODES: &str = r#"apiVersion: v1
kind: Node
metadata:
  name: node-a
  labels: {kubernetes.io/arch: amd64, topology.kubernetes.io/zone: us-east-1a}
status:
  allocatable: {cpu: "2", memory: 7Gi, pods: "29"}
  conditions: [{type: Ready, status: "True"}]
---
apiVersion: v1
kind: Node
metadata:
  name: node-b
  labels: {kubernetes.io/arch: amd64, topology.kubernetes.io/zone: us-east-1b}
status:
  allocatable: {cpu: "2", memory: 7Gi, pods: "29"}
  conditions: [{type: Ready, status: "True"}]
---
apiVersion: apps/v1
kind: DaemonSet
metadata: {name: pinned, namespace: kube-system}
spec:
  selector: {matchLabels: {app: pinned}}
  template:
    metadata: {labels: {app: pinned}}
    spec:
      affinity:
        nodeAffinity:
          requiredDuringSchedulingIgnoredDuringExecution:
            nodeSelectorTerms:
              - matchFields: [{key: metadata.name, operator: In, values: [node-b]}]
      containers: [{name: c, image: x, resources: {requests: {cpu: 500m}}}]
---
apiVersion: apps/v1
kind: DaemonSet
metadata: {name: everywhere, namespace: kube-system}
spec:
  selector: {matchLabels: {app: everywhere}}
  template:
    metadata: {labels: {app: everywhere}}
    spec:
      containers: [{name: c, image: x, resources: {requests: {cpu: 100m}}}]
---
# The input already lists node-a's "everywhere" pod.
apiVersion: v1
kind: Pod
metadata:
  name: everywhere-x7k2p
  namespace: kube-system
  labels: {app: everywhere}
  ownerReferences: [{apiVersion: apps/v1, kind: DaemonSet, name: everywhere, uid: u, controller: true}]
spec:
  nodeName: node-a
  containers: [{name: c, image: x, resources: {requests: {cpu: 100m}}}]
status: {phase: Running}
"#;

#[test]
fn node_affinity_is_honoured_and_listed_pods_are_kept() {
    let mut loaded = Loaded::default();
    load_text(&mut loaded, Path::new("nodes.yaml"), TWO_NODES).unwrap();
    assert_eq!(daemons::materialise(&mut loaded.state).unwrap(), 2);
    assert_eq!(
        daemon_pods(&loaded),
        vec![
            ("everywhere".to_string(), "node-a".to_string()),
            ("everywhere".to_string(), "node-b".to_string()),
            ("pinned".to_string(), "node-b".to_string()),
        ]
    );
}

/// A DaemonSet whose pods would be refused is refused when read, naming the
/// field in its template (before, only materialising its pods failed).
#[test]
fn an_unreadable_daemonset_is_an_error_naming_it() {
    let bad = TWO_NODES.replace("cpu: 500m", "cpu: lots");
    let mut loaded = Loaded::default();
    let err = load_text(&mut loaded, Path::new("nodes.yaml"), &bad)
        .unwrap_err()
        .to_string();
    assert!(
        err.contains("nodes.yaml: document 3 (DaemonSet \"kube-system/pinned\")")
            && err.contains("spec.template.spec.containers[0].resources[cpu]"),
        "{err}"
    );
}

/// DaemonSet pods count against the input's pod limit too.
#[test]
fn daemon_pods_beyond_the_pod_limit_are_refused() {
    let full = format!(
        "{TWO_NODES}---\napiVersion: apps/v1\nkind: ReplicaSet\nmetadata: {{name: web, namespace: default}}\nspec:\n  replicas: {}\n  selector: {{matchLabels: {{app: web}}}}\n  template:\n    metadata: {{labels: {{app: web}}}}\n    spec: {{containers: [{{name: c, image: x}}]}}\n",
        kerf_sim::limits::MAX_PODS - 1
    );
    let mut loaded = Loaded::default();
    load_text(&mut loaded, Path::new("nodes.yaml"), &full).unwrap();
    let err = daemons::materialise(&mut loaded.state)
        .unwrap_err()
        .to_string();
    assert!(
        err.contains("at most 100000 pods in total") && err.contains("DaemonSet"),
        "{err}"
    );
}
