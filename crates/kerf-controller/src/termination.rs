//! Termination through the `karpenter.sh/termination` finalizer. A deleted
//! NodeClaim's node is cordoned (`spec.unschedulable` and the
//! `karpenter.sh/disrupted:NoSchedule` taint), its pods are evicted through
//! the Eviction API (so PDBs are respected; a 429 is retried with exponential
//! backoff; a do-not-evict pod holds the node), then the instance is
//! terminated, the Node deleted and both finalizers removed. A Node deleted
//! directly (`kubectl delete node`) deletes its claim, which then goes the
//! same way.

use std::collections::BTreeMap;
use std::sync::Arc;
use std::time::{Duration, Instant};

use k8s_openapi::api::core::v1::{Node, Pod, Taint};
use kerf_api::labels;
use kerf_api::v1::NodeClaim;
use kerf_core::pod::PodKey;
use kube::Api;
use kube::api::{EvictParams, Patch, PatchParams};
use serde_json::json;

use crate::context::Context;
use crate::decisions::{self, DrainStep};
use crate::metrics::PoolLabels;
use crate::status::without_finalizer;

const FIRST_RETRY: Duration = Duration::from_millis(500);
const MAX_RETRY: Duration = Duration::from_secs(30);

/// When each pod whose eviction was refused may be tried again.
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
}

pub async fn run(ctx: Arc<Context>) {
    let mut tick = tokio::time::interval(ctx.options.reconcile_interval);
    tick.set_missed_tick_behavior(tokio::time::MissedTickBehavior::Delay);
    let mut backoff = EvictionBackoff::default();
    loop {
        tick.tick().await;
        if ctx.is_active() {
            reconcile_once(&ctx, &mut backoff).await;
        }
    }
}

fn has_finalizer(meta: &kube::api::ObjectMeta) -> bool {
    meta.finalizers
        .iter()
        .flatten()
        .any(|f| f == labels::TERMINATION_FINALIZER)
}

pub async fn reconcile_once(ctx: &Context, backoff: &mut EvictionBackoff) {
    let (deleting, orphan_nodes) = {
        let state = ctx.state();
        let deleting: Vec<(NodeClaim, Option<Node>)> = state
            .objects::<NodeClaim>()
            .filter(|(_, c)| c.metadata.deletion_timestamp.is_some() && has_finalizer(&c.metadata))
            .map(|(_, c)| (c.clone(), state.node_for_claim(c).cloned()))
            .collect();
        // Nodes deleted directly: their claims must go too.
        let claims_of_deleted_nodes: Vec<String> = state
            .objects::<NodeClaim>()
            .filter(|(_, c)| c.metadata.deletion_timestamp.is_none())
            .filter(|(_, c)| {
                state
                    .node_for_claim(c)
                    .is_some_and(|n| n.metadata.deletion_timestamp.is_some())
            })
            .map(|(k, _)| k.clone())
            .collect();
        (deleting, claims_of_deleted_nodes)
    };
    for claim in orphan_nodes {
        let api: Api<NodeClaim> = Api::all(ctx.client.clone());
        tracing::info!(%claim, "node deleted; deleting its claim");
        if let Err(e) = api.delete(&claim, &Default::default()).await {
            tracing::error!(%claim, error = %e, "deleting nodeclaim");
        }
    }
    for (claim, node) in deleting {
        if let Err(e) = terminate(ctx, &claim, node.as_ref(), backoff).await {
            tracing::error!(claim = ?claim.metadata.name, error = %e, "terminating");
        }
    }
}

