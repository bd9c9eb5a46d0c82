//! AWS v1alpha1 rules: the inline `provider` (`provider_validation.go`) and
//! the AWSNodeTemplate (`awsnodetemplate_validation.go`) at v0.31.0.

use std::collections::BTreeMap;

use super::common;
use super::{Errors, FieldError, ValidationError};
use crate::quantity;
use crate::v1alpha1::{
    AMI_FAMILIES, AMI_FAMILY_CUSTOM, AWSNodeTemplate, AWSNodeTemplateSpec, AwsProvider,
    BlockDeviceMapping,
};

impl AWSNodeTemplate {
    pub fn validate(&self) -> Result<(), ValidationError> {
        let errs = Errors(validate_aws_node_template_spec(&self.spec, "spec"));
        errs.into_result("AWSNodeTemplate", self.metadata.name.as_deref())
    }
}

/// Every problem in an inline provider, with paths under `path` (`spec.provider`).
pub fn validate_aws_provider(p: &AwsProvider, path: &str) -> Vec<FieldError> {
    let mut errs = Errors::default();
    provider(&mut errs, path, p);
    errs.0
}

/// Every problem in an AWSNodeTemplate spec, with paths under `path`.
pub fn validate_aws_node_template_spec(spec: &AWSNodeTemplateSpec, path: &str) -> Vec<FieldError> {
    let mut errs = Errors::default();
    let e = &mut errs;
    provider(e, path, &spec.provider);
    let lt = spec.provider.launch_template.is_some();
    if spec.user_data.is_some() && lt {
        e.push(
            format!("{path}.userData"),
            "cannot be combined with launchTemplate",
        );
    }
    if let Some(sel) = &spec.ami_selector {
        if lt {
            e.push(
                format!("{path}.amiSelector"),
                "cannot be combined with launchTemplate",
            );
        }
        selector(
            e,
            &format!("{path}.amiSelector"),
            sel,
            "ami-",
            &["aws-ids", "aws::ids"],
        );
    } else if spec.provider.ami_family.as_deref() == Some(AMI_FAMILY_CUSTOM) {
        e.push(
            format!("{path}.amiSelector"),
            "required when amiFamily is Custom",
        );
    }
    errs.0
}

/// Tags Karpenter sets itself and users may not.
fn restricted_tag(key: &str) -> Option<&'static str> {
    if let Some(cluster) = key.strip_prefix("kubernetes.io/cluster/") {
        let mut chars = cluster.chars();
        let ok = chars.next().is_some_and(|c| c.is_ascii_alphanumeric())
            && chars.all(|c| c.is_ascii_alphanumeric() || c == '-' || c == '_');
        if ok {
            return Some("kubernetes.io/cluster/<name>");
        }
    }
    // kerf's ownership tag (see the EC2NodeClass list) is kerf's own too.
    [
        crate::labels::PROVISIONER_NAME,
        crate::labels::MANAGED_BY,
        "kerf.sh/cluster",
    ]
    .into_iter()
    .find(|k| *k == key)
}

