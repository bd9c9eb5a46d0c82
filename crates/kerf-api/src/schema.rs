//! Hand-written OpenAPI fragments for fields whose derived schema would not be
//! structural or would not match Karpenter's CRDs (quantities, free-form
//! objects, quantity maps).

use schemars::{Schema, SchemaGenerator, json_schema};

/// The quantity pattern Kubernetes puts on every `resource.Quantity`.
pub const QUANTITY_PATTERN: &str = r"^(\+|-)?(([0-9]+(\.[0-9]*)?)|(\.[0-9]+))(([KMGTPE]i)|[numkMGTPE]|([eE](\+|-)?(([0-9]+(\.[0-9]*)?)|(\.[0-9]+))))?$";

fn quantity_value() -> serde_json::Value {
    serde_json::json!({
        "pattern": QUANTITY_PATTERN,
        "x-kubernetes-int-or-string": true,
    })
}

/// `map[string]resource.Quantity` (a `ResourceList`).
pub fn quantity_map(_: &mut SchemaGenerator) -> Schema {
    json_schema!({
        "type": "object",
        "additionalProperties": quantity_value(),
    })
}

/// A single `resource.Quantity`.
pub fn quantity(_: &mut SchemaGenerator) -> Schema {
    let mut s = json_schema!({});
    if let serde_json::Value::Object(map) = quantity_value() {
        for (k, v) in map {
            s.insert(k, v);
        }
    }
    s
}

/// An object whose unknown fields the API server must keep (`provider`).
pub fn preserve_unknown_object(_: &mut SchemaGenerator) -> Schema {
    json_schema!({
        "type": "object",
        "x-kubernetes-preserve-unknown-fields": true,
    })
}
