//! The disruption decision's input, built from a [`ClusterState`] the same
//! way for `kerf simulate --disruption` and the live controller: each pool's
//! policy ([`pool_policy`]), the facts about each managed node
//! ([`NodeFacts`]: price, initialized, deleting, do-not-disrupt, last pod
//! event, drift) and the scheduler's snapshot of the cluster.
//!
//! Drift that the state alone shows is decided here: a NodeClaim stamped
//! with another template hash ([`pool_hash`], Karpenter's
//! `karpenter.sh/nodepool-hash` with its version), or a node whose labels the
//! pool's requirements no longer admit. What only the cloud knows (image,
//! subnet, security group) comes in as [`Observed::provider_drift`].

use std::collections::{BTreeMap, BTreeSet};

use k8s_openapi::api::core::v1::{Node, Pod};
use k8s_openapi::jiff::Timestamp;
use kerf_api::conditions;
use kerf_api::labels;
use kerf_api::v1::{ConsolidationPolicy, DisruptionReason, NodeClaim};
use kerf_core::disruption::{
    BudgetNodes, BudgetRule, DisruptionInput, DisruptionOptions, MinSavings, NodeFacts, Policy,
    PoolPolicy, Reason,
};
use kerf_core::requirements::Requirement;
use kerf_core::template::{PoolKind, PoolRef};
use sha2::{Digest, Sha256};

use crate::deleting::node_is_deleting;
use crate::error::StateError;
use crate::pools::{Pool, Pools, pool_of_labels};
use crate::snapshot::{InstanceTypes, SnapshotOptions};
use crate::store::{ClusterState, node_is_ready};

/// kerf's pool annotation for the minimum saving a replacement must bring:
/// `"0.02"` ($/h), `"5%"` (of the candidates' price), or both, comma-separated.
pub const MIN_SAVINGS_ANNOTATION: &str = "kerf.sh/consolidation-min-savings";

/// The version of [`pool_hash`]: a claim stamped with another version is not
/// compared (a kerf upgrade that changes what the hash covers drifts nothing).
pub const POOL_HASH_VERSION: &str = "kerf-v1";

/// What the live controller knows beyond the objects themselves.
#[derive(Clone, Debug, Default)]
pub struct Observed {
    /// Nodes a pending pod was just planned onto.
    pub nominated: BTreeSet<String>,
    /// NodeClaim name → why the cloud says its instance drifted.
    pub provider_drift: BTreeMap<String, String>,
    /// Node name → when a pod last arrived or left, as the watches saw it.
    pub pod_events: BTreeMap<String, Timestamp>,
}

/// A disruption input and what could not be read into it.
#[derive(Clone, Debug)]
pub struct BuiltInput {
    pub input: DisruptionInput,
    /// Each names the object and field.
    pub problems: Vec<String>,
}

impl ClusterState {
    /// The input of [`kerf_core::disruption::decide`] for the current state.
    pub fn disruption_input(
        &self,
        pools: &Pools,
        instance_types: &InstanceTypes,
        now: Timestamp,
        observed: &Observed,
        options: DisruptionOptions,
    ) -> BuiltInput {
        // Consolidation plans only the candidates' pods; pending pods are the provisioner's.
        let built = self.snapshot_with_pools(pools, instance_types, &SnapshotOptions::default());
        let mut problems = built.problems;
        let mut policies = BTreeMap::new();
        for pool in &pools.ready {
            match pool_policy(pool) {
                Ok(p) => {
                    policies.insert(pool.pool.clone(), p);
                }
                Err(e) => problems.push(e.to_string()),
            }
        }
        let claims_by_node: BTreeMap<&str, (&String, &NodeClaim)> = self
            .node_claims
            .iter()
            .filter_map(|(name, c)| {
                let node = self.node_for_claim(c)?.metadata.name.as_deref()?;
                Some((node, (name, c.as_ref())))
            })
            .collect();
        let mut nodes = Vec::new();
        for (name, node) in &self.nodes {
            let node_labels = node.metadata.labels.clone().unwrap_or_default();
            let Some(pool_ref) = pool_of_labels(&node_labels) else {
                continue;
            };
            let claim = claims_by_node.get(name.as_str()).copied();
            let pool = pools.get(&pool_ref);
            let facts = NodeFacts {
                name: name.clone(),
                instance_type: label(&node_labels, labels::INSTANCE_TYPE),
                zone: label(&node_labels, labels::ZONE),
                capacity_type: label(&node_labels, labels::CAPACITY_TYPE),
                price: price(&node_labels, &pool_ref, instance_types),
                initialized: initialized(node, claim.map(|(_, c)| c)),
                deleting: node_is_deleting(node)
                    || claim.is_some_and(|(_, c)| c.metadata.deletion_timestamp.is_some()),
                ready: node_is_ready(node),
                nominated: observed.nominated.contains(name),
                do_not_disrupt: node_do_not_disrupt(node),
                last_pod_event: self.last_pod_event(name, node, claim.map(|(_, c)| c), observed),
                drifted: claim
                    .and_then(|(claim_name, _)| observed.provider_drift.get(claim_name).cloned())
                    .or_else(|| pool.and_then(|p| static_drift(p, node, claim.map(|(_, c)| c)))),
                drifted_since: claim.and_then(|(_, c)| drifted_since(c)),
                pool: pool_ref,
            };
            nodes.push(facts);
        }
        BuiltInput {
            input: DisruptionInput {
                cluster: built.snapshot,
                nodes,
                pools: policies,
                pdbs: self.pdbs.values().map(|p| p.as_ref().clone()).collect(),
                now,
                options,
            },
            problems,
        }
    }

