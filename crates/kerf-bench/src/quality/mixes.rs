//! The cost-quality workloads: seeded pod mixes shaped like real clusters, and
//! the two NodePools they run on (a general on-demand pool of c, m and r types,
//! as in Karpenter's example NodePool, and a tainted on-demand GPU pool), as a
//! [`ClusterState`] the provisioning path reads exactly as `kerf simulate` does.

use std::collections::BTreeMap;
use std::fmt;

use k8s_openapi::api::core::v1::{
    Container, Pod, PodSpec, ResourceRequirements, Toleration, TopologySpreadConstraint,
};
use k8s_openapi::apimachinery::pkg::api::resource::Quantity;
use k8s_openapi::apimachinery::pkg::apis::meta::v1::{LabelSelector, ObjectMeta};
use kerf_api::v1::{EC2NodeClass, NodePool};
use kerf_state::ClusterState;
use rand::{Rng, SeedableRng};
use rand_chacha::ChaCha8Rng;

use crate::ZONE;

/// One realistic workload shape.
#[derive(Clone, Copy, Debug, PartialEq, Eq, PartialOrd, Ord)]
pub enum Mix {
    /// Services of 10–30 small replicas, each spread over zones (maxSkew 1).
    Web,
    /// Jobs of large-cpu pods (2–16 cores, 1–4 GiB per core).
    Batch,
    /// r-family-shaped services (6–8 GiB per core).
    Memory,
    /// Pods asking for 1 or 4 `nvidia.com/gpu`, tolerating the GPU pool's taint.
    Gpu,
    /// 50% web, 20% batch, 20% memory, 10% GPU.
    All,
}

pub const MIXES: [Mix; 5] = [Mix::Web, Mix::Batch, Mix::Memory, Mix::Gpu, Mix::All];

impl fmt::Display for Mix {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(match self {
            Mix::Web => "web",
            Mix::Batch => "batch",
            Mix::Memory => "memory",
            Mix::Gpu => "gpu",
            Mix::All => "all",
        })
    }
}

impl std::str::FromStr for Mix {
    type Err = anyhow::Error;
    fn from_str(s: &str) -> Result<Self, Self::Err> {
        MIXES
            .into_iter()
            .find(|m| m.to_string() == s)
            .ok_or_else(|| anyhow::anyhow!("unknown mix {s:?} (web, batch, memory, gpu, all)"))
    }
}

/// The pools every mix runs on: Karpenter's usual split of a general pool of c, m and r
/// types (no burstable t, no GPU) and a GPU pool whose taint keeps other pods off it.
pub const POOLS_YAML: &str = r#"
apiVersion: karpenter.sh/v1
kind: NodePool
metadata: {name: general}
spec:
  template:
    spec:
      nodeClassRef: {group: karpenter.k8s.aws, kind: EC2NodeClass, name: default}
      requirements:
        - {key: karpenter.sh/capacity-type, operator: In, values: [on-demand]}
        - {key: karpenter.k8s.aws/instance-category, operator: In, values: [c, m, r]}
---
apiVersion: karpenter.sh/v1
kind: NodePool
metadata: {name: gpu}
spec:
  template:
    spec:
      nodeClassRef: {group: karpenter.k8s.aws, kind: EC2NodeClass, name: default}
      requirements:
        - {key: karpenter.sh/capacity-type, operator: In, values: [on-demand]}
        - {key: karpenter.k8s.aws/instance-category, operator: In, values: [g]}
      taints:
        - {key: nvidia.com/gpu, value: "true", effect: NoSchedule}
---
apiVersion: karpenter.k8s.aws/v1
kind: EC2NodeClass
metadata: {name: default}
spec:
  role: KarpenterNodeRole-bench
  amiSelectorTerms: [{alias: al2023@latest}]
  subnetSelectorTerms: [{tags: {karpenter.sh/discovery: bench}}]
  securityGroupSelectorTerms: [{tags: {karpenter.sh/discovery: bench}}]
"#;

