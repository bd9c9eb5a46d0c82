//! Garbage collection. Pure decisions over what EC2 and the cluster say:
//! instances tagged `kubernetes.io/cluster/<cluster>: owned` that no NodeClaim
//! knows, older than a grace period (a launch in flight has no claim status
//! yet), are orphans to terminate; claims whose instance is gone are to be
//! deleted. [`collect_orphans`] applies the first through the SDK.

use std::collections::BTreeSet;
use std::time::{Duration, SystemTime};

use kerf_cloud::provider::Result;

use crate::provider::AwsCloudProvider;
use crate::provider::instances::{self, InstanceInfo, Query};

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
}
