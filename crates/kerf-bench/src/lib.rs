//! Workloads for measuring the scheduling core: upstream Karpenter's
//! scheduling-benchmark pods (`makeDiversePods` in
//! `pkg/controllers/provisioning/scheduling/scheduling_benchmark_test.go`),
//! reproduced from its description and seeded, plus the cost lower bound to
//! judge a plan's $/h against. [`disruption`] builds the cluster the
//! disruption-decision benchmark decides over.

use std::collections::BTreeMap;
use std::sync::Arc;

use k8s_openapi::api::core::v1::{
    Affinity, Container, NodeAffinity, NodeSelectorRequirement, NodeSelectorTerm, Pod, PodAffinity,
    PodAffinityTerm, PodAntiAffinity, PodSpec, PreferredSchedulingTerm, ResourceRequirements,
    TopologySpreadConstraint, WeightedPodAffinityTerm,
};
use k8s_openapi::apimachinery::pkg::api::resource::Quantity;
use k8s_openapi::apimachinery::pkg::apis::meta::v1::{LabelSelector, ObjectMeta};
use kerf_core::instance_type::InstanceType;
use kerf_core::plan::Plan;
use kerf_core::requirements::Requirements;
use kerf_core::resources::Resources;
use kerf_core::snapshot::{PreferencePolicy, Snapshot};
use kerf_core::template::{NodeTemplate, PoolKind, PoolRef};
use rand::{Rng, SeedableRng};
use rand_chacha::ChaCha8Rng;

pub mod disruption;
pub mod quality;

pub const ZONE: &str = "topology.kubernetes.io/zone";
pub const HOSTNAME: &str = "kubernetes.io/hostname";

/// The five pod groups of the upstream benchmark.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum Group {
    Generic,
    ZoneSpread,
    HostnameSpread,
    ZoneAffinity,
    HostnameAntiAffinity,
}

pub const GROUPS: [Group; 5] = [
    Group::Generic,
    Group::ZoneSpread,
    Group::HostnameSpread,
    Group::ZoneAffinity,
    Group::HostnameAntiAffinity,
];

const CPU_CHOICES: [&str; 5] = ["100m", "250m", "500m", "1000m", "1500m"];
const MEMORY_CHOICES: [&str; 6] = ["100Mi", "256Mi", "512Mi", "1024Mi", "2048Mi", "4096Mi"];
const LABEL_VALUES: [&str; 7] = ["a", "b", "c", "d", "e", "f", "g"];

fn pick<'a>(rng: &mut ChaCha8Rng, from: &[&'a str]) -> &'a str {
    from[rng.random_range(0..from.len())]
}

fn labels(pairs: &[(&str, &str)]) -> BTreeMap<String, String> {
    pairs
        .iter()
        .map(|(k, v)| (k.to_string(), v.to_string()))
        .collect()
}

fn selector(pairs: BTreeMap<String, String>) -> Option<LabelSelector> {
    Some(LabelSelector {
        match_labels: Some(pairs),
        match_expressions: None,
    })
}

fn pod(rng: &mut ChaCha8Rng, name: String, labels: BTreeMap<String, String>, spec: PodSpec) -> Pod {
    let requests: BTreeMap<String, Quantity> = [
        (
            "cpu".to_string(),
            Quantity(pick(rng, &CPU_CHOICES).to_string()),
        ),
        (
            "memory".to_string(),
            Quantity(pick(rng, &MEMORY_CHOICES).to_string()),
        ),
    ]
    .into_iter()
    .collect();
    Pod {
        metadata: ObjectMeta {
            name: Some(name.clone()),
            namespace: Some("default".into()),
            uid: Some(name),
            labels: Some(labels),
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
            ..spec
        }),
        status: None,
    }
}

