//! Building the scheduler's [`Snapshot`] from a [`ClusterState`]: one
//! [`ExistingNode`] per Node, and one per NodeClaim that has no Node yet
//! (`in_flight`), so a restart or a second batch sees capacity already being
//! launched and never provisions it twice; one [`NodeTemplate`] per usable
//! pool, with `in_use` summed over the pool's nodes and in-flight claims.

use std::collections::{BTreeMap, BTreeSet};
use std::sync::Arc;

use k8s_openapi::api::core::v1::Node;
use k8s_openapi::apimachinery::pkg::api::resource::Quantity;
use kerf_api::labels;
use kerf_api::v1::NodeClaim;
use kerf_core::instance_type::InstanceType;
use kerf_core::pod::PodKey;
use kerf_core::requirements::Requirements;
use kerf_core::resources::Resources;
use kerf_core::snapshot::{ExistingNode, Snapshot, SolveOptions};
use kerf_core::template::{NodeTemplate, PoolRef};

use crate::pending::PendingMode;
use crate::pools::{Pool, Pools, pool_of_labels};
use crate::store::{ClusterState, node_is_ready};

/// How to build a snapshot.
#[derive(Clone, Debug, Default)]
pub struct SnapshotOptions {
    pub pending: PendingMode,
    pub solve: SolveOptions,
    /// Also plan for the pods pending pods' ReplicaSets have yet to create
    /// ([`ClusterState::expected_pods`]).
    pub expected_replicas: bool,
}

/// A snapshot and what could not be read into it (each names object and field).
#[derive(Clone, Debug, Default)]
pub struct BuiltSnapshot {
    pub snapshot: Snapshot,
    pub problems: Vec<String>,
}

/// Resolved instance types per pool, as [`kerf_cloud::CloudProvider::instance_types`] returned them.
pub type InstanceTypes = BTreeMap<PoolRef, Vec<Arc<InstanceType>>>;

fn parse(
    kind: &str,
    name: &str,
    field: &str,
    list: &BTreeMap<String, Quantity>,
    problems: &mut Vec<String>,
) -> Resources {
    Resources::from_quantities(list).unwrap_or_else(|e| {
        problems.push(format!("{kind} {name:?}: {field}.{e}"));
        Resources::default()
    })
}

impl ClusterState {
    /// The scheduler's input for the current state. `instance_types` holds each
    /// pool's resolved types (a pool missing from it gets none).
    pub fn snapshot(
        &self,
        instance_types: &InstanceTypes,
        options: &SnapshotOptions,
    ) -> BuiltSnapshot {
        self.snapshot_with_pools(&self.pools(), instance_types, options)
    }

