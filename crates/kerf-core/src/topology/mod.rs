//! Topology: pod affinity, anti-affinity and spread, counted the way
//! kube-scheduler counts them. Pods with the same term share one count group,
//! so checking a candidate node is a few hash lookups however many pods there are.
//!
//! A planned node whose domain for a key is still open (a zone not yet chosen)
//! is pinned to one domain when a pod that a topology group cares about lands on
//! it, so every count is exact and the plan holds when kube-scheduler replays it.

use std::collections::BTreeMap;

use rustc_hash::FxHashMap;

use crate::pod::{AffinityTerm, PodInfo, SpreadConstraint};

mod admit;
mod interner;

pub use interner::{DomainId, Interner};

/// Hostname placeholder for a node the scheduler is only considering.
pub(crate) const FRESH_NODE: &str = "(new node)";
pub type GroupId = usize;

/// A node or planned node, as the solver numbers them: a group remembers how
/// many of its pods each one holds, for spread constraints whose node
/// inclusion policies leave some nodes out.
pub type NodeRef = u32;

/// Whether a node counts for one pod's spread constraint (kube-scheduler's
/// nodeAffinityPolicy / nodeTaintsPolicy). A planned node whose labels are not
/// final yet may be `Maybe`: its pods are left out of the global minimum and
/// counted in its domain, so the check is conservative both ways.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Verdict {
    Yes,
    No,
    Maybe,
}

/// Where a spread domain comes from: the pod's inclusion policies decide
/// whether it counts.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum DomainSource {
    Node(NodeRef),
    Template(usize),
}

/// Which nodes and domains count for one pod's spread constraints; the solver
/// answers from its nodes, planned nodes and templates.
pub trait SpreadScope {
    /// Whether the constraint can leave any node out for this pod; when not,
    /// every domain counts with its whole count (the fast path).
    fn filters(&self, spread: &SpreadConstraint) -> bool;
    fn node(&self, spread: &SpreadConstraint, node: NodeRef) -> Verdict;
    fn template(&self, spread: &SpreadConstraint, template: usize, key: &str, domain: &str)
    -> bool;
}

#[derive(Debug)]
struct Group {
    term: AffinityTerm,
    /// Pods matching the term's selector and namespaces, per domain.
    counts: FxHashMap<DomainId, u32>,
    total: u32,
    /// Pods holding this term as a required anti-affinity, per domain:
    /// matching pods may not join them (kube-scheduler's symmetry rule).
    anti_owners: FxHashMap<DomainId, u32>,
    /// Matching pods per node, with the node's domain for the term's key.
    by_node: FxHashMap<NodeRef, (DomainId, u32)>,
}

/// One domain a spread constraint may count: where it comes from decides
/// whether the pod's node affinity and tolerations admit it.
#[derive(Debug, Clone)]
struct UniverseEntry {
    domain: DomainId,
    source: DomainSource,
}

/// Why a topology check refused a node; rendered by [`Topology::explain`]
/// only when a person will read it, so rejected candidates cost no allocation.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Rejection {
    /// The domain already holds `here` matching pods, more than the
    /// `allowed` that keep it within maxSkew of the least crowded domain.
    Spread {
        group: GroupId,
        domain: DomainId,
        here: u32,
        allowed: i64,
    },
    Affinity(GroupId, DomainId),
    AntiAffinity(GroupId, DomainId),
    InverseAntiAffinity(GroupId, DomainId),
    MissingLabel(GroupId),
    NoDomain,
}

/// Matching pods per domain.
type DomainCounts = FxHashMap<DomainId, u32>;

/// What a candidate node says about its domain for one topology key.
#[derive(Debug, Clone)]
pub enum DomainState {
    Known(DomainId),
    /// Not yet decided; any of these (non-empty list).
    Open(Vec<DomainId>),
    /// The node lacks the label and cannot get it.
    Missing,
}

/// A pod's active topology terms on one key, resolved to groups.
#[derive(Debug, Default)]
struct KeyPlan {
    key: String,
    /// (group, maximum count a target domain may already have, the counts
    /// over the nodes the pod's inclusion policies keep — `None`: all count)
    spread: Vec<(GroupId, i64, Option<DomainCounts>)>,
    affinity: Vec<(GroupId, bool)>,
    anti: Vec<GroupId>,
    inverse: Vec<GroupId>,
    /// The group whose counts decide which open domain is least crowded.
    crowd: Option<GroupId>,
}

impl KeyPlan {
    /// The first group that constrains where the pod may go on this key.
    fn constraining(&self) -> Option<GroupId> {
        self.spread
            .first()
            .map(|(g, ..)| *g)
            .or(self.affinity.first().map(|(g, _)| *g))
            .or(self.anti.first().copied())
            .or(self.inverse.first().copied())
    }
}

