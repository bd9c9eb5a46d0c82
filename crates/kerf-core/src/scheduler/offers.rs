//! A template's offerings with zones (with their zone IDs) and capacity types
//! interned, so that filtering them by a planned node's requirements is two
//! table lookups per offering instead of three string-set lookups. Each type's available offerings
//! are kept cheapest first (ties by zone, then capacity type, as
//! [`crate::instance_type::OfferingFilter::cheapest`]), so the first allowed
//! one is the cheapest.

use std::sync::Arc;

use crate::instance_type::{InstanceType, Offering, zone_id_allows};
use crate::requirements::Requirements;

#[derive(Clone, Copy)]
struct Offer {
    /// Zone and zone ID together.
    zone: u16,
    capacity_type: u16,
    /// Index into the instance type's `offerings`.
    index: u32,
}

pub(super) struct OfferIndex {
    zones: Vec<(String, Option<String>)>,
    capacity_types: Vec<String>,
    per_type: Vec<Vec<Offer>>,
}

/// Which interned zones (by name and ID) and capacity types a set of
/// requirements allows.
pub(super) struct OfferMask {
    zones: Vec<bool>,
    capacity_types: Vec<bool>,
}

fn intern(names: &mut Vec<String>, name: &str) -> u16 {
    match names.iter().position(|n| n == name) {
        Some(i) => i as u16,
        None => {
            names.push(name.to_string());
            (names.len() - 1) as u16
        }
    }
}

fn intern_zone(zones: &mut Vec<(String, Option<String>)>, o: &Offering) -> u16 {
    match zones
        .iter()
        .position(|(z, id)| *z == o.zone && *id == o.zone_id)
    {
        Some(i) => i as u16,
        None => {
            zones.push((o.zone.clone(), o.zone_id.clone()));
            (zones.len() - 1) as u16
        }
    }
}

impl OfferIndex {
    pub(super) fn new(types: &[Arc<InstanceType>]) -> Self {
        let (mut zones, mut capacity_types) = (Vec::new(), Vec::new());
        let per_type = types
            .iter()
            .map(|it| {
                let mut offers: Vec<(&Offering, Offer)> = it
                    .offerings
                    .iter()
                    .enumerate()
                    .filter(|(_, o)| o.available)
                    .map(|(i, o)| {
                        let offer = Offer {
                            zone: intern_zone(&mut zones, o),
                            capacity_type: intern(&mut capacity_types, &o.capacity_type),
                            index: i as u32,
                        };
                        (o, offer)
                    })
                    .collect();
                offers.sort_by(|(a, _), (b, _)| {
                    a.price
                        .total_cmp(&b.price)
                        .then_with(|| a.zone.cmp(&b.zone))
                        .then_with(|| a.capacity_type.cmp(&b.capacity_type))
                });
                offers.into_iter().map(|(_, o)| o).collect()
            })
            .collect();
        OfferIndex {
            zones,
            capacity_types,
            per_type,
        }
    }

    pub(super) fn mask(&self, requirements: &Requirements) -> OfferMask {
        let allowed = |names: &[String], key: &str| -> Vec<bool> {
            let r = requirements.get(key);
            names.iter().map(|n| r.is_none_or(|r| r.has(n))).collect()
        };
        let (zone, zone_id) = (
            requirements.get(kerf_api::labels::ZONE),
            requirements.get(kerf_api::labels::ZONE_ID),
        );
        OfferMask {
            zones: self
                .zones
                .iter()
                .map(|(name, id)| {
                    zone.is_none_or(|r| r.has(name)) && zone_id_allows(zone_id, id.as_deref())
                })
                .collect(),
            capacity_types: allowed(&self.capacity_types, kerf_api::labels::CAPACITY_TYPE),
        }
    }

    /// The cheapest offering of template type `t` the mask allows.
    pub(super) fn cheapest<'t>(
        &self,
        t: usize,
        it: &'t InstanceType,
        mask: &OfferMask,
    ) -> Option<&'t Offering> {
        self.per_type[t]
            .iter()
            .find(|o| mask.zones[o.zone as usize] && mask.capacity_types[o.capacity_type as usize])
            .map(|o| &it.offerings[o.index as usize])
    }

    pub(super) fn price(&self, t: usize, it: &InstanceType, mask: &OfferMask) -> f64 {
        self.cheapest(t, it, mask)
            .map_or(f64::INFINITY, |o| o.price)
    }
}
