//! The packer: places pending pods onto existing nodes, then onto nodes it has
//! already planned, then onto new nodes from templates in weight order — the
//! order Karpenter uses — and chooses the cheapest offering for each new node.
//! Pure and deterministic: equal snapshots give equal plans.

use std::collections::{BTreeMap, BTreeSet, VecDeque};
use std::sync::Arc;

use k8s_openapi::api::core::v1::{Pod, Taint};

use crate::instance_type::{InstanceType, OfferingFilter};
use crate::plan::{
    ExistingPlacement, InstanceOption, Placement, Plan, PlannedNode, Target, Unschedulable,
};
use crate::pod::{self, HostPort, PodInfo};
use crate::requirements::{Requirement, Requirements};
use crate::resources::{Resources, format_amount};
use crate::snapshot::{PreferencePolicy, Snapshot};
use crate::taints;
use crate::template::NodeTemplate;
use crate::topology::{DomainId, DomainState, GroupId, Prepared, Rejection, Topology};
use crate::volumes::VolumeIndex;

const UNSCHEDULABLE_TAINT: &str = "node.kubernetes.io/unschedulable";

/// Why a node refused a pod. Rendered to text only when a person will read it.
enum Reason {
    Fixed(&'static str),
    Topology(Rejection),
    Text(String),
}

/// A template prepared for packing.
struct Tmpl<'a> {
    t: &'a NodeTemplate,
    /// Instance types compatible with the template, with an allowed offering.
    types: Vec<Arc<InstanceType>>,
    daemon: Resources,
    /// Limit left for new nodes, if the template has limits.
    remaining: Option<Resources>,
}

/// A node that exists or is in flight.
struct Node<'a> {
    n: &'a crate::snapshot::ExistingNode,
    /// The node's labels with its hostname filled in.
    labels: BTreeMap<String, String>,
    taints: Vec<Taint>,
    remaining: Resources,
    ports: Vec<HostPort>,
    placed: Vec<usize>,
}

/// A new node being planned.
struct Claim {
    template: usize,
    requirements: Requirements,
    /// Indices into the template's `types` that still fit.
    options: Vec<u32>,
    requests: Resources,
    ports: Vec<HostPort>,
    hostname: DomainId,
    pods: Vec<usize>,
    /// Capacity counted against the template's limits (its cheapest option's).
    committed: Resources,
}

/// The changes a successful check would make to a claim.
struct ClaimUpdate {
    requirements: Option<Requirements>,
    committed: Resources,
}

/// Where the solver put a pod, before planned nodes have their names.
#[derive(Clone, Copy)]
enum Slot {
    Node(usize),
    Claim(usize),
}

struct Pending {
    info: PodInfo,
    member_of: Vec<GroupId>,
    relaxed: Vec<String>,
}

/// Plans capacity for the snapshot's pending pods.
pub fn solve(snapshot: &Snapshot) -> Plan {
    Solver::new(snapshot).run()
}

struct Solver<'a> {
    snapshot: &'a Snapshot,
    templates: Vec<Tmpl<'a>>,
    nodes: Vec<Node<'a>>,
    claims: Vec<Claim>,
    /// (pods on claim, claim index): claims with the fewest pods are tried first.
    claim_order: BTreeSet<(usize, usize)>,
    topology: Topology,
    pending: Vec<Pending>,
    placements: Vec<(usize, Slot)>,
    plan: Plan,
}

