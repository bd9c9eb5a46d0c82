//! Why a managed node stays: the reasons disruption reports for every node no
//! command touches, in words a person can act on.

use std::fmt;
use std::time::Duration;

use serde::{Deserialize, Serialize};

use super::Reason;
use crate::plan::InstanceOption;

/// Why a managed node is not disrupted, in words a person can act on.
#[derive(Clone, Debug, PartialEq, Serialize, Deserialize)]
pub enum KeptReason {
    NotInCluster,
    NotInitialized,
    Deleting,
    Nominated,
    DoNotDisruptNode,
    DoNotDisruptPod {
        pod: String,
    },
    PodDisruptionBudget {
        pod: String,
        pdb: String,
    },
    UnknownPool,
    UnknownPrice,
    ConsolidateAfterNever,
    ConsolidateAfter {
        remaining: Duration,
    },
    OnlyWhenEmpty,
    Budget {
        reason: Reason,
        pool: String,
    },
    PodsWouldNotFit {
        pod: String,
        why: String,
    },
    WouldNeedNodes {
        count: usize,
    },
    /// The scheduler's one replacement for the pods is not cheaper enough:
    /// `best` is its cheapest offering (none when it had no option), against
    /// the `current` price of the candidates.
    NoCheaperFit {
        best: Option<InstanceOption>,
        current: f64,
    },
    SpotToSpotDisabled,
    SpotToSpotFlexibility {
        cheaper_types: usize,
    },
    /// Its pool's consolidationPolicy is Balanced and the move saves too
    /// little of the pool's cost for the disruption it causes.
    BalancedScore {
        pool: String,
        savings_percent: f64,
        disruption_percent: f64,
        score: f64,
    },
    /// Eligible, but another command goes first this round.
    NotThisRound,
}

impl fmt::Display for KeptReason {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        use KeptReason::*;
        match self {
            NotInCluster => write!(f, "not in the cluster snapshot"),
            NotInitialized => write!(f, "not initialized yet"),
            Deleting => write!(f, "already being deleted"),
            Nominated => write!(f, "nominated for a pending pod"),
            DoNotDisruptNode => write!(f, "node has karpenter.sh/do-not-disrupt"),
            DoNotDisruptPod { pod } => write!(f, "pod {pod} has karpenter.sh/do-not-disrupt"),
            PodDisruptionBudget { pod, pdb } => {
                write!(
                    f,
                    "PodDisruptionBudget {pdb} allows no eviction of pod {pod} now"
                )
            }
            UnknownPool => write!(f, "its pool is not known"),
            UnknownPrice => write!(f, "its instance type has no known price"),
            ConsolidateAfterNever => write!(f, "consolidateAfter is Never"),
            ConsolidateAfter { remaining } => {
                write!(f, "consolidateAfter has {}s to run", remaining.as_secs())
            }
            OnlyWhenEmpty => write!(f, "consolidationPolicy is WhenEmpty and it has pods"),
            Budget { reason, pool } => {
                write!(
                    f,
                    "disruption budget of {pool} allows no more {reason} disruptions now"
                )
            }
            PodsWouldNotFit { pod, why } => write!(f, "pod {pod} would not fit elsewhere: {why}"),
            WouldNeedNodes { count } => {
                write!(
                    f,
                    "its pods would need {count} new nodes (never split one node)"
                )
            }
            NoCheaperFit { best, current } => match best {
                Some(best) => write!(
                    f,
                    "no cheaper fit: the best replacement, {}, costs ${:.4}/h against ${current:.4}/h now",
                    offering(best),
                    best.price
                ),
                None => write!(f, "no cheaper fit than ${current:.4}/h"),
            },
            SpotToSpotDisabled => write!(
                f,
                "spot-to-spot consolidation is off (--feature-gates SpotToSpotConsolidation=true)"
            ),
            SpotToSpotFlexibility { cheaper_types } => write!(
                f,
                "spot-to-spot needs at least 15 cheaper instance types, found {cheaper_types}"
            ),
            BalancedScore {
                pool,
                savings_percent,
                disruption_percent,
                score,
            } => write!(
                f,
                "consolidationPolicy Balanced: the best move saves {savings_percent:.1}% of {pool}'s cost \
                 for {disruption_percent:.1}% of its disruption (score {score:.2}, needs {:.2})",
                1.0 / super::BALANCED_K
            ),
            NotThisRound => write!(f, "eligible; another command goes first"),
        }
    }
}

/// An offering as `m5.2xlarge spot in us-east-1a`: the instance type, then
/// its capacity type and zone when known.
fn offering(o: &InstanceOption) -> String {
    let mut out = o.instance_type.clone();
    if !o.capacity_type.is_empty() {
        out.push(' ');
        out.push_str(&o.capacity_type);
    }
    if !o.zone.is_empty() {
        out.push_str(" in ");
        out.push_str(&o.zone);
    }
    out
}

#[cfg(test)]
mod tests {
    use super::*;

    fn option(instance_type: &str, capacity_type: &str, zone: &str) -> InstanceOption {
        InstanceOption {
            instance_type: instance_type.into(),
            zone: zone.into(),
            capacity_type: capacity_type.into(),
            price: 0.13819,
        }
    }

    #[test]
    fn no_cheaper_fit_names_the_best_replacement() {
        let kept = KeptReason::NoCheaperFit {
            best: Some(option("m5.2xlarge", "spot", "us-east-1a")),
            current: 0.096,
        };
        assert_eq!(
            kept.to_string(),
            "no cheaper fit: the best replacement, m5.2xlarge spot in us-east-1a, \
             costs $0.1382/h against $0.0960/h now"
        );
    }

    #[test]
    fn no_cheaper_fit_leaves_out_what_the_offering_does_not_say() {
        let kept = KeptReason::NoCheaperFit {
            best: Some(option("m5.2xlarge", "", "")),
            current: 0.096,
        };
        assert_eq!(
            kept.to_string(),
            "no cheaper fit: the best replacement, m5.2xlarge, costs $0.1382/h against $0.0960/h now"
        );
        let kept = KeptReason::NoCheaperFit {
            best: Some(option("m5.2xlarge", "on-demand", "")),
            current: 0.096,
        };
        assert!(
            kept.to_string()
                .contains("the best replacement, m5.2xlarge on-demand, costs"),
            "{kept}"
        );
        let kept = KeptReason::NoCheaperFit {
            best: None,
            current: 0.096,
        };
        assert_eq!(kept.to_string(), "no cheaper fit than $0.0960/h");
    }
}
