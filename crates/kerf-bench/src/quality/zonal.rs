//! The zonal bound: what zone spread forces into every zone.
//!
//! A group of `n` pending pods that all carry the same zone spread constraint
//! (DoNotSchedule, maxSkew `s`) and that the constraint's selector alone
//! matches, placed one by one from an empty cluster, ends with every zone's
//! count at most the smallest count plus `s` (each placement checked its skew
//! against a minimum that only grows). Over its `|D|` zones that leaves at
//! least `m = ⌈(n − (|D|−1)·s) / |D|⌉` pods of the group in *every* zone, so
//! each zone holds at least the `m` smallest requests of each resource. The
//! domains `D` are the zones the group's choices can launch in — Karpenter's
//! and kerf's reading (domains come from the NodePool and its offerings, not
//! from the nodes that happen to exist); [`SpreadGroup::per_zone_min`] is
//! checked against kerf's plans in the tests.
//!
//! Per resource d the bound is then an integer programme small enough to solve
//! exactly: each zone buys whole nodes (at that zone's price, any choice some
//! pod requesting d may use) whose allocatable covers its forced share, and
//! all zones together cover the total. A node's capacity is its allocatable
//! rounded down to the greatest common divisor of the requests (what whole
//! pods can fill). Amounts are measured in units of about
//! `total / RESOLUTION`, demands rounded down and node capacities up, so the
//! discrete optimum never exceeds the true one. Per zone that is an unbounded
//! covering knapsack, and zones combine by a min-plus convolution. The bound
//! is the largest over resources. What the other bounds miss and this one
//! sees: 30 small pods over three zones cannot share one large node.

use std::collections::{BTreeMap, BTreeSet};

use kerf_core::pod::{AffinityTerm, WhenUnsatisfiable};

use super::demand::Demand;

/// Units a resource's total is measured in: fine enough that rounding each
/// node's capacity up costs well under 1%, coarse enough that the O(units²)
/// convolution stays fast.
const RESOLUTION: i64 = 3000;

/// Pending pods whose zone spread forces a share of them into every zone.
#[derive(Clone, Debug, PartialEq)]
pub struct SpreadGroup {
    /// Indices into `demand.pods`.
    pub pods: Vec<usize>,
    /// The constraint's domains, sorted.
    pub zones: Vec<String>,
    /// Pods of the group every zone must end up with.
    pub per_zone_min: usize,
}

/// The zonal bound and the resource that binds.
#[derive(Clone, Debug, Default)]
pub struct ZonalBound {
    pub cost: f64,
    pub binding: Option<String>,
    /// Spread groups that forced a share into each zone.
    pub groups: usize,
}

/// The disjoint spread groups of the demand (see the module doc). A term is
/// left out when a pod it matches lacks the identical constraint, when its
/// pods differ in maxSkew or zones, when minDomains could bite, or when it
/// shares a pod with a group already taken.
pub fn spread_groups(demand: &Demand) -> Vec<SpreadGroup> {
    let mut terms: Vec<&AffinityTerm> = Vec::new();
    for p in &demand.pods {
        for s in &p.info.spread {
            if s.term.topology_key == kerf_api::labels::ZONE && !terms.contains(&&s.term) {
                terms.push(&s.term);
            }
        }
    }
    let mut taken = vec![false; demand.pods.len()];
    let mut groups = Vec::new();
    'terms: for term in terms {
        let members: Vec<usize> = (0..demand.pods.len())
            .filter(|&i| demand.matches(term, &demand.pods[i].info))
            .collect();
        let Some(&first) = members.first() else {
            continue;
        };
        let zones = demand.zones_of(first);
        let mut skew = None;
        for &i in &members {
            let own = demand.pods[i].info.spread.iter().find(|s| &s.term == term);
            let Some(s) = own else { continue 'terms };
            let min_domains_bites = s
                .min_domains
                .is_some_and(|m| usize::try_from(m).map_or(true, |m| m > zones.len()));
            if taken[i]
                || s.when_unsatisfiable != WhenUnsatisfiable::DoNotSchedule
                || min_domains_bites
                || *skew.get_or_insert(s.max_skew) != s.max_skew
                || demand.zones_of(i) != zones
            {
                continue 'terms;
            }
        }
        let (n, d) = (members.len() as i64, zones.len() as i64);
        let s = i64::from(skew.unwrap_or(0)).max(0);
        let left = u64::try_from(n - (d - 1) * s).unwrap_or(0);
        let per_zone_min = usize::try_from(left.div_ceil(d.max(1).unsigned_abs())).unwrap_or(0);
        if per_zone_min == 0 {
            continue;
        }
        for &i in &members {
            taken[i] = true;
        }
        groups.push(SpreadGroup {
            pods: members,
            zones,
            per_zone_min,
        });
    }
    groups
}

