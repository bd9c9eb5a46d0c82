//! Hand-computable cases for the bounds and the baseline.

use std::collections::BTreeMap;
use std::sync::Arc;

use k8s_openapi::api::core::v1::Pod;
use kerf_core::instance_type::{InstanceType, Offering, Overhead};
use kerf_core::resources::Resources;
use kerf_core::snapshot::PreferencePolicy;

use super::{
    Demand, first_fit_decreasing, judge, lp_bound, pattern_bound, per_dimension_bound,
    spread_groups, zonal_bound,
};

const GIB: i64 = 1 << 30;

fn box_type(name: &str, cores: i64, gib: i64, price: f64) -> Arc<InstanceType> {
    let offerings = ["z1", "z2"]
        .iter()
        .map(|z| Offering {
            zone: z.to_string(),
            capacity_type: "on-demand".into(),
            price,
            available: true,
            zone_id: None,
        })
        .collect();
    Arc::new(InstanceType::new(
        name,
        BTreeMap::new(),
        Resources::new(cores * 1000, gib * GIB, 100),
        Overhead::default(),
        offerings,
    ))
}

fn pods(count: usize, cpu: &str, memory: &str) -> Vec<Pod> {
    let mut all = crate::group_pods(crate::Group::Generic, count, 1);
    for p in &mut all {
        let c = &mut p.spec.as_mut().unwrap().containers[0];
        let requests = c.resources.as_mut().unwrap().requests.as_mut().unwrap();
        requests.insert(
            "cpu".into(),
            k8s_openapi::apimachinery::pkg::api::resource::Quantity(cpu.into()),
        );
        requests.insert(
            "memory".into(),
            k8s_openapi::apimachinery::pkg::api::resource::Quantity(memory.into()),
        );
    }
    all
}

/// A 4-core / 4 GiB box and a 1-core / 8 GiB box, both $1/h.
fn demand(count: usize, cpu: &str, memory: &str) -> Demand {
    let types = vec![
        box_type("cpu-box", 4, 4, 1.0),
        box_type("mem-box", 1, 8, 1.0),
    ];
    let snap = crate::snapshot(pods(count, cpu, memory), &types, PreferencePolicy::Respect);
    Demand::from_snapshot(&snap).unwrap()
}

#[test]
fn per_dimension_bound_takes_the_binding_resource() {
    // 8 cores at $0.25/core (cpu-box) = 2; 8 GiB at $0.125/GiB (mem-box) = 1.
    let (bound, binding) = per_dimension_bound(&demand(8, "1", "1Gi"));
    assert!((bound - 2.0).abs() < 1e-9, "{bound}");
    assert_eq!(binding.as_deref(), Some("cpu"));
    // 16 GiB at $0.125/GiB = 2 ties with cpu's 2; 9 GiB pods: memory binds.
    let (bound, binding) = per_dimension_bound(&demand(8, "1", "3Gi"));
    assert!((bound - 3.0).abs() < 1e-9, "{bound}");
    assert_eq!(binding.as_deref(), Some("memory"));
}

#[test]
fn lp_bound_mixes_types_to_cover_both_resources() {
    // min x1 + x2 s.t. 4·x1 + x2 ≥ 8 (cores), 4·x1 + 8·x2 ≥ 16 (GiB):
    // the vertex x1 = 12/7, x2 = 8/7 costs 20/7, above the per-dimension 2.
    let d = demand(8, "1", "2Gi");
    let lp = lp_bound(&d).unwrap();
    assert!((lp.cost - 20.0 / 7.0).abs() < 1e-6, "{}", lp.cost);
    let (per_dim, _) = per_dimension_bound(&d);
    assert!((per_dim - 2.0).abs() < 1e-9);
    let x: BTreeMap<&str, f64> = lp
        .nodes
        .iter()
        .map(|&(c, x)| (d.choices[c].instance_type.as_str(), x))
        .collect();
    assert!((x["cpu-box"] - 12.0 / 7.0).abs() < 1e-6, "{x:?}");
    assert!((x["mem-box"] - 8.0 / 7.0).abs() < 1e-6, "{x:?}");
}

