//! Pods compiled for scheduling: requests computed as Kubernetes computes them,
//! node requirements, tolerations, host ports, and pod (anti-)affinity and
//! topology spread terms in a form the scheduler can match cheaply. Compiling
//! fails with the field that is wrong, never silently.

use std::collections::BTreeMap;
use std::fmt;

use k8s_openapi::api::core::v1::{Pod, PodAffinityTerm, Toleration};
use serde::{Deserialize, Serialize};

use crate::requirements::Requirements;
use crate::resources::Resources;
use crate::selector::{NamespaceScope, Selector};

mod requests;
mod terms;
#[cfg(test)]
mod tests;

pub use requests::pod_requests;
use terms::{affinity_term, spread_constraint, term_requirements};

/// `namespace/name`, the identity plans and reasons use.
#[derive(Clone, Debug, PartialEq, Eq, PartialOrd, Ord, Hash, Serialize, Deserialize)]
pub struct PodKey {
    pub namespace: String,
    pub name: String,
}

impl fmt::Display for PodKey {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(f, "{}/{}", self.namespace, self.name)
    }
}

impl PodKey {
    pub fn of(pod: &Pod) -> Self {
        PodKey {
            namespace: pod
                .metadata
                .namespace
                .clone()
                .unwrap_or_else(|| "default".to_string()),
            name: pod.metadata.name.clone().unwrap_or_default(),
        }
    }
}

/// A host port a container binds: conflicts when port and protocol match and
/// either address is the wildcard or both are equal.
#[derive(Clone, Debug, PartialEq, Eq, PartialOrd, Ord, Hash, Serialize, Deserialize)]
pub struct HostPort {
    pub ip: String,
    pub port: i32,
    pub protocol: String,
}

impl HostPort {
    pub fn conflicts(&self, other: &HostPort) -> bool {
        self.port == other.port
            && self.protocol == other.protocol
            && (self.ip == other.ip || self.ip == "0.0.0.0" || other.ip == "0.0.0.0")
    }
}

impl fmt::Display for HostPort {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(f, "{}:{}/{}", self.ip, self.port, self.protocol)
    }
}

/// A pod (anti-)affinity term: pods matching `selector` in `scope`, within one
/// `topology_key` domain.
#[derive(Clone, Debug, PartialEq, Eq, Hash, PartialOrd, Ord, Serialize, Deserialize)]
pub struct AffinityTerm {
    pub topology_key: String,
    pub scope: NamespaceScope,
    pub selector: Selector,
}

#[derive(Clone, Copy, Debug, PartialEq, Eq, Serialize, Deserialize)]
pub enum WhenUnsatisfiable {
    DoNotSchedule,
    ScheduleAnyway,
}

/// A topology spread constraint, with matchLabelKeys already folded into the selector.
#[derive(Clone, Debug, PartialEq, Eq, Serialize, Deserialize)]
pub struct SpreadConstraint {
    pub term: AffinityTerm,
    pub max_skew: i32,
    pub min_domains: Option<i32>,
    pub when_unsatisfiable: WhenUnsatisfiable,
    /// nodeAffinityPolicy: Honor (default) counts only domains the pod's node affinity allows.
    pub honor_node_affinity: bool,
    /// nodeTaintsPolicy: Honor counts only domains whose nodes the pod tolerates (default Ignore).
    pub honor_taints: bool,
}

/// A pod as the scheduler sees it. Preferences are stored next to hard
/// constraints; [`PodInfo::relax`] drops them one at a time.
#[derive(Clone, Debug, Serialize, Deserialize)]
pub struct PodInfo {
    pub key: PodKey,
    pub uid: String,
    pub labels: BTreeMap<String, String>,
    pub requests: Resources,
    pub priority: i32,
    pub creation: String,
    /// nodeSelector ∧ one required node-affinity term per entry (the terms
    /// are ORed; the first one is active).
    pub required_terms: Vec<Requirements>,
    /// What the pod's volumes require, as alternatives (ORed, see
    /// [`crate::volumes`]); empty when they require nothing. Entry
    /// `volume_choice` is in force; [`PodInfo::relax`] tries each in turn,
    /// and again after every relaxed preference.
    #[serde(default)]
    pub volume_terms: Vec<Requirements>,
    #[serde(default)]
    pub volume_choice: usize,
    /// Preferred node affinity terms, heaviest first.
    pub preferred_terms: Vec<(i32, Requirements)>,
    /// nodeSelector ∧ each required node-affinity term (ORed), without volume
    /// topology or preferences and never relaxed: the nodes a spread
    /// constraint with nodeAffinityPolicy Honor counts (kube-scheduler's
    /// `GetRequiredNodeAffinity`). One empty entry when the pod has neither.
    #[serde(default)]
    pub spread_affinity: Vec<Requirements>,
    pub tolerations: Vec<Toleration>,
    /// Whether PreferNoSchedule taints may be ignored (set by relaxation).
    pub tolerate_prefer_no_schedule: bool,
    pub host_ports: Vec<HostPort>,
    pub spread: Vec<SpreadConstraint>,
    pub affinity: Vec<AffinityTerm>,
    pub anti_affinity: Vec<AffinityTerm>,
    /// Preferred pod affinity / anti-affinity, heaviest first.
    pub preferred_affinity: Vec<(i32, AffinityTerm)>,
    pub preferred_anti_affinity: Vec<(i32, AffinityTerm)>,
    /// Daemonset and mirror pods are never provisioned for.
    pub is_daemon: bool,
    /// A pod its ReplicaSet has yet to create (annotation
    /// [`kerf_api::labels::EXPECTED_REPLICA`]): planned for after every pod
    /// that exists, so it never takes capacity or limits from one.
    #[serde(default)]
    pub expected: bool,
}

