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
use k8s_openapi::api::core::v1::{Node, Pod, PodSpec, PodStatus};
use k8s_openapi::apimachinery::pkg::apis::meta::v1::{ObjectMeta, OwnerReference};
use kerf_core::daemons::{self, Daemon};
use kerf_state::ClusterState;

use crate::error::SimError;
use crate::limits::MAX_PODS;

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
            let (namespace, name) = daemons::owner(p)?;
            Some((namespace, name, node))
        })
        .collect();

    let mut created = 0;
    for (key, ds) in &daemonsets {
        let daemon = daemons::daemon(ds).map_err(|e| {
            SimError::Inconsistent(format!("DaemonSet {key:?}: {}: {}", e.field, e.message))
        })?;
        let Some(daemon) = daemon else {
            continue;
        };
        for (node_name, node) in &nodes {
            let here = (
                daemon.namespace.clone(),
                daemon.name.clone(),
                node_name.clone(),
            );
            if present.contains(&here) || !runs_on(&daemon, node_name, node) {
                continue;
            }
            if state.len::<Pod>() >= MAX_PODS {
                return Err(SimError::Inconsistent(format!(
                    "DaemonSet {key:?} on Node {node_name:?}: the input's pods and the DaemonSet pods its Nodes run are more than {MAX_PODS}; kerf simulate reads at most {MAX_PODS} pods in total"
                )));
            }
            let pod = daemon_pod(ds, &daemon, node_name, state);
            state.apply(pod).map_err(|e| {
                SimError::Inconsistent(format!("DaemonSet {key:?} on Node {node_name:?}: {e}"))
            })?;
            created += 1;
        }
    }
    Ok(created)
}

/// Whether the DaemonSet's controller runs its pod on the Node.
fn runs_on(daemon: &Daemon, node_name: &str, node: &Node) -> bool {
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
    daemons::runs_on(&daemon.info, &labels, &taints)
}

/// A Running daemon pod bound to `node`, named `<daemonset>-<node>` (with a
/// counter if the input already uses that name).
fn daemon_pod(ds: &DaemonSet, daemon: &Daemon, node: &str, state: &ClusterState) -> Pod {
    let (namespace, name) = (daemon.namespace.as_str(), daemon.name.as_str());
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
            ..daemon.spec.clone()
        }),
        status: Some(PodStatus {
            phase: Some("Running".into()),
            ..Default::default()
        }),
    }
}
