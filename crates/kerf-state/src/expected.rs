//! Pods a ReplicaSet has yet to create, planned for in the same pass as the
//! ones that exist.
//!
//! A Deployment scaled from 0 to 1,000 does not produce 1,000 pending pods at
//! once: the ReplicaSet controller creates them in growing bursts and
//! kube-scheduler marks each one unschedulable in turn, so the pods reach the
//! provisioner over tens of seconds and several batches. Planning each batch
//! alone gives each batch its own small last node. The ReplicaSet already says
//! how many pods it wants, and they will all be copies of the pods already
//! pending, so a pass plans for those copies too (after every real pod; see
//! [`kerf_core::pod::PodInfo::expected`]). The snapshot holds them as counts
//! ([`ExpectedPods`]), not as copies of the pod. The nodes are launched; the
//! copies are never bound or reported. When the real pods arrive, the next pass finds
//! the room on the nodes in flight.

use std::collections::BTreeMap;
use std::sync::Arc;

use k8s_openapi::api::apps::v1::ReplicaSet;
use k8s_openapi::api::core::v1::Pod;
use kerf_core::pod::PodKey;
use kerf_core::snapshot::ExpectedPods;

use crate::pending::{bound_node, is_terminal};
use crate::store::{ClusterState, node_is_ready, object_key};

/// At most this many expected pods per pass, however many replicas are
/// missing: a pass's memory stays bounded, and a later pass plans the rest.
pub const MAX_EXPECTED_PER_PASS: usize = 10_000;

/// The controlling ReplicaSet of a pod: its state key and uid.
fn replica_set_of(pod: &Pod) -> Option<(String, &str)> {
    let owner = pod
        .metadata
        .owner_references
        .iter()
        .flatten()
        .find(|o| o.controller == Some(true))?;
    if owner.kind != "ReplicaSet" || !owner.api_version.starts_with("apps/") {
        return None;
    }
    let ns = pod.metadata.namespace.as_deref().unwrap_or("default");
    Some((object_key(Some(ns), &owner.name), owner.uid.as_str()))
}

/// Whether the ReplicaSet controller reports that it cannot create pods
/// (a ResourceQuota, an admission webhook): then the missing replicas may
/// never come, and nothing is planned for them.
fn creation_failing(rs: &ReplicaSet) -> bool {
    rs.status
        .as_ref()
        .and_then(|s| s.conditions.as_ref())
        .into_iter()
        .flatten()
        .any(|c| c.type_ == "ReplicaFailure" && c.status == "True")
}

impl ClusterState {
    /// The replicas pending pods' ReplicaSets still have to create, each
    /// ReplicaSet's as copies of one of its pending pods: the desired count,
    /// less the pods that are bound and the ones pending in this pass. Pods
    /// that exist but kube-scheduler has not tried yet count as missing;
    /// terminating and finished pods count as gone.
    ///
    /// Nothing is expected while any NodeClaim is still launching (no Ready
    /// node yet): the pass that started the scale-up already planned for its
    /// replicas, and while capacity is in flight the cluster's view of it is
    /// at its least exact (nodes registering, pods being bound), so a later
    /// pass plans for the pods that exist, as Karpenter does. Measured on the
    /// 5,000-pod head-to-head, planning the expected replicas again during
    /// that window sometimes launched a second fleet for them.
    pub fn expected_pods(&self, pending: &[&Arc<Pod>]) -> Vec<ExpectedPods> {
        if self.launches_in_flight() {
            return Vec::new();
        }
        // Replica set key → (uid, one pending pod, how many pending).
        let mut groups: BTreeMap<String, (&str, &Pod, usize)> = BTreeMap::new();
        for pod in pending {
            let Some((key, uid)) = replica_set_of(pod) else {
                continue;
            };
            groups.entry(key).or_insert((uid, pod, 0)).2 += 1;
        }
        if groups.is_empty() {
            return Vec::new();
        }
        let mut bound: BTreeMap<&str, usize> = BTreeMap::new();
        for pod in self.pods.values() {
            if bound_node(pod).is_none()
                || is_terminal(pod)
                || pod.metadata.deletion_timestamp.is_some()
            {
                continue;
            }
            if let Some((_, uid)) = replica_set_of(pod) {
                *bound.entry(uid).or_default() += 1;
            }
        }
        let mut out = Vec::new();
        let mut total = 0;
        for (key, (uid, like, in_pass)) in groups {
            let Some(rs) = self.replica_set_to_expect(&key, uid) else {
                continue;
            };
            let desired = rs
                .spec
                .as_ref()
                .and_then(|s| s.replicas)
                .unwrap_or(1)
                .max(0) as usize;
            let have = in_pass + bound.get(uid).copied().unwrap_or(0);
            let count = desired
                .saturating_sub(have)
                .min(MAX_EXPECTED_PER_PASS - total);
            if count == 0 {
                continue;
            }
            total += count;
            out.push(ExpectedPods {
                like: PodKey::of(like),
                owner: rs.metadata.name.clone().unwrap_or_default(),
                count,
            });
            if total == MAX_EXPECTED_PER_PASS {
                break;
            }
        }
        out
    }

    /// What a pending pod adds to the provisioner's open batch: its
    /// ReplicaSet, when the next pass would plan that ReplicaSet's missing
    /// replicas with it, else nothing beyond the pod itself (`None`).
    ///
    /// Why: a batch waits for demand to stop arriving. Once one pod of a
    /// ReplicaSet is pending and its missing siblings are expected, the
    /// siblings that arrive later are already in the plan, so they need not
    /// hold the batch open: keyed by the ReplicaSet, the batch closes a second
    /// after that ReplicaSet's first pod, not a second after its last. While
    /// claims are in flight or the ReplicaSet cannot create pods, nothing is
    /// expected, and each pod extends the batch as in Karpenter.
    pub fn demand_key(&self, pod: &Pod) -> Option<String> {
        let (key, uid) = replica_set_of(pod)?;
        if self.launches_in_flight() {
            return None;
        }
        self.replica_set_to_expect(&key, uid)?;
        Some(format!("ReplicaSet/{uid}"))
    }

    /// The stored ReplicaSet `key`, if it is the one with `uid` and its
    /// missing replicas can be expected: not being deleted, not failing to
    /// create pods.
    fn replica_set_to_expect(&self, key: &str, uid: &str) -> Option<&ReplicaSet> {
        self.replica_sets.get(key).map(Arc::as_ref).filter(|rs| {
            rs.metadata.uid.as_deref() == Some(uid)
                && rs.metadata.deletion_timestamp.is_none()
                && !creation_failing(rs)
        })
    }

    /// Whether a NodeClaim (not being deleted) has no Ready Node yet.
    fn launches_in_flight(&self) -> bool {
        self.node_claims.values().any(|claim| {
            claim.metadata.deletion_timestamp.is_none()
                && !self.node_for_claim(claim).is_some_and(node_is_ready)
        })
    }
}
