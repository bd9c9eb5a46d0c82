//! `kerf-controller`: kerf as a live Kubernetes controller. It owns the
//! imperative shell around the shared provisioning layer (`kerf-state`, the
//! same code `kerf simulate` runs): watches that fill the cluster state, the
//! batching provisioning loop that creates NodeClaims and launches them
//! through a [`kerf_cloud::CloudProvider`], the NodeClaim lifecycle
//! (registration, initialization, registration timeout), binding pods with
//! `--bind-pods`, expiration, disruption (emptiness, drift, consolidation), termination through the
//! `karpenter.sh/termination` finalizer, and the health and metrics endpoints.
//!
//! | Module | Owns |
//! |---|---|
//! | [`batcher`] | the 1 s idle / 10 s max batch window, pure over instants |
//! | [`decisions`] | pure decisions over the state: lifecycle, emptiness, expiry, bindings, drain |
//! | [`watch`] | kube-runtime watchers → [`kerf_state::ClusterState`] |
//! | [`provisioner`] | batch → `kerf_state::provision` → create claims → launch |
//! | [`nodeclaim`] | per-claim reconciler on kube-runtime's `Controller`: launch (with backoff), registration, initialization, registration timeout |
//! | [`lifecycle`] | the pool-level loop: expiry, binding, pool counters |
//! | [`disruption`] | Karpenter v1's disruption loop: decide (kerf-core), validate, replace, taint, delete; resume or roll back after a restart |
//! | [`disruption_metrics`] | `karpenter_voluntary_disruption_*` and `karpenter_nodeclaims_disrupted` |
//! | [`counter`] | Provisioner / NodePool `status.resources`: capacity of the pool's nodes |
//! | [`leader`] | leader election with a coordination.k8s.io Lease |
//! | [`termination`] | per-claim reconciler on kube-runtime's `Controller`: finalizer, cordon, evict, terminate, release |
//! | [`gc`] | instances the cloud lists that no claim knows, claims whose instance is gone; every provider |
//! | [`events`] | `Nominated` / `FailedScheduling` Events on pods; limit and no-instance-type Events on pools |
//! | [`metrics`], [`server`] | Prometheus metrics, `/healthz`, `/readyz`, `/metrics` |

pub mod batcher;
pub mod context;
pub mod counter;
pub mod decisions;
pub mod disruption;
pub mod disruption_metrics;
pub mod events;
pub mod gc;
pub mod leader;
pub mod lifecycle;
pub mod metrics;
pub mod nodeclaim;
pub mod per_claim;
pub mod provisioner;
pub mod server;
pub mod status;
pub mod termination;
pub mod watch;

use std::net::SocketAddr;
use std::sync::Arc;

use kerf_cloud::CloudProvider;
use kube::Client;
use tokio::task::JoinSet;

pub use context::{Context, ControllerOptions};

/// Where the HTTP endpoints listen.
#[derive(Clone, Copy, Debug)]
pub struct Endpoints {
    pub metrics: SocketAddr,
    pub health: SocketAddr,
}

#[derive(Debug, thiserror::Error)]
pub enum RunError {
    #[error("cannot listen on {what} address {addr}: {source}")]
    Listen {
        what: &'static str,
        addr: SocketAddr,
        source: std::io::Error,
    },
    #[error("controller task ended unexpectedly: {0}")]
    TaskEnded(String),
}

/// Runs the controller until a task fails or the process is stopped.
pub async fn run(
    options: ControllerOptions,
    client: Client,
    cloud: Arc<dyn CloudProvider>,
    endpoints: Endpoints,
) -> Result<(), RunError> {
    run_with_context(Arc::new(Context::new(options, client, cloud)), endpoints).await
}

/// [`run`] on a context the caller built, e.g. after registering more
/// metrics ([`metrics::Metrics::registry_mut`]) or spawning provider loops.
pub async fn run_with_context(ctx: Arc<Context>, endpoints: Endpoints) -> Result<(), RunError> {
    let health = server::serve(endpoints.health, server::health_router(ctx.clone()))
        .await
        .map_err(|source| RunError::Listen {
            what: "health",
            addr: endpoints.health,
            source,
        })?;
    let metrics = server::serve(endpoints.metrics, server::metrics_router(ctx.clone()))
        .await
        .map_err(|source| RunError::Listen {
            what: "metrics",
            addr: endpoints.metrics,
            source,
        })?;
    tracing::info!(
        cloud = ctx.cloud.name(),
        bind_pods = ctx.options.bind_pods,
        cluster = %ctx.options.cluster_name,
        health = %endpoints.health,
        metrics = %endpoints.metrics,
        "kerf controller starting"
    );
    let mut tasks = JoinSet::new();
    watch::spawn_all(&ctx, &mut tasks);
    if let Some(election) = ctx.options.leader_election.clone() {
        let leader_ctx = ctx.clone();
        tasks.spawn(async move {
            let reason = leader::run(leader_ctx, election).await;
            tracing::error!(%reason, "stopping");
        });
    }
    tasks.spawn(provisioner::run(ctx.clone()));
    tasks.spawn(nodeclaim::run(ctx.clone()));
    tasks.spawn(lifecycle::run(ctx.clone()));
    tasks.spawn(termination::run(ctx.clone()));
    tasks.spawn(disruption::run(ctx.clone()));
    tasks.spawn(disruption::deletion_cost::run(ctx.clone()));
    tasks.spawn(gc::run(
        ctx.clone(),
        ctx.options.gc_interval,
        ctx.options.gc_grace,
    ));
    let ended = tasks.join_next().await;
    health.abort();
    metrics.abort();
    Err(RunError::TaskEnded(format!("{ended:?}")))
}
