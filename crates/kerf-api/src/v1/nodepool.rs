//! `karpenter.sh/v1` NodePool (cluster-scoped): a template for NodeClaims plus
//! disruption settings, limits and weight. Names follow core
//! `pkg/apis/v1/nodepool.go`.

use std::collections::BTreeMap;

use k8s_openapi::api::core::v1::{NodeSelectorRequirement, Taint};
use k8s_openapi::apimachinery::pkg::api::resource::Quantity;
use kube_derive::CustomResource;
use schemars::JsonSchema;
use serde::{Deserialize, Serialize};

use crate::conditions::Condition;
use crate::duration::{GoDuration, NillableDuration};

/// What nodes a NodePool may launch and how they are disrupted.
#[derive(CustomResource, Serialize, Deserialize, Clone, Debug, Default, PartialEq, JsonSchema)]
#[kube(
    crates(kube_core = "::kube_core"),
    group = "karpenter.sh",
    version = "v1",
    kind = "NodePool",
    plural = "nodepools",
    category = "karpenter",
    status = "NodePoolStatus",
    derive = "PartialEq",
    derive = "Default",
    doc = "NodePool is the Schema for the NodePools API",
    printcolumn(
        name = "NodeClass",
        type_ = "string",
        json_path = ".spec.template.spec.nodeClassRef.name"
    ),
    printcolumn(name = "Nodes", type_ = "string", json_path = ".status.nodes"),
    printcolumn(
        name = "Ready",
        type_ = "string",
        json_path = ".status.conditions[?(@.type==\"Ready\")].status"
    ),
    printcolumn(
        name = "Age",
        type_ = "date",
        json_path = ".metadata.creationTimestamp"
    ),
    printcolumn(
        name = "Weight",
        type_ = "integer",
        json_path = ".spec.weight",
        priority = "1"
    ),
    printcolumn(
        name = "CPU",
        type_ = "string",
        json_path = ".status.resources.cpu",
        priority = "1"
    ),
    printcolumn(
        name = "Memory",
        type_ = "string",
        json_path = ".status.resources.memory",
        priority = "1"
    ),
    scale(
        spec_replicas_path = ".spec.replicas",
        status_replicas_path = ".status.nodes"
    )
)]
#[serde(rename_all = "camelCase")]
#[schemars(extend("x-kubernetes-validations" = [
    {
        "rule": "!has(self.replicas) || !has(self.weight)",
        "message": "'weight' is not supported on static NodePools"
    },
    {
        "rule": "!has(self.replicas) || (!has(self.limits) || size(self.limits) == 0 || (size(self.limits) == 1 && 'nodes' in self.limits))",
        "message": "only 'limits.nodes' is supported on static NodePools"
    }
]))]
pub struct NodePoolSpec {
    /// The NodeClaim template: requirements, labels, taints, node class.
    pub template: NodeClaimTemplate,
    /// Consolidation and disruption budget settings.
    #[serde(default)]
    #[schemars(extend("default" = { "consolidateAfter": "0s" }))]
    pub disruption: Disruption,
    /// Cap on the summed capacity of this NodePool's nodes (may include `nodes`).
    #[serde(default, skip_serializing_if = "BTreeMap::is_empty")]
    #[schemars(schema_with = "crate::schema::quantity_map")]
    pub limits: BTreeMap<String, Quantity>,
    /// Priority among NodePools (1–100, higher first; unset counts as 0).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    #[schemars(range(min = 1, max = 100))]
    pub weight: Option<i32>,
    /// Static NodePool: keep exactly this many nodes (alpha).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    #[schemars(range(min = 0))]
    pub replicas: Option<i64>,
}

#[derive(Serialize, Deserialize, Clone, Debug, Default, PartialEq, JsonSchema)]
#[serde(rename_all = "camelCase")]
pub struct Disruption {
    /// How long a node must be consolidatable before it is disrupted, or `Never`.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub consolidate_after: Option<NillableDuration>,
    /// Which nodes consolidation may disrupt.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    #[schemars(extend("default" = "WhenEmptyOrUnderutilized"))]
    pub consolidation_policy: Option<ConsolidationPolicy>,
    /// Limits on how many nodes may be disrupted at once; the most restrictive
    /// active budget wins. Unset means one budget of `10%`.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    #[schemars(length(max = 50))]
    #[schemars(extend(
        "default" = [{ "nodes": "10%" }],
        "x-kubernetes-validations" = [{
            "rule": "self.all(x, has(x.schedule) == has(x.duration))",
            "message": "'schedule' must be set with 'duration'"
        }]
    ))]
    pub budgets: Option<Vec<Budget>>,
}

