//! Builders for scheduler tests: a small EC2-like catalogue, templates and pods from YAML.
#![allow(dead_code)]

use std::collections::BTreeMap;
use std::sync::Arc;

use k8s_openapi::api::core::v1::Pod;
use kerf_core::instance_type::{InstanceType, Offering, Overhead};
use kerf_core::requirements::{Requirement, Requirements};
use kerf_core::resources::Resources;
use kerf_core::snapshot::{ExistingNode, Snapshot};
use kerf_core::template::{NodeTemplate, PoolKind, PoolRef};

pub const ZONES: [&str; 3] = ["zone-a", "zone-b", "zone-c"];

/// `name`, vcpu, GiB, price on-demand; spot is 40% with a small per-zone difference.
pub fn instance(name: &str, vcpu: i64, gib: i64, price: f64, arch: &str) -> Arc<InstanceType> {
    let mut labels = BTreeMap::new();
    labels.insert("kubernetes.io/arch".to_string(), arch.to_string());
    labels.insert("kubernetes.io/os".to_string(), "linux".to_string());
    labels.insert(
        "karpenter.k8s.aws/instance-family".to_string(),
        name.split('.').next().unwrap_or(name).to_string(),
    );
    let mut offerings = Vec::new();
    for (i, z) in ZONES.iter().enumerate() {
        offerings.push(Offering {
            zone: z.to_string(),
            capacity_type: "on-demand".into(),
            price,
            available: true,
            zone_id: None,
        });
        offerings.push(Offering {
            zone: z.to_string(),
            capacity_type: "spot".into(),
            price: price * (0.4 + 0.01 * i as f64),
            available: true,
            zone_id: None,
        });
    }
    let overhead = Overhead {
        kube_reserved: Resources::new(100, 256 << 20, 0),
        ..Default::default()
    };
    Arc::new(InstanceType::new(
        name,
        labels,
        Resources::new(vcpu * 1000, gib << 30, 58),
        overhead,
        offerings,
    ))
}

pub fn catalogue() -> Vec<Arc<InstanceType>> {
    vec![
        instance("m.large", 2, 8, 0.096, "amd64"),
        instance("m.xlarge", 4, 16, 0.192, "amd64"),
        instance("m.2xlarge", 8, 32, 0.384, "amd64"),
        instance("m.4xlarge", 16, 64, 0.768, "amd64"),
        instance("c.large", 2, 4, 0.085, "amd64"),
        instance("c.xlarge", 4, 8, 0.17, "amd64"),
        instance("g.large", 2, 8, 0.08, "arm64"),
    ]
}

pub fn template(name: &str, reqs: &[(&str, &str, &[&str])]) -> NodeTemplate {
    let requirements: Requirements = reqs
        .iter()
        .map(|(k, op, vs)| {
            Requirement::new(k, op, &vs.iter().map(|s| s.to_string()).collect::<Vec<_>>())
                .expect("valid requirement")
        })
        .collect();
    NodeTemplate::new(
        PoolRef {
            kind: PoolKind::Provisioner,
            name: name.into(),
        },
        requirements,
        catalogue(),
    )
}

pub fn pod(yaml: &str) -> Pod {
    serde_yaml::from_str(yaml).expect("test pod yaml")
}

/// `n` pods named `<prefix>-<i>` from one spec (YAML of the pod spec, indented 2).
pub fn pods(prefix: &str, n: usize, labels: &str, spec: &str) -> Vec<Pod> {
    (0..n)
        .map(|i| pod(&format!("metadata:\n  name: {prefix}-{i}\n  namespace: default\n  labels: {labels}\nspec:\n{spec}")))
        .collect()
}

pub fn snapshot(templates: Vec<NodeTemplate>, pending: Vec<Pod>) -> Snapshot {
    Snapshot {
        templates,
        pending: pending.into_iter().map(std::sync::Arc::new).collect(),
        ..Default::default()
    }
}

pub fn node_of<'a>(plan: &'a kerf_core::plan::Plan, pod: &str) -> &'a kerf_core::plan::PlannedNode {
    plan.new_nodes
        .iter()
        .find(|n| n.pods.iter().any(|p| p.name == pod))
        .unwrap_or_else(|| panic!("pod {pod} not on a new node: {:?}", plan.unschedulable))
}

/// A node in zone-a with `allocatable` and nothing on it: registered, or
/// still launching with `in_flight`.
pub fn existing_node(name: &str, allocatable: Resources, in_flight: bool) -> ExistingNode {
    ExistingNode {
        name: name.into(),
        labels: [(
            "topology.kubernetes.io/zone".to_string(),
            "zone-a".to_string(),
        )]
        .into_iter()
        .collect(),
        taints: Vec::new(),
        allocatable,
        pods: Vec::new(),
        pool: None,
        in_flight,
        marked_for_deletion: false,
        unschedulable: false,
    }
}
