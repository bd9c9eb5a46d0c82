//! Test support (feature `testing`): moto started per test with clients
//! pointed at it, and building blocks that put an AWS account into it through
//! the real SDK clients — tagged VPC resources, registered images and the SSM
//! parameters EKS publishes for them.
//! Every helper panics with the failing call named: it only ever runs in tests.

use aws_sdk_ec2::types::{ArchitectureValues, ResourceType, Tag, TagSpecification};
use kerf_cloud::eks::Arch;

use crate::discovery::images::AmiFamily;
use crate::{AwsSettings, Clients};

/// Clients for a local emulator at `endpoint` (region us-east-1, test credentials).
pub async fn clients(endpoint: &str) -> Clients {
    Clients::connect(&AwsSettings::local(endpoint)).await
}

/// moto on a free port (see [`kerf_testenv::MotoServer`]) and clients pointed
/// at it; stopped when the server is dropped.
pub async fn start_moto() -> (kerf_testenv::MotoServer, Clients) {
    let moto = kerf_testenv::MotoServer::start().unwrap_or_else(|e| panic!("{e}"));
    let clients = clients(moto.endpoint()).await;
    (moto, clients)
}

pub fn tags(pairs: &[(&str, &str)]) -> Vec<Tag> {
    pairs
        .iter()
        .map(|(k, v)| Tag::builder().key(*k).value(*v).build())
        .collect()
}

pub fn tag_spec(resource: ResourceType, pairs: &[(&str, &str)]) -> TagSpecification {
    TagSpecification::builder()
        .resource_type(resource)
        .set_tags(Some(tags(pairs)))
        .build()
}

/// A VPC; returns its id.
pub async fn vpc(c: &Clients, cidr: &str) -> String {
    let out = c.ec2.create_vpc().cidr_block(cidr).send().await;
    let out = out.unwrap_or_else(|e| panic!("CreateVpc {cidr}: {e:?}"));
    out.vpc()
        .and_then(|v| v.vpc_id())
        .expect("CreateVpc returned a VPC id")
        .to_string()
}

/// A subnet with these tags (none when empty); returns its id.
pub async fn subnet(
    c: &Clients,
    vpc: &str,
    cidr: &str,
    zone: &str,
    pairs: &[(&str, &str)],
) -> String {
    let mut call = c
        .ec2
        .create_subnet()
        .vpc_id(vpc)
        .cidr_block(cidr)
        .availability_zone(zone);
    if !pairs.is_empty() {
        call = call.tag_specifications(tag_spec(ResourceType::Subnet, pairs));
    }
    let out = call
        .send()
        .await
        .unwrap_or_else(|e| panic!("CreateSubnet {cidr} in {zone}: {e:?}"));
    out.subnet()
        .and_then(|s| s.subnet_id())
        .expect("CreateSubnet returned a subnet id")
        .to_string()
}

/// A security group named `name` with these tags (none when empty); returns its id.
pub async fn security_group(c: &Clients, vpc: &str, name: &str, pairs: &[(&str, &str)]) -> String {
    let mut call = c
        .ec2
        .create_security_group()
        .group_name(name)
        .description(name)
        .vpc_id(vpc);
    if !pairs.is_empty() {
        call = call.tag_specifications(tag_spec(ResourceType::SecurityGroup, pairs));
    }
    let out = call
        .send()
        .await
        .unwrap_or_else(|e| panic!("CreateSecurityGroup {name}: {e:?}"));
    out.group_id()
        .expect("CreateSecurityGroup returned a group id")
        .to_string()
}

/// Registers an image; returns its id.
pub async fn register_image(c: &Clients, name: &str, arch: ArchitectureValues) -> String {
    let out = c
        .ec2
        .register_image()
        .name(name)
        .architecture(arch)
        .root_device_name("/dev/xvda")
        .send()
        .await
        .unwrap_or_else(|e| panic!("RegisterImage {name}: {e:?}"));
    out.image_id()
        .expect("RegisterImage returned an image id")
        .to_string()
}

pub async fn put_parameter(c: &Clients, name: &str, value: &str) {
    c.ssm
        .put_parameter()
        .name(name)
        .value(value)
        .r#type(aws_sdk_ssm::types::ParameterType::String)
        .overwrite(true)
        .send()
        .await
        .unwrap_or_else(|e| panic!("PutParameter {name}: {e:?}"));
}

/// Registers an image named `name` and publishes it where the provider looks
/// up the family's recommended AMI for `arch` and Kubernetes `version` under
/// `root` (emulators refuse parameter names under `/aws`); returns the image id.
pub async fn publish_eks_ami(
    c: &Clients,
    root: &str,
    family: AmiFamily,
    version: &str,
    arch: Arch,
    name: &str,
) -> String {
    let parameter = family
        .ssm_parameter(root, version, arch, None)
        .unwrap_or_else(|| panic!("{} has no public SSM parameter", family.as_str()));
    let ec2_arch = match arch {
        Arch::Amd64 => ArchitectureValues::X8664,
        Arch::Arm64 => ArchitectureValues::Arm64,
    };
    let id = register_image(c, name, ec2_arch).await;
    put_parameter(c, &parameter, &id).await;
    id
}

