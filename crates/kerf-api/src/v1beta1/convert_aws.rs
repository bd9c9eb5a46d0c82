//! v1beta1 ⇄ v1 conversion for EC2NodeClass, as AWS v1.0's
//! `ec2nodeclass_conversion.go` does it. Pure.
//!
//! | v1beta1 `amiFamily` | v1 |
//! |---|---|
//! | AL2, AL2023, Bottlerocket, Windows2019, Windows2022, no `amiSelectorTerms` | `amiSelectorTerms: [{alias: <family>@latest}]`, no `amiFamily` |
//! | the same, with terms | the terms and the `amiFamily` |
//! | Ubuntu | `amiFamily: AL2` (same user data), Ubuntu's root volume when no block device mappings are given, an `ami-placeholder` term when no terms are given (the class is then unusable, as upstream marks it), recorded in [`UBUNTU_COMPATIBILITY_ANNOTATION`] |
//! | Custom (or anything else) | `amiFamily: Custom` |
//!
//! Going back, `amiFamily` comes from the annotation, `amiFamily` or the
//! alias; alias terms and v1's `kubelet` (which v1beta1 keeps in the NodePool)
//! are dropped, as upstream drops them.

use k8s_openapi::apimachinery::pkg::api::resource::Quantity;

use super::convert::ConversionError;
use super::{AMISelectorTerm, Ami, EC2NodeClass, EC2NodeClassSpec, EC2NodeClassStatus};
use crate::v1;

/// Records what the Ubuntu → AL2 conversion changed, comma-separated:
/// `amiFamily`, `blockDeviceMappings`, `incompatible`.
pub const UBUNTU_COMPATIBILITY_ANNOTATION: &str = "compatibility.karpenter.k8s.aws/v1beta1-ubuntu";
const UBUNTU_AMI_FAMILY: &str = "amiFamily";
const UBUNTU_BLOCK_DEVICES: &str = "blockDeviceMappings";
const UBUNTU_INCOMPATIBLE: &str = "incompatible";

/// Families that become an alias when no AMI terms are given.
const ALIASED: &[&str] = &[
    "AL2",
    "AL2023",
    "Bottlerocket",
    "Windows2019",
    "Windows2022",
];

fn ami_terms_to_v1(terms: &[AMISelectorTerm]) -> Vec<v1::AMISelectorTerm> {
    terms
        .iter()
        .map(|t| v1::AMISelectorTerm {
            tags: t.tags.clone(),
            id: t.id.clone(),
            name: t.name.clone(),
            owner: t.owner.clone(),
            ..Default::default()
        })
        .collect()
}

/// Ubuntu's default root volume, which AL2's defaults would not give.
fn ubuntu_root_volume() -> v1::BlockDeviceMapping {
    v1::BlockDeviceMapping {
        device_name: Some("/dev/sda1".to_string()),
        ebs: Some(v1::BlockDevice {
            encrypted: Some(true),
            volume_type: Some("gp3".to_string()),
            volume_size: Some(Quantity("20Gi".to_string())),
            ..Default::default()
        }),
        root_volume: true,
    }
}

