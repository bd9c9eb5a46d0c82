//! Static drift of an EC2NodeClass (Karpenter's `NodeClassDrift`): a hash of
//! the fields a running node cannot pick up without being replaced (user
//! data, tags, block devices, metadata options, kubelet, instance-store
//! policy, role and instance profile, monitoring, the resolved AMI family and
//! the cluster CA) is written on each NodeClaim at launch; a class whose hash
//! no longer matches drifts the claim. The selector terms are left out, as
//! upstream leaves them out: what they select is compared with the instance
//! itself (AMI, subnet and security-group drift).
//!
//! Like upstream's hashstructure options, empty values count as absent and
//! lists count as sets. The version is kerf's own: a claim Karpenter launched
//! carries Karpenter's version, which never equals it, so a swap from
//! Karpenter drifts nothing (upstream skips a claim whose version differs).

use std::fmt::Write;

use kerf_api::v1::EC2NodeClassSpec;
use serde_json::Value;
use sha2::{Digest, Sha256};

use crate::discovery::images::AmiFamily;

/// `karpenter.k8s.aws/ec2nodeclass-hash` on a NodeClaim.
pub const HASH_ANNOTATION: &str = "karpenter.k8s.aws/ec2nodeclass-hash";
/// `karpenter.k8s.aws/ec2nodeclass-hash-version` on a NodeClaim.
pub const HASH_VERSION_ANNOTATION: &str = "karpenter.k8s.aws/ec2nodeclass-hash-version";
/// Bumped whenever the hashed fields or their encoding change, so that no
/// node drifts because kerf was upgraded.
pub const HASH_VERSION: &str = "kerf-v1";

/// Spec fields whose changes do not replace nodes by themselves.
const NOT_HASHED: &[&str] = &[
    "subnetSelectorTerms",
    "securityGroupSelectorTerms",
    "capacityReservationSelectorTerms",
    "amiSelectorTerms",
    "amiFamily",
    "ipPrefixCount",
];

/// The hash of a class's static fields, as hex.
pub fn static_hash(spec: &EC2NodeClassSpec, family: AmiFamily, ca_bundle: &str) -> String {
    let mut fields = match serde_json::to_value(spec) {
        Ok(Value::Object(map)) => map,
        _ => serde_json::Map::new(),
    };
    for key in NOT_HASHED {
        fields.remove(*key);
    }
    // The resolved family: naming AL2023 outright or through its alias is no change.
    fields.insert("amiFamily".into(), Value::String(family.as_str().into()));
    fields.insert("caBundle".into(), Value::String(ca_bundle.into()));
    let mut text = String::new();
    canonical(&Value::Object(fields), &mut text);
    let digest = Sha256::digest(text.as_bytes());
    digest.iter().take(8).fold(String::new(), |mut s, b| {
        let _ = write!(s, "{b:02x}");
        s
    })
}

/// Whether a value is what an absent field means (upstream's IgnoreZeroValue).
fn is_zero(v: &Value) -> bool {
    match v {
        Value::Null => true,
        Value::Bool(b) => !b,
        Value::Number(n) => n.as_f64() == Some(0.0),
        Value::String(s) => s.is_empty(),
        Value::Array(a) => a.is_empty(),
        Value::Object(o) => o.values().all(is_zero),
    }
}

/// Sorted keys, zero values left out, arrays as sorted sets.
fn canonical(v: &Value, out: &mut String) {
    match v {
        Value::Object(map) => {
            let mut keys: Vec<&String> = map.keys().filter(|k| !is_zero(&map[*k])).collect();
            keys.sort();
            out.push('{');
            for k in keys {
                out.push_str(&Value::String(k.clone()).to_string());
                out.push(':');
                canonical(&map[k], out);
                out.push(',');
            }
            out.push('}');
        }
        Value::Array(items) => {
            let mut encoded: Vec<String> = items
                .iter()
                .map(|i| {
                    let mut s = String::new();
                    canonical(i, &mut s);
                    s
                })
                .collect();
            encoded.sort();
            encoded.dedup();
            out.push('[');
            out.push_str(&encoded.join(","));
            out.push(']');
        }
        other => out.push_str(&other.to_string()),
    }
}

