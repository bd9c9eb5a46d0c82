//! `karpenter.sh/v1beta1` NodePool: unlike v1, `expireAfter` sits under
//! `disruption`, the kubelet block sits in the template, `consolidateAfter`
//! is only allowed with `WhenEmpty` and `nodeClassRef` carries an
//! `apiVersion` rather than a `group`. Core `pkg/apis/v1beta1/nodepool.go`.

use std::collections::BTreeMap;

use k8s_openapi::api::core::v1::Taint;
use k8s_openapi::apimachinery::pkg::api::resource::Quantity;
use kube_derive::CustomResource;
use schemars::JsonSchema;
use serde::{Deserialize, Serialize};

use crate::conditions::Condition;
use crate::duration::{GoDuration, NillableDuration};
use crate::v1::{KubeletConfiguration, TemplateMetadata};

/// What nodes a v1beta1 NodePool may launch and how they are disrupted.
#[derive(CustomResource, Serialize, Deserialize, Clone, Debug, Default, PartialEq, JsonSchema)]
#[kube(
    crates(kube_core = "::kube_core"),
    group = "karpenter.sh",
    version = "v1beta1",
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
    printcolumn(
        name = "Weight",
        type_ = "string",
        json_path = ".spec.weight",
        priority = "1"
    )
)]
#[serde(rename_all = "camelCase")]
pub struct NodePoolSpec {
    pub template: NodeClaimTemplate,
    /// Consolidation, expiry and budget settings.
    #[serde(default)]
    #[schemars(extend(
        "default" = { "consolidationPolicy": "WhenUnderutilized", "expireAfter": "720h" },
        "x-kubernetes-validations" = [
            {
                "rule": "has(self.consolidateAfter) ? self.consolidationPolicy != 'WhenUnderutilized' || self.consolidateAfter == 'Never' : true",
                "message": "consolidateAfter cannot be combined with consolidationPolicy=WhenUnderutilized"
            },
            {
                "rule": "self.consolidationPolicy == 'WhenEmpty' ? has(self.consolidateAfter) : true",
                "message": "consolidateAfter must be specified with consolidationPolicy=WhenEmpty"
            }
        ]
    ))]
    pub disruption: Disruption,
    #[serde(default, skip_serializing_if = "BTreeMap::is_empty")]
    #[schemars(schema_with = "crate::schema::quantity_map")]
    pub limits: BTreeMap<String, Quantity>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    #[schemars(range(min = 1, max = 100))]
    pub weight: Option<i32>,
}

#[derive(Serialize, Deserialize, Clone, Debug, Default, PartialEq, JsonSchema)]
#[serde(rename_all = "camelCase")]
pub struct Disruption {
    /// Only with `WhenEmpty` (required there); `Never` is allowed with either.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub consolidate_after: Option<NillableDuration>,
    /// Unset means `WhenUnderutilized`.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    #[schemars(extend("default" = "WhenUnderutilized"))]
    pub consolidation_policy: Option<ConsolidationPolicy>,
    /// Node lifetime (`Never` disables); unset means `720h`.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    #[schemars(extend("default" = "720h"))]
    pub expire_after: Option<NillableDuration>,
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
    WhenEmpty,
    /// v1's `WhenEmptyOrUnderutilized`.
    #[default]
    WhenUnderutilized,
}

/// A limit on concurrent disruptions (v1beta1 budgets have no `reasons`).
#[derive(Serialize, Deserialize, Clone, Debug, PartialEq, JsonSchema)]
#[serde(rename_all = "camelCase")]
pub struct Budget {
    #[serde(default = "default_budget_nodes")]
    #[schemars(regex(pattern = r"^((100|[0-9]{1,2})%|[0-9]+)$"), extend("default" = "10%"))]
    pub nodes: String,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    #[schemars(regex(
        pattern = r"^(@(annually|yearly|monthly|weekly|daily|midnight|hourly))|((.+)\s(.+)\s(.+)\s(.+)\s(.+))$"
    ))]
    pub schedule: Option<String>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    #[schemars(regex(pattern = r"^((([0-9]+(h|m))|([0-9]+h[0-9]+m))(0s)?)$"))]
    pub duration: Option<GoDuration>,
}

fn default_budget_nodes() -> String {
    "10%".to_string()
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

/// The NodeClaim spec a v1beta1 NodePool stamps out.
#[derive(Serialize, Deserialize, Clone, Debug, Default, PartialEq, JsonSchema)]
#[serde(rename_all = "camelCase")]
pub struct NodeClaimTemplateSpec {
    #[serde(default, skip_serializing_if = "Vec::is_empty")]
    pub taints: Vec<Taint>,
    #[serde(default, skip_serializing_if = "Vec::is_empty")]
    pub startup_taints: Vec<Taint>,
    #[serde(default)]
    #[schemars(length(max = 30), extend("x-kubernetes-validations" = super::requirement_rules()))]
    pub requirements: Vec<NodeSelectorRequirementWithMinValues>,
    /// Refused in a NodePool template (the webhook's `resources.requests` rule).
    #[serde(
        default,
        skip_serializing_if = "super::nodeclaim::is_default_resources"
    )]
    pub resources: super::ResourceRequirements,
    /// Kubelet options; in v1 they belong to the EC2NodeClass.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub kubelet: Option<KubeletConfiguration>,
    pub node_class_ref: NodeClassReference,
}

/// A node selector requirement with optional `minValues` (v1beta1 operators).
#[derive(Serialize, Deserialize, Clone, Debug, Default, PartialEq, JsonSchema)]
#[serde(rename_all = "camelCase")]
pub struct NodeSelectorRequirementWithMinValues {
    pub key: String,
    #[schemars(extend("enum" = ["In", "NotIn", "Exists", "DoesNotExist", "Gt", "Lt"]))]
    pub operator: String,
    #[serde(default, skip_serializing_if = "Vec::is_empty")]
    pub values: Vec<String>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    #[schemars(range(min = 1, max = 50))]
    pub min_values: Option<i32>,
}

/// v1beta1's node class reference; field order is Go's, so the compatibility
/// annotation kerf writes reads as Karpenter's.
#[derive(Serialize, Deserialize, Clone, Debug, Default, PartialEq, JsonSchema)]
#[serde(rename_all = "camelCase")]
pub struct NodeClassReference {
    #[serde(default, skip_serializing_if = "String::is_empty")]
    pub kind: String,
    pub name: String,
    #[serde(default, skip_serializing_if = "String::is_empty")]
    pub api_version: String,
}

#[derive(Serialize, Deserialize, Clone, Debug, Default, PartialEq, JsonSchema)]
#[serde(rename_all = "camelCase")]
pub struct NodePoolStatus {
    #[serde(default, skip_serializing_if = "BTreeMap::is_empty")]
    #[schemars(schema_with = "crate::schema::quantity_map")]
    pub resources: BTreeMap<String, Quantity>,
    #[serde(default, skip_serializing_if = "Vec::is_empty")]
    pub conditions: Vec<Condition>,
}
