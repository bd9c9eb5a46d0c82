//! kerf's kwok cloud provider: a [`CloudProvider`] whose "instances" are Node
//! objects in the cluster itself, which kwok (fake kubelets) then keeps Ready
//! and runs pods on. Instance types, capacity and allocatable come from a
//! catalogue (the built-in AWS us-east-1 one by default) exactly as the
//! in-memory cloud resolves them (and cached as every provider caches them,
//! kerf-cloud's [`InstanceTypeCache`]), the offering from the shared
//! [`choose_launch`], so a kwok cluster sees the same nodes EC2 would give.
//!
//! A launch creates Node `<claim name>` with provider ID `kwok://<claim name>`
//! (idempotent: launching a claim whose Node exists returns that Node), after
//! an optional delay standing in for boot time. Offerings can be marked as
//! lacking capacity ([`KwokCloud::insufficient_capacity`]): a launch then falls
//! back to the next cheapest offering and remembers the offering as
//! unavailable for three minutes (kerf-cloud's [`UnavailableOfferings`], which
//! every provider keeps), as Karpenter's ICE cache does. The cloud API can be
//! made to throttle ([`KwokCloud::throttle_every`]): every n-th call to
//! create, delete, get or list then fails as EC2's `RequestLimitExceeded`
//! does, and the controller's back-off must carry the work through.
//!
//! With a registration delay ([`KwokCloud::with_registration_delay`]) a
//! launch returns at once (provider ID, capacity) and the Node appears only
//! later, like an instance that still boots: the booting instance is recorded
//! in the cluster ([`booting`]) and created by [`KwokCloud::spawn_boot_loop`],
//! so it registers even if kerf restarts in between.

pub mod booting;
pub mod node;

use kerf_kube::{NotFoundExt, is_conflict};
use std::collections::{BTreeMap, BTreeSet};
use std::sync::{Arc, Mutex, MutexGuard, PoisonError};
use std::time::{Duration, Instant};

use async_trait::async_trait;
use k8s_openapi::api::core::v1::Node;
use kerf_api::v1::NodeClaim;
use kerf_cloud::Catalog;
use kerf_cloud::eks::EksOptions;
use kerf_cloud::provider::{
    CloudError, CloudProvider, NoLaunch, NodeTemplateContext, OfferingKey, Result, choose_launch,
    claim_name, claim_requests, claim_requirements, provider_id,
};
use kerf_cloud::resolved::{InstanceTypeCache, TypeList};
use kerf_cloud::unavailable::UnavailableOfferings;
use kerf_core::instance_type::InstanceType;
use kerf_core::template::KubeletSettings;
use kube::Client;
use kube::api::{Api, DeleteParams, ListParams, PostParams};

pub use node::{PROVIDER_ID_PREFIX, claim_from_node, node_name_of, provider_id_for};

pub const PROVIDER_NAME: &str = "kwok";

/// The kwok provider. Share it as `Arc<dyn CloudProvider>` and keep an `Arc`
/// to inject capacity failures.
pub struct KwokCloud {
    nodes: Api<Node>,
    catalog: Catalog,
    options: EksOptions,
    launch_delay: Duration,
    registration_delay: Duration,
    booting: booting::BootRecords,
    state: Mutex<State>,
}

/// How often the boot loop looks for Nodes due to register.
pub const BOOT_POLL: Duration = Duration::from_millis(250);

fn now_ms() -> i64 {
    std::time::SystemTime::now()
        .duration_since(std::time::UNIX_EPOCH)
        .map(|d| i64::try_from(d.as_millis()).unwrap_or(i64::MAX))
        .unwrap_or(0)
}

#[derive(Default)]
struct State {
    /// Every n-th cloud call is throttled; 0 never.
    throttle_every: u64,
    calls: u64,
    throttled: u64,
    insufficient: BTreeSet<OfferingKey>,
    unavailable: UnavailableOfferings,
    node_classes: BTreeMap<String, KubeletSettings>,
    types: InstanceTypeCache,
}

impl KwokCloud {
    /// Launches from the built-in catalogue with no delay.
    pub fn new(client: Client) -> Self {
        KwokCloud::with_catalog(client, Catalog::builtin())
    }

    pub fn with_catalog(client: Client, catalog: Catalog) -> Self {
        KwokCloud {
            nodes: Api::all(client.clone()),
            catalog,
            options: EksOptions::default(),
            launch_delay: Duration::ZERO,
            registration_delay: Duration::ZERO,
            booting: booting::BootRecords::new(client),
            state: Mutex::new(State::default()),
        }
    }

    /// Every launch waits this long before its Node appears.
    pub fn with_launch_delay(mut self, delay: Duration) -> Self {
        self.launch_delay = delay;
        self
    }

