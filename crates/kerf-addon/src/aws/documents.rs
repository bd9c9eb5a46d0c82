//! Every JSON document the AWS side writes: trust policies, the controller policy, the queue
//! policy and the EventBridge event patterns. Built here once and used by install (sent to
//! AWS, compared with what AWS holds) and by render (printed, and inlined into the
//! CloudFormation template), so the two can never disagree.
//!
//! The controller policy grants what kerf's AWS provider calls (`tests/policy_actions.rs`
//! scans `crates/kerf-aws/src` and fails on any action granted but never called, or called
//! but not granted), scoped to the cluster's tags and ARNs wherever IAM supports it.

use serde_json::{Value, json};

use super::names::{Context, RuleSpec, STS_AUDIENCE};

const VERSION: &str = "2012-10-17";

/// Trust policy of the node role: EC2 instances assume it.
pub fn node_trust_policy() -> Value {
    json!({
        "Version": VERSION,
        "Statement": [{
            "Effect": "Allow",
            "Principal": { "Service": "ec2.amazonaws.com" },
            "Action": "sts:AssumeRole",
        }]
    })
}

/// Trust policy of the controller's IRSA role: only the controller's service account, through
/// the cluster's OIDC provider, with the STS audience.
pub fn controller_trust_policy(ctx: &Context) -> Value {
    let host = ctx.oidc_host();
    let (namespace, name) = &ctx.service_account;
    json!({
        "Version": VERSION,
        "Statement": [{
            "Effect": "Allow",
            "Principal": { "Federated": ctx.oidc_provider_arn() },
            "Action": "sts:AssumeRoleWithWebIdentity",
            "Condition": {
                "StringEquals": {
                    format!("{host}:sub"): format!("system:serviceaccount:{namespace}:{name}"),
                    format!("{host}:aud"): STS_AUDIENCE,
                }
            }
        }]
    })
}

