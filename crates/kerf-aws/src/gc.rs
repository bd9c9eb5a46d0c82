//! Garbage collection. Pure decisions over what EC2 and the cluster say:
//! instances tagged `kubernetes.io/cluster/<cluster>: owned` that no NodeClaim
//! knows, older than a grace period (a launch in flight has no claim status
//! yet), are orphans to terminate; claims whose instance is gone are to be
//! deleted ([`plan`] makes both decisions). [`collect_orphans`] applies the
//! first through the SDK.

use std::collections::BTreeSet;
use std::time::{Duration, SystemTime};

use kerf_cloud::provider::Result;

use crate::interruption::ClaimRef;
use crate::provider::AwsCloudProvider;
use crate::provider::instances::{self, InstanceInfo, NODECLAIM_TAG, Query};

/// Karpenter waits this long before collecting an unclaimed instance.
pub const DEFAULT_GRACE: Duration = Duration::from_secs(30);

/// Ids of live instances no claim knows (by provider ID) that launched more than `grace` ago.
pub fn orphans(
    instances: &[InstanceInfo],
    claimed_provider_ids: &BTreeSet<String>,
    now: SystemTime,
    grace: Duration,
) -> Vec<String> {
    let mut out: Vec<String> = instances
        .iter()
        .filter(|i| i.is_live())
        .filter(|i| !claimed_provider_ids.contains(&i.provider_id()))
        .filter(|i| {
            // Without a launch time the instance is treated as new: never collect what we cannot age.
            i.launch_time
                .and_then(|t| now.duration_since(t).ok())
                .is_some_and(|age| age >= grace)
        })
        .map(|i| i.id.clone())
        .collect();
    out.sort();
    out
}

/// Provider IDs of claims whose instance is no longer live.
pub fn claims_without_instances(
    claimed_provider_ids: &BTreeSet<String>,
    instances: &[InstanceInfo],
) -> Vec<String> {
    let live: BTreeSet<String> = instances
        .iter()
        .filter(|i| i.is_live())
        .map(InstanceInfo::provider_id)
        .collect();
    claimed_provider_ids.difference(&live).cloned().collect()
}

/// One garbage-collection pass's decisions.
#[derive(Clone, Debug, Default, PartialEq, Eq)]
pub struct GcPlan {
    /// Instance ids to terminate.
    pub terminate: Vec<String>,
    /// NodeClaim names to delete.
    pub delete_claims: Vec<String>,
}

/// The pass over the cluster's instances and claims: orphans are live
/// instances older than `grace` that neither a claim's provider ID nor the
/// `karpenter.sh/nodeclaim` tag of a claim still launching (no provider ID
/// written yet) accounts for; claims with a provider ID whose instance is
/// not live are deleted, unless already deleting.
pub fn plan(
    instances: &[InstanceInfo],
    claims: &[ClaimRef],
    now: SystemTime,
    grace: Duration,
) -> GcPlan {
    // Only a claim without a provider ID yet vouches for instances by tag:
    // once it has one, any other instance carrying its name is a leak.
    let names: BTreeSet<&str> = claims
        .iter()
        .filter(|c| c.provider_id.is_none())
        .map(|c| c.name.as_str())
        .collect();
    let mut claimed: BTreeSet<String> = claims
        .iter()
        .filter_map(|c| c.provider_id.clone())
        .collect();
    claimed.extend(
        instances
            .iter()
            .filter(|i| {
                i.tags
                    .get(NODECLAIM_TAG)
                    .is_some_and(|n| names.contains(n.as_str()))
            })
            .map(InstanceInfo::provider_id),
    );
    let with_ids: BTreeSet<String> = claims
        .iter()
        .filter(|c| !c.deleting)
        .filter_map(|c| c.provider_id.clone())
        .collect();
    let gone = claims_without_instances(&with_ids, instances);
    let mut delete_claims: Vec<String> = claims
        .iter()
        .filter(|c| c.provider_id.as_ref().is_some_and(|p| gone.contains(p)))
        .map(|c| c.name.clone())
        .collect();
    delete_claims.sort();
    GcPlan {
        terminate: orphans(instances, &claimed, now, grace),
        delete_claims,
    }
}

