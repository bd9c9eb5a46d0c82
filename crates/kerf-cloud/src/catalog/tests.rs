//! The built-in catalogue's content and the loader's error reporting.

use std::collections::BTreeSet;

use kerf_core::resources::MILLI;

use super::*;
use crate::eks::{GIB, RESOURCE_NVIDIA_GPU};
use crate::labels;

fn resolved() -> Vec<InstanceType> {
    Catalog::builtin()
        .instance_types(&KubeletSettings::default())
        .expect("default kubelet settings")
}

fn find<'a>(types: &'a [InstanceType], name: &str) -> &'a InstanceType {
    types
        .iter()
        .find(|t| t.name == name)
        .unwrap_or_else(|| panic!("{name} in the built-in catalogue"))
}

fn label<'a>(t: &'a InstanceType, key: &str) -> Option<&'a str> {
    t.labels.get(key).map(String::as_str)
}

#[test]
fn builtin_loads() {
    let catalog = Catalog::builtin();
    assert_eq!(catalog.region, "us-east-1");
    assert_eq!(catalog.zones, ["us-east-1a", "us-east-1b", "us-east-1c"]);
    assert!(
        catalog.instance_types.len() >= 1000,
        "{}",
        catalog.instance_types.len()
    );
    let families: BTreeSet<&str> = catalog
        .instance_types
        .iter()
        .filter_map(|e| e.family())
        .collect();
    for family in [
        "c5", "c6i", "c7i", "m5", "m6i", "m7i", "r5", "r6i", "r7i", "c6g", "c7g", "m6g", "m7g",
        "r6g", "r7g", "t3", "g5", "g4dn",
    ] {
        assert!(families.contains(family), "{family}");
    }
}

/// Zone IDs are per account; the catalogue's are one representative
/// mapping, on every offering and as `zone-id In [...]` on every type (aws
/// `pkg/providers/instancetype/suite_test.go` "should support individual
/// instance type labels" expects a zone-id).
#[test]
fn zones_have_representative_zone_ids() {
    let want = [
        ("us-east-1a", "use1-az1"),
        ("us-east-1b", "use1-az2"),
        ("us-east-1c", "use1-az4"),
        ("us-east-1d", "use1-az6"),
        ("us-east-1e", "use1-az3"),
        ("us-east-1f", "use1-az5"),
    ];
    for (zone, id) in want {
        assert_eq!(representative_zone_id(zone), Some(id), "{zone}");
    }
    assert_eq!(representative_zone_id("us-west-2a"), None);
    for t in resolved() {
        for o in &t.offerings {
            assert_eq!(
                o.zone_id.as_deref(),
                representative_zone_id(&o.zone),
                "{} {}",
                t.name,
                o.zone
            );
        }
        let r = t.requirements.get(labels::ZONE_ID).expect("zone-id");
        assert_eq!(
            r.values.iter().map(String::as_str).collect::<Vec<_>>(),
            ["use1-az1", "use1-az2", "use1-az4"],
            "{}",
            t.name
        );
    }
    // A catalogue of other zones has no IDs and no zone-id requirement.
    let other = Catalog::parse("other.yaml", SMALL).unwrap();
    for t in other.instance_types(&KubeletSettings::default()).unwrap() {
        assert!(t.offerings.iter().all(|o| o.zone_id.is_none()));
        assert!(t.requirements.get(labels::ZONE_ID).is_none(), "{}", t.name);
    }
}

#[test]
fn every_entry_has_three_zones_with_both_capacity_types() {
    for t in resolved() {
        let offers: BTreeSet<(&str, &str)> = t
            .offerings
            .iter()
            .map(|o| (o.zone.as_str(), o.capacity_type.as_str()))
            .collect();
        assert_eq!(offers.len(), 6, "{}: {offers:?}", t.name);
        for zone in ["us-east-1a", "us-east-1b", "us-east-1c"] {
            assert!(
                offers.contains(&(zone, "spot")) && offers.contains(&(zone, "on-demand")),
                "{} {zone}",
                t.name
            );
        }
        let od = t
            .offerings
            .iter()
            .find(|o| o.capacity_type == "on-demand")
            .map(|o| o.price)
            .unwrap_or_default();
        let spot: BTreeSet<u64> = t
            .offerings
            .iter()
            .filter(|o| o.capacity_type == "spot")
            .map(|o| o.price.to_bits())
            .collect();
        assert_eq!(spot.len(), 3, "{}: spot prices differ per zone", t.name);
        for o in t.offerings.iter().filter(|o| o.capacity_type == "spot") {
            let ratio = o.price / od;
            assert!(
                (0.3..=0.7).contains(&ratio),
                "{} {}: spot {} vs on-demand {od}",
                t.name,
                o.zone,
                o.price
            );
        }
        assert_eq!(label(&t, labels::REGION), Some("us-east-1"));
    }
}

