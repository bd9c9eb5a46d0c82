//! Helpers: objects from YAML, the seed Provisioner, and pods.
#![allow(dead_code)]

use k8s_openapi::api::core::v1::Pod;
use kerf_api::v1::{EC2NodeClass, NodePool};
use kerf_api::v1alpha5::Provisioner;
use kerf_state::ClusterState;

pub fn yaml<T: serde::de::DeserializeOwned>(text: &str) -> T {
    serde_yaml::from_str(text).unwrap()
}

pub const SEED: &str = include_str!("../../../../examples/seed/provisioner.yaml");

pub fn seed_provisioner() -> Provisioner {
    yaml(SEED)
}

pub fn node_pool(name: &str, extra_spec: &str) -> (NodePool, EC2NodeClass) {
    let np = yaml(&format!(
        r#"
apiVersion: karpenter.sh/v1
kind: NodePool
metadata: {{name: {name}, uid: 0f6a7c2e-1111-2222-3333-444455556666}}
spec:
  template:
    spec:
      nodeClassRef: {{group: karpenter.k8s.aws, kind: EC2NodeClass, name: {name}}}
      requirements:
        - {{key: node.kubernetes.io/instance-type, operator: In, values: [m5.large, m5.xlarge, c5.xlarge]}}
        - {{key: topology.kubernetes.io/zone, operator: In, values: [us-east-1a]}}
{extra_spec}
"#
    ));
    let class = yaml(&format!(
        r#"
apiVersion: karpenter.k8s.aws/v1
kind: EC2NodeClass
metadata: {{name: {name}}}
spec:
  role: KarpenterNodeRole
  amiSelectorTerms: [{{alias: al2023@latest}}]
  subnetSelectorTerms: [{{tags: {{karpenter.sh/discovery: test}}}}]
  securityGroupSelectorTerms: [{{tags: {{karpenter.sh/discovery: test}}}}]
"#
    ));
    (np, class)
}

/// An unbound pod requesting `cpu`; `unschedulable` sets the PodScheduled condition.
pub fn pod(name: &str, cpu: &str, unschedulable: bool) -> Pod {
    let status = if unschedulable {
        "status: {conditions: [{type: PodScheduled, status: 'False', reason: Unschedulable}]}"
    } else {
        ""
    };
    yaml(&format!(
        r#"
apiVersion: v1
kind: Pod
metadata: {{name: {name}, namespace: default, labels: {{app: test}}}}
spec:
  containers: [{{name: c, image: pause, resources: {{requests: {{cpu: "{cpu}"}}}}}}]
{status}
"#
    ))
}

pub fn seed_state(pods: usize) -> ClusterState {
    let mut state = ClusterState::new();
    state.apply(seed_provisioner()).unwrap();
    for i in 0..pods {
        state
            .apply(pod(&format!("inflate-{i}"), "1", true))
            .unwrap();
    }
    state
}
