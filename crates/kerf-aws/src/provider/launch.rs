//! `create`: from a NodeClaim to a running instance. The claim's requirements
//! and requests pick the compatible instance types (the shared
//! `choose_launch` decides whether anything is launchable at all), the
//! capacity type is spot when the claim allows it and spot is offered, up to
//! 60 types cheapest first become fleet overrides in the best subnet of each
//! zone, grouped by launch template (one per AMI). Offerings the fleet reports
//! without capacity are cached as unavailable; the next attempt routes around them.

use std::collections::{BTreeMap, BTreeSet};
use std::sync::Arc;

use kerf_api::v1::{EC2NodeClass, NodeClaim, NodeClaimStatus};
use kerf_cloud::labels;
use kerf_cloud::provider::quantity::to_quantities;
use kerf_cloud::provider::{
    NoLaunch, Result, choose_launch, claim_name, claim_requests, claim_requirements,
    launch::is_compatible,
};
use kerf_cloud::unavailable::with_availability;
use kerf_cloud::{CloudError, OfferingKey};
use kerf_core::instance_type::{CAPACITY_TYPE_ON_DEMAND, CAPACITY_TYPE_SPOT, InstanceType};
use kerf_core::requirements::Requirements;

use super::instances::{NODECLAIM_TAG, NODECLASS_TAG};
use super::{AwsCloudProvider, format_provider_id};
use crate::discovery::images::AmiFamily;
use crate::discovery::network::best_subnet_per_zone;
use crate::launch::fleet::{self, FleetRequest, MAX_INSTANCE_TYPES, Override, TemplateOverrides};
use crate::launch::template::{self, LaunchConfig, Metadata, Volume};
use crate::launch::user_data::{NodeBootstrap, user_data};
use crate::nodeclass::{self, Resolution};

/// Spot when the requirements allow it and a compatible type offers it, else on-demand.
pub fn capacity_type(requirements: &Requirements, types: &[&InstanceType]) -> &'static str {
    let spot_offered = types.iter().any(|t| {
        t.offerings_for(requirements)
            .any(|o| o.capacity_type == CAPACITY_TYPE_SPOT)
    });
    if spot_offered {
        CAPACITY_TYPE_SPOT
    } else {
        CAPACITY_TYPE_ON_DEMAND
    }
}

/// Dedicated when the requirements rule default tenancy out, else default
/// (Karpenter's `getTenancyType`).
pub fn dedicated_tenancy(requirements: &Requirements) -> bool {
    requirements
        .get(labels::INSTANCE_TENANCY)
        .is_some_and(|r| !r.has(labels::TENANCY_DEFAULT))
}

/// Compatible types with their cheapest allowed price for the capacity type, cheapest first, at most 60.
pub fn ranked_types<'a>(
    requirements: &Requirements,
    types: &[&'a InstanceType],
    capacity_type: &str,
) -> Vec<(&'a InstanceType, f64)> {
    let mut out: Vec<(&InstanceType, f64)> = types
        .iter()
        .filter_map(|t| {
            let price = t
                .offerings_for(requirements)
                .filter(|o| o.capacity_type == capacity_type)
                .map(|o| o.price)
                .min_by(f64::total_cmp)?;
            Some((*t, price))
        })
        .collect();
    out.sort_by(|a, b| a.1.total_cmp(&b.1).then_with(|| a.0.name.cmp(&b.0.name)));
    out.truncate(MAX_INSTANCE_TYPES);
    out
}

