//! Launch through CreateFleet: the cheapest compatible type, the expected tags
//! and launch template (read back with DescribeInstances and
//! DescribeLaunchTemplates/Versions), template reuse, and the
//! insufficient-capacity fallback with its 3-minute expiry on a manual clock.

use std::collections::BTreeMap;
use std::time::Duration;

use k8s_openapi::apimachinery::pkg::api::resource::Quantity;
use kerf_api::v1::{
    NodeClaim, NodeClaimSpec, NodeClassReference, NodeSelectorRequirementWithMinValues,
    ResourceRequirements,
};
use kerf_aws::provider::parse_provider_id;
use kerf_cloud::{CloudProvider, OfferingKey};

use super::support::*;

pub fn claim(name: &str, types: &[&str], capacity_types: &[&str], memory: &str) -> NodeClaim {
    let req = |key: &str, values: &[&str]| NodeSelectorRequirementWithMinValues {
        key: key.to_string(),
        operator: "In".to_string(),
        values: values.iter().map(|v| v.to_string()).collect(),
        min_values: None,
    };
    let mut c = NodeClaim::new(
        name,
        NodeClaimSpec {
            requirements: vec![
                req("node.kubernetes.io/instance-type", types),
                req("karpenter.sh/capacity-type", capacity_types),
            ],
            resources: ResourceRequirements {
                requests: BTreeMap::from([
                    ("cpu".to_string(), Quantity("1".into())),
                    ("memory".to_string(), Quantity(memory.into())),
                ]),
            },
            node_class_ref: NodeClassReference {
                group: "karpenter.k8s.aws".into(),
                kind: "EC2NodeClass".into(),
                name: "default".into(),
            },
            ..Default::default()
        },
    );
    c.metadata.labels = Some(BTreeMap::from([(
        "karpenter.sh/nodepool".to_string(),
        "default".to_string(),
    )]));
    c
}

pub const TYPES: &[&str] = &["t3.medium", "c5.large", "m5.large", "m5.xlarge"];

