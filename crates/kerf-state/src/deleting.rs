//! Pods on nodes that are going away. Karpenter's provisioner schedules the
//! pods still running on a node being deleted alongside the pending ones, so
//! their replacement capacity is launching while the node drains
//! (`Provisioner.Schedule`: `nodes.Deleting().CurrentlyReschedulablePods`),
//! and never offers the deleting node itself as capacity (`nodes.Active()`).
//!
//! A node is being deleted when the Node or its NodeClaim has a
//! deletionTimestamp, or the Node carries `karpenter.sh/disrupted:NoSchedule`
//! (what Karpenter's disruption and termination controllers put on a node
//! they are about to remove; kerf keeps no in-memory "marked for deletion"
//! flag, so the taint is the lasting sign).

use std::collections::BTreeSet;
use std::sync::Arc;

use k8s_openapi::api::core::v1::{Node, Pod, Taint};
use k8s_openapi::api::policy::v1::PodDisruptionBudget;
use k8s_openapi::apimachinery::pkg::util::intstr::IntOrString;
use kerf_api::labels;
use kerf_core::selector::Selector;

use crate::pending::{PendingMode, is_daemonset_pod, is_mirror_pod, is_terminal};
use crate::store::ClusterState;

/// Whether the Node says it is going away: a deletionTimestamp, or the
/// `karpenter.sh/disrupted:NoSchedule` taint.
pub fn node_is_deleting(node: &Node) -> bool {
    node.metadata.deletion_timestamp.is_some()
        || node
            .spec
            .as_ref()
            .and_then(|s| s.taints.as_ref())
            .into_iter()
            .flatten()
            .any(is_disrupted_taint)
}

/// `karpenter.sh/disrupted:NoSchedule`, the taint of a node being disrupted.
pub fn is_disrupted_taint(t: &Taint) -> bool {
    t.key == labels::DISRUPTED_TAINT_KEY && t.effect == "NoSchedule"
}

/// Adds `karpenter.sh/disrupted:NoSchedule` to the Node unless it has it,
/// keeping every other taint.
pub fn add_disrupted_taint(node: &mut Node) {
    let taints = node
        .spec
        .get_or_insert_with(Default::default)
        .taints
        .get_or_insert_with(Vec::new);
    if !taints.iter().any(is_disrupted_taint) {
        taints.push(Taint {
            key: labels::DISRUPTED_TAINT_KEY.to_string(),
            effect: "NoSchedule".to_string(),
            ..Taint::default()
        });
    }
}

impl ClusterState {
    /// Names of the Nodes being deleted: by their own sign
    /// ([`node_is_deleting`]) or because their NodeClaim has a deletionTimestamp.
    pub fn deleting_nodes(&self) -> BTreeSet<String> {
        let mut out: BTreeSet<String> = self
            .nodes
            .iter()
            .filter(|(_, n)| node_is_deleting(n))
            .map(|(name, _)| name.clone())
            .collect();
        for claim in self.node_claims.values() {
            if claim.metadata.deletion_timestamp.is_none() {
                continue;
            }
            if let Some(name) = self
                .node_for_claim(claim)
                .and_then(|n| n.metadata.name.clone())
            {
                out.insert(name);
            }
        }
        out
    }

    /// What a provisioning pass plans for: the pending pods
    /// ([`ClusterState::pending_pods`]) and then the reschedulable pods of
    /// the nodes being deleted.
    pub fn pods_needing_capacity(&self, mode: PendingMode) -> Vec<&Arc<Pod>> {
        let mut out = self.pending_pods(mode);
        out.extend(self.reschedulable_pods(&self.deleting_nodes()));
        out
    }

    /// Pods on the given nodes that will need a place to run once the nodes
    /// are gone, as Karpenter's `IsCurrentlyReschedulable` decides.
    pub fn reschedulable_pods(&self, nodes: &BTreeSet<String>) -> Vec<&Arc<Pod>> {
        let budgets: Vec<Budget> = self.pdbs.values().map(|p| Budget::of(p)).collect();
        nodes
            .iter()
            .flat_map(|n| self.pods_on_node(n))
            .filter(|p| is_reschedulable(p, &budgets))
            .collect()
    }
}

/// Karpenter's `IsCurrentlyReschedulable`: the pod is running (or a
/// terminating StatefulSet pod, whose replacement cannot start before it is
/// gone), is not a DaemonSet or mirror pod, has no `karpenter.sh/do-not-disrupt`
/// and no PodDisruptionBudget that blocks every eviction (it would stay put,
/// so capacity for it would sit idle).
fn is_reschedulable(pod: &Pod, budgets: &[Budget]) -> bool {
    let terminating = pod.metadata.deletion_timestamp.is_some();
    let active = !is_terminal(pod) && !terminating;
    let moves = active || (terminating && !is_terminal(pod) && owned_by(pod, "StatefulSet"));
    // Karpenter's IsDisruptable: do-not-disrupt holds back only a running pod.
    let disruptable = !active || !do_not_disrupt(pod);
    moves
        && disruptable
        && !is_daemonset_pod(pod)
        && !is_mirror_pod(pod)
        && !owned_by(pod, "Node")
        && !fully_blocked(pod, budgets)
}

