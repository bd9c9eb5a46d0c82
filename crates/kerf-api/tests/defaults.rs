//! Defaulting: AWS v1alpha5 requirement defaults and v1 CRD defaults.

use k8s_openapi::api::core::v1::NodeSelectorRequirement;
use kerf_api::duration::NillableDuration;
use kerf_api::v1::{
    Budget, ConsolidationPolicy, EC2NodeClass, NodeClaim, NodePool,
    NodeSelectorRequirementWithMinValues as Req,
};
use kerf_api::v1alpha5::Provisioner;

fn req(key: &str, op: &str, values: &[&str]) -> NodeSelectorRequirement {
    NodeSelectorRequirement {
        key: key.to_string(),
        operator: op.to_string(),
        values: (!values.is_empty()).then(|| values.iter().map(|v| v.to_string()).collect()),
    }
}

fn keys_ops(p: &Provisioner) -> Vec<String> {
    p.spec
        .requirements
        .iter()
        .map(|r| {
            format!(
                "{} {} {}",
                r.key,
                r.operator,
                r.values.clone().unwrap_or_default().join(",")
            )
        })
        .collect()
}

#[test]
fn provisioner_defaults_table() {
    let cases: &[(&str, Vec<NodeSelectorRequirement>, &[&str])] = &[
        (
            "empty",
            vec![],
            &[
                "kubernetes.io/os In linux",
                "kubernetes.io/arch In amd64",
                "karpenter.sh/capacity-type In on-demand",
                "karpenter.k8s.aws/instance-category In c,m,r",
                "karpenter.k8s.aws/instance-generation Gt 2",
            ],
        ),
        (
            "instance family pins instance shape",
            vec![req("karpenter.k8s.aws/instance-family", "In", &["m5"])],
            &[
                "karpenter.k8s.aws/instance-family In m5",
                "kubernetes.io/os In linux",
                "kubernetes.io/arch In amd64",
                "karpenter.sh/capacity-type In on-demand",
            ],
        ),
        (
            "generation alone counts too",
            vec![
                req("karpenter.k8s.aws/instance-generation", "Gt", &["5"]),
                req("kubernetes.io/os", "In", &["windows"]),
            ],
            &[
                "karpenter.k8s.aws/instance-generation Gt 5",
                "kubernetes.io/os In windows",
                "kubernetes.io/arch In amd64",
                "karpenter.sh/capacity-type In on-demand",
            ],
        ),
        (
            "beta keys are normalised and count as present",
            vec![
                req("beta.kubernetes.io/arch", "In", &["arm64"]),
                req("beta.kubernetes.io/instance-type", "In", &["m6g.large"]),
            ],
            &[
                "kubernetes.io/arch In arm64",
                "node.kubernetes.io/instance-type In m6g.large",
                "kubernetes.io/os In linux",
                "karpenter.sh/capacity-type In on-demand",
            ],
        ),
        (
            "any operator counts as present",
            vec![
                req("karpenter.sh/capacity-type", "Exists", &[]),
                req("karpenter.k8s.aws/instance-category", "NotIn", &["t"]),
            ],
            &[
                "karpenter.sh/capacity-type Exists ",
                "karpenter.k8s.aws/instance-category NotIn t",
                "kubernetes.io/os In linux",
                "kubernetes.io/arch In amd64",
            ],
        ),
    ];
    for (name, reqs, want) in cases {
        let mut p = Provisioner::default();
        p.metadata.name = Some("p".into());
        p.spec.provider_ref = Some(kerf_api::v1alpha5::ProviderRef {
            name: "x".into(),
            ..Default::default()
        });
        p.spec.requirements = reqs.clone();
        p.set_defaults();
        assert_eq!(keys_ops(&p), *want, "{name}");
        p.validate().unwrap_or_else(|e| panic!("{name}: {e}"));
    }
}

