//! A plain first-fit-decreasing baseline: pods sorted by cpu (then memory)
//! descending; each goes onto the first open node that may take it (its pool
//! and type among the pod's choices, room left, zone allowed by the pod's
//! zonal spread constraints), else onto a new node of the cheapest choice and
//! zone that can hold it alone. It obeys what [`first_fit_decreasing`]
//! supports — requests, node requirements and taints (through the pod's
//! choices) and zone spread with DoNotSchedule — and refuses a pod with any
//! other constraint rather than ignore it.

use std::collections::BTreeMap;

use kerf_core::pod::{AffinityTerm, PodInfo, WhenUnsatisfiable};
use kerf_core::resources::Resources;

use super::demand::Demand;

/// One node the baseline opened.
#[derive(Clone, Debug)]
pub struct FfdNode {
    /// Index into `demand.choices`.
    pub choice: usize,
    pub zone: String,
    pub price: f64,
    pub used: Resources,
    /// Indices into `demand.pods`.
    pub pods: Vec<usize>,
}

#[derive(Clone, Debug, Default)]
pub struct FfdPlan {
    pub nodes: Vec<FfdNode>,
    /// Pods with no choice and zone left (their spread constraints block every zone).
    pub unplaced: Vec<usize>,
}

impl FfdPlan {
    pub fn cost(&self) -> f64 {
        self.nodes.iter().map(|n| n.price).sum()
    }
}

/// Why the baseline cannot plan a pod, or `None`.
fn unsupported(info: &PodInfo) -> Option<&'static str> {
    if !info.affinity.is_empty() || !info.anti_affinity.is_empty() {
        return Some("pod affinity / anti-affinity");
    }
    if !info.preferred_affinity.is_empty()
        || !info.preferred_anti_affinity.is_empty()
        || !info.preferred_terms.is_empty()
    {
        return Some("preferences");
    }
    if info.required_terms.len() > 1 {
        return Some("several node-affinity terms");
    }
    if !info.host_ports.is_empty() {
        return Some("host ports");
    }
    if info.node_requirements().has(kerf_api::labels::ZONE) {
        return Some("a zone requirement");
    }
    let odd_spread = info.spread.iter().any(|s| {
        s.term.topology_key != kerf_api::labels::ZONE
            || s.when_unsatisfiable != WhenUnsatisfiable::DoNotSchedule
            || s.min_domains.is_some()
    });
    odd_spread.then_some("a spread constraint other than zone / DoNotSchedule")
}

/// Pods counted per spread term and zone.
struct SpreadCounts<'d> {
    demand: &'d Demand,
    counts: BTreeMap<&'d AffinityTerm, BTreeMap<String, i64>>,
}

impl<'d> SpreadCounts<'d> {
    /// Whether putting `pod` in `zone` keeps each of its constraints' skew.
    fn allows(&self, pod: usize, zone: &str, domains: &[String]) -> bool {
        let info = &self.demand.pods[pod].info;
        info.spread.iter().all(|s| {
            let counts = self.counts.get(&s.term);
            let count = |z: &str| counts.and_then(|c| c.get(z)).copied().unwrap_or(0);
            let min = domains.iter().map(|z| count(z)).min().unwrap_or(0);
            let own = i64::from(self.demand.matches(&s.term, info));
            count(zone) + own - min <= i64::from(s.max_skew)
        })
    }

    /// How crowded `zone` is for the pod's constraints (to balance ties).
    fn load(&self, pod: usize, zone: &str) -> i64 {
        let info = &self.demand.pods[pod].info;
        info.spread
            .iter()
            .filter_map(|s| self.counts.get(&s.term)?.get(zone))
            .sum()
    }

    fn place(&mut self, pod: usize, zone: &str) {
        let info = &self.demand.pods[pod].info;
        let terms: Vec<&'d AffinityTerm> = self
            .counts
            .keys()
            .copied()
            .filter(|t| self.demand.matches(t, info))
            .collect();
        for t in terms {
            if let Some(c) = self.counts.get_mut(t) {
                *c.entry(zone.to_string()).or_insert(0) += 1;
            }
        }
    }
}

fn fits(used: &Resources, request: &Resources, allocatable: &Resources) -> bool {
    used.cpu + request.cpu <= allocatable.cpu
        && used.memory + request.memory <= allocatable.memory
        && used.plus(request).fits_in(allocatable)
}

/// The baseline plan, or an error naming the first pod it cannot honour.
pub fn first_fit_decreasing(demand: &Demand) -> anyhow::Result<FfdPlan> {
    for p in &demand.pods {
        if let Some(why) = unsupported(&p.info) {
            return Err(anyhow::anyhow!(
                "pod {}: {why} is beyond first-fit",
                p.info.key
            ));
        }
    }
    let mut counts = SpreadCounts {
        demand,
        counts: BTreeMap::new(),
    };
    for p in &demand.pods {
        for s in &p.info.spread {
            counts.counts.entry(&s.term).or_default();
        }
    }
    let mut order: Vec<usize> = (0..demand.pods.len()).collect();
    order.sort_by(|&a, &b| {
        let (ra, rb) = (&demand.pods[a].info.requests, &demand.pods[b].info.requests);
        rb.cpu
            .cmp(&ra.cpu)
            .then(rb.memory.cmp(&ra.memory))
            .then_with(|| demand.pods[a].info.key.cmp(&demand.pods[b].info.key))
    });

    let mut plan = FfdPlan::default();
    for pod in order {
        let p = &demand.pods[pod];
        let domains = demand.zones_of(pod);
        let open = plan.nodes.iter().position(|n| {
            p.allowed.binary_search(&n.choice).is_ok()
                && fits(
                    &n.used,
                    &p.info.requests,
                    &demand.choices[n.choice].allocatable,
                )
                && counts.allows(pod, &n.zone, &domains)
        });
        let index = match open {
            Some(i) => i,
            None => {
                let mut best: Option<(f64, i64, usize, &str)> = None;
                for &c in &p.allowed {
                    for (zone, price) in &demand.choices[c].zones {
                        if !counts.allows(pod, zone, &domains) {
                            continue;
                        }
                        let candidate = (*price, counts.load(pod, zone), c, zone.as_str());
                        let better = best.is_none_or(|b| {
                            candidate
                                .0
                                .total_cmp(&b.0)
                                .then(candidate.1.cmp(&b.1))
                                .then(candidate.2.cmp(&b.2))
                                .then(candidate.3.cmp(b.3))
                                .is_lt()
                        });
                        if better {
                            best = Some(candidate);
                        }
                    }
                }
                let Some((price, _, choice, zone)) = best else {
                    plan.unplaced.push(pod);
                    continue;
                };
                plan.nodes.push(FfdNode {
                    choice,
                    zone: zone.to_string(),
                    price,
                    used: Resources::default(),
                    pods: Vec::new(),
                });
                plan.nodes.len() - 1
            }
        };
        let node = &mut plan.nodes[index];
        node.used.add(&p.info.requests);
        node.pods.push(pod);
        let zone = node.zone.clone();
        counts.place(pod, &zone);
    }
    Ok(plan)
}
