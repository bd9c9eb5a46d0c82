//! The admission webhook's AdmissionReview handling, on bodies as the
//! apiserver sends them: any JSON body that reads as a review is answered
//! (with the request's uid) by both handlers, and the answer serialises; a
//! defaults patch applies to the object the apiserver holds, defaulting is
//! idempotent (the defaulted object gets no patch), and defaulting never makes
//! a valid object invalid. Reviews are also built from the fuzzer's bytes:
//! one of the kinds and versions the webhook serves, a realistic object, and
//! a few fields changed.

use arbitrary::{Result, Unstructured};
use json_patch::Patch;
use kerf_admission::Kind;
use kerf_admission::admission::{Review, mutate, validate};
use serde_json::{Value, json};

pub fn check(data: &[u8]) {
    if let Ok(raw) = serde_json::from_slice::<Value>(data) {
        answer(&raw);
    }
    // Out of bytes part-way is not a finding.
    let _ = check_built(&mut Unstructured::new(data));
}

/// Both handlers on one review body (as JSON).
fn answer(raw: &Value) {
    let Ok(review) = serde_json::from_value::<Review>(raw.clone()) else {
        return;
    };
    let uid = review.request.as_ref().map(|r| r.uid.clone());
    let validated = validate(review.clone());
    let mutated = mutate(review);
    for (name, out) in [("validate", &validated), ("mutate", &mutated)] {
        let response = out
            .response
            .as_ref()
            .unwrap_or_else(|| panic!("{name}: no response to {raw}"));
        if let Some(uid) = &uid {
            assert_eq!(&response.uid, uid, "{name}: response uid for {raw}");
        }
        serde_json::to_vec(out).unwrap_or_else(|e| panic!("{name}: answer to {raw}: {e}"));
    }
    let Some(patch) = mutated.response.as_ref().and_then(|r| r.patch.as_ref()) else {
        return;
    };
    let patch: Patch = serde_json::from_slice(patch).expect("the patch is a JSON patch");
    let mut object = raw["request"]["object"].clone();
    json_patch::patch(&mut object, &patch)
        .unwrap_or_else(|e| panic!("patch {patch:?} does not apply to {raw}: {e}"));
    let mut again = raw.clone();
    again["request"]["object"] = object;
    let again_review: Review = serde_json::from_value(again.clone())
        .unwrap_or_else(|e| panic!("the defaulted review does not read back: {e}: {again}"));
    let remutated = mutate(again_review.clone());
    let repatch = remutated.response.as_ref().and_then(|r| r.patch.as_ref());
    assert!(
        repatch.is_none(),
        "defaulting is not idempotent: {raw} patched to {again} gets {:?}",
        repatch.map(|p| String::from_utf8_lossy(p).into_owned())
    );
    let allowed = |r: &Review| r.response.as_ref().is_some_and(|r| r.allowed);
    if allowed(&validated) {
        let revalidated = validate(again_review);
        assert!(
            allowed(&revalidated),
            "valid {raw} is invalid once defaulted ({again}): {:?}",
            revalidated.response.map(|r| r.result.message)
        );
    }
}

