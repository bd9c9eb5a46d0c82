//! The seed Provisioner manifest: parses verbatim, validates, and defaults to
//! the expected requirements.

use kerf_api::v1alpha5::Provisioner;

/// The seed walk-through's Provisioner, verbatim.
const SEED: &str = include_str!("../../../examples/seed/provisioner.yaml");

fn reqs(p: &Provisioner) -> Vec<(String, String, Vec<String>)> {
    p.spec
        .requirements
        .iter()
        .map(|r| {
            (
                r.key.clone(),
                r.operator.clone(),
                r.values.clone().unwrap_or_default(),
            )
        })
        .collect()
}

fn owned(v: &[(&str, &str, &[&str])]) -> Vec<(String, String, Vec<String>)> {
    v.iter()
        .map(|(k, o, vs)| {
            (
                k.to_string(),
                o.to_string(),
                vs.iter().map(|s| s.to_string()).collect(),
            )
        })
        .collect()
}

#[test]
fn seed_parses_validates_and_defaults() {
    let mut p: Provisioner = serde_yaml::from_str(SEED).expect("seed parses");
    assert_eq!(p.metadata.name.as_deref(), Some("default"));
    assert_eq!(p.spec.ttl_seconds_after_empty, Some(30));
    let provider = p.spec.provider.as_ref().expect("inline provider");
    assert_eq!(
        provider.instance_profile.as_deref(),
        Some("KarpenterNodeInstanceProfile-eks-blueprint")
    );
    assert!(provider.extra.is_empty());
    assert!(p.spec.provider_ref.is_none());
    p.validate().expect("seed is valid");

    p.set_defaults();
    p.validate().expect("defaulted seed is valid");
    // arch and capacity type are present and an instance type is pinned, so
    // only the OS default is added.
    assert_eq!(
        reqs(&p),
        owned(&[
            ("node.kubernetes.io/instance-type", "In", &["m5.2xlarge"]),
            ("topology.kubernetes.io/zone", "In", &["us-east-1c"]),
            ("kubernetes.io/arch", "In", &["arm64", "amd64"]),
            ("karpenter.sh/capacity-type", "In", &["spot", "on-demand"]),
            ("kubernetes.io/os", "In", &["linux"]),
        ])
    );
    // Defaulting is idempotent.
    let once = p.clone();
    p.set_defaults();
    assert_eq!(p, once);
}

#[test]
fn seed_round_trips() {
    let p: Provisioner = serde_yaml::from_str(SEED).expect("seed parses");
    let yaml = serde_yaml::to_string(&p).expect("serializes");
    let back: Provisioner = serde_yaml::from_str(&yaml).expect("reparses");
    assert_eq!(back, p);
    let json = serde_json::to_value(&p).expect("json");
    assert_eq!(json["apiVersion"], "karpenter.sh/v1alpha5");
    assert_eq!(json["kind"], "Provisioner");
    assert_eq!(
        json["spec"]["provider"]["instanceProfile"],
        "KarpenterNodeInstanceProfile-eks-blueprint"
    );
    assert_eq!(json["spec"]["ttlSecondsAfterEmpty"], 30);
}
