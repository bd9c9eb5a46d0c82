//! The Balanced policy's score, after upstream's balanced_test.go: a move
//! that saves a larger share of the pool's cost than the share of its
//! disruption goes ahead; one that saves little and evicts much stays, with
//! the score in the reason.

use serde_json::json;

use super::tests::{Cluster, everything_allowed, kept_reason, pod};
use super::*;

fn balanced() -> PoolPolicy {
    PoolPolicy {
        policy: Policy::Balanced,
        ..everything_allowed()
    }
}

fn pods(prefix: &str, n: usize, cpu: &str) -> Vec<k8s_openapi::api::core::v1::Pod> {
    (0..n)
        .map(|i| pod(&format!("{prefix}-{i}"), cpu, json!({})))
        .collect()
}

#[test]
fn eviction_cost_weighs_deletion_cost_and_priority() {
    let plain = pod("a", "1", json!({}));
    assert_eq!(eviction_cost(&plain), 1.0);
    let dear = pod(
        "b",
        "1",
        json!({"annotations": {"controller.kubernetes.io/pod-deletion-cost": "134217728"}}),
    );
    assert_eq!(eviction_cost(&dear), 2.0, "2^27 adds one pod's worth");
    let mut urgent = pod("c", "1", json!({}));
    urgent.spec.as_mut().expect("spec").priority = Some(1_000_000_000);
    assert_eq!(eviction_cost(&urgent), 10.0, "clamped to 10");
    let mut low = pod("d", "1", json!({}));
    low.spec.as_mut().expect("spec").priority = Some(i32::MIN);
    assert_eq!(eviction_cost(&low), -10.0, "clamped to -10");
    let garbage = pod(
        "e",
        "1",
        json!({"annotations": {"controller.kubernetes.io/pod-deletion-cost": "lots"}}),
    );
    assert_eq!(eviction_cost(&garbage), 1.0, "unparsable counts as absent");
}

// A small node whose one pod fits on the big one: deleting it saves a third
// of the pool's cost for 2/9 of its disruption (score 1.5), so it goes, as
// under WhenEmptyOrUnderutilized.
#[test]
fn a_move_that_saves_more_than_it_disrupts_goes_ahead() {
    let input = Cluster::new()
        .node("busy", "t.2xlarge", "on-demand", pods("busy", 6, "1"))
        .node("light", "t.xlarge", "on-demand", pods("light", 1, "500m"))
        .input(balanced(), &["on-demand"]);
    let command = decide(&input).command.expect("a command");
    assert_eq!(command.candidates, ["light"]);
    assert!(command.replacements.is_empty(), "{command:?}");
}

// Replacing a 3-pod t.2xlarge ($0.40) by a t.xlarge ($0.20) saves 10% of a
// $2.00 pool but causes 4/12 of its disruption: score 0.30 < 0.50 (its pods
// fit nowhere else: the other nodes have half a core free each). The same
// cluster under WhenEmptyOrUnderutilized replaces it.
#[test]
fn a_move_that_disrupts_more_than_it_saves_is_kept_with_its_score() {
    let cluster = || {
        let mut c =
            Cluster::new().node("crowded", "t.2xlarge", "on-demand", pods("crowded", 3, "1"));
        for i in 0..4 {
            c = c.node(
                &format!("full-{i}"),
                "t.2xlarge",
                "on-demand",
                pods(&format!("full-{i}"), 1, "7500m"),
            );
        }
        c
    };
    let decision = decide(&cluster().input(balanced(), &["on-demand"]));
    assert!(decision.command.is_none(), "{decision:?}");
    let KeptReason::BalancedScore {
        pool,
        savings_percent,
        disruption_percent,
        score,
    } = kept_reason(&decision, "crowded")
    else {
        panic!("kept for its score: {decision:?}")
    };
    assert_eq!(pool, "default");
    assert!((savings_percent - 10.0).abs() < 1e-9, "{savings_percent}");
    assert!(
        (disruption_percent - 100.0 / 3.0).abs() < 1e-9,
        "{disruption_percent}"
    );
    assert!((score - 0.3).abs() < 1e-9, "{score}");
    let reason = kept_reason(&decision, "crowded").to_string();
    assert!(reason.contains("score 0.30, needs 0.50"), "{reason}");

    let command = decide(&cluster().input(everything_allowed(), &["on-demand"]))
        .command
        .expect("WhenEmptyOrUnderutilized replaces it");
    assert_eq!(command.candidates, ["crowded"]);
    assert_eq!(command.replacements.len(), 1);
}

// When even deleting a node outright cannot pass, no simulation runs for it:
// a node whose pods weigh 10 each (top priority) in a pool where it is cheap.
#[test]
fn a_node_that_cannot_pass_even_by_deletion_is_not_simulated() {
    let mut urgent = pod("urgent", "500m", json!({}));
    urgent.spec.as_mut().expect("spec").priority = Some(1_000_000_000);
    let input = Cluster::new()
        .node("big", "t.2xlarge", "on-demand", pods("big", 1, "7500m"))
        .node("big2", "t.2xlarge", "on-demand", pods("big2", 1, "7500m"))
        .node("small", "t.large", "on-demand", vec![urgent])
        .input(balanced(), &["on-demand"]);
    // Deleting "small" (its pod fits on "big") saves 0.10 of 0.90 (11%) for
    // 11 of 15 (73%): 0.15.
    let decision = decide(&input);
    assert!(decision.command.is_none(), "{decision:?}");
    assert!(
        matches!(kept_reason(&decision, "small"), KeptReason::BalancedScore { score, .. } if (*score - (0.1 / 0.9) / (11.0 / 15.0)).abs() < 1e-9),
        "{decision:?}"
    );
    // The same cluster under WhenEmptyOrUnderutilized deletes it.
    let mut input = input;
    input.pools.insert(tests::pool(), everything_allowed());
    let command = decide(&input).command.expect("a command");
    assert_eq!(command.candidates, ["small"]);
}