#[test]
fn m5_2xlarge_shape_and_labels() {
    let types = resolved();
    let t = find(&types, "m5.2xlarge");
    assert_eq!(t.capacity.cpu, 8 * MILLI);
    assert_eq!(label(t, labels::INSTANCE_MEMORY), Some("32768"), "32 GiB");
    assert_eq!(t.capacity.pods, 58 * MILLI);
    assert_eq!(t.allocatable().cpu, 7910);
    for (key, want) in [
        (labels::INSTANCE_TYPE, "m5.2xlarge"),
        (labels::ARCH, "amd64"),
        (labels::INSTANCE_CATEGORY, "m"),
        (labels::INSTANCE_FAMILY, "m5"),
        (labels::INSTANCE_GENERATION, "5"),
        (labels::INSTANCE_SIZE, "2xlarge"),
        (labels::INSTANCE_CPU, "8"),
        (labels::INSTANCE_HYPERVISOR, "nitro"),
        (labels::INSTANCE_NETWORK_BANDWIDTH, "2500"),
    ] {
        assert_eq!(label(t, key), Some(want), "{key}");
    }
    assert_eq!(label(t, labels::INSTANCE_GPU_COUNT), None);
    assert_eq!(label(t, labels::INSTANCE_LOCAL_NVME), None);
    // An amd64 type runs Linux or Windows: which one is the pool's (or the pod's) call.
    assert_eq!(label(t, labels::OS), None);
    let os = t.requirements.get(labels::OS).expect("an os requirement");
    assert!(
        os.has("linux") && os.has("windows") && !os.has("darwin"),
        "{os}"
    );
    let od = t
        .offerings
        .iter()
        .find(|o| o.capacity_type == "on-demand")
        .map(|o| o.price);
    assert_eq!(od, Some(0.384));
}

#[test]
fn eni_limits_give_published_max_pods() {
    let types = resolved();
    let cases = [
        ("t3.micro", 4),
        ("t3.small", 11),
        ("t3.medium", 17),
        ("t3.large", 35),
        ("c5.large", 29),
        ("c5.9xlarge", 234),
        ("m5.24xlarge", 737),
        ("c7g.16xlarge", 737),
        ("r7i.8xlarge", 234),
        ("g4dn.xlarge", 29),
        ("g4dn.8xlarge", 58),
        ("g5.12xlarge", 737),
    ];
    for (name, pods) in cases {
        assert_eq!(find(&types, name).capacity.pods, pods * MILLI, "{name}");
    }
}

#[test]
fn gpu_and_graviton_types() {
    let types = resolved();
    let g5 = find(&types, "g5.xlarge");
    assert_eq!(g5.capacity.get(RESOURCE_NVIDIA_GPU), MILLI);
    assert_eq!(label(g5, labels::INSTANCE_GPU_COUNT), Some("1"));
    assert_eq!(label(g5, labels::INSTANCE_GPU_NAME), Some("a10g"));
    assert_eq!(label(g5, labels::INSTANCE_GPU_MANUFACTURER), Some("nvidia"));
    // EC2 reports 22888 MiB usable of the A10G's 24 GiB (upstream's data).
    assert_eq!(label(g5, labels::INSTANCE_GPU_MEMORY), Some("22888"));
    assert_eq!(label(g5, labels::INSTANCE_LOCAL_NVME), Some("250"));
    assert_eq!(
        find(&types, "g4dn.12xlarge")
            .capacity
            .get(RESOURCE_NVIDIA_GPU),
        4 * MILLI
    );
    let m6g = find(&types, "m6g.large");
    assert_eq!(label(m6g, labels::ARCH), Some("arm64"));
    assert_eq!(label(m6g, labels::INSTANCE_GENERATION), Some("6"));
    assert_eq!(
        label(find(&types, "g4dn.xlarge"), labels::INSTANCE_CATEGORY),
        Some("g")
    );
}

