//! Why a pod is where the plan put it, or nowhere: for each pool, the funnel
//! of instance types each of the pod's constraints leaves (taints, then each
//! label requirement of the pool and the pod, host ports against daemonsets,
//! requests with daemonset overhead, the pool's limits), the first constraint
//! that left none in words a person can act on, and the cheaper types that
//! lost with the constraint each lost to. Pure: `kerf explain` runs it over
//! the simulator's snapshot and plan.
//!
//! The funnel is about instance types; what depends on other pods (topology
//! spread, pod affinity) is in the scheduler's own verdict, given beside it.

use std::collections::BTreeMap;
use std::sync::Arc;

use kerf_api::labels;
use serde::Serialize;

use crate::daemons::{self, Daemon};
use crate::instance_type::InstanceType;
use crate::plan::{InstanceOption, Plan, Target};
use crate::pod::{PodInfo, PodKey};
use crate::requirements::Requirements;
use crate::scheduler::daemon_load::DaemonLoads;
use crate::scheduler::{compile_pod, labelled_on_launch, limit_headroom, limit_text};
use crate::snapshot::Snapshot;
use crate::taints;
use crate::template::{NODE_LIMIT, NodeTemplate};
use crate::volumes::{VolumeIndex, VolumeSource};

/// How many cheaper types that lost, and alternatives to a chosen type, to show.
const SHOWN: usize = 3;

/// What the plan did with the pod.
#[derive(Clone, Debug, PartialEq, Serialize)]
#[serde(tag = "outcome", rename_all = "camelCase")]
pub enum Verdict {
    /// Placed on a node that exists or is launching, with what its labels
    /// and the pools' instance types tell of it.
    Existing {
        node: String,
        #[serde(flatten)]
        about: NodeAbout,
    },
    /// Placed on a node the plan launches.
    New {
        node: String,
        pool: String,
        chosen: InstanceOption,
        /// The next cheapest types that could have held the node's pods.
        alternatives: Vec<InstanceOption>,
    },
    /// No place; the scheduler's reason.
    Unschedulable { reason: String },
    /// Not a pod the plan places (a daemonset or mirror pod).
    NotPending,
}

/// An existing node as its labels tell it, priced at its offering among the
/// instance types of its pool (else of any pool), as disruption prices it.
#[derive(Clone, Debug, Default, PartialEq, Serialize)]
pub struct NodeAbout {
    #[serde(skip_serializing_if = "Option::is_none")]
    pub instance_type: Option<String>,
    #[serde(skip_serializing_if = "Option::is_none")]
    pub zone: Option<String>,
    #[serde(skip_serializing_if = "Option::is_none")]
    pub capacity_type: Option<String>,
    /// $/h; `None` when no instance type kerf knows offers it.
    pub price: Option<f64>,
    /// The pool that launched it, when kerf did (e.g. `nodepool default`).
    #[serde(skip_serializing_if = "Option::is_none")]
    pub pool: Option<String>,
}

impl NodeAbout {
    /// The node of the snapshot named `name`; all unknown when there is none.
    pub fn of(snapshot: &Snapshot, name: &str) -> NodeAbout {
        let Some(node) = snapshot.nodes.iter().find(|n| n.name == name) else {
            return NodeAbout::default();
        };
        let label = |key: &str| node.labels.get(key).filter(|v| !v.is_empty()).cloned();
        let (instance_type, zone, capacity_type) = (
            label(labels::INSTANCE_TYPE),
            label(labels::ZONE),
            label(labels::CAPACITY_TYPE),
        );
        let price = match (&instance_type, &zone, &capacity_type) {
            (Some(it), Some(zone), Some(capacity_type)) => {
                let own = snapshot
                    .templates
                    .iter()
                    .filter(|t| node.pool.as_ref() == Some(&t.pool));
                own.chain(snapshot.templates.iter())
                    .flat_map(|t| &t.instance_types)
                    .filter(|t| &t.name == it)
                    .flat_map(|t| &t.offerings)
                    .find(|o| &o.zone == zone && &o.capacity_type == capacity_type)
                    .map(|o| o.price)
            }
            _ => None,
        };
        NodeAbout {
            instance_type,
            zone,
            capacity_type,
            price,
            pool: node.pool.as_ref().map(ToString::to_string),
        }
    }
}

