//! What the per-claim reconcilers ([`crate::nodeclaim`], [`crate::termination`])
//! share: a kube-runtime [`Controller`] over NodeClaims that Node events wake
//! (a Node is mapped to its claim), bounded concurrency, and the exponential
//! backoff after failures.

use std::future::Future;
use std::sync::Arc;
use std::time::Duration;

use futures::StreamExt;
use k8s_openapi::api::core::v1::Node;
use kerf_api::v1::NodeClaim;
use kube::Api;
use kube::runtime::controller::{self, Action, Controller};
use kube::runtime::reflector::ObjectRef;
use kube::runtime::watcher;

use crate::context::Context;

/// Claims reconciled at once by one controller.
const CONCURRENCY: u16 = 16;
/// First and longest wait after a failed reconcile of one claim.
const FIRST_BACKOFF: Duration = Duration::from_secs(1);
const MAX_BACKOFF: Duration = Duration::from_secs(300);

/// Runs `reconcile` for every NodeClaim, and again whenever the claim or its
/// Node changes, until the watch stream ends.
pub async fn run<S, F, E>(
    ctx: Arc<Context>,
    name: &'static str,
    state: Arc<S>,
    reconcile: impl FnMut(Arc<NodeClaim>, Arc<S>) -> F,
    error_policy: impl Fn(Arc<NodeClaim>, &E, Arc<S>) -> Action,
) where
    S: Send + Sync + 'static,
    F: Future<Output = Result<Action, E>> + Send + 'static,
    E: std::error::Error + Send + 'static,
{
    let claims: Api<NodeClaim> = Api::all(ctx.client.clone());
    let nodes: Api<Node> = Api::all(ctx.client.clone());
    Controller::new(claims, watcher::Config::default())
        .watches(nodes, watcher::Config::default(), move |node| {
            claim_of_node(&ctx, &node)
        })
        .with_config(controller::Config::default().concurrency(CONCURRENCY))
        .run(reconcile, error_policy, state)
        .for_each(|result| async move {
            if let Err(e) = result {
                tracing::debug!(controller = name, error = %e, "reconcile");
            }
        })
        .await;
}

/// The claim a Node belongs to ([`kerf_state::ClusterState::claim_of_node`]).
pub fn claim_of_node(ctx: &Context, node: &Node) -> Option<ObjectRef<NodeClaim>> {
    ctx.state()
        .claim_of_node(node)
        .map(|(key, _)| ObjectRef::new(key))
}

/// The wait after the `failures`th failure in a row: 1 s, 2 s, 4 s, ... 5 min.
pub fn backoff(failures: u32) -> Duration {
    let exp = failures.saturating_sub(1).min(16);
    FIRST_BACKOFF.saturating_mul(1 << exp).min(MAX_BACKOFF)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn failed_reconciles_back_off_to_five_minutes() {
        assert_eq!(backoff(1), Duration::from_secs(1));
        assert_eq!(backoff(2), Duration::from_secs(2));
        assert_eq!(backoff(5), Duration::from_secs(16));
        assert_eq!(backoff(9), Duration::from_secs(256));
        assert_eq!(backoff(10), MAX_BACKOFF);
        assert_eq!(backoff(u32::MAX), MAX_BACKOFF);
    }
}
