//! Every AWS v1alpha1 rule: the inline provider (through a Provisioner) and
//! the AWSNodeTemplate.

mod common;

use std::collections::BTreeMap;

use common::{Fails, Passes, Want, run, s};
use k8s_openapi::apimachinery::pkg::api::resource::Quantity;
use kerf_api::v1alpha1::{
    AWSNodeTemplate, AwsProvider, BlockDevice, BlockDeviceMapping, MetadataOptions,
};
use kerf_api::v1alpha5::Provisioner;

fn provisioner() -> Provisioner {
    serde_yaml::from_str(
        r#"
apiVersion: karpenter.sh/v1alpha5
kind: Provisioner
metadata: {name: default}
spec:
  provider:
    instanceProfile: KarpenterNodeInstanceProfile
    subnetSelector: {karpenter.sh/discovery: my-cluster}
    securityGroupSelector: {karpenter.sh/discovery: my-cluster}
    tags: {team: a}
"#,
    )
    .expect("base parses")
}

fn provider(p: &mut Provisioner) -> &mut AwsProvider {
    p.spec.provider.as_mut().expect("inline provider")
}

fn map(entries: &[(&str, &str)]) -> Option<BTreeMap<String, String>> {
    Some(entries.iter().map(|(k, v)| (s(k), s(v))).collect())
}

fn ebs(p: &mut Provisioner, device: Option<&str>, ebs: BlockDevice) {
    provider(p).block_device_mappings = vec![BlockDeviceMapping {
        device_name: device.map(s),
        ebs: Some(ebs),
    }];
}

fn size(v: &str) -> BlockDevice {
    BlockDevice {
        volume_size: Some(Quantity(s(v))),
        volume_type: Some(s("gp3")),
        ..Default::default()
    }
}

fn metadata(p: &mut Provisioner) -> &mut MetadataOptions {
    provider(p)
        .metadata_options
        .get_or_insert_with(MetadataOptions::default)
}

