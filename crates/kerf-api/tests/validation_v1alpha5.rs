//! Every Provisioner validation rule, valid and invalid, with the exact field
//! path and a message fragment.

mod common;

use common::{Fails, Passes, Want, run, s, strings};
use k8s_openapi::api::core::v1::{NodeSelectorRequirement, Taint};
use k8s_openapi::apimachinery::pkg::api::resource::Quantity;
use kerf_api::v1alpha1::AwsProvider;
use kerf_api::v1alpha5::{Consolidation, KubeletConfiguration, Limits, ProviderRef, Provisioner};

fn base() -> Provisioner {
    serde_yaml::from_str(
        r#"
apiVersion: karpenter.sh/v1alpha5
kind: Provisioner
metadata: {name: default}
spec:
  providerRef: {name: default}
  requirements:
    - {key: karpenter.sh/capacity-type, operator: In, values: [spot]}
"#,
    )
    .expect("base parses")
}

fn validate(p: &Provisioner) -> Result<(), kerf_api::ValidationError> {
    p.validate()
}

fn req(key: &str, op: &str, values: &[&str]) -> NodeSelectorRequirement {
    NodeSelectorRequirement {
        key: s(key),
        operator: s(op),
        values: (!values.is_empty()).then(|| strings(values)),
    }
}

fn set_req(p: &mut Provisioner, key: &str, op: &str, values: &[&str]) {
    p.spec.requirements = vec![req(key, op, values)];
}

fn taint(key: &str, value: Option<&str>, effect: &str) -> Taint {
    Taint {
        key: s(key),
        value: value.map(s),
        effect: s(effect),
        time_added: None,
    }
}

fn kubelet(p: &mut Provisioner) -> &mut KubeletConfiguration {
    p.spec
        .kubelet_configuration
        .get_or_insert_with(KubeletConfiguration::default)
}

