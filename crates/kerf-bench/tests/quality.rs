//! The cost-quality suite on small mixes through the simulator's path: the
//! bounds are ordered (per-dimension ≤ LP ≤ pattern bound at its optimum, each
//! ≤ every feasible plan, kerf's and
//! the baseline's), kerf's plans are valid, the baseline's plans respect
//! capacity, choices and zonal spread, and the mixes are what they claim.

use std::collections::BTreeMap;

use kerf_bench::quality::{
    Demand, MIXES, Mix, evaluate, first_fit_decreasing, judge, mixes, provision, spread_groups,
};
use kerf_core::resources::MILLI;

const EPS: f64 = 1e-6;

#[test]
fn bounds_are_below_every_plan_on_small_mixes() {
    for mix in MIXES {
        for (pods, seed) in [(40, 1), (90, 7)] {
            let e = evaluate(mix, pods, seed, 1).unwrap();
            let row = format!("{mix} × {pods} (seed {seed})");
            assert_eq!(e.kerf_unschedulable, 0, "{row}");
            assert_eq!(e.impossible, 0, "{row}");
            assert!(e.validator.is_empty(), "{row}: {:?}", e.validator);
            assert!(e.per_dimension > 0.0, "{row}");
            assert!(e.lp.cost >= e.per_dimension * (1.0 - EPS), "{row}: {e:?}");
            assert!(e.lp.cost <= e.kerf_cost * (1.0 + EPS), "{row}: {e:?}");
            let ffd = e.ffd.as_ref().unwrap();
            assert_eq!(ffd.unplaced, 0, "{row}");
            assert!(e.lp.cost <= ffd.cost * (1.0 + EPS), "{row}: {e:?}");
            assert!(e.pattern.cost <= e.kerf_cost * (1.0 + EPS), "{row}: {e:?}");
            assert!(e.pattern.cost <= ffd.cost * (1.0 + EPS), "{row}: {e:?}");
            assert!(e.zonal.cost <= e.kerf_cost * (1.0 + EPS), "{row}: {e:?}");
            assert!(e.zonal.cost <= ffd.cost * (1.0 + EPS), "{row}: {e:?}");
            // Near its optimum it is at least the split-pod LP.
            if e.pattern.gap < 1e-3 {
                assert!(e.pattern.cost >= e.lp.cost * (1.0 - 2e-3), "{row}: {e:?}");
            }
        }
    }
}

/// The zonal bound's premise, on kerf's own plans: every zone ends with at
/// least the share of each spread group the skew forces into it.
#[test]
fn kerf_plans_put_the_forced_share_of_each_spread_group_in_every_zone() {
    for (mix, pods, seed) in [(Mix::Web, 100, 42), (Mix::Web, 300, 5), (Mix::All, 200, 8)] {
        let outcome = provision(mix, pods, seed).unwrap();
        let demand = Demand::from_snapshot(&outcome.snapshot).unwrap();
        let groups = spread_groups(&demand);
        assert!(!groups.is_empty(), "{mix} × {pods}");
        let zone_of: BTreeMap<String, &str> = outcome
            .plan
            .new_nodes
            .iter()
            .flat_map(|n| {
                n.pods
                    .iter()
                    .map(|p| (p.to_string(), n.chosen.zone.as_str()))
            })
            .collect();
        for g in groups {
            assert!(g.per_zone_min > 0 && g.zones.len() == 3, "{g:?}");
            let mut per_zone: BTreeMap<&str, usize> = BTreeMap::new();
            for &i in &g.pods {
                let key = demand.pods[i].info.key.to_string();
                *per_zone.entry(zone_of[&key]).or_insert(0) += 1;
            }
            for z in &g.zones {
                let here = per_zone.get(z.as_str()).copied().unwrap_or(0);
                assert!(
                    here >= g.per_zone_min,
                    "{mix} × {pods}: {z} has {here} of {g:?}"
                );
            }
        }
    }
}