    /// A digest of what a disruption decision reads from the objects: nodes
    /// (labels, annotations, taints, readiness), where each pod runs and its
    /// annotations, claims (conditions, deletion), pools and node classes
    /// (generation), PDBs (what they allow). Equal digests mean an equal
    /// decision at the same instant, so a loop that found nothing to do can
    /// skip an unchanged cluster (as Karpenter's consolidation state does).
    /// Not stable across processes.
    pub fn disruption_digest(&self) -> u64 {
        use std::hash::{Hash, Hasher};
        let mut h = std::collections::hash_map::DefaultHasher::new();
        for (name, node) in &self.nodes {
            name.hash(&mut h);
            node.metadata.labels.hash(&mut h);
            node.metadata.annotations.hash(&mut h);
            node.metadata.deletion_timestamp.is_some().hash(&mut h);
            node_is_ready(node).hash(&mut h);
            if let Some(spec) = &node.spec {
                for t in spec.taints.iter().flatten() {
                    (&t.key, &t.effect).hash(&mut h);
                }
                spec.unschedulable.hash(&mut h);
            }
        }
        for (key, pod) in &self.pods {
            key.hash(&mut h);
            pod.spec
                .as_ref()
                .and_then(|s| s.node_name.as_ref())
                .hash(&mut h);
            pod.status
                .as_ref()
                .and_then(|s| s.phase.as_ref())
                .hash(&mut h);
            // The deletion costs kerf writes steer ReplicaSets, not the
            // decision (which ignores them): writing them is no change.
            let kerfs = kerf_core::disruption::deletion_cost::cost_is_kerfs(pod);
            for (key, value) in pod.metadata.annotations.iter().flatten() {
                let steering =
                    key == labels::POD_DELETION_COST || key == labels::MANAGED_POD_DELETION_COST;
                if !(kerfs && steering) {
                    (key, value).hash(&mut h);
                }
            }
            pod.metadata.deletion_timestamp.is_some().hash(&mut h);
        }
        for (name, claim) in &self.node_claims {
            name.hash(&mut h);
            claim.metadata.deletion_timestamp.is_some().hash(&mut h);
            claim.metadata.annotations.hash(&mut h);
            for c in claim.status.iter().flat_map(|s| &s.conditions) {
                (&c.type_, &c.status).hash(&mut h);
            }
        }
        for (name, p) in &self.node_pools {
            (name, p.metadata.generation, &p.metadata.annotations).hash(&mut h);
        }
        for (name, p) in &self.provisioners {
            (name, p.metadata.generation).hash(&mut h);
        }
        for (name, c) in &self.ec2_node_classes {
            (name, c.metadata.generation).hash(&mut h);
        }
        for (name, pdb) in &self.pdbs {
            (name, pdb.status.as_ref().map(|s| s.disruptions_allowed)).hash(&mut h);
        }
        h.finish()
    }

