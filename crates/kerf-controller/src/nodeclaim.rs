//! A NodeClaim's life, one claim at a time, on kube-runtime's [`Controller`]
//! (NodeClaims primary, Node events mapped to the node's claim): launch a
//! claim that has no instance yet, register its Node (labels, taints, the
//! termination finalizer, `Registered`), initialize it once Ready with its
//! startup taints gone (`Initialized`), and delete a claim whose Node never
//! registered within the registration timeout. What is due is decided by the
//! pure [`decisions::claim_lifecycle`].
//!
//! The provisioner launches the claims it creates at once; this reconciler
//! launches those it did not (kerf restarted in between) and retries failed
//! launches, backing off exponentially per claim rather than retrying every
//! tick. While a claim waits for its Node to register or become Ready it is
//! looked at every second (the Node's events also wake it).

use std::collections::BTreeMap;
use std::sync::{Arc, Mutex, MutexGuard};
use std::time::Duration;

use k8s_openapi::api::core::v1::Node;
use kerf_api::conditions;
use kerf_api::labels;
use kerf_api::v1::NodeClaim;
use kerf_cloud::CloudError;
use kube::Api;
use kube::api::{Patch, PatchParams};
use kube::runtime::controller::Action;
use serde_json::json;

use crate::context::Context;
use crate::decisions::{self, LifecycleAction, claim_has, is_launched};
use crate::lifecycle::delete_claim;
use crate::per_claim::{self, backoff};
use crate::status::{now, set_condition};

/// How soon a claim waiting for its Node (or another replica's launch) is looked at again.
const WAITING_POLL: Duration = Duration::from_secs(1);
/// A replica that is not acting (not synced, or not the leader) looks again after this.
const INACTIVE_RETRY: Duration = Duration::from_secs(2);

/// Why one reconcile of a claim failed.
#[derive(Debug, thiserror::Error)]
pub enum LifecycleError {
    #[error("launching nodeclaim {claim}: {source}")]
    Launch {
        claim: String,
        #[source]
        source: CloudError,
    },
    #[error("{what}: {source}")]
    Kube {
        what: String,
        #[source]
        source: kube::Error,
    },
}

impl LifecycleError {
    /// The label value a failure is counted under.
    pub fn kind(&self) -> &'static str {
        match self {
            LifecycleError::Launch { .. } => "launch",
            LifecycleError::Kube { .. } => "kubernetes",
        }
    }
}

/// The reconciler's state beside the controller context: failures in a row per claim.
pub struct Lifecycle {
    ctx: Arc<Context>,
    failures: Mutex<BTreeMap<String, u32>>,
}

fn lock<T>(m: &Mutex<T>) -> MutexGuard<'_, T> {
    m.lock().unwrap_or_else(|e| e.into_inner())
}

impl Lifecycle {
    pub fn new(ctx: Arc<Context>) -> Self {
        Lifecycle {
            ctx,
            failures: Mutex::new(BTreeMap::new()),
        }
    }
}

/// Runs the NodeClaim lifecycle controller until the watch stream ends.
pub async fn run(ctx: Arc<Context>) {
    let state = Arc::new(Lifecycle::new(ctx.clone()));
    per_claim::run(ctx, "nodeclaim lifecycle", state, reconcile, error_policy).await;
}

/// One reconcile of one claim: see the module doc.
pub async fn reconcile(
    claim: Arc<NodeClaim>,
    lc: Arc<Lifecycle>,
) -> Result<Action, LifecycleError> {
    let ctx = &lc.ctx;
    if !ctx.is_active() {
        return Ok(Action::requeue(INACTIVE_RETRY));
    }
    if claim.metadata.deletion_timestamp.is_some() {
        return Ok(Action::await_change());
    }
    let name = claim.metadata.name.clone().unwrap_or_default();
    let action = if is_launched(&claim) {
        step(ctx, &name, &claim).await?
    } else if ctx.start_launch(&name) {
        // The watch cache can lag a launch the provisioner just finished (it
        // writes the Launched condition before it lets go of the claim):
        // read the claim afresh, or the same claim is launched twice.
        let fresh = Api::<NodeClaim>::all(ctx.client.clone())
            .get_opt(&name)
            .await;
        let launched = match fresh {
            Ok(Some(fresh))
                if !is_launched(&fresh) && fresh.metadata.deletion_timestamp.is_none() =>
            {
                crate::provisioner::launch(ctx, fresh)
                    .await
                    .map_err(|source| LifecycleError::Launch {
                        claim: name.clone(),
                        source,
                    })
            }
            Ok(_) => Ok(()),
            Err(source) => Err(LifecycleError::Kube {
                what: format!("reading nodeclaim {name}"),
                source,
            }),
        };
        ctx.end_launch(&name);
        launched?;
        Action::requeue(WAITING_POLL)
    } else {
        // The provisioner's launch of it is still running.
        Action::requeue(WAITING_POLL)
    };
    lock(&lc.failures).remove(&name);
    Ok(action)
}

