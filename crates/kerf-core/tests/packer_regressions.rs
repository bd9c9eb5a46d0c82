//! Minimal cases, shrunk by the property tests in `proptest_packer.rs`, where
//! the packer's plan breaks a rule kube-scheduler enforces (as checked by the
//! independent `validate`), each kept as a test now that the packer is fixed.

mod support;

use k8s_openapi::api::core::v1::Pod;
use kerf_core::plan::Plan;
use kerf_core::scheduler::solve;
use kerf_core::snapshot::Snapshot;
use kerf_core::validate::validate;
use serde_json::{Value, json};
use support::*;

fn pod(name: &str, labels: Value, spec: Value) -> Pod {
    serde_json::from_value(
        json!({"metadata": {"name": name, "namespace": "default", "labels": labels}, "spec": spec}),
    )
    .expect("pod")
}

/// One template over the whole catalogue, no requirements, no taints.
fn open_template() -> TemplateDesc {
    TemplateDesc {
        weight: 0,
        taint: 0,
        arch: 0,
        capacity: 0,
        zones: 7,
        family: 0,
        team: false,
        cpu_limit: None,
        node_limit: None,
    }
}

fn snapshot(templates: &[TemplateDesc], pending: Vec<Pod>) -> Snapshot {
    let catalogue = catalogue();
    Snapshot {
        pending: pending.into_iter().map(std::sync::Arc::new).collect(),
        templates: templates
            .iter()
            .enumerate()
            .map(|(i, t)| t.build(i, &catalogue))
            .collect(),
        ..Default::default()
    }
}

#[track_caller]
fn assert_valid(snapshot: &Snapshot, plan: &Plan) {
    let violations = validate(snapshot, plan);
    assert!(
        violations.is_empty(),
        "{}",
        violations
            .iter()
            .map(|v| v.to_string())
            .collect::<Vec<_>>()
            .join("\n")
    );
}

/// Required `team In [blue]` ∩ preferred `team DoesNotExist` is the empty set,
/// which the requirements algebra represents as `In []` — indistinguishable
/// from `DoesNotExist`. The pod then "fits" a template that has no team label
/// and lands on a node without one, although its required affinity demands
/// team=blue. Expected: the preference is relaxed and, since no template
/// offers team=blue, the pod is unschedulable.
#[test]
fn required_in_intersected_with_preferred_does_not_exist() {
    let spec = json!({
        "containers": [{"name": "c", "resources": {"requests": {"cpu": "100m"}}}],
        "affinity": {"nodeAffinity": {
            "requiredDuringSchedulingIgnoredDuringExecution": {"nodeSelectorTerms": [
                {"matchExpressions": [{"key": "team", "operator": "In", "values": ["blue"]}]}
            ]},
            "preferredDuringSchedulingIgnoredDuringExecution": [
                {"weight": 1, "preference": {"matchExpressions": [{"key": "team", "operator": "DoesNotExist"}]}}
            ],
        }},
    });
    let snap = snapshot(&[open_template()], vec![pod("p", json!({}), spec)]);
    let plan = solve(&snap);
    assert_valid(&snap, &plan);
    assert_eq!(
        plan.unschedulable.len(),
        1,
        "no template can label a node team=blue"
    );
}

/// The same root cause without any preference: `nodeSelector: {team: red}` and
/// a required `team In [blue]` can never both hold, yet the packer launches a
/// node (without a team label) for the pod.
#[test]
fn contradictory_node_selector_and_required_affinity() {
    let spec = json!({
        "containers": [{"name": "c", "resources": {"requests": {"cpu": "100m"}}}],
        "nodeSelector": {"team": "red"},
        "affinity": {"nodeAffinity": {"requiredDuringSchedulingIgnoredDuringExecution": {"nodeSelectorTerms": [
            {"matchExpressions": [{"key": "team", "operator": "In", "values": ["blue"]}]}
        ]}}},
    });
    let snap = snapshot(&[open_template()], vec![pod("p", json!({}), spec)]);
    let plan = solve(&snap);
    assert_valid(&snap, &plan);
    assert_eq!(
        plan.unschedulable.len(),
        1,
        "team=red and team In [blue] cannot both hold"
    );
}

