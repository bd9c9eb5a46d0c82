//! The disruption loop, Karpenter v1's: every poll it gathers a snapshot
//! (the cluster state, each pool's instance types, what the cloud says has
//! drifted), asks the pure [`kerf_core::disruption::decide`] for the next
//! command, waits the validation delay, decides again and drops the command
//! if the answer changed, then carries it out ([`execute`]): replacements
//! first, then the candidates tainted `karpenter.sh/disrupted:NoSchedule`
//! and, once every replacement is Initialized, deleted through the
//! termination path (Eviction API, PDBs). A command that fails or times out
//! is rolled back. Its record lives on the candidate Nodes, so a restarted
//! controller resumes or rolls back what the last one left ([`recover`]).
//! Nodes the decision plans to remove in later commands carry a soft taint
//! ([`steer`]) so pods evicted meanwhile go to nodes that stay, and
//! ReplicaSet pods carry a deletion cost ([`deletion_cost`]) so scale-downs
//! empty those nodes before disruption has to evict anything.
//!
//! Nodes it keeps get a `DisruptionBlocked` Event with the reason (at most
//! once per reason every [`BLOCKED_EVENT_DEDUPE`]).

mod conditions;
pub mod deletion_cost;
mod events;
mod execute;
mod recover;
mod steer;

use std::collections::{BTreeMap, BTreeSet};
use std::sync::Arc;
use std::time::{Duration, Instant};

use kerf_api::v1::NodeClaim;
use kerf_core::disruption::{Command, Decision, DisruptionOptions, KeptReason, Method};
use kerf_state::disruption::Observed;

use crate::context::Context;
use crate::status::now;

pub use execute::{COMMAND_ANNOTATION, CommandRecord};

/// How often a node kept for the same reason is told so again.
pub const BLOCKED_EVENT_DEDUPE: Duration = Duration::from_secs(10 * 60);

/// How the disruption loop behaves; `kerf controller`'s flags fill it.
#[derive(Clone, Debug)]
pub struct DisruptionSettings {
    /// How often the loop looks when nothing is due sooner (Karpenter: 10 s).
    pub poll: Duration,
    /// Between deciding and acting; the command must survive a second decision.
    pub validation_delay: Duration,
    /// How long replacements may take to initialize before the command is rolled back.
    pub replacement_timeout: Duration,
    /// `--feature-gates SpotToSpotConsolidation=true`.
    pub spot_to_spot: bool,
    /// How often each claim's instance is asked whether it drifted.
    pub provider_drift_every: Duration,
    /// `--feature-gates PodDeletionCostManagement` (on unless turned off):
    /// rank ReplicaSet pods so scale-downs empty the nodes disruption would
    /// remove first ([`deletion_cost`]).
    pub pod_deletion_cost: bool,
}

impl Default for DisruptionSettings {
    fn default() -> Self {
        DisruptionSettings {
            poll: Duration::from_secs(10),
            validation_delay: Duration::from_secs(15),
            replacement_timeout: Duration::from_secs(10 * 60),
            spot_to_spot: false,
            provider_drift_every: Duration::from_secs(5 * 60),
            pod_deletion_cost: true,
        }
    }
}

