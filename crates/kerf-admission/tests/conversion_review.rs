//! The pure ConversionReview handler: every object converted to the desired
//! version, or a failure naming the object and field that cannot be.

use kerf_admission::conversion::convert;
use kube_core::conversion::ConversionReview;
use serde_json::{Value, json};

fn review(desired: &str, objects: Vec<Value>) -> ConversionReview {
    serde_json::from_value(json!({
        "apiVersion": "apiextensions.k8s.io/v1",
        "kind": "ConversionReview",
        "request": {"uid": "abc-123", "desiredAPIVersion": desired, "objects": objects}
    }))
    .expect("a ConversionReview")
}

fn answer(review: ConversionReview) -> Value {
    serde_json::to_value(convert(review)).expect("serialises")
}

fn beta_pool(name: &str) -> Value {
    json!({
        "apiVersion": "karpenter.sh/v1beta1", "kind": "NodePool",
        "metadata": {"name": name, "uid": "u-1", "resourceVersion": "7"},
        "spec": {
            "template": {"spec": {"nodeClassRef": {"name": "default"}, "kubelet": {"maxPods": 8}}},
            "disruption": {"consolidationPolicy": "WhenEmpty", "consolidateAfter": "1m", "expireAfter": "Never"}
        }
    })
}

#[test]
fn every_object_is_converted_to_the_desired_version() {
    let out = answer(review(
        "karpenter.sh/v1",
        vec![beta_pool("a"), beta_pool("b")],
    ));
    let response = &out["response"];
    assert_eq!(response["uid"], "abc-123");
    assert_eq!(response["result"]["status"], "Success", "{out}");
    let objects = response["convertedObjects"].as_array().expect("objects");
    assert_eq!(objects.len(), 2);
    let a = &objects[0];
    assert_eq!(a["apiVersion"], "karpenter.sh/v1");
    assert_eq!(a["kind"], "NodePool");
    assert_eq!(a["metadata"]["uid"], "u-1");
    assert_eq!(a["metadata"]["resourceVersion"], "7");
    assert_eq!(a["spec"]["template"]["spec"]["expireAfter"], "Never");
    assert_eq!(a["spec"]["disruption"]["consolidateAfter"], "1m0s");
    assert_eq!(
        a["metadata"]["annotations"]["compatibility.karpenter.sh/v1beta1-kubelet-conversion"],
        r#"{"maxPods":8}"#
    );
    assert_eq!(objects[1]["metadata"]["name"], "b");
}

#[test]
fn a_kerf_only_v1_field_fails_the_review_naming_it() {
    let v1 = json!({
        "apiVersion": "karpenter.sh/v1", "kind": "NodePool",
        "metadata": {"name": "balanced"},
        "spec": {
            "template": {"spec": {"nodeClassRef": {"group": "karpenter.k8s.aws", "kind": "EC2NodeClass", "name": "d"}}},
            "disruption": {"consolidationPolicy": "Balanced"}
        }
    });
    let out = answer(review("karpenter.sh/v1beta1", vec![v1]));
    let result = &out["response"]["result"];
    assert_eq!(result["status"], "Failure", "{out}");
    let message = result["message"].as_str().expect("message");
    assert!(message.contains("NodePool \"balanced\""), "{message}");
    assert!(
        message.contains("spec.disruption.consolidationPolicy"),
        "{message}"
    );
}

#[test]
fn a_kind_or_group_kerf_does_not_convert_fails_the_review() {
    let other = json!({"apiVersion": "karpenter.sh/v1alpha5", "kind": "Provisioner", "metadata": {"name": "p"}});
    let out = answer(review("karpenter.sh/v1", vec![other]));
    assert_eq!(out["response"]["result"]["status"], "Failure", "{out}");
    let cross = beta_pool("x");
    let out = answer(review("karpenter.k8s.aws/v1", vec![cross]));
    let message = out["response"]["result"]["message"]
        .as_str()
        .unwrap_or_default()
        .to_string();
    assert!(message.contains("different API groups"), "{out}");
}

#[test]
fn a_malformed_object_names_the_field() {
    let mut bad = beta_pool("bad");
    bad["spec"]["disruption"]["expireAfter"] = json!(12);
    let out = answer(review("karpenter.sh/v1", vec![bad]));
    let message = out["response"]["result"]["message"]
        .as_str()
        .unwrap_or_default()
        .to_string();
    assert!(
        message.contains("NodePool \"bad\": spec.disruption.expireAfter"),
        "{out}"
    );
}
