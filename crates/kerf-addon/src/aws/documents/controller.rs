//! The controller policy: what kerf's controller may do with its IRSA credentials.
//!
//! Statement by statement it is at least as narrow as upstream Karpenter's
//! (`website/.../getting-started-with-karpenter/cloudformation.yaml`: NodeLifecyclePolicy,
//! IAMIntegrationPolicy, InterruptionPolicy, ResourceDiscoveryPolicy). Where upstream
//! conditions a statement on `karpenter.sh/nodepool`, this one conditions it on kerf's own
//! ownership tag `kerf.sh/cluster=<cluster>`, which kerf puts on everything it creates in the
//! create call itself. `kubernetes.io/cluster/<cluster>=owned` alone proves nothing: EKS
//! managed node groups, eksctl and self-managed node groups put it on their instances too, so
//! a grant conditioned on it alone lets the controller terminate a node group's nodes.
//!
//! `tests/policy_scope.rs` checks every statement against a table (actions, resources,
//! conditions, the upstream Sid it mirrors); `tests/policy_actions.rs` checks that the actions
//! are exactly those kerf calls.

use serde_json::{Map, Value, json};

use super::VERSION;
use crate::aws::names::{CLUSTER_KEY, Context};

/// The tag EKS (and kerf, on everything it creates) uses to name a resource's cluster.
const EKS_CLUSTER_NAME_KEY: &str = "eks:eks-cluster-name";
/// On an instance profile kerf creates: the region it was made for.
const REGION_KEY: &str = "topology.kubernetes.io/region";
/// On an instance profile kerf creates: the EC2NodeClass it was made for.
const NODE_CLASS_KEY: &str = "karpenter.k8s.aws/ec2nodeclass";

/// What the policy conditions on: `aws:ResourceTag` (what the resource already carries) or
/// `aws:RequestTag` (what the call puts on the resource it creates).
#[derive(Clone, Copy)]
enum Tags {
    Resource,
    Request,
}

impl Tags {
    fn key(self, tag: &str) -> String {
        match self {
            Tags::Resource => format!("aws:ResourceTag/{tag}"),
            Tags::Request => format!("aws:RequestTag/{tag}"),
        }
    }
}

/// kerf's ownership (`kerf.sh/cluster=<cluster>`) and the Kubernetes cluster tag: what a
/// resource must carry for the controller to use, change or delete it.
fn owned(ctx: &Context, tags: Tags) -> Map<String, Value> {
    let mut m = Map::new();
    m.insert(tags.key(CLUSTER_KEY), json!(ctx.cluster));
    m.insert(tags.key(&ctx.kubernetes_cluster_tag()), json!("owned"));
    m
}

/// [`owned`] plus `eks:eks-cluster-name`: every tag kerf sets on what it creates, so a create
/// call is allowed only when it tags the new resource as the cluster's.
fn created(ctx: &Context, tags: Tags) -> Map<String, Value> {
    let mut m = owned(ctx, tags);
    m.insert(tags.key(EKS_CLUSTER_NAME_KEY), json!(ctx.cluster));
    m
}

/// The instance-profile tags on top of `base`: the region it was made for.
fn with_region(ctx: &Context, mut base: Map<String, Value>, tags: Tags) -> Map<String, Value> {
    base.insert(tags.key(REGION_KEY), json!(ctx.region));
    base
}

/// The EC2 service principal(s) the node role may be passed to. China's partition has its own
/// (`ec2.amazonaws.com.cn`); a partition not known yet (the CloudFormation template's
/// `${AWS::Partition}`) gets both, as upstream's policy does.
fn ec2_principals(partition: &str) -> Value {
    match partition {
        "aws" | "aws-us-gov" | "aws-iso" | "aws-iso-b" => json!("ec2.amazonaws.com"),
        _ => json!(["ec2.amazonaws.com", "ec2.amazonaws.com.cn"]),
    }
}

/// `base` with the entries of `more` (an object) added.
fn merge(mut base: Map<String, Value>, more: Value) -> Map<String, Value> {
    if let Value::Object(more) = more {
        base.extend(more);
    }
    base
}

