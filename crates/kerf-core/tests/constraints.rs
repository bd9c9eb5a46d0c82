//! One test per constraint kind the packer honours, on a small catalogue.

mod common;

use std::collections::{BTreeMap, BTreeSet};

use common::*;
use k8s_openapi::api::core::v1::Taint;
use kerf_core::resources::Resources;
use kerf_core::scheduler::solve;
use kerf_core::snapshot::ExistingNode;

const CPU1: &str = "  containers: [{name: c, resources: {requests: {cpu: '1', memory: 1Gi}}}]\n";

#[test]
fn packs_onto_the_cheapest_fitting_type_and_prefers_spot() {
    let plan = solve(&snapshot(
        vec![template("default", &[])],
        pods("web", 3, "{app: web}", CPU1),
    ));
    assert!(plan.unschedulable.is_empty(), "{:?}", plan.unschedulable);
    assert_eq!(plan.new_nodes.len(), 1, "3 × 1 cpu fit one 4-vcpu node");
    let n = &plan.new_nodes[0];
    assert_eq!(n.pods.len(), 3);
    assert_eq!(n.chosen.capacity_type, "spot");
    assert_eq!(n.chosen.zone, "zone-a", "cheapest spot zone");
    // 3 cpu + 3Gi needs 4 vcpu: c.xlarge (0.17) beats m.xlarge (0.192).
    assert_eq!(n.chosen.instance_type, "c.xlarge");
    assert!(
        n.options.windows(2).all(|w| w[0].price <= w[1].price),
        "options sorted by price"
    );
}

#[test]
fn node_selector_and_required_affinity() {
    let spec = "  nodeSelector: {kubernetes.io/arch: arm64}\n  containers: [{name: c, resources: {requests: {cpu: 500m}}}]\n";
    let plan = solve(&snapshot(
        vec![template("default", &[])],
        pods("arm", 1, "{}", spec),
    ));
    assert_eq!(node_of(&plan, "arm-0").chosen.instance_type, "g.large");

    let spec = "  affinity:\n    nodeAffinity:\n      requiredDuringSchedulingIgnoredDuringExecution:\n        nodeSelectorTerms:\n        - matchExpressions: [{key: topology.kubernetes.io/zone, operator: In, values: [zone-c]}, {key: karpenter.sh/capacity-type, operator: In, values: [on-demand]}]\n  containers: [{name: c}]\n";
    let plan = solve(&snapshot(
        vec![template("default", &[])],
        pods("z", 1, "{}", spec),
    ));
    let n = node_of(&plan, "z-0");
    assert_eq!(
        (n.chosen.zone.as_str(), n.chosen.capacity_type.as_str()),
        ("zone-c", "on-demand")
    );
}

#[test]
fn custom_labels_need_a_template_that_defines_them() {
    let spec = "  nodeSelector: {team: blue}\n  containers: [{name: c}]\n";
    let plan = solve(&snapshot(
        vec![template("default", &[])],
        pods("p", 1, "{}", spec),
    ));
    assert_eq!(plan.unschedulable.len(), 1);
    assert!(
        plan.unschedulable[0].reason.contains("team"),
        "{}",
        plan.unschedulable[0].reason
    );

    let mut blue = template("blue", &[]);
    blue.labels.insert("team".into(), "blue".into());
    blue.requirements
        .add(kerf_core::requirements::Requirement::in_values(
            "team",
            ["blue"],
        ));
    let plan = solve(&snapshot(
        vec![template("default", &[]), blue],
        pods("p", 1, "{}", spec),
    ));
    let n = node_of(&plan, "p-0");
    assert_eq!(n.pool.name, "blue");
    assert_eq!(n.labels.get("team").map(String::as_str), Some("blue"));
}

