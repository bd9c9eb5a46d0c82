//! The launch choice every provider shares: given a claim's requirements (which
//! list candidate types as `node.kubernetes.io/instance-type In [...]` and pin
//! zones and capacity types) and its resource requests, pick the cheapest
//! available offering among the instance types that satisfy them, skipping
//! offerings the provider has marked unavailable. At equal price spot wins.

use std::cmp::Ordering;
use std::collections::BTreeMap;

use kerf_api::v1::NodeClaim;
use kerf_core::instance_type::{CAPACITY_TYPE_SPOT, InstanceType, Offering};
use kerf_core::requirements::Requirements;
use kerf_core::resources::Resources;

use super::error::OfferingKey;

/// The instance type and offering to launch.
#[derive(Clone, Copy, Debug)]
pub struct LaunchChoice<'a> {
    pub instance_type: &'a InstanceType,
    pub offering: &'a Offering,
    /// The claim's requirements the choice was made under.
    pub requirements: &'a Requirements,
}

impl LaunchChoice<'_> {
    /// The labels a node launched for `claim` with this choice carries: the
    /// claim's, the instance type's, the zone (and its ID, when the offering
    /// has one) and the capacity type. Where the
    /// type offers a choice (OS, tenancy) a value the claim's labels already
    /// name (the plan's) stands; otherwise the type's launch default.
    pub fn node_labels(&self, claim: &NodeClaim) -> BTreeMap<String, String> {
        let it = self.instance_type;
        let mut out = claim.metadata.labels.clone().unwrap_or_default();
        out.extend(it.labels.clone());
        for (key, _) in kerf_api::labels::LAUNCH_DEFAULTS {
            if let Some(value) = it.launch_value(key, self.requirements) {
                out.entry(key.to_string()).or_insert(value);
            }
        }
        out.insert(
            kerf_api::labels::ZONE.to_string(),
            self.offering.zone.clone(),
        );
        if let Some(id) = &self.offering.zone_id {
            out.insert(kerf_api::labels::ZONE_ID.to_string(), id.clone());
        }
        out.insert(
            kerf_api::labels::CAPACITY_TYPE.to_string(),
            self.offering.capacity_type.clone(),
        );
        out
    }

    pub fn key(&self) -> OfferingKey {
        OfferingKey::new(
            &self.instance_type.name,
            &self.offering.zone,
            &self.offering.capacity_type,
        )
    }
}

/// Why no offering could be chosen.
#[derive(Clone, Debug, PartialEq, Eq)]
pub enum NoLaunch {
    /// No instance type satisfies the requirements and fits the requests.
    NoCompatibleType,
    /// Compatible types exist, but every offering the requirements allow is
    /// unavailable; these are the ones skipped.
    AllUnavailable(Vec<OfferingKey>),
}

/// Whether the requirements allow the type and its allocatable holds `requests`.
pub fn is_compatible(
    requirements: &Requirements,
    requests: &Resources,
    instance_type: &InstanceType,
) -> bool {
    requirements.intersects(&instance_type.requirements).is_ok()
        && requests.fits_in(instance_type.allocatable())
}

/// The cheapest offering to launch, or why there is none.
pub fn choose_launch<'a>(
    requirements: &'a Requirements,
    requests: &Resources,
    instance_types: impl IntoIterator<Item = &'a InstanceType>,
    is_unavailable: impl Fn(&OfferingKey) -> bool,
) -> Result<LaunchChoice<'a>, NoLaunch> {
    let mut best: Option<LaunchChoice<'a>> = None;
    let mut skipped = Vec::new();
    let mut any_type = false;
    for it in instance_types
        .into_iter()
        .filter(|it| is_compatible(requirements, requests, it))
    {
        any_type = true;
        for offering in it.offerings_for(requirements) {
            let choice = LaunchChoice {
                instance_type: it,
                offering,
                requirements,
            };
            if is_unavailable(&choice.key()) {
                skipped.push(choice.key());
                continue;
            }
            if best.is_none_or(|b| compare(&choice, &b).is_lt()) {
                best = Some(choice);
            }
        }
    }
    match best {
        Some(choice) => Ok(choice),
        None if any_type => {
            skipped.sort();
            Err(NoLaunch::AllUnavailable(skipped))
        }
        None => Err(NoLaunch::NoCompatibleType),
    }
}

