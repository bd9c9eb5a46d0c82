//! [`ClusterState`]: the Kubernetes objects provisioning looks at, keyed by
//! name (`namespace/name` for namespaced kinds). The controller's watchers call
//! [`ClusterState::apply`] / [`ClusterState::delete`] on every event; the
//! simulator calls `apply` on every manifest it loads. Pools (Provisioners,
//! AWSNodeTemplates, NodePools, EC2NodeClasses) are validated and defaulted on
//! the way in, so what is stored is what Karpenter would act on; Pods and
//! Nodes are trimmed to the fields kerf reads ([`crate::trim`]).

use std::collections::{BTreeMap, BTreeSet};
use std::sync::Arc;

use k8s_openapi::api::apps::v1::{DaemonSet, ReplicaSet};
use k8s_openapi::api::core::v1::{Namespace, Node, PersistentVolume, PersistentVolumeClaim, Pod};
use k8s_openapi::api::policy::v1::PodDisruptionBudget;
use k8s_openapi::api::storage::v1::StorageClass;
use kerf_api::v1::{EC2NodeClass, NodeClaim, NodePool};
use kerf_api::v1alpha1::AWSNodeTemplate;
use kerf_api::v1alpha5::Provisioner;

use crate::error::StateError;
use crate::pending::{PendingMode, bound_node, is_pending, is_terminal};

/// `namespace/name` for namespaced objects, `name` for cluster-scoped ones.
pub fn object_key(namespace: Option<&str>, name: &str) -> String {
    match namespace {
        Some(ns) => format!("{ns}/{name}"),
        None => name.to_string(),
    }
}

/// The objects provisioning reads. Objects are held in [`Arc`]s so a
/// snapshot shares pods with the cache instead of copying them; cloning the
/// state is cheap. The controller keeps one behind a lock and snapshots it
/// once per batch.
#[derive(Clone, Debug, Default)]
pub struct ClusterState {
    pub(crate) pods: BTreeMap<String, Arc<Pod>>,
    /// Node name (`spec.nodeName`) → keys of the pods bound to it, kept by
    /// `apply` and `delete`: the snapshot and the disruption loop list every
    /// node's pods, which a scan of all pods per node makes O(nodes × pods).
    pods_by_node: BTreeMap<String, BTreeSet<String>>,
    pub(crate) nodes: BTreeMap<String, Arc<Node>>,
    pub(crate) node_claims: BTreeMap<String, Arc<NodeClaim>>,
    pub(crate) daemonsets: BTreeMap<String, Arc<DaemonSet>>,
    pub(crate) replica_sets: BTreeMap<String, Arc<ReplicaSet>>,
    pub(crate) pvcs: BTreeMap<String, Arc<PersistentVolumeClaim>>,
    pub(crate) pvs: BTreeMap<String, Arc<PersistentVolume>>,
    pub(crate) storage_classes: BTreeMap<String, Arc<StorageClass>>,
    pub(crate) namespaces: BTreeMap<String, Arc<Namespace>>,
    pub(crate) pdbs: BTreeMap<String, Arc<PodDisruptionBudget>>,
    pub(crate) provisioners: BTreeMap<String, Arc<Provisioner>>,
    pub(crate) aws_node_templates: BTreeMap<String, Arc<AWSNodeTemplate>>,
    pub(crate) node_pools: BTreeMap<String, Arc<NodePool>>,
    pub(crate) ec2_node_classes: BTreeMap<String, Arc<EC2NodeClass>>,
}

/// A kind [`ClusterState`] stores. Implemented for Pod, Node, NodeClaim,
/// DaemonSet, ReplicaSet, PersistentVolumeClaim, PersistentVolume, StorageClass,
/// Namespace, PodDisruptionBudget, Provisioner, AWSNodeTemplate, NodePool and
/// EC2NodeClass.
pub trait Tracked: kube_core::Resource + Clone + Sized + 'static {
    /// The kind as errors name it, e.g. `"Provisioner"`.
    const KIND: &'static str;
    /// Whether keys are `namespace/name`.
    const NAMESPACED: bool;

    /// Validation and defaulting `apply` performs (identity for most kinds).
    fn admit(self) -> Result<Self, StateError> {
        Ok(self)
    }

    /// Drops, in place, fields no part of kerf reads ([`crate::trim`]).
    /// `apply` calls it; the watchers call it on each object as it arrives.
    fn trim(&mut self) {
        crate::trim::trim_metadata(self.meta_mut());
    }

    /// Keeps [`ClusterState`]'s indexes over this kind in step with its map
    /// after the object at `key` went from `old` to `new` (no index for most kinds).
    #[doc(hidden)]
    fn reindex(_state: &mut ClusterState, _key: &str, _old: Option<&Self>, _new: Option<&Self>) {}
    #[doc(hidden)]
    fn map(state: &ClusterState) -> &BTreeMap<String, Arc<Self>>;
    #[doc(hidden)]
    fn map_mut(state: &mut ClusterState) -> &mut BTreeMap<String, Arc<Self>>;

    /// The object's key in the state, or an error naming `metadata.name`.
    fn state_key(&self) -> Result<String, StateError> {
        let meta = self.meta();
        let name = meta
            .name
            .as_deref()
            .filter(|n| !n.is_empty())
            .ok_or_else(|| StateError::field(Self::KIND, "", "metadata.name", "is required"))?;
        let namespace = Self::NAMESPACED.then(|| meta.namespace.as_deref().unwrap_or("default"));
        Ok(object_key(namespace, name))
    }
}

