//! The scheduler's whole input: pending pods, the nodes that exist or are being
//! launched (with the pods bound to them), node templates with their resolved
//! instance types, daemonsets, volumes and namespaces. The controller and the
//! simulator build the same structure; nothing else reaches the core.

use std::collections::BTreeMap;

use k8s_openapi::api::apps::v1::DaemonSet;
use k8s_openapi::api::core::v1::{PersistentVolume, PersistentVolumeClaim, Pod, Taint};
use k8s_openapi::api::storage::v1::StorageClass;
use serde::{Deserialize, Serialize};

use crate::resources::Resources;
use crate::template::{NodeTemplate, PoolRef};

/// Whether the scheduler treats preferences as requirements first (Karpenter's default).
#[derive(Clone, Copy, Debug, Default, PartialEq, Eq, Serialize, Deserialize)]
pub enum PreferencePolicy {
    #[default]
    Respect,
    Ignore,
}

#[derive(Clone, Debug, Serialize, Deserialize)]
pub struct SolveOptions {
    pub preference_policy: PreferencePolicy,
    /// How many instance types a planned node keeps, cheapest first.
    pub max_instance_types: usize,
}

impl Default for SolveOptions {
    fn default() -> Self {
        SolveOptions {
            preference_policy: PreferencePolicy::Respect,
            max_instance_types: 600,
        }
    }
}

/// A node that exists, or a launch in flight that will become one.
#[derive(Clone, Debug)]
pub struct ExistingNode {
    pub name: String,
    pub labels: BTreeMap<String, String>,
    pub taints: Vec<Taint>,
    pub allocatable: Resources,
    /// Pods bound (or nominated) to it, daemonset pods included.
    pub pods: Vec<Pod>,
    /// The Provisioner/NodePool that launched it, when kerf did (it then
    /// counts against that pool's `limits.nodes`).
    pub pool: Option<PoolRef>,
    /// Launched but not yet registered and ready.
    pub in_flight: bool,
    /// Being removed: never a target for new pods.
    pub marked_for_deletion: bool,
    /// `spec.unschedulable` (cordoned).
    pub unschedulable: bool,
}

#[derive(Clone, Debug, Default)]
pub struct Snapshot {
    /// Pods waiting for capacity, in any order.
    pub pending: Vec<Pod>,
    pub nodes: Vec<ExistingNode>,
    pub templates: Vec<NodeTemplate>,
    pub daemonsets: Vec<DaemonSet>,
    pub claims: Vec<PersistentVolumeClaim>,
    pub volumes: Vec<PersistentVolume>,
    pub storage_classes: Vec<StorageClass>,
    /// Namespace name → labels, for namespaceSelector in pod affinity.
    pub namespaces: BTreeMap<String, BTreeMap<String, String>>,
    pub options: SolveOptions,
}
