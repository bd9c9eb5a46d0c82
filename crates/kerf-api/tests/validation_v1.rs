//! Every NodePool and NodeClaim rule, valid and invalid.

mod common;

use common::{Fails, Passes, Want, run, s};
use k8s_openapi::api::core::v1::Taint;
use k8s_openapi::apimachinery::pkg::api::resource::Quantity;
use kerf_api::v1::{
    Budget, DisruptionReason, NodeClaim, NodePool, NodeSelectorRequirementWithMinValues as Req,
};

fn pool() -> NodePool {
    serde_yaml::from_str(
        r#"
apiVersion: karpenter.sh/v1
kind: NodePool
metadata: {name: default}
spec:
  template:
    spec:
      nodeClassRef: {group: karpenter.k8s.aws, kind: EC2NodeClass, name: default}
      requirements:
        - {key: karpenter.sh/capacity-type, operator: In, values: [spot]}
"#,
    )
    .expect("base parses")
}

fn set_req(p: &mut NodePool, key: &str, op: &str, values: &[&str]) {
    p.spec.template.spec.requirements = vec![Req::new(key, op, values)];
}

fn min_values(p: &mut NodePool, values: &[&str], min: i32) {
    let mut r = Req::new("node.kubernetes.io/instance-type", "In", values);
    r.min_values = Some(min);
    p.spec.template.spec.requirements = vec![r];
}

fn label(p: &mut NodePool, k: &str, v: &str) {
    p.spec.template.metadata.labels.insert(s(k), s(v));
}

fn budget(p: &mut NodePool, nodes: &str, schedule: Option<&str>, duration: Option<&str>) {
    p.spec.disruption.budgets = Some(vec![Budget {
        nodes: s(nodes),
        schedule: schedule.map(s),
        duration: duration.map(|d| d.parse().expect("duration")),
        reasons: None,
    }]);
}

fn taint(key: &str, effect: &str) -> Taint {
    Taint {
        key: s(key),
        value: None,
        effect: s(effect),
        time_added: None,
    }
}