#[test]
fn baseline_plans_respect_capacity_choices_and_zonal_spread() {
    for mix in [Mix::Web, Mix::All] {
        let outcome = provision(mix, 150, 3).unwrap();
        let demand = judge(&outcome.snapshot).unwrap().demand;
        let plan = first_fit_decreasing(&demand).unwrap();
        let mut placed = 0;
        let mut per_app_zone: BTreeMap<String, BTreeMap<String, i64>> = BTreeMap::new();
        for n in &plan.nodes {
            let choice = &demand.choices[n.choice];
            assert!(n.used.fits_in(&choice.allocatable), "{mix}: {n:?}");
            assert!(
                choice
                    .zones
                    .iter()
                    .any(|(z, p)| z == &n.zone && *p == n.price)
            );
            for &p in &n.pods {
                let pod = &demand.pods[p];
                assert!(pod.allowed.contains(&n.choice), "{mix}: {}", pod.info.key);
                if !pod.info.spread.is_empty() {
                    let app = pod.info.labels["app"].clone();
                    *per_app_zone
                        .entry(app)
                        .or_default()
                        .entry(n.zone.clone())
                        .or_insert(0) += 1;
                }
                placed += 1;
            }
        }
        assert_eq!(placed, demand.pods.len());
        assert!(!per_app_zone.is_empty(), "{mix} has spread pods");
        for (app, zones) in per_app_zone {
            let counts: Vec<i64> = ["us-east-1a", "us-east-1b", "us-east-1c"]
                .iter()
                .map(|z| zones.get(*z).copied().unwrap_or(0))
                .collect();
            let (min, max) = (counts.iter().min().unwrap(), counts.iter().max().unwrap());
            assert!(max - min <= 1, "{mix}: {app} skew {counts:?}");
        }
    }
}

#[test]
fn mixes_are_seeded_and_shaped_as_described() {
    for mix in MIXES {
        let a = mixes::pods(mix, 200, 5);
        assert_eq!(a.len(), 200, "{mix}");
        let b = mixes::pods(mix, 200, 5);
        assert_eq!(
            serde_json::to_string(&a).unwrap(),
            serde_json::to_string(&b).unwrap()
        );
        let c = mixes::pods(mix, 200, 6);
        assert_ne!(
            serde_json::to_string(&a).unwrap(),
            serde_json::to_string(&c).unwrap()
        );
    }
    let requests = |mix| {
        mixes::pods(mix, 300, 9)
            .iter()
            .map(|p| kerf_core::pod::pod_requests(p).unwrap())
            .collect::<Vec<_>>()
    };
    // memory is bytes × MILLI and cpu milli-cores: ≥ 6 GiB per core.
    for r in requests(Mix::Memory) {
        assert!(r.memory >= 6 * (1i64 << 30) * r.cpu, "{r:?}");
    }
    for r in requests(Mix::Batch) {
        assert!(r.cpu >= 2 * MILLI, "{r:?}");
    }
    for r in requests(Mix::Gpu) {
        assert!([1, 4].contains(&(r.get("nvidia.com/gpu") / MILLI)), "{r:?}");
    }
    let all = mixes::pods(Mix::All, 1000, 2);
    let by_ns = |ns: &str| {
        all.iter()
            .filter(|p| p.metadata.namespace.as_deref() == Some(ns))
            .count()
    };
    assert_eq!(
        (by_ns("web"), by_ns("batch"), by_ns("memory"), by_ns("ml")),
        (500, 200, 200, 100)
    );
}

#[test]
fn gpu_pods_only_land_in_the_gpu_pool_and_others_never_do() {
    let outcome = provision(Mix::All, 120, 4).unwrap();
    let gpu_pods: std::collections::BTreeSet<String> = outcome
        .snapshot
        .pending
        .iter()
        .filter(|p| p.metadata.namespace.as_deref() == Some("ml"))
        .map(|p| p.metadata.name.clone().unwrap())
        .collect();
    assert!(!gpu_pods.is_empty());
    for n in &outcome.plan.new_nodes {
        let gpu_node = n.pool.name == "gpu";
        for p in &n.pods {
            assert_eq!(
                gpu_pods.contains(&p.name),
                gpu_node,
                "{} on {}",
                p.name,
                n.name
            );
        }
    }
}

/// Issue 6's goal, within 5% of the best bound, on the row the full EC2
/// catalogue broke: memory × 100 (seed 42, as in
/// docs/benchmarks/cost-quality.md) came to 1.096 when the tail of the batch
/// went on one r5a.24xlarge, 12% dearer than the r6g sizes, to save a node.
#[test]
fn memory_heavy_hundred_pods_stay_within_5_percent_of_the_bound() {
    let e = evaluate(Mix::Memory, 100, 42, 1).unwrap();
    assert_eq!(e.kerf_unschedulable, 0);
    assert!(
        e.kerf_cost <= e.best_bound() * 1.05,
        "kerf ${:.2}/h against the bound ${:.2}/h: {:?}",
        e.kerf_cost,
        e.best_bound(),
        e.kerf_types
    );
}
