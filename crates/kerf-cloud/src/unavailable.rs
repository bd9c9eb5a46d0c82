//! Offerings a cloud recently had no capacity for, as Karpenter's ICE cache
//! keeps them: each entry expires after a TTL (3 minutes by default) measured
//! on the time the caller passes in, so the next solve routes around the
//! offering and later tries it again. Every provider keeps one: the AWS
//! provider on its injected clock, kwok on the wall clock, and the in-memory
//! cloud on a clock that never moves (its entries last until cleared).
use std::collections::BTreeMap;
use std::sync::Arc;
use std::time::{Duration, Instant};

use kerf_core::instance_type::InstanceType;
use kerf_core::requirements::Requirement;

use crate::OfferingKey;
use crate::labels;

/// Karpenter's `UnavailableOfferingsTTL`.
pub const DEFAULT_UNAVAILABLE_TTL: Duration = Duration::from_secs(180);

#[derive(Clone, Debug)]
pub struct UnavailableOfferings {
    ttl: Duration,
    until: BTreeMap<OfferingKey, Instant>,
}

impl Default for UnavailableOfferings {
    fn default() -> Self {
        UnavailableOfferings::new(DEFAULT_UNAVAILABLE_TTL)
    }
}

impl UnavailableOfferings {
    pub fn new(ttl: Duration) -> Self {
        UnavailableOfferings {
            ttl,
            until: BTreeMap::new(),
        }
    }

    /// Marks the offering unavailable from `now` for the TTL (extending an existing entry).
    pub fn mark(&mut self, key: OfferingKey, now: Instant) {
        self.until.insert(key, now + self.ttl);
    }

    pub fn is_unavailable(&self, key: &OfferingKey, now: Instant) -> bool {
        self.until.get(key).is_some_and(|until| now < *until)
    }

    /// The types with the offerings unavailable at `now` marked so
    /// ([`with_availability`]); expired entries are dropped first.
    pub fn apply(&mut self, types: &[Arc<InstanceType>], now: Instant) -> Vec<Arc<InstanceType>> {
        self.until.retain(|_, until| now < *until);
        with_availability(types, |k| self.until.contains_key(k))
    }

    /// Forgets every entry, expired or not.
    pub fn clear(&mut self) {
        self.until.clear();
    }

    /// Drops expired entries and returns the live ones, sorted.
    pub fn live(&mut self, now: Instant) -> Vec<OfferingKey> {
        self.until.retain(|_, until| now < *until);
        self.until.keys().cloned().collect()
    }
}

/// The types with every offering `is_unavailable` names marked so (and their
/// zone, zone-ID and capacity-type requirements narrowed to what is still available);
/// types with no such offering are shared, not copied.
pub fn with_availability(
    types: &[Arc<InstanceType>],
    is_unavailable: impl Fn(&OfferingKey) -> bool,
) -> Vec<Arc<InstanceType>> {
    types
        .iter()
        .map(|it| {
            let hit = |o: &kerf_core::instance_type::Offering| {
                is_unavailable(&OfferingKey::new(&it.name, &o.zone, &o.capacity_type))
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
            if out.requirements.has(labels::ZONE_ID) {
                out.requirements.remove(labels::ZONE_ID);
                out.requirements.add(Requirement::in_values(
                    labels::ZONE_ID,
                    available.iter().filter_map(|o| o.zone_id.clone()),
                ));
            }
            Arc::new(out)
        })
        .collect()
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn entries_expire_after_the_ttl() {
        let t0 = Instant::now();
        let mut cache = UnavailableOfferings::default();
        let key = OfferingKey::new("m5.large", "us-east-1a", "spot");
        let other = OfferingKey::new("m5.large", "us-east-1b", "spot");
        cache.mark(key.clone(), t0);
        assert!(cache.is_unavailable(&key, t0));
        assert!(!cache.is_unavailable(&other, t0));
        assert!(cache.is_unavailable(&key, t0 + Duration::from_secs(179)));
        assert!(!cache.is_unavailable(&key, t0 + Duration::from_secs(180)));
        assert_eq!(cache.live(t0 + Duration::from_secs(60)), vec![key.clone()]);
        assert!(cache.live(t0 + Duration::from_secs(181)).is_empty());
        cache.mark(key.clone(), t0);
        cache.clear();
        assert!(!cache.is_unavailable(&key, t0));
    }
}