/// Cheaper first; at equal price spot before other capacity types, then by
/// type name and zone so the choice is deterministic.
fn compare(a: &LaunchChoice<'_>, b: &LaunchChoice<'_>) -> Ordering {
    let not_spot = |c: &LaunchChoice<'_>| c.offering.capacity_type != CAPACITY_TYPE_SPOT;
    a.offering
        .price
        .total_cmp(&b.offering.price)
        .then_with(|| not_spot(a).cmp(&not_spot(b)))
        .then_with(|| a.instance_type.name.cmp(&b.instance_type.name))
        .then_with(|| a.offering.zone.cmp(&b.offering.zone))
        .then_with(|| a.offering.capacity_type.cmp(&b.offering.capacity_type))
}

#[cfg(test)]
mod tests {
    use kerf_core::requirements::Requirement;

    use super::*;
    use crate::fake::fake_instance_types;
    use crate::labels;

    fn reqs(list: &[(&str, &[&str])]) -> Requirements {
        list.iter()
            .map(|(k, v)| Requirement::in_values(k, v.iter().copied()))
            .collect()
    }

    #[test]
    fn cheapest_compatible_type_and_offering() {
        let types = fake_instance_types(10);
        let r = reqs(&[(
            labels::INSTANCE_TYPE,
            &["fake-it-3", "fake-it-2", "fake-it-5"],
        )]);
        let c = choose_launch(&r, &Resources::default(), &types, |_| false).expect("a choice");
        assert_eq!(c.instance_type.name, "fake-it-2");
        assert_eq!(
            (c.offering.zone.as_str(), c.offering.capacity_type.as_str()),
            ("test-zone-1", "spot"),
            "spot at equal price"
        );
        // Requests that do not fit fake-it-2 (2 cpu − 100m) move the choice up.
        let big = Resources::new(2_500, 0, 1);
        assert_eq!(
            choose_launch(&r, &big, &types, |_| false)
                .expect("fits")
                .instance_type
                .name,
            "fake-it-3"
        );
    }

    #[test]
    fn requirements_pin_zone_and_capacity_type() {
        let types = fake_instance_types(3);
        let r = reqs(&[
            (labels::ZONE, &["test-zone-3"]),
            (labels::CAPACITY_TYPE, &["spot", "on-demand"]),
        ]);
        let c = choose_launch(&r, &Resources::default(), &types, |_| false).expect("a choice");
        assert_eq!(
            (c.instance_type.name.as_str(), c.offering.zone.as_str()),
            ("fake-it-1", "test-zone-3")
        );
        assert_eq!(c.offering.capacity_type, "on-demand", "no spot in zone 3");
    }

    #[test]
    fn skips_unavailable_and_reports_them() {
        let types = fake_instance_types(2);
        let r = reqs(&[
            (labels::INSTANCE_TYPE, &["fake-it-1"]),
            (labels::CAPACITY_TYPE, &["spot"]),
        ]);
        let c = choose_launch(&r, &Resources::default(), &types, |k| {
            k.zone == "test-zone-1"
        })
        .expect("zone 2");
        assert_eq!(c.offering.zone, "test-zone-2");
        let err = choose_launch(&r, &Resources::default(), &types, |_| true)
            .expect_err("all unavailable");
        assert_eq!(
            err,
            NoLaunch::AllUnavailable(vec![
                OfferingKey::new("fake-it-1", "test-zone-1", "spot"),
                OfferingKey::new("fake-it-1", "test-zone-2", "spot"),
            ])
        );
        let none = reqs(&[(labels::INSTANCE_TYPE, &["m5.large"])]);
        assert_eq!(
            choose_launch(&none, &Resources::default(), &types, |_| false).expect_err("none"),
            NoLaunch::NoCompatibleType
        );
    }
}
