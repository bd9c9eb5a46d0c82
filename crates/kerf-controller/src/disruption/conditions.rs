//! The NodeClaim conditions disruption owns, as Karpenter v1 writes them:
//! `Consolidatable` (initialized and quiet for the pool's `consolidateAfter`),
//! `Drifted` (with why), and `DisruptionReason` on the claims a command
//! disrupts. Written only when they change, by a status replace at the
//! claim's resourceVersion, so no other writer's condition is lost.

use std::collections::BTreeMap;

use kerf_api::conditions::{self, Condition};
use kerf_api::v1::NodeClaim;
use kerf_core::disruption::{DisruptionInput, is_consolidatable};
use kube::Api;
use kube::api::PostParams;

use crate::context::Context;
use crate::status::{now, set_condition};

/// What the conditions of one node's claim should say.
#[derive(Clone, Debug, PartialEq)]
pub struct Wanted {
    pub consolidatable: bool,
    pub drifted: Option<String>,
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
            };
            (facts.name.clone(), wanted)
        })
        .collect()
}

/// Whether the claim's conditions already say what is wanted.
fn agrees(claim: &NodeClaim, wanted: &Wanted) -> bool {
    let conds = claim
        .status
        .as_ref()
        .map(|s| &s.conditions[..])
        .unwrap_or_default();
    let consolidatable =
        conditions::find(conds, conditions::CONSOLIDATABLE).is_some_and(Condition::is_true);
    let drifted = conditions::find(conds, conditions::DRIFTED)
        .filter(|c| c.is_true())
        .map(|c| c.message.clone().unwrap_or_default());
    consolidatable == wanted.consolidatable && drifted == wanted.drifted
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
        if let Err(e) = edit_conditions(ctx, &claim, |conds| apply(conds, &w)).await {
            tracing::debug!(%claim, error = %e, "writing disruption conditions; next round retries");
        }
    }
}

/// `DisruptionReason` on a claim a command disrupts.
pub async fn mark_disrupted(ctx: &Context, claim: &str, reason: &str) {
    let result = edit_conditions(ctx, claim, |conds| {
        set_condition(conds, conditions::DISRUPTION_REASON, reason, now());
    })
    .await;
    if let Err(e) = result {
        tracing::debug!(%claim, error = %e, "writing DisruptionReason");
    }
}

/// Reads the claim afresh, edits its conditions and replaces its status at
/// that resourceVersion (a conflict is left to the next round).
async fn edit_conditions(
    ctx: &Context,
    claim: &str,
    edit: impl Fn(&mut Vec<Condition>),
) -> kube::Result<()> {
    let api: Api<NodeClaim> = Api::all(ctx.client.clone());
    let Some(mut current) = api.get_opt(claim).await? else {
        return Ok(());
    };
    let status = current.status.get_or_insert_with(Default::default);
    let before = status.conditions.clone();
    edit(&mut status.conditions);
    if status.conditions == before {
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
            },
        );
        let types: Vec<&str> = conds.iter().map(|c| c.type_.as_str()).collect();
        assert_eq!(
            types,
            [conditions::INITIALIZED],
            "the others' conditions stay"
        );
    }
}
