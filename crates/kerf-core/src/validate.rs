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
//! - startup taints are ignored (a daemon removes them);
//! - daemonset and mirror pods in `pending` may be left out of the plan
//!   (daemonsets schedule themselves onto new nodes).

use std::collections::{BTreeMap, BTreeSet};
use std::fmt;

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

const HOSTNAME: &str = "kubernetes.io/hostname";
const ZONE: &str = "topology.kubernetes.io/zone";
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
    let mut v = Validator::new(snapshot, plan);
    v.replay();
    v.check_accounting();
    v.check_plan_lists();
    v.check_planned_nodes();
    v.check_limits();
    v.out
}

// ---------------------------------------------------------------------------
// Label selectors and affinity terms, straight from the API objects.

#[derive(Clone, Debug)]
enum SelOp {
    In,
    NotIn,
    Exists,
    DoesNotExist,
}

/// A label selector. `nothing` is the nil selector (matches no object).
#[derive(Clone, Debug)]
struct Sel {
    nothing: bool,
    reqs: Vec<(String, SelOp, BTreeSet<String>)>,
}

impl Sel {
    fn nothing() -> Sel {
        Sel {
            nothing: true,
            reqs: Vec::new(),
        }
    }

    fn from(sel: Option<&LabelSelector>) -> Sel {
        let Some(sel) = sel else {
            return Sel::nothing();
        };
        let mut reqs = Vec::new();
        for (k, v) in sel.match_labels.iter().flatten() {
            reqs.push((k.clone(), SelOp::In, [v.clone()].into_iter().collect()));
        }
        for e in sel.match_expressions.iter().flatten() {
            let values: BTreeSet<String> = e.values.iter().flatten().cloned().collect();
            let op = match e.operator.as_str() {
                "In" => SelOp::In,
                "NotIn" => SelOp::NotIn,
                "Exists" => SelOp::Exists,
                "DoesNotExist" => SelOp::DoesNotExist,
                // kube-scheduler fails to parse the selector; treat it as matching nothing.
                _ => return Sel::nothing(),
            };
            reqs.push((e.key.clone(), op, values));
        }
        Sel {
            nothing: false,
            reqs,
        }
    }

    fn with(mut self, key: &str, op: SelOp, value: &str) -> Sel {
        if !self.nothing {
            self.reqs.push((
                key.to_string(),
                op,
                [value.to_string()].into_iter().collect(),
            ));
        }
        self
    }

    /// `labels.Selector.Empty()`: no requirements (matches everything).
    fn is_empty(&self) -> bool {
        !self.nothing && self.reqs.is_empty()
    }

    fn matches(&self, labels: &BTreeMap<String, String>) -> bool {
        !self.nothing
            && self.reqs.iter().all(|(k, op, values)| match op {
                SelOp::In => labels.get(k).is_some_and(|v| values.contains(v)),
                SelOp::NotIn => labels.get(k).is_none_or(|v| !values.contains(v)),
                SelOp::Exists => labels.contains_key(k),
                SelOp::DoesNotExist => !labels.contains_key(k),
            })
    }
}

/// A pod (anti-)affinity term as kube-scheduler's `framework.AffinityTerm`.
#[derive(Clone, Debug)]
struct Term {
    key: String,
    namespaces: BTreeSet<String>,
    namespace_selector: Option<Sel>,
    selector: Sel,
}

impl Term {
    fn new(
        t: &PodAffinityTerm,
        own_namespace: &str,
        own_labels: &BTreeMap<String, String>,
    ) -> Term {
        let mut selector = Sel::from(t.label_selector.as_ref());
        for k in t.match_label_keys.iter().flatten() {
            if let Some(v) = own_labels.get(k) {
                selector = selector.with(k, SelOp::In, v);
            }
        }
        for k in t.mismatch_label_keys.iter().flatten() {
            if let Some(v) = own_labels.get(k) {
                selector = selector.with(k, SelOp::NotIn, v);
            }
        }
        let listed: BTreeSet<String> = t.namespaces.iter().flatten().cloned().collect();
        let namespaces = if listed.is_empty() && t.namespace_selector.is_none() {
            [own_namespace.to_string()].into_iter().collect()
        } else {
            listed
        };
        Term {
            key: t.topology_key.clone(),
            namespaces,
            namespace_selector: t.namespace_selector.as_ref().map(|s| Sel::from(Some(s))),
            selector,
        }
    }

    fn matches(&self, pod: &PodRec, ns_labels: &dyn Fn(&str) -> BTreeMap<String, String>) -> bool {
        let in_scope = self.namespaces.contains(&pod.namespace)
            || self
                .namespace_selector
                .as_ref()
                .is_some_and(|s| s.matches(&ns_labels(&pod.namespace)));
        in_scope && self.selector.matches(&pod.labels)
    }
}

// ---------------------------------------------------------------------------
// Pods and nodes as the replay tracks them.

#[derive(Clone, Debug, PartialEq, Eq)]
struct Port {
    ip: String,
    port: i32,
    protocol: String,
}

impl Port {
    fn conflicts(&self, other: &Port) -> bool {
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

struct PodRec<'a> {
    key: PodKey,
    pod: &'a Pod,
    namespace: String,
    labels: BTreeMap<String, String>,
    requests: Result<Resources, String>,
    ports: Vec<Port>,
    /// Required anti-affinity terms (for the symmetric check).
    anti: Vec<Term>,
    /// `metadata.deletionTimestamp` set: not counted by topology spread.
    terminating: bool,
    /// Owned by a DaemonSet or a mirror pod.
    daemon: bool,
}

impl<'a> PodRec<'a> {
    fn new(pod: &'a Pod) -> Self {
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

    fn spec(&self) -> Option<&'a k8s_openapi::api::core::v1::PodSpec> {
        self.pod.spec.as_ref()
    }

    fn tolerations(&self) -> &'a [Toleration] {
        self.spec()
            .and_then(|s| s.tolerations.as_deref())
            .unwrap_or(&[])
    }
}

struct NodeRec {
    name: String,
    labels: BTreeMap<String, String>,
    taints: Vec<Taint>,
    cordoned: bool,
    deleting: bool,
    allocatable: Resources,
    used: Resources,
    ports: Vec<Port>,
    /// Indices into the pod arena.
    pods: Vec<usize>,
}

fn is_terminal(pod: &Pod) -> bool {
    matches!(
        pod.status.as_ref().and_then(|s| s.phase.as_deref()),
        Some("Succeeded") | Some("Failed")
    )
}

/// A node label, also under its deprecated/GA alias.
fn label<'l>(labels: &'l BTreeMap<String, String>, key: &str) -> Option<&'l str> {
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

// ---------------------------------------------------------------------------
// Requests (Kubernetes `PodRequests`).

fn container_requests(c: &Container) -> Result<Resources, String> {
    let Some(r) = c.resources.as_ref() else {
        return Ok(Resources::default());
    };
    // The API server defaults each missing request to its limit.
    let mut list = r.limits.clone().unwrap_or_default();
    for (k, q) in r.requests.iter().flatten() {
        list.insert(k.clone(), q.clone());
    }
    Resources::from_quantities(&list).map_err(|e| format!("container {}: {e}", c.name))
}

fn max_into(acc: &mut Resources, other: &Resources) {
    for (name, v) in other.iter() {
        if v > acc.get(name) {
            acc.set(name, v);
        }
    }
}

/// max(each init container + the sidecars started before it, app containers + all
/// sidecars) + overhead, and one pod.
fn pod_requests(pod: &Pod) -> Result<Resources, String> {
    let mut total = Resources::default();
    if let Some(spec) = pod.spec.as_ref() {
        let mut app = Resources::default();
        for c in &spec.containers {
            app.add(&container_requests(c)?);
        }
        let mut sidecars = Resources::default();
        let mut init_peak = Resources::default();
        for c in spec.init_containers.iter().flatten() {
            let r = container_requests(c)?;
            if c.restart_policy.as_deref() == Some("Always") {
                app.add(&r);
                sidecars.add(&r);
                max_into(&mut init_peak, &sidecars);
            } else {
                max_into(&mut init_peak, &r.plus(&sidecars));
            }
        }
        max_into(&mut app, &init_peak);
        total = app;
        if let Some(overhead) = spec.overhead.as_ref() {
            total.add(&Resources::from_quantities(overhead).map_err(|e| format!("overhead: {e}"))?);
        }
    }
    total.pods = MILLI;
    Ok(total)
}

/// Host ports of the app containers, as the API server defaults them.
fn host_ports(pod: &Pod) -> Vec<Port> {
    let Some(spec) = pod.spec.as_ref() else {
        return Vec::new();
    };
    let host_network = spec.host_network == Some(true);
    let mut out = Vec::new();
    for c in &spec.containers {
        for p in c.ports.iter().flatten() {
            // With hostNetwork the API server sets hostPort to containerPort.
            let port = p.host_port.or(if host_network {
                Some(p.container_port)
            } else {
                None
            });
            let Some(port) = port.filter(|p| *p > 0) else {
                continue;
            };
            out.push(Port {
                ip: p
                    .host_ip
                    .clone()
                    .filter(|s| !s.is_empty())
                    .unwrap_or_else(|| "0.0.0.0".into()),
                port,
                protocol: p
                    .protocol
                    .clone()
                    .filter(|s| !s.is_empty())
                    .unwrap_or_else(|| "TCP".into()),
            });
        }
    }
    out
}

// ---------------------------------------------------------------------------
// Taints and node selection.

fn tolerates(t: &Toleration, taint: &Taint) -> bool {
    if let Some(effect) = t.effect.as_deref().filter(|e| !e.is_empty())
        && effect != taint.effect
    {
        return false;
    }
    if let Some(key) = t.key.as_deref().filter(|k| !k.is_empty())
        && key != taint.key
    {
        return false;
    }
    match t.operator.as_deref().unwrap_or("") {
        "Exists" => true,
        "" | "Equal" => t.value.as_deref().unwrap_or("") == taint.value.as_deref().unwrap_or(""),
        _ => false,
    }
}

/// The first NoSchedule/NoExecute taint none of the tolerations tolerates.
fn untolerated<'t>(tolerations: &[Toleration], taints: &'t [Taint]) -> Option<&'t Taint> {
    taints
        .iter()
        .filter(|t| t.effect == "NoSchedule" || t.effect == "NoExecute")
        .find(|t| !tolerations.iter().any(|tol| tolerates(tol, t)))
}

fn describe_taint(t: &Taint) -> String {
    match t.value.as_deref().filter(|v| !v.is_empty()) {
        Some(v) => format!("{}={}:{}", t.key, v, t.effect),
        None => format!("{}:{}", t.key, t.effect),
    }
}

fn expression_matches(e: &NodeSelectorRequirement, labels: &BTreeMap<String, String>) -> bool {
    let values = e.values.as_deref().unwrap_or(&[]);
    let value = label(labels, &e.key);
    let integer = |s: &str| s.parse::<i64>().ok();
    match e.operator.as_str() {
        "In" => value.is_some_and(|v| values.iter().any(|x| x == v)),
        "NotIn" => value.is_none_or(|v| !values.iter().any(|x| x == v)),
        "Exists" => value.is_some(),
        "DoesNotExist" => value.is_none(),
        "Gt" | "Lt" => {
            let (Some(v), [bound]) = (value.and_then(integer), values) else {
                return false;
            };
            let Some(bound) = integer(bound) else {
                return false;
            };
            if e.operator == "Gt" {
                v > bound
            } else {
                v < bound
            }
        }
        _ => false,
    }
}

