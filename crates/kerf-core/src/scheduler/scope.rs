//! kube-scheduler's node inclusion policies for topology spread
//! (nodeAffinityPolicy, nodeTaintsPolicy), answered over the solver's nodes,
//! planned nodes and templates for one pod.
//!
//! Honoring node affinity means the pod's nodeSelector and required node
//! affinity (all terms, ORed) — never its preferences or volume topology, which
//! kube-scheduler does not look at. A planned node's labels are only final
//! once its instance type is, so it may answer `Maybe`.
//!
//! Whatever the policies, kube-scheduler counts a node for a pod's spread
//! constraints only when the node carries the topology key of *every* one of
//! them (`nodeLabelsMatchSpreadConstraints`: the DoNotSchedule constraints in
//! its filter, the ScheduleAnyway ones in its scoring, which kerf enforces
//! until it relaxes them). A node without one of the keys is left out of
//! every domain, pods and all.

use kerf_api::labels::{CAPACITY_TYPE, HOSTNAME, ZONE, ZONE_ID, is_well_known_label};

use super::Solver;
use crate::pod::{PodInfo, SpreadConstraint};
use crate::requirements::{Requirement, Requirements};
use crate::taints;
use crate::topology::{NodeRef, SpreadScope, Verdict};

pub(super) struct PodScope<'s, 'a> {
    pub solver: &'s Solver<'a>,
    pub info: &'s PodInfo,
}

impl PodScope<'_, '_> {
    /// Whether the pod's required node affinity constrains anything (an empty
    /// term matches every node, and terms are ORed).
    fn has_affinity(&self) -> bool {
        !self.info.spread_affinity.is_empty()
            && self.info.spread_affinity.iter().all(|t| !t.is_empty())
    }

    fn tolerates(&self, taints: &[k8s_openapi::api::core::v1::Taint]) -> bool {
        // NoSchedule and NoExecute only, as kube-scheduler's policy filter.
        taints::first_untolerated(&self.info.tolerations, taints, false).is_none()
    }

    /// The topology keys of the pod's other constraints of the same kind as
    /// `s` (DoNotSchedule or ScheduleAnyway) that a counted node must carry too.
    fn sibling_keys<'k>(&'k self, s: &'k SpreadConstraint) -> impl Iterator<Item = &'k str> + 'k {
        self.info
            .active_spread()
            .filter(move |o| o.when_unsatisfiable == s.when_unsatisfiable)
            .map(|o| o.term.topology_key.as_str())
            .filter(move |k| *k != s.term.topology_key)
    }

    /// Whether a planned node will carry every sibling key of `s`.
    fn claim_has_keys(&self, s: &SpreadConstraint, claim: &super::Claim) -> Verdict {
        let tmpl = &self.solver.templates[claim.template];
        let mut verdict = Verdict::Yes;
        for key in self.sibling_keys(s) {
            // Every planned node gets these (see `finish`).
            let always = key == HOSTNAME
                || key == ZONE
                || key == CAPACITY_TYPE
                || tmpl.t.labels.contains_key(key)
                || key == super::finish::pool_label(tmpl.t);
            let named = || {
                claim
                    .requirements
                    .get(key)
                    .is_some_and(|r| !r.complement && !r.values.is_empty())
            };
            let by_type = || {
                claim.options.iter().all(|o| {
                    let it = &tmpl.types[*o as usize];
                    // Offerings with zone IDs put them on the type's requirements.
                    it.labels.contains_key(key) || (key == ZONE_ID && it.requirements.has(key))
                })
            };
            if !(always || named() || by_type()) {
                // Not final: a later pod or a topology pin may still name a value.
                verdict = Verdict::Maybe;
            }
        }
        verdict
    }
}

/// Both must hold.
fn and(a: Verdict, b: Verdict) -> Verdict {
    match (a, b) {
        (Verdict::No, _) | (_, Verdict::No) => Verdict::No,
        (Verdict::Maybe, _) | (_, Verdict::Maybe) => Verdict::Maybe,
        _ => Verdict::Yes,
    }
}

