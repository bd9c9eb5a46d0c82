//! Rules shared by several kinds: requirements, labels, taints, kubelet
//! settings, quantities and durations.

use std::collections::{BTreeMap, BTreeSet};

use k8s_openapi::api::core::v1::Taint;
use k8s_openapi::apimachinery::pkg::api::resource::Quantity;

use super::names::{label_value_errors, qualified_name_errors};
use super::{Errors, not_one_of};
use crate::duration::{GoDuration, NillableDuration};
use crate::labels;
use crate::quantity;

/// Which API's requirement and label rules apply.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub(crate) enum Rules {
    V1alpha5,
    NodePool,
    NodeClaim,
}

pub(crate) const V1ALPHA5_OPERATORS: &[&str] =
    &["In", "NotIn", "Exists", "DoesNotExist", "Gt", "Lt"];

impl Rules {
    fn operators(self) -> &'static [&'static str] {
        match self {
            Rules::V1alpha5 => V1ALPHA5_OPERATORS,
            Rules::NodePool | Rules::NodeClaim => crate::v1::OPERATORS,
        }
    }

    fn restricted_requirement_message(self, key: &str) -> Option<String> {
        match self {
            Rules::V1alpha5 => {
                if key == labels::PROVISIONER_NAME || key == labels::NODEPOOL {
                    return Some(format!("label {key:?} is restricted"));
                }
                labels::is_restricted_label(key)
                    .then(|| restricted_label_message(key, labels::RESTRICTED_LABEL_DOMAINS))
            }
            Rules::NodePool | Rules::NodeClaim => {
                if self == Rules::NodeClaim && key == labels::NODEPOOL {
                    return None;
                }
                if key == labels::NODEPOOL
                    || key == labels::HOSTNAME
                    || key == labels::PROVISIONER_NAME
                {
                    return Some(format!("label {key:?} is restricted"));
                }
                labels::is_restricted_requirement_key_v1(key).then(|| {
                    restricted_label_message(key, &[labels::KARPENTER_DOMAIN, labels::AWS_DOMAIN])
                })
            }
        }
    }
}

fn restricted_label_message(key: &str, domains: &[&str]) -> String {
    format!(
        "label {key:?} is restricted; use a well-known label or a label outside the restricted domains {}",
        domains.join(", ")
    )
}

/// One node selector requirement at `path`.
pub(crate) fn requirement(
    errs: &mut Errors,
    path: &str,
    rules: Rules,
    key: &str,
    operator: &str,
    values: &[String],
) {
    let normalized = labels::normalize_label_key(key);
    let ops = rules.operators();
    if !ops.contains(&operator) {
        errs.push(format!("{path}.operator"), not_one_of(operator, ops));
    }
    for e in qualified_name_errors(normalized) {
        errs.push(
            format!("{path}.key"),
            format!("{key:?} is not a qualified name: {e}"),
        );
    }
    if let Some(msg) = rules.restricted_requirement_message(normalized) {
        errs.push(format!("{path}.key"), msg);
    }
    for (i, v) in values.iter().enumerate() {
        for e in label_value_errors(v) {
            errs.push(
                format!("{path}.values[{i}]"),
                format!("{v:?} is not a valid label value: {e}"),
            );
        }
    }
    match operator {
        "In" if values.is_empty() => errs.push(
            format!("{path}.values"),
            "operator In requires at least one value",
        ),
        "Gt" | "Lt" | "Gte" | "Lte" => {
            let ok = matches!(values, [v] if is_non_negative_integer(v));
            if !ok {
                errs.push(
                    format!("{path}.values"),
                    format!("operator {operator} requires a single non-negative integer value"),
                );
            }
        }
        "Exists" | "DoesNotExist" if !values.is_empty() => errs.push(
            format!("{path}.values"),
            format!("operator {operator} must not have values"),
        ),
        _ => {}
    }
}

/// Go's `strconv.Atoi(v)` succeeds and the result is ≥ 0.
fn is_non_negative_integer(v: &str) -> bool {
    v.strip_prefix('+')
        .unwrap_or(v)
        .parse::<u64>()
        .is_ok_and(|n| n <= i64::MAX as u64)
}

/// Node labels at `path` (`spec.labels`, `spec.template.metadata.labels`).
pub(crate) fn node_labels(errs: &mut Errors, path: &str, labels_map: &BTreeMap<String, String>) {
    for (key, value) in labels_map {
        let p = format!("{path}[{key}]");
        if key == labels::PROVISIONER_NAME || key == labels::NODEPOOL {
            errs.push(&p, format!("label {key:?} is restricted"));
            continue;
        }
        for e in qualified_name_errors(key) {
            errs.push(&p, format!("{key:?} is not a qualified name: {e}"));
        }
        for e in label_value_errors(value) {
            errs.push(&p, format!("{value:?} is not a valid label value: {e}"));
        }
        if labels::is_restricted_label(key) {
            errs.push(
                &p,
                restricted_label_message(key, labels::RESTRICTED_LABEL_DOMAINS),
            );
        }
    }
}

