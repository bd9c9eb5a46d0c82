use std::collections::BTreeMap;

use kerf_api::v1::{AMISelectorTerm, SecurityGroupSelectorTerm, SubnetSelectorTerm};
use kerf_api::v1alpha1::{AWSNodeTemplateSpec, AwsProvider};
use kerf_cloud::eks::Arch;

use super::*;

fn network() -> NetworkData {
    let subnet = |id: &str, zone: &str, tags: &[(&str, &str)]| SubnetInfo {
        id: id.into(),
        zone: zone.into(),
        zone_id: None,
        vpc_id: None,
        available_ips: 100,
        tags: tags
            .iter()
            .map(|(k, v)| (k.to_string(), v.to_string()))
            .collect(),
    };
    NetworkData {
        subnets: vec![
            subnet(
                "subnet-a",
                "us-east-1a",
                &[("karpenter.sh/discovery", "demo")],
            ),
            subnet(
                "subnet-b",
                "us-east-1b",
                &[("kubernetes.io/cluster/demo", "owned")],
            ),
            subnet("subnet-c", "us-east-1c", &[]),
        ],
        security_groups: vec![SecurityGroupInfo {
            id: "sg-1".into(),
            name: Some("nodes".into()),
            vpc_id: None,
            tags: BTreeMap::from([("karpenter.sh/discovery".into(), "demo".into())]),
        }],
    }
}

fn ami(id: &str, arch: Arch) -> ResolvedAmi {
    ResolvedAmi {
        id: id.into(),
        name: Some(format!("{id}-name")),
        arch,
        creation_date: Some("2024-01-01T00:00:00.000Z".into()),
        deprecated: false,
        accelerated: false,
    }
}

fn tags(k: &str, v: &str) -> BTreeMap<String, String> {
    BTreeMap::from([(k.to_string(), v.to_string())])
}

#[test]
fn ec2nodeclass_resolves_to_status_with_ready_conditions() {
    let spec = EC2NodeClassSpec {
        subnet_selector_terms: vec![SubnetSelectorTerm {
            tags: tags("karpenter.sh/discovery", "demo"),
            id: None,
        }],
        security_group_selector_terms: vec![SecurityGroupSelectorTerm {
            name: Some("nodes".into()),
            ..Default::default()
        }],
        ami_selector_terms: vec![AMISelectorTerm {
            alias: Some("al2023@v20240807".into()),
            ..Default::default()
        }],
        ..Default::default()
    };
    assert_eq!(
        ami_queries(&spec).unwrap(),
        vec![AmiQuery::Family {
            family: AmiFamily::Al2023,
            version: Some("v20240807".into())
        }]
    );
    let r = resolve(
        &spec,
        "demo",
        &network(),
        vec![ami("ami-x", Arch::Amd64), ami("ami-a", Arch::Arm64)],
    )
    .unwrap();
    let s = status("default", &r, Ok(Some("profile")));
    assert_eq!(s.subnets.len(), 1);
    assert_eq!(s.subnets[0].id, "subnet-a");
    assert_eq!(s.security_groups[0].id, "sg-1");
    assert_eq!(s.amis.len(), 2);
    assert_eq!(
        s.amis[0].requirements[0].values.as_deref(),
        Some(&["amd64".to_string()][..])
    );
    assert!(is_ready(&s));
    assert_eq!(s.instance_profile.as_deref(), Some("profile"));
    let profile = conditions::find(&s.conditions, kerf_api::conditions::INSTANCE_PROFILE_READY);
    assert!(profile.unwrap().is_true(), "as Karpenter writes it");
}

#[test]
fn selectors_matching_nothing_say_so() {
    let spec = EC2NodeClassSpec {
        subnet_selector_terms: vec![SubnetSelectorTerm {
            tags: tags("team", "nobody"),
            id: None,
        }],
        ami_family: Some("AL2".into()),
        ..Default::default()
    };
    let r = resolve(&spec, "demo", &network(), vec![]).unwrap();
    // No security group terms: the cluster-tag default, which nothing carries.
    assert!(r.security_groups.is_empty());
    let s = status("broken", &r, Ok(None));
    assert!(!is_ready(&s));
    let subnets = conditions::find(&s.conditions, SUBNETS_READY).unwrap();
    assert_eq!(subnets.status, STATUS_FALSE);
    assert!(
        subnets
            .message
            .as_deref()
            .unwrap()
            .contains("EC2NodeClass broken: spec.subnetSelectorTerms")
    );
    let ready = conditions::find(&s.conditions, READY).unwrap();
    assert!(
        ready
            .message
            .as_deref()
            .unwrap()
            .contains("SubnetsReady, SecurityGroupsReady, AMIsReady")
    );
}