/// A pod spec kerf cannot use, with the field path.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
#[error("pod {pod}: {field}: {message}")]
pub struct PodError {
    pub pod: PodKey,
    pub field: String,
    pub message: String,
}

impl PodInfo {
    /// The node requirements currently in force: the active required term,
    /// the volume alternative being tried, and the heaviest preferred term not
    /// yet relaxed.
    pub fn node_requirements(&self) -> Requirements {
        let mut reqs = self.required_terms.first().cloned().unwrap_or_default();
        if let Some(volume) = self.volume_terms.get(self.volume_choice) {
            reqs.add_all(volume);
        }
        if let Some((_, preferred)) = self.preferred_terms.first() {
            reqs.add_all(preferred);
        }
        reqs
    }

    /// [`PodInfo::node_requirements`] with each volume topology alternative
    /// in turn, in order; empty when the volumes leave no choice (then
    /// `node_requirements` is the only one). Karpenter tries every
    /// alternative on each node it already has.
    pub fn node_requirements_per_volume_alternative(&self) -> Vec<Requirements> {
        if self.volume_terms.len() <= 1 {
            return Vec::new();
        }
        let mut base = self.required_terms.first().cloned().unwrap_or_default();
        if let Some((_, preferred)) = self.preferred_terms.first() {
            base.add_all(preferred);
        }
        self.volume_terms
            .iter()
            .map(|volume| {
                let mut reqs = base.clone();
                reqs.add_all(volume);
                reqs
            })
            .collect()
    }

    /// Spread constraints currently in force (ScheduleAnyway ones are hard until relaxed).
    pub fn active_spread(&self) -> impl Iterator<Item = &SpreadConstraint> {
        self.spread.iter()
    }

    /// Affinity and anti-affinity terms currently in force, required and preferred.
    pub fn active_affinity(&self) -> impl Iterator<Item = &AffinityTerm> {
        self.affinity
            .iter()
            .chain(self.preferred_affinity.iter().map(|(_, t)| t))
    }

    pub fn active_anti_affinity(&self) -> impl Iterator<Item = &AffinityTerm> {
        self.anti_affinity
            .iter()
            .chain(self.preferred_anti_affinity.iter().map(|(_, t)| t))
    }

    /// Moves to the next volume topology alternative or, when every one has
    /// been tried, drops one preference (in Karpenter's order) and starts over
    /// at the first alternative; says which. `None` when nothing is left to
    /// try. Nodes that exist or are planned are offered every alternative at
    /// once ([`PodInfo::node_requirements_per_volume_alternative`]); the walk
    /// decides a new node's (docs/differences.md).
    pub fn relax(&mut self) -> Option<String> {
        if self.volume_choice + 1 < self.volume_terms.len() {
            self.volume_choice += 1;
            return Some(format!(
                "tried volume topology alternative {} of {}",
                self.volume_choice + 1,
                self.volume_terms.len()
            ));
        }
        let relaxed = self.relax_preference()?;
        self.volume_choice = 0;
        Some(relaxed)
    }