/// The pools of [`POOLS_YAML`] and the mix's pods, as `kerf simulate` would load them.
pub fn cluster_state(mix: Mix, count: usize, seed: u64) -> anyhow::Result<ClusterState> {
    let mut state = ClusterState::new();
    for doc in serde_yaml::Deserializer::from_str(POOLS_YAML) {
        let value: serde_json::Value = serde::Deserialize::deserialize(doc)
            .map_err(|e| anyhow::anyhow!("bench pools: {e}"))?;
        let applied = match value["kind"].as_str() {
            Some("NodePool") => serde_json::from_value::<NodePool>(value)
                .map_err(anyhow::Error::from)
                .and_then(|p| Ok(state.apply(p)?)),
            Some("EC2NodeClass") => serde_json::from_value::<EC2NodeClass>(value)
                .map_err(anyhow::Error::from)
                .and_then(|c| Ok(state.apply(c)?)),
            other => Err(anyhow::anyhow!("unexpected kind {other:?}")),
        };
        applied.map_err(|e| anyhow::anyhow!("bench pools: {e}"))?;
    }
    for pod in pods(mix, count, seed) {
        state.apply(pod)?;
    }
    Ok(state)
}

/// The pools and the mix's pods as one multi-document YAML file, for
/// `kerf simulate FILE` (the same plan the suite measures).
pub fn manifests(mix: Mix, count: usize, seed: u64) -> anyhow::Result<String> {
    let mut out = POOLS_YAML.trim_start().to_string();
    for pod in pods(mix, count, seed) {
        out.push_str("---\n");
        out.push_str(&serde_yaml::to_string(&pod).map_err(|e| anyhow::anyhow!("pod YAML: {e}"))?);
    }
    Ok(out)
}

/// `count` pods of the mix, deterministic for a seed.
pub fn pods(mix: Mix, count: usize, seed: u64) -> Vec<Pod> {
    let mut rng = ChaCha8Rng::seed_from_u64(seed ^ (mix as u64 + 1).wrapping_mul(0x9e37_79b9));
    match mix {
        Mix::Web => web(&mut rng, count),
        Mix::Batch => batch(&mut rng, count),
        Mix::Memory => memory(&mut rng, count),
        Mix::Gpu => gpu(&mut rng, count),
        Mix::All => {
            let web_n = count / 2;
            let batch_n = count / 5;
            let memory_n = count / 5;
            let gpu_n = count - web_n - batch_n - memory_n;
            let mut out = web(&mut rng, web_n);
            out.extend(batch(&mut rng, batch_n));
            out.extend(memory(&mut rng, memory_n));
            out.extend(gpu(&mut rng, gpu_n));
            out
        }
    }
}

fn pick<'a>(rng: &mut ChaCha8Rng, from: &[&'a str]) -> &'a str {
    from[rng.random_range(0..from.len())]
}

/// Workloads until `count` pods exist: each gets a size drawn from `sizes`
/// and `workload(rng, index)` returns the builder of its replicas.
fn workloads(
    rng: &mut ChaCha8Rng,
    count: usize,
    sizes: std::ops::RangeInclusive<usize>,
    mut workload: impl FnMut(&mut ChaCha8Rng, usize) -> Box<dyn Fn(usize) -> Pod>,
) -> Vec<Pod> {
    let mut out = Vec::with_capacity(count);
    let mut index = 0;
    while out.len() < count {
        let size = rng.random_range(sizes.clone()).min(count - out.len());
        let make = workload(rng, index);
        out.extend((0..size).map(make));
        index += 1;
    }
    out
}

