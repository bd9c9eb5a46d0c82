//! Provisioner rules: core `provisioner_validation.go` at v0.31.0 plus the AWS
//! webhook's validation of an inline `provider`.

use super::common::{self, Kubelet, Rules};
use super::{Errors, FieldError, ValidationError};
use crate::v1alpha5::{Provisioner, ProvisionerSpec};

impl Provisioner {
    /// Validates the spec (webhook and CRD rules). Run [`Provisioner::set_defaults`]
    /// first or not: defaulting never makes a valid object invalid.
    pub fn validate(&self) -> Result<(), ValidationError> {
        let errs = Errors(validate_provisioner_spec(&self.spec, "spec"));
        errs.into_result("Provisioner", self.metadata.name.as_deref())
    }
}

/// Every problem in a Provisioner spec, with paths under `path`.
pub fn validate_provisioner_spec(spec: &ProvisionerSpec, path: &str) -> Vec<FieldError> {
    let mut errs = Errors::default();
    let e = &mut errs;

    for (field, v) in [
        ("ttlSecondsAfterEmpty", spec.ttl_seconds_after_empty),
        ("ttlSecondsUntilExpired", spec.ttl_seconds_until_expired),
    ] {
        if let Some(v) = v.filter(|v| *v < 0) {
            e.push(
                format!("{path}.{field}"),
                format!("must not be negative (got {v})"),
            );
        }
    }
    if spec.ttl_seconds_after_empty.is_some() && spec.consolidation_enabled() {
        e.push(
            format!("{path}.ttlSecondsAfterEmpty"),
            "cannot be combined with consolidation.enabled=true",
        );
    }
    if let Some(w) = spec.weight.filter(|w| !(1..=100).contains(w)) {
        e.push(
            format!("{path}.weight"),
            format!("must be between 1 and 100 (got {w})"),
        );
    }

    match (&spec.provider, &spec.provider_ref) {
        (Some(_), Some(_)) => e.push(
            path,
            "expected exactly one of provider or providerRef, got both",
        ),
        (None, None) => e.push(
            path,
            "expected exactly one of provider or providerRef, got neither",
        ),
        (Some(provider), None) => super::aws::provider(e, &format!("{path}.provider"), provider),
        (None, Some(r)) => common::not_empty(e, &format!("{path}.providerRef.name"), &r.name),
    }

    common::node_labels(e, &format!("{path}.labels"), &spec.labels);
    common::taints(e, path, &spec.taints, &spec.startup_taints);
    for (i, r) in spec.requirements.iter().enumerate() {
        let values = r.values.as_deref().unwrap_or_default();
        common::requirement(
            e,
            &format!("{path}.requirements[{i}]"),
            Rules::V1alpha5,
            &r.key,
            &r.operator,
            values,
        );
    }

    if let Some(k) = &spec.kubelet_configuration {
        let kubelet = Kubelet {
            max_pods: k.max_pods,
            pods_per_core: k.pods_per_core,
            system_reserved: k
                .system_reserved
                .iter()
                .map(|(k, v)| (k.as_str(), v.0.as_str()))
                .collect(),
            kube_reserved: k
                .kube_reserved
                .iter()
                .map(|(k, v)| (k.as_str(), v.0.as_str()))
                .collect(),
            eviction_hard: &k.eviction_hard,
            eviction_soft: &k.eviction_soft,
            eviction_soft_grace_period: &k.eviction_soft_grace_period,
            image_gc_high: k.image_gc_high_threshold_percent,
            image_gc_low: k.image_gc_low_threshold_percent,
            strict_image_gc: false,
        };
        common::kubelet(e, &format!("{path}.kubeletConfiguration"), &kubelet);
        common::enum_value(
            e,
            &format!("{path}.kubeletConfiguration.containerRuntime"),
            k.container_runtime.as_deref(),
            &["containerd", "dockerd"],
        );
    }
    if let Some(limits) = &spec.limits {
        common::resource_list(e, &format!("{path}.limits.resources"), &limits.resources);
    }
    errs.0
}
