//! `kerf-state`: the provisioning layer the simulator (`kerf simulate`) and the
//! live controller share, so both run the same logic over the same state.
//!
//! | Module | Owns |
//! |---|---|
//! | [`store`] | [`ClusterState`]: Kubernetes objects by key; `apply` / `delete` per kind, validating and defaulting pools on the way in |
//! | [`trim`] | what the state keeps of a Pod or a Node: the fields kerf reads |
//! | [`expected`] | [`ClusterState::expected_pods`]: the replicas pending pods' ReplicaSets have yet to create; [`ClusterState::demand_key`]: what a pending pod adds to a batch |
//! | [`disruption`] | the input of kerf-core's disruption decision: pool policies, node facts (price, initialized, last pod event), drift the state shows, the pool template hash |
//! | [`deleting`] | nodes being deleted ([`ClusterState::deleting_nodes`]) and their pods that need new capacity, as Karpenter's provisioner plans for them |
//! | [`pending`] | which pods need capacity ([`PendingMode`]: Karpenter's rule, or "every unbound pod" for the simulator) |
//! | [`pools`] | [`Pool`]: a NodePool, or a Provisioner converted to v1 but remembered as one; kubelet settings, limits, [`NodeTemplateContext`](kerf_cloud::NodeTemplateContext) |
//! | [`snapshot`] | [`ClusterState::snapshot`]: the scheduler's [`Snapshot`](kerf_core::snapshot::Snapshot), counting Nodes *and* NodeClaims still in flight |
//! | [`claims`] | [`claims_for_plan`]: each planned node as a `karpenter.sh/v1` NodeClaim, with the pods planned onto it; [`NameGenerator`]s |
//! | [`registered`] | a launched claim's Ready Node and a pod's binding, for the simulator and benchmarks (no kubelet there) |
//! | [`provision`] | [`provision()`]: instance types from the cloud → snapshot → `kerf_core::scheduler::solve` → claims |
//!
//! Everything except [`provision()`] (which asks the async
//! [`CloudProvider`](kerf_cloud::CloudProvider) for instance types) is pure
//! and synchronous. The caller decides what to do with the outcome: the
//! simulator launches the claims on an in-memory cloud and prints a report; the
//! controller persists them and calls `cloud.create`.
//!
//! ```no_run
//! # async fn run(cloud: &dyn kerf_cloud::CloudProvider) -> Result<(), kerf_state::StateError> {
//! use kerf_state::{ClusterState, DeterministicNames, PendingMode, ProvisionOptions};
//! let mut state = ClusterState::new();
//! // state.apply(provisioner)?; state.apply(pod)?; ...
//! let mut names = DeterministicNames::default();
//! let options = ProvisionOptions { pending: PendingMode::AllUnbound, ..Default::default() };
//! let outcome = kerf_state::provision(&state, cloud, &options, &mut names).await?;
//! for planned in &outcome.claims {
//!     let _launched = cloud.create(&planned.claim).await;
//! }
//! # Ok(()) }
//! ```

pub mod claims;
pub mod deleting;
pub mod disruption;
pub mod error;
pub mod expected;
pub mod pending;
pub mod pools;
pub mod provision;
pub mod registered;
pub mod snapshot;
pub mod store;
pub mod trim;

pub use claims::{
    DeterministicNames, NameGenerator, PlannedClaim, RandomNames, claims_for_nodes, claims_for_plan,
};
pub use error::StateError;
pub use pending::{PendingMode, is_pending};
pub use pools::{Pool, Pools};
pub use provision::{
    ProvisionOptions, ProvisionOutcome, provision, provision_from, resolve_instance_types,
};
pub use snapshot::{BuiltSnapshot, InstanceTypes, SnapshotOptions};
pub use store::{ClusterState, Tracked, node_is_ready, object_key};