/// Resources a launch or template creation creates, and so tags in the same call.
const CREATED_BY_LAUNCH: [&str; 5] = [
    "fleet/*",
    "instance/*",
    "volume/*",
    "network-interface/*",
    "spot-instances-request/*",
];

/// The controller policy. `interruption` adds the queue statement.
pub fn controller_policy(ctx: &Context, interruption: bool) -> Value {
    let ec2 = |r: &str| ctx.ec2_arn(r);
    let launched: Vec<String> = CREATED_BY_LAUNCH.iter().map(|r| ec2(r)).collect();
    let mut tagged_at_create = launched.clone();
    tagged_at_create.push(ec2("launch-template/*"));
    let profiles = ctx.instance_profile_arn("*");
    let node_class_like = |tags: Tags| {
        let mut m = Map::new();
        m.insert(tags.key(NODE_CLASS_KEY), json!("*"));
        m
    };

    let mut statements = vec![
        // Upstream: AllowScopedEC2InstanceAccessActions (without capacity reservations and
        // placement groups, which kerf does not use). A launch reads these; it creates none
        // of them, so there is no tag to condition on.
        json!({
            "Sid": "AllowScopedEC2InstanceAccessActions",
            "Effect": "Allow",
            "Action": ["ec2:RunInstances", "ec2:CreateFleet"],
            "Resource": [
                format!("arn:{}:ec2:{}::image/*", ctx.partition, ctx.region),
                format!("arn:{}:ec2:{}::snapshot/*", ctx.partition, ctx.region),
                ec2("security-group/*"),
                ec2("subnet/*"),
            ],
        }),
        // Upstream: AllowScopedEC2LaunchTemplateAccessActions. Launch only from templates kerf
        // created for this cluster: a template fixes the image, user data and instance
        // profile, so launching from anyone's would launch anything.
        json!({
            "Sid": "AllowScopedEC2LaunchTemplateAccessActions",
            "Effect": "Allow",
            "Action": ["ec2:RunInstances", "ec2:CreateFleet"],
            "Resource": ec2("launch-template/*"),
            "Condition": { "StringEquals": owned(ctx, Tags::Resource) },
        }),
        // Upstream: AllowScopedEC2InstanceActionsWithTags (its launch-template part is the
        // next statement). What a launch creates must be tagged as the cluster's in the call.
        json!({
            "Sid": "AllowScopedEC2InstanceActionsWithTags",
            "Effect": "Allow",
            "Action": ["ec2:RunInstances", "ec2:CreateFleet"],
            "Resource": launched,
            "Condition": { "StringEquals": created(ctx, Tags::Request) },
        }),
        // Upstream: AllowScopedEC2InstanceActionsWithTags, split so that RunInstances and
        // CreateFleet reach a launch template only through the resource-tag statement above.
        json!({
            "Sid": "AllowScopedLaunchTemplateCreationWithTags",
            "Effect": "Allow",
            "Action": "ec2:CreateLaunchTemplate",
            "Resource": ec2("launch-template/*"),
            "Condition": { "StringEquals": created(ctx, Tags::Request) },
        }),
        // Upstream: AllowScopedResourceCreationTagging. TagSpecifications are authorized as
        // CreateTags; only inside these create calls, never on an existing resource. (kerf
        // never tags after creating, so upstream's AllowScopedResourceTagging has no twin.)
        json!({
            "Sid": "AllowScopedResourceCreationTagging",
            "Effect": "Allow",
            "Action": "ec2:CreateTags",
            "Resource": tagged_at_create,
            "Condition": {
                "StringEquals": merge(
                    created(ctx, Tags::Request),
                    json!({
                        "ec2:CreateAction": ["RunInstances", "CreateFleet", "CreateLaunchTemplate"]
                    }),
                ),
            },
        }),
        // Upstream: AllowScopedDeletion. Only what carries kerf's ownership tag: a node
        // group's instances carry the kubernetes.io/cluster tag but never kerf.sh/cluster.
        json!({
            "Sid": "AllowScopedDeletion",
            "Effect": "Allow",
            "Action": ["ec2:TerminateInstances", "ec2:DeleteLaunchTemplate"],
            "Resource": [ec2("instance/*"), ec2("launch-template/*")],
            "Condition": { "StringEquals": owned(ctx, Tags::Resource) },
        }),
        // Upstream: AllowRegionalReadActions. Describe calls support no resource-level
        // scoping; the region is the narrowest bound.
        json!({
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
        // Upstream: AllowSSMReadActions. Only AWS's public parameters (AMI ids).
        json!({
            "Sid": "AllowSSMReadActions",
            "Effect": "Allow",
            "Action": "ssm:GetParameter",
            "Resource": format!("arn:{}:ssm:{}::parameter/aws/service/*", ctx.partition, ctx.region),
        }),
        // Upstream: AllowPricingReadActions. The Price List API has no resources.
        json!({
            "Sid": "AllowPricingReadActions",
            "Effect": "Allow",
            "Action": "pricing:GetProducts",
            "Resource": "*",
        }),
        // Upstream: AllowPassingInstanceRole. Launching with the node instance profile, and
        // putting the node role into a class's profile, pass the node role, and only to EC2.
        json!({
            "Sid": "AllowPassingInstanceRole",
            "Effect": "Allow",
            "Action": "iam:PassRole",
            "Resource": ctx.node_role_arn(),
            "Condition": {
                "StringEquals": { "iam:PassedToService": ec2_principals(&ctx.partition) }
            },
        }),
        // Upstream: AllowScopedInstanceProfileCreationActions, plus kerf's ownership tag.
        // EC2NodeClass v1 `role`: one profile per class, created with these tags.
        json!({
            "Sid": "AllowScopedInstanceProfileCreationActions",
            "Effect": "Allow",
            "Action": "iam:CreateInstanceProfile",
            "Resource": profiles,
            "Condition": {
                "StringEquals": with_region(ctx, created(ctx, Tags::Request), Tags::Request),
                "StringLike": node_class_like(Tags::Request),
            },
        }),
        // Upstream: AllowScopedInstanceProfileTagActions, plus kerf's ownership tag. Both the
        // profile's tags and the new ones: tagging any profile would otherwise let these
        // credentials make it look like the cluster's, and then change or delete it.
        json!({
            "Sid": "AllowScopedInstanceProfileTagActions",
            "Effect": "Allow",
            "Action": "iam:TagInstanceProfile",
            "Resource": profiles,
            "Condition": {
                "StringEquals": merge(
                    with_region(ctx, owned(ctx, Tags::Resource), Tags::Resource),
                    Value::Object(with_region(ctx, created(ctx, Tags::Request), Tags::Request)),
                ),
                "StringLike": merge(
                    node_class_like(Tags::Resource),
                    Value::Object(node_class_like(Tags::Request)),
                ),
            },
        }),
        // Upstream: AllowScopedInstanceProfileActions, plus kerf's ownership tag: change the
        // role of, or delete, only profiles kerf created for this cluster and region.
        json!({
            "Sid": "AllowScopedInstanceProfileActions",
            "Effect": "Allow",
            "Action": [
                "iam:AddRoleToInstanceProfile",
                "iam:RemoveRoleFromInstanceProfile",
                "iam:DeleteInstanceProfile",
            ],
            "Resource": profiles,
            "Condition": {
                "StringEquals": with_region(ctx, owned(ctx, Tags::Resource), Tags::Resource),
                "StringLike": node_class_like(Tags::Resource),
            },
        }),
        // Upstream: AllowInstanceProfileReadActions.
        json!({
            "Sid": "AllowInstanceProfileReadActions",
            "Effect": "Allow",
            "Action": "iam:GetInstanceProfile",
            "Resource": profiles,
        }),
    ];
    if interruption {
        // Upstream: AllowInterruptionQueueActions. The cluster's queue only.
        statements.push(json!({
            "Sid": "AllowInterruptionQueueActions",
            "Effect": "Allow",
            "Action": ["sqs:DeleteMessage", "sqs:GetQueueUrl", "sqs:ReceiveMessage"],
            "Resource": ctx.queue_arn(),
        }));
    }
    json!({ "Version": VERSION, "Statement": statements })
}