type Case = (&'static str, fn(&mut Provisioner), Want);

#[test]
fn display_format() {
    let mut p = base();
    p.spec.requirements = vec![
        req("a", "In", &["x"]),
        req("b", "In", &["y"]),
        req("c", "Gte", &["1"]),
    ];
    let err = p.validate().expect_err("Gte is not a v1alpha5 operator");
    assert_eq!(
        err.to_string(),
        r#"Provisioner "default": spec.requirements[2].operator: "Gte" is not one of In, NotIn, Exists, DoesNotExist, Gt, Lt"#
    );
    assert_eq!(err.kind, "Provisioner");
    assert_eq!(err.name, "default");
}

#[test]
fn requirements() {
    let cases: &[Case] = &[
        (
            "In",
            |p| set_req(p, "topology.kubernetes.io/zone", "In", &["us-east-1a"]),
            Passes,
        ),
        (
            "NotIn",
            |p| set_req(p, "topology.kubernetes.io/zone", "NotIn", &["us-east-1a"]),
            Passes,
        ),
        (
            "Exists",
            |p| set_req(p, "topology.kubernetes.io/zone", "Exists", &[]),
            Passes,
        ),
        (
            "DoesNotExist",
            |p| set_req(p, "example.com/gpu", "DoesNotExist", &[]),
            Passes,
        ),
        (
            "Gt",
            |p| set_req(p, "karpenter.k8s.aws/instance-cpu", "Gt", &["3"]),
            Passes,
        ),
        (
            "Lt",
            |p| set_req(p, "karpenter.k8s.aws/instance-cpu", "Lt", &["64"]),
            Passes,
        ),
        (
            "unknown operator",
            |p| set_req(p, "kubernetes.io/arch", "Gte", &["1"]),
            Fails(
                "spec.requirements[0].operator",
                r#""Gte" is not one of In, NotIn, Exists, DoesNotExist, Gt, Lt"#,
            ),
        ),
        (
            "In without values",
            |p| set_req(p, "kubernetes.io/arch", "In", &[]),
            Fails(
                "spec.requirements[0].values",
                "operator In requires at least one value",
            ),
        ),
        (
            "Gt with two values",
            |p| set_req(p, "karpenter.k8s.aws/instance-cpu", "Gt", &["1", "2"]),
            Fails("spec.requirements[0].values", "single non-negative integer"),
        ),
        (
            "Gt without values",
            |p| set_req(p, "karpenter.k8s.aws/instance-cpu", "Gt", &[]),
            Fails("spec.requirements[0].values", "single non-negative integer"),
        ),
        (
            "Lt non-integer",
            |p| set_req(p, "karpenter.k8s.aws/instance-cpu", "Lt", &["1.5"]),
            Fails("spec.requirements[0].values", "operator Lt requires"),
        ),
        (
            "Gt negative",
            |p| set_req(p, "karpenter.k8s.aws/instance-cpu", "Gt", &["-1"]),
            Fails("spec.requirements[0].values", "operator Gt requires"),
        ),
        (
            "Exists with values",
            |p| set_req(p, "kubernetes.io/arch", "Exists", &["amd64"]),
            Fails(
                "spec.requirements[0].values",
                "operator Exists must not have values",
            ),
        ),
        (
            "DoesNotExist with values",
            |p| set_req(p, "example.com/x", "DoesNotExist", &["a"]),
            Fails("spec.requirements[0].values", "must not have values"),
        ),
        (
            "key not qualified",
            |p| set_req(p, "foo bar", "Exists", &[]),
            Fails("spec.requirements[0].key", "is not a qualified name"),
        ),
        (
            "key with bad prefix",
            |p| set_req(p, "Example.com/x", "Exists", &[]),
            Fails("spec.requirements[0].key", "prefix part"),
        ),
        (
            "custom domain",
            |p| set_req(p, "example.com/team", "In", &["a"]),
            Passes,
        ),
        (
            "unprefixed custom key",
            |p| set_req(p, "team", "In", &["a"]),
            Passes,
        ),
        (
            "kubernetes.io restricted",
            |p| set_req(p, "kubernetes.io/foo", "Exists", &[]),
            Fails("spec.requirements[0].key", "is restricted"),
        ),
        (
            "k8s.io restricted",
            |p| set_req(p, "k8s.io/foo", "Exists", &[]),
            Fails("spec.requirements[0].key", "is restricted"),
        ),
        (
            "karpenter.sh restricted",
            |p| set_req(p, "karpenter.sh/foo", "Exists", &[]),
            Fails("spec.requirements[0].key", "is restricted"),
        ),
        (
            "karpenter.k8s.aws restricted",
            |p| set_req(p, "karpenter.k8s.aws/foo", "Exists", &[]),
            Fails("spec.requirements[0].key", "is restricted"),
        ),
        (
            "hostname restricted",
            |p| set_req(p, "kubernetes.io/hostname", "Exists", &[]),
            Fails("spec.requirements[0].key", "is restricted"),
        ),
        (
            "provisioner-name restricted",
            |p| set_req(p, "karpenter.sh/provisioner-name", "In", &["x"]),
            Fails("spec.requirements[0].key", "is restricted"),
        ),
        (
            "node.kubernetes.io exception",
            |p| set_req(p, "node.kubernetes.io/pool", "Exists", &[]),
            Passes,
        ),
        (
            "node-restriction exception",
            |p| set_req(p, "node-restriction.kubernetes.io/x", "Exists", &[]),
            Passes,
        ),
        (
            "kops exception",
            |p| set_req(p, "kops.k8s.io/instancegroup", "Exists", &[]),
            Passes,
        ),
        (
            "aws well-known",
            |p| set_req(p, "karpenter.k8s.aws/instance-family", "In", &["m5"]),
            Passes,
        ),
        (
            "windows build well-known",
            |p| set_req(p, "node.kubernetes.io/windows-build", "In", &["10.0.17763"]),
            Passes,
        ),
        (
            "beta zone normalised",
            |p| {
                set_req(
                    p,
                    "failure-domain.beta.kubernetes.io/zone",
                    "In",
                    &["us-east-1a"],
                )
            },
            Passes,
        ),
        (
            "beta instance type normalised",
            |p| set_req(p, "beta.kubernetes.io/instance-type", "In", &["m5.large"]),
            Passes,
        ),
        (
            "invalid value",
            |p| set_req(p, "topology.kubernetes.io/zone", "In", &["ok", "a b"]),
            Fails(
                "spec.requirements[0].values[1]",
                "is not a valid label value",
            ),
        ),
        (
            "value too long",
            |p| set_req(p, "example.com/x", "In", &[&"v".repeat(64)]),
            Fails("spec.requirements[0].values[0]", "no more than 63"),
        ),
    ];
    run(&base(), cases, validate);
}

#[test]
fn labels() {
    let cases: &[Case] = &[
        (
            "custom label",
            |p| {
                p.spec.labels.insert(s("example.com/team"), s("a"));
            },
            Passes,
        ),
        (
            "well-known label",
            |p| {
                p.spec
                    .labels
                    .insert(s("topology.kubernetes.io/zone"), s("us-east-1a"));
            },
            Passes,
        ),
        (
            "empty value",
            |p| {
                p.spec.labels.insert(s("team"), s(""));
            },
            Passes,
        ),
        (
            "provisioner-name",
            |p| {
                p.spec
                    .labels
                    .insert(s("karpenter.sh/provisioner-name"), s("x"));
            },
            Fails(
                "spec.labels[karpenter.sh/provisioner-name]",
                "is restricted",
            ),
        ),
        (
            "nodepool",
            |p| {
                p.spec.labels.insert(s("karpenter.sh/nodepool"), s("x"));
            },
            Fails("spec.labels[karpenter.sh/nodepool]", "is restricted"),
        ),
        (
            "bad key",
            |p| {
                p.spec.labels.insert(s("a/b/c"), s("x"));
            },
            Fails("spec.labels[a/b/c]", "is not a qualified name"),
        ),
        (
            "bad value",
            |p| {
                p.spec.labels.insert(s("team"), s("-x"));
            },
            Fails("spec.labels[team]", "is not a valid label value"),
        ),
        (
            "restricted domain",
            |p| {
                p.spec.labels.insert(s("kubernetes.io/foo"), s("x"));
            },
            Fails("spec.labels[kubernetes.io/foo]", "is restricted"),
        ),
        (
            "restricted subdomain",
            |p| {
                p.spec.labels.insert(s("x.karpenter.sh/foo"), s("x"));
            },
            Fails("spec.labels[x.karpenter.sh/foo]", "is restricted"),
        ),
        (
            "hostname",
            |p| {
                p.spec.labels.insert(s("kubernetes.io/hostname"), s("x"));
            },
            Fails("spec.labels[kubernetes.io/hostname]", "is restricted"),
        ),
        (
            "exception domain",
            |p| {
                p.spec.labels.insert(s("node.kubernetes.io/role"), s("x"));
            },
            Passes,
        ),
    ];
    run(&base(), cases, validate);
}

#[test]
fn taints() {
    let cases: &[Case] = &[
        (
            "valid taint",
            |p| p.spec.taints = vec![taint("example.com/gpu", Some("true"), "NoSchedule")],
            Passes,
        ),
        (
            "no value",
            |p| p.spec.taints = vec![taint("dedicated", None, "NoExecute")],
            Passes,
        ),
        (
            "empty effect",
            |p| p.spec.taints = vec![taint("dedicated", None, "")],
            Passes,
        ),
        (
            "PreferNoSchedule",
            |p| p.spec.startup_taints = vec![taint("dedicated", None, "PreferNoSchedule")],
            Passes,
        ),
        (
            "empty key",
            |p| p.spec.taints = vec![taint("", None, "NoSchedule")],
            Fails("spec.taints[0].key", "must not be empty"),
        ),
        (
            "bad key",
            |p| p.spec.taints = vec![taint("a b", None, "NoSchedule")],
            Fails("spec.taints[0].key", "is not a qualified name"),
        ),
        (
            "bad value",
            |p| p.spec.taints = vec![taint("k", Some("a/b"), "NoSchedule")],
            Fails("spec.taints[0].value", "is not a valid taint value"),
        ),
        (
            "bad effect",
            |p| p.spec.taints = vec![taint("k", None, "Sometimes")],
            Fails(
                "spec.taints[0].effect",
                r#""Sometimes" is not one of NoSchedule, PreferNoSchedule, NoExecute"#,
            ),
        ),
        (
            "bad startup effect",
            |p| p.spec.startup_taints = vec![taint("k", None, "Never")],
            Fails("spec.startupTaints[0].effect", "is not one of"),
        ),
        (
            "duplicate within taints",
            |p| {
                p.spec.taints = vec![
                    taint("k", Some("a"), "NoSchedule"),
                    taint("k", Some("b"), "NoSchedule"),
                ]
            },
            Fails(
                "spec.taints[1]",
                "duplicate taint key/effect pair k:NoSchedule",
            ),
        ),
        (
            "duplicate across taints and startupTaints",
            |p| {
                p.spec.taints = vec![taint("k", None, "NoSchedule")];
                p.spec.startup_taints = vec![taint("k", None, "NoSchedule")];
            },
            Fails("spec.startupTaints[0]", "duplicate taint key/effect pair"),
        ),
        (
            "same key, different effects",
            |p| {
                p.spec.taints = vec![
                    taint("k", None, "NoSchedule"),
                    taint("k", None, "NoExecute"),
                ]
            },
            Passes,
        ),
    ];
    run(&base(), cases, validate);
}

#[test]
fn ttls_weight_and_consolidation() {
    let cases: &[Case] = &[
        (
            "ttlSecondsAfterEmpty",
            |p| p.spec.ttl_seconds_after_empty = Some(30),
            Passes,
        ),
        (
            "ttlSecondsAfterEmpty zero",
            |p| p.spec.ttl_seconds_after_empty = Some(0),
            Passes,
        ),
        (
            "ttlSecondsAfterEmpty negative",
            |p| p.spec.ttl_seconds_after_empty = Some(-1),
            Fails("spec.ttlSecondsAfterEmpty", "must not be negative"),
        ),
        (
            "ttlSecondsUntilExpired",
            |p| p.spec.ttl_seconds_until_expired = Some(2_592_000),
            Passes,
        ),
        (
            "ttlSecondsUntilExpired negative",
            |p| p.spec.ttl_seconds_until_expired = Some(-5),
            Fails(
                "spec.ttlSecondsUntilExpired",
                "must not be negative (got -5)",
            ),
        ),
        (
            "consolidation",
            |p| {
                p.spec.consolidation = Some(Consolidation {
                    enabled: Some(true),
                })
            },
            Passes,
        ),
        (
            "ttl with consolidation",
            |p| {
                p.spec.ttl_seconds_after_empty = Some(30);
                p.spec.consolidation = Some(Consolidation {
                    enabled: Some(true),
                });
            },
            Fails(
                "spec.ttlSecondsAfterEmpty",
                "cannot be combined with consolidation.enabled=true",
            ),
        ),
        (
            "ttl with consolidation disabled",
            |p| {
                p.spec.ttl_seconds_after_empty = Some(30);
                p.spec.consolidation = Some(Consolidation {
                    enabled: Some(false),
                });
            },
            Passes,
        ),
        ("weight 1", |p| p.spec.weight = Some(1), Passes),
        ("weight 100", |p| p.spec.weight = Some(100), Passes),
        (
            "weight 0",
            |p| p.spec.weight = Some(0),
            Fails("spec.weight", "must be between 1 and 100 (got 0)"),
        ),
        (
            "weight 101",
            |p| p.spec.weight = Some(101),
            Fails("spec.weight", "must be between 1 and 100 (got 101)"),
        ),
    ];
    run(&base(), cases, validate);
}

#[test]
fn provider_and_provider_ref() {
    let cases: &[Case] = &[
        (
            "inline provider",
            |p| {
                p.spec.provider_ref = None;
                p.spec.provider = Some(AwsProvider {
                    instance_profile: Some(s("profile")),
                    ..Default::default()
                });
            },
            Passes,
        ),
        (
            "both",
            |p| p.spec.provider = Some(AwsProvider::default()),
            Fails(
                "spec",
                "expected exactly one of provider or providerRef, got both",
            ),
        ),
        (
            "neither",
            |p| p.spec.provider_ref = None,
            Fails("spec", "got neither"),
        ),
        (
            "providerRef without name",
            |p| p.spec.provider_ref = Some(ProviderRef::default()),
            Fails("spec.providerRef.name", "must not be empty"),
        ),
        (
            "inline provider is validated",
            |p| {
                p.spec.provider_ref = None;
                p.spec.provider = Some(AwsProvider {
                    ami_family: Some(s("Gentoo")),
                    ..Default::default()
                });
            },
            Fails("spec.provider.amiFamily", r#""Gentoo" is not one of"#),
        ),
    ];
    run(&base(), cases, validate);
}

#[test]
fn kubelet_configuration() {
    let cases: &[Case] = &[
        (
            "full valid kubelet",
            |p| {
                let k = kubelet(p);
                k.cluster_dns = strings(&["10.0.0.10"]);
                k.container_runtime = Some(s("containerd"));
                k.max_pods = Some(110);
                k.pods_per_core = Some(0);
                k.kube_reserved.insert(s("cpu"), Quantity(s("200m")));
                k.system_reserved.insert(s("pid"), Quantity(s("100")));
                k.eviction_hard.insert(s("memory.available"), s("5%"));
                k.eviction_hard.insert(s("nodefs.available"), s("1Gi"));
                k.eviction_soft.insert(s("imagefs.available"), s("10%"));
                k.eviction_soft_grace_period
                    .insert(s("imagefs.available"), "1m30s".parse().expect("duration"));
                k.image_gc_high_threshold_percent = Some(80);
                k.image_gc_low_threshold_percent = Some(80);
                k.cpu_cfs_quota = Some(true);
            },
            Passes,
        ),
        (
            "maxPods negative",
            |p| kubelet(p).max_pods = Some(-1),
            Fails("spec.kubeletConfiguration.maxPods", "must not be negative"),
        ),
        (
            "podsPerCore negative",
            |p| kubelet(p).pods_per_core = Some(-2),
            Fails(
                "spec.kubeletConfiguration.podsPerCore",
                "must not be negative",
            ),
        ),
        (
            "kubeReserved key",
            |p| {
                kubelet(p).kube_reserved.insert(s("gpu"), Quantity(s("1")));
            },
            Fails(
                "spec.kubeletConfiguration.kubeReserved[gpu]",
                r#""gpu" is not one of cpu, memory, ephemeral-storage, pid"#,
            ),
        ),
        (
            "systemReserved negative",
            |p| {
                kubelet(p)
                    .system_reserved
                    .insert(s("memory"), Quantity(s("-1Gi")));
            },
            Fails(
                "spec.kubeletConfiguration.systemReserved[memory]",
                "must not be negative",
            ),
        ),
        (
            "kubeReserved not a quantity",
            |p| {
                kubelet(p)
                    .kube_reserved
                    .insert(s("memory"), Quantity(s("lots")));
            },
            Fails(
                "spec.kubeletConfiguration.kubeReserved[memory]",
                "is not a valid quantity",
            ),
        ),
        (
            "eviction signal",
            |p| {
                kubelet(p).eviction_hard.insert(s("memory.free"), s("1Gi"));
            },
            Fails(
                "spec.kubeletConfiguration.evictionHard[memory.free]",
                "is not one of memory.available",
            ),
        ),
        (
            "eviction percentage over 100",
            |p| {
                kubelet(p)
                    .eviction_hard
                    .insert(s("memory.available"), s("101%"));
            },
            Fails(
                "spec.kubeletConfiguration.evictionHard[memory.available]",
                "between 0% and 100%",
            ),
        ),
        (
            "eviction percentage negative",
            |p| {
                kubelet(p)
                    .eviction_hard
                    .insert(s("memory.available"), s("-1%"));
            },
            Fails(
                "spec.kubeletConfiguration.evictionHard[memory.available]",
                "between 0% and 100%",
            ),
        ),
        (
            "eviction percentage unparsable",
            |p| {
                kubelet(p)
                    .eviction_hard
                    .insert(s("memory.available"), s("ten%"));
            },
            Fails(
                "spec.kubeletConfiguration.evictionHard[memory.available]",
                "is not a percentage",
            ),
        ),
        (
            "eviction quantity unparsable",
            |p| {
                kubelet(p)
                    .eviction_hard
                    .insert(s("nodefs.available"), s("1GB"));
            },
            Fails(
                "spec.kubeletConfiguration.evictionHard[nodefs.available]",
                "is not a valid quantity",
            ),
        ),
        (
            "evictionSoft signal",
            |p| {
                let k = kubelet(p);
                k.eviction_soft.insert(s("cpu.available"), s("1"));
                k.eviction_soft_grace_period
                    .insert(s("cpu.available"), "1m".parse().expect("duration"));
            },
            Fails(
                "spec.kubeletConfiguration.evictionSoft[cpu.available]",
                "is not one of",
            ),
        ),
        (
            "evictionSoft without grace period",
            |p| {
                kubelet(p)
                    .eviction_soft
                    .insert(s("memory.available"), s("10%"));
            },
            Fails(
                "spec.kubeletConfiguration.evictionSoft[memory.available]",
                "has no matching evictionSoftGracePeriod",
            ),
        ),
        (
            "grace period without evictionSoft",
            |p| {
                kubelet(p)
                    .eviction_soft_grace_period
                    .insert(s("memory.available"), "1m".parse().expect("duration"));
            },
            Fails(
                "spec.kubeletConfiguration.evictionSoftGracePeriod[memory.available]",
                "has no matching evictionSoft threshold",
            ),
        ),
        (
            "grace period signal",
            |p| {
                kubelet(p)
                    .eviction_soft_grace_period
                    .insert(s("bogus"), "1m".parse().expect("duration"));
            },
            Fails(
                "spec.kubeletConfiguration.evictionSoftGracePeriod[bogus]",
                "is not one of",
            ),
        ),
        (
            "imageGC high below low",
            |p| {
                let k = kubelet(p);
                k.image_gc_high_threshold_percent = Some(50);
                k.image_gc_low_threshold_percent = Some(60);
            },
            Fails(
                "spec.kubeletConfiguration.imageGCHighThresholdPercent",
                "greater than or equal to imageGCLowThresholdPercent",
            ),
        ),
        (
            "imageGC high over 100",
            |p| kubelet(p).image_gc_high_threshold_percent = Some(101),
            Fails(
                "spec.kubeletConfiguration.imageGCHighThresholdPercent",
                "between 0 and 100",
            ),
        ),
        (
            "imageGC low negative",
            |p| kubelet(p).image_gc_low_threshold_percent = Some(-1),
            Fails(
                "spec.kubeletConfiguration.imageGCLowThresholdPercent",
                "between 0 and 100",
            ),
        ),
        (
            "containerRuntime",
            |p| kubelet(p).container_runtime = Some(s("crio")),
            Fails(
                "spec.kubeletConfiguration.containerRuntime",
                r#""crio" is not one of containerd, dockerd"#,
            ),
        ),
    ];
    run(&base(), cases, validate);
}

#[test]
fn limits() {
    let cases: &[Case] = &[
        (
            "valid limits",
            |p| {
                let mut l = Limits::default();
                l.resources.insert(s("cpu"), Quantity(s("1000")));
                l.resources.insert(s("memory"), Quantity(s("1000Gi")));
                p.spec.limits = Some(l);
            },
            Passes,
        ),
        (
            "invalid quantity",
            |p| {
                let mut l = Limits::default();
                l.resources.insert(s("cpu"), Quantity(s("1k0")));
                p.spec.limits = Some(l);
            },
            Fails("spec.limits.resources[cpu]", "is not a valid quantity"),
        ),
        (
            "negative",
            |p| {
                let mut l = Limits::default();
                l.resources.insert(s("memory"), Quantity(s("-1")));
                p.spec.limits = Some(l);
            },
            Fails("spec.limits.resources[memory]", "must not be negative"),
        ),
    ];
    run(&base(), cases, validate);
}

#[test]
fn reports_every_error() {
    let mut p = base();
    p.spec.weight = Some(0);
    p.spec.ttl_seconds_after_empty = Some(-1);
    p.spec.labels.insert(s("kubernetes.io/x"), s("y"));
    let err = p.validate().expect_err("three problems");
    let paths: Vec<&str> = err.errors.iter().map(|e| e.path.as_str()).collect();
    assert_eq!(
        paths,
        [
            "spec.ttlSecondsAfterEmpty",
            "spec.weight",
            "spec.labels[kubernetes.io/x]"
        ]
    );
    assert_eq!(err.to_string().lines().count(), 3);
}
