//! What [`ClusterState`](crate::ClusterState) keeps of a Pod or a Node. The
//! cache holds every pod in the cluster for as long as it exists, and a
//! Running pod as the API server serves it is about 18 KB in memory, most of
//! it fields no part of kerf reads (container images, environment, probes,
//! volume mounts, the service-account token volume, container statuses, pod
//! IPs). Trimming on the way in keeps about 7 KB. The watchers trim each
//! object as it arrives ([`Tracked::trim`](crate::Tracked::trim)), so even a
//! full relist never buffers whole pods.
//!
//! Nothing here is ever written back to the API server: kerf binds, evicts
//! and events pods by name and uid, and patches only their deletion-cost
//! annotations (a merge patch naming those two keys), so a trimmed pod is
//! only ever read.

use k8s_openapi::api::core::v1::{Container, Node, Pod, Volume};

/// Written by `kubectl apply` on objects applied directly: a full copy of the
/// object as applied.
const LAST_APPLIED: &str = "kubectl.kubernetes.io/last-applied-configuration";

/// The pod with only what scheduling, disruption, binding and metrics read:
/// all of `metadata` (but managed fields and the last-applied copy), the
/// spec with containers cut to their name, resources, ports and restart
/// policy, and of `status` its phase, reason, nominated node and
/// `PodScheduled` and `Ready` conditions.
pub fn trim_pod(pod: &mut Pod) {
    trim_metadata(&mut pod.metadata);
    if let Some(spec) = pod.spec.as_mut() {
        for c in spec.containers.iter_mut() {
            trim_container(c);
        }
        for c in spec.init_containers.iter_mut().flatten() {
            trim_container(c);
        }
        // Ephemeral containers have no resources and no ports.
        spec.ephemeral_containers = None;
        trim_volumes(&mut spec.volumes);
    }
    if let Some(status) = pod.status.as_mut() {
        let mut conditions = status.conditions.take().unwrap_or_default();
        // Ready: a PodDisruptionBudget that lets unhealthy pods go does not
        // hold back a pod that is not Ready (crate::deleting).
        conditions.retain(|c| c.type_ == "PodScheduled" || c.type_ == "Ready");
        *status = k8s_openapi::api::core::v1::PodStatus {
            phase: status.phase.take(),
            reason: status.reason.take(),
            message: status.message.take(),
            nominated_node_name: status.nominated_node_name.take(),
            // Counts a do-not-disrupt duration (crate::disruption).
            start_time: status.start_time.take(),
            conditions: (!conditions.is_empty()).then_some(conditions),
            ..Default::default()
        };
    }
}

/// The node without the list of images it holds (often dozens, each with
/// several names) and without its managed fields.
pub fn trim_node(node: &mut Node) {
    trim_metadata(&mut node.metadata);
    if let Some(status) = node.status.as_mut() {
        status.images = None;
    }
}

/// What every kind loses: managed fields (often the largest part of an
/// object) and the last-applied copy.
pub fn trim_metadata(meta: &mut k8s_openapi::apimachinery::pkg::apis::meta::v1::ObjectMeta) {
    meta.managed_fields = None;
    if let Some(annotations) = meta.annotations.as_mut() {
        annotations.remove(LAST_APPLIED);
    }
}

fn trim_container(c: &mut Container) {
    *c = Container {
        name: std::mem::take(&mut c.name),
        resources: c.resources.take(),
        ports: c.ports.take(),
        // `Always` on an init container makes it a sidecar, which changes
        // how its requests add up.
        restart_policy: c.restart_policy.take(),
        ..Default::default()
    };
}

/// Only persistent volume claims and ephemeral volumes tie a pod to a zone.
/// Pods without either (nearly all: the service-account token is a
/// projected volume) keep no volumes; pods with one keep every entry, the
/// others as bare names, so `spec.volumes[i]` in an error still points at
/// the volume the user wrote.
fn trim_volumes(volumes: &mut Option<Vec<Volume>>) {
    let Some(list) = volumes.as_mut() else {
        return;
    };
    let ties = |v: &Volume| v.persistent_volume_claim.is_some() || v.ephemeral.is_some();
    if !list.iter().any(ties) {
        *volumes = None;
        return;
    }
    for v in list.iter_mut().filter(|v| !ties(v)) {
        *v = Volume {
            name: std::mem::take(&mut v.name),
            ..Default::default()
        };
    }
}
