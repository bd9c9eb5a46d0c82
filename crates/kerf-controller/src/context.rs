//! What every loop shares: the options, the API client, the cloud, the
//! cluster-state cache the watchers fill, the pods kerf promised to bind, the
//! claims being launched right now, and the metrics.

use std::collections::{BTreeMap, BTreeSet};
use std::sync::atomic::{AtomicBool, Ordering};
use std::sync::{Arc, Mutex, MutexGuard, RwLock, RwLockReadGuard, RwLockWriteGuard};
use std::time::{Duration, Instant};

use kerf_cloud::CloudProvider;
use kerf_core::pod::PodKey;
use kerf_core::template::PoolRef;
use kerf_state::{ClusterState, PendingMode};
use kube::Client;
use tokio::sync::Notify;

use crate::metrics::Metrics;

/// How the controller behaves; `kerf controller`'s flags fill it.
#[derive(Clone, Debug)]
pub struct ControllerOptions {
    pub cluster_name: String,
    /// Bind each planned pod to its node once the node is Ready (the seed's
    /// behaviour), instead of leaving binding to kube-scheduler.
    pub bind_pods: bool,
    /// Plan, with a ReplicaSet's pending pods, for the replicas it has yet to
    /// create (`kerf_state::expected`).
    pub expected_replicas: bool,
    pub batch_idle: Duration,
    pub batch_max: Duration,
    /// A launched claim whose Node has not appeared by then is deleted.
    pub registration_timeout: Duration,
    /// How often lifecycle, emptiness and termination re-evaluate.
    pub reconcile_interval: Duration,
    /// How often garbage collection looks, and how old what it collects must be.
    pub gc_interval: Duration,
    pub gc_grace: Duration,
    /// Campaign for this Lease and act only while holding it; `None`: always act.
    pub leader_election: Option<crate::leader::LeaderElection>,
    /// What the scheduler does when a pod would break a pool's minValues.
    pub min_values_policy: kerf_core::snapshot::MinValuesPolicy,
}

impl Default for ControllerOptions {
    fn default() -> Self {
        ControllerOptions {
            cluster_name: String::new(),
            bind_pods: false,
            expected_replicas: true,
            batch_idle: Duration::from_secs(1),
            batch_max: Duration::from_secs(10),
            registration_timeout: Duration::from_secs(15 * 60),
            reconcile_interval: Duration::from_secs(1),
            gc_interval: crate::gc::DEFAULT_INTERVAL,
            gc_grace: crate::gc::DEFAULT_GRACE,
            leader_election: None,
            min_values_policy: kerf_core::snapshot::MinValuesPolicy::Strict,
        }
    }
}

impl ControllerOptions {
    /// Which pods are waiting for capacity. In nominate mode kube-scheduler
    /// must have found them unschedulable (Karpenter's rule); with
    /// `--bind-pods` kerf places every unbound pod itself.
    pub fn pending_mode(&self) -> PendingMode {
        if self.bind_pods {
            PendingMode::AllUnbound
        } else {
            PendingMode::Unschedulable
        }
    }
}

/// How long a repeated pool Event is held back.
pub const POOL_EVENT_DEDUPE: Duration = Duration::from_secs(60);

pub struct Context {
    pub options: ControllerOptions,
    pub client: Client,
    pub cloud: Arc<dyn CloudProvider>,
    pub metrics: Metrics,
    state: RwLock<ClusterState>,
    /// Pod → the claim (or node) name kerf planned it onto (`--bind-pods`).
    wanted_bindings: Mutex<BTreeMap<PodKey, String>>,
    launching: Mutex<BTreeSet<String>>,
    /// When each (pool, reason) Event was last published.
    pool_events: Mutex<BTreeMap<(PoolRef, &'static str), Instant>>,
    synced: AtomicBool,
    leader: AtomicBool,
    /// Wakes the provisioner: a pod that may need capacity changed.
    wake: Notify,
    /// What woke it since it last looked: pods' demand keys, and whether anything
    /// without a pod (a finished list) did.
    wakes: Mutex<Wakes>,
}

/// The triggers gathered for the provisioner's batcher between two looks.
#[derive(Debug, Default)]
pub struct Wakes {
    /// Batch keys of pods that need capacity (`watch::pod_needing_capacity`).
    pub pods: Vec<String>,
    pub other: bool,
}

fn lock<T>(m: &Mutex<T>) -> MutexGuard<'_, T> {
    m.lock().unwrap_or_else(|e| e.into_inner())
}

