//! Garbage collection, the same for every cloud: on a timer (leader only) it
//! reads what the cloud says it launched ([`CloudProvider::list`]) and the
//! NodeClaims in the cluster, asks the pure [`plan`] which instances no claim
//! accounts for and which claims lost their instance, then terminates the
//! first (through [`CloudProvider::delete`], which refuses anything the
//! provider did not launch) and deletes the second (their termination
//! finalizer then releases the Node).
//!
//! What a provider lists is only what it launched for this cluster: the AWS
//! provider filters on kerf's ownership tag, kwok on its provider-ID prefix,
//! so node groups and other autoscalers' machines are never candidates.

use kerf_kube::is_not_found;
use std::collections::BTreeSet;
use std::sync::Arc;
use std::time::Duration;

use k8s_openapi::jiff::Timestamp;
use kerf_api::conditions;
use kerf_api::v1::NodeClaim;
use kerf_cloud::provider::{claim_name, provider_id};
use kube::Api;

use crate::context::Context;

/// Karpenter's interval between collections.
pub const DEFAULT_INTERVAL: Duration = Duration::from_secs(120);
/// How old an unclaimed instance (or a claim's launch) must be before it is
/// collected: a launch in flight has no provider ID on its claim yet, and a
/// cloud's listing may lag a launch by seconds.
pub const DEFAULT_GRACE: Duration = Duration::from_secs(30);

/// One collection's decisions.
#[derive(Clone, Debug, Default, PartialEq)]
pub struct GcPlan {
    /// What the cloud launched that no claim accounts for, as the cloud lists it.
    pub terminate: Vec<NodeClaim>,
    /// Claims whose instance the cloud no longer has.
    pub delete_claims: Vec<String>,
}

/// When `claim` (as the cloud lists it) was launched, if the cloud says.
fn launched_at(claim: &NodeClaim) -> Option<Timestamp> {
    claim.metadata.creation_timestamp.as_ref().map(|t| t.0)
}

/// When the cluster's `claim` got its Launched condition.
fn launch_condition_at(claim: &NodeClaim) -> Option<Timestamp> {
    claim
        .status
        .as_ref()?
        .conditions
        .iter()
        .find(|c| c.type_ == conditions::LAUNCHED && c.status == conditions::STATUS_TRUE)?
        .last_transition_time
        .as_ref()
        .map(|t| t.0)
}

fn older_than(at: Option<Timestamp>, now: Timestamp, grace: Duration) -> bool {
    // What cannot be aged is taken as new: never collect on a guess.
    at.and_then(|at| now.duration_since(at).try_into().ok())
        .is_some_and(|age: Duration| age >= grace)
}

/// The collection over what the cloud lists (`cloud`) and the cluster's
/// claims (`cluster`):
/// - an instance is an orphan when no claim has its provider ID, no claim
///   still launching (no provider ID yet) bears its name, and it launched more
///   than `grace` ago;
/// - a claim is lost when it has a provider ID the cloud does not list, is not
///   already being deleted, and launched more than `grace` ago.
pub fn plan(cloud: &[NodeClaim], cluster: &[NodeClaim], now: Timestamp, grace: Duration) -> GcPlan {
    let claimed: BTreeSet<&str> = cluster.iter().filter_map(provider_id).collect();
    // Only a claim without a provider ID vouches by name: once it has one, any
    // other instance bearing its name is a leak (a fleet's extra instance).
    let launching: BTreeSet<&str> = cluster
        .iter()
        .filter(|c| provider_id(c).is_none())
        .map(claim_name)
        .collect();
    let mut terminate: Vec<NodeClaim> = cloud
        .iter()
        .filter(|i| provider_id(i).is_some_and(|p| !claimed.contains(p)))
        .filter(|i| !launching.contains(claim_name(i)))
        .filter(|i| older_than(launched_at(i), now, grace))
        .cloned()
        .collect();
    terminate.sort_by(|a, b| provider_id(a).cmp(&provider_id(b)));
    let listed: BTreeSet<&str> = cloud.iter().filter_map(provider_id).collect();
    let mut delete_claims: Vec<String> = cluster
        .iter()
        .filter(|c| c.metadata.deletion_timestamp.is_none())
        .filter(|c| provider_id(c).is_some_and(|p| !listed.contains(p)))
        .filter(|c| older_than(launch_condition_at(c), now, grace))
        .map(|c| claim_name(c).to_string())
        .collect();
    delete_claims.sort();
    GcPlan {
        terminate,
        delete_claims,
    }
}

/// Collects every `interval` while this replica is active.
pub async fn run(ctx: Arc<Context>, interval: Duration, grace: Duration) {
    tracing::info!(?interval, ?grace, "garbage collection on");
    let mut tick = tokio::time::interval(interval);
    tick.set_missed_tick_behavior(tokio::time::MissedTickBehavior::Delay);
    loop {
        tick.tick().await;
        if ctx.is_active() {
            collect_once(&ctx, grace).await;
        }
    }
}

