//! Criterion benchmark of `solve` on upstream Karpenter's scheduling-benchmark
//! workload (400 fake instance types, five pod groups) at 100 to 20,000 pods,
//! plus the 4,000-pod preference workload is left to the report binary.

use criterion::{BenchmarkId, Criterion, Throughput, criterion_group, criterion_main};
use kerf_bench::{benchmark_types, diverse_pods, snapshot};
use kerf_core::scheduler::solve;
use kerf_core::snapshot::PreferencePolicy;

fn scheduling(c: &mut Criterion) {
    let types = benchmark_types();
    let mut group = c.benchmark_group("solve/diverse");
    group.sample_size(10);
    for size in [100usize, 1_000, 5_000, 20_000] {
        let snap = snapshot(diverse_pods(size, 42), &types, PreferencePolicy::Respect);
        group.throughput(Throughput::Elements(size as u64));
        group.bench_with_input(BenchmarkId::from_parameter(size), &snap, |b, snap| {
            b.iter(|| solve(snap))
        });
    }
    group.finish();
}

criterion_group!(benches, scheduling);
criterion_main!(benches);
