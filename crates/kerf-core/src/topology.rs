//! Topology: pod affinity, anti-affinity and spread, counted the way
//! kube-scheduler counts them. Pods with the same term share one count group,
//! so checking a candidate node is a few hash lookups however many pods there are.
//!
//! A planned node whose domain for a key is still open (a zone not yet chosen)
//! is pinned to one domain when a pod that a topology group cares about lands on
//! it, so every count is exact and the plan holds when kube-scheduler replays it.

use std::collections::BTreeMap;

use k8s_openapi::api::core::v1::Taint;
use rustc_hash::FxHashMap;

use crate::pod::{AffinityTerm, PodInfo};
use crate::requirements::Requirements;
use crate::selector::NamespaceScope;

pub type DomainId = u32;

/// Hostname placeholder for a node the scheduler is only considering.
const FRESH_NODE: &str = "(new node)";
pub type GroupId = usize;

/// Strings (domain values) to small integers.
#[derive(Default, Debug)]
pub struct Interner {
    ids: FxHashMap<String, DomainId>,
    names: Vec<String>,
}

impl Interner {
    pub fn intern(&mut self, s: &str) -> DomainId {
        if let Some(id) = self.ids.get(s) {
            return *id;
        }
        let id = self.names.len() as DomainId;
        self.names.push(s.to_string());
        self.ids.insert(s.to_string(), id);
        id
    }

    pub fn get(&self, s: &str) -> Option<DomainId> {
        self.ids.get(s).copied()
    }

    pub fn name(&self, id: DomainId) -> &str {
        &self.names[id as usize]
    }
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
}

/// One domain a spread constraint may count: where it comes from decides
/// whether the pod's node affinity and tolerations admit it.
#[derive(Debug, Clone)]
struct UniverseEntry {
    domain: DomainId,
    taints: Vec<Taint>,
}