#[derive(Debug, thiserror::Error)]
pub enum DisruptionError {
    #[error(transparent)]
    State(#[from] kerf_state::StateError),
    #[error("{what}: {source}")]
    Kube {
        what: String,
        #[source]
        source: kube::Error,
    },
    #[error("replacement {claim}: {why}")]
    Replacement { claim: String, why: String },
    #[error("Node {node} kept changing under {attempts} writes")]
    Contended { node: String, attempts: usize },
}

impl DisruptionError {
    fn kube(what: impl Into<String>) -> impl FnOnce(kube::Error) -> Self {
        let what = what.into();
        move |source| DisruptionError::Kube { what, source }
    }
}

/// How long an unchanged cluster that needed nothing is left alone, as
/// Karpenter keeps its consolidation state: the cloud's drift verdicts change
/// with time, not objects.
const QUIET_RECHECK: Duration = Duration::from_secs(5 * 60);
/// The same while a pool has a budget with a schedule, whose windows open
/// and close by the minute.
const QUIET_RECHECK_SCHEDULED: Duration = Duration::from_secs(60);

/// The last round that found nothing to do: the cluster it looked at, when,
/// and for how long that answer stands.
#[derive(Debug, Default)]
pub struct Quiet {
    last: Option<(u64, Instant, Duration)>,
    /// A node being deleted held up a budget: look again soon, but decide
    /// again only once the cluster changed (a drain a PDB blocks can last hours).
    held: bool,
}

impl Quiet {
    fn unchanged(&self, digest: u64) -> bool {
        self.last
            .is_some_and(|(d, at, stands)| d == digest && at.elapsed() < stands)
    }
}

pub async fn run(ctx: Arc<Context>) {
    let settings = ctx.options.disruption.clone();
    let mut drift = ProviderDrift::default();
    let mut quiet = Quiet::default();
    let mut wait = Duration::ZERO;
    loop {
        tokio::time::sleep(wait).await;
        wait = settings.poll;
        if !ctx.is_active() {
            wait = Duration::from_secs(1);
            continue;
        }
        match round(&ctx, &mut drift, &mut quiet).await {
            // A node's consolidateAfter runs out before the next poll: look then.
            Ok(Some(due)) => wait = wait.min(due).max(Duration::from_secs(1)),
            Ok(None) => {}
            Err(e) => tracing::error!(error = %e, "disruption round failed"),
        }
    }
}

/// One round: finish or undo what a previous controller left, decide,
/// validate, act. Returns how soon a kept node's consolidateAfter runs out.
pub async fn round(
    ctx: &Arc<Context>,
    drift: &mut ProviderDrift,
    quiet: &mut Quiet,
) -> Result<Option<Duration>, DisruptionError> {
    recover::recover(ctx).await?;
    // Deciding over a large cluster that needs nothing costs a scheduling
    // pass per candidate; an unchanged one gets the same answer.
    let digest = ctx.state().disruption_digest();
    if quiet.unchanged(digest) {
        return Ok(quiet.held.then_some(BUDGET_HELD_POLL));
    }
    quiet.last = None;
    let Decided {
        decision,
        pools,
        wanted,
        scheduled,
    } = decide_now(ctx, drift).await?;
    conditions::sync(ctx, &wanted).await;
    steer::sync(ctx, &decision.planned).await;
    let due = next_due(&decision);
    let held = budget_held(&decision);
    events::kept(ctx, &decision);
    // A nomination runs out with time, not with a change to any object.
    let nominated = decision
        .kept
        .iter()
        .any(|k| k.reason == KeptReason::Nominated);
    let Some(command) = decision.command else {
        if due.is_none() && !nominated {
            let stands = if scheduled {
                QUIET_RECHECK_SCHEDULED
            } else {
                QUIET_RECHECK
            };
            quiet.last = Some((digest, Instant::now(), stands));
            quiet.held = held;
        }
        return Ok(due
            .into_iter()
            .chain(held.then_some(BUDGET_HELD_POLL))
            .min());
    };
    tracing::info!(
        method = %command.method,
        reason = %command.reason,
        candidates = ?command.candidates,
        replacements = command.replacements.len(),
        savings = command.savings_per_hour(),
        "disruption command; validating"
    );
    tokio::time::sleep(ctx.options.disruption.validation_delay).await;
    let again = decide_now(ctx, drift).await?.decision;
    steer::sync(ctx, &again.planned).await;
    let Some(command) = again.command.and_then(|c| validated(&command, c)) else {
        tracing::info!("disruption command no longer holds after validation; dropped");
        ctx.metrics.disruption.invalidated.inc();
        return Ok(due);
    };
    execute::execute(ctx, &command, &pools).await?;
    // As Karpenter requeues at once after a command: the next one may be
    // ready as soon as this one's nodes are gone.
    Ok(Some(Duration::ZERO))
}

/// One decision over the current state, with what the round needs beside it.
struct Decided {
    decision: Decision,
    /// The pools it read, to build the replacements' NodeClaims from.
    pools: kerf_state::Pools,
    /// The conditions each node's claim should carry.
    wanted: BTreeMap<String, conditions::Wanted>,
    /// A pool has a budget with a schedule: the answer changes with the clock.
    scheduled: bool,
}

async fn decide_now(ctx: &Context, drift: &mut ProviderDrift) -> Result<Decided, DisruptionError> {
    let pools = ctx.state().pools();
    let instance_types = kerf_state::resolve_instance_types(&pools, ctx.cloud.as_ref()).await?;
    let provider_drift = drift.refresh(ctx).await;
    let started = Instant::now();
    let built = build_input(ctx, &pools, &instance_types, provider_drift);
    for problem in &built.problems {
        tracing::warn!(%problem, "left out of the disruption decision");
    }
    let decision = kerf_core::disruption::decide(&built.input);
    ctx.metrics
        .disruption
        .evaluation_duration
        .observe(started.elapsed().as_secs_f64());
    ctx.metrics
        .disruption
        .record_eligible(&built.input, &decision);
    let scheduled = built
        .input
        .pools
        .values()
        .any(|p| p.budgets.iter().any(|b| b.schedule.is_some()));
    Ok(Decided {
        decision,
        pools,
        wanted: conditions::wanted(&built.input),
        scheduled,
    })
}

/// The disruption input over the current state.
fn build_input(
    ctx: &Context,
    pools: &kerf_state::Pools,
    instance_types: &kerf_state::InstanceTypes,
    provider_drift: BTreeMap<String, String>,
) -> kerf_state::disruption::BuiltInput {
    let state = ctx.state();
    let nodes: BTreeSet<String> = state
        .objects::<k8s_openapi::api::core::v1::Node>()
        .map(|(name, _)| name.clone())
        .collect();
    let observed = Observed {
        nominated: ctx.nominated_nodes(Instant::now()),
        provider_drift,
        pod_events: ctx.pod_events(&nodes),
    };
    let options = DisruptionOptions {
        spot_to_spot: ctx.options.disruption.spot_to_spot,
    };
    state.disruption_input(pools, instance_types, now(), &observed, options)
}

/// The command to carry out if the second decision confirms the first: the
/// same method, reason and candidates, and as many replacements. Emptiness
/// may have gained nodes that emptied during the delay; each of those has
/// been quiet for its pool's `consolidateAfter` on its own, so the larger
/// command goes (the nodes the first decision chose are still in it).
fn validated(first: &Command, second: Command) -> Option<Command> {
    let set = |c: &Command| c.candidates.iter().cloned().collect::<BTreeSet<_>>();
    if first.method != second.method || first.reason != second.reason {
        return None;
    }
    let (before, after) = (set(first), set(&second));
    let holds = if first.method == Method::Emptiness {
        before.is_subset(&after)
    } else {
        before == after && first.replacements.len() == second.replacements.len()
    };
    holds.then_some(second)
}

/// How often the loop looks while a node being deleted holds a budget: the
/// next command may go as soon as it is gone, which draining takes seconds.
const BUDGET_HELD_POLL: Duration = Duration::from_secs(2);

/// Whether a node being deleted holds up a budget: the next command may go
/// as soon as it is gone.
fn budget_held(decision: &Decision) -> bool {
    let has = |f: fn(&KeptReason) -> bool| decision.kept.iter().any(|k| f(&k.reason));
    has(|r| matches!(r, KeptReason::Budget { .. })) && has(|r| *r == KeptReason::Deleting)
}

/// The shortest `consolidateAfter` still running on a kept node.
fn next_due(decision: &Decision) -> Option<Duration> {
    decision
        .kept
        .iter()
        .filter_map(|k| match k.reason {
            KeptReason::ConsolidateAfter { remaining } => Some(remaining),
            _ => None,
        })
        .min()
}

/// What the cloud says about each launched claim's instance, asked at most
/// once per [`DisruptionSettings::provider_drift_every`] per claim, and again
/// as soon as the claim's node class spec changes: an edited EC2NodeClass
/// starts replacing nodes on the next round, as Karpenter's watch on node
/// classes does, not minutes later.
#[derive(Debug, Default)]
pub struct ProviderDrift {
    checked: BTreeMap<String, Checked>,
}

#[derive(Debug)]
struct Checked {
    at: Instant,
    /// The node class spec the answer was given for.
    class: u64,
    reason: Option<String>,
}

/// What each pool launches from now, with a fingerprint of its node class's
/// spec (status updates change nothing), once per pool and round.
fn pool_templates(
    pools: &kerf_state::pools::Pools,
) -> BTreeMap<kerf_core::template::PoolRef, (kerf_cloud::NodeTemplateContext, u64)> {
    use std::hash::{Hash, Hasher};
    pools
        .ready
        .iter()
        .map(|pool| {
            let context = pool.context();
            let mut hasher = std::collections::hash_map::DefaultHasher::new();
            context
                .class
                .as_ref()
                .map(|class| class["spec"].to_string())
                .hash(&mut hasher);
            (pool.pool.clone(), (context, hasher.finish()))
        })
        .collect()
}

/// The claim's pool's template and fingerprint; for a claim whose pool is
/// gone, its class by name alone and fingerprint 0.
fn drift_template<'a>(
    templates: &'a BTreeMap<kerf_core::template::PoolRef, (kerf_cloud::NodeTemplateContext, u64)>,
    claim: &NodeClaim,
) -> (std::borrow::Cow<'a, kerf_cloud::NodeTemplateContext>, u64) {
    let found = claim
        .metadata
        .labels
        .as_ref()
        .and_then(kerf_state::pools::pool_of_labels)
        .and_then(|pool| templates.get(&pool));
    match found {
        Some((context, fingerprint)) => (std::borrow::Cow::Borrowed(context), *fingerprint),
        None => (
            std::borrow::Cow::Owned(kerf_cloud::NodeTemplateContext::new(
                claim.spec.node_class_ref.name.clone(),
                Default::default(),
            )),
            0,
        ),
    }
}