    /// When a pod last arrived on or left the node: the latest of what the
    /// watches saw, the claim's `status.lastPodEventTime`, the pods' binding
    /// times, and the node's initialization (or creation, without a claim).
    /// `None` (nothing known, e.g. a manifest Node without timestamps) counts
    /// as long ago.
    fn last_pod_event(
        &self,
        name: &str,
        node: &Node,
        claim: Option<&NodeClaim>,
        observed: &Observed,
    ) -> Option<Timestamp> {
        let claim_times = claim.into_iter().flat_map(|c| {
            let status = c.status.as_ref();
            let initialized = status
                .and_then(|s| conditions::find(&s.conditions, conditions::INITIALIZED))
                .and_then(|c| c.last_transition_time.as_ref())
                .map(|t| t.0);
            let last = status
                .and_then(|s| s.last_pod_event_time.as_ref())
                .map(|t| t.0);
            [initialized, last]
        });
        let created = claim
            .is_none()
            .then(|| node.metadata.creation_timestamp.as_ref().map(|t| t.0))
            .flatten();
        let pods = self.pods_on_node(name).into_iter().map(|p| bound_at(p));
        claim_times
            .chain([created, observed.pod_events.get(name).copied()])
            .chain(pods)
            .flatten()
            .max()
    }
}

/// When the claim's `Drifted` condition turned True, if it is True.
fn drifted_since(claim: &NodeClaim) -> Option<Timestamp> {
    let status = claim.status.as_ref()?;
    conditions::find(&status.conditions, conditions::DRIFTED)
        .filter(|c| c.is_true())?
        .last_transition_time
        .as_ref()
        .map(|t| t.0)
}

fn label(l: &BTreeMap<String, String>, key: &str) -> String {
    l.get(key).cloned().unwrap_or_default()
}

/// $/h of the node's offering (type, zone, capacity type) in its pool's
/// instance types, or any pool's when its own no longer lists the type.
fn price(l: &BTreeMap<String, String>, pool: &PoolRef, types: &InstanceTypes) -> Option<f64> {
    let (type_, zone, capacity) = (
        l.get(labels::INSTANCE_TYPE)?,
        l.get(labels::ZONE)?,
        l.get(labels::CAPACITY_TYPE)?,
    );
    let own = types.get(pool).into_iter().flatten();
    let all = types.values().flatten();
    own.chain(all)
        .filter(|t| &t.name == type_)
        .flat_map(|t| &t.offerings)
        .find(|o| &o.zone == zone && &o.capacity_type == capacity)
        .map(|o| o.price)
}

/// Initialized as Karpenter says it: the claim's condition; a Node without a
/// claim (a manifest or a dump) by its `karpenter.sh/initialized` label or,
/// lacking that, by being Ready.
fn initialized(node: &Node, claim: Option<&NodeClaim>) -> bool {
    if let Some(claim) = claim {
        return claim
            .status
            .as_ref()
            .and_then(|s| conditions::find(&s.conditions, conditions::INITIALIZED))
            .is_some_and(|c| c.is_true());
    }
    match node
        .metadata
        .labels
        .as_ref()
        .and_then(|l| l.get(labels::NODE_INITIALIZED))
    {
        Some(v) => v == "true",
        None => node_is_ready(node),
    }
}

/// `karpenter.sh/do-not-disrupt: "true"` on the node, or v1alpha5's `do-not-consolidate`.
fn node_do_not_disrupt(node: &Node) -> bool {
    node.metadata.annotations.as_ref().is_some_and(|a| {
        [labels::DO_NOT_DISRUPT, labels::DO_NOT_CONSOLIDATE]
            .iter()
            .any(|k| a.get(*k).map(String::as_str) == Some("true"))
    })
}

/// When the pod was bound: its `PodScheduled` condition, else its start.
fn bound_at(pod: &Pod) -> Option<Timestamp> {
    let status = pod.status.as_ref()?;
    status
        .conditions
        .iter()
        .flatten()
        .find(|c| c.type_ == "PodScheduled" && c.status == "True")
        .and_then(|c| c.last_transition_time.as_ref())
        .or(status.start_time.as_ref())
        .map(|t| t.0)
}

