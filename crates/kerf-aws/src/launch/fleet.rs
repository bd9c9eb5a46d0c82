//! CreateFleet: the request for one claim (type `instant`, one instance,
//! overrides for up to 60 instance types × the claim's subnets, lowest-price
//! for on-demand and price-capacity-optimized for spot, tags on the instance
//! and its volumes) and the reading of its answer into launched instances and
//! offerings to mark unavailable. Both are pure; [`send`] is the one call.

use std::collections::BTreeMap;

use aws_sdk_ec2::operation::create_fleet::CreateFleetOutput;
use aws_sdk_ec2::types::{
    DefaultTargetCapacityType, FleetLaunchTemplateConfigRequest,
    FleetLaunchTemplateOverridesRequest, FleetLaunchTemplateSpecificationRequest,
    FleetOnDemandAllocationStrategy, FleetType, InstanceLifecycle, InstanceType,
    OnDemandOptionsRequest, ResourceType, SpotAllocationStrategy, SpotOptionsRequest, Tag,
    TagSpecification, TargetCapacitySpecificationRequest,
};
use kerf_cloud::OfferingKey;
use kerf_cloud::provider::Result;
use kerf_core::instance_type::{CAPACITY_TYPE_ON_DEMAND, CAPACITY_TYPE_SPOT};

use crate::error::aws_error;

/// Karpenter's cap on instance types per fleet request.
pub const MAX_INSTANCE_TYPES: usize = 60;

/// Fleet error codes that mean "no capacity for this offering now".
pub const UNFULFILLABLE_CODES: &[&str] = &[
    "InsufficientInstanceCapacity",
    "MaxSpotInstanceCountExceeded",
    "VcpuLimitExceeded",
    "UnfulfillableCapacity",
    "Unsupported",
    "InsufficientFreeAddressesInSubnet",
    "ReservationCapacityExceeded",
];

/// One instance type in one subnet, with the price it is ranked by.
#[derive(Clone, Debug, PartialEq)]
pub struct Override {
    pub instance_type: String,
    pub subnet_id: String,
    pub zone: String,
    pub price: f64,
}

/// The overrides that use one launch template.
#[derive(Clone, Debug, PartialEq)]
pub struct TemplateOverrides {
    pub launch_template_name: String,
    pub overrides: Vec<Override>,
}

/// A whole fleet request.
#[derive(Clone, Debug, PartialEq)]
pub struct FleetRequest {
    pub capacity_type: String,
    pub configs: Vec<TemplateOverrides>,
    pub tags: BTreeMap<String, String>,
}

impl FleetRequest {
    /// Configs and their overrides cheapest first: EC2 uses the order as
    /// priority, and so does moto, which launches the first override.
    pub fn sorted(mut self) -> Self {
        for c in &mut self.configs {
            c.overrides.sort_by(|a, b| {
                a.price
                    .total_cmp(&b.price)
                    .then_with(|| a.instance_type.cmp(&b.instance_type))
                    .then_with(|| a.zone.cmp(&b.zone))
            });
        }
        let cheapest =
            |c: &TemplateOverrides| c.overrides.first().map_or(f64::INFINITY, |o| o.price);
        self.configs.sort_by(|a, b| {
            cheapest(a)
                .total_cmp(&cheapest(b))
                .then_with(|| a.launch_template_name.cmp(&b.launch_template_name))
        });
        self
    }

    /// The zone of a subnet named in an override.
    pub fn zone_of(&self, subnet_id: &str) -> Option<&str> {
        self.configs
            .iter()
            .flat_map(|c| &c.overrides)
            .find(|o| o.subnet_id == subnet_id)
            .map(|o| o.zone.as_str())
    }

    fn zones_of(&self, instance_type: &str) -> Vec<&str> {
        let mut zones: Vec<&str> = self
            .configs
            .iter()
            .flat_map(|c| &c.overrides)
            .filter(|o| o.instance_type == instance_type)
            .map(|o| o.zone.as_str())
            .collect();
        zones.sort_unstable();
        zones.dedup();
        zones
    }
}

/// An instance the fleet launched.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct FleetInstance {
    pub instance_id: String,
    pub instance_type: String,
    pub zone: Option<String>,
    pub capacity_type: String,
}

/// What a fleet answer says.
#[derive(Clone, Debug, Default, PartialEq, Eq)]
pub struct FleetOutcome {
    pub instances: Vec<FleetInstance>,
    /// Offerings reported without capacity.
    pub unavailable: Vec<OfferingKey>,
    /// Other errors, as `code: message`.
    pub errors: Vec<String>,
}

impl FleetOutcome {
    /// The instance the claim gets (the first EC2 listed) and the ids of any
    /// others, which nothing accounts for and must be terminated.
    pub fn take_one(&self) -> (Option<&FleetInstance>, Vec<String>) {
        let mut it = self.instances.iter();
        let first = it.next();
        (first, it.map(|i| i.instance_id.clone()).collect())
    }
}

