//! Every EC2NodeClass rule, valid and invalid.

mod common;

use std::collections::BTreeMap;

use common::{Fails, Passes, Want, run, s};
use k8s_openapi::apimachinery::pkg::api::resource::Quantity;
use kerf_api::v1::{
    AMISelectorTerm, BlockDevice, BlockDeviceMapping, CapacityReservationSelectorTerm,
    EC2NodeClass, KubeletConfiguration, MetadataOptions, SecurityGroupSelectorTerm,
    SubnetSelectorTerm,
};

fn class() -> EC2NodeClass {
    serde_yaml::from_str(
        r#"
apiVersion: karpenter.k8s.aws/v1
kind: EC2NodeClass
metadata: {name: default}
spec:
  role: KarpenterNodeRole-my-cluster
  amiSelectorTerms:
    - alias: al2023@latest
  subnetSelectorTerms:
    - tags: {karpenter.sh/discovery: my-cluster}
  securityGroupSelectorTerms:
    - tags: {karpenter.sh/discovery: my-cluster}
"#,
    )
    .expect("base parses")
}

fn tags(entries: &[(&str, &str)]) -> BTreeMap<String, String> {
    entries.iter().map(|(k, v)| (s(k), s(v))).collect()
}

fn ami(c: &mut EC2NodeClass, term: AMISelectorTerm) {
    c.spec.ami_selector_terms = vec![term];
}

fn alias(a: &str) -> AMISelectorTerm {
    AMISelectorTerm {
        alias: Some(s(a)),
        ..Default::default()
    }
}

fn ami_id(id: &str) -> AMISelectorTerm {
    AMISelectorTerm {
        id: Some(s(id)),
        ..Default::default()
    }
}

fn kubelet(c: &mut EC2NodeClass) -> &mut KubeletConfiguration {
    c.spec
        .kubelet
        .get_or_insert_with(KubeletConfiguration::default)
}

fn bdm(c: &mut EC2NodeClass, root: bool, ebs: BlockDevice) {
    c.spec.block_device_mappings.push(BlockDeviceMapping {
        device_name: Some(s("/dev/xvda")),
        ebs: Some(ebs),
        root_volume: root,
    });
}

fn size(v: &str) -> BlockDevice {
    BlockDevice {
        volume_size: Some(Quantity(s(v))),
        ..Default::default()
    }
}