/// Label values as upstream's instance-types reference lists them.
#[test]
fn labels_match_upstream_for_sampled_types() {
    let types = resolved();
    let cases: &[(&str, &str, &str)] = &[
        ("m7g.large", labels::INSTANCE_CPU_MANUFACTURER, "aws"),
        (
            "m7g.large",
            labels::INSTANCE_CPU_SUSTAINED_CLOCK_SPEED_MHZ,
            "2600",
        ),
        (
            "m7g.large",
            labels::INSTANCE_ENCRYPTION_IN_TRANSIT_SUPPORTED,
            "true",
        ),
        ("m6a.large", labels::INSTANCE_CPU_MANUFACTURER, "amd"),
        (
            "m6a.large",
            labels::INSTANCE_CPU_SUSTAINED_CLOCK_SPEED_MHZ,
            "3600",
        ),
        ("m5.large", labels::INSTANCE_CPU_MANUFACTURER, "intel"),
        ("m5.large", labels::INSTANCE_EBS_BANDWIDTH, "4750"),
        (
            "m5.large",
            labels::INSTANCE_ENCRYPTION_IN_TRANSIT_SUPPORTED,
            "false",
        ),
        ("c5d.large", labels::INSTANCE_LOCAL_NVME, "50"),
        ("g4ad.xlarge", labels::INSTANCE_GPU_MANUFACTURER, "amd"),
        ("g4ad.xlarge", labels::INSTANCE_GPU_NAME, "radeon-pro-v520"),
        (
            "inf2.xlarge",
            labels::INSTANCE_ACCELERATOR_NAME,
            "inferentia2",
        ),
        (
            "inf2.xlarge",
            labels::INSTANCE_ACCELERATOR_MANUFACTURER,
            "aws",
        ),
        ("inf2.xlarge", labels::INSTANCE_ACCELERATOR_COUNT, "1"),
        (
            "trn1.2xlarge",
            labels::INSTANCE_ACCELERATOR_NAME,
            "trainium",
        ),
        ("trn1.2xlarge", labels::INSTANCE_LOCAL_NVME, "474"),
        ("g6f.large", labels::INSTANCE_GPU_COUNT, "0"),
        // EC2's NitroEnclavesSupport: Nitro types of 4 vCPUs and more, not a1 or t3.
        ("m5.xlarge", labels::NITRO_SANDBOX, "true"),
        ("m7g.large", labels::NITRO_SANDBOX, "true"),
        ("m5.large", labels::NITRO_SANDBOX, "false"),
        ("t3.large", labels::NITRO_SANDBOX, "false"),
        ("a1.medium", labels::NITRO_SANDBOX, "false"),
    ];
    for (name, key, want) in cases {
        assert_eq!(label(find(&types, name), key), Some(*want), "{name} {key}");
    }
    let inf2 = find(&types, "inf2.xlarge");
    assert_eq!(inf2.capacity.get(crate::eks::RESOURCE_AWS_NEURON), MILLI);
    assert_eq!(
        inf2.capacity.get(crate::eks::RESOURCE_AWS_NEURON_CORE),
        2 * MILLI
    );
    assert_eq!(inf2.capacity.pods, 58 * MILLI);
    assert_eq!(
        find(&types, "g4ad.xlarge")
            .capacity
            .get(crate::eks::RESOURCE_AMD_GPU),
        MILLI
    );
    assert_eq!(
        find(&types, "g6f.large").capacity.get(RESOURCE_NVIDIA_GPU),
        0,
        "a fractional GPU is no device"
    );
    let p5 = find(&types, "p5.48xlarge");
    assert_eq!(p5.capacity.get(crate::eks::RESOURCE_EFA), 32 * MILLI);
    assert_eq!(p5.capacity.pods, 100 * MILLI);
    // Old Xen types have no EBS-optimized default: the key is DoesNotExist.
    let t2 = find(&types, "t2.micro");
    assert_eq!(label(t2, labels::INSTANCE_EBS_BANDWIDTH), None);
    let ebs = t2
        .requirements
        .get(labels::INSTANCE_EBS_BANDWIDTH)
        .expect("a DoesNotExist requirement");
    assert!(ebs.allows_absent() && !ebs.has("1"), "{ebs}");
}

