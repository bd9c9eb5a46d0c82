//! Launch templates: one per distinct launch configuration (AMI, security
//! groups, instance profile, user data, metadata options, block devices,
//! tags), named after a hash of that configuration so equal configurations
//! share one template and a changed one gets a new template. Created on first
//! use, found by name afterwards, deleted when no configuration uses them.

use std::collections::{BTreeMap, BTreeSet};

use aws_sdk_ec2::types::{
    LaunchTemplateBlockDeviceMappingRequest, LaunchTemplateEbsBlockDeviceRequest,
    LaunchTemplateHttpTokensState, LaunchTemplateIamInstanceProfileSpecificationRequest,
    LaunchTemplateInstanceMetadataEndpointState, LaunchTemplateInstanceMetadataOptionsRequest,
    LaunchTemplatePlacementRequest, LaunchTemplateTagSpecificationRequest,
    RequestLaunchTemplateData, ResourceType, Tag, Tenancy, VolumeType,
};
use kerf_cloud::provider::Result;
use serde::Serialize;
use sha2::{Digest, Sha256};

use crate::error::{aws_error, bad_answer};

use crate::ownership::{OWNERSHIP_TAG, with_ownership};

/// IMDS settings; the default requires tokens (IMDSv2) with a hop limit of 1, as EC2NodeClass does.
#[derive(Clone, Debug, PartialEq, Eq, Hash, Serialize)]
pub struct Metadata {
    pub http_endpoint: String,
    pub http_tokens: String,
    pub hop_limit: i32,
}

impl Default for Metadata {
    fn default() -> Self {
        Metadata {
            http_endpoint: "enabled".to_string(),
            http_tokens: "required".to_string(),
            hop_limit: 1,
        }
    }
}

/// One EBS volume.
#[derive(Clone, Debug, PartialEq, Eq, Hash, Serialize)]
pub struct Volume {
    pub device_name: String,
    pub size_gib: Option<i32>,
    pub volume_type: Option<String>,
    pub iops: Option<i32>,
    pub throughput: Option<i32>,
    pub encrypted: Option<bool>,
    pub kms_key_id: Option<String>,
    pub snapshot_id: Option<String>,
    pub delete_on_termination: bool,
}

/// Everything a launch template fixes. Equal configs share a template.
#[derive(Clone, Debug, PartialEq, Eq, Hash, Serialize)]
pub struct LaunchConfig {
    pub cluster: String,
    pub image_id: String,
    pub security_group_ids: Vec<String>,
    pub instance_profile: Option<String>,
    /// Plain text; base64-encoded into the template.
    pub user_data: String,
    pub metadata: Metadata,
    pub volumes: Vec<Volume>,
    pub detailed_monitoring: bool,
    /// The node class's tags; kerf's ownership tags are laid over them on the
    /// template and on the network interfaces and spot requests it creates.
    pub tags: BTreeMap<String, String>,
    /// Launches from this template are spot: its spot requests are tagged too
    /// (a spot-request tag specification is only valid for spot launches).
    pub spot: bool,
    /// Placement on single-tenant hardware (`instance-tenancy: dedicated`).
    /// Left out of the name's hash when false, so the templates of default
    /// tenancy keep the names they had before tenancy was a choice.
    #[serde(skip_serializing_if = "std::ops::Not::not")]
    pub dedicated: bool,
}

impl LaunchConfig {
    /// `kerf/<cluster>/<first 16 hex digits of the config's SHA-256>`.
    pub fn template_name(&self) -> String {
        let json = serde_json::to_vec(self).unwrap_or_default();
        let digest = Sha256::digest(&json);
        let hex: String = digest.iter().take(8).map(|b| format!("{b:02x}")).collect();
        format!("kerf/{}/{hex}", self.cluster)
    }

    /// The class's tags with kerf's ownership tags over them.
    fn owned_tags(&self) -> BTreeMap<String, String> {
        with_ownership(self.tags.clone(), &self.cluster)
    }

