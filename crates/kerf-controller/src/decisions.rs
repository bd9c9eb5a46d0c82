//! What the controller should do, as pure functions of the cluster state and
//! the time: which claims registered or initialized, which never registered,
//! which claims expired, which pods
//! to bind where, and how far a node's drain has come. The async loops only
//! gather the state, call these and apply the answers.

use std::collections::BTreeMap;
use std::time::Duration;

use k8s_openapi::api::core::v1::{Node, Pod, Taint};
use k8s_openapi::jiff::Timestamp;
use kerf_api::conditions::{self, Condition};
use kerf_api::labels;
use kerf_api::v1::NodeClaim;
use kerf_core::pod::PodKey;
use kerf_state::ClusterState;
use kerf_state::pending::{bound_node, is_daemonset_pod, is_mirror_pod};

/// One step of a claim's life the controller must write.
#[derive(Clone, Debug, PartialEq)]
pub enum LifecycleAction {
    /// The claim's Node appeared: give it the claim's labels and taints (those
    /// it lacks), the termination finalizer, and mark the claim Registered.
    Register {
        claim: String,
        node: String,
        labels: BTreeMap<String, String>,
        taints: Vec<Taint>,
    },
    /// The Node is Ready and its startup taints are gone.
    Initialize { claim: String, node: String },
    /// Launched long ago and no Node ever appeared: delete the claim (its
    /// finalizer terminates the instance).
    RegistrationTimedOut { claim: String },
}

pub fn claim_condition<'a>(claim: &'a NodeClaim, type_: &str) -> Option<&'a Condition> {
    conditions::find(&claim.status.as_ref()?.conditions, type_)
}

pub fn claim_has(claim: &NodeClaim, type_: &str) -> bool {
    claim_condition(claim, type_).is_some_and(Condition::is_true)
}

pub fn is_launched(claim: &NodeClaim) -> bool {
    claim
        .status
        .as_ref()
        .is_some_and(|s| s.provider_id.is_some())
}

pub use kerf_state::node_is_ready;

fn node_taints(node: &Node) -> &[Taint] {
    node.spec
        .as_ref()
        .and_then(|s| s.taints.as_deref())
        .unwrap_or_default()
}

fn same_taint(a: &Taint, b: &Taint) -> bool {
    a.key == b.key && a.effect == b.effect
}

fn when_launched(claim: &NodeClaim) -> Option<Timestamp> {
    claim_condition(claim, conditions::LAUNCHED)
        .and_then(|c| c.last_transition_time.as_ref())
        .or(claim.metadata.creation_timestamp.as_ref())
        .map(|t| t.0)
}

fn elapsed(since: Timestamp, now: Timestamp) -> Duration {
    let nanos = now.as_nanosecond() - since.as_nanosecond();
    Duration::from_nanos(u64::try_from(nanos).unwrap_or(0))
}

/// Registration, initialization and registration timeouts for every live claim.
pub fn lifecycle(
    state: &ClusterState,
    now: Timestamp,
    registration_timeout: Duration,
) -> Vec<LifecycleAction> {
    state
        .objects::<NodeClaim>()
        .filter_map(|(name, claim)| claim_lifecycle(state, name, claim, now, registration_timeout))
        .collect()
}

/// The next lifecycle step of one launched, live claim, if any is due now.
pub fn claim_lifecycle(
    state: &ClusterState,
    name: &str,
    claim: &NodeClaim,
    now: Timestamp,
    registration_timeout: Duration,
) -> Option<LifecycleAction> {
    if claim.metadata.deletion_timestamp.is_some() || !is_launched(claim) {
        return None;
    }
    let node = state.node_for_claim(claim);
    if !claim_has(claim, conditions::REGISTERED) {
        return match node {
            Some(node) => Some(register(name, claim, node)),
            None => registration_timed_out(claim, now, registration_timeout).then(|| {
                LifecycleAction::RegistrationTimedOut {
                    claim: name.to_string(),
                }
            }),
        };
    }
    if claim_has(claim, conditions::INITIALIZED) {
        return None;
    }
    let node = node?;
    let startup_left = claim
        .spec
        .startup_taints
        .iter()
        .any(|s| node_taints(node).iter().any(|t| same_taint(s, t)));
    (node_is_ready(node) && !startup_left).then(|| LifecycleAction::Initialize {
        claim: name.to_string(),
        node: node.metadata.name.clone().unwrap_or_default(),
    })
}

fn registration_timed_out(claim: &NodeClaim, now: Timestamp, timeout: Duration) -> bool {
    when_launched(claim).is_some_and(|t| elapsed(t, now) >= timeout)
}

fn register(name: &str, claim: &NodeClaim, node: &Node) -> LifecycleAction {
    let have = node.metadata.labels.clone().unwrap_or_default();
    let mut want: BTreeMap<String, String> = claim
        .metadata
        .labels
        .iter()
        .flatten()
        .filter(|(k, v)| have.get(*k) != Some(*v))
        .map(|(k, v)| (k.clone(), v.clone()))
        .collect();
    if have.get(labels::NODE_REGISTERED).map(String::as_str) != Some("true") {
        want.insert(labels::NODE_REGISTERED.to_string(), "true".to_string());
    }
    let taints = claim
        .spec
        .taints
        .iter()
        .chain(&claim.spec.startup_taints)
        .filter(|t| !node_taints(node).iter().any(|n| same_taint(t, n)))
        .cloned()
        .collect();
    LifecycleAction::Register {
        claim: name.to_string(),
        node: node.metadata.name.clone().unwrap_or_default(),
        labels: want,
        taints,
    }
}

