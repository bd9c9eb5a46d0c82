//! Capacity reservations, which kerf refuses (docs/differences.md): the
//! reservation labels (`karpenter.k8s.aws/capacity-reservation-id`, `-type`,
//! `-interruptible`) are DoesNotExist on every offering kerf launches, as
//! upstream's provider leaves them off offerings that are not reserved. A pod
//! that requires one stays pending with the key named; a pod that requires
//! their absence is planned.

use kerf_sim::{Report, SimulateOptions, simulate};

const NODE_POOL: &str = r#"apiVersion: karpenter.sh/v1
kind: NodePool
metadata: {name: default}
spec:
  template:
    spec:
      nodeClassRef: {group: karpenter.k8s.aws, kind: EC2NodeClass, name: default}
      requirements:
        - {key: karpenter.k8s.aws/instance-family, operator: In, values: [m5]}
---
apiVersion: karpenter.k8s.aws/v1
kind: EC2NodeClass
metadata: {name: default}
spec:
  role: KarpenterNodeRole
  amiSelectorTerms: [{alias: al2023@latest}]
  subnetSelectorTerms: [{tags: {karpenter.sh/discovery: test}}]
  securityGroupSelectorTerms: [{tags: {karpenter.sh/discovery: test}}]
"#;

async fn plan(pod_spec: &str) -> Report {
    let dir = tempfile::tempdir().unwrap();
    let pod = format!(
        "apiVersion: v1\nkind: Pod\nmetadata: {{name: p, namespace: default}}\nspec:\n{pod_spec}\n  containers: [{{name: c, image: x, resources: {{requests: {{cpu: \"1\"}}}}}}]\n"
    );
    std::fs::write(
        dir.path().join("all.yaml"),
        format!("{NODE_POOL}---\n{pod}"),
    )
    .unwrap();
    simulate(&SimulateOptions {
        paths: vec![dir.path().to_path_buf()],
        ..Default::default()
    })
    .await
    .unwrap()
}

#[tokio::test]
async fn a_pod_requiring_a_reservation_label_stays_pending_with_the_key_named() {
    for key in [
        "karpenter.k8s.aws/capacity-reservation-id",
        "karpenter.k8s.aws/capacity-reservation-type",
        "karpenter.k8s.aws/capacity-reservation-interruptible",
    ] {
        let report = plan(&format!("  nodeSelector: {{{key}: \"x\"}}")).await;
        assert!(report.nodes.is_empty(), "{key}: {:?}", report.nodes);
        let [u] = report.unschedulable.as_slice() else {
            panic!("{key}: {:?}", report.unschedulable);
        };
        assert!(u.reason.contains(key), "{key}: {}", u.reason);
    }
}

#[tokio::test]
async fn a_pod_requiring_no_reservation_is_planned() {
    let report = plan(
        "  affinity:\n    nodeAffinity:\n      requiredDuringSchedulingIgnoredDuringExecution:\n        nodeSelectorTerms:\n          - matchExpressions:\n              - {key: karpenter.k8s.aws/capacity-reservation-id, operator: DoesNotExist}",
    )
    .await;
    assert!(
        report.unschedulable.is_empty(),
        "{:?}",
        report.unschedulable
    );
    assert_eq!(report.nodes.len(), 1);
}
