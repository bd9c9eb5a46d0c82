//! `kerf simulate --disruption`: Karpenter's disruption loop over the
//! input's Nodes and bound pods. Each round builds the decision's input from
//! the state ([`ClusterState::disruption_input`]), asks
//! [`kerf_core::disruption::decide`] for the next command, and carries it out
//! on the in-memory state, until no command comes or [`MAX_ROUNDS`] pass.
//!
//! Carrying a command out: each replacement becomes a NodeClaim narrowed to
//! the offering the command chose, launched on the in-memory cloud, and
//! registered as a Ready, initialized Node; the candidates' DaemonSet pods
//! go with their Nodes; their other pods are unbound and placed again by the
//! scheduler over the nodes left. Every such pod must land on an existing
//! node (the replacements included): `decide` promised as much, and a pod
//! that needs a new node or stays unschedulable is an error, not a quiet
//! launch. The clock does not move: every round runs at the same `now`, so
//! a node that just received pods, or was just launched, waits out its
//! pool's `consolidateAfter` as it would in a cluster.
//!
//! Unbound pods in the input are the provisioner's: they are planned in the
//! report as without `--disruption`, and left out of the disruption loop.

use std::collections::BTreeSet;

use k8s_openapi::api::core::v1::{Node, Pod};
use k8s_openapi::jiff::Timestamp;
use kerf_api::labels;
use kerf_api::v1::NodeClaim;
use kerf_cloud::CloudProvider;
use kerf_core::disruption::{Command, DisruptionOptions, Kept, decide};
use kerf_core::plan::Target;
use kerf_core::pod::PodKey;
use kerf_core::snapshot::SolveOptions;
use kerf_state::disruption::Observed;
use kerf_state::pending::bound_node;
use kerf_state::registered::{bind, registered_node};
use kerf_state::{
    ClusterState, DeterministicNames, InstanceTypes, PendingMode, Pools, SnapshotOptions,
    StateError, claims_for_nodes, object_key,
};

use crate::daemons;
use crate::error::SimError;

/// Rounds after which the loop stops even if commands keep coming.
pub const MAX_ROUNDS: usize = 100;

/// What the disruption simulation needs beyond the manifests.
#[derive(Clone, Copy, Debug)]
pub struct DisruptionRun {
    /// The wall clock when `kerf simulate` started.
    pub now: Timestamp,
    pub options: DisruptionOptions,
}

/// What the loop did.
#[derive(Clone, Debug, Default)]
pub struct DisruptionOutcome {
    /// Every command, in the order they ran.
    pub commands: Vec<Command>,
    /// For each command, the names of the Nodes launched as its replacements.
    pub launched: Vec<Vec<String>>,
    /// For each command, how many pods it moved (evicted and placed again).
    pub moved_pods: Vec<usize>,
    /// Why each managed node left stays, from the last round's decision.
    pub kept: Vec<Kept>,
    /// Rounds run (the last one is the round without a command, unless the limit hit).
    pub rounds: usize,
    /// [`MAX_ROUNDS`] passed with commands still coming.
    pub limit_reached: bool,
    /// Unbound pods of the input, not part of the loop.
    pub unbound_pods: usize,
}

/// Runs the loop over a copy of `state`. `taken` are node names the
/// replacements must not get (the provisioning report's new nodes).
pub async fn simulate_disruption(
    state: &ClusterState,
    cloud: &dyn CloudProvider,
    solve: &SolveOptions,
    run: &DisruptionRun,
    taken: &BTreeSet<String>,
) -> Result<DisruptionOutcome, SimError> {
    let mut state = state.clone();
    let unbound: Vec<String> = state
        .pending_pods(PendingMode::AllUnbound)
        .iter()
        .map(|p| pod_key(p))
        .collect();
    for key in &unbound {
        state.delete::<Pod>(key);
    }
    let pools = state.pools();
    if !pools.skipped.is_empty() {
        return Err(SimError::Inconsistent(pools.skipped.join("\n")));
    }
    let instance_types = kerf_state::resolve_instance_types(&pools, cloud)
        .await
        .map_err(|e| SimError::Provision(e.to_string()))?;
    let mut world = World {
        state,
        pools,
        instance_types,
        names: DeterministicNames::default(),
        taken: taken.clone(),
        now: run.now,
        solve: solve.clone(),
    };
    world
        .taken
        .extend(world.state.objects::<Node>().map(|(k, _)| k.clone()));
    world.taken.extend(world.state.claim_names());

    let mut outcome = DisruptionOutcome {
        unbound_pods: unbound.len(),
        ..DisruptionOutcome::default()
    };
    while outcome.rounds < MAX_ROUNDS {
        outcome.rounds += 1;
        let built = world.state.disruption_input(
            &world.pools,
            &world.instance_types,
            run.now,
            &Observed::default(),
            run.options,
        );
        if !built.problems.is_empty() {
            return Err(SimError::Inconsistent(built.problems.join("\n")));
        }
        let decision = decide(&built.input);
        outcome.kept = decision.kept;
        let Some(command) = decision.command else {
            return Ok(outcome);
        };
        let (launched, moved) = world
            .carry_out(&command, &decision.planned, cloud, outcome.rounds)
            .await?;
        outcome.commands.push(command);
        outcome.launched.push(launched);
        outcome.moved_pods.push(moved);
    }
    outcome.limit_reached = true;
    Ok(outcome)
}