type Case = (&'static str, fn(&mut NodePool), Want);

#[test]
fn display_format() {
    let mut p = pool();
    set_req(&mut p, "kubernetes.io/arch", "Gt", &["x"]);
    let err = p.validate().expect_err("invalid");
    assert_eq!(
        err.to_string(),
        r#"NodePool "default": spec.template.spec.requirements[0].values: operator Gt requires a single non-negative integer value"#
    );
}

#[test]
fn template_labels() {
    let cases: &[Case] = &[
        ("custom", |p| label(p, "team", "a"), Passes),
        (
            "well-known",
            |p| label(p, "topology.kubernetes.io/zone", "us-west-2a"),
            Passes,
        ),
        (
            "nodepool",
            |p| label(p, "karpenter.sh/nodepool", "x"),
            Fails(
                "spec.template.metadata.labels[karpenter.sh/nodepool]",
                "is restricted",
            ),
        ),
        (
            "kubernetes.io",
            |p| label(p, "kubernetes.io/role", "x"),
            Fails(
                "spec.template.metadata.labels[kubernetes.io/role]",
                "is restricted",
            ),
        ),
        (
            "karpenter.sh",
            |p| label(p, "karpenter.sh/team", "x"),
            Fails(
                "spec.template.metadata.labels[karpenter.sh/team]",
                "is restricted",
            ),
        ),
        (
            "karpenter.k8s.aws",
            |p| label(p, "karpenter.k8s.aws/x", "x"),
            Fails(
                "spec.template.metadata.labels[karpenter.k8s.aws/x]",
                "is restricted",
            ),
        ),
        (
            "hostname",
            |p| label(p, "kubernetes.io/hostname", "x"),
            Fails(
                "spec.template.metadata.labels[kubernetes.io/hostname]",
                "is restricted",
            ),
        ),
        (
            "bad value",
            |p| label(p, "team", "a b"),
            Fails(
                "spec.template.metadata.labels[team]",
                "not a valid label value",
            ),
        ),
        (
            "bad key",
            |p| label(p, "-team", "a"),
            Fails(
                "spec.template.metadata.labels[-team]",
                "not a qualified name",
            ),
        ),
        (
            "too many",
            |p| {
                for i in 0..101 {
                    label(p, &format!("l{i}"), "x");
                }
            },
            Fails("spec.template.metadata.labels", "at most 100 items"),
        ),
    ];
    run(&pool(), cases, |p| p.validate());
}

#[test]
fn requirements() {
    let cases: &[Case] = &[
        (
            "Gte",
            |p| set_req(p, "karpenter.k8s.aws/instance-cpu", "Gte", &["4"]),
            Passes,
        ),
        (
            "Lte",
            |p| set_req(p, "karpenter.k8s.aws/instance-memory", "Lte", &["65536"]),
            Passes,
        ),
        (
            "Exists",
            |p| set_req(p, "topology.kubernetes.io/zone", "Exists", &[]),
            Passes,
        ),
        (
            "unknown operator",
            |p| set_req(p, "kubernetes.io/arch", "Within", &["x"]),
            Fails(
                "spec.template.spec.requirements[0].operator",
                r#""Within" is not one of In, NotIn, Exists, DoesNotExist, Gt, Lt, Gte, Lte"#,
            ),
        ),
        (
            "In without values",
            |p| set_req(p, "kubernetes.io/arch", "In", &[]),
            Fails(
                "spec.template.spec.requirements[0].values",
                "operator In requires at least one value",
            ),
        ),
        (
            "Lte two values",
            |p| set_req(p, "karpenter.k8s.aws/instance-cpu", "Lte", &["1", "2"]),
            Fails(
                "spec.template.spec.requirements[0].values",
                "operator Lte requires",
            ),
        ),
        (
            "Exists with values",
            |p| set_req(p, "kubernetes.io/arch", "Exists", &["amd64"]),
            Fails(
                "spec.template.spec.requirements[0].values",
                "must not have values",
            ),
        ),
        (
            "bad value",
            |p| set_req(p, "kubernetes.io/arch", "In", &["amd 64"]),
            Fails(
                "spec.template.spec.requirements[0].values[0]",
                "not a valid label value",
            ),
        ),
        (
            "bad key",
            |p| set_req(p, "a/b/c", "Exists", &[]),
            Fails(
                "spec.template.spec.requirements[0].key",
                "not a qualified name",
            ),
        ),
        (
            "kubernetes.io allowed in v1",
            |p| set_req(p, "kubernetes.io/custom", "Exists", &[]),
            Passes,
        ),
        (
            "k8s.io allowed in v1",
            |p| set_req(p, "k8s.io/custom", "Exists", &[]),
            Passes,
        ),
        (
            "karpenter.sh restricted",
            |p| set_req(p, "karpenter.sh/custom", "Exists", &[]),
            Fails("spec.template.spec.requirements[0].key", "is restricted"),
        ),
        (
            "karpenter.k8s.aws restricted",
            |p| set_req(p, "karpenter.k8s.aws/custom", "Exists", &[]),
            Fails("spec.template.spec.requirements[0].key", "is restricted"),
        ),
        (
            "aws well-known",
            |p| set_req(p, "karpenter.k8s.aws/instance-generation", "Gt", &["5"]),
            Passes,
        ),
        (
            "zone id",
            |p| set_req(p, "topology.k8s.aws/zone-id", "In", &["use1-az1"]),
            Passes,
        ),
        (
            "nodepool restricted",
            |p| set_req(p, "karpenter.sh/nodepool", "In", &["a"]),
            Fails(
                "spec.template.spec.requirements[0].key",
                r#"label "karpenter.sh/nodepool" is restricted"#,
            ),
        ),
        (
            "hostname restricted",
            |p| set_req(p, "kubernetes.io/hostname", "In", &["a"]),
            Fails("spec.template.spec.requirements[0].key", "is restricted"),
        ),
        (
            "provisioner-name restricted",
            |p| set_req(p, "karpenter.sh/provisioner-name", "In", &["a"]),
            Fails("spec.template.spec.requirements[0].key", "is restricted"),
        ),
        (
            "reserved capacity",
            |p| {
                set_req(
                    p,
                    "karpenter.sh/capacity-type",
                    "In",
                    &["reserved", "on-demand"],
                )
            },
            Passes,
        ),
        (
            "minValues",
            |p| min_values(p, &["m5.large", "m5.xlarge"], 2),
            Passes,
        ),
        (
            "minValues above values",
            |p| min_values(p, &["m5.large"], 2),
            Fails(
                "spec.template.spec.requirements[0].minValues",
                "requires at least 2 values, got 1",
            ),
        ),
        (
            "minValues 0",
            |p| min_values(p, &["m5.large"], 0),
            Fails(
                "spec.template.spec.requirements[0].minValues",
                "between 1 and 50",
            ),
        ),
        (
            "minValues 51",
            |p| min_values(p, &["m5.large"; 51], 51),
            Fails(
                "spec.template.spec.requirements[0].minValues",
                "between 1 and 50",
            ),
        ),
        (
            "too many",
            |p| {
                p.spec.template.spec.requirements = (0..101)
                    .map(|i| Req::new(format!("example.com/k{i}"), "Exists", &[]))
                    .collect()
            },
            Fails(
                "spec.template.spec.requirements",
                "at most 100 items (got 101)",
            ),
        ),
    ];
    run(&pool(), cases, |p| p.validate());
}

#[test]
fn template_spec() {
    let cases: &[Case] = &[
        (
            "taints",
            |p| p.spec.template.spec.taints = vec![taint("gpu", "NoSchedule")],
            Passes,
        ),
        (
            "duplicate taints",
            |p| {
                p.spec.template.spec.taints = vec![taint("gpu", "NoSchedule")];
                p.spec.template.spec.startup_taints = vec![taint("gpu", "NoSchedule")];
            },
            Fails(
                "spec.template.spec.startupTaints[0]",
                "duplicate taint key/effect pair",
            ),
        ),
        (
            "bad effect",
            |p| p.spec.template.spec.taints = vec![taint("gpu", "Nope")],
            Fails("spec.template.spec.taints[0].effect", "is not one of"),
        ),
        (
            "group empty",
            |p| p.spec.template.spec.node_class_ref.group = s(""),
            Fails("spec.template.spec.nodeClassRef.group", "must not be empty"),
        ),
        (
            "kind empty",
            |p| p.spec.template.spec.node_class_ref.kind = s(""),
            Fails("spec.template.spec.nodeClassRef.kind", "must not be empty"),
        ),
        (
            "name empty",
            |p| p.spec.template.spec.node_class_ref.name = s(""),
            Fails("spec.template.spec.nodeClassRef.name", "must not be empty"),
        ),
        (
            "expireAfter",
            |p| p.spec.template.spec.expire_after = Some("720h".parse().expect("d")),
            Passes,
        ),
        (
            "expireAfter Never",
            |p| p.spec.template.spec.expire_after = Some("Never".parse().expect("d")),
            Passes,
        ),
        (
            "expireAfter fractional",
            |p| p.spec.template.spec.expire_after = Some("1.5s".parse().expect("d")),
            Fails("spec.template.spec.expireAfter", "whole number of seconds"),
        ),
        (
            "expireAfter negative",
            |p| p.spec.template.spec.expire_after = Some("-1h".parse().expect("d")),
            Fails("spec.template.spec.expireAfter", "non-negative"),
        ),
        (
            "terminationGracePeriod",
            |p| p.spec.template.spec.termination_grace_period = Some("48h".parse().expect("d")),
            Passes,
        ),
        (
            "terminationGracePeriod ms",
            |p| p.spec.template.spec.termination_grace_period = Some("500ms".parse().expect("d")),
            Fails(
                "spec.template.spec.terminationGracePeriod",
                "whole number of seconds",
            ),
        ),
    ];
    run(&pool(), cases, |p| p.validate());
}

#[test]
fn disruption_and_limits() {
    let cases: &[Case] = &[
        (
            "consolidateAfter",
            |p| p.spec.disruption.consolidate_after = Some("30s".parse().expect("d")),
            Passes,
        ),
        (
            "consolidateAfter Never",
            |p| p.spec.disruption.consolidate_after = Some("Never".parse().expect("d")),
            Passes,
        ),
        (
            "consolidateAfter ms",
            |p| p.spec.disruption.consolidate_after = Some("10ms".parse().expect("d")),
            Fails(
                "spec.disruption.consolidateAfter",
                "whole number of seconds",
            ),
        ),
        ("budget percent", |p| budget(p, "100%", None, None), Passes),
        ("budget zero", |p| budget(p, "0", None, None), Passes),
        ("budget count", |p| budget(p, "5", None, None), Passes),
        (
            "budget over 100%",
            |p| budget(p, "101%", None, None),
            Fails(
                "spec.disruption.budgets[0].nodes",
                "percentage from 0% to 100%",
            ),
        ),
        (
            "budget negative",
            |p| budget(p, "-1", None, None),
            Fails("spec.disruption.budgets[0].nodes", "non-negative integer"),
        ),
        (
            "budget word",
            |p| budget(p, "all", None, None),
            Fails("spec.disruption.budgets[0].nodes", "non-negative integer"),
        ),
        (
            "budget schedule",
            |p| budget(p, "0", Some("0 9 * * mon-fri"), Some("8h")),
            Passes,
        ),
        (
            "budget macro",
            |p| budget(p, "0", Some("@daily"), Some("1h30m")),
            Passes,
        ),
        (
            "budget step",
            |p| budget(p, "0", Some("*/15 0-6 1,15 jan-jun 0"), Some("10m")),
            Passes,
        ),
        (
            "schedule without duration",
            |p| budget(p, "0", Some("@daily"), None),
            Fails(
                "spec.disruption.budgets[0]",
                "'schedule' must be set with 'duration'",
            ),
        ),
        (
            "duration without schedule",
            |p| budget(p, "0", None, Some("1h")),
            Fails(
                "spec.disruption.budgets[0]",
                "'schedule' must be set with 'duration'",
            ),
        ),
        (
            "bad minute",
            |p| budget(p, "0", Some("61 * * * *"), Some("1h")),
            Fails(
                "spec.disruption.budgets[0].schedule",
                "not a valid cron schedule",
            ),
        ),
        (
            "four fields",
            |p| budget(p, "0", Some("* * * *"), Some("1h")),
            Fails("spec.disruption.budgets[0].schedule", "expected 5 fields"),
        ),
        (
            "bad macro",
            |p| budget(p, "0", Some("@sometimes"), Some("1h")),
            Fails("spec.disruption.budgets[0].schedule", "unknown macro"),
        ),
        (
            "bad weekday",
            |p| budget(p, "0", Some("0 0 * * funday"), Some("1h")),
            Fails("spec.disruption.budgets[0].schedule", "day of week"),
        ),
        (
            "duration seconds",
            |p| budget(p, "0", Some("@daily"), Some("30s")),
            Fails(
                "spec.disruption.budgets[0].duration",
                "whole number of minutes",
            ),
        ),
        (
            "budget reasons",
            |p| {
                budget(p, "1", None, None);
                if let Some(b) = p.spec.disruption.budgets.as_mut() {
                    b[0].reasons = Some(vec![DisruptionReason::Drifted, DisruptionReason::Empty]);
                }
            },
            Passes,
        ),
        (
            "too many budgets",
            |p| p.spec.disruption.budgets = Some(vec![Budget::default(); 51]),
            Fails("spec.disruption.budgets", "at most 50 items"),
        ),
        ("weight", |p| p.spec.weight = Some(50), Passes),
        (
            "weight 0",
            |p| p.spec.weight = Some(0),
            Fails("spec.weight", "between 1 and 100"),
        ),
        (
            "weight 101",
            |p| p.spec.weight = Some(101),
            Fails("spec.weight", "between 1 and 100"),
        ),
        (
            "limits",
            |p| drop(p.spec.limits.insert(s("cpu"), Quantity(s("1000")))),
            Passes,
        ),
        (
            "limits nodes",
            |p| drop(p.spec.limits.insert(s("nodes"), Quantity(s("10")))),
            Passes,
        ),
        (
            "limits invalid",
            |p| drop(p.spec.limits.insert(s("memory"), Quantity(s("1 Gi")))),
            Fails("spec.limits[memory]", "not a valid quantity"),
        ),
        (
            "limits negative",
            |p| drop(p.spec.limits.insert(s("cpu"), Quantity(s("-4")))),
            Fails("spec.limits[cpu]", "must not be negative"),
        ),
        ("static", |p| p.spec.replicas = Some(3), Passes),
        (
            "static with node limit",
            |p| {
                p.spec.replicas = Some(3);
                p.spec.limits.insert(s("nodes"), Quantity(s("5")));
            },
            Passes,
        ),
        (
            "static negative",
            |p| p.spec.replicas = Some(-1),
            Fails("spec.replicas", "must not be negative"),
        ),
        (
            "static with weight",
            |p| {
                p.spec.replicas = Some(1);
                p.spec.weight = Some(10);
            },
            Fails("spec.weight", "not supported on static NodePools"),
        ),
        (
            "static with cpu limit",
            |p| {
                p.spec.replicas = Some(1);
                p.spec.limits.insert(s("cpu"), Quantity(s("4")));
            },
            Fails("spec.limits[cpu]", "only 'limits.nodes' is supported"),
        ),
    ];
    run(&pool(), cases, |p| p.validate());
}

fn claim() -> NodeClaim {
    serde_yaml::from_str(
        r#"
apiVersion: karpenter.sh/v1
kind: NodeClaim
metadata: {name: default-abcde}
spec:
  nodeClassRef: {group: karpenter.k8s.aws, kind: EC2NodeClass, name: default}
  requirements:
    - {key: karpenter.sh/nodepool, operator: In, values: [default]}
    - {key: node.kubernetes.io/instance-type, operator: In, values: [m5.large, m5.xlarge], minValues: 2}
  resources:
    requests: {cpu: 1500m, memory: 2Gi, pods: "5"}
"#,
    )
    .expect("claim parses")
}

type ClaimCase = (&'static str, fn(&mut NodeClaim), Want);

#[test]
fn node_claim() {
    let cases: &[ClaimCase] = &[
        (
            "hostname restricted",
            |c| {
                c.spec
                    .requirements
                    .push(Req::new("kubernetes.io/hostname", "In", &["x"]))
            },
            Fails("spec.requirements[2].key", "is restricted"),
        ),
        (
            "operator",
            |c| c.spec.requirements[1].operator = s("Any"),
            Fails("spec.requirements[1].operator", "is not one of"),
        ),
        (
            "minValues",
            |c| c.spec.requirements[1].min_values = Some(3),
            Fails(
                "spec.requirements[1].minValues",
                "requires at least 3 values",
            ),
        ),
        (
            "request invalid",
            |c| {
                drop(
                    c.spec
                        .resources
                        .requests
                        .insert(s("cpu"), Quantity(s("1.5.5"))),
                )
            },
            Fails("spec.resources.requests[cpu]", "not a valid quantity"),
        ),
        (
            "request negative",
            |c| {
                drop(
                    c.spec
                        .resources
                        .requests
                        .insert(s("memory"), Quantity(s("-1Gi"))),
                )
            },
            Fails("spec.resources.requests[memory]", "must not be negative"),
        ),
        (
            "nodeClassRef",
            |c| c.spec.node_class_ref.name = s(""),
            Fails("spec.nodeClassRef.name", "must not be empty"),
        ),
        (
            "taints",
            |c| c.spec.taints = vec![taint("", "NoSchedule")],
            Fails("spec.taints[0].key", "must not be empty"),
        ),
        (
            "expireAfter",
            |c| c.spec.expire_after = Some("1.5h".parse().expect("d")),
            Passes,
        ),
        (
            "terminationGracePeriod",
            |c| c.spec.termination_grace_period = Some("-5s".parse().expect("d")),
            Fails("spec.terminationGracePeriod", "non-negative"),
        ),
    ];
    run(&claim(), cases, |c| c.validate());
}
