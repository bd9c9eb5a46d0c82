//! The in-memory cloud's mutable state (instances, injected failures, learned
//! unavailability, recorded calls) and instance-type resolution through the
//! shared cache.

use std::collections::{BTreeMap, BTreeSet};

use kerf_api::v1::NodeClaim;
use kerf_core::template::KubeletSettings;

use super::parse_provider_id;
use crate::catalog::Catalog;
use crate::eks::EksOptions;
use crate::provider::{CloudError, OfferingKey, Result};
use crate::resolved::{InstanceTypeCache, TypeList};
use crate::unavailable::UnavailableOfferings;

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
    Fixed(TypeList),
}

#[derive(Default)]
pub(super) struct State {
    /// Last instance number handed out.
    pub next_id: u64,
    /// Running instances by instance number (so `list` is in launch order).
    pub instances: BTreeMap<u64, NodeClaim>,
    /// Injected: offerings the cloud has no capacity for.
    pub insufficient: BTreeSet<OfferingKey>,
    /// Learned: offerings a launch found without capacity, read at the
    /// cloud's frozen `now` so they stay until cleared.
    pub unavailable: UnavailableOfferings,
    pub drifted: BTreeMap<String, String>,
    pub node_classes: BTreeMap<String, KubeletSettings>,
    pub next_create_error: Option<CloudError>,
    pub calls: Vec<Call>,
    types: InstanceTypeCache,
}

impl State {
    pub fn instance(&self, provider_id: &str) -> Option<&NodeClaim> {
        let claim = self.instances.get(&parse_provider_id(provider_id)?)?;
        let stored = claim.status.as_ref().and_then(|s| s.provider_id.as_deref());
        (stored == Some(provider_id)).then_some(claim)
    }

    /// Instance types for these kubelet settings, all offerings available.
    pub fn base_types(&mut self, source: &Source, kubelet: &KubeletSettings) -> Result<TypeList> {
        let (catalog, options) = match source {
            Source::Fixed(types) => return Ok(types.clone()),
            Source::Catalog { catalog, options } => (catalog, options),
        };
        self.types.catalog_types(catalog, options, kubelet)
    }
}
