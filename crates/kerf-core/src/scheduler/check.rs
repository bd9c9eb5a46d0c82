//! Whether a pod fits an existing node or a planned one, what placing it
//! would change, and why not when it does not.

use super::finish::limit_text;
use super::setup::node_label;
use super::*;

impl<'a> Solver<'a> {
    pub(super) fn check_node(
        &self,
        info: &PodInfo,
        reqs: &Requirements,
        prepared: &Prepared,
        n: usize,
    ) -> Result<(), Reason> {
        let node = &self.nodes[n];
        if node.n.marked_for_deletion {
            return Err(Reason::Fixed("node is being deleted"));
        }
        if !info.requests.fits_in(&node.remaining) {
            return Err(Reason::Fixed("insufficient resources"));
        }
        if let Some(t) = taints::first_untolerated(
            &info.tolerations,
            &node.taints,
            !info.tolerate_prefer_no_schedule,
        ) {
            return Err(Reason::Text(crate::words::untolerated_taint(
                &taints::describe(t),
            )));
        }
        reqs.matches_labels(&node.labels)
            .map_err(|e| Reason::Text(e.to_string()))?;
        if let Some(p) = info
            .host_ports
            .iter()
            .find(|p| node.ports.iter().any(|q| q.conflicts(p)))
        {
            return Err(Reason::Text(format!("host port {p} in use")));
        }
        if !prepared.is_empty() {
            let topology = &self.topology;
            topology
                .admit(
                    prepared,
                    |key| match node_label(node, key) {
                        Some(v) => topology
                            .domains
                            .get(v)
                            .map_or(DomainState::Missing, DomainState::Known),
                        None => DomainState::Missing,
                    },
                    |_, _| 0.0,
                )
                .map_err(Reason::Topology)?;
        }
        Ok(())
    }

