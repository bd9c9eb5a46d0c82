//! v1beta1 rules: the v1beta1 CRDs' CEL/OpenAPI rules and webhooks (core and
//! AWS `pkg/apis/v1beta1/*_validation.go` at v0.37.0) where they differ from
//! v1, then v1's rules on the converted object, reported at the v1beta1
//! paths. Expects the v1beta1 defaults to be set.

use super::common::{self, Kubelet};
use super::{Errors, FieldError, ValidationError};
use crate::v1;
use crate::v1beta1::convert::{ec2_node_class_to_v1, node_claim_to_v1, node_pool_to_v1};
use crate::v1beta1::{
    AMI_FAMILIES, ConsolidationPolicy, EC2NodeClass, NodeClaim, NodePool,
    NodeSelectorRequirementWithMinValues, OPERATORS,
};

impl NodePool {
    pub fn validate(&self) -> Result<(), ValidationError> {
        let mut e = Errors::default();
        let t = &self.spec.template.spec;
        let p = "spec.template.spec";
        requirements(&mut e, p, &t.requirements);
        if !t.resources.requests.is_empty() {
            e.push(
                format!("{p}.resources.requests"),
                "not allowed in a NodePool template",
            );
        }
        if let Some(k) = &t.kubelet {
            kubelet(&mut e, &format!("{p}.kubelet"), k);
        }
        let d = &self.spec.disruption;
        let after = "spec.disruption.consolidateAfter";
        match (
            d.consolidation_policy.unwrap_or_default(),
            &d.consolidate_after,
        ) {
            (ConsolidationPolicy::WhenUnderutilized, Some(a)) if !a.is_never() => e.push(
                after,
                "consolidateAfter cannot be combined with consolidationPolicy=WhenUnderutilized",
            ),
            (ConsolidationPolicy::WhenEmpty, None) => e.push(
                after,
                "consolidateAfter must be specified with consolidationPolicy=WhenEmpty",
            ),
            _ => {}
        }
        match node_pool_to_v1(self) {
            Ok(np) => {
                let v1_errors = super::validate_node_pool_spec(&np.spec, "spec");
                e.0.extend(v1_errors.into_iter().filter_map(|f| {
                    let path = f.path.replace(
                        "spec.template.spec.expireAfter",
                        "spec.disruption.expireAfter",
                    );
                    (!f.path.ends_with(".operator")).then_some(FieldError { path, ..f })
                }));
            }
            Err(c) => e.push(c.field, c.message),
        }
        e.into_result("NodePool", self.metadata.name.as_deref())
    }
}

impl NodeClaim {
    pub fn validate(&self) -> Result<(), ValidationError> {
        let mut e = Errors::default();
        requirements(&mut e, "spec", &self.spec.requirements);
        if let Some(k) = &self.spec.kubelet {
            kubelet(&mut e, "spec.kubelet", k);
        }
        match node_claim_to_v1(self, None) {
            Ok(nc) => {
                let v1_errors = super::validate_node_claim_spec(&nc.spec, "spec");
                e.0.extend(
                    v1_errors
                        .into_iter()
                        .filter(|f| !f.path.ends_with(".operator")),
                );
            }
            Err(c) => e.push(c.field, c.message),
        }
        e.into_result("NodeClaim", self.metadata.name.as_deref())
    }
}

impl EC2NodeClass {
    pub fn validate(&self) -> Result<(), ValidationError> {
        let mut e = Errors::default();
        let s = &self.spec;
        match s.ami_family.as_deref() {
            None => e.push("spec.amiFamily", "Required value"),
            Some(f) => common::enum_value(&mut e, "spec.amiFamily", Some(f), AMI_FAMILIES),
        }
        if s.ami_family.as_deref() == Some("Custom") && s.ami_selector_terms.is_empty() {
            e.push(
                "spec.amiSelectorTerms",
                "amiSelectorTerms is required when amiFamily == 'Custom'",
            );
        }
        if s.tags.contains_key("karpenter.sh/managed-by") {
            e.push("spec.tags[karpenter.sh/managed-by]", "tag is restricted");
        }
        let converted = ec2_node_class_to_v1(self);
        let v1_errors = super::validate_ec2_node_class_spec(&converted.spec, "spec");
        // v1beta1 checks the family and the presence of terms itself (above).
        e.0.extend(
            v1_errors
                .into_iter()
                .filter(|f| f.path != "spec.amiFamily" && f.path != "spec.amiSelectorTerms"),
        );
        e.into_result("EC2NodeClass", self.metadata.name.as_deref())
    }
}

/// v1beta1's operators and its limit of 30 requirements.
fn requirements(e: &mut Errors, path: &str, list: &[NodeSelectorRequirementWithMinValues]) {
    common::max_items(e, &format!("{path}.requirements"), list.len(), 30);
    for (i, r) in list.iter().enumerate() {
        if !OPERATORS.contains(&r.operator.as_str()) {
            e.push(
                format!("{path}.requirements[{i}].operator"),
                super::not_one_of(&r.operator, OPERATORS),
            );
        }
    }
}

fn kubelet(e: &mut Errors, path: &str, k: &v1::KubeletConfiguration) {
    let borrowed = Kubelet {
        max_pods: k.max_pods,
        pods_per_core: k.pods_per_core,
        system_reserved: k
            .system_reserved
            .iter()
            .map(|(k, v)| (k.as_str(), v.as_str()))
            .collect(),
        kube_reserved: k
            .kube_reserved
            .iter()
            .map(|(k, v)| (k.as_str(), v.as_str()))
            .collect(),
        eviction_hard: &k.eviction_hard,
        eviction_soft: &k.eviction_soft,
        eviction_soft_grace_period: &k.eviction_soft_grace_period,
        image_gc_high: k.image_gc_high_threshold_percent,
        image_gc_low: k.image_gc_low_threshold_percent,
        strict_image_gc: true,
    };
    common::kubelet(e, path, &borrowed);
}
