//! An independent check of a [`Plan`]: replays `plan.placements` in order,
//! starting from the cluster in the [`Snapshot`] (existing nodes with their bound
//! pods, plus every planned node, empty), and asks of each pod, at the moment it
//! is placed, exactly what kube-scheduler's filters would ask.
//!
//! This module deliberately shares no scheduling logic with the packer: it reads
//! the Kubernetes `Pod` objects directly and re-implements kube-scheduler's
//! rules (NodeResourcesFit, TaintToleration, NodeUnschedulable, NodeAffinity,
//! NodePorts, InterPodAffinity, PodTopologySpread, VolumeZone/VolumeBinding) in
//! the simplest way it can, so that a bug in the packer's shared code cannot
//! hide. Only quantity parsing ([`Resources`]) and single-requirement membership
//! ([`crate::requirements::Requirement::has`]) are reused.
//!
//! Karpenter-specific choices the validator makes:
//! - topology spread domains are those of the existing nodes *and of every
//!   planned node in the final plan* (kerf promises skew holds once the planned
//!   nodes exist), each hostname its own domain;
//! - a spread constraint counts only nodes carrying the topology key of every
//!   DoNotSchedule constraint of the pod (kube-scheduler's filter);
//! - `limits.nodes` caps the snapshot's nodes of the pool (registered or in
//!   flight) plus the plan's new ones;
//! - startup taints are ignored (a daemon removes them);
//! - daemonset and mirror pods in `pending` may be left out of the plan
//!   (daemonsets schedule themselves onto new nodes).

use std::collections::{BTreeMap, BTreeSet};
use std::fmt;
use std::sync::Arc;

use k8s_openapi::api::core::v1::{
    Container, NodeSelector, NodeSelectorRequirement, NodeSelectorTerm, PersistentVolume, Pod,
    PodAffinityTerm, Taint, Toleration, TopologySelectorTerm,
};
use k8s_openapi::api::storage::v1::StorageClass;
use k8s_openapi::apimachinery::pkg::apis::meta::v1::LabelSelector;
use serde::{Deserialize, Serialize};

use crate::plan::{Plan, Target};
use crate::pod::PodKey;
use crate::resources::{MILLI, Resources, format_amount};
use crate::snapshot::Snapshot;
use crate::template::NODE_LIMIT;

mod matching;
mod plan_checks;
mod records;
mod replay;
mod requests;
mod selectors;
#[cfg(test)]
mod tests;
mod topology;
mod volumes;

use matching::*;
use records::*;
use replay::*;
use requests::*;
use selectors::*;

const HOSTNAME: &str = "kubernetes.io/hostname";
const ZONE: &str = "topology.kubernetes.io/zone";
const ZONE_ID: &str = "topology.k8s.aws/zone-id";
const REGION: &str = "topology.kubernetes.io/region";
const CAPACITY_TYPE: &str = "karpenter.sh/capacity-type";
const INSTANCE_TYPE: &str = "node.kubernetes.io/instance-type";
const UNSCHEDULABLE_TAINT: &str = "node.kubernetes.io/unschedulable";
const NAMESPACE_NAME_LABEL: &str = "kubernetes.io/metadata.name";
const DEFAULT_CLASS_ANNOTATION: &str = "storageclass.kubernetes.io/is-default-class";

/// Deprecated label keys real nodes still carry next to their GA names.
const LABEL_ALIASES: [(&str, &str); 5] = [
    ("failure-domain.beta.kubernetes.io/zone", ZONE),
    ("failure-domain.beta.kubernetes.io/region", REGION),
    ("beta.kubernetes.io/arch", "kubernetes.io/arch"),
    ("beta.kubernetes.io/os", "kubernetes.io/os"),
    ("beta.kubernetes.io/instance-type", INSTANCE_TYPE),
];

/// Which rule a plan breaks.
#[derive(Clone, Copy, Debug, PartialEq, Eq, PartialOrd, Ord, Hash, Serialize, Deserialize)]
pub enum Rule {
    /// Requests exceed what is free on the node (NodeResourcesFit).
    Resources,
    /// A NoSchedule/NoExecute taint is not tolerated (TaintToleration).
    Taints,
    /// The node is cordoned and the pod does not tolerate it (NodeUnschedulable).
    Cordoned,
    /// The node is being deleted.
    NodeDeleting,
    /// `spec.nodeSelector` does not match the node's labels.
    NodeSelector,
    /// Required node affinity does not match the node.
    NodeAffinity,
    /// A host port is already in use on the node (NodePorts).
    HostPorts,
    /// The pod's required pod affinity is not satisfied.
    PodAffinity,
    /// The pod's required pod anti-affinity is violated.
    PodAntiAffinity,
    /// A pod already placed has required anti-affinity against this pod.
    ExistingAntiAffinity,
    /// A DoNotSchedule topology spread constraint is violated.
    TopologySpread,
    /// The pod's volumes cannot be used in the node's topology.
    VolumeZone,
    /// A pending pod is neither placed nor listed as unschedulable.
    Lost,
    /// A pod is placed more than once, or placed and also listed as unschedulable.
    Duplicated,
    /// The plan names a pod that is not pending.
    UnknownPod,
    /// The plan names a node that neither exists nor is planned.
    UnknownNode,
    /// The plan's own lists disagree (node pod lists, request sums, names).
    PlanConsistency,
    /// A planned node's chosen offering does not exist, is unavailable or is not allowed.
    Offering,
    /// A planned node's labels disagree with its template, instance type or offering.
    Labels,
    /// A planned node's allocatable differs from its instance type's.
    Allocatable,
    /// Daemonsets that will run on a planned node need more than `daemon_requests`.
    DaemonOverhead,
    /// A template's limits are exceeded by its planned nodes.
    Limits,
    /// A placed pod's spec cannot be evaluated (bad quantity).
    InvalidPod,
}

impl fmt::Display for Rule {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        fmt::Debug::fmt(self, f)
    }
}

/// One broken rule: which pod (if any), on which node (if any), and why.
#[derive(Clone, Debug, PartialEq, Eq, Serialize, Deserialize)]
pub struct Violation {
    pub pod: Option<PodKey>,
    pub node: Option<String>,
    pub rule: Rule,
    pub detail: String,
}

impl fmt::Display for Violation {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(f, "[{}]", self.rule)?;
        if let Some(p) = &self.pod {
            write!(f, " pod {p}")?;
        }
        if let Some(n) = &self.node {
            write!(f, " on node {n}")?;
        }
        write!(f, ": {}", self.detail)
    }
}

/// Replays the plan against the snapshot and returns every rule it breaks
/// (empty when kube-scheduler would accept every placement, in order).
pub fn validate(snapshot: &Snapshot, plan: &Plan) -> Vec<Violation> {
    // Expected pods are checked as the pods they stand for.
    let expanded;
    let snapshot = if snapshot.expected.is_empty() {
        snapshot
    } else {
        let mut pending = snapshot.pending.clone();
        pending.extend(snapshot.expected_copies().into_iter().map(Arc::new));
        expanded = Snapshot {
            pending,
            expected: Vec::new(),
            ..snapshot.clone()
        };
        &expanded
    };
    let mut v = Validator::new(snapshot, plan);
    v.replay();
    v.check_accounting();
    v.check_plan_lists();
    v.check_planned_nodes();
    v.check_limits();
    v.out
}
