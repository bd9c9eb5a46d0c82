//! `InMemoryCloud`: a complete [`CloudProvider`] that keeps its instances in a
//! map. The simulator runs on it and fast tests use it, so it behaves like a
//! cloud, deterministically: provider IDs `kerf-memory:///<zone>/i-<17 hex>`
//! numbered in launch order, the cheapest available offering chosen by
//! [`choose_launch`], and injectable failures — offerings without capacity
//! (a launch falls back to the next cheapest and remembers the offering as
//! unavailable, as Karpenter's ICE cache does), a one-shot create error, and
//! drift. Every trait call is recorded. What it learns goes into the same
//! [`crate::unavailable::UnavailableOfferings`] the other providers keep, but read on a clock
//! that never moves (the instant the cloud was made, as the simulator's
//! rounds all run at one `now`), so an offering stays unavailable until
//! [`InMemoryCloud::clear_unavailable`] rather than for the TTL.

mod state;
#[cfg(test)]
mod tests;

use std::sync::{Arc, Mutex, MutexGuard, PoisonError};
use std::time::Instant;

use async_trait::async_trait;
use kerf_api::v1::{NodeClaim, NodeClaimStatus};
use kerf_core::instance_type::InstanceType;
use kerf_core::template::KubeletSettings;

use crate::catalog::Catalog;
use crate::eks::EksOptions;
use crate::provider::quantity::to_quantities;
use crate::provider::{
    CloudError, CloudProvider, LaunchChoice, NoLaunch, NodeTemplateContext, OfferingKey, Result,
    choose_launch, claim_name, claim_requests, claim_requirements, provider_id,
};

pub use state::Call;
use state::{Source, State};

/// The provider name and the scheme of its provider IDs.
pub const PROVIDER_NAME: &str = "kerf-memory";
pub const PROVIDER_ID_PREFIX: &str = "kerf-memory:///";

/// An in-process cloud. Cheap to share: wrap it in an `Arc` and hand out
/// `Arc<dyn CloudProvider>` clones while keeping one to inject failures.
pub struct InMemoryCloud {
    name: String,
    source: Source,
    /// The cloud's frozen clock: every unavailable-offerings read and mark is at it.
    now: Instant,
    state: Mutex<State>,
}

impl InMemoryCloud {
    /// A cloud selling the catalogue's instance types, resolved per kubelet settings.
    pub fn new(catalog: Catalog) -> Self {
        InMemoryCloud::with_source(Source::Catalog {
            catalog,
            options: EksOptions::default(),
        })
    }

    /// A cloud selling the built-in AWS us-east-1 catalogue.
    pub fn builtin() -> Self {
        InMemoryCloud::new(Catalog::builtin())
    }

    /// A cloud selling exactly these instance types whatever the kubelet
    /// settings (e.g. [`crate::fake::fake_instance_types`]).
    pub fn from_instance_types(types: Vec<InstanceType>) -> Self {
        InMemoryCloud::with_source(Source::Fixed(Arc::new(
            types.into_iter().map(Arc::new).collect(),
        )))
    }

    fn with_source(source: Source) -> Self {
        InMemoryCloud {
            name: PROVIDER_NAME.to_string(),
            source,
            now: Instant::now(),
            state: Mutex::new(State::default()),
        }
    }

    fn lock(&self) -> MutexGuard<'_, State> {
        self.state.lock().unwrap_or_else(PoisonError::into_inner)
    }

    /// Kubelet settings of a node class; claims referencing it launch with them.
    /// `instance_types` calls that name a node class register it too.
    pub fn set_node_class(&self, name: impl Into<String>, kubelet: KubeletSettings) {
        self.lock().node_classes.insert(name.into(), kubelet);
    }

    /// The cloud has no capacity for this offering until [`Self::restore_capacity`].
    pub fn insufficient_capacity(&self, offering: OfferingKey) {
        self.lock().insufficient.insert(offering);
    }

    /// Capacity is back for the offering (it stays unavailable until [`Self::clear_unavailable`]).
    pub fn restore_capacity(&self, offering: &OfferingKey) {
        self.lock().insufficient.remove(offering);
    }

    /// Offerings launches have found without capacity, sorted.
    pub fn unavailable_offerings(&self) -> Vec<OfferingKey> {
        self.lock().unavailable.live(self.now)
    }

    /// Forgets learned unavailability (Karpenter's cache entries expire after 3 minutes).
    pub fn clear_unavailable(&self) {
        self.lock().unavailable.clear();
    }

    /// The next `create` fails with this error, before choosing anything.
    pub fn fail_next_create(&self, error: CloudError) {
        self.lock().next_create_error = Some(error);
    }

    /// `is_drifted` reports this reason for the instance from now on.
    pub fn set_drifted(&self, provider_id: impl Into<String>, reason: impl Into<String>) {
        self.lock()
            .drifted
            .insert(provider_id.into(), reason.into());
    }

    /// Every trait call so far, in order.
    pub fn calls(&self) -> Vec<Call> {
        self.lock().calls.clone()
    }

    pub fn clear_calls(&self) {
        self.lock().calls.clear();
    }

    /// Instances currently running.
    pub fn instance_count(&self) -> usize {
        self.lock().instances.len()
    }

    fn launch(&self, state: &mut State, claim: &NodeClaim) -> Result<NodeClaim> {
        let name = claim_name(claim).to_string();
        let requirements = claim_requirements(claim)?;
        let requests = claim_requests(claim)?;
        let kubelet = state
            .node_classes
            .get(&claim.spec.node_class_ref.name)
            .cloned()
            .unwrap_or_default();
        let types = state.base_types(&self.source, &kubelet)?;
        loop {
            let choice = choose_launch(
                &requirements,
                &requests,
                types.iter().map(Arc::as_ref),
                |k| state.unavailable.is_unavailable(k, self.now),
            );
            let choice = match choice {
                Ok(choice) => choice,
                Err(NoLaunch::NoCompatibleType) => {
                    return Err(CloudError::invalid_claim(
                        name,
                        "no instance type satisfies the requirements and holds the requests",
                    ));
                }
                Err(NoLaunch::AllUnavailable(offerings)) => {
                    tracing::debug!(claim = %name, ?offerings, "insufficient capacity for every compatible offering");
                    return Err(CloudError::InsufficientCapacity { offerings });
                }
            };
            let key = choice.key();
            if state.insufficient.contains(&key) {
                tracing::debug!(claim = %name, offering = %key, "insufficient capacity, trying the next offering");
                state.unavailable.mark(key, self.now);
                continue;
            }
            state.next_id += 1;
            let launched = launched_claim(claim, &choice, state.next_id);
            tracing::debug!(claim = %name, offering = %key, provider_id = ?provider_id(&launched), "launched");
            state.instances.insert(state.next_id, launched.clone());
            return Ok(launched);
        }
    }
}