fn field_matches(e: &NodeSelectorRequirement, node_name: &str) -> bool {
    let values = e.values.as_deref().unwrap_or(&[]);
    e.key == "metadata.name"
        && match e.operator.as_str() {
            "In" => values.iter().any(|v| v == node_name),
            "NotIn" => !values.iter().any(|v| v == node_name),
            _ => false,
        }
}

/// A node selector term: empty terms match nothing; otherwise every expression and field.
fn term_matches(
    term: &NodeSelectorTerm,
    labels: &BTreeMap<String, String>,
    node_name: &str,
) -> bool {
    let exprs = term.match_expressions.as_deref().unwrap_or(&[]);
    let fields = term.match_fields.as_deref().unwrap_or(&[]);
    if exprs.is_empty() && fields.is_empty() {
        return false;
    }
    exprs.iter().all(|e| expression_matches(e, labels))
        && fields.iter().all(|f| field_matches(f, node_name))
}

fn node_selector_matches(
    sel: &NodeSelector,
    labels: &BTreeMap<String, String>,
    node_name: &str,
) -> bool {
    sel.node_selector_terms
        .iter()
        .any(|t| term_matches(t, labels, node_name))
}

fn topology_term_matches(term: &TopologySelectorTerm, labels: &BTreeMap<String, String>) -> bool {
    term.match_label_expressions
        .iter()
        .flatten()
        .all(|e| label(labels, &e.key).is_some_and(|v| e.values.iter().any(|x| x == v)))
}

/// Why the pod's nodeSelector fails on these labels, if it does.
fn node_selector_failure(pod: &Pod, labels: &BTreeMap<String, String>) -> Option<String> {
    let spec = pod.spec.as_ref()?;
    spec.node_selector
        .iter()
        .flatten()
        .find_map(|(k, v)| match label(labels, k) {
            Some(have) if have == v => None,
            Some(have) => Some(format!("nodeSelector {k}={v}, node has {k}={have}")),
            None => Some(format!("nodeSelector {k}={v}, node has no {k} label")),
        })
}

fn required_node_affinity(pod: &Pod) -> Option<&NodeSelector> {
    pod.spec
        .as_ref()?
        .affinity
        .as_ref()?
        .node_affinity
        .as_ref()?
        .required_during_scheduling_ignored_during_execution
        .as_ref()
}

/// kube-scheduler's `GetRequiredNodeAffinity(pod).Match(node)`: nodeSelector and required terms.
fn matches_required_affinity(
    pod: &Pod,
    labels: &BTreeMap<String, String>,
    node_name: &str,
) -> bool {
    node_selector_failure(pod, labels).is_none()
        && required_node_affinity(pod).is_none_or(|s| node_selector_matches(s, labels, node_name))
}

// ---------------------------------------------------------------------------
// The replay.

struct Validator<'a> {
    snapshot: &'a Snapshot,
    plan: &'a Plan,
    pods: Vec<PodRec<'a>>,
    nodes: Vec<NodeRec>,
    /// Pending pod key → arena index (first occurrence).
    pending: BTreeMap<PodKey, usize>,
    existing_by_name: BTreeMap<String, usize>,
    planned_by_name: BTreeMap<String, usize>,
    /// Arena index → where the replay put it.
    placed_on: BTreeMap<usize, Vec<usize>>,
    out: Vec<Violation>,
}

impl<'a> Validator<'a> {
    fn new(snapshot: &'a Snapshot, plan: &'a Plan) -> Self {
        let mut v = Validator {
            snapshot,
            plan,
            pods: Vec::new(),
            nodes: Vec::new(),
            pending: BTreeMap::new(),
            existing_by_name: BTreeMap::new(),
            planned_by_name: BTreeMap::new(),
            placed_on: BTreeMap::new(),
            out: Vec::new(),
        };
        for n in &snapshot.nodes {
            let mut labels = n.labels.clone();
            // Every registered node carries its hostname label.
            labels
                .entry(HOSTNAME.to_string())
                .or_insert_with(|| n.name.clone());
            let mut taints = n.taints.clone();
            // The node lifecycle controller taints cordoned nodes (TaintNodesByCondition).
            if n.unschedulable
                && !taints
                    .iter()
                    .any(|t| t.key == UNSCHEDULABLE_TAINT && t.effect == "NoSchedule")
            {
                taints.push(Taint {
                    key: UNSCHEDULABLE_TAINT.into(),
                    value: None,
                    effect: "NoSchedule".into(),
                    time_added: None,
                });
            }
            let mut node = NodeRec {
                name: n.name.clone(),
                labels,
                taints,
                cordoned: n.unschedulable,
                deleting: n.marked_for_deletion,
                allocatable: n.allocatable.clone(),
                used: Resources::default(),
                ports: Vec::new(),
                pods: Vec::new(),
            };
            for pod in n.pods.iter().filter(|p| !is_terminal(p)) {
                let rec = PodRec::new(pod);
                // An unparseable bound pod still takes a pod slot.
                node.used
                    .add(&rec.requests.clone().unwrap_or_else(|_| Resources {
                        pods: MILLI,
                        ..Default::default()
                    }));
                node.ports.extend(rec.ports.iter().cloned());
                node.pods.push(v.pods.len());
                v.pods.push(rec);
            }
            if v.existing_by_name
                .insert(n.name.clone(), v.nodes.len())
                .is_some()
            {
                v.violation(
                    None,
                    Some(&n.name),
                    Rule::PlanConsistency,
                    "two existing nodes share this name".into(),
                );
            }
            v.nodes.push(node);
        }
        for p in &plan.new_nodes {
            let node = NodeRec {
                name: p.name.clone(),
                labels: p.labels.clone(),
                taints: p.taints.clone(),
                cordoned: false,
                deleting: false,
                allocatable: p.allocatable.clone(),
                used: p.daemon_requests.clone(),
                ports: Vec::new(),
                pods: Vec::new(),
            };
            if v.planned_by_name
                .insert(p.name.clone(), v.nodes.len())
                .is_some()
            {
                v.violation(
                    None,
                    Some(&p.name),
                    Rule::PlanConsistency,
                    "two planned nodes share this name".into(),
                );
            }
            v.nodes.push(node);
        }
        for pod in &snapshot.pending {
            let rec = PodRec::new(pod);
            v.pending.entry(rec.key.clone()).or_insert(v.pods.len());
            v.pods.push(rec);
        }
        v
    }

    fn violation(&mut self, pod: Option<&PodKey>, node: Option<&str>, rule: Rule, detail: String) {
        self.out.push(Violation {
            pod: pod.cloned(),
            node: node.map(str::to_string),
            rule,
            detail,
        });
    }

