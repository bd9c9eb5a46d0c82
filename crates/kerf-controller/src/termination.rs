//! Termination, one NodeClaim at a time, on kube-runtime's [`Controller`]:
//! NodeClaims are the primary objects and Node events are mapped to the claim
//! of the node. The `karpenter.sh/termination` finalizer is kept by kube's
//! [`finalizer()`]: it adds it to a claim that lacks it, runs cleanup while the
//! claim is deleted, and removes it with a JSON patch that tests the index
//! first, so a finalizer another writer added is never dropped.
//!
//! Cleanup cordons the node (`spec.unschedulable` and the
//! `karpenter.sh/disrupted:NoSchedule` taint), evicts its pods through the
//! Eviction API (PDBs are respected; a refused eviction is retried with
//! exponential backoff per pod; a do-not-evict pod holds the node), then
//! terminates the instance, deletes the Node and releases both finalizers.
//! While pods are still leaving, cleanup reports [`TerminationError::Draining`]
//! and the claim is looked at again shortly; any other failure backs off
//! exponentially per claim. A Node deleted directly (`kubectl delete node`)
//! deletes its claim, which then goes the same way. What to do next is decided
//! by the pure [`decisions::drain_step`].

use kerf_kube::{Edited, NotFoundExt, is_not_found};
use std::collections::{BTreeMap, VecDeque};
use std::sync::{Arc, Mutex, MutexGuard};
use std::time::{Duration, Instant};

use futures::StreamExt;
use k8s_openapi::api::core::v1::{Node, Pod};
use kerf_api::labels;
use kerf_api::v1::NodeClaim;
use kerf_cloud::CloudError;
use kerf_core::pod::PodKey;
use kerf_state::deleting::add_disrupted_taint;
use kube::Api;
use kube::api::{EvictParams, Patch, PatchParams};
use kube::runtime::controller::Action;
use kube::runtime::finalizer::{self, Event, finalizer};
use serde_json::json;

use crate::context::Context;
use crate::decisions::{self, DrainStep};
use crate::metrics::PoolLabels;
use crate::per_claim::{self, backoff};

/// Pods evicted at once from one node.
const EVICTIONS_IN_FLIGHT: usize = 8;
const FIRST_RETRY: Duration = Duration::from_millis(500);
const MAX_RETRY: Duration = Duration::from_secs(30);
/// How soon a draining node is looked at again.
const DRAIN_POLL: Duration = Duration::from_secs(1);
/// A replica that is not acting (not synced, or not the leader) looks again after this.
const INACTIVE_RETRY: Duration = Duration::from_secs(2);

/// Why a claim's termination has not finished.
#[derive(Debug, thiserror::Error)]
pub enum TerminationError {
    /// Not a failure: pods are still leaving (or held by do-not-evict).
    #[error("node {node}: {reason}")]
    Draining { node: String, reason: String },
    #[error("{what}: {source}")]
    Kube {
        what: String,
        #[source]
        source: kube::Error,
    },
    #[error("terminating the instance of nodeclaim {claim}: {source}")]
    Cloud {
        claim: String,
        #[source]
        source: CloudError,
    },
}

impl TerminationError {
    fn kube(what: impl Into<String>) -> impl FnOnce(kube::Error) -> Self {
        let what = what.into();
        move |source| TerminationError::Kube { what, source }
    }

    /// The label value of `karpenter_..._errors`-style counters.
    pub fn kind(&self) -> &'static str {
        match self {
            TerminationError::Draining { .. } => "draining",
            TerminationError::Kube { .. } => "kubernetes",
            TerminationError::Cloud { .. } => "cloud",
        }
    }
}

/// What one reconcile of a claim can fail with.
#[derive(Debug, thiserror::Error)]
pub enum ReconcileError {
    #[error(transparent)]
    Finalizer(#[from] finalizer::Error<TerminationError>),
}

impl ReconcileError {
    /// The metric label: the cleanup's own kind, or where the finalizer
    /// machinery itself failed.
    pub fn kind(&self) -> &'static str {
        match self {
            ReconcileError::Finalizer(finalizer::Error::CleanupFailed(e)) => e.kind(),
            ReconcileError::Finalizer(finalizer::Error::ApplyFailed(_)) => "apply",
            ReconcileError::Finalizer(_) => "finalizer",
        }
    }