#[test]
fn judge_accepts_consistent_bounds() {
    let types = vec![
        box_type("cpu-box", 4, 4, 1.0),
        box_type("mem-box", 1, 8, 1.5),
    ];
    let snap = crate::snapshot(
        pods(30, "700m", "1500Mi"),
        &types,
        PreferencePolicy::Respect,
    );
    let j = judge(&snap).unwrap();
    assert!(j.lp.cost >= j.per_dimension - 1e-9);
}

#[test]
fn first_fit_decreasing_fills_nodes_before_opening_more() {
    // Two 1-core / 2 GiB pods fill a cpu-box's memory; at equal price the
    // first listed type wins, so 8 pods take 4 cpu-boxes.
    let d = demand(8, "1", "2Gi");
    let plan = first_fit_decreasing(&d).unwrap();
    assert_eq!(plan.nodes.len(), 4);
    assert!(plan.unplaced.is_empty());
    assert!((plan.cost() - 4.0).abs() < 1e-9);
    for n in &plan.nodes {
        assert_eq!(d.choices[n.choice].instance_type, "cpu-box");
        assert_eq!(n.pods.len(), 2);
        assert!(n.used.fits_in(&d.choices[n.choice].allocatable));
    }
    // Largest first: a 3-core pod opens a node, and 1-core pods fill its last core.
    let mut d = demand(4, "1", "512Mi");
    let big = demand(1, "3", "1Gi");
    d.pods.extend(big.pods);
    let plan = first_fit_decreasing(&d).unwrap();
    assert_eq!(plan.nodes.len(), 2, "{:?}", plan.nodes);
    assert_eq!(plan.nodes[0].pods.len(), 2);
    assert_eq!(plan.nodes[1].pods.len(), 3);
}

#[test]
fn pods_that_fit_nowhere_are_set_aside() {
    let d = demand(3, "6", "1Gi");
    assert!(d.pods.is_empty());
    assert_eq!(d.impossible.len(), 3);
    assert_eq!(lp_bound(&d).unwrap().cost, 0.0);
}

#[test]
fn pattern_bound_knows_pods_do_not_split() {
    // 600m pods on 1-core boxes: one pod per box. The LP splits pods and
    // buys 6 boxes for 10 pods; no plan buys fewer than 10.
    let types = vec![box_type("box", 1, 4, 1.0)];
    let snap = crate::snapshot(pods(10, "600m", "1Gi"), &types, PreferencePolicy::Respect);
    let d = Demand::from_snapshot(&snap).unwrap();
    let lp = lp_bound(&d).unwrap();
    assert!((lp.cost - 6.0).abs() < 1e-6, "{}", lp.cost);
    let pattern = pattern_bound(&d).unwrap();
    assert!((pattern.cost - 10.0).abs() < 1e-6, "{pattern:?}");
    assert!(pattern.gap < 1e-6, "{pattern:?}");
}

#[test]
fn pattern_bound_mixes_sizes_on_one_node() {
    // 3-core and 1-core pods on 4-core boxes ($1): a 3 and a 1 share a box,
    // so 4 of each need 4 boxes, as the LP also says; 5 threes and 3 ones
    // need 5 boxes (each box holds at most one three), above the LP's 4.5.
    let types = vec![box_type("box", 4, 64, 1.0)];
    let mut all = pods(4, "3", "1Gi");
    all.extend(pods(4, "1", "1Gi"));
    rename(&mut all);
    let snap = crate::snapshot(all, &types, PreferencePolicy::Respect);
    let d = Demand::from_snapshot(&snap).unwrap();
    let pattern = pattern_bound(&d).unwrap();
    assert!((pattern.cost - 4.0).abs() < 1e-6, "{pattern:?}");

    let mut all = pods(5, "3", "1Gi");
    all.extend(pods(3, "1", "1Gi"));
    rename(&mut all);
    let snap = crate::snapshot(all, &types, PreferencePolicy::Respect);
    let d = Demand::from_snapshot(&snap).unwrap();
    assert!((lp_bound(&d).unwrap().cost - 4.5).abs() < 1e-6);
    let pattern = pattern_bound(&d).unwrap();
    assert!((pattern.cost - 5.0).abs() < 1e-6, "{pattern:?}");
}

