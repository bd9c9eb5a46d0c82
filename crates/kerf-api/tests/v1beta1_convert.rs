//! v1beta1 ⇄ v1 conversion. Tests named "mirrors ..." follow core v1.0.0
//! `pkg/apis/v1/nodepool_conversion_test.go` / `nodeclaim_conversion_test.go`
//! and AWS v1.0.0 `pkg/apis/v1/ec2nodeclass_conversion_test.go`.

use kerf_api::duration::NillableDuration;
use kerf_api::v1;
use kerf_api::v1beta1::convert::{
    KUBELET_COMPATIBILITY_ANNOTATION, NODE_CLASS_REFERENCE_ANNOTATION,
    UBUNTU_COMPATIBILITY_ANNOTATION, ec2_node_class_from_v1, ec2_node_class_to_v1,
    kubelet_from_annotations, node_claim_from_v1, node_claim_to_v1, node_pool_from_v1,
    node_pool_to_v1,
};
use kerf_api::v1beta1::{EC2NodeClass, NodeClaim, NodePool};

fn pool(disruption: &str, extra_spec: &str) -> NodePool {
    let yaml = format!(
        r#"
apiVersion: karpenter.sh/v1beta1
kind: NodePool
metadata: {{name: default, annotations: {{team: a}}}}
spec:
  template:
    metadata: {{labels: {{team: a}}}}
    spec:
      requirements:
        - {{key: karpenter.k8s.aws/instance-category, operator: In, values: [c, m], minValues: 2}}
      nodeClassRef: {{apiVersion: karpenter.k8s.aws/v1beta1, kind: EC2NodeClass, name: default}}
{extra_spec}
  limits: {{cpu: "100"}}
  weight: 10
  disruption:
{disruption}
"#
    );
    let mut np: NodePool = serde_yaml::from_str(&yaml).expect("parses");
    np.set_defaults();
    np
}

fn annotation(np: &v1::NodePool, key: &str) -> Option<String> {
    np.metadata.annotations.as_ref()?.get(key).cloned()
}

#[test]
fn mirrors_should_convert_v1beta1_nodepool_consolidate_after_to_0_for_when_underutilized() {
    let np =
        node_pool_to_v1(&pool("    consolidationPolicy: WhenUnderutilized", "")).expect("converts");
    let d = &np.spec.disruption;
    assert_eq!(
        d.consolidation_policy,
        Some(v1::ConsolidationPolicy::WhenEmptyOrUnderutilized)
    );
    assert_eq!(d.consolidate_after, Some(NillableDuration::from_secs(0)));
}

#[test]
fn unset_policy_defaults_to_when_underutilized_and_expire_after_to_720h() {
    let np = node_pool_to_v1(&pool("    budgets: [{nodes: \"3\"}]", "")).expect("converts");
    assert_eq!(
        np.spec.disruption.consolidation_policy,
        Some(v1::ConsolidationPolicy::WhenEmptyOrUnderutilized)
    );
    assert_eq!(
        np.spec.template.spec.expire_after,
        Some(NillableDuration::from_secs(720 * 3600))
    );
    let budgets = np.spec.disruption.budgets.expect("budgets");
    assert_eq!(budgets.len(), 1);
    assert_eq!(budgets[0].nodes, "3");
}

#[test]
fn mirrors_should_convert_v1beta1_nodepool_consolidate_after_for_when_empty_and_expire_after() {
    let np = node_pool_to_v1(&pool(
        "    consolidationPolicy: WhenEmpty\n    consolidateAfter: 30s\n    expireAfter: Never",
        "",
    ))
    .expect("converts");
    assert_eq!(
        np.spec.disruption.consolidation_policy,
        Some(v1::ConsolidationPolicy::WhenEmpty)
    );
    assert_eq!(
        np.spec.disruption.consolidate_after,
        Some(NillableDuration::from_secs(30))
    );
    assert_eq!(
        np.spec.template.spec.expire_after,
        Some(NillableDuration::NEVER)
    );
}

