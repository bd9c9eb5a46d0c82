//! The interruption loop: long-polls the SQS queue, and for each message
//! takes the claims from the controller's state, asks the pure
//! [`crate::interruption::decide`] what to do, and does it: marks spot
//! offerings unavailable, deletes the NodeClaims (the termination finalizer
//! cordons and drains them, and the provisioner replaces the pods' capacity),
//! publishes Events, then deletes the message. Malformed and unknown messages
//! are counted and deleted; a message whose claim deletion failed stays on
//! the queue for redelivery. Only the leader polls.

use std::sync::Arc;
use std::time::{Duration, SystemTime};

use crate::AwsCloudProvider;
use crate::interruption::{ClaimRef, InterruptionQueue, Received, decide};
use kerf_api::v1::NodeClaim;
use kerf_controller::Context;
use kube::Api;
use kube::api::DeleteParams;

use super::events::{self, Notice};
use super::metrics::{AwsMetrics, MessageLabels};
use crate::error::AwsError;

/// The claims as the decision reads them.
pub fn claim_refs(ctx: &Context) -> Vec<ClaimRef> {
    ctx.state()
        .objects::<NodeClaim>()
        .map(|(_, c)| ClaimRef {
            name: c.metadata.name.clone().unwrap_or_default(),
            provider_id: c.status.as_ref().and_then(|s| s.provider_id.clone()),
            labels: c.metadata.labels.clone().unwrap_or_default(),
            deleting: c.metadata.deletion_timestamp.is_some(),
        })
        .collect()
}

/// The queue URL for `INTERRUPTION_QUEUE`: a URL as is, a name through GetQueueUrl.
pub async fn queue_url(sqs: &aws_sdk_sqs::Client, queue: &str) -> Result<String, AwsError> {
    if queue.starts_with("https://") || queue.starts_with("http://") {
        return Ok(queue.to_string());
    }
    let refused = |reason: String| AwsError::InterruptionQueue {
        queue: queue.to_string(),
        reason,
    };
    let out = sqs
        .get_queue_url()
        .queue_name(queue)
        .send()
        .await
        .map_err(|e| {
            refused(format!(
                "GetQueueUrl failed: {}",
                aws_sdk_sqs::error::DisplayErrorContext(&e)
            ))
        })?;
    out.queue_url()
        .map(str::to_string)
        .ok_or_else(|| refused("GetQueueUrl returned no URL".to_string()))
}

/// Polls the queue until the process ends, acting on each message.
pub async fn run(
    ctx: Arc<Context>,
    provider: Arc<AwsCloudProvider>,
    queue: InterruptionQueue,
    metrics: AwsMetrics,
) {
    tracing::info!(queue = queue.url(), "interruption handling on");
    let mut backoff = Duration::from_secs(1);
    loop {
        if !ctx.is_active() {
            tokio::time::sleep(Duration::from_secs(1)).await;
            continue;
        }
        match queue.receive().await {
            Ok(messages) => {
                backoff = Duration::from_secs(1);
                for m in messages {
                    handle(&ctx, &provider, &queue, &metrics, m).await;
                }
            }
            Err(e) => {
                metrics.cloud_error("interruption", "ReceiveMessage", error_code(&e));
                tracing::warn!(error = %e, retry_in = ?backoff, "receiving interruption messages");
                tokio::time::sleep(backoff).await;
                backoff = (backoff * 2).min(Duration::from_secs(30));
            }
        }
    }
}

fn error_code(e: &kerf_cloud::CloudError) -> &str {
    crate::error::aws_code(e).unwrap_or("unknown")
}

async fn handle(
    ctx: &Context,
    provider: &AwsCloudProvider,
    queue: &InterruptionQueue,
    metrics: &AwsMetrics,
    m: Received,
) {
    let decision = match &m.event {
        Ok(event) => decide(event, &claim_refs(ctx)),
        Err(why) => {
            tracing::warn!(message = %m.message_id, %why, "deleting a malformed interruption message");
            crate::interruption::Decision {
                kind: "no_op",
                ..Default::default()
            }
        }
    };
    metrics
        .received
        .get_or_create(&MessageLabels {
            message_type: decision.kind.to_string(),
        })
        .inc();
    if let Ok(event) = &m.event {
        tracing::info!(message = %m.message_id, ?event, claims = ?decision.delete_claims, unavailable = ?decision.unavailable, "interruption message");
    }
    for key in &decision.unavailable {
        provider.mark_offering_unavailable(key.clone());
    }
    let notices = {
        let state = ctx.state();
        decision
            .notices
            .iter()
            .filter_map(|n| {
                let claim = state.get::<NodeClaim>(&n.claim)?;
                Some(Notice {
                    object: events::reference("karpenter.sh/v1", "NodeClaim", &claim.metadata),
                    warning: n.warning,
                    reason: n.reason.to_string(),
                    message: n.message.clone(),
                    action: "Interruption",
                })
            })
            .collect()
    };
    events::publish(&ctx.client, notices);
    let api: Api<NodeClaim> = Api::all(ctx.client.clone());
    for name in &decision.delete_claims {
        match api.delete(name, &DeleteParams::background()).await {
            Ok(_) => {
                tracing::info!(claim = %name, "deleting the NodeClaim of an interrupted instance")
            }
            Err(e) if kerf_kube::is_not_found(&e) => {}
            Err(e) => {
                // Leave the message for redelivery: the claim must still go.
                tracing::warn!(claim = %name, error = %e, "deleting NodeClaim after interruption");
                return;
            }
        }
    }
    match queue.delete(&m).await {
        Ok(_) => {
            metrics.deleted.inc();
            if let Some(age) = m
                .sent_at
                .and_then(|t| SystemTime::now().duration_since(t).ok())
            {
                metrics.queue_duration.observe(age.as_secs_f64());
            }
        }
        Err(e) => {
            metrics.cloud_error("interruption", "DeleteMessage", error_code(&e));
            tracing::warn!(message = %m.message_id, error = %e, "deleting interruption message");
        }
    }
}
