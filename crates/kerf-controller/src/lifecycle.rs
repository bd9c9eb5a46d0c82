//! The pool-level loop: every reconcile interval it asks [`crate::decisions`]
//! what expiration and (with `--bind-pods`) binding require, and
//! writes that to the API server; then the pools' `status.resources`
//! ([`crate::counter`]). Writes are idempotent, so acting twice on a stale
//! cache is harmless. A claim's own life (launch, registration,
//! initialization) is [`crate::nodeclaim`]'s per-object reconciler.

use kerf_kube::{NotFoundExt, is_conflict, is_not_found};
use std::sync::Arc;

use futures::StreamExt;
use k8s_openapi::api::core::v1::{Binding, ObjectReference, Pod};
use kerf_api::v1::NodeClaim;
use kerf_core::pod::PodKey;
use kube::Api;
use kube::api::{ObjectMeta, PostParams};

use crate::context::Context;
use crate::decisions;
use crate::status::now;

pub async fn run(ctx: Arc<Context>) {
    let mut tick = tokio::time::interval(ctx.options.reconcile_interval);
    tick.set_missed_tick_behavior(tokio::time::MissedTickBehavior::Delay);
    loop {
        tick.tick().await;
        if !ctx.is_active() {
            continue;
        }
        reconcile_once(&ctx).await;
    }
}

/// Binding requests in flight at once: enough to hide the round trip, few
/// enough to leave the API server's default in-flight limit to everyone else.
const BINDS_IN_FLIGHT: usize = 16;

pub async fn reconcile_once(ctx: &Arc<Context>) {
    let t = now();
    let (expired, (binds, done)) = {
        let state = ctx.state();
        ctx.metrics.refresh_pods(&state);
        (
            decisions::expired_claims(&state, t),
            decisions::bindings(&state, &ctx.wanted_bindings()),
        )
    };
    for claim in expired {
        tracing::info!(%claim, reason = "expired", "deleting nodeclaim");
        if let Err(e) = delete_claim(ctx, &claim).await {
            tracing::error!(%claim, error = %e, "deleting expired nodeclaim");
        }
    }
    for pod in done {
        ctx.forget_binding(&pod);
    }
    // Each bind is an independent request. One at a time, a batch of thousands
    // of pods holds up the next lifecycle pass (and the pods behind it) by one
    // API round trip per pod.
    futures::stream::iter(binds)
        .for_each_concurrent(BINDS_IN_FLIGHT, |(pod, node)| async move {
            bind(ctx, &pod, &node).await
        })
        .await;
    crate::counter::reconcile_once(ctx).await;
}

pub(crate) async fn delete_claim(ctx: &Context, claim: &str) -> kube::Result<()> {
    let api: Api<NodeClaim> = Api::all(ctx.client.clone());
    api.delete(claim, &Default::default())
        .await
        .ok_if_not_found()?;
    Ok(())
}

async fn bind(ctx: &Context, pod: &PodKey, node: &str) {
    let pods: Api<Pod> = Api::namespaced(ctx.client.clone(), &pod.namespace);
    let binding = Binding {
        metadata: ObjectMeta {
            name: Some(pod.name.clone()),
            namespace: Some(pod.namespace.clone()),
            ..Default::default()
        },
        target: ObjectReference {
            api_version: Some("v1".to_string()),
            kind: Some("Node".to_string()),
            name: Some(node.to_string()),
            ..Default::default()
        },
    };
    let result: kube::Result<serde_json::Value> = pods
        .create_subresource("binding", &pod.name, &PostParams::default(), &binding)
        .await;
    match result {
        Ok(_) => {
            tracing::info!(pod = %format!("{}/{}", pod.namespace, pod.name), %node, "bound");
            ctx.forget_binding(pod);
        }
        // Already bound (by kube-scheduler or an earlier attempt) or gone.
        Err(e) if is_not_found(&e) || is_conflict(&e) => ctx.forget_binding(pod),
        Err(e) => {
            tracing::warn!(pod = %format!("{}/{}", pod.namespace, pod.name), %node, error = %e, "binding failed; will retry")
        }
    }
}
