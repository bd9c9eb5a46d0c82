//! The requirements map (flags and file) → the default Provisioner: the seed's map gives
//! exactly the seed's Provisioner manifest (typed comparison), and bad input fails with a
//! message naming the flag value or the requirement.

use std::path::Path;

use kerf_addon::requirements::{DefaultProvisioner, RequirementsMap, parse_flag};
use kerf_api::v1alpha5::Provisioner;

const SEED_FLAGS: [&str; 4] = [
    "node.kubernetes.io/instance-type=m5.2xlarge",
    "topology.kubernetes.io/zone=us-east-1c",
    "kubernetes.io/arch=arm64,amd64",
    "karpenter.sh/capacity-type=spot,on-demand",
];

const SEED_FILE: &str = r#"
node.kubernetes.io/instance-type: [m5.2xlarge]
topology.kubernetes.io/zone: us-east-1c
kubernetes.io/arch: [arm64, amd64]
karpenter.sh/capacity-type:
  - spot
  - on-demand
"#;

fn seed_provisioner() -> Provisioner {
    let path = Path::new(env!("CARGO_MANIFEST_DIR")).join("../../examples/seed/provisioner.yaml");
    let text = std::fs::read_to_string(path).unwrap();
    serde_yaml::from_str(&text).unwrap()
}

#[test]
fn the_seed_map_from_flags_is_the_seed_provisioner() {
    let map = RequirementsMap::from_flags(SEED_FLAGS).unwrap();
    let built = DefaultProvisioner::for_cluster("eks-blueprint", map)
        .build()
        .unwrap();
    assert_eq!(built, seed_provisioner());
}

#[test]
fn the_seed_map_from_a_file_is_the_seed_provisioner() {
    let dir = tempfile::tempdir().unwrap();
    let path = dir.path().join("requirements.yaml");
    std::fs::write(&path, SEED_FILE).unwrap();
    let map = RequirementsMap::from_file(&path).unwrap();
    assert_eq!(map, RequirementsMap::from_flags(SEED_FLAGS).unwrap());
    let built = DefaultProvisioner::for_cluster("eks-blueprint", map)
        .build()
        .unwrap();
    assert_eq!(built, seed_provisioner());
}

#[test]
fn the_issue_flags_keep_their_order_and_values() {
    let map = RequirementsMap::from_flags([
        "node.kubernetes.io/instance-type=m5.2xlarge",
        "kubernetes.io/arch=amd64, arm64",
        "karpenter.sh/capacity-type=spot,on-demand",
    ])
    .unwrap();
    let p = DefaultProvisioner::for_cluster("demo", map)
        .build()
        .unwrap();
    let got: Vec<(&str, &str, Vec<&str>)> = p
        .spec
        .requirements
        .iter()
        .map(|r| {
            (
                r.key.as_str(),
                r.operator.as_str(),
                r.values.iter().flatten().map(String::as_str).collect(),
            )
        })
        .collect();
    assert_eq!(
        got,
        [
            ("node.kubernetes.io/instance-type", "In", vec!["m5.2xlarge"]),
            ("kubernetes.io/arch", "In", vec!["amd64", "arm64"]),
            (
                "karpenter.sh/capacity-type",
                "In",
                vec!["spot", "on-demand"]
            ),
        ]
    );
    let provider = p.spec.provider.as_ref().unwrap();
    assert_eq!(
        provider.instance_profile.as_deref(),
        Some("KarpenterNodeInstanceProfile-demo")
    );
    assert_eq!(p.spec.ttl_seconds_after_empty, Some(30));
}

#[test]
fn provider_ref_replaces_the_inline_provider() {
    let map = RequirementsMap::from_flags(["kubernetes.io/arch=amd64"]).unwrap();
    let p = DefaultProvisioner::for_cluster("demo", map)
        .provider_ref("default")
        .ttl_seconds_after_empty(None)
        .build()
        .unwrap();
    assert!(p.spec.provider.is_none());
    assert_eq!(p.spec.provider_ref.unwrap().name, "default");
    assert_eq!(p.spec.ttl_seconds_after_empty, None);
}

fn flag_error(flag: &str) -> String {
    parse_flag(flag).unwrap_err().to_string()
}

#[test]
fn a_flag_without_equals_is_named() {
    let err = flag_error("kubernetes.io/arch");
    assert!(
        err.contains("--requirement \"kubernetes.io/arch\"") && err.contains("no '='"),
        "{err}"
    );
}

#[test]
fn empty_values_and_keys_are_named() {
    for (flag, why) in [
        ("kubernetes.io/arch=", "no values"),
        ("kubernetes.io/arch=amd64,", "a value is empty"),
        ("kubernetes.io/arch=,arm64", "a value is empty"),
        ("=amd64", "the key is empty"),
    ] {
        let err = flag_error(flag);
        assert!(
            err.contains(&format!("--requirement {flag:?}")) && err.contains(why),
            "{flag}: {err}"
        );
    }
}

#[test]
fn a_repeated_key_is_named() {
    let err = RequirementsMap::from_flags(["kubernetes.io/arch=amd64", "kubernetes.io/arch=arm64"])
        .unwrap_err()
        .to_string();
    assert!(
        err.contains("--requirement \"kubernetes.io/arch=arm64\"")
            && err.contains("more than once"),
        "{err}"
    );
}

#[test]
fn bad_files_are_named() {
    for (text, why) in [
        ("[a, b]", "expected a map"),
        ("kubernetes.io/arch: []", "kubernetes.io/arch: no values"),
        (
            "kubernetes.io/arch: {a: b}",
            "kubernetes.io/arch: expected a list",
        ),
        (
            "kubernetes.io/arch: [[amd64]]",
            "every value must be a string",
        ),
        ("kubernetes.io/arch: ['']", "a value is empty"),
    ] {
        let err = format!(
            "{:#}",
            RequirementsMap::from_yaml(text, "reqs.yaml").unwrap_err()
        );
        assert!(
            err.starts_with("reqs.yaml") && err.contains(why),
            "{text}: {err}"
        );
    }
}

#[test]
fn a_restricted_or_malformed_key_fails_validation_naming_the_requirement() {
    let map = RequirementsMap::from_flags([
        "kubernetes.io/arch=amd64",
        "karpenter.sh/provisioner-name=x",
    ])
    .unwrap();
    let err = DefaultProvisioner::for_cluster("demo", map)
        .build()
        .unwrap_err()
        .to_string();
    assert!(
        err.contains("requirement karpenter.sh/provisioner-name=x")
            && err.contains("spec.requirements[1]"),
        "{err}"
    );

    let map = RequirementsMap::from_flags(["not a key!=x"]).unwrap();
    let err = DefaultProvisioner::for_cluster("demo", map)
        .build()
        .unwrap_err()
        .to_string();
    assert!(
        err.contains("requirement not a key!=x") && err.contains("spec.requirements[0]"),
        "{err}"
    );
}

#[test]
fn an_unknown_capacity_type_is_named() {
    let e = flag_error("karpenter.sh/capacity-type=spot,free");
    assert!(
        e.contains("--requirement \"karpenter.sh/capacity-type=spot,free\": \"free\" is not a capacity type (one of on-demand, spot)"),
        "{e}"
    );
    let e = format!(
        "{:#}",
        RequirementsMap::from_yaml("karpenter.sh/capacity-type: [free]\n", "reqs.yaml")
            .unwrap_err()
    );
    assert!(
        e.contains("reqs.yaml: karpenter.sh/capacity-type: \"free\" is not a capacity type"),
        "{e}"
    );
}
