//! Criterion benchmark of the disruption decision (issue 26): kerf's plan for
//! upstream's diverse mix on the built-in catalogue (5,000 pods → 1,000
//! nodes, 20,000 pods → 4,000 nodes) launched as Nodes and NodeClaims in a
//! `ClusterState`, 60% of the pods deleted (seeded); then the input build
//! (`ClusterState::disruption_input`) and `decide` timed apart, in three
//! cases: just after the deletion (emptiness decides), once the empty nodes
//! are gone (consolidation decides) at budget 100%, and at Karpenter's
//! default 10%. Setup is not timed. `cargo bench -p kerf-bench --bench disruption`.

use criterion::{BenchmarkId, Criterion, criterion_group, criterion_main};
use kerf_bench::disruption::{BenchCluster, Scenario, cluster};
use kerf_core::disruption::decide;

fn setup(scenario: &Scenario, remove_empty: bool) -> BenchCluster {
    let mut bench = cluster(scenario).expect("benchmark cluster builds");
    if remove_empty {
        bench.remove_empty_nodes();
    }
    bench
}

fn disruption(c: &mut Criterion) {
    for pods in [5_000usize, 20_000] {
        let full = Scenario::scale_down(pods);
        let ten = Scenario {
            budget: "10%".into(),
            ..full.clone()
        };
        let cases = [
            ("after-deletion", setup(&full, false)),
            ("consolidation", setup(&full, true)),
            ("consolidation-budget-10%", setup(&ten, true)),
        ];
        let nodes = cases[0].1.nodes();

        let mut build = c.benchmark_group(format!("disruption/input/{nodes}-nodes"));
        build.sample_size(10);
        build.bench_function("consolidation", |b| {
            b.iter(|| cases[1].1.input().expect("input builds"))
        });
        build.finish();

        let mut group = c.benchmark_group(format!("disruption/decide/{nodes}-nodes"));
        group.sample_size(10);
        for (name, bench) in &cases {
            let input = bench.input().expect("input builds");
            group.bench_with_input(BenchmarkId::from_parameter(name), &input, |b, input| {
                b.iter(|| decide(input))
            });
        }
        group.finish();
    }
}

criterion_group!(benches, disruption);
criterion_main!(benches);