/// One collection: list, plan, act. Failures are logged; the next tick retries.
pub async fn collect_once(ctx: &Context, grace: Duration) -> GcPlan {
    // The cluster first: an instance launched after this read is younger than the grace.
    let cluster: Vec<NodeClaim> = ctx
        .state()
        .objects::<NodeClaim>()
        .map(|(_, c)| c.clone())
        .collect();
    let cloud = match ctx.cloud.list().await {
        Ok(cloud) => cloud,
        Err(e) => {
            tracing::warn!(error = %e, "garbage collection: listing the cloud's instances");
            return GcPlan::default();
        }
    };
    let plan = plan(&cloud, &cluster, Timestamp::now(), grace);
    for orphan in &plan.terminate {
        let id = provider_id(orphan).unwrap_or_default();
        tracing::info!(instance = %id, "terminating an instance no NodeClaim knows");
        match ctx.cloud.delete(orphan).await {
            Ok(()) => {
                ctx.metrics.garbage_collected.inc();
            }
            Err(e) => tracing::warn!(instance = %id, error = %e, "garbage collection: terminating"),
        }
    }
    let api: Api<NodeClaim> = Api::all(ctx.client.clone());
    for name in &plan.delete_claims {
        match api.delete(name, &Default::default()).await {
            Ok(_) => tracing::info!(claim = %name, "deleting a NodeClaim whose instance is gone"),
            Err(e) if is_not_found(&e) => {}
            Err(e) => {
                tracing::warn!(claim = %name, error = %e, "garbage collection: deleting NodeClaim")
            }
        }
    }
    plan
}

#[cfg(test)]
mod tests {
    use k8s_openapi::apimachinery::pkg::apis::meta::v1::Time;
    use kerf_api::conditions::Condition;
    use kerf_api::v1::NodeClaimStatus;

    use super::*;

    fn at(secs: i64) -> Timestamp {
        Timestamp::from_second(secs).unwrap()
    }

    const NOW: i64 = 1_000_000;

    /// An instance as the cloud lists it, launched `age` seconds ago.
    fn listed(name: &str, pid: &str, age: Option<i64>) -> NodeClaim {
        let mut c = NodeClaim::new(name, Default::default());
        c.metadata.creation_timestamp = age.map(|a| Time(at(NOW - a)));
        c.status = Some(NodeClaimStatus {
            provider_id: Some(pid.into()),
            ..Default::default()
        });
        c
    }

    /// A claim in the cluster, launched `age` seconds ago (None: not launched).
    fn claim(name: &str, pid: Option<&str>, age: i64) -> NodeClaim {
        let mut c = NodeClaim::new(name, Default::default());
        c.status = Some(NodeClaimStatus {
            provider_id: pid.map(str::to_string),
            conditions: pid
                .map(|_| Condition {
                    last_transition_time: Some(Time(at(NOW - age))),
                    ..Condition::new(conditions::LAUNCHED, conditions::STATUS_TRUE)
                })
                .into_iter()
                .collect(),
            ..Default::default()
        });
        c
    }

    fn pids(claims: &[NodeClaim]) -> Vec<&str> {
        claims.iter().filter_map(provider_id).collect()
    }

    #[test]
    fn old_unclaimed_instances_are_orphans_and_launches_in_flight_are_not() {
        let cloud = [
            listed("c-claimed", "p://claimed", Some(600)),
            listed("c-orphan", "p://orphan", Some(600)),
            listed("c-young", "p://young", Some(5)),
            listed("c-unaged", "p://unaged", None),
            // Launched for a claim that has no provider ID yet.
            listed("c-launching", "p://launching", Some(600)),
            // A second instance for a claim that already has one.
            listed("c-claimed", "p://extra", Some(600)),
        ];
        let cluster = [
            claim("c-claimed", Some("p://claimed"), 600),
            claim("c-launching", None, 0),
        ];
        let p = plan(&cloud, &cluster, at(NOW), DEFAULT_GRACE);
        assert_eq!(pids(&p.terminate), ["p://extra", "p://orphan"]);
        assert!(p.delete_claims.is_empty());
    }

    #[test]
    fn claims_whose_instance_is_gone_are_deleted_after_the_grace() {
        let cloud = [listed("c-here", "p://here", Some(600))];
        let mut deleting = claim("c-deleting", Some("p://gone-too"), 600);
        deleting.metadata.deletion_timestamp = Some(Time(at(NOW)));
        let cluster = [
            claim("c-here", Some("p://here"), 600),
            claim("c-vanished", Some("p://vanished"), 600),
            claim("c-just-launched", Some("p://not-listed-yet"), 3),
            deleting,
            claim("c-unlaunched", None, 0),
        ];
        let p = plan(&cloud, &cluster, at(NOW), DEFAULT_GRACE);
        assert_eq!(p.delete_claims, ["c-vanished"]);
        assert!(p.terminate.is_empty());
    }
}
