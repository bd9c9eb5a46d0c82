//! The pure AdmissionReview handlers: reviews as the apiserver sends them
//! (JSON) in, responses out; the defaults patch is applied to the original
//! object with json-patch to check what would be stored.

use json_patch::Patch;
use kerf_admission::admission::{Review, defaulting_patch};
use kerf_admission::{mutate, validate};
use serde_json::{Value, json};

fn review(group: &str, version: &str, kind: &str, operation: &str, object: Value) -> Review {
    let plural = format!("{}s", kind.to_lowercase());
    serde_json::from_value(json!({
        "apiVersion": "admission.k8s.io/v1",
        "kind": "AdmissionReview",
        "request": {
            "uid": "705ab4f5-6393-11e8-b7cc-42010a800002",
            "kind": {"group": group, "version": version, "kind": kind},
            "resource": {"group": group, "version": version, "resource": plural},
            "name": object.pointer("/metadata/name").cloned().unwrap_or(Value::Null),
            "operation": operation,
            "userInfo": {"username": "admin"},
            "object": if operation == "DELETE" { Value::Null } else { object.clone() },
            "oldObject": if operation == "DELETE" { object } else { Value::Null },
            "dryRun": false
        }
    }))
    .unwrap()
}

fn provisioner(spec: Value) -> Review {
    review(
        "karpenter.sh",
        "v1alpha5",
        "Provisioner",
        "CREATE",
        json!({"apiVersion": "karpenter.sh/v1alpha5", "kind": "Provisioner",
               "metadata": {"name": "default"}, "spec": spec}),
    )
}

/// The response as JSON, the way the apiserver reads it.
fn response(review: Review) -> Value {
    let out = serde_json::to_value(review).unwrap();
    assert_eq!(out["apiVersion"], "admission.k8s.io/v1");
    assert_eq!(out["kind"], "AdmissionReview");
    assert_eq!(
        out["response"]["uid"],
        "705ab4f5-6393-11e8-b7cc-42010a800002"
    );
    out["response"].clone()
}

fn patched(original: &Value, resp: &Value) -> Value {
    let mut doc = original.clone();
    if !resp["patch"].is_null() {
        assert_eq!(resp["patchType"], "JSONPatch");
        // kube serialises the patch bytes as a JSON array of numbers, which
        // the apiserver's decoder accepts for a []byte field.
        let bytes: Vec<u8> = serde_json::from_value(resp["patch"].clone()).unwrap();
        let patch: Patch = serde_json::from_slice(&bytes).unwrap();
        json_patch::patch(&mut doc, &patch).unwrap();
    }
    doc
}

#[test]
fn invalid_operator_is_denied_naming_the_field() {
    let resp = response(validate(provisioner(json!({
        "providerRef": {"name": "default"},
        "requirements": [{"key": "karpenter.sh/capacity-type", "operator": "Gte", "values": ["spot"]}]
    }))));
    assert_eq!(resp["allowed"], false);
    assert_eq!(resp["status"]["code"], 422);
    assert_eq!(resp["status"]["reason"], "Invalid");
    let message = resp["status"]["message"].as_str().unwrap();
    assert!(
        message.contains("spec.requirements[0].operator") && message.contains("\"Gte\""),
        "{message}"
    );
    assert!(
        message.starts_with("Provisioner \"default\": "),
        "{message}"
    );
}

#[test]
fn every_problem_is_reported() {
    let resp = response(validate(provisioner(json!({
        "providerRef": {"name": "default"},
        "ttlSecondsAfterEmpty": 30,
        "consolidation": {"enabled": true},
        "weight": 1000
    }))));
    assert_eq!(resp["allowed"], false);
    let message = resp["status"]["message"].as_str().unwrap();
    assert!(
        message.contains("spec.ttlSecondsAfterEmpty: cannot be combined"),
        "{message}"
    );
    assert!(
        message.contains("spec.weight: must be between 1 and 100"),
        "{message}"
    );
}

