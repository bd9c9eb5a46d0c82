//! After a spot interruption the offering it ran on is short of capacity:
//! which offering that is (pure), and marking it unavailable on the provider.

use kerf_cloud::OfferingKey;
use kerf_cloud::provider::Result;
use kerf_core::instance_type::CAPACITY_TYPE_SPOT;

use super::InterruptionEvent;
use crate::provider::AwsCloudProvider;
use crate::provider::instances::{self, InstanceInfo, Query};

/// The spot offerings a spot interruption warning says are being reclaimed.
pub fn interrupted_offerings(
    event: &InterruptionEvent,
    instances: &[InstanceInfo],
) -> Vec<OfferingKey> {
    let InterruptionEvent::SpotInterruption { instance_id, .. } = event else {
        return vec![];
    };
    instances
        .iter()
        .filter(|i| &i.id == instance_id && i.capacity_type == CAPACITY_TYPE_SPOT)
        .map(|i| OfferingKey::new(&i.instance_type, &i.zone, CAPACITY_TYPE_SPOT))
        .collect()
}

/// Marks the offering of an interrupted spot instance unavailable; returns what was marked.
pub async fn mark_interrupted(
    provider: &AwsCloudProvider,
    event: &InterruptionEvent,
) -> Result<Vec<OfferingKey>> {
    if !matches!(event, InterruptionEvent::SpotInterruption { .. }) {
        return Ok(vec![]);
    }
    let ids = event
        .instance_ids()
        .into_iter()
        .map(str::to_string)
        .collect();
    let found = instances::describe(provider, Query::Ids(ids)).await?;
    let keys = interrupted_offerings(event, &found);
    for k in &keys {
        provider.mark_offering_unavailable(k.clone());
    }
    Ok(keys)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn only_spot_interruptions_of_spot_instances_mark_offerings() {
        let instance = |id: &str, capacity: &str| InstanceInfo {
            id: id.into(),
            instance_type: "m5.large".into(),
            zone: "us-east-1b".into(),
            state: "running".into(),
            capacity_type: capacity.into(),
            image_id: None,
            subnet_id: None,
            security_group_ids: vec![],
            launch_time: None,
            tags: Default::default(),
        };
        let found = [instance("i-spot", "spot"), instance("i-od", "on-demand")];
        let warn = |id: &str| InterruptionEvent::SpotInterruption {
            instance_id: id.into(),
            zone: None,
            action: "terminate".into(),
        };
        assert_eq!(
            interrupted_offerings(&warn("i-spot"), &found),
            [OfferingKey::new("m5.large", "us-east-1b", "spot")]
        );
        assert!(interrupted_offerings(&warn("i-od"), &found).is_empty());
        let rebalance = InterruptionEvent::RebalanceRecommendation {
            instance_id: "i-spot".into(),
        };
        assert!(interrupted_offerings(&rebalance, &found).is_empty());
    }
}