    fn namespace_labels(&self) -> impl Fn(&str) -> BTreeMap<String, String> + '_ {
        |ns: &str| {
            let mut labels = self
                .snapshot
                .namespaces
                .get(ns)
                .cloned()
                .unwrap_or_default();
            // The API server sets this immutable label on every namespace.
            labels.insert(NAMESPACE_NAME_LABEL.to_string(), ns.to_string());
            labels
        }
    }

    fn replay(&mut self) {
        for placement in &self.plan.placements {
            let Some(&p) = self.pending.get(&placement.pod) else {
                self.violation(
                    Some(&placement.pod),
                    None,
                    Rule::UnknownPod,
                    "placed but not pending".into(),
                );
                continue;
            };
            let (node, name) = match &placement.target {
                Target::Existing(name) => (self.existing_by_name.get(name).copied(), name),
                Target::New(name) => (self.planned_by_name.get(name).copied(), name),
            };
            let Some(n) = node else {
                self.violation(
                    Some(&placement.pod),
                    Some(name),
                    Rule::UnknownNode,
                    format!("target {:?} is not a node", placement.target),
                );
                continue;
            };
            if self.placed_on.get(&p).is_some_and(|on| !on.is_empty()) {
                self.violation(
                    Some(&placement.pod),
                    Some(name),
                    Rule::Duplicated,
                    "placed more than once".into(),
                );
                continue;
            }
            let failures = self.check(p, n);
            for (rule, detail) in failures {
                let key = self.pods[p].key.clone();
                let node_name = self.nodes[n].name.clone();
                self.violation(Some(&key), Some(&node_name), rule, detail);
            }
            // Commit whatever the verdict, so later pods see the plan as written.
            let requests = self.pods[p].requests.clone().unwrap_or_default();
            let ports = self.pods[p].ports.clone();
            let node = &mut self.nodes[n];
            node.used.add(&requests);
            node.ports.extend(ports);
            node.pods.push(p);
            self.placed_on.entry(p).or_default().push(n);
        }
    }

    /// Every filter for pod `p` on node `n`, in the current state.
    fn check(&self, p: usize, n: usize) -> Vec<(Rule, String)> {
        let pod = &self.pods[p];
        let node = &self.nodes[n];
        let mut out = Vec::new();

        if node.deleting {
            out.push((Rule::NodeDeleting, "node is marked for deletion".into()));
        }
        if node.cordoned {
            let cordon = Taint {
                key: UNSCHEDULABLE_TAINT.into(),
                value: None,
                effect: "NoSchedule".into(),
                time_added: None,
            };
            if !pod.tolerations().iter().any(|t| tolerates(t, &cordon)) {
                out.push((
                    Rule::Cordoned,
                    "node is cordoned (spec.unschedulable)".into(),
                ));
            }
        }
        match &pod.requests {
            Err(e) => out.push((Rule::InvalidPod, e.clone())),
            Ok(requests) => {
                for (name, amount) in requests.iter().filter(|(_, a)| *a > 0) {
                    let free = node.allocatable.get(name) - node.used.get(name);
                    if amount > free {
                        out.push((
                            Rule::Resources,
                            format!(
                                "{name}: requests {}, {} free of {} allocatable",
                                format_amount(name, amount),
                                format_amount(name, free),
                                format_amount(name, node.allocatable.get(name))
                            ),
                        ));
                    }
                }
            }
        }
        // The cordon taint is reported as Cordoned above.
        let taints: Vec<Taint> = node
            .taints
            .iter()
            .filter(|t| !(node.cordoned && t.key == UNSCHEDULABLE_TAINT))
            .cloned()
            .collect();
        if let Some(t) = untolerated(pod.tolerations(), &taints) {
            out.push((
                Rule::Taints,
                format!("taint {} not tolerated", describe_taint(t)),
            ));
        }
        if let Some(why) = node_selector_failure(pod.pod, &node.labels) {
            out.push((Rule::NodeSelector, why));
        }
        if let Some(sel) = required_node_affinity(pod.pod)
            && !node_selector_matches(sel, &node.labels, &node.name)
        {
            out.push((
                Rule::NodeAffinity,
                "no required nodeSelectorTerm matches the node".into(),
            ));
        }
        for port in &pod.ports {
            if let Some(used) = node.ports.iter().find(|q| q.conflicts(port)) {
                out.push((
                    Rule::HostPorts,
                    format!("host port {port} conflicts with {used} in use"),
                ));
            }
        }
        out.extend(
            self.check_volumes(pod, node)
                .into_iter()
                .map(|d| (Rule::VolumeZone, d)),
        );
        out.extend(self.check_pod_affinity(pod, node));
        out.extend(self.check_spread(pod, node));
        out
    }

    fn storage_class(&self, name: Option<&str>) -> Result<Option<&'a StorageClass>, String> {
        let name = match name {
            Some("") => return Ok(None),
            Some(n) => n.to_string(),
            None => {
                let default = self
                    .snapshot
                    .storage_classes
                    .iter()
                    .filter(|c| {
                        c.metadata
                            .annotations
                            .as_ref()
                            .and_then(|a| a.get(DEFAULT_CLASS_ANNOTATION))
                            .is_some_and(|v| v == "true")
                    })
                    .filter_map(|c| c.metadata.name.clone())
                    .min();
                match default {
                    Some(d) => d,
                    None => return Ok(None),
                }
            }
        };
        self.snapshot
            .storage_classes
            .iter()
            .find(|c| c.metadata.name.as_deref() == Some(name.as_str()))
            .map(Some)
            .ok_or_else(|| format!("storageclass {name} not found"))
    }

    fn class_allows(class: Option<&StorageClass>, node: &NodeRec) -> bool {
        let terms = class
            .and_then(|c| c.allowed_topologies.as_deref())
            .unwrap_or(&[]);
        terms.is_empty() || terms.iter().any(|t| topology_term_matches(t, &node.labels))
    }

    fn pv_allows(pv: &PersistentVolume, node: &NodeRec) -> Result<(), String> {
        if let Some(sel) = pv
            .spec
            .as_ref()
            .and_then(|s| s.node_affinity.as_ref())
            .and_then(|a| a.required.as_ref())
            && !node_selector_matches(sel, &node.labels, &node.name)
        {
            return Err("node affinity does not match the node".into());
        }
        // VolumeZone: in-tree volumes label their zone/region (`a__b` lists several).
        for (k, v) in pv.metadata.labels.iter().flatten() {
            let topology_key = k == ZONE
                || k == REGION
                || LABEL_ALIASES
                    .iter()
                    .any(|(beta, ga)| k == beta && (*ga == ZONE || *ga == REGION));
            if !topology_key {
                continue;
            }
            let allowed: BTreeSet<&str> = v.split("__").collect();
            match label(&node.labels, k) {
                Some(have) if allowed.contains(have) => {}
                have => return Err(format!("label {k}={v}, node has {have:?}")),
            }
        }
        Ok(())
    }

    fn check_volumes(&self, pod: &PodRec, node: &NodeRec) -> Vec<String> {
        let mut out = Vec::new();
        let Some(spec) = pod.spec() else { return out };
        for vol in spec.volumes.iter().flatten() {
            if let Some(pvc) = &vol.persistent_volume_claim {
                let claim = self.snapshot.claims.iter().find(|c| {
                    c.metadata.name.as_deref() == Some(pvc.claim_name.as_str())
                        && c.metadata.namespace.as_deref().unwrap_or("default") == pod.namespace
                });
                let Some(claim) = claim else {
                    out.push(format!(
                        "volume {}: persistentvolumeclaim {}/{} not found",
                        vol.name, pod.namespace, pvc.claim_name
                    ));
                    continue;
                };
                let cspec = claim.spec.as_ref();
                if let Some(pv_name) = cspec
                    .and_then(|s| s.volume_name.as_deref())
                    .filter(|n| !n.is_empty())
                {
                    match self
                        .snapshot
                        .volumes
                        .iter()
                        .find(|v| v.metadata.name.as_deref() == Some(pv_name))
                    {
                        None => out.push(format!(
                            "volume {}: persistentvolume {pv_name} not found",
                            vol.name
                        )),
                        Some(pv) => {
                            if let Err(e) = Self::pv_allows(pv, node) {
                                out.push(format!(
                                    "volume {}: persistentvolume {pv_name}: {e}",
                                    vol.name
                                ));
                            }
                        }
                    }
                } else {
                    match self.storage_class(cspec.and_then(|s| s.storage_class_name.as_deref())) {
                        Err(e) => out.push(format!("volume {}: {e}", vol.name)),
                        Ok(class) => {
                            if !Self::class_allows(class, node) {
                                out.push(format!(
                                    "volume {}: storageclass allowedTopologies exclude the node",
                                    vol.name
                                ));
                            }
                        }
                    }
                }
            } else if let Some(template) = vol
                .ephemeral
                .as_ref()
                .and_then(|e| e.volume_claim_template.as_ref())
            {
                match self.storage_class(template.spec.storage_class_name.as_deref()) {
                    Err(e) => out.push(format!("volume {}: {e}", vol.name)),
                    Ok(class) => {
                        if !Self::class_allows(class, node) {
                            out.push(format!(
                                "volume {}: storageclass allowedTopologies exclude the node",
                                vol.name
                            ));
                        }
                    }
                }
            }
        }
        out
    }

    /// InterPodAffinity: the pod's affinity, its anti-affinity, and other pods' anti-affinity.
    fn check_pod_affinity(&self, pod: &PodRec, node: &NodeRec) -> Vec<(Rule, String)> {
        let mut out = Vec::new();
        let ns_labels = self.namespace_labels();
        let affinity = pod.spec().and_then(|s| s.affinity.as_ref());
        let required = |terms: Option<&Vec<PodAffinityTerm>>| -> Vec<Term> {
            terms
                .into_iter()
                .flatten()
                .map(|t| Term::new(t, &pod.namespace, &pod.labels))
                .collect()
        };
        let affinity_terms = required(affinity.and_then(|a| a.pod_affinity.as_ref()).and_then(
            |a| {
                a.required_during_scheduling_ignored_during_execution
                    .as_ref()
            },
        ));
        let placed = || {
            self.nodes
                .iter()
                .flat_map(|m| m.pods.iter().map(move |q| (m, &self.pods[*q])))
        };

        if !affinity_terms.is_empty() {
            // Counts per (key, value) of pods matching *all* terms, on nodes with the key.
            let mut counts: BTreeSet<(&str, &str)> = BTreeSet::new();
            for (m, q) in placed() {
                if affinity_terms.iter().all(|t| t.matches(q, &ns_labels)) {
                    for t in &affinity_terms {
                        if let Some(v) = label(&m.labels, &t.key) {
                            counts.insert((t.key.as_str(), v));
                        }
                    }
                }
            }
            let mut missing_key = None;
            let mut unmatched = None;
            for t in &affinity_terms {
                match label(&node.labels, &t.key) {
                    None => missing_key = missing_key.or(Some(t.key.clone())),
                    Some(v) => {
                        if !counts.contains(&(t.key.as_str(), v)) {
                            unmatched = unmatched.or(Some(format!("{}={v}", t.key)));
                        }
                    }
                }
            }
            if let Some(key) = missing_key {
                out.push((Rule::PodAffinity, format!("node has no {key} label")));
            } else if let Some(domain) = unmatched {
                let first_of_group =
                    counts.is_empty() && affinity_terms.iter().all(|t| t.matches(pod, &ns_labels));
                if !first_of_group {
                    out.push((
                        Rule::PodAffinity,
                        format!("no pod matching the affinity terms in {domain}"),
                    ));
                }
            }
        }

        let anti_terms = required(
            affinity
                .and_then(|a| a.pod_anti_affinity.as_ref())
                .and_then(|a| {
                    a.required_during_scheduling_ignored_during_execution
                        .as_ref()
                }),
        );
        for t in &anti_terms {
            let Some(v) = label(&node.labels, &t.key) else {
                continue;
            };
            if let Some((m, q)) = placed()
                .find(|(m, q)| label(&m.labels, &t.key) == Some(v) && t.matches(q, &ns_labels))
            {
                out.push((
                    Rule::PodAntiAffinity,
                    format!("pod {} on {} is in the same {}={v}", q.key, m.name, t.key),
                ));
            }
        }

        for (m, q) in placed() {
            for t in &q.anti {
                let Some(v) = label(&m.labels, &t.key) else {
                    continue;
                };
                if label(&node.labels, &t.key) == Some(v) && t.matches(pod, &ns_labels) {
                    out.push((
                        Rule::ExistingAntiAffinity,
                        format!(
                            "pod {} on {} has anti-affinity to this pod in {}={v}",
                            q.key, m.name, t.key
                        ),
                    ));
                }
            }
        }
        out
    }

    /// PodTopologySpread with DoNotSchedule, over existing and all planned nodes.
    fn check_spread(&self, pod: &PodRec, node: &NodeRec) -> Vec<(Rule, String)> {
        let mut out = Vec::new();
        let constraints: Vec<_> = pod
            .spec()
            .and_then(|s| s.topology_spread_constraints.as_ref())
            .into_iter()
            .flatten()
            .filter(|c| c.when_unsatisfiable == "DoNotSchedule")
            .collect();
        if constraints.is_empty() {
            return out;
        }
        let selectors: Vec<Sel> = constraints
            .iter()
            .map(|c| {
                let mut sel = Sel::from(c.label_selector.as_ref());
                for k in c.match_label_keys.iter().flatten() {
                    if let Some(v) = pod.labels.get(k) {
                        sel = sel.with(k, SelOp::In, v);
                    }
                }
                sel
            })
            .collect();
        let mut counts: Vec<BTreeMap<&str, i64>> = vec![BTreeMap::new(); constraints.len()];
        for m in &self.nodes {
            if constraints
                .iter()
                .any(|c| label(&m.labels, &c.topology_key).is_none())
            {
                continue;
            }
            for (i, c) in constraints.iter().enumerate() {
                let honor_affinity =
                    c.node_affinity_policy.as_deref().unwrap_or("Honor") == "Honor";
                let honor_taints = c.node_taints_policy.as_deref().unwrap_or("Ignore") == "Honor";
                if honor_affinity && !matches_required_affinity(pod.pod, &m.labels, &m.name) {
                    continue;
                }
                if honor_taints && untolerated(pod.tolerations(), &m.taints).is_some() {
                    continue;
                }
                let value = label(&m.labels, &c.topology_key).unwrap_or_default();
                let matching = if selectors[i].is_empty() {
                    0
                } else {
                    m.pods
                        .iter()
                        .map(|q| &self.pods[*q])
                        .filter(|q| {
                            !q.terminating
                                && q.namespace == pod.namespace
                                && selectors[i].matches(&q.labels)
                        })
                        .count() as i64
                };
                *counts[i].entry(value).or_insert(0) += matching;
            }
        }
        for (i, c) in constraints.iter().enumerate() {
            let Some(value) = label(&node.labels, &c.topology_key) else {
                out.push((
                    Rule::TopologySpread,
                    format!("node has no {} label", c.topology_key),
                ));
                continue;
            };
            let min_domains = i64::from(c.min_domains.unwrap_or(1));
            let domains = counts[i].len() as i64;
            let min = if domains < min_domains {
                0
            } else {
                counts[i]
                    .values()
                    .copied()
                    .min()
                    .unwrap_or(i64::from(i32::MAX))
            };
            let here = counts[i].get(value).copied().unwrap_or(0);
            let self_match = i64::from(selectors[i].matches(&pod.labels));
            let skew = here + self_match - min;
            if skew > i64::from(c.max_skew) {
                out.push((
                    Rule::TopologySpread,
                    format!(
                        "{}={value}: {here} matching + {self_match} - min {min} = skew {skew} > maxSkew {} over {} domains",
                        c.topology_key, c.max_skew, domains
                    ),
                ));
            }
        }
        out
    }

    // -----------------------------------------------------------------------
    // Whole-plan checks.

    fn check_accounting(&mut self) {
        let mut unschedulable: BTreeMap<PodKey, usize> = BTreeMap::new();
        for u in &self.plan.unschedulable {
            *unschedulable.entry(u.pod.clone()).or_insert(0) += 1;
            if !self.pending.contains_key(&u.pod) {
                self.violation(
                    Some(&u.pod),
                    None,
                    Rule::UnknownPod,
                    "listed unschedulable but not pending".into(),
                );
            }
        }
        let pending: Vec<(PodKey, usize)> =
            self.pending.iter().map(|(k, v)| (k.clone(), *v)).collect();
        for (key, p) in pending {
            let placed = self.placed_on.get(&p).map_or(0, Vec::len);
            let listed = unschedulable.get(&key).copied().unwrap_or(0);
            match placed + listed {
                0 if self.pods[p].daemon => {}
                0 => self.violation(
                    Some(&key),
                    None,
                    Rule::Lost,
                    "neither placed nor listed as unschedulable".into(),
                ),
                1 => {}
                _ => self.violation(
                    Some(&key),
                    None,
                    Rule::Duplicated,
                    format!("placed {placed} time(s) and listed unschedulable {listed} time(s)"),
                ),
            }
        }
    }

    /// `new_nodes[].pods`, `existing[].pods` and `pod_requests` agree with `placements`.
    fn check_plan_lists(&mut self) {
        let mut by_target: BTreeMap<(bool, String), Vec<PodKey>> = BTreeMap::new();
        for p in &self.plan.placements {
            let (new, name) = match &p.target {
                Target::Existing(n) => (false, n.clone()),
                Target::New(n) => (true, n.clone()),
            };
            by_target
                .entry((new, name))
                .or_default()
                .push(p.pod.clone());
        }
        let mut listed: BTreeMap<(bool, String), Vec<PodKey>> = BTreeMap::new();
        for n in &self.plan.new_nodes {
            listed
                .entry((true, n.name.clone()))
                .or_default()
                .extend(n.pods.iter().cloned());
        }
        for e in &self.plan.existing {
            if !self.existing_by_name.contains_key(&e.node) {
                self.violation(
                    None,
                    Some(&e.node),
                    Rule::UnknownNode,
                    "existing placement names no existing node".into(),
                );
            }
            listed
                .entry((false, e.node.clone()))
                .or_default()
                .extend(e.pods.iter().cloned());
        }
        let targets: BTreeSet<(bool, String)> =
            by_target.keys().chain(listed.keys()).cloned().collect();
        for t in targets {
            let mut a = by_target.get(&t).cloned().unwrap_or_default();
            let mut b = listed.get(&t).cloned().unwrap_or_default();
            a.sort();
            b.sort();
            if a != b {
                let kind = if t.0 {
                    "planned node's pods"
                } else {
                    "existing placement's pods"
                };
                self.violation(
                    None,
                    Some(&t.1),
                    Rule::PlanConsistency,
                    format!("{kind} {b:?} differ from placements {a:?}"),
                );
            }
        }
        for n in &self.plan.new_nodes {
            if n.pods.is_empty() {
                self.violation(
                    None,
                    Some(&n.name),
                    Rule::PlanConsistency,
                    "planned node holds no pods".into(),
                );
            }
            let mut sum = Resources::default();
            for k in &n.pods {
                if let Some(r) = self
                    .pending
                    .get(k)
                    .and_then(|p| self.pods[*p].requests.as_ref().ok())
                {
                    sum.add(r);
                }
            }
            if sum != n.pod_requests {
                self.violation(
                    None,
                    Some(&n.name),
                    Rule::PlanConsistency,
                    format!("pod_requests {} but pods request {sum}", n.pod_requests),
                );
            }
        }
    }

    fn check_planned_nodes(&mut self) {
        for node in &self.plan.new_nodes {
            let name = node.name.clone();
            let mut bad = |rule: Rule, detail: String| {
                self.out.push(Violation {
                    pod: None,
                    node: Some(name.clone()),
                    rule,
                    detail,
                })
            };
            let Some(tmpl) = self.snapshot.templates.iter().find(|t| t.pool == node.pool) else {
                bad(Rule::Offering, format!("no template for {}", node.pool));
                continue;
            };
            let chosen = &node.chosen;
            if node.options.first() != Some(chosen) {
                bad(Rule::Offering, "chosen is not options[0]".into());
            }
            let Some(it) = tmpl
                .instance_types
                .iter()
                .find(|it| it.name == chosen.instance_type)
            else {
                bad(
                    Rule::Offering,
                    format!(
                        "{} has no instance type {}",
                        node.pool, chosen.instance_type
                    ),
                );
                continue;
            };
            match it
                .offerings
                .iter()
                .find(|o| o.zone == chosen.zone && o.capacity_type == chosen.capacity_type)
            {
                None => bad(
                    Rule::Offering,
                    format!(
                        "{} has no offering {}/{}",
                        it.name, chosen.zone, chosen.capacity_type
                    ),
                ),
                Some(o) => {
                    if !o.available {
                        bad(
                            Rule::Offering,
                            format!(
                                "offering {}/{} of {} is unavailable",
                                o.zone, o.capacity_type, it.name
                            ),
                        );
                    }
                    if o.price != chosen.price {
                        bad(
                            Rule::Offering,
                            format!("price {} but the offering costs {}", chosen.price, o.price),
                        );
                    }
                }
            }
            for (what, reqs) in [
                ("template", &tmpl.requirements),
                ("node", &node.requirements),
            ] {
                for (key, value) in [
                    (ZONE, &chosen.zone),
                    (CAPACITY_TYPE, &chosen.capacity_type),
                    (INSTANCE_TYPE, &chosen.instance_type),
                ] {
                    if let Some(r) = reqs.get(key)
                        && !r.has(value)
                    {
                        bad(
                            Rule::Offering,
                            format!("{what} requirement {r} excludes {key}={value}"),
                        );
                    }
                }
            }
            // Labels: offering, instance type, template, hostname.
            let mut expect: Vec<(String, String)> = vec![
                (ZONE.into(), chosen.zone.clone()),
                (CAPACITY_TYPE.into(), chosen.capacity_type.clone()),
                (HOSTNAME.into(), node.name.clone()),
            ];
            expect.extend(it.labels.iter().map(|(k, v)| (k.clone(), v.clone())));
            expect.extend(tmpl.labels.iter().map(|(k, v)| (k.clone(), v.clone())));
            for (k, v) in expect {
                if node.labels.get(&k) != Some(&v) {
                    bad(
                        Rule::Labels,
                        format!("label {k}={:?}, expected {v:?}", node.labels.get(&k)),
                    );
                }
            }
            for (what, reqs) in [
                ("template", &tmpl.requirements),
                ("node", &node.requirements),
            ] {
                for r in reqs.iter() {
                    if let Some(v) = node.labels.get(&r.key)
                        && !r.has(v)
                    {
                        bad(
                            Rule::Labels,
                            format!("label {}={v} violates {what} requirement {r}", r.key),
                        );
                    }
                }
            }
            for t in &tmpl.taints {
                if !node.taints.contains(t) {
                    bad(
                        Rule::Taints,
                        format!(
                            "template taint {} missing from the planned node",
                            describe_taint(t)
                        ),
                    );
                }
            }
            if &node.allocatable != it.allocatable() {
                bad(
                    Rule::Allocatable,
                    format!(
                        "allocatable {} but {} has {}",
                        node.allocatable,
                        it.name,
                        it.allocatable()
                    ),
                );
            }
            // Daemonsets that will land on the node.
            let mut daemons = Resources::default();
            for ds in &self.snapshot.daemonsets {
                let Some(spec) = ds.spec.as_ref().and_then(|s| s.template.spec.as_ref()) else {
                    continue;
                };
                let pod = Pod {
                    metadata: Default::default(),
                    spec: Some(spec.clone()),
                    status: None,
                };
                let tolerations = spec.tolerations.as_deref().unwrap_or(&[]);
                if untolerated(tolerations, &node.taints).is_none()
                    && matches_required_affinity(&pod, &node.labels, &node.name)
                {
                    daemons.add(&pod_requests(&pod).unwrap_or_default());
                }
            }
            if let Some((name, need, have)) = daemons
                .iter()
                .find(|(name, v)| *v > node.daemon_requests.get(name))
                .map(|(n, v)| (n, v, node.daemon_requests.get(n)))
            {
                bad(
                    Rule::DaemonOverhead,
                    format!(
                        "daemonsets need {} {name}, daemon_requests has {}",
                        format_amount(name, need),
                        format_amount(name, have)
                    ),
                );
            }
        }
    }

    fn check_limits(&mut self) {
        for tmpl in &self.snapshot.templates {
            if tmpl.limits.is_empty() {
                continue;
            }
            let mut total = tmpl.in_use.clone();
            let mut any = false;
            for node in self.plan.new_nodes.iter().filter(|n| n.pool == tmpl.pool) {
                let Some(it) = tmpl
                    .instance_types
                    .iter()
                    .find(|it| it.name == node.chosen.instance_type)
                else {
                    continue;
                };
                total.add(&it.capacity);
                any = true;
            }
            if !any {
                continue;
            }
            for (name, limit) in &tmpl.limits {
                if total.get(name) > *limit {
                    let detail = format!(
                        "{}: {name} {} in use and planned exceeds limit {}",
                        tmpl.pool,
                        format_amount(name, total.get(name)),
                        format_amount(name, *limit)
                    );
                    self.violation(None, None, Rule::Limits, detail);
                }
            }
        }
    }
}

