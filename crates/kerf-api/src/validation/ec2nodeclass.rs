//! EC2NodeClass rules: the v1 CRD's CEL/OpenAPI rules from AWS
//! `pkg/apis/v1/ec2nodeclass.go`, applied per term (upstream's CEL applies
//! some of them only when *every* term violates them).

use std::collections::BTreeMap;

use super::aws::{VOLUME_TYPES, is_aws_id};
use super::common::{self, Kubelet};
use super::{Errors, FieldError, ValidationError};
use crate::v1::{
    ALIAS_FAMILIES, AMI_FAMILIES, AMISelectorTerm, BlockDeviceMapping, EC2NodeClass,
    EC2NodeClassSpec,
};

impl EC2NodeClass {
    pub fn validate(&self) -> Result<(), ValidationError> {
        let errs = Errors(validate_ec2_node_class_spec(&self.spec, "spec"));
        errs.into_result("EC2NodeClass", self.metadata.name.as_deref())
    }
}

/// Tags kerf sets itself (exact keys; `kubernetes.io/cluster` is a prefix).
/// `kerf.sh/cluster` is kerf's ownership tag, the one its garbage collection
/// and IAM policy trust; Karpenter does not reserve it.
pub(crate) const RESTRICTED_TAGS: &[&str] = &[
    "kerf.sh/cluster",
    "eks:eks-cluster-name",
    "karpenter.sh/nodepool",
    "karpenter.sh/nodeclaim",
    "karpenter.k8s.aws/ec2nodeclass",
];