#[tokio::test]
async fn launch_returns_the_cheapest_compatible_type_with_tags_and_template() {
    let Fixture {
        moto: _moto,
        c,
        acct,
        p,
        ..
    } = seeded().await;
    // 5Gi leaves out t3.medium and c5.large (4Gi); m5.large ($0.096) beats m5.xlarge ($0.192).
    let launched = p
        .create(&claim("default-abc12", TYPES, &["on-demand"], "5Gi"))
        .await
        .unwrap();
    let labels = launched.metadata.labels.clone().unwrap();
    assert_eq!(labels["node.kubernetes.io/instance-type"], "m5.large");
    assert_eq!(labels["karpenter.sh/capacity-type"], "on-demand");
    assert_eq!(labels["karpenter.k8s.aws/instance-tenancy"], "default");
    assert_eq!(labels["karpenter.k8s.aws/nitro-sandbox"], "false");
    let status = launched.status.clone().unwrap();
    let pid = status.provider_id.clone().unwrap();
    let zone = &labels["topology.kubernetes.io/zone"];
    assert!(pid.starts_with(&format!("aws:///{zone}/i-")), "{pid}");
    assert_eq!(status.capacity["pods"].0, "29");
    assert_eq!(status.allocatable["cpu"].0, "1930m");
    assert_eq!(status.image_id.as_deref(), Some(acct.ami_amd64.as_str()));

    let id = parse_provider_id(&pid).unwrap();
    let out = c
        .ec2
        .describe_instances()
        .instance_ids(id)
        .send()
        .await
        .unwrap();
    let inst = &out.reservations()[0].instances()[0];
    assert_eq!(inst.instance_type().unwrap().as_str(), "m5.large");
    assert_eq!(inst.state().unwrap().name().unwrap().as_str(), "running");
    assert_eq!(inst.image_id(), Some(acct.ami_amd64.as_str()));
    assert_eq!(
        inst.placement().unwrap().availability_zone(),
        Some(zone.as_str())
    );
    if zone == "us-east-1a" {
        assert_eq!(
            inst.subnet_id(),
            Some(acct.tagged_big_a.as_str()),
            "the zone's subnet with most free IPs"
        );
    }
    // Upstream `pkg/cloudprovider/suite_test.go` "should return availability
    // zone ID as a label on the nodeClaim": the launch subnet's zone ID.
    let subnets = c
        .ec2
        .describe_subnets()
        .subnet_ids(inst.subnet_id().unwrap())
        .send()
        .await
        .unwrap();
    let zone_id = subnets.subnets()[0].availability_zone_id().unwrap();
    assert_eq!(labels["topology.k8s.aws/zone-id"], zone_id);
    let tags: BTreeMap<&str, &str> = inst
        .tags()
        .iter()
        .map(|t| (t.key().unwrap(), t.value().unwrap()))
        .collect();
    assert_eq!(
        tags[format!("kubernetes.io/cluster/{CLUSTER}").as_str()],
        "owned"
    );
    assert_eq!(tags["kerf.sh/cluster"], CLUSTER, "kerf's ownership tag");
    assert_eq!(tags["eks:eks-cluster-name"], CLUSTER);
    assert_eq!(tags["karpenter.sh/nodepool"], "default");
    assert_eq!(tags["karpenter.sh/nodeclaim"], "default-abc12");
    assert_eq!(tags["Name"], "default-abc12");
    assert_eq!(tags["team"], "platform", "the node class's tags");

    let templates = kerf_aws::testing::launch_templates(&c).await;
    assert_eq!(templates.len(), 1);
    let (_, name, data) = &templates[0];
    assert!(name.starts_with("kerf/test-cluster/"), "{name}");
    assert_eq!(data.image_id(), Some(acct.ami_amd64.as_str()));
    assert_eq!(
        data.metadata_options()
            .unwrap()
            .http_tokens()
            .unwrap()
            .as_str(),
        "required"
    );
    assert_eq!(
        data.iam_instance_profile().unwrap().name(),
        Some("KarpenterNodeInstanceProfile")
    );
    assert_eq!(
        data.security_group_ids(),
        std::slice::from_ref(&acct.node_sg)
    );
    let user_data = kerf_aws::testing::user_data_text(data);
    assert!(
        user_data.contains("kind: NodeConfig"),
        "AL2023 nodeadm config"
    );
    assert!(
        user_data.contains("name: \"test-cluster\"")
            && user_data.contains("https://api.test-cluster.example")
    );
    assert!(user_data.contains("karpenter.sh/nodepool=default"));
    assert!(user_data.contains("karpenter.k8s.aws/instance-tenancy=default"));
    assert_eq!(data.placement(), None, "default tenancy sets no placement");

    // A second claim of the same configuration reuses the template.
    p.create(&claim("default-def34", TYPES, &["on-demand"], "5Gi"))
        .await
        .unwrap();
    assert_eq!(
        c.ec2
            .describe_launch_templates()
            .send()
            .await
            .unwrap()
            .launch_templates()
            .len(),
        1
    );
}

/// Upstream `getTenancyType`: a claim that rules default tenancy out launches
/// on dedicated hardware, from a template of its own, and says so in its labels.
#[tokio::test]
async fn a_claim_requiring_dedicated_tenancy_launches_from_a_dedicated_template() {
    let Fixture {
        moto: _moto, c, p, ..
    } = seeded().await;
    let mut dedicated = claim("default-ded01", TYPES, &["on-demand"], "5Gi");
    dedicated
        .spec
        .requirements
        .push(NodeSelectorRequirementWithMinValues {
            key: "karpenter.k8s.aws/instance-tenancy".into(),
            operator: "In".into(),
            values: vec!["dedicated".into()],
            min_values: None,
        });
    let launched = p.create(&dedicated).await.unwrap();
    let labels = launched.metadata.labels.clone().unwrap();
    assert_eq!(labels["karpenter.k8s.aws/instance-tenancy"], "dedicated");
    p.create(&claim("default-def01", TYPES, &["on-demand"], "5Gi"))
        .await
        .unwrap();

    let templates = kerf_aws::testing::launch_templates(&c).await;
    assert_eq!(templates.len(), 2, "one per tenancy");
    let mut tenancies = Vec::new();
    for (_, _, data) in &templates {
        let user_data = kerf_aws::testing::user_data_text(data);
        let tenancy = data
            .placement()
            .and_then(|p| p.tenancy())
            .map(|t| t.as_str().to_string());
        assert_eq!(
            user_data.contains("karpenter.k8s.aws/instance-tenancy=dedicated"),
            tenancy.as_deref() == Some("dedicated"),
            "the node's label and the template's placement agree"
        );
        tenancies.push(tenancy);
    }
    tenancies.sort();
    assert_eq!(tenancies, [None, Some("dedicated".to_string())]);
}

