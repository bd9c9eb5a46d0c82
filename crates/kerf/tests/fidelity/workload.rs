//! Seeded random workloads for the fidelity test: bare Pods in groups, each
//! group with one constraint kind the scheduling core supports, written as
//! JSON manifests that both `kubectl apply` and `kerf simulate` read.

use rand::Rng;
use rand::seq::IndexedRandom;
use rand_chacha::ChaCha8Rng;
use serde_json::{Value, json};

pub const ZONES: [&str; 3] = ["us-east-1a", "us-east-1b", "us-east-1c"];
pub const TAINT_KEY: &str = "fidelity.kerf.dev/dedicated";

/// Two Provisioners: an open one over three zones, both arches and both
/// capacity types, and a tainted one only tolerating pods may use. Short
/// `ttlSecondsAfterEmpty` so the nodes of one workload are gone before the next.
pub const PROVISIONERS: &str = r#"apiVersion: karpenter.sh/v1alpha5
kind: Provisioner
metadata:
  name: default
spec:
  requirements:
    - key: "topology.kubernetes.io/zone"
      operator: In
      values: ["us-east-1a", "us-east-1b", "us-east-1c"]
    - key: "kubernetes.io/arch"
      operator: In
      values: ["arm64", "amd64"]
    - key: "karpenter.sh/capacity-type"
      operator: In
      values: ["spot", "on-demand"]
    - key: "karpenter.k8s.aws/instance-category"
      operator: In
      values: ["c", "m", "r"]
  provider:
    instanceProfile: KarpenterNodeInstanceProfile-eks-blueprint
  ttlSecondsAfterEmpty: 5
---
apiVersion: karpenter.sh/v1alpha5
kind: Provisioner
metadata:
  name: tainted
spec:
  taints:
    - key: "fidelity.kerf.dev/dedicated"
      value: "batch"
      effect: NoSchedule
  requirements:
    - key: "karpenter.sh/capacity-type"
      operator: In
      values: ["on-demand"]
    - key: "karpenter.k8s.aws/instance-category"
      operator: In
      values: ["c", "m"]
  provider:
    instanceProfile: KarpenterNodeInstanceProfile-eks-blueprint
  ttlSecondsAfterEmpty: 5
"#;

/// The constraint a group of pods carries.
#[derive(Clone, Copy, Debug)]
pub enum Constraint {
    None,
    ZoneSelector,
    ArchSelector,
    CapacityTypeSelector,
    RequiredNodeAffinity,
    ZoneSpread,
    HostnameAntiAffinity,
    HostnamePodAffinity,
    TaintedPool,
}

const KINDS: [Constraint; 9] = [
    Constraint::None,
    Constraint::ZoneSelector,
    Constraint::ArchSelector,
    Constraint::CapacityTypeSelector,
    Constraint::RequiredNodeAffinity,
    Constraint::ZoneSpread,
    Constraint::HostnameAntiAffinity,
    Constraint::HostnamePodAffinity,
    Constraint::TaintedPool,
];

pub struct Group {
    pub replicas: usize,
    pub constraint: Constraint,
    pub pods: Vec<Value>,
}

pub struct Workload {
    pub name: String,
    pub groups: Vec<Group>,
}

impl Workload {
    pub fn pod_count(&self) -> usize {
        self.groups.iter().map(|g| g.pods.len()).sum()
    }

    pub fn describe(&self) -> String {
        self.groups
            .iter()
            .map(|g| format!("{}×{:?}", g.replicas, g.constraint))
            .collect::<Vec<_>>()
            .join(", ")
    }
}

fn self_term(app: &str) -> Value {
    json!({
        "labelSelector": {"matchLabels": {"app": app}},
        "topologyKey": "kubernetes.io/hostname"
    })
}

