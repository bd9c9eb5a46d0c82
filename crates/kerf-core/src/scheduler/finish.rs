//! Writing the plan: planned nodes named and priced, their labels, and
//! placements in the order they were decided.

use super::*;

impl<'a> Solver<'a> {
    pub(super) fn finish(mut self) -> Plan {
        let mut names = Vec::with_capacity(self.claims.len());
        let mut per_pool: BTreeMap<String, usize> = BTreeMap::new();
        for claim in &self.claims {
            let tmpl = &self.templates[claim.template];
            let n = per_pool.entry(tmpl.t.pool.name.clone()).or_insert(0);
            *n += 1;
            names.push(format!("{}-{}", tmpl.t.pool.name, n));
        }
        for &(i, slot) in &self.placements {
            self.plan.placements.push(Placement {
                pod: self.pending[i].info.key.clone(),
                target: match slot {
                    Slot::Node(n) => Target::Existing(self.nodes[n].n.name.clone()),
                    Slot::Claim(c) => Target::New(names[c].clone()),
                },
                relaxed: self.pending[i].relaxed.clone(),
            });
        }
        let mut dropped: Vec<String> = Vec::new();
        for (c, claim) in self.claims.iter().enumerate() {
            let tmpl = &self.templates[claim.template];
            // Options that stopped fitting may remain (commits only prune the
            // front of the list); leave them out here.
            let mask = tmpl.offers.mask(&claim.requirements);
            let mut priced: Vec<(&crate::instance_type::Offering, &Arc<InstanceType>, usize)> =
                claim
                    .options
                    .iter()
                    .filter_map(|o| {
                        let (o, it) = (*o as usize, &tmpl.types[*o as usize]);
                        if !claim.requests.fits_in(tmpl.daemons.room(o))
                            || tmpl.daemons.port_taken(o, &claim.ports).is_some()
                        {
                            return None;
                        }
                        tmpl.offers.cheapest(o, it, &mask).map(|of| (of, it, o))
                    })
                    .collect();
            priced.sort_by(|a, b| {
                a.0.price
                    .total_cmp(&b.0.price)
                    .then_with(|| a.1.name.cmp(&b.1.name))
            });
            let max = self.snapshot.options.max_instance_types.max(1);
            priced.truncate(max);
            // The options kept for launch must still hold minValues values per
            // key (Karpenter's `Truncate`); only the cheapest `max` are kept.
            let mut requirements = claim.requirements.clone();
            let mut min_values_relaxed = claim.min_values_relaxed;
            if let Some(short) =
                min_values::shortfall(&requirements, priced.iter().map(|p| p.1.as_ref()))
            {
                if self.snapshot.options.min_values_policy == MinValuesPolicy::BestEffort {
                    min_values::relax(&mut requirements, &short);
                    min_values_relaxed = true;
                } else {
                    for i in &claim.pods {
                        self.plan.unschedulable.push(Unschedulable {
                            pod: self.pending[*i].info.key.clone(),
                            reason: format!(
                                "{}: {short} among the {max} cheapest instance types kept for launch",
                                tmpl.t.pool
                            ),
                        });
                    }
                    dropped.push(names[c].clone());
                    continue;
                }
            }
            let Some(&(chosen_offering, _, chosen_index)) = priced.first() else {
                // Every commit keeps at least one option; report rather than drop pods if that ever breaks.
                for i in &claim.pods {
                    self.plan.unschedulable.push(Unschedulable {
                        pod: self.pending[*i].info.key.clone(),
                        reason: format!(
                            "internal error: planned node {} lost all instance types",
                            names[c]
                        ),
                    });
                }
                continue;
            };
            let options: Vec<(InstanceOption, &Arc<InstanceType>)> = priced
                .into_iter()
                .map(|(of, it, _)| {
                    let option = InstanceOption {
                        instance_type: it.name.clone(),
                        zone: of.zone.clone(),
                        capacity_type: of.capacity_type.clone(),
                        price: of.price,
                    };
                    (option, it)
                })
                .collect();
            let (chosen, chosen_type) = options[0].clone();
            // The labels the node will carry once launched: template, decided
            // requirements, the instance type's own, and where it runs.
            let mut labels = tmpl.t.labels.clone();
            labels.extend(claim.requirements.single_valued_labels());
            // A custom label allowed several values gets the first: every pod on
            // the node accepts each of them (see `labelled_on_launch`).
            for r in claim.requirements.iter() {
                if !r.complement
                    && r.values.len() > 1
                    && !kerf_api::labels::is_well_known_label(&r.key)
                    && let Some(v) = r.values.iter().next()
                {
                    labels.entry(r.key.clone()).or_insert_with(|| v.clone());
                }
            }
            labels.extend(chosen_type.launch_labels(&claim.requirements));
            labels.insert(kerf_api::labels::ZONE.to_string(), chosen.zone.clone());
            if let Some(id) = &chosen_offering.zone_id {
                labels.insert(kerf_api::labels::ZONE_ID.to_string(), id.clone());
            }
            labels.insert(
                kerf_api::labels::CAPACITY_TYPE.to_string(),
                chosen.capacity_type.clone(),
            );
            labels.insert(kerf_api::labels::HOSTNAME.to_string(), names[c].clone());
            labels.insert(pool_label(tmpl.t), tmpl.t.pool.name.clone());
            let allocatable = chosen_type.allocatable().clone();
            self.plan.new_nodes.push(PlannedNode {
                name: names[c].clone(),
                pool: tmpl.t.pool.clone(),
                requirements,
                min_values_relaxed,
                options: options.into_iter().map(|(o, _)| o).collect(),
                chosen,
                labels,
                taints: tmpl.t.taints.clone(),
                startup_taints: tmpl.t.startup_taints.clone(),
                pods: claim
                    .pods
                    .iter()
                    .map(|i| self.pending[*i].info.key.clone())
                    .collect(),
                pod_requests: claim.requests.clone(),
                daemon_requests: tmpl.daemons.requests(chosen_index).clone(),
                allocatable,
            });
        }
        if !dropped.is_empty() {
            self.plan
                .placements
                .retain(|p| !matches!(&p.target, Target::New(n) if dropped.contains(n)));
        }
        for node in &self.nodes {
            if !node.placed.is_empty() {
                self.plan.existing.push(ExistingPlacement {
                    node: node.n.name.clone(),
                    pods: node
                        .placed
                        .iter()
                        .map(|i| self.pending[*i].info.key.clone())
                        .collect(),
                });
            }
        }
        self.plan.unschedulable.sort_by(|a, b| a.pod.cmp(&b.pod));
        self.plan
    }
}

pub(super) fn pool_label(t: &NodeTemplate) -> String {
    match t.pool.kind {
        crate::template::PoolKind::Provisioner => kerf_api::labels::PROVISIONER_NAME.to_string(),
        crate::template::PoolKind::NodePool => kerf_api::labels::NODEPOOL.to_string(),
    }
}

pub(crate) fn limit_text(t: &NodeTemplate) -> String {
    let parts: Vec<String> = t
        .limits
        .iter()
        .map(|(k, v)| format!("{k}={}", format_amount(k, *v)))
        .collect();
    format!("{{{}}}", parts.join(", "))
}
