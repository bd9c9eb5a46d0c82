//! The NodeClaim conditions disruption owns, as Karpenter v1 writes them:
//! `Consolidatable` (initialized and quiet for the pool's `consolidateAfter`),
//! `Drifted` (with why), and `DisruptionReason` on the claims a command
//! disrupts. Also `status.lastPodEventTime`, so `consolidateAfter` counts
//! from the last pod event across a restart of the controller (the watches'
//! own record is in memory), advanced at most every [`POD_EVENT_DEDUPE`] as
//! Karpenter's podevents controller does. Written only when they change, by a
//! status replace at the claim's resourceVersion, so no other writer's
//! condition is lost.

use std::collections::BTreeMap;
use std::time::Duration;

use k8s_openapi::apimachinery::pkg::apis::meta::v1::Time;
use k8s_openapi::jiff::Timestamp;
use kerf_api::conditions::{self, Condition};
use kerf_api::v1::{NodeClaim, NodeClaimStatus};
use kerf_core::disruption::{DisruptionInput, is_consolidatable};
use kube::Api;
use kube::api::PostParams;

use crate::context::Context;
use crate::status::{now, set_condition};

/// How far `status.lastPodEventTime` may lag the last pod event before it
/// is written again (Karpenter's podevents dedupe): pods come and go in
/// bursts, and one write per burst is enough to survive a restart.
pub const POD_EVENT_DEDUPE: Duration = Duration::from_secs(10);

/// What the status of one node's claim should say.
#[derive(Clone, Debug, PartialEq)]
pub struct Wanted {
    pub consolidatable: bool,
    pub drifted: Option<String>,
    pub last_pod_event: Option<Timestamp>,
}

/// The wanted conditions per node name (pure).
pub fn wanted(input: &DisruptionInput) -> BTreeMap<String, Wanted> {
    input
        .nodes
        .iter()
        .map(|facts| {
            let consolidatable = input
                .pools
                .get(&facts.pool)
                .is_some_and(|pool| is_consolidatable(facts, pool, input.now));
            let wanted = Wanted {
                consolidatable,
                drifted: facts.drifted.clone(),
                last_pod_event: facts.last_pod_event,
            };
            (facts.name.clone(), wanted)
        })
        .collect()
}

/// Whether the claim's status already says what is wanted.
fn agrees(claim: &NodeClaim, wanted: &Wanted) -> bool {
    let status = claim.status.as_ref();
    let conds = status.map(|s| &s.conditions[..]).unwrap_or_default();
    let recorded = status
        .and_then(|s| s.last_pod_event_time.as_ref())
        .map(|t| t.0);
    if pod_event_lags(recorded, wanted.last_pod_event) {
        return false;
    }
    let consolidatable =
        conditions::find(conds, conditions::CONSOLIDATABLE).is_some_and(Condition::is_true);
    let drifted = conditions::find(conds, conditions::DRIFTED)
        .filter(|c| c.is_true())
        .map(|c| c.message.clone().unwrap_or_default());
    consolidatable == wanted.consolidatable && drifted == wanted.drifted
}

/// Whether the recorded last pod event is behind the latest by the dedupe or more.
fn pod_event_lags(recorded: Option<Timestamp>, latest: Option<Timestamp>) -> bool {
    match (recorded, latest) {
        (_, None) => false,
        (None, Some(_)) => true,
        (Some(recorded), Some(latest)) => {
            latest.duration_since(recorded).as_secs_f64() >= POD_EVENT_DEDUPE.as_secs_f64()
        }
    }
}

/// Applies `wanted` to a claim's status: the conditions, and the last pod
/// event when the recorded one lags it.
pub(crate) fn apply_status(status: &mut NodeClaimStatus, wanted: &Wanted) {
    apply(&mut status.conditions, wanted);
    let recorded = status.last_pod_event_time.as_ref().map(|t| t.0);
    if pod_event_lags(recorded, wanted.last_pod_event) {
        status.last_pod_event_time = wanted.last_pod_event.map(Time);
    }
}

/// Applies `wanted` to a list of conditions: True with reason and message, or removed.
pub(crate) fn apply(conds: &mut Vec<Condition>, wanted: &Wanted) {
    let at = now();
    if wanted.consolidatable {
        set_condition(conds, conditions::CONSOLIDATABLE, "Consolidatable", at);
    } else {
        conds.retain(|c| c.type_ != conditions::CONSOLIDATABLE);
    }
    match &wanted.drifted {
        Some(why) => {
            set_condition(conds, conditions::DRIFTED, "Drifted", at);
            if let Some(c) = conds.iter_mut().find(|c| c.type_ == conditions::DRIFTED) {
                c.message = Some(why.clone());
            }
        }
        None => conds.retain(|c| c.type_ != conditions::DRIFTED),
    }
}

