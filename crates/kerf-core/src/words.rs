//! The words kerf gives for why a pod cannot have a new node from a pool: one
//! function per cause, used by the scheduler (the reasons `kerf simulate`
//! prints and the controller's `FailedScheduling` Events carry, each after
//! the pool's name) and by `kerf explain` (where a pool's funnel emptied), so
//! a person reads the same sentence everywhere. Each names what to change.
//! None holds `"; "`: the scheduler joins the pools' reasons with it.

use crate::resources::{Resources, format_amount};

/// Resources as `{cpu=2, memory=4Gi}`, or `nothing`.
pub fn amounts(r: &Resources) -> String {
    if r.iter().next().is_none() {
        "nothing".to_string()
    } else {
        r.to_string()
    }
}

pub fn untolerated_taint(taint: &str) -> String {
    format!("taint {taint} not tolerated: add a toleration for it to the pod")
}

/// A requirement on a label no new node of the pool would carry.
pub fn label_not_carried(requirement: &str) -> String {
    format!(
        "the pod requires {requirement}, a label the pool's nodes do not carry: \
         add it to the pool's labels or requirements, or drop it from the pod"
    )
}

/// The pod's requirement and the pool's on one key have no value in common.
pub fn pool_allows_only(asked: &str, allowed: &str) -> String {
    format!("the pod requires {asked} but the pool allows only {allowed}")
}

/// Where the pod's requirement on `key` comes from when a claim bound to a
/// PersistentVolume imposes it (its node affinity, or an in-tree volume's
/// zone label).
pub fn requirement_from_volume(key: &str, claim: &str, pv: &str, requirement: &str) -> String {
    format!(
        "the pod's requirement on {key} comes from PVC {claim}, bound to PV {pv}, \
         which requires {requirement}"
    )
}

/// Where the pod's requirement on `key` comes from when an unbound claim's
/// StorageClass imposes it through its allowedTopologies.
pub fn requirement_from_class(key: &str, claim: &str, class: &str, requirement: &str) -> String {
    format!(
        "the pod's requirement on {key} comes from PVC {claim}, whose StorageClass {class} \
         allows only {requirement} (allowedTopologies)"
    )
}

/// No instance type offers `requirement`: of itself (the catalogue's doing,
/// whatever the pool allows), or together with the requirements `before` it.
pub fn no_type_offers(requirement: &str, before: Option<&str>) -> String {
    match before {
        None => format!("no instance type offers {requirement}"),
        Some(before) => format!("no instance type offers {requirement} together with {before}"),
    }
}

/// Every type the pod could use runs a daemon binding `port`; `daemonset`
/// (`namespace/name`) is the one found holding it.
pub fn port_taken_by_daemonset(port: &str, daemonset: Option<&str>) -> String {
    match daemonset {
        Some(ds) => format!("host port {port} is taken by daemonset {ds} on every instance type"),
        None => format!("host port {port} is taken by a daemonset on every instance type"),
    }
}

/// The pod asks for more of one resource than any type leaves it.
pub fn no_room(
    resource: &str,
    asked: i64,
    largest: &str,
    allocatable: i64,
    daemons: i64,
) -> String {
    let overhead = if daemons > 0 {
        format!(
            ", of which its daemonsets take {}",
            format_amount(resource, daemons)
        )
    } else {
        String::new()
    };
    format!(
        "the pod asks for {} {resource} but the largest instance type, {largest}, has {} allocatable{overhead}",
        format_amount(resource, asked),
        format_amount(resource, allocatable),
    )
}

/// Each resource fits some type, but no type holds them all.
pub fn no_type_holds(requests: &Resources) -> String {
    format!("no instance type fits {requests} together")
}

/// The pool's limits leave no room for a node the pod fits on.
pub fn limits_leave_too_little(
    limits: &str,
    in_use: &Resources,
    planned: &Resources,
    smallest: Option<(&str, &Resources)>,
) -> String {
    let planned = if planned.iter().next().is_some() {
        format!(" and {planned} by nodes planned now")
    } else {
        String::new()
    };
    let smallest = smallest
        .map(|(name, capacity)| {
            format!(" (the smallest type that fits the pod, {name}, has {capacity})")
        })
        .unwrap_or_default();
    format!(
        "limits {limits} leave too little, with {} in use by the pool's nodes{planned}{smallest}: \
         raise the limits or remove nodes",
        amounts(in_use)
    )
}

/// `spec.limits.nodes` is reached (`path` names the field of the pool's kind).
pub fn node_limit(path: &str, limit: &str, in_use: i64, planned: usize) -> String {
    let planned = if planned > 0 {
        format!(" and {planned} planned")
    } else {
        String::new()
    };
    format!(
        "node limit reached: {path} is {limit}, with {in_use} node(s) existing or launching{planned}: \
         raise the limit or remove nodes"
    )
}

/// Whether a pool's reason says its limits (resources or nodes) stopped it.
pub fn is_limit_reached(reason: &str) -> bool {
    (reason.starts_with("limits ") && reason.contains(" leave too little"))
        || reason.starts_with("node limit reached")
}

#[cfg(test)]
mod tests {
    use super::*;

    /// The scheduler joins pools' reasons with "; " and the LimitReached
    /// Event splits them on it: a sentence holding it would be cut short.
    #[test]
    fn the_limit_sentences_hold_no_separator() {
        let used = Resources::new(2000, 8 << 30, 3);
        let capacity = Resources::new(2000, 8 << 30, 29);
        for sentence in [
            limits_leave_too_little("{cpu=4}", &used, &used, Some(("m5.large", &capacity))),
            limits_leave_too_little(
                "{cpu=4}",
                &Resources::default(),
                &Resources::default(),
                None,
            ),
            node_limit("spec.limits.nodes", "3", 3, 1),
        ] {
            assert!(!sentence.contains("; "), "{sentence}");
            assert!(is_limit_reached(&sentence), "{sentence}");
        }
        let with_smallest =
            limits_leave_too_little("{cpu=4}", &used, &used, Some(("m5.large", &capacity)));
        assert!(
            with_smallest.contains("(the smallest type that fits the pod, m5.large, has {cpu=2")
                && with_smallest.ends_with(": raise the limits or remove nodes"),
            "{with_smallest}"
        );
    }
}