    /// A launch returns at once, and its Node appears this much later
    /// (created by [`Self::spawn_boot_loop`], in this process or the next).
    pub fn with_registration_delay(mut self, delay: Duration) -> Self {
        self.registration_delay = delay;
        self
    }

    /// Creates the Nodes of booting instances whose time has come; returns how many.
    pub async fn boot_once(&self) -> Result<usize> {
        let mut created = 0;
        for name in booting::due(&self.booting.all().await?, now_ms()) {
            // Whoever takes the record registers it; a terminated instance's
            // record was taken by `delete` and never registers.
            let Some(b) = self.booting.take(&name).await? else {
                continue;
            };
            match self.nodes.create(&PostParams::default(), &b.node).await {
                Ok(_) => {}
                Err(e) if is_conflict(&e) => {}
                Err(e) => {
                    // Put it back so the next pass retries.
                    self.booting.put(&name, &b).await?;
                    return Err(kube_error(format!("creating node {name}"), e));
                }
            }
            tracing::info!(node = %name, "booting kwok node registered");
            created += 1;
        }
        Ok(created)
    }

    /// Runs [`Self::boot_once`] every [`BOOT_POLL`] on the current runtime.
    pub fn spawn_boot_loop(self: &Arc<Self>) -> tokio::task::JoinHandle<()> {
        let cloud = self.clone();
        tokio::spawn(async move {
            let mut tick = tokio::time::interval(BOOT_POLL);
            tick.set_missed_tick_behavior(tokio::time::MissedTickBehavior::Delay);
            loop {
                tick.tick().await;
                if let Err(e) = cloud.boot_once().await {
                    tracing::warn!(error = %e, "registering booting kwok nodes");
                }
            }
        })
    }

    fn lock(&self) -> MutexGuard<'_, State> {
        self.state.lock().unwrap_or_else(PoisonError::into_inner)
    }

    /// The cloud has no capacity for this offering until [`Self::restore_capacity`].
    pub fn insufficient_capacity(&self, offering: OfferingKey) {
        self.lock().insufficient.insert(offering);
    }

    pub fn restore_capacity(&self, offering: &OfferingKey) {
        self.lock().insufficient.remove(offering);
    }

    /// Every `n`-th call to create, delete, get or list fails as a throttled
    /// cloud API call does (0: never).
    pub fn throttle_every(&self, n: u64) {
        self.lock().throttle_every = n;
    }

    /// How many calls were throttled so far.
    pub fn throttled_calls(&self) -> u64 {
        self.lock().throttled
    }

    /// Fails this call if it is one the cloud throttles.
    fn throttle(&self, call: &str) -> Result<()> {
        let mut state = self.lock();
        if state.throttle_every == 0 {
            return Ok(());
        }
        state.calls = state.calls.saturating_add(1);
        if !state.calls.is_multiple_of(state.throttle_every) {
            return Ok(());
        }
        state.throttled = state.throttled.saturating_add(1);
        tracing::info!(call, "throttled (--kwok-throttle-every)");
        Err(CloudError::other(
            call,
            "RequestLimitExceeded: Request limit exceeded (kwok provider's throttling)",
        ))
    }

    /// Offerings launches found without capacity (and not yet expired), sorted.
    pub fn unavailable_offerings(&self) -> Vec<OfferingKey> {
        self.lock().unavailable.live(Instant::now())
    }

    fn base_types(&self, kubelet: &KubeletSettings) -> Result<TypeList> {
        self.lock()
            .types
            .catalog_types(&self.catalog, &self.options, kubelet)
    }

    /// The Node to create for the claim: the cheapest available offering,
    /// falling back past offerings without capacity.
    fn choose_node(&self, claim: &NodeClaim) -> Result<Node> {
        let name = claim_name(claim).to_string();
        let requirements = claim_requirements(claim)?;
        let requests = claim_requests(claim)?;
        let kubelet = self
            .lock()
            .node_classes
            .get(&claim.spec.node_class_ref.name)
            .cloned()
            .unwrap_or_default();
        let types = self.base_types(&kubelet)?;
        let mut state = self.lock();
        loop {
            let now = Instant::now();
            let choice = match choose_launch(
                &requirements,
                &requests,
                types.iter().map(Arc::as_ref),
                |k| state.unavailable.is_unavailable(k, now),
            ) {
                Ok(choice) => choice,
                Err(NoLaunch::NoCompatibleType) => {
                    return Err(CloudError::invalid_claim(
                        name,
                        "no instance type satisfies the requirements and holds the requests",
                    ));
                }
                Err(NoLaunch::AllUnavailable(offerings)) => {
                    return Err(CloudError::InsufficientCapacity { offerings });
                }
            };
            let key = choice.key();
            if state.insufficient.contains(&key) {
                tracing::info!(claim = %name, offering = %key, "insufficient capacity, trying the next offering");
                state.unavailable.mark(key, Instant::now());
                continue;
            }
            return Ok(node::node_for_launch(claim, &choice));
        }
    }
}