impl SpreadScope for PodScope<'_, '_> {
    fn filters(&self, s: &SpreadConstraint) -> bool {
        s.honor_taints
            || (s.honor_node_affinity && self.has_affinity())
            || self.sibling_keys(s).next().is_some()
    }

    fn node(&self, s: &SpreadConstraint, node: NodeRef) -> Verdict {
        let solver = self.solver;
        let n = node as usize;
        if let Some(existing) = solver.nodes.get(n) {
            let ok = (!s.honor_taints || self.tolerates(&existing.taints))
                && (!s.honor_node_affinity
                    || !self.has_affinity()
                    || self
                        .info
                        .spread_affinity
                        .iter()
                        .any(|t| t.matches_labels(&existing.labels).is_ok()))
                && self
                    .sibling_keys(s)
                    .all(|k| existing.labels.contains_key(k));
            return if ok { Verdict::Yes } else { Verdict::No };
        }
        let Some(claim) = solver.claims.get(n - solver.nodes.len()) else {
            return Verdict::No;
        };
        and(self.claim_policies(s, claim), self.claim_has_keys(s, claim))
    }

    fn template(&self, s: &SpreadConstraint, template: usize, key: &str, domain: &str) -> bool {
        // Sibling keys are not checked here: a pod's requirements or a
        // topology pin can give a planned node any label, so leaving a
        // template's domain in is the cautious choice (a lower minimum).
        let tmpl = &self.solver.templates[template];
        (!s.honor_taints || self.tolerates(&tmpl.t.taints))
            && (!s.honor_node_affinity
                || !self.has_affinity()
                || self
                    .info
                    .spread_affinity
                    .iter()
                    .any(|t| t.get(key).is_none_or(|r| r.has(domain))))
    }
}

impl PodScope<'_, '_> {
    /// nodeTaintsPolicy and nodeAffinityPolicy for a planned node.
    fn claim_policies(&self, s: &SpreadConstraint, claim: &super::Claim) -> Verdict {
        let tmpl = &self.solver.templates[claim.template];
        if s.honor_taints && !self.tolerates(&tmpl.t.taints) {
            return Verdict::No;
        }
        if !s.honor_node_affinity || !self.has_affinity() {
            return Verdict::Yes;
        }
        let mut best = Verdict::No;
        for term in &self.info.spread_affinity {
            match term_verdict(&claim.requirements, term) {
                Verdict::Yes => return Verdict::Yes,
                Verdict::Maybe => best = Verdict::Maybe,
                Verdict::No => {}
            }
        }
        best
    }
}

/// Whether a node launched under `planned` will match one required term:
/// certainly, certainly not, or depending on choices not made yet.
fn term_verdict(planned: &Requirements, term: &Requirements) -> Verdict {
    let mut verdict = Verdict::Yes;
    for t in term.iter() {
        match key_verdict(planned.get(&t.key), t) {
            Verdict::No => return Verdict::No,
            Verdict::Maybe => verdict = Verdict::Maybe,
            Verdict::Yes => {}
        }
    }
    verdict
}

fn key_verdict(planned: Option<&Requirement>, t: &Requirement) -> Verdict {
    let supplied = is_well_known_label(&t.key) || t.key == HOSTNAME;
    match planned {
        // The label will be one of these values (a custom one: the first, but
        // later pods may narrow the list).
        Some(p) if !p.complement && !p.values.is_empty() => {
            let matching = p.values.iter().filter(|v| t.has(v)).count();
            if matching == 0 {
                Verdict::No
            } else if matching == p.values.len() {
                Verdict::Yes
            } else {
                Verdict::Maybe
            }
        }
        // Instance types and offerings supply well-known labels with values
        // not decided yet.
        Some(p) if supplied => {
            if p.intersection(t).is_unsatisfiable() {
                Verdict::No
            } else {
                Verdict::Maybe
            }
        }
        None if supplied => Verdict::Maybe,
        // No value named: a custom label the node will not carry.
        _ => {
            if t.allows_absent() {
                Verdict::Yes
            } else {
                Verdict::No
            }
        }
    }
}