/// The simulated cluster between rounds.
struct World {
    state: ClusterState,
    pools: Pools,
    instance_types: InstanceTypes,
    names: DeterministicNames,
    taken: BTreeSet<String>,
    now: Timestamp,
    solve: SolveOptions,
}

impl World {
    /// Launches the replacements, removes the candidates and re-places
    /// their pods; returns the replacements' Node names and how many pods moved.
    async fn carry_out(
        &mut self,
        command: &Command,
        planned: &[String],
        cloud: &dyn CloudProvider,
        round: usize,
    ) -> Result<(Vec<String>, usize), SimError> {
        let context = |message: String| {
            SimError::Provision(format!("round {round} ({}): {message}", command.method))
        };
        let mut launched_names = Vec::new();
        for replacement in &command.replacements {
            // Only the chosen offering, so the launch is the one the command priced.
            let mut planned = replacement.node.clone();
            planned.options = vec![planned.chosen.clone()];
            let claims = claims_for_nodes([&planned], &self.pools, &self.taken, &mut self.names)
                .map_err(|e| context(e.to_string()))?;
            for pc in claims {
                let launched = cloud
                    .create(&pc.claim)
                    .await
                    .map_err(|e| context(format!("launching a replacement: {e}")))?;
                let chosen = &planned.chosen;
                let got = [
                    claim_label(&launched, labels::INSTANCE_TYPE),
                    claim_label(&launched, labels::ZONE),
                    claim_label(&launched, labels::CAPACITY_TYPE),
                ];
                if got != [&chosen.instance_type, &chosen.zone, &chosen.capacity_type] {
                    return Err(context(format!(
                        "the cloud launched {} {} {} for a replacement planned as {} {} {}",
                        got[0],
                        got[1],
                        got[2],
                        chosen.instance_type,
                        chosen.zone,
                        chosen.capacity_type
                    )));
                }
                let node = registered_node(&launched, self.now);
                let name = node.metadata.name.clone().unwrap_or_default();
                self.taken.insert(name.clone());
                launched_names.push(name);
                self.state
                    .apply(node)
                    .map_err(|e| context(format!("registering a replacement: {e}")))?;
            }
        }

        let candidates: BTreeSet<String> = command.candidates.iter().cloned().collect();
        let moved: Vec<Pod> = self
            .state
            .reschedulable_pods(&candidates)
            .into_iter()
            .map(|p| p.as_ref().clone())
            .collect();
        let on_candidates: Vec<String> = self
            .state
            .objects::<Pod>()
            .filter(|(_, p)| bound_node(p).is_some_and(|n| candidates.contains(n)))
            .map(|(k, _)| k.clone())
            .collect();
        for key in &on_candidates {
            self.state.delete::<Pod>(key);
        }
        let claims: Vec<String> = self
            .state
            .objects::<NodeClaim>()
            .filter(|(_, c)| {
                self.state
                    .node_for_claim(c)
                    .and_then(|n| n.metadata.name.as_ref())
                    .is_some_and(|n| candidates.contains(n))
            })
            .map(|(k, _)| k.clone())
            .collect();
        for key in &claims {
            self.state.delete::<NodeClaim>(key);
        }
        for name in &candidates {
            self.state.delete::<Node>(name);
        }
        let moved_count = moved.len();
        for mut pod in moved {
            if let Some(spec) = pod.spec.as_mut() {
                spec.node_name = None;
            }
            self.state
                .apply(pod)
                .map_err(|e| context(format!("unbinding a pod: {e}")))?;
        }
        daemons::materialise(&mut self.state)?;
        self.place_moved_pods(planned, &launched_names)
            .map_err(|e| context(e.to_string()))?;
        Ok((launched_names, moved_count))
    }