#[test]
fn valid_objects_of_every_kind_are_allowed() {
    let cases = [
        (
            "karpenter.sh",
            "v1alpha5",
            "Provisioner",
            json!({"providerRef": {"name": "default"}}),
        ),
        (
            "karpenter.k8s.aws",
            "v1alpha1",
            "AWSNodeTemplate",
            json!({"subnetSelector": {"karpenter.sh/discovery": "c"},
                   "securityGroupSelector": {"karpenter.sh/discovery": "c"}}),
        ),
        (
            "karpenter.sh",
            "v1",
            "NodePool",
            json!({"template": {"spec": {
                "nodeClassRef": {"group": "karpenter.k8s.aws", "kind": "EC2NodeClass", "name": "default"},
                "requirements": []}}}),
        ),
        (
            "karpenter.k8s.aws",
            "v1",
            "EC2NodeClass",
            json!({"role": "KarpenterNodeRole-c",
                   "amiSelectorTerms": [{"alias": "al2023@latest"}],
                   "subnetSelectorTerms": [{"tags": {"karpenter.sh/discovery": "c"}}],
                   "securityGroupSelectorTerms": [{"tags": {"karpenter.sh/discovery": "c"}}]}),
        ),
    ];
    for (group, version, kind, spec) in cases {
        let object = json!({"apiVersion": format!("{group}/{version}"), "kind": kind,
                            "metadata": {"name": "default"}, "spec": spec});
        let resp = response(validate(review(group, version, kind, "CREATE", object)));
        assert_eq!(resp["allowed"], true, "{kind}: {resp}");
    }
}

#[test]
fn invalid_objects_of_the_v1_kinds_are_denied() {
    let nodepool = json!({"apiVersion": "karpenter.sh/v1", "kind": "NodePool",
        "metadata": {"name": "np"},
        "spec": {"template": {"spec": {
            "nodeClassRef": {"group": "karpenter.k8s.aws", "kind": "EC2NodeClass", "name": "default"},
            "requirements": [{"key": "kubernetes.io/arch", "operator": "Gt", "values": ["a", "b"]}]}}}});
    let resp = response(validate(review(
        "karpenter.sh",
        "v1",
        "NodePool",
        "UPDATE",
        nodepool,
    )));
    assert_eq!(resp["allowed"], false);
    let message = resp["status"]["message"].as_str().unwrap();
    assert!(
        message.contains("NodePool \"np\": spec.template.spec.requirements[0]"),
        "{message}"
    );
}

#[test]
fn unparseable_object_is_denied_with_the_path() {
    let resp = response(validate(provisioner(json!({
        "providerRef": {"name": "default"},
        "weight": "heavy"
    }))));
    assert_eq!(resp["allowed"], false);
    let message = resp["status"]["message"].as_str().unwrap();
    assert!(message.contains("spec.weight"), "{message}");
}

#[test]
fn deletes_are_allowed_and_unknown_kinds_denied() {
    let resp = response(validate(review(
        "karpenter.sh",
        "v1alpha5",
        "Provisioner",
        "DELETE",
        json!({"metadata": {"name": "x"}, "spec": {"requirements": [{"key": "k", "operator": "Bad"}]}}),
    )));
    assert_eq!(resp["allowed"], true);

    let resp = response(validate(review(
        "",
        "v1",
        "Pod",
        "CREATE",
        json!({"metadata": {"name": "p"}}),
    )));
    assert_eq!(resp["allowed"], false);
    assert!(
        resp["status"]["message"]
            .as_str()
            .unwrap()
            .contains("does not serve /v1 Pod")
    );
}

#[test]
fn review_without_request_is_invalid() {
    let review: Review = serde_json::from_value(
        json!({"apiVersion": "admission.k8s.io/v1", "kind": "AdmissionReview"}),
    )
    .unwrap();
    let out = serde_json::to_value(mutate(review)).unwrap();
    assert_eq!(out["response"]["allowed"], false);
}