#[cfg(test)]
mod tests {
    use std::sync::Arc;

    use serde_json::{Value, json};

    use super::*;
    use crate::instance_type::{InstanceType, Offering, Overhead};
    use crate::plan::{ExistingPlacement, InstanceOption, Placement, PlannedNode, Unschedulable};
    use crate::requirements::{Requirement, Requirements};
    use crate::snapshot::ExistingNode;
    use crate::template::{KubeletSettings, NodeTemplate, PoolKind, PoolRef};

    fn pod(v: Value) -> Pod {
        serde_json::from_value(v).expect("test pod")
    }

    /// A pod in `default` requesting `cpu`, with `extra` merged into its spec.
    fn mk(name: &str, labels: Value, cpu: &str, extra: Value) -> Pod {
        let mut spec =
            json!({"containers": [{"name": "c", "resources": {"requests": {"cpu": cpu}}}]});
        if let (Some(spec), Some(extra)) = (spec.as_object_mut(), extra.as_object()) {
            for (k, v) in extra {
                spec.insert(k.clone(), v.clone());
            }
        }
        pod(
            json!({"metadata": {"name": name, "namespace": "default", "labels": labels}, "spec": spec}),
        )
    }

    fn plain(name: &str, cpu: &str) -> Pod {
        mk(name, json!({}), cpu, json!({}))
    }

    fn labels(pairs: &[(&str, &str)]) -> BTreeMap<String, String> {
        pairs
            .iter()
            .map(|(k, v)| (k.to_string(), v.to_string()))
            .collect()
    }

    fn node(name: &str, zone: &str, cpu_milli: i64, pods: Vec<Pod>) -> ExistingNode {
        ExistingNode {
            name: name.into(),
            labels: labels(&[
                (ZONE, zone),
                (HOSTNAME, name),
                ("kubernetes.io/arch", "amd64"),
            ]),
            taints: Vec::new(),
            allocatable: Resources::new(cpu_milli, 8 << 30, 110),
            pods,
            pool: None,
            in_flight: false,
            marked_for_deletion: false,
            unschedulable: false,
        }
    }

