//! The workload and the NodePools. Both controllers get the same NodePool
//! requirements, limits and disruption settings; only the node class differs
//! (upstream's kwok build knows KWOKNodeClass, kerf knows EC2NodeClass). The
//! EC2NodeClass reserves what upstream's kwok instance types reserve
//! (kubeReserved 100m CPU and 10Mi memory), so a node of one type has the same
//! CPU allocatable under both controllers.

/// The NodePool spec both controllers get, with the node class reference
/// filled in. Consolidation is off (`consolidateAfter: Never`) so the run
/// measures scale-up only.
fn node_pool(class_group: &str, class_kind: &str) -> String {
    format!(
        r#"apiVersion: karpenter.sh/v1
kind: NodePool
metadata:
  name: default
spec:
  template:
    spec:
      requirements:
        - key: kubernetes.io/arch
          operator: In
          values: ["amd64"]
        - key: kubernetes.io/os
          operator: In
          values: ["linux"]
        - key: karpenter.sh/capacity-type
          operator: In
          values: ["spot", "on-demand"]
      nodeClassRef:
        group: {class_group}
        kind: {class_kind}
        name: default
      expireAfter: Never
  limits:
    cpu: "4000"
  disruption:
    consolidationPolicy: WhenEmptyOrUnderutilized
    consolidateAfter: Never
"#
    )
}

/// Upstream's NodePool and KWOKNodeClass (its status is set Ready separately:
/// nothing in upstream's kwok build does that, and a NodePool whose class is
/// not Ready launches nothing).
pub fn upstream_node_pool() -> String {
    node_pool("karpenter.kwok.sh", "KWOKNodeClass")
        + r#"---
apiVersion: karpenter.kwok.sh/v1alpha1
kind: KWOKNodeClass
metadata:
  name: default
"#
}

/// The status patch that makes the KWOKNodeClass Ready.
pub const KWOK_NODE_CLASS_READY: &str = r#"{"status":{"conditions":[{"type":"Ready","status":"True","reason":"Ready","message":"","lastTransitionTime":"2026-01-01T00:00:00Z","observedGeneration":1}]}}"#;

/// kerf's NodePool and EC2NodeClass (the AWS fields are required by the API
/// and unused by the kwok provider).
pub fn kerf_node_pool() -> String {
    node_pool("karpenter.k8s.aws", "EC2NodeClass")
        + r#"---
apiVersion: karpenter.k8s.aws/v1
kind: EC2NodeClass
metadata:
  name: default
spec:
  role: KarpenterNodeRole-h2h
  amiSelectorTerms:
    - alias: al2023@latest
  subnetSelectorTerms:
    - tags: {karpenter.sh/discovery: h2h}
  securityGroupSelectorTerms:
    - tags: {karpenter.sh/discovery: h2h}
  kubelet:
    kubeReserved:
      cpu: 100m
      memory: 10Mi
"#
}