/// A pod's active topology terms grouped by key, with spread thresholds
/// computed once per scheduling attempt.
#[derive(Debug, Default)]
pub struct Prepared {
    keys: Vec<KeyPlan>,
}

impl Prepared {
    pub fn is_empty(&self) -> bool {
        self.keys.is_empty()
    }
}

#[derive(Debug, Default)]
pub struct Topology {
    pub domains: Interner,
    groups: Vec<Group>,
    index: FxHashMap<AffinityTerm, GroupId>,
    universe: FxHashMap<String, Vec<UniverseEntry>>,
    namespaces: BTreeMap<String, BTreeMap<String, String>>,
    /// Whether new nodes can be launched (then a fresh hostname with zero pods always exists).
    can_launch: bool,
    keys: Vec<String>,
}

impl Topology {
    pub fn new(namespaces: BTreeMap<String, BTreeMap<String, String>>, can_launch: bool) -> Self {
        let mut t = Topology {
            namespaces,
            can_launch,
            ..Default::default()
        };
        t.domains.intern(FRESH_NODE);
        t
    }

    /// The hostname domain of a node not yet planned: no pod is ever counted there.
    pub fn fresh_domain(&self) -> DomainId {
        self.domains.get(FRESH_NODE).unwrap_or(0)
    }

    /// Registers a term and returns its group.
    pub fn register(&mut self, term: &AffinityTerm) -> GroupId {
        if let Some(id) = self.index.get(term) {
            return *id;
        }
        let id = self.groups.len();
        if !self.keys.contains(&term.topology_key) {
            self.keys.push(term.topology_key.clone());
            self.keys.sort();
        }
        self.groups.push(Group {
            term: term.clone(),
            counts: FxHashMap::default(),
            total: 0,
            anti_owners: FxHashMap::default(),
            by_node: FxHashMap::default(),
        });
        self.index.insert(term.clone(), id);
        id
    }

    /// Registers every term a pod can ever have active.
    pub fn register_pod(&mut self, pod: &PodInfo) {
        for s in &pod.spread {
            self.register(&s.term);
        }
        for t in pod.affinity.iter().chain(&pod.anti_affinity) {
            self.register(t);
        }
        for (_, t) in pod
            .preferred_affinity
            .iter()
            .chain(&pod.preferred_anti_affinity)
        {
            self.register(t);
        }
    }

    /// Every topology key a registered term uses, sorted.
    pub fn topology_keys(&self) -> &[String] {
        &self.keys
    }

    /// Adds a domain a spread constraint can count, and where it comes from.
    pub fn add_domain(&mut self, key: &str, value: &str, source: DomainSource) {
        let domain = self.domains.intern(value);
        let entries = self.universe.entry(key.to_string()).or_default();
        if !entries
            .iter()
            .any(|e| e.domain == domain && e.source == source)
        {
            entries.push(UniverseEntry { domain, source });
        }
    }

    /// Known domains for a key, for opening a planned node's choice.
    pub fn domains_of(&self, key: &str) -> Vec<DomainId> {
        let mut out: Vec<DomainId> = self
            .universe
            .get(key)
            .into_iter()
            .flatten()
            .map(|e| e.domain)
            .collect();
        out.sort_unstable();
        out.dedup();
        out
    }

    /// Groups whose selector and namespaces match the pod.
    pub fn member_of(&self, namespace: &str, labels: &BTreeMap<String, String>) -> Vec<GroupId> {
        self.groups
            .iter()
            .enumerate()
            .filter(|(_, g)| {
                g.term.scope.contains(namespace, &self.namespaces)
                    && g.term.selector.matches(labels)
            })
            .map(|(i, _)| i)
            .collect()
    }

    /// The topology key a group counts by.
    pub fn group_key(&self, g: GroupId) -> &str {
        &self.groups[g].term.topology_key
    }

    fn count(&self, g: GroupId, d: DomainId) -> u32 {
        self.groups[g].counts.get(&d).copied().unwrap_or(0)
    }

    fn anti_owned(&self, g: GroupId, d: DomainId) -> bool {
        self.groups[g].anti_owners.get(&d).is_some_and(|c| *c > 0)
    }

