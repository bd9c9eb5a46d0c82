//! Pod (anti-)affinity terms, topology spread constraints and node selector
//! terms compiled from the API objects, each error naming its field.

use std::collections::{BTreeMap, BTreeSet};

use k8s_openapi::api::core::v1::{NodeSelectorTerm, PodAffinityTerm, TopologySpreadConstraint};

use super::{AffinityTerm, SpreadConstraint, WhenUnsatisfiable};
use crate::field::FieldError;
use crate::requirements::Requirements;
use crate::selector::{NamespaceScope, Selector};

pub(super) fn term_requirements(term: &NodeSelectorTerm) -> Result<Requirements, FieldError> {
    let mut out = Requirements::new();
    for (i, e) in term.match_expressions.iter().flatten().enumerate() {
        out.add(
            crate::requirements::Requirement::from_node_selector(e)
                .map_err(|e| FieldError::new(format!("matchExpressions[{i}]"), e.message))?,
        );
    }
    for (i, f) in term.match_fields.iter().flatten().enumerate() {
        if f.key != "metadata.name" {
            return Err(FieldError::new(
                format!("matchFields[{i}].key"),
                format!("{:?} is not supported, only metadata.name", f.key),
            ));
        }
        // Pinned to a named node: modelled as the hostname label, which only
        // that node carries.
        let mut r = crate::requirements::Requirement::from_node_selector(f)
            .map_err(|e| FieldError::new(format!("matchFields[{i}]"), e.message))?;
        r.key = kerf_api::labels::HOSTNAME.to_string();
        out.add(r);
    }
    Ok(out)
}

fn namespace_scope(
    namespaces: Option<&Vec<String>>,
    selector: Option<&k8s_openapi::apimachinery::pkg::apis::meta::v1::LabelSelector>,
    own: &str,
) -> Result<NamespaceScope, FieldError> {
    let named: BTreeSet<String> = namespaces.into_iter().flatten().cloned().collect();
    match selector {
        Some(sel) => Ok(NamespaceScope::Selected {
            named,
            selector: Selector::compile(sel, "namespaceSelector")?,
        }),
        None if named.is_empty() => Ok(NamespaceScope::Named(
            [own.to_string()].into_iter().collect(),
        )),
        None => Ok(NamespaceScope::Named(named)),
    }
}

pub(super) fn affinity_term(
    t: &PodAffinityTerm,
    own_namespace: &str,
    own_labels: &BTreeMap<String, String>,
) -> Result<AffinityTerm, FieldError> {
    if t.topology_key.is_empty() {
        return Err(FieldError::new("topologyKey", "must not be empty"));
    }
    // A term with no selector matches no pods.
    let mut selector = match &t.label_selector {
        Some(s) => Selector::compile(s, "labelSelector")?,
        None => Selector::everything().with_label("kerf.sh/matches-nothing", "\u{0}"),
    };
    for k in t.match_label_keys.iter().flatten() {
        if let Some(v) = own_labels.get(k) {
            selector = selector.with_label(k, v);
        }
    }
    Ok(AffinityTerm {
        topology_key: kerf_api::labels::normalize_label_key(&t.topology_key).to_string(),
        scope: namespace_scope(
            t.namespaces.as_ref(),
            t.namespace_selector.as_ref(),
            own_namespace,
        )?,
        selector,
    })
}

pub(super) fn spread_constraint(
    c: &TopologySpreadConstraint,
    own_namespace: &str,
    own_labels: &BTreeMap<String, String>,
) -> Result<SpreadConstraint, FieldError> {
    if c.max_skew < 1 {
        return Err(FieldError::new(
            "maxSkew",
            format!("{} must be at least 1", c.max_skew),
        ));
    }
    if c.topology_key.is_empty() {
        return Err(FieldError::new("topologyKey", "must not be empty"));
    }
    let when_unsatisfiable = match c.when_unsatisfiable.as_str() {
        "DoNotSchedule" => WhenUnsatisfiable::DoNotSchedule,
        "ScheduleAnyway" => WhenUnsatisfiable::ScheduleAnyway,
        other => {
            return Err(FieldError::new(
                "whenUnsatisfiable",
                format!("{other:?} is not one of DoNotSchedule, ScheduleAnyway"),
            ));
        }
    };
    let mut selector = match &c.label_selector {
        Some(s) => Selector::compile(s, "labelSelector")?,
        None => Selector::everything().with_label("kerf.sh/matches-nothing", "\u{0}"),
    };
    for k in c.match_label_keys.iter().flatten() {
        if let Some(v) = own_labels.get(k) {
            selector = selector.with_label(k, v);
        }
    }
    let policy = |p: Option<&String>, field: &str, default_honor: bool| match p.map(String::as_str)
    {
        None => Ok(default_honor),
        Some("Honor") => Ok(true),
        Some("Ignore") => Ok(false),
        Some(other) => Err(FieldError::new(
            field,
            format!("{other:?} is not one of Honor, Ignore"),
        )),
    };
    Ok(SpreadConstraint {
        term: AffinityTerm {
            topology_key: kerf_api::labels::normalize_label_key(&c.topology_key).to_string(),
            scope: NamespaceScope::Named([own_namespace.to_string()].into_iter().collect()),
            selector,
        },
        max_skew: c.max_skew,
        min_domains: c.min_domains,
        when_unsatisfiable,
        honor_node_affinity: policy(c.node_affinity_policy.as_ref(), "nodeAffinityPolicy", true)?,
        honor_taints: policy(c.node_taints_policy.as_ref(), "nodeTaintsPolicy", false)?,
    })
}