macro_rules! tracked {
    ($ty:ty, $kind:literal, $namespaced:literal, $field:ident) => {
        tracked!(@impl $ty, $kind, $namespaced, $field, |o| Ok(o),);
    };
    ($ty:ty, $kind:literal, $namespaced:literal, $field:ident, trim = $trim:path $(, $extra:item)*) => {
        tracked!(@impl $ty, $kind, $namespaced, $field, |o| Ok(o), fn trim(&mut self) { $trim(self) } $($extra)*);
    };
    ($ty:ty, $kind:literal, $namespaced:literal, $field:ident, $admit:expr) => {
        tracked!(@impl $ty, $kind, $namespaced, $field, $admit,);
    };
    (@impl $ty:ty, $kind:literal, $namespaced:literal, $field:ident, $admit:expr, $($extra:item)*) => {
        impl Tracked for $ty {
            const KIND: &'static str = $kind;
            const NAMESPACED: bool = $namespaced;
            fn admit(self) -> Result<Self, StateError> {
                let f: fn(Self) -> Result<Self, StateError> = $admit;
                f(self)
            }
            $($extra)*
            fn map(state: &ClusterState) -> &BTreeMap<String, Arc<Self>> {
                &state.$field
            }
            fn map_mut(state: &mut ClusterState) -> &mut BTreeMap<String, Arc<Self>> {
                &mut state.$field
            }
        }
    };
}

tracked!(
    Pod,
    "Pod",
    true,
    pods,
    trim = crate::trim::trim_pod,
    fn reindex(state: &mut ClusterState, key: &str, old: Option<&Self>, new: Option<&Self>) {
        state.reindex_pod_node(key, old.and_then(bound_node), new.and_then(bound_node))
    }
);
tracked!(Node, "Node", false, nodes, trim = crate::trim::trim_node);
tracked!(NodeClaim, "NodeClaim", false, node_claims, |mut c| {
    // Claims are kerf's own records of launches: never reject one (that would
    // forget capacity and double-provision), only fill CRD defaults.
    c.set_defaults();
    Ok(c)
});
tracked!(DaemonSet, "DaemonSet", true, daemonsets);
tracked!(ReplicaSet, "ReplicaSet", true, replica_sets, |mut rs| {
    // Only the replica counts, uid and conditions are read (see
    // `expected`); the pod template is what the pending pods already carry.
    if let Some(spec) = rs.spec.as_mut() {
        spec.template = None;
    }
    Ok(rs)
});
tracked!(PersistentVolumeClaim, "PersistentVolumeClaim", true, pvcs);
tracked!(PersistentVolume, "PersistentVolume", false, pvs);
tracked!(StorageClass, "StorageClass", false, storage_classes);
tracked!(Namespace, "Namespace", false, namespaces);
tracked!(PodDisruptionBudget, "PodDisruptionBudget", true, pdbs);
tracked!(Provisioner, "Provisioner", false, provisioners, |mut p| {
    p.validate()?;
    p.set_defaults();
    Ok(p)
});
tracked!(
    AWSNodeTemplate,
    "AWSNodeTemplate",
    false,
    aws_node_templates,
    |t| {
        t.validate()?;
        Ok(t)
    }
);
tracked!(NodePool, "NodePool", false, node_pools, |mut p| {
    p.validate()?;
    p.set_defaults();
    Ok(p)
});
tracked!(
    EC2NodeClass,
    "EC2NodeClass",
    false,
    ec2_node_classes,
    |mut c| {
        c.validate()?;
        c.set_defaults();
        Ok(c)
    }
);

impl ClusterState {
    pub fn new() -> Self {
        ClusterState::default()
    }

    /// Stores (or replaces) an object after [`Tracked::trim`] and
    /// [`Tracked::admit`]; returns its key.
    /// On error nothing changes.
    pub fn apply<T: Tracked>(&mut self, mut obj: T) -> Result<String, StateError> {
        let key = obj.state_key()?;
        obj.trim();
        let obj = obj.admit()?;
        let new = Arc::new(obj);
        let old = T::map_mut(self).insert(key.clone(), Arc::clone(&new));
        T::reindex(self, &key, old.as_deref(), Some(&new));
        Ok(key)
    }

