//! Criterion benchmark of `solve` on upstream Karpenter's scheduling-benchmark
//! workload (400 fake instance types, five pod groups) at 100 to 20,000 pods,
//! and on its 4,000-pod preference workload under Respect and Ignore.

use criterion::{BenchmarkId, Criterion, Throughput, criterion_group, criterion_main};
use kerf_bench::{benchmark_types, diverse_pods, preference_pods, snapshot};
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

    let mut group = c.benchmark_group("solve/preferences");
    group.sample_size(10);
    group.throughput(Throughput::Elements(4_000));
    for (name, policy) in [
        ("respect", PreferencePolicy::Respect),
        ("ignore", PreferencePolicy::Ignore),
    ] {
        let snap = snapshot(preference_pods(4_000, 42), &types, policy);
        group.bench_with_input(BenchmarkId::from_parameter(name), &snap, |b, snap| {
            b.iter(|| solve(snap))
        });
    }
    group.finish();
}

criterion_group!(benches, scheduling);
criterion_main!(benches);