/// Karpenter's `computeRequirements`: every type offers both tenancies and the
/// claim picks; the label is not one of the type's own.
#[test]
fn every_type_offers_default_and_dedicated_tenancy() {
    for t in resolved() {
        let tenancy = t
            .requirements
            .get(labels::INSTANCE_TENANCY)
            .unwrap_or_else(|| panic!("{}: no tenancy requirement", t.name));
        assert!(
            tenancy.has(labels::TENANCY_DEFAULT) && tenancy.has(labels::TENANCY_DEDICATED),
            "{}: {tenancy}",
            t.name
        );
        assert!(!tenancy.has("host"), "{}: {tenancy}", t.name);
        assert_eq!(label(&t, labels::INSTANCE_TENANCY), None, "{}", t.name);
    }
}

#[test]
fn nitro_enclave_support_is_known_for_nearly_every_type() {
    let catalog = Catalog::builtin();
    let known = catalog
        .instance_types
        .iter()
        .filter(|e| e.nitro_enclaves_supported.is_some())
        .count();
    assert!(
        known + 10 >= catalog.instance_types.len(),
        "{known} of {}",
        catalog.instance_types.len()
    );
}

#[test]
fn windows_on_every_amd64_type_and_no_other() {
    let catalog = Catalog::builtin();
    let mut windows = 0;
    for e in &catalog.instance_types {
        let runs_windows = e.os.iter().any(|o| o == "windows");
        assert_eq!(
            runs_windows,
            e.arch == crate::eks::Arch::Amd64,
            "{}",
            e.name
        );
        assert!(e.os.iter().any(|o| o == "linux"), "{}", e.name);
        windows += usize::from(runs_windows);
    }
    assert!(windows > 500, "{windows}");
    for name in [
        "c5d.large",
        "m5d.large",
        "r5d.large",
        "g4ad.xlarge",
        "inf1.xlarge",
        "inf2.xlarge",
        "trn1.2xlarge",
    ] {
        assert!(catalog.get(name).is_some(), "{name}");
    }
}

#[test]
fn kubelet_settings_apply_to_every_type() {
    let kubelet = KubeletSettings {
        max_pods: Some(50),
        ..Default::default()
    };
    let types = Catalog::builtin().instance_types(&kubelet).expect("valid");
    assert!(types.iter().all(|t| t.capacity.pods == 50 * MILLI));
    let bad = KubeletSettings {
        eviction_hard: [("memory.available".to_string(), "x%".to_string())]
            .into_iter()
            .collect(),
        ..Default::default()
    };
    assert!(Catalog::builtin().instance_types(&bad).is_err());
}

const SMALL: &str = r#"
region: test-1
zones: [a, b]
instanceTypes:
  - name: m5.large
    vcpu: 2
    memoryMiB: 8192
    arch: amd64
    maxENIs: 3
    ipv4PerENI: 10
    onDemand: 0.096
    spot: {a: 0.04}
"#;

#[test]
fn minimal_file_derives_labels_and_partial_offerings() {
    let catalog = Catalog::parse("small.yaml", SMALL).expect("valid");
    let types = catalog
        .instance_types(&KubeletSettings::default())
        .expect("valid");
    let t = &types[0];
    assert_eq!(label(t, labels::INSTANCE_FAMILY), Some("m5"));
    assert_eq!(label(t, labels::INSTANCE_CATEGORY), Some("m"));
    assert_eq!(label(t, labels::INSTANCE_GENERATION), Some("5"));
    assert_eq!(label(t, labels::INSTANCE_SIZE), Some("large"));
    assert_eq!(label(t, labels::OS), Some("linux"));
    assert_eq!(label(t, labels::REGION), Some("test-1"));
    assert_eq!(
        t.offerings.len(),
        3,
        "spot only in zone a, on-demand in a and b"
    );
    assert_eq!(t.capacity.ephemeral_storage, 20 * GIB * MILLI);
}

#[test]
fn json_loads_too() {
    let yaml = Catalog::parse("small.yaml", SMALL).expect("valid");
    let json = serde_json::to_string(&yaml).expect("serializable");
    assert!(json.starts_with('{'));
    assert_eq!(
        Catalog::parse("small.json", &json).expect("valid JSON"),
        yaml
    );
}