fn owned_by(pod: &Pod, kind: &str) -> bool {
    pod.metadata
        .owner_references
        .iter()
        .flatten()
        .any(|o| o.kind == kind)
}

/// `karpenter.sh/do-not-disrupt: "true"`, or v1alpha5's
/// `karpenter.sh/do-not-evict: "true"`, which kerf's drain honours the same
/// way (the pod stays until it ends, so capacity for it would sit idle).
/// Karpenter also reads a duration in do-not-disrupt, counted from the pod's
/// start; kerf's pure snapshot has no clock, so a duration is not read as
/// blocking (docs/differences.md).
fn do_not_disrupt(pod: &Pod) -> bool {
    let annotations = pod.metadata.annotations.as_ref();
    [labels::DO_NOT_DISRUPT, labels::DO_NOT_EVICT]
        .iter()
        .any(|k| {
            annotations
                .and_then(|a| a.get(*k))
                .is_some_and(|v| v == "true")
        })
}

/// A PodDisruptionBudget as Karpenter's `pdb.Limits` reads it.
struct Budget {
    namespace: String,
    /// `None`: no selector, which matches no pod.
    selector: Option<Selector>,
    /// maxUnavailable 0 / "0%" or minAvailable "100%": no eviction ever passes.
    fully_blocking: bool,
    /// `unhealthyPodEvictionPolicy: AlwaysAllow`.
    evicts_unhealthy: bool,
}

impl Budget {
    fn of(pdb: &PodDisruptionBudget) -> Self {
        let spec = pdb.spec.as_ref();
        let max_unavailable = spec.and_then(|s| s.max_unavailable.as_ref());
        let min_available = spec.and_then(|s| s.min_available.as_ref());
        let fully_blocking = matches!(max_unavailable, Some(IntOrString::Int(0)))
            || matches!(max_unavailable, Some(IntOrString::String(s)) if s == "0%")
            || matches!(min_available, Some(IntOrString::String(s)) if s == "100%");
        Budget {
            namespace: pdb.metadata.namespace.clone().unwrap_or_default(),
            // A selector the API server admitted compiles; one that does not
            // is read as matching nothing rather than holding every pod back.
            selector: spec
                .and_then(|s| s.selector.as_ref())
                .and_then(|s| Selector::compile(s, "spec.selector").ok()),
            fully_blocking,
            evicts_unhealthy: spec.and_then(|s| s.unhealthy_pod_eviction_policy.as_deref())
                == Some("AlwaysAllow"),
        }
    }

    fn covers(&self, pod: &Pod) -> bool {
        let empty = Default::default();
        pod.metadata.namespace.as_deref().unwrap_or("default") == self.namespace
            && self
                .selector
                .as_ref()
                .is_some_and(|s| s.matches(pod.metadata.labels.as_ref().unwrap_or(&empty)))
    }
}

/// Karpenter's `isFullyBlocked`: for a pod it would evict, more than one
/// budget covering it (the eviction API refuses those), or one that never
/// allows an eviction unless it lets unhealthy pods go and this one is not Ready.
fn fully_blocked(pod: &Pod, budgets: &[Budget]) -> bool {
    let evictable = !is_terminal(pod)
        && pod.metadata.deletion_timestamp.is_none()
        && !tolerates_disrupted(pod)
        && !owned_by(pod, "Node")
        && !do_not_disrupt(pod);
    if !evictable {
        return false;
    }
    let covering: Vec<&Budget> = budgets.iter().filter(|b| b.covers(pod)).collect();
    if covering.len() > 1 {
        return true;
    }
    covering
        .iter()
        .any(|b| b.fully_blocking && !(b.evicts_unhealthy && not_ready(pod)))
}

fn tolerates_disrupted(pod: &Pod) -> bool {
    let taint = Taint {
        key: labels::DISRUPTED_TAINT_KEY.to_string(),
        effect: "NoSchedule".to_string(),
        ..Default::default()
    };
    pod.spec
        .as_ref()
        .and_then(|s| s.tolerations.as_ref())
        .into_iter()
        .flatten()
        .any(|t| kerf_core::taints::tolerates(t, &taint))
}

fn not_ready(pod: &Pod) -> bool {
    pod.status
        .as_ref()
        .and_then(|s| s.conditions.as_ref())
        .into_iter()
        .flatten()
        .any(|c| c.type_ == "Ready" && c.status == "False")
}
