//! v1beta1 ⇄ v1 conversion for NodePool and NodeClaim, as core v1.0's
//! `nodepool_conversion.go` and `nodeclaim_conversion.go` do it (the
//! EC2NodeClass half is in `convert_aws.rs`, re-exported here). Pure.
//!
//! | v1beta1 | v1 |
//! |---|---|
//! | `consolidationPolicy: WhenUnderutilized` | `WhenEmptyOrUnderutilized`, `consolidateAfter: 0s` |
//! | `WhenEmpty` + `consolidateAfter` | the same |
//! | `disruption.expireAfter` | `template.spec.expireAfter` |
//! | `nodeClassRef {kind, name, apiVersion}` | `{group, kind, name}` (defaults `karpenter.k8s.aws`, `EC2NodeClass`); the original in [`NODE_CLASS_REFERENCE_ANNOTATION`] |
//! | `template.spec.kubelet` | JSON in [`KUBELET_COMPATIBILITY_ANNOTATION`], which outranks `EC2NodeClass.spec.kubelet` ([`kubelet_from_annotations`]) |
//! | budgets | budgets (v1 `reasons` are dropped going back, as upstream drops them) |
//!
//! Going back to v1beta1, the annotations are read and removed again, so a
//! v1beta1 object survives the round trip. v1 fields v1beta1 cannot hold
//! (`terminationGracePeriod`, budget `reasons`) are dropped as upstream drops
//! them; kerf-only ones (`Balanced`, `replicas`) are refused.

use std::collections::BTreeMap;

use super::{NodeClaim, NodeClassReference, NodePool, NodeSelectorRequirementWithMinValues};
use super::{nodeclaim, nodepool};
use crate::duration::NillableDuration;
use crate::v1;

pub use super::convert_aws::{
    UBUNTU_COMPATIBILITY_ANNOTATION, ec2_node_class_from_v1, ec2_node_class_to_v1,
};

/// Where a v1 object keeps its v1beta1 kubelet block (JSON).
pub const KUBELET_COMPATIBILITY_ANNOTATION: &str =
    "compatibility.karpenter.sh/v1beta1-kubelet-conversion";
/// Where a v1 object keeps its v1beta1 `nodeClassRef` (JSON).
pub const NODE_CLASS_REFERENCE_ANNOTATION: &str =
    "compatibility.karpenter.sh/v1beta1-nodeclass-reference";

/// A field that cannot be converted.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
#[error("{kind} {name:?}: {field}: {message}")]
pub struct ConversionError {
    pub kind: &'static str,
    pub name: String,
    pub field: String,
    pub message: String,
}

impl ConversionError {
    pub(crate) fn new(
        kind: &'static str,
        name: Option<&str>,
        field: impl Into<String>,
        message: impl Into<String>,
    ) -> Self {
        ConversionError {
            kind,
            name: name.unwrap_or_default().to_string(),
            field: field.into(),
            message: message.into(),
        }
    }
}

/// The kubelet block in [`KUBELET_COMPATIBILITY_ANNOTATION`] is not a
/// kubelet configuration.
#[derive(Debug, thiserror::Error)]
#[error(
    "metadata.annotations[{KUBELET_COMPATIBILITY_ANNOTATION}]: not a kubelet configuration: {0}"
)]
pub struct KubeletAnnotationError(serde_json::Error);

/// For callers that carry an object's problem as text (kerf-state's
/// `StateError::object`); the text is the error's message.
impl From<KubeletAnnotationError> for String {
    fn from(e: KubeletAnnotationError) -> String {
        e.to_string()
    }
}

/// The kubelet block a v1 NodePool or NodeClaim carries over from v1beta1,
/// if any. As in AWS v1.0 (`GetKubletConfigurationWithNodePool`), it
/// replaces the EC2NodeClass's `spec.kubelet` when present.
pub fn kubelet_from_annotations(
    annotations: Option<&BTreeMap<String, String>>,
) -> Result<Option<v1::KubeletConfiguration>, KubeletAnnotationError> {
    let Some(json) = annotations.and_then(|a| a.get(KUBELET_COMPATIBILITY_ANNOTATION)) else {
        return Ok(None);
    };
    serde_json::from_str(json)
        .map(Some)
        .map_err(KubeletAnnotationError)
}

