//! Offerings EC2 recently had no capacity for, as Karpenter's ICE cache keeps
//! them: each entry expires after a TTL (3 minutes by default) measured on the
//! time the caller passes in, so the next solve routes around the offering and
//! later tries it again.

use std::collections::BTreeMap;
use std::time::{Duration, Instant};

use crate::OfferingKey;

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

    /// Drops expired entries and returns the live ones, sorted.
    pub fn live(&mut self, now: Instant) -> Vec<OfferingKey> {
        self.until.retain(|_, until| now < *until);
        self.until.keys().cloned().collect()
    }
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
    }
}