#[test]
fn taints_must_be_tolerated() {
    let mut gpu = template("gpu", &[]);
    gpu.weight = 50;
    gpu.taints.push(Taint {
        key: "nvidia.com/gpu".into(),
        value: Some("true".into()),
        effect: "NoSchedule".into(),
        time_added: None,
    });
    let plain = pods("plain", 1, "{}", CPU1);
    let tolerant = pods(
        "tolerant",
        1,
        "{}",
        &format!("  tolerations: [{{key: nvidia.com/gpu, operator: Exists}}]\n{CPU1}"),
    );
    let plan = solve(&snapshot(
        vec![gpu.clone(), template("default", &[])],
        plain,
    ));
    assert_eq!(node_of(&plan, "plain-0").pool.name, "default");
    let plan = solve(&snapshot(
        vec![gpu.clone(), template("default", &[])],
        tolerant,
    ));
    assert_eq!(
        node_of(&plan, "tolerant-0").pool.name,
        "gpu",
        "heavier template first"
    );

    let plan = solve(&snapshot(vec![gpu], pods("plain", 1, "{}", CPU1)));
    assert!(
        plan.unschedulable[0]
            .reason
            .contains("nvidia.com/gpu=true:NoSchedule"),
        "{}",
        plan.unschedulable[0].reason
    );
}

#[test]
fn host_ports_force_separate_nodes() {
    let spec = "  containers: [{name: c, ports: [{containerPort: 80, hostPort: 8080}], resources: {requests: {cpu: 100m}}}]\n";
    let plan = solve(&snapshot(
        vec![template("default", &[])],
        pods("hp", 3, "{}", spec),
    ));
    assert_eq!(plan.new_nodes.len(), 3);
}

#[test]
fn zonal_topology_spread_is_even() {
    let spec = format!(
        "  topologySpreadConstraints: [{{maxSkew: 1, topologyKey: topology.kubernetes.io/zone, whenUnsatisfiable: DoNotSchedule, labelSelector: {{matchLabels: {{app: web}}}}}}]\n{CPU1}"
    );
    let plan = solve(&snapshot(
        vec![template("default", &[])],
        pods("web", 9, "{app: web}", &spec),
    ));
    assert!(plan.unschedulable.is_empty(), "{:?}", plan.unschedulable);
    let mut per_zone: BTreeMap<String, usize> = BTreeMap::new();
    for n in &plan.new_nodes {
        *per_zone.entry(n.chosen.zone.clone()).or_default() += n.pods.len();
    }
    assert_eq!(
        per_zone.values().copied().collect::<Vec<_>>(),
        vec![3, 3, 3],
        "{per_zone:?}"
    );
}

#[test]
fn zonal_spread_counts_existing_pods() {
    let spec = format!(
        "  topologySpreadConstraints: [{{maxSkew: 1, topologyKey: topology.kubernetes.io/zone, whenUnsatisfiable: DoNotSchedule, labelSelector: {{matchLabels: {{app: web}}}}}}]\n{CPU1}"
    );
    let existing = ExistingNode {
        name: "full-a".into(),
        labels: [(
            "topology.kubernetes.io/zone".to_string(),
            "zone-a".to_string(),
        )]
        .into_iter()
        .collect(),
        taints: Vec::new(),
        allocatable: Resources::new(0, 0, 0),
        pods: pods("old", 2, "{app: web}", CPU1)
            .into_iter()
            .map(|mut p| {
                p.spec.as_mut().expect("spec").node_name = Some("full-a".into());
                p
            })
            .map(std::sync::Arc::new)
            .collect(),
        pool: None,
        in_flight: false,
        marked_for_deletion: false,
        unschedulable: false,
    };
    let mut snap = snapshot(
        vec![template("default", &[])],
        pods("web", 4, "{app: web}", &spec),
    );
    snap.nodes.push(existing);
    let plan = solve(&snap);
    let zones: BTreeSet<String> = plan
        .new_nodes
        .iter()
        .map(|n| n.chosen.zone.clone())
        .collect();
    assert!(!zones.contains("zone-a"), "zone-a already has 2: {zones:?}");
    let count = |z: &str| {
        plan.new_nodes
            .iter()
            .filter(|n| n.chosen.zone == z)
            .map(|n| n.pods.len())
            .sum::<usize>()
    };
    assert_eq!((count("zone-b"), count("zone-c")), (2, 2));
}

