//! What a snapshot asks for, in the form the bounds and the baseline need:
//! every (pool, instance type) a node could be launched as, at its cheapest
//! offering the pool allows, and for each pending pod its requests and the
//! choices that could hold it — the pool's taints tolerated, the pool's, the
//! type's and the pod's node requirements compatible, and the pod fitting an
//! empty node of the type.
//!
//! Deliberately generous (never excludes a node a real plan could use), so
//! bounds built on it stay bounds: volume topology and daemonset overhead are
//! ignored, and a choice's price is the cheapest offering of the pool, even if
//! one pod's zone requirement would rule that offering out.

use std::collections::BTreeMap;

use kerf_core::pod::{AffinityTerm, PodInfo, compile};
use kerf_core::requirements::Requirements;
use kerf_core::resources::Resources;
use kerf_core::snapshot::Snapshot;
use kerf_core::taints::first_untolerated;

/// A node kerf could launch: one instance type from one pool.
#[derive(Clone, Debug)]
pub struct Choice {
    /// Index into `snapshot.templates`.
    pub template: usize,
    pub pool: String,
    pub instance_type: String,
    pub allocatable: Resources,
    /// Cheapest available offering the pool's requirements allow, $/h.
    pub price: f64,
    /// Zones with an allowed offering, and each one's price, cheapest first.
    pub zones: Vec<(String, f64)>,
}

/// One pending pod.
#[derive(Clone, Debug)]
pub struct PodDemand {
    pub info: PodInfo,
    /// Indices into [`Demand::choices`], ascending.
    pub allowed: Vec<usize>,
}

#[derive(Clone, Debug, Default)]
pub struct Demand {
    pub choices: Vec<Choice>,
    /// Pods some choice can hold.
    pub pods: Vec<PodDemand>,
    /// Pods no choice can hold (unschedulable in every plan), `namespace/name`.
    pub impossible: Vec<String>,
    /// Namespace labels, for (anti-)affinity and spread namespace selectors.
    pub namespaces: BTreeMap<String, BTreeMap<String, String>>,
}

impl Demand {
    /// Reads the snapshot's templates and pending pods. A pod kerf cannot
    /// compile is an error naming it and the field.
    pub fn from_snapshot(snapshot: &Snapshot) -> anyhow::Result<Demand> {
        let mut choices = Vec::new();
        for (t, tmpl) in snapshot.templates.iter().enumerate() {
            for it in &tmpl.instance_types {
                if it.requirements.intersects(&tmpl.requirements).is_err() {
                    continue;
                }
                let mut zones: Vec<(String, f64)> = Vec::new();
                for o in it.offerings_for(&tmpl.requirements) {
                    match zones.iter_mut().find(|(z, _)| z == &o.zone) {
                        Some((_, p)) => *p = p.min(o.price),
                        None => zones.push((o.zone.clone(), o.price)),
                    }
                }
                zones.sort_by(|a, b| a.1.total_cmp(&b.1).then_with(|| a.0.cmp(&b.0)));
                let Some(&(_, price)) = zones.first() else {
                    continue;
                };
                choices.push(Choice {
                    template: t,
                    pool: tmpl.pool.name.clone(),
                    instance_type: it.name.clone(),
                    allocatable: it.allocatable().clone(),
                    price,
                    zones,
                });
            }
        }
        let types: Vec<Vec<&kerf_core::instance_type::InstanceType>> = snapshot
            .templates
            .iter()
            .map(|t| t.instance_types.iter().map(|it| it.as_ref()).collect())
            .collect();
        let find_type = |c: &Choice| {
            types[c.template]
                .iter()
                .find(|it| it.name == c.instance_type)
                .copied()
        };

        let mut cache: BTreeMap<String, Vec<usize>> = BTreeMap::new();
        let mut out = Demand {
            namespaces: snapshot.namespaces.clone(),
            ..Default::default()
        };
        for pod in &snapshot.pending {
            let info = compile(pod, &Requirements::new())?;
            let key =
                serde_json::to_string(&(&info.required_terms, &info.tolerations, &info.requests))
                    .map_err(|e| anyhow::anyhow!("pod {}: {e}", info.key))?;
            let allowed = cache
                .entry(key)
                .or_insert_with(|| {
                    let reqs = info.node_requirements();
                    let mut allowed = Vec::new();
                    for (i, c) in choices.iter().enumerate() {
                        let tmpl = &snapshot.templates[c.template];
                        if first_untolerated(&info.tolerations, &tmpl.taints, true).is_some()
                            || tmpl.requirements.compatible(&reqs, true).is_err()
                            || !info.requests.fits_in(&c.allocatable)
                        {
                            continue;
                        }
                        let merged = tmpl.requirements.intersection(&reqs);
                        let fits = find_type(c).is_some_and(|it| {
                            it.requirements.intersects(&merged).is_ok()
                                && it.cheapest_offering(&merged).is_some()
                        });
                        if fits {
                            allowed.push(i);
                        }
                    }
                    allowed
                })
                .clone();
            if allowed.is_empty() {
                out.impossible.push(info.key.to_string());
            } else {
                out.pods.push(PodDemand { info, allowed });
            }
        }
        out.choices = choices;
        Ok(out)
    }

    /// Per dimension, the largest allocatable any choice has: the unit the
    /// LPs measure that resource in, so the simplex never mixes bytes with cores.
    pub fn scale(&self, dims: &[String]) -> Vec<f64> {
        dims.iter()
            .map(|d| {
                self.choices
                    .iter()
                    .map(|c| c.allocatable.get(d) as f64)
                    .fold(1.0, f64::max)
            })
            .collect()
    }

    /// Whether the term (a spread constraint's or an affinity's) counts `info`:
    /// its namespace in the term's scope and its labels selected.
    pub fn matches(&self, term: &AffinityTerm, info: &PodInfo) -> bool {
        term.scope.contains(&info.key.namespace, &self.namespaces)
            && term.selector.matches(&info.labels)
    }

    /// The zones some choice of pod `pod` can launch in, sorted: its topology
    /// domains for zone spread, as Karpenter reads them.
    pub fn zones_of(&self, pod: usize) -> Vec<String> {
        let zones: std::collections::BTreeSet<&String> = self.pods[pod]
            .allowed
            .iter()
            .flat_map(|&c| self.choices[c].zones.iter().map(|(z, _)| z))
            .collect();
        zones.into_iter().cloned().collect()
    }

    /// Every resource some pod requests, in [`Resources::iter`] order.
    pub fn dimensions(&self) -> Vec<String> {
        let mut total = Resources::default();
        for p in &self.pods {
            total.add(&p.info.requests);
        }
        total
            .iter()
            .filter(|(_, v)| *v > 0)
            .map(|(k, _)| k.to_string())
            .collect()
    }
}