/// Drift the state shows: the claim's template hash differs from the pool's
/// (same hash version), or a pool requirement the node's labels no longer
/// satisfy, a required label the node lacks included.
fn static_drift(pool: &Pool, node: &Node, claim: Option<&NodeClaim>) -> Option<String> {
    if let Some(annotations) = claim.and_then(|c| c.metadata.annotations.as_ref()) {
        let same_version = annotations
            .get(labels::NODEPOOL_HASH_VERSION)
            .is_some_and(|v| v == POOL_HASH_VERSION);
        if let Some(hash) = annotations.get(labels::NODEPOOL_HASH)
            && same_version
            && *hash != pool_hash(pool)
        {
            return Some(format!(
                "{} {} changed its template",
                pool.kind(),
                pool.pool.name
            ));
        }
    }
    let node_labels = node.metadata.labels.clone().unwrap_or_default();
    for r in &pool.node_pool.spec.template.spec.requirements {
        let Ok(req) = crate::pools::requirement(r) else {
            continue;
        };
        let key = labels::normalize_label_key(&r.key);
        let has = match node_labels.get(key) {
            Some(value) if req.has(value) => continue,
            Some(value) => format!("node has {value:?}"),
            // As Karpenter's `Compatible`: a label the node lacks is drift
            // unless the requirement allows its absence.
            None if req.allows_absent() => continue,
            // kerf labels a node only with single-valued requirements, where
            // Karpenter picks one of several values: a claim launched under a
            // requirement the pool still admits in full has not drifted.
            None if claim.is_some_and(|c| claim_within(c, key, &req)) => continue,
            None => format!("node has no {key} label"),
        };
        return Some(format!(
            "{} {} requires {} {} {:?}, {has}",
            pool.kind(),
            pool.pool.name,
            r.key,
            r.operator,
            r.values
        ));
    }
    None
}

/// Whether the claim's own requirement on `key` allows only values the pool's
/// requirement admits.
fn claim_within(claim: &NodeClaim, key: &str, pool_requirement: &Requirement) -> bool {
    claim
        .spec
        .requirements
        .iter()
        .filter(|r| labels::normalize_label_key(&r.key) == key)
        .filter_map(|r| crate::pools::requirement(r).ok())
        .any(|own| {
            let both = own.intersection(pool_requirement);
            (both.complement, &both.values, both.gt, both.lt)
                == (own.complement, &own.values, own.gt, own.lt)
        })
}

/// A stable hash of what a pool stamps on its nodes, except requirements
/// (checked against the node's labels instead): template labels and
/// annotations, taints and startup taints (as sets), the node class, expiry
/// and termination grace period. Karpenter's `karpenter.sh/nodepool-hash`
/// covers the same fields; the value differs (its hash function is Go's).
pub fn pool_hash(pool: &Pool) -> String {
    let template = &pool.node_pool.spec.template;
    // As a set: the order a user lists taints in changes nothing on the node.
    let taint_set = |taints: &[k8s_openapi::api::core::v1::Taint]| {
        let mut set: Vec<String> = taints
            .iter()
            .map(|t| {
                format!(
                    "{}={}:{}",
                    t.key,
                    t.value.as_deref().unwrap_or(""),
                    t.effect
                )
            })
            .collect();
        set.sort();
        set
    };
    let covered = serde_json::json!({
        "labels": template.metadata.labels,
        "annotations": template.metadata.annotations,
        "taints": taint_set(&template.spec.taints),
        "startupTaints": taint_set(&template.spec.startup_taints),
        "nodeClassRef": template.spec.node_class_ref,
        "expireAfter": template.spec.expire_after,
        "terminationGracePeriod": template.spec.termination_grace_period,
    });
    let digest = Sha256::digest(covered.to_string().as_bytes());
    digest[..8].iter().map(|b| format!("{b:02x}")).collect()
}

