//! Checking a candidate node against a pod's prepared topology terms, and
//! explaining a refusal to a person.

use super::{DomainId, DomainState, GroupId, KeyPlan, Prepared, Rejection, Topology};

impl Topology {
    pub(super) fn allowed(&self, kp: &KeyPlan, d: DomainId) -> Result<(), Rejection> {
        for (g, threshold, counts) in &kp.spread {
            let (g, threshold) = (*g, *threshold);
            let here = match counts {
                Some(c) => c.get(&d).copied().unwrap_or(0),
                None => self.count(g, d),
            };
            if i64::from(here) > threshold {
                return Err(Rejection::Spread {
                    group: g,
                    domain: d,
                    here,
                    allowed: threshold.max(0),
                });
            }
        }
        for &(g, anywhere) in &kp.affinity {
            if !anywhere && self.count(g, d) == 0 {
                return Err(Rejection::Affinity(g, d));
            }
        }
        for &g in &kp.anti {
            if self.count(g, d) > 0 {
                return Err(Rejection::AntiAffinity(g, d));
            }
        }
        for &g in &kp.inverse {
            if self.anti_owned(g, d) {
                return Err(Rejection::InverseAntiAffinity(g, d));
            }
        }
        Ok(())
    }

    /// Checks a candidate node. `domain_of` tells its domain per key. Returns
    /// the domains to pin open keys to (cheapest per `rank` among the least
    /// crowded), or why the node is not allowed.
    pub fn admit(
        &self,
        p: &Prepared,
        mut domain_of: impl FnMut(&str) -> DomainState,
        rank: impl Fn(&str, DomainId) -> f64,
    ) -> Result<Vec<(String, DomainId)>, Rejection> {
        let mut pins = Vec::new();
        for kp in &p.keys {
            match domain_of(&kp.key) {
                DomainState::Known(d) => self.allowed(kp, d)?,
                DomainState::Missing => {
                    if let Some(g) = kp.constraining() {
                        return Err(Rejection::MissingLabel(g));
                    }
                }
                DomainState::Open(options) => {
                    let mut last_err = None;
                    let allowed: Vec<DomainId> = options
                        .into_iter()
                        .filter(|d| match self.allowed(kp, *d) {
                            Ok(()) => true,
                            Err(e) => {
                                last_err = Some(e);
                                false
                            }
                        })
                        .collect();
                    if allowed.is_empty() {
                        return Err(last_err
                            .or(kp.constraining().map(Rejection::MissingLabel))
                            .unwrap_or(Rejection::NoDomain));
                    }
                    // Least crowded, then cheapest, then by name.
                    let crowd = |d: DomainId| kp.crowd.map_or(0, |g| self.count(g, d));
                    let least = allowed.iter().map(|d| crowd(*d)).min().unwrap_or(0);
                    let mut tied: Vec<DomainId> =
                        allowed.into_iter().filter(|d| crowd(*d) == least).collect();
                    if tied.len() > 1 {
                        let mut ranked: Vec<(f64, DomainId)> =
                            tied.iter().map(|d| (rank(&kp.key, *d), *d)).collect();
                        ranked.sort_by(|a, b| {
                            a.0.total_cmp(&b.0)
                                .then_with(|| self.domains.name(a.1).cmp(self.domains.name(b.1)))
                        });
                        tied = ranked.into_iter().map(|(_, d)| d).collect();
                    }
                    if let Some(best) = tied.first() {
                        pins.push((kp.key.clone(), *best));
                    }
                }
            }
        }
        Ok(pins)
    }

    /// A person's account of a rejection.
    pub fn explain(&self, r: Rejection) -> String {
        let key = |g: GroupId| self.groups[g].term.topology_key.as_str();
        // A node not launched yet is a domain of its own, named for a person.
        let place = |d: DomainId| match self.domains.name(d) {
            super::FRESH_NODE => "on a new node".to_string(),
            name => format!("in {name}"),
        };
        match r {
            Rejection::Spread {
                group,
                domain,
                here,
                allowed,
            } => {
                format!(
                    "topology spread on {} would exceed maxSkew {} ({here} matching pods there, \
                     {allowed} allowed before this one)",
                    key(group),
                    place(domain)
                )
            }
            Rejection::Affinity(g, d) => {
                format!("pod affinity on {}: no matching pod {}", key(g), place(d))
            }
            Rejection::AntiAffinity(g, d) => {
                format!(
                    "pod anti-affinity on {}: a matching pod is already {}",
                    key(g),
                    place(d)
                )
            }
            Rejection::InverseAntiAffinity(g, d) => {
                format!(
                    "the anti-affinity of a pod {} on {} excludes this pod",
                    place(d),
                    key(g)
                )
            }
            Rejection::MissingLabel(g) => format!(
                "node has no {} label for the pod's topology constraints",
                key(g)
            ),
            Rejection::NoDomain => "no topology domain is available".into(),
        }
    }

    /// Whether a candidate whose hostname domain is `d` passes the pod's
    /// hostname terms: a cheap test to skip planned nodes before the full
    /// check (`false` only where `admit` would refuse too).
    pub fn admits_host(&self, p: &Prepared, d: DomainId) -> bool {
        p.keys
            .iter()
            .find(|k| k.key == kerf_api::labels::HOSTNAME)
            .is_none_or(|kp| self.allowed(kp, d).is_ok())
    }

    /// Whether the pod's hostname anti-affinity already has a matching pod on
    /// every one of `hosts` nodes and planned nodes, so none can take it and
    /// the solver can go straight to a new node.
    pub fn every_host_taken(&self, p: &Prepared, hosts: usize) -> bool {
        p.keys
            .iter()
            .find(|k| k.key == kerf_api::labels::HOSTNAME)
            .is_some_and(|kp| {
                kp.anti
                    .iter()
                    .any(|g| self.groups[*g].by_node.len() >= hosts)
            })
    }
}