    /// [`ClusterState::snapshot`] with pools already read.
    pub fn snapshot_with_pools(
        &self,
        pools: &Pools,
        instance_types: &InstanceTypes,
        options: &SnapshotOptions,
    ) -> BuiltSnapshot {
        let mut problems: Vec<String> = pools.skipped.clone();
        let mut in_use: BTreeMap<PoolRef, Resources> = BTreeMap::new();
        let mut nodes = Vec::new();
        // Pods on nodes being deleted are planned for like pending ones and
        // leave their node's pod list: they are moving, and counting them
        // where they are would count them twice for topology.
        let deleting = self.deleting_nodes();
        let moving = self.reschedulable_pods(&deleting);
        let moving_keys: BTreeSet<PodKey> = moving.iter().map(|p| PodKey::of(p)).collect();

        for (name, node) in &self.nodes {
            let mut existing = self.existing_node(name, node, &mut problems);
            if deleting.contains(name) {
                existing.marked_for_deletion = true;
                existing
                    .pods
                    .retain(|p| !moving_keys.contains(&PodKey::of(p)));
            }
            if let Some(pool) = &existing.pool {
                let status = node.status.as_ref();
                let capacity = status.and_then(|s| s.capacity.as_ref());
                let cap = match capacity {
                    Some(c) => parse("Node", name, "status.capacity", c, &mut problems),
                    None => existing.allocatable.clone(),
                };
                in_use.entry(pool.clone()).or_default().add(&cap);
            }
            nodes.push(existing);
        }

        for (name, claim) in &self.node_claims {
            if self.node_for_claim(claim).is_some() || claim.metadata.deletion_timestamp.is_some() {
                continue;
            }
            let claim_labels = claim.metadata.labels.clone().unwrap_or_default();
            let pool = pool_of_labels(&claim_labels);
            let types = pool.as_ref().and_then(|p| instance_types.get(p));
            let Some(estimate) = claim_estimate(name, claim, types, &mut problems) else {
                continue;
            };
            if let Some(p) = &pool {
                in_use.entry(p.clone()).or_default().add(&estimate.capacity);
            }
            let mut node_labels = estimate.requirements.single_valued_labels();
            node_labels.remove(labels::HOSTNAME);
            node_labels.extend(claim_labels);
            nodes.push(ExistingNode {
                name: name.clone(),
                labels: node_labels,
                taints: claim.spec.taints.clone(),
                allocatable: estimate.allocatable,
                pods: self.pods_on_node(name).into_iter().cloned().collect(),
                pool,
                in_flight: true,
                marked_for_deletion: false,
                unschedulable: false,
            });
        }

        let mut templates = Vec::new();
        for pool in &pools.ready {
            match template(pool, instance_types, &in_use) {
                Ok(t) => templates.push(t),
                Err(e) => problems.push(e.to_string()),
            }
        }

        let mut namespaces: BTreeMap<String, BTreeMap<String, String>> = BTreeMap::new();
        for (name, ns) in &self.namespaces {
            let mut l = ns.metadata.labels.clone().unwrap_or_default();
            l.entry("kubernetes.io/metadata.name".to_string())
                .or_insert_with(|| name.clone());
            namespaces.insert(name.clone(), l);
        }
        for pod in self.pods.values() {
            let ns = pod
                .metadata
                .namespace
                .clone()
                .unwrap_or_else(|| "default".to_string());
            namespaces.entry(ns.clone()).or_insert_with(|| {
                BTreeMap::from([("kubernetes.io/metadata.name".to_string(), ns)])
            });
        }

        let mut pending = self.pending_pods(options.pending);
        let expected = if options.expected_replicas {
            self.expected_pods(&pending)
        } else {
            Vec::new()
        };
        pending.extend(moving);
        BuiltSnapshot {
            snapshot: Snapshot {
                pending: pending.into_iter().cloned().collect(),
                expected,
                nodes,
                templates,
                daemonsets: self
                    .daemonsets
                    .values()
                    .map(|o| o.as_ref().clone())
                    .collect(),
                claims: self.pvcs.values().map(|o| o.as_ref().clone()).collect(),
                volumes: self.pvs.values().map(|o| o.as_ref().clone()).collect(),
                storage_classes: self
                    .storage_classes
                    .values()
                    .map(|o| o.as_ref().clone())
                    .collect(),
                namespaces,
                options: options.solve.clone(),
            },
            problems,
        }
    }

    fn existing_node(&self, name: &str, node: &Node, problems: &mut Vec<String>) -> ExistingNode {
        let spec = node.spec.as_ref();
        let status = node.status.as_ref();
        let allocatable = match status.and_then(|s| s.allocatable.as_ref()) {
            Some(a) => parse("Node", name, "status.allocatable", a, problems),
            None => {
                problems.push(format!("Node {name:?}: status.allocatable: is missing"));
                Resources::default()
            }
        };
        let ready = node_is_ready(node);
        let labels = node.metadata.labels.clone().unwrap_or_default();
        ExistingNode {
            name: name.to_string(),
            pool: pool_of_labels(&labels),
            labels,
            taints: spec
                .and_then(|s| s.taints.clone())
                .unwrap_or_default()
                .into_iter()
                .filter(|t| !ignored_taint(&t.key, ready))
                .collect(),
            allocatable,
            pods: self.pods_on_node(name).into_iter().cloned().collect(),
            in_flight: !ready,
            marked_for_deletion: node.metadata.deletion_timestamp.is_some(),
            unschedulable: spec.and_then(|s| s.unschedulable).unwrap_or(false),
        }
    }
}

/// Taints a node carries only until it is Ready (the node lifecycle controller
/// and cloud controller put them there). Karpenter ignores them on nodes that
/// are still coming up; counting them would launch a second node for pods the
/// first will take.
pub const EPHEMERAL_TAINTS: &[&str] = &[
    NOT_READY_TAINT,
    UNREACHABLE_TAINT,
    "node.cloudprovider.kubernetes.io/uninitialized",
];

const NOT_READY_TAINT: &str = "node.kubernetes.io/not-ready";
const UNREACHABLE_TAINT: &str = "node.kubernetes.io/unreachable";