#[test]
fn hostname_anti_affinity_one_per_node() {
    let spec = format!(
        "  affinity:\n    podAntiAffinity:\n      requiredDuringSchedulingIgnoredDuringExecution:\n      - topologyKey: kubernetes.io/hostname\n        labelSelector: {{matchLabels: {{app: db}}}}\n{CPU1}"
    );
    let plan = solve(&snapshot(
        vec![template("default", &[])],
        pods("db", 4, "{app: db}", &spec),
    ));
    assert_eq!(plan.new_nodes.len(), 4);
    assert!(plan.new_nodes.iter().all(|n| n.pods.len() == 1));
}

#[test]
fn inverse_anti_affinity_keeps_others_away() {
    // The lone db pod refuses company labelled app=web; web pods carry no terms themselves.
    let db = pods(
        "db",
        1,
        "{app: db}",
        "  affinity:\n    podAntiAffinity:\n      requiredDuringSchedulingIgnoredDuringExecution:\n      - topologyKey: kubernetes.io/hostname\n        labelSelector: {matchLabels: {app: web}}\n  containers: [{name: c, resources: {requests: {cpu: '2'}}}]\n",
    );
    let web = pods(
        "web",
        2,
        "{app: web}",
        "  containers: [{name: c, resources: {requests: {cpu: 500m}}}]\n",
    );
    let plan = solve(&snapshot(
        vec![template("default", &[])],
        [db, web].concat(),
    ));
    let db_node = &node_of(&plan, "db-0").name;
    assert_ne!(&node_of(&plan, "web-0").name, db_node);
    assert_ne!(&node_of(&plan, "web-1").name, db_node);
}

#[test]
fn zonal_pod_affinity_follows_the_first_pod() {
    let spec = format!(
        "  affinity:\n    podAffinity:\n      requiredDuringSchedulingIgnoredDuringExecution:\n      - topologyKey: topology.kubernetes.io/zone\n        labelSelector: {{matchLabels: {{app: cache}}}}\n{CPU1}"
    );
    let plan = solve(&snapshot(
        vec![template("default", &[])],
        pods("cache", 12, "{app: cache}", &spec),
    ));
    assert!(plan.unschedulable.is_empty(), "{:?}", plan.unschedulable);
    let zones: BTreeSet<&str> = plan
        .new_nodes
        .iter()
        .map(|n| n.chosen.zone.as_str())
        .collect();
    assert_eq!(zones.len(), 1, "all in one zone: {zones:?}");
}

#[test]
fn affinity_to_missing_pods_is_unschedulable() {
    let spec = "  affinity:\n    podAffinity:\n      requiredDuringSchedulingIgnoredDuringExecution:\n      - topologyKey: topology.kubernetes.io/zone\n        labelSelector: {matchLabels: {app: nowhere}}\n  containers: [{name: c}]\n";
    let plan = solve(&snapshot(
        vec![template("default", &[])],
        pods("p", 1, "{app: p}", spec),
    ));
    assert_eq!(plan.unschedulable.len(), 1);
    assert!(
        plan.unschedulable[0].reason.contains("pod affinity"),
        "{}",
        plan.unschedulable[0].reason
    );
}

#[test]
fn preferences_are_relaxed_when_they_cannot_hold() {
    // Prefers a zone no template offers; must still schedule, with the relaxation reported.
    let spec = "  affinity:\n    nodeAffinity:\n      preferredDuringSchedulingIgnoredDuringExecution:\n      - weight: 10\n        preference: {matchExpressions: [{key: topology.kubernetes.io/zone, operator: In, values: [zone-z]}]}\n      - weight: 5\n        preference: {matchExpressions: [{key: topology.kubernetes.io/zone, operator: In, values: [zone-b]}]}\n  containers: [{name: c}]\n";
    let plan = solve(&snapshot(
        vec![template("default", &[])],
        pods("p", 1, "{}", spec),
    ));
    assert_eq!(
        node_of(&plan, "p-0").chosen.zone,
        "zone-b",
        "second preference honoured"
    );
    assert_eq!(plan.placements[0].relaxed.len(), 1);
}

