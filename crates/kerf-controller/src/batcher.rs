//! The provisioning batcher as a pure state machine over instants the caller
//! passes in: a batch opens at the first trigger (a pod that needs capacity
//! appeared or changed) and closes when no trigger arrived for `idle`, or
//! `max` after it opened, whichever comes first — Karpenter's
//! `BATCH_IDLE_DURATION` (1 s) and `BATCH_MAX_DURATION` (10 s). The tokio loop
//! in [`crate::provisioner`] only sleeps until [`Batcher::deadline`].
//!
//! As Karpenter's batcher, a pod extends the open batch once: a later update
//! of a pod the batch already holds brings no new demand. The caller keys
//! each trigger by what it adds: a pod, or a ReplicaSet whose missing
//! replicas the next pass plans anyway
//! ([`kerf_state::ClusterState::demand_key`]), so that ReplicaSet's later
//! pods do not hold the batch open.

use std::collections::HashSet;
use std::time::{Duration, Instant};

#[derive(Clone, Debug)]
pub struct Batcher {
    idle: Duration,
    max: Duration,
    opened: Option<Instant>,
    last: Option<Instant>,
    /// The demand keys (pod UIDs, ReplicaSets) that already opened or
    /// extended the open batch.
    seen: HashSet<String>,
}

impl Batcher {
    pub fn new(idle: Duration, max: Duration) -> Self {
        Batcher {
            idle,
            max,
            opened: None,
            last: None,
            seen: HashSet::new(),
        }
    }

    /// Something arrived that needs a provisioning pass.
    pub fn trigger(&mut self, now: Instant) {
        self.opened.get_or_insert(now);
        self.last = Some(now);
    }

    /// A pod that needs capacity arrived or changed: opens or extends the
    /// batch unless its demand key already did in this batch.
    pub fn trigger_for(&mut self, key: &str, now: Instant) {
        if self.seen.contains(key) {
            return;
        }
        self.seen.insert(key.to_string());
        self.trigger(now);
    }

    pub fn is_open(&self) -> bool {
        self.opened.is_some()
    }

    /// When the open batch closes if nothing else arrives; `None` when no batch is open.
    pub fn deadline(&self) -> Option<Instant> {
        let opened = self.opened?;
        let last = self.last.unwrap_or(opened);
        Some((last + self.idle).min(opened + self.max))
    }

    /// Whether the open batch is complete at `now`; closing it resets the
    /// batcher, so the next trigger opens a new batch.
    pub fn close_if_due(&mut self, now: Instant) -> bool {
        match self.deadline() {
            Some(deadline) if now >= deadline => {
                self.opened = None;
                self.last = None;
                self.seen.clear();
                true
            }
            _ => false,
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn secs(s: f64) -> Duration {
        Duration::from_secs_f64(s)
    }

    #[test]
    fn closes_after_idle_period() {
        let t0 = Instant::now();
        let mut b = Batcher::new(secs(1.0), secs(10.0));
        assert_eq!(b.deadline(), None);
        assert!(!b.close_if_due(t0 + secs(100.0)), "nothing open");
        b.trigger(t0);
        assert_eq!(b.deadline(), Some(t0 + secs(1.0)));
        assert!(!b.close_if_due(t0 + secs(0.9)));
        b.trigger(t0 + secs(0.5));
        assert_eq!(b.deadline(), Some(t0 + secs(1.5)), "each trigger extends");
        assert!(!b.close_if_due(t0 + secs(1.2)));
        assert!(b.close_if_due(t0 + secs(1.5)));
        assert!(!b.is_open());
        assert!(!b.close_if_due(t0 + secs(1.6)), "closed only once");
    }

    #[test]
    fn closes_at_max_even_if_triggers_keep_coming() {
        let t0 = Instant::now();
        let mut b = Batcher::new(secs(1.0), secs(10.0));
        let mut t = 0.0;
        while t < 9.6 {
            b.trigger(t0 + secs(t));
            assert!(!b.close_if_due(t0 + secs(t)), "still open at {t}");
            t += 0.5;
        }
        assert_eq!(b.deadline(), Some(t0 + secs(10.0)));
        assert!(b.close_if_due(t0 + secs(10.0)));
        b.trigger(t0 + secs(10.2));
        assert_eq!(b.deadline(), Some(t0 + secs(11.2)), "a new batch opens");
    }

    #[test]
    fn a_pod_extends_a_batch_once() {
        let t0 = Instant::now();
        let mut b = Batcher::new(secs(1.0), secs(10.0));
        b.trigger_for("a", t0);
        b.trigger_for("a", t0 + secs(0.8));
        assert_eq!(
            b.deadline(),
            Some(t0 + secs(1.0)),
            "a repeat is not new demand"
        );
        b.trigger_for("b", t0 + secs(0.8));
        assert_eq!(b.deadline(), Some(t0 + secs(1.8)), "a new pod extends");
        b.trigger(t0 + secs(1.0));
        assert_eq!(
            b.deadline(),
            Some(t0 + secs(2.0)),
            "unkeyed triggers always extend"
        );
        assert!(b.close_if_due(t0 + secs(2.0)));
        b.trigger_for("a", t0 + secs(3.0));
        assert_eq!(
            b.deadline(),
            Some(t0 + secs(4.0)),
            "a closed batch forgets its pods: the same pod opens the next"
        );
    }
}
