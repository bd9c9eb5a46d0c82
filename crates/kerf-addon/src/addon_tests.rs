use super::*;

fn addon() -> KarpenterAddOn {
    KarpenterAddOn::builder().build().unwrap()
}

fn err(r: Result<impl std::fmt::Debug, AddonError>) -> String {
    r.unwrap_err().to_string()
}

#[test]
fn addon_defaults() {
    let a = addon();
    assert_eq!(a.default_provisioner_specs, None);
    assert!(a.interruption);
    assert!(!a.tag_subnets);
    assert!(!a.skip_cluster_side);
    assert_eq!(
        (a.namespace.as_str(), a.release.as_str()),
        ("karpenter", "karpenter")
    );
    assert_eq!(a.helm, PathBuf::from("helm"));
}

#[test]
fn default_provisioner_specs_keep_their_order() {
    let a = KarpenterAddOn::builder()
        .default_provisioner_specs([
            ("node.kubernetes.io/instance-type", vec!["m5.2xlarge"]),
            ("kubernetes.io/arch", vec!["amd64", "arm64"]),
        ])
        .interruption(false)
        .tag_subnets(true)
        .build()
        .unwrap();
    let specs = a.default_provisioner_specs.unwrap();
    let keys: Vec<&str> = specs.entries().iter().map(|r| r.key.as_str()).collect();
    assert_eq!(
        keys,
        ["node.kubernetes.io/instance-type", "kubernetes.io/arch"]
    );
    assert_eq!(specs.entries()[1].values, ["amd64", "arm64"]);
    assert!(!a.interruption && a.tag_subnets);
}

#[test]
fn a_repeated_spec_key_is_an_error_naming_the_field() {
    let e = err(KarpenterAddOn::builder()
        .default_provisioner_specs([
            ("kubernetes.io/arch", vec!["amd64"]),
            ("kubernetes.io/arch", vec!["arm64"]),
        ])
        .build());
    assert!(
        e.contains("KarpenterAddOn.default_provisioner_specs"),
        "{e}"
    );
    assert!(e.contains("kubernetes.io/arch"), "{e}");
}

#[test]
fn empty_namespace_is_an_error_naming_the_field() {
    let e = err(KarpenterAddOn::builder().namespace("").build());
    assert!(e.starts_with("KarpenterAddOn.namespace"), "{e}");
}

#[test]
fn cluster_defaults_and_settings() {
    let c = Cluster::builder()
        .name("demo")
        .region("eu-west-1")
        .aws_endpoint_url("http://127.0.0.1:5000")
        .add_on(addon())
        .build()
        .unwrap();
    assert_eq!(c.settings.region, "eu-west-1");
    assert_eq!(
        c.settings.endpoint_url.as_deref(),
        Some("http://127.0.0.1:5000")
    );
    assert_eq!(c.account, None);
    let side = c.aws_side();
    assert_eq!(side.cluster_name, "demo");
    assert!(side.interruption);
    assert_eq!(
        side.service_account,
        ("karpenter".to_string(), "karpenter".to_string())
    );
}

#[test]
fn cluster_validation_names_the_field() {
    let base = || {
        Cluster::builder()
            .name("demo")
            .region("us-east-1")
            .add_on(addon())
    };
    let cases = [
        (
            Cluster::builder()
                .region("us-east-1")
                .add_on(addon())
                .build(),
            "Cluster.name",
        ),
        (base().name("-bad").build(), "Cluster.name"),
        (base().name("a".repeat(38)).build(), "Cluster.name"),
        (
            Cluster::builder().name("demo").add_on(addon()).build(),
            "Cluster.region",
        ),
        (base().account("12345").build(), "Cluster.account"),
        (
            Cluster::builder().name("demo").region("us-east-1").build(),
            "Cluster.add_on",
        ),
        (base().add_on(addon()).build(), "Cluster.add_on"),
    ];
    for (result, field) in cases {
        let e = err(result);
        assert!(e.starts_with(field), "{field}: {e}");
    }
    assert!(base().account("111122223333").build().is_ok());
}

#[test]
fn cluster_side_values_come_from_the_aws_side() {
    let a = KarpenterAddOn::builder()
        .default_provisioner_specs([("karpenter.sh/capacity-type", vec!["spot", "on-demand"])])
        .set("logLevel", "debug")
        .build()
        .unwrap();
    let c = Cluster::builder()
        .name("demo")
        .region("us-east-1")
        .add_on(a)
        .build()
        .unwrap();
    let installed = Installed {
        account: "111122223333".into(),
        cluster_endpoint: "https://demo.eks.example".into(),
        oidc_issuer: "https://oidc.example/id/1".into(),
        node_role_arn: "arn:aws:iam::111122223333:role/KarpenterNodeRole-demo".into(),
        instance_profile: "KarpenterNodeInstanceProfile-demo".into(),
        controller_role_arn: "arn:aws:iam::111122223333:role/KarpenterControllerRole-demo".into(),
        interruption_queue: Some("demo".into()),
        queue_url: None,
    };
    let side = c.cluster_side(Some(&installed)).unwrap();
    assert_eq!(side.values.cluster_endpoint, installed.cluster_endpoint);
    assert_eq!(
        side.values.controller_role_arn.as_deref(),
        Some(installed.controller_role_arn.as_str())
    );
    assert_eq!(
        side.values.default_instance_profile.as_deref(),
        Some("KarpenterNodeInstanceProfile-demo")
    );
    assert_eq!(side.values.interruption_queue.as_deref(), Some("demo"));
    assert_eq!(
        side.values.extra,
        [("logLevel".to_string(), "debug".to_string())]
    );
    let p = side.default_provisioner.expect("a default Provisioner");
    let reqs = p.spec.requirements.clone();
    assert_eq!(reqs.len(), 1);
    assert_eq!(
        reqs[0].values.as_deref(),
        Some(&["spot".to_string(), "on-demand".to_string()][..])
    );
}

#[test]
fn regions_and_namespaces_are_checked() {
    for ok in [
        "us-east-1",
        "eu-west-3",
        "ap-southeast-5",
        "cn-northwest-1",
        "us-gov-east-1",
        "us-isob-east-1",
        "il-central-1",
    ] {
        assert_eq!(region_error(ok), None, "{ok}");
    }
    for bad in [
        "mars-north-9",
        "us-east",
        "useast-1",
        "us-East-1",
        "us--1",
        "",
        "us-east-1a",
    ] {
        assert!(region_error(bad).is_some(), "{bad:?}");
    }
    let e = err(Cluster::builder()
        .name("demo")
        .region("mars-north-9")
        .add_on(addon())
        .build());
    assert!(
        e.contains("Cluster.region: \"mars-north-9\" is not an AWS region"),
        "{e}"
    );
    let e = err(KarpenterAddOn::builder().namespace("Bad_NS").build());
    assert!(
        e.contains("KarpenterAddOn.namespace: \"Bad_NS\" is not a valid namespace name"),
        "{e}"
    );
    assert_eq!(namespace_error("karpenter"), None);
}