#[derive(Serialize, Deserialize, Clone, Copy, Debug, Default, PartialEq, Eq, Hash, JsonSchema)]
pub enum ConsolidationPolicy {
    /// Only nodes without (non-daemon) pods.
    WhenEmpty,
    /// Empty nodes and nodes whose pods fit elsewhere (or on a cheaper node).
    #[default]
    WhenEmptyOrUnderutilized,
    /// Upstream v1.14, feature-gated: weighs savings against disruption.
    Balanced,
}

/// A limit on concurrent disruptions, optionally active only on a schedule.
#[derive(Serialize, Deserialize, Clone, Debug, PartialEq, JsonSchema)]
#[serde(rename_all = "camelCase")]
pub struct Budget {
    /// Disruption reasons this budget applies to; unset means all.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    #[schemars(length(max = 50))]
    pub reasons: Option<Vec<DisruptionReason>>,
    /// Maximum nodes disrupted at once: an integer or a percentage (`"10%"`).
    #[serde(default = "default_budget_nodes")]
    #[schemars(regex(pattern = r"^((100|[0-9]{1,2})%|[0-9]+)$"), extend("default" = "10%"))]
    pub nodes: String,
    /// Cron schedule (UTC) at which the budget becomes active.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    #[schemars(regex(
        pattern = r"^(@(annually|yearly|monthly|weekly|daily|midnight|hourly))|((.+)\s(.+)\s(.+)\s(.+)\s(.+))$"
    ))]
    pub schedule: Option<String>,
    /// How long the budget stays active after each schedule hit (hours/minutes).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    #[schemars(regex(pattern = r"^((([0-9]+(h|m))|([0-9]+h[0-9]+m))(0s)?)$"))]
    pub duration: Option<GoDuration>,
}

fn default_budget_nodes() -> String {
    "10%".to_string()
}

impl Default for Budget {
    fn default() -> Self {
        Budget {
            reasons: None,
            nodes: default_budget_nodes(),
            schedule: None,
            duration: None,
        }
    }
}

#[derive(
    Serialize, Deserialize, Clone, Copy, Debug, PartialEq, Eq, Hash, PartialOrd, Ord, JsonSchema,
)]
pub enum DisruptionReason {
    Underutilized,
    Empty,
    Drifted,
}

/// Labels and annotations stamped on every NodeClaim (and node).
#[derive(Serialize, Deserialize, Clone, Debug, Default, PartialEq, JsonSchema)]
#[serde(rename_all = "camelCase")]
pub struct TemplateMetadata {
    #[serde(default, skip_serializing_if = "BTreeMap::is_empty")]
    #[schemars(extend("maxProperties" = 100))]
    pub labels: BTreeMap<String, String>,
    #[serde(default, skip_serializing_if = "BTreeMap::is_empty")]
    pub annotations: BTreeMap<String, String>,
}

#[derive(Serialize, Deserialize, Clone, Debug, Default, PartialEq, JsonSchema)]
#[serde(rename_all = "camelCase")]
pub struct NodeClaimTemplate {
    #[serde(default, skip_serializing_if = "is_default_metadata")]
    pub metadata: TemplateMetadata,
    pub spec: NodeClaimTemplateSpec,
}

fn is_default_metadata(m: &TemplateMetadata) -> bool {
    m == &TemplateMetadata::default()
}

/// The NodeClaim spec a NodePool stamps out (without resource requests).
#[derive(Serialize, Deserialize, Clone, Debug, Default, PartialEq, JsonSchema)]
#[serde(rename_all = "camelCase")]
pub struct NodeClaimTemplateSpec {
    #[serde(default, skip_serializing_if = "Vec::is_empty")]
    pub taints: Vec<Taint>,
    #[serde(default, skip_serializing_if = "Vec::is_empty")]
    pub startup_taints: Vec<Taint>,
    /// Node selector requirements, with optional `minValues` flexibility.
    #[serde(default)]
    #[schemars(length(max = 100), extend("x-kubernetes-validations" = crate::v1::requirement_rules()))]
    pub requirements: Vec<NodeSelectorRequirementWithMinValues>,
    /// The provider's node class (an EC2NodeClass on AWS).
    pub node_class_ref: NodeClassReference,
    /// Hard deadline for draining a node once its deletion starts.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    #[schemars(regex(pattern = r"^([0-9]+(s|m|h))+$"))]
    pub termination_grace_period: Option<GoDuration>,
    /// Node lifetime before it expires (`Never` disables).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    #[schemars(extend("default" = "720h"))]
    pub expire_after: Option<NillableDuration>,
}

