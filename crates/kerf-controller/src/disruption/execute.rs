//! Carrying out one disruption command. Replacements are created first, so
//! when the candidates' taint wakes the provisioner it finds the capacity
//! already in flight and launches nothing for their pods. Then each candidate
//! Node gets the `karpenter.sh/disrupted:NoSchedule` taint and a record of
//! the command ([`COMMAND_ANNOTATION`]) in one optimistic write; once every
//! replacement is Initialized the candidates' NodeClaims are deleted and the
//! termination path drains them. If a replacement fails or times out, the
//! replacements are deleted and the candidates untainted.

use std::sync::Arc;
use std::time::Instant;

use k8s_openapi::api::core::v1::Node;
use k8s_openapi::jiff::Timestamp;
use kerf_api::conditions;
use kerf_api::labels;
use kerf_api::v1::NodeClaim;
use kerf_core::disruption::Command;
use kerf_kube::{Edited, NotFoundExt};
use kerf_state::deleting::{add_disrupted_taint, is_disrupted_taint};
use kerf_state::{Pools, RandomNames};
use kube::Api;
use serde::{Deserialize, Serialize};

use super::DisruptionError;
use crate::context::Context;
use crate::decisions::claim_has;
use crate::disruption_metrics::DisruptedLabels;
use crate::status::now;

/// kerf's record of the command a tainted Node is part of: method, reason,
/// the replacement claims it waits for, and when it began.
pub const COMMAND_ANNOTATION: &str = "kerf.sh/disruption-command";

#[derive(Clone, Debug, PartialEq, Serialize, Deserialize)]
#[serde(rename_all = "camelCase")]
pub struct CommandRecord {
    pub method: String,
    pub reason: String,
    pub replacements: Vec<String>,
    pub started: Timestamp,
}

/// How often the wait for replacements looks at the cache.
const WAIT_POLL: std::time::Duration = std::time::Duration::from_secs(1);
/// Optimistic writes to one Node before giving up.
const WRITE_ATTEMPTS: usize = 5;

pub async fn execute(
    ctx: &Arc<Context>,
    command: &Command,
    pools: &Pools,
) -> Result<(), DisruptionError> {
    let taken = ctx.state().claim_names();
    let planned = kerf_state::claims_for_nodes(
        command.replacements.iter().map(|r| &r.node),
        pools,
        &taken,
        &mut RandomNames,
    )?;
    let record = CommandRecord {
        method: command.method.to_string(),
        reason: command.reason.to_string(),
        replacements: planned
            .iter()
            .map(|p| kerf_cloud::provider::claim_name(&p.claim).to_string())
            .collect(),
        started: now(),
    };
    let mut created = Vec::new();
    for p in planned {
        let name = kerf_cloud::provider::claim_name(&p.claim).to_string();
        match crate::provisioner::create_and_launch(ctx, p.claim).await {
            Ok(_) => created.push(name),
            Err(source) => {
                roll_back(ctx, &created, &[]).await;
                return Err(DisruptionError::Kube {
                    what: format!("creating replacement {name}"),
                    source,
                });
            }
        }
    }
    let mut marked = Vec::new();
    for node in &command.candidates {
        if let Err(e) = mark(ctx, node, &record).await {
            roll_back(ctx, &created, &marked).await;
            return Err(e);
        }
        marked.push(node.clone());
    }
    super::events::disrupting(ctx, command, &record);
    finish(ctx, &command.candidates, &record).await
}

/// Waits for the record's replacements, then deletes the candidates' claims;
/// rolls back when a replacement fails. Also how a restarted controller
/// resumes a command it finds on the Nodes.
pub async fn finish(
    ctx: &Arc<Context>,
    candidates: &[String],
    record: &CommandRecord,
) -> Result<(), DisruptionError> {
    if let Err(e) = wait_for_replacements(ctx, record).await {
        tracing::warn!(error = %e, ?candidates, "disruption command failed; rolling back");
        ctx.metrics.disruption.failed.inc();
        roll_back(ctx, &record.replacements, candidates).await;
        return Err(e);
    }
    let claims: Api<NodeClaim> = Api::all(ctx.client.clone());
    for node in candidates {
        let claim = claim_of_node(ctx, node);
        let Some((claim, pool, capacity_type)) = claim else {
            tracing::warn!(%node, "candidate has no NodeClaim; untainting it");
            let _ = unmark(ctx, node).await;
            continue;
        };
        super::conditions::mark_disrupted(ctx, &claim, &record.reason).await;
        claims
            .delete(&claim, &Default::default())
            .await
            .ok_if_not_found()
            .map_err(DisruptionError::kube(format!("deleting NodeClaim {claim}")))?;
        tracing::info!(%node, %claim, reason = %record.reason, "disrupted");
        ctx.metrics
            .disruption
            .disrupted
            .get_or_create(&DisruptedLabels {
                reason: record.reason.to_lowercase(),
                nodepool: pool,
                capacity_type,
            })
            .inc();
    }
    Ok(())
}