impl<'a> Solver<'a> {
    fn new(snapshot: &'a Snapshot) -> Self {
        let volumes = VolumeIndex::new(
            &snapshot.claims,
            &snapshot.volumes,
            &snapshot.storage_classes,
        );
        let mut plan = Plan::default();

        let mut pending = Vec::new();
        for pod in &snapshot.pending {
            match compile_pod(pod, &volumes) {
                Ok(info) if info.is_daemon => {}
                Ok(mut info) => {
                    if snapshot.options.preference_policy == PreferencePolicy::Ignore {
                        info.ignore_preferences();
                    }
                    pending.push(Pending {
                        info,
                        member_of: Vec::new(),
                        relaxed: Vec::new(),
                    });
                }
                Err(e) => plan.unschedulable.push(Unschedulable {
                    pod: e.pod.clone(),
                    reason: format!("{}: {}", e.field, e.message),
                }),
            }
        }

        let daemons: Vec<PodInfo> = snapshot
            .daemonsets
            .iter()
            .filter_map(|ds| {
                let template = ds.spec.as_ref()?.template.clone();
                let pod = Pod {
                    metadata: template.metadata.unwrap_or_default(),
                    spec: template.spec,
                    status: None,
                };
                compile_pod(&pod, &VolumeIndex::default()).ok()
            })
            .collect();

        let mut templates: Vec<Tmpl> = snapshot
            .templates
            .iter()
            .map(|t| prepare_template(t, &daemons))
            .collect();
        templates.sort_by(|a, b| {
            b.t.weight
                .cmp(&a.t.weight)
                .then_with(|| a.t.pool.cmp(&b.t.pool))
        });

        let mut topology = Topology::new(snapshot.namespaces.clone(), !templates.is_empty());
        for p in &pending {
            topology.register_pod(&p.info);
        }
        let mut nodes = Vec::new();
        let mut bound: Vec<(usize, PodInfo)> = Vec::new();
        for n in &snapshot.nodes {
            let mut taints = n.taints.clone();
            if n.unschedulable {
                taints.push(Taint {
                    key: UNSCHEDULABLE_TAINT.into(),
                    effect: taints::NO_SCHEDULE.into(),
                    value: None,
                    time_added: None,
                });
            }
            let mut remaining = n.allocatable.clone();
            let mut ports = Vec::new();
            for pod in n.pods.iter().filter(|p| !is_terminal(p)) {
                if let Ok(info) = compile_pod(pod, &volumes)
                    .or_else(|_| compile_pod(pod, &VolumeIndex::default()))
                {
                    remaining.sub(&info.requests);
                    ports.extend(info.host_ports.iter().cloned());
                    for t in &info.anti_affinity {
                        topology.register(t);
                    }
                    bound.push((nodes.len(), info));
                } else if let Ok(requests) = pod::pod_requests(pod) {
                    remaining.sub(&requests);
                }
            }
            let hostname = n
                .labels
                .get(kerf_api::labels::HOSTNAME)
                .cloned()
                .unwrap_or_else(|| n.name.clone());
            let mut labels = n.labels.clone();
            labels.insert(kerf_api::labels::HOSTNAME.to_string(), hostname);
            nodes.push(Node {
                n,
                labels,
                taints,
                remaining,
                ports,
                placed: Vec::new(),
            });
        }

        // Domains spread constraints count: existing nodes' labels and whatever templates can launch.
        for key in topology.topology_keys().to_vec() {
            for node in &nodes {
                if let Some(v) = node_label(node, &key) {
                    topology.add_domain(&key, v, &node.taints);
                }
            }
            if key == kerf_api::labels::HOSTNAME {
                continue;
            }
            for t in &templates {
                for v in template_domains(t, &key) {
                    topology.add_domain(&key, &v, &t.t.taints);
                }
            }
        }
        for (node, info) in &bound {
            let member_of = topology.member_of(&info.key.namespace, &info.labels);
            let domains = node_domains(&topology, &nodes[*node]);
            topology.record(&member_of, &info.anti_affinity, |key| lookup(&domains, key));
        }
        for p in &mut pending {
            p.member_of = topology.member_of(&p.info.key.namespace, &p.info.labels);
        }

        Solver {
            snapshot,
            templates,
            nodes,
            claims: Vec::new(),
            claim_order: BTreeSet::new(),
            topology,
            pending,
            placements: Vec::new(),
            plan,
        }
    }

