//! Disruption's Events, as Karpenter names them: `DisruptionBlocked` on a
//! Node (and its NodeClaim) that stays, with the reason in words a person can
//! act on; `DisruptionLaunching` / `DisruptionTerminating` on the candidates
//! of a command, with its method, reason and saving.

use std::time::Instant;

use k8s_openapi::api::core::v1::{Node, ObjectReference};
use kerf_core::disruption::{Command, Decision, KeptReason};
use kube::runtime::events::{Event, EventType};

use super::execute::CommandRecord;
use crate::context::Context;
use crate::events::publish_all;

/// Whether a kept reason is worth telling the node's owner: the ones that
/// name something they set (a pod, a PDB, a budget, an annotation) or a
/// price. Reasons that only say "not yet" (initializing, nominated, deleting,
/// another command first) are left to `kerf explain`. Balanced scores are
/// left out too, as upstream leaves them out: under Balanced most nodes
/// score too low most of the time, and the events would bury the rest.
fn blocking(reason: &KeptReason) -> bool {
    !matches!(
        reason,
        KeptReason::NotInCluster
            | KeptReason::NotInitialized
            | KeptReason::Deleting
            | KeptReason::Nominated
            | KeptReason::NotThisRound
            | KeptReason::ConsolidateAfter { .. }
            | KeptReason::BalancedScore { .. }
    )
}

/// `DisruptionBlocked` on each kept node and its claim, once per reason per
/// [`super::BLOCKED_EVENT_DEDUPE`].
pub fn kept(ctx: &Context, decision: &Decision) {
    let now = Instant::now();
    let mut items = Vec::new();
    for kept in decision.kept.iter().filter(|k| blocking(&k.reason)) {
        let note = kept.reason.to_string();
        if !ctx.node_event_due(&kept.node, &note, now, super::BLOCKED_EVENT_DEDUPE) {
            continue;
        }
        for reference in references(ctx, &kept.node) {
            items.push((
                reference,
                event(EventType::Normal, "DisruptionBlocked", &note),
            ));
        }
    }
    publish_all(&ctx.client, items);
}

/// The command's Events on each candidate and its claim.
pub fn disrupting(ctx: &Context, command: &Command, record: &CommandRecord) {
    ctx.metrics.disruption.record_decision(command);
    let (reason, note) = if command.replacements.is_empty() {
        (
            "DisruptionTerminating",
            format!(
                "Disrupting: {} ({}), deleting {} node(s), saving ${:.4}/h",
                command.method,
                command.reason,
                command.candidates.len(),
                command.savings_per_hour()
            ),
        )
    } else {
        (
            "DisruptionLaunching",
            format!(
                "Disrupting: {} ({}), launching {} ({}) to replace {} node(s), ${:.4}/h before, ${:.4}/h after",
                command.method,
                command.reason,
                record.replacements.join(", "),
                command
                    .replacements
                    .iter()
                    .map(|r| r.node.chosen.instance_type.as_str())
                    .collect::<Vec<_>>()
                    .join(", "),
                command.candidates.len(),
                command.price_before,
                command.price_after
            ),
        )
    };
    let items = command
        .candidates
        .iter()
        .flat_map(|node| references(ctx, node))
        .map(|r| (r, event(EventType::Normal, reason, &note)))
        .collect();
    publish_all(&ctx.client, items);
}

fn event(type_: EventType, reason: &str, note: &str) -> Event {
    Event {
        type_,
        reason: reason.to_string(),
        note: Some(note.chars().take(1024).collect()),
        action: "Disruption".to_string(),
        secondary: None,
    }
}

/// The Node and its NodeClaim, as the cache holds them (with UIDs).
fn references(ctx: &Context, node: &str) -> Vec<ObjectReference> {
    let state = ctx.state();
    let mut out = Vec::new();
    if let Some(n) = state.get::<Node>(node) {
        out.push(ObjectReference {
            api_version: Some("v1".to_string()),
            kind: Some("Node".to_string()),
            name: n.metadata.name.clone(),
            uid: n.metadata.uid.clone(),
            ..Default::default()
        });
    }
    let claim = state.claim_of_node_named(node);
    if let Some((_, c)) = claim {
        out.push(ObjectReference {
            api_version: Some("karpenter.sh/v1".to_string()),
            kind: Some("NodeClaim".to_string()),
            name: c.metadata.name.clone(),
            uid: c.metadata.uid.clone(),
            ..Default::default()
        });
    }
    out
}