fn volumes(class: &EC2NodeClass, family: AmiFamily) -> Vec<Volume> {
    let mapped: Vec<Volume> = class
        .spec
        .block_device_mappings
        .iter()
        .filter_map(|m| {
            let ebs = m.ebs.as_ref()?;
            Some(Volume {
                device_name: m
                    .device_name
                    .clone()
                    .unwrap_or_else(|| "/dev/xvda".to_string()),
                size_gib: ebs
                    .volume_size
                    .as_ref()
                    .and_then(|q| kerf_api::quantity::parse_milli(&q.0).ok())
                    .map(|milli| ((milli / 1000 + (1 << 30) - 1) >> 30) as i32),
                volume_type: ebs.volume_type.clone(),
                iops: ebs.iops.map(|v| v as i32),
                throughput: ebs.throughput.map(|v| v as i32),
                encrypted: ebs.encrypted,
                kms_key_id: ebs.kms_key_id.clone(),
                snapshot_id: ebs.snapshot_id.clone(),
                delete_on_termination: ebs.delete_on_termination.unwrap_or(true),
            })
        })
        .collect();
    if !mapped.is_empty() {
        return mapped;
    }
    let volume = |device: &str, gib: i32| Volume {
        device_name: device.to_string(),
        size_gib: Some(gib),
        volume_type: Some("gp3".to_string()),
        iops: None,
        throughput: None,
        encrypted: Some(true),
        kms_key_id: None,
        snapshot_id: None,
        delete_on_termination: true,
    };
    match family {
        AmiFamily::Bottlerocket => vec![volume("/dev/xvda", 4), volume("/dev/xvdb", 20)],
        AmiFamily::Custom => vec![],
        _ => {
            let gib = nodeclass::storage::default_volume_bytes(family) >> 30;
            vec![volume(
                nodeclass::storage::ephemeral_device(family),
                gib as i32,
            )]
        }
    }
}

fn metadata(class: &EC2NodeClass) -> Metadata {
    let d = Metadata::default();
    let Some(m) = &class.spec.metadata_options else {
        return d;
    };
    Metadata {
        http_endpoint: m.http_endpoint.clone().unwrap_or(d.http_endpoint),
        http_tokens: m.http_tokens.clone().unwrap_or(d.http_tokens),
        hop_limit: m
            .http_put_response_hop_limit
            .map_or(d.hop_limit, |h| h as i32),
    }
}

fn taint_strings(taints: &[k8s_openapi::api::core::v1::Taint]) -> Vec<String> {
    taints
        .iter()
        .map(|t| match &t.value {
            Some(v) => format!("{}={v}:{}", t.key, t.effect),
            None => format!("{}:{}", t.key, t.effect),
        })
        .collect()
}

/// The instance tags for a claim: the class's tags, then pool, claim, class, `Name` and
/// kerf's ownership tags (which win over any class tag of the same key).
pub fn instance_tags(
    cluster: &str,
    claim: &NodeClaim,
    class: &EC2NodeClass,
) -> BTreeMap<String, String> {
    let name = claim_name(claim).to_string();
    let mut tags = class.spec.tags.clone();
    tags.insert(NODECLAIM_TAG.to_string(), name.clone());
    tags.insert(
        NODECLASS_TAG.to_string(),
        claim.spec.node_class_ref.name.clone(),
    );
    tags.insert("Name".to_string(), name);
    let claim_labels = claim.metadata.labels.clone().unwrap_or_default();
    for key in [labels::NODEPOOL, kerf_api::labels::PROVISIONER_NAME] {
        if let Some(v) = claim_labels.get(key) {
            tags.insert(key.to_string(), v.clone());
        }
    }
    crate::ownership::with_ownership(tags, cluster)
}