    fn run(mut self) -> Plan {
        let mut queue: VecDeque<usize> = (0..self.pending.len()).collect();
        queue.make_contiguous().sort_by(|a, b| {
            let (a, b) = (&self.pending[*a].info, &self.pending[*b].info);
            b.requests
                .cpu
                .cmp(&a.requests.cpu)
                .then_with(|| b.requests.memory.cmp(&a.requests.memory))
                .then_with(|| a.creation.cmp(&b.creation))
                .then_with(|| a.key.cmp(&b.key))
        });
        let mut failures: BTreeMap<usize, String> = BTreeMap::new();
        let mut stalled = 0usize;
        while let Some(i) = queue.pop_front() {
            match self.place(i) {
                Ok(()) => {
                    failures.remove(&i);
                    stalled = 0;
                }
                Err(reason) => {
                    if let Some(relaxed) = self.pending[i].info.relax() {
                        self.pending[i].relaxed.push(relaxed);
                        queue.push_back(i);
                        stalled = 0;
                        failures.insert(i, reason);
                        continue;
                    }
                    failures.insert(i, reason);
                    queue.push_back(i);
                    stalled += 1;
                    if stalled >= queue.len() {
                        break;
                    }
                }
            }
        }
        for (i, reason) in failures {
            self.plan.unschedulable.push(Unschedulable {
                pod: self.pending[i].info.key.clone(),
                reason,
            });
        }
        self.finish()
    }

    fn place(&mut self, i: usize) -> Result<(), String> {
        let reqs = self.pending[i].info.node_requirements();
        let prepared =
            self.topology
                .prepare(&self.pending[i].info, &self.pending[i].member_of, &reqs);
        let info = &self.pending[i].info;

        for n in 0..self.nodes.len() {
            if self.check_node(info, &reqs, &prepared, n).is_ok() {
                self.commit_node(i, n);
                return Ok(());
            }
        }

        let mut found = None;
        for &(_, c) in &self.claim_order {
            if let Ok((update, pins)) = self.check_claim(info, &reqs, &prepared, &self.claims[c]) {
                found = Some((c, update, pins));
                break;
            }
        }
        if let Some((c, update, pins)) = found {
            self.commit_claim(i, c, update, pins);
            return Ok(());
        }

        let mut reasons = Vec::new();
        let mut tier: Option<i32> = None;
        let mut best: Option<(f64, Claim, ClaimUpdate, Vec<(String, DomainId)>)> = None;
        for t in 0..self.templates.len() {
            let weight = self.templates[t].t.weight;
            if best.is_some() && tier != Some(weight) {
                break;
            }
            let fresh = self.fresh_claim(t);
            match self.check_claim(info, &reqs, &prepared, &fresh) {
                Ok((update, pins)) => {
                    // Price only matters when another template of the same weight competes.
                    let contested = best.is_some()
                        || self
                            .templates
                            .get(t + 1)
                            .is_some_and(|n| n.t.weight == weight);
                    let price = if contested {
                        self.cheapest_price(
                            &fresh,
                            update.requirements.as_ref().unwrap_or(&fresh.requirements),
                            &pins,
                        )
                    } else {
                        0.0
                    };
                    if best.as_ref().is_none_or(|(p, ..)| price < *p) {
                        best = Some((price, fresh, update, pins));
                        tier = Some(weight);
                    }
                }
                Err(reason) => reasons.push(format!(
                    "{}: {}",
                    self.templates[t].t.pool,
                    self.render(reason)
                )),
            }
        }
        if let Some((_, mut claim, update, pins)) = best {
            claim.hostname = self
                .topology
                .domains
                .intern(&format!("kerf-planned-{}", self.claims.len()));
            let c = self.claims.len();
            self.claims.push(claim);
            self.claim_order.insert((0, c));
            self.commit_claim(i, c, update, pins);
            return Ok(());
        }
        if self.templates.is_empty() {
            reasons.push("no provisioner or nodepool can launch nodes".into());
        }
        if self.nodes.is_empty() && reasons.is_empty() {
            reasons.push("no node fits".into());
        }
        Err(reasons.join("; "))
    }

    fn render(&self, reason: Reason) -> String {
        match reason {
            Reason::Fixed(s) => s.to_string(),
            Reason::Topology(r) => self.topology.explain(r),
            Reason::Text(s) => s,
        }
    }

    fn fresh_claim(&self, t: usize) -> Claim {
        let tmpl = &self.templates[t];
        Claim {
            template: t,
            requirements: tmpl.t.requirements.clone(),
            options: (0..tmpl.types.len() as u32).collect(),
            requests: Resources::default(),
            ports: Vec::new(),
            hostname: self.topology.fresh_domain(),
            pods: Vec::new(),
            committed: Resources::default(),
        }
    }