fn requirements_to_v1(
    list: &[NodeSelectorRequirementWithMinValues],
) -> Vec<v1::NodeSelectorRequirementWithMinValues> {
    list.iter()
        .map(|r| v1::NodeSelectorRequirementWithMinValues {
            key: r.key.clone(),
            operator: r.operator.clone(),
            values: r.values.clone(),
            min_values: r.min_values,
        })
        .collect()
}

fn requirements_from_v1(
    list: &[v1::NodeSelectorRequirementWithMinValues],
) -> Vec<NodeSelectorRequirementWithMinValues> {
    list.iter()
        .map(|r| NodeSelectorRequirementWithMinValues {
            key: r.key.clone(),
            operator: r.operator.clone(),
            values: r.values.clone(),
            min_values: r.min_values,
        })
        .collect()
}

/// `apiVersion` `karpenter.k8s.aws/v1beta1` → group `karpenter.k8s.aws`;
/// unset kind and group default to the AWS node class.
fn class_ref_to_v1(r: &NodeClassReference) -> v1::NodeClassReference {
    let group = match r.api_version.split('/').next() {
        Some(g) if !r.api_version.is_empty() => g.to_string(),
        _ => v1::AWS_GROUP.to_string(),
    };
    let kind = if r.kind.is_empty() {
        "EC2NodeClass".to_string()
    } else {
        r.kind.clone()
    };
    v1::NodeClassReference {
        group,
        kind,
        name: r.name.clone(),
    }
}

/// The v1 annotations for a v1beta1 object: the user's, plus the kubelet
/// block (or without a stale one) and the original node class reference.
fn annotations_to_v1(
    kind: &'static str,
    meta: &k8s_openapi::apimachinery::pkg::apis::meta::v1::ObjectMeta,
    kubelet: Option<&v1::KubeletConfiguration>,
    class_ref: &NodeClassReference,
) -> Result<BTreeMap<String, String>, ConversionError> {
    let name = meta.name.as_deref();
    let json = |field: &str, v: serde_json::Result<String>| {
        v.map_err(|e| ConversionError::new(kind, name, field, e.to_string()))
    };
    let mut out = meta.annotations.clone().unwrap_or_default();
    match kubelet {
        Some(k) => {
            let v = json("kubelet", serde_json::to_string(k))?;
            out.insert(KUBELET_COMPATIBILITY_ANNOTATION.to_string(), v);
        }
        None => {
            out.remove(KUBELET_COMPATIBILITY_ANNOTATION);
        }
    }
    let v = json("nodeClassRef", serde_json::to_string(class_ref))?;
    out.insert(NODE_CLASS_REFERENCE_ANNOTATION.to_string(), v);
    Ok(out)
}

/// Reads (and removes) the compatibility annotations of a v1 object going
/// back to v1beta1: the node class reference (rebuilt from v1's when
/// absent) and the kubelet block.
fn annotations_from_v1(
    kind: &'static str,
    meta: &mut k8s_openapi::apimachinery::pkg::apis::meta::v1::ObjectMeta,
    class_ref: &v1::NodeClassReference,
) -> Result<(NodeClassReference, Option<v1::KubeletConfiguration>), ConversionError> {
    let name = meta.name.clone();
    let mut annotations = meta.annotations.take().unwrap_or_default();
    let field = |key: &str| format!("metadata.annotations[{key}]");
    let reference = match annotations.remove(NODE_CLASS_REFERENCE_ANNOTATION) {
        Some(json) => serde_json::from_str(&json).map_err(|e| {
            ConversionError::new(
                kind,
                name.as_deref(),
                field(NODE_CLASS_REFERENCE_ANNOTATION),
                format!("not a node class reference: {e}"),
            )
        })?,
        None => NodeClassReference {
            kind: class_ref.kind.clone(),
            name: class_ref.name.clone(),
            api_version: String::new(),
        },
    };
    let kubelet = match annotations.remove(KUBELET_COMPATIBILITY_ANNOTATION) {
        Some(json) => Some(serde_json::from_str(&json).map_err(|e| {
            ConversionError::new(
                kind,
                name.as_deref(),
                field(KUBELET_COMPATIBILITY_ANNOTATION),
                format!("not a kubelet configuration: {e}"),
            )
        })?),
        None => None,
    };
    meta.annotations = (!annotations.is_empty()).then_some(annotations);
    Ok((reference, kubelet))
}

