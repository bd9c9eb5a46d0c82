//! What a cloud can launch: instance types with their capacity, the overhead
//! the kubelet and OS keep back, their labels, and their offerings (zone ×
//! capacity type × price). Cloud providers produce these; the scheduler only
//! reads them.

use std::collections::BTreeMap;

use serde::{Deserialize, Serialize};

use crate::requirements::{Requirement, Requirements};
use crate::resources::Resources;

pub const CAPACITY_TYPE_SPOT: &str = "spot";
pub const CAPACITY_TYPE_ON_DEMAND: &str = "on-demand";
pub const CAPACITY_TYPE_RESERVED: &str = "reserved";

/// One place and purchase option an instance type can be launched with.
#[derive(Clone, Debug, PartialEq, Serialize, Deserialize)]
pub struct Offering {
    pub zone: String,
    pub capacity_type: String,
    /// US dollars per hour.
    pub price: f64,
    pub available: bool,
}

/// Resources a node keeps back from pods.
#[derive(Clone, Debug, Default, PartialEq, Eq, Serialize, Deserialize)]
pub struct Overhead {
    pub kube_reserved: Resources,
    pub system_reserved: Resources,
    pub eviction_threshold: Resources,
}

impl Overhead {
    pub fn total(&self) -> Resources {
        self.kube_reserved
            .plus(&self.system_reserved)
            .plus(&self.eviction_threshold)
    }
}

/// A launchable machine shape, already resolved for one node template (its
/// kubelet settings decide max pods and reservations, so overhead is per template).
#[derive(Clone, Debug, PartialEq, Serialize, Deserialize)]
pub struct InstanceType {
    pub name: String,
    /// Single-valued labels every node of this type carries (arch, os, family, size, ...).
    pub labels: BTreeMap<String, String>,
    /// Labels plus `zone In [...]` and `capacity-type In [...]` over available offerings.
    pub requirements: Requirements,
    pub capacity: Resources,
    pub overhead: Overhead,
    pub offerings: Vec<Offering>,
    /// `capacity − overhead`, computed once.
    allocatable: Resources,
}

impl InstanceType {
    pub fn new(
        name: impl Into<String>,
        mut labels: BTreeMap<String, String>,
        capacity: Resources,
        overhead: Overhead,
        offerings: Vec<Offering>,
    ) -> Self {
        let name = name.into();
        labels.insert(kerf_api::labels::INSTANCE_TYPE.to_string(), name.clone());
        let mut requirements = Requirements::from_labels(&labels);
        let available = offerings.iter().filter(|o| o.available);
        requirements.add(Requirement::in_values(
            kerf_api::labels::ZONE,
            available.clone().map(|o| o.zone.clone()),
        ));
        requirements.add(Requirement::in_values(
            kerf_api::labels::CAPACITY_TYPE,
            available.map(|o| o.capacity_type.clone()),
        ));
        let allocatable = capacity.minus(&overhead.total()).clamp_non_negative();
        InstanceType {
            name,
            labels,
            requirements,
            capacity,
            overhead,
            offerings,
            allocatable,
        }
    }

    /// What pods can use on a node of this type.
    pub fn allocatable(&self) -> &Resources {
        &self.allocatable
    }

    /// Available offerings whose zone and capacity type the requirements allow.
    pub fn offerings_for<'a>(
        &'a self,
        requirements: &'a Requirements,
    ) -> impl Iterator<Item = &'a Offering> + 'a {
        let filter = OfferingFilter::new(requirements);
        self.offerings.iter().filter(move |o| filter.allows(o))
    }

    /// The cheapest available offering the requirements allow. Ties go to the
    /// first zone alphabetically so results are deterministic.
    pub fn cheapest_offering(&self, requirements: &Requirements) -> Option<&Offering> {
        OfferingFilter::new(requirements).cheapest(self)
    }
}

/// The zone and capacity-type requirements, looked up once and applied to
/// many instance types' offerings.
#[derive(Clone, Copy)]
pub struct OfferingFilter<'r> {
    zone: Option<&'r Requirement>,
    capacity_type: Option<&'r Requirement>,
}

impl<'r> OfferingFilter<'r> {
    pub fn new(requirements: &'r Requirements) -> Self {
        OfferingFilter {
            zone: requirements.get(kerf_api::labels::ZONE),
            capacity_type: requirements.get(kerf_api::labels::CAPACITY_TYPE),
        }
    }

    pub fn allows(&self, o: &Offering) -> bool {
        o.available
            && self.zone.is_none_or(|r| r.has(&o.zone))
            && self.capacity_type.is_none_or(|r| r.has(&o.capacity_type))
    }

    pub fn any(&self, it: &InstanceType) -> bool {
        it.offerings.iter().any(|o| self.allows(o))
    }

    pub fn cheapest<'t>(&self, it: &'t InstanceType) -> Option<&'t Offering> {
        let mut best: Option<&Offering> = None;
        for o in it.offerings.iter().filter(|o| self.allows(o)) {
            let better = best.is_none_or(|b| {
                o.price
                    .total_cmp(&b.price)
                    .then_with(|| o.zone.cmp(&b.zone))
                    .then_with(|| o.capacity_type.cmp(&b.capacity_type))
                    .is_lt()
            });
            if better {
                best = Some(o);
            }
        }
        best
    }
}