#[test]
fn weights_order_templates_and_limits_overflow() {
    let mut spot = template("spot", &[("karpenter.sh/capacity-type", "In", &["spot"])]);
    spot.weight = 100;
    spot.limits.insert("cpu".into(), 8000);
    let od = template(
        "on-demand",
        &[("karpenter.sh/capacity-type", "In", &["on-demand"])],
    );
    let big = "  containers: [{name: c, resources: {requests: {cpu: '3'}}}]\n";
    let plan = solve(&snapshot(vec![od, spot], pods("w", 4, "{}", big)));
    assert!(plan.unschedulable.is_empty(), "{:?}", plan.unschedulable);
    let spot_cpu: i64 = plan
        .new_nodes
        .iter()
        .filter(|n| n.pool.name == "spot")
        .map(|n| n.allocatable.cpu)
        .sum();
    assert!(plan.new_nodes.iter().any(|n| n.pool.name == "spot"));
    assert!(
        plan.new_nodes.iter().any(|n| n.pool.name == "on-demand"),
        "limit forces fallback"
    );
    assert!(spot_cpu <= 8000);
}

#[test]
fn too_big_pod_names_the_largest_type() {
    let spec = "  containers: [{name: c, resources: {requests: {memory: 96Gi}}}]\n";
    let plan = solve(&snapshot(
        vec![template("default", &[])],
        pods("huge", 1, "{}", spec),
    ));
    let reason = &plan.unschedulable[0].reason;
    assert!(reason.contains("provisioner default"), "{reason}");
    assert!(
        reason.contains("96Gi memory") && reason.contains("m.4xlarge"),
        "{reason}"
    );
}

#[test]
fn existing_nodes_are_used_first() {
    let node = ExistingNode {
        name: "node-1".into(),
        labels: [(
            "topology.kubernetes.io/zone".to_string(),
            "zone-a".to_string(),
        )]
        .into_iter()
        .collect(),
        taints: Vec::new(),
        allocatable: Resources::new(4000, 16 << 30, 110),
        pods: Vec::new(),
        pool: None,
        in_flight: true,
        marked_for_deletion: false,
        unschedulable: false,
    };
    let mut snap = snapshot(vec![template("default", &[])], pods("w", 5, "{}", CPU1));
    snap.nodes.push(node);
    let plan = solve(&snap);
    assert_eq!(plan.existing.len(), 1);
    assert_eq!(plan.existing[0].pods.len(), 4);
    assert_eq!(plan.new_nodes.len(), 1);
}

#[test]
fn daemonset_overhead_sizes_new_nodes() {
    let ds: k8s_openapi::api::apps::v1::DaemonSet = serde_yaml::from_str(
        "metadata: {name: agent}\nspec:\n  selector: {matchLabels: {app: agent}}\n  template:\n    metadata: {labels: {app: agent}}\n    spec:\n      containers: [{name: a, resources: {requests: {cpu: '1'}}}]\n",
    )
    .expect("daemonset");
    let mut snap = snapshot(
        vec![template(
            "default",
            &[("kubernetes.io/arch", "In", &["amd64"])],
        )],
        pods("w", 1, "{}", CPU1),
    );
    snap.daemonsets.push(ds);
    let plan = solve(&snap);
    let n = &plan.new_nodes[0];
    assert_eq!(n.daemon_requests.cpu, 1000);
    // 1 cpu pod + 1 cpu daemon = 2 cpu > c.large's 1.9 allocatable.
    assert_eq!(n.chosen.instance_type, "c.xlarge");
}

#[test]
fn deterministic() {
    let spec = format!(
        "  topologySpreadConstraints: [{{maxSkew: 1, topologyKey: topology.kubernetes.io/zone, whenUnsatisfiable: DoNotSchedule, labelSelector: {{matchLabels: {{app: web}}}}}}]\n{CPU1}"
    );
    let snap = snapshot(
        vec![template("default", &[])],
        pods("web", 20, "{app: web}", &spec),
    );
    let a = serde_json::to_string(&solve(&snap)).expect("json");
    let b = serde_json::to_string(&solve(&snap)).expect("json");
    assert_eq!(a, b);
}
