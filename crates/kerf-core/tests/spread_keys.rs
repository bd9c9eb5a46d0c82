//! kube-scheduler's PodTopologySpread counts a node only when it carries the
//! topology key of every one of the pod's constraints (of the same kind:
//! DoNotSchedule in its filter, ScheduleAnyway in its scoring); a node missing
//! a key counts in no domain, and a node missing a DoNotSchedule key is no
//! candidate. Each plan is also checked by the independent validator.

mod common;

use std::collections::BTreeMap;

use common::*;
use k8s_openapi::api::core::v1::Pod;
use kerf_core::plan::Plan;
use kerf_core::resources::Resources;
use kerf_core::scheduler::solve;
use kerf_core::snapshot::{ExistingNode, Snapshot};
use kerf_core::validate::validate;

const ZONE: &str = "topology.kubernetes.io/zone";
const CAPACITY_TYPE: &str = "karpenter.sh/capacity-type";
const HOSTNAME: &str = "kubernetes.io/hostname";

fn constraint(key: &str, when: &str) -> String {
    format!(
        "{{maxSkew: 1, topologyKey: {key}, whenUnsatisfiable: {when}, labelSelector: {{matchLabels: {{app: web}}}}}}"
    )
}

/// `n` pending `app: web` pods with these spread constraints.
fn web(n: usize, constraints: &[String]) -> Vec<Pod> {
    let spec = format!(
        "  topologySpreadConstraints: [{}]\n  containers: [{{name: c, resources: {{requests: {{cpu: 100m}}}}}}]\n",
        constraints.join(", ")
    );
    pods("web", n, "{app: web}", &spec)
}

/// A node with these labels (plus its hostname) running `bound` `app: web`
/// pods, with `free_cpu` millicores left.
fn node(name: &str, labels: &[(&str, &str)], bound: usize, free_cpu: i64) -> ExistingNode {
    let mut l: BTreeMap<String, String> = labels
        .iter()
        .map(|(k, v)| (k.to_string(), v.to_string()))
        .collect();
    l.insert(HOSTNAME.into(), name.into());
    let running = (0..bound)
        .map(|i| {
            pod(&format!(
                "metadata: {{name: {name}-web-{i}, namespace: default, labels: {{app: web}}}}\nspec:\n  nodeName: {name}\n  containers: [{{name: c, resources: {{requests: {{cpu: 100m}}}}}}]\nstatus: {{phase: Running}}\n"
            ))
        })
        .map(std::sync::Arc::new).collect();
    ExistingNode {
        name: name.into(),
        labels: l,
        taints: Vec::new(),
        allocatable: Resources::new(100 * bound as i64 + free_cpu, 8 << 30, 110),
        pods: running,
        pool: None,
        in_flight: false,
        marked_for_deletion: false,
        unschedulable: false,
    }
}

#[track_caller]
fn solve_valid(snap: &Snapshot) -> Plan {
    let plan = solve(snap);
    let v = validate(snap, &plan);
    assert!(v.is_empty(), "{v:#?}");
    assert!(plan.unschedulable.is_empty(), "{:?}", plan.unschedulable);
    plan
}

fn count_by(plan: &Plan, label: &str) -> BTreeMap<String, usize> {
    let mut out = BTreeMap::new();
    for n in &plan.new_nodes {
        *out.entry(n.labels[label].clone()).or_default() += n.pods.len();
    }
    out
}

/// A node without a zone label runs two web pods on on-demand capacity. The
/// pods spread over zone *and* capacity type, so that node counts in neither:
/// capacity types start even, and the two new pods take one each. (Counting
/// it would send both to spot, which kube-scheduler rejects for the second.)
#[test]
fn a_node_without_the_zone_label_does_not_skew_capacity_type_counts() {
    let constraints = [
        constraint(ZONE, "DoNotSchedule"),
        constraint(CAPACITY_TYPE, "DoNotSchedule"),
    ];
    let mut snap = snapshot(vec![template("default", &[])], web(2, &constraints));
    snap.nodes = vec![node("zoneless", &[(CAPACITY_TYPE, "on-demand")], 2, 4000)];
    let plan = solve_valid(&snap);
    assert!(
        plan.existing.is_empty(),
        "a node without a zone is no candidate"
    );
    assert_eq!(
        count_by(&plan, CAPACITY_TYPE),
        BTreeMap::from([("on-demand".into(), 1), ("spot".into(), 1)])
    );
}

