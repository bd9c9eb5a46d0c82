//! DaemonSet pods on the Nodes the input lists. In a real cluster each of
//! those nodes already runs a pod of every DaemonSet that schedules there,
//! and those pods take room; the input rarely lists them, so the simulator
//! creates them, bound and Running, before planning. A DaemonSet schedules on
//! a node as its controller decides: the pod's nodeSelector and required node
//! affinity match the node, and its tolerations — plus the ones the
//! controller adds to every daemon pod — tolerate the node's NoSchedule and
//! NoExecute taints. A DaemonSet pod the input already binds to a node is kept
//! and not doubled.

use std::collections::{BTreeMap, BTreeSet};

use k8s_openapi::api::apps::v1::DaemonSet;
use k8s_openapi::api::core::v1::{Node, Pod, PodSpec, PodStatus, Toleration};
use k8s_openapi::apimachinery::pkg::apis::meta::v1::{ObjectMeta, OwnerReference};
use kerf_core::requirements::Requirements;
use kerf_state::ClusterState;

use crate::error::SimError;

/// Tolerations the DaemonSet controller adds to every daemon pod
/// (`util.AddOrUpdateDaemonPodTolerations`), and for host-network pods
/// `network-unavailable` too.
fn controller_tolerations(host_network: bool) -> Vec<Toleration> {
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

/// Creates the DaemonSet pods the input's Nodes would be running; returns how
/// many. A DaemonSet whose pod template kerf cannot read is an error naming it.
pub fn materialise(state: &mut ClusterState) -> Result<usize, SimError> {
    let daemonsets: Vec<(String, DaemonSet)> = state
        .objects::<DaemonSet>()
        .map(|(k, d)| (k.clone(), d.clone()))
        .collect();
    let nodes: Vec<(String, Node)> = state
        .objects::<Node>()
        .map(|(k, n)| (k.clone(), n.clone()))
        .collect();
    if daemonsets.is_empty() || nodes.is_empty() {
        return Ok(0);
    }
    // (namespace, daemonset name, node) for daemon pods the input already binds.
    let present: BTreeSet<(String, String, String)> = state
        .objects::<Pod>()
        .filter_map(|(_, p)| {
            let node = p.spec.as_ref()?.node_name.clone()?;
            let owner = p
                .metadata
                .owner_references
                .iter()
                .flatten()
                .find(|o| o.kind == "DaemonSet")?;
            let ns = p
                .metadata
                .namespace
                .clone()
                .unwrap_or_else(|| "default".into());
            Some((ns, owner.name.clone(), node))
        })
        .collect();

    let mut created = 0;
    for (key, ds) in &daemonsets {
        let template = ds.spec.as_ref().map(|s| &s.template);
        let Some(spec) = template.and_then(|t| t.spec.clone()) else {
            continue;
        };
        let namespace = ds
            .metadata
            .namespace
            .clone()
            .unwrap_or_else(|| "default".into());
        let name = ds.metadata.name.clone().unwrap_or_default();
        let mut tolerations = spec.tolerations.clone().unwrap_or_default();
        tolerations.extend(controller_tolerations(spec.host_network == Some(true)));
        let probe = Pod {
            metadata: ObjectMeta {
                name: Some(name.clone()),
                namespace: Some(namespace.clone()),
                ..Default::default()
            },
            spec: Some(PodSpec {
                tolerations: Some(tolerations.clone()),
                ..spec.clone()
            }),
            status: None,
        };
        let info = kerf_core::pod::compile(&probe, &Requirements::new()).map_err(|e| {
            SimError::Inconsistent(format!(
                "DaemonSet {key:?}: spec.template.{}: {}",
                e.field, e.message
            ))
        })?;
        for (node_name, node) in &nodes {
            if present.contains(&(namespace.clone(), name.clone(), node_name.clone())) {
                continue;
            }
            if !runs_on(&info, node_name, node) {
                continue;
            }
            let pod = daemon_pod(ds, &namespace, &name, node_name, &spec, &tolerations, state);
            state.apply(pod).map_err(|e| {
                SimError::Inconsistent(format!("DaemonSet {key:?} on Node {node_name:?}: {e}"))
            })?;
            created += 1;
        }
    }
    Ok(created)
}

/// The DaemonSet controller's predicate: required node affinity (and
/// nodeSelector) match, NoSchedule/NoExecute taints tolerated.
fn runs_on(info: &kerf_core::pod::PodInfo, node_name: &str, node: &Node) -> bool {
    let mut labels: BTreeMap<String, String> = node.metadata.labels.clone().unwrap_or_default();
    // matchFields on metadata.name are compiled as the hostname label.
    labels
        .entry(kerf_api::labels::HOSTNAME.to_string())
        .or_insert_with(|| node_name.to_string());
    let taints = node
        .spec
        .as_ref()
        .and_then(|s| s.taints.clone())
        .unwrap_or_default();
    info.spread_affinity
        .iter()
        .any(|term| term.matches_labels(&labels).is_ok())
        && kerf_core::taints::first_untolerated(&info.tolerations, &taints, false).is_none()
}

/// A Running daemon pod bound to `node`, named `<daemonset>-<node>` (with a
/// counter if the input already uses that name).
fn daemon_pod(
    ds: &DaemonSet,
    namespace: &str,
    name: &str,
    node: &str,
    spec: &PodSpec,
    tolerations: &[Toleration],
    state: &ClusterState,
) -> Pod {
    let mut pod_name = format!("{name}-{node}");
    let mut n = 1;
    while state
        .get::<Pod>(&kerf_state::object_key(Some(namespace), &pod_name))
        .is_some()
    {
        n += 1;
        pod_name = format!("{name}-{node}-{n}");
    }
    let template_meta = ds
        .spec
        .as_ref()
        .and_then(|s| s.template.metadata.clone())
        .unwrap_or_default();
    Pod {
        metadata: ObjectMeta {
            name: Some(pod_name),
            namespace: Some(namespace.to_string()),
            labels: template_meta.labels,
            annotations: template_meta.annotations,
            owner_references: Some(vec![OwnerReference {
                api_version: "apps/v1".into(),
                kind: "DaemonSet".into(),
                name: name.to_string(),
                uid: ds.metadata.uid.clone().unwrap_or_default(),
                controller: Some(true),
                block_owner_deletion: Some(true),
            }]),
            ..Default::default()
        },
        spec: Some(PodSpec {
            node_name: Some(node.to_string()),
            tolerations: Some(tolerations.to_vec()),
            ..spec.clone()
        }),
        status: Some(PodStatus {
            phase: Some("Running".into()),
            ..Default::default()
        }),
    }
}