    /// Whether the pod fits on a planned (or fresh) node, and what would change.
    pub(super) fn check_claim(
        &self,
        info: &PodInfo,
        reqs: &Requirements,
        prepared: &Prepared,
        claim: &Claim,
    ) -> Result<(ClaimUpdate, Vec<(String, DomainId)>), Reason> {
        let tmpl = &self.templates[claim.template];
        if let Some(t) = taints::first_untolerated(
            &info.tolerations,
            &tmpl.t.taints,
            !info.tolerate_prefer_no_schedule,
        ) {
            return Err(Reason::Text(crate::words::untolerated_taint(
                &taints::describe(t),
            )));
        }
        if let Some(p) = info
            .host_ports
            .iter()
            .find(|p| claim.ports.iter().any(|q| q.conflicts(p)))
        {
            return Err(Reason::Text(format!("host port {p} in use")));
        }
        let mut requirements = if reqs.is_empty() {
            None
        } else {
            claim.requirements.compatible(reqs, true).map_err(|e| {
                Reason::Text(match &e.existing {
                    Some(allowed) => crate::words::pool_allows_only(
                        &e.incoming.to_string(),
                        &allowed.to_string(),
                    ),
                    None => crate::words::label_not_carried(&e.incoming.to_string()),
                })
            })?;
            let merged = claim.requirements.intersection(reqs);
            if let Some(r) = reqs.iter().find(|r| !labelled_on_launch(&merged, r)) {
                return Err(Reason::Text(crate::words::label_not_carried(
                    &r.to_string(),
                )));
            }
            Some(merged)
        };
        let mut pins = Vec::new();
        if !prepared.is_empty() {
            let current = requirements.as_ref().unwrap_or(&claim.requirements);
            let topology = &self.topology;
            pins = topology
                .admit(
                    prepared,
                    |key| {
                        if key == kerf_api::labels::HOSTNAME {
                            return DomainState::Known(claim.hostname);
                        }
                        open_domains(topology, current, key)
                    },
                    |key, d| self.domain_price(claim, current, key, topology.domains.name(d)),
                )
                .map_err(Reason::Topology)?;
            // A fresh node's hostname is its own; nothing to pin.
            pins.retain(|(k, _)| k != kerf_api::labels::HOSTNAME);
            if !pins.is_empty() {
                let mut r = current.clone();
                for (k, d) in &pins {
                    r.add(Requirement::in_values(
                        k,
                        [topology.domains.name(*d).to_string()],
                    ));
                }
                requirements = Some(r);
            }
        }

        let total = claim.requests.plus(&info.requests);
        let effective = requirements.as_ref().unwrap_or(&claim.requirements);
        let narrowed = requirements.is_some();
        let pins_only = reqs.is_empty()
            && pins
                .iter()
                .all(|(k, _)| OFFERING_KEYS.contains(&k.as_str()));
        let headroom = tmpl.remaining.as_ref().map(|r| r.plus(&claim.committed));
        // Options are in price order under the node's requirements and, unless
        // this pod narrows them, already known to be compatible: the first that
        // fits is the cheapest, so stop there. A pod that narrows zone or
        // capacity type can change that order, so then look at every option
        // (the type charged against limits must be the one `finish` chooses),
        // as minValues does (it counts every option left).
        let mask = narrowed.then(|| tmpl.offers.mask(effective));
        let reordered = narrowed
            && OFFERING_KEYS
                .iter()
                .any(|k| effective.get(k) != claim.requirements.get(k));
        let under_min_values = min_values::any(effective);
        let mut left: Vec<&InstanceType> = Vec::new();
        let mut cheapest: Option<(f64, &Arc<InstanceType>)> = None;
        let (mut any_compatible, mut any_fits) = (false, false);
        let mut port_taken: Option<(&HostPort, usize)> = None;
        // The smallest type the pod fits that the limits leave no room for.
        let mut smallest_over_limit: Option<&Arc<InstanceType>> = None;
        let mut any_port_free = false;
        for &o in &claim.options {
            let it = &tmpl.types[o as usize];
            if let Some(mask) = &mask
                && ((!pins_only && it.requirements.intersects(effective).is_err())
                    || tmpl.offers.cheapest(o as usize, it, mask).is_none())
            {
                continue;
            }
            any_compatible = true;
            // A daemon on this type binds a port the pod (or one already on the node) needs.
            if let Some(p) = tmpl
                .daemons
                .port_taken(o as usize, &info.host_ports)
                .or_else(|| tmpl.daemons.port_taken(o as usize, &claim.ports))
            {
                port_taken.get_or_insert((p, o as usize));
                continue;
            }
            any_port_free = true;
            if !total.fits_in(tmpl.daemons.room(o as usize)) {
                continue;
            }
            any_fits = true;
            if headroom.as_ref().is_some_and(|h| !it.capacity.fits_in(h)) {
                let smaller = smallest_over_limit.is_none_or(|s: &Arc<InstanceType>| {
                    (it.capacity.cpu, it.capacity.memory, &it.name)
                        < (s.capacity.cpu, s.capacity.memory, &s.name)
                });
                if smaller {
                    smallest_over_limit = Some(it);
                }
                continue;
            }
            if under_min_values {
                left.push(it.as_ref());
            }
            if !reordered {
                if cheapest.is_none() {
                    cheapest = Some((0.0, it));
                }
                if under_min_values {
                    continue;
                }
                break;
            }
            let price = mask
                .as_ref()
                .map_or(f64::INFINITY, |m| tmpl.offers.price(o as usize, it, m));
            let better = cheapest.is_none_or(|(p, best)| {
                price
                    .total_cmp(&p)
                    .then_with(|| it.name.cmp(&best.name))
                    .is_lt()
            });
            if better {
                cheapest = Some((price, it));
            }
        }
        let mut relaxed = None;
        if cheapest.is_some()
            && let Some(short) = min_values::shortfall(effective, left.iter().copied())
        {
            if self.snapshot.options.min_values_policy != MinValuesPolicy::BestEffort {
                return Err(Reason::Text(short.to_string()));
            }
            let mut lowered = effective.clone();
            min_values::relax(&mut lowered, &short);
            relaxed = Some(lowered);
        }
        let cheapest = cheapest.map(|(_, it)| it);
        let min_values_relaxed = claim.min_values_relaxed || relaxed.is_some();
        match cheapest {
            Some(it) => Ok((
                ClaimUpdate {
                    requirements: relaxed.or(requirements),
                    pins_only,
                    committed: it.capacity.clone(),
                    min_values_relaxed,
                },
                pins,
            )),
            None if !claim.pods.is_empty() => Err(Reason::Fixed("planned node is full")),
            None if !any_compatible => Err(Reason::Text(no_type_offers(
                tmpl.types.iter().map(Arc::as_ref),
                effective,
            ))),
            None if !any_port_free => Err(Reason::Text(crate::words::port_taken_by_daemonset(
                &port_taken.map(|(p, _)| p.to_string()).unwrap_or_default(),
                port_taken.and_then(|(p, o)| tmpl.daemons.port_owner(o, p)),
            ))),
            None if !any_fits => Err(Reason::Text(self.explain_no_fit(
                claim.template,
                info,
                effective,
            ))),
            None => Err(Reason::Text(limits_reached(tmpl, smallest_over_limit))),
        }
    }