    /// Removes the object with this key (see [`object_key`]), returning it
    /// (still shared with any snapshot that holds it).
    pub fn delete<T: Tracked>(&mut self, key: &str) -> Option<Arc<T>> {
        let old = T::map_mut(self).remove(key);
        T::reindex(self, key, old.as_deref(), None);
        old
    }

    /// Moves pod `key` in [`ClusterState::pods_by_node`] from the node it was
    /// bound to (if any) to the one it is bound to now (if any).
    fn reindex_pod_node(&mut self, key: &str, old: Option<&str>, new: Option<&str>) {
        if old == new {
            return;
        }
        if let Some(old) = old
            && let Some(keys) = self.pods_by_node.get_mut(old)
        {
            keys.remove(key);
            if keys.is_empty() {
                self.pods_by_node.remove(old);
            }
        }
        if let Some(new) = new {
            self.pods_by_node
                .entry(new.to_string())
                .or_default()
                .insert(key.to_string());
        }
    }

    /// Removes the stored object with the same key as `obj`.
    pub fn delete_object<T: Tracked>(&mut self, obj: &T) -> Option<Arc<T>> {
        let key = obj.state_key().ok()?;
        self.delete::<T>(&key)
    }

    pub fn get<T: Tracked>(&self, key: &str) -> Option<&T> {
        T::map(self).get(key).map(|o| o.as_ref())
    }

    /// Every stored object of a kind, by key.
    pub fn objects<T: Tracked>(&self) -> impl Iterator<Item = (&String, &T)> {
        T::map(self).iter().map(|(k, o)| (k, o.as_ref()))
    }

    /// How many objects of a kind are stored.
    pub fn len<T: Tracked>(&self) -> usize {
        T::map(self).len()
    }

    /// Whether no object of the kind is stored.
    pub fn is_empty<T: Tracked>(&self) -> bool {
        T::map(self).is_empty()
    }

    /// Pods that need capacity under `mode`, in key order.
    pub fn pending_pods(&self, mode: PendingMode) -> Vec<&Arc<Pod>> {
        self.pods.values().filter(|p| is_pending(p, mode)).collect()
    }

    /// Pods bound to the node ([`bound_node`]), terminal pods excluded.
    pub fn pods_on_node(&self, node: &str) -> Vec<&Arc<Pod>> {
        self.pods_by_node
            .get(node)
            .into_iter()
            .flatten()
            .filter_map(|key| self.pods.get(key))
            .filter(|p| !is_terminal(p))
            .collect()
    }

    /// The Node a claim registered as: matched by `status.nodeName` or provider ID.
    pub fn node_for_claim(&self, claim: &NodeClaim) -> Option<&Node> {
        let status = claim.status.as_ref()?;
        if let Some(node) = status.node_name.as_deref().and_then(|n| self.nodes.get(n)) {
            return Some(node.as_ref());
        }
        let pid = status.provider_id.as_deref()?;
        self.nodes
            .values()
            .find(|n| n.spec.as_ref().and_then(|s| s.provider_id.as_deref()) == Some(pid))
            .map(|n| n.as_ref())
    }

    /// The NodeClaim a Node belongs to, by the claim's `status.nodeName` or
    /// provider ID: the reverse of [`ClusterState::node_for_claim`].
    pub fn claim_of_node(&self, node: &Node) -> Option<(&String, &NodeClaim)> {
        let name = node.metadata.name.as_deref()?;
        let pid = node.spec.as_ref().and_then(|s| s.provider_id.as_deref());
        self.node_claims
            .iter()
            .find(|(_, c)| {
                let status = c.status.as_ref();
                status.and_then(|s| s.node_name.as_deref()) == Some(name)
                    || (pid.is_some() && status.and_then(|s| s.provider_id.as_deref()) == pid)
            })
            .map(|(key, c)| (key, c.as_ref()))
    }

    /// [`ClusterState::claim_of_node`] by the Node's name.
    pub fn claim_of_node_named(&self, node: &str) -> Option<(&String, &NodeClaim)> {
        self.claim_of_node(self.nodes.get(node)?)
    }

    /// Names of every stored NodeClaim (name generators avoid them).
    pub fn claim_names(&self) -> std::collections::BTreeSet<String> {
        self.node_claims.keys().cloned().collect()
    }
}

/// The node's `Ready` condition is True.
pub fn node_is_ready(node: &Node) -> bool {
    node.status
        .as_ref()
        .and_then(|s| s.conditions.as_ref())
        .is_some_and(|cs| cs.iter().any(|c| c.type_ == "Ready" && c.status == "True"))
}
