//! NodePool and NodeClaim rules: the v1 CRD's CEL/OpenAPI rules and core's
//! runtime validation (`nodepool_validation.go`, `nodeclaim_validation.go`).

use k8s_openapi::api::core::v1::Taint;

use super::common::{self, Rules};
use super::{Errors, FieldError, ValidationError};
use crate::duration::{GoDuration, NillableDuration};
use crate::v1::{
    Budget, NodeClaim, NodeClaimSpec, NodeClassReference, NodePool, NodePoolSpec,
    NodeSelectorRequirementWithMinValues,
};

impl NodePool {
    pub fn validate(&self) -> Result<(), ValidationError> {
        let errs = Errors(validate_node_pool_spec(&self.spec, "spec"));
        errs.into_result("NodePool", self.metadata.name.as_deref())
    }
}

impl NodeClaim {
    pub fn validate(&self) -> Result<(), ValidationError> {
        let errs = Errors(validate_node_claim_spec(&self.spec, "spec"));
        errs.into_result("NodeClaim", self.metadata.name.as_deref())
    }
}

/// What a NodePool template and a NodeClaim spec have in common.
struct ClaimFields<'a> {
    taints: &'a [Taint],
    startup_taints: &'a [Taint],
    requirements: &'a [NodeSelectorRequirementWithMinValues],
    node_class_ref: &'a NodeClassReference,
    termination_grace_period: Option<&'a GoDuration>,
    expire_after: Option<&'a NillableDuration>,
}

fn claim_fields(e: &mut Errors, path: &str, rules: Rules, c: &ClaimFields<'_>) {
    common::taints(e, path, c.taints, c.startup_taints);
    common::max_items(
        e,
        &format!("{path}.requirements"),
        c.requirements.len(),
        100,
    );
    for (i, r) in c.requirements.iter().enumerate() {
        let p = format!("{path}.requirements[{i}]");
        common::requirement(e, &p, rules, &r.key, &r.operator, &r.values);
        if let Some(m) = r.min_values {
            if !(1..=50).contains(&m) {
                e.push(
                    format!("{p}.minValues"),
                    format!("must be between 1 and 50 (got {m})"),
                );
            }
            if r.operator == "In" && r.values.len() < m.max(0) as usize {
                e.push(
                    format!("{p}.minValues"),
                    format!("requires at least {m} values, got {}", r.values.len()),
                );
            }
        }
    }
    let p = format!("{path}.nodeClassRef");
    common::not_empty(e, &format!("{p}.group"), &c.node_class_ref.group);
    common::not_empty(e, &format!("{p}.kind"), &c.node_class_ref.kind);
    common::not_empty(e, &format!("{p}.name"), &c.node_class_ref.name);
    if let Some(d) = c.termination_grace_period {
        common::duration_seconds(e, &format!("{path}.terminationGracePeriod"), d);
    }
    if let Some(d) = c.expire_after {
        common::nillable_duration(e, &format!("{path}.expireAfter"), d);
    }
}

/// Every problem in a NodePool spec, with paths under `path`.
pub fn validate_node_pool_spec(spec: &NodePoolSpec, path: &str) -> Vec<FieldError> {
    let mut errs = Errors::default();
    let e = &mut errs;
    let t = &spec.template;
    common::node_labels(
        e,
        &format!("{path}.template.metadata.labels"),
        &t.metadata.labels,
    );
    common::max_items(
        e,
        &format!("{path}.template.metadata.labels"),
        t.metadata.labels.len(),
        100,
    );
    let fields = ClaimFields {
        taints: &t.spec.taints,
        startup_taints: &t.spec.startup_taints,
        requirements: &t.spec.requirements,
        node_class_ref: &t.spec.node_class_ref,
        termination_grace_period: t.spec.termination_grace_period.as_ref(),
        expire_after: t.spec.expire_after.as_ref(),
    };
    claim_fields(
        e,
        &format!("{path}.template.spec"),
        Rules::NodePool,
        &fields,
    );

    let d = &spec.disruption;
    if let Some(after) = &d.consolidate_after {
        common::nillable_duration(e, &format!("{path}.disruption.consolidateAfter"), after);
    }
    if let Some(budgets) = &d.budgets {
        common::max_items(e, &format!("{path}.disruption.budgets"), budgets.len(), 50);
        for (i, b) in budgets.iter().enumerate() {
            budget(e, &format!("{path}.disruption.budgets[{i}]"), b);
        }
    }
    if let Some(w) = spec.weight.filter(|w| !(1..=100).contains(w)) {
        e.push(
            format!("{path}.weight"),
            format!("must be between 1 and 100 (got {w})"),
        );
    }
    common::resource_list(e, &format!("{path}.limits"), &spec.limits);
    if let Some(r) = spec.replicas {
        if r < 0 {
            e.push(
                format!("{path}.replicas"),
                format!("must not be negative (got {r})"),
            );
        }
        if spec.weight.is_some() {
            e.push(
                format!("{path}.weight"),
                "'weight' is not supported on static NodePools",
            );
        }
        for name in spec.limits.keys().filter(|k| *k != "nodes") {
            e.push(
                format!("{path}.limits[{name}]"),
                "only 'limits.nodes' is supported on static NodePools",
            );
        }
    }
    errs.0
}

/// Every problem in a NodeClaim spec, with paths under `path`.
pub fn validate_node_claim_spec(spec: &NodeClaimSpec, path: &str) -> Vec<FieldError> {
    let mut errs = Errors::default();
    let fields = ClaimFields {
        taints: &spec.taints,
        startup_taints: &spec.startup_taints,
        requirements: &spec.requirements,
        node_class_ref: &spec.node_class_ref,
        termination_grace_period: spec.termination_grace_period.as_ref(),
        expire_after: spec.expire_after.as_ref(),
    };
    claim_fields(&mut errs, path, Rules::NodeClaim, &fields);
    common::resource_list(
        &mut errs,
        &format!("{path}.resources.requests"),
        &spec.resources.requests,
    );
    errs.0
}

