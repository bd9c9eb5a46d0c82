//! InterPodAffinity (the pod's terms and other pods' anti-affinity) and PodTopologySpread.

use super::*;

impl<'a> Validator<'a> {
    /// InterPodAffinity: the pod's affinity, its anti-affinity, and other pods' anti-affinity.
    pub(super) fn check_pod_affinity(&self, pod: &PodRec, node: &NodeRec) -> Vec<(Rule, String)> {
        let mut out = Vec::new();
        let ns_labels = self.namespace_labels();
        let affinity = pod.spec().and_then(|s| s.affinity.as_ref());
        let required = |terms: Option<&Vec<PodAffinityTerm>>| -> Vec<Term> {
            terms
                .into_iter()
                .flatten()
                .map(|t| Term::new(t, &pod.namespace, &pod.labels))
                .collect()
        };
        let affinity_terms = required(affinity.and_then(|a| a.pod_affinity.as_ref()).and_then(
            |a| {
                a.required_during_scheduling_ignored_during_execution
                    .as_ref()
            },
        ));
        let placed = || {
            self.nodes
                .iter()
                .flat_map(|m| m.pods.iter().map(move |q| (m, &self.pods[*q])))
        };

        if !affinity_terms.is_empty() {
            // Counts per (key, value) of pods matching *all* terms, on nodes with the key.
            let mut counts: BTreeSet<(&str, &str)> = BTreeSet::new();
            for (m, q) in placed() {
                if affinity_terms.iter().all(|t| t.matches(q, &ns_labels)) {
                    for t in &affinity_terms {
                        if let Some(v) = label(&m.labels, &t.key) {
                            counts.insert((t.key.as_str(), v));
                        }
                    }
                }
            }
            let mut missing_key = None;
            let mut unmatched = None;
            for t in &affinity_terms {
                match label(&node.labels, &t.key) {
                    None => missing_key = missing_key.or(Some(t.key.clone())),
                    Some(v) => {
                        if !counts.contains(&(t.key.as_str(), v)) {
                            unmatched = unmatched.or(Some(format!("{}={v}", t.key)));
                        }
                    }
                }
            }
            if let Some(key) = missing_key {
                out.push((Rule::PodAffinity, format!("node has no {key} label")));
            } else if let Some(domain) = unmatched {
                let first_of_group =
                    counts.is_empty() && affinity_terms.iter().all(|t| t.matches(pod, &ns_labels));
                if !first_of_group {
                    out.push((
                        Rule::PodAffinity,
                        format!("no pod matching the affinity terms in {domain}"),
                    ));
                }
            }
        }

        let anti_terms = required(
            affinity
                .and_then(|a| a.pod_anti_affinity.as_ref())
                .and_then(|a| {
                    a.required_during_scheduling_ignored_during_execution
                        .as_ref()
                }),
        );
        for t in &anti_terms {
            let Some(v) = label(&node.labels, &t.key) else {
                continue;
            };
            if let Some((m, q)) = placed()
                .find(|(m, q)| label(&m.labels, &t.key) == Some(v) && t.matches(q, &ns_labels))
            {
                out.push((
                    Rule::PodAntiAffinity,
                    format!("pod {} on {} is in the same {}={v}", q.key, m.name, t.key),
                ));
            }
        }

        for (m, q) in placed() {
            for t in &q.anti {
                let Some(v) = label(&m.labels, &t.key) else {
                    continue;
                };
                if label(&node.labels, &t.key) == Some(v) && t.matches(pod, &ns_labels) {
                    out.push((
                        Rule::ExistingAntiAffinity,
                        format!(
                            "pod {} on {} has anti-affinity to this pod in {}={v}",
                            q.key, m.name, t.key
                        ),
                    ));
                }
            }
        }
        out
    }

    /// PodTopologySpread with DoNotSchedule, over existing and all planned nodes.
    pub(super) fn check_spread(&self, pod: &PodRec, node: &NodeRec) -> Vec<(Rule, String)> {
        let mut out = Vec::new();
        let constraints: Vec<_> = pod
            .spec()
            .and_then(|s| s.topology_spread_constraints.as_ref())
            .into_iter()
            .flatten()
            .filter(|c| c.when_unsatisfiable == "DoNotSchedule")
            .collect();
        if constraints.is_empty() {
            return out;
        }
        let selectors: Vec<Sel> = constraints
            .iter()
            .map(|c| {
                let mut sel = Sel::from(c.label_selector.as_ref());
                for k in c.match_label_keys.iter().flatten() {
                    if let Some(v) = pod.labels.get(k) {
                        sel = sel.with(k, SelOp::In, v);
                    }
                }
                sel
            })
            .collect();
        let mut counts: Vec<BTreeMap<&str, i64>> = vec![BTreeMap::new(); constraints.len()];
        for m in &self.nodes {
            if constraints
                .iter()
                .any(|c| label(&m.labels, &c.topology_key).is_none())
            {
                continue;
            }
            for (i, c) in constraints.iter().enumerate() {
                let honor_affinity =
                    c.node_affinity_policy.as_deref().unwrap_or("Honor") == "Honor";
                let honor_taints = c.node_taints_policy.as_deref().unwrap_or("Ignore") == "Honor";
                if honor_affinity && !matches_required_affinity(pod.pod, &m.labels, &m.name) {
                    continue;
                }
                if honor_taints && untolerated(pod.tolerations(), &m.taints).is_some() {
                    continue;
                }
                let value = label(&m.labels, &c.topology_key).unwrap_or_default();
                let matching = if selectors[i].is_empty() {
                    0
                } else {
                    m.pods
                        .iter()
                        .map(|q| &self.pods[*q])
                        .filter(|q| {
                            !q.terminating
                                && q.namespace == pod.namespace
                                && selectors[i].matches(&q.labels)
                        })
                        .count() as i64
                };
                *counts[i].entry(value).or_insert(0) += matching;
            }
        }
        for (i, c) in constraints.iter().enumerate() {
            let Some(value) = label(&node.labels, &c.topology_key) else {
                out.push((
                    Rule::TopologySpread,
                    format!("node has no {} label", c.topology_key),
                ));
                continue;
            };
            let min_domains = i64::from(c.min_domains.unwrap_or(1));
            let domains = counts[i].len() as i64;
            let min = if domains < min_domains {
                0
            } else {
                counts[i]
                    .values()
                    .copied()
                    .min()
                    .unwrap_or(i64::from(i32::MAX))
            };
            let here = counts[i].get(value).copied().unwrap_or(0);
            let self_match = i64::from(selectors[i].matches(&pod.labels));
            let skew = here + self_match - min;
            if skew > i64::from(c.max_skew) {
                out.push((
                    Rule::TopologySpread,
                    format!(
                        "{}={value}: {here} matching + {self_match} - min {min} = skew {skew} > maxSkew {} over {} domains",
                        c.topology_key, c.max_skew, domains
                    ),
                ));
            }
        }
        out
    }
}