    fn small_type() -> Arc<InstanceType> {
        let offerings = vec![
            Offering {
                zone: "zone-a".into(),
                capacity_type: "on-demand".into(),
                price: 0.1,
                available: true,
            },
            Offering {
                zone: "zone-a".into(),
                capacity_type: "spot".into(),
                price: 0.04,
                available: true,
            },
            Offering {
                zone: "zone-b".into(),
                capacity_type: "on-demand".into(),
                price: 0.1,
                available: true,
            },
            Offering {
                zone: "zone-b".into(),
                capacity_type: "spot".into(),
                price: 0.05,
                available: false,
            },
        ];
        let overhead = Overhead {
            kube_reserved: Resources::new(100, 0, 0),
            ..Default::default()
        };
        Arc::new(InstanceType::new(
            "s.small",
            labels(&[("kubernetes.io/arch", "amd64")]),
            Resources::new(2000, 4 << 30, 10),
            overhead,
            offerings,
        ))
    }

    fn template() -> NodeTemplate {
        NodeTemplate {
            pool: PoolRef {
                kind: PoolKind::NodePool,
                name: "default".into(),
            },
            weight: 0,
            requirements: Requirements::new(),
            labels: BTreeMap::new(),
            annotations: BTreeMap::new(),
            taints: Vec::new(),
            startup_taints: Vec::new(),
            kubelet: KubeletSettings::default(),
            limits: BTreeMap::new(),
            in_use: Resources::default(),
            instance_types: vec![small_type()],
        }
    }

    /// A planned node consistent with the snapshot's first template.
    fn planned(snap: &Snapshot, name: &str, zone: &str, capacity_type: &str) -> PlannedNode {
        let t = &snap.templates[0];
        let it = &t.instance_types[0];
        let offering = it
            .offerings
            .iter()
            .find(|o| o.zone == zone && o.capacity_type == capacity_type)
            .expect("offering");
        let chosen = InstanceOption {
            instance_type: it.name.clone(),
            zone: zone.into(),
            capacity_type: capacity_type.into(),
            price: offering.price,
        };
        let mut l = t.labels.clone();
        l.extend(it.labels.clone());
        l.insert(ZONE.into(), zone.into());
        l.insert(CAPACITY_TYPE.into(), capacity_type.into());
        l.insert(HOSTNAME.into(), name.into());
        PlannedNode {
            name: name.into(),
            pool: t.pool.clone(),
            requirements: t.requirements.clone(),
            options: vec![chosen.clone()],
            chosen,
            labels: l,
            taints: t.taints.clone(),
            startup_taints: Vec::new(),
            pods: Vec::new(),
            pod_requests: Resources::default(),
            daemon_requests: Resources::default(),
            allocatable: it.allocatable().clone(),
        }
    }

    fn key(name: &str) -> PodKey {
        match name.split_once('/') {
            Some((ns, n)) => PodKey {
                namespace: ns.into(),
                name: n.into(),
            },
            None => PodKey {
                namespace: "default".into(),
                name: name.into(),
            },
        }
    }

    fn e(name: &str) -> Target {
        Target::Existing(name.into())
    }

    fn n(name: &str) -> Target {
        Target::New(name.into())
    }

    /// A plan placing pods in this order, with the node lists and request sums filled in.
    fn plan(
        snap: &Snapshot,
        mut new_nodes: Vec<PlannedNode>,
        placements: &[(&str, Target)],
    ) -> Plan {
        let mut existing: Vec<ExistingPlacement> = Vec::new();
        for (name, target) in placements {
            let k = key(name);
            match target {
                Target::New(node) => {
                    let requests = snap
                        .pending
                        .iter()
                        .find(|p| PodKey::of(p) == k)
                        .map(|p| pod_requests(p).expect("valid"))
                        .unwrap_or_default();
                    if let Some(nn) = new_nodes.iter_mut().find(|nn| &nn.name == node) {
                        nn.pods.push(k.clone());
                        nn.pod_requests.add(&requests);
                    }
                }
                Target::Existing(node) => match existing.iter_mut().find(|e| &e.node == node) {
                    Some(e) => e.pods.push(k.clone()),
                    None => existing.push(ExistingPlacement {
                        node: node.clone(),
                        pods: vec![k.clone()],
                    }),
                },
            }
        }
        Plan {
            new_nodes,
            existing,
            placements: placements
                .iter()
                .map(|(name, target)| Placement {
                    pod: key(name),
                    target: target.clone(),
                    relaxed: Vec::new(),
                })
                .collect(),
            unschedulable: Vec::new(),
        }
    }

    fn rules(v: &[Violation]) -> Vec<Rule> {
        v.iter().map(|v| v.rule).collect()
    }

    fn snap(nodes: Vec<ExistingNode>, pending: Vec<Pod>) -> Snapshot {
        Snapshot {
            nodes,
            pending,
            templates: vec![template()],
            ..Default::default()
        }
    }

    #[track_caller]
    fn assert_only(v: &[Violation], rule: Rule) {
        assert!(
            !v.is_empty() && v.iter().all(|x| x.rule == rule),
            "expected only {rule}: {v:#?}"
        );
    }

    #[track_caller]
    fn assert_clean(v: &[Violation]) {
        assert!(v.is_empty(), "expected no violations: {v:#?}");
    }

    #[test]
    fn a_correct_plan_reports_nothing() {
        let bound = plain("old", "1");
        let p2 = mk(
            "p2",
            json!({}),
            "1500m",
            json!({"nodeSelector": {ZONE: "zone-b"}}),
        );
        let s = snap(
            vec![node("e1", "zone-a", 4000, vec![bound])],
            vec![plain("p1", "1"), p2],
        );
        let p = plan(
            &s,
            vec![planned(&s, "default-1", "zone-b", "on-demand")],
            &[("p1", e("e1")), ("p2", n("default-1"))],
        );
        assert_clean(&validate(&s, &p));
    }

    #[test]
    fn requests_follow_kubernetes_rules() {
        let spec = |init_cpu: &str| {
            json!({
                "overhead": {"cpu": "100m"},
                "initContainers": [
                    {"name": "sidecar", "restartPolicy": "Always", "resources": {"requests": {"cpu": "500m"}}},
                    {"name": "init", "resources": {"requests": {"cpu": init_cpu}}},
                ],
            })
        };
        let big = mk("big", json!({}), "500m", spec("1500m"));
        // app 500m + sidecar 500m = 1; init 1500m after the sidecar = 2; + 100m overhead.
        assert_eq!(pod_requests(&big).expect("valid").cpu, 2100);
        let limits_only = pod(
            json!({"metadata": {"name": "l"}, "spec": {"containers": [{"name": "c", "resources": {"limits": {"cpu": "2"}}}]}}),
        );
        assert_eq!(
            pod_requests(&limits_only).expect("valid").cpu,
            2000,
            "requests default to limits"
        );

        let s = snap(vec![node("e1", "zone-a", 2000, vec![])], vec![big]);
        let v = validate(&s, &plan(&s, vec![], &[("big", e("e1"))]));
        assert_only(&v, Rule::Resources);
        assert!(v[0].detail.contains("cpu"), "{}", v[0]);

        let fits = mk("fits", json!({}), "500m", spec("1"));
        let s = snap(vec![node("e1", "zone-a", 2000, vec![])], vec![fits]);
        assert_clean(&validate(&s, &plan(&s, vec![], &[("fits", e("e1"))])));
    }

    #[test]
    fn resources_count_bound_pods_daemons_and_pod_slots() {
        let s = snap(
            vec![node("e1", "zone-a", 2000, vec![plain("old", "1500m")])],
            vec![plain("p", "1")],
        );
        assert_only(
            &validate(&s, &plan(&s, vec![], &[("p", e("e1"))])),
            Rule::Resources,
        );

        let mut full = node("e1", "zone-a", 4000, vec![plain("old", "100m")]);
        full.allocatable.pods = MILLI;
        let s = snap(vec![full], vec![plain("p", "100m")]);
        let v = validate(&s, &plan(&s, vec![], &[("p", e("e1"))]));
        assert_only(&v, Rule::Resources);
        assert!(v[0].detail.starts_with("pods"), "{}", v[0]);

        // s.small has 1900m allocatable: 1500m fits alone, not with 500m of daemons.
        let s = snap(vec![], vec![plain("p", "1500m")]);
        let mut nn = planned(&s, "default-1", "zone-a", "spot");
        assert_clean(&validate(
            &s,
            &plan(&s, vec![nn.clone()], &[("p", n("default-1"))]),
        ));
        nn.daemon_requests = Resources::new(500, 0, 1);
        assert_only(
            &validate(&s, &plan(&s, vec![nn], &[("p", n("default-1"))])),
            Rule::Resources,
        );

        let gpu = pod(
            json!({"metadata": {"name": "gpu"}, "spec": {"containers": [{"name": "c", "resources": {"limits": {"example.com/gpu": "1"}}}]}}),
        );
        let s = snap(vec![node("e1", "zone-a", 2000, vec![])], vec![gpu]);
        assert_only(
            &validate(&s, &plan(&s, vec![], &[("gpu", e("e1"))])),
            Rule::Resources,
        );
    }

    #[test]
    fn taints_must_be_tolerated_except_prefer_no_schedule() {
        let taint = |effect: &str| Taint {
            key: "dedicated".into(),
            value: Some("db".into()),
            effect: effect.into(),
            time_added: None,
        };
        let run = |effect: &str, tolerations: Value| {
            let mut e1 = node("e1", "zone-a", 2000, vec![]);
            e1.taints.push(taint(effect));
            let s = snap(
                vec![e1],
                vec![mk(
                    "p",
                    json!({}),
                    "100m",
                    json!({"tolerations": tolerations}),
                )],
            );
            validate(&s, &plan(&s, vec![], &[("p", e("e1"))]))
        };
        assert_only(&run("NoSchedule", json!([])), Rule::Taints);
        assert_only(
            &run(
                "NoExecute",
                json!([{"key": "dedicated", "operator": "Exists", "effect": "NoSchedule"}]),
            ),
            Rule::Taints,
        );
        assert_only(
            &run("NoSchedule", json!([{"key": "dedicated", "value": "web"}])),
            Rule::Taints,
        );
        assert_clean(&run("PreferNoSchedule", json!([])));
        assert_clean(&run(
            "NoSchedule",
            json!([{"key": "dedicated", "value": "db"}]),
        ));
        assert_clean(&run("NoExecute", json!([{"operator": "Exists"}])));
    }

    #[test]
    fn cordoned_and_deleting_nodes() {
        let mut e1 = node("e1", "zone-a", 2000, vec![]);
        e1.unschedulable = true;
        let s = snap(vec![e1], vec![plain("p", "100m")]);
        assert_only(
            &validate(&s, &plan(&s, vec![], &[("p", e("e1"))])),
            Rule::Cordoned,
        );
        let tolerant = mk(
            "p",
            json!({}),
            "100m",
            json!({"tolerations": [{"key": UNSCHEDULABLE_TAINT, "operator": "Exists"}]}),
        );
        let mut e1 = node("e1", "zone-a", 2000, vec![]);
        e1.unschedulable = true;
        let s = snap(vec![e1], vec![tolerant]);
        assert_clean(&validate(&s, &plan(&s, vec![], &[("p", e("e1"))])));

        let mut e1 = node("e1", "zone-a", 2000, vec![]);
        e1.marked_for_deletion = true;
        let s = snap(vec![e1], vec![plain("p", "100m")]);
        assert_only(
            &validate(&s, &plan(&s, vec![], &[("p", e("e1"))])),
            Rule::NodeDeleting,
        );
    }