#[test]
fn provisioner_gets_the_aws_requirement_defaults() {
    let object = json!({"apiVersion": "karpenter.sh/v1alpha5", "kind": "Provisioner",
        "metadata": {"name": "default", "labels": {"team": "a"}},
        "spec": {"providerRef": {"name": "default"}, "someUnknownField": 1}});
    let resp = response(mutate(review(
        "karpenter.sh",
        "v1alpha5",
        "Provisioner",
        "CREATE",
        object.clone(),
    )));
    assert_eq!(resp["allowed"], true);
    let stored = patched(&object, &resp);
    let mut requirements: Vec<(String, String, Vec<String>)> = stored["spec"]["requirements"]
        .as_array()
        .unwrap()
        .iter()
        .map(|r| {
            serde_json::from_value::<(String, String, Vec<String>)>(json!([
                r["key"],
                r["operator"],
                r["values"]
            ]))
            .unwrap()
        })
        .collect();
    requirements.sort();
    let expect = |k: &str, op: &str, v: &[&str]| {
        (
            k.to_string(),
            op.to_string(),
            v.iter().map(|s| s.to_string()).collect::<Vec<_>>(),
        )
    };
    assert_eq!(
        requirements,
        vec![
            expect(
                "karpenter.k8s.aws/instance-category",
                "In",
                &["c", "m", "r"]
            ),
            expect("karpenter.k8s.aws/instance-generation", "Gt", &["2"]),
            expect("karpenter.sh/capacity-type", "In", &["on-demand"]),
            expect("kubernetes.io/arch", "In", &["amd64"]),
            expect("kubernetes.io/os", "In", &["linux"]),
        ]
    );
    // Only requirements changed: the rest is as sent, unknown fields included.
    let mut rest = stored.clone();
    rest["spec"].as_object_mut().unwrap().remove("requirements");
    assert_eq!(rest, object);
}

#[test]
fn given_requirements_are_kept_and_beta_keys_normalised() {
    let object = json!({"apiVersion": "karpenter.sh/v1alpha5", "kind": "Provisioner",
    "metadata": {"name": "default"},
    "spec": {"providerRef": {"name": "default"}, "requirements": [
        {"key": "node.kubernetes.io/instance-type", "operator": "In", "values": ["m5.large"]},
        {"key": "beta.kubernetes.io/arch", "operator": "In", "values": ["arm64"]}
    ]}});
    let resp = response(mutate(review(
        "karpenter.sh",
        "v1alpha5",
        "Provisioner",
        "CREATE",
        object.clone(),
    )));
    let stored = patched(&object, &resp);
    let reqs = stored["spec"]["requirements"].as_array().unwrap();
    let keys: Vec<&str> = reqs.iter().map(|r| r["key"].as_str().unwrap()).collect();
    assert_eq!(
        keys,
        [
            "node.kubernetes.io/instance-type",
            "kubernetes.io/arch",
            "kubernetes.io/os",
            "karpenter.sh/capacity-type"
        ]
    );
    assert_eq!(reqs[1]["values"], json!(["arm64"]));
}

#[test]
fn already_defaulted_provisioner_gets_no_patch() {
    let object = json!({"apiVersion": "karpenter.sh/v1alpha5", "kind": "Provisioner",
        "metadata": {"name": "default"},
        "spec": {"providerRef": {"name": "default"}}});
    let first = response(mutate(review(
        "karpenter.sh",
        "v1alpha5",
        "Provisioner",
        "CREATE",
        object.clone(),
    )));
    let stored = patched(&object, &first);
    let second = response(mutate(review(
        "karpenter.sh",
        "v1alpha5",
        "Provisioner",
        "UPDATE",
        stored,
    )));
    assert_eq!(second["allowed"], true);
    assert!(second.get("patch").is_none(), "{second}");
}