/// Pods built in two batches share names; give each its own.
fn rename(pods: &mut [Pod]) {
    for (i, p) in pods.iter_mut().enumerate() {
        p.metadata.name = Some(format!("pod-{i}"));
    }
}

/// Labels the pods `app=<app>` and spreads them over zones (maxSkew `skew`).
fn spread(pods: &mut [Pod], app: &str, skew: i32) {
    use k8s_openapi::api::core::v1::TopologySpreadConstraint;
    use k8s_openapi::apimachinery::pkg::apis::meta::v1::LabelSelector;
    let selector = BTreeMap::from([("app".to_string(), app.to_string())]);
    for p in pods {
        p.metadata.labels = Some(selector.clone());
        p.spec.as_mut().unwrap().topology_spread_constraints =
            Some(vec![TopologySpreadConstraint {
                max_skew: skew,
                topology_key: "topology.kubernetes.io/zone".into(),
                when_unsatisfiable: "DoNotSchedule".into(),
                label_selector: Some(LabelSelector {
                    match_labels: Some(selector.clone()),
                    match_expressions: None,
                }),
                ..Default::default()
            }]);
    }
}

#[test]
fn zonal_bound_buys_a_node_in_every_zone_the_spread_forces() {
    // Four 500m pods: one 2-core box ($1) holds them all, and the LP and the
    // pattern bound say $1. Spread over z1 and z2 (maxSkew 1), each zone holds
    // two, i.e. a full core: a 1-core box ($0.6) per zone, $1.2.
    let types = vec![box_type("big", 2, 8, 1.0), box_type("small", 1, 4, 0.6)];
    let mut all = pods(4, "500m", "256Mi");
    spread(&mut all, "web", 1);
    let snap = crate::snapshot(all, &types, PreferencePolicy::Respect);
    let j = judge(&snap).unwrap();
    assert!((j.lp.cost - 1.0).abs() < 1e-6, "{:?}", j.lp);
    assert!((j.pattern.cost - 1.0).abs() < 1e-6, "{:?}", j.pattern);
    assert_eq!(j.zonal.groups, 1);
    assert!((j.zonal.cost - 1.2).abs() < 1e-9, "{:?}", j.zonal);
    assert_eq!(j.zonal.binding.as_deref(), Some("cpu"));
    let groups = spread_groups(&j.demand);
    assert_eq!(groups[0].zones, ["z1", "z2"]);
    assert_eq!(groups[0].per_zone_min, 2);

    // maxSkew 4 lets all four share one zone: nothing is forced.
    let mut all = pods(4, "500m", "256Mi");
    spread(&mut all, "web", 4);
    let d =
        Demand::from_snapshot(&crate::snapshot(all, &types, PreferencePolicy::Respect)).unwrap();
    assert!(spread_groups(&d).is_empty());
    let none = zonal_bound(&d, 0);
    assert_eq!((none.cost, none.binding), (0.0, None));
}

#[test]
fn zonal_bound_counts_whole_pods_and_claims_nothing_it_cannot_prove() {
    // Five 600m pods over two zones: at least two per zone, and the fifth
    // anywhere. A 1-core box holds one (the grain is 600m), so five boxes.
    let types = vec![box_type("small", 1, 4, 1.0)];
    let mut all = pods(5, "600m", "256Mi");
    spread(&mut all, "web", 1);
    let d = Demand::from_snapshot(&crate::snapshot(
        all.clone(),
        &types,
        PreferencePolicy::Respect,
    ))
    .unwrap();
    assert_eq!(spread_groups(&d)[0].per_zone_min, 2);
    assert!((zonal_bound(&d, 0).cost - 5.0).abs() < 1e-9);
    // Pods already on nodes would count towards the skew: no claim.
    assert_eq!(zonal_bound(&d, 1).cost, 0.0);

    // A pod the selector matches without the constraint may go anywhere and
    // break the invariant, so the term forces nothing.
    all[4].spec.as_mut().unwrap().topology_spread_constraints = None;
    let d =
        Demand::from_snapshot(&crate::snapshot(all, &types, PreferencePolicy::Respect)).unwrap();
    assert!(spread_groups(&d).is_empty());
}
