//! Defaulting: what Karpenter's defaulting webhooks (v1alpha5) and CRD
//! `default:` values (v1) fill in, as pure in-place functions.
//!
//! - [`Provisioner::set_defaults`]: beta requirement keys are normalised, then
//!   the AWS webhook's defaults are added for missing keys: `kubernetes.io/os
//!   In [linux]`, `kubernetes.io/arch In [amd64]`, `karpenter.sh/capacity-type
//!   In [on-demand]`, and — when no instance-type, -family, -category or
//!   -generation requirement exists — `instance-category In [c,m,r]` and
//!   `instance-generation Gt [2]`.
//! - [`NodePool::set_defaults`]: the v1 CRD defaults (`expireAfter: 720h`,
//!   `consolidationPolicy: WhenEmptyOrUnderutilized`, `consolidateAfter: 0s`,
//!   `budgets: [{nodes: 10%}]`) and beta-key normalisation. Upstream v1 has no
//!   defaulting webhook, so the AWS requirement defaults are **not** added;
//!   [`NodePool::apply_aws_requirement_defaults`] does that on request (e.g.
//!   for a NodePool converted from a Provisioner).
//! - [`NodeClaim::set_defaults`], [`EC2NodeClass::set_defaults`]: CRD defaults.

use k8s_openapi::api::core::v1::NodeSelectorRequirement;

use crate::duration::NillableDuration;
use crate::labels;
use crate::v1::{
    Budget, EC2NodeClass, MetadataOptions, NodeClaim, NodePool,
    NodeSelectorRequirementWithMinValues,
};
use crate::v1alpha5::Provisioner;

/// `expireAfter` when unset.
pub const EXPIRE_AFTER: NillableDuration = NillableDuration::from_secs(720 * 3600);
/// `consolidateAfter` when unset.
pub const CONSOLIDATE_AFTER: NillableDuration = NillableDuration::from_secs(0);
/// `budgets[].nodes` when unset.
pub const BUDGET_NODES: &str = "10%";

/// The AWS requirement defaults to add given the (normalised) keys present.
fn aws_requirement_defaults(
    has: impl Fn(&str) -> bool,
) -> Vec<(&'static str, &'static str, Vec<&'static str>)> {
    let mut out = Vec::new();
    if !has(labels::OS) {
        out.push((labels::OS, "In", vec![labels::OS_LINUX]));
    }
    if !has(labels::ARCH) {
        out.push((labels::ARCH, "In", vec![labels::ARCH_AMD64]));
    }
    if !has(labels::CAPACITY_TYPE) {
        out.push((
            labels::CAPACITY_TYPE,
            "In",
            vec![labels::CAPACITY_TYPE_ON_DEMAND],
        ));
    }
    let constrained = [
        labels::INSTANCE_TYPE,
        labels::INSTANCE_FAMILY,
        labels::INSTANCE_CATEGORY,
        labels::INSTANCE_GENERATION,
    ];
    if !constrained.iter().any(|k| has(k)) {
        out.push((labels::INSTANCE_CATEGORY, "In", vec!["c", "m", "r"]));
        out.push((labels::INSTANCE_GENERATION, "Gt", vec!["2"]));
    }
    out
}

/// Normalises beta keys and appends the AWS defaults (see the module docs).
pub fn default_aws_requirements(requirements: &mut Vec<NodeSelectorRequirement>) {
    for r in requirements.iter_mut() {
        r.key = labels::normalize_label_key(&r.key).to_string();
    }
    let add = aws_requirement_defaults(|k| requirements.iter().any(|r| r.key == k));
    requirements.extend(
        add.into_iter()
            .map(|(key, op, values)| NodeSelectorRequirement {
                key: key.to_string(),
                operator: op.to_string(),
                values: Some(values.into_iter().map(String::from).collect()),
            }),
    );
}

fn default_aws_requirements_v1(requirements: &mut Vec<NodeSelectorRequirementWithMinValues>) {
    let add = aws_requirement_defaults(|k| {
        requirements
            .iter()
            .any(|r| labels::normalize_label_key(&r.key) == k)
    });
    requirements.extend(
        add.into_iter()
            .map(|(key, op, values)| NodeSelectorRequirementWithMinValues::new(key, op, &values)),
    );
}

fn normalize_v1(requirements: &mut [NodeSelectorRequirementWithMinValues]) {
    for r in requirements {
        r.key = labels::normalize_label_key(&r.key).to_string();
    }
}

impl Provisioner {
    /// AWS v0.31 defaulting (see the module docs). Idempotent.
    pub fn set_defaults(&mut self) {
        default_aws_requirements(&mut self.spec.requirements);
    }
}

impl NodePool {
    /// v1 CRD defaults and beta-key normalisation. Idempotent.
    pub fn set_defaults(&mut self) {
        let spec = &mut self.spec;
        normalize_v1(&mut spec.template.spec.requirements);
        spec.template.spec.expire_after.get_or_insert(EXPIRE_AFTER);
        let d = &mut spec.disruption;
        d.consolidate_after.get_or_insert(CONSOLIDATE_AFTER);
        d.consolidation_policy.get_or_insert_default();
        d.budgets.get_or_insert_with(|| vec![Budget::default()]);
    }

    /// Adds the AWS v1alpha5 requirement defaults (os, arch, capacity type,
    /// instance category/generation) where the keys are missing. Not part of
    /// [`NodePool::set_defaults`]: upstream v1 does not default requirements.
    pub fn apply_aws_requirement_defaults(&mut self) {
        default_aws_requirements_v1(&mut self.spec.template.spec.requirements);
    }
}

impl NodeClaim {
    /// v1 CRD defaults and beta-key normalisation. Idempotent.
    pub fn set_defaults(&mut self) {
        normalize_v1(&mut self.spec.requirements);
        self.spec.expire_after.get_or_insert(EXPIRE_AFTER);
    }
}

impl EC2NodeClass {
    /// v1 CRD defaults: the metadata options. Idempotent.
    pub fn set_defaults(&mut self) {
        let m = self
            .spec
            .metadata_options
            .get_or_insert_with(MetadataOptions::default);
        m.http_endpoint.get_or_insert_with(|| "enabled".to_string());
        m.http_protocol_ipv6
            .get_or_insert_with(|| "disabled".to_string());
        m.http_put_response_hop_limit.get_or_insert(1);
        m.http_tokens.get_or_insert_with(|| "required".to_string());
    }
}
