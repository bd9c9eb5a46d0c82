//! Taints, tolerations and node selection (nodeSelector, required node affinity).

use super::*;

pub(super) fn tolerates(t: &Toleration, taint: &Taint) -> bool {
    if let Some(effect) = t.effect.as_deref().filter(|e| !e.is_empty())
        && effect != taint.effect
    {
        return false;
    }
    if let Some(key) = t.key.as_deref().filter(|k| !k.is_empty())
        && key != taint.key
    {
        return false;
    }
    match t.operator.as_deref().unwrap_or("") {
        "Exists" => true,
        "" | "Equal" => t.value.as_deref().unwrap_or("") == taint.value.as_deref().unwrap_or(""),
        _ => false,
    }
}

/// The first NoSchedule/NoExecute taint none of the tolerations tolerates.
pub(super) fn untolerated<'t>(
    tolerations: &[Toleration],
    taints: &'t [Taint],
) -> Option<&'t Taint> {
    taints
        .iter()
        .filter(|t| t.effect == "NoSchedule" || t.effect == "NoExecute")
        .find(|t| !tolerations.iter().any(|tol| tolerates(tol, t)))
}

pub(super) fn describe_taint(t: &Taint) -> String {
    match t.value.as_deref().filter(|v| !v.is_empty()) {
        Some(v) => format!("{}={}:{}", t.key, v, t.effect),
        None => format!("{}:{}", t.key, t.effect),
    }
}

pub(super) fn expression_matches(
    e: &NodeSelectorRequirement,
    labels: &BTreeMap<String, String>,
) -> bool {
    let values = e.values.as_deref().unwrap_or(&[]);
    let value = label(labels, &e.key);
    let integer = |s: &str| s.parse::<i64>().ok();
    match e.operator.as_str() {
        "In" => value.is_some_and(|v| values.iter().any(|x| x == v)),
        "NotIn" => value.is_none_or(|v| !values.iter().any(|x| x == v)),
        "Exists" => value.is_some(),
        "DoesNotExist" => value.is_none(),
        "Gt" | "Lt" => {
            let (Some(v), [bound]) = (value.and_then(integer), values) else {
                return false;
            };
            let Some(bound) = integer(bound) else {
                return false;
            };
            if e.operator == "Gt" {
                v > bound
            } else {
                v < bound
            }
        }
        _ => false,
    }
}

pub(super) fn field_matches(e: &NodeSelectorRequirement, node_name: &str) -> bool {
    let values = e.values.as_deref().unwrap_or(&[]);
    e.key == "metadata.name"
        && match e.operator.as_str() {
            "In" => values.iter().any(|v| v == node_name),
            "NotIn" => !values.iter().any(|v| v == node_name),
            _ => false,
        }
}

/// A node selector term: empty terms match nothing; otherwise every expression and field.
pub(super) fn term_matches(
    term: &NodeSelectorTerm,
    labels: &BTreeMap<String, String>,
    node_name: &str,
) -> bool {
    let exprs = term.match_expressions.as_deref().unwrap_or(&[]);
    let fields = term.match_fields.as_deref().unwrap_or(&[]);
    if exprs.is_empty() && fields.is_empty() {
        return false;
    }
    exprs.iter().all(|e| expression_matches(e, labels))
        && fields.iter().all(|f| field_matches(f, node_name))
}

pub(super) fn node_selector_matches(
    sel: &NodeSelector,
    labels: &BTreeMap<String, String>,
    node_name: &str,
) -> bool {
    sel.node_selector_terms
        .iter()
        .any(|t| term_matches(t, labels, node_name))
}

pub(super) fn topology_term_matches(
    term: &TopologySelectorTerm,
    labels: &BTreeMap<String, String>,
) -> bool {
    term.match_label_expressions
        .iter()
        .flatten()
        .all(|e| label(labels, &e.key).is_some_and(|v| e.values.iter().any(|x| x == v)))
}

/// Why the pod's nodeSelector fails on these labels, if it does.
pub(super) fn node_selector_failure(
    pod: &Pod,
    labels: &BTreeMap<String, String>,
) -> Option<String> {
    let spec = pod.spec.as_ref()?;
    spec.node_selector
        .iter()
        .flatten()
        .find_map(|(k, v)| match label(labels, k) {
            Some(have) if have == v => None,
            Some(have) => Some(format!("nodeSelector {k}={v}, node has {k}={have}")),
            None => Some(format!("nodeSelector {k}={v}, node has no {k} label")),
        })
}

pub(super) fn required_node_affinity(pod: &Pod) -> Option<&NodeSelector> {
    pod.spec
        .as_ref()?
        .affinity
        .as_ref()?
        .node_affinity
        .as_ref()?
        .required_during_scheduling_ignored_during_execution
        .as_ref()
}

/// kube-scheduler's `GetRequiredNodeAffinity(pod).Match(node)`: nodeSelector and required terms.
pub(super) fn matches_required_affinity(
    pod: &Pod,
    labels: &BTreeMap<String, String>,
    node_name: &str,
) -> bool {
    node_selector_failure(pod, labels).is_none()
        && required_node_affinity(pod).is_none_or(|s| node_selector_matches(s, labels, node_name))
}
