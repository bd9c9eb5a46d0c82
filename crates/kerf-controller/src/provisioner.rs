//! The provisioning loop: pod events open a batch ([`Batcher`]); when it
//! closes, one `kerf_state::provision_from` pass plans capacity over the
//! cluster state (existing nodes and in-flight claims count), and each planned
//! NodeClaim is created in the API server *before* the cloud is asked for an
//! instance, so a restart finds the claim and never launches twice. Launching
//! (`cloud.create`, then the claim's labels and status) runs in its own task.

use std::collections::BTreeMap;
use std::sync::Arc;
use std::time::{Duration, Instant};

use k8s_openapi::api::core::v1::ObjectReference;
use kerf_api::conditions;
use kerf_api::labels;
use kerf_api::v1::NodeClaim;
use kerf_core::pod::PodKey;
use kerf_state::{ProvisionOptions, RandomNames};
use kube::Api;
use kube::api::{Patch, PatchParams, PostParams};
use serde_json::json;

use crate::batcher::Batcher;
use crate::context::Context;
use crate::events::{self, PodNotice};
use crate::metrics::PoolLabels;
use crate::status::{now, set_condition};

/// How often pending pods are re-examined without an event (a claim whose
/// launch failed leaves its pods pending with nothing changing on them).
const RECHECK: Duration = Duration::from_secs(10);

pub async fn run(ctx: Arc<Context>) {
    let mut batcher = Batcher::new(ctx.options.batch_idle, ctx.options.batch_max);
    let mut last_pass = Instant::now();
    loop {
        let deadline = batcher
            .deadline()
            .unwrap_or_else(|| last_pass.max(Instant::now()) + RECHECK);
        tokio::select! {
            wakes = ctx.woken() => {
                let now = Instant::now();
                for pod in &wakes.pods {
                    batcher.trigger_for(pod, now);
                }
                if wakes.other {
                    batcher.trigger(now);
                }
            }
            _ = tokio::time::sleep_until(deadline.into()) => {
                if !batcher.is_open() {
                    batcher.trigger(Instant::now() - ctx.options.batch_idle);
                }
            }
        }
        if !ctx.is_active() {
            // Keep the batch open until the cache has everything: planning
            // over a partial state would launch capacity that already exists.
            tokio::time::sleep(Duration::from_millis(100)).await;
            continue;
        }
        if !batcher.close_if_due(Instant::now()) {
            continue;
        }
        last_pass = Instant::now();
        if let Err(e) = provision_once(&ctx).await {
            tracing::error!(error = %e, "provisioning pass failed");
        }
    }
}

/// One pass: plan, create the claims, start their launches.
pub async fn provision_once(ctx: &Arc<Context>) -> Result<usize, kerf_state::StateError> {
    let mut options = ProvisionOptions {
        pending: ctx.options.pending_mode(),
        expected_replicas: ctx.options.expected_replicas,
        ..Default::default()
    };
    options.solve.min_values_policy = ctx.options.min_values_policy;
    let started = Instant::now();
    // The cache is lent step by step, never copied whole: with thousands of
    // pods a copy per pass doubled the controller's peak memory.
    let outcome = kerf_state::provision_from(
        || ctx.state(),
        ctx.cloud.as_ref(),
        &options,
        &mut RandomNames,
    )
    .await?;
    if outcome.snapshot.pending.is_empty() {
        return Ok(0);
    }
    ctx.metrics
        .scheduling_duration
        .observe(started.elapsed().as_secs_f64());
    for problem in &outcome.problems {
        tracing::warn!(%problem, "object left out of the snapshot");
    }
    for u in &outcome.unschedulable {
        tracing::warn!(pod = %format!("{}/{}", u.pod.namespace, u.pod.name), reason = %u.reason, "cannot schedule");
    }
    publish_pool_notices(ctx, &outcome);
    tracing::info!(
        pending = outcome.snapshot.pending.len(),
        expected = outcome.expected.len(),
        new_claims = outcome.claims.len(),
        on_existing = outcome
            .plan
            .existing
            .iter()
            .flat_map(|e| &e.pods)
            .filter(|p| !outcome.expected.contains(p))
            .count(),
        "provisioning pass"
    );
    // References only: the pods themselves (and the rest of the snapshot)
    // are not needed past this point, and a copy of every pending pod held
    // through the launches was a large share of a pass's memory.
    let pending: BTreeMap<PodKey, ObjectReference> = outcome
        .snapshot
        .pending
        .iter()
        .map(|p| (PodKey::of(p), events::reference(p)))
        .collect();
    let mut notices: Vec<(PodKey, PodNotice)> = outcome
        .unschedulable
        .iter()
        .map(|u| {
            let reason = u.reason.clone();
            (u.pod.clone(), PodNotice::Unschedulable { reason })
        })
        .collect();
    let on_existing = outcome.plan.existing.iter().flat_map(|placement| {
        placement
            .pods
            .iter()
            .filter(|p| !outcome.expected.contains(p))
            .map(move |p| (p, &placement.node))
    });
    for (pod, node) in on_existing {
        ctx.nominate(node, Instant::now());
        let notice = PodNotice::Existing { node: node.clone() };
        notices.push((pod.clone(), notice));
        if ctx.options.bind_pods {
            ctx.want_binding(pod.clone(), node.clone());
        }
    }
    let planned_claims = outcome.claims;
    drop(outcome.snapshot);
    drop(outcome.plan);
    let mut created = 0;
    for planned in planned_claims {
        let name = kerf_cloud::provider::claim_name(&planned.claim).to_string();
        if let Err(e) = create_and_launch(ctx, planned.claim).await {
            tracing::error!(claim = %name, error = %e, "creating nodeclaim");
            continue;
        }
        created += 1;
        for pod in &planned.pods {
            let claim = name.clone();
            notices.push((pod.clone(), PodNotice::Launching { claim }));
            if ctx.options.bind_pods {
                ctx.want_binding(pod.clone(), name.clone());
            }
        }
    }
    events::publish(&ctx.client, &pending, notices);
    Ok(created)
}