    /// Resolves a pod's active terms and the spread thresholds for this attempt.
    pub fn prepare(
        &self,
        pod: &PodInfo,
        member_of: &[GroupId],
        scope: &dyn SpreadScope,
    ) -> Prepared {
        let mut p = Prepared::default();
        fn plan<'p>(p: &'p mut Prepared, key: &str) -> &'p mut KeyPlan {
            let i = match p.keys.iter().position(|k| k.key == key) {
                Some(i) => i,
                None => {
                    p.keys.push(KeyPlan {
                        key: key.to_string(),
                        ..Default::default()
                    });
                    p.keys.len() - 1
                }
            };
            &mut p.keys[i]
        }
        for s in pod.active_spread() {
            let Some(&g) = self.index.get(&s.term) else {
                continue;
            };
            let key = &s.term.topology_key;
            let self_match = i64::from(member_of.contains(&g));
            let (min, counts) = self.spread_minimum(s, g, scope);
            plan(&mut p, key)
                .spread
                .push((g, i64::from(s.max_skew) + min - self_match, counts));
        }
        for t in pod.active_affinity() {
            let Some(&g) = self.index.get(t) else {
                continue;
            };
            // kube-scheduler: a pod whose affinity matches no pod anywhere may
            // still go anywhere if it matches its own term (the first of a group).
            let anywhere = self.groups[g].total == 0 && member_of.contains(&g);
            plan(&mut p, &t.topology_key).affinity.push((g, anywhere));
        }
        for t in pod.active_anti_affinity() {
            if let Some(&g) = self.index.get(t) {
                plan(&mut p, &t.topology_key).anti.push(g);
            }
        }
        for &g in member_of {
            let key = &self.groups[g].term.topology_key;
            let kp = plan(&mut p, key);
            if !self.groups[g].anti_owners.is_empty() {
                kp.inverse.push(g);
            }
            if kp.crowd.is_none() {
                kp.crowd = Some(g);
            }
        }
        for kp in &mut p.keys {
            if let Some((g, ..)) = kp.spread.first() {
                kp.crowd = Some(*g);
            }
        }
        p.keys.sort_by(|a, b| a.key.cmp(&b.key));
        p
    }

    /// The global minimum a spread constraint measures skew against, and —
    /// when the pod's inclusion policies leave nodes out — the per-domain
    /// counts over the nodes that may count (upper bounds, for the target).
    fn spread_minimum(
        &self,
        s: &SpreadConstraint,
        g: GroupId,
        scope: &dyn SpreadScope,
    ) -> (i64, Option<FxHashMap<DomainId, u32>>) {
        let key = &s.term.topology_key;
        let filters = scope.filters(s);
        // Lower bounds (certain nodes only) for the minimum; upper bounds
        // (uncertain planned nodes too) for the domain a pod would join.
        let (lower, upper) = if filters {
            let mut lower: FxHashMap<DomainId, u32> = FxHashMap::default();
            let mut upper: FxHashMap<DomainId, u32> = FxHashMap::default();
            for (node, (d, n)) in &self.groups[g].by_node {
                match scope.node(s, *node) {
                    Verdict::Yes => {
                        *lower.entry(*d).or_insert(0) += n;
                        *upper.entry(*d).or_insert(0) += n;
                    }
                    Verdict::Maybe => *upper.entry(*d).or_insert(0) += n,
                    Verdict::No => {}
                }
            }
            (Some(lower), Some(upper))
        } else {
            (None, None)
        };
        if key == kerf_api::labels::HOSTNAME && self.can_launch {
            return (0, upper);
        }
        let mut eligible: Vec<DomainId> = self
            .universe
            .get(key)
            .into_iter()
            .flatten()
            .filter(|e| {
                !filters
                    || match e.source {
                        DomainSource::Node(n) => scope.node(s, n) == Verdict::Yes,
                        DomainSource::Template(t) => {
                            scope.template(s, t, key, self.domains.name(e.domain))
                        }
                    }
            })
            .map(|e| e.domain)
            .collect();
        eligible.sort_unstable();
        eligible.dedup();
        if s.min_domains
            .is_some_and(|m| (eligible.len() as i64) < i64::from(m))
        {
            return (0, upper);
        }
        let count = |d: DomainId| match &lower {
            Some(l) => l.get(&d).copied().unwrap_or(0),
            None => self.count(g, d),
        };
        let min = eligible
            .iter()
            .map(|d| i64::from(count(*d)))
            .min()
            .unwrap_or(0);
        (min, upper)
    }

    /// Counts a placed pod in every group it matches and registers its
    /// required anti-affinity terms as owners.
    pub fn record(
        &mut self,
        member_of: &[GroupId],
        anti_terms: &[AffinityTerm],
        node: NodeRef,
        mut domain_of: impl FnMut(&str) -> Option<DomainId>,
    ) {
        for &g in member_of {
            if let Some(d) = domain_of(&self.groups[g].term.topology_key) {
                let group = &mut self.groups[g];
                *group.counts.entry(d).or_insert(0) += 1;
                group.total += 1;
                group.by_node.entry(node).or_insert((d, 0)).1 += 1;
            }
        }
        for t in anti_terms {
            let g = self.register(t);
            if let Some(d) = domain_of(&self.groups[g].term.topology_key) {
                *self.groups[g].anti_owners.entry(d).or_insert(0) += 1;
            }
        }
    }
}