fn template(kind: Kind) -> Value {
    match kind {
        Kind::Provisioner => json!({
            "apiVersion": "karpenter.sh/v1alpha5", "kind": "Provisioner",
            "metadata": {"name": "default"},
            "spec": {
                "requirements": [
                    {"key": "karpenter.sh/capacity-type", "operator": "In", "values": ["spot", "on-demand"]},
                    {"key": "kubernetes.io/arch", "operator": "In", "values": ["amd64"]}
                ],
                "limits": {"resources": {"cpu": "1000"}},
                "providerRef": {"name": "default"},
                "ttlSecondsAfterEmpty": 30,
                "consolidation": {"enabled": false},
                "weight": 10
            }
        }),
        Kind::AwsNodeTemplate => json!({
            "apiVersion": "karpenter.k8s.aws/v1alpha1", "kind": "AWSNodeTemplate",
            "metadata": {"name": "default"},
            "spec": {
                "subnetSelector": {"karpenter.sh/discovery": "my-cluster"},
                "securityGroupSelector": {"karpenter.sh/discovery": "my-cluster"},
                "amiFamily": "AL2",
                "blockDeviceMappings": [{"deviceName": "/dev/xvda", "ebs": {"volumeSize": "20Gi", "volumeType": "gp3"}}]
            }
        }),
        Kind::NodePool => json!({
            "apiVersion": "karpenter.sh/v1", "kind": "NodePool",
            "metadata": {"name": "general"},
            "spec": {
                "template": {
                    "metadata": {"labels": {"team": "platform"}},
                    "spec": {
                        "nodeClassRef": {"group": "karpenter.k8s.aws", "kind": "EC2NodeClass", "name": "default"},
                        "requirements": [
                            {"key": "kubernetes.io/arch", "operator": "In", "values": ["arm64"]},
                            {"key": "karpenter.k8s.aws/instance-cpu", "operator": "Gt", "values": ["4"], "minValues": 2}
                        ],
                        "expireAfter": "720h",
                        "taints": [{"key": "dedicated", "value": "gpu", "effect": "NoSchedule"}]
                    }
                },
                "limits": {"cpu": "100"},
                "disruption": {
                    "consolidationPolicy": "WhenEmptyOrUnderutilized",
                    "consolidateAfter": "1m",
                    "budgets": [{"nodes": "10%"}, {"nodes": "0", "schedule": "0 9 * * mon-fri", "duration": "8h"}]
                }
            }
        }),
        Kind::Ec2NodeClass => json!({
            "apiVersion": "karpenter.k8s.aws/v1", "kind": "EC2NodeClass",
            "metadata": {"name": "default"},
            "spec": {
                "role": "KarpenterNodeRole-my-cluster",
                "amiSelectorTerms": [{"alias": "al2023@latest"}],
                "subnetSelectorTerms": [{"tags": {"karpenter.sh/discovery": "my-cluster"}}],
                "securityGroupSelectorTerms": [{"tags": {"karpenter.sh/discovery": "my-cluster"}}],
                "kubelet": {"maxPods": 30, "evictionHard": {"memory.available": "5%"}}
            }
        }),
        Kind::NodePoolV1beta1 => json!({
            "apiVersion": "karpenter.sh/v1beta1", "kind": "NodePool",
            "metadata": {"name": "legacy"},
            "spec": {
                "template": {
                    "metadata": {"labels": {"team": "platform"}},
                    "spec": {
                        "nodeClassRef": {"apiVersion": "karpenter.k8s.aws/v1beta1", "kind": "EC2NodeClass", "name": "default"},
                        "requirements": [
                            {"key": "kubernetes.io/arch", "operator": "In", "values": ["amd64"]},
                            {"key": "karpenter.k8s.aws/instance-category", "operator": "In", "values": ["c", "m"], "minValues": 2}
                        ],
                        "kubelet": {"maxPods": 42}
                    }
                },
                "limits": {"cpu": "100"},
                "disruption": {
                    "consolidationPolicy": "WhenEmpty",
                    "consolidateAfter": "30s",
                    "expireAfter": "168h",
                    "budgets": [{"nodes": "10%"}]
                }
            }
        }),
        Kind::Ec2NodeClassV1beta1 => json!({
            "apiVersion": "karpenter.k8s.aws/v1beta1", "kind": "EC2NodeClass",
            "metadata": {"name": "default"},
            "spec": {
                "amiFamily": "AL2",
                "role": "KarpenterNodeRole-my-cluster",
                "subnetSelectorTerms": [{"tags": {"karpenter.sh/discovery": "my-cluster"}}],
                "securityGroupSelectorTerms": [{"tags": {"karpenter.sh/discovery": "my-cluster"}}]
            }
        }),
    }
}

