//! Disruption's metrics, under Karpenter v1's names:
//! `karpenter_voluntary_disruption_decisions_total`,
//! `karpenter_voluntary_disruption_eligible_nodes`,
//! `karpenter_voluntary_disruption_decision_evaluation_duration_seconds`,
//! `karpenter_nodeclaims_disrupted_total`; and kerf's own counts of commands
//! dropped at validation and rolled back.

use std::collections::BTreeMap;

use kerf_core::disruption::{Command, Decision, DisruptionInput, KeptReason, Method, pods_to_move};
use prometheus_client::encoding::EncodeLabelSet;
use prometheus_client::metrics::counter::Counter;
use prometheus_client::metrics::family::Family;
use prometheus_client::metrics::gauge::Gauge;
use prometheus_client::metrics::histogram::{Histogram, exponential_buckets};
use prometheus_client::registry::Registry;

#[derive(Clone, Debug, Hash, PartialEq, Eq, EncodeLabelSet)]
pub struct DecisionLabels {
    /// `delete` or `replace`.
    pub decision: String,
    /// `empty`, `drifted` or `underutilized`.
    pub reason: String,
    /// `empty`, `single`, `multi`, or empty for drift.
    pub consolidation_type: String,
}

#[derive(Clone, Debug, Hash, PartialEq, Eq, EncodeLabelSet)]
pub struct ReasonLabels {
    pub reason: String,
}

#[derive(Clone, Debug, Hash, PartialEq, Eq, EncodeLabelSet)]
pub struct DisruptedLabels {
    pub reason: String,
    pub nodepool: String,
    pub capacity_type: String,
}

pub struct DisruptionMetrics {
    pub decisions: Family<DecisionLabels, Counter>,
    pub eligible: Family<ReasonLabels, Gauge>,
    pub disrupted: Family<DisruptedLabels, Counter>,
    pub evaluation_duration: Histogram,
    pub invalidated: Counter,
    pub failed: Counter,
    /// Pods whose pod-deletion-cost kerf wrote or took back.
    pub deletion_cost_writes: Counter,
}

impl DisruptionMetrics {
    pub fn register(registry: &mut Registry) -> Self {
        let m = DisruptionMetrics {
            decisions: Family::default(),
            eligible: Family::default(),
            disrupted: Family::default(),
            evaluation_duration: Histogram::new(exponential_buckets(0.001, 2.0, 16)),
            invalidated: Counter::default(),
            failed: Counter::default(),
            deletion_cost_writes: Counter::default(),
        };
        registry.register(
            "karpenter_voluntary_disruption_decisions",
            "Disruption commands carried out, by decision, reason and consolidation type",
            m.decisions.clone(),
        );
        registry.register(
            "kerf_pod_deletion_cost_writes",
            "Pods whose controller.kubernetes.io/pod-deletion-cost kerf wrote or took back",
            m.deletion_cost_writes.clone(),
        );
        registry.register(
            "karpenter_voluntary_disruption_eligible_nodes",
            "Nodes that passed the candidate rules in the last decision, by reason",
            m.eligible.clone(),
        );
        registry.register(
            "karpenter_nodeclaims_disrupted",
            "NodeClaims deleted by disruption, by reason, pool and capacity type",
            m.disrupted.clone(),
        );
        registry.register(
            "karpenter_voluntary_disruption_decision_evaluation_duration_seconds",
            "Duration of one disruption decision over the cluster",
            m.evaluation_duration.clone(),
        );
        registry.register(
            "kerf_disruption_commands_invalidated",
            "Commands dropped because a second decision after the validation delay differed",
            m.invalidated.clone(),
        );
        registry.register(
            "kerf_disruption_commands_failed",
            "Commands rolled back because a replacement failed or timed out",
            m.failed.clone(),
        );
        m
    }

    /// Sets the eligible-node gauge from one decision: the candidates and the
    /// nodes kept only because of the pool's budget or the packing.
    pub fn record_eligible(&self, input: &DisruptionInput, decision: &Decision) {
        let mut counts: BTreeMap<&'static str, i64> =
            [("empty", 0), ("drifted", 0), ("underutilized", 0)].into();
        let candidates = decision.command.iter().flat_map(|c| &c.candidates);
        let passed = decision
            .kept
            .iter()
            .filter(|k| passed_candidate_rules(&k.reason))
            .map(|k| &k.node);
        for name in candidates.chain(passed) {
            *counts.entry(eligible_reason(input, name)).or_default() += 1;
        }
        for (reason, n) in counts {
            self.eligible
                .get_or_create(&ReasonLabels {
                    reason: reason.to_string(),
                })
                .set(n);
        }
    }

    /// Counts a command about to be carried out.
    pub fn record_decision(&self, command: &Command) {
        let decision = if command.replacements.is_empty() {
            "delete"
        } else {
            "replace"
        };
        let consolidation_type = match command.method {
            Method::Emptiness => "empty",
            Method::SingleNodeConsolidation => "single",
            Method::MultiNodeConsolidation => "multi",
            Method::Drift => "",
        };
        self.decisions
            .get_or_create(&DecisionLabels {
                decision: decision.to_string(),
                reason: command.reason.to_string().to_lowercase(),
                consolidation_type: consolidation_type.to_string(),
            })
            .inc();
    }
}

fn passed_candidate_rules(reason: &KeptReason) -> bool {
    matches!(
        reason,
        KeptReason::Budget { .. }
            | KeptReason::PodsWouldNotFit { .. }
            | KeptReason::WouldNeedNodes { .. }
            | KeptReason::NoCheaperFit { .. }
            | KeptReason::SpotToSpotDisabled
            | KeptReason::SpotToSpotFlexibility { .. }
            | KeptReason::BalancedScore { .. }
            | KeptReason::NotThisRound
    )
}

fn eligible_reason(input: &DisruptionInput, node: &str) -> &'static str {
    if input
        .nodes
        .iter()
        .any(|f| f.name == node && f.drifted.is_some())
    {
        return "drifted";
    }
    let empty = input
        .cluster
        .nodes
        .iter()
        .find(|n| n.name == node)
        .is_some_and(|n| pods_to_move(n).next().is_none());
    if empty { "empty" } else { "underutilized" }
}