fn error(content: &str) -> CatalogError {
    Catalog::parse("bad.yaml", content).expect_err("malformed")
}

#[test]
fn malformed_field_is_named() {
    let err = error(&SMALL.replace("vcpu: 2", "vcpu: two"));
    assert_eq!(err.file, "bad.yaml");
    assert_eq!(err.entry.as_deref(), Some("m5.large"));
    assert_eq!(err.field.as_deref(), Some("vcpu"));
    let text = err.to_string();
    assert!(
        text.contains("bad.yaml") && text.contains("m5.large") && text.contains("vcpu"),
        "{text}"
    );

    let missing = error(&SMALL.replace("    memoryMiB: 8192\n", ""));
    assert_eq!(missing.field.as_deref(), Some("memoryMiB"), "{missing}");

    let typo = error(&SMALL.replace("onDemand:", "onDemnd:"));
    assert_eq!(typo.field.as_deref(), Some("onDemnd"), "{typo}");

    let arch = error(&SMALL.replace("arch: amd64", "arch: sparc"));
    assert_eq!(arch.field.as_deref(), Some("arch"), "{arch}");

    let json = Catalog::parse("bad.json", r#"{"region": "r", "zones": ["a"], "instanceTypes": [{"name": "x.large", "vcpu": 1, "memoryMiB": 1, "arch": "amd64", "onDemand": 1, "gpu": {"count": "one", "name": "T4", "manufacturer": "NVIDIA", "memoryMiB": 1}}]}"#)
        .expect_err("bad gpu count");
    assert_eq!(json.entry.as_deref(), Some("x.large"));
    assert_eq!(json.field.as_deref(), Some("gpu.count"), "{json}");
}

#[test]
fn semantic_errors_are_named() {
    let cases = [
        (SMALL.replace("vcpu: 2", "vcpu: 0"), "vcpu"),
        (
            SMALL.replace("memoryMiB: 8192", "memoryMiB: 99999999999999"),
            "memoryMiB",
        ),
        (SMALL.replace("    ipv4PerENI: 10\n", ""), "ipv4PerENI"),
        (SMALL.replace("spot: {a: 0.04}", "spot: {c: 0.04}"), "spot"),
        (SMALL.replace("onDemand: 0.096", "onDemand: -1"), "onDemand"),
        (SMALL.replace("zones: [a, b]", "zones: []"), "zones"),
        (
            format!("{SMALL}{}", &SMALL[SMALL.find("  - name").unwrap_or(0)..]),
            "name",
        ),
    ];
    for (content, field) in cases {
        let err = error(&content);
        assert_eq!(err.field.as_deref(), Some(field), "{err}");
    }
}

#[test]
fn syntax_and_io_errors_do_not_panic() {
    let err = error("region: [unclosed\n");
    assert!(err.message.contains("YAML"), "{err}");
    assert!(Catalog::parse("bad.json", "{\"region\": ").is_err());
    assert!(Catalog::parse("empty.yaml", "").is_err());
    assert!(Catalog::parse("list.yaml", "- 1\n- 2\n").is_err());
    let missing = Catalog::from_file("/nonexistent/kerf-catalog.yaml").expect_err("no such file");
    assert_eq!(missing.file, "/nonexistent/kerf-catalog.yaml");
}

#[test]
fn from_file_reads_yaml() {
    let path = std::env::temp_dir().join(format!("kerf-cloud-catalog-{}.yaml", std::process::id()));
    std::fs::write(&path, SMALL).expect("write temp file");
    let loaded = Catalog::from_file(&path);
    let _ = std::fs::remove_file(&path);
    assert_eq!(loaded.expect("valid").instance_types[0].name, "m5.large");
}

#[test]
fn category_and_generation_parse_like_karpenter() {
    let cases = [
        ("m5.large", Some(("m", "5"))),
        ("g4dn.xlarge", Some(("g", "4"))),
        ("c7i-flex.large", Some(("c", "7"))),
        ("u-6tb1.56xlarge", Some(("u", "1"))),
        ("mac2.metal", Some(("mac", "2"))),
        ("weird", None),
    ];
    for (name, want) in cases {
        let got = category_and_generation(name);
        assert_eq!(
            got.as_ref().map(|(c, g)| (c.as_str(), g.as_str())),
            want,
            "{name}"
        );
    }
}