fn kube_error(context: String, e: kube::Error) -> CloudError {
    CloudError::other(context, e)
}

#[async_trait]
impl CloudProvider for KwokCloud {
    fn name(&self) -> &str {
        PROVIDER_NAME
    }

    async fn instance_types(
        &self,
        template: &NodeTemplateContext,
    ) -> Result<Vec<Arc<InstanceType>>> {
        if let Some(class) = &template.node_class {
            self.lock()
                .node_classes
                .insert(class.clone(), template.kubelet.clone());
        }
        let base = self.base_types(&template.kubelet)?;
        Ok(self.lock().unavailable.apply(&base, Instant::now()))
    }

    async fn create(&self, claim: &NodeClaim) -> Result<NodeClaim> {
        let name = claim_name(claim).to_string();
        self.throttle("creating an instance")?;
        if let Some(existing) = self
            .nodes
            .get_opt(&name)
            .await
            .map_err(|e| kube_error(format!("reading node {name}"), e))?
        {
            tracing::info!(claim = %name, "node already launched for this claim");
            return Ok(node::launched_claim(claim, &existing));
        }
        if let Some(b) = self.booting.get(&name).await? {
            tracing::info!(claim = %name, "instance already booting for this claim");
            return Ok(node::launched_claim(claim, &b.node));
        }
        let node = self.choose_node(claim)?;
        if !self.launch_delay.is_zero() {
            tokio::time::sleep(self.launch_delay).await;
        }
        if !self.registration_delay.is_zero() {
            let delay = i64::try_from(self.registration_delay.as_millis()).unwrap_or(i64::MAX);
            let b = booting::Booting {
                register_at_ms: now_ms().saturating_add(delay),
                node: node.clone(),
            };
            self.booting.put(&name, &b).await?;
            tracing::info!(claim = %name, provider_id = ?node::provider_id_for(&name), delay = ?self.registration_delay, "launched kwok instance; node registers later");
            return Ok(node::launched_claim(claim, &node));
        }
        let created = match self.nodes.create(&PostParams::default(), &node).await {
            Ok(created) => created,
            Err(e) if is_conflict(&e) => self
                .nodes
                .get(&name)
                .await
                .map_err(|e| kube_error(format!("reading node {name}"), e))?,
            Err(e) => return Err(kube_error(format!("creating node {name}"), e)),
        };
        tracing::info!(claim = %name, provider_id = ?node::provider_id_for(&name), "launched kwok node");
        Ok(node::launched_claim(claim, &created))
    }

    async fn delete(&self, claim: &NodeClaim) -> Result<()> {
        let Some(name) = provider_id(claim).and_then(node_name_of) else {
            return Ok(());
        };
        self.throttle("terminating an instance")?;
        self.booting.take(name).await?;
        self.nodes
            .delete(name, &DeleteParams::default())
            .await
            .ok_if_not_found()
            .map_err(|e| kube_error(format!("deleting node {name}"), e))?;
        Ok(())
    }

    async fn get(&self, provider_id: &str) -> Result<NodeClaim> {
        self.throttle("describing an instance")?;
        let name = node_name_of(provider_id)
            .ok_or_else(|| CloudError::not_found(format!("instance {provider_id}")))?;
        let found = self
            .nodes
            .get_opt(name)
            .await
            .map_err(|e| kube_error(format!("reading node {name}"), e))?;
        match found {
            Some(n) if node::is_kwok_node(&n) => Ok(claim_from_node(&n)),
            _ => match self.booting.get(name).await? {
                Some(b) => Ok(claim_from_node(&b.node)),
                None => Err(CloudError::not_found(format!("instance {provider_id}"))),
            },
        }
    }

    async fn list(&self) -> Result<Vec<NodeClaim>> {
        self.throttle("listing instances")?;
        let nodes = self
            .nodes
            .list(&ListParams::default())
            .await
            .map_err(|e| kube_error("listing nodes".to_string(), e))?;
        let mut out: BTreeMap<String, NodeClaim> = nodes
            .items
            .iter()
            .filter(|n| node::is_kwok_node(n))
            .map(|n| {
                (
                    n.metadata.name.clone().unwrap_or_default(),
                    claim_from_node(n),
                )
            })
            .collect();
        for (name, b) in self.booting.all().await? {
            out.entry(name).or_insert_with(|| claim_from_node(&b.node));
        }
        Ok(out.into_values().collect())
    }

    async fn is_drifted(
        &self,
        _claim: &NodeClaim,
        _template: &NodeTemplateContext,
    ) -> Result<Option<String>> {
        Ok(None)
    }
}