    fn relax_preference(&mut self) -> Option<String> {
        if self.required_terms.len() > 1 {
            self.required_terms.remove(0);
            return Some("tried the next required node affinity term".into());
        }
        if !self.preferred_affinity.is_empty() {
            let (w, _) = self.preferred_affinity.remove(0);
            return Some(format!("dropped preferred pod affinity (weight {w})"));
        }
        if !self.preferred_anti_affinity.is_empty() {
            let (w, _) = self.preferred_anti_affinity.remove(0);
            return Some(format!("dropped preferred pod anti-affinity (weight {w})"));
        }
        if !self.preferred_terms.is_empty() {
            let (w, _) = self.preferred_terms.remove(0);
            return Some(format!("dropped preferred node affinity (weight {w})"));
        }
        if let Some(i) = self
            .spread
            .iter()
            .position(|s| s.when_unsatisfiable == WhenUnsatisfiable::ScheduleAnyway)
        {
            let s = self.spread.remove(i);
            return Some(format!(
                "dropped ScheduleAnyway topology spread on {}",
                s.term.topology_key
            ));
        }
        if !self.tolerate_prefer_no_schedule {
            self.tolerate_prefer_no_schedule = true;
            return Some("tolerated PreferNoSchedule taints".into());
        }
        None
    }

    /// Drops every preference at once (`--preference-policy Ignore`).
    pub fn ignore_preferences(&mut self) {
        self.required_terms.truncate(1);
        self.preferred_terms.clear();
        self.preferred_affinity.clear();
        self.preferred_anti_affinity.clear();
        self.spread
            .retain(|s| s.when_unsatisfiable == WhenUnsatisfiable::DoNotSchedule);
        self.tolerate_prefer_no_schedule = true;
    }
}

/// Compiles a pod whose volumes require `volume_requirements` (see `volumes`).
pub fn compile(pod: &Pod, volume_requirements: &Requirements) -> Result<PodInfo, PodError> {
    compile_with_volumes(pod, std::slice::from_ref(volume_requirements))
}

