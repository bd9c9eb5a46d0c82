//! The names, ARNs and ownership tags of everything the AWS side creates, derived from the
//! cluster name with Karpenter's conventions (`KarpenterNodeRole-<cluster>`, a queue named
//! after the cluster), so an operator who knows Karpenter finds every resource where expected.

use std::collections::BTreeMap;

/// Tag on every resource kerf creates; uninstall deletes only what carries it.
pub const MANAGED_BY_KEY: &str = "kerf.sh/managed-by";
pub const MANAGED_BY_VALUE: &str = "kerf";
/// Tag naming the cluster a resource was created for (also on kerf's launch templates).
pub const CLUSTER_KEY: &str = "kerf.sh/cluster";
/// On a subnet or security group: the discovery tag keys kerf added (space separated), so
/// uninstall removes those and leaves tags the operator set alone.
pub const ADDED_TAGS_KEY: &str = "kerf.sh/added-discovery-tags";

/// The AWS managed policies every EKS worker node needs. Nodes only pull images, so the
/// registry policy is `PullOnly` (Karpenter's choice too), not `ReadOnly`, which also lets
/// them list and describe every repository in the account.
pub const NODE_MANAGED_POLICIES: [&str; 4] = [
    "AmazonEKSWorkerNodePolicy",
    "AmazonEKS_CNI_Policy",
    "AmazonEC2ContainerRegistryPullOnly",
    "AmazonSSMManagedInstanceCore",
];
/// Managed policies an older kerf attached to its node role in place of one above: install
/// detaches them from a node role kerf created, so an upgrade narrows what nodes may do.
pub const SUPERSEDED_NODE_POLICIES: [&str; 1] = ["AmazonEC2ContainerRegistryReadOnly"];

pub const SPOT_SERVICE: &str = "spot.amazonaws.com";
/// IAM puts a service-linked role under `/aws-service-role/<service>/`; looking it up by path
/// finds it whatever its name (`AWSServiceRoleForEC2Spot` in AWS).
pub const SPOT_ROLE_PATH: &str = "/aws-service-role/spot.amazonaws.com/";
pub const SPOT_ROLE_NAME: &str = "AWSServiceRoleForEC2Spot";
/// The audience EKS's pod identity webhook puts in projected service account tokens.
pub const STS_AUDIENCE: &str = "sts.amazonaws.com";

/// One EventBridge rule feeding the interruption queue.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct RuleSpec {
    /// Suffix of the rule name and CloudFormation logical id stem.
    pub id: &'static str,
    pub source: &'static str,
    pub detail_type: &'static str,
}

/// The four event kinds kerf's interruption handling reads.
pub const RULES: [RuleSpec; 4] = [
    RuleSpec {
        id: "spot-interruption",
        source: "aws.ec2",
        detail_type: "EC2 Spot Instance Interruption Warning",
    },
    RuleSpec {
        id: "rebalance",
        source: "aws.ec2",
        detail_type: "EC2 Instance Rebalance Recommendation",
    },
    RuleSpec {
        id: "instance-state-change",
        source: "aws.ec2",
        detail_type: "EC2 Instance State-change Notification",
    },
    RuleSpec {
        id: "scheduled-change",
        source: "aws.health",
        detail_type: "AWS Health Event",
    },
];

/// Where the AWS side lives: partition, region and account, plus the cluster's OIDC issuer
/// (`https://oidc.eks.<region>.amazonaws.com/id/<id>`). Render fills in CloudFormation
/// placeholders (`${AWS::AccountId}`) where no AWS call was made to learn the real value.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Context {
    pub cluster: String,
    pub partition: String,
    pub region: String,
    pub account: String,
    pub oidc_issuer: String,
    /// Namespace and name of the controller's service account, trusted by the IRSA role.
    pub service_account: (String, String),
}

impl Context {
    pub fn node_role(&self) -> String {
        format!("KarpenterNodeRole-{}", self.cluster)
    }
    pub fn instance_profile(&self) -> String {
        format!("KarpenterNodeInstanceProfile-{}", self.cluster)
    }
    pub fn controller_policy(&self) -> String {
        format!("KarpenterControllerPolicy-{}", self.cluster)
    }
    pub fn controller_role(&self) -> String {
        format!("KarpenterControllerRole-{}", self.cluster)
    }
    pub fn queue(&self) -> String {
        self.cluster.clone()
    }
    pub fn rule(&self, rule: &RuleSpec) -> String {
        format!("kerf-{}-{}", self.cluster, rule.id)
    }
    /// The ARN of one of kerf's rules (on the default event bus): the `aws:SourceArn` SQS
    /// sees when EventBridge delivers that rule's events to the queue.
    pub fn rule_arn(&self, rule: &RuleSpec) -> String {
        format!(
            "arn:{}:events:{}:{}:rule/{}",
            self.partition,
            self.region,
            self.account,
            self.rule(rule)
        )
    }

    fn iam_arn(&self, what: &str) -> String {
        format!("arn:{}:iam::{}:{what}", self.partition, self.account)
    }
    /// Instance profiles by name pattern (any path).
    pub fn instance_profile_arn(&self, name: &str) -> String {
        self.iam_arn(&format!("instance-profile/{name}"))
    }
    pub fn node_role_arn(&self) -> String {
        self.iam_arn(&format!("role/{}", self.node_role()))
    }
    pub fn controller_role_arn(&self) -> String {
        self.iam_arn(&format!("role/{}", self.controller_role()))
    }
    pub fn controller_policy_arn(&self) -> String {
        self.iam_arn(&format!("policy/{}", self.controller_policy()))
    }
    pub fn managed_policy_arn(&self, name: &str) -> String {
        format!("arn:{}:iam::aws:policy/{name}", self.partition)
    }
    /// The issuer without its scheme: the OIDC provider's ARN suffix and the condition key prefix.
    pub fn oidc_host(&self) -> &str {
        self.oidc_issuer
            .strip_prefix("https://")
            .unwrap_or(&self.oidc_issuer)
    }
    pub fn oidc_provider_arn(&self) -> String {
        self.iam_arn(&format!("oidc-provider/{}", self.oidc_host()))
    }
    pub fn queue_arn(&self) -> String {
        format!(
            "arn:{}:sqs:{}:{}:{}",
            self.partition,
            self.region,
            self.account,
            self.queue()
        )
    }
    pub fn ec2_arn(&self, resource: &str) -> String {
        format!("arn:{}:ec2:{}:*:{resource}", self.partition, self.region)
    }

    /// `kubernetes.io/cluster/<cluster>`: the tag kerf puts (`owned`) on instances it launches
    /// and looks for on subnets and security groups.
    pub fn kubernetes_cluster_tag(&self) -> String {
        format!("kubernetes.io/cluster/{}", self.cluster)
    }

    /// The ownership tags on every resource kerf creates.
    pub fn ownership_tags(&self) -> BTreeMap<String, String> {
        BTreeMap::from([
            (MANAGED_BY_KEY.to_string(), MANAGED_BY_VALUE.to_string()),
            (CLUSTER_KEY.to_string(), self.cluster.clone()),
        ])
    }

    /// Whether `tags` (key, value pairs) mark a resource as created by kerf for this cluster.
    pub fn owns<'a>(&self, tags: impl IntoIterator<Item = (&'a str, &'a str)>) -> bool {
        let mut managed = false;
        let mut cluster = false;
        for (k, v) in tags {
            managed |= k == MANAGED_BY_KEY && v == MANAGED_BY_VALUE;
            cluster |= k == CLUSTER_KEY && v == self.cluster;
        }
        managed && cluster
    }
}