/// Why a topology check refused a node; rendered by [`Topology::explain`]
/// only when a person will read it, so rejected candidates cost no allocation.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Rejection {
    Spread(GroupId, DomainId),
    Affinity(GroupId, DomainId),
    AntiAffinity(GroupId, DomainId),
    InverseAntiAffinity(GroupId, DomainId),
    MissingLabel(GroupId),
    NoDomain,
}

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
    /// (group, maximum count a target domain may already have)
    spread: Vec<(GroupId, i64)>,
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
            .map(|(g, _)| *g)
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

    /// Adds a domain a spread constraint can count, with the taints of the nodes there.
    pub fn add_domain(&mut self, key: &str, value: &str, taints: &[Taint]) {
        let domain = self.domains.intern(value);
        let entries = self.universe.entry(key.to_string()).or_default();
        if !entries
            .iter()
            .any(|e| e.domain == domain && e.taints == taints)
        {
            entries.push(UniverseEntry {
                domain,
                taints: taints.to_vec(),
            });
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
        node_requirements: &Requirements,
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
            let min = if key == kerf_api::labels::HOSTNAME && self.can_launch {
                0
            } else {
                let mut eligible: Vec<DomainId> = self
                    .universe
                    .get(key)
                    .into_iter()
                    .flatten()
                    .filter(|e| {
                        !s.honor_node_affinity
                            || node_requirements
                                .get(key)
                                .is_none_or(|r| r.has(self.domains.name(e.domain)))
                    })
                    .filter(|e| {
                        !s.honor_taints
                            || crate::taints::first_untolerated(&pod.tolerations, &e.taints, false)
                                .is_none()
                    })
                    .map(|e| e.domain)
                    .collect();
                eligible.sort_unstable();
                eligible.dedup();
                if s.min_domains
                    .is_some_and(|m| (eligible.len() as i64) < i64::from(m))
                {
                    0
                } else {
                    eligible
                        .iter()
                        .map(|d| i64::from(self.count(g, *d)))
                        .min()
                        .unwrap_or(0)
                }
            };
            plan(&mut p, key)
                .spread
                .push((g, i64::from(s.max_skew) + min - self_match));
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
            if let Some((g, _)) = kp.spread.first() {
                kp.crowd = Some(*g);
            }
        }
        p.keys.sort_by(|a, b| a.key.cmp(&b.key));
        p
    }

    fn allowed(&self, kp: &KeyPlan, d: DomainId) -> Result<(), Rejection> {
        for &(g, threshold) in &kp.spread {
            if i64::from(self.count(g, d)) > threshold {
                return Err(Rejection::Spread(g, d));
            }
        }
        for &(g, anywhere) in &kp.affinity {
            if !anywhere && self.count(g, d) == 0 {
                return Err(Rejection::Affinity(g, d));
            }
        }
        for &g in &kp.anti {
            if self.count(g, d) > 0 {
                return Err(Rejection::AntiAffinity(g, d));
            }
        }
        for &g in &kp.inverse {
            if self.anti_owned(g, d) {
                return Err(Rejection::InverseAntiAffinity(g, d));
            }
        }
        Ok(())
    }

    /// Checks a candidate node. `domain_of` tells its domain per key. Returns
    /// the domains to pin open keys to (cheapest per `rank` among the least
    /// crowded), or why the node is not allowed.
    pub fn admit(
        &self,
        p: &Prepared,
        mut domain_of: impl FnMut(&str) -> DomainState,
        rank: impl Fn(&str, DomainId) -> f64,
    ) -> Result<Vec<(String, DomainId)>, Rejection> {
        let mut pins = Vec::new();
        for kp in &p.keys {
            match domain_of(&kp.key) {
                DomainState::Known(d) => self.allowed(kp, d)?,
                DomainState::Missing => {
                    if let Some(g) = kp.constraining() {
                        return Err(Rejection::MissingLabel(g));
                    }
                }
                DomainState::Open(options) => {
                    let mut last_err = None;
                    let allowed: Vec<DomainId> = options
                        .into_iter()
                        .filter(|d| match self.allowed(kp, *d) {
                            Ok(()) => true,
                            Err(e) => {
                                last_err = Some(e);
                                false
                            }
                        })
                        .collect();
                    if allowed.is_empty() {
                        return Err(last_err
                            .or(kp.constraining().map(Rejection::MissingLabel))
                            .unwrap_or(Rejection::NoDomain));
                    }
                    // Least crowded, then cheapest, then by name.
                    let crowd = |d: DomainId| kp.crowd.map_or(0, |g| self.count(g, d));
                    let least = allowed.iter().map(|d| crowd(*d)).min().unwrap_or(0);
                    let mut tied: Vec<DomainId> =
                        allowed.into_iter().filter(|d| crowd(*d) == least).collect();
                    if tied.len() > 1 {
                        let mut ranked: Vec<(f64, DomainId)> =
                            tied.iter().map(|d| (rank(&kp.key, *d), *d)).collect();
                        ranked.sort_by(|a, b| {
                            a.0.total_cmp(&b.0)
                                .then_with(|| self.domains.name(a.1).cmp(self.domains.name(b.1)))
                        });
                        tied = ranked.into_iter().map(|(_, d)| d).collect();
                    }
                    if let Some(best) = tied.first() {
                        pins.push((kp.key.clone(), *best));
                    }
                }
            }
        }
        Ok(pins)
    }

    /// A person's account of a rejection.
    pub fn explain(&self, r: Rejection) -> String {
        let key = |g: GroupId| self.groups[g].term.topology_key.as_str();
        match r {
            Rejection::Spread(g, d) => {
                format!(
                    "topology spread on {} would exceed maxSkew in {}",
                    key(g),
                    self.domains.name(d)
                )
            }
            Rejection::Affinity(g, d) => format!(
                "pod affinity on {}: no matching pod in {}",
                key(g),
                self.domains.name(d)
            ),
            Rejection::AntiAffinity(g, d) => {
                format!(
                    "pod anti-affinity on {}: a matching pod is already in {}",
                    key(g),
                    self.domains.name(d)
                )
            }
            Rejection::InverseAntiAffinity(g, d) => {
                format!(
                    "the anti-affinity of a pod in {} on {} excludes this pod",
                    self.domains.name(d),
                    key(g)
                )
            }
            Rejection::MissingLabel(g) => format!(
                "node has no {} label for the pod's topology constraints",
                key(g)
            ),
            Rejection::NoDomain => "no topology domain is available".into(),
        }
    }

    /// Counts a placed pod in every group it matches and registers its
    /// required anti-affinity terms as owners.
    pub fn record(
        &mut self,
        member_of: &[GroupId],
        anti_terms: &[AffinityTerm],
        mut domain_of: impl FnMut(&str) -> Option<DomainId>,
    ) {
        for &g in member_of {
            if let Some(d) = domain_of(&self.groups[g].term.topology_key) {
                *self.groups[g].counts.entry(d).or_insert(0) += 1;
                self.groups[g].total += 1;
            }
        }
        for t in anti_terms {
            let g = self.register(t);
            if let Some(d) = domain_of(&self.groups[g].term.topology_key) {
                *self.groups[g].anti_owners.entry(d).or_insert(0) += 1;
            }
        }
    }

    /// The namespaces a term looks at, for messages.
    pub fn describe_scope(scope: &NamespaceScope) -> String {
        match scope {
            NamespaceScope::Named(n) => n.iter().cloned().collect::<Vec<_>>().join(","),
            NamespaceScope::Selected { .. } => "selected namespaces".into(),
        }
    }
}
