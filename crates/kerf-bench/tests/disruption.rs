//! The disruption benchmark's cluster is what it claims to be: one
//! initialized, priced node per planned node, every pod bound, the deleted
//! share gone, and a decision that matches the case.

use std::collections::BTreeSet;

use kerf_bench::disruption::{Scenario, cluster};
use kerf_cloud::InMemoryCloud;
use kerf_core::disruption::{DisruptionOptions, Method, decide};
use kerf_core::snapshot::SolveOptions;
use kerf_sim::disruption::{DisruptionRun, simulate_disruption};

#[test]
fn the_scaled_down_cluster_is_planned_launched_and_thinned() {
    let bench = cluster(&Scenario::scale_down(500)).expect("cluster builds");
    // The diverse mix's hostname anti-affinity group needs a node per pod: 100 of 500.
    assert_eq!(bench.nodes(), 100);
    assert_eq!(bench.pods_left, 200);
    let input = bench.input().expect("input builds");
    assert_eq!(input.nodes.len(), 100);
    for facts in &input.nodes {
        assert!(
            facts.initialized && facts.ready,
            "{} not settled",
            facts.name
        );
        assert!(facts.price.is_some(), "{} has no price", facts.name);
        assert!(!facts.instance_type.is_empty() && !facts.zone.is_empty());
        assert!(facts.drifted.is_none(), "{} drifted", facts.name);
    }
    let bound: usize = input.cluster.nodes.iter().map(|n| n.pods.len()).sum();
    assert_eq!(bound, 200);
    assert!(input.cluster.pending.is_empty());
}

#[test]
fn emptiness_decides_first_and_consolidation_once_the_empty_nodes_are_gone() {
    let mut bench = cluster(&Scenario::scale_down(500)).expect("cluster builds");
    let first = decide(&bench.input().expect("input builds"));
    let command = first.command.expect("some node emptied");
    assert_eq!(command.method, Method::Emptiness);
    let removed = bench.remove_empty_nodes();
    assert_eq!(removed, command.candidates.len());
    let next = decide(&bench.input().expect("input builds"));
    let command = next.command.expect("a scaled-down cluster consolidates");
    assert!(matches!(
        command.method,
        Method::MultiNodeConsolidation | Method::SingleNodeConsolidation
    ));
    assert!(command.price_after < command.price_before);
}

// The simulator's loop (as `kerf simulate --disruption` and `kerf-disruption
// --converge` run it) carries out every command over a scaled-down cluster
// (50 nodes) until none is left: each replacement launches as priced and
// every moved pod finds the place the decision counted on (the loop fails
// otherwise, as it once did when pods meant for existing nodes filled a
// replacement first).
#[test]
fn the_disruption_loop_carries_out_every_command() {
    let mut bench = cluster(&Scenario::scale_down(250)).expect("cluster builds");
    bench.remove_empty_nodes();
    let before: f64 = bench
        .input()
        .expect("input builds")
        .nodes
        .iter()
        .filter_map(|f| f.price)
        .sum();
    let run = DisruptionRun {
        now: bench.now,
        options: DisruptionOptions::default(),
    };
    let outcome = futures::executor::block_on(simulate_disruption(
        &bench.state,
        &InMemoryCloud::builtin(),
        &SolveOptions::default(),
        &run,
        &BTreeSet::new(),
    ))
    .expect("every command carried out");
    assert!(!outcome.commands.is_empty());
    assert!(!outcome.limit_reached, "{} rounds", outcome.rounds);
    assert_eq!(outcome.moved_pods.len(), outcome.commands.len());
    let saved: f64 = outcome.commands.iter().map(|c| c.savings_per_hour()).sum();
    assert!(saved > 0.0 && saved < before, "saved {saved} of {before}");
}
