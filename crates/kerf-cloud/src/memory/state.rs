//! The in-memory cloud's mutable state (instances, injected failures, learned
//! unavailability, recorded calls) and instance-type resolution with a cache
//! per kubelet settings.

use std::collections::{BTreeMap, BTreeSet};
use std::sync::Arc;

use kerf_api::v1::NodeClaim;
use kerf_core::instance_type::InstanceType;
use kerf_core::template::KubeletSettings;

use super::parse_provider_id;
use crate::catalog::Catalog;
use crate::eks::EksOptions;
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
