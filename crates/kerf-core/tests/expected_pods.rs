//! Pods a ReplicaSet has yet to create (annotation
//! `kerf.sh/expected-replica-of`) are planned for after every pod that
//! exists: they never take capacity or a pool's limits from a real pod, even
//! when they are larger and would come first by size.

mod common;

use common::*;
use kerf_core::scheduler::solve;
use kerf_core::validate::validate;

fn expected(n: usize, cpu: &str) -> Vec<k8s_openapi::api::core::v1::Pod> {
    (0..n)
        .map(|i| {
            pod(&format!(
                "metadata:\n  name: web-expected-{i}\n  namespace: default\n  annotations: {{kerf.sh/expected-replica-of: web}}\nspec:\n  containers: [{{name: c, resources: {{requests: {{cpu: '{cpu}'}}}}}}]\n"
            ))
        })
        .collect()
}

#[test]
fn real_pods_get_the_limited_capacity_first() {
    // Room for one node of at most 4 cpu: the 3-cpu expected pods sort
    // before the 1-cpu real one by size, and would take it.
    let mut t = template("small", &[]);
    t.limits.insert("cpu".into(), 4000);
    let mut pending = expected(3, "3");
    pending.extend(pods(
        "real",
        1,
        "{app: real}",
        "  containers: [{name: c, resources: {requests: {cpu: '1'}}}]\n",
    ));
    let snap = snapshot(vec![t], pending);
    let plan = solve(&snap);
    assert!(
        validate(&snap, &plan).is_empty(),
        "{:#?}",
        validate(&snap, &plan)
    );
    let placed: Vec<&str> = plan
        .placements
        .iter()
        .map(|p| p.pod.name.as_str())
        .collect();
    assert!(placed.contains(&"real-0"), "placed {placed:?}");
    assert!(
        plan.unschedulable
            .iter()
            .all(|u| u.pod.name.starts_with("web-expected-")),
        "{:?}",
        plan.unschedulable
    );
}

#[test]
fn expected_pods_are_planned_like_real_ones() {
    let mut pending = pods(
        "web",
        2,
        "{app: web}",
        "  containers: [{name: c, resources: {requests: {cpu: '1'}}}]\n",
    );
    pending.extend(expected(6, "1"));
    let snap = snapshot(vec![template("default", &[])], pending);
    let plan = solve(&snap);
    assert!(validate(&snap, &plan).is_empty());
    assert!(plan.unschedulable.is_empty(), "{:?}", plan.unschedulable);
    assert_eq!(plan.placements.len(), 8);
    let cpu: i64 = plan.new_nodes.iter().map(|n| n.pod_requests.cpu).sum();
    assert_eq!(cpu, 8000, "nodes sized for the 2 real and 6 expected pods");
}

#[test]
fn a_snapshot_counts_expected_pods_without_copying_them() {
    use kerf_core::pod::PodKey;
    use kerf_core::snapshot::ExpectedPods;
    let mut snap = snapshot(
        vec![template("default", &[])],
        pods(
            "web",
            2,
            "{app: web}",
            "  containers: [{name: c, resources: {requests: {cpu: '1'}}}]\n",
        ),
    );
    snap.expected.push(ExpectedPods {
        like: PodKey {
            namespace: "default".into(),
            name: "web-0".into(),
        },
        owner: "web-5c8d".into(),
        count: 6,
    });
    let plan = solve(&snap);
    assert!(
        validate(&snap, &plan).is_empty(),
        "{:#?}",
        validate(&snap, &plan)
    );
    assert!(plan.unschedulable.is_empty(), "{:?}", plan.unschedulable);
    let placed: Vec<&str> = plan
        .placements
        .iter()
        .map(|p| p.pod.name.as_str())
        .collect();
    assert_eq!(placed.len(), 8, "{placed:?}");
    assert!(placed.contains(&"web-5c8d-expected-5"), "{placed:?}");
    let cpu: i64 = plan.new_nodes.iter().map(|n| n.pod_requests.cpu).sum();
    assert_eq!(cpu, 8000);
}
