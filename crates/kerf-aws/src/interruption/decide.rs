//! What an interruption event means for the cluster, as Karpenter's
//! interruption controller decides it (pure): the NodeClaims to delete (the
//! termination finalizer then cordons and drains them), the spot offerings to
//! mark unavailable so the replacement goes elsewhere, the Event each affected
//! claim gets, and the message kind the metrics are labelled with.

use std::collections::BTreeMap;

use kerf_cloud::OfferingKey;
use kerf_cloud::labels;
use kerf_core::instance_type::CAPACITY_TYPE_SPOT;

use super::InterruptionEvent;
use crate::provider::parse_provider_id;

/// The parts of a NodeClaim the decision reads.
#[derive(Clone, Debug, Default, PartialEq, Eq)]
pub struct ClaimRef {
    pub name: String,
    pub provider_id: Option<String>,
    pub labels: BTreeMap<String, String>,
    /// Already being deleted: nothing more to do.
    pub deleting: bool,
}

impl ClaimRef {
    fn instance_id(&self) -> Option<&str> {
        self.provider_id.as_deref().and_then(parse_provider_id)
    }

    fn label(&self, key: &str) -> Option<&str> {
        self.labels.get(key).map(String::as_str)
    }
}

/// An Event for one claim: Karpenter's reason and a message naming the instance.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct ClaimNotice {
    pub claim: String,
    pub reason: &'static str,
    pub message: String,
    /// Warning (the node goes away) or Normal (advice only).
    pub warning: bool,
}

/// What to do about one message.
#[derive(Clone, Debug, Default, PartialEq, Eq)]
pub struct Decision {
    /// Karpenter's `message_type` label: `spot_interrupted`,
    /// `rebalance_recommendation`, `scheduled_change`, `state_change`, `no_op`.
    pub kind: &'static str,
    pub delete_claims: Vec<String>,
    pub unavailable: Vec<OfferingKey>,
    pub notices: Vec<ClaimNotice>,
}

/// The message kind of an event (the metrics label).
pub fn kind(event: &InterruptionEvent) -> &'static str {
    match event {
        InterruptionEvent::SpotInterruption { .. } => "spot_interrupted",
        InterruptionEvent::RebalanceRecommendation { .. } => "rebalance_recommendation",
        InterruptionEvent::ScheduledChange { .. } => "scheduled_change",
        InterruptionEvent::StateChange { .. } => "state_change",
        InterruptionEvent::Ignored { .. } => "no_op",
    }
}

fn notice(event: &InterruptionEvent, instance: &str) -> (&'static str, String, bool) {
    match event {
        InterruptionEvent::SpotInterruption { .. } => (
            "SpotInterrupted",
            format!("Spot interruption warning for instance {instance}: replacing its node"),
            true,
        ),
        InterruptionEvent::RebalanceRecommendation { .. } => (
            "SpotRebalanceRecommendation",
            format!("EC2 recommends rebalancing instance {instance} (elevated interruption risk)"),
            false,
        ),
        InterruptionEvent::ScheduledChange { .. } => (
            "InstanceUnhealthy",
            format!("AWS Health scheduled change for instance {instance}: replacing its node"),
            true,
        ),
        InterruptionEvent::StateChange { state, .. } => {
            let reason = if matches!(state.as_str(), "stopping" | "stopped") {
                "InstanceStopping"
            } else {
                "InstanceTerminating"
            };
            (
                reason,
                format!("Instance {instance} is {state}: replacing its node"),
                true,
            )
        }
        InterruptionEvent::Ignored { .. } => ("", String::new(), false),
    }
}

/// The decision for one event over the cluster's claims.
pub fn decide(event: &InterruptionEvent, claims: &[ClaimRef]) -> Decision {
    let mut decision = Decision {
        kind: kind(event),
        ..Decision::default()
    };
    if matches!(event, InterruptionEvent::Ignored { .. })
        || matches!(event, InterruptionEvent::StateChange { .. } if !event.requires_replacement())
    {
        return decision;
    }
    for instance in event.instance_ids() {
        let Some(claim) = claims.iter().find(|c| c.instance_id() == Some(instance)) else {
            continue;
        };
        // The offering is short of capacity whether or not the claim is already going.
        if let InterruptionEvent::SpotInterruption { zone, .. } = event
            && claim.label(labels::CAPACITY_TYPE) == Some(CAPACITY_TYPE_SPOT)
            && let Some(instance_type) = claim.label(labels::INSTANCE_TYPE)
            && let Some(zone) = claim.label(labels::ZONE).or(zone.as_deref())
        {
            decision
                .unavailable
                .push(OfferingKey::new(instance_type, zone, CAPACITY_TYPE_SPOT));
        }
        if claim.deleting {
            continue;
        }
        let (reason, message, warning) = notice(event, instance);
        decision.notices.push(ClaimNotice {
            claim: claim.name.clone(),
            reason,
            message,
            warning,
        });
        if !event.requires_replacement() {
            continue;
        }
        decision.delete_claims.push(claim.name.clone());
    }
    decision.delete_claims.sort();
    decision.delete_claims.dedup();
    decision.unavailable.sort();
    decision.unavailable.dedup();
    decision
}

#[cfg(test)]
mod tests;