/// v1beta1 EC2NodeClass → v1 (upstream `EC2NodeClass.ConvertFrom`). Expects
/// the v1beta1 defaults to be set ([`EC2NodeClass::set_defaults`]).
pub fn ec2_node_class_to_v1(nc: &EC2NodeClass) -> v1::EC2NodeClass {
    let s = &nc.spec;
    let mut metadata = nc.metadata.clone();
    let family = s.ami_family.as_deref().unwrap_or_default();
    let mut ami_family = None;
    let mut ami_selector_terms = ami_terms_to_v1(&s.ami_selector_terms);
    let mut block_device_mappings = s.block_device_mappings.clone();
    if ALIASED.contains(&family) {
        if s.ami_selector_terms.is_empty() {
            ami_selector_terms = vec![v1::AMISelectorTerm {
                alias: Some(format!("{}@latest", family.to_lowercase())),
                ..Default::default()
            }];
        } else {
            ami_family = Some(family.to_string());
        }
    } else if family == "Ubuntu" {
        let mut changed = vec![UBUNTU_AMI_FAMILY];
        ami_family = Some("AL2".to_string());
        if block_device_mappings.is_empty() {
            changed.push(UBUNTU_BLOCK_DEVICES);
            block_device_mappings = vec![ubuntu_root_volume()];
        }
        if s.ami_selector_terms.is_empty() {
            changed.push(UBUNTU_INCOMPATIBLE);
            ami_selector_terms = vec![v1::AMISelectorTerm {
                id: Some("ami-placeholder".to_string()),
                ..Default::default()
            }];
        }
        metadata
            .annotations
            .get_or_insert_with(Default::default)
            .insert(
                UBUNTU_COMPATIBILITY_ANNOTATION.to_string(),
                changed.join(","),
            );
    } else {
        ami_family = Some("Custom".to_string());
    }
    v1::EC2NodeClass {
        metadata,
        spec: v1::EC2NodeClassSpec {
            subnet_selector_terms: s.subnet_selector_terms.clone(),
            security_group_selector_terms: s.security_group_selector_terms.clone(),
            associate_public_ip_address: s.associate_public_ip_address,
            ami_selector_terms,
            ami_family,
            user_data: s.user_data.clone(),
            role: s.role.clone(),
            instance_profile: s.instance_profile.clone(),
            tags: s.tags.clone(),
            block_device_mappings,
            instance_store_policy: s.instance_store_policy,
            detailed_monitoring: s.detailed_monitoring,
            metadata_options: s.metadata_options.clone(),
            context: s.context.clone(),
            ..Default::default()
        },
        status: nc.status.as_ref().map(|st| v1::EC2NodeClassStatus {
            subnets: st.subnets.clone(),
            security_groups: st.security_groups.clone(),
            amis: st
                .amis
                .iter()
                .map(|a| v1::Ami {
                    id: a.id.clone(),
                    name: a.name.clone(),
                    deprecated: false,
                    requirements: a.requirements.clone(),
                })
                .collect(),
            instance_profile: st.instance_profile.clone(),
            conditions: st.conditions.clone(),
            ..Default::default()
        }),
    }
}

/// v1 EC2NodeClass → v1beta1 (upstream `EC2NodeClass.ConvertTo`).
pub fn ec2_node_class_from_v1(nc: &v1::EC2NodeClass) -> Result<EC2NodeClass, ConversionError> {
    let s = &nc.spec;
    let mut metadata = nc.metadata.clone();
    let ubuntu = metadata
        .annotations
        .as_mut()
        .and_then(|a| a.remove(UBUNTU_COMPATIBILITY_ANNOTATION));
    if metadata.annotations.as_ref().is_some_and(|a| a.is_empty()) {
        metadata.annotations = None;
    }
    let mut ami_terms = &s.ami_selector_terms[..];
    let mut block_device_mappings = s.block_device_mappings.clone();
    let ami_family = match &ubuntu {
        Some(changed) => {
            let changed: Vec<&str> = changed.split(',').collect();
            if changed.contains(&UBUNTU_INCOMPATIBLE) {
                ami_terms = &[];
            }
            if changed.contains(&UBUNTU_BLOCK_DEVICES) {
                block_device_mappings.clear();
            }
            "Ubuntu".to_string()
        }
        None => s.effective_ami_family().unwrap_or("Custom").to_string(),
    };
    let mut ami_selector_terms = Vec::new();
    for (i, t) in ami_terms.iter().enumerate() {
        if t.alias.is_some() {
            continue;
        }
        if t.ssm_parameter.is_some() {
            return Err(ConversionError::new(
                "EC2NodeClass",
                nc.metadata.name.as_deref(),
                format!("spec.amiSelectorTerms[{i}].ssmParameter"),
                "has no v1beta1 form",
            ));
        }
        ami_selector_terms.push(AMISelectorTerm {
            tags: t.tags.clone(),
            id: t.id.clone(),
            name: t.name.clone(),
            owner: t.owner.clone(),
        });
    }
    Ok(EC2NodeClass {
        metadata,
        spec: EC2NodeClassSpec {
            subnet_selector_terms: s.subnet_selector_terms.clone(),
            security_group_selector_terms: s.security_group_selector_terms.clone(),
            associate_public_ip_address: s.associate_public_ip_address,
            ami_selector_terms,
            ami_family: Some(ami_family),
            user_data: s.user_data.clone(),
            role: s.role.clone(),
            instance_profile: s.instance_profile.clone(),
            tags: s.tags.clone(),
            block_device_mappings,
            instance_store_policy: s.instance_store_policy,
            detailed_monitoring: s.detailed_monitoring,
            metadata_options: s.metadata_options.clone(),
            context: s.context.clone(),
        },
        status: nc.status.as_ref().map(|st| EC2NodeClassStatus {
            subnets: st.subnets.clone(),
            security_groups: st.security_groups.clone(),
            amis: st
                .amis
                .iter()
                .map(|a| Ami {
                    id: a.id.clone(),
                    name: a.name.clone(),
                    requirements: a.requirements.clone(),
                })
                .collect(),
            instance_profile: st.instance_profile.clone(),
            conditions: st.conditions.clone(),
        }),
    })
}
