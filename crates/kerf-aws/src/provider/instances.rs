//! Reading instances back: DescribeInstances (by id, or everything tagged for
//! the cluster) into [`InstanceInfo`], an instance as a launched NodeClaim,
//! and drift of an instance against its node class's resolution.

use std::collections::BTreeMap;
use std::time::SystemTime;

use aws_sdk_ec2::types::{Filter, InstanceLifecycleType, InstanceStateName};
use kerf_api::v1::{NodeClaim, NodeClaimSpec, NodeClaimStatus, NodeClassReference};
use kerf_cloud::labels;
use kerf_cloud::provider::Result;
use kerf_cloud::provider::quantity::to_quantities;
use kerf_core::instance_type::{CAPACITY_TYPE_ON_DEMAND, CAPACITY_TYPE_SPOT};

use super::{AwsCloudProvider, format_provider_id};
use crate::discovery::network::tag_map;
use crate::error::{aws_error, bad_answer};
use crate::nodeclass::Resolution;
use crate::ownership::{OWNERSHIP_TAG, is_owned};

/// Tag naming the claim an instance was launched for.
pub const NODECLAIM_TAG: &str = "karpenter.sh/nodeclaim";
/// Tag naming the node class an instance was launched from.
pub const NODECLASS_TAG: &str = "karpenter.k8s.aws/ec2nodeclass";

/// Which instances to describe.
#[derive(Clone, Debug)]
pub enum Query {
    Ids(Vec<String>),
    /// Every instance kerf launched for the cluster: its ownership tag
    /// ([`crate::ownership::OWNERSHIP_TAG`]), not the `kubernetes.io/cluster`
    /// tag node groups carry too.
    Owned,
}

/// The parts of an instance kerf uses.
#[derive(Clone, Debug, PartialEq)]
pub struct InstanceInfo {
    pub id: String,
    pub instance_type: String,
    pub zone: String,
    pub state: String,
    pub capacity_type: String,
    pub image_id: Option<String>,
    pub subnet_id: Option<String>,
    pub security_group_ids: Vec<String>,
    pub launch_time: Option<SystemTime>,
    pub tags: BTreeMap<String, String>,
}

impl InstanceInfo {
    /// Not terminated or on its way there.
    pub fn is_live(&self) -> bool {
        !matches!(self.state.as_str(), "shutting-down" | "terminated")
    }

    pub fn provider_id(&self) -> String {
        format_provider_id(&self.zone, &self.id)
    }

    /// Whether kerf launched it for `cluster` (see [`crate::ownership`]).
    pub fn is_owned_by(&self, cluster: &str) -> bool {
        is_owned(&self.tags, cluster)
    }
}

pub async fn describe(p: &AwsCloudProvider, query: Query) -> Result<Vec<InstanceInfo>> {
    let mut call = p.clients().ec2.describe_instances();
    call = match &query {
        // A filter, not InstanceIds: one id that is gone must not fail the
        // whole call and hide the others.
        Query::Ids(ids) => call.filters(
            Filter::builder()
                .name("instance-id")
                .set_values(Some(ids.clone()))
                .build(),
        ),
        Query::Owned => call.filters(
            Filter::builder()
                .name(format!("tag:{OWNERSHIP_TAG}"))
                .values(&p.settings.cluster.name)
                .build(),
        ),
    };
    let mut pages = call.into_paginator().send();
    let mut out = Vec::new();
    while let Some(page) = pages.next().await {
        let page = match page {
            Ok(page) => page,
            Err(e) if crate::error::error_code(&e) == Some("InvalidInstanceID.NotFound") => {
                return Ok(vec![]);
            }
            Err(e) => return Err(aws_error("DescribeInstances", e)),
        };
        for r in page.reservations() {
            for i in r.instances() {
                let id = i.instance_id().ok_or_else(|| {
                    bad_answer("DescribeInstances", "an instance lacks InstanceId")
                })?;
                let field = |f: &str| {
                    bad_answer(
                        "DescribeInstances",
                        format!("instance {id}: {f} is missing"),
                    )
                };
                out.push(InstanceInfo {
                    id: id.to_string(),
                    instance_type: i
                        .instance_type()
                        .ok_or_else(|| field("InstanceType"))?
                        .as_str()
                        .to_string(),
                    zone: i
                        .placement()
                        .and_then(|pl| pl.availability_zone())
                        .ok_or_else(|| field("Placement.AvailabilityZone"))?
                        .to_string(),
                    state: i
                        .state()
                        .and_then(|s| s.name())
                        .map_or("unknown", InstanceStateName::as_str)
                        .to_string(),
                    capacity_type: match i.instance_lifecycle() {
                        Some(InstanceLifecycleType::Spot) => CAPACITY_TYPE_SPOT,
                        _ => CAPACITY_TYPE_ON_DEMAND,
                    }
                    .to_string(),
                    image_id: i.image_id().map(str::to_string),
                    subnet_id: i.subnet_id().map(str::to_string),
                    security_group_ids: i
                        .security_groups()
                        .iter()
                        .filter_map(|g| g.group_id().map(str::to_string))
                        .collect(),
                    launch_time: i.launch_time().and_then(|t| SystemTime::try_from(*t).ok()),
                    tags: tag_map(i.tags()),
                });
            }
        }
    }
    Ok(out)
}