/// `count` pods of one group, deterministic for a seed.
pub fn group_pods(group: Group, count: usize, seed: u64) -> Vec<Pod> {
    let mut rng =
        ChaCha8Rng::seed_from_u64(seed ^ (group as u64).wrapping_mul(0x9e37_79b9_7f4a_7c15));
    (0..count)
        .map(|i| {
            let name = format!("{group:?}-{i}").to_lowercase();
            match group {
                Group::Generic => {
                    let l = labels(&[("my-label", pick(&mut rng, &LABEL_VALUES))]);
                    pod(&mut rng, name, l, PodSpec::default())
                }
                Group::ZoneSpread | Group::HostnameSpread => {
                    let key = if group == Group::ZoneSpread {
                        ZONE
                    } else {
                        HOSTNAME
                    };
                    let own = labels(&[("my-label", pick(&mut rng, &LABEL_VALUES))]);
                    let sel = labels(&[("my-label", pick(&mut rng, &LABEL_VALUES))]);
                    let spec = PodSpec {
                        topology_spread_constraints: Some(vec![TopologySpreadConstraint {
                            max_skew: 1,
                            topology_key: key.into(),
                            when_unsatisfiable: "DoNotSchedule".into(),
                            label_selector: selector(sel),
                            ..Default::default()
                        }]),
                        ..Default::default()
                    };
                    pod(&mut rng, name, own, spec)
                }
                Group::ZoneAffinity => {
                    // Self-affinity, as upstream: relying on other groups would slow every scheduler down.
                    let own = labels(&[("my-affininity", pick(&mut rng, &LABEL_VALUES))]);
                    let spec = PodSpec {
                        affinity: Some(Affinity {
                            pod_affinity: Some(PodAffinity {
                                required_during_scheduling_ignored_during_execution: Some(vec![
                                    PodAffinityTerm {
                                        label_selector: selector(own.clone()),
                                        topology_key: ZONE.into(),
                                        ..Default::default()
                                    },
                                ]),
                                ..Default::default()
                            }),
                            ..Default::default()
                        }),
                        ..Default::default()
                    };
                    pod(&mut rng, name, own, spec)
                }
                Group::HostnameAntiAffinity => {
                    let own = labels(&[("app", "nginx")]);
                    let spec = PodSpec {
                        affinity: Some(Affinity {
                            pod_anti_affinity: Some(PodAntiAffinity {
                                required_during_scheduling_ignored_during_execution: Some(vec![
                                    PodAffinityTerm {
                                        label_selector: selector(own.clone()),
                                        topology_key: HOSTNAME.into(),
                                        ..Default::default()
                                    },
                                ]),
                                ..Default::default()
                            }),
                            ..Default::default()
                        }),
                        ..Default::default()
                    };
                    pod(&mut rng, name, own, spec)
                }
            }
        })
        .collect()
}

/// Upstream's diverse mix: five equal groups, the remainder generic.
pub fn diverse_pods(count: usize, seed: u64) -> Vec<Pod> {
    let per = count / GROUPS.len();
    let mut out: Vec<Pod> = GROUPS
        .iter()
        .flat_map(|g| group_pods(*g, per, seed))
        .collect();
    let rest = count - out.len();
    let mut extra = group_pods(Group::Generic, per + rest, seed);
    out.extend(extra.drain(per..));
    out
}

/// Upstream's preference workload: every pod prefers `test-zone-1`, and
/// prefers to avoid pods like it in its zone (weight 10 — unsatisfiable beyond
/// one pod per zone) and on its node (weight 1). `PreferencePolicy::Respect`
/// treats these as requirements and relaxes them one at a time; `Ignore`
/// drops them.
pub fn preference_pods(count: usize, seed: u64) -> Vec<Pod> {
    let mut rng = ChaCha8Rng::seed_from_u64(seed ^ 0x005e_ed0f_9ef5);
    let own = labels(&[("app", "preferences")]);
    let avoid = |weight: i32, key: &str| WeightedPodAffinityTerm {
        weight,
        pod_affinity_term: PodAffinityTerm {
            label_selector: selector(own.clone()),
            topology_key: key.into(),
            ..Default::default()
        },
    };
    (0..count)
        .map(|i| {
            let spec = PodSpec {
                affinity: Some(Affinity {
                    node_affinity: Some(NodeAffinity {
                        preferred_during_scheduling_ignored_during_execution: Some(vec![
                            PreferredSchedulingTerm {
                                weight: 1,
                                preference: NodeSelectorTerm {
                                    match_expressions: Some(vec![NodeSelectorRequirement {
                                        key: ZONE.into(),
                                        operator: "In".into(),
                                        values: Some(vec!["test-zone-1".into()]),
                                    }]),
                                    match_fields: None,
                                },
                            },
                        ]),
                        ..Default::default()
                    }),
                    pod_anti_affinity: Some(PodAntiAffinity {
                        preferred_during_scheduling_ignored_during_execution: Some(vec![
                            avoid(10, ZONE),
                            avoid(1, HOSTNAME),
                        ]),
                        ..Default::default()
                    }),
                    ..Default::default()
                }),
                ..Default::default()
            };
            pod(&mut rng, format!("preference-{i}"), own.clone(), spec)
        })
        .collect()
}