impl std::fmt::Display for NodeAbout {
    /// `m5.xlarge on-demand in us-east-1a, $0.1920/h, nodepool default`;
    /// what is unknown is said to be.
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        match &self.instance_type {
            Some(it) => write!(f, "{it}")?,
            None => write!(f, "instance type unknown")?,
        }
        if let Some(capacity_type) = &self.capacity_type {
            write!(f, " {capacity_type}")?;
        }
        if let Some(zone) = &self.zone {
            write!(f, " in {zone}")?;
        }
        match self.price {
            Some(price) => write!(f, ", ${price:.4}/h")?,
            None => write!(f, ", price unknown")?,
        }
        if let Some(pool) = &self.pool {
            write!(f, ", {pool}")?;
        }
        Ok(())
    }
}

/// One step of a pool's funnel: a constraint and how many types it left.
#[derive(Clone, Debug, PartialEq, Serialize)]
pub struct FunnelStep {
    pub constraint: String,
    pub left: usize,
}

/// A type cheaper than the pool's best fit, and the constraint it lost to.
#[derive(Clone, Debug, PartialEq, Serialize)]
pub struct Lost {
    pub instance_type: String,
    pub price: f64,
    pub lost_to: String,
}

/// One pool's funnel for the pod.
#[derive(Clone, Debug, PartialEq, Serialize)]
pub struct PoolFunnel {
    pub pool: String,
    pub steps: Vec<FunnelStep>,
    /// The first constraint that left no type, in words a person can act on.
    pub emptied_by: Option<String>,
    /// When that constraint is a requirement the pod's volumes impose: which
    /// claim, and the PersistentVolume or StorageClass that pins it.
    #[serde(skip_serializing_if = "Vec::is_empty")]
    pub requirement_from: Vec<String>,
    /// The cheapest type that passes every step, if any.
    pub best: Option<InstanceOption>,
    /// Cheaper types (at the pool's prices) that did not pass, cheapest first.
    pub cheaper_lost: Vec<Lost>,
}

/// Everything `kerf explain pod` says.
#[derive(Clone, Debug, PartialEq, Serialize)]
pub struct PodExplanation {
    pub pod: String,
    pub verdict: Verdict,
    pub pools: Vec<PoolFunnel>,
}

/// The explanation for `key`, a pod of the snapshot (pending or bound); `None`
/// when the snapshot has no such pod.
pub fn explain_pod(snapshot: &Snapshot, plan: &Plan, key: &PodKey) -> Option<PodExplanation> {
    let pod = snapshot
        .pending
        .iter()
        .map(Arc::as_ref)
        .chain(
            snapshot
                .nodes
                .iter()
                .flat_map(|n| n.pods.iter().map(Arc::as_ref)),
        )
        .find(|p| PodKey::of(p) == *key)?;
    let bound = pod.spec.as_ref().and_then(|s| s.node_name.clone());
    let verdict = match bound {
        Some(node) => Verdict::Existing {
            about: NodeAbout::of(snapshot, &node),
            node,
        },
        None => verdict(snapshot, plan, key),
    };
    let volumes = VolumeIndex::new(
        &snapshot.claims,
        &snapshot.volumes,
        &snapshot.storage_classes,
    );
    // The pod compiles only when its volumes resolve: then these do too.
    let sources = volumes.sources_for(pod).unwrap_or_default();
    let pools = match compile_pod(pod, &volumes) {
        Ok(info) => {
            let daemons: Vec<Daemon> = snapshot
                .daemonsets
                .iter()
                .filter_map(|ds| daemons::daemon(ds).ok().flatten())
                .collect();
            let mut templates: Vec<&NodeTemplate> = snapshot.templates.iter().collect();
            templates.sort_by(|a, b| b.weight.cmp(&a.weight).then_with(|| a.pool.cmp(&b.pool)));
            templates
                .into_iter()
                .map(|t| {
                    let nodes = snapshot
                        .nodes
                        .iter()
                        .filter(|n| n.pool.as_ref() == Some(&t.pool))
                        .count();
                    funnel(t, &info, &sources, &daemons, nodes)
                })
                .collect()
        }
        Err(e) => vec![PoolFunnel {
            pool: "every pool".into(),
            steps: Vec::new(),
            emptied_by: Some(format!("the pod's spec cannot be used: {e}")),
            requirement_from: Vec::new(),
            best: None,
            cheaper_lost: Vec::new(),
        }],
    };
    Some(PodExplanation {
        pod: key.to_string(),
        verdict,
        pools,
    })
}