/// The controller policy. `interruption` adds the queue statement.
pub fn controller_policy(ctx: &Context, interruption: bool) -> Value {
    let cluster_owned =
        json!({ format!("aws:RequestTag/{}", ctx.kubernetes_cluster_tag()): "owned" });
    let template_tag = format!("aws:RequestTag/{}", super::names::CLUSTER_KEY);
    let template_resource_tag = format!("aws:ResourceTag/{}", super::names::CLUSTER_KEY);
    let launched = [
        ctx.ec2_arn("fleet/*"),
        ctx.ec2_arn("instance/*"),
        ctx.ec2_arn("volume/*"),
    ];
    let mut statements = vec![
        json!({
            // CreateFleet (type instant) launches through RunInstances on the caller's
            // authority; these are the resources it reads or attaches without tagging them.
            "Sid": "AllowScopedEC2InstanceActions",
            "Effect": "Allow",
            "Action": ["ec2:RunInstances", "ec2:CreateFleet"],
            "Resource": [
                format!("arn:{}:ec2:{}::image/*", ctx.partition, ctx.region),
                format!("arn:{}:ec2:{}::snapshot/*", ctx.partition, ctx.region),
                ctx.ec2_arn("spot-instances-request/*"),
                ctx.ec2_arn("security-group/*"),
                ctx.ec2_arn("subnet/*"),
                ctx.ec2_arn("network-interface/*"),
                ctx.ec2_arn("launch-template/*"),
            ],
        }),
        json!({
            // What a launch creates must carry the cluster tag kerf puts on it.
            "Sid": "AllowScopedEC2InstanceActionsWithTags",
            "Effect": "Allow",
            "Action": ["ec2:RunInstances", "ec2:CreateFleet"],
            "Resource": launched,
            "Condition": { "StringEquals": cluster_owned.clone() },
        }),
        json!({
            "Sid": "AllowScopedLaunchTemplateCreation",
            "Effect": "Allow",
            "Action": "ec2:CreateLaunchTemplate",
            "Resource": ctx.ec2_arn("launch-template/*"),
            "Condition": { "StringEquals": { template_tag.clone(): ctx.cluster } },
        }),
        json!({
            // Tags only as part of the create call (TagSpecifications), never afterwards.
            "Sid": "AllowScopedResourceCreationTagging",
            "Effect": "Allow",
            "Action": "ec2:CreateTags",
            "Resource": launched,
            "Condition": {
                "StringEquals": {
                    format!("aws:RequestTag/{}", ctx.kubernetes_cluster_tag()): "owned",
                    "ec2:CreateAction": ["RunInstances", "CreateFleet"],
                }
            },
        }),
        json!({
            "Sid": "AllowScopedLaunchTemplateCreationTagging",
            "Effect": "Allow",
            "Action": "ec2:CreateTags",
            "Resource": ctx.ec2_arn("launch-template/*"),
            "Condition": {
                "StringEquals": {
                    template_tag: ctx.cluster,
                    "ec2:CreateAction": "CreateLaunchTemplate",
                }
            },
        }),
        json!({
            "Sid": "AllowScopedInstanceTermination",
            "Effect": "Allow",
            "Action": "ec2:TerminateInstances",
            "Resource": ctx.ec2_arn("instance/*"),
            "Condition": {
                "StringEquals": { format!("aws:ResourceTag/{}", ctx.kubernetes_cluster_tag()): "owned" }
            },
        }),
        json!({
            "Sid": "AllowScopedLaunchTemplateDeletion",
            "Effect": "Allow",
            "Action": "ec2:DeleteLaunchTemplate",
            "Resource": ctx.ec2_arn("launch-template/*"),
            "Condition": { "StringEquals": { template_resource_tag: ctx.cluster } },
        }),
        json!({
            // Describe calls support no resource-level scoping; the region is the narrowest bound.
            "Sid": "AllowRegionalReadActions",
            "Effect": "Allow",
            "Action": [
                "ec2:DescribeImages",
                "ec2:DescribeInstanceTypeOfferings",
                "ec2:DescribeInstanceTypes",
                "ec2:DescribeInstances",
                "ec2:DescribeLaunchTemplates",
                "ec2:DescribeSecurityGroups",
                "ec2:DescribeSpotPriceHistory",
                "ec2:DescribeSubnets",
            ],
            "Resource": "*",
            "Condition": { "StringEquals": { "aws:RequestedRegion": ctx.region } },
        }),
        json!({
            "Sid": "AllowSSMReadActions",
            "Effect": "Allow",
            "Action": "ssm:GetParameter",
            "Resource": format!("arn:{}:ssm:{}::parameter/aws/service/*", ctx.partition, ctx.region),
        }),
        json!({
            "Sid": "AllowPricingReadActions",
            "Effect": "Allow",
            "Action": "pricing:GetProducts",
            "Resource": "*",
        }),
        json!({
            // EC2NodeClass v1 `role`: kerf keeps one instance profile per class, created
            // with the cluster, region and class tags (the tags need TagInstanceProfile).
            "Sid": "AllowScopedInstanceProfileCreationActions",
            "Effect": "Allow",
            "Action": ["iam:CreateInstanceProfile", "iam:TagInstanceProfile"],
            "Resource": ctx.instance_profile_arn("*"),
            "Condition": {
                "StringEquals": {
                    format!("aws:RequestTag/{}", ctx.kubernetes_cluster_tag()): "owned",
                    "aws:RequestTag/topology.kubernetes.io/region": ctx.region,
                },
                "StringLike": { "aws:RequestTag/karpenter.k8s.aws/ec2nodeclass": "*" },
            },
        }),
        json!({
            // ... and changes the role of, or deletes, only profiles it tagged as the cluster's.
            "Sid": "AllowScopedInstanceProfileActions",
            "Effect": "Allow",
            "Action": [
                "iam:AddRoleToInstanceProfile",
                "iam:RemoveRoleFromInstanceProfile",
                "iam:DeleteInstanceProfile",
            ],
            "Resource": ctx.instance_profile_arn("*"),
            "Condition": {
                "StringEquals": {
                    format!("aws:ResourceTag/{}", ctx.kubernetes_cluster_tag()): "owned",
                    "aws:ResourceTag/topology.kubernetes.io/region": ctx.region,
                },
                "StringLike": { "aws:ResourceTag/karpenter.k8s.aws/ec2nodeclass": "*" },
            },
        }),
        json!({
            "Sid": "AllowInstanceProfileReadActions",
            "Effect": "Allow",
            "Action": "iam:GetInstanceProfile",
            "Resource": ctx.instance_profile_arn("*"),
        }),
        json!({
            // Launching with the node instance profile passes its role to EC2.
            "Sid": "AllowPassingInstanceRole",
            "Effect": "Allow",
            "Action": "iam:PassRole",
            "Resource": ctx.node_role_arn(),
            "Condition": { "StringEquals": { "iam:PassedToService": "ec2.amazonaws.com" } },
        }),
    ];
    if interruption {
        statements.push(json!({
            "Sid": "AllowInterruptionQueueActions",
            "Effect": "Allow",
            "Action": ["sqs:DeleteMessage", "sqs:GetQueueUrl", "sqs:ReceiveMessage"],
            "Resource": ctx.queue_arn(),
        }));
    }
    json!({ "Version": VERSION, "Statement": statements })
}

/// The interruption queue's policy: EventBridge (and SQS itself) may send to it.
pub fn queue_policy(ctx: &Context) -> Value {
    json!({
        "Version": VERSION,
        "Id": "EC2InterruptionPolicy",
        "Statement": [{
            "Effect": "Allow",
            "Principal": { "Service": ["events.amazonaws.com", "sqs.amazonaws.com"] },
            "Action": "sqs:SendMessage",
            "Resource": ctx.queue_arn(),
        }]
    })
}

/// Queue attributes other than the policy: messages older than five minutes are stale
/// (a spot warning gives two), and SQS-managed encryption at rest.
pub const QUEUE_ATTRIBUTES: [(&str, &str); 2] = [
    ("MessageRetentionPeriod", "300"),
    ("SqsManagedSseEnabled", "true"),
];

/// The event pattern of one rule.
pub fn event_pattern(rule: &RuleSpec) -> Value {
    json!({ "source": [rule.source], "detail-type": [rule.detail_type] })
}

/// The actions [`controller_policy`] grants, sorted and deduplicated.
pub fn granted_actions(policy: &Value) -> Vec<String> {
    let mut actions: Vec<String> = policy["Statement"]
        .as_array()
        .into_iter()
        .flatten()
        .flat_map(|s| match &s["Action"] {
            Value::String(a) => vec![a.clone()],
            Value::Array(a) => a
                .iter()
                .filter_map(|v| v.as_str().map(str::to_string))
                .collect(),
            _ => Vec::new(),
        })
        .collect();
    actions.sort();
    actions.dedup();
    actions
}
