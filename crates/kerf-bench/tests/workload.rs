//! The benchmark workload is upstream's (groups, label choices, requests,
//! catalogue), its bounds are bounds, and kerf's plans for it are valid.

use std::collections::BTreeSet;

use kerf_bench::{
    GROUPS, Group, anti_affinity_node_bound, benchmark_types, diverse_pods, group_pods,
    lower_bound, preference_pods, snapshot,
};
use kerf_core::scheduler::solve;
use kerf_core::snapshot::PreferencePolicy;
use kerf_core::validate::validate;

fn requests(pods: &[k8s_openapi::api::core::v1::Pod]) -> BTreeSet<(String, String)> {
    pods.iter()
        .filter_map(|p| {
            let r = p.spec.as_ref()?.containers[0]
                .resources
                .as_ref()?
                .requests
                .as_ref()?;
            Some((r.get("cpu")?.0.clone(), r.get("memory")?.0.clone()))
        })
        .collect()
}

#[test]
fn five_equal_groups_with_upstream_choices() {
    let pods = diverse_pods(1_003, 7);
    assert_eq!(pods.len(), 1_003);
    let names: Vec<&str> = pods
        .iter()
        .filter_map(|p| p.metadata.name.as_deref())
        .collect();
    for g in GROUPS {
        let prefix = format!("{g:?}-").to_lowercase();
        let n = names.iter().filter(|n| n.starts_with(&prefix)).count();
        let want = if g == Group::Generic { 200 + 3 } else { 200 };
        assert_eq!(n, want, "{g:?}");
    }
    let cpus: BTreeSet<String> = requests(&pods).into_iter().map(|r| r.0).collect();
    let mems: BTreeSet<String> = requests(&pods).into_iter().map(|r| r.1).collect();
    assert_eq!(
        cpus,
        ["100m", "250m", "500m", "1000m", "1500m"]
            .map(String::from)
            .into()
    );
    assert_eq!(
        mems,
        ["100Mi", "256Mi", "512Mi", "1024Mi", "2048Mi", "4096Mi"]
            .map(String::from)
            .into()
    );
    let values: BTreeSet<String> = group_pods(Group::ZoneAffinity, 500, 7)
        .iter()
        .filter_map(|p| p.metadata.labels.as_ref()?.get("my-affininity").cloned())
        .collect();
    assert_eq!(
        values,
        ["a", "b", "c", "d", "e", "f", "g"].map(String::from).into()
    );
    assert_eq!(anti_affinity_node_bound(&pods), 200);
    assert_eq!(diverse_pods(500, 7), diverse_pods(500, 7), "seeded");
}

#[test]
fn plans_are_valid_and_meet_the_node_bound() {
    let types = benchmark_types();
    for pods in [diverse_pods(500, 42), group_pods(Group::Generic, 500, 42)] {
        let snap = snapshot(pods.clone(), &types, PreferencePolicy::Respect);
        let plan = solve(&snap);
        let violations = validate(&snap, &plan);
        assert!(violations.is_empty(), "{violations:?}");
        assert_eq!(plan.scheduled_pods(), pods.len());
        let bound = anti_affinity_node_bound(&pods);
        assert!(plan.new_nodes.len() >= bound);
        assert!(plan.new_cost_per_hour() >= lower_bound(&pods, &types) - 1e-9);
    }
    let diverse = diverse_pods(500, 42);
    let plan = solve(&snapshot(
        diverse.clone(),
        &types,
        PreferencePolicy::Respect,
    ));
    assert_eq!(plan.new_nodes.len(), 100, "exactly N/5 nodes");
}

#[test]
fn preference_workload_solves_under_both_policies() {
    let types = benchmark_types();
    let pods = preference_pods(200, 42);
    for policy in [PreferencePolicy::Respect, PreferencePolicy::Ignore] {
        let snap = snapshot(pods.clone(), &types, policy);
        let plan = solve(&snap);
        assert!(validate(&snap, &plan).is_empty());
        assert_eq!(plan.scheduled_pods(), 200, "{policy:?}");
    }
}
