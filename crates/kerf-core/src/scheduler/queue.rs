//! The order pods are packed in: largest first, as first-fit-decreasing, but
//! interleaving cpu-heavy and memory-heavy pods so that every prefix of the
//! queue — and so the node being filled — asks for cpu and memory in the
//! proportion the whole batch does. Sorting by cpu alone (Karpenter's order)
//! fills the first nodes with cpu-heavy pods, leaving their memory idle, and the
//! last with memory-heavy ones, leaving their cpu idle.

use std::cmp::Ordering;

use crate::pod::PodInfo;

/// Pod indices in packing order: pods that exist, then expected ones.
pub(super) fn packing_order(pods: &[&PodInfo]) -> Vec<usize> {
    let (expected, real): (Vec<usize>, Vec<usize>) =
        (0..pods.len()).partition(|&i| pods[i].expected);
    let mut out = ordered(pods, real);
    out.extend(ordered(pods, expected));
    out
}

/// `subset` of the pods in packing order. Deterministic: ties fall back to
/// size, then creation time, then namespace/name.
fn ordered(pods: &[&PodInfo], subset: Vec<usize>) -> Vec<usize> {
    let (cpu_total, mem_total) = subset.iter().fold((0f64, 0f64), |(c, m), &i| {
        let r = &pods[i].requests;
        (c + r.cpu as f64, m + r.memory as f64)
    });
    let by_cpu = |a: &usize, b: &usize| -> Ordering {
        let (a, b) = (pods[*a], pods[*b]);
        b.requests
            .cpu
            .cmp(&a.requests.cpu)
            .then_with(|| b.requests.memory.cmp(&a.requests.memory))
            .then_with(|| a.creation.cmp(&b.creation))
            .then_with(|| a.key.cmp(&b.key))
    };
    let mut all = subset;
    if cpu_total <= 0.0 || mem_total <= 0.0 {
        all.sort_by(by_cpu);
        return all;
    }
    // Each pod's share of the batch's cpu and memory; its size is the larger.
    let share = |i: usize| {
        let r = &pods[i].requests;
        (r.cpu as f64 / cpu_total, r.memory as f64 / mem_total)
    };
    let size = |i: usize| {
        let (c, m) = share(i);
        c.max(m)
    };
    all.sort_by(|a, b| size(*b).total_cmp(&size(*a)).then_with(|| by_cpu(a, b)));
    let (cpu_heavy, mem_heavy): (Vec<usize>, Vec<usize>) = all.iter().partition(|i| {
        let (c, m) = share(**i);
        c >= m
    });
    let (mut cpu_next, mut mem_next) = (cpu_heavy.into_iter(), mem_heavy.into_iter());
    let (mut cpu_peek, mut mem_peek) = (cpu_next.next(), mem_next.next());
    let (mut cpu_sum, mut mem_sum) = (0f64, 0f64);
    let mut out = Vec::with_capacity(all.len());
    loop {
        // Take from the side the queue so far has less of.
        let take_mem = match (cpu_peek, mem_peek) {
            (None, None) => break,
            (Some(_), None) => false,
            (None, Some(_)) => true,
            (Some(_), Some(_)) => mem_sum < cpu_sum,
        };
        let i = if take_mem {
            let i = mem_peek.take();
            mem_peek = mem_next.next();
            i
        } else {
            let i = cpu_peek.take();
            cpu_peek = cpu_next.next();
            i
        };
        let Some(i) = i else { break };
        let (c, m) = share(i);
        cpu_sum += c;
        mem_sum += m;
        out.push(i);
    }
    out
}
