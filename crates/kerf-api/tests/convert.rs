//! v1alpha5 → v1 conversion, following the mapping table.

use kerf_api::convert::{ConversionError, provisioner_to_v1};
use kerf_api::duration::NillableDuration;
use kerf_api::v1::ConsolidationPolicy;
use kerf_api::v1alpha1::AWSNodeTemplate;
use kerf_api::v1alpha5::Provisioner;

fn provisioner(extra: &str) -> Provisioner {
    let yaml = format!(
        r#"
apiVersion: karpenter.sh/v1alpha5
kind: Provisioner
metadata: {{name: team-a}}
spec:
  labels: {{team: a}}
  annotations: {{example.com/owner: a}}
  taints: [{{key: team, value: a, effect: NoSchedule}}]
  startupTaints: [{{key: init, effect: NoExecute}}]
  requirements:
    - {{key: karpenter.sh/capacity-type, operator: In, values: [spot]}}
  limits: {{resources: {{cpu: 100}}}}
  weight: 20
{extra}
"#
    );
    serde_yaml::from_str(&yaml).expect("parses")
}

const TEMPLATE: &str = r#"
apiVersion: karpenter.k8s.aws/v1alpha1
kind: AWSNodeTemplate
metadata: {name: default}
spec:
  subnetSelector: {karpenter.sh/discovery: my-cluster}
  securityGroupSelector: {aws-ids: "sg-1,sg-2"}
  instanceProfile: MyProfile
  amiFamily: Bottlerocket
  userData: "[settings]"
  tags: {team: a}
  detailedMonitoring: true
  blockDeviceMappings:
    - {deviceName: /dev/xvdb, ebs: {volumeSize: 100Gi, volumeType: gp3}}
"#;

#[test]
fn provider_ref_with_template() {
    let p = provisioner(
        "  providerRef: {name: default}\n  ttlSecondsAfterEmpty: 30\n  ttlSecondsUntilExpired: 86400\n  kubeletConfiguration: {maxPods: 50, containerRuntime: containerd, kubeReserved: {cpu: 200m}}",
    );
    p.validate().expect("valid provisioner");
    let t: AWSNodeTemplate = serde_yaml::from_str(TEMPLATE).expect("template");
    let out = provisioner_to_v1(&p, Some(&t)).expect("converts");

    let pool = &out.node_pool;
    assert_eq!(pool.metadata.name.as_deref(), Some("team-a"));
    let tpl = &pool.spec.template;
    assert_eq!(tpl.metadata.labels["team"], "a");
    assert_eq!(tpl.metadata.annotations["example.com/owner"], "a");
    assert_eq!(tpl.spec.taints.len(), 1);
    assert_eq!(tpl.spec.startup_taints.len(), 1);
    assert_eq!(tpl.spec.requirements[0].key, "karpenter.sh/capacity-type");
    assert_eq!(tpl.spec.node_class_ref.name, "default");
    assert_eq!(tpl.spec.node_class_ref.kind, "EC2NodeClass");
    assert_eq!(tpl.spec.node_class_ref.group, "karpenter.k8s.aws");
    assert_eq!(
        tpl.spec.expire_after,
        Some(NillableDuration::from_secs(86400))
    );
    assert_eq!(
        pool.spec.disruption.consolidation_policy,
        Some(ConsolidationPolicy::WhenEmpty)
    );
    assert_eq!(
        pool.spec.disruption.consolidate_after,
        Some(NillableDuration::from_secs(30))
    );
    assert_eq!(pool.spec.limits["cpu"].0, "100");
    assert_eq!(pool.spec.weight, Some(20));
    pool.validate().expect("valid nodepool");

    let class = out.node_class.as_ref().expect("node class");
    assert_eq!(class.metadata.name.as_deref(), Some("default"));
    let spec = &class.spec;
    assert_eq!(spec.subnet_selector_terms.len(), 1);
    assert_eq!(
        spec.subnet_selector_terms[0].tags["karpenter.sh/discovery"],
        "my-cluster"
    );
    let sg_ids: Vec<_> = spec
        .security_group_selector_terms
        .iter()
        .filter_map(|t| t.id.as_deref())
        .collect();
    assert_eq!(sg_ids, ["sg-1", "sg-2"]);
    assert_eq!(
        spec.ami_selector_terms[0].alias.as_deref(),
        Some("bottlerocket@latest")
    );
    assert_eq!(spec.ami_family, None);
    assert_eq!(spec.instance_profile.as_deref(), Some("MyProfile"));
    assert_eq!(spec.user_data.as_deref(), Some("[settings]"));
    assert_eq!(spec.detailed_monitoring, Some(true));
    assert_eq!(
        spec.block_device_mappings[0].device_name.as_deref(),
        Some("/dev/xvdb")
    );
    let kubelet = spec.kubelet.as_ref().expect("kubelet");
    assert_eq!(kubelet.max_pods, Some(50));
    assert_eq!(kubelet.kube_reserved["cpu"], "200m");
    assert!(
        out.warnings.iter().any(|w| w.contains("containerRuntime")),
        "{:?}",
        out.warnings
    );
    class.validate().expect("valid node class");
}