fn with_pv(name: &str, zone: &str, snap: &mut Snapshot) {
    snap.volumes.push(
        serde_json::from_value(json!({
            "metadata": {"name": format!("pv-{name}")},
            "spec": {"nodeAffinity": {"required": {"nodeSelectorTerms": [
                {"matchExpressions": [{"key": ZONE, "operator": "In", "values": [zone]}]}
            ]}}},
        }))
        .expect("pv"),
    );
    snap.claims.push(
        serde_json::from_value(json!({
            "metadata": {"name": format!("data-{name}"), "namespace": "default"},
            "spec": {"volumeName": format!("pv-{name}")},
        }))
        .expect("pvc"),
    );
}

fn volume(name: &str) -> Value {
    json!([{"name": "data", "persistentVolumeClaim": {"claimName": format!("data-{name}")}}])
}

/// Three `app: web` pods spread over zones (maxSkew 1, DoNotSchedule, default
/// nodeAffinityPolicy Honor), each with a PV pinned to zone-a; one unrelated pod
/// with a PV in zone-b. The packer folds the volume zone into the requirements
/// it uses to pick eligible spread domains, so it counts only zone-a and stacks
/// web-0 and web-1 in zone-a. kube-scheduler's nodeAffinityPolicy Honor looks
/// only at nodeSelector and required node affinity, so once the planned zone-b
/// node exists it is an eligible domain with 0 pods and web-1 (skew 2) is
/// rejected. Karpenter injects volume topology into node affinity and shares
/// this behaviour, but the plan does not hold when kube-scheduler replays it.
/// Expected: only one web pod in zone-a is planned; the others are unschedulable.
#[test]
fn volume_zone_does_not_narrow_spread_domains() {
    let spread = json!([{"maxSkew": 1, "topologyKey": ZONE, "whenUnsatisfiable": "DoNotSchedule", "labelSelector": {"matchLabels": {"app": "web"}}}]);
    let mut pending = Vec::new();
    for i in 0..3 {
        let name = format!("web-{i}");
        pending.push(pod(
            &name,
            json!({"app": "web"}),
            json!({"containers": [{"name": "c", "resources": {"requests": {"cpu": "100m"}}}], "topologySpreadConstraints": spread, "volumes": volume(&name)}),
        ));
    }
    pending.push(pod("other", json!({"app": "other"}), json!({"containers": [{"name": "c", "resources": {"requests": {"cpu": "100m"}}}], "volumes": volume("other")})));
    let mut snap = snapshot(&[open_template()], pending);
    for i in 0..3 {
        with_pv(&format!("web-{i}"), "zone-a", &mut snap);
    }
    with_pv("other", "zone-b", &mut snap);
    let plan = solve(&snap);
    assert_valid(&snap, &plan);
}

/// Three `app: web` pods spread over zones (maxSkew 1, DoNotSchedule, default
/// nodeAffinityPolicy Honor) that *prefer* zone-a, and one unrelated pod with
/// `nodeSelector: {zone: zone-b}`. While the preference is in force the packer
/// counts only the domains the preference allows (zone-a), so it stacks the web
/// pods in zone-a. kube-scheduler's nodeAffinityPolicy Honor looks only at
/// nodeSelector and *required* node affinity: zone-b (planned for the other
/// pod) is an eligible domain with 0 web pods, so the second web pod in zone-a
/// (skew 2) is rejected. Expected: the preference yields to the hard spread
/// (web pods end up in different zones).
#[test]
fn preferred_node_affinity_does_not_narrow_spread_domains() {
    let spec = json!({
        "containers": [{"name": "c", "resources": {"requests": {"cpu": "100m"}}}],
        "topologySpreadConstraints": [{"maxSkew": 1, "topologyKey": ZONE, "whenUnsatisfiable": "DoNotSchedule", "labelSelector": {"matchLabels": {"app": "web"}}}],
        "affinity": {"nodeAffinity": {"preferredDuringSchedulingIgnoredDuringExecution": [
            {"weight": 1, "preference": {"matchExpressions": [{"key": ZONE, "operator": "In", "values": ["zone-a"]}]}}
        ]}},
    });
    let mut pending: Vec<Pod> = (0..3)
        .map(|i| pod(&format!("web-{i}"), json!({"app": "web"}), spec.clone()))
        .collect();
    pending.push(pod(
        "other",
        json!({"app": "other"}),
        json!({"containers": [{"name": "c", "resources": {"requests": {"cpu": "100m"}}}], "nodeSelector": {ZONE: "zone-b"}}),
    ));
    let snap = snapshot(&[open_template()], pending);
    let plan = solve(&snap);
    assert_valid(&snap, &plan);
}

