//! The in-memory cloud's mutable state (instances, injected failures, learned
//! unavailability, recorded calls) and instance-type resolution with a cache
//! per kubelet settings.

use std::collections::{BTreeMap, BTreeSet};
use std::sync::Arc;

use kerf_api::v1::NodeClaim;
use kerf_core::instance_type::InstanceType;
use kerf_core::requirements::Requirement;
use kerf_core::template::KubeletSettings;

use super::parse_provider_id;
use crate::catalog::Catalog;
use crate::eks::EksOptions;
use crate::labels;
use crate::provider::{CloudError, OfferingKey, Result};
use crate::resolved::ResolvedTypes;

/// One recorded [`crate::provider::CloudProvider`] call.
#[derive(Clone, Debug, PartialEq, Eq)]
pub enum Call {
    InstanceTypes {
        node_class: Option<String>,
    },
    Create {
        claim: String,
    },
    Delete {
        claim: String,
        provider_id: Option<String>,
    },
    Get {
        provider_id: String,
    },
    List,
    IsDrifted {
        claim: String,
        provider_id: Option<String>,
    },
}

/// Where instance types come from.
pub(super) enum Source {
    Catalog {
        catalog: Catalog,
        options: EksOptions,
    },
    Fixed(Arc<Vec<Arc<InstanceType>>>),
}

#[derive(Default)]
pub(super) struct State {
    /// Last instance number handed out.
    pub next_id: u64,
    /// Running instances by instance number (so `list` is in launch order).
    pub instances: BTreeMap<u64, NodeClaim>,
    /// Injected: offerings the cloud has no capacity for.
    pub insufficient: BTreeSet<OfferingKey>,
    /// Learned: offerings a launch found without capacity.
    pub unavailable: BTreeSet<OfferingKey>,
    pub drifted: BTreeMap<String, String>,
    pub node_classes: BTreeMap<String, KubeletSettings>,
    pub next_create_error: Option<CloudError>,
    pub calls: Vec<Call>,
    types: ResolvedTypes,
}

impl State {
    pub fn instance(&self, provider_id: &str) -> Option<&NodeClaim> {
        let claim = self.instances.get(&parse_provider_id(provider_id)?)?;
        let stored = claim.status.as_ref().and_then(|s| s.provider_id.as_deref());
        (stored == Some(provider_id)).then_some(claim)
    }

    /// Instance types for these kubelet settings, all offerings available.
    pub fn base_types(
        &mut self,
        source: &Source,
        kubelet: &KubeletSettings,
    ) -> Result<Arc<Vec<Arc<InstanceType>>>> {
        let (catalog, options) = match source {
            Source::Fixed(types) => return Ok(types.clone()),
            Source::Catalog { catalog, options } => (catalog, options),
        };
        self.types.get(catalog, options, kubelet)
    }
}

/// The types with every offering in `unavailable` marked so (and their zone and
/// capacity-type requirements narrowed to what is still available).
pub fn with_availability(
    types: &[Arc<InstanceType>],
    unavailable: &BTreeSet<OfferingKey>,
) -> Vec<Arc<InstanceType>> {
    types
        .iter()
        .map(|it| {
            let hit = |o: &kerf_core::instance_type::Offering| {
                unavailable.contains(&OfferingKey::new(&it.name, &o.zone, &o.capacity_type))
            };
            if !it.offerings.iter().any(|o| o.available && hit(o)) {
                return it.clone();
            }
            let mut out = InstanceType::clone(it);
            for o in out.offerings.iter_mut().filter(|o| hit(o)) {
                o.available = false;
            }
            let available: Vec<_> = out.offerings.iter().filter(|o| o.available).collect();
            let zones =
                Requirement::in_values(labels::ZONE, available.iter().map(|o| o.zone.clone()));
            let capacity_types = Requirement::in_values(
                labels::CAPACITY_TYPE,
                available.iter().map(|o| o.capacity_type.clone()),
            );
            out.requirements.remove(labels::ZONE);
            out.requirements.remove(labels::CAPACITY_TYPE);
            out.requirements.add(zones);
            out.requirements.add(capacity_types);
            Arc::new(out)
        })
        .collect()
}