#[test]
fn consolidation_and_expiry_mapping() {
    let cases: &[(
        &str,
        ConsolidationPolicy,
        NillableDuration,
        NillableDuration,
    )] = &[
        (
            "  consolidation: {enabled: true}",
            ConsolidationPolicy::WhenEmptyOrUnderutilized,
            NillableDuration::from_secs(0),
            NillableDuration::NEVER,
        ),
        (
            "  ttlSecondsAfterEmpty: 0",
            ConsolidationPolicy::WhenEmpty,
            NillableDuration::from_secs(0),
            NillableDuration::NEVER,
        ),
        (
            "  ttlSecondsUntilExpired: 60",
            ConsolidationPolicy::WhenEmpty,
            NillableDuration::NEVER,
            NillableDuration::from_secs(60),
        ),
    ];
    for (extra, policy, after, expire) in cases {
        let p = provisioner(&format!("  providerRef: {{name: default}}\n{extra}"));
        let out = provisioner_to_v1(&p, None).expect("converts");
        let pool = &out.node_pool;
        assert_eq!(
            pool.spec.disruption.consolidation_policy,
            Some(*policy),
            "{extra}"
        );
        assert_eq!(
            pool.spec.disruption.consolidate_after,
            Some(*after),
            "{extra}"
        );
        assert_eq!(
            pool.spec.template.spec.expire_after,
            Some(*expire),
            "{extra}"
        );
        assert!(out.node_class.is_none());
        pool.validate().expect("valid");
    }
}

#[test]
fn inline_provider() {
    let p = provisioner(
        "  provider:\n    instanceProfile: Profile\n    subnetSelector: {aws-ids: subnet-1}\n    securityGroupSelector: {Name: my-sg}\n    launchTemplate: lt",
    );
    let out = provisioner_to_v1(&p, None).expect("converts");
    assert_eq!(
        out.node_pool.spec.template.spec.node_class_ref.name,
        "team-a"
    );
    let class = out.node_class.expect("node class from the inline provider");
    assert_eq!(class.metadata.name.as_deref(), Some("team-a"));
    assert_eq!(
        class.spec.subnet_selector_terms[0].id.as_deref(),
        Some("subnet-1")
    );
    assert_eq!(
        class.spec.security_group_selector_terms[0].tags["Name"],
        "my-sg"
    );
    assert_eq!(
        class.spec.ami_selector_terms[0].alias.as_deref(),
        Some("al2@latest")
    );
    assert!(out.warnings.iter().any(|w| w.contains("launchTemplate")));
}

#[test]
fn ami_selector_terms() {
    let mut t: AWSNodeTemplate = serde_yaml::from_str(TEMPLATE).expect("template");
    t.spec.provider.ami_family = Some("Custom".into());
    t.spec.ami_selector = Some(
        [
            ("aws::name", "my-ami-*"),
            ("aws::owners", "self,123456789012"),
            ("env", "prod"),
        ]
        .into_iter()
        .map(|(k, v)| (k.to_string(), v.to_string()))
        .collect(),
    );
    let p = provisioner("  providerRef: {name: default}");
    let class = provisioner_to_v1(&p, Some(&t))
        .expect("converts")
        .node_class
        .expect("class");
    let terms = &class.spec.ami_selector_terms;
    assert_eq!(terms.len(), 2);
    assert_eq!(terms[0].name.as_deref(), Some("my-ami-*"));
    assert_eq!(terms[0].owner.as_deref(), Some("self"));
    assert_eq!(terms[1].owner.as_deref(), Some("123456789012"));
    assert_eq!(terms[0].tags["env"], "prod");
    assert_eq!(class.spec.ami_family.as_deref(), Some("Custom"));
    class.validate().expect("valid");

    t.spec.ami_selector = Some(
        [("aws-ids".to_string(), "ami-1,ami-2".to_string())]
            .into_iter()
            .collect(),
    );
    let class = provisioner_to_v1(&p, Some(&t))
        .expect("converts")
        .node_class
        .expect("class");
    let ids: Vec<_> = class
        .spec
        .ami_selector_terms
        .iter()
        .filter_map(|t| t.id.as_deref())
        .collect();
    assert_eq!(ids, ["ami-1", "ami-2"]);
}

#[test]
fn errors() {
    let p = provisioner("  providerRef: {name: other}");
    let t: AWSNodeTemplate = serde_yaml::from_str(TEMPLATE).expect("template");
    let err = provisioner_to_v1(&p, Some(&t)).expect_err("mismatch");
    assert!(matches!(err, ConversionError::TemplateMismatch { .. }));
    assert!(err.to_string().contains("\"other\""));

    let p = provisioner("");
    assert_eq!(
        provisioner_to_v1(&p, None),
        Err(ConversionError::NoProvider("team-a".into()))
    );
}