    fn draining(&self) -> bool {
        matches!(
            self,
            ReconcileError::Finalizer(finalizer::Error::CleanupFailed(
                TerminationError::Draining { .. }
            ))
        )
    }
}

/// When each pod whose eviction was refused may be tried again. Entries go
/// once their wait is long over, so pods that left are forgotten.
#[derive(Default)]
pub struct EvictionBackoff {
    next: BTreeMap<PodKey, (Instant, Duration)>,
}

impl EvictionBackoff {
    fn ready(&self, pod: &PodKey, now: Instant) -> bool {
        self.next.get(pod).is_none_or(|(at, _)| now >= *at)
    }

    fn refused(&mut self, pod: &PodKey, now: Instant) {
        let delay = self
            .next
            .get(pod)
            .map_or(FIRST_RETRY, |(_, d)| (*d * 2).min(MAX_RETRY));
        self.next.insert(pod.clone(), (now + delay, delay));
    }

    /// Drops pods whose retry time passed more than [`MAX_RETRY`] ago: a pod
    /// still refusing would have been tried and re-entered since.
    fn forget_stale(&mut self, now: Instant) {
        self.next
            .retain(|_, (at, _)| now.saturating_duration_since(*at) <= MAX_RETRY);
    }

    #[cfg(test)]
    fn len(&self) -> usize {
        self.next.len()
    }
}

/// The reconciler's state beside the controller context: eviction backoff
/// per pod and failure counts per claim.
pub struct Terminator {
    ctx: Arc<Context>,
    evictions: Mutex<EvictionBackoff>,
    failures: Mutex<BTreeMap<String, u32>>,
    /// UIDs of claims already counted as terminated, newest last. The
    /// controller's cache can hand a just-released claim over once more; its
    /// cleanup then finds nothing left to do and must not count it again.
    counted: Mutex<VecDeque<String>>,
}

/// How many terminated claims [`Terminator::counted`] remembers.
const COUNTED_MEMORY: usize = 4096;

fn lock<T>(m: &Mutex<T>) -> MutexGuard<'_, T> {
    m.lock().unwrap_or_else(|e| e.into_inner())
}

impl Terminator {
    pub fn new(ctx: Arc<Context>) -> Self {
        Terminator {
            ctx,
            evictions: Mutex::new(EvictionBackoff::default()),
            failures: Mutex::new(BTreeMap::new()),
            counted: Mutex::new(VecDeque::new()),
        }
    }

    /// Whether this is the first time the claim with `uid` is counted.
    fn first_count(&self, uid: &str) -> bool {
        let mut counted = lock(&self.counted);
        if counted.iter().any(|u| u == uid) {
            return false;
        }
        if counted.len() == COUNTED_MEMORY {
            counted.pop_front();
        }
        counted.push_back(uid.to_string());
        true
    }
}

/// Runs the termination controller until the watch stream ends.
pub async fn run(ctx: Arc<Context>) {
    let state = Arc::new(Terminator::new(ctx.clone()));
    per_claim::run(ctx, "termination", state, reconcile, error_policy).await;
}

/// One reconcile of one claim: see the module doc.
pub async fn reconcile(
    claim: Arc<NodeClaim>,
    t: Arc<Terminator>,
) -> Result<Action, ReconcileError> {
    if !t.ctx.is_active() {
        return Ok(Action::requeue(INACTIVE_RETRY));
    }
    let name = claim.metadata.name.clone().unwrap_or_default();
    let api: Api<NodeClaim> = Api::all(t.ctx.client.clone());
    let action = finalizer(&api, labels::TERMINATION_FINALIZER, claim, |event| async {
        match event {
            Event::Apply(claim) => {
                follow_deleted_node(&t.ctx, &claim)
                    .await
                    .map_err(TerminationError::kube(format!("deleting nodeclaim {name}")))?;
                Ok(Action::await_change())
            }
            Event::Cleanup(claim) => terminate(&t, &claim).await,
        }
    })
    .await;
    let action = match action {
        // Released already (a cached copy handed over again): nothing left to do.
        Err(finalizer::Error::RemoveFinalizer(e)) if is_not_found(&e) => Action::await_change(),
        other => other?,
    };
    lock(&t.failures).remove(&name);
    Ok(action)
}