    pub(super) fn cheapest_price(
        &self,
        claim: &Claim,
        requirements: &Requirements,
        pins: &[(String, DomainId)],
    ) -> f64 {
        let mut reqs = requirements.clone();
        for (k, d) in pins {
            reqs.add(Requirement::in_values(
                k,
                [self.topology.domains.name(*d).to_string()],
            ));
        }
        let tmpl = &self.templates[claim.template];
        claim
            .options
            .iter()
            .filter_map(|o| {
                tmpl.types[*o as usize]
                    .cheapest_offering(&reqs)
                    .map(|of| of.price)
            })
            .fold(f64::INFINITY, f64::min)
    }

    /// What the claim's cheapest option costs in one zone (or capacity type):
    /// breaks ties between equally crowded domains. Options are in price order,
    /// so the first with an offering there decides.
    pub(super) fn domain_price(
        &self,
        claim: &Claim,
        requirements: &Requirements,
        key: &str,
        value: &str,
    ) -> f64 {
        if !OFFERING_KEYS.contains(&key) {
            return 0.0;
        }
        let tmpl = &self.templates[claim.template];
        claim
            .options
            .iter()
            .find_map(|o| {
                tmpl.types[*o as usize]
                    .offerings_for(requirements)
                    .filter(|of| match key {
                        kerf_api::labels::ZONE => of.zone == value,
                        kerf_api::labels::ZONE_ID => of.zone_id.as_deref() == Some(value),
                        _ => of.capacity_type == value,
                    })
                    .map(|of| of.price)
                    .min_by(f64::total_cmp)
            })
            .unwrap_or(f64::INFINITY)
    }

    pub(super) fn explain_no_fit(&self, t: usize, info: &PodInfo, reqs: &Requirements) -> String {
        let tmpl = &self.templates[t];
        let compatible: Vec<(usize, &Arc<InstanceType>)> = tmpl
            .types
            .iter()
            .enumerate()
            .filter(|(_, it)| {
                it.requirements.intersects(reqs).is_ok()
                    && it
                        .cheapest_offering(&tmpl.t.requirements.intersection(reqs))
                        .is_some()
            })
            .collect();
        if compatible.is_empty() {
            return format!(
                "no instance type matches {}",
                tmpl.t.requirements.intersection(reqs)
            );
        }
        // Per resource, the type leaving pods the most room once its daemons run.
        for (name, amount) in info.requests.iter() {
            let largest = compatible
                .iter()
                .max_by_key(|(o, _)| tmpl.daemons.room(*o).get(name));
            if let Some((o, it)) = largest.filter(|(o, _)| tmpl.daemons.room(*o).get(name) < amount)
            {
                return crate::words::no_room(
                    name,
                    amount,
                    &it.name,
                    it.allocatable().get(name),
                    tmpl.daemons.requests(*o).get(name),
                );
            }
        }
        crate::words::no_type_holds(&info.requests)
    }
}