/// Pods that keep a node from being empty: bound, not terminal, not daemonset
/// or mirror pods.
pub fn workload_pods<'a>(state: &'a ClusterState, node: &str) -> Vec<&'a Pod> {
    state
        .pods_on_node(node)
        .into_iter()
        .map(|p| p.as_ref())
        .filter(|p| !is_daemonset_pod(p) && !is_mirror_pod(p))
        .collect()
}

fn has_do_not_evict(pod: &Pod) -> bool {
    pod.metadata.annotations.as_ref().is_some_and(|a| {
        a.get(labels::DO_NOT_EVICT).map(String::as_str) == Some("true")
            || a.get(labels::DO_NOT_DISRUPT).map(String::as_str) == Some("true")
    })
}

fn expired(claim: &NodeClaim, now: Timestamp) -> bool {
    let Some(after) = claim
        .spec
        .expire_after
        .and_then(|d| d.0)
        .and_then(|d| d.to_std())
    else {
        return false;
    };
    claim
        .metadata
        .creation_timestamp
        .as_ref()
        .is_some_and(|t| elapsed(t.0, now) >= after)
}

/// Claims past `expireAfter` (`ttlSecondsUntilExpired`): initialized, not
/// being deleted, on a Node with no do-not-evict (do-not-disrupt) pod.
/// Expiry is forceful in Karpenter v1 and takes no budget; emptiness, drift
/// and consolidation are [`crate::disruption`]'s.
pub fn expired_claims(state: &ClusterState, now: Timestamp) -> Vec<String> {
    let mut out = Vec::new();
    for (name, claim) in state.objects::<NodeClaim>() {
        if claim.metadata.deletion_timestamp.is_some() || !claim_has(claim, conditions::INITIALIZED)
        {
            continue;
        }
        let Some(node) = state.node_for_claim(claim) else {
            continue;
        };
        if node.metadata.deletion_timestamp.is_some() {
            continue;
        }
        let node_name = node.metadata.name.clone().unwrap_or_default();
        if workload_pods(state, &node_name)
            .iter()
            .any(|p| has_do_not_evict(p))
        {
            continue;
        }
        if expired(claim, now) {
            out.push(name.clone());
        }
    }
    out
}

/// Pods to bind now (`--bind-pods`): each wanted pod whose target (a node
/// name, or a claim name resolved to its node) is Ready, schedulable and not
/// being deleted. Also returns the wanted pods that no longer need binding
/// (bound, deleted or gone), which the caller forgets.
pub fn bindings(
    state: &ClusterState,
    wanted: &BTreeMap<PodKey, String>,
) -> (Vec<(PodKey, String)>, Vec<PodKey>) {
    let mut bind = Vec::new();
    let mut done = Vec::new();
    for (key, target) in wanted {
        let pod = state.get::<Pod>(&kerf_state::object_key(Some(&key.namespace), &key.name));
        let Some(pod) = pod else {
            done.push(key.clone());
            continue;
        };
        if bound_node(pod).is_some() || pod.metadata.deletion_timestamp.is_some() {
            done.push(key.clone());
            continue;
        }
        let node = state.get::<Node>(target).or_else(|| {
            state
                .get::<NodeClaim>(target)
                .and_then(|c| state.node_for_claim(c))
        });
        let Some(node) = node else { continue };
        let usable = node_is_ready(node)
            && node.metadata.deletion_timestamp.is_none()
            && !node
                .spec
                .as_ref()
                .and_then(|s| s.unschedulable)
                .unwrap_or(false);
        if usable {
            bind.push((key.clone(), node.metadata.name.clone().unwrap_or_default()));
        }
    }
    (bind, done)
}

/// How far draining a node has come.
#[derive(Clone, Debug, PartialEq)]
pub enum DrainStep {
    /// Evict these pods (they have no deletion timestamp yet).
    Evict(Vec<PodKey>),
    /// Pods are terminating; wait.
    Waiting(usize),
    /// A do-not-evict pod holds the node.
    Blocked(PodKey),
    /// Nothing left that must leave before the instance goes.
    Drained,
}

/// The next drain step for a node: daemonset and mirror pods stay (they go
/// with the node), everything else is evicted.
pub fn drain_step(state: &ClusterState, node: &str) -> DrainStep {
    let pods = workload_pods(state, node);
    if let Some(p) = pods.iter().find(|p| has_do_not_evict(p)) {
        return DrainStep::Blocked(PodKey::of(p));
    }
    let evict: Vec<PodKey> = pods
        .iter()
        .filter(|p| p.metadata.deletion_timestamp.is_none())
        .map(|p| PodKey::of(p))
        .collect();
    match (evict.is_empty(), pods.len()) {
        (false, _) => DrainStep::Evict(evict),
        (true, 0) => DrainStep::Drained,
        (true, n) => DrainStep::Waiting(n),
    }
}

#[cfg(test)]
#[path = "decisions_tests.rs"]
mod tests;