/// A node selector requirement with optional `minValues`.
#[derive(Serialize, Deserialize, Clone, Debug, Default, PartialEq, JsonSchema)]
#[serde(rename_all = "camelCase")]
pub struct NodeSelectorRequirementWithMinValues {
    #[schemars(length(max = 316))]
    pub key: String,
    #[schemars(extend("enum" = ["In", "NotIn", "Exists", "DoesNotExist", "Gt", "Lt", "Gte", "Lte"]))]
    pub operator: String,
    #[serde(default, skip_serializing_if = "Vec::is_empty")]
    pub values: Vec<String>,
    /// Minimum number of distinct values the launch must stay flexible over.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    #[schemars(range(min = 1, max = 50))]
    pub min_values: Option<i32>,
}

impl NodeSelectorRequirementWithMinValues {
    pub fn new(key: impl Into<String>, operator: impl Into<String>, values: &[&str]) -> Self {
        NodeSelectorRequirementWithMinValues {
            key: key.into(),
            operator: operator.into(),
            values: values.iter().map(|v| v.to_string()).collect(),
            min_values: None,
        }
    }
}

impl From<NodeSelectorRequirement> for NodeSelectorRequirementWithMinValues {
    fn from(r: NodeSelectorRequirement) -> Self {
        NodeSelectorRequirementWithMinValues {
            key: r.key,
            operator: r.operator,
            values: r.values.unwrap_or_default(),
            min_values: None,
        }
    }
}

/// Reference to a node class object.
#[derive(Serialize, Deserialize, Clone, Debug, Default, PartialEq, JsonSchema)]
pub struct NodeClassReference {
    /// API group of the node class, e.g. `karpenter.k8s.aws`.
    #[schemars(extend("x-kubernetes-validations" = [{"rule": "self != ''", "message": "group may not be empty"}]))]
    pub group: String,
    /// Kind of the node class, e.g. `EC2NodeClass`.
    #[schemars(extend("x-kubernetes-validations" = [{"rule": "self != ''", "message": "kind may not be empty"}]))]
    pub kind: String,
    #[schemars(extend("x-kubernetes-validations" = [{"rule": "self != ''", "message": "name may not be empty"}]))]
    pub name: String,
}

#[derive(Serialize, Deserialize, Clone, Debug, Default, PartialEq, JsonSchema)]
#[serde(rename_all = "camelCase")]
pub struct NodePoolStatus {
    /// Summed capacity of the NodePool's nodes.
    #[serde(default, skip_serializing_if = "BTreeMap::is_empty")]
    #[schemars(schema_with = "crate::schema::quantity_map")]
    pub resources: BTreeMap<String, Quantity>,
    /// Number of nodes the NodePool owns.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub nodes: Option<i64>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub node_class_observed_generation: Option<i64>,
    #[serde(default, skip_serializing_if = "Vec::is_empty")]
    pub conditions: Vec<Condition>,
}

impl Disruption {
    /// `consolidateAfter`, with the CRD default (`0s`) when unset.
    pub fn consolidate_after_or_default(&self) -> NillableDuration {
        self.consolidate_after
            .unwrap_or(NillableDuration::from_secs(0))
    }

    /// `consolidationPolicy`, with the CRD default when unset.
    pub fn consolidation_policy_or_default(&self) -> ConsolidationPolicy {
        self.consolidation_policy.unwrap_or_default()
    }

    /// `budgets`, with the CRD default (`[{nodes: "10%"}]`) when unset.
    pub fn budgets_or_default(&self) -> Vec<Budget> {
        self.budgets
            .clone()
            .unwrap_or_else(|| vec![Budget::default()])
    }
}

impl NodeClaimTemplateSpec {
    /// `expireAfter`, with the CRD default (`720h`) when unset.
    pub fn expire_after_or_default(&self) -> NillableDuration {
        self.expire_after
            .unwrap_or(NillableDuration::from_secs(720 * 3600))
    }
}