    #[test]
    fn node_selector_and_required_node_affinity() {
        let run = |extra: Value, node_name: &str| {
            let mut e1 = node("e1", "zone-a", 2000, vec![]);
            e1.labels.insert("cpus".into(), "4".into());
            let e2 = node("e2", "zone-b", 2000, vec![]);
            let s = snap(vec![e1, e2], vec![mk("p", json!({}), "100m", extra)]);
            validate(&s, &plan(&s, vec![], &[("p", e(node_name))]))
        };
        let affinity = |terms: Value| json!({"affinity": {"nodeAffinity": {"requiredDuringSchedulingIgnoredDuringExecution": {"nodeSelectorTerms": terms}}}});
        let expr = |k: &str, op: &str, vs: &[&str]| json!({"matchExpressions": [{"key": k, "operator": op, "values": vs}]});

        assert_only(
            &run(json!({"nodeSelector": {ZONE: "zone-b"}}), "e1"),
            Rule::NodeSelector,
        );
        assert_clean(&run(json!({"nodeSelector": {ZONE: "zone-a"}}), "e1"));
        // Deprecated keys read the GA label.
        assert_clean(&run(
            json!({"nodeSelector": {"failure-domain.beta.kubernetes.io/zone": "zone-a"}}),
            "e1",
        ));

        // Terms are ORed.
        assert_clean(&run(
            affinity(json!([
                expr(ZONE, "In", &["zone-x"]),
                expr(ZONE, "In", &["zone-a"])
            ])),
            "e1",
        ));
        assert_only(
            &run(
                affinity(json!([
                    expr(ZONE, "In", &["zone-x"]),
                    expr(ZONE, "NotIn", &["zone-a"])
                ])),
                "e1",
            ),
            Rule::NodeAffinity,
        );
        assert_clean(&run(affinity(json!([expr("cpus", "Gt", &["2"])])), "e1"));
        assert_only(
            &run(affinity(json!([expr("cpus", "Lt", &["4"])])), "e1"),
            Rule::NodeAffinity,
        );
        assert_only(
            &run(affinity(json!([expr("cpus", "Gt", &["2"])])), "e2"),
            Rule::NodeAffinity,
        );
        assert_clean(&run(
            affinity(json!([expr("cpus", "DoesNotExist", &[])])),
            "e2",
        ));
        assert_only(
            &run(affinity(json!([expr("cpus", "Exists", &[])])), "e2"),
            Rule::NodeAffinity,
        );
        let by_name = affinity(
            json!([{"matchFields": [{"key": "metadata.name", "operator": "In", "values": ["e1"]}]}]),
        );
        assert_clean(&run(by_name.clone(), "e1"));
        assert_only(&run(by_name, "e2"), Rule::NodeAffinity);
        assert_only(&run(affinity(json!([{}])), "e1"), Rule::NodeAffinity);
    }

    #[test]
    fn host_ports_conflict() {
        let with_port = |name: &str, port: Value| {
            pod(
                json!({"metadata": {"name": name, "namespace": "default"}, "spec": {"containers": [{"name": "c", "ports": [port]}]}}),
            )
        };
        let run = |bound: Value, incoming: Value| {
            let s = snap(
                vec![node("e1", "zone-a", 2000, vec![with_port("old", bound)])],
                vec![with_port("p", incoming)],
            );
            validate(&s, &plan(&s, vec![], &[("p", e("e1"))]))
        };
        assert_only(
            &run(
                json!({"containerPort": 80, "hostPort": 8080}),
                json!({"containerPort": 81, "hostPort": 8080, "hostIP": "10.0.0.1"}),
            ),
            Rule::HostPorts,
        );
        assert_clean(&run(
            json!({"containerPort": 80, "hostPort": 8080}),
            json!({"containerPort": 80, "hostPort": 8080, "protocol": "UDP"}),
        ));
        assert_clean(&run(
            json!({"containerPort": 80, "hostPort": 8080, "hostIP": "10.0.0.2"}),
            json!({"containerPort": 80, "hostPort": 8080, "hostIP": "10.0.0.1"}),
        ));
        assert_clean(&run(
            json!({"containerPort": 80}),
            json!({"containerPort": 80}),
        ));

        // Two pending pods on the same new node.
        let s = snap(
            vec![],
            vec![
                with_port("a", json!({"containerPort": 80, "hostPort": 80})),
                with_port("b", json!({"containerPort": 80, "hostPort": 80})),
            ],
        );
        let p = plan(
            &s,
            vec![planned(&s, "default-1", "zone-a", "spot")],
            &[("a", n("default-1")), ("b", n("default-1"))],
        );
        let v = validate(&s, &p);
        assert_only(&v, Rule::HostPorts);
        assert_eq!(v[0].pod, Some(key("b")));

        // hostNetwork pods bind their container ports.
        let host_net = |name: &str| {
            pod(
                json!({"metadata": {"name": name}, "spec": {"hostNetwork": true, "containers": [{"name": "c", "ports": [{"containerPort": 9100}]}]}}),
            )
        };
        let s = snap(
            vec![node("e1", "zone-a", 2000, vec![host_net("old")])],
            vec![host_net("p")],
        );
        assert_only(
            &validate(&s, &plan(&s, vec![], &[("p", e("e1"))])),
            Rule::HostPorts,
        );
    }

    fn pod_affinity(kind: &str, key: &str, selector: Value) -> Value {
        json!({"affinity": {kind: {"requiredDuringSchedulingIgnoredDuringExecution": [{"topologyKey": key, "labelSelector": selector}]}}})
    }

    #[test]
    fn required_pod_affinity() {
        let to_cache = pod_affinity(
            "podAffinity",
            ZONE,
            json!({"matchLabels": {"app": "cache"}}),
        );
        let nodes = || {
            vec![
                node(
                    "e-a",
                    "zone-a",
                    4000,
                    vec![mk("cache-0", json!({"app": "cache"}), "100m", json!({}))],
                ),
                node("e-b", "zone-b", 4000, vec![]),
            ]
        };
        let s = snap(
            nodes(),
            vec![mk("web", json!({"app": "web"}), "100m", to_cache.clone())],
        );
        assert_clean(&validate(&s, &plan(&s, vec![], &[("web", e("e-a"))])));
        assert_only(
            &validate(&s, &plan(&s, vec![], &[("web", e("e-b"))])),
            Rule::PodAffinity,
        );

        // Nothing matches and the pod does not match its own term: nowhere.
        let s = snap(
            vec![node("e-b", "zone-b", 4000, vec![])],
            vec![mk("web", json!({"app": "web"}), "100m", to_cache)],
        );
        assert_only(
            &validate(&s, &plan(&s, vec![], &[("web", e("e-b"))])),
            Rule::PodAffinity,
        );

        // The first of a self-affine group goes anywhere; the next must follow it.
        let selfish = |name: &str| {
            mk(
                name,
                json!({"app": "c2"}),
                "100m",
                pod_affinity("podAffinity", ZONE, json!({"matchLabels": {"app": "c2"}})),
            )
        };
        let s = snap(nodes(), vec![selfish("c2-0"), selfish("c2-1")]);
        assert_clean(&validate(
            &s,
            &plan(&s, vec![], &[("c2-0", e("e-b")), ("c2-1", e("e-b"))]),
        ));
        let v = validate(
            &s,
            &plan(&s, vec![], &[("c2-0", e("e-b")), ("c2-1", e("e-a"))]),
        );
        assert_only(&v, Rule::PodAffinity);
        assert_eq!(v[0].pod, Some(key("c2-1")));

        // kube-scheduler counts only pods matching *all* terms.
        let two_terms = json!({"affinity": {"podAffinity": {"requiredDuringSchedulingIgnoredDuringExecution": [
            {"topologyKey": ZONE, "labelSelector": {"matchLabels": {"app": "cache"}}},
            {"topologyKey": ZONE, "labelSelector": {"matchLabels": {"tier": "hot"}}},
        ]}}});
        let split = vec![node(
            "e-a",
            "zone-a",
            4000,
            vec![
                mk("cache", json!({"app": "cache"}), "100m", json!({})),
                mk("hot", json!({"tier": "hot"}), "100m", json!({})),
            ],
        )];
        let s = snap(split, vec![mk("web", json!({}), "100m", two_terms.clone())]);
        assert_only(
            &validate(&s, &plan(&s, vec![], &[("web", e("e-a"))])),
            Rule::PodAffinity,
        );
        let both = vec![node(
            "e-a",
            "zone-a",
            4000,
            vec![mk(
                "cache",
                json!({"app": "cache", "tier": "hot"}),
                "100m",
                json!({}),
            )],
        )];
        let s = snap(both, vec![mk("web", json!({}), "100m", two_terms)]);
        assert_clean(&validate(&s, &plan(&s, vec![], &[("web", e("e-a"))])));
    }

    #[test]
    fn required_pod_anti_affinity_and_namespaces() {
        let away = pod_affinity(
            "podAntiAffinity",
            HOSTNAME,
            json!({"matchLabels": {"app": "db"}}),
        );
        let s = snap(
            vec![
                node(
                    "e1",
                    "zone-a",
                    4000,
                    vec![mk("db-0", json!({"app": "db"}), "100m", json!({}))],
                ),
                node("e2", "zone-a", 4000, vec![]),
            ],
            vec![mk("db-1", json!({"app": "db"}), "100m", away)],
        );
        assert_only(
            &validate(&s, &plan(&s, vec![], &[("db-1", e("e1"))])),
            Rule::PodAntiAffinity,
        );
        assert_clean(&validate(&s, &plan(&s, vec![], &[("db-1", e("e2"))])));

        // Pods in other namespaces do not count unless the term selects them.
        let other = pod(
            json!({"metadata": {"name": "db-x", "namespace": "other", "labels": {"app": "db"}}, "spec": {"containers": [{"name": "c"}]}}),
        );
        let plain_term = pod_affinity(
            "podAntiAffinity",
            ZONE,
            json!({"matchLabels": {"app": "db"}}),
        );
        let s = snap(
            vec![node("e1", "zone-a", 4000, vec![other.clone()])],
            vec![mk("db-1", json!({"app": "db"}), "100m", plain_term)],
        );
        assert_clean(&validate(&s, &plan(&s, vec![], &[("db-1", e("e1"))])));
        let selected = json!({"affinity": {"podAntiAffinity": {"requiredDuringSchedulingIgnoredDuringExecution": [
            {"topologyKey": ZONE, "labelSelector": {"matchLabels": {"app": "db"}}, "namespaceSelector": {"matchLabels": {"team": "x"}}}
        ]}}});
        let mut s = snap(
            vec![node("e1", "zone-a", 4000, vec![other])],
            vec![mk("db-1", json!({"app": "db"}), "100m", selected)],
        );
        assert_clean(&validate(&s, &plan(&s, vec![], &[("db-1", e("e1"))])));
        s.namespaces
            .insert("other".into(), labels(&[("team", "x")]));
        assert_only(
            &validate(&s, &plan(&s, vec![], &[("db-1", e("e1"))])),
            Rule::PodAntiAffinity,
        );
    }