pub(super) fn provider(e: &mut Errors, path: &str, p: &AwsProvider) {
    for key in p.extra.keys() {
        e.push(format!("{path}.{key}"), "unknown field");
    }
    if p.launch_template.is_some() {
        let conflicts = [
            ("securityGroupSelector", p.security_group_selector.is_some()),
            ("metadataOptions", p.metadata_options.is_some()),
            ("amiFamily", p.ami_family.is_some()),
            ("instanceProfile", p.instance_profile.is_some()),
            ("blockDeviceMappings", !p.block_device_mappings.is_empty()),
        ];
        for (field, set) in conflicts {
            if set {
                e.push(
                    format!("{path}.launchTemplate"),
                    format!("cannot be combined with {field}"),
                );
            }
        }
    }
    if let Some(sel) = &p.subnet_selector {
        selector(
            e,
            &format!("{path}.subnetSelector"),
            sel,
            "subnet-",
            &["aws-ids"],
        );
    }
    if let Some(sel) = &p.security_group_selector {
        selector(
            e,
            &format!("{path}.securityGroupSelector"),
            sel,
            "sg-",
            &["aws-ids"],
        );
    }
    for key in p.tags.keys() {
        if key.is_empty() {
            e.push(format!("{path}.tags"), "tag keys must not be empty");
        } else if let Some(pattern) = restricted_tag(key) {
            e.push(
                format!("{path}.tags[{key}]"),
                format!("tag is restricted (matches {pattern})"),
            );
        }
    }
    if let Some(m) = &p.metadata_options {
        let mp = format!("{path}.metadataOptions");
        common::enum_value(
            e,
            &format!("{mp}.httpEndpoint"),
            m.http_endpoint.as_deref(),
            &["enabled", "disabled"],
        );
        common::enum_value(
            e,
            &format!("{mp}.httpProtocolIPv6"),
            m.http_protocol_ipv6.as_deref(),
            &["enabled", "disabled"],
        );
        if let Some(h) = m
            .http_put_response_hop_limit
            .filter(|h| !(1..=64).contains(h))
        {
            e.push(
                format!("{mp}.httpPutResponseHopLimit"),
                format!("must be between 1 and 64 (got {h})"),
            );
        }
        common::enum_value(
            e,
            &format!("{mp}.httpTokens"),
            m.http_tokens.as_deref(),
            &["required", "optional"],
        );
    }
    common::enum_value(
        e,
        &format!("{path}.amiFamily"),
        p.ami_family.as_deref(),
        AMI_FAMILIES,
    );
    for (i, m) in p.block_device_mappings.iter().enumerate() {
        block_device_mapping(e, &format!("{path}.blockDeviceMappings[{i}]"), m);
    }
}

/// A tag selector; the ID key (`aws-ids`) holds comma-separated IDs with
/// `id_prefix` and may not be combined with other keys.
fn selector(
    e: &mut Errors,
    path: &str,
    sel: &BTreeMap<String, String>,
    id_prefix: &str,
    id_keys: &[&str],
) {
    common::non_empty_entries(e, path, sel);
    for (key, value) in sel.iter().filter(|(k, _)| id_keys.contains(&k.as_str())) {
        for id in value.split(',').map(str::trim).filter(|s| !s.is_empty()) {
            if !is_aws_id(id, id_prefix) {
                e.push(
                    format!("{path}[{key}]"),
                    format!("{id:?} is not a valid ID (expected {id_prefix}[0-9a-z]+)"),
                );
            }
        }
        if sel.len() > 1 {
            e.push(
                format!("{path}[{key}]"),
                "cannot be combined with other selector keys",
            );
        }
    }
}

/// `^<prefix>[0-9a-z]+$`
pub(super) fn is_aws_id(id: &str, prefix: &str) -> bool {
    id.strip_prefix(prefix).is_some_and(|rest| {
        !rest.is_empty()
            && rest
                .bytes()
                .all(|c| c.is_ascii_lowercase() || c.is_ascii_digit())
    })
}

pub(super) const VOLUME_TYPES: &[&str] = &["standard", "io1", "io2", "gp2", "sc1", "st1", "gp3"];

fn block_device_mapping(e: &mut Errors, path: &str, m: &BlockDeviceMapping) {
    if m.device_name.is_none() {
        e.push(format!("{path}.deviceName"), "required");
    }
    let Some(ebs) = &m.ebs else { return };
    common::enum_value(
        e,
        &format!("{path}.ebs.volumeType"),
        ebs.volume_type.as_deref(),
        VOLUME_TYPES,
    );
    match &ebs.volume_size {
        None if ebs.snapshot_id.is_none() => e.push(
            format!("{path}.ebs.volumeSize"),
            "required unless snapshotID is set",
        ),
        None => {}
        Some(size) => {
            const MIN: i128 = 1_000_000_000 * 1000; // 1G in milli-units
            const MAX: i128 = 64_000_000_000_000 * 1000; // 64T
            match quantity::parse_quantity(&size.0) {
                Ok(v) if (MIN..=MAX).contains(&v) => {}
                Ok(_) => e.push(
                    format!("{path}.ebs.volumeSize"),
                    format!("{:?} must be between 1G and 64T", size.0),
                ),
                Err(err) => e.push(
                    format!("{path}.ebs.volumeSize"),
                    format!("{:?} is not a valid quantity: {err}", size.0),
                ),
            }
        }
    }
}