    fn data(&self) -> RequestLaunchTemplateData {
        // CreateFleet tags the instances, volumes and the fleet it creates; what
        // the template launches beside them is tagged here.
        let mut created = vec![ResourceType::NetworkInterface];
        if self.spot {
            created.push(ResourceType::SpotInstancesRequest);
        }
        let mut data = RequestLaunchTemplateData::builder()
            .image_id(&self.image_id)
            .set_security_group_ids(Some(self.security_group_ids.clone()))
            .user_data(aws_smithy_types::base64::encode(&self.user_data))
            .monitoring(
                aws_sdk_ec2::types::LaunchTemplatesMonitoringRequest::builder()
                    .enabled(self.detailed_monitoring)
                    .build(),
            )
            .metadata_options(
                LaunchTemplateInstanceMetadataOptionsRequest::builder()
                    .http_endpoint(LaunchTemplateInstanceMetadataEndpointState::from(
                        self.metadata.http_endpoint.as_str(),
                    ))
                    .http_tokens(LaunchTemplateHttpTokensState::from(
                        self.metadata.http_tokens.as_str(),
                    ))
                    .http_put_response_hop_limit(self.metadata.hop_limit)
                    .build(),
            );
        if self.dedicated {
            data = data.placement(
                LaunchTemplatePlacementRequest::builder()
                    .tenancy(Tenancy::Dedicated)
                    .build(),
            );
        }
        if let Some(profile) = &self.instance_profile {
            data = data.iam_instance_profile(
                LaunchTemplateIamInstanceProfileSpecificationRequest::builder()
                    .name(profile)
                    .build(),
            );
        }
        for resource in created {
            data = data.tag_specifications(
                LaunchTemplateTagSpecificationRequest::builder()
                    .resource_type(resource)
                    .set_tags(Some(tags(&self.owned_tags())))
                    .build(),
            );
        }
        for v in &self.volumes {
            let ebs = LaunchTemplateEbsBlockDeviceRequest::builder()
                .set_volume_size(v.size_gib)
                .set_volume_type(v.volume_type.as_deref().map(VolumeType::from))
                .set_iops(v.iops)
                .set_throughput(v.throughput)
                .set_encrypted(v.encrypted)
                .set_kms_key_id(v.kms_key_id.clone())
                .set_snapshot_id(v.snapshot_id.clone())
                .delete_on_termination(v.delete_on_termination)
                .build();
            data = data.block_device_mappings(
                LaunchTemplateBlockDeviceMappingRequest::builder()
                    .device_name(&v.device_name)
                    .ebs(ebs)
                    .build(),
            );
        }
        data.build()
    }
}

fn tags(map: &BTreeMap<String, String>) -> Vec<Tag> {
    map.iter()
        .map(|(k, v)| Tag::builder().key(k).value(v).build())
        .collect()
}

/// The id of the template for `config`, creating it if it does not exist yet.
pub async fn ensure(ec2: &aws_sdk_ec2::Client, config: &LaunchConfig) -> Result<String> {
    let name = config.template_name();
    if let Some(id) = find(ec2, &name).await? {
        return Ok(id);
    }
    let template_tags = config.owned_tags();
    let created = ec2
        .create_launch_template()
        .launch_template_name(&name)
        .launch_template_data(config.data())
        .tag_specifications(
            aws_sdk_ec2::types::TagSpecification::builder()
                .resource_type(ResourceType::LaunchTemplate)
                .set_tags(Some(tags(&template_tags)))
                .build(),
        )
        .send()
        .await;
    match created {
        Ok(out) => out
            .launch_template()
            .and_then(|t| t.launch_template_id())
            .map(str::to_string)
            .ok_or_else(|| {
                bad_answer(
                    "CreateLaunchTemplate",
                    format!("{name}: no LaunchTemplateId"),
                )
            }),
        // Another launch created it between our look-up and create.
        Err(e)
            if crate::error::error_code(&e)
                == Some("InvalidLaunchTemplateName.AlreadyExistsException") =>
        {
            find(ec2, &name)
                .await?
                .ok_or_else(|| bad_answer("DescribeLaunchTemplates", format!("{name} vanished")))
        }
        Err(e) => Err(aws_error(format!("CreateLaunchTemplate {name}"), e)),
    }
}