/// The claim as launched: provider ID, capacity, allocatable and the type's labels.
fn launched_claim(claim: &NodeClaim, choice: &LaunchChoice<'_>, id: u64) -> NodeClaim {
    let it = choice.instance_type;
    let mut out = claim.clone();
    out.metadata.labels = Some(choice.node_labels(claim));
    let status = out.status.get_or_insert_with(NodeClaimStatus::default);
    status.provider_id = Some(format_provider_id(&choice.offering.zone, id));
    status.capacity = to_quantities(&it.capacity);
    status.allocatable = to_quantities(it.allocatable());
    out
}

/// `kerf-memory:///<zone>/i-<id as 17 hex digits>`.
pub fn format_provider_id(zone: &str, id: u64) -> String {
    format!("{PROVIDER_ID_PREFIX}{zone}/i-{id:017x}")
}

/// The instance number in one of this cloud's provider IDs.
pub fn parse_provider_id(provider_id: &str) -> Option<u64> {
    let rest = provider_id.strip_prefix(PROVIDER_ID_PREFIX)?;
    let (_, instance) = rest.rsplit_once('/')?;
    u64::from_str_radix(instance.strip_prefix("i-")?, 16).ok()
}

#[async_trait]
impl CloudProvider for InMemoryCloud {
    fn name(&self) -> &str {
        &self.name
    }

    async fn instance_types(
        &self,
        template: &NodeTemplateContext,
    ) -> Result<Vec<Arc<InstanceType>>> {
        let mut state = self.lock();
        state.calls.push(Call::InstanceTypes {
            node_class: template.node_class.clone(),
        });
        if let Some(class) = &template.node_class {
            state
                .node_classes
                .insert(class.clone(), template.kubelet.clone());
        }
        let base = state.base_types(&self.source, &template.kubelet)?;
        Ok(state.unavailable.apply(&base, self.now))
    }

    async fn create(&self, claim: &NodeClaim) -> Result<NodeClaim> {
        let mut state = self.lock();
        state.calls.push(Call::Create {
            claim: claim_name(claim).to_string(),
        });
        if let Some(err) = state.next_create_error.take() {
            return Err(err);
        }
        self.launch(&mut state, claim)
    }

    async fn delete(&self, claim: &NodeClaim) -> Result<()> {
        let mut state = self.lock();
        let pid = provider_id(claim).map(str::to_string);
        state.calls.push(Call::Delete {
            claim: claim_name(claim).to_string(),
            provider_id: pid.clone(),
        });
        if let Some(pid) = pid {
            if let Some(id) = parse_provider_id(&pid) {
                state.instances.remove(&id);
            }
            state.drifted.remove(&pid);
        }
        Ok(())
    }

    async fn get(&self, provider_id: &str) -> Result<NodeClaim> {
        let mut state = self.lock();
        state.calls.push(Call::Get {
            provider_id: provider_id.to_string(),
        });
        state
            .instance(provider_id)
            .cloned()
            .ok_or_else(|| CloudError::not_found(format!("instance {provider_id}")))
    }

    async fn list(&self) -> Result<Vec<NodeClaim>> {
        let mut state = self.lock();
        state.calls.push(Call::List);
        Ok(state.instances.values().cloned().collect())
    }

    async fn is_drifted(
        &self,
        claim: &NodeClaim,
        _template: &NodeTemplateContext,
    ) -> Result<Option<String>> {
        let mut state = self.lock();
        let pid = provider_id(claim).map(str::to_string);
        state.calls.push(Call::IsDrifted {
            claim: claim_name(claim).to_string(),
            provider_id: pid.clone(),
        });
        let Some(pid) = pid else { return Ok(None) };
        if state.instance(&pid).is_none() {
            return Err(CloudError::not_found(format!("instance {pid}")));
        }
        Ok(state.drifted.get(&pid).cloned())
    }
}