    #[test]
    fn existing_pods_anti_affinity_is_symmetric() {
        let db = mk(
            "db",
            json!({"app": "db"}),
            "100m",
            pod_affinity(
                "podAntiAffinity",
                HOSTNAME,
                json!({"matchLabels": {"app": "web"}}),
            ),
        );
        let s = snap(
            vec![
                node("e1", "zone-a", 4000, vec![db.clone()]),
                node("e2", "zone-a", 4000, vec![]),
            ],
            vec![mk("web", json!({"app": "web"}), "100m", json!({}))],
        );
        assert_only(
            &validate(&s, &plan(&s, vec![], &[("web", e("e1"))])),
            Rule::ExistingAntiAffinity,
        );
        assert_clean(&validate(&s, &plan(&s, vec![], &[("web", e("e2"))])));

        // Also between pods of the same plan, in placement order.
        let s = snap(
            vec![],
            vec![db, mk("web", json!({"app": "web"}), "100m", json!({}))],
        );
        let nn = planned(&s, "default-1", "zone-a", "spot");
        assert_only(
            &validate(
                &s,
                &plan(
                    &s,
                    vec![nn.clone()],
                    &[("db", n("default-1")), ("web", n("default-1"))],
                ),
            ),
            Rule::ExistingAntiAffinity,
        );
        // In the other order the incoming db pod's own anti-affinity catches it.
        assert_only(
            &validate(
                &s,
                &plan(
                    &s,
                    vec![nn],
                    &[("web", n("default-1")), ("db", n("default-1"))],
                ),
            ),
            Rule::PodAntiAffinity,
        );
    }

    fn spread(key: &str, max_skew: i32, extra: Value) -> Value {
        let mut c = json!({"maxSkew": max_skew, "topologyKey": key, "whenUnsatisfiable": "DoNotSchedule", "labelSelector": {"matchLabels": {"app": "web"}}});
        if let (Some(c), Some(extra)) = (c.as_object_mut(), extra.as_object()) {
            for (k, v) in extra {
                c.insert(k.clone(), v.clone());
            }
        }
        c
    }

    fn web(name: &str, constraints: Value, extra: Value) -> Pod {
        let mut spec = json!({"topologySpreadConstraints": constraints});
        if let (Some(spec), Some(extra)) = (spec.as_object_mut(), extra.as_object()) {
            for (k, v) in extra {
                spec.insert(k.clone(), v.clone());
            }
        }
        mk(name, json!({"app": "web"}), "100m", spec)
    }

    fn zones3() -> Vec<ExistingNode> {
        vec![
            node("e-a", "zone-a", 8000, vec![]),
            node("e-b", "zone-b", 8000, vec![]),
            node("e-c", "zone-c", 8000, vec![]),
        ]
    }

    #[test]
    fn zonal_spread_skew() {
        let c = json!([spread(ZONE, 1, json!({}))]);
        let s = snap(
            zones3(),
            vec![
                web("w0", c.clone(), json!({})),
                web("w1", c.clone(), json!({})),
            ],
        );
        assert_clean(&validate(
            &s,
            &plan(&s, vec![], &[("w0", e("e-a")), ("w1", e("e-b"))]),
        ));
        let v = validate(&s, &plan(&s, vec![], &[("w0", e("e-a")), ("w1", e("e-a"))]));
        assert_only(&v, Rule::TopologySpread);
        assert_eq!(v[0].pod, Some(key("w1")));

        // ScheduleAnyway is a preference: never a violation.
        let soft = json!([{"maxSkew": 1, "topologyKey": ZONE, "whenUnsatisfiable": "ScheduleAnyway", "labelSelector": {"matchLabels": {"app": "web"}}}]);
        let s = snap(
            zones3(),
            vec![
                web("w0", soft.clone(), json!({})),
                web("w1", soft, json!({})),
            ],
        );
        assert_clean(&validate(
            &s,
            &plan(&s, vec![], &[("w0", e("e-a")), ("w1", e("e-a"))]),
        ));
    }

    #[test]
    fn spread_counts_planned_nodes_as_domains() {
        // Only zone-a exists today, but the plan launches a node in zone-b: once it
        // exists, two pods in zone-a and none in zone-b is a skew of 2.
        let c = json!([spread(ZONE, 1, json!({}))]);
        let s = snap(
            vec![node("e-a", "zone-a", 8000, vec![])],
            vec![
                web("w0", c.clone(), json!({})),
                web("w1", c.clone(), json!({})),
                plain("other", "100m"),
            ],
        );
        let nn = planned(&s, "default-1", "zone-b", "on-demand");
        let v = validate(
            &s,
            &plan(
                &s,
                vec![nn.clone()],
                &[
                    ("w0", e("e-a")),
                    ("w1", e("e-a")),
                    ("other", n("default-1")),
                ],
            ),
        );
        assert_only(&v, Rule::TopologySpread);
        assert_clean(&validate(
            &s,
            &plan(
                &s,
                vec![nn],
                &[
                    ("w0", e("e-a")),
                    ("w1", n("default-1")),
                    ("other", e("e-a")),
                ],
            ),
        ));

        // Hostname spread: each planned node is its own domain from the start.
        let h = json!([spread(HOSTNAME, 1, json!({}))]);
        let s = snap(
            vec![],
            vec![
                web("w0", h.clone(), json!({})),
                web("w1", h.clone(), json!({})),
                web("w2", h, json!({})),
            ],
        );
        let nodes = vec![
            planned(&s, "default-1", "zone-a", "spot"),
            planned(&s, "default-2", "zone-a", "spot"),
        ];
        let v = validate(
            &s,
            &plan(
                &s,
                nodes.clone(),
                &[
                    ("w0", n("default-1")),
                    ("w1", n("default-1")),
                    ("w2", n("default-2")),
                ],
            ),
        );
        assert_only(&v, Rule::TopologySpread);
        assert_clean(&validate(
            &s,
            &plan(
                &s,
                nodes,
                &[
                    ("w0", n("default-1")),
                    ("w1", n("default-2")),
                    ("w2", n("default-1")),
                ],
            ),
        ));
    }

    #[test]
    fn min_domains_forces_global_minimum_to_zero() {
        let two_zones = || {
            vec![
                node("e-a", "zone-a", 8000, vec![]),
                node("e-b", "zone-b", 8000, vec![]),
            ]
        };
        let order = [("w0", e("e-a")), ("w1", e("e-b")), ("w2", e("e-a"))];
        let c = json!([spread(ZONE, 1, json!({}))]);
        let s = snap(
            two_zones(),
            vec![
                web("w0", c.clone(), json!({})),
                web("w1", c.clone(), json!({})),
                web("w2", c, json!({})),
            ],
        );
        assert_clean(&validate(&s, &plan(&s, vec![], &order)));
        let c = json!([spread(ZONE, 1, json!({"minDomains": 3}))]);
        let s = snap(
            two_zones(),
            vec![
                web("w0", c.clone(), json!({})),
                web("w1", c.clone(), json!({})),
                web("w2", c, json!({})),
            ],
        );
        let v = validate(&s, &plan(&s, vec![], &order));
        assert_only(&v, Rule::TopologySpread);
        assert_eq!(v[0].pod, Some(key("w2")));
    }

    #[test]
    fn node_inclusion_policies() {
        // zone-a: amd64, empty. zone-b: arm64 with one matching pod. The pod needs arm64.
        let nodes = || {
            let mut b = node(
                "e-b",
                "zone-b",
                8000,
                vec![mk("old", json!({"app": "web"}), "100m", json!({}))],
            );
            b.labels.insert("kubernetes.io/arch".into(), "arm64".into());
            vec![node("e-a", "zone-a", 8000, vec![]), b]
        };
        let arm = json!({"nodeSelector": {"kubernetes.io/arch": "arm64"}});
        let run = |policy: Value, nodes: Vec<ExistingNode>, extra: Value| {
            let s = snap(
                nodes,
                vec![web("w", json!([spread(ZONE, 1, policy)]), extra)],
            );
            validate(&s, &plan(&s, vec![], &[("w", e("e-b"))]))
        };
        assert_clean(&run(json!({}), nodes(), arm.clone()));
        assert_clean(&run(
            json!({"nodeAffinityPolicy": "Honor"}),
            nodes(),
            arm.clone(),
        ));
        assert_only(
            &run(json!({"nodeAffinityPolicy": "Ignore"}), nodes(), arm),
            Rule::TopologySpread,
        );

        // Taints: ignored by default; with Honor, untolerated nodes leave the count.
        let tainted = || {
            let mut n = nodes();
            n[0].labels
                .insert("kubernetes.io/arch".into(), "arm64".into());
            n[0].taints.push(Taint {
                key: "dedicated".into(),
                value: None,
                effect: "NoSchedule".into(),
                time_added: None,
            });
            n
        };
        assert_only(&run(json!({}), tainted(), json!({})), Rule::TopologySpread);
        assert_clean(&run(
            json!({"nodeTaintsPolicy": "Honor"}),
            tainted(),
            json!({}),
        ));
    }

    #[test]
    fn cordoned_nodes_carry_the_unschedulable_taint_for_spread() {
        // zone-a is cordoned: with nodeTaintsPolicy Honor it leaves the count.
        let nodes = || {
            let mut a = node("e-a", "zone-a", 8000, vec![]);
            a.unschedulable = true;
            vec![
                a,
                node(
                    "e-b",
                    "zone-b",
                    8000,
                    vec![mk("old", json!({"app": "web"}), "100m", json!({}))],
                ),
            ]
        };
        let run = |policy: Value| {
            let s = snap(
                nodes(),
                vec![web("w", json!([spread(ZONE, 1, policy)]), json!({}))],
            );
            validate(&s, &plan(&s, vec![], &[("w", e("e-b"))]))
        };
        assert_only(&run(json!({})), Rule::TopologySpread);
        assert_clean(&run(json!({"nodeTaintsPolicy": "Honor"})));
    }

    #[test]
    fn match_label_keys_narrow_the_count() {
        let old = mk(
            "old",
            json!({"app": "web", "version": "v1"}),
            "100m",
            json!({}),
        );
        let nodes = || {
            vec![
                node("e-a", "zone-a", 8000, vec![old.clone()]),
                node("e-b", "zone-b", 8000, vec![]),
            ]
        };
        let v2 = |extra: Value| {
            let c = json!([spread(ZONE, 1, extra)]);
            mk(
                "w",
                json!({"app": "web", "version": "v2"}),
                "100m",
                json!({"topologySpreadConstraints": c}),
            )
        };
        let s = snap(nodes(), vec![v2(json!({}))]);
        assert_only(
            &validate(&s, &plan(&s, vec![], &[("w", e("e-a"))])),
            Rule::TopologySpread,
        );
        let s = snap(nodes(), vec![v2(json!({"matchLabelKeys": ["version"]}))]);
        assert_clean(&validate(&s, &plan(&s, vec![], &[("w", e("e-a"))])));
    }