pub async fn create(p: &AwsCloudProvider, claim: &NodeClaim) -> Result<NodeClaim> {
    let name = claim_name(claim).to_string();
    let class_name = &claim.spec.node_class_ref.name;
    let requirements = claim_requirements(claim)?;
    let requests = claim_requests(claim)?;
    let (class, resolution) = p.resolve_node_class(class_name).await?;
    let not_ready = |what: &str| {
        CloudError::invalid_claim(
            &name,
            format!("EC2NodeClass {class_name} selects no {what}"),
        )
    };
    if resolution.subnets.is_empty() {
        return Err(not_ready("subnets"));
    }
    if resolution.security_groups.is_empty() {
        return Err(not_ready("security groups"));
    }
    if resolution.amis.is_empty() {
        return Err(not_ready("AMIs"));
    }
    let kubelet = p.kubelet_for(&class)?;
    // Compatibility is judged on the types as sold; availability only removes offerings.
    let base = p.base_types_for(&resolution, &kubelet).await?;
    // One snapshot of the cache for both the marking and the choice.
    let unavailable: BTreeSet<OfferingKey> = p.unavailable_offerings().into_iter().collect();
    let all_types = with_availability(&base, |k| unavailable.contains(k));
    match choose_launch(
        &requirements,
        &requests,
        base.iter().map(Arc::as_ref),
        |k| unavailable.contains(k),
    ) {
        Ok(_) => {}
        Err(NoLaunch::NoCompatibleType) => {
            return Err(CloudError::invalid_claim(
                &name,
                "no instance type satisfies the requirements and holds the requests",
            ));
        }
        Err(NoLaunch::AllUnavailable(offerings)) => {
            return Err(CloudError::InsufficientCapacity { offerings });
        }
    }
    let compatible: Vec<&InstanceType> = base
        .iter()
        .zip(&all_types)
        .filter(|(b, _)| is_compatible(&requirements, &requests, b))
        .map(|(_, marked)| marked.as_ref())
        .collect();
    let capacity = capacity_type(&requirements, &compatible);
    let ranked = ranked_types(&requirements, &compatible, capacity);
    let subnets = best_subnet_per_zone(&resolution.subnets);

    let request = fleet_request(
        p,
        claim,
        &class,
        &resolution,
        &requirements,
        &ranked,
        capacity,
        &subnets,
        &kubelet,
    )
    .await?;
    let (request, outcome) = fleet::send(&p.clients().ec2, request).await?;
    p.mark_unavailable(&outcome.unavailable);
    let (instance, extras) = outcome.take_one();
    let Some(instance) = instance.cloned() else {
        if !outcome.unavailable.is_empty() {
            return Err(CloudError::InsufficientCapacity {
                offerings: outcome.unavailable,
            });
        }
        return Err(CloudError::other(
            format!("CreateFleet for nodeclaim {name}"),
            format!("no instance launched: {}", outcome.errors.join("; ")),
        ));
    };
    // A fleet for one instance that returns more must not leak the extras. If
    // terminating them fails the launch still stands: the claim names only
    // its own instance, so garbage collection takes the extras.
    if !extras.is_empty() {
        tracing::warn!(claim = %name, ?extras, "fleet launched more than one instance; terminating the extras");
        if let Err(e) = p.terminate(&extras).await {
            tracing::warn!(claim = %name, ?extras, error = %e, "terminating extra fleet instances; garbage collection will");
        }
    }
    let zone = match &instance.zone {
        Some(z) => z.clone(),
        None => super::instances::describe(
            p,
            super::instances::Query::Ids(vec![instance.instance_id.clone()]),
        )
        .await?
        .first()
        .map(|i| i.zone.clone())
        .ok_or_else(|| CloudError::not_found(format!("instance {}", instance.instance_id)))?,
    };
    let it = all_types
        .iter()
        .find(|t| t.name == instance.instance_type)
        .ok_or_else(|| {
            CloudError::other(
                "CreateFleet",
                format!(
                    "launched unknown instance type {:?}",
                    instance.instance_type
                ),
            )
        })?;
    let image = nodeclass::image_for(&resolution.amis, it).map(|a| a.id.clone());
    tracing::info!(claim = %name, instance = %instance.instance_id, instance_type = %it.name, %zone, capacity_type = %instance.capacity_type, templates = request.configs.len(), "launched");
    let mut out = claim.clone();
    let claim_labels = out.metadata.labels.get_or_insert_with(Default::default);
    claim_labels.extend(it.launch_labels(&requirements));
    claim_labels.insert(labels::ZONE.to_string(), zone.clone());
    if let Some(id) = zone_id(&resolution.subnets, &zone) {
        claim_labels.insert(labels::ZONE_ID.to_string(), id.to_string());
    }
    claim_labels.insert(
        labels::CAPACITY_TYPE.to_string(),
        instance.capacity_type.clone(),
    );
    let annotations = out
        .metadata
        .annotations
        .get_or_insert_with(Default::default);
    annotations.insert(
        nodeclass::hash::HASH_ANNOTATION.to_string(),
        nodeclass::hash::static_hash(
            &class.spec,
            resolution.family,
            &p.settings.cluster.ca_bundle,
        ),
    );
    annotations.insert(
        nodeclass::hash::HASH_VERSION_ANNOTATION.to_string(),
        nodeclass::hash::HASH_VERSION.to_string(),
    );
    let status = out.status.get_or_insert_with(NodeClaimStatus::default);
    status.provider_id = Some(format_provider_id(&zone, &instance.instance_id));
    status.image_id = image;
    status.capacity = to_quantities(&it.capacity);
    status.allocatable = to_quantities(it.allocatable());
    Ok(out)
}

