//! [`provision()`]: one provisioning pass, shared by the simulator and the
//! controller. It asks the cloud for each pool's instance types, builds the
//! snapshot, runs the scheduler and turns the plan into NodeClaims. It creates
//! nothing: the caller persists / launches the claims.

use std::collections::{BTreeMap, BTreeSet};

use kerf_cloud::CloudProvider;
use kerf_core::plan::{Plan, Unschedulable};
use kerf_core::pod::PodKey;
use kerf_core::snapshot::{Snapshot, SolveOptions};

use crate::claims::{NameGenerator, PlannedClaim, claims_for_plan};
use crate::error::StateError;
use crate::pending::PendingMode;
use crate::pools::Pools;
use crate::snapshot::{InstanceTypes, SnapshotOptions};
use crate::store::ClusterState;

#[derive(Clone, Debug, Default)]
pub struct ProvisionOptions {
    pub pending: PendingMode,
    pub solve: SolveOptions,
    /// See [`SnapshotOptions::expected_replicas`].
    pub expected_replicas: bool,
}

impl ProvisionOptions {
    pub fn snapshot_options(&self) -> SnapshotOptions {
        SnapshotOptions {
            pending: self.pending,
            solve: self.solve.clone(),
            expected_replicas: self.expected_replicas,
        }
    }
}

/// What one pass decided.
#[derive(Clone, Debug, Default)]
pub struct ProvisionOutcome {
    pub plan: Plan,
    /// NodeClaims to create, one per `plan.new_nodes` entry, in the same
    /// order; their `pods` are real pods only.
    pub claims: Vec<PlannedClaim>,
    /// Real pods that cannot be placed, with reasons (`plan.unschedulable`
    /// without expected pods).
    pub unschedulable: Vec<Unschedulable>,
    /// The expected pods the snapshot holds ([`ClusterState::expected_pods`]):
    /// planned for like the others, never bound, nominated or reported.
    pub expected: BTreeSet<PodKey>,
    /// The scheduler's input, for reports and validation.
    pub snapshot: Snapshot,
    pub pools: Pools,
    /// Instance types the cloud returned per pool.
    pub instance_types: InstanceTypes,
    /// Objects that could not be read into the snapshot (each names object and field).
    pub problems: Vec<String>,
}

/// Plans capacity for the state's pending pods and the pods of nodes being
/// deleted ([`ClusterState::pods_needing_capacity`]). With none it
/// returns an empty outcome without calling the cloud.
pub async fn provision(
    state: &ClusterState,
    cloud: &dyn CloudProvider,
    options: &ProvisionOptions,
    names: &mut dyn NameGenerator,
) -> Result<ProvisionOutcome, StateError> {
    provision_from(|| state, cloud, options, names).await
}

/// [`provision`] over a state that `read` lends out for each synchronous step
/// and that may change between them (the controller's cache behind a lock):
/// no step holds it across the cloud call, and the state is never copied
/// whole, only what the snapshot needs.
pub async fn provision_from<S: std::ops::Deref<Target = ClusterState>>(
    read: impl Fn() -> S,
    cloud: &dyn CloudProvider,
    options: &ProvisionOptions,
    names: &mut dyn NameGenerator,
) -> Result<ProvisionOutcome, StateError> {
    let pools = {
        let state = read();
        let pools = state.pools();
        if state.pods_needing_capacity(options.pending).is_empty() {
            return Ok(ProvisionOutcome {
                problems: pools.skipped.clone(),
                pools,
                ..ProvisionOutcome::default()
            });
        }
        pools
    };
    let instance_types = resolve_instance_types(&pools, cloud).await?;
    let (built, taken) = {
        let state = read();
        let built = state.snapshot_with_pools(&pools, &instance_types, &options.snapshot_options());
        (built, state.claim_names())
    };
    let plan = kerf_core::scheduler::solve(&built.snapshot);
    let mut claims = claims_for_plan(&plan, &pools, &taken, names)?;
    let expected: BTreeSet<PodKey> = built
        .snapshot
        .expected
        .iter()
        .flat_map(|e| e.keys())
        .collect();
    for claim in &mut claims {
        claim.pods.retain(|k| !expected.contains(k));
    }
    let mut unschedulable = plan.unschedulable.clone();
    unschedulable.retain(|u| !expected.contains(&u.pod));
    tracing::debug!(
        pending = built.snapshot.pending.len(),
        expected = expected.len(),
        new_nodes = plan.new_nodes.len(),
        unschedulable = plan.unschedulable.len(),
        "provisioning pass"
    );
    Ok(ProvisionOutcome {
        unschedulable,
        expected,
        plan,
        claims,
        snapshot: built.snapshot,
        pools,
        instance_types,
        problems: built.problems,
    })
}

/// Each usable pool's instance types, as the cloud resolves them.
pub async fn resolve_instance_types(
    pools: &Pools,
    cloud: &dyn CloudProvider,
) -> Result<InstanceTypes, StateError> {
    let mut instance_types: InstanceTypes = BTreeMap::new();
    for pool in &pools.ready {
        let types = cloud
            .instance_types(&pool.context())
            .await
            .map_err(|source| StateError::Cloud {
                provider: cloud.name().to_string(),
                pool: pool.pool.to_string(),
                source,
            })?;
        instance_types.insert(pool.pool.clone(), types);
    }
    Ok(instance_types)
}