/// Keys worth adding somewhere: fields of the served kinds.
const KEYS: &[&str] = &[
    "consolidateAfter",
    "expireAfter",
    "ttlSecondsUntilExpired",
    "minValues",
    "budgets",
    "weight",
    "taints",
    "startupTaints",
    "kubelet",
    "limits",
    "values",
    "operator",
    "key",
    "amiSelectorTerms",
    "metadataOptions",
    "userData",
    "schedule",
    "duration",
    "nodes",
    "reasons",
];

fn interesting(u: &mut Unstructured) -> Result<Value> {
    Ok(match u.int_in_range(0..=24)? {
        0 => Value::Null,
        1 => json!(""),
        2 => json!("Never"),
        3 => json!("1h"),
        4 => json!("-1s"),
        5 => json!("1e1000"),
        6 => json!("In"),
        7 => json!("Gt"),
        8 => json!("NotIn"),
        9 => json!(-1),
        10 => json!(0),
        11 => json!(u64::MAX),
        12 => json!(1.5),
        13 => json!(true),
        14 => json!([]),
        15 => json!({}),
        16 => json!("karpenter.sh/capacity-type"),
        17 => json!("kubernetes.io/hostname"),
        18 => json!("100%"),
        19 => json!("al2023@latest"),
        20 => json!("WhenEmpty"),
        21 => json!(["spot", "on-demand"]),
        22 => json!(u.arbitrary::<i64>()?),
        23 => {
            json!({"key": u.arbitrary::<String>()?, "operator": "In", "values": [u.arbitrary::<String>()?]})
        }
        _ => json!(u.arbitrary::<String>()?),
    })
}

/// Every JSON pointer in `v` (the root's is `""`).
fn pointers(v: &Value, at: String, out: &mut Vec<String>) {
    match v {
        Value::Object(map) => {
            for (k, child) in map {
                let escaped = k.replace('~', "~0").replace('/', "~1");
                pointers(child, format!("{at}/{escaped}"), out);
            }
        }
        Value::Array(items) => {
            for (i, child) in items.iter().enumerate() {
                pointers(child, format!("{at}/{i}"), out);
            }
        }
        _ => {}
    }
    out.push(at);
}

fn check_built(u: &mut Unstructured) -> Result<()> {
    let kind = *u.choose(&Kind::SERVED)?;
    let mut object = template(kind);
    for _ in 0..u.int_in_range(0..=4)? {
        let mut all = Vec::new();
        pointers(&object, String::new(), &mut all);
        let at = u.choose(&all)?.clone();
        if at.starts_with("/apiVersion") || at.starts_with("/kind") || at.is_empty() {
            continue;
        }
        let replacement = interesting(u)?;
        let Some(slot) = object.pointer_mut(&at) else {
            continue;
        };
        match (u.int_in_range(0..=2)?, slot) {
            (0, Value::Object(map)) => {
                map.insert(u.choose(KEYS)?.to_string(), replacement);
            }
            (1, Value::Array(items)) => items.push(replacement),
            (_, slot) => *slot = replacement,
        }
    }
    let operation = *u.choose(&["CREATE", "UPDATE", "DELETE", "CONNECT"])?;
    let plural = format!("{}s", kind.name().to_lowercase());
    let raw = json!({
        "apiVersion": "admission.k8s.io/v1",
        "kind": "AdmissionReview",
        "request": {
            "uid": "705ab4f5-6393-11e8-b7cc-42010a800002",
            "kind": {"group": kind.group(), "version": kind.version(), "kind": kind.name()},
            "resource": {"group": kind.group(), "version": kind.version(), "resource": plural},
            "name": object.pointer("/metadata/name").cloned().unwrap_or(Value::Null),
            "operation": operation,
            "userInfo": {"username": "admin"},
            "object": object,
            "oldObject": if operation == "UPDATE" { template(kind) } else { Value::Null },
            "dryRun": false
        }
    });
    answer(&raw);
    Ok(())
}
