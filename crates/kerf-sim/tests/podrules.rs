//! `kerf simulate` over manifests for issue 27 items 4 to 6, each plan also
//! passing kerf's own validator (no warnings): pod-level resources size the
//! node, a StorageClass's allowedTopologies entries and a PV's
//! nodeSelectorTerms are alternatives, a local volume's hostname affinity is
//! ignored, and the running pods of a disrupted node get a new node.

use kerf_sim::{Report, SimulateOptions, simulate};

const PROVISIONER: &str = r#"apiVersion: karpenter.sh/v1alpha5
kind: Provisioner
metadata: {name: default}
spec:
  requirements:
    - {key: node.kubernetes.io/instance-type, operator: In, values: [m5.large, m5.2xlarge]}
    - {key: karpenter.sh/capacity-type, operator: In, values: [on-demand]}
  provider: {instanceProfile: profile}
"#;

async fn plan(manifests: &str) -> Report {
    let dir = tempfile::tempdir().unwrap();
    std::fs::write(
        dir.path().join("all.yaml"),
        format!("{PROVISIONER}---\n{manifests}"),
    )
    .unwrap();
    let report = simulate(&SimulateOptions {
        paths: vec![dir.path().to_path_buf()],
        ..Default::default()
    })
    .await
    .unwrap();
    assert!(report.warnings.is_empty(), "{:?}", report.warnings);
    report
}

/// Item 4: a 3-cpu pod-level request on 100m of containers needs the 8-cpu
/// type; the containers alone fit the 2-cpu one.
#[tokio::test]
async fn pod_level_requests_choose_the_instance_type() {
    let report = plan(
        r#"apiVersion: v1
kind: Pod
metadata: {name: big, namespace: default}
spec:
  resources: {requests: {cpu: "3"}}
  containers: [{name: c, image: x, resources: {requests: {cpu: 100m}}}]
"#,
    )
    .await;
    assert!(
        report.unschedulable.is_empty(),
        "{:?}",
        report.unschedulable
    );
    assert_eq!(report.nodes.len(), 1);
    assert_eq!(report.nodes[0].instance_type, "m5.2xlarge");
    assert!(
        report.nodes[0].cpu.requested.starts_with('3'),
        "{:?}",
        report.nodes[0].cpu
    );
}

/// Item 5: two entries of allowedTopologies, two pods that must not share a
/// zone: one node in each allowed zone.
#[tokio::test]
async fn storage_class_entries_are_alternatives() {
    let mut manifests = String::from(
        r#"apiVersion: storage.k8s.io/v1
kind: StorageClass
metadata: {name: two-zones}
provisioner: ebs.csi.aws.com
volumeBindingMode: WaitForFirstConsumer
allowedTopologies:
  - matchLabelExpressions: [{key: topology.kubernetes.io/zone, values: [us-east-1a]}]
  - matchLabelExpressions: [{key: topology.kubernetes.io/zone, values: [us-east-1b]}]
"#,
    );
    for i in 0..2 {
        manifests.push_str(&format!(
            r#"---
apiVersion: v1
kind: PersistentVolumeClaim
metadata: {{name: data-{i}, namespace: default}}
spec: {{storageClassName: two-zones, accessModes: [ReadWriteOnce], resources: {{requests: {{storage: 1Gi}}}}}}
---
apiVersion: v1
kind: Pod
metadata: {{name: db-{i}, namespace: default, labels: {{app: db}}}}
spec:
  affinity:
    podAntiAffinity:
      requiredDuringSchedulingIgnoredDuringExecution:
        - {{labelSelector: {{matchLabels: {{app: db}}}}, topologyKey: topology.kubernetes.io/zone}}
  containers: [{{name: c, image: x, resources: {{requests: {{cpu: 100m}}}}}}]
  volumes: [{{name: data, persistentVolumeClaim: {{claimName: data-{i}}}}}]
"#
        ));
    }
    let report = plan(&manifests).await;
    assert!(
        report.unschedulable.is_empty(),
        "{:?}",
        report.unschedulable
    );
    let mut zones: Vec<&str> = report.nodes.iter().map(|n| n.zone.as_str()).collect();
    zones.sort();
    assert_eq!(zones, ["us-east-1a", "us-east-1b"]);
}

/// Item 5: a local PV pinned to a node that is gone still lets its pod be
/// planned (the hostname is ignored; the zone term is kept).
#[tokio::test]
async fn local_volume_hostname_is_ignored() {
    let report = plan(
        r#"apiVersion: v1
kind: PersistentVolume
metadata: {name: local-pv}
spec:
  capacity: {storage: 10Gi}
  accessModes: [ReadWriteOnce]
  storageClassName: local
  local: {path: /mnt/disks/ssd1}
  nodeAffinity:
    required:
      nodeSelectorTerms:
        - matchExpressions:
            - {key: kubernetes.io/hostname, operator: In, values: [ip-10-0-0-1.ec2.internal]}
            - {key: topology.kubernetes.io/zone, operator: In, values: [us-east-1c]}
---
apiVersion: v1
kind: PersistentVolumeClaim
metadata: {name: cache, namespace: default}
spec: {volumeName: local-pv, storageClassName: local, accessModes: [ReadWriteOnce], resources: {requests: {storage: 10Gi}}}
---
apiVersion: v1
kind: Pod
metadata: {name: cache, namespace: default}
spec:
  containers: [{name: c, image: x, resources: {requests: {cpu: 100m}}}]
  volumes: [{name: data, persistentVolumeClaim: {claimName: cache}}]
"#,
    )
    .await;
    assert!(
        report.unschedulable.is_empty(),
        "{:?}",
        report.unschedulable
    );
    assert_eq!(report.nodes.len(), 1);
    assert_eq!(report.nodes[0].zone, "us-east-1c");
}

/// Item 6: the running pods of a node tainted karpenter.sh/disrupted are
/// planned onto new capacity; the disrupted node takes none.
#[tokio::test]
async fn pods_of_a_disrupted_node_get_a_new_node() {
    let mut manifests = String::from(
        r#"apiVersion: v1
kind: Node
metadata:
  name: old
  labels: {karpenter.sh/provisioner-name: default, node.kubernetes.io/instance-type: m5.2xlarge, topology.kubernetes.io/zone: us-east-1a, kubernetes.io/arch: amd64, kubernetes.io/os: linux}
spec:
  taints: [{key: karpenter.sh/disrupted, effect: NoSchedule}]
status:
  allocatable: {cpu: 7910m, memory: 28Gi, pods: "58"}
  capacity: {cpu: "8", memory: 32Gi, pods: "58"}
  conditions: [{type: Ready, status: "True"}]
"#,
    );
    for i in 0..2 {
        manifests.push_str(&format!(
            r#"---
apiVersion: v1
kind: Pod
metadata: {{name: web-{i}, namespace: default}}
spec:
  nodeName: old
  containers: [{{name: c, image: x, resources: {{requests: {{cpu: "1"}}}}}}]
status: {{phase: Running}}
"#
        ));
    }
    let report = plan(&manifests).await;
    assert!(
        report.unschedulable.is_empty(),
        "{:?}",
        report.unschedulable
    );
    assert!(report.existing.is_empty(), "{:?}", report.existing);
    let mut pods: Vec<&str> = report
        .nodes
        .iter()
        .flat_map(|n| n.pods.iter().map(String::as_str))
        .collect();
    pods.sort();
    assert_eq!(pods, ["default/web-0", "default/web-1"]);
    assert_eq!(report.pods.pending, 2, "both counted as needing capacity");
}