#[test]
fn custom_terms_become_image_and_ssm_queries() {
    let spec = EC2NodeClassSpec {
        ami_family: Some("Custom".into()),
        ami_selector_terms: vec![
            AMISelectorTerm {
                name: Some("my-ami-*".into()),
                owner: Some("123456789012".into()),
                ..Default::default()
            },
            AMISelectorTerm {
                ssm_parameter: Some("/my/ami".into()),
                ..Default::default()
            },
        ],
        ..Default::default()
    };
    let q = ami_queries(&spec).unwrap();
    assert!(
        matches!(&q[0], AmiQuery::Images { term, owner } if term.name.as_deref() == Some("my-ami-*") && owner.as_deref() == Some("123456789012"))
    );
    assert_eq!(q[1], AmiQuery::SsmParameter("/my/ami".into()));
    let bad = EC2NodeClassSpec {
        ami_family: Some("Windows2016".into()),
        ..Default::default()
    };
    assert!(ami_queries(&bad).unwrap_err().field == "spec.amiFamily");
}

#[test]
fn windows_families_resolve_from_the_field_and_the_alias() {
    let by_field = EC2NodeClassSpec {
        ami_family: Some("Windows2022".into()),
        ..Default::default()
    };
    assert_eq!(
        ami_queries(&by_field).unwrap(),
        [AmiQuery::Family {
            family: AmiFamily::Windows2022,
            version: None
        }]
    );
    let by_alias = EC2NodeClassSpec {
        ami_selector_terms: vec![AMISelectorTerm {
            alias: Some("windows2019@latest".into()),
            ..Default::default()
        }],
        ..Default::default()
    };
    assert_eq!(ami_family(&by_alias).unwrap(), AmiFamily::Windows2019);
}

#[test]
fn awsnodetemplate_resolves_through_conversion() {
    let mut t = AWSNodeTemplate::new(
        "legacy",
        AWSNodeTemplateSpec {
            provider: AwsProvider {
                subnet_selector: Some(tags("kubernetes.io/cluster/demo", "*")),
                security_group_selector: Some(tags("aws-ids", "sg-1")),
                ..Default::default()
            },
            ..Default::default()
        },
    );
    t.metadata.name = Some("legacy".into());
    let class = node_template_class(&t);
    assert_eq!(ami_family(&class.spec).unwrap(), AmiFamily::Al2);
    let r = resolve(
        &class.spec,
        "demo",
        &network(),
        vec![ami("ami-x", Arch::Amd64)],
    )
    .unwrap();
    let s = node_template_status(&status("legacy", &r, Ok(None)));
    assert_eq!(
        s.subnets.iter().map(|s| s.id.as_str()).collect::<Vec<_>>(),
        ["subnet-b"]
    );
    assert_eq!(s.security_groups[0].id, "sg-1");
    assert_eq!(s.amis[0].id, "ami-x");
}

#[test]
fn transition_times_move_only_when_a_condition_changes() {
    use k8s_openapi::apimachinery::pkg::apis::meta::v1::Time;
    use k8s_openapi::jiff::Timestamp;
    let t = |s: i64| Time(Timestamp::from_second(s).unwrap());
    let mut old = vec![
        Condition::new(SUBNETS_READY, STATUS_TRUE),
        Condition::new(AMIS_READY, STATUS_TRUE),
    ];
    keep_transition_times(&mut old, &[], &t(100));
    let mut new = vec![
        Condition::new(SUBNETS_READY, STATUS_TRUE),
        Condition::new(AMIS_READY, STATUS_FALSE),
        Condition::new(READY, STATUS_FALSE),
    ];
    keep_transition_times(&mut new, &old, &t(200));
    let times: Vec<_> = new.iter().map(|c| c.last_transition_time.clone()).collect();
    assert_eq!(times, [Some(t(100)), Some(t(200)), Some(t(200))]);
    let status = EC2NodeClassStatus {
        conditions: new,
        ..Default::default()
    };
    assert_eq!(problems(&status), [(AMIS_READY.to_string(), String::new())]);
}