fn gcd(a: i64, b: i64) -> i64 {
    if b == 0 { a } else { gcd(b, a % b) }
}

/// Cheapest cost of whole nodes whose capacity covers `y` units, for every
/// `y ≤ top`; `items` are (capacity in units ≥ 1, price).
fn covering_knapsack(items: &[(usize, f64)], top: usize) -> Vec<f64> {
    let mut best = vec![f64::INFINITY; top + 1];
    best[0] = 0.0;
    for y in 1..=top {
        for &(size, price) in items {
            let rest = best[y.saturating_sub(size)];
            if rest + price < best[y] {
                best[y] = rest + price;
            }
        }
    }
    best
}

/// The bound for one resource.
fn bound_for(demand: &Demand, groups: &[SpreadGroup], d: &str) -> f64 {
    let need = |i: usize| demand.pods[i].info.requests.get(d);
    let total: i64 = (0..demand.pods.len()).map(need).sum();
    if total <= 0 {
        return 0.0;
    }
    // Every request is a multiple of the grain, so a node holds at most its
    // allocatable rounded down to one: 15.89 cores hold 15.5 of 500m pods.
    let grain = (0..demand.pods.len())
        .map(need)
        .filter(|&v| v > 0)
        .fold(0, gcd);
    let unit = grain * ((total / grain + RESOLUTION - 1) / RESOLUTION).max(1);
    let top = usize::try_from(total / unit).unwrap_or(0);

    let mut forced: BTreeMap<&str, i64> = BTreeMap::new();
    for g in groups {
        let mut amounts: Vec<i64> = g.pods.iter().map(|&i| need(i)).collect();
        amounts.sort_unstable();
        let share: i64 = amounts.iter().take(g.per_zone_min).sum();
        for z in &g.zones {
            *forced.entry(z.as_str()).or_insert(0) += share;
        }
    }

    // Any choice some pod requesting d may use, at each zone's price.
    let usable: BTreeSet<usize> = demand
        .pods
        .iter()
        .filter(|p| p.info.requests.get(d) > 0)
        .flat_map(|p| p.allowed.iter().copied())
        .filter(|&c| demand.choices[c].allocatable.get(d) > 0)
        .collect();
    let mut items: BTreeMap<&str, Vec<(usize, f64)>> = BTreeMap::new();
    for &c in &usable {
        let choice = &demand.choices[c];
        let alloc = choice.allocatable.get(d) / grain * grain;
        if alloc == 0 {
            continue;
        }
        let size = usize::try_from((alloc + unit - 1) / unit).unwrap_or(usize::MAX);
        for (zone, price) in &choice.zones {
            items.entry(zone.as_str()).or_default().push((size, *price));
        }
    }
    for zone in forced.keys() {
        items.entry(zone).or_default();
    }

    // covered[y]: cheapest way for the zones so far to cover ≥ y units in all.
    let mut covered = vec![f64::INFINITY; top + 1];
    covered[0] = 0.0;
    for (zone, zone_items) in &items {
        let lowest = usize::try_from(forced.get(zone).copied().unwrap_or(0) / unit)
            .unwrap_or(0)
            .min(top);
        let cost = covering_knapsack(zone_items, top);
        let mut next = vec![f64::INFINITY; top + 1];
        for (y, slot) in next.iter_mut().enumerate() {
            // This zone covering y or more and the others only their own
            // minimums (covered[0]); the knapsack is monotone, so one look.
            *slot = cost[y.max(lowest)] + covered[0];
            for here in lowest..y {
                let v = cost[here] + covered[y - here];
                if v < *slot {
                    *slot = v;
                }
            }
        }
        covered = next;
    }
    covered[top]
}

/// The zonal bound (see the module doc). `existing_nodes` is how many nodes
/// the snapshot already has: their pods would count towards the skew, so with
/// any the bound claims nothing; nor does it without a spread group.
pub fn zonal_bound(demand: &Demand, existing_nodes: usize) -> ZonalBound {
    if existing_nodes > 0 {
        return ZonalBound::default();
    }
    let groups = spread_groups(demand);
    if groups.is_empty() {
        // Without forced shares this is only whole-node covering, which the
        // pattern bound already does better: no zonal claim.
        return ZonalBound::default();
    }
    let mut out = ZonalBound {
        groups: groups.len(),
        ..Default::default()
    };
    for d in demand.dimensions() {
        let cost = bound_for(demand, &groups, &d);
        if cost.is_finite() && cost > out.cost {
            out.cost = cost;
            out.binding = Some(d);
        }
    }
    out
}
