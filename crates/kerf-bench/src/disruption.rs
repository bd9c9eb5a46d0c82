//! The cluster the disruption benchmark decides over, built as the live
//! controller sees one: a [`ClusterState`] holding a NodePool, its
//! EC2NodeClass, a NodeClaim and an initialized Node for every node kerf's
//! scheduler planned for upstream's diverse pod mix on the built-in
//! catalogue (launched on the in-memory cloud), and the pods bound where the
//! plan put them; then a seeded share of the pods deleted, as after a
//! scale-down. The decision's input comes from
//! [`ClusterState::disruption_input`], as in the controller.

use std::collections::BTreeSet;

use anyhow::{Context, bail};
use k8s_openapi::api::core::v1::{Node, Pod};
use k8s_openapi::apimachinery::pkg::apis::meta::v1::Time;
use k8s_openapi::jiff::{SignedDuration, Timestamp};
use kerf_api::conditions::{self, Condition};
use kerf_api::v1::{EC2NodeClass, NodeClaim, NodePool};
use kerf_cloud::{CloudProvider, InMemoryCloud};
use kerf_core::disruption::{DisruptionInput, DisruptionOptions};
use kerf_core::scheduler::solve;
use kerf_state::disruption::{MIN_SAVINGS_ANNOTATION, Observed};
use kerf_state::registered::{bind, registered_node};
use kerf_state::{
    ClusterState, DeterministicNames, InstanceTypes, PendingMode, Pools, SnapshotOptions,
    claims_for_plan, object_key, resolve_instance_types,
};
use rand::SeedableRng;
use rand::seq::SliceRandom;
use rand_chacha::ChaCha8Rng;

use crate::diverse_pods;

const NODE_CLASS: &str = "apiVersion: karpenter.k8s.aws/v1
kind: EC2NodeClass
metadata: {name: default}
spec:
  role: KarpenterNodeRole-bench
  amiSelectorTerms: [{alias: al2023@latest}]
  subnetSelectorTerms: [{tags: {karpenter.sh/discovery: bench}}]
  securityGroupSelectorTerms: [{tags: {karpenter.sh/discovery: bench}}]
";

/// What the benchmark cluster is made of.
#[derive(Clone, Debug)]
pub struct Scenario {
    /// Pods of upstream's diverse mix planned before the deletion.
    pub pods: usize,
    /// The NodePool's one budget, e.g. `"100%"` or Karpenter's default `"10%"`.
    pub budget: String,
    /// Share of the pods deleted, 0 to 1.
    pub deleted: f64,
    /// The pool's `kerf.sh/consolidation-min-savings`, if any (a high one
    /// rules out every replacement, so only deletions remain).
    pub min_savings: Option<String>,
    pub seed: u64,
}

impl Scenario {
    /// Upstream's mix at `pods`, 60% of them deleted, budget 100%.
    pub fn scale_down(pods: usize) -> Self {
        Scenario {
            pods,
            budget: "100%".into(),
            deleted: 0.6,
            min_savings: None,
            seed: 42,
        }
    }
}

/// The state, pools and instance types a decision is built from.
pub struct BenchCluster {
    pub state: ClusterState,
    pub pools: Pools,
    pub instance_types: InstanceTypes,
    /// The clock the decision runs at: an hour after every launch and binding.
    pub now: Timestamp,
    /// $/h of the plan the nodes came from.
    pub planned_cost: f64,
    pub pods_left: usize,
}

impl BenchCluster {
    /// The decision's input, as the controller builds it.
    pub fn input(&self) -> anyhow::Result<DisruptionInput> {
        let built = self.state.disruption_input(
            &self.pools,
            &self.instance_types,
            self.now,
            &Observed::default(),
            DisruptionOptions::default(),
        );
        if !built.problems.is_empty() {
            bail!("disruption input: {}", built.problems.join("; "));
        }
        Ok(built.input)
    }

    pub fn nodes(&self) -> usize {
        self.state.len::<Node>()
    }

    /// Removes every node without pods, with its NodeClaim: the cluster once
    /// the emptiness command has run, which leaves consolidation to decide.
    /// Returns how many went.
    pub fn remove_empty_nodes(&mut self) -> usize {
        let empty: BTreeSet<String> = self
            .state
            .objects::<Node>()
            .map(|(name, _)| name.clone())
            .filter(|name| self.state.pods_on_node(name).is_empty())
            .collect();
        let claims: Vec<String> = self
            .state
            .objects::<NodeClaim>()
            .filter(|(_, c)| {
                c.status
                    .as_ref()
                    .and_then(|s| s.node_name.as_ref())
                    .is_some_and(|n| empty.contains(n))
            })
            .map(|(k, _)| k.clone())
            .collect();
        for key in &claims {
            self.state.delete::<NodeClaim>(key);
        }
        for name in &empty {
            self.state.delete::<Node>(name);
        }
        empty.len()
    }
}