/// The other way round: a zone-a node without a capacity-type label runs two
/// web pods; with both keys in the pod's constraints its pods must not count in
/// zone-a, so the new pods use zone-a and zone-b alike.
#[test]
fn a_node_without_the_capacity_type_label_does_not_skew_zone_counts() {
    let constraints = [
        constraint(ZONE, "DoNotSchedule"),
        constraint(CAPACITY_TYPE, "DoNotSchedule"),
    ];
    let two_zones = template("default", &[(ZONE, "In", &["zone-a", "zone-b"])]);
    let mut snap = snapshot(vec![two_zones], web(2, &constraints));
    snap.nodes = vec![node("typeless", &[(ZONE, "zone-a")], 2, 0)];
    let plan = solve_valid(&snap);
    assert_eq!(
        count_by(&plan, ZONE),
        BTreeMap::from([("zone-a".into(), 1), ("zone-b".into(), 1)])
    );
}

/// Only the keys of constraints of the same kind matter: a ScheduleAnyway
/// constraint on capacity type does not make kube-scheduler's filter ignore a
/// node lacking that label, so its pods still count for the DoNotSchedule zone
/// spread and keep the new pods out of zone-a.
#[test]
fn schedule_anyway_keys_do_not_hide_nodes_from_do_not_schedule_counts() {
    let constraints = [
        constraint(ZONE, "DoNotSchedule"),
        constraint(CAPACITY_TYPE, "ScheduleAnyway"),
    ];
    let mut snap = snapshot(vec![template("default", &[])], web(2, &constraints));
    snap.nodes = vec![node("typeless", &[(ZONE, "zone-a")], 2, 0)];
    let plan = solve_valid(&snap);
    let zones = count_by(&plan, ZONE);
    assert!(!zones.contains_key("zone-a"), "{zones:?}");
    assert_eq!(zones.values().sum::<usize>(), 2);
}

/// A node missing a DoNotSchedule key is no candidate, however much room it has.
#[test]
fn a_node_missing_the_key_takes_no_pod() {
    let mut snap = snapshot(
        vec![template("default", &[])],
        web(1, &[constraint(ZONE, "DoNotSchedule")]),
    );
    snap.nodes = vec![node("zoneless", &[], 0, 4000)];
    let plan = solve_valid(&snap);
    assert!(plan.existing.is_empty());
    assert_eq!(plan.new_nodes.len(), 1);

    // Without the constraint the same node takes it.
    let mut plain = snap.clone();
    plain.pending = pods(
        "web",
        1,
        "{app: web}",
        "  containers: [{name: c, resources: {requests: {cpu: 100m}}}]\n",
    )
    .into_iter()
    .map(std::sync::Arc::new)
    .collect();
    let plan = solve_valid(&plain);
    assert_eq!(plan.existing.len(), 1);
}

/// A spread the pod cannot keep says where and with what counts: the only
/// zone the pool offers already holds two `app: web` pods while the other
/// zone's node is full, so a third there would be 3 against 0.
#[test]
fn an_unkeepable_spread_names_the_domain_and_its_counts() {
    let mut snap = snapshot(
        vec![template("default", &[(ZONE, "In", &["us-east-1a"])])],
        web(1, &[constraint(ZONE, "DoNotSchedule")]),
    );
    snap.nodes = vec![
        node("a", &[(ZONE, "us-east-1a")], 2, 0),
        node("b", &[(ZONE, "us-east-1b")], 0, 0),
    ];
    let plan = solve(&snap);
    assert!(validate(&snap, &plan).is_empty());
    let [refused] = plan.unschedulable.as_slice() else {
        panic!("one pod refused: {:?}", plan.unschedulable);
    };
    assert!(
        refused.reason.contains(
            "topology spread on topology.kubernetes.io/zone would exceed maxSkew in us-east-1a \
             (2 matching pods there, 0 allowed before this one)"
        ),
        "{}",
        refused.reason
    );
}
