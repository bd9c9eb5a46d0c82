//! Recording a placement: resources, ports, the planned node's narrowed
//! requirements and options, limits, and topology counts.

use super::setup::{lookup, node_domains};
use super::*;

impl<'a> Solver<'a> {
    pub(super) fn commit_node(&mut self, i: usize, n: usize) {
        let info = &self.pending[i].info;
        let node = &mut self.nodes[n];
        node.remaining.sub(&info.requests);
        node.ports.extend(info.host_ports.iter().cloned());
        node.placed.push(i);
        let domains = node_domains(&self.topology, &self.nodes[n]);
        let (member_of, anti) = (
            self.pending[i].member_of.clone(),
            self.pending[i].info.anti_affinity.clone(),
        );
        self.topology
            .record(&member_of, &anti, n as NodeRef, |k| lookup(&domains, k));
        self.placements.push((i, Slot::Node(n)));
    }

    pub(super) fn commit_claim(
        &mut self,
        i: usize,
        c: usize,
        update: ClaimUpdate,
        _pins: Vec<(String, DomainId)>,
    ) {
        let info = &self.pending[i].info;
        let before = self.claims[c].pods.len();
        let t = self.claims[c].template;
        {
            let claim = &mut self.claims[c];
            claim.requests.add(&info.requests);
            claim.ports.extend(info.host_ports.iter().cloned());
            claim.pods.push(i);
        }
        let claim = &self.claims[c];
        let tmpl = &self.templates[t];
        let headroom = tmpl.remaining.as_ref().map(|r| r.plus(&claim.committed));
        let narrowed = update.requirements.is_some();
        let pins_only = update.pins_only;
        if let Some(r) = update.requirements {
            self.claims[c].requirements = r;
        }
        let claim = &self.claims[c];
        let mask = tmpl.offers.mask(&claim.requirements);
        let keeps = |o: u32| {
            let it = &tmpl.types[o as usize];
            claim.requests.fits_in(tmpl.daemons.room(o as usize))
                && tmpl.daemons.port_taken(o as usize, &claim.ports).is_none()
                && headroom.as_ref().is_none_or(|h| it.capacity.fits_in(h))
                && (!narrowed
                    || ((pins_only || it.requirements.intersects(&claim.requirements).is_ok())
                        && tmpl.offers.cheapest(o as usize, it, &mask).is_some()))
        };
        // Rebuilt when requirements or limits changed; otherwise how many
        // options to drop from the front.
        let kept: Result<Vec<u32>, usize> = if narrowed || headroom.is_some() {
            let mut kept: Vec<(f64, u32)> = claim
                .options
                .iter()
                .copied()
                .filter(|o| keeps(*o))
                .map(|o| {
                    let price = tmpl
                        .offers
                        .price(o as usize, &tmpl.types[o as usize], &mask);
                    (price, o)
                })
                .collect();
            if narrowed {
                // Keep options in price order under the node's own requirements,
                // so checks can stop at the first that fits (see `check_claim`).
                kept.sort_by(|a, b| {
                    a.0.total_cmp(&b.0).then_with(|| {
                        tmpl.types[a.1 as usize]
                            .name
                            .cmp(&tmpl.types[b.1 as usize].name)
                    })
                });
            }
            Ok(kept.into_iter().map(|(_, o)| o).collect())
        } else {
            // Only fit changed: drop the options at the front that no longer
            // fit (checks start there); `finish` skips any further back.
            Err(claim
                .options
                .iter()
                .position(|o| keeps(*o))
                .unwrap_or(claim.options.len()))
        };
        if let Some(remaining) = self.templates[t].remaining.as_mut() {
            remaining.add(&self.claims[c].committed);
            remaining.sub(&update.committed);
        }
        let claim = &mut self.claims[c];
        match kept {
            Ok(kept) => claim.options = kept,
            Err(stale) => {
                claim.options.drain(..stale);
            }
        }
        claim.committed = update.committed;
        claim.min_values_relaxed = update.min_values_relaxed;
        self.claim_order.remove(&(before, c));
        self.claim_order.insert((before + 1, c));

        let hostname = claim.hostname;
        let node_ref = (self.nodes.len() + c) as NodeRef;
        let requirements = claim.requirements.clone();
        let (member_of, anti) = (
            self.pending[i].member_of.clone(),
            self.pending[i].info.anti_affinity.clone(),
        );
        let topology = &mut self.topology;
        let domains: Vec<(String, Option<DomainId>)> = topology
            .topology_keys()
            .to_vec()
            .into_iter()
            .map(|k| {
                let d = if k == kerf_api::labels::HOSTNAME {
                    Some(hostname)
                } else {
                    requirements
                        .get(&k)
                        .filter(|r| !r.complement && r.values.len() == 1)
                        .and_then(|r| r.values.iter().next())
                        .map(|v| topology.domains.intern(v))
                };
                (k, d)
            })
            .collect();
        topology.record(&member_of, &anti, node_ref, |k| lookup(&domains, k));
        self.placements.push((i, Slot::Claim(c)));
    }
}