/// Every problem in an EC2NodeClass spec, with paths under `path`.
pub fn validate_ec2_node_class_spec(spec: &EC2NodeClassSpec, path: &str) -> Vec<FieldError> {
    let mut errs = Errors::default();
    let e = &mut errs;

    let p = format!("{path}.subnetSelectorTerms");
    terms_len(e, &p, spec.subnet_selector_terms.len(), 30);
    for (i, t) in spec.subnet_selector_terms.iter().enumerate() {
        let tp = format!("{p}[{i}]");
        let has_tags = !t.tags.is_empty();
        if !has_tags && t.id.is_none() {
            e.push(&tp, "expected at least one of tags, id");
        }
        if let Some(id) = &t.id {
            if has_tags {
                e.push(
                    format!("{tp}.id"),
                    "cannot be combined with other fields in a subnet selector term",
                );
            }
            id_format(e, &format!("{tp}.id"), id, "subnet-");
        }
        tags(e, &format!("{tp}.tags"), &t.tags);
    }

    let p = format!("{path}.securityGroupSelectorTerms");
    terms_len(e, &p, spec.security_group_selector_terms.len(), 30);
    for (i, t) in spec.security_group_selector_terms.iter().enumerate() {
        let tp = format!("{p}[{i}]");
        let has_tags = !t.tags.is_empty();
        if !has_tags && t.id.is_none() && t.name.is_none() {
            e.push(&tp, "expected at least one of tags, id, name");
        }
        if let Some(id) = &t.id {
            if has_tags || t.name.is_some() {
                e.push(
                    format!("{tp}.id"),
                    "cannot be combined with other fields in a security group selector term",
                );
            }
            id_format(e, &format!("{tp}.id"), id, "sg-");
        }
        if t.name.is_some() && has_tags {
            e.push(
                format!("{tp}.name"),
                "cannot be combined with other fields in a security group selector term",
            );
        }
        tags(e, &format!("{tp}.tags"), &t.tags);
    }

    let p = format!("{path}.capacityReservationSelectorTerms");
    common::max_items(e, &p, spec.capacity_reservation_selector_terms.len(), 30);
    for (i, t) in spec.capacity_reservation_selector_terms.iter().enumerate() {
        let tp = format!("{p}[{i}]");
        let has_tags = !t.tags.is_empty();
        if !has_tags && t.id.is_none() && t.instance_match_criteria.is_none() {
            e.push(
                &tp,
                "expected at least one of tags, id, instanceMatchCriteria",
            );
        }
        if let Some(id) = &t.id {
            if has_tags || t.owner_id.is_some() || t.instance_match_criteria.is_some() {
                e.push(
                    format!("{tp}.id"),
                    "cannot be combined with other fields in a capacity reservation selector term",
                );
            }
            id_format(e, &format!("{tp}.id"), id, "cr-");
        }
        if let Some(owner) = t
            .owner_id
            .as_deref()
            .filter(|o| o.len() != 12 || !o.bytes().all(|c| c.is_ascii_digit()))
        {
            e.push(
                format!("{tp}.ownerID"),
                format!("{owner:?} must be a 12-digit account ID"),
            );
        }
        common::enum_value(
            e,
            &format!("{tp}.instanceMatchCriteria"),
            t.instance_match_criteria.as_deref(),
            &["open", "targeted"],
        );
        tags(e, &format!("{tp}.tags"), &t.tags);
    }

    ami_terms(e, path, spec);
    common::enum_value(
        e,
        &format!("{path}.amiFamily"),
        spec.ami_family.as_deref(),
        AMI_FAMILIES,
    );

    match (&spec.role, &spec.instance_profile) {
        (Some(_), Some(_)) => e.push(
            path,
            "expected exactly one of role or instanceProfile, got both",
        ),
        (None, None) => e.push(
            path,
            "expected exactly one of role or instanceProfile, got neither",
        ),
        _ => {}
    }
    if let Some(role) = &spec.role {
        common::not_empty(e, &format!("{path}.role"), role);
    }
    if let Some(profile) = &spec.instance_profile {
        common::not_empty(e, &format!("{path}.instanceProfile"), profile);
    }
    for key in spec.tags.keys() {
        if key.is_empty() {
            e.push(format!("{path}.tags"), "empty tag keys aren't supported");
        } else if key.starts_with("kubernetes.io/cluster")
            || RESTRICTED_TAGS.contains(&key.as_str())
        {
            e.push(format!("{path}.tags[{key}]"), "tag is restricted");
        }
    }
    if let Some(k) = &spec.kubelet {
        let kubelet = Kubelet {
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
        common::kubelet(e, &format!("{path}.kubelet"), &kubelet);
    }
    let p = format!("{path}.blockDeviceMappings");
    common::max_items(e, &p, spec.block_device_mappings.len(), 50);
    if spec
        .block_device_mappings
        .iter()
        .filter(|m| m.root_volume)
        .count()
        > 1
    {
        e.push(&p, "must have only one blockDeviceMappings with rootVolume");
    }
    for (i, m) in spec.block_device_mappings.iter().enumerate() {
        block_device_mapping(e, &format!("{p}[{i}]"), m);
    }
    if let Some(m) = &spec.metadata_options {
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
    if let Some(n) = spec.ip_prefix_count.filter(|n| *n < 0) {
        e.push(
            format!("{path}.ipPrefixCount"),
            format!("must not be negative (got {n})"),
        );
    }
    errs.0
}

fn terms_len(e: &mut Errors, path: &str, len: usize, max: usize) {
    if len == 0 {
        e.push(path, "must not be empty");
    }
    common::max_items(e, path, len, max);
}

fn id_format(e: &mut Errors, path: &str, id: &str, prefix: &str) {
    if !is_aws_id(id, prefix) {
        e.push(
            path,
            format!("{id:?} is not a valid ID (expected {prefix}[0-9a-z]+)"),
        );
    }
}

/// Selector tags: at most 20, no empty keys or values.
fn tags(e: &mut Errors, path: &str, tags: &BTreeMap<String, String>) {
    if tags.len() > 20 {
        e.push(
            path,
            format!("must have at most 20 tags (got {})", tags.len()),
        );
    }
    common::non_empty_entries(e, path, tags);
}

const ALIAS_NAMES: &[&str] = &[
    "al2",
    "al2023",
    "bottlerocket",
    "windows2019",
    "windows2022",
    "windows2025",
];

fn ami_terms(e: &mut Errors, path: &str, spec: &EC2NodeClassSpec) {
    let p = format!("{path}.amiSelectorTerms");
    terms_len(e, &p, spec.ami_selector_terms.len(), 30);
    let has_alias = spec.ami_selector_terms.iter().any(|t| t.alias.is_some());
    if has_alias && spec.ami_selector_terms.len() != 1 {
        e.push(&p, "'alias' is mutually exclusive, cannot be set with a combination of other amiSelectorTerms");
    }
    for (i, t) in spec.ami_selector_terms.iter().enumerate() {
        ami_term(e, &format!("{p}[{i}]"), t);
    }
    match spec.alias() {
        Some((family, _)) => {
            let implied = ALIAS_FAMILIES
                .iter()
                .find(|(a, _)| *a == family)
                .map(|(_, f)| *f);
            if let (Some(implied), Some(set)) = (implied, spec.ami_family.as_deref())
                && set != implied
                && set != "Custom"
            {
                e.push(format!("{path}.amiFamily"), format!("must be {implied:?} or \"Custom\" when using an {family} alias (got {set:?})"));
            }
        }
        None if !has_alias && spec.ami_family.is_none() => {
            e.push(
                format!("{path}.amiFamily"),
                "must specify amiFamily if amiSelectorTerms does not contain an alias",
            );
        }
        None => {}
    }
}

fn ami_term(e: &mut Errors, tp: &str, t: &AMISelectorTerm) {
    let has_tags = !t.tags.is_empty();
    if t.alias.is_none()
        && !has_tags
        && t.id.is_none()
        && t.name.is_none()
        && t.ssm_parameter.is_none()
    {
        e.push(
            tp,
            "expected at least one of alias, tags, id, name, ssmParameter",
        );
    }
    if let Some(id) = &t.id {
        if t.alias.is_some() || has_tags || t.name.is_some() || t.owner.is_some() {
            e.push(
                format!("{tp}.id"),
                "cannot be combined with other fields in amiSelectorTerms",
            );
        }
        id_format(e, &format!("{tp}.id"), id, "ami-");
    }
    if let Some(alias) = &t.alias {
        let ap = format!("{tp}.alias");
        if t.id.is_some() || has_tags || t.name.is_some() || t.owner.is_some() {
            e.push(
                &ap,
                "cannot be combined with other fields in amiSelectorTerms",
            );
        }
        let well_formed = alias.len() <= 30
            && alias.split_once('@').is_some_and(|(f, v)| {
                !f.is_empty() && f.bytes().all(|c| c.is_ascii_alphanumeric()) && !v.is_empty()
            });
        match alias.split_once('@') {
            Some((family, version)) if well_formed => {
                if !ALIAS_NAMES.contains(&family) {
                    e.push(
                        &ap,
                        format!("family {family:?} is not one of {}", ALIAS_NAMES.join(", ")),
                    );
                } else if family.starts_with("windows") && version != "latest" {
                    e.push(&ap, "windows families may only specify version 'latest'");
                }
            }
            _ => e.push(
                &ap,
                format!(
                    "{alias:?} is improperly formatted, must match the format 'family@version'"
                ),
            ),
        }
    }
    tags(e, &format!("{tp}.tags"), &t.tags);
}

/// `^((?:[1-9][0-9]{0,3}|[1-4][0-9]{4}|[5][0-8][0-9]{3}|59000)Gi|(?:…|64000)G|(…|58)Ti|(…|64)T)$`:
/// a whole number of Gi (≤ 59000), G (≤ 64000), Ti (≤ 58) or T (≤ 64), at least 1.
fn is_volume_size(s: &str) -> bool {
    let limits: [(&str, u32); 4] = [("Gi", 59_000), ("Ti", 58), ("G", 64_000), ("T", 64)];
    limits.iter().any(|(suffix, max)| {
        s.strip_suffix(suffix).is_some_and(|n| {
            !n.is_empty()
                && !n.starts_with('0')
                && n.bytes().all(|c| c.is_ascii_digit())
                && n.parse::<u32>().is_ok_and(|v| v <= *max)
        })
    })
}

fn block_device_mapping(e: &mut Errors, path: &str, m: &BlockDeviceMapping) {
    let Some(ebs) = &m.ebs else { return };
    if ebs.snapshot_id.is_none() && ebs.volume_size.is_none() {
        e.push(
            format!("{path}.ebs"),
            "snapshotID or volumeSize must be defined",
        );
    }
    common::enum_value(
        e,
        &format!("{path}.ebs.volumeType"),
        ebs.volume_type.as_deref(),
        VOLUME_TYPES,
    );
    if let Some(size) = ebs.volume_size.as_ref().filter(|s| !is_volume_size(&s.0)) {
        e.push(
            format!("{path}.ebs.volumeSize"),
            format!(
                "{:?} must be a whole number of Gi, G, Ti or T between 1G and 64T",
                size.0
            ),
        );
    }
}