#[test]
fn nodepool_defaults() {
    let mut p: NodePool = serde_yaml::from_str(
        r#"
apiVersion: karpenter.sh/v1
kind: NodePool
metadata: {name: default}
spec:
  template:
    spec:
      nodeClassRef: {group: karpenter.k8s.aws, kind: EC2NodeClass, name: default}
      requirements:
        - {key: failure-domain.beta.kubernetes.io/zone, operator: In, values: [us-east-1a]}
"#,
    )
    .expect("parses");
    assert_eq!(
        p.spec.template.spec.expire_after_or_default(),
        NillableDuration::from_secs(720 * 3600)
    );
    assert_eq!(
        p.spec.disruption.consolidation_policy_or_default(),
        ConsolidationPolicy::WhenEmptyOrUnderutilized
    );
    p.set_defaults();
    let spec = &p.spec;
    assert_eq!(
        spec.template.spec.expire_after,
        Some(NillableDuration::from_secs(720 * 3600))
    );
    assert_eq!(
        spec.disruption.consolidation_policy,
        Some(ConsolidationPolicy::WhenEmptyOrUnderutilized)
    );
    assert_eq!(
        spec.disruption.consolidate_after,
        Some(NillableDuration::from_secs(0))
    );
    assert_eq!(
        spec.disruption.budgets,
        Some(vec![Budget {
            nodes: "10%".into(),
            ..Budget::default()
        }])
    );
    assert_eq!(
        spec.template.spec.requirements[0].key,
        "topology.kubernetes.io/zone"
    );
    assert_eq!(
        spec.template.spec.requirements.len(),
        1,
        "v1 does not add requirement defaults"
    );
    let json = serde_json::to_value(&p).expect("json");
    assert_eq!(json["spec"]["disruption"]["consolidateAfter"], "0s");
    assert_eq!(json["spec"]["template"]["spec"]["expireAfter"], "720h0m0s");
    p.validate().expect("valid");

    // Explicit values are kept, including an explicit empty budget list.
    let mut q = p.clone();
    q.spec.disruption.budgets = Some(vec![]);
    q.spec.disruption.consolidate_after = Some(NillableDuration::NEVER);
    q.set_defaults();
    assert_eq!(q.spec.disruption.budgets, Some(vec![]));
    assert!(
        q.spec
            .disruption
            .consolidate_after
            .is_some_and(|d| d.is_never())
    );

    p.apply_aws_requirement_defaults();
    let keys: Vec<&str> = p
        .spec
        .template
        .spec
        .requirements
        .iter()
        .map(|r| r.key.as_str())
        .collect();
    assert_eq!(
        keys,
        [
            "topology.kubernetes.io/zone",
            "kubernetes.io/os",
            "kubernetes.io/arch",
            "karpenter.sh/capacity-type",
            "karpenter.k8s.aws/instance-category",
            "karpenter.k8s.aws/instance-generation"
        ]
    );
    p.validate().expect("still valid");
}

#[test]
fn nodeclaim_and_nodeclass_defaults() {
    let mut c = NodeClaim::default();
    c.spec.requirements = vec![Req::new("beta.kubernetes.io/os", "In", &["linux"])];
    c.set_defaults();
    assert_eq!(c.spec.requirements[0].key, "kubernetes.io/os");
    assert_eq!(
        c.spec.expire_after,
        Some(NillableDuration::from_secs(720 * 3600))
    );

    let mut n = EC2NodeClass::default();
    n.set_defaults();
    let m = n.spec.metadata_options.as_ref().expect("metadata options");
    assert_eq!(m.http_endpoint.as_deref(), Some("enabled"));
    assert_eq!(m.http_protocol_ipv6.as_deref(), Some("disabled"));
    assert_eq!(m.http_put_response_hop_limit, Some(1));
    assert_eq!(m.http_tokens.as_deref(), Some("required"));
    n.spec.metadata_options.as_mut().expect("set").http_tokens = Some("optional".into());
    n.set_defaults();
    assert_eq!(
        n.spec
            .metadata_options
            .and_then(|m| m.http_tokens)
            .as_deref(),
        Some("optional")
    );
}