#[tokio::test]
async fn spot_claims_launch_spot_and_arm64_types_use_the_arm64_image() {
    let Fixture {
        moto: _moto,
        acct,
        p,
        ..
    } = seeded().await;
    let launched = p
        .create(&claim(
            "spot-1",
            &["m6g.large"],
            &["spot", "on-demand"],
            "1Gi",
        ))
        .await
        .unwrap();
    let labels = launched.metadata.labels.clone().unwrap();
    assert_eq!(labels["karpenter.sh/capacity-type"], "spot");
    assert_eq!(labels["kubernetes.io/arch"], "arm64");
    assert_eq!(
        launched.status.unwrap().image_id.as_deref(),
        Some(acct.ami_arm64.as_str())
    );
}

#[tokio::test]
async fn unavailable_offerings_are_routed_around_until_they_expire() {
    let Fixture {
        moto: _moto,
        p,
        clock,
        ..
    } = seeded().await;
    for zone in ["us-east-1a", "us-east-1b", "us-east-1c"] {
        p.mark_offering_unavailable(OfferingKey::new("m5.large", zone, "on-demand"));
    }
    let first = p
        .create(&claim("ice-1", TYPES, &["on-demand"], "5Gi"))
        .await
        .unwrap();
    assert_eq!(
        first.metadata.labels.unwrap()["node.kubernetes.io/instance-type"],
        "m5.xlarge",
        "next cheapest"
    );
    clock.advance(Duration::from_secs(181));
    assert!(p.unavailable_offerings().is_empty());
    let second = p
        .create(&claim("ice-2", TYPES, &["on-demand"], "5Gi"))
        .await
        .unwrap();
    assert_eq!(
        second.metadata.labels.unwrap()["node.kubernetes.io/instance-type"],
        "m5.large",
        "back after 3 minutes"
    );
    // Nothing launchable at all is an insufficient-capacity error naming the offerings.
    for zone in ["us-east-1a", "us-east-1b", "us-east-1c"] {
        p.mark_offering_unavailable(OfferingKey::new("m5.large", zone, "on-demand"));
    }
    let err = p
        .create(&claim("ice-3", &["m5.large"], &["on-demand"], "5Gi"))
        .await
        .unwrap_err();
    assert!(err.is_insufficient_capacity(), "{err}");
    assert!(
        err.to_string().contains("m5.large/us-east-1a/on-demand"),
        "{err}"
    );
}

#[tokio::test]
async fn claims_nothing_can_hold_are_invalid() {
    let Fixture { moto: _moto, p, .. } = seeded().await;
    let err = p
        .create(&claim("huge", &["t3.medium"], &["on-demand"], "64Gi"))
        .await
        .unwrap_err();
    assert!(
        matches!(err, kerf_cloud::CloudError::InvalidClaim { .. }),
        "{err}"
    );
    let mut unknown_class = claim("orphan", TYPES, &["on-demand"], "1Gi");
    unknown_class.spec.node_class_ref.name = "missing".into();
    assert!(p.create(&unknown_class).await.unwrap_err().is_not_found());
}

/// The node class reaches the provider with the template context (as the
/// controller's cluster state hands it over), and a class naming neither a
/// role nor a profile launches with the default instance profile.
#[tokio::test]
async fn the_class_arrives_with_the_context_and_takes_the_default_profile() {
    let (_moto, c) = start_moto().await;
    seed(&c).await;
    let mut settings = settings(Some(TEST_TYPES));
    settings.default_instance_profile = Some("DefaultNodeProfile".into());
    let p = kerf_aws::AwsCloudProvider::new(
        c.clone(),
        settings,
        std::sync::Arc::new(kerf_aws::clock::ManualClock::default()),
    );
    assert!(p.node_class("default").is_err(), "nothing registered yet");
    let mut class = node_class("default");
    class.spec.instance_profile = None;
    let context = kerf_cloud::NodeTemplateContext::new("default", Default::default())
        .with_class(Some(serde_json::to_value(&class).unwrap()));
    let types = p.instance_types(&context).await.unwrap();
    assert!(types.iter().any(|t| t.name == "m5.large"), "types resolved");

    p.create(&claim("ctx-1", TYPES, &["on-demand"], "5Gi"))
        .await
        .unwrap();
    assert_eq!(
        template_profile(&c).await.as_deref(),
        Some("DefaultNodeProfile")
    );
}