    /// Binds every unbound pod (only the candidates' are left unbound) where
    /// the scheduler puts it among the existing nodes: off the nodes planned
    /// for later commands when the others hold them all, as the controller's
    /// `kerf.sh/consolidation-planned` taint steers kube-scheduler. The
    /// `replacements` come last in the scheduler's node order, as the new
    /// node came after every existing one when the command was decided: so
    /// the pods the decision put on existing nodes do not fill the
    /// replacement first and leave one it was launched for without room.
    fn place_moved_pods(
        &mut self,
        planned: &[String],
        replacements: &[String],
    ) -> Result<(), MoveError> {
        let options = SnapshotOptions {
            pending: PendingMode::AllUnbound,
            solve: self.solve.clone(),
            expected_replicas: false,
        };
        let built = self
            .state
            .snapshot_with_pools(&self.pools, &self.instance_types, &options);
        if !built.problems.is_empty() {
            return Err(MoveError::Snapshot(built.problems));
        }
        let mut snapshot = built.snapshot;
        // Stable: the other nodes keep their order.
        snapshot
            .nodes
            .sort_by_key(|n| replacements.contains(&n.name));
        let mut steered = snapshot.clone();
        for node in &mut steered.nodes {
            if planned.contains(&node.name) {
                node.marked_for_deletion = true;
            }
        }
        let mut plan = kerf_core::scheduler::solve(&steered);
        if !plan.unschedulable.is_empty() || !plan.new_nodes.is_empty() {
            // The taint is soft: a pod that fits nowhere else goes there.
            plan = kerf_core::scheduler::solve(&snapshot);
        }
        if let Some(u) = plan.unschedulable.first() {
            return Err(MoveError::NoPlace {
                pod: u.pod.clone(),
                reason: u.reason.clone(),
            });
        }
        if let Some(n) = plan.new_nodes.first() {
            return Err(MoveError::NeedsNewNode(n.pods.clone()));
        }
        for placement in &plan.placements {
            let Target::Existing(node) = &placement.target else {
                continue;
            };
            let key = object_key(Some(&placement.pod.namespace), &placement.pod.name);
            let Some(mut pod) = self.state.get::<Pod>(&key).cloned() else {
                return Err(MoveError::PodMissing(key));
            };
            bind(&mut pod, node, self.now);
            self.state.apply(pod)?;
        }
        Ok(())
    }
}

/// Why a command's moved pods cannot all go back onto the nodes left.
#[derive(Debug, thiserror::Error)]
enum MoveError {
    /// The state gave no snapshot to place them with.
    #[error("{}", .0.join("; "))]
    Snapshot(Vec<String>),
    #[error("pod {pod} has no place once the candidates are gone: {reason}")]
    NoPlace { pod: PodKey, reason: String },
    #[error("pods {} need a new node beyond the command's replacements", comma_separated(.0))]
    NeedsNewNode(Vec<PodKey>),
    /// The scheduler placed a pod (by `namespace/name`) the state lacks.
    #[error("placed pod {0} is not in the state")]
    PodMissing(String),
    /// Binding a placed pod was refused.
    #[error(transparent)]
    Bind(#[from] StateError),
}

fn comma_separated(pods: &[PodKey]) -> String {
    pods.iter()
        .map(ToString::to_string)
        .collect::<Vec<_>>()
        .join(", ")
}

fn pod_key(pod: &Pod) -> String {
    object_key(
        pod.metadata.namespace.as_deref(),
        pod.metadata.name.as_deref().unwrap_or_default(),
    )
}

fn claim_label<'a>(claim: &'a NodeClaim, key: &str) -> &'a String {
    static EMPTY: String = String::new();
    claim
        .metadata
        .labels
        .as_ref()
        .and_then(|l| l.get(key))
        .unwrap_or(&EMPTY)
}
