//! The pure AdmissionReview handlers: [`validate`] (the validating webhook)
//! and [`mutate`] (the defaulting webhook). AdmissionReview v1 in, v1 out; no
//! I/O, so the HTTPS server only moves bytes.

use json_patch::Patch;
use kube_core::admission::{AdmissionRequest, AdmissionResponse, AdmissionReview, Operation};
use kube_core::{DynamicObject, Status};
use serde_json::{Value, json};

use crate::kinds::Kind;

/// The review type on the wire: the object is kept untyped until the
/// request's `kind` says which kerf type it is.
pub type Review = AdmissionReview<DynamicObject>;

/// Answers a validating AdmissionReview: allowed when the object passes its
/// kind's `validate()`, else denied with every field error in the status
/// message.
pub fn validate(review: Review) -> Review {
    respond(review, |kind, object, response| {
        match kind.validate(object) {
            Ok(()) => response,
            Err(e) => deny(response, &e.to_string()),
        }
    })
}

/// Answers a mutating AdmissionReview: allowed, with a JSON patch that applies
/// the kind's `set_defaults()` when that changes anything.
pub fn mutate(review: Review) -> Review {
    respond(review, |kind, object, response| {
        match kind.default(object.clone()) {
            Ok((before, after)) => {
                let patch = defaulting_patch(&object, &before, &after);
                if patch.0.is_empty() {
                    return response;
                }
                match response.clone().with_patch(patch) {
                    Ok(patched) => patched,
                    Err(e) => deny(response, &format!("cannot encode the defaults patch: {e}")),
                }
            }
            Err(e) => deny(response, &e.to_string()),
        }
    })
}

/// Common request handling: malformed reviews are answered `invalid`,
/// deletes and objectless requests are allowed, kinds kerf does not serve are
/// denied (a webhook configuration routing them here is a mistake to show).
fn respond(
    review: Review,
    handle: impl FnOnce(Kind, Value, AdmissionResponse) -> AdmissionResponse,
) -> Review {
    let request: AdmissionRequest<DynamicObject> = match review.try_into() {
        Ok(request) => request,
        Err(_) => {
            return AdmissionResponse::invalid("AdmissionReview has no request").into_review();
        }
    };
    let response = AdmissionResponse::from(&request);
    if matches!(request.operation, Operation::Delete | Operation::Connect) {
        return response.into_review();
    }
    let Some(kind) = Kind::from_gvk(&request.kind) else {
        let gvk = &request.kind;
        let message = format!(
            "kerf's webhook does not serve {}/{} {}",
            gvk.group, gvk.version, gvk.kind
        );
        return deny(response, &message).into_review();
    };
    let Some(object) = request.object.as_ref() else {
        let message = format!("{} {:?}: request has no object", kind.name(), request.name);
        return deny(response, &message).into_review();
    };
    match serde_json::to_value(object) {
        Ok(object) => handle(kind, object, response).into_review(),
        Err(e) => deny(
            response,
            &format!("{}: unreadable object: {e}", kind.name()),
        )
        .into_review(),
    }
}

/// Denied with HTTP 422 "Invalid", as the apiserver's own validation answers.
fn deny(response: AdmissionResponse, message: &str) -> AdmissionResponse {
    let mut response = response.deny(message);
    response.result = Status::failure(message, "Invalid").with_code(422);
    response
}

/// The JSON patch that takes `original` to the defaulted object, touching only
/// what defaulting changed.
///
/// `before` and `after` are the object through kerf's types before and after
/// `set_defaults()`; where they are equal nothing is emitted, so differences
/// that come from re-serialisation (field order, empty lists) never reach the
/// stored object. Where they differ, the walk descends while `original` also
/// has an object there and otherwise writes the defaulted value with `add`
/// (which replaces an existing member), so every path exists in `original`.
pub fn defaulting_patch(original: &Value, before: &Value, after: &Value) -> Patch {
    let mut ops = Vec::new();
    walk(original, before, after, &mut String::new(), &mut ops);
    // The ops are built from valid values and pointers; a failure here is a
    // bug, not bad input, and yields an empty patch rather than a panic.
    serde_json::from_value(Value::Array(ops)).unwrap_or_default()
}

fn walk(original: &Value, before: &Value, after: &Value, path: &mut String, ops: &mut Vec<Value>) {
    if before == after {
        return;
    }
    let (Value::Object(orig), Value::Object(after_map)) = (original, after) else {
        ops.push(json!({"op": "add", "path": path.clone(), "value": after}));
        return;
    };
    for (key, after_value) in after_map {
        let before_value = before.get(key).unwrap_or(&Value::Null);
        if before_value == after_value {
            continue;
        }
        let len = path.len();
        path.push('/');
        path.push_str(&key.replace('~', "~0").replace('/', "~1"));
        match orig.get(key) {
            Some(orig_value) => walk(orig_value, before_value, after_value, path, ops),
            None => ops.push(json!({"op": "add", "path": path.clone(), "value": after_value})),
        }
        path.truncate(len);
    }
}
