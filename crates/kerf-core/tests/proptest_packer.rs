//! Property tests of the packer against the independent validator.
//!
//! (a) every plan passes `validate`; (b) `solve` is deterministic; (c) every
//! planned node's chosen offering is the cheapest of its options, and each
//! option's offering is the cheapest its type allows under the node's
//! requirements; (d) plain pods that each fit the largest type are all placed;
//! (e) no pool ends up with more nodes than its `limits.nodes`, and the
//! validator refuses the same plan once a pool's node limit is one lower.
//!
//! `PROPTEST_CASES` sets the number of cases (default 256).

mod support;

use kerf_core::plan::Plan;
use kerf_core::requirements::Requirements;
use kerf_core::scheduler::solve;
use kerf_core::snapshot::Snapshot;
use kerf_core::template::PoolRef;
use kerf_core::validate::{Rule, validate};
use proptest::prelude::*;
use proptest::test_runner::Config;
use support::*;

fn config() -> Config {
    let cases = std::env::var("PROPTEST_CASES")
        .ok()
        .and_then(|v| v.parse().ok())
        .unwrap_or(256);
    // Failures are turned into tests in packer_regressions.rs by hand; no files here.
    Config {
        cases,
        failure_persistence: None,
        ..Config::default()
    }
}

fn describe(plan: &Plan) -> String {
    let mut out = String::new();
    for n in &plan.new_nodes {
        let pods: Vec<String> = n.pods.iter().map(|p| p.to_string()).collect();
        out.push_str(&format!(
            "  new {} {} {}/{} ${}: {}\n",
            n.name,
            n.chosen.instance_type,
            n.chosen.zone,
            n.chosen.capacity_type,
            n.chosen.price,
            pods.join(" ")
        ));
    }
    for e in &plan.existing {
        let pods: Vec<String> = e.pods.iter().map(|p| p.to_string()).collect();
        out.push_str(&format!("  existing {}: {}\n", e.node, pods.join(" ")));
    }
    for u in &plan.unschedulable {
        out.push_str(&format!("  unschedulable {}: {}\n", u.pod, u.reason));
    }
    out
}

/// The cheapest available offering of `type_name` in the node's template that
/// `requirements` allow, by direct comparison.
fn cheapest_allowed(
    snapshot: &Snapshot,
    pool: &kerf_core::template::PoolRef,
    type_name: &str,
    requirements: &Requirements,
) -> Option<f64> {
    let t = snapshot.templates.iter().find(|t| &t.pool == pool)?;
    let it = t.instance_types.iter().find(|it| it.name == type_name)?;
    it.offerings
        .iter()
        .filter(|o| o.available)
        .filter(|o| requirements.get(ZONE).is_none_or(|r| r.has(&o.zone)))
        .filter(|o| {
            requirements
                .get(CAPACITY_TYPE)
                .is_none_or(|r| r.has(&o.capacity_type))
        })
        .map(|o| o.price)
        .min_by(f64::total_cmp)
}

/// The pool's nodes in the snapshot plus the plan's new ones.
fn pool_nodes(snapshot: &Snapshot, plan: &Plan, pool: &PoolRef) -> (usize, usize) {
    let existing = snapshot
        .nodes
        .iter()
        .filter(|n| n.pool.as_ref() == Some(pool))
        .count();
    let new = plan.new_nodes.iter().filter(|n| &n.pool == pool).count();
    (existing, new)
}

proptest! {
    #![proptest_config(config())]

    #[test]
    fn plans_pass_the_validator(case in arb_case()) {
        let snapshot = case.build();
        let plan = solve(&snapshot);
        let violations = validate(&snapshot, &plan);
        prop_assert!(
            violations.is_empty(),
            "{} violation(s):\n{}\nplan:\n{}",
            violations.len(),
            violations.iter().map(|v| format!("  {v}")).collect::<Vec<_>>().join("\n"),
            describe(&plan)
        );
    }

    #[test]
    fn solve_is_deterministic(case in arb_case()) {
        let snapshot = case.build();
        let a = serde_json::to_string(&solve(&snapshot)).expect("plan serialises");
        let b = serde_json::to_string(&solve(&snapshot)).expect("plan serialises");
        prop_assert_eq!(a, b);
    }

    #[test]
    fn chosen_offering_is_the_cheapest_option(case in arb_case()) {
        let snapshot = case.build();
        let plan = solve(&snapshot);
        for n in &plan.new_nodes {
            prop_assert!(!n.options.is_empty(), "{} has no options", n.name);
            prop_assert_eq!(&n.options[0], &n.chosen, "{}: chosen is not options[0]", n.name);
            for o in &n.options {
                prop_assert!(n.chosen.price <= o.price, "{}: chosen {:?} costs more than option {:?}", n.name, n.chosen, o);
                let cheapest = cheapest_allowed(&snapshot, &n.pool, &o.instance_type, &n.requirements);
                prop_assert_eq!(
                    cheapest,
                    Some(o.price),
                    "{}: option {:?} is not its type's cheapest offering under {}",
                    &n.name,
                    o,
                    &n.requirements
                );
            }
        }
    }

    #[test]
    fn plain_pods_that_fit_the_largest_type_are_all_placed(workload in arb_plain_workload()) {
        let snapshot = plain_snapshot(&workload);
        let plan = solve(&snapshot);
        prop_assert!(plan.unschedulable.is_empty(), "unschedulable: {:?}", plan.unschedulable);
        prop_assert_eq!(plan.placements.len(), workload.len());
        let violations = validate(&snapshot, &plan);
        prop_assert!(violations.is_empty(), "{:?}", violations);
    }

    #[test]
    fn node_limits_hold_and_the_validator_sees_them(case in arb_case()) {
        let snapshot = case.build();
        let plan = solve(&snapshot);
        for (t, template) in snapshot.templates.iter().enumerate() {
            let (existing, new) = pool_nodes(&snapshot, &plan, &template.pool);
            if let Some(limit) = template.limits.get("nodes") {
                prop_assert!(
                    new == 0 || ((existing + new) as i64) * 1000 <= *limit,
                    "{}: {existing} existing + {new} new nodes exceed limit {limit}m\n{}",
                    template.pool,
                    describe(&plan)
                );
            }
            if new == 0 {
                continue;
            }
            // One node fewer allowed: the same plan must now break the limit.
            let mut tighter = snapshot.clone();
            tighter.templates[t]
                .limits
                .insert("nodes".into(), ((existing + new - 1) as i64) * 1000);
            let violations = validate(&tighter, &plan);
            prop_assert!(
                violations.iter().any(|v| v.rule == Rule::Limits),
                "{}: limit {} not enforced by the validator: {:?}",
                template.pool,
                existing + new - 1,
                violations
            );
        }
    }
}
