//! Every statement of the controller policy against a table of what it may grant: its
//! actions, its resources and its exact conditions, with the statement of upstream
//! Karpenter's getting-started CloudFormation policy it mirrors. On top of the table, rules
//! that hold for any statement: no write action on `Resource: "*"`, no write on resources a
//! launch creates without a tag condition, and nothing destructive without kerf's ownership
//! tag (`kerf.sh/cluster`) as a resource-tag condition. The same checker is run on loosened
//! copies of the policy, which it must refuse, so the check itself can fail.

use std::collections::BTreeSet;

use kerf_addon::aws::documents::controller_policy;
use kerf_addon::aws::names::Context;
use serde_json::{Value, json};

const CLUSTER: &str = "demo";
const ACCOUNT: &str = "111122223333";

fn ctx() -> Context {
    Context {
        cluster: CLUSTER.into(),
        partition: "aws".into(),
        region: "us-east-1".into(),
        account: ACCOUNT.into(),
        oidc_issuer: "https://oidc.eks.us-east-1.amazonaws.com/id/ABC".into(),
        service_account: ("karpenter".into(), "karpenter".into()),
    }
}

fn ec2(resource: &str) -> String {
    format!("arn:aws:ec2:us-east-1:*:{resource}")
}

/// What one statement may grant.
struct Allowed {
    sid: &'static str,
    /// The statement of upstream's CloudFormation policy it mirrors.
    upstream: &'static str,
    actions: &'static [&'static str],
    resources: Vec<String>,
    condition: Value,
}

/// kerf's ownership and the cluster tag, as resource or request tags.
fn owned(kind: &str) -> Value {
    json!({
        format!("aws:{kind}/kerf.sh/cluster"): CLUSTER,
        format!("aws:{kind}/kubernetes.io/cluster/{CLUSTER}"): "owned",
    })
}

/// [`owned`] plus `eks:eks-cluster-name`: what every create call must put on what it creates.
fn created(kind: &str) -> Value {
    let mut v = owned(kind);
    v[format!("aws:{kind}/eks:eks-cluster-name")] = json!(CLUSTER);
    v
}

fn with(mut base: Value, more: Value) -> Value {
    if let (Some(b), Value::Object(m)) = (base.as_object_mut(), more) {
        b.extend(m);
    }
    base
}