pub(crate) const TAINT_EFFECTS: &[&str] = &["NoSchedule", "PreferNoSchedule", "NoExecute"];

/// `taints` and `startupTaints` under `path`; a key+effect pair may appear once across both.
pub(crate) fn taints(errs: &mut Errors, path: &str, taints: &[Taint], startup_taints: &[Taint]) {
    let mut seen = BTreeSet::new();
    for (field, list) in [("taints", taints), ("startupTaints", startup_taints)] {
        for (i, t) in list.iter().enumerate() {
            let p = format!("{path}.{field}[{i}]");
            if t.key.is_empty() {
                errs.push(format!("{p}.key"), "must not be empty");
            } else {
                for e in qualified_name_errors(&t.key) {
                    errs.push(
                        format!("{p}.key"),
                        format!("{:?} is not a qualified name: {e}", t.key),
                    );
                }
            }
            if let Some(v) = &t.value {
                for e in label_value_errors(v) {
                    errs.push(
                        format!("{p}.value"),
                        format!("{v:?} is not a valid taint value: {e}"),
                    );
                }
            }
            if !t.effect.is_empty() && !TAINT_EFFECTS.contains(&t.effect.as_str()) {
                errs.push(format!("{p}.effect"), not_one_of(&t.effect, TAINT_EFFECTS));
            }
            if !seen.insert((t.key.clone(), t.effect.clone())) {
                errs.push(
                    &p,
                    format!("duplicate taint key/effect pair {}:{}", t.key, t.effect),
                );
            }
        }
    }
}

pub(crate) const RESERVED_RESOURCES: &[&str] = &["cpu", "memory", "ephemeral-storage", "pid"];
pub(crate) const EVICTION_SIGNALS: &[&str] = &[
    "memory.available",
    "nodefs.available",
    "nodefs.inodesFree",
    "imagefs.available",
    "imagefs.inodesFree",
    "pid.available",
];

/// The kubelet fields the two API versions share, borrowed for validation.
pub(crate) struct Kubelet<'a> {
    pub max_pods: Option<i32>,
    pub pods_per_core: Option<i32>,
    pub system_reserved: Vec<(&'a str, &'a str)>,
    pub kube_reserved: Vec<(&'a str, &'a str)>,
    pub eviction_hard: &'a BTreeMap<String, String>,
    pub eviction_soft: &'a BTreeMap<String, String>,
    pub eviction_soft_grace_period: &'a BTreeMap<String, GoDuration>,
    pub image_gc_high: Option<i32>,
    pub image_gc_low: Option<i32>,
    /// v1 requires high > low; v1alpha5 only high ≥ low.
    pub strict_image_gc: bool,
}

pub(crate) fn kubelet(errs: &mut Errors, path: &str, k: &Kubelet<'_>) {
    for (field, v) in [("maxPods", k.max_pods), ("podsPerCore", k.pods_per_core)] {
        if let Some(v) = v.filter(|v| *v < 0) {
            errs.push(
                format!("{path}.{field}"),
                format!("must not be negative (got {v})"),
            );
        }
    }
    for (field, list) in [
        ("systemReserved", &k.system_reserved),
        ("kubeReserved", &k.kube_reserved),
    ] {
        for (key, value) in list {
            let p = format!("{path}.{field}[{key}]");
            if !RESERVED_RESOURCES.contains(key) {
                errs.push(&p, not_one_of(key, RESERVED_RESOURCES));
            }
            non_negative_quantity(errs, &p, value);
        }
    }
    for (field, map) in [
        ("evictionHard", k.eviction_hard),
        ("evictionSoft", k.eviction_soft),
    ] {
        for (key, value) in map {
            let p = format!("{path}.{field}[{key}]");
            if !EVICTION_SIGNALS.contains(&key.as_str()) {
                errs.push(&p, not_one_of(key, EVICTION_SIGNALS));
            }
            eviction_threshold(errs, &p, value);
        }
    }
    for key in k.eviction_soft_grace_period.keys() {
        if !EVICTION_SIGNALS.contains(&key.as_str()) {
            errs.push(
                format!("{path}.evictionSoftGracePeriod[{key}]"),
                not_one_of(key, EVICTION_SIGNALS),
            );
        }
    }
    for key in k
        .eviction_soft
        .keys()
        .filter(|key| !k.eviction_soft_grace_period.contains_key(*key))
    {
        errs.push(
            format!("{path}.evictionSoft[{key}]"),
            "has no matching evictionSoftGracePeriod",
        );
    }
    for key in k
        .eviction_soft_grace_period
        .keys()
        .filter(|key| !k.eviction_soft.contains_key(*key))
    {
        errs.push(
            format!("{path}.evictionSoftGracePeriod[{key}]"),
            "has no matching evictionSoft threshold",
        );
    }
    for (field, v) in [
        ("imageGCHighThresholdPercent", k.image_gc_high),
        ("imageGCLowThresholdPercent", k.image_gc_low),
    ] {
        if let Some(v) = v.filter(|v| !(0..=100).contains(v)) {
            errs.push(
                format!("{path}.{field}"),
                format!("must be between 0 and 100 (got {v})"),
            );
        }
    }
    if let Some(high) = k.image_gc_high {
        let low = k.image_gc_low.unwrap_or(0);
        if k.strict_image_gc && k.image_gc_low.is_some() && high <= low {
            errs.push(
                format!("{path}.imageGCHighThresholdPercent"),
                format!("must be greater than imageGCLowThresholdPercent ({high} <= {low})"),
            );
        } else if !k.strict_image_gc && high < low {
            errs.push(
                format!("{path}.imageGCHighThresholdPercent"),
                format!(
                    "must be greater than or equal to imageGCLowThresholdPercent ({high} < {low})"
                ),
            );
        }
    }
}