/// v1beta1 NodePool → v1 (upstream `NodePool.ConvertFrom`). Expects the
/// v1beta1 CRD defaults to be set ([`NodePool::set_defaults`]).
pub fn node_pool_to_v1(np: &NodePool) -> Result<v1::NodePool, ConversionError> {
    let s = &np.spec;
    let t = &s.template.spec;
    let mut metadata = np.metadata.clone();
    let annotations =
        annotations_to_v1("NodePool", &metadata, t.kubelet.as_ref(), &t.node_class_ref)?;
    metadata.annotations = Some(annotations);
    let d = &s.disruption;
    let under = d.consolidation_policy.unwrap_or_default()
        == nodepool::ConsolidationPolicy::WhenUnderutilized;
    let (policy, after) = if under {
        (
            v1::ConsolidationPolicy::WhenEmptyOrUnderutilized,
            NillableDuration::from_secs(0),
        )
    } else {
        let after = d.consolidate_after.unwrap_or(NillableDuration::NEVER);
        (v1::ConsolidationPolicy::WhenEmpty, after)
    };
    let budgets = d.budgets.as_ref().map(|list| {
        list.iter()
            .map(|b| v1::Budget {
                reasons: None,
                nodes: b.nodes.clone(),
                schedule: b.schedule.clone(),
                duration: b.duration,
            })
            .collect()
    });
    Ok(v1::NodePool {
        metadata,
        spec: v1::NodePoolSpec {
            template: v1::NodeClaimTemplate {
                metadata: s.template.metadata.clone(),
                spec: v1::NodeClaimTemplateSpec {
                    taints: t.taints.clone(),
                    startup_taints: t.startup_taints.clone(),
                    requirements: requirements_to_v1(&t.requirements),
                    node_class_ref: class_ref_to_v1(&t.node_class_ref),
                    termination_grace_period: None,
                    expire_after: d.expire_after,
                },
            },
            disruption: v1::Disruption {
                consolidate_after: Some(after),
                consolidation_policy: Some(policy),
                budgets,
            },
            limits: s.limits.clone(),
            weight: s.weight,
            replicas: None,
        },
        status: np.status.as_ref().map(|st| v1::NodePoolStatus {
            resources: st.resources.clone(),
            conditions: st.conditions.clone(),
            ..Default::default()
        }),
    })
}

/// v1 NodePool → v1beta1 (upstream `NodePool.ConvertTo`).
pub fn node_pool_from_v1(np: &v1::NodePool) -> Result<NodePool, ConversionError> {
    let name = np.metadata.name.as_deref();
    let s = &np.spec;
    let t = &s.template.spec;
    if s.replicas.is_some() {
        return Err(ConversionError::new(
            "NodePool",
            name,
            "spec.replicas",
            "static NodePools have no v1beta1 form",
        ));
    }
    let d = &s.disruption;
    let (policy, after) = match d.consolidation_policy_or_default() {
        v1::ConsolidationPolicy::WhenEmptyOrUnderutilized => {
            (nodepool::ConsolidationPolicy::WhenUnderutilized, None)
        }
        v1::ConsolidationPolicy::WhenEmpty => (
            nodepool::ConsolidationPolicy::WhenEmpty,
            Some(d.consolidate_after_or_default()),
        ),
        v1::ConsolidationPolicy::Balanced => {
            return Err(ConversionError::new(
                "NodePool",
                name,
                "spec.disruption.consolidationPolicy",
                "Balanced has no v1beta1 form",
            ));
        }
    };
    let mut metadata = np.metadata.clone();
    let (node_class_ref, kubelet) =
        annotations_from_v1("NodePool", &mut metadata, &t.node_class_ref)?;
    let budgets = d.budgets.as_ref().map(|list| {
        list.iter()
            .map(|b| nodepool::Budget {
                nodes: b.nodes.clone(),
                schedule: b.schedule.clone(),
                duration: b.duration,
            })
            .collect()
    });
    Ok(NodePool {
        metadata,
        spec: super::NodePoolSpec {
            template: nodepool::NodeClaimTemplate {
                metadata: s.template.metadata.clone(),
                spec: nodepool::NodeClaimTemplateSpec {
                    taints: t.taints.clone(),
                    startup_taints: t.startup_taints.clone(),
                    requirements: requirements_from_v1(&t.requirements),
                    resources: Default::default(),
                    kubelet,
                    node_class_ref,
                },
            },
            disruption: nodepool::Disruption {
                consolidate_after: after,
                consolidation_policy: Some(policy),
                expire_after: t.expire_after,
                budgets,
            },
            limits: s.limits.clone(),
            weight: s.weight,
        },
        status: np.status.as_ref().map(|st| nodepool::NodePoolStatus {
            resources: st.resources.clone(),
            conditions: st.conditions.clone(),
        }),
    })
}