/// The claim of a Node with its pool and capacity type, from the cache.
fn claim_of_node(ctx: &Context, node: &str) -> Option<(String, String, String)> {
    let state = ctx.state();
    let (name, claim) = state.claim_of_node_named(node)?;
    let l = claim.metadata.labels.clone().unwrap_or_default();
    let pool = kerf_state::pools::pool_of_labels(&l)
        .map(|p| p.name)
        .unwrap_or_default();
    let capacity_type = l.get(labels::CAPACITY_TYPE).cloned().unwrap_or_default();
    Some((name.clone(), pool, capacity_type))
}

async fn wait_for_replacements(
    ctx: &Context,
    record: &CommandRecord,
) -> Result<(), DisruptionError> {
    let timeout = ctx.options.disruption.replacement_timeout;
    let started = Instant::now();
    loop {
        let pending = {
            let state = ctx.state();
            let mut pending = 0;
            for name in &record.replacements {
                let failed = |why: &str| DisruptionError::Replacement {
                    claim: name.clone(),
                    why: why.to_string(),
                };
                let Some(claim) = state.get::<NodeClaim>(name) else {
                    return Err(failed("is gone (its launch failed)"));
                };
                if claim.metadata.deletion_timestamp.is_some() {
                    return Err(failed("is being deleted"));
                }
                if !claim_has(claim, conditions::INITIALIZED) {
                    pending += 1;
                }
            }
            pending
        };
        if pending == 0 {
            return Ok(());
        }
        if started.elapsed() >= timeout {
            return Err(DisruptionError::Replacement {
                claim: record.replacements.join(","),
                why: format!("not initialized after {}s", timeout.as_secs()),
            });
        }
        tokio::time::sleep(WAIT_POLL).await;
    }
}

/// Deletes the replacements (their instances go with them) and untaints the
/// candidates; every step is attempted, failures are logged.
pub async fn roll_back(ctx: &Context, replacements: &[String], candidates: &[String]) {
    let claims: Api<NodeClaim> = Api::all(ctx.client.clone());
    for name in replacements {
        if let Err(e) = claims
            .delete(name, &Default::default())
            .await
            .ok_if_not_found()
        {
            tracing::error!(claim = %name, error = %e, "deleting replacement");
        }
    }
    for node in candidates {
        if let Err(e) = unmark(ctx, node).await {
            tracing::error!(%node, error = %e, "untainting candidate");
        }
    }
}

/// Taints the Node and records the command on it.
async fn mark(ctx: &Context, node: &str, record: &CommandRecord) -> Result<(), DisruptionError> {
    let text = serde_json::to_string(record).unwrap_or_default();
    edit_node(ctx, node, |n| {
        add_disrupted_taint(n);
        n.metadata
            .annotations
            .get_or_insert_with(Default::default)
            .insert(COMMAND_ANNOTATION.to_string(), text.clone());
    })
    .await
}

/// Removes the taint and the record; a Node that is gone needs neither.
pub async fn unmark(ctx: &Context, node: &str) -> Result<(), DisruptionError> {
    edit_node(ctx, node, |n| {
        if let Some(taints) = n.spec.as_mut().and_then(|s| s.taints.as_mut()) {
            taints.retain(|t| !is_disrupted_taint(t));
        }
        if let Some(a) = n.metadata.annotations.as_mut() {
            a.remove(COMMAND_ANNOTATION);
        }
    })
    .await
}

/// Changes the Node through [`kerf_kube::edit`] (taints are an atomic
/// list) and keeps the stored Node in the cluster state.
pub(super) async fn edit_node(
    ctx: &Context,
    node: &str,
    change: impl Fn(&mut Node),
) -> Result<(), DisruptionError> {
    let nodes: Api<Node> = Api::all(ctx.client.clone());
    match kerf_kube::edit(&nodes, node, WRITE_ATTEMPTS, change)
        .await
        .map_err(DisruptionError::kube(format!("updating Node {node}")))?
    {
        Edited::Stored(stored) => {
            let _ = ctx.state_mut().apply(stored);
            Ok(())
        }
        Edited::Missing | Edited::Unchanged => Ok(()),
        Edited::Contended => Err(DisruptionError::Contended {
            node: node.to_string(),
            attempts: WRITE_ATTEMPTS,
        }),
    }
}
