//! The garbage-collection loop: on a timer (leader only) lists the cluster's
//! instances, asks the pure [`kerf_aws::gc::plan`] which instances no
//! NodeClaim accounts for (after the grace period) and which claims lost their
//! instance, terminates the first and deletes the second (their termination
//! finalizer then releases the Node).

use std::sync::Arc;
use std::time::{Duration, SystemTime};

use kerf_api::v1::NodeClaim;
use kerf_aws::AwsCloudProvider;
use kerf_aws::provider::instances::{self, Query};
use kerf_controller::Context;
use kube::Api;
use kube::api::DeleteParams;

use super::interruption::claim_refs;
use super::metrics::AwsMetrics;

pub async fn run(
    ctx: Arc<Context>,
    provider: Arc<AwsCloudProvider>,
    interval: Duration,
    grace: Duration,
    metrics: AwsMetrics,
) {
    tracing::info!(?interval, ?grace, "instance garbage collection on");
    let mut tick = tokio::time::interval(interval);
    tick.set_missed_tick_behavior(tokio::time::MissedTickBehavior::Delay);
    loop {
        tick.tick().await;
        if ctx.is_active() {
            once(&ctx, &provider, grace, &metrics).await;
        }
    }
}

async fn once(ctx: &Context, provider: &AwsCloudProvider, grace: Duration, metrics: &AwsMetrics) {
    // Claims first: an instance launched after this read is younger than the grace.
    let claims = claim_refs(ctx);
    let found = match instances::describe(provider, Query::Cluster).await {
        Ok(found) => found,
        Err(e) => {
            let code = kerf_aws::error::aws_code(&e).unwrap_or("unknown");
            metrics.cloud_error("garbagecollection", "DescribeInstances", code);
            tracing::warn!(error = %e, "garbage collection: listing instances");
            return;
        }
    };
    let plan = kerf_aws::gc::plan(&found, &claims, SystemTime::now(), grace);
    if !plan.terminate.is_empty() {
        tracing::info!(instances = ?plan.terminate, "terminating instances no NodeClaim knows");
        match provider.terminate(&plan.terminate).await {
            Ok(()) => {
                metrics.gc_terminated.inc_by(plan.terminate.len() as u64);
            }
            Err(e) => {
                let code = kerf_aws::error::aws_code(&e).unwrap_or("unknown");
                metrics.cloud_error("garbagecollection", "TerminateInstances", code);
                tracing::warn!(error = %e, "garbage collection: terminating orphans");
            }
        }
    }
    let api: Api<NodeClaim> = Api::all(ctx.client.clone());
    for name in &plan.delete_claims {
        match api.delete(name, &DeleteParams::background()).await {
            Ok(_) => tracing::info!(claim = %name, "deleting a NodeClaim whose instance is gone"),
            Err(kube::Error::Api(s)) if s.code == 404 => {}
            Err(e) => {
                tracing::warn!(claim = %name, error = %e, "garbage collection: deleting NodeClaim")
            }
        }
    }
}