#[test]
fn mirrors_should_set_default_nodeclass_group_and_kind_on_v1beta1_nodeclass_ref() {
    let mut np = pool("    consolidationPolicy: WhenUnderutilized", "");
    np.spec.template.spec.node_class_ref.api_version.clear();
    np.spec.template.spec.node_class_ref.kind.clear();
    let v1np = node_pool_to_v1(&np).expect("converts");
    let r = &v1np.spec.template.spec.node_class_ref;
    assert_eq!(
        (r.group.as_str(), r.kind.as_str(), r.name.as_str()),
        ("karpenter.k8s.aws", "EC2NodeClass", "default")
    );
    assert_eq!(
        annotation(&v1np, NODE_CLASS_REFERENCE_ANNOTATION).as_deref(),
        Some(r#"{"name":"default"}"#)
    );
}

#[test]
fn mirrors_should_convert_v1beta1_nodepool_template_nodeclass_ref() {
    let v1np =
        node_pool_to_v1(&pool("    consolidationPolicy: WhenUnderutilized", "")).expect("converts");
    let r = &v1np.spec.template.spec.node_class_ref;
    assert_eq!(r.group, "karpenter.k8s.aws");
    assert_eq!(
        annotation(&v1np, NODE_CLASS_REFERENCE_ANNOTATION).as_deref(),
        Some(
            r#"{"kind":"EC2NodeClass","name":"default","apiVersion":"karpenter.k8s.aws/v1beta1"}"#
        )
    );
    assert_eq!(annotation(&v1np, "team").as_deref(), Some("a"));
}

#[test]
fn mirrors_should_convert_v1_nodepool_template_kubelet() {
    let kubelet = "      kubelet: {maxPods: 42, systemReserved: {cpu: 100m}}";
    let v1np = node_pool_to_v1(&pool("    consolidationPolicy: WhenUnderutilized", kubelet))
        .expect("converts");
    assert_eq!(
        annotation(&v1np, KUBELET_COMPATIBILITY_ANNOTATION).as_deref(),
        Some(r#"{"maxPods":42,"systemReserved":{"cpu":"100m"}}"#)
    );
    let k = kubelet_from_annotations(v1np.metadata.annotations.as_ref())
        .expect("parses")
        .expect("present");
    assert_eq!(k.max_pods, Some(42));
    let back = node_pool_from_v1(&v1np).expect("converts back");
    assert_eq!(
        back.spec.template.spec.kubelet.and_then(|k| k.max_pods),
        Some(42)
    );
}

#[test]
fn a_bad_kubelet_annotation_names_the_annotation() {
    let mut a = std::collections::BTreeMap::new();
    a.insert(
        KUBELET_COMPATIBILITY_ANNOTATION.to_string(),
        "{\"maxPods\":\"x\"}".to_string(),
    );
    let err = kubelet_from_annotations(Some(&a))
        .expect_err("refused")
        .to_string();
    assert!(err.contains(KUBELET_COMPATIBILITY_ANNOTATION), "{err}");
}

#[test]
fn v1beta1_nodepool_round_trips_through_v1() {
    let original = pool(
        "    consolidationPolicy: WhenEmpty\n    consolidateAfter: 10m\n    expireAfter: 24h\n    budgets: [{nodes: \"0\", schedule: \"@daily\", duration: 10m}]",
        "      kubelet: {maxPods: 20}",
    );
    let back = node_pool_from_v1(&node_pool_to_v1(&original).expect("to v1")).expect("back");
    assert_eq!(back, original);
}

#[test]
fn mirrors_round_trip_spec_disruption_consolidate_after_from_v1() {
    for after in ["10h", "Never"] {
        let want: NillableDuration = after.parse().expect("duration");
        let mut np = v1::NodePool::default();
        np.metadata.name = Some("p".into());
        np.spec.disruption.consolidation_policy = Some(v1::ConsolidationPolicy::WhenEmpty);
        np.spec.disruption.consolidate_after = Some(after.parse().expect("duration"));
        np.spec.template.spec.expire_after = Some(after.parse().expect("duration"));
        np.spec.template.spec.node_class_ref = v1::NodeClassReference {
            group: "karpenter.k8s.aws".into(),
            kind: "EC2NodeClass".into(),
            name: "default".into(),
        };
        let beta = node_pool_from_v1(&np).expect("to v1beta1");
        assert_eq!(beta.spec.disruption.expire_after, Some(want));
        let v1np = node_pool_to_v1(&beta).expect("back");
        assert_eq!(v1np.spec.disruption.consolidate_after, Some(want));
        assert_eq!(v1np.spec.template.spec.expire_after, Some(want));
    }
}

#[test]
fn mirrors_should_convert_v1_nodepool_consolidate_after_to_nil_with_when_empty_or_underutilized() {
    let mut np = v1::NodePool::default();
    np.spec.disruption.consolidation_policy =
        Some(v1::ConsolidationPolicy::WhenEmptyOrUnderutilized);
    np.spec.disruption.consolidate_after = Some(NillableDuration::from_secs(30));
    let beta = node_pool_from_v1(&np).expect("converts");
    assert_eq!(beta.spec.disruption.consolidate_after, None);
    assert_eq!(
        beta.spec.disruption.consolidation_policy,
        Some(kerf_api::v1beta1::ConsolidationPolicy::WhenUnderutilized)
    );
}

#[test]
fn kerf_only_v1_fields_are_refused_going_to_v1beta1_with_the_field() {
    let mut np = v1::NodePool::default();
    np.metadata.name = Some("p".into());
    np.spec.disruption.consolidation_policy = Some(v1::ConsolidationPolicy::Balanced);
    let err = node_pool_from_v1(&np).expect_err("refused");
    assert_eq!(err.field, "spec.disruption.consolidationPolicy");
    np.spec.disruption.consolidation_policy = None;
    np.spec.replicas = Some(3);
    assert_eq!(
        node_pool_from_v1(&np).expect_err("refused").field,
        "spec.replicas"
    );
}

#[test]
fn v1beta1_nodeclaim_takes_expire_after_from_its_nodepool() {
    let nc: NodeClaim = serde_yaml::from_str(
        r#"
apiVersion: karpenter.sh/v1beta1
kind: NodeClaim
metadata: {name: default-abc, labels: {karpenter.sh/nodepool: default}}
spec:
  requirements: [{key: node.kubernetes.io/instance-type, operator: In, values: [m5.large]}]
  kubelet: {maxPods: 30}
  nodeClassRef: {name: default}
"#,
    )
    .expect("parses");
    let mut np = v1::NodePool::default();
    np.metadata.name = Some("default".into());
    np.spec.template.spec.expire_after = Some(NillableDuration::from_secs(3600));
    let v1nc = node_claim_to_v1(&nc, Some(&np)).expect("converts");
    assert_eq!(
        v1nc.spec.expire_after,
        Some(NillableDuration::from_secs(3600))
    );
    assert_eq!(v1nc.spec.node_class_ref.kind, "EC2NodeClass");
    assert_eq!(
        node_claim_to_v1(&nc, None)
            .expect("converts")
            .spec
            .expire_after,
        None
    );
    let back = node_claim_from_v1(&v1nc).expect("back");
    assert_eq!(back, nc);
}

fn node_class(extra: &str) -> EC2NodeClass {
    let yaml = format!(
        r#"
apiVersion: karpenter.k8s.aws/v1beta1
kind: EC2NodeClass
metadata: {{name: default}}
spec:
  role: KarpenterNodeRole
  subnetSelectorTerms: [{{tags: {{karpenter.sh/discovery: c}}}}]
  securityGroupSelectorTerms: [{{tags: {{karpenter.sh/discovery: c}}}}]
{extra}
"#
    );
    let mut nc: EC2NodeClass = serde_yaml::from_str(&yaml).expect("parses");
    nc.set_defaults();
    nc
}

#[test]
fn mirrors_should_convert_v1beta1_ec2nodeclass_ami_family() {
    for (family, alias) in [
        ("AL2", "al2@latest"),
        ("AL2023", "al2023@latest"),
        ("Bottlerocket", "bottlerocket@latest"),
        ("Windows2019", "windows2019@latest"),
        ("Windows2022", "windows2022@latest"),
    ] {
        let v1nc = ec2_node_class_to_v1(&node_class(&format!("  amiFamily: {family}")));
        assert_eq!(v1nc.spec.ami_family, None, "{family}");
        assert_eq!(v1nc.spec.ami_selector_terms.len(), 1);
        assert_eq!(
            v1nc.spec.ami_selector_terms[0].alias.as_deref(),
            Some(alias)
        );
        let back = ec2_node_class_from_v1(&v1nc).expect("back");
        assert_eq!(back.spec.ami_family.as_deref(), Some(family));
        assert!(back.spec.ami_selector_terms.is_empty());
    }
}

#[test]
fn mirrors_should_convert_v1beta1_ec2nodeclass_ami_family_with_non_custom_ami_family_and_ami_selector_terms()
 {
    let v1nc = ec2_node_class_to_v1(&node_class(
        "  amiFamily: AL2023\n  amiSelectorTerms: [{id: ami-0123}]",
    ));
    assert_eq!(v1nc.spec.ami_family.as_deref(), Some("AL2023"));
    assert_eq!(
        v1nc.spec.ami_selector_terms[0].id.as_deref(),
        Some("ami-0123")
    );
    assert_eq!(v1nc.spec.ami_selector_terms[0].alias, None);
}

#[test]
fn custom_family_stays_custom_and_hop_limit_defaults_to_2() {
    let v1nc = ec2_node_class_to_v1(&node_class(
        "  amiFamily: Custom\n  amiSelectorTerms: [{name: my-ami, owner: self}]",
    ));
    assert_eq!(v1nc.spec.ami_family.as_deref(), Some("Custom"));
    let m = v1nc.spec.metadata_options.expect("defaulted");
    assert_eq!(m.http_put_response_hop_limit, Some(2));
}

#[test]
fn mirrors_should_convert_v1beta1_ec2nodeclass_when_ami_family_is_ubuntu_without_ami_selector_terms_but_mark_incompatible()
 {
    let original = node_class("  amiFamily: Ubuntu");
    let v1nc = ec2_node_class_to_v1(&original);
    assert_eq!(v1nc.spec.ami_family.as_deref(), Some("AL2"));
    assert_eq!(
        v1nc.spec.ami_selector_terms[0].id.as_deref(),
        Some("ami-placeholder")
    );
    let bdm = &v1nc.spec.block_device_mappings[0];
    assert_eq!(bdm.device_name.as_deref(), Some("/dev/sda1"));
    assert!(bdm.root_volume);
    let note = v1nc
        .metadata
        .annotations
        .as_ref()
        .and_then(|a| a.get(UBUNTU_COMPATIBILITY_ANNOTATION));
    assert_eq!(
        note.map(String::as_str),
        Some("amiFamily,blockDeviceMappings,incompatible")
    );
    assert_eq!(ec2_node_class_from_v1(&v1nc).expect("back"), original);
}

#[test]
fn mirrors_should_convert_v1beta1_ec2nodeclass_when_ami_family_is_ubuntu_with_ami_selector_terms() {
    let original = node_class("  amiFamily: Ubuntu\n  amiSelectorTerms: [{tags: {os: ubuntu}}]");
    let v1nc = ec2_node_class_to_v1(&original);
    assert_eq!(
        v1nc.spec.ami_selector_terms[0]
            .tags
            .get("os")
            .map(String::as_str),
        Some("ubuntu")
    );
    let note = v1nc
        .metadata
        .annotations
        .as_ref()
        .and_then(|a| a.get(UBUNTU_COMPATIBILITY_ANNOTATION));
    assert_eq!(
        note.map(String::as_str),
        Some("amiFamily,blockDeviceMappings")
    );
    assert_eq!(ec2_node_class_from_v1(&v1nc).expect("back"), original);
}

#[test]
fn v1_kubelet_and_alias_are_dropped_going_to_v1beta1_as_upstream_drops_them() {
    let mut v1nc = ec2_node_class_to_v1(&node_class("  amiFamily: AL2023"));
    v1nc.spec.kubelet = Some(v1::KubeletConfiguration {
        max_pods: Some(9),
        ..Default::default()
    });
    let back = ec2_node_class_from_v1(&v1nc).expect("back");
    assert_eq!(back.spec.ami_family.as_deref(), Some("AL2023"));
    assert!(back.spec.ami_selector_terms.is_empty());
    let json = serde_json::to_value(&back).expect("serializes");
    assert!(json.pointer("/spec/kubelet").is_none());
}
