//! kube-scheduler's node inclusion policies for topology spread
//! (nodeAffinityPolicy, nodeTaintsPolicy), answered over the solver's nodes,
//! planned nodes and templates for one pod.
//!
//! Honoring node affinity means the pod's nodeSelector and required node
//! affinity (all terms, ORed) — never its preferences or volume topology, which
//! kube-scheduler does not look at. A planned node's labels are only final
//! once its instance type is, so it may answer `Maybe`.

use kerf_api::labels::{HOSTNAME, is_well_known_label};

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
}

impl SpreadScope for PodScope<'_, '_> {
    fn filters(&self, s: &SpreadConstraint) -> bool {
        s.honor_taints || (s.honor_node_affinity && self.has_affinity())
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
                        .any(|t| t.matches_labels(&existing.labels).is_ok()));
            return if ok { Verdict::Yes } else { Verdict::No };
        }
        let Some(claim) = solver.claims.get(n - solver.nodes.len()) else {
            return Verdict::No;
        };
        let tmpl = &solver.templates[claim.template];
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

    fn template(&self, s: &SpreadConstraint, template: usize, key: &str, domain: &str) -> bool {
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
