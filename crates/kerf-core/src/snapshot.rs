//! The scheduler's whole input: pending pods, the nodes that exist or are being
//! launched (with the pods bound to them), node templates with their resolved
//! instance types, daemonsets, volumes and namespaces. The controller and the
//! simulator build the same structure; nothing else reaches the core.

use std::collections::BTreeMap;
use std::sync::Arc;

use k8s_openapi::api::apps::v1::DaemonSet;
use k8s_openapi::api::core::v1::{PersistentVolume, PersistentVolumeClaim, Pod, Taint};
use k8s_openapi::api::storage::v1::StorageClass;
use serde::{Deserialize, Serialize};

use crate::pod::PodKey;
use crate::resources::Resources;
use crate::template::{NodeTemplate, PoolRef};

/// Whether the scheduler treats preferences as requirements first (Karpenter's default).
#[derive(Clone, Copy, Debug, Default, PartialEq, Eq, Serialize, Deserialize)]
pub enum PreferencePolicy {
    #[default]
    Respect,
    Ignore,
}

/// What the scheduler does when a pod would leave a node's instance-type
/// options with fewer values than a requirement's `minValues` (Karpenter's
/// `--min-values-policy`).
#[derive(Clone, Copy, Debug, Default, PartialEq, Eq, Serialize, Deserialize)]
pub enum MinValuesPolicy {
    /// The pod does not go there; with no other place it stays pending.
    #[default]
    Strict,
    /// The pod goes there and the node's minValues is lowered to what is left.
    BestEffort,
}

#[derive(Clone, Debug, Serialize, Deserialize)]
pub struct SolveOptions {
    pub preference_policy: PreferencePolicy,
    #[serde(default)]
    pub min_values_policy: MinValuesPolicy,
    /// How many instance types a planned node keeps, cheapest first.
    pub max_instance_types: usize,
    /// Set by consolidation's simulations, where a command may replace its
    /// candidates by one node only: the finishing pass then puts a tail of
    /// pods on one node whenever that costs at most a little more than the
    /// greedy finish, however much of the group the tail is (provisioning
    /// caps that extra at a share of the group; see `scheduler::repack`).
    #[serde(skip)]
    pub consolidating: bool,
}

impl Default for SolveOptions {
    fn default() -> Self {
        SolveOptions {
            preference_policy: PreferencePolicy::Respect,
            min_values_policy: MinValuesPolicy::Strict,
            max_instance_types: 600,
            consolidating: false,
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
    /// Pods bound (or nominated) to it, daemonset pods included. Shared with
    /// the caller's cache: a pass reads them, never changes them.
    pub pods: Vec<Arc<Pod>>,
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
    /// Pods waiting for capacity, in any order (shared, like
    /// [`ExistingNode::pods`]).
    pub pending: Vec<Arc<Pod>>,
    /// Pods their controllers have yet to create, as copies of pending pods.
    pub expected: Vec<ExpectedPods>,
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

/// `count` pods a controller (a ReplicaSet named `owner`) has yet to create,
/// each a copy of the pending pod `like` named `<owner>-expected-<n>`. The
/// scheduler plans for them after every real pod
/// ([`PodInfo::expected`](crate::pod::PodInfo::expected)); a plan places
/// them like any pod and the caller never binds or reports them. Held as a
/// count, not as copies: a Deployment scaled to thousands would otherwise
/// copy its pod that many times per pass.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct ExpectedPods {
    pub like: PodKey,
    pub owner: String,
    pub count: usize,
}

impl ExpectedPods {
    /// The key of copy `n`.
    pub fn key(&self, n: usize) -> PodKey {
        PodKey {
            namespace: self.like.namespace.clone(),
            name: format!("{}-expected-{n}", self.owner),
        }
    }

    /// The keys of every copy.
    pub fn keys(&self) -> impl Iterator<Item = PodKey> + '_ {
        (0..self.count).map(|n| self.key(n))
    }

    /// The copies as pods, carrying the annotation
    /// [`kerf_api::labels::EXPECTED_REPLICA`] (what an independent check of a
    /// plan replays).
    pub fn pods(&self, like: &Pod) -> Vec<Pod> {
        (0..self.count)
            .map(|n| {
                let mut pod = like.clone();
                let meta = &mut pod.metadata;
                meta.name = Some(self.key(n).name);
                meta.uid = None;
                meta.resource_version = None;
                meta.creation_timestamp = None;
                meta.annotations.get_or_insert_with(BTreeMap::new).insert(
                    kerf_api::labels::EXPECTED_REPLICA.to_string(),
                    self.owner.clone(),
                );
                pod.status = None;
                pod
            })
            .collect()
    }
}

impl Snapshot {
    /// Every expected pod as a pod ([`ExpectedPods::pods`]); entries whose
    /// `like` is not pending give none.
    pub fn expected_copies(&self) -> Vec<Pod> {
        self.expected
            .iter()
            .filter_map(|e| {
                let like = self.pending.iter().find(|p| PodKey::of(p) == e.like)?;
                Some(e.pods(like))
            })
            .flatten()
            .collect()
    }
}