/// What a pool says about disrupting its nodes, with Karpenter's defaults.
/// v1alpha5 Provisioners come here converted (`ttlSecondsAfterEmpty` is
/// WhenEmpty after that many seconds, `consolidation.enabled` is
/// WhenEmptyOrUnderutilized) and, as under Karpenter v1alpha5, without
/// budgets (100%): every empty node goes at once.
pub fn pool_policy(pool: &Pool) -> Result<PoolPolicy, StateError> {
    let disruption = &pool.node_pool.spec.disruption;
    let field = |path: &str, message: String| {
        StateError::field(pool.kind(), &pool.pool.name, path, message)
    };
    let policy = match disruption.consolidation_policy_or_default() {
        ConsolidationPolicy::WhenEmpty => Policy::WhenEmpty,
        ConsolidationPolicy::WhenEmptyOrUnderutilized => Policy::WhenEmptyOrUnderutilized,
        ConsolidationPolicy::Balanced => Policy::Balanced,
    };
    let consolidate_after = match disruption.consolidate_after_or_default().0 {
        None => None,
        Some(d) => Some(d.to_std().ok_or_else(|| {
            field(
                "spec.disruption.consolidateAfter",
                format!("{d:?} is negative"),
            )
        })?),
    };
    let mut budgets = Vec::new();
    if pool.pool.kind == PoolKind::Provisioner {
        // v1alpha5 had no budgets: Karpenter removed every empty node at once.
        budgets.push(BudgetRule {
            nodes: BudgetNodes::Percent(100),
            reasons: None,
            schedule: None,
            duration: None,
        });
    }
    let converted_budgets = match pool.pool.kind {
        PoolKind::Provisioner => Vec::new(),
        PoolKind::NodePool => disruption.budgets_or_default(),
    };
    for (i, b) in converted_budgets.iter().enumerate() {
        let at = |f: &str| format!("spec.disruption.budgets[{i}].{f}");
        let nodes = parse_budget_nodes(&b.nodes).ok_or_else(|| {
            field(
                &at("nodes"),
                format!("{:?} is not a count or a percentage", b.nodes),
            )
        })?;
        let duration = match &b.duration {
            None => None,
            Some(d) => Some(
                d.to_std()
                    .ok_or_else(|| field(&at("duration"), format!("{d:?} is negative")))?,
            ),
        };
        budgets.push(BudgetRule {
            nodes,
            reasons: b
                .reasons
                .as_ref()
                .map(|rs| rs.iter().map(|r| reason(*r)).collect()),
            schedule: b.schedule.clone(),
            duration,
        });
    }
    let min_savings = match pool
        .node_pool
        .metadata
        .annotations
        .as_ref()
        .and_then(|a| a.get(MIN_SAVINGS_ANNOTATION))
    {
        None => MinSavings::default(),
        Some(v) => parse_min_savings(v).map_err(|e| {
            field(
                &format!("metadata.annotations[{MIN_SAVINGS_ANNOTATION}]"),
                e.to_string(),
            )
        })?,
    };
    Ok(PoolPolicy {
        policy,
        consolidate_after,
        budgets,
        min_savings,
    })
}

fn reason(r: DisruptionReason) -> Reason {
    match r {
        DisruptionReason::Empty => Reason::Empty,
        DisruptionReason::Drifted => Reason::Drifted,
        DisruptionReason::Underutilized => Reason::Underutilized,
    }
}

fn parse_budget_nodes(s: &str) -> Option<BudgetNodes> {
    match s.strip_suffix('%') {
        Some(p) => p
            .parse()
            .ok()
            .filter(|p| *p <= 100)
            .map(BudgetNodes::Percent),
        None => s.parse().ok().map(BudgetNodes::Count),
    }
}

/// A [`MIN_SAVINGS_ANNOTATION`] value kerf cannot read.
#[derive(Clone, Debug, PartialEq, thiserror::Error)]
pub enum MinSavingsError {
    #[error("{0:?} is neither $/h (\"0.02\") nor a percentage (\"5%\")")]
    Unreadable(String),
    #[error("{0:?} is not between 0% and 100%")]
    PercentOutOfRange(String),
    #[error("{0:?} is not a non-negative amount")]
    Negative(String),
}

/// `"0.02"`, `"5%"` or `"0.02,5%"`.
pub fn parse_min_savings(value: &str) -> Result<MinSavings, MinSavingsError> {
    let mut out = MinSavings::default();
    for part in value.split(',').map(str::trim) {
        let bad = || MinSavingsError::Unreadable(part.to_string());
        match part.strip_suffix('%') {
            Some(p) => {
                let p: f64 = p.trim().parse().map_err(|_| bad())?;
                if !(0.0..=100.0).contains(&p) {
                    return Err(MinSavingsError::PercentOutOfRange(part.to_string()));
                }
                out.fraction = p / 100.0;
            }
            None => {
                let v: f64 = part.parse().map_err(|_| bad())?;
                if !v.is_finite() || v < 0.0 {
                    return Err(MinSavingsError::Negative(part.to_string()));
                }
                out.per_hour = v;
            }
        }
    }
    Ok(out)
}

#[cfg(test)]
#[path = "disruption_tests.rs"]
mod tests;