/// Lists the cluster's instances, terminates the orphans and returns their ids.
pub async fn collect_orphans(
    provider: &AwsCloudProvider,
    claimed_provider_ids: &BTreeSet<String>,
    now: SystemTime,
    grace: Duration,
) -> Result<Vec<String>> {
    let found = instances::describe(provider, Query::Cluster).await?;
    let ids = orphans(&found, claimed_provider_ids, now, grace);
    if !ids.is_empty() {
        tracing::info!(instances = ?ids, "terminating instances no NodeClaim knows");
        provider.terminate(&ids).await?;
    }
    Ok(ids)
}

#[cfg(test)]
mod tests {
    use super::*;

    fn instance(id: &str, state: &str, age_secs: u64, now: SystemTime) -> InstanceInfo {
        InstanceInfo {
            id: id.into(),
            instance_type: "m5.large".into(),
            zone: "us-east-1a".into(),
            state: state.into(),
            capacity_type: "on-demand".into(),
            image_id: None,
            subnet_id: None,
            security_group_ids: vec![],
            launch_time: Some(now - Duration::from_secs(age_secs)),
            tags: Default::default(),
        }
    }

    #[test]
    fn unclaimed_old_live_instances_are_orphans() {
        let now = SystemTime::UNIX_EPOCH + Duration::from_secs(1_000_000);
        let found = [
            instance("i-claimed", "running", 600, now),
            instance("i-orphan", "running", 600, now),
            instance("i-young", "pending", 5, now),
            instance("i-gone", "terminated", 600, now),
        ];
        let claimed = BTreeSet::from([
            "aws:///us-east-1a/i-claimed".to_string(),
            "aws:///us-east-1a/i-lost".to_string(),
        ]);
        assert_eq!(orphans(&found, &claimed, now, DEFAULT_GRACE), ["i-orphan"]);
        assert_eq!(
            claims_without_instances(&claimed, &found),
            ["aws:///us-east-1a/i-lost"]
        );
    }

    #[test]
    fn a_plan_spares_launches_in_flight_and_deletes_claims_of_lost_instances() {
        let now = SystemTime::UNIX_EPOCH + Duration::from_secs(1_000_000);
        let mut in_flight = instance("i-inflight", "running", 600, now);
        in_flight.tags.insert(NODECLAIM_TAG.into(), "c-new".into());
        let mut stale_tag = instance("i-stale", "running", 600, now);
        stale_tag
            .tags
            .insert(NODECLAIM_TAG.into(), "c-long-gone".into());
        // A second instance for a launched claim (a fleet extra): not vouched for.
        let mut extra = instance("i-extra", "running", 600, now);
        extra.tags.insert(NODECLAIM_TAG.into(), "c-claimed".into());
        let found = [
            instance("i-claimed", "running", 600, now),
            in_flight,
            stale_tag,
            extra,
            instance("i-dead", "terminated", 600, now),
        ];
        let claim = |name: &str, id: Option<&str>, deleting: bool| ClaimRef {
            name: name.into(),
            provider_id: id.map(|i| format!("aws:///us-east-1a/{i}")),
            deleting,
            ..Default::default()
        };
        let claims = [
            claim("c-claimed", Some("i-claimed"), false),
            claim("c-new", None, false),
            claim("c-dead", Some("i-dead"), false),
            claim("c-vanished", Some("i-vanished"), false),
            claim("c-terminating", Some("i-gone-too"), true),
        ];
        let p = plan(&found, &claims, now, DEFAULT_GRACE);
        assert_eq!(p.terminate, ["i-extra", "i-stale"]);
        assert_eq!(p.delete_claims, ["c-dead", "c-vanished"]);
    }
}
