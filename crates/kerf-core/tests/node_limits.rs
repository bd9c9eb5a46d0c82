//! `limits.nodes`: a pool's node count (its registered and in-flight nodes
//! plus the new ones planned) stays within the limit; pods beyond it are
//! unschedulable with a reason naming the pool and the limit, or go to the
//! next pool by weight.

mod common;

use common::*;
use kerf_core::resources::Resources;
use kerf_core::scheduler::solve;
use kerf_core::snapshot::{ExistingNode, Snapshot};
use kerf_core::template::{NodeTemplate, PoolKind, PoolRef};
use kerf_core::validate::{Rule, validate};

/// Each pod needs a node to itself (one host port 8080 per node), and 3 cpu:
/// an m.xlarge (4 cpu) at the cheapest.
const BIG: &str = "  containers: [{name: c, resources: {requests: {cpu: '3'}}, ports: [{containerPort: 80, hostPort: 8080}]}]\n";

fn nodepool(name: &str, nodes: i64) -> NodeTemplate {
    let mut t = template(name, &[]);
    t.pool.kind = PoolKind::NodePool;
    t.limits.insert("nodes".into(), nodes * 1000);
    t
}

fn pool_node(name: &str, pool: &PoolRef, in_flight: bool) -> ExistingNode {
    // Full: nothing pending fits here.
    let mut node = existing_node(name, Resources::new(100, 1 << 30, 110), in_flight);
    node.pool = Some(pool.clone());
    node
}

#[track_caller]
fn assert_valid(snap: &Snapshot, plan: &kerf_core::plan::Plan) {
    let v = validate(snap, plan);
    assert!(v.is_empty(), "{v:#?}");
}

#[test]
fn new_nodes_stop_at_the_limit() {
    let snap = snapshot(vec![nodepool("small", 2)], pods("w", 4, "{}", BIG));
    let plan = solve(&snap);
    assert_valid(&snap, &plan);
    assert_eq!(plan.new_nodes.len(), 2);
    assert_eq!(plan.placements.len(), 2);
    assert_eq!(plan.unschedulable.len(), 2);
    for u in &plan.unschedulable {
        assert!(
            u.reason.contains("nodepool small")
                && u.reason.contains("spec.limits.nodes is 2")
                && u.reason.contains("and 2 planned"),
            "{}",
            u.reason
        );
    }
}

#[test]
fn registered_and_in_flight_nodes_count() {
    let t = nodepool("small", 3);
    let pool = t.pool.clone();
    let mut snap = snapshot(vec![t], pods("w", 3, "{}", BIG));
    snap.nodes = vec![
        pool_node("registered", &pool, false),
        pool_node("launching", &pool, true),
    ];
    // A node of another pool (or of none) does not count.
    let other = PoolRef {
        kind: PoolKind::NodePool,
        name: "other".into(),
    };
    snap.nodes.push(pool_node("elsewhere", &other, false));
    let plan = solve(&snap);
    assert_valid(&snap, &plan);
    assert_eq!(plan.new_nodes.len(), 1, "3 allowed, 2 exist");
    assert_eq!(plan.unschedulable.len(), 2);
    assert!(
        plan.unschedulable[0]
            .reason
            .contains("2 node(s) existing or launching and 1 planned"),
        "{}",
        plan.unschedulable[0].reason
    );
}

#[test]
fn pods_still_share_the_nodes_the_limit_allows() {
    // One node allowed; small pods all fit on it.
    let small = "  containers: [{name: c, resources: {requests: {cpu: 500m}}}]\n";
    let snap = snapshot(vec![nodepool("one", 1)], pods("w", 6, "{}", small));
    let plan = solve(&snap);
    assert_valid(&snap, &plan);
    assert_eq!(plan.new_nodes.len(), 1);
    assert!(plan.unschedulable.is_empty(), "{:?}", plan.unschedulable);
}

#[test]
fn a_full_pool_falls_back_to_the_next_by_weight() {
    let mut first = nodepool("first", 1);
    first.weight = 50;
    let second = {
        let mut t = template("second", &[]);
        t.pool.kind = PoolKind::NodePool;
        t
    };
    let snap = snapshot(vec![second, first], pods("w", 3, "{}", BIG));
    let plan = solve(&snap);
    assert_valid(&snap, &plan);
    assert!(plan.unschedulable.is_empty(), "{:?}", plan.unschedulable);
    let per_pool = |name: &str| {
        plan.new_nodes
            .iter()
            .filter(|n| n.pool.name == name)
            .count()
    };
    assert_eq!(per_pool("first"), 1);
    assert_eq!(per_pool("second"), 2);
}

#[test]
fn provisioner_limit_is_named_by_its_own_path() {
    // A v1alpha5 Provisioner's `spec.limits.resources.nodes`.
    let mut t = template("default", &[]);
    t.limits.insert("nodes".into(), 1000);
    let snap = snapshot(vec![t], pods("w", 2, "{}", BIG));
    let plan = solve(&snap);
    assert_valid(&snap, &plan);
    assert_eq!(plan.unschedulable.len(), 1);
    let reason = &plan.unschedulable[0].reason;
    assert!(
        reason.contains("provisioner default")
            && reason.contains("spec.limits.resources.nodes is 1"),
        "{reason}"
    );
}

#[test]
fn node_and_cpu_limits_hold_together() {
    // cpu 8 allows two m.xlarge (4 cpu each); nodes 3 would allow a third.
    let mut t = nodepool("both", 3);
    t.limits.insert("cpu".into(), 8000);
    let snap = snapshot(vec![t], pods("w", 4, "{}", BIG));
    let plan = solve(&snap);
    assert_valid(&snap, &plan);
    assert_eq!(plan.new_nodes.len(), 2);
    assert_eq!(plan.unschedulable.len(), 2);
}

#[test]
fn a_fractional_limit_allows_whole_nodes_only() {
    let mut t = nodepool("half", 0);
    t.limits.insert("nodes".into(), 1500);
    let snap = snapshot(vec![t], pods("w", 3, "{}", BIG));
    let plan = solve(&snap);
    assert_valid(&snap, &plan);
    assert_eq!(plan.new_nodes.len(), 1);
}

#[test]
fn the_validator_counts_nodes_against_the_limit() {
    // The unlimited plan for 3 big pods is 3 nodes; under a limit of 2 the
    // validator must refuse it, and count the pool's existing nodes too.
    let unlimited = {
        let mut t = template("small", &[]);
        t.pool.kind = PoolKind::NodePool;
        t
    };
    let snap = snapshot(vec![unlimited], pods("w", 3, "{}", BIG));
    let plan = solve(&snap);
    assert_eq!(plan.new_nodes.len(), 3);
    assert_valid(&snap, &plan);

    let mut limited = snap.clone();
    limited.templates[0].limits.insert("nodes".into(), 2000);
    let v = validate(&limited, &plan);
    assert!(
        !v.is_empty() && v.iter().all(|v| v.rule == Rule::Limits),
        "{v:#?}"
    );
    assert!(v[0].detail.contains("spec.limits.nodes"), "{}", v[0].detail);

    let mut roomy = snap.clone();
    roomy.templates[0].limits.insert("nodes".into(), 3000);
    assert_valid(&roomy, &plan);
    let pool = roomy.templates[0].pool.clone();
    roomy.nodes.push(pool_node("registered", &pool, false));
    let v = validate(&roomy, &plan);
    assert!(
        !v.is_empty() && v.iter().all(|v| v.rule == Rule::Limits),
        "an existing node of the pool makes 4 > 3: {v:#?}"
    );
}