/// Plans `scenario.pods` pods, launches the plan, binds the pods and deletes
/// `scenario.deleted` of them at random (seeded).
pub fn cluster(scenario: &Scenario) -> anyhow::Result<BenchCluster> {
    let now: Timestamp = "2026-06-01T12:00:00Z".parse()?;
    let launched_at = now - SignedDuration::from_hours(1);
    let mut state = ClusterState::new();
    state.apply(serde_yaml::from_str::<EC2NodeClass>(NODE_CLASS)?)?;
    state.apply(serde_yaml::from_str::<NodePool>(&node_pool(scenario))?)?;
    for pod in diverse_pods(scenario.pods, scenario.seed) {
        state.apply(pod)?;
    }
    let pools = state.pools();
    if !pools.skipped.is_empty() {
        bail!("pools: {}", pools.skipped.join("; "));
    }
    let cloud = InMemoryCloud::builtin();
    let instance_types = futures::executor::block_on(resolve_instance_types(&pools, &cloud))?;
    let options = SnapshotOptions {
        pending: PendingMode::AllUnbound,
        ..SnapshotOptions::default()
    };
    let built = state.snapshot_with_pools(&pools, &instance_types, &options);
    if !built.problems.is_empty() {
        bail!("snapshot: {}", built.problems.join("; "));
    }
    let plan = solve(&built.snapshot);
    if let Some(u) = plan.unschedulable.first() {
        bail!(
            "the plan left {}/{} unscheduled: {}",
            u.pod.namespace,
            u.pod.name,
            u.reason
        );
    }
    let claims = claims_for_plan(
        &plan,
        &pools,
        &BTreeSet::new(),
        &mut DeterministicNames::default(),
    )?;
    for planned in claims {
        let claim = futures::executor::block_on(cloud.create(&planned.claim))?;
        let node = registered_node(&claim, launched_at);
        let node_name = node.metadata.name.clone().unwrap_or_default();
        state.apply(node)?;
        state.apply(initialized(claim, &node_name, launched_at))?;
        for key in &planned.pods {
            let pod_key = object_key(Some(&key.namespace), &key.name);
            let mut pod: Pod = state
                .get::<Pod>(&pod_key)
                .with_context(|| format!("planned pod {pod_key} is not in the state"))?
                .clone();
            bind(&mut pod, &node_name, launched_at);
            state.apply(pod)?;
        }
    }
    let mut keys: Vec<String> = state.objects::<Pod>().map(|(k, _)| k.clone()).collect();
    keys.shuffle(&mut ChaCha8Rng::seed_from_u64(scenario.seed));
    let deleted = (keys.len() as f64 * scenario.deleted).round() as usize;
    for key in &keys[..deleted] {
        state.delete::<Pod>(key);
    }
    Ok(BenchCluster {
        pods_left: state.len::<Pod>(),
        state,
        pools,
        instance_types,
        now,
        planned_cost: plan.new_cost_per_hour(),
    })
}

/// A NodePool over the whole built-in catalogue that consolidates at once,
/// with one budget.
fn node_pool(scenario: &Scenario) -> String {
    let budget = &scenario.budget;
    let annotations = match &scenario.min_savings {
        Some(v) => format!(", annotations: {{{MIN_SAVINGS_ANNOTATION}: \"{v}\"}}"),
        None => String::new(),
    };
    format!(
        "apiVersion: karpenter.sh/v1
kind: NodePool
metadata: {{name: default{annotations}}}
spec:
  template:
    spec:
      nodeClassRef: {{group: karpenter.k8s.aws, kind: EC2NodeClass, name: default}}
  disruption:
    consolidationPolicy: WhenEmptyOrUnderutilized
    consolidateAfter: 0s
    budgets: [{{nodes: \"{budget}\"}}]
"
    )
}

/// The launched claim once its Node has registered and initialized.
fn initialized(mut claim: NodeClaim, node: &str, at: Timestamp) -> NodeClaim {
    let status = claim.status.get_or_insert_with(Default::default);
    status.node_name = Some(node.to_string());
    status
        .conditions
        .retain(|c| ![conditions::REGISTERED, conditions::INITIALIZED].contains(&c.type_.as_str()));
    for type_ in [conditions::REGISTERED, conditions::INITIALIZED] {
        let mut condition = Condition::new(type_, "True");
        condition.last_transition_time = Some(Time(at));
        status.conditions.push(condition);
    }
    claim
}