/// v1beta1 NodeClaim → v1 (upstream `NodeClaim.ConvertFrom`). `expireAfter`
/// comes from the NodePool named by its `karpenter.sh/nodepool` label, when
/// that pool is given; otherwise it is left to the v1 default.
pub fn node_claim_to_v1(
    nc: &NodeClaim,
    pool: Option<&v1::NodePool>,
) -> Result<v1::NodeClaim, ConversionError> {
    let s = &nc.spec;
    let mut metadata = nc.metadata.clone();
    let annotations = annotations_to_v1(
        "NodeClaim",
        &metadata,
        s.kubelet.as_ref(),
        &s.node_class_ref,
    )?;
    metadata.annotations = Some(annotations);
    let pool_name = nc
        .metadata
        .labels
        .as_ref()
        .and_then(|l| l.get(crate::labels::NODEPOOL));
    let expire_after = pool
        .filter(|p| pool_name.is_some() && p.metadata.name.as_ref() == pool_name)
        .and_then(|p| p.spec.template.spec.expire_after);
    Ok(v1::NodeClaim {
        metadata,
        spec: v1::NodeClaimSpec {
            taints: s.taints.clone(),
            startup_taints: s.startup_taints.clone(),
            requirements: requirements_to_v1(&s.requirements),
            resources: s.resources.clone(),
            node_class_ref: class_ref_to_v1(&s.node_class_ref),
            termination_grace_period: None,
            expire_after,
        },
        status: nc.status.as_ref().map(|st| v1::NodeClaimStatus {
            node_name: st.node_name.clone(),
            provider_id: st.provider_id.clone(),
            image_id: st.image_id.clone(),
            capacity: st.capacity.clone(),
            allocatable: st.allocatable.clone(),
            conditions: st.conditions.clone(),
            last_pod_event_time: None,
        }),
    })
}

/// v1 NodeClaim → v1beta1 (upstream `NodeClaim.ConvertTo`).
pub fn node_claim_from_v1(nc: &v1::NodeClaim) -> Result<NodeClaim, ConversionError> {
    let s = &nc.spec;
    let mut metadata = nc.metadata.clone();
    let (node_class_ref, kubelet) =
        annotations_from_v1("NodeClaim", &mut metadata, &s.node_class_ref)?;
    Ok(NodeClaim {
        metadata,
        spec: super::NodeClaimSpec {
            taints: s.taints.clone(),
            startup_taints: s.startup_taints.clone(),
            requirements: requirements_from_v1(&s.requirements),
            resources: s.resources.clone(),
            kubelet,
            node_class_ref,
        },
        status: nc.status.as_ref().map(|st| nodeclaim::NodeClaimStatus {
            node_name: st.node_name.clone(),
            provider_id: st.provider_id.clone(),
            image_id: st.image_id.clone(),
            capacity: st.capacity.clone(),
            allocatable: st.allocatable.clone(),
            conditions: st.conditions.clone(),
        }),
    })
}
