//! The v1beta1 API (Karpenter v0.32 to v0.37, still served by v1.0):
//! `karpenter.sh/v1beta1` NodePool and NodeClaim and `karpenter.k8s.aws/v1beta1`
//! EC2NodeClass, and their conversion to and from v1 ([`convert`]). kerf
//! stores and plans with v1 only; these types exist so v1beta1 manifests mean
//! what they meant to Karpenter. Field and JSON names follow core and AWS
//! `pkg/apis/v1beta1/*.go` at v0.37.0.

mod ec2nodeclass;
mod nodeclaim;
mod nodepool;

pub mod convert;
mod convert_aws;
mod defaults;

pub use ec2nodeclass::*;
pub use nodeclaim::*;
pub use nodepool::*;

pub const VERSION: &str = "v1beta1";
/// `karpenter.sh/v1beta1`.
pub const API_VERSION: &str = "karpenter.sh/v1beta1";
/// `karpenter.k8s.aws/v1beta1`.
pub const AWS_API_VERSION: &str = "karpenter.k8s.aws/v1beta1";

/// Requirement operators v1beta1 accepts (core's `NodeSelectorOperator`s).
pub const OPERATORS: &[&str] = &["In", "NotIn", "Exists", "DoesNotExist", "Gt", "Lt"];

/// AMI families v1beta1 accepts (`amiFamily` is required).
pub const AMI_FAMILIES: &[&str] = &[
    "AL2",
    "AL2023",
    "Bottlerocket",
    "Ubuntu",
    "Custom",
    "Windows2019",
    "Windows2022",
];

/// The CEL rules v1beta1 puts on `requirements` lists.
pub(crate) fn requirement_rules() -> serde_json::Value {
    serde_json::json!([
        {
            "rule": "self.all(x, x.operator == 'In' ? x.values.size() != 0 : true)",
            "message": "requirements with operator 'In' must have a value defined"
        },
        {
            "rule": "self.all(x, (x.operator == 'Gt' || x.operator == 'Lt') ? (x.values.size() == 1 && int(x.values[0]) >= 0) : true)",
            "message": "requirements operator 'Gt' or 'Lt' must have a single positive integer value"
        },
        {
            "rule": "self.all(x, (x.operator == 'In' && has(x.minValues)) ? x.values.size() >= x.minValues : true)",
            "message": "requirements with 'minValues' must have at least that many values specified in the 'values' field"
        }
    ])
}