/// RunInstances of one m5.large in `subnet` with these tags (say, an instance
/// a crashed controller launched); returns its id.
pub async fn run_tagged_instance(c: &Clients, subnet: &str, pairs: &[(&str, &str)]) -> String {
    let image = register_image(c, "kerf-test-orphan", ArchitectureValues::X8664).await;
    let out = c
        .ec2
        .run_instances()
        .image_id(&image)
        .instance_type(aws_sdk_ec2::types::InstanceType::M5Large)
        .subnet_id(subnet)
        .min_count(1)
        .max_count(1)
        .tag_specifications(tag_spec(ResourceType::Instance, pairs))
        .send()
        .await
        .unwrap_or_else(|e| panic!("RunInstances in {subnet}: {e:?}"));
    out.instances()
        .first()
        .and_then(|i| i.instance_id())
        .expect("RunInstances returned an instance")
        .to_string()
}

/// An IAM user with an inline policy and an access key, made through `iam`;
/// returns the key. For moto with IAM enforced (`INITIAL_NO_AUTH_ACTION_COUNT`):
/// each user takes three requests (CreateUser, PutUserPolicy, CreateAccessKey),
/// best made before enforcement starts, because moto's signature check of a
/// form body fails on a policy document (it re-encodes `*` and spaces
/// differently from the SDK).
pub async fn iam_user(
    iam: &aws_sdk_iam::Client,
    name: &str,
    policy: &str,
) -> crate::clients::StaticCredentials {
    iam.create_user()
        .user_name(name)
        .send()
        .await
        .unwrap_or_else(|e| panic!("CreateUser {name}: {e:?}"));
    iam.put_user_policy()
        .user_name(name)
        .policy_name("kerf-test")
        .policy_document(policy)
        .send()
        .await
        .unwrap_or_else(|e| panic!("PutUserPolicy {name}: {e:?}"));
    let key = iam
        .create_access_key()
        .user_name(name)
        .send()
        .await
        .unwrap_or_else(|e| panic!("CreateAccessKey {name}: {e:?}"));
    let key = key.access_key().expect("an access key");
    crate::clients::StaticCredentials {
        access_key_id: key.access_key_id().to_string(),
        secret_access_key: key.secret_access_key().to_string(),
    }
}

/// Clients signing as `key`.
pub async fn clients_as(endpoint: &str, key: &crate::clients::StaticCredentials) -> Clients {
    let mut settings = AwsSettings::local(endpoint);
    settings.credentials = Some(key.clone());
    Clients::connect(&settings).await
}

/// The role names an instance profile holds (panics if there is no such profile).
pub async fn profile_roles(c: &Clients, profile: &str) -> Vec<String> {
    crate::instance_profile::roles_of(&c.iam, profile, format!("reading {profile}"))
        .await
        .unwrap_or_else(|e| panic!("GetInstanceProfile {profile}: {e}"))
        .unwrap_or_else(|| panic!("no instance profile {profile}"))
}

/// An IAM role EC2 may assume (a node role), by name.
pub async fn node_role(c: &Clients, name: &str) {
    let trust = r#"{"Version":"2012-10-17","Statement":[{"Effect":"Allow","Principal":{"Service":"ec2.amazonaws.com"},"Action":"sts:AssumeRole"}]}"#;
    c.iam
        .create_role()
        .role_name(name)
        .assume_role_policy_document(trust)
        .send()
        .await
        .unwrap_or_else(|e| panic!("CreateRole {name}: {e:?}"));
}

/// What the emulator holds for every launch template: id, name and the data
/// of its first version, oldest template first.
pub async fn launch_templates(
    c: &Clients,
) -> Vec<(
    String,
    String,
    aws_sdk_ec2::types::ResponseLaunchTemplateData,
)> {
    let listed = c
        .ec2
        .describe_launch_templates()
        .send()
        .await
        .unwrap_or_else(|e| panic!("DescribeLaunchTemplates: {e:?}"));
    let mut templates: Vec<_> = listed.launch_templates().to_vec();
    templates.sort_by_key(|t| t.create_time().map(|c| (c.secs(), c.subsec_nanos())));
    let mut out = Vec::with_capacity(templates.len());
    for t in templates {
        let id = t.launch_template_id().unwrap_or_default().to_string();
        let versions = c
            .ec2
            .describe_launch_template_versions()
            .launch_template_id(&id)
            .send()
            .await
            .unwrap_or_else(|e| panic!("DescribeLaunchTemplateVersions {id}: {e:?}"));
        let data = versions
            .launch_template_versions()
            .first()
            .and_then(|v| v.launch_template_data())
            .cloned()
            .unwrap_or_else(|| panic!("launch template {id} has no data"));
        let name = t.launch_template_name().unwrap_or_default().to_string();
        out.push((id, name, data));
    }
    out
}

/// A launch template's user data, base64-decoded.
pub fn user_data_text(data: &aws_sdk_ec2::types::ResponseLaunchTemplateData) -> String {
    let encoded = data.user_data().expect("the template has user data");
    let bytes = aws_smithy_types::base64::decode(encoded).expect("base64 user data");
    String::from_utf8(bytes).expect("UTF-8 user data")
}
