//! DaemonSets as their controller places them: the pod every DaemonSet runs
//! (its template plus the tolerations the controller adds), and whether it
//! runs on a node. The packer charges a DaemonSet's requests to each node it
//! will run on but does not run on yet (a node still launching, or one whose
//! daemon pod is not created), as it charges them to every new node; the
//! simulator creates the daemon pods its input's Nodes would be running.

use std::collections::BTreeMap;

use k8s_openapi::api::apps::v1::DaemonSet;
use k8s_openapi::api::core::v1::{Pod, PodSpec, Taint, Toleration};
use k8s_openapi::apimachinery::pkg::apis::meta::v1::ObjectMeta;

use crate::pod::{self, PodError, PodInfo};
use crate::requirements::Requirements;

/// The pod one DaemonSet runs on every node it schedules to.
#[derive(Clone, Debug)]
pub struct Daemon {
    pub namespace: String,
    pub name: String,
    /// The template's spec with the controller's tolerations added.
    pub spec: PodSpec,
    pub info: PodInfo,
}

/// Tolerations the DaemonSet controller adds to every daemon pod
/// (`util.AddOrUpdateDaemonPodTolerations`), and for host-network pods
/// `network-unavailable` too.
pub fn controller_tolerations(host_network: bool) -> Vec<Toleration> {
    let mut keys = vec![
        ("node.kubernetes.io/not-ready", "NoExecute"),
        ("node.kubernetes.io/unreachable", "NoExecute"),
        ("node.kubernetes.io/disk-pressure", "NoSchedule"),
        ("node.kubernetes.io/memory-pressure", "NoSchedule"),
        ("node.kubernetes.io/pid-pressure", "NoSchedule"),
        ("node.kubernetes.io/unschedulable", "NoSchedule"),
    ];
    if host_network {
        keys.push(("node.kubernetes.io/network-unavailable", "NoSchedule"));
    }
    keys.into_iter()
        .map(|(key, effect)| Toleration {
            key: Some(key.to_string()),
            operator: Some("Exists".to_string()),
            effect: Some(effect.to_string()),
            ..Default::default()
        })
        .collect()
}

/// The DaemonSet's pod; `Ok(None)` when it has no pod template spec. An
/// error names the template field kerf cannot read.
pub fn daemon(ds: &DaemonSet) -> Result<Option<Daemon>, PodError> {
    let Some(template) = ds.spec.as_ref().map(|s| &s.template) else {
        return Ok(None);
    };
    let Some(mut spec) = template.spec.clone() else {
        return Ok(None);
    };
    let namespace = ds
        .metadata
        .namespace
        .clone()
        .unwrap_or_else(|| "default".into());
    let name = ds.metadata.name.clone().unwrap_or_default();
    let mut tolerations = spec.tolerations.take().unwrap_or_default();
    tolerations.extend(controller_tolerations(spec.host_network == Some(true)));
    spec.tolerations = Some(tolerations);
    let meta = template.metadata.clone().unwrap_or_default();
    let probe = Pod {
        metadata: ObjectMeta {
            name: Some(name.clone()),
            namespace: Some(namespace.clone()),
            labels: meta.labels,
            ..Default::default()
        },
        spec: Some(spec.clone()),
        status: None,
    };
    let info = pod::compile(&probe, &Requirements::new()).map_err(|e| PodError {
        field: format!("spec.template.{}", e.field),
        ..e
    })?;
    Ok(Some(Daemon {
        namespace,
        name,
        spec,
        info,
    }))
}

/// The DaemonSet controller's predicate: the pod's nodeSelector and required
/// node affinity match the node's labels (with its hostname, for matchFields
/// on metadata.name) and its tolerations cover the NoSchedule and NoExecute taints.
pub fn runs_on(info: &PodInfo, labels: &BTreeMap<String, String>, taints: &[Taint]) -> bool {
    info.spread_affinity
        .iter()
        .any(|term| term.matches_labels(labels).is_ok())
        && crate::taints::first_untolerated(&info.tolerations, taints, false).is_none()
}

/// The (namespace, name) of the DaemonSet that owns the pod, if one does.
pub fn owner(pod: &Pod) -> Option<(String, String)> {
    let owner = pod
        .metadata
        .owner_references
        .iter()
        .flatten()
        .find(|o| o.kind == "DaemonSet")?;
    let namespace = pod
        .metadata
        .namespace
        .clone()
        .unwrap_or_else(|| "default".into());
    Some((namespace, owner.name.clone()))
}
