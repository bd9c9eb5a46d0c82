//! Existing Nodes (and the pods bound to them) take pods before anything new
//! is launched, and the report lists those placements.

use kerf_sim::{Format, SimulateOptions, render, simulate};

const MANIFESTS: &str = r#"apiVersion: karpenter.sh/v1alpha5
kind: Provisioner
metadata: {name: default}
spec:
  provider: {instanceProfile: profile}
---
apiVersion: v1
kind: Node
metadata:
  name: ip-10-0-1-17.ec2.internal
  labels:
    kubernetes.io/hostname: ip-10-0-1-17.ec2.internal
    topology.kubernetes.io/zone: us-east-1b
    node.kubernetes.io/instance-type: m5.xlarge
    kubernetes.io/os: linux
    kubernetes.io/arch: amd64
status:
  allocatable: {cpu: 3920m, memory: 14Gi, pods: "58"}
  capacity: {cpu: "4", memory: 16Gi, pods: "58"}
  conditions: [{type: Ready, status: "True"}]
---
apiVersion: v1
kind: Pod
metadata: {name: running, namespace: default}
spec:
  nodeName: ip-10-0-1-17.ec2.internal
  containers: [{name: c, image: x, resources: {requests: {cpu: "1"}}}]
---
apiVersion: apps/v1
kind: ReplicaSet
metadata: {name: workers, namespace: default}
spec:
  replicas: 5
  selector: {matchLabels: {app: workers}}
  template:
    metadata: {labels: {app: workers}}
    spec:
      containers: [{name: c, image: x, resources: {requests: {cpu: "1"}}}]
"#;

#[tokio::test]
async fn existing_capacity_is_used_first() {
    let dir = tempfile::tempdir().unwrap();
    std::fs::write(dir.path().join("all.yaml"), MANIFESTS).unwrap();
    let report = simulate(&SimulateOptions {
        paths: vec![dir.path().to_path_buf()],
        ..Default::default()
    })
    .await
    .unwrap();
    // 3920m allocatable, 1 cpu already used: two more 1-cpu pods fit there.
    assert_eq!(report.pods.pending, 5, "the bound pod is not pending");
    assert_eq!(report.existing.len(), 1);
    assert_eq!(report.existing[0].node, "ip-10-0-1-17.ec2.internal");
    assert_eq!(report.existing[0].pods.len(), 2);
    assert_eq!(report.pods.on_existing_nodes, 2);
    assert_eq!(report.pods.on_new_nodes, 3);
    assert!(report.unschedulable.is_empty());
    let names: Vec<&str> = report
        .existing
        .iter()
        .flat_map(|e| e.pods.iter().map(String::as_str))
        .chain(
            report
                .nodes
                .iter()
                .flat_map(|n| n.pods.iter().map(String::as_str)),
        )
        .collect();
    assert_eq!(names.len(), 5);
    assert!(names.iter().all(|n| n.starts_with("default/workers-")));
    let table = render(&report, Format::Table).unwrap();
    assert!(table.contains("Pods placed on existing nodes:"), "{table}");
    assert!(
        table.contains("ip-10-0-1-17.ec2.internal: default/workers-"),
        "{table}"
    );
}

#[tokio::test]
async fn statefulset_claims_and_job_pods_are_created() {
    let manifests = r#"apiVersion: karpenter.sh/v1alpha5
kind: Provisioner
metadata: {name: default}
spec:
  provider: {instanceProfile: profile}
---
apiVersion: storage.k8s.io/v1
kind: StorageClass
metadata: {name: zonal}
provisioner: ebs.csi.aws.com
volumeBindingMode: WaitForFirstConsumer
allowedTopologies:
  - matchLabelExpressions:
      - {key: topology.kubernetes.io/zone, values: [us-east-1b]}
---
apiVersion: apps/v1
kind: StatefulSet
metadata: {name: db, namespace: data}
spec:
  replicas: 2
  serviceName: db
  selector: {matchLabels: {app: db}}
  template:
    metadata: {labels: {app: db}}
    spec:
      containers: [{name: c, image: postgres, resources: {requests: {cpu: 500m}}}]
  volumeClaimTemplates:
    - metadata: {name: data}
      spec:
        storageClassName: zonal
        accessModes: [ReadWriteOnce]
        resources: {requests: {storage: 10Gi}}
---
apiVersion: batch/v1
kind: Job
metadata: {name: migrate, namespace: data}
spec:
  parallelism: 3
  completions: 2
  template:
    spec:
      restartPolicy: Never
      containers: [{name: c, image: migrate, resources: {requests: {cpu: 250m}}}]
"#;
    let dir = tempfile::tempdir().unwrap();
    std::fs::write(dir.path().join("all.yml"), manifests).unwrap();
    let report = simulate(&SimulateOptions {
        paths: vec![dir.path().to_path_buf()],
        ..Default::default()
    })
    .await
    .unwrap();
    assert!(
        report.unschedulable.is_empty(),
        "{:?}",
        report.unschedulable
    );
    let mut pods: Vec<&str> = report
        .nodes
        .iter()
        .flat_map(|n| n.pods.iter().map(String::as_str))
        .collect();
    pods.sort_unstable();
    assert_eq!(
        pods.len(),
        4,
        "2 db pods + min(parallelism 3, completions 2)"
    );
    assert_eq!(&pods[..2], ["data/db-0", "data/db-1"]);
    // The StorageClass allows only us-east-1b: the db pods' PVCs pin them there.
    for n in &report.nodes {
        if n.pods.iter().any(|p| p.starts_with("data/db-")) {
            assert_eq!(n.zone, "us-east-1b", "{n:?}");
        }
    }
}
