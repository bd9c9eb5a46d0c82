//! Fleet answers in the shape EC2 documents for CreateFleet (type instant):
//! instances with their launch template and overrides, and per-override errors.

use aws_sdk_ec2::types::{
    CreateFleetError, CreateFleetInstance, FleetLaunchTemplateOverrides,
    FleetLaunchTemplateSpecification, LaunchTemplateAndOverridesResponse,
};

use super::*;

fn request() -> FleetRequest {
    let o = |t: &str, subnet: &str, zone: &str, price: f64| Override {
        instance_type: t.into(),
        subnet_id: subnet.into(),
        zone: zone.into(),
        price,
    };
    FleetRequest {
        capacity_type: "spot".into(),
        configs: vec![
            TemplateOverrides {
                launch_template_name: "kerf/demo/b".into(),
                overrides: vec![o("m6g.large", "subnet-a", "us-east-1a", 0.03)],
            },
            TemplateOverrides {
                launch_template_name: "kerf/demo/a".into(),
                overrides: vec![
                    o("m5.xlarge", "subnet-a", "us-east-1a", 0.05),
                    o("m5.large", "subnet-b", "us-east-1b", 0.02),
                    o("m5.large", "subnet-a", "us-east-1a", 0.02),
                ],
            },
        ],
        tags: Default::default(),
    }
}

fn overrides(
    t: &str,
    subnet: Option<&str>,
    zone: Option<&str>,
) -> LaunchTemplateAndOverridesResponse {
    LaunchTemplateAndOverridesResponse::builder()
        .launch_template_specification(
            FleetLaunchTemplateSpecification::builder()
                .launch_template_name("kerf/demo/a")
                .version("1")
                .build(),
        )
        .overrides(
            FleetLaunchTemplateOverrides::builder()
                .instance_type(InstanceType::from(t))
                .set_subnet_id(subnet.map(str::to_string))
                .set_availability_zone(zone.map(str::to_string))
                .build(),
        )
        .build()
}

fn error(code: &str, t: &str, subnet: Option<&str>) -> CreateFleetError {
    CreateFleetError::builder()
        .error_code(code)
        .error_message(
            "We currently do not have sufficient capacity in the Availability Zone you requested.",
        )
        .lifecycle(InstanceLifecycle::Spot)
        .launch_template_and_overrides(overrides(t, subnet, None))
        .build()
}

#[test]
fn overrides_go_cheapest_first() {
    let sorted = request().sorted();
    assert_eq!(sorted.configs[0].launch_template_name, "kerf/demo/a");
    let first: Vec<_> = sorted.configs[0]
        .overrides
        .iter()
        .map(|o| (o.instance_type.as_str(), o.zone.as_str()))
        .collect();
    assert_eq!(
        first,
        [
            ("m5.large", "us-east-1a"),
            ("m5.large", "us-east-1b"),
            ("m5.xlarge", "us-east-1a")
        ]
    );
}

#[test]
fn capacity_errors_mark_offerings_and_instances_are_read() {
    let out = CreateFleetOutput::builder()
        .fleet_id("fleet-1")
        .errors(error(
            "InsufficientInstanceCapacity",
            "m5.large",
            Some("subnet-a"),
        ))
        .errors(error("UnfulfillableCapacity", "m6g.large", None))
        .errors(error(
            "InvalidLaunchTemplateName.NotFoundException",
            "m5.xlarge",
            Some("subnet-a"),
        ))
        .instances(
            CreateFleetInstance::builder()
                .instance_ids("i-0123456789abcdef0")
                .instance_type(InstanceType::from("m5.large"))
                .lifecycle(InstanceLifecycle::Spot)
                .launch_template_and_overrides(overrides("m5.large", Some("subnet-b"), None))
                .build(),
        )
        .build();
    let result = outcome(&request(), &out);
    assert_eq!(
        result.instances,
        [FleetInstance {
            instance_id: "i-0123456789abcdef0".into(),
            instance_type: "m5.large".into(),
            zone: Some("us-east-1b".into()),
            capacity_type: "spot".into(),
        }]
    );
    assert_eq!(
        result.unavailable,
        [
            OfferingKey::new("m5.large", "us-east-1a", "spot"),
            // No subnet in the error: every zone the request offered m6g.large in.
            OfferingKey::new("m6g.large", "us-east-1a", "spot"),
        ]
    );
    assert_eq!(result.errors.len(), 1);
    assert!(result.errors[0].starts_with("InvalidLaunchTemplateName.NotFoundException"));
}

#[test]
fn an_empty_fleet_answer_launches_nothing() {
    let out = CreateFleetOutput::builder().fleet_id("fleet-2").build();
    assert_eq!(outcome(&request(), &out), FleetOutcome::default());
}

#[test]
fn a_partly_fulfilled_fleet_keeps_one_instance_and_counts_each_once() {
    // More instances than asked (one id listed twice) beside capacity errors.
    let spot = |ids: &[&str]| {
        CreateFleetInstance::builder()
            .set_instance_ids(Some(ids.iter().map(|s| s.to_string()).collect()))
            .instance_type(InstanceType::from("m5.large"))
            .lifecycle(InstanceLifecycle::Spot)
            .launch_template_and_overrides(overrides("m5.large", Some("subnet-b"), None))
            .build()
    };
    let out = CreateFleetOutput::builder()
        .fleet_id("fleet-3")
        .instances(spot(&["i-a", "i-b"]))
        .instances(spot(&["i-a"]))
        .errors(error(
            "InsufficientInstanceCapacity",
            "m5.large",
            Some("subnet-a"),
        ))
        .errors(error(
            "InsufficientInstanceCapacity",
            "m5.large",
            Some("subnet-a"),
        ))
        .build();
    let result = outcome(&request(), &out);
    let ids: Vec<&str> = result
        .instances
        .iter()
        .map(|i| i.instance_id.as_str())
        .collect();
    assert_eq!(ids, ["i-a", "i-b"]);
    let (kept, extras) = result.take_one();
    assert_eq!(kept.map(|i| i.instance_id.as_str()), Some("i-a"));
    assert_eq!(extras, ["i-b"]);
    assert_eq!(
        result.unavailable,
        [OfferingKey::new("m5.large", "us-east-1a", "spot")]
    );
    assert_eq!(FleetOutcome::default().take_one(), (None, vec![]));
}
