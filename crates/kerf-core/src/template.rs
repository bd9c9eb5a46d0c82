//! Node templates: what the scheduler may launch for one Provisioner or
//! NodePool — its requirements, labels, taints, kubelet settings, limits,
//! weight, and the instance types its cloud provider resolved for it.

use std::collections::BTreeMap;
use std::fmt;
use std::sync::Arc;

use k8s_openapi::api::core::v1::Taint;
use serde::{Deserialize, Serialize};

use crate::instance_type::InstanceType;
use crate::requirements::Requirements;
use crate::resources::Resources;

/// The `limits` key that caps a pool's node count (Karpenter v1's
/// `spec.limits.nodes`; a Provisioner's `spec.limits.resources.nodes` is read
/// the same way once converted), rather than a resource of its nodes.
pub const NODE_LIMIT: &str = "nodes";

/// Which API object a template came from; reasons and plans name it this way.
#[derive(Clone, Copy, Debug, PartialEq, Eq, PartialOrd, Ord, Hash, Serialize, Deserialize)]
pub enum PoolKind {
    Provisioner,
    NodePool,
}

#[derive(Clone, Debug, PartialEq, Eq, PartialOrd, Ord, Hash, Serialize, Deserialize)]
pub struct PoolRef {
    pub kind: PoolKind,
    pub name: String,
}

impl PoolRef {
    /// Where the user wrote a limit on this pool, e.g. `spec.limits.nodes`.
    pub fn limit_path(&self, resource: &str) -> String {
        match self.kind {
            PoolKind::Provisioner => format!("spec.limits.resources.{resource}"),
            PoolKind::NodePool => format!("spec.limits.{resource}"),
        }
    }
}

impl fmt::Display for PoolRef {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match self.kind {
            PoolKind::Provisioner => write!(f, "provisioner {}", self.name),
            PoolKind::NodePool => write!(f, "nodepool {}", self.name),
        }
    }
}

/// Kubelet settings that change what a node can hold. Reservations are
/// overrides in milli-units keyed by resource name; a key that is absent keeps
/// the cloud provider's default.
#[derive(Clone, Debug, Default, PartialEq, Eq, PartialOrd, Ord, Serialize, Deserialize)]
pub struct KubeletSettings {
    pub max_pods: Option<i64>,
    pub pods_per_core: Option<i64>,
    pub kube_reserved: BTreeMap<String, i64>,
    pub system_reserved: BTreeMap<String, i64>,
    /// Eviction signal → threshold as written (`"100Mi"` or `"10%"`).
    pub eviction_hard: BTreeMap<String, String>,
    pub eviction_soft: BTreeMap<String, String>,
}

/// Everything the scheduler needs to launch nodes for one Provisioner or NodePool.
#[derive(Clone, Debug)]
pub struct NodeTemplate {
    pub pool: PoolRef,
    /// Higher is tried first; absent weight counts as 0.
    pub weight: i32,
    /// The pool's requirements with its labels folded in as `In [value]`.
    pub requirements: Requirements,
    pub labels: BTreeMap<String, String>,
    pub annotations: BTreeMap<String, String>,
    pub taints: Vec<Taint>,
    /// Taints a daemon removes after start; pods need not tolerate them.
    pub startup_taints: Vec<Taint>,
    pub kubelet: KubeletSettings,
    /// Cap on the summed capacity of the pool's nodes: resource name → milli-units.
    /// A resource the map does not name is unlimited. [`NODE_LIMIT`] (`nodes`)
    /// caps how many nodes the pool has instead: the snapshot's nodes whose
    /// `pool` is this one (registered or in flight) plus the new ones planned.
    pub limits: BTreeMap<String, i64>,
    /// Capacity of the pool's nodes that already exist or are being launched.
    pub in_use: Resources,
    /// Instance types the cloud provider offers for this template, any order.
    pub instance_types: Vec<Arc<InstanceType>>,
}

impl NodeTemplate {
    /// A template for `pool` over these types with these requirements, and
    /// nothing else set: no labels, taints, limits or capacity in use,
    /// default kubelet settings, weight 0.
    pub fn new(
        pool: PoolRef,
        requirements: Requirements,
        instance_types: Vec<Arc<InstanceType>>,
    ) -> Self {
        NodeTemplate {
            pool,
            weight: 0,
            requirements,
            labels: BTreeMap::new(),
            annotations: BTreeMap::new(),
            taints: Vec::new(),
            startup_taints: Vec::new(),
            kubelet: KubeletSettings::default(),
            limits: BTreeMap::new(),
            in_use: Resources::default(),
            instance_types,
        }
    }
}