fn web(rng: &mut ChaCha8Rng, count: usize) -> Vec<Pod> {
    workloads(rng, count, 10..=30, |rng, i| {
        let cpu = pick(rng, &["100m", "250m", "500m", "1"]);
        let memory = pick(rng, &["128Mi", "256Mi", "512Mi", "1Gi", "2Gi"]);
        let app = format!("web-{i}");
        Box::new(move |r| {
            let mut p = pod(
                "web",
                &format!("{app}-{r}"),
                &app,
                &[("cpu", cpu), ("memory", memory)],
            );
            let spec = p.spec.get_or_insert_with(Default::default);
            spec.topology_spread_constraints = Some(vec![TopologySpreadConstraint {
                max_skew: 1,
                topology_key: ZONE.into(),
                when_unsatisfiable: "DoNotSchedule".into(),
                label_selector: Some(LabelSelector {
                    match_labels: Some(BTreeMap::from([("app".to_string(), app.clone())])),
                    match_expressions: None,
                }),
                ..Default::default()
            }]);
            p
        })
    })
}

fn batch(rng: &mut ChaCha8Rng, count: usize) -> Vec<Pod> {
    workloads(rng, count, 5..=20, |rng, i| {
        let cores: u32 = pick(rng, &["2", "4", "6", "8", "12", "16"])
            .parse()
            .unwrap_or(2);
        let per_core: u32 = pick(rng, &["1", "2", "4"]).parse().unwrap_or(2);
        let (cpu, memory) = (cores.to_string(), format!("{}Gi", cores * per_core));
        let app = format!("batch-{i}");
        Box::new(move |r| {
            pod(
                "batch",
                &format!("{app}-{r}"),
                &app,
                &[("cpu", &cpu), ("memory", &memory)],
            )
        })
    })
}

fn memory(rng: &mut ChaCha8Rng, count: usize) -> Vec<Pod> {
    workloads(rng, count, 3..=10, |rng, i| {
        let milli: u32 = pick(rng, &["500", "1000", "2000", "4000"])
            .parse()
            .unwrap_or(1000);
        let gib_per_core: u32 = pick(rng, &["6", "7", "8"]).parse().unwrap_or(8);
        let (cpu, memory) = (
            format!("{milli}m"),
            format!("{}Mi", milli * gib_per_core * 1024 / 1000),
        );
        let app = format!("cache-{i}");
        Box::new(move |r| {
            pod(
                "memory",
                &format!("{app}-{r}"),
                &app,
                &[("cpu", &cpu), ("memory", &memory)],
            )
        })
    })
}

fn gpu(rng: &mut ChaCha8Rng, count: usize) -> Vec<Pod> {
    workloads(rng, count, 1..=8, |rng, i| {
        let (gpus, cpu, memory) = if rng.random_bool(0.8) {
            (
                "1",
                pick(rng, &["1", "2", "3"]),
                pick(rng, &["4Gi", "8Gi", "12Gi"]),
            )
        } else {
            (
                "4",
                pick(rng, &["8", "16", "32"]),
                pick(rng, &["32Gi", "64Gi", "128Gi"]),
            )
        };
        let app = format!("train-{i}");
        Box::new(move |r| {
            let mut p = pod(
                "ml",
                &format!("{app}-{r}"),
                &app,
                &[("cpu", cpu), ("memory", memory), ("nvidia.com/gpu", gpus)],
            );
            p.spec.get_or_insert_with(Default::default).tolerations = Some(vec![Toleration {
                key: Some("nvidia.com/gpu".into()),
                operator: Some("Exists".into()),
                effect: Some("NoSchedule".into()),
                ..Default::default()
            }]);
            p
        })
    })
}

fn pod(namespace: &str, name: &str, app: &str, requests: &[(&str, &str)]) -> Pod {
    let requests: BTreeMap<String, Quantity> = requests
        .iter()
        .map(|(k, v)| (k.to_string(), Quantity(v.to_string())))
        .collect();
    Pod {
        metadata: ObjectMeta {
            name: Some(name.to_string()),
            namespace: Some(namespace.to_string()),
            uid: Some(format!("{namespace}-{name}")),
            labels: Some(BTreeMap::from([("app".to_string(), app.to_string())])),
            ..Default::default()
        },
        spec: Some(PodSpec {
            containers: vec![Container {
                name: "app".into(),
                resources: Some(ResourceRequirements {
                    requests: Some(requests),
                    ..Default::default()
                }),
                ..Default::default()
            }],
            ..Default::default()
        }),
        status: None,
    }
}