fn verdict(snapshot: &Snapshot, plan: &Plan, key: &PodKey) -> Verdict {
    if let Some(u) = plan.unschedulable.iter().find(|u| u.pod == *key) {
        return Verdict::Unschedulable {
            reason: u.reason.clone(),
        };
    }
    match plan
        .placements
        .iter()
        .find(|p| p.pod == *key)
        .map(|p| &p.target)
    {
        Some(Target::Existing(node)) => Verdict::Existing {
            node: node.clone(),
            about: NodeAbout::of(snapshot, node),
        },
        Some(Target::New(name)) => match plan.new_nodes.iter().find(|n| &n.name == name) {
            Some(node) => Verdict::New {
                node: name.clone(),
                pool: node.pool.to_string(),
                chosen: node.chosen.clone(),
                alternatives: node
                    .options
                    .iter()
                    .filter(|o| o.instance_type != node.chosen.instance_type)
                    .take(SHOWN)
                    .cloned()
                    .collect(),
            },
            None => Verdict::Existing {
                node: name.clone(),
                about: NodeAbout::of(snapshot, name),
            },
        },
        None => Verdict::NotPending,
    }
}

/// The label keys in the order a person reads them: where, what CPU, what OS,
/// how bought, which type; then the rest by name.
pub(crate) fn key_order(keys: impl Iterator<Item = String>) -> Vec<String> {
    const FIRST: [&str; 5] = [
        labels::ZONE,
        labels::ARCH,
        labels::OS,
        labels::CAPACITY_TYPE,
        labels::INSTANCE_TYPE,
    ];
    let mut keys: Vec<String> = keys.collect();
    keys.sort_by_key(|k| {
        (
            FIRST.iter().position(|f| f == k).unwrap_or(FIRST.len()),
            k.clone(),
        )
    });
    keys.dedup();
    keys
}

/// Types still in the funnel, with the constraint each dropped one lost to.
struct Sieve<'t> {
    left: Vec<&'t Arc<InstanceType>>,
    lost_to: BTreeMap<&'t str, String>,
    steps: Vec<FunnelStep>,
    emptied_by: Option<String>,
}