type Case = (&'static str, fn(&mut Provisioner), Want);

#[test]
fn inline_provider() {
    let cases: &[Case] = &[
        (
            "minimal (instance profile only)",
            |p| {
                p.spec.provider = Some(AwsProvider {
                    instance_profile: Some(s("x")),
                    ..Default::default()
                })
            },
            Passes,
        ),
        (
            "unknown field",
            |p| {
                drop(
                    provider(p)
                        .extra
                        .insert(s("subnetSelectr"), serde_json::json!({})),
                )
            },
            Fails("spec.provider.subnetSelectr", "unknown field"),
        ),
        (
            "launchTemplate alone",
            |p| {
                let pr = provider(p);
                pr.security_group_selector = None;
                pr.instance_profile = None;
                pr.launch_template = Some(s("my-lt"));
            },
            Passes,
        ),
        (
            "launchTemplate with securityGroupSelector",
            |p| provider(p).launch_template = Some(s("lt")),
            Fails(
                "spec.provider.launchTemplate",
                "cannot be combined with securityGroupSelector",
            ),
        ),
        (
            "launchTemplate with instanceProfile",
            |p| {
                let pr = provider(p);
                pr.security_group_selector = None;
                pr.launch_template = Some(s("lt"));
            },
            Fails(
                "spec.provider.launchTemplate",
                "cannot be combined with instanceProfile",
            ),
        ),
        (
            "launchTemplate with amiFamily",
            |p| {
                let pr = provider(p);
                pr.launch_template = Some(s("lt"));
                pr.ami_family = Some(s("AL2"));
            },
            Fails(
                "spec.provider.launchTemplate",
                "cannot be combined with amiFamily",
            ),
        ),
        (
            "launchTemplate with metadataOptions",
            |p| {
                provider(p).launch_template = Some(s("lt"));
                metadata(p).http_tokens = Some(s("required"));
            },
            Fails(
                "spec.provider.launchTemplate",
                "cannot be combined with metadataOptions",
            ),
        ),
        (
            "launchTemplate with blockDeviceMappings",
            |p| {
                provider(p).launch_template = Some(s("lt"));
                ebs(p, Some("/dev/xvda"), size("20Gi"));
            },
            Fails(
                "spec.provider.launchTemplate",
                "cannot be combined with blockDeviceMappings",
            ),
        ),
        (
            "subnet wildcard",
            |p| provider(p).subnet_selector = map(&[("Name", "*")]),
            Passes,
        ),
        (
            "subnet empty value",
            |p| provider(p).subnet_selector = map(&[("Name", "")]),
            Fails("spec.provider.subnetSelector[Name]", "must not be empty"),
        ),
        (
            "subnet ids",
            |p| provider(p).subnet_selector = map(&[("aws-ids", "subnet-0a1b, subnet-2c3d")]),
            Passes,
        ),
        (
            "subnet bad id",
            |p| provider(p).subnet_selector = map(&[("aws-ids", "subnet-0a1b,sg-1")]),
            Fails(
                "spec.provider.subnetSelector[aws-ids]",
                r#""sg-1" is not a valid ID"#,
            ),
        ),
        (
            "subnet ids with tags",
            |p| provider(p).subnet_selector = map(&[("aws-ids", "subnet-1"), ("Name", "x")]),
            Fails(
                "spec.provider.subnetSelector[aws-ids]",
                "cannot be combined with other selector keys",
            ),
        ),
        (
            "security group ids",
            |p| provider(p).security_group_selector = map(&[("aws-ids", "sg-0123abc")]),
            Passes,
        ),
        (
            "security group bad id",
            |p| provider(p).security_group_selector = map(&[("aws-ids", "sg-UPPER")]),
            Fails(
                "spec.provider.securityGroupSelector[aws-ids]",
                "is not a valid ID",
            ),
        ),
        (
            "security group ids with tags",
            |p| provider(p).security_group_selector = map(&[("aws-ids", "sg-1"), ("a", "b")]),
            Fails(
                "spec.provider.securityGroupSelector[aws-ids]",
                "cannot be combined",
            ),
        ),
        (
            "security group empty key",
            |p| provider(p).security_group_selector = map(&[("", "x")]),
            Fails("spec.provider.securityGroupSelector[]", "must not be empty"),
        ),
        (
            "empty tag key",
            |p| drop(provider(p).tags.insert(s(""), s("x"))),
            Fails("spec.provider.tags", "tag keys must not be empty"),
        ),
        (
            "cluster tag",
            |p| {
                drop(
                    provider(p)
                        .tags
                        .insert(s("kubernetes.io/cluster/prod"), s("owned")),
                )
            },
            Fails(
                "spec.provider.tags[kubernetes.io/cluster/prod]",
                "tag is restricted",
            ),
        ),
        (
            "provisioner-name tag",
            |p| {
                drop(
                    provider(p)
                        .tags
                        .insert(s("karpenter.sh/provisioner-name"), s("x")),
                )
            },
            Fails(
                "spec.provider.tags[karpenter.sh/provisioner-name]",
                "restricted",
            ),
        ),
        (
            "managed-by tag",
            |p| {
                drop(
                    provider(p)
                        .tags
                        .insert(s("karpenter.sh/managed-by"), s("x")),
                )
            },
            Fails("spec.provider.tags[karpenter.sh/managed-by]", "restricted"),
        ),
        (
            "kerf ownership tag",
            |p| drop(provider(p).tags.insert(s("kerf.sh/cluster"), s("x"))),
            Fails("spec.provider.tags[kerf.sh/cluster]", "restricted"),
        ),
        (
            "metadata options",
            |p| {
                *metadata(p) = MetadataOptions {
                    http_endpoint: Some(s("enabled")),
                    http_protocol_ipv6: Some(s("disabled")),
                    http_put_response_hop_limit: Some(2),
                    http_tokens: Some(s("required")),
                }
            },
            Passes,
        ),
        (
            "httpEndpoint",
            |p| metadata(p).http_endpoint = Some(s("on")),
            Fails(
                "spec.provider.metadataOptions.httpEndpoint",
                r#""on" is not one of enabled, disabled"#,
            ),
        ),
        (
            "httpProtocolIPv6",
            |p| metadata(p).http_protocol_ipv6 = Some(s("yes")),
            Fails(
                "spec.provider.metadataOptions.httpProtocolIPv6",
                "is not one of enabled, disabled",
            ),
        ),
        (
            "hop limit 0",
            |p| metadata(p).http_put_response_hop_limit = Some(0),
            Fails(
                "spec.provider.metadataOptions.httpPutResponseHopLimit",
                "between 1 and 64",
            ),
        ),
        (
            "hop limit 65",
            |p| metadata(p).http_put_response_hop_limit = Some(65),
            Fails(
                "spec.provider.metadataOptions.httpPutResponseHopLimit",
                "between 1 and 64",
            ),
        ),
        (
            "httpTokens",
            |p| metadata(p).http_tokens = Some(s("maybe")),
            Fails(
                "spec.provider.metadataOptions.httpTokens",
                "is not one of required, optional",
            ),
        ),
        (
            "amiFamily Bottlerocket",
            |p| provider(p).ami_family = Some(s("Bottlerocket")),
            Passes,
        ),
        (
            "amiFamily Ubuntu",
            |p| provider(p).ami_family = Some(s("Ubuntu")),
            Passes,
        ),
        (
            "amiFamily unknown",
            |p| provider(p).ami_family = Some(s("al2")),
            Fails(
                "spec.provider.amiFamily",
                r#""al2" is not one of AL2, AL2023, Bottlerocket, Ubuntu, Windows2019, Windows2022, Custom"#,
            ),
        ),
        (
            "block device",
            |p| ebs(p, Some("/dev/xvda"), size("100Gi")),
            Passes,
        ),
        (
            "block device from snapshot",
            |p| {
                ebs(
                    p,
                    Some("/dev/xvda"),
                    BlockDevice {
                        snapshot_id: Some(s("snap-1")),
                        ..Default::default()
                    },
                )
            },
            Passes,
        ),
        (
            "block device without name",
            |p| ebs(p, None, size("20Gi")),
            Fails(
                "spec.provider.blockDeviceMappings[0].deviceName",
                "required",
            ),
        ),
        (
            "volume type",
            |p| {
                ebs(
                    p,
                    Some("/dev/xvda"),
                    BlockDevice {
                        volume_type: Some(s("gp9")),
                        ..size("20Gi")
                    },
                )
            },
            Fails(
                "spec.provider.blockDeviceMappings[0].ebs.volumeType",
                r#""gp9" is not one of standard, io1, io2, gp2, sc1, st1, gp3"#,
            ),
        ),
        (
            "volume size missing",
            |p| ebs(p, Some("/dev/xvda"), BlockDevice::default()),
            Fails(
                "spec.provider.blockDeviceMappings[0].ebs.volumeSize",
                "required unless snapshotID is set",
            ),
        ),
        (
            "volume size too small",
            |p| ebs(p, Some("/dev/xvda"), size("512Mi")),
            Fails(
                "spec.provider.blockDeviceMappings[0].ebs.volumeSize",
                "between 1G and 64T",
            ),
        ),
        (
            "volume size too large",
            |p| ebs(p, Some("/dev/xvda"), size("65T")),
            Fails(
                "spec.provider.blockDeviceMappings[0].ebs.volumeSize",
                "between 1G and 64T",
            ),
        ),
        (
            "volume size 64T",
            |p| ebs(p, Some("/dev/xvda"), size("64T")),
            Passes,
        ),
        (
            "volume size not a quantity",
            |p| ebs(p, Some("/dev/xvda"), size("big")),
            Fails(
                "spec.provider.blockDeviceMappings[0].ebs.volumeSize",
                "is not a valid quantity",
            ),
        ),
    ];
    run(&provisioner(), cases, |p| p.validate());
}

fn template() -> AWSNodeTemplate {
    serde_yaml::from_str(
        r#"
apiVersion: karpenter.k8s.aws/v1alpha1
kind: AWSNodeTemplate
metadata: {name: default}
spec:
  subnetSelector: {karpenter.sh/discovery: my-cluster}
  securityGroupSelector: {karpenter.sh/discovery: my-cluster}
  instanceProfile: KarpenterNodeInstanceProfile
"#,
    )
    .expect("template parses")
}

type TemplateCase = (&'static str, fn(&mut AWSNodeTemplate), Want);

#[test]
fn aws_node_template() {
    let cases: &[TemplateCase] = &[
        (
            "user data",
            |t| t.spec.user_data = Some(s("#!/bin/bash\necho hi")),
            Passes,
        ),
        (
            "user data with launchTemplate",
            |t| {
                t.spec.provider.security_group_selector = None;
                t.spec.provider.instance_profile = None;
                t.spec.provider.launch_template = Some(s("lt"));
                t.spec.user_data = Some(s("x"));
            },
            Fails("spec.userData", "cannot be combined with launchTemplate"),
        ),
        (
            "amiSelector with launchTemplate",
            |t| {
                t.spec.provider.security_group_selector = None;
                t.spec.provider.instance_profile = None;
                t.spec.provider.launch_template = Some(s("lt"));
                t.spec.ami_selector = map(&[("Name", "x")]);
            },
            Fails("spec.amiSelector", "cannot be combined with launchTemplate"),
        ),
        (
            "Custom with amiSelector",
            |t| {
                t.spec.provider.ami_family = Some(s("Custom"));
                t.spec.ami_selector = map(&[("aws::name", "my-ami-*")]);
            },
            Passes,
        ),
        (
            "Custom without amiSelector",
            |t| t.spec.provider.ami_family = Some(s("Custom")),
            Fails("spec.amiSelector", "required when amiFamily is Custom"),
        ),
        (
            "ami ids",
            |t| t.spec.ami_selector = map(&[("aws-ids", "ami-0123,ami-4567")]),
            Passes,
        ),
        (
            "ami ids (aws::ids)",
            |t| t.spec.ami_selector = map(&[("aws::ids", "ami-0123")]),
            Passes,
        ),
        (
            "ami bad id",
            |t| t.spec.ami_selector = map(&[("aws-ids", "img-1")]),
            Fails(
                "spec.amiSelector[aws-ids]",
                "is not a valid ID (expected ami-[0-9a-z]+)",
            ),
        ),
        (
            "ami ids with tags",
            |t| t.spec.ami_selector = map(&[("aws-ids", "ami-1"), ("env", "prod")]),
            Fails("spec.amiSelector[aws-ids]", "cannot be combined"),
        ),
        (
            "ami empty value",
            |t| t.spec.ami_selector = map(&[("env", "")]),
            Fails("spec.amiSelector[env]", "must not be empty"),
        ),
        (
            "provider rules apply",
            |t| {
                drop(
                    t.spec
                        .provider
                        .tags
                        .insert(s("kubernetes.io/cluster/x"), s("owned")),
                )
            },
            Fails("spec.tags[kubernetes.io/cluster/x]", "restricted"),
        ),
        (
            "unknown field",
            |t| {
                drop(
                    t.spec
                        .provider
                        .extra
                        .insert(s("amiSelectors"), serde_json::json!({})),
                )
            },
            Fails("spec.amiSelectors", "unknown field"),
        ),
    ];
    run(&template(), cases, |t| t.validate());
}

#[test]
fn unknown_inline_fields_are_kept_and_reported() {
    let p: Provisioner = serde_yaml::from_str(
        r#"
apiVersion: karpenter.sh/v1alpha5
kind: Provisioner
metadata: {name: default}
spec:
  provider:
    instanceProfile: x
    subnetSelector: {a: b}
    mystery: {nested: [1, 2]}
"#,
    )
    .expect("parses");
    let err = p.validate().expect_err("unknown field");
    assert_eq!(
        err.to_string(),
        r#"Provisioner "default": spec.provider.mystery: unknown field"#
    );
    let json = serde_json::to_value(&p).expect("json");
    assert_eq!(json["spec"]["provider"]["mystery"]["nested"][1], 2);
}