/// The launch template's instance profile name.
async fn template_profile(c: &kerf_aws::clients::Clients) -> Option<String> {
    let templates = kerf_aws::testing::launch_templates(c).await;
    templates[0]
        .2
        .iam_instance_profile()
        .and_then(|p| p.name())
        .map(str::to_string)
}

/// An EC2NodeClass v1 that names a `role` (not a profile): kerf creates the
/// class's instance profile in IAM, tagged as the cluster's and holding the
/// role, writes it to status, and launches with it; a second resolution
/// reuses it, and a changed role replaces the old one in the same profile.
#[tokio::test]
async fn a_class_with_a_role_gets_its_own_instance_profile() {
    let (_moto, c) = start_moto().await;
    seed(&c).await;
    kerf_aws::testing::node_role(&c, "KarpenterNodeRole-test").await;
    kerf_aws::testing::node_role(&c, "KarpenterNodeRole-next").await;
    let (p, _clock) = provider(c.clone());
    let mut class = node_class("default");
    class.spec.instance_profile = None;
    class.spec.role = Some("KarpenterNodeRole-test".into());
    p.set_node_class(class.clone());

    let status = p.node_class_status("default").await.unwrap();
    let expected =
        kerf_aws::instance_profile::profile_name(&cluster_info().name, &c.region, "default");
    assert_eq!(status.instance_profile.as_deref(), Some(expected.as_str()));
    let profile = c
        .iam
        .get_instance_profile()
        .instance_profile_name(&expected)
        .send()
        .await
        .unwrap();
    let profile = profile.instance_profile().unwrap();
    assert_eq!(
        kerf_aws::testing::profile_roles(&c, &expected).await,
        ["KarpenterNodeRole-test"]
    );
    assert_eq!(
        profile.path(),
        format!("/karpenter/{}/{}/", c.region, cluster_info().name)
    );
    // GetInstanceProfile carries the tags (moto's ListInstanceProfileTags fails with a 500).
    let tags: std::collections::BTreeMap<&str, &str> = profile
        .tags()
        .iter()
        .map(|t| (t.key(), t.value()))
        .collect();
    let cluster_tag = format!("kubernetes.io/cluster/{}", cluster_info().name);
    assert_eq!(tags.get(cluster_tag.as_str()), Some(&"owned"), "{tags:?}");
    assert_eq!(tags.get("kerf.sh/cluster"), Some(&CLUSTER), "{tags:?}");
    assert_eq!(tags.get("karpenter.k8s.aws/ec2nodeclass"), Some(&"default"));
    assert_eq!(
        tags.get("topology.kubernetes.io/region"),
        Some(&c.region.as_str())
    );

    p.create(&claim("role-1", TYPES, &["on-demand"], "5Gi"))
        .await
        .unwrap();
    assert_eq!(
        template_profile(&c).await.as_deref(),
        Some(expected.as_str())
    );
    let all = c.iam.list_instance_profiles().send().await.unwrap();
    assert_eq!(all.instance_profiles().len(), 1, "one profile, reused");

    // The role changes (an ARN with a path, as users often write it): the same
    // profile now holds only the new role.
    class.spec.role = Some("arn:aws:iam::123456789012:role/nodes/KarpenterNodeRole-next".into());
    p.set_node_class(class);
    let status = p.node_class_status("default").await.unwrap();
    assert_eq!(status.instance_profile.as_deref(), Some(expected.as_str()));
    let roles = kerf_aws::testing::profile_roles(&c, &expected).await;
    assert_eq!(roles, ["KarpenterNodeRole-next"]);
}