/// `^((100|[0-9]{1,2})%|[0-9]+)$`
fn is_budget_nodes(s: &str) -> bool {
    match s.strip_suffix('%') {
        Some(p) => {
            (1..=3).contains(&p.len())
                && p.bytes().all(|c| c.is_ascii_digit())
                && (p.len() < 3 || p == "100")
        }
        None => !s.is_empty() && s.bytes().all(|c| c.is_ascii_digit()),
    }
}

fn budget(e: &mut Errors, path: &str, b: &Budget) {
    if !is_budget_nodes(&b.nodes) {
        e.push(
            format!("{path}.nodes"),
            format!(
                "{:?} must be a non-negative integer or a percentage from 0% to 100%",
                b.nodes
            ),
        );
    }
    if b.schedule.is_some() != b.duration.is_some() {
        e.push(path, "'schedule' must be set with 'duration'");
    }
    if let Some(s) = &b.schedule
        && let Err(why) = check_cron(s)
    {
        e.push(
            format!("{path}.schedule"),
            format!("{s:?} is not a valid cron schedule: {why}"),
        );
    }
    if let Some(d) = &b.duration {
        const MINUTE: i64 = 60_000_000_000;
        if d.is_negative() || d.as_nanos() % MINUTE != 0 {
            e.push(
                format!("{path}.duration"),
                format!("{d} must be a whole number of minutes or hours (e.g. 30m, 8h, 1h30m)"),
            );
        }
    }
    if let Some(reasons) = &b.reasons {
        common::max_items(e, &format!("{path}.reasons"), reasons.len(), 50);
    }
}

const CRON_MACROS: &[&str] = &[
    "@annually",
    "@yearly",
    "@monthly",
    "@weekly",
    "@daily",
    "@midnight",
    "@hourly",
];
const MONTHS: &[&str] = &[
    "jan", "feb", "mar", "apr", "may", "jun", "jul", "aug", "sep", "oct", "nov", "dec",
];
const WEEKDAYS: &[&str] = &["sun", "mon", "tue", "wed", "thu", "fri", "sat"];

/// Why a budget's `schedule` is not a cron expression kerf (and
/// `robfig/cron`'s standard parser) accepts.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
pub(crate) enum CronError {
    #[error("unknown macro {0}")]
    UnknownMacro(String),
    #[error("expected 5 fields, got {0}")]
    FieldCount(usize),
    /// One comma-separated part of one field, e.g. the month's `13`.
    #[error("{field} {part:?}: {problem}")]
    Part {
        field: &'static str,
        part: String,
        problem: CronPartError,
    },
}

/// What is wrong with one part of a cron field.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
pub(crate) enum CronPartError {
    #[error("bad step {0:?}")]
    Step(String),
    #[error("{value:?} is not in {min}-{max}")]
    OutOfRange { value: String, min: u32, max: u32 },
    #[error("range start {start} is after end {end}")]
    Backwards { start: u32, end: u32 },
}

/// A standard 5-field cron expression (minute hour day-of-month month
/// day-of-week) or a `@daily`-style macro, as `robfig/cron`'s standard parser
/// accepts it.
pub(crate) fn check_cron(s: &str) -> Result<(), CronError> {
    if s.starts_with('@') {
        return if CRON_MACROS.contains(&s) {
            Ok(())
        } else {
            Err(CronError::UnknownMacro(s.to_string()))
        };
    }
    let fields: Vec<&str> = s.split_whitespace().collect();
    if fields.len() != 5 {
        return Err(CronError::FieldCount(fields.len()));
    }
    let specs: [(&str, u32, u32, &[&str]); 5] = [
        ("minute", 0, 59, &[]),
        ("hour", 0, 23, &[]),
        ("day of month", 1, 31, &[]),
        ("month", 1, 12, MONTHS),
        ("day of week", 0, 7, WEEKDAYS),
    ];
    for (field, (name, min, max, names)) in fields.iter().zip(specs) {
        for part in field.split(',') {
            cron_part(part, min, max, names).map_err(|problem| CronError::Part {
                field: name,
                part: part.to_string(),
                problem,
            })?;
        }
    }
    Ok(())
}

fn cron_part(part: &str, min: u32, max: u32, names: &[&str]) -> Result<(), CronPartError> {
    let (range, step) = match part.split_once('/') {
        Some((r, s)) => (r, Some(s)),
        None => (part, None),
    };
    if let Some(step) = step {
        match step.parse::<u32>() {
            Ok(n) if n > 0 => {}
            _ => return Err(CronPartError::Step(step.to_string())),
        }
    }
    if range == "*" || range == "?" {
        return Ok(());
    }
    let value = |v: &str| -> Result<u32, CronPartError> {
        if let Some(i) = names.iter().position(|n| n.eq_ignore_ascii_case(v)) {
            // Months are 1-based, weekdays 0-based.
            return Ok(i as u32 + min);
        }
        match v.parse::<u32>() {
            Ok(n) if (min..=max).contains(&n) => Ok(n),
            _ => Err(CronPartError::OutOfRange {
                value: v.to_string(),
                min,
                max,
            }),
        }
    };
    match range.split_once('-') {
        Some((lo, hi)) => {
            let (lo, hi) = (value(lo)?, value(hi)?);
            if lo > hi {
                return Err(CronPartError::Backwards { start: lo, end: hi });
            }
        }
        None => {
            value(range)?;
        }
    }
    Ok(())
}