impl ProviderDrift {
    async fn refresh(&mut self, ctx: &Context) -> BTreeMap<String, String> {
        let every = ctx.options.disruption.provider_drift_every;
        // Only the claims due a check are copied out of the cache.
        let due: Vec<(String, NodeClaim, kerf_cloud::NodeTemplateContext, u64)> = {
            let state = ctx.state();
            let templates = pool_templates(&state.pools());
            let launched: BTreeSet<&String> = state
                .objects::<NodeClaim>()
                .filter(|(_, c)| crate::decisions::is_launched(c))
                .map(|(name, _)| name)
                .collect();
            self.checked.retain(|name, _| launched.contains(name));
            launched
                .into_iter()
                .filter_map(|name| {
                    let claim = state.get::<NodeClaim>(name)?;
                    let (template, class) = drift_template(&templates, claim);
                    let due = self
                        .checked
                        .get(name)
                        .is_none_or(|c| c.at.elapsed() >= every || c.class != class);
                    due.then(|| (name.clone(), claim.clone(), template.into_owned(), class))
                })
                .collect()
        };
        for (name, claim, template, class) in due {
            match ctx.cloud.is_drifted(&claim, &template).await {
                Ok(reason) => {
                    self.checked.insert(
                        name,
                        Checked {
                            at: Instant::now(),
                            class,
                            reason,
                        },
                    );
                }
                Err(e) => tracing::warn!(claim = %name, error = %e, "asking the cloud about drift"),
            }
        }
        self.checked
            .iter()
            .filter_map(|(name, c)| c.reason.clone().map(|r| (name.clone(), r)))
            .collect()
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use kerf_core::disruption::{Kept, Reason};

    fn command(method: Method, candidates: &[&str]) -> Command {
        Command {
            method,
            reason: Reason::Underutilized,
            candidates: candidates.iter().map(|s| s.to_string()).collect(),
            replacements: Vec::new(),
            price_before: 1.0,
            price_after: 0.0,
        }
    }

    #[test]
    fn a_command_holds_when_method_reason_and_candidates_agree() {
        let first = command(Method::MultiNodeConsolidation, &["a", "b"]);
        let holds = |second: Command| validated(&first, second).is_some();
        assert!(holds(command(Method::MultiNodeConsolidation, &["b", "a"])));
        assert!(!holds(command(Method::MultiNodeConsolidation, &["a"])));
        assert!(!holds(command(
            Method::MultiNodeConsolidation,
            &["a", "b", "c"]
        )));
        assert!(!holds(command(
            Method::SingleNodeConsolidation,
            &["a", "b"]
        )));
    }

    #[test]
    fn emptiness_may_grow_during_validation_but_not_lose_a_node() {
        let first = command(Method::Emptiness, &["a"]);
        let grown = validated(&first, command(Method::Emptiness, &["a", "b"]));
        assert_eq!(
            grown.map(|c| c.candidates),
            Some(vec!["a".into(), "b".into()])
        );
        assert!(validated(&first, command(Method::Emptiness, &["b"])).is_none());
    }

    #[test]
    fn the_loop_wakes_when_the_first_consolidate_after_runs_out() {
        let kept = |node: &str, reason| Kept {
            node: node.into(),
            reason,
        };
        let decision = Decision {
            command: None,
            kept: vec![
                kept(
                    "a",
                    KeptReason::ConsolidateAfter {
                        remaining: Duration::from_secs(7),
                    },
                ),
                kept(
                    "b",
                    KeptReason::ConsolidateAfter {
                        remaining: Duration::from_secs(3),
                    },
                ),
                kept("c", KeptReason::DoNotDisruptNode),
            ],
            ..Default::default()
        };
        assert_eq!(next_due(&decision), Some(Duration::from_secs(3)));
        assert_eq!(next_due(&Decision::default()), None);
    }

    #[test]
    fn the_loop_looks_again_soon_while_a_deleting_node_holds_the_budget() {
        let kept = |node: &str, reason| Kept {
            node: node.into(),
            reason,
        };
        let budget = KeptReason::Budget {
            reason: Reason::Underutilized,
            pool: "default".into(),
        };
        let held = Decision {
            kept: vec![kept("a", KeptReason::Deleting), kept("b", budget.clone())],
            ..Default::default()
        };
        assert!(budget_held(&held));
        // A budget of 0 with nothing deleting frees only with time or a change.
        let zero = Decision {
            kept: vec![kept("b", budget)],
            ..Default::default()
        };
        assert!(!budget_held(&zero));
    }
}