impl Context {
    pub fn new(options: ControllerOptions, client: Client, cloud: Arc<dyn CloudProvider>) -> Self {
        let leader = AtomicBool::new(options.leader_election.is_none());
        Context {
            options,
            client,
            cloud,
            metrics: Metrics::new(),
            state: RwLock::new(ClusterState::new()),
            wanted_bindings: Mutex::new(BTreeMap::new()),
            launching: Mutex::new(BTreeSet::new()),
            pool_events: Mutex::new(BTreeMap::new()),
            synced: AtomicBool::new(false),
            leader,
            wake: Notify::new(),
            wakes: Mutex::new(Wakes::default()),
        }
    }

    /// A pod that may need capacity arrived or changed.
    pub fn pod_needs_capacity(&self, key: String) {
        lock(&self.wakes).pods.push(key);
        self.wake.notify_one();
    }

    /// Something other than a pod calls for a provisioning pass.
    pub fn wake_provisioner(&self) {
        lock(&self.wakes).other = true;
        self.wake.notify_one();
    }

    /// Waits until something woke the provisioner, then hands over what did.
    pub async fn woken(&self) -> Wakes {
        self.wake.notified().await;
        std::mem::take(&mut *lock(&self.wakes))
    }

    pub fn state(&self) -> RwLockReadGuard<'_, ClusterState> {
        self.state.read().unwrap_or_else(|e| e.into_inner())
    }

    pub fn state_mut(&self) -> RwLockWriteGuard<'_, ClusterState> {
        self.state.write().unwrap_or_else(|e| e.into_inner())
    }

    /// Every watched kind has been listed once.
    pub fn is_synced(&self) -> bool {
        self.synced.load(Ordering::Acquire)
    }

    pub fn set_synced(&self) {
        self.synced.store(true, Ordering::Release);
        self.metrics.synced.set(1);
    }

    /// This replica holds the leader lease (always, without leader election).
    pub fn is_leader(&self) -> bool {
        self.leader.load(Ordering::Acquire)
    }

    pub fn set_leader(&self, leader: bool) {
        self.leader.store(leader, Ordering::Release);
    }

    /// Synced and leading: the loops may act.
    pub fn is_active(&self) -> bool {
        self.is_synced() && self.is_leader()
    }

    pub fn want_binding(&self, pod: PodKey, target: String) {
        lock(&self.wanted_bindings).insert(pod, target);
    }

    pub fn wanted_bindings(&self) -> BTreeMap<PodKey, String> {
        lock(&self.wanted_bindings).clone()
    }

    pub fn forget_binding(&self, pod: &PodKey) {
        lock(&self.wanted_bindings).remove(pod);
    }

    /// Marks the claim as being launched; false if a launch is already running.
    pub fn start_launch(&self, claim: &str) -> bool {
        lock(&self.launching).insert(claim.to_string())
    }

    pub fn end_launch(&self, claim: &str) {
        lock(&self.launching).remove(claim);
    }

    /// Whether to publish this pool Event now: at most once per
    /// [`POOL_EVENT_DEDUPE`] for the same pool and reason, as Karpenter dedupes.
    pub fn pool_event_due(&self, pool: &PoolRef, reason: &'static str, now: Instant) -> bool {
        let mut sent = lock(&self.pool_events);
        let key = (pool.clone(), reason);
        if sent
            .get(&key)
            .is_some_and(|at| now.duration_since(*at) < POOL_EVENT_DEDUPE)
        {
            return false;
        }
        sent.insert(key, now);
        true
    }
}