/// The EKS GPU image: with AL2023's `nvidia` image published next to the
/// standard one, a GPU type (g4dn.xlarge) launches with it, a type without
/// GPUs keeps the standard image, and status.amis says which serves which.
#[tokio::test]
async fn gpu_types_launch_with_the_families_gpu_image() {
    let (_moto, c) = start_moto().await;
    let acct = seed(&c).await;
    let parameter = kerf_aws::discovery::images::AmiFamily::Al2023
        .accelerated_ssm_parameter(
            PARAMETER_ROOT,
            K8S_VERSION,
            kerf_cloud::eks::Arch::Amd64,
            None,
        )
        .unwrap();
    let gpu_image = kerf_aws::testing::register_image(
        &c,
        &format!("amazon-eks-node-al2023-x86_64-nvidia-{K8S_VERSION}-v1"),
        aws_sdk_ec2::types::ArchitectureValues::X8664,
    )
    .await;
    kerf_aws::testing::put_parameter(&c, &parameter, &gpu_image).await;
    let mut types = TEST_TYPES.to_vec();
    types.push("g4dn.xlarge");
    let (p, _clock) = provider_with(c.clone(), Some(&types));
    p.set_node_class(node_class("default"));

    let status = p.node_class_status("default").await.unwrap();
    let gpu_count = |id: &str| {
        let ami = status.amis.iter().find(|a| a.id == id).expect("in status");
        ami.requirements
            .iter()
            .find(|r| r.key == "karpenter.k8s.aws/instance-gpu-count")
            .map(|r| r.operator.clone())
    };
    assert_eq!(gpu_count(&gpu_image).as_deref(), Some("Exists"));
    assert_eq!(gpu_count(&acct.ami_amd64).as_deref(), Some("DoesNotExist"));

    let gpu = p
        .create(&claim("gpu-1", &["g4dn.xlarge"], &["on-demand"], "5Gi"))
        .await
        .unwrap();
    let plain = p
        .create(&claim("plain-1", &["m5.large"], &["on-demand"], "5Gi"))
        .await
        .unwrap();
    let image_of = |claim: &NodeClaim| claim.status.as_ref().and_then(|s| s.image_id.clone());
    assert_eq!(image_of(&gpu).as_deref(), Some(gpu_image.as_str()));
    assert_eq!(image_of(&plain).as_deref(), Some(acct.ami_amd64.as_str()));
    let id = parse_provider_id(gpu.status.as_ref().unwrap().provider_id.as_deref().unwrap())
        .unwrap()
        .to_string();
    let described = c
        .ec2
        .describe_instances()
        .instance_ids(&id)
        .send()
        .await
        .unwrap();
    let instance = &described.reservations()[0].instances()[0];
    assert_eq!(instance.image_id(), Some(gpu_image.as_str()));
    assert_eq!(
        instance.instance_type().map(|t| t.as_str()),
        Some("g4dn.xlarge")
    );
}