/// The template's id by name, `None` when there is none.
pub async fn find(ec2: &aws_sdk_ec2::Client, name: &str) -> Result<Option<String>> {
    match ec2
        .describe_launch_templates()
        .launch_template_names(name)
        .send()
        .await
    {
        Ok(out) => Ok(out
            .launch_templates()
            .iter()
            .find_map(|t| t.launch_template_id().map(str::to_string))),
        Err(e)
            if crate::error::error_code(&e)
                .is_some_and(|c| c.starts_with("InvalidLaunchTemplateName.NotFound")) =>
        {
            Ok(None)
        }
        Err(e) => Err(aws_error(format!("DescribeLaunchTemplates {name}"), e)),
    }
}

/// Deletes the cluster's launch templates whose names are not in `in_use`; returns their names.
pub async fn delete_unused(
    ec2: &aws_sdk_ec2::Client,
    cluster: &str,
    in_use: &BTreeSet<String>,
) -> Result<Vec<String>> {
    let out = ec2
        .describe_launch_templates()
        .filters(
            aws_sdk_ec2::types::Filter::builder()
                .name(format!("tag:{OWNERSHIP_TAG}"))
                .values(cluster)
                .build(),
        )
        .send()
        .await
        .map_err(|e| aws_error("DescribeLaunchTemplates", e))?;
    let mut deleted = Vec::new();
    for t in out.launch_templates() {
        let Some(name) = t.launch_template_name() else {
            continue;
        };
        if in_use.contains(name) {
            continue;
        }
        ec2.delete_launch_template()
            .launch_template_name(name)
            .send()
            .await
            .map_err(|e| aws_error(format!("DeleteLaunchTemplate {name}"), e))?;
        deleted.push(name.to_string());
    }
    Ok(deleted)
}

#[cfg(test)]
mod tests {
    use super::*;

    fn config() -> LaunchConfig {
        LaunchConfig {
            cluster: "demo".into(),
            image_id: "ami-1".into(),
            security_group_ids: vec!["sg-1".into()],
            instance_profile: Some("KarpenterNodeInstanceProfile".into()),
            user_data: "#!/bin/bash".into(),
            metadata: Metadata::default(),
            volumes: vec![],
            detailed_monitoring: false,
            tags: BTreeMap::new(),
            spot: false,
            dedicated: false,
        }
    }

    #[test]
    fn equal_configs_share_a_name_and_changes_get_a_new_one() {
        let a = config();
        assert_eq!(a.template_name(), config().template_name());
        assert!(a.template_name().starts_with("kerf/demo/"));
        assert_eq!(a.template_name().len(), "kerf/demo/".len() + 16);
        let b = LaunchConfig {
            image_id: "ami-2".into(),
            ..config()
        };
        assert_ne!(a.template_name(), b.template_name());
        assert_eq!(Metadata::default().http_tokens, "required");
    }

    #[test]
    fn dedicated_tenancy_gets_its_own_template_and_placement() {
        let shared = config();
        let dedicated = LaunchConfig {
            dedicated: true,
            ..config()
        };
        assert_ne!(shared.template_name(), dedicated.template_name());
        assert_eq!(shared.data().placement(), None);
        let placement = dedicated.data().placement().cloned();
        assert_eq!(
            placement.and_then(|p| p.tenancy().cloned()),
            Some(Tenancy::Dedicated)
        );
    }

    #[test]
    fn default_tenancy_keeps_the_template_names_it_had_before_tenancy() {
        // The name of `config()` before `dedicated` existed: an upgrade must
        // not replace every launch template a running cluster uses.
        assert_eq!(config().template_name(), "kerf/demo/910378df7cbb0631");
    }
}