async fn terminate(
    ctx: &Context,
    claim: &NodeClaim,
    node: Option<&Node>,
    backoff: &mut EvictionBackoff,
) -> Result<(), String> {
    let name = claim.metadata.name.clone().unwrap_or_default();
    let nodes: Api<Node> = Api::all(ctx.client.clone());
    if let Some(node) = node {
        let node_name = node.metadata.name.clone().unwrap_or_default();
        cordon(&nodes, node)
            .await
            .map_err(|e| format!("cordoning node {node_name}: {e}"))?;
        let step = decisions::drain_step(&ctx.state(), &node_name);
        match step {
            DrainStep::Evict(pods) => {
                evict(ctx, &pods, backoff).await;
                return Ok(());
            }
            DrainStep::Waiting(n) => {
                tracing::debug!(node = %node_name, terminating = n, "waiting for pods to leave");
                return Ok(());
            }
            DrainStep::Blocked(pod) => {
                tracing::info!(node = %node_name, pod = %format!("{}/{}", pod.namespace, pod.name), "do-not-evict pod blocks termination");
                return Ok(());
            }
            DrainStep::Drained => {}
        }
    }
    ctx.cloud
        .delete(claim)
        .await
        .map_err(|e| format!("terminating instance of {name}: {e}"))?;
    if let Some(node) = node {
        let node_name = node.metadata.name.clone().unwrap_or_default();
        match nodes.delete(&node_name, &Default::default()).await {
            Ok(_) => {}
            Err(kube::Error::Api(s)) if s.code == 404 => {}
            Err(e) => return Err(format!("deleting node {node_name}: {e}")),
        }
        remove_finalizer(&nodes, &node.metadata).await?;
    }
    let claims: Api<NodeClaim> = Api::all(ctx.client.clone());
    remove_finalizer(&claims, &claim.metadata).await?;
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
    Ok(())
}

async fn cordon(nodes: &Api<Node>, node: &Node) -> kube::Result<()> {
    let spec = node.spec.clone().unwrap_or_default();
    let mut taints = spec.taints.unwrap_or_default();
    let tainted = taints.iter().any(|t| t.key == labels::DISRUPTED_TAINT_KEY);
    if spec.unschedulable == Some(true) && tainted {
        return Ok(());
    }
    if !tainted {
        taints.push(Taint {
            key: labels::DISRUPTED_TAINT_KEY.to_string(),
            effect: "NoSchedule".to_string(),
            ..Default::default()
        });
    }
    let patch = json!({ "spec": { "unschedulable": true, "taints": taints } });
    let name = node.metadata.name.clone().unwrap_or_default();
    match nodes
        .patch(&name, &PatchParams::default(), &Patch::Merge(&patch))
        .await
    {
        Ok(_) => Ok(()),
        Err(kube::Error::Api(s)) if s.code == 404 => Ok(()),
        Err(e) => Err(e),
    }
}

async fn evict(ctx: &Context, pods: &[PodKey], backoff: &mut EvictionBackoff) {
    let now = Instant::now();
    let ready: Vec<&PodKey> = pods.iter().filter(|p| backoff.ready(p, now)).collect();
    for pod in ready {
        let api: Api<Pod> = Api::namespaced(ctx.client.clone(), &pod.namespace);
        match api.evict(&pod.name, &EvictParams::default()).await {
            Ok(_) => tracing::info!(pod = %format!("{}/{}", pod.namespace, pod.name), "evicted"),
            Err(kube::Error::Api(s)) if s.code == 404 => {}
            Err(kube::Error::Api(s)) if s.code == 429 => {
                tracing::info!(pod = %format!("{}/{}", pod.namespace, pod.name), message = %s.message, "eviction refused (disruption budget); backing off");
                backoff.refused(pod, now);
            }
            Err(e) => {
                tracing::warn!(pod = %format!("{}/{}", pod.namespace, pod.name), error = %e, "eviction failed");
                backoff.refused(pod, now);
            }
        }
    }
}

async fn remove_finalizer<K>(api: &Api<K>, meta: &kube::api::ObjectMeta) -> Result<(), String>
where
    K: Clone + serde::de::DeserializeOwned + std::fmt::Debug,
{
    let name = meta.name.clone().unwrap_or_default();
    let Some(rest) = without_finalizer(meta.finalizers.as_ref(), labels::TERMINATION_FINALIZER)
    else {
        return Ok(());
    };
    let patch = json!({ "metadata": { "finalizers": rest } });
    match api
        .patch(&name, &PatchParams::default(), &Patch::Merge(&patch))
        .await
    {
        Ok(_) => Ok(()),
        Err(kube::Error::Api(s)) if s.code == 404 => Ok(()),
        Err(e) => Err(format!("removing the finalizer of {name}: {e}")),
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn refused_evictions_back_off_exponentially() {
        let mut b = EvictionBackoff::default();
        let pod = PodKey {
            namespace: "default".into(),
            name: "p".into(),
        };
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
}
