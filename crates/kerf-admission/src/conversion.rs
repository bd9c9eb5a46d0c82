//! The CRD conversion webhook: a pure [`convert`] from ConversionReview to
//! ConversionReview for NodePool, NodeClaim and EC2NodeClass between
//! `v1beta1` (served) and `v1` (stored), with `kerf-api`'s conversion, which
//! follows Karpenter v1.0's (round trips kept in its compatibility
//! annotations). The apiserver calls it on every read and write in the
//! version that is not stored.
//!
//! A v1beta1 NodeClaim converted here keeps the v1 default `expireAfter`:
//! upstream reads its NodePool's from the cluster, which a pure handler
//! cannot.

use kerf_api::v1;
use kerf_api::v1beta1::{self, convert as conv};
use kube_core::Status;
use kube_core::conversion::{ConversionRequest, ConversionResponse, ConversionReview};
use serde::Serialize;
use serde_json::Value;

use crate::kinds::{ParseError, parse};

/// Why an object cannot be converted; the text is the ConversionReview's
/// failure message.
#[derive(Debug, thiserror::Error)]
pub enum ConvertError {
    /// `apiVersion` and `desiredAPIVersion` are in different groups.
    #[error("{kind}: cannot convert {from} to {to}: different API groups")]
    DifferentGroups {
        kind: String,
        from: String,
        to: String,
    },
    #[error("kerf does not convert {kind} from {from} to {to}")]
    Unsupported {
        kind: String,
        from: String,
        to: String,
    },
    #[error(transparent)]
    Parse(#[from] ParseError),
    /// A field the other version cannot hold (kerf-api's conversion).
    #[error(transparent)]
    Field(#[from] conv::ConversionError),
    #[error("cannot serialise: {0}")]
    Serialise(serde_json::Error),
    #[error("{kind}: converted object is not a JSON object")]
    NotAnObject { kind: String },
}

/// Answers a ConversionReview: every object converted to
/// `desiredAPIVersion`, or a failure naming the first that cannot be.
pub fn convert(review: ConversionReview) -> ConversionReview {
    let request = match ConversionRequest::from_review(review) {
        Ok(request) => request,
        Err(_) => {
            let status = Status::failure("ConversionReview has no request", "BadRequest");
            return ConversionResponse::invalid(status).into_review();
        }
    };
    let desired = request.desired_api_version.clone();
    let objects = request.objects.clone();
    let response = ConversionResponse::for_request(request);
    let converted: Result<Vec<Value>, ConvertError> = objects
        .into_iter()
        .map(|o| convert_object(o, &desired))
        .collect();
    match converted {
        Ok(objects) => response.success(objects),
        Err(e) => response.failure(Status::failure(&e.to_string(), "Invalid")),
    }
    .into_review()
}

/// One object to `desired` (`karpenter.sh/v1`, `karpenter.k8s.aws/v1beta1`, ...).
pub fn convert_object(object: Value, desired: &str) -> Result<Value, ConvertError> {
    let api_version = text(&object, "apiVersion");
    let kind = text(&object, "kind");
    if api_version == desired {
        return Ok(object);
    }
    let to_v1 = desired.ends_with("/v1");
    let (group, _) = desired.split_once('/').unwrap_or((desired, ""));
    if !api_version.starts_with(&format!("{group}/")) {
        return Err(ConvertError::DifferentGroups {
            kind,
            from: api_version,
            to: desired.to_string(),
        });
    }
    let out = match (kind.as_str(), to_v1) {
        ("NodePool", true) => {
            let np: v1beta1::NodePool = parse(&kind, object)?;
            to_value(conv::node_pool_to_v1(&np)?)
        }
        ("NodePool", false) => {
            let np: v1::NodePool = parse(&kind, object)?;
            to_value(conv::node_pool_from_v1(&np)?)
        }
        ("NodeClaim", true) => {
            let nc: v1beta1::NodeClaim = parse(&kind, object)?;
            to_value(conv::node_claim_to_v1(&nc, None)?)
        }
        ("NodeClaim", false) => {
            let nc: v1::NodeClaim = parse(&kind, object)?;
            to_value(conv::node_claim_from_v1(&nc)?)
        }
        ("EC2NodeClass", true) => {
            let nc: v1beta1::EC2NodeClass = parse(&kind, object)?;
            to_value(conv::ec2_node_class_to_v1(&nc))
        }
        ("EC2NodeClass", false) => {
            let nc: v1::EC2NodeClass = parse(&kind, object)?;
            to_value(conv::ec2_node_class_from_v1(&nc)?)
        }
        _ => {
            return Err(ConvertError::Unsupported {
                kind,
                from: api_version,
                to: desired.to_string(),
            });
        }
    }?;
    with_type(out, desired, &kind)
}

fn text(object: &Value, field: &str) -> String {
    object
        .get(field)
        .and_then(Value::as_str)
        .unwrap_or_default()
        .to_string()
}

fn to_value<T: Serialize>(typed: T) -> Result<Value, ConvertError> {
    serde_json::to_value(typed).map_err(ConvertError::Serialise)
}

/// The converted object with the desired `apiVersion` and its `kind`.
fn with_type(mut object: Value, api_version: &str, kind: &str) -> Result<Value, ConvertError> {
    let map = object
        .as_object_mut()
        .ok_or_else(|| ConvertError::NotAnObject {
            kind: kind.to_string(),
        })?;
    map.insert("apiVersion".into(), Value::String(api_version.to_string()));
    map.insert("kind".into(), Value::String(kind.to_string()));
    Ok(object)
}