/// Reads a CreateFleet answer against the request it answers.
pub fn outcome(request: &FleetRequest, out: &CreateFleetOutput) -> FleetOutcome {
    let mut result = FleetOutcome::default();
    let capacity_type_of = |l: Option<&InstanceLifecycle>| match l {
        Some(InstanceLifecycle::Spot) => CAPACITY_TYPE_SPOT.to_string(),
        Some(_) => CAPACITY_TYPE_ON_DEMAND.to_string(),
        None => request.capacity_type.clone(),
    };
    for i in out.instances() {
        let overrides = i
            .launch_template_and_overrides()
            .and_then(|l| l.overrides());
        let instance_type = i
            .instance_type()
            .or_else(|| overrides.and_then(|o| o.instance_type()))
            .map(|t| t.as_str().to_string())
            .unwrap_or_default();
        let zone = i
            .availability_zone()
            .or_else(|| overrides.and_then(|o| o.availability_zone()))
            .map(str::to_string)
            .or_else(|| {
                let subnet = i
                    .subnet_id()
                    .or_else(|| overrides.and_then(|o| o.subnet_id()))?;
                request.zone_of(subnet).map(str::to_string)
            });
        for id in i.instance_ids() {
            // An id listed twice is one instance: counting it twice would leak a claim.
            if result.instances.iter().any(|x| &x.instance_id == id) {
                continue;
            }
            result.instances.push(FleetInstance {
                instance_id: id.clone(),
                instance_type: instance_type.clone(),
                zone: zone.clone(),
                capacity_type: capacity_type_of(i.lifecycle()),
            });
        }
    }
    for e in out.errors() {
        let code = e.error_code().unwrap_or("Unknown");
        let message = e.error_message().unwrap_or("");
        let overrides = e
            .launch_template_and_overrides()
            .and_then(|l| l.overrides());
        let instance_type = overrides
            .and_then(|o| o.instance_type())
            .map(|t| t.as_str());
        if !UNFULFILLABLE_CODES.contains(&code) || instance_type.is_none() {
            result.errors.push(format!("{code}: {message}"));
            continue;
        }
        let Some(instance_type) = instance_type else {
            continue;
        };
        let zone = overrides.and_then(|o| o.availability_zone()).or_else(|| {
            overrides
                .and_then(|o| o.subnet_id())
                .and_then(|s| request.zone_of(s))
        });
        let capacity_type = capacity_type_of(e.lifecycle());
        let zones = match zone {
            Some(z) => vec![z],
            // Without a zone the type is out everywhere this request offered it.
            None => request.zones_of(instance_type),
        };
        for z in zones {
            result
                .unavailable
                .push(OfferingKey::new(instance_type, z, &capacity_type));
        }
    }
    result.unavailable.sort();
    result.unavailable.dedup();
    result
}

fn tag_list(tags: &BTreeMap<String, String>) -> Vec<Tag> {
    tags.iter()
        .map(|(k, v)| Tag::builder().key(k).value(v).build())
        .collect()
}

/// Sends the request (sorted cheapest first) and reads the answer.
pub async fn send(
    ec2: &aws_sdk_ec2::Client,
    request: FleetRequest,
) -> Result<(FleetRequest, FleetOutcome)> {
    let request = request.sorted();
    let spot = request.capacity_type == CAPACITY_TYPE_SPOT;
    let mut call = ec2
        .create_fleet()
        .r#type(FleetType::Instant)
        .target_capacity_specification(
            TargetCapacitySpecificationRequest::builder()
                .total_target_capacity(1)
                .default_target_capacity_type(if spot {
                    DefaultTargetCapacityType::Spot
                } else {
                    DefaultTargetCapacityType::OnDemand
                })
                .build(),
        );
    call = if spot {
        call.spot_options(
            SpotOptionsRequest::builder()
                .allocation_strategy(SpotAllocationStrategy::PriceCapacityOptimized)
                .build(),
        )
    } else {
        call.on_demand_options(
            OnDemandOptionsRequest::builder()
                .allocation_strategy(FleetOnDemandAllocationStrategy::LowestPrice)
                .build(),
        )
    };
    let mut priority = 0.0;
    for c in &request.configs {
        let mut config = FleetLaunchTemplateConfigRequest::builder().launch_template_specification(
            FleetLaunchTemplateSpecificationRequest::builder()
                .launch_template_name(&c.launch_template_name)
                .version("$Latest")
                .build(),
        );
        for o in &c.overrides {
            config = config.overrides(
                FleetLaunchTemplateOverridesRequest::builder()
                    .instance_type(InstanceType::from(o.instance_type.as_str()))
                    .subnet_id(&o.subnet_id)
                    .priority(priority)
                    .build(),
            );
            priority += 1.0;
        }
        call = call.launch_template_configs(config.build());
    }
    for resource in [
        ResourceType::Instance,
        ResourceType::Volume,
        ResourceType::Fleet,
    ] {
        call = call.tag_specifications(
            TagSpecification::builder()
                .resource_type(resource)
                .set_tags(Some(tag_list(&request.tags)))
                .build(),
        );
    }
    let out = call.send().await.map_err(|e| aws_error("CreateFleet", e))?;
    let outcome = outcome(&request, &out);
    Ok((request, outcome))
}

#[cfg(test)]
mod tests;