fn table() -> Vec<Allowed> {
    let profiles = format!("arn:aws:iam::{ACCOUNT}:instance-profile/*");
    let launched: Vec<String> = [
        "fleet/*",
        "instance/*",
        "volume/*",
        "network-interface/*",
        "spot-instances-request/*",
    ]
    .iter()
    .map(|r| ec2(r))
    .collect();
    let mut tagged_at_create = launched.clone();
    tagged_at_create.push(ec2("launch-template/*"));
    let region =
        |kind: &str| json!({ format!("aws:{kind}/topology.kubernetes.io/region"): "us-east-1" });
    let node_class =
        |kind: &str| json!({ format!("aws:{kind}/karpenter.k8s.aws/ec2nodeclass"): "*" });
    vec![
        Allowed {
            sid: "AllowScopedEC2InstanceAccessActions",
            upstream: "AllowScopedEC2InstanceAccessActions",
            actions: &["ec2:RunInstances", "ec2:CreateFleet"],
            resources: vec![
                "arn:aws:ec2:us-east-1::image/*".into(),
                "arn:aws:ec2:us-east-1::snapshot/*".into(),
                ec2("security-group/*"),
                ec2("subnet/*"),
            ],
            condition: Value::Null,
        },
        Allowed {
            sid: "AllowScopedEC2LaunchTemplateAccessActions",
            upstream: "AllowScopedEC2LaunchTemplateAccessActions",
            actions: &["ec2:RunInstances", "ec2:CreateFleet"],
            resources: vec![ec2("launch-template/*")],
            condition: json!({ "StringEquals": owned("ResourceTag") }),
        },
        Allowed {
            sid: "AllowScopedEC2InstanceActionsWithTags",
            upstream: "AllowScopedEC2InstanceActionsWithTags",
            actions: &["ec2:RunInstances", "ec2:CreateFleet"],
            resources: launched,
            condition: json!({ "StringEquals": created("RequestTag") }),
        },
        Allowed {
            sid: "AllowScopedLaunchTemplateCreationWithTags",
            upstream: "AllowScopedEC2InstanceActionsWithTags (CreateLaunchTemplate)",
            actions: &["ec2:CreateLaunchTemplate"],
            resources: vec![ec2("launch-template/*")],
            condition: json!({ "StringEquals": created("RequestTag") }),
        },
        Allowed {
            sid: "AllowScopedResourceCreationTagging",
            upstream: "AllowScopedResourceCreationTagging",
            actions: &["ec2:CreateTags"],
            resources: tagged_at_create,
            condition: json!({ "StringEquals": with(created("RequestTag"), json!({
                "ec2:CreateAction": ["RunInstances", "CreateFleet", "CreateLaunchTemplate"]
            })) }),
        },
        Allowed {
            sid: "AllowScopedDeletion",
            upstream: "AllowScopedDeletion",
            actions: &["ec2:TerminateInstances", "ec2:DeleteLaunchTemplate"],
            resources: vec![ec2("instance/*"), ec2("launch-template/*")],
            condition: json!({ "StringEquals": owned("ResourceTag") }),
        },
        Allowed {
            sid: "AllowRegionalReadActions",
            upstream: "AllowRegionalReadActions",
            actions: &[
                "ec2:DescribeImages",
                "ec2:DescribeInstanceTypeOfferings",
                "ec2:DescribeInstanceTypes",
                "ec2:DescribeInstances",
                "ec2:DescribeLaunchTemplates",
                "ec2:DescribeSecurityGroups",
                "ec2:DescribeSpotPriceHistory",
                "ec2:DescribeSubnets",
            ],
            resources: vec!["*".into()],
            condition: json!({ "StringEquals": { "aws:RequestedRegion": "us-east-1" } }),
        },
        Allowed {
            sid: "AllowSSMReadActions",
            upstream: "AllowSSMReadActions",
            actions: &["ssm:GetParameter"],
            resources: vec!["arn:aws:ssm:us-east-1::parameter/aws/service/*".into()],
            condition: Value::Null,
        },
        Allowed {
            sid: "AllowPricingReadActions",
            upstream: "AllowPricingReadActions",
            actions: &["pricing:GetProducts"],
            resources: vec!["*".into()],
            condition: Value::Null,
        },
        Allowed {
            sid: "AllowPassingInstanceRole",
            upstream: "AllowPassingInstanceRole",
            actions: &["iam:PassRole"],
            resources: vec![format!(
                "arn:aws:iam::{ACCOUNT}:role/KarpenterNodeRole-{CLUSTER}"
            )],
            condition: json!({ "StringEquals": { "iam:PassedToService": "ec2.amazonaws.com" } }),
        },
        Allowed {
            sid: "AllowScopedInstanceProfileCreationActions",
            upstream: "AllowScopedInstanceProfileCreationActions",
            actions: &["iam:CreateInstanceProfile"],
            resources: vec![profiles.clone()],
            condition: json!({
                "StringEquals": with(created("RequestTag"), region("RequestTag")),
                "StringLike": node_class("RequestTag"),
            }),
        },
        Allowed {
            sid: "AllowScopedInstanceProfileTagActions",
            upstream: "AllowScopedInstanceProfileTagActions",
            actions: &["iam:TagInstanceProfile"],
            resources: vec![profiles.clone()],
            condition: json!({
                "StringEquals": with(
                    with(owned("ResourceTag"), region("ResourceTag")),
                    with(created("RequestTag"), region("RequestTag")),
                ),
                "StringLike": with(node_class("ResourceTag"), node_class("RequestTag")),
            }),
        },
        Allowed {
            sid: "AllowScopedInstanceProfileActions",
            upstream: "AllowScopedInstanceProfileActions",
            actions: &[
                "iam:AddRoleToInstanceProfile",
                "iam:RemoveRoleFromInstanceProfile",
                "iam:DeleteInstanceProfile",
            ],
            resources: vec![profiles.clone()],
            condition: json!({
                "StringEquals": with(owned("ResourceTag"), region("ResourceTag")),
                "StringLike": node_class("ResourceTag"),
            }),
        },
        Allowed {
            sid: "AllowInstanceProfileReadActions",
            upstream: "AllowInstanceProfileReadActions",
            actions: &["iam:GetInstanceProfile"],
            resources: vec![profiles],
            condition: Value::Null,
        },
        Allowed {
            sid: "AllowInterruptionQueueActions",
            upstream: "AllowInterruptionQueueActions",
            actions: &["sqs:DeleteMessage", "sqs:GetQueueUrl", "sqs:ReceiveMessage"],
            resources: vec![format!("arn:aws:sqs:us-east-1:{ACCOUNT}:{CLUSTER}")],
            condition: Value::Null,
        },
    ]
}

fn strings(v: &Value) -> BTreeSet<String> {
    match v {
        Value::String(s) => BTreeSet::from([s.clone()]),
        Value::Array(a) => a
            .iter()
            .filter_map(|x| x.as_str().map(str::to_string))
            .collect(),
        _ => BTreeSet::new(),
    }
}

fn is_read(action: &str) -> bool {
    let verb = action.split(':').nth(1).unwrap_or_default();
    ["Describe", "Get", "List"]
        .iter()
        .any(|p| verb.starts_with(p))
}

/// Actions that change or remove something that already exists.
const DESTRUCTIVE: &[&str] = &[
    "ec2:TerminateInstances",
    "ec2:DeleteLaunchTemplate",
    "iam:AddRoleToInstanceProfile",
    "iam:RemoveRoleFromInstanceProfile",
    "iam:DeleteInstanceProfile",
    "iam:TagInstanceProfile",
];