#[cfg(test)]
mod tests {
    //! Upstream `pkg/cloudprovider/drift_test.go` and `ec2nodeclass_hash_test.go`:
    //! which changes drift, which do not.
    use std::collections::BTreeMap;

    use kerf_api::v1::{AMISelectorTerm, MetadataOptions, SubnetSelectorTerm};

    use super::*;

    fn base() -> EC2NodeClassSpec {
        EC2NodeClassSpec {
            role: Some("KarpenterNodeRole".into()),
            user_data: Some("echo hi".into()),
            tags: BTreeMap::from([("team".into(), "a".into()), ("env".into(), "prod".into())]),
            ami_selector_terms: vec![AMISelectorTerm {
                alias: Some("al2023@latest".into()),
                ..Default::default()
            }],
            ..Default::default()
        }
    }

    fn hash(spec: &EC2NodeClassSpec) -> String {
        static_hash(spec, AmiFamily::Al2023, "CA")
    }

    #[test]
    fn static_fields_drift_and_selectors_do_not() {
        let before = hash(&base());
        let changed: Vec<(&str, EC2NodeClassSpec)> = vec![
            (
                "userData",
                EC2NodeClassSpec {
                    user_data: Some("echo bye".into()),
                    ..base()
                },
            ),
            (
                "tags",
                EC2NodeClassSpec {
                    tags: BTreeMap::from([("team".into(), "b".into())]),
                    ..base()
                },
            ),
            (
                "role",
                EC2NodeClassSpec {
                    role: Some("Other".into()),
                    ..base()
                },
            ),
            (
                "detailedMonitoring",
                EC2NodeClassSpec {
                    detailed_monitoring: Some(true),
                    ..base()
                },
            ),
            (
                "metadataOptions",
                EC2NodeClassSpec {
                    metadata_options: Some(MetadataOptions {
                        http_tokens: Some("optional".into()),
                        ..Default::default()
                    }),
                    ..base()
                },
            ),
        ];
        for (field, spec) in changed {
            assert_ne!(hash(&spec), before, "{field} drifts");
        }
        let unchanged: Vec<(&str, EC2NodeClassSpec)> = vec![
            (
                "subnetSelectorTerms",
                EC2NodeClassSpec {
                    subnet_selector_terms: vec![SubnetSelectorTerm {
                        id: Some("subnet-1".into()),
                        ..Default::default()
                    }],
                    ..base()
                },
            ),
            (
                "amiSelectorTerms",
                EC2NodeClassSpec {
                    ami_selector_terms: vec![],
                    ..base()
                },
            ),
            // The literal family named where the alias named it.
            (
                "amiFamily",
                EC2NodeClassSpec {
                    ami_family: Some("AL2023".into()),
                    ..base()
                },
            ),
            // false is what absent means.
            (
                "detailedMonitoring false",
                EC2NodeClassSpec {
                    detailed_monitoring: Some(false),
                    ..base()
                },
            ),
        ];
        for (field, spec) in unchanged {
            assert_eq!(hash(&spec), before, "{field} does not drift");
        }
        assert_ne!(
            static_hash(&base(), AmiFamily::Bottlerocket, "CA"),
            before,
            "the resolved family drifts"
        );
        assert_ne!(
            static_hash(&base(), AmiFamily::Al2023, "other CA"),
            before,
            "the CA drifts"
        );
    }

    #[test]
    fn the_hash_is_stable_across_runs() {
        // Pinned: a change here drifts every node kerf launched; bump HASH_VERSION with it.
        assert_eq!(hash(&base()), "b912919f2de58d7b");
    }
}