impl<'t> Sieve<'t> {
    /// Keeps the types `keep` accepts; `why` explains an emptied funnel.
    fn step(
        &mut self,
        constraint: String,
        keep: impl Fn(&InstanceType) -> bool,
        why: impl FnOnce(&[&'t Arc<InstanceType>]) -> String,
    ) {
        if self.emptied_by.is_some() {
            return;
        }
        let before = self.left.clone();
        let mut kept = Vec::with_capacity(before.len());
        for it in &before {
            if keep(it) {
                kept.push(*it);
            } else {
                self.lost_to.insert(it.name.as_str(), constraint.clone());
            }
        }
        self.steps.push(FunnelStep {
            constraint,
            left: kept.len(),
        });
        if kept.is_empty() {
            self.emptied_by = Some(why(&before));
        }
        self.left = kept;
    }
}

fn funnel(
    t: &NodeTemplate,
    info: &PodInfo,
    sources: &[VolumeSource],
    daemons: &[Daemon],
    pool_nodes: usize,
) -> PoolFunnel {
    let pool = &t.pool;
    let mut all: Vec<&Arc<InstanceType>> = t.instance_types.iter().collect();
    all.sort_by(|a, b| a.name.cmp(&b.name));
    let mut sieve = Sieve {
        left: all.clone(),
        lost_to: BTreeMap::new(),
        steps: vec![FunnelStep {
            constraint: "instance types".into(),
            left: all.len(),
        }],
        emptied_by: None,
    };
    if let Some(taint) = taints::first_untolerated(
        &info.tolerations,
        &t.taints,
        !info.tolerate_prefer_no_schedule,
    ) {
        let taint = taints::describe(taint);
        sieve.step(
            format!("taint {taint}"),
            |_| false,
            |_| crate::words::untolerated_taint(&taint),
        );
    }

    let pod_reqs = info.node_requirements();
    let merged = t.requirements.intersection(&pod_reqs);
    let keys = key_order(t.requirements.keys().chain(pod_reqs.keys()).cloned());
    let mut so_far = Requirements::new();
    // The key whose requirement emptied the funnel, if one did.
    let mut emptied_at: Option<String> = None;
    for key in keys {
        if sieve.emptied_by.is_some() {
            break;
        }
        emptied_at = Some(key.clone());
        let (Some(r), wanted) = (merged.get(&key), pod_reqs.get(&key)) else {
            continue;
        };
        // Karpenter's rule: a label the pool does not define and instance
        // types do not supply is one no new node carries.
        let undefined = |w: &&crate::requirements::Requirement| {
            !t.requirements.has(&key) && !w.allows_absent() && !labels::is_well_known_label(&key)
        };
        if let Some(w) = wanted.filter(|w| undefined(w) || !labelled_on_launch(&merged, w)) {
            sieve.step(
                w.to_string(),
                |_| false,
                |_| crate::words::label_not_carried(&w.to_string()),
            );
            break;
        }
        if r.is_unsatisfiable() {
            let allowed = t
                .requirements
                .get(&key)
                .map(ToString::to_string)
                .unwrap_or_default();
            let asked = wanted.map(ToString::to_string).unwrap_or_default();
            sieve.step(
                r.to_string(),
                |_| false,
                |_| crate::words::pool_allows_only(&asked, &allowed),
            );
            break;
        }
        so_far.add(r.clone());
        let cumulative = so_far.clone();
        sieve.step(
            r.to_string(),
            |it| {
                it.requirements.intersects(&cumulative).is_ok()
                    && it.cheapest_offering(&cumulative).is_some()
            },
            // The scheduler's own account of which requirement emptied the list.
            |_| {
                crate::scheduler::check::no_type_offers(
                    t.instance_types.iter().map(Arc::as_ref),
                    &merged,
                )
            },
        );
    }

    let requirement_from = match (&sieve.emptied_by, emptied_at) {
        (Some(_), Some(key)) => sources.iter().filter_map(|s| s.explain(&key)).collect(),
        _ => Vec::new(),
    };

    // What the daemonsets take, once, over the types the requirements left;
    // the later steps only drop types, so each is looked up by name.
    let types: Vec<Arc<InstanceType>> = sieve.left.iter().map(|it| Arc::clone(it)).collect();
    let loads = DaemonLoads::new(t, &types, daemons);
    let index: BTreeMap<&str, usize> = types
        .iter()
        .enumerate()
        .map(|(i, it)| (it.name.as_str(), i))
        .collect();
    let of = |it: &InstanceType| index.get(it.name.as_str()).copied();
    if !info.host_ports.is_empty() {
        let ports: Vec<String> = info.host_ports.iter().map(ToString::to_string).collect();
        let held = info.host_ports.iter().find(|p| {
            (0..types.len()).all(|o| loads.port_taken(o, std::slice::from_ref(p)).is_some())
        });
        let taken = held
            .map(ToString::to_string)
            .unwrap_or_else(|| ports.join(", "));
        let owner = held.and_then(|p| {
            (0..types.len()).find_map(|o| loads.port_owner(o, p).map(str::to_string))
        });
        sieve.step(
            format!("host ports {}", ports.join(", ")),
            |it| of(it).is_some_and(|o| loads.port_taken(o, &info.host_ports).is_none()),
            |_| crate::words::port_taken_by_daemonset(&taken, owner.as_deref()),
        );
    }
    sieve.step(
        format!("requests {} with daemonset overhead", info.requests),
        |it| of(it).is_some_and(|o| info.requests.fits_in(loads.room(o))),
        |before| no_room(info, before, &loads, of),
    );

    if let Some(headroom) = limit_headroom(t, &types) {
        let limits = limit_text(t);
        sieve.step(
            format!("limits {limits}"),
            |it| it.capacity.fits_in(&headroom),
            |before| {
                let smallest = before
                    .iter()
                    .min_by_key(|it| (it.capacity.cpu, it.capacity.memory, it.name.as_str()));
                crate::words::limits_leave_too_little(
                    &limits,
                    &t.in_use,
                    &Default::default(),
                    smallest.map(|it| (it.name.as_str(), &it.capacity)),
                )
            },
        );
    }
    if let Some(limit) = t.limits.get(NODE_LIMIT) {
        let allowed = limit / crate::resources::MILLI;
        sieve.step(
            format!("limits nodes={allowed}"),
            |_| (pool_nodes as i64) < allowed,
            |_| {
                crate::words::node_limit(
                    &t.pool.limit_path(NODE_LIMIT),
                    &crate::resources::format_amount(NODE_LIMIT, *limit),
                    pool_nodes as i64,
                    0,
                )
            },
        );
    }

    let priced = |it: &InstanceType, reqs: &Requirements| {
        it.cheapest_offering(reqs).map(|o| InstanceOption {
            instance_type: it.name.clone(),
            zone: o.zone.clone(),
            capacity_type: o.capacity_type.clone(),
            price: o.price,
        })
    };
    let best = sieve
        .left
        .iter()
        .filter_map(|it| priced(it, &merged))
        .min_by(|a, b| {
            a.price
                .total_cmp(&b.price)
                .then_with(|| a.instance_type.cmp(&b.instance_type))
        });
    let ceiling = best.as_ref().map_or(f64::INFINITY, |b| b.price);
    let mut cheaper_lost: Vec<Lost> = all
        .iter()
        .filter_map(|it| {
            let lost_to = sieve.lost_to.get(it.name.as_str())?;
            let price = priced(it, &t.requirements)?.price;
            (price < ceiling).then(|| Lost {
                instance_type: it.name.clone(),
                price,
                lost_to: lost_to.clone(),
            })
        })
        .collect();
    cheaper_lost.sort_by(|a, b| {
        a.price
            .total_cmp(&b.price)
            .then_with(|| a.instance_type.cmp(&b.instance_type))
    });
    cheaper_lost.truncate(SHOWN);
    PoolFunnel {
        pool: pool.to_string(),
        steps: sieve.steps,
        emptied_by: sieve.emptied_by,
        requirement_from,
        best,
        cheaper_lost,
    }
}

/// Why no type left has room for the pod: the first resource none has, with
/// the type that leaves the most of it and what its daemonsets take.
fn no_room(
    info: &PodInfo,
    before: &[&Arc<InstanceType>],
    loads: &DaemonLoads,
    of: impl Fn(&InstanceType) -> Option<usize>,
) -> String {
    for (name, amount) in info.requests.iter() {
        let best = before
            .iter()
            .filter_map(|it| Some((*it, of(it)?)))
            .max_by_key(|(_, o)| loads.room(*o).get(name));
        if let Some((it, o)) = best.filter(|(_, o)| loads.room(*o).get(name) < amount) {
            return crate::words::no_room(
                name,
                amount,
                &it.name,
                it.allocatable().get(name),
                loads.requests(o).get(name),
            );
        }
    }
    crate::words::no_type_holds(&info.requests)
}

#[cfg(test)]
mod tests {

    use k8s_openapi::api::core::v1::{PersistentVolume, PersistentVolumeClaim, Pod};
    use k8s_openapi::api::storage::v1::StorageClass;

    use super::*;
    use crate::instance_type::{Offering, Overhead};
    use crate::requirements::Requirement;
    use crate::resources::Resources;
    use crate::snapshot::ExistingNode;
    use crate::template::{PoolKind, PoolRef};

    fn yaml<T: serde::de::DeserializeOwned>(s: &str) -> T {
        serde_yaml::from_str(s).expect("test yaml")
    }

    fn pool() -> PoolRef {
        PoolRef {
            kind: PoolKind::NodePool,
            name: "default".into(),
        }
    }

    /// A pool allowing only zone-a, of one type offered in zone-a and zone-d.
    fn template() -> NodeTemplate {
        let offering = |zone: &str, capacity_type: &str, price: f64| Offering {
            zone: zone.into(),
            capacity_type: capacity_type.into(),
            price,
            available: true,
            zone_id: None,
        };
        let it = InstanceType::new(
            "m.xlarge",
            [("kubernetes.io/arch".to_string(), "amd64".to_string())].into(),
            Resources::new(4000, 16 << 30, 110),
            Overhead::default(),
            vec![
                offering("zone-a", "on-demand", 0.192),
                offering("zone-a", "spot", 0.07),
                offering("zone-d", "on-demand", 0.2),
            ],
        );
        let mut requirements = Requirements::new();
        requirements.add(Requirement::in_values(labels::ZONE, ["zone-a".to_string()]));
        NodeTemplate::new(pool(), requirements, vec![Arc::new(it)])
    }

    fn node(
        name: &str,
        instance_type: &str,
        pool: Option<PoolRef>,
        pods: Vec<Pod>,
    ) -> ExistingNode {
        ExistingNode {
            name: name.into(),
            labels: [
                (labels::INSTANCE_TYPE, instance_type),
                (labels::ZONE, "zone-a"),
                (labels::CAPACITY_TYPE, "on-demand"),
            ]
            .into_iter()
            .map(|(k, v)| (k.to_string(), v.to_string()))
            .collect(),
            taints: Vec::new(),
            allocatable: Resources::new(4000, 16 << 30, 110),
            pods: pods.into_iter().map(Arc::new).collect(),
            pool,
            in_flight: false,
            marked_for_deletion: false,
            unschedulable: false,
        }
    }

    fn pod(name: &str, spec_extra: &str) -> Pod {
        yaml(&format!(
            "metadata: {{name: {name}, namespace: default}}\nspec:\n{spec_extra}  containers: [{{name: c, resources: {{requests: {{cpu: 100m}}}}}}]\n"
        ))
    }

    fn explained(snapshot: &Snapshot, name: &str) -> PodExplanation {
        let plan = crate::scheduler::solve(snapshot);
        let key = PodKey {
            namespace: "default".into(),
            name: name.into(),
        };
        explain_pod(snapshot, &plan, &key).expect("the pod is in the snapshot")
    }

    #[test]
    fn a_pod_on_an_existing_node_gets_its_type_zone_price_and_pool() {
        let snapshot = Snapshot {
            templates: vec![template()],
            nodes: vec![node(
                "n1",
                "m.xlarge",
                Some(pool()),
                vec![pod("web", "  nodeName: n1\n")],
            )],
            ..Default::default()
        };
        let e = explained(&snapshot, "web");
        let Verdict::Existing { node, about } = &e.verdict else {
            panic!("{e:?}")
        };
        assert_eq!(node, "n1");
        assert_eq!(
            about,
            &NodeAbout {
                instance_type: Some("m.xlarge".into()),
                zone: Some("zone-a".into()),
                capacity_type: Some("on-demand".into()),
                price: Some(0.192),
                pool: Some("nodepool default".into()),
            }
        );
        assert_eq!(
            about.to_string(),
            "m.xlarge on-demand in zone-a, $0.1920/h, nodepool default"
        );
    }

    #[test]
    fn a_node_kerf_cannot_price_says_so() {
        // A type no pool offers, on a node no pool launched.
        let snapshot = Snapshot {
            templates: vec![template()],
            nodes: vec![node(
                "n1",
                "x.huge",
                None,
                vec![pod("web", "  nodeName: n1\n")],
            )],
            ..Default::default()
        };
        let Verdict::Existing { about, .. } = explained(&snapshot, "web").verdict else {
            panic!("placed on n1")
        };
        assert_eq!(about.price, None);
        assert_eq!(
            about.to_string(),
            "x.huge on-demand in zone-a, price unknown"
        );
        // A node with no labels at all, and one missing from the snapshot.
        let mut bare = node("n1", "", None, Vec::new());
        bare.labels.clear();
        let snapshot = Snapshot {
            nodes: vec![bare],
            ..Default::default()
        };
        assert_eq!(
            NodeAbout::of(&snapshot, "n1").to_string(),
            "instance type unknown, price unknown"
        );
        assert_eq!(NodeAbout::of(&snapshot, "gone"), NodeAbout::default());
    }

    /// A PV in zone-d, its bound claim, a class allowing only zone-d and an
    /// unbound claim of it.
    fn volumes() -> (
        Vec<PersistentVolume>,
        Vec<PersistentVolumeClaim>,
        Vec<StorageClass>,
    ) {
        let pv = yaml(
            r#"
metadata: {name: data-pv}
spec:
  nodeAffinity:
    required:
      nodeSelectorTerms:
      - matchExpressions: [{key: topology.kubernetes.io/zone, operator: In, values: [zone-d]}]
"#,
        );
        let claims = vec![
            yaml("metadata: {name: data, namespace: default}\nspec: {volumeName: data-pv}"),
            yaml("metadata: {name: fresh, namespace: default}\nspec: {storageClassName: zonal}"),
        ];
        let class = yaml(
            r#"
metadata: {name: zonal}
provisioner: ebs.csi.aws.com
allowedTopologies:
- matchLabelExpressions: [{key: topology.kubernetes.io/zone, values: [zone-d]}]
"#,
        );
        (vec![pv], claims, vec![class])
    }

    fn volume_conflict(claim: &str) -> PoolFunnel {
        let (volumes, claims, storage_classes) = volumes();
        let mount =
            format!("  volumes: [{{name: v, persistentVolumeClaim: {{claimName: {claim}}}}}]\n");
        let snapshot = Snapshot {
            pending: vec![Arc::new(pod("db", &mount))],
            templates: vec![template()],
            volumes,
            claims,
            storage_classes,
            ..Default::default()
        };
        let e = explained(&snapshot, "db");
        assert!(matches!(e.verdict, Verdict::Unschedulable { .. }), "{e:?}");
        let [funnel] = e.pools.as_slice() else {
            panic!("{e:?}")
        };
        assert_eq!(
            funnel.emptied_by.as_deref(),
            Some(
                "the pod requires topology.kubernetes.io/zone In [zone-d] \
                 but the pool allows only topology.kubernetes.io/zone In [zone-a]"
            )
        );
        funnel.clone()
    }

    #[test]
    fn a_zone_conflict_from_a_bound_volume_names_the_claim_and_pv() {
        assert_eq!(
            volume_conflict("data").requirement_from,
            [
                "the pod's requirement on topology.kubernetes.io/zone comes from PVC default/data, \
              bound to PV data-pv, which requires topology.kubernetes.io/zone In [zone-d]"
            ]
        );
    }

    #[test]
    fn a_zone_conflict_from_a_storage_class_names_the_claim_and_class() {
        assert_eq!(
            volume_conflict("fresh").requirement_from,
            [
                "the pod's requirement on topology.kubernetes.io/zone comes from PVC default/fresh, \
              whose StorageClass zonal allows only topology.kubernetes.io/zone In [zone-d] \
              (allowedTopologies)"
            ]
        );
    }

    #[test]
    fn a_conflict_of_the_pods_own_names_no_volume() {
        // The pool allows the volume's zone here: the funnel empties on a
        // label the pod asks for itself, and no volume is named for it.
        let (volumes, claims, storage_classes) = volumes();
        let spec = "  nodeSelector: {team: data}\n  volumes: [{name: v, persistentVolumeClaim: {claimName: data}}]\n";
        let mut t = template();
        t.requirements = Requirements::new();
        t.requirements.add(Requirement::in_values(
            labels::ZONE,
            ["zone-a".to_string(), "zone-d".to_string()],
        ));
        let snapshot = Snapshot {
            pending: vec![Arc::new(pod("db", spec))],
            templates: vec![t],
            volumes,
            claims,
            storage_classes,
            ..Default::default()
        };
        let e = explained(&snapshot, "db");
        let [funnel] = e.pools.as_slice() else {
            panic!("{e:?}")
        };
        assert!(
            funnel
                .emptied_by
                .as_deref()
                .is_some_and(|w| w.contains("team In [data]")),
            "{funnel:?}"
        );
        assert!(funnel.requirement_from.is_empty(), "{funnel:?}");
    }
}