#[test]
fn gpu_types_take_the_gpu_image_and_others_never_do() {
    use kerf_core::instance_type::{InstanceType, Overhead};
    use kerf_core::resources::Resources;
    let it = |arch: &str, gpus: Option<&str>| {
        let mut labels = BTreeMap::from([(kerf_api::labels::ARCH.to_string(), arch.to_string())]);
        if let Some(n) = gpus {
            labels.insert(
                kerf_api::labels::INSTANCE_GPU_COUNT.to_string(),
                n.to_string(),
            );
        }
        InstanceType::new(
            "t",
            labels,
            Resources::new(4000, 1 << 34, 29),
            Overhead::default(),
            vec![],
        )
    };
    let mut gpu = ami("ami-gpu", Arch::Amd64);
    gpu.accelerated = true;
    let amis = [
        ami("ami-std", Arch::Amd64),
        gpu,
        ami("ami-arm", Arch::Arm64),
    ];
    let id = |t: &InstanceType| image_for(&amis, t).map(|a| a.id.as_str());
    assert_eq!(id(&it("amd64", Some("1"))), Some("ami-gpu"));
    assert_eq!(id(&it("amd64", Some("0"))), Some("ami-std"));
    assert_eq!(id(&it("amd64", None)), Some("ami-std"));
    // No GPU image for arm64: the standard one serves its GPU types too.
    assert_eq!(id(&it("arm64", Some("1"))), Some("ami-arm"));
    // Only a GPU image: types without GPUs have none.
    let only_gpu = [amis[1].clone()];
    assert_eq!(image_for(&only_gpu, &it("amd64", None)), None);
}

#[test]
fn a_profile_that_cannot_be_made_says_so_and_keeps_the_rest() {
    let spec = EC2NodeClassSpec {
        subnet_selector_terms: vec![SubnetSelectorTerm {
            tags: tags("karpenter.sh/discovery", "demo"),
            id: None,
        }],
        ..Default::default()
    };
    let r = resolve(&spec, "demo", &network(), vec![ami("ami-1", Arch::Amd64)]).unwrap();
    let s = status("roled", &r, Err("NoSuchEntity: role x"));
    assert_eq!(s.amis.len(), 1);
    let find = |t: &str| s.conditions.iter().find(|c| c.type_ == t).cloned().unwrap();
    let profile = find(kerf_api::conditions::INSTANCE_PROFILE_READY);
    assert!(!profile.is_true());
    assert!(profile.message.unwrap().contains("spec.role: NoSuchEntity"));
    let ready = find(kerf_api::conditions::READY);
    assert!(!ready.is_true());
    assert!(ready.message.unwrap().contains("InstanceProfileReady"));
    assert_eq!(
        s.conditions.iter().filter(|c| c.type_ == "Ready").count(),
        1
    );
}

/// kerf refuses reserved capacity (docs/differences.md): a class that selects
/// capacity reservations is not Ready, and the condition names the field.
#[test]
fn a_class_selecting_capacity_reservations_is_not_ready() {
    let spec = EC2NodeClassSpec {
        subnet_selector_terms: vec![SubnetSelectorTerm {
            tags: tags("karpenter.sh/discovery", "demo"),
            id: None,
        }],
        security_group_selector_terms: vec![SecurityGroupSelectorTerm {
            name: Some("nodes".into()),
            ..Default::default()
        }],
        ami_family: Some("AL2023".into()),
        capacity_reservation_selector_terms: serde_json::from_value(
            serde_json::json!([{"id": "cr-0123456789abcdef0"}]),
        )
        .unwrap(),
        ..Default::default()
    };
    let r = resolve(&spec, "demo", &network(), vec![ami("ami-x", Arch::Amd64)]).unwrap();
    let s = status("reserved", &r, Ok(Some("profile")));
    assert!(!is_ready(&s));
    let c = conditions::find(&s.conditions, CAPACITY_RESERVATIONS_READY).unwrap();
    assert_eq!(c.status, STATUS_FALSE);
    assert!(
        c.message
            .as_deref()
            .unwrap()
            .contains("EC2NodeClass reserved: spec.capacityReservationSelectorTerms"),
        "{c:?}"
    );
    // Without the terms the condition is True and the class Ready.
    let spec = EC2NodeClassSpec {
        capacity_reservation_selector_terms: vec![],
        ..spec
    };
    let r = resolve(&spec, "demo", &network(), vec![ami("ami-x", Arch::Amd64)]).unwrap();
    assert!(is_ready(&status("plain", &r, Ok(Some("profile")))));
}
