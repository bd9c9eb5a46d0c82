//! Which pods need capacity. Karpenter's provisioner takes pods that are not
//! bound, not terminating, not owned by a DaemonSet, not mirror pods, and that
//! kube-scheduler marked `PodScheduled=False` with reason `Unschedulable`. The
//! simulator has no kube-scheduler, so it treats every unbound pod as pending.

use k8s_openapi::api::core::v1::Pod;

/// How [`is_pending`] decides.
#[derive(Clone, Copy, Debug, Default, PartialEq, Eq)]
pub enum PendingMode {
    /// Karpenter's rule: kube-scheduler must have marked the pod Unschedulable.
    #[default]
    Unschedulable,
    /// Every unbound pod (no kube-scheduler to ask, e.g. `kerf simulate`).
    AllUnbound,
}

/// Whether the pod needs capacity under `mode`.
pub fn is_pending(pod: &Pod, mode: PendingMode) -> bool {
    if bound_node(pod).is_some()
        || pod.metadata.deletion_timestamp.is_some()
        || is_terminal(pod)
        || is_daemonset_pod(pod)
        || is_mirror_pod(pod)
    {
        return false;
    }
    match mode {
        PendingMode::AllUnbound => true,
        PendingMode::Unschedulable => is_marked_unschedulable(pod),
    }
}

/// The node the pod is bound to: `spec.nodeName`, unless unset or empty.
pub fn bound_node(pod: &Pod) -> Option<&str> {
    pod.spec
        .as_ref()
        .and_then(|s| s.node_name.as_deref())
        .filter(|n| !n.is_empty())
}

/// `status.phase` is Succeeded or Failed.
pub fn is_terminal(pod: &Pod) -> bool {
    matches!(
        pod.status.as_ref().and_then(|s| s.phase.as_deref()),
        Some("Succeeded") | Some("Failed")
    )
}

/// Owned (as controller) by a DaemonSet.
pub fn is_daemonset_pod(pod: &Pod) -> bool {
    pod.metadata
        .owner_references
        .iter()
        .flatten()
        .any(|o| o.kind == "DaemonSet")
}

/// A static pod's API mirror (annotation `kubernetes.io/config.mirror`).
pub fn is_mirror_pod(pod: &Pod) -> bool {
    pod.metadata
        .annotations
        .as_ref()
        .is_some_and(|a| a.contains_key("kubernetes.io/config.mirror"))
}

/// `PodScheduled` is False with reason `Unschedulable`.
pub fn is_marked_unschedulable(pod: &Pod) -> bool {
    pod.status
        .as_ref()
        .and_then(|s| s.conditions.as_ref())
        .into_iter()
        .flatten()
        .any(|c| {
            c.type_ == "PodScheduled"
                && c.status == "False"
                && c.reason.as_deref() == Some("Unschedulable")
        })
}