/// Draining: look again soon. Anything else: back off exponentially per claim.
pub fn error_policy(claim: Arc<NodeClaim>, error: &ReconcileError, t: Arc<Terminator>) -> Action {
    let name = claim.metadata.name.clone().unwrap_or_default();
    if error.draining() {
        tracing::debug!(claim = %name, %error, "waiting for the node to drain");
        return Action::requeue(DRAIN_POLL);
    }
    let failures = {
        let mut all = lock(&t.failures);
        let n = all.entry(name.clone()).or_insert(0);
        *n = n.saturating_add(1);
        *n
    };
    let wait = backoff(failures);
    t.ctx
        .metrics
        .reconcile_errors
        .get_or_create(&crate::metrics::ReconcileErrorLabels {
            controller: "nodeclaim.termination",
            kind: error.kind(),
        })
        .inc();
    tracing::error!(claim = %name, %error, kind = error.kind(), failures, retry_in = ?wait, "terminating");
    Action::requeue(wait)
}

/// A claim whose Node was deleted directly is deleted too.
async fn follow_deleted_node(ctx: &Context, claim: &NodeClaim) -> kube::Result<()> {
    let node_deleting = ctx
        .state()
        .node_for_claim(claim)
        .is_some_and(|n| n.metadata.deletion_timestamp.is_some());
    if !node_deleting {
        return Ok(());
    }
    let name = claim.metadata.name.clone().unwrap_or_default();
    tracing::info!(claim = %name, "node deleted; deleting its claim");
    let api: Api<NodeClaim> = Api::all(ctx.client.clone());
    api.delete(&name, &Default::default())
        .await
        .ok_if_not_found()?;
    Ok(())
}

async fn terminate(t: &Terminator, claim: &NodeClaim) -> Result<Action, TerminationError> {
    let ctx = &t.ctx;
    let name = claim.metadata.name.clone().unwrap_or_default();
    let nodes: Api<Node> = Api::all(ctx.client.clone());
    let node = ctx.state().node_for_claim(claim).cloned();
    if let Some(node) = &node {
        let node_name = node.metadata.name.clone().unwrap_or_default();
        cordon(&nodes, &node_name).await?;
        let step = decisions::drain_step(&ctx.state(), &node_name);
        let draining = |reason: String| TerminationError::Draining {
            node: node_name.clone(),
            reason,
        };
        match step {
            DrainStep::Evict(pods) => {
                evict(t, &pods).await;
                return Err(draining(format!("evicting {} pods", pods.len())));
            }
            DrainStep::Waiting(n) => return Err(draining(format!("{n} pods terminating"))),
            DrainStep::Blocked(pod) => {
                return Err(draining(format!(
                    "do-not-evict pod {}/{} holds it",
                    pod.namespace, pod.name
                )));
            }
            DrainStep::Drained => {}
        }
    }
    ctx.cloud
        .delete(claim)
        .await
        .map_err(|source| TerminationError::Cloud {
            claim: name.clone(),
            source,
        })?;
    if let Some(node) = &node {
        let node_name = node.metadata.name.clone().unwrap_or_default();
        match nodes.delete(&node_name, &Default::default()).await {
            Ok(_) => {}
            Err(e) if is_not_found(&e) => {}
            Err(e) => return Err(TerminationError::kube(format!("deleting node {node_name}"))(e)),
        }
        release_node(&nodes, &node_name)
            .await
            .map_err(TerminationError::kube(format!(
                "removing the finalizer of node {node_name}"
            )))?;
    }
    let uid = claim.metadata.uid.clone().unwrap_or_else(|| name.clone());
    if t.first_count(&uid) {
        let pool = claim
            .metadata
            .labels
            .as_ref()
            .and_then(kerf_state::pools::pool_of_labels)
            .map(|p| p.name)
            .unwrap_or_default();
        ctx.metrics
            .nodes_terminated
            .get_or_create(&PoolLabels { provisioner: pool })
            .inc();
        tracing::info!(claim = %name, "terminated");
    }
    Ok(Action::await_change())
}

/// Marks the node unschedulable with the disrupted taint, keeping every
/// other taint: the taint list is atomic, so a patch would replace it whole
/// ([`kerf_kube::edit`] reads, changes and writes at one resourceVersion).
async fn cordon(nodes: &Api<Node>, node: &str) -> Result<(), TerminationError> {
    let edited = kerf_kube::edit(nodes, node, CORDON_ATTEMPTS, |n| {
        n.spec.get_or_insert_with(Default::default).unschedulable = Some(true);
        add_disrupted_taint(n);
    })
    .await
    .map_err(TerminationError::kube(format!("cordoning node {node}")))?;
    match edited {
        Edited::Contended => Err(TerminationError::Draining {
            node: node.to_string(),
            reason: format!(
                "the Node changed under each of {CORDON_ATTEMPTS} attempts to cordon it"
            ),
        }),
        Edited::Missing | Edited::Unchanged | Edited::Stored(_) => Ok(()),
    }
}