/// Back off exponentially per claim: 1 s, 2 s, 4 s, ... 5 min.
pub fn error_policy(claim: Arc<NodeClaim>, error: &LifecycleError, lc: Arc<Lifecycle>) -> Action {
    let name = claim.metadata.name.clone().unwrap_or_default();
    let failures = {
        let mut all = lock(&lc.failures);
        let n = all.entry(name.clone()).or_insert(0);
        *n = n.saturating_add(1);
        *n
    };
    let wait = backoff(failures);
    lc.ctx
        .metrics
        .reconcile_errors
        .get_or_create(&crate::metrics::ReconcileErrorLabels {
            controller: "nodeclaim.lifecycle",
            kind: error.kind(),
        })
        .inc();
    tracing::warn!(claim = %name, %error, kind = error.kind(), failures, retry_in = ?wait, "nodeclaim lifecycle");
    Action::requeue(wait)
}

/// Registration, initialization or the registration timeout of a launched claim.
async fn step(ctx: &Context, name: &str, claim: &NodeClaim) -> Result<Action, LifecycleError> {
    let due = {
        let state = ctx.state();
        decisions::claim_lifecycle(&state, name, claim, now(), ctx.options.registration_timeout)
    };
    if let Some(action) = &due {
        apply(ctx, claim, action).await?;
    }
    let settled = matches!(due, Some(LifecycleAction::RegistrationTimedOut { .. }))
        || claim_has(claim, conditions::INITIALIZED)
        || matches!(due, Some(LifecycleAction::Initialize { .. }));
    Ok(if settled {
        Action::await_change()
    } else {
        Action::requeue(WAITING_POLL)
    })
}

async fn apply(
    ctx: &Context,
    claim: &NodeClaim,
    action: &LifecycleAction,
) -> Result<(), LifecycleError> {
    let nodes: Api<Node> = Api::all(ctx.client.clone());
    let kube = |what: String| move |source| LifecycleError::Kube { what, source };
    match action {
        LifecycleAction::Register {
            claim: name,
            node,
            labels: add_labels,
            taints,
        } => {
            // A strategic merge patch: labels and taints (by key) merge into what
            // the Node has and the finalizer joins the list, so nothing another
            // writer set is read from a possibly stale cache and written back.
            let mut patch = json!({
                "metadata": {
                    "labels": add_labels,
                    "finalizers": [labels::TERMINATION_FINALIZER],
                },
            });
            if !taints.is_empty() {
                patch["spec"] = json!({ "taints": taints });
            }
            let stored = nodes
                .patch(node, &PatchParams::default(), &Patch::Strategic(&patch))
                .await
                .map_err(kube(format!("registering node {node}")))?;
            let _ = ctx.state_mut().apply(stored);
            tracing::info!(claim = %name, %node, "registered");
            mark(ctx, claim, conditions::REGISTERED, node)
                .await
                .map_err(kube(format!("marking nodeclaim {name} Registered")))
        }
        LifecycleAction::Initialize { claim: name, node } => {
            let patch = json!({ "metadata": { "labels": { labels::NODE_INITIALIZED: "true" } } });
            nodes
                .patch(node, &PatchParams::default(), &Patch::Merge(&patch))
                .await
                .map_err(kube(format!("labelling node {node} initialized")))?;
            tracing::info!(claim = %name, %node, "initialized");
            mark(ctx, claim, conditions::INITIALIZED, node)
                .await
                .map_err(kube(format!("marking nodeclaim {name} Initialized")))
        }
        LifecycleAction::RegistrationTimedOut { claim: name } => {
            tracing::warn!(claim = %name, "node never registered; deleting the claim");
            delete_claim(ctx, name)
                .await
                .map_err(kube(format!("deleting nodeclaim {name}")))
        }
    }
}

/// The lifecycle conditions in order: each implies those before it.
const STAGES: [&str; 3] = [
    conditions::LAUNCHED,
    conditions::REGISTERED,
    conditions::INITIALIZED,
];

/// Sets one lifecycle condition True on the claim and records its node. The
/// conditions list is written whole (a CRD takes no strategic merge), so the
/// stages it implies are set too: a handed object that lags the last write
/// cannot take a condition back.
async fn mark(ctx: &Context, claim: &NodeClaim, type_: &str, node: &str) -> kube::Result<()> {
    let name = claim.metadata.name.clone().unwrap_or_default();
    let api: Api<NodeClaim> = Api::all(ctx.client.clone());
    let mut conditions = claim.status.clone().unwrap_or_default().conditions;
    let at = now();
    for stage in STAGES.iter().take_while(|s| **s != type_) {
        if !conditions.iter().any(|c| c.type_ == *stage && c.is_true()) {
            set_condition(&mut conditions, stage, stage, at);
        }
    }
    set_condition(&mut conditions, type_, type_, at);
    let patch = json!({ "status": { "conditions": conditions, "nodeName": node } });
    let stored = api
        .patch_status(&name, &PatchParams::default(), &Patch::Merge(&patch))
        .await?;
    if let Err(e) = ctx.state_mut().apply(stored) {
        tracing::warn!(claim = %name, error = %e, "caching nodeclaim");
    }
    Ok(())
}