type Case = (&'static str, fn(&mut EC2NodeClass), Want);

#[test]
fn display_format() {
    let mut c = class();
    c.spec.instance_profile = Some(s("profile"));
    let err = c.validate().expect_err("both");
    assert_eq!(
        err.to_string(),
        r#"EC2NodeClass "default": spec: expected exactly one of role or instanceProfile, got both"#
    );
}

#[test]
fn selector_terms() {
    let cases: &[Case] = &[
        (
            "subnet id",
            |c| {
                c.spec.subnet_selector_terms = vec![SubnetSelectorTerm {
                    id: Some(s("subnet-0abc")),
                    ..Default::default()
                }]
            },
            Passes,
        ),
        (
            "no subnets",
            |c| c.spec.subnet_selector_terms.clear(),
            Fails("spec.subnetSelectorTerms", "must not be empty"),
        ),
        (
            "empty subnet term",
            |c| c.spec.subnet_selector_terms = vec![SubnetSelectorTerm::default()],
            Fails(
                "spec.subnetSelectorTerms[0]",
                "expected at least one of tags, id",
            ),
        ),
        (
            "subnet id with tags",
            |c| {
                c.spec.subnet_selector_terms = vec![SubnetSelectorTerm {
                    id: Some(s("subnet-1")),
                    tags: tags(&[("a", "b")]),
                }]
            },
            Fails("spec.subnetSelectorTerms[0].id", "cannot be combined"),
        ),
        (
            "subnet bad id",
            |c| {
                c.spec.subnet_selector_terms = vec![SubnetSelectorTerm {
                    id: Some(s("sub-1")),
                    ..Default::default()
                }]
            },
            Fails("spec.subnetSelectorTerms[0].id", "not a valid ID"),
        ),
        (
            "subnet empty tag value",
            |c| {
                c.spec.subnet_selector_terms = vec![SubnetSelectorTerm {
                    tags: tags(&[("Name", "")]),
                    ..Default::default()
                }]
            },
            Fails(
                "spec.subnetSelectorTerms[0].tags[Name]",
                "must not be empty",
            ),
        ),
        (
            "subnet too many tags",
            |c| {
                c.spec.subnet_selector_terms = vec![SubnetSelectorTerm {
                    tags: (0..21).map(|i| (format!("k{i}"), s("v"))).collect(),
                    ..Default::default()
                }]
            },
            Fails("spec.subnetSelectorTerms[0].tags", "at most 20 tags"),
        ),
        (
            "too many subnet terms",
            |c| {
                c.spec.subnet_selector_terms = vec![
                    SubnetSelectorTerm {
                        tags: tags(&[("a", "*")]),
                        ..Default::default()
                    };
                    31
                ]
            },
            Fails("spec.subnetSelectorTerms", "at most 30 items"),
        ),
        (
            "sg by name",
            |c| {
                c.spec.security_group_selector_terms = vec![SecurityGroupSelectorTerm {
                    name: Some(s("default")),
                    ..Default::default()
                }]
            },
            Passes,
        ),
        (
            "sg by id",
            |c| {
                c.spec.security_group_selector_terms = vec![SecurityGroupSelectorTerm {
                    id: Some(s("sg-0123")),
                    ..Default::default()
                }]
            },
            Passes,
        ),
        (
            "no sgs",
            |c| c.spec.security_group_selector_terms.clear(),
            Fails("spec.securityGroupSelectorTerms", "must not be empty"),
        ),
        (
            "empty sg term",
            |c| c.spec.security_group_selector_terms = vec![SecurityGroupSelectorTerm::default()],
            Fails(
                "spec.securityGroupSelectorTerms[0]",
                "expected at least one of tags, id, name",
            ),
        ),
        (
            "sg id with name",
            |c| {
                c.spec.security_group_selector_terms = vec![SecurityGroupSelectorTerm {
                    id: Some(s("sg-1")),
                    name: Some(s("x")),
                    ..Default::default()
                }]
            },
            Fails(
                "spec.securityGroupSelectorTerms[0].id",
                "cannot be combined",
            ),
        ),
        (
            "sg name with tags",
            |c| {
                c.spec.security_group_selector_terms = vec![SecurityGroupSelectorTerm {
                    name: Some(s("x")),
                    tags: tags(&[("a", "b")]),
                    ..Default::default()
                }]
            },
            Fails(
                "spec.securityGroupSelectorTerms[0].name",
                "cannot be combined",
            ),
        ),
        (
            "sg bad id",
            |c| {
                c.spec.security_group_selector_terms = vec![SecurityGroupSelectorTerm {
                    id: Some(s("sg_1")),
                    ..Default::default()
                }]
            },
            Fails("spec.securityGroupSelectorTerms[0].id", "not a valid ID"),
        ),
        (
            "capacity reservation",
            |c| {
                c.spec.capacity_reservation_selector_terms = vec![CapacityReservationSelectorTerm {
                    id: Some(s("cr-0123")),
                    ..Default::default()
                }]
            },
            Passes,
        ),
        (
            "capacity reservation by owner and tags",
            |c| {
                c.spec.capacity_reservation_selector_terms = vec![CapacityReservationSelectorTerm {
                    tags: tags(&[("a", "b")]),
                    owner_id: Some(s("123456789012")),
                    ..Default::default()
                }]
            },
            Passes,
        ),
        (
            "capacity reservation empty",
            |c| {
                c.spec.capacity_reservation_selector_terms =
                    vec![CapacityReservationSelectorTerm::default()]
            },
            Fails(
                "spec.capacityReservationSelectorTerms[0]",
                "expected at least one",
            ),
        ),
        (
            "capacity reservation id with criteria",
            |c| {
                c.spec.capacity_reservation_selector_terms = vec![CapacityReservationSelectorTerm {
                    id: Some(s("cr-1")),
                    instance_match_criteria: Some(s("open")),
                    ..Default::default()
                }]
            },
            Fails(
                "spec.capacityReservationSelectorTerms[0].id",
                "cannot be combined",
            ),
        ),
        (
            "capacity reservation criteria",
            |c| {
                c.spec.capacity_reservation_selector_terms = vec![CapacityReservationSelectorTerm {
                    instance_match_criteria: Some(s("closed")),
                    ..Default::default()
                }]
            },
            Fails(
                "spec.capacityReservationSelectorTerms[0].instanceMatchCriteria",
                "is not one of open, targeted",
            ),
        ),
        (
            "capacity reservation owner",
            |c| {
                c.spec.capacity_reservation_selector_terms = vec![CapacityReservationSelectorTerm {
                    tags: tags(&[("a", "b")]),
                    owner_id: Some(s("123")),
                    ..Default::default()
                }]
            },
            Fails(
                "spec.capacityReservationSelectorTerms[0].ownerID",
                "12-digit",
            ),
        ),
    ];
    run(&class(), cases, |c| c.validate());
}

#[test]
fn ami_selection() {
    let cases: &[Case] = &[
        (
            "bottlerocket alias",
            |c| ami(c, alias("bottlerocket@v1.20.0")),
            Passes,
        ),
        (
            "windows latest",
            |c| ami(c, alias("windows2022@latest")),
            Passes,
        ),
        (
            "windows pinned",
            |c| ami(c, alias("windows2019@v1")),
            Fails(
                "spec.amiSelectorTerms[0].alias",
                "windows families may only specify version 'latest'",
            ),
        ),
        (
            "unknown family",
            |c| ami(c, alias("ubuntu@latest")),
            Fails(
                "spec.amiSelectorTerms[0].alias",
                r#"family "ubuntu" is not one of"#,
            ),
        ),
        (
            "alias format",
            |c| ami(c, alias("al2023")),
            Fails(
                "spec.amiSelectorTerms[0].alias",
                "must match the format 'family@version'",
            ),
        ),
        (
            "alias empty version",
            |c| ami(c, alias("al2023@")),
            Fails("spec.amiSelectorTerms[0].alias", "improperly formatted"),
        ),
        (
            "alias too long",
            |c| ami(c, alias("al2023@v20240625-and-some-more-text")),
            Fails("spec.amiSelectorTerms[0].alias", "improperly formatted"),
        ),
        (
            "alias with tags",
            |c| {
                ami(
                    c,
                    AMISelectorTerm {
                        tags: tags(&[("a", "b")]),
                        ..alias("al2@latest")
                    },
                )
            },
            Fails("spec.amiSelectorTerms[0].alias", "cannot be combined"),
        ),
        (
            "alias with other terms",
            |c| c.spec.ami_selector_terms = vec![alias("al2023@latest"), ami_id("ami-1")],
            Fails("spec.amiSelectorTerms", "'alias' is mutually exclusive"),
        ),
        (
            "no terms",
            |c| c.spec.ami_selector_terms.clear(),
            Fails("spec.amiSelectorTerms", "must not be empty"),
        ),
        (
            "empty term",
            |c| ami(c, AMISelectorTerm::default()),
            Fails(
                "spec.amiSelectorTerms[0]",
                "expected at least one of alias, tags, id, name, ssmParameter",
            ),
        ),
        (
            "id without amiFamily",
            |c| ami(c, ami_id("ami-0123")),
            Fails(
                "spec.amiFamily",
                "must specify amiFamily if amiSelectorTerms does not contain an alias",
            ),
        ),
        (
            "id with amiFamily",
            |c| {
                ami(c, ami_id("ami-0123"));
                c.spec.ami_family = Some(s("AL2023"));
            },
            Passes,
        ),
        (
            "id with name",
            |c| {
                ami(
                    c,
                    AMISelectorTerm {
                        name: Some(s("x")),
                        ..ami_id("ami-1")
                    },
                );
                c.spec.ami_family = Some(s("Custom"));
            },
            Fails("spec.amiSelectorTerms[0].id", "cannot be combined"),
        ),
        (
            "bad id",
            |c| {
                ami(c, ami_id("image-1"));
                c.spec.ami_family = Some(s("Custom"));
            },
            Fails("spec.amiSelectorTerms[0].id", "not a valid ID"),
        ),
        (
            "name and owner",
            |c| {
                ami(
                    c,
                    AMISelectorTerm {
                        name: Some(s("my-ami-*")),
                        owner: Some(s("self")),
                        ..Default::default()
                    },
                );
                c.spec.ami_family = Some(s("Custom"));
            },
            Passes,
        ),
        (
            "ssm parameter",
            |c| {
                ami(
                    c,
                    AMISelectorTerm {
                        ssm_parameter: Some(s("/my/ami")),
                        ..Default::default()
                    },
                );
                c.spec.ami_family = Some(s("AL2023"));
            },
            Passes,
        ),
        (
            "amiFamily matches alias",
            |c| c.spec.ami_family = Some(s("AL2023")),
            Passes,
        ),
        (
            "amiFamily Custom with alias",
            |c| c.spec.ami_family = Some(s("Custom")),
            Passes,
        ),
        (
            "amiFamily differs from alias",
            |c| c.spec.ami_family = Some(s("Bottlerocket")),
            Fails(
                "spec.amiFamily",
                r#"must be "AL2023" or "Custom" when using an al2023 alias"#,
            ),
        ),
        (
            "amiFamily unknown",
            |c| c.spec.ami_family = Some(s("Ubuntu")),
            Fails("spec.amiFamily", r#""Ubuntu" is not one of"#),
        ),
    ];
    run(&class(), cases, |c| c.validate());
}

#[test]
fn identity_tags_kubelet_and_devices() {
    let cases: &[Case] = &[
        (
            "instance profile",
            |c| {
                c.spec.role = None;
                c.spec.instance_profile = Some(s("profile"));
            },
            Passes,
        ),
        (
            "neither role nor profile",
            |c| c.spec.role = None,
            Fails(
                "spec",
                "expected exactly one of role or instanceProfile, got neither",
            ),
        ),
        (
            "empty role",
            |c| c.spec.role = Some(s("")),
            Fails("spec.role", "must not be empty"),
        ),
        (
            "empty profile",
            |c| {
                c.spec.role = None;
                c.spec.instance_profile = Some(s(""));
            },
            Fails("spec.instanceProfile", "must not be empty"),
        ),
        (
            "tags",
            |c| c.spec.tags = tags(&[("team", "a"), ("Name", "node")]),
            Passes,
        ),
        (
            "empty tag key",
            |c| c.spec.tags = tags(&[("", "a")]),
            Fails("spec.tags", "empty tag keys aren't supported"),
        ),
        (
            "cluster tag",
            |c| c.spec.tags = tags(&[("kubernetes.io/cluster/x", "owned")]),
            Fails("spec.tags[kubernetes.io/cluster/x]", "tag is restricted"),
        ),
        (
            "eks tag",
            |c| c.spec.tags = tags(&[("eks:eks-cluster-name", "x")]),
            Fails("spec.tags[eks:eks-cluster-name]", "tag is restricted"),
        ),
        (
            // kerf's ownership tag: garbage collection and the IAM policy trust it.
            "kerf ownership tag",
            |c| c.spec.tags = tags(&[("kerf.sh/cluster", "x")]),
            Fails("spec.tags[kerf.sh/cluster]", "tag is restricted"),
        ),
        (
            "nodepool tag",
            |c| c.spec.tags = tags(&[("karpenter.sh/nodepool", "x")]),
            Fails("spec.tags[karpenter.sh/nodepool]", "tag is restricted"),
        ),
        (
            "nodeclaim tag",
            |c| c.spec.tags = tags(&[("karpenter.sh/nodeclaim", "x")]),
            Fails("spec.tags[karpenter.sh/nodeclaim]", "tag is restricted"),
        ),
        (
            "nodeclass tag",
            |c| c.spec.tags = tags(&[("karpenter.k8s.aws/ec2nodeclass", "x")]),
            Fails(
                "spec.tags[karpenter.k8s.aws/ec2nodeclass]",
                "tag is restricted",
            ),
        ),
        (
            "kubelet",
            |c| {
                let k = kubelet(c);
                k.max_pods = Some(110);
                k.system_reserved = tags(&[("cpu", "100m"), ("memory", "100Mi")]);
                k.kube_reserved = tags(&[("ephemeral-storage", "1Gi")]);
                k.eviction_hard = tags(&[("memory.available", "5%")]);
                k.image_gc_high_threshold_percent = Some(85);
                k.image_gc_low_threshold_percent = Some(80);
            },
            Passes,
        ),
        (
            "kubelet reserved key",
            |c| kubelet(c).kube_reserved = tags(&[("nvidia.com/gpu", "1")]),
            Fails(
                "spec.kubelet.kubeReserved[nvidia.com/gpu]",
                "is not one of cpu, memory",
            ),
        ),
        (
            "kubelet reserved negative",
            |c| kubelet(c).system_reserved = tags(&[("memory", "-1Mi")]),
            Fails(
                "spec.kubelet.systemReserved[memory]",
                "must not be negative",
            ),
        ),
        (
            "kubelet eviction",
            |c| kubelet(c).eviction_soft = tags(&[("memory.available", "1Gi")]),
            Fails(
                "spec.kubelet.evictionSoft[memory.available]",
                "has no matching evictionSoftGracePeriod",
            ),
        ),
        (
            "imageGC equal is invalid in v1",
            |c| {
                let k = kubelet(c);
                k.image_gc_high_threshold_percent = Some(80);
                k.image_gc_low_threshold_percent = Some(80);
            },
            Fails(
                "spec.kubelet.imageGCHighThresholdPercent",
                "must be greater than imageGCLowThresholdPercent",
            ),
        ),
        (
            "kubelet podsPerCore",
            |c| kubelet(c).pods_per_core = Some(-1),
            Fails("spec.kubelet.podsPerCore", "must not be negative"),
        ),
        ("root volume", |c| bdm(c, true, size("100Gi")), Passes),
        (
            "two root volumes",
            |c| {
                bdm(c, true, size("100Gi"));
                bdm(c, true, size("100Gi"));
            },
            Fails(
                "spec.blockDeviceMappings",
                "only one blockDeviceMappings with rootVolume",
            ),
        ),
        (
            "snapshot only",
            |c| {
                bdm(
                    c,
                    false,
                    BlockDevice {
                        snapshot_id: Some(s("snap-1")),
                        ..Default::default()
                    },
                )
            },
            Passes,
        ),
        (
            "no size or snapshot",
            |c| bdm(c, false, BlockDevice::default()),
            Fails(
                "spec.blockDeviceMappings[0].ebs",
                "snapshotID or volumeSize must be defined",
            ),
        ),
        (
            "volume type",
            |c| {
                bdm(
                    c,
                    false,
                    BlockDevice {
                        volume_type: Some(s("magnetic")),
                        ..size("20Gi")
                    },
                )
            },
            Fails(
                "spec.blockDeviceMappings[0].ebs.volumeType",
                "is not one of",
            ),
        ),
        ("volume size 64T", |c| bdm(c, false, size("64T")), Passes),
        (
            "volume size 59000Gi",
            |c| bdm(c, false, size("59000Gi")),
            Passes,
        ),
        (
            "volume size 59001Gi",
            |c| bdm(c, false, size("59001Gi")),
            Fails(
                "spec.blockDeviceMappings[0].ebs.volumeSize",
                "between 1G and 64T",
            ),
        ),
        (
            "volume size Mi",
            |c| bdm(c, false, size("2048Mi")),
            Fails(
                "spec.blockDeviceMappings[0].ebs.volumeSize",
                "whole number of Gi, G, Ti or T",
            ),
        ),
        (
            "volume size 0G",
            |c| bdm(c, false, size("0G")),
            Fails("spec.blockDeviceMappings[0].ebs.volumeSize", "whole number"),
        ),
        (
            "too many mappings",
            |c| c.spec.block_device_mappings = vec![BlockDeviceMapping::default(); 51],
            Fails("spec.blockDeviceMappings", "at most 50 items"),
        ),
        (
            "metadata options",
            |c| {
                c.spec.metadata_options = Some(MetadataOptions {
                    http_endpoint: Some(s("disabled")),
                    http_protocol_ipv6: Some(s("enabled")),
                    http_put_response_hop_limit: Some(64),
                    http_tokens: Some(s("optional")),
                })
            },
            Passes,
        ),
        (
            "metadata endpoint",
            |c| {
                c.spec.metadata_options = Some(MetadataOptions {
                    http_endpoint: Some(s("maybe")),
                    ..Default::default()
                })
            },
            Fails(
                "spec.metadataOptions.httpEndpoint",
                "is not one of enabled, disabled",
            ),
        ),
        (
            "metadata hop limit",
            |c| {
                c.spec.metadata_options = Some(MetadataOptions {
                    http_put_response_hop_limit: Some(0),
                    ..Default::default()
                })
            },
            Fails(
                "spec.metadataOptions.httpPutResponseHopLimit",
                "between 1 and 64",
            ),
        ),
        (
            "metadata tokens",
            |c| {
                c.spec.metadata_options = Some(MetadataOptions {
                    http_tokens: Some(s("never")),
                    ..Default::default()
                })
            },
            Fails(
                "spec.metadataOptions.httpTokens",
                "is not one of required, optional",
            ),
        ),
        (
            "ipPrefixCount negative",
            |c| c.spec.ip_prefix_count = Some(-1),
            Fails("spec.ipPrefixCount", "must not be negative"),
        ),
    ];
    run(&class(), cases, |c| c.validate());
}