/// Whether the snapshot leaves a node's taint out. The ephemeral taints are
/// left out while the node is not Ready. Once it is Ready, `not-ready` and
/// `unreachable` are stale: the node lifecycle controller derives them from
/// the Ready condition and removes them on its next sync. Until then a node
/// that has just turned Ready still carries `not-ready`, and a pass in that
/// window would launch a second node for pods this one will take.
///
/// kerf's own consolidation-planned taint is always left out: it steers
/// kube-scheduler's choice among nodes with room, and counting it would
/// launch a node for pods that fit on the marked ones.
fn ignored_taint(key: &str, ready: bool) -> bool {
    if key == kerf_api::labels::CONSOLIDATION_PLANNED_TAINT_KEY {
        true
    } else if ready {
        key == NOT_READY_TAINT || key == UNREACHABLE_TAINT
    } else {
        EPHEMERAL_TAINTS.contains(&key)
    }
}

/// What an in-flight claim will become: its requirements, allocatable and capacity.
struct ClaimEstimate {
    requirements: Requirements,
    allocatable: Resources,
    capacity: Resources,
}

/// Allocatable and capacity of a claim without a Node: its status when it has
/// launched; otherwise the smallest of the instance types it lists (the plan
/// only lists types that hold its pods) and the cheapest listed type's
/// capacity for limits; otherwise its requests.
fn claim_estimate(
    name: &str,
    claim: &NodeClaim,
    types: Option<&Vec<Arc<InstanceType>>>,
    problems: &mut Vec<String>,
) -> Option<ClaimEstimate> {
    let requirements = match kerf_cloud::provider::claim_requirements(claim) {
        Ok(r) => r,
        Err(e) => {
            problems.push(format!("NodeClaim {name:?}: spec.requirements: {e}"));
            return None;
        }
    };
    let requests = parse(
        "NodeClaim",
        name,
        "spec.resources.requests",
        &claim.spec.resources.requests,
        problems,
    );
    let status = claim.status.as_ref();
    let listed: Vec<&Arc<InstanceType>> = claim
        .spec
        .requirements
        .iter()
        .filter(|r| r.key == labels::INSTANCE_TYPE && r.operator == "In")
        .flat_map(|r| r.values.iter())
        .filter_map(|v| types.and_then(|ts| ts.iter().find(|t| &t.name == v)))
        .collect();
    let allocatable = match status.map(|s| &s.allocatable).filter(|a| !a.is_empty()) {
        Some(a) => parse("NodeClaim", name, "status.allocatable", a, problems),
        None => listed
            .iter()
            .map(|t| t.allocatable().clone())
            .reduce(|a, b| min_each(&a, &b))
            .unwrap_or_else(|| requests.clone()),
    };
    let capacity = match status.map(|s| &s.capacity).filter(|c| !c.is_empty()) {
        Some(c) => parse("NodeClaim", name, "status.capacity", c, problems),
        None => listed
            .first()
            .map(|t| t.capacity.clone())
            .unwrap_or_else(|| requests.clone()),
    };
    Some(ClaimEstimate {
        requirements,
        allocatable,
        capacity,
    })
}

fn min_each(a: &Resources, b: &Resources) -> Resources {
    let mut out = Resources {
        cpu: a.cpu.min(b.cpu),
        memory: a.memory.min(b.memory),
        pods: a.pods.min(b.pods),
        ephemeral_storage: a.ephemeral_storage.min(b.ephemeral_storage),
        extended: BTreeMap::new(),
    };
    for (k, v) in &a.extended {
        out.extended.insert(k.clone(), (*v).min(b.get(k)));
    }
    for k in b.extended.keys() {
        if !a.extended.contains_key(k) {
            out.extended.insert(k.clone(), 0);
        }
    }
    out
}

fn template(
    pool: &Pool,
    instance_types: &InstanceTypes,
    in_use: &BTreeMap<PoolRef, Resources>,
) -> Result<NodeTemplate, crate::StateError> {
    let spec = &pool.node_pool.spec.template;
    Ok(NodeTemplate {
        pool: pool.pool.clone(),
        weight: pool.weight(),
        requirements: pool.requirements()?,
        labels: pool.labels(),
        annotations: spec.metadata.annotations.clone(),
        taints: spec.spec.taints.clone(),
        startup_taints: spec.spec.startup_taints.clone(),
        kubelet: pool.kubelet.clone(),
        limits: pool.limits()?,
        in_use: in_use.get(&pool.pool).cloned().unwrap_or_default(),
        instance_types: instance_types.get(&pool.pool).cloned().unwrap_or_default(),
    })
}