fn group(rng: &mut ChaCha8Rng, workload: &str, index: usize) -> Group {
    let app = format!("{workload}-g{index}");
    let constraint = *KINDS.choose(rng).expect("non-empty");
    let replicas = rng.random_range(1..=5);
    // Pod affinity puts the whole group on one node: keep it small enough
    // for a common instance type.
    let cpus: &[&str] = match constraint {
        Constraint::HostnamePodAffinity => &["100m", "250m", "500m"],
        _ => &["100m", "250m", "500m", "1", "1500m", "3"],
    };
    let cpu = *cpus.choose(rng).expect("non-empty");
    let memory = *["64Mi", "256Mi", "1Gi", "3Gi"]
        .choose(rng)
        .expect("non-empty");
    let zone = *ZONES.choose(rng).expect("non-empty");
    let arch = *["amd64", "arm64"].choose(rng).expect("non-empty");
    let capacity = *["spot", "on-demand"].choose(rng).expect("non-empty");
    let mut spec = json!({
        "terminationGracePeriodSeconds": 0,
        "containers": [{
            "name": "pause",
            "image": "registry.k8s.io/pause:3.9",
            "resources": {"requests": {"cpu": cpu, "memory": memory}}
        }]
    });
    match constraint {
        Constraint::None => {}
        Constraint::ZoneSelector => {
            spec["nodeSelector"] = json!({"topology.kubernetes.io/zone": zone});
        }
        Constraint::ArchSelector => {
            spec["nodeSelector"] = json!({"kubernetes.io/arch": arch});
        }
        Constraint::CapacityTypeSelector => {
            spec["nodeSelector"] = json!({"karpenter.sh/capacity-type": capacity});
        }
        Constraint::RequiredNodeAffinity => {
            let others: Vec<&str> = ZONES.iter().copied().filter(|z| *z != zone).collect();
            spec["affinity"] = json!({"nodeAffinity": {
                "requiredDuringSchedulingIgnoredDuringExecution": {"nodeSelectorTerms": [{
                    "matchExpressions": [
                        {"key": "topology.kubernetes.io/zone", "operator": "In", "values": others},
                        {"key": "karpenter.k8s.aws/instance-category", "operator": "In", "values": ["c", "m"]}
                    ]
                }]}
            }});
        }
        Constraint::ZoneSpread => {
            spec["topologySpreadConstraints"] = json!([{
                "maxSkew": 1,
                "topologyKey": "topology.kubernetes.io/zone",
                "whenUnsatisfiable": "DoNotSchedule",
                "labelSelector": {"matchLabels": {"app": app}}
            }]);
        }
        Constraint::HostnameAntiAffinity => {
            spec["affinity"] = json!({"podAntiAffinity": {
                "requiredDuringSchedulingIgnoredDuringExecution": [self_term(&app)]
            }});
        }
        Constraint::HostnamePodAffinity => {
            spec["affinity"] = json!({"podAffinity": {
                "requiredDuringSchedulingIgnoredDuringExecution": [self_term(&app)]
            }});
        }
        Constraint::TaintedPool => {
            spec["tolerations"] = json!([{
                "key": TAINT_KEY, "operator": "Equal", "value": "batch", "effect": "NoSchedule"
            }]);
            spec["nodeSelector"] = json!({"karpenter.sh/provisioner-name": "tainted"});
        }
    }
    let pods = (0..replicas)
        .map(|i| {
            json!({
                "apiVersion": "v1",
                "kind": "Pod",
                "metadata": {
                    "name": format!("{app}-{i}"),
                    "namespace": "default",
                    "labels": {"app": app, "fidelity": workload}
                },
                "spec": spec
            })
        })
        .collect();
    Group {
        replicas,
        constraint,
        pods,
    }
}

/// One workload: two to four groups.
pub fn generate(rng: &mut ChaCha8Rng, name: &str) -> Workload {
    let groups = (0..rng.random_range(2..=4))
        .map(|i| group(rng, name, i))
        .collect();
    Workload {
        name: name.to_string(),
        groups,
    }
}

/// Writes the workload's pods (one multi-document file) into `dir`.
pub fn write_pods(dir: &std::path::Path, workload: &Workload) -> std::path::PathBuf {
    let docs: Vec<String> = workload
        .groups
        .iter()
        .flat_map(|g| g.pods.iter())
        .map(|p| serde_json::to_string(p).expect("json"))
        .collect();
    let path = dir.join(format!("{}-pods.yaml", workload.name));
    std::fs::write(&path, docs.join("\n---\n")).expect("write pods");
    path
}