#[allow(clippy::too_many_arguments)]
async fn fleet_request(
    p: &AwsCloudProvider,
    claim: &NodeClaim,
    class: &EC2NodeClass,
    resolution: &Resolution,
    requirements: &Requirements,
    ranked: &[(&InstanceType, f64)],
    capacity: &str,
    subnets: &BTreeMap<String, crate::discovery::network::SubnetInfo>,
    kubelet: &kerf_core::template::KubeletSettings,
) -> Result<FleetRequest> {
    let cluster = &p.settings.cluster;
    let mut node_labels: BTreeMap<String, String> =
        claim.metadata.labels.clone().unwrap_or_default();
    node_labels.insert(labels::CAPACITY_TYPE.to_string(), capacity.to_string());
    let dedicated = dedicated_tenancy(requirements);
    node_labels.insert(
        labels::INSTANCE_TENANCY.to_string(),
        if dedicated {
            labels::TENANCY_DEDICATED
        } else {
            labels::TENANCY_DEFAULT
        }
        .to_string(),
    );
    let mut taints = taint_strings(&claim.spec.taints);
    taints.extend(taint_strings(&claim.spec.startup_taints));
    let bootstrap = NodeBootstrap {
        labels: node_labels,
        taints,
        max_pods: kubelet.max_pods,
        raid0: resolution.storage.raid0,
    };
    let tags = instance_tags(&cluster.name, claim, class);
    // The same for every instance type; a node class whose user data cannot be
    // merged fails the claim instead of launching nodes that cannot boot.
    let node_user_data = user_data(
        resolution.family,
        cluster,
        &bootstrap,
        class.spec.user_data.as_deref(),
    )
    .map_err(|e| {
        CloudError::invalid_claim(
            claim_name(claim),
            format!("EC2NodeClass {}: {e}", claim.spec.node_class_ref.name),
        )
    })?;
    let instance_profile = p.instance_profile(class).await?;
    let mut by_template: BTreeMap<String, TemplateOverrides> = BTreeMap::new();
    for (it, _) in ranked {
        let Some(ami) = nodeclass::image_for(&resolution.amis, it) else {
            continue;
        };
        let config = LaunchConfig {
            cluster: cluster.name.clone(),
            image_id: ami.id.clone(),
            security_group_ids: resolution
                .security_groups
                .iter()
                .map(|g| g.id.clone())
                .collect(),
            instance_profile: instance_profile.clone(),
            user_data: node_user_data.clone(),
            metadata: metadata(class),
            volumes: volumes(class, resolution.family),
            detailed_monitoring: class.spec.detailed_monitoring.unwrap_or(false),
            // The class's tags only: claim-specific tags would defeat template reuse.
            tags: class.spec.tags.clone(),
            spot: capacity == CAPACITY_TYPE_SPOT,
            dedicated,
        };
        let template_name = config.template_name();
        if !by_template.contains_key(&template_name) {
            template::ensure(&p.clients().ec2, &config).await?;
        }
        let entry = by_template
            .entry(template_name.clone())
            .or_insert_with(|| TemplateOverrides {
                launch_template_name: template_name,
                overrides: vec![],
            });
        for o in it
            .offerings_for(requirements)
            .filter(|o| o.capacity_type == capacity)
        {
            let Some(subnet) = subnets.get(&o.zone) else {
                continue;
            };
            entry.overrides.push(Override {
                instance_type: it.name.clone(),
                subnet_id: subnet.id.clone(),
                zone: o.zone.clone(),
                price: o.price,
            });
        }
    }
    let request = FleetRequest {
        capacity_type: capacity.to_string(),
        configs: by_template
            .into_values()
            .filter(|c| !c.overrides.is_empty())
            .collect(),
        tags,
    };
    if request.configs.is_empty() {
        let offerings: Vec<OfferingKey> = p.unavailable_offerings();
        return Err(CloudError::InsufficientCapacity { offerings });
    }
    Ok(request)
}

/// The zone ID of the class's subnets in `zone` (upstream `cloudprovider.go`
/// `instanceToNodeClaim`: the EC2NodeClass status subnet of the instance's zone).
pub(crate) fn zone_id<'s>(
    subnets: &'s [crate::discovery::network::SubnetInfo],
    zone: &str,
) -> Option<&'s str> {
    subnets
        .iter()
        .filter(|s| s.zone == zone)
        .find_map(|s| s.zone_id.as_deref())
}