/// `"10%"` (0–100) or a quantity.
fn eviction_threshold(errs: &mut Errors, path: &str, value: &str) {
    if value.ends_with('%') {
        match value.trim_matches('%').parse::<f64>() {
            Ok(p) if p.is_finite() && (0.0..=100.0).contains(&p) => {}
            Ok(_) => errs.push(
                path,
                format!("{value:?} must be a percentage between 0% and 100%"),
            ),
            Err(_) => errs.push(path, format!("{value:?} is not a percentage")),
        }
    } else if let Err(e) = quantity::parse_quantity(value) {
        errs.push(path, format!("{value:?} is not a valid quantity: {e}"));
    }
}

/// A quantity that parses and is not negative.
pub(crate) fn non_negative_quantity(errs: &mut Errors, path: &str, value: &str) {
    match quantity::parse_quantity(value) {
        Ok(v) if v < 0 => errs.push(path, format!("{value:?} must not be negative")),
        Ok(_) => {}
        Err(e) => errs.push(path, format!("{value:?} is not a valid quantity: {e}")),
    }
}

/// A resource list whose quantities all parse and are not negative.
pub(crate) fn resource_list(errs: &mut Errors, path: &str, list: &BTreeMap<String, Quantity>) {
    for (name, q) in list {
        non_negative_quantity(errs, &format!("{path}[{name}]"), &q.0);
    }
}

/// `^([0-9]+(s|m|h))+$`: a whole, non-negative number of seconds.
pub(crate) fn duration_seconds(errs: &mut Errors, path: &str, d: &GoDuration) {
    if !d.is_whole_seconds() {
        errs.push(
            path,
            format!("{d} must be a non-negative whole number of seconds (e.g. 30s, 5m, 720h)"),
        );
    }
}

/// `^(([0-9]+(s|m|h))+|Never)$`.
pub(crate) fn nillable_duration(errs: &mut Errors, path: &str, d: &NillableDuration) {
    if let Some(d) = &d.0 {
        duration_seconds(errs, path, d);
    }
}

/// A non-empty string field.
pub(crate) fn not_empty(errs: &mut Errors, path: &str, value: &str) {
    if value.is_empty() {
        errs.push(path, "must not be empty");
    }
}

/// `value` is in `allowed`, if set.
pub(crate) fn enum_value(errs: &mut Errors, path: &str, value: Option<&str>, allowed: &[&str]) {
    if let Some(v) = value.filter(|v| !allowed.contains(v)) {
        errs.push(path, not_one_of(v, allowed));
    }
}

/// At most `max` items.
pub(crate) fn max_items(errs: &mut Errors, path: &str, len: usize, max: usize) {
    if len > max {
        errs.push(path, format!("must have at most {max} items (got {len})"));
    }
}

/// Tag or selector maps: no empty keys or values.
pub(crate) fn non_empty_entries(errs: &mut Errors, path: &str, map: &BTreeMap<String, String>) {
    for (k, v) in map {
        if k.is_empty() || v.is_empty() {
            errs.push(
                format!("{path}[{k}]"),
                "tag keys and values must not be empty",
            );
        }
    }
}
