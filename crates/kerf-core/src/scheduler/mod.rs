//! The packer: places pending pods onto existing nodes, then onto nodes it has
//! already planned, then onto new nodes from templates in weight order — the
//! order Karpenter uses — and chooses the cheapest offering for each new node.
//! Pure and deterministic: equal snapshots give equal plans.
//!
//! `setup` turns the snapshot into solver state, `check` asks whether a pod
//! fits a node or planned node, `commit` records a placement, `repack` packs
//! planned nodes again for price, `finish` names planned nodes and writes the plan.

use std::collections::{BTreeMap, BTreeSet, VecDeque};
use std::sync::Arc;

use k8s_openapi::api::core::v1::{Pod, Taint};

use crate::daemons::{self, Daemon};
use crate::instance_type::InstanceType;
use crate::plan::{
    ExistingPlacement, InstanceOption, Placement, Plan, PlannedNode, Target, Unschedulable,
};
use crate::pod::{self, HostPort, PodInfo};
use crate::requirements::{Requirement, Requirements};
use crate::resources::{MILLI, Resources, format_amount};
use crate::snapshot::{MinValuesPolicy, PreferencePolicy, Snapshot};
use crate::taints;
use crate::template::{NODE_LIMIT, NodeTemplate};
use crate::topology::{
    DomainId, DomainSource, DomainState, GroupId, NodeRef, Prepared, Rejection, Topology,
};
use crate::volumes::VolumeIndex;

pub(crate) mod check;
mod commit;
pub(crate) mod daemon_load;
mod finish;
mod min_values;
mod offers;
mod queue;
mod repack;
mod scope;
mod setup;

pub(crate) use check::labelled_on_launch;
pub(crate) use finish::limit_text;
pub(crate) use setup::{compile_pod, is_terminal, limit_headroom};

const UNSCHEDULABLE_TAINT: &str = "node.kubernetes.io/unschedulable";

/// Why a node refused a pod. Rendered to text only when a person will read it.
enum Reason {
    Fixed(&'static str),
    Topology(Rejection),
    Text(String),
}

/// Why a pod fits nowhere this round: one reason per template tried, or
/// why no template could be (the text of `Unschedulable::reason`).
#[derive(Debug, thiserror::Error)]
#[error("{}", .0.join("; "))]
struct Unplaced(Vec<String>);

/// A template prepared for packing.
struct Tmpl<'a> {
    t: &'a NodeTemplate,
    /// Instance types compatible with the template, with an allowed offering.
    types: Vec<Arc<InstanceType>>,
    /// What the daemonsets take on each of `types`.
    daemons: daemon_load::DaemonLoads,
    /// Limit left for new nodes, if the template limits any resource.
    remaining: Option<Resources>,
    /// The pool's nodes that exist or are in flight (for `limits.nodes`).
    nodes_in_use: i64,
    /// How many more nodes `limits.nodes` lets the pool launch, if it is set.
    nodes_left: Option<i64>,
    /// `types`' offerings, interned for fast filtering.
    offers: offers::OfferIndex,
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
    /// A pod's placement lowered a minValues (policy BestEffort).
    min_values_relaxed: bool,
}

/// The changes a successful check would make to a claim.
struct ClaimUpdate {
    requirements: Option<Requirements>,
    /// The new requirements only pin zone or capacity type (no pod node
    /// requirements): offerings decide compatibility, labels need no check.
    pins_only: bool,
    committed: Resources,
    /// `requirements` lower a minValues to what the options hold.
    min_values_relaxed: bool,
}

/// Open topology keys a check decided for a planned node: key → domain.
type Pins = Vec<(String, DomainId)>;

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
    fn run(mut self) -> Plan {
        let infos: Vec<&PodInfo> = self.pending.iter().map(|p| &p.info).collect();
        let mut queue: VecDeque<usize> = queue::packing_order(&infos).into();
        let mut failures: BTreeMap<usize, Unplaced> = BTreeMap::new();
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
                reason: reason.to_string(),
            });
        }
        self.repack();
        self.finish()
    }

    fn place(&mut self, i: usize) -> Result<(), Unplaced> {
        let reqs = self.pending[i].info.node_requirements();
        let scope = scope::PodScope {
            solver: self,
            info: &self.pending[i].info,
        };
        let prepared =
            self.topology
                .prepare(&self.pending[i].info, &self.pending[i].member_of, &scope);
        let info = &self.pending[i].info;
        // Nodes that exist or are planned take the pod under any of its
        // volume topology alternatives, as Karpenter tries each per node; a
        // fresh node takes the one relaxation has reached.
        let per_volume = info.node_requirements_per_volume_alternative();
        let on_hosts: &[Requirements] = if per_volume.is_empty() {
            std::slice::from_ref(&reqs)
        } else {
            &per_volume
        };

        let hosts = self.nodes.len() + self.claims.len();
        let crowded = self.topology.every_host_taken(&prepared, hosts);
        for n in (0..self.nodes.len()).filter(|_| !crowded) {
            if on_hosts
                .iter()
                .any(|r| self.check_node(info, r, &prepared, n).is_ok())
            {
                self.commit_node(i, n);
                return Ok(());
            }
        }

        let mut found = None;
        for &(_, c) in self.claim_order.iter().filter(|_| !crowded) {
            if !self
                .topology
                .admits_host(&prepared, self.claims[c].hostname)
            {
                continue;
            }
            if let Some((update, pins)) = on_hosts
                .iter()
                .find_map(|r| self.check_claim(info, r, &prepared, &self.claims[c]).ok())
            {
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
        let mut best: Option<(f64, Claim, ClaimUpdate, Pins)> = None;
        for t in 0..self.templates.len() {
            let weight = self.templates[t].t.weight;
            if best.is_some() && tier != Some(weight) {
                break;
            }
            if let Some(full) = self.node_limit_reached(t) {
                reasons.push(format!("{}: {full}", self.templates[t].t.pool));
                continue;
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
            if let Some(left) = self.templates[claim.template].nodes_left.as_mut() {
                *left -= 1;
            }
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
        Err(Unplaced(reasons))
    }

    fn render(&self, reason: Reason) -> String {
        match reason {
            Reason::Fixed(s) => s.to_string(),
            Reason::Topology(r) => self.topology.explain(r),
            Reason::Text(s) => s,
        }
    }

    /// Why the template may launch no more nodes under `limits.nodes`, if so.
    fn node_limit_reached(&self, t: usize) -> Option<String> {
        let tmpl = &self.templates[t];
        if tmpl.nodes_left.is_none_or(|left| left > 0) {
            return None;
        }
        let limit = tmpl.t.limits.get(NODE_LIMIT).copied().unwrap_or(0);
        let planned = self.claims.iter().filter(|c| c.template == t).count();
        Some(crate::words::node_limit(
            &tmpl.t.pool.limit_path(NODE_LIMIT),
            &format_amount(NODE_LIMIT, limit),
            tmpl.nodes_in_use,
            planned,
        ))
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
            min_values_relaxed: false,
        }
    }
}