/// Reads and writes of a Node before a cordon gives up until the next reconcile.
const CORDON_ATTEMPTS: usize = 5;

/// Removes only kerf's finalizer from the Node, whatever else it holds.
async fn release_node(nodes: &Api<Node>, node: &str) -> kube::Result<()> {
    let patch = json!({ "metadata": {
        "$deleteFromPrimitiveList/finalizers": [labels::TERMINATION_FINALIZER],
    }});
    nodes
        .patch(node, &PatchParams::default(), &Patch::Strategic(&patch))
        .await
        .ok_if_not_found()?;
    Ok(())
}

async fn evict(t: &Terminator, pods: &[PodKey]) {
    let now = Instant::now();
    let ready: Vec<PodKey> = {
        let mut backoff = lock(&t.evictions);
        backoff.forget_stale(now);
        pods.iter()
            .filter(|p| backoff.ready(p, now))
            .cloned()
            .collect()
    };
    futures::stream::iter(ready)
        .for_each_concurrent(EVICTIONS_IN_FLIGHT, |pod| async move {
            let api: Api<Pod> = Api::namespaced(t.ctx.client.clone(), &pod.namespace);
            let shown = format!("{}/{}", pod.namespace, pod.name);
            match api.evict(&pod.name, &EvictParams::default()).await {
                Ok(_) => tracing::info!(pod = %shown, "evicted"),
                Err(e) if is_not_found(&e) => {}
                Err(kube::Error::Api(s)) if s.code == 429 => {
                    tracing::info!(pod = %shown, message = %s.message, "eviction refused (disruption budget); backing off");
                    lock(&t.evictions).refused(&pod, now);
                }
                Err(e) => {
                    tracing::warn!(pod = %shown, error = %e, "eviction failed");
                    lock(&t.evictions).refused(&pod, now);
                }
            }
        })
        .await;
}

#[cfg(test)]
mod tests {
    use super::*;

    fn pod(name: &str) -> PodKey {
        PodKey {
            namespace: "default".into(),
            name: name.into(),
        }
    }

    #[test]
    fn refused_evictions_back_off_exponentially() {
        let mut b = EvictionBackoff::default();
        let pod = pod("p");
        let t0 = Instant::now();
        assert!(b.ready(&pod, t0));
        b.refused(&pod, t0);
        assert!(!b.ready(&pod, t0 + Duration::from_millis(499)));
        assert!(b.ready(&pod, t0 + FIRST_RETRY));
        b.refused(&pod, t0);
        assert!(!b.ready(&pod, t0 + Duration::from_millis(999)));
        for _ in 0..10 {
            b.refused(&pod, t0);
        }
        assert!(b.ready(&pod, t0 + MAX_RETRY), "capped");
    }

    #[test]
    fn pods_that_stopped_refusing_are_forgotten() {
        let mut b = EvictionBackoff::default();
        let t0 = Instant::now();
        b.refused(&pod("gone"), t0);
        b.refused(&pod("still"), t0 + MAX_RETRY * 2);
        b.forget_stale(t0 + MAX_RETRY * 2 + Duration::from_secs(1));
        assert_eq!(b.len(), 1);
        assert!(!b.ready(&pod("still"), t0 + MAX_RETRY * 2));
    }

    #[tokio::test]
    async fn a_claim_handed_over_again_is_counted_once() {
        let client =
            kube::Client::try_from(kube::Config::new("http://127.0.0.1:9".parse().unwrap()))
                .unwrap();
        let cloud = Arc::new(kerf_cloud::InMemoryCloud::new(
            kerf_cloud::Catalog::builtin(),
        ));
        let ctx = Arc::new(Context::new(Default::default(), client, cloud));
        let t = Terminator::new(ctx);
        assert!(t.first_count("uid-1"));
        assert!(!t.first_count("uid-1"));
        assert!(t.first_count("uid-2"));
        for i in 0..COUNTED_MEMORY {
            t.first_count(&format!("filler-{i}"));
        }
        assert!(t.first_count("uid-1"), "only the newest are remembered");
    }
}