#[test]
fn nodepool_and_ec2nodeclass_get_their_crd_defaults() {
    let nodepool = json!({"apiVersion": "karpenter.sh/v1", "kind": "NodePool",
        "metadata": {"name": "np"},
        "spec": {"template": {"spec": {
            "nodeClassRef": {"group": "karpenter.k8s.aws", "kind": "EC2NodeClass", "name": "default"},
            "requirements": []}}}});
    let resp = response(mutate(review(
        "karpenter.sh",
        "v1",
        "NodePool",
        "CREATE",
        nodepool.clone(),
    )));
    let stored = patched(&nodepool, &resp);
    assert_eq!(
        stored["spec"]["template"]["spec"]["expireAfter"],
        "720h0m0s"
    );
    assert_eq!(
        stored["spec"]["disruption"]["consolidationPolicy"],
        "WhenEmptyOrUnderutilized"
    );
    assert_eq!(
        stored["spec"]["disruption"]["budgets"],
        json!([{"nodes": "10%"}])
    );
    assert_eq!(
        stored["spec"]["template"]["spec"]["nodeClassRef"],
        nodepool["spec"]["template"]["spec"]["nodeClassRef"]
    );

    let class = json!({"apiVersion": "karpenter.k8s.aws/v1", "kind": "EC2NodeClass",
        "metadata": {"name": "default"},
        "spec": {"role": "R", "amiSelectorTerms": [{"alias": "al2023@latest"}],
                 "subnetSelectorTerms": [{"tags": {"a": "b"}}],
                 "securityGroupSelectorTerms": [{"tags": {"a": "b"}}],
                 "metadataOptions": {"httpTokens": "optional"}}});
    let resp = response(mutate(review(
        "karpenter.k8s.aws",
        "v1",
        "EC2NodeClass",
        "CREATE",
        class.clone(),
    )));
    let stored = patched(&class, &resp);
    assert_eq!(
        stored["spec"]["metadataOptions"],
        json!({"httpEndpoint": "enabled", "httpProtocolIPv6": "disabled",
               "httpPutResponseHopLimit": 1, "httpTokens": "optional"})
    );
}

#[test]
fn patch_only_touches_what_defaulting_changed() {
    // `before` differs from `original` by re-serialisation (an empty list
    // appears); only the defaulted member is written, at a path that exists.
    let original = json!({"spec": {"a": 1}});
    let before = json!({"spec": {"a": 1, "list": []}});
    let after = json!({"spec": {"a": 1, "list": [], "d": {"x": 2}}});
    let patch = defaulting_patch(&original, &before, &after);
    assert_eq!(
        serde_json::to_value(&patch).unwrap(),
        json!([{"op": "add", "path": "/spec/d", "value": {"x": 2}}])
    );
    let mut doc = original.clone();
    json_patch::patch(&mut doc, &patch).unwrap();
    assert_eq!(doc, json!({"spec": {"a": 1, "d": {"x": 2}}}));

    // Keys needing escapes.
    let original = json!({"m": {}});
    let before = json!({"m": {}});
    let after = json!({"m": {"a/b~c": "v"}});
    let patch = defaulting_patch(&original, &before, &after);
    assert_eq!(
        serde_json::to_value(&patch).unwrap()[0]["path"],
        "/m/a~1b~0c"
    );
}

fn beta_class(spec: Value) -> (Value, Review) {
    let object = json!({"apiVersion": "karpenter.k8s.aws/v1beta1", "kind": "EC2NodeClass",
                        "metadata": {"name": "beta"}, "spec": spec});
    let r = review(
        "karpenter.k8s.aws",
        "v1beta1",
        "EC2NodeClass",
        "CREATE",
        object.clone(),
    );
    (object, r)
}

#[test]
fn a_v1beta1_ec2nodeclass_is_defaulted_with_v1beta1s_hop_limit_and_checked_by_its_rules() {
    let spec = json!({
        "amiFamily": "AL2", "role": "NodeRole",
        "subnetSelectorTerms": [{"tags": {"a": "b"}}],
        "securityGroupSelectorTerms": [{"tags": {"a": "b"}}]
    });
    let (original, r) = beta_class(spec.clone());
    let resp = response(mutate(r));
    assert_eq!(resp["allowed"], true);
    let stored = patched(&original, &resp);
    assert_eq!(
        stored["spec"]["metadataOptions"]["httpPutResponseHopLimit"],
        2
    );
    assert_eq!(stored["spec"]["amiFamily"], "AL2");

    let mut custom = spec;
    custom["amiFamily"] = json!("Custom");
    let (_, r) = beta_class(custom);
    let resp = response(validate(r));
    assert_eq!(resp["allowed"], false);
    let message = resp["status"]["message"].as_str().unwrap_or_default();
    assert!(message.contains("EC2NodeClass \"beta\""), "{message}");
    assert!(message.contains("spec.amiSelectorTerms"), "{message}");
}