/// Writes the conditions that changed.
pub async fn sync(ctx: &Context, wanted: &BTreeMap<String, Wanted>) {
    let stale: Vec<(String, Wanted)> = {
        let state = ctx.state();
        state
            .objects::<NodeClaim>()
            .filter(|(_, c)| c.metadata.deletion_timestamp.is_none())
            .filter_map(|(name, c)| {
                let node = state.node_for_claim(c)?.metadata.name.as_deref()?;
                let w = wanted.get(node)?;
                (!agrees(c, w)).then(|| (name.clone(), w.clone()))
            })
            .collect()
    };
    for (claim, w) in stale {
        if let Err(e) = edit_status(ctx, &claim, |status| apply_status(status, &w)).await {
            tracing::debug!(%claim, error = %e, "writing disruption conditions; next round retries");
        }
    }
}

/// `DisruptionReason` on a claim a command disrupts.
pub async fn mark_disrupted(ctx: &Context, claim: &str, reason: &str) {
    let result = edit_status(ctx, claim, |status| {
        set_condition(
            &mut status.conditions,
            conditions::DISRUPTION_REASON,
            reason,
            now(),
        );
    })
    .await;
    if let Err(e) = result {
        tracing::debug!(%claim, error = %e, "writing DisruptionReason");
    }
}

/// Reads the claim afresh, edits its status and replaces the status at that
/// resourceVersion (a conflict is left to the next round).
async fn edit_status(
    ctx: &Context,
    claim: &str,
    edit: impl Fn(&mut NodeClaimStatus),
) -> kube::Result<()> {
    let api: Api<NodeClaim> = Api::all(ctx.client.clone());
    let Some(mut current) = api.get_opt(claim).await? else {
        return Ok(());
    };
    let status = current.status.get_or_insert_with(Default::default);
    let before = status.clone();
    edit(status);
    if *status == before {
        return Ok(());
    }
    let stored = api
        .replace_status(claim, &PostParams::default(), &current)
        .await?;
    let _ = ctx.state_mut().apply(stored);
    Ok(())
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn conditions_are_set_with_why_and_removed_when_no_longer_true() {
        let mut conds = vec![Condition::new(conditions::INITIALIZED, "True")];
        apply(
            &mut conds,
            &Wanted {
                consolidatable: true,
                drifted: Some("NodePool general changed its template".into()),
                last_pod_event: None,
            },
        );
        let drifted = conditions::find(&conds, conditions::DRIFTED).expect("drifted");
        assert_eq!(
            drifted.message.as_deref(),
            Some("NodePool general changed its template")
        );
        assert!(
            conditions::find(&conds, conditions::CONSOLIDATABLE).is_some_and(Condition::is_true)
        );
        apply(
            &mut conds,
            &Wanted {
                consolidatable: false,
                drifted: None,
                last_pod_event: None,
            },
        );
        let types: Vec<&str> = conds.iter().map(|c| c.type_.as_str()).collect();
        assert_eq!(
            types,
            [conditions::INITIALIZED],
            "the others' conditions stay"
        );
    }

    #[test]
    fn the_last_pod_event_is_recorded_once_it_lags_by_the_dedupe() {
        let at = |s: &str| -> Timestamp { s.parse().expect("timestamp") };
        let wanted = |t: &str| Wanted {
            consolidatable: false,
            drifted: None,
            last_pod_event: Some(at(t)),
        };
        let mut status = NodeClaimStatus::default();
        apply_status(&mut status, &wanted("2026-12-05T12:00:00Z"));
        assert_eq!(
            status.last_pod_event_time,
            Some(Time(at("2026-12-05T12:00:00Z"))),
            "none recorded: written"
        );
        apply_status(&mut status, &wanted("2026-12-05T12:00:09Z"));
        assert_eq!(
            status.last_pod_event_time,
            Some(Time(at("2026-12-05T12:00:00Z"))),
            "9 s later: within the dedupe, not written"
        );
        apply_status(&mut status, &wanted("2026-12-05T12:00:10Z"));
        assert_eq!(
            status.last_pod_event_time,
            Some(Time(at("2026-12-05T12:00:10Z"))),
            "10 s later: written"
        );
        let mut quiet = status.clone();
        apply_status(
            &mut quiet,
            &Wanted {
                last_pod_event: None,
                ..wanted("2026-12-05T12:00:10Z")
            },
        );
        assert_eq!(quiet, status, "nothing known: the record stays");
    }
}