fn publish_pool_notices(ctx: &Context, outcome: &kerf_state::ProvisionOutcome) {
    let now = Instant::now();
    let notices: Vec<_> = {
        let state = ctx.state();
        events::pool_notices(outcome)
            .into_iter()
            .filter(|(pool, notice)| ctx.pool_event_due(pool, notice.reason(), now))
            .filter_map(|(pool, notice)| {
                tracing::warn!(%pool, reason = notice.reason(), ?notice, "pool cannot provide capacity");
                events::pool_reference(&state, &pool).map(|r| (r, pool.kind, notice))
            })
            .collect()
    };
    events::publish_pools(&ctx.client, notices);
}

/// Creates the claim (with the termination finalizer) in the API server,
/// caches it, and starts its launch in a task of its own; a failed launch is
/// retried, with backoff, by the claim's reconciler ([`crate::nodeclaim`]).
/// The provisioner and disruption's replacements both come here.
pub async fn create_and_launch(
    ctx: &Arc<Context>,
    mut claim: NodeClaim,
) -> Result<NodeClaim, kube::Error> {
    let name = kerf_cloud::provider::claim_name(&claim).to_string();
    let finalizers = claim.metadata.finalizers.get_or_insert_with(Vec::new);
    if !finalizers
        .iter()
        .any(|f| f == labels::TERMINATION_FINALIZER)
    {
        finalizers.push(labels::TERMINATION_FINALIZER.to_string());
    }
    ctx.start_launch(&name);
    let claims: Api<NodeClaim> = Api::all(ctx.client.clone());
    let stored = match claims.create(&PostParams::default(), &claim).await {
        Ok(stored) => stored,
        Err(e) => {
            ctx.end_launch(&name);
            return Err(e);
        }
    };
    // The watch will deliver it too; storing it now keeps the next batch
    // from planning the same capacity again.
    if let Err(e) = ctx.state_mut().apply(stored.clone()) {
        tracing::warn!(claim = %name, error = %e, "caching nodeclaim");
    }
    let task_ctx = ctx.clone();
    let launching = stored.clone();
    tokio::spawn(async move {
        if let Err(e) = launch(&task_ctx, launching).await {
            tracing::warn!(claim = %name, error = %e, "launch failed; the claim's reconciler retries it");
        }
        task_ctx.end_launch(&name);
    });
    Ok(stored)
}

/// `cloud.create`, then the claim's labels (instance type, zone, capacity
/// type), the provider's annotations and status (provider ID, image ID,
/// capacity, allocatable, Launched). A launch
/// the cloud cannot serve deletes the claim so its pods are planned again;
/// any other failure is returned, to be retried.
pub async fn launch(ctx: &Context, claim: NodeClaim) -> Result<(), kerf_cloud::CloudError> {
    let name = kerf_cloud::provider::claim_name(&claim).to_string();
    let api: Api<NodeClaim> = Api::all(ctx.client.clone());
    let launched = match ctx.cloud.create(&claim).await {
        Ok(launched) => launched,
        Err(e)
            if e.is_insufficient_capacity()
                || matches!(e, kerf_cloud::CloudError::InvalidClaim { .. }) =>
        {
            tracing::warn!(claim = %name, error = %e, "launch failed; deleting the claim so its pods are planned again");
            if let Err(e) = api.delete(&name, &Default::default()).await {
                tracing::error!(claim = %name, error = %e, "deleting nodeclaim");
            }
            return Ok(());
        }
        Err(e) => return Err(e),
    };
    let status = launched.status.clone().unwrap_or_default();
    let new_labels: BTreeMap<String, String> = launched.metadata.labels.clone().unwrap_or_default();
    // The provider's annotations (the node class hash static drift compares).
    let annotations: BTreeMap<String, String> =
        launched.metadata.annotations.clone().unwrap_or_default();
    let meta_patch = json!({ "metadata": { "labels": new_labels, "annotations": annotations } });
    if let Err(e) = api
        .patch(&name, &PatchParams::default(), &Patch::Merge(&meta_patch))
        .await
    {
        tracing::error!(claim = %name, error = %e, "labelling nodeclaim");
    }
    let mut conds = claim.status.clone().unwrap_or_default().conditions;
    set_condition(&mut conds, conditions::LAUNCHED, "Launched", now());
    let status_patch = json!({ "status": {
        "providerID": status.provider_id,
        "imageID": status.image_id,
        "capacity": status.capacity,
        "allocatable": status.allocatable,
        "conditions": conds,
    }});
    match api
        .patch_status(&name, &PatchParams::default(), &Patch::Merge(&status_patch))
        .await
    {
        Ok(stored) => {
            tracing::info!(claim = %name, provider_id = ?status.provider_id, "launched");
            let pool = kerf_state::pools::pool_of_labels(&new_labels)
                .map(|p| p.name)
                .unwrap_or_default();
            ctx.metrics
                .nodes_created
                .get_or_create(&PoolLabels { provisioner: pool })
                .inc();
            if let Err(e) = ctx.state_mut().apply(stored) {
                tracing::warn!(claim = %name, error = %e, "caching nodeclaim");
            }
        }
        Err(e) => tracing::error!(claim = %name, error = %e, "writing nodeclaim status"),
    }
    Ok(())
}