/// An instance as the launched claim it stands for: name and pool from its tags,
/// labels, capacity and allocatable from its instance type under its class.
pub async fn claim_of(p: &AwsCloudProvider, i: &InstanceInfo) -> Result<NodeClaim> {
    let class_name = i.tags.get(NODECLASS_TAG).cloned().unwrap_or_default();
    let mut claim = NodeClaim::new(
        i.tags
            .get(NODECLAIM_TAG)
            .map_or(i.id.as_str(), String::as_str),
        NodeClaimSpec {
            node_class_ref: NodeClassReference {
                group: "karpenter.k8s.aws".to_string(),
                kind: "EC2NodeClass".to_string(),
                name: class_name.clone(),
            },
            ..Default::default()
        },
    );
    // The launch time ages the instance for garbage collection's grace period.
    claim.metadata.creation_timestamp = i
        .launch_time
        .and_then(|t| k8s_openapi::jiff::Timestamp::try_from(t).ok())
        .map(k8s_openapi::apimachinery::pkg::apis::meta::v1::Time);
    let mut node_labels = BTreeMap::new();
    let mut status = NodeClaimStatus {
        provider_id: Some(i.provider_id()),
        image_id: i.image_id.clone(),
        ..Default::default()
    };
    // The instance type's shape under the class's kubelet, if the class is still known.
    if let Ok((class, resolution)) = p.resolve_node_class(&class_name).await {
        let kubelet = p.kubelet_for(&class)?;
        let types = p.types_for(&resolution, &kubelet).await?;
        if let Some(it) = types.iter().find(|t| t.name == i.instance_type) {
            node_labels.extend(it.labels.clone());
            status.capacity = to_quantities(&it.capacity);
            status.allocatable = to_quantities(it.allocatable());
        }
        if let Some(id) = super::launch::zone_id(&resolution.subnets, &i.zone) {
            node_labels.insert(labels::ZONE_ID.to_string(), id.to_string());
        }
    }
    node_labels.insert(labels::INSTANCE_TYPE.to_string(), i.instance_type.clone());
    node_labels.insert(labels::ZONE.to_string(), i.zone.clone());
    node_labels.insert(labels::CAPACITY_TYPE.to_string(), i.capacity_type.clone());
    for key in [labels::NODEPOOL, kerf_api::labels::PROVISIONER_NAME] {
        if let Some(v) = i.tags.get(key) {
            node_labels.insert(key.to_string(), v.clone());
        }
    }
    claim.metadata.labels = Some(node_labels);
    claim.status = Some(status);
    Ok(claim)
}

/// Why an instance no longer matches its class's resolution, if it does not.
pub fn drift(i: &InstanceInfo, r: &Resolution) -> Option<String> {
    if let Some(image) = &i.image_id
        && !r.amis.is_empty()
        && !r.amis.iter().any(|a| &a.id == image)
    {
        return Some(format!("AMIDrift: image {image} is no longer selected"));
    }
    if let Some(subnet) = &i.subnet_id
        && !r.subnets.is_empty()
        && !r.subnets.iter().any(|s| &s.id == subnet)
    {
        return Some(format!(
            "SubnetDrift: subnet {subnet} is no longer selected"
        ));
    }
    let mut have = i.security_group_ids.clone();
    have.sort();
    let want: Vec<String> = r.security_groups.iter().map(|g| g.id.clone()).collect();
    if !have.is_empty() && !want.is_empty() && have != want {
        return Some(format!(
            "SecurityGroupDrift: instance has {have:?}, class selects {want:?}"
        ));
    }
    None
}
