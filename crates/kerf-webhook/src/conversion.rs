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
use kube::core::Status;
use kube::core::conversion::{ConversionRequest, ConversionResponse, ConversionReview};
use serde::Serialize;
use serde::de::DeserializeOwned;
use serde_json::Value;

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
    let converted: Result<Vec<Value>, String> = objects
        .into_iter()
        .map(|o| convert_object(o, &desired))
        .collect();
    match converted {
        Ok(objects) => response.success(objects),
        Err(message) => response.failure(Status::failure(&message, "Invalid")),
    }
    .into_review()
}

/// One object to `desired` (`karpenter.sh/v1`, `karpenter.k8s.aws/v1beta1`, ...).
pub fn convert_object(object: Value, desired: &str) -> Result<Value, String> {
    let api_version = text(&object, "apiVersion");
    let kind = text(&object, "kind");
    if api_version == desired {
        return Ok(object);
    }
    let to_v1 = desired.ends_with("/v1");
    let (group, _) = desired.split_once('/').unwrap_or((desired, ""));
    if !api_version.starts_with(&format!("{group}/")) {
        return Err(format!(
            "{kind}: cannot convert {api_version} to {desired}: different API groups"
        ));
    }
    let out = match (kind.as_str(), to_v1) {
        ("NodePool", true) => {
            let np: v1beta1::NodePool = parse(&kind, object)?;
            to_value(conv::node_pool_to_v1(&np).map_err(|e| e.to_string())?)
        }
        ("NodePool", false) => {
            let np: v1::NodePool = parse(&kind, object)?;
            to_value(conv::node_pool_from_v1(&np).map_err(|e| e.to_string())?)
        }
        ("NodeClaim", true) => {
            let nc: v1beta1::NodeClaim = parse(&kind, object)?;
            to_value(conv::node_claim_to_v1(&nc, None).map_err(|e| e.to_string())?)
        }
        ("NodeClaim", false) => {
            let nc: v1::NodeClaim = parse(&kind, object)?;
            to_value(conv::node_claim_from_v1(&nc).map_err(|e| e.to_string())?)
        }
        ("EC2NodeClass", true) => {
            let nc: v1beta1::EC2NodeClass = parse(&kind, object)?;
            to_value(conv::ec2_node_class_to_v1(&nc))
        }
        ("EC2NodeClass", false) => {
            let nc: v1::EC2NodeClass = parse(&kind, object)?;
            to_value(conv::ec2_node_class_from_v1(&nc).map_err(|e| e.to_string())?)
        }
        _ => {
            return Err(format!(
                "kerf does not convert {kind} from {api_version} to {desired}"
            ));
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

fn parse<T: DeserializeOwned>(kind: &str, object: Value) -> Result<T, String> {
    let name = object
        .pointer("/metadata/name")
        .and_then(Value::as_str)
        .unwrap_or_default()
        .to_string();
    serde_path_to_error::deserialize(object)
        .map_err(|e| format!("{kind} {name:?}: {}: {}", e.path(), e.inner()))
}

fn to_value<T: Serialize>(typed: T) -> Result<Value, String> {
    serde_json::to_value(typed).map_err(|e| format!("cannot serialise: {e}"))
}

/// The converted object with the desired `apiVersion` and its `kind`.
fn with_type(mut object: Value, api_version: &str, kind: &str) -> Result<Value, String> {
    let map = object
        .as_object_mut()
        .ok_or_else(|| format!("{kind}: converted object is not a JSON object"))?;
    map.insert("apiVersion".into(), Value::String(api_version.to_string()));
    map.insert("kind".into(), Value::String(kind.to_string()));
    Ok(object)
}