    #[test]
    fn volume_topology() {
        let pv: PersistentVolume = serde_json::from_value(json!({
            "metadata": {"name": "pv-b"},
            "spec": {"nodeAffinity": {"required": {"nodeSelectorTerms": [{"matchExpressions": [{"key": ZONE, "operator": "In", "values": ["zone-b"]}]}]}}}
        }))
        .expect("pv");
        let bound: k8s_openapi::api::core::v1::PersistentVolumeClaim = serde_json::from_value(json!({"metadata": {"name": "data", "namespace": "default"}, "spec": {"volumeName": "pv-b"}})).expect("pvc");
        let fresh: k8s_openapi::api::core::v1::PersistentVolumeClaim = serde_json::from_value(json!({"metadata": {"name": "fresh", "namespace": "default"}, "spec": {"storageClassName": "zonal"}})).expect("pvc");
        let sc: StorageClass = serde_json::from_value(json!({
            "metadata": {"name": "zonal"}, "provisioner": "ebs.csi.aws.com", "volumeBindingMode": "WaitForFirstConsumer",
            "allowedTopologies": [{"matchLabelExpressions": [{"key": ZONE, "values": ["zone-b"]}]}]
        }))
        .expect("sc");
        let run = |claim: &str, node_name: &str| {
            let p = mk(
                "p",
                json!({}),
                "100m",
                json!({"volumes": [{"name": "v", "persistentVolumeClaim": {"claimName": claim}}]}),
            );
            let mut s = snap(
                vec![
                    node("e-a", "zone-a", 2000, vec![]),
                    node("e-b", "zone-b", 2000, vec![]),
                ],
                vec![p],
            );
            s.volumes = vec![pv.clone()];
            s.claims = vec![bound.clone(), fresh.clone()];
            s.storage_classes = vec![sc.clone()];
            validate(&s, &plan(&s, vec![], &[("p", e(node_name))]))
        };
        assert_clean(&run("data", "e-b"));
        assert_only(&run("data", "e-a"), Rule::VolumeZone);
        assert_clean(&run("fresh", "e-b"));
        assert_only(&run("fresh", "e-a"), Rule::VolumeZone);
        assert_only(&run("missing", "e-b"), Rule::VolumeZone);

        // In-tree volumes carry their zone as a label.
        let mut labelled = pv.clone();
        labelled.spec.as_mut().expect("spec").node_affinity = None;
        labelled.metadata.labels = Some(labels(&[(
            "failure-domain.beta.kubernetes.io/zone",
            "zone-c__zone-b",
        )]));
        let p = mk(
            "p",
            json!({}),
            "100m",
            json!({"volumes": [{"name": "v", "persistentVolumeClaim": {"claimName": "data"}}]}),
        );
        let mut s = snap(
            vec![
                node("e-a", "zone-a", 2000, vec![]),
                node("e-b", "zone-b", 2000, vec![]),
            ],
            vec![p],
        );
        s.volumes = vec![labelled];
        s.claims = vec![bound];
        assert_clean(&validate(&s, &plan(&s, vec![], &[("p", e("e-b"))])));
        assert_only(
            &validate(&s, &plan(&s, vec![], &[("p", e("e-a"))])),
            Rule::VolumeZone,
        );
    }

    #[test]
    fn every_pending_pod_is_accounted_for_once() {
        let ds_pod = pod(
            json!({"metadata": {"name": "agent", "ownerReferences": [{"apiVersion": "apps/v1", "kind": "DaemonSet", "name": "agent", "uid": "1", "controller": true}]}, "spec": {"containers": [{"name": "c"}]}}),
        );
        let s = snap(
            vec![node("e1", "zone-a", 4000, vec![])],
            vec![plain("a", "100m"), plain("b", "100m"), ds_pod],
        );

        let mut p = plan(&s, vec![], &[("a", e("e1"))]);
        assert_only(&validate(&s, &p), Rule::Lost);
        p.unschedulable.push(Unschedulable {
            pod: key("b"),
            reason: "test".into(),
        });
        assert_clean(&validate(&s, &p));
        p.unschedulable.push(Unschedulable {
            pod: key("a"),
            reason: "test".into(),
        });
        assert_only(&validate(&s, &p), Rule::Duplicated);

        let p = plan(
            &s,
            vec![],
            &[("a", e("e1")), ("b", e("e1")), ("a", e("e1"))],
        );
        assert!(rules(&validate(&s, &p)).contains(&Rule::Duplicated));

        let p = plan(
            &s,
            vec![],
            &[("a", e("e1")), ("b", e("e1")), ("ghost", e("e1"))],
        );
        assert!(rules(&validate(&s, &p)).contains(&Rule::UnknownPod));

        let p = plan(&s, vec![], &[("a", e("e1")), ("b", e("nope"))]);
        assert!(rules(&validate(&s, &p)).contains(&Rule::UnknownNode));
        let p = plan(&s, vec![], &[("a", e("e1")), ("b", n("e1"))]);
        assert!(
            rules(&validate(&s, &p)).contains(&Rule::UnknownNode),
            "existing and planned names are separate"
        );
    }

    #[test]
    fn plan_lists_must_agree_with_placements() {
        let s = snap(vec![], vec![plain("a", "100m"), plain("b", "200m")]);
        let mut p = plan(
            &s,
            vec![planned(&s, "default-1", "zone-a", "spot")],
            &[("a", n("default-1")), ("b", n("default-1"))],
        );
        assert_clean(&validate(&s, &p));
        p.new_nodes[0].pods.pop();
        assert!(rules(&validate(&s, &p)).contains(&Rule::PlanConsistency));
        let mut p = plan(
            &s,
            vec![planned(&s, "default-1", "zone-a", "spot")],
            &[("a", n("default-1")), ("b", n("default-1"))],
        );
        p.new_nodes[0].pod_requests.cpu += 1;
        assert_only(&validate(&s, &p), Rule::PlanConsistency);
        let mut p = plan(
            &s,
            vec![planned(&s, "default-1", "zone-a", "spot")],
            &[("a", n("default-1")), ("b", n("default-1"))],
        );
        p.new_nodes.push(planned(&s, "default-2", "zone-a", "spot"));
        assert_only(&validate(&s, &p), Rule::PlanConsistency);
    }

    #[test]
    fn planned_nodes_match_their_offering_type_and_template() {
        let s = snap(vec![], vec![plain("a", "100m")]);
        let ok = planned(&s, "default-1", "zone-a", "spot");
        let run = |nn: PlannedNode| validate(&s, &plan(&s, vec![nn], &[("a", n("default-1"))]));
        assert_clean(&run(ok.clone()));

        let mut unavailable = planned(&s, "default-1", "zone-b", "on-demand");
        unavailable.chosen.capacity_type = "spot".into();
        unavailable.chosen.price = 0.05;
        unavailable.options = vec![unavailable.chosen.clone()];
        unavailable
            .labels
            .insert(CAPACITY_TYPE.into(), "spot".into());
        assert_only(&run(unavailable), Rule::Offering);

        let mut no_such_zone = ok.clone();
        no_such_zone.chosen.zone = "zone-z".into();
        no_such_zone.options = vec![no_such_zone.chosen.clone()];
        no_such_zone.labels.insert(ZONE.into(), "zone-z".into());
        assert_only(&run(no_such_zone), Rule::Offering);

        let mut cheaper = ok.clone();
        cheaper.chosen.price = 0.01;
        cheaper.options = vec![cheaper.chosen.clone()];
        assert_only(&run(cheaper), Rule::Offering);

        let mut wrong_zone_label = ok.clone();
        wrong_zone_label.labels.insert(ZONE.into(), "zone-b".into());
        assert_only(&run(wrong_zone_label), Rule::Labels);

        let mut wrong_arch = ok.clone();
        wrong_arch
            .labels
            .insert("kubernetes.io/arch".into(), "arm64".into());
        assert_only(&run(wrong_arch), Rule::Labels);

        let mut bigger = ok.clone();
        bigger.allocatable.cpu += 1000;
        assert_only(&run(bigger), Rule::Allocatable);

        // A template requirement the chosen offering violates.
        let mut s2 = snap(vec![], vec![plain("a", "100m")]);
        s2.templates[0]
            .requirements
            .add(Requirement::in_values(CAPACITY_TYPE, ["on-demand"]));
        let nn = planned(&s2, "default-1", "zone-a", "spot");
        let v = validate(&s2, &plan(&s2, vec![nn], &[("a", n("default-1"))]));
        assert!(
            v.iter()
                .all(|x| matches!(x.rule, Rule::Offering | Rule::Labels))
                && !v.is_empty(),
            "{v:#?}"
        );

        // Template taints must stay on the node.
        let mut s3 = snap(
            vec![],
            vec![mk(
                "a",
                json!({}),
                "100m",
                json!({"tolerations": [{"operator": "Exists"}]}),
            )],
        );
        s3.templates[0].taints.push(Taint {
            key: "dedicated".into(),
            value: None,
            effect: "NoSchedule".into(),
            time_added: None,
        });
        let mut nn = planned(&s3, "default-1", "zone-a", "spot");
        assert_clean(&validate(
            &s3,
            &plan(&s3, vec![nn.clone()], &[("a", n("default-1"))]),
        ));
        nn.taints.clear();
        assert_only(
            &validate(&s3, &plan(&s3, vec![nn], &[("a", n("default-1"))])),
            Rule::Taints,
        );
    }

    #[test]
    fn daemon_overhead_and_limits() {
        let ds = |name: &str, extra: Value| -> k8s_openapi::api::apps::v1::DaemonSet {
            let mut spec =
                json!({"containers": [{"name": "d", "resources": {"requests": {"cpu": "300m"}}}]});
            if let (Some(spec), Some(extra)) = (spec.as_object_mut(), extra.as_object()) {
                for (k, v) in extra {
                    spec.insert(k.clone(), v.clone());
                }
            }
            serde_json::from_value(json!({"metadata": {"name": name}, "spec": {"selector": {}, "template": {"spec": spec}}})).expect("ds")
        };
        let mut s = snap(vec![], vec![plain("a", "100m")]);
        s.daemonsets = vec![ds(
            "arm-only",
            json!({"nodeSelector": {"kubernetes.io/arch": "arm64"}}),
        )];
        let mut nn = planned(&s, "default-1", "zone-a", "spot");
        assert_clean(&validate(
            &s,
            &plan(&s, vec![nn.clone()], &[("a", n("default-1"))]),
        ));
        s.daemonsets.push(ds("everywhere", json!({})));
        assert_only(
            &validate(&s, &plan(&s, vec![nn.clone()], &[("a", n("default-1"))])),
            Rule::DaemonOverhead,
        );
        nn.daemon_requests = Resources::new(300, 0, 1);
        assert_clean(&validate(&s, &plan(&s, vec![nn], &[("a", n("default-1"))])));

        let mut s = snap(vec![], vec![plain("a", "100m"), plain("b", "100m")]);
        s.templates[0].limits.insert("cpu".into(), 3000);
        let nodes = vec![
            planned(&s, "default-1", "zone-a", "spot"),
            planned(&s, "default-2", "zone-a", "spot"),
        ];
        assert_only(
            &validate(
                &s,
                &plan(
                    &s,
                    nodes.clone(),
                    &[("a", n("default-1")), ("b", n("default-2"))],
                ),
            ),
            Rule::Limits,
        );
        s.templates[0].limits.insert("cpu".into(), 4000);
        assert_clean(&validate(
            &s,
            &plan(&s, nodes, &[("a", n("default-1")), ("b", n("default-2"))]),
        ));
    }
}