/// Which requirement left no instance type: the first that no type offers at
/// all (the catalogue's doing, whatever the pool allows), else the first that
/// empties the list together with the ones before it, taken in the order a
/// person reads them. Offerings count: a type whose zones or capacity types
/// the requirements rule out does not offer them.
pub(crate) fn no_type_offers<'t>(
    types: impl Iterator<Item = &'t InstanceType> + Clone,
    effective: &Requirements,
) -> String {
    let offers = |reqs: &Requirements| {
        types.clone().any(|it| {
            it.requirements.intersects(reqs).is_ok() && it.cheapest_offering(reqs).is_some()
        })
    };
    let ordered = crate::explain::key_order(effective.keys().cloned());
    let alone = ordered.iter().filter_map(|k| effective.get(k)).find(|r| {
        let mut one = Requirements::new();
        one.add((*r).clone());
        !offers(&one)
    });
    if let Some(r) = alone {
        return crate::words::no_type_offers(&r.to_string(), None);
    }
    let mut so_far = Requirements::new();
    for r in ordered.iter().filter_map(|k| effective.get(k)) {
        let before = so_far.to_string();
        so_far.add(r.clone());
        if !offers(&so_far) {
            return crate::words::no_type_offers(&r.to_string(), Some(&before));
        }
    }
    format!("no instance type satisfies {effective}")
}

/// The limits' words with what used them: the pool's nodes, and the nodes
/// planned so far in this solve (before, a pool with no nodes said
/// `{} in use of {cpu=16}`, as if nothing had used them).
fn limits_reached(tmpl: &Tmpl, smallest: Option<&Arc<InstanceType>>) -> String {
    let mut planned = Resources::default();
    if let Some(remaining) = &tmpl.remaining {
        for (name, limit) in tmpl.t.limits.iter().filter(|(k, _)| *k != NODE_LIMIT) {
            planned.set(name, limit - tmpl.t.in_use.get(name) - remaining.get(name));
        }
    }
    crate::words::limits_leave_too_little(
        &limit_text(tmpl.t),
        &tmpl.t.in_use,
        &planned,
        smallest.map(|it| (it.name.as_str(), &it.capacity)),
    )
}

pub(super) fn open_domains(
    topology: &Topology,
    requirements: &Requirements,
    key: &str,
) -> DomainState {
    let req = requirements.get(key);
    if let Some(r) = req.filter(|r| !r.complement && r.values.len() == 1) {
        let v = r
            .values
            .iter()
            .next()
            .map(String::as_str)
            .unwrap_or_default();
        return topology
            .domains
            .get(v)
            .map_or(DomainState::Missing, DomainState::Known);
    }
    let options: Vec<DomainId> = topology
        .domains_of(key)
        .into_iter()
        .filter(|d| req.is_none_or(|r| r.has(topology.domains.name(*d))))
        .collect();
    if options.is_empty() {
        DomainState::Missing
    } else {
        DomainState::Open(options)
    }
}

/// Whether a node launched under `merged` will carry the label that `r` (one
/// of the pod's requirements) needs, when `r` needs one at all. Instance types
/// and offerings supply well-known labels; any other label comes from the
/// template or a pod's requirements only when they name its values (`finish`
/// writes the first); a new node's hostname is not known while packing.
pub(crate) fn labelled_on_launch(merged: &Requirements, r: &Requirement) -> bool {
    if r.allows_absent() {
        return true;
    }
    if r.key == kerf_api::labels::HOSTNAME {
        return r.complement;
    }
    if kerf_api::labels::is_well_known_label(&r.key) {
        return true;
    }
    merged
        .get(&r.key)
        .is_some_and(|m| !m.complement && !m.values.is_empty())
}

/// The labels a node gets from the offering launched rather than its type:
/// the offer mask decides them.
const OFFERING_KEYS: [&str; 3] = [
    kerf_api::labels::ZONE,
    kerf_api::labels::ZONE_ID,
    kerf_api::labels::CAPACITY_TYPE,
];