/// The most pods that must each have a node of their own: the largest set
/// sharing a namespace whose required hostname anti-affinity selects all of
/// them (as upstream's `app: nginx` group). No plan has fewer nodes.
pub fn anti_affinity_node_bound(pods: &[Pod]) -> usize {
    let mut groups: BTreeMap<(String, BTreeMap<String, String>), usize> = BTreeMap::new();
    for p in pods {
        let own = p.metadata.labels.clone().unwrap_or_default();
        let terms = p
            .spec
            .as_ref()
            .and_then(|s| s.affinity.as_ref())
            .and_then(|a| a.pod_anti_affinity.as_ref())
            .and_then(|a| {
                a.required_during_scheduling_ignored_during_execution
                    .as_ref()
            });
        for t in terms.into_iter().flatten() {
            let Some(sel) = t.label_selector.as_ref() else {
                continue;
            };
            let wanted = sel.match_labels.clone().unwrap_or_default();
            let self_matching = sel.match_expressions.as_ref().is_none_or(Vec::is_empty)
                && !wanted.is_empty()
                && wanted.iter().all(|(k, v)| own.get(k) == Some(v));
            if t.topology_key == HOSTNAME && self_matching {
                let ns = p.metadata.namespace.clone().unwrap_or_default();
                *groups.entry((ns, wanted)).or_insert(0) += 1;
            }
        }
    }
    groups.into_values().max().unwrap_or(0)
}

/// One NodePool with no requirements and no limits over `types`, as upstream.
pub fn snapshot(pods: Vec<Pod>, types: &[Arc<InstanceType>], policy: PreferencePolicy) -> Snapshot {
    let template = NodeTemplate::new(
        PoolRef {
            kind: PoolKind::NodePool,
            name: "default".into(),
        },
        Requirements::new(),
        types.to_vec(),
    );
    let mut s = Snapshot {
        pending: pods.into_iter().map(Arc::new).collect(),
        templates: vec![template],
        ..Default::default()
    };
    s.options.preference_policy = policy;
    s
}

/// The 400 `fake-it-i` types of the upstream benchmark.
pub fn benchmark_types() -> Vec<Arc<InstanceType>> {
    kerf_cloud::fake::fake_instance_types(400)
        .into_iter()
        .map(Arc::new)
        .collect()
}

/// A lower bound on the $/h of any plan for `pods`: every resource must be
/// bought, so cost ≥ max over cpu and memory of (total request × cheapest price
/// per unit of allocatable) — whichever dimension binds — and, since the
/// anti-affinity group needs a node per pod, ≥ that many nodes at the cheapest
/// node price. Nothing else (bin-packing loss, per-node overhead beyond the
/// allocatable ratio) is counted, which keeps it a true bound.
pub fn lower_bound(pods: &[Pod], types: &[Arc<InstanceType>]) -> f64 {
    let mut total = Resources::default();
    for p in pods {
        if let Ok(r) = kerf_core::pod::pod_requests(p) {
            total.add(&r);
        }
    }
    let cheapest_per = |get: &dyn Fn(&Resources) -> i64| -> f64 {
        types
            .iter()
            .filter_map(|t| {
                let amount = get(t.allocatable());
                let price = t
                    .offerings
                    .iter()
                    .filter(|o| o.available)
                    .map(|o| o.price)
                    .fold(f64::INFINITY, f64::min);
                (amount > 0 && price.is_finite()).then(|| price / amount as f64)
            })
            .fold(f64::INFINITY, f64::min)
    };
    let cpu = total.cpu as f64 * cheapest_per(&|r| r.cpu);
    let memory = total.memory as f64 * cheapest_per(&|r| r.memory);
    let cheapest_node = types
        .iter()
        .flat_map(|t| t.offerings.iter().filter(|o| o.available))
        .map(|o| o.price)
        .fold(f64::INFINITY, f64::min);
    let nodes = if cheapest_node.is_finite() {
        anti_affinity_node_bound(pods) as f64 * cheapest_node
    } else {
        0.0
    };
    cpu.max(memory).max(nodes)
}

/// Figures for one solved workload.
#[derive(Debug, Clone)]
pub struct Outcome {
    pub pods: usize,
    pub scheduled: usize,
    pub nodes: usize,
    /// No plan has fewer nodes: the anti-affinity group's size.
    pub node_bound: usize,
    pub cost: f64,
    pub bound: f64,
}

pub fn outcome(pods: &[Pod], types: &[Arc<InstanceType>], plan: &Plan) -> Outcome {
    Outcome {
        pods: pods.len(),
        scheduled: plan.scheduled_pods(),
        nodes: plan.new_nodes.len(),
        node_bound: anti_affinity_node_bound(pods),
        cost: plan.new_cost_per_hour(),
        bound: lower_bound(pods, types),
    }
}