fn existing(
    i: usize,
    spot: bool,
    taint: bool,
    bound: Vec<BoundPodDesc>,
) -> kerf_core::snapshot::ExistingNode {
    existing_in(i, 0, spot, taint, bound)
}

fn existing_in(
    i: usize,
    zone: u8,
    spot: bool,
    taint: bool,
    bound: Vec<BoundPodDesc>,
) -> kerf_core::snapshot::ExistingNode {
    let desc = NodeDesc {
        type_idx: 0,
        zone,
        spot,
        taint,
        team: false,
        cordoned: false,
        deleting: false,
        in_flight: false,
        pool: None,
        unlabelled: 0,
        pods: bound,
    };
    desc.build(i, &catalogue(), 1, 1)
}

fn bound_app0() -> BoundPodDesc {
    BoundPodDesc {
        app: 0,
        cpu: 0,
        mem: 0,
        anti: false,
        host_port: false,
        terminal: false,
    }
}

/// Template: on-demand only. node-0: spot, untainted, empty. node-1: on-demand,
/// tainted `dedicated=gpu:NoSchedule`, running one `app: app0` pod. Three
/// pending app0 pods spread over capacity type (maxSkew 1, DoNotSchedule,
/// nodeTaintsPolicy Honor, no toleration). kube-scheduler drops node-1 from the
/// count entirely (its pods included); the packer drops its domain only if no
/// eligible node shares it, and still counts node-1's pod in "on-demand". So it
/// sees spot=0/on-demand=1 and puts app0-0 and app0-1 on node-0, while once the
/// planned on-demand node exists kube-scheduler sees spot=1/on-demand=0 and
/// rejects app0-1 (skew 2). The same holds for nodeAffinityPolicy Honor: pods on
/// nodes the pod's required affinity excludes must not be counted.
#[test]
fn spread_ignores_pods_on_excluded_nodes() {
    let template = TemplateDesc {
        capacity: 2,
        ..open_template()
    };
    let spec = json!({
        "containers": [{"name": "c", "resources": {"requests": {"cpu": "100m"}}}],
        "topologySpreadConstraints": [{"maxSkew": 1, "topologyKey": CAPACITY_TYPE, "whenUnsatisfiable": "DoNotSchedule",
            "nodeTaintsPolicy": "Honor", "labelSelector": {"matchLabels": {"app": "app0"}}}],
    });
    let pending = (0..3)
        .map(|i| pod(&format!("app0-{i}"), json!({"app": "app0"}), spec.clone()))
        .collect();
    let mut snap = snapshot(&[template], pending);
    snap.nodes = vec![
        existing(0, true, false, vec![]),
        existing(1, false, true, vec![bound_app0()]),
    ];
    let plan = solve(&snap);
    assert_valid(&snap, &plan);
}