/// A Windows EC2NodeClass (upstream `amifamily/windows.go`): its image comes
/// from the Windows Server Core parameter, only amd64 types are offered, they
/// run Windows of the release's build with 110 pods, and the node boots from
/// a 50Gi `/dev/sda1` with PowerShell user data running Start-EKSBootstrap.
#[tokio::test]
async fn a_windows_class_launches_windows_nodes_from_the_windows_image() {
    use kerf_aws::discovery::images::AmiFamily;
    let (_moto, c) = start_moto().await;
    seed(&c).await;
    let windows_image = kerf_aws::testing::publish_eks_ami(
        &c,
        PARAMETER_ROOT,
        AmiFamily::Windows2022,
        K8S_VERSION,
        kerf_cloud::eks::Arch::Amd64,
        &format!("Windows_Server-2022-English-Core-EKS_Optimized-{K8S_VERSION}"),
    )
    .await;
    let (p, _clock) = provider(c.clone());
    let mut class = node_class("default");
    class.spec.ami_family = Some("Windows2022".into());
    p.set_node_class(class);

    let status = p.node_class_status("default").await.unwrap();
    let ids: Vec<&str> = status.amis.iter().map(|a| a.id.as_str()).collect();
    assert_eq!(ids, [windows_image.as_str()], "only the Windows image");

    // Any type: the arm64 one (m6g.large) is not offered to a Windows class.
    let launched = p
        .create(&claim("win-1", TEST_TYPES, &["on-demand"], "5Gi"))
        .await
        .unwrap();
    let labels = launched.metadata.labels.clone().unwrap();
    assert_eq!(labels["kubernetes.io/os"], "windows");
    assert_eq!(labels["node.kubernetes.io/windows-build"], "10.0.20348");
    assert_eq!(labels["kubernetes.io/arch"], "amd64");
    let status = launched.status.clone().unwrap();
    assert_eq!(status.image_id.as_deref(), Some(windows_image.as_str()));
    assert_eq!(status.capacity["pods"].0, "110");
    assert!(
        status
            .capacity
            .contains_key("vpc.amazonaws.com/PrivateIPv4Address"),
        "{:?}",
        status.capacity
    );
    let arm64 = p
        .create(&claim("win-arm", &["m6g.large"], &["on-demand"], "1Gi"))
        .await;
    assert!(
        arm64.is_err(),
        "an arm64 type cannot run Windows: {arm64:?}"
    );

    let templates = kerf_aws::testing::launch_templates(&c).await;
    let data = &templates[0].2;
    assert_eq!(data.image_id(), Some(windows_image.as_str()));
    let user_data = kerf_aws::testing::user_data_text(data);
    assert!(user_data.starts_with("<powershell>"), "{user_data}");
    assert!(user_data.contains("Start-EKSBootstrap.ps1"), "{user_data}");
    assert!(
        user_data.contains("-EKSClusterName 'test-cluster'")
            && user_data.contains("karpenter.sh/nodepool=default"),
        "{user_data}"
    );
    let volumes = data.block_device_mappings();
    assert_eq!(volumes.len(), 1);
    assert_eq!(volumes[0].device_name(), Some("/dev/sda1"));
    assert_eq!(volumes[0].ebs().and_then(|e| e.volume_size()), Some(50));
}

/// Upstream `instancetype.ephemeralStorage` and the launch template suite's
/// "instanceStorePolicy": a class's root volume sizes its nodes' ephemeral
/// storage and is the volume they boot with; with RAID0 a type with instance
/// store counts that instead, and the user data stripes it at boot.
#[tokio::test]
async fn the_class_root_volume_and_raid0_size_ephemeral_storage() {
    use kerf_api::v1::{BlockDevice, BlockDeviceMapping, InstanceStorePolicy};
    let (_moto, c) = start_moto().await;
    seed(&c).await;
    let mut types = TEST_TYPES.to_vec();
    types.push("c5d.large");
    let (p, _clock) = provider_with(c.clone(), Some(&types));
    let mut class = node_class("default");
    class.spec.block_device_mappings = vec![BlockDeviceMapping {
        device_name: Some("/dev/xvda".into()),
        ebs: Some(BlockDevice {
            volume_size: Some(Quantity("100Gi".into())),
            ..Default::default()
        }),
        root_volume: true,
    }];
    class.spec.instance_store_policy = Some(InstanceStorePolicy::Raid0);
    p.set_node_class(class);

    let ephemeral = |claim: &NodeClaim| {
        claim.status.as_ref().unwrap().capacity["ephemeral-storage"]
            .0
            .clone()
    };
    let ebs_only = p
        .create(&claim("plain-1", &["m5.large"], &["on-demand"], "1Gi"))
        .await
        .unwrap();
    assert_eq!(ephemeral(&ebs_only), "100Gi");
    let nvme = p
        .create(&claim("nvme-1", &["c5d.large"], &["on-demand"], "1Gi"))
        .await
        .unwrap();
    assert_eq!(
        kerf_api::quantity::parse_milli(&ephemeral(&nvme)).unwrap() / 1000,
        50_000_000_000,
        "c5d.large's 50 GB instance store"
    );

    let templates = kerf_aws::testing::launch_templates(&c).await;
    let data = &templates[0].2;
    let volumes = data.block_device_mappings();
    assert_eq!(volumes[0].device_name(), Some("/dev/xvda"));
    assert_eq!(volumes[0].ebs().and_then(|e| e.volume_size()), Some(100));
    let user_data = kerf_aws::testing::user_data_text(data);
    assert!(user_data.contains("strategy: RAID0"), "{user_data}");
}