/// What is wrong with `policy`, one line per problem; empty when every statement is in the
/// table exactly and every general rule holds.
fn problems(policy: &Value) -> Vec<String> {
    let table = table();
    let mut out = Vec::new();
    for s in policy["Statement"].as_array().into_iter().flatten() {
        let sid = s["Sid"].as_str().unwrap_or("<no Sid>");
        let actions = strings(&s["Action"]);
        let resources = strings(&s["Resource"]);
        if s["Effect"] != "Allow" {
            out.push(format!("{sid}: Effect {}", s["Effect"]));
        }
        // Rules for any statement.
        for a in actions
            .iter()
            .filter(|a| !is_read(a) && *a != "pricing:GetProducts")
        {
            if resources.contains("*") {
                out.push(format!("{sid}: write action {a} on Resource \"*\""));
            }
            let on_created = resources.iter().any(|r| {
                [
                    "instance/",
                    "volume/",
                    "network-interface/",
                    "fleet/",
                    "launch-template/",
                ]
                .iter()
                .any(|k| r.contains(k))
            });
            if on_created && s["Condition"].is_null() {
                out.push(format!(
                    "{sid}: {a} on created resources without a condition"
                ));
            }
            if DESTRUCTIVE.contains(&a.as_str())
                && s["Condition"]["StringEquals"]["aws:ResourceTag/kerf.sh/cluster"] != CLUSTER
            {
                out.push(format!(
                    "{sid}: {a} without the kerf.sh/cluster resource tag"
                ));
            }
        }
        // The table.
        let Some(want) = table.iter().find(|t| t.sid == sid) else {
            out.push(format!("{sid}: not in the table of allowed statements"));
            continue;
        };
        let want_actions: BTreeSet<String> = want.actions.iter().map(|a| a.to_string()).collect();
        if actions != want_actions {
            out.push(format!(
                "{sid} (upstream {}): actions {actions:?}",
                want.upstream
            ));
        }
        let want_resources: BTreeSet<String> = want.resources.iter().cloned().collect();
        if resources != want_resources {
            out.push(format!(
                "{sid} (upstream {}): resources {resources:?}",
                want.upstream
            ));
        }
        let condition = s.get("Condition").cloned().unwrap_or(Value::Null);
        if condition != want.condition {
            out.push(format!(
                "{sid} (upstream {}): condition {condition} is not {}",
                want.upstream, want.condition
            ));
        }
    }
    out
}

#[test]
fn every_statement_is_as_narrow_as_its_table_row() {
    for interruption in [true, false] {
        let policy = controller_policy(&ctx(), interruption);
        assert_eq!(problems(&policy), Vec::<String>::new(), "{policy:#}");
        let sids: BTreeSet<&str> = policy["Statement"]
            .as_array()
            .unwrap()
            .iter()
            .filter_map(|s| s["Sid"].as_str())
            .collect();
        for row in table() {
            let expected = interruption || row.sid != "AllowInterruptionQueueActions";
            assert_eq!(sids.contains(row.sid), expected, "{}", row.sid);
        }
    }
}

/// Applies `loosen` to the statement `sid` of a fresh policy.
fn loosened(sid: &str, loosen: impl FnOnce(&mut Value)) -> Value {
    let mut policy = controller_policy(&ctx(), true);
    let statement = policy["Statement"]
        .as_array_mut()
        .unwrap()
        .iter_mut()
        .find(|s| s["Sid"] == sid)
        .unwrap_or_else(|| panic!("no {sid}"));
    loosen(statement);
    policy
}

#[test]
fn a_loosened_policy_is_refused() {
    // Termination conditioned on the cluster tag alone: node groups' instances qualify.
    let p = loosened("AllowScopedDeletion", |s| {
        s["Condition"]["StringEquals"]
            .as_object_mut()
            .unwrap()
            .remove("aws:ResourceTag/kerf.sh/cluster");
    });
    let found = problems(&p);
    assert!(
        found
            .iter()
            .any(|m| m.contains("kerf.sh/cluster resource tag")),
        "{found:?}"
    );
    // Launching from any launch template.
    let p = loosened("AllowScopedEC2LaunchTemplateAccessActions", |s| {
        s.as_object_mut().unwrap().remove("Condition");
    });
    let found = problems(&p);
    assert!(
        found.iter().any(|m| m.contains("without a condition")),
        "{found:?}"
    );
    // A write on every resource.
    let p = loosened("AllowScopedResourceCreationTagging", |s| {
        s["Resource"] = json!("*");
    });
    let found = problems(&p);
    assert!(
        found.iter().any(|m| m.contains("Resource \"*\"")),
        "{found:?}"
    );
    // Tagging profiles by request tags only (the defect upstream's statement avoids).
    let p = loosened("AllowScopedInstanceProfileTagActions", |s| {
        let eq = s["Condition"]["StringEquals"].as_object_mut().unwrap();
        eq.retain(|k, _| k.starts_with("aws:RequestTag/"));
    });
    assert!(!problems(&p).is_empty());
    // A statement nobody reviewed.
    let mut p = controller_policy(&ctx(), true);
    p["Statement"].as_array_mut().unwrap().push(json!({
        "Sid": "Extra", "Effect": "Allow", "Action": "ec2:DescribeVolumes", "Resource": "*",
    }));
    let found = problems(&p);
    assert!(
        found.iter().any(|m| m.contains("not in the table")),
        "{found:?}"
    );
}