/// Two `app: web` pods whose required node affinity is `zone In [zone-a]` OR
/// `zone In [zone-b]`, spread over zones (maxSkew 1, DoNotSchedule, default
/// nodeAffinityPolicy Honor); an empty node exists in zone-b. kube-scheduler
/// counts every node matching *any* required term, so zone-a and zone-b are both
/// eligible domains. The packer counts only the domains its active (first) term
/// allows, so it puts both pods in zone-a; kube-scheduler rejects the second
/// (zone-a=1, zone-b=0: skew 2). Expected: one pod per zone.
#[test]
fn spread_domains_use_all_required_terms() {
    let spec = json!({
        "containers": [{"name": "c", "resources": {"requests": {"cpu": "100m"}}}],
        "topologySpreadConstraints": [{"maxSkew": 1, "topologyKey": ZONE, "whenUnsatisfiable": "DoNotSchedule", "labelSelector": {"matchLabels": {"app": "web"}}}],
        "affinity": {"nodeAffinity": {"requiredDuringSchedulingIgnoredDuringExecution": {"nodeSelectorTerms": [
            {"matchExpressions": [{"key": ZONE, "operator": "In", "values": ["zone-a"]}]},
            {"matchExpressions": [{"key": ZONE, "operator": "In", "values": ["zone-b"]}]},
        ]}}},
    });
    let pending = (0..2)
        .map(|i| pod(&format!("web-{i}"), json!({"app": "web"}), spec.clone()))
        .collect();
    let mut snap = snapshot(&[open_template()], pending);
    snap.nodes = vec![existing_in(0, 1, false, false, vec![])];
    let plan = solve(&snap);
    assert_valid(&snap, &plan);
}

/// Pod `a` requires `team NotIn [blue]` (satisfied by a node without a team
/// label); pod `b` requires `team Exists`. No template supplies a team label, so
/// `b` alone is unschedulable — but once `a` is on a planned node, the node's
/// requirements hold `team NotIn [blue]`, the algebra's intersection with
/// `Exists` is non-empty, and `b` joins a node that will have no team label.
/// kube-scheduler rejects `b` there. Expected: `b` unschedulable.
#[test]
fn exists_is_not_satisfied_by_not_in() {
    let spec = |cpu: &str, op: &str, values: Value| {
        json!({
            "containers": [{"name": "c", "resources": {"requests": {"cpu": cpu}}}],
            "affinity": {"nodeAffinity": {"requiredDuringSchedulingIgnoredDuringExecution": {"nodeSelectorTerms": [
                {"matchExpressions": [{"key": "team", "operator": op, "values": values}]}
            ]}}},
        })
    };
    let a = pod("a", json!({}), spec("500m", "NotIn", json!(["blue"])));
    let b = pod("b", json!({}), spec("100m", "Exists", json!(null)));
    let snap = snapshot(&[open_template()], vec![a, b]);
    let plan = solve(&snap);
    assert_valid(&snap, &plan);
    assert_eq!(
        plan.unschedulable.len(),
        1,
        "no template supplies a team label"
    );
}

/// Template: instance families c and m, cpu limit 8. Three pods, each with host
/// port 8080 (one per node) and `nodeSelector: {zone: zone-b, family: c}`. The packer
/// counts each node against the limit at the capacity of the first fitting
/// option in template price order — c.large (2 vcpu), whose cheapest offering
/// template-wide is spot — but in zone-b c.large has no spot, so the chosen
/// offering is c.xlarge spot (4 vcpu). Plan: 3 × c.xlarge = 12 vcpu > 8.
/// Expected: the capacity counted against limits is that of the node's chosen
/// type (or, as Karpenter does, the largest remaining option).
#[test]
fn limits_charge_the_chosen_instance_type() {
    let template = TemplateDesc {
        family: 2,
        cpu_limit: Some(1),
        ..open_template()
    };
    let spec = json!({
        "containers": [{"name": "c", "resources": {"requests": {"cpu": "100m"}}, "ports": [{"containerPort": 80, "hostPort": 8080}]}],
        "nodeSelector": {ZONE: "zone-b", FAMILY: "c"},
    });
    let pending = (0..3)
        .map(|i| pod(&format!("p-{i}"), json!({}), spec.clone()))
        .collect();
    let snap = snapshot(&[template], pending);
    let plan = solve(&snap);
    assert_valid(&snap, &plan);
}
