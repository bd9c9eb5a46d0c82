//! The AWS side of `kerf controller` (feature `controllers`): the provider as
//! the controller runs it ([`cloud`]), and the loops beside kerf-controller's
//! on one context: [`interruption`] (with an interruption queue) and
//! [`nodeclass`] status, with their [`events`] and [`metrics`] (in the
//! controller's registry). The kerf binary parses the flags and calls
//! [`setup`] then [`run`].

pub mod cloud;
pub mod events;
pub mod interruption;
pub mod metrics;
pub mod nodeclass;

use std::sync::Arc;

pub use cloud::{AwsCloud, AwsOptions, build};

use crate::error::AwsError;
use crate::interruption::InterruptionQueue;

/// The provider and, if one was named, the interruption queue, ready to run.
pub struct Setup {
    cloud: AwsCloud,
    queue: Option<InterruptionQueue>,
}

/// Builds the provider and resolves the interruption queue (a name or a URL;
/// `None`: interruption handling off). An error here is a bad setting.
pub async fn setup(
    options: &AwsOptions,
    interruption_queue: Option<&str>,
    client: &kube::Client,
) -> Result<Setup, AwsError> {
    let cloud = build(options, client).await?;
    let queue = match interruption_queue {
        Some(q) => {
            let sqs = cloud.inner.clients().sqs.clone();
            let url = interruption::queue_url(&sqs, q).await?;
            Some(InterruptionQueue::new(sqs, url))
        }
        None => None,
    };
    Ok(Setup { cloud, queue })
}

/// kerf-controller's loops and the AWS ones on one context, until the
/// controller fails.
pub async fn run(
    setup: Setup,
    options: kerf_controller::ControllerOptions,
    client: kube::Client,
    endpoints: kerf_controller::Endpoints,
) -> Result<(), kerf_controller::RunError> {
    let Setup { cloud, queue } = setup;
    let provider = cloud.inner.clone();
    let aws_metrics = cloud.metrics.clone();
    let mut ctx = kerf_controller::Context::new(options, client, Arc::new(cloud));
    aws_metrics.register(ctx.metrics.registry_mut());
    let ctx = Arc::new(ctx);
    let mut tasks = Vec::new();
    if let Some(queue) = queue {
        tasks.push(tokio::spawn(interruption::run(
            ctx.clone(),
            provider.clone(),
            queue,
            aws_metrics.clone(),
        )));
    }
    tasks.push(tokio::spawn(nodeclass::run(
        ctx.clone(),
        provider,
        aws_metrics,
    )));
    let result = kerf_controller::run_with_context(ctx, endpoints).await;
    for t in tasks {
        t.abort();
    }
    result
}