/// Compiles a pod whose volumes require any one of `volume_alternatives`
/// ([`crate::volumes::VolumeIndex::requirements_for`]).
pub fn compile_with_volumes(
    pod: &Pod,
    volume_alternatives: &[Requirements],
) -> Result<PodInfo, PodError> {
    let key = PodKey::of(pod);
    let err = |field: &str, message: String| PodError {
        pod: key.clone(),
        field: field.to_string(),
        message,
    };
    let spec = pod
        .spec
        .as_ref()
        .ok_or_else(|| err("spec", "missing".into()))?;
    let namespace = key.namespace.clone();
    let labels = pod.metadata.labels.clone().unwrap_or_default();

    let requests = pod_requests(pod).map_err(|(field, message)| err(&field, message))?;

    let mut selector = Requirements::new();
    for (k, v) in spec.node_selector.iter().flatten() {
        selector.add(crate::requirements::Requirement::in_values(
            kerf_api::labels::normalize_label_key(k),
            [v.clone()],
        ));
    }
    let base = selector.clone();

    let affinity = spec.affinity.as_ref();
    let node_affinity = affinity.and_then(|a| a.node_affinity.as_ref());
    let mut required_terms = Vec::new();
    let mut spread_affinity = Vec::new();
    if let Some(terms) = node_affinity
        .and_then(|na| {
            na.required_during_scheduling_ignored_during_execution
                .as_ref()
        })
        .map(|ns| &ns.node_selector_terms)
    {
        for (i, term) in terms.iter().enumerate() {
            // kube-scheduler: an empty term matches no node, so it adds no alternative.
            let empty = term.match_expressions.as_ref().is_none_or(Vec::is_empty)
                && term.match_fields.as_ref().is_none_or(Vec::is_empty);
            if empty {
                continue;
            }
            let field = format!(
                "spec.affinity.nodeAffinity.requiredDuringSchedulingIgnoredDuringExecution.nodeSelectorTerms[{i}]"
            );
            let mut reqs = term_requirements(term).map_err(|m| err(&field, m.to_string()))?;
            reqs.add_all(&selector);
            spread_affinity.push(reqs.clone());
            required_terms.push(reqs);
        }
        if required_terms.is_empty() {
            return Err(err(
                "spec.affinity.nodeAffinity.requiredDuringSchedulingIgnoredDuringExecution.nodeSelectorTerms",
                "no term has a matchExpressions or matchFields entry, so no node matches".into(),
            ));
        }
    }
    if required_terms.is_empty() {
        required_terms.push(base);
        spread_affinity.push(selector);
    }

    let mut preferred_terms = Vec::new();
    for (i, p) in node_affinity
        .and_then(|na| {
            na.preferred_during_scheduling_ignored_during_execution
                .as_ref()
        })
        .into_iter()
        .flatten()
        .enumerate()
    {
        let field = format!(
            "spec.affinity.nodeAffinity.preferredDuringSchedulingIgnoredDuringExecution[{i}]"
        );
        preferred_terms.push((
            p.weight,
            term_requirements(&p.preference).map_err(|m| err(&field, m.to_string()))?,
        ));
    }
    preferred_terms.sort_by_key(|t| std::cmp::Reverse(t.0));

    let pod_affinity = affinity.and_then(|a| a.pod_affinity.as_ref());
    let pod_anti = affinity.and_then(|a| a.pod_anti_affinity.as_ref());
    let compile_terms = |terms: Option<&Vec<PodAffinityTerm>>,
                         field: &str|
     -> Result<Vec<AffinityTerm>, PodError> {
        terms
            .into_iter()
            .flatten()
            .enumerate()
            .map(|(i, t)| {
                affinity_term(t, &namespace, &labels)
                    .map_err(|m| err(&format!("{field}[{i}]"), m.to_string()))
            })
            .collect()
    };
    let compile_weighted =
        |terms: Option<&Vec<k8s_openapi::api::core::v1::WeightedPodAffinityTerm>>,
         field: &str|
         -> Result<Vec<(i32, AffinityTerm)>, PodError> {
            let mut out = terms
                .into_iter()
                .flatten()
                .enumerate()
                .map(|(i, w)| {
                    affinity_term(&w.pod_affinity_term, &namespace, &labels)
                        .map(|t| (w.weight, t))
                        .map_err(|m| err(&format!("{field}[{i}].podAffinityTerm"), m.to_string()))
                })
                .collect::<Result<Vec<_>, _>>()?;
            out.sort_by_key(|t| std::cmp::Reverse(t.0));
            Ok(out)
        };

    let spread = spec
        .topology_spread_constraints
        .iter()
        .flatten()
        .enumerate()
        .map(|(i, c)| {
            spread_constraint(c, &namespace, &labels).map_err(|m| {
                err(
                    &format!("spec.topologySpreadConstraints[{i}]"),
                    m.to_string(),
                )
            })
        })
        .collect::<Result<Vec<_>, _>>()?;

    let mut host_ports = Vec::new();
    for c in &spec.containers {
        for p in c.ports.iter().flatten() {
            if let Some(port) = p.host_port.filter(|p| *p > 0) {
                host_ports.push(HostPort {
                    ip: p
                        .host_ip
                        .clone()
                        .filter(|ip| !ip.is_empty())
                        .unwrap_or_else(|| "0.0.0.0".into()),
                    port,
                    protocol: p.protocol.clone().unwrap_or_else(|| "TCP".into()),
                });
            }
        }
    }

    let owner_kind = pod
        .metadata
        .owner_references
        .iter()
        .flatten()
        .find(|o| o.controller == Some(true))
        .map(|o| o.kind.as_str());
    let is_mirror = pod
        .metadata
        .annotations
        .iter()
        .flatten()
        .any(|(k, _)| k == "kubernetes.io/config.mirror");

    Ok(PodInfo {
        uid: pod.metadata.uid.clone().unwrap_or_default(),
        creation: pod
            .metadata
            .creation_timestamp
            .as_ref()
            .map(|t| t.0.to_string())
            .unwrap_or_default(),
        priority: spec.priority.unwrap_or(0),
        required_terms,
        volume_terms: if volume_alternatives.iter().all(Requirements::is_empty) {
            Vec::new()
        } else {
            volume_alternatives.to_vec()
        },
        volume_choice: 0,
        preferred_terms,
        spread_affinity,
        tolerations: spec.tolerations.clone().unwrap_or_default(),
        tolerate_prefer_no_schedule: false,
        host_ports,
        spread,
        affinity: compile_terms(
            pod_affinity.and_then(|a| {
                a.required_during_scheduling_ignored_during_execution
                    .as_ref()
            }),
            "spec.affinity.podAffinity.requiredDuringSchedulingIgnoredDuringExecution",
        )?,
        anti_affinity: compile_terms(
            pod_anti.and_then(|a| {
                a.required_during_scheduling_ignored_during_execution
                    .as_ref()
            }),
            "spec.affinity.podAntiAffinity.requiredDuringSchedulingIgnoredDuringExecution",
        )?,
        preferred_affinity: compile_weighted(
            pod_affinity.and_then(|a| {
                a.preferred_during_scheduling_ignored_during_execution
                    .as_ref()
            }),
            "spec.affinity.podAffinity.preferredDuringSchedulingIgnoredDuringExecution",
        )?,
        preferred_anti_affinity: compile_weighted(
            pod_anti.and_then(|a| {
                a.preferred_during_scheduling_ignored_during_execution
                    .as_ref()
            }),
            "spec.affinity.podAntiAffinity.preferredDuringSchedulingIgnoredDuringExecution",
        )?,
        is_daemon: owner_kind == Some("DaemonSet") || is_mirror,
        expected: pod
            .metadata
            .annotations
            .as_ref()
            .is_some_and(|a| a.contains_key(kerf_api::labels::EXPECTED_REPLICA)),
        key,
        labels,
        requests,
    })
}
