//! Pods and nodes as the replay tracks them.

use super::*;

#[derive(Clone, Debug, PartialEq, Eq)]
pub(super) struct Port {
    pub(super) ip: String,
    pub(super) port: i32,
    pub(super) protocol: String,
}

impl Port {
    pub(super) fn conflicts(&self, other: &Port) -> bool {
        self.port == other.port
            && self.protocol == other.protocol
            && (self.ip == other.ip || self.ip == "0.0.0.0" || other.ip == "0.0.0.0")
    }
}

impl fmt::Display for Port {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(f, "{}:{}/{}", self.ip, self.port, self.protocol)
    }
}

pub(super) struct PodRec<'a> {
    pub(super) key: PodKey,
    pub(super) pod: &'a Pod,
    pub(super) namespace: String,
    pub(super) labels: BTreeMap<String, String>,
    pub(super) requests: Result<Resources, RequestsError>,
    pub(super) ports: Vec<Port>,
    /// Required anti-affinity terms (for the symmetric check).
    pub(super) anti: Vec<Term>,
    /// `metadata.deletionTimestamp` set: not counted by topology spread.
    pub(super) terminating: bool,
    /// Owned by a DaemonSet or a mirror pod.
    pub(super) daemon: bool,
}

impl<'a> PodRec<'a> {
    pub(super) fn new(pod: &'a Pod) -> Self {
        let key = PodKey::of(pod);
        let namespace = key.namespace.clone();
        let labels = pod.metadata.labels.clone().unwrap_or_default();
        let anti = pod
            .spec
            .as_ref()
            .and_then(|s| s.affinity.as_ref())
            .and_then(|a| a.pod_anti_affinity.as_ref())
            .and_then(|a| {
                a.required_during_scheduling_ignored_during_execution
                    .as_ref()
            })
            .into_iter()
            .flatten()
            .map(|t| Term::new(t, &namespace, &labels))
            .collect();
        let owner_is_daemonset = pod
            .metadata
            .owner_references
            .iter()
            .flatten()
            .any(|o| o.controller == Some(true) && o.kind == "DaemonSet");
        let mirror = pod
            .metadata
            .annotations
            .iter()
            .flatten()
            .any(|(k, _)| k == "kubernetes.io/config.mirror");
        PodRec {
            requests: pod_requests(pod),
            ports: host_ports(pod),
            anti,
            terminating: pod.metadata.deletion_timestamp.is_some(),
            daemon: owner_is_daemonset || mirror,
            key,
            pod,
            namespace,
            labels,
        }
    }

    pub(super) fn spec(&self) -> Option<&'a k8s_openapi::api::core::v1::PodSpec> {
        self.pod.spec.as_ref()
    }

    pub(super) fn tolerations(&self) -> &'a [Toleration] {
        self.spec()
            .and_then(|s| s.tolerations.as_deref())
            .unwrap_or(&[])
    }
}

pub(super) struct NodeRec {
    pub(super) name: String,
    pub(super) labels: BTreeMap<String, String>,
    pub(super) taints: Vec<Taint>,
    pub(super) cordoned: bool,
    pub(super) deleting: bool,
    pub(super) allocatable: Resources,
    pub(super) used: Resources,
    pub(super) ports: Vec<Port>,
    /// Indices into the pod arena.
    pub(super) pods: Vec<usize>,
}

pub(super) fn is_terminal(pod: &Pod) -> bool {
    matches!(
        pod.status.as_ref().and_then(|s| s.phase.as_deref()),
        Some("Succeeded") | Some("Failed")
    )
}

/// A node label, also under its deprecated/GA alias.
pub(super) fn label<'l>(labels: &'l BTreeMap<String, String>, key: &str) -> Option<&'l str> {
    if let Some(v) = labels.get(key) {
        return Some(v);
    }
    LABEL_ALIASES
        .iter()
        .find_map(|(beta, ga)| match key {
            k if k == *beta => Some(*ga),
            k if k == *ga => Some(*beta),
            _ => None,
        })
        .and_then(|alias| labels.get(alias))
        .map(String::as_str)
}
