//! v1beta1 validation: the rules that differ from v1, reported at v1beta1
//! paths. Tests named "mirrors ..." follow core v0.37.0
//! `pkg/apis/v1beta1/nodepool_validation_cel_test.go` and AWS v0.37.0
//! `pkg/apis/v1beta1/ec2nodeclass_validation_cel_test.go`.

use kerf_api::ValidationError;
use kerf_api::v1beta1::{EC2NodeClass, NodeClaim, NodePool};

fn pool(disruption: &str, template_spec: &str) -> NodePool {
    let yaml = format!(
        r#"
apiVersion: karpenter.sh/v1beta1
kind: NodePool
metadata: {{name: default}}
spec:
  template:
    spec:
      nodeClassRef: {{name: default}}
{template_spec}
  disruption:
{disruption}
"#
    );
    let mut np: NodePool = serde_yaml::from_str(&yaml).expect("parses");
    np.set_defaults();
    np
}

fn only_paths(err: &ValidationError) -> Vec<&str> {
    err.errors.iter().map(|e| e.path.as_str()).collect()
}

#[test]
fn mirrors_should_fail_when_setting_consolidate_after_with_consolidation_policy_when_underutilized()
{
    let err = pool(
        "    consolidationPolicy: WhenUnderutilized\n    consolidateAfter: 30s",
        "",
    )
    .validate()
    .expect_err("refused");
    assert_eq!(only_paths(&err), ["spec.disruption.consolidateAfter"]);
    assert!(err.to_string().contains("NodePool \"default\""), "{err}");
}

#[test]
fn mirrors_should_succeed_when_not_setting_consolidate_after_to_never_with_when_underutilized() {
    pool(
        "    consolidationPolicy: WhenUnderutilized\n    consolidateAfter: Never",
        "",
    )
    .validate()
    .expect("accepted");
}

#[test]
fn mirrors_should_succeed_when_setting_consolidate_after_with_consolidation_policy_when_empty() {
    pool(
        "    consolidationPolicy: WhenEmpty\n    consolidateAfter: 30s",
        "",
    )
    .validate()
    .expect("accepted");
}

#[test]
fn when_empty_without_consolidate_after_is_refused() {
    let err = pool("    consolidationPolicy: WhenEmpty", "")
        .validate()
        .expect_err("refused");
    assert_eq!(only_paths(&err), ["spec.disruption.consolidateAfter"]);
}

#[test]
fn v1_only_operators_and_more_than_30_requirements_are_refused() {
    let err = pool(
        "    consolidationPolicy: WhenUnderutilized",
        "      requirements: [{key: karpenter.k8s.aws/instance-cpu, operator: Gte, values: [\"4\"]}]",
    )
    .validate()
    .expect_err("refused");
    assert_eq!(
        only_paths(&err),
        ["spec.template.spec.requirements[0].operator"]
    );

    let many: Vec<String> = (0..31)
        .map(|i| format!("{{key: example.com/k{i}, operator: Exists}}"))
        .collect();
    let err = pool(
        "    consolidationPolicy: WhenUnderutilized",
        &format!("      requirements: [{}]", many.join(", ")),
    )
    .validate()
    .expect_err("refused");
    assert_eq!(only_paths(&err), ["spec.template.spec.requirements"]);
}

#[test]
fn template_kubelet_and_expire_after_are_checked_at_their_v1beta1_paths() {
    let err = pool(
        "    consolidationPolicy: WhenUnderutilized\n    expireAfter: -1h",
        "      kubelet: {maxPods: -1}",
    )
    .validate()
    .expect_err("refused");
    let paths = only_paths(&err);
    assert!(
        paths.contains(&"spec.template.spec.kubelet.maxPods"),
        "{paths:?}"
    );
    assert!(paths.contains(&"spec.disruption.expireAfter"), "{paths:?}");
}

#[test]
fn a_nodeclaim_with_a_v1_only_operator_is_refused() {
    let nc: NodeClaim = serde_yaml::from_str(
        r#"
apiVersion: karpenter.sh/v1beta1
kind: NodeClaim
metadata: {name: c}
spec:
  requirements: [{key: karpenter.k8s.aws/instance-cpu, operator: Lte, values: ["4"]}]
  nodeClassRef: {name: default}
"#,
    )
    .expect("parses");
    let err = nc.validate().expect_err("refused");
    assert_eq!(only_paths(&err), ["spec.requirements[0].operator"]);
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
fn mirrors_should_fail_when_ami_family_is_custom_and_not_ami_selector_terms() {
    let err = node_class("  amiFamily: Custom")
        .validate()
        .expect_err("refused");
    assert_eq!(only_paths(&err), ["spec.amiSelectorTerms"]);
}

#[test]
fn ami_family_is_required_and_windows2025_is_not_a_v1beta1_family() {
    let err = node_class("").validate().expect_err("refused");
    assert_eq!(only_paths(&err), ["spec.amiFamily"]);
    let err = node_class("  amiFamily: Windows2025")
        .validate()
        .expect_err("refused");
    assert_eq!(only_paths(&err), ["spec.amiFamily"]);
    node_class("  amiFamily: Ubuntu\n  amiSelectorTerms: [{id: ami-0123}]")
        .validate()
        .expect("Ubuntu is a v1beta1 family");
}

#[test]
fn bad_ami_terms_and_restricted_tags_are_refused_at_their_paths() {
    let err = node_class("  amiFamily: AL2\n  amiSelectorTerms: [{owner: self}]\n  tags: {karpenter.sh/managed-by: x}")
        .validate()
        .expect_err("refused");
    let paths = only_paths(&err);
    assert!(paths.contains(&"spec.amiSelectorTerms[0]"), "{paths:?}");
    assert!(
        paths.contains(&"spec.tags[karpenter.sh/managed-by]"),
        "{paths:?}"
    );
}