    fn check_node(
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
            return Err(Reason::Text(format!(
                "taint {} not tolerated",
                taints::describe(t)
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
    fn check_claim(
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
            return Err(Reason::Text(format!(
                "taint {} not tolerated",
                taints::describe(t)
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
            claim
                .requirements
                .compatible(reqs, true)
                .map_err(|e| Reason::Text(format!("incompatible requirements: {e}")))?;
            Some(claim.requirements.intersection(reqs))
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

        let total = claim.requests.plus(&info.requests).plus(&tmpl.daemon);
        let effective = requirements.as_ref().unwrap_or(&claim.requirements);
        let narrowed = requirements.is_some();
        let headroom = tmpl.remaining.as_ref().map(|r| r.plus(&claim.committed));
        // Options are in price order and, unless this pod narrows the node's
        // requirements, already known to be compatible: the first that fits is
        // the cheapest, so stop there.
        let offerings = OfferingFilter::new(effective);
        let mut cheapest: Option<&Arc<InstanceType>> = None;
        let (mut any_compatible, mut any_fits) = (false, false);
        for &o in &claim.options {
            let it = &tmpl.types[o as usize];
            if narrowed && (it.requirements.intersects(effective).is_err() || !offerings.any(it)) {
                continue;
            }
            any_compatible = true;
            if !total.fits_in(it.allocatable()) {
                continue;
            }
            any_fits = true;
            if headroom.as_ref().is_some_and(|h| !it.capacity.fits_in(h)) {
                continue;
            }
            cheapest = Some(it);
            break;
        }
        match cheapest {
            Some(it) => Ok((
                ClaimUpdate {
                    requirements,
                    committed: it.capacity.clone(),
                },
                pins,
            )),
            None if !claim.pods.is_empty() => Err(Reason::Fixed("planned node is full")),
            None if !any_compatible => Err(Reason::Text(format!(
                "no instance type satisfies {effective}"
            ))),
            None if !any_fits => Err(Reason::Text(self.explain_no_fit(
                claim.template,
                info,
                effective,
            ))),
            None => Err(Reason::Text(format!(
                "limits reached: {} in use of {}",
                tmpl.t.in_use,
                limit_text(tmpl.t)
            ))),
        }
    }

    fn cheapest_price(
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
    fn domain_price(
        &self,
        claim: &Claim,
        requirements: &Requirements,
        key: &str,
        value: &str,
    ) -> f64 {
        let zone_key = key == kerf_api::labels::ZONE;
        if !zone_key && key != kerf_api::labels::CAPACITY_TYPE {
            return 0.0;
        }
        let tmpl = &self.templates[claim.template];
        claim
            .options
            .iter()
            .find_map(|o| {
                tmpl.types[*o as usize]
                    .offerings_for(requirements)
                    .filter(|of| {
                        if zone_key {
                            of.zone == value
                        } else {
                            of.capacity_type == value
                        }
                    })
                    .map(|of| of.price)
                    .min_by(f64::total_cmp)
            })
            .unwrap_or(f64::INFINITY)
    }

    fn explain_no_fit(&self, t: usize, info: &PodInfo, reqs: &Requirements) -> String {
        let tmpl = &self.templates[t];
        let compatible: Vec<&Arc<InstanceType>> = tmpl
            .types
            .iter()
            .filter(|it| {
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
        let need = info.requests.plus(&tmpl.daemon);
        for (name, amount) in need.iter() {
            let largest = compatible
                .iter()
                .max_by_key(|it| it.allocatable().get(name));
            if let Some(largest) = largest.filter(|it| it.allocatable().get(name) < amount) {
                let daemon = tmpl.daemon.get(name);
                let with_daemons = if daemon > 0 {
                    format!(
                        " (including {} for daemonsets)",
                        format_amount(name, daemon)
                    )
                } else {
                    String::new()
                };
                return format!(
                    "no instance type has {} {name}{with_daemons}; largest is {} ({})",
                    format_amount(name, amount),
                    format_amount(name, largest.allocatable().get(name)),
                    largest.name
                );
            }
        }
        format!("no instance type fits {} together", need)
    }

    fn commit_node(&mut self, i: usize, n: usize) {
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
            .record(&member_of, &anti, |k| lookup(&domains, k));
        self.placements.push((i, Slot::Node(n)));
    }

    fn commit_claim(
        &mut self,
        i: usize,
        c: usize,
        update: ClaimUpdate,
        _pins: Vec<(String, DomainId)>,
    ) {
        let info = &self.pending[i].info;
        let before = self.claims[c].pods.len();
        let t = self.claims[c].template;
        let daemon = self.templates[t].daemon.clone();
        {
            let claim = &mut self.claims[c];
            claim.requests.add(&info.requests);
            claim.ports.extend(info.host_ports.iter().cloned());
            claim.pods.push(i);
        }
        let claim = &self.claims[c];
        let total = claim.requests.plus(&daemon);
        let tmpl = &self.templates[t];
        let headroom = tmpl.remaining.as_ref().map(|r| r.plus(&claim.committed));
        let narrowed = update.requirements.is_some();
        if let Some(r) = update.requirements {
            self.claims[c].requirements = r;
        }
        let claim = &self.claims[c];
        let offerings = OfferingFilter::new(&claim.requirements);
        let kept: Vec<u32> = claim
            .options
            .iter()
            .copied()
            .filter(|o| {
                let it = &tmpl.types[*o as usize];
                total.fits_in(it.allocatable())
                    && headroom.as_ref().is_none_or(|h| it.capacity.fits_in(h))
                    && (!narrowed
                        || (it.requirements.intersects(&claim.requirements).is_ok()
                            && offerings.any(it)))
            })
            .collect();
        if let Some(remaining) = self.templates[t].remaining.as_mut() {
            remaining.add(&self.claims[c].committed);
            remaining.sub(&update.committed);
        }
        let claim = &mut self.claims[c];
        claim.options = kept;
        claim.committed = update.committed;
        self.claim_order.remove(&(before, c));
        self.claim_order.insert((before + 1, c));

        let hostname = claim.hostname;
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
        topology.record(&member_of, &anti, |k| lookup(&domains, k));
        self.placements.push((i, Slot::Claim(c)));
    }

    fn finish(mut self) -> Plan {
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
        for (c, claim) in self.claims.iter().enumerate() {
            let tmpl = &self.templates[claim.template];
            let offerings = OfferingFilter::new(&claim.requirements);
            let mut options: Vec<(InstanceOption, &Arc<InstanceType>)> = claim
                .options
                .iter()
                .filter_map(|o| {
                    let it = &tmpl.types[*o as usize];
                    offerings.cheapest(it).map(|of| {
                        let option = InstanceOption {
                            instance_type: it.name.clone(),
                            zone: of.zone.clone(),
                            capacity_type: of.capacity_type.clone(),
                            price: of.price,
                        };
                        (option, it)
                    })
                })
                .collect();
            options.sort_by(|a, b| {
                a.0.price
                    .total_cmp(&b.0.price)
                    .then_with(|| a.0.instance_type.cmp(&b.0.instance_type))
            });
            options.truncate(self.snapshot.options.max_instance_types.max(1));
            let Some((chosen, chosen_type)) = options.first().cloned() else {
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
            // The labels the node will carry once launched: template, decided
            // requirements, the instance type's own, and where it runs.
            let mut labels = tmpl.t.labels.clone();
            labels.extend(claim.requirements.single_valued_labels());
            labels.extend(chosen_type.labels.clone());
            labels.insert(kerf_api::labels::ZONE.to_string(), chosen.zone.clone());
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
                requirements: claim.requirements.clone(),
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
                daemon_requests: tmpl.daemon.clone(),
                allocatable,
            });
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

fn pool_label(t: &NodeTemplate) -> String {
    match t.pool.kind {
        crate::template::PoolKind::Provisioner => kerf_api::labels::PROVISIONER_NAME.to_string(),
        crate::template::PoolKind::NodePool => kerf_api::labels::NODEPOOL.to_string(),
    }
}

fn limit_text(t: &NodeTemplate) -> String {
    let parts: Vec<String> = t
        .limits
        .iter()
        .map(|(k, v)| format!("{k}={}", format_amount(k, *v)))
        .collect();
    format!("{{{}}}", parts.join(", "))
}

fn compile_pod(pod: &Pod, volumes: &VolumeIndex) -> Result<PodInfo, pod::PodError> {
    let volume_reqs = volumes
        .requirements_for(pod)
        .map_err(|(field, message)| pod::PodError {
            pod: pod::PodKey::of(pod),
            field,
            message,
        })?;
    pod::compile(pod, &volume_reqs)
}

fn is_terminal(pod: &Pod) -> bool {
    matches!(
        pod.status.as_ref().and_then(|s| s.phase.as_deref()),
        Some("Succeeded") | Some("Failed")
    )
}

fn node_label<'n>(node: &'n Node, key: &str) -> Option<&'n String> {
    node.labels.get(key)
}

/// The node's domain per topology key (values were interned when the universe was built).
fn node_domains(topology: &Topology, node: &Node) -> Vec<(String, Option<DomainId>)> {
    topology
        .topology_keys()
        .iter()
        .map(|k| {
            let d = node_label(node, k).and_then(|v| topology.domains.get(v));
            (k.clone(), d)
        })
        .collect()
}

fn lookup(domains: &[(String, Option<DomainId>)], key: &str) -> Option<DomainId> {
    domains.iter().find(|(k, _)| k == key).and_then(|(_, d)| *d)
}

/// A template's instance types that can ever serve it, and its daemonset overhead.
fn prepare_template<'a>(t: &'a NodeTemplate, daemons: &[PodInfo]) -> Tmpl<'a> {
    // Cheapest first, so the first type that fits a planned node is (nearly
    // always) the one it will get and checks can stop there.
    let mut priced: Vec<(f64, Arc<InstanceType>)> = t
        .instance_types
        .iter()
        .filter(|it| it.requirements.intersects(&t.requirements).is_ok())
        .filter_map(|it| {
            it.cheapest_offering(&t.requirements)
                .map(|o| (o.price, it.clone()))
        })
        .collect();
    priced.sort_by(|a, b| a.0.total_cmp(&b.0).then_with(|| a.1.name.cmp(&b.1.name)));
    let types: Vec<Arc<InstanceType>> = priced.into_iter().map(|(_, it)| it).collect();
    let mut daemon = Resources::default();
    for d in daemons {
        let tolerated = taints::first_untolerated(&d.tolerations, &t.taints, false).is_none();
        if tolerated
            && t.requirements
                .compatible(&d.node_requirements(), true)
                .is_ok()
        {
            daemon.add(&d.requests);
        }
    }
    let remaining = (!t.limits.is_empty()).then(|| {
        // Resources a limit does not name are unlimited.
        let mut r = Resources {
            cpu: i64::MAX / 4,
            memory: i64::MAX / 4,
            pods: i64::MAX / 4,
            ephemeral_storage: i64::MAX / 4,
            extended: BTreeMap::new(),
        };
        for (name, v) in &t.limits {
            r.set(name, v - t.in_use.get(name));
        }
        r
    });
    Tmpl {
        t,
        types,
        daemon,
        remaining,
    }
}

/// Values a template can launch with for a topology key.
fn template_domains(t: &Tmpl, key: &str) -> BTreeSet<String> {
    let mut out = BTreeSet::new();
    let req = t.t.requirements.get(key);
    for it in &t.types {
        let values: Vec<String> = if key == kerf_api::labels::ZONE {
            it.offerings_for(&t.t.requirements)
                .map(|o| o.zone.clone())
                .collect()
        } else if key == kerf_api::labels::CAPACITY_TYPE {
            it.offerings_for(&t.t.requirements)
                .map(|o| o.capacity_type.clone())
                .collect()
        } else if let Some(v) = it.labels.get(key) {
            vec![v.clone()]
        } else if let Some(r) = req.filter(|r| !r.complement) {
            r.values.iter().cloned().collect()
        } else {
            Vec::new()
        };
        out.extend(values.into_iter().filter(|v| req.is_none_or(|r| r.has(v))));
    }
    out
}

/// A planned node's open choice for a key: the known domains its requirements allow.
fn open_domains(topology: &Topology, requirements: &Requirements, key: &str) -> DomainState {
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
