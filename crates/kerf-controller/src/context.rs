//! What every loop shares: the options, the API client, the cloud, the
//! cluster-state cache the watchers fill, the pods kerf promised to bind, the
//! claims being launched right now, and the metrics.

use std::collections::{BTreeMap, BTreeSet};
use std::sync::atomic::{AtomicBool, Ordering};
use std::sync::{Arc, Mutex, MutexGuard, RwLock, RwLockReadGuard, RwLockWriteGuard};
use std::time::{Duration, Instant};

use k8s_openapi::jiff::Timestamp;
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
    pub disruption: crate::disruption::DisruptionSettings,
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
            disruption: crate::disruption::DisruptionSettings::default(),
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

/// How long a node the provisioner planned pending pods onto is off limits
/// to disruption, as Karpenter's nomination window keeps it.
pub const NOMINATION_WINDOW: Duration = Duration::from_secs(20);

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
    /// When each (node, note) disruption Event was last published.
    node_events: Mutex<BTreeMap<(String, String), Instant>>,
    synced: AtomicBool,
    leader: AtomicBool,
    /// Node → when the provisioner last planned a pending pod onto it.
    nominations: Mutex<BTreeMap<String, Instant>>,
    /// Node → when a pod last arrived on it or left it, as the watches saw it.
    pod_events: Mutex<BTreeMap<String, Timestamp>>,
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

/// Records `key` as sent at `now` unless it was sent less than `every` ago.
fn due<K: Ord>(sent: &Mutex<BTreeMap<K, Instant>>, key: K, now: Instant, every: Duration) -> bool {
    let mut sent = lock(sent);
    if sent
        .get(&key)
        .is_some_and(|at| now.duration_since(*at) < every)
    {
        return false;
    }
    sent.insert(key, now);
    true
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
            node_events: Mutex::new(BTreeMap::new()),
            nominations: Mutex::new(BTreeMap::new()),
            pod_events: Mutex::new(BTreeMap::new()),
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
        due(
            &self.pool_events,
            (pool.clone(), reason),
            now,
            POOL_EVENT_DEDUPE,
        )
    }

    /// Whether to publish this note on this node now: at most once per `every`.
    pub fn node_event_due(&self, node: &str, note: &str, now: Instant, every: Duration) -> bool {
        due(
            &self.node_events,
            (node.to_string(), note.to_string()),
            now,
            every,
        )
    }

    /// The provisioner planned a pending pod onto this node.
    pub fn nominate(&self, node: &str, at: Instant) {
        lock(&self.nominations).insert(node.to_string(), at);
    }

    /// Nodes nominated within [`NOMINATION_WINDOW`] of `now`; older ones are forgotten.
    pub fn nominated_nodes(&self, now: Instant) -> BTreeSet<String> {
        let mut nominations = lock(&self.nominations);
        nominations.retain(|_, at| now.duration_since(*at) < NOMINATION_WINDOW);
        nominations.keys().cloned().collect()
    }

    /// A pod arrived on or left `node`.
    pub fn pod_event(&self, node: &str, at: Timestamp) {
        lock(&self.pod_events).insert(node.to_string(), at);
    }

    /// The last pod event per node; nodes no longer in `keep` are forgotten.
    pub fn pod_events(&self, keep: &BTreeSet<String>) -> BTreeMap<String, Timestamp> {
        let mut events = lock(&self.pod_events);
        events.retain(|node, _| keep.contains(node));
        events.clone()
    }
}
