//! Property tests: random valid Provisioners and NodePools validate and
//! survive serialization; the quantity and duration parsers never panic and
//! agree with simple arithmetic on generated input.

use std::collections::BTreeMap;

use k8s_openapi::api::core::v1::{NodeSelectorRequirement, Taint};
use k8s_openapi::apimachinery::pkg::api::resource::Quantity;
use k8s_openapi::apimachinery::pkg::apis::meta::v1::ObjectMeta;
use kerf_api::duration::{GoDuration, NillableDuration};
use kerf_api::quantity::{parse_milli, parse_quantity};
use kerf_api::v1::{
    Budget, NodeClaimTemplateSpec, NodeClassReference, NodePool,
    NodeSelectorRequirementWithMinValues,
};
use kerf_api::v1alpha1::{AwsProvider, MetadataOptions};
use kerf_api::v1alpha5::{
    Consolidation, KubeletConfiguration, Limits, ProviderRef, Provisioner, ProvisionerSpec,
};
use proptest::collection::{btree_map, vec};
use proptest::option;
use proptest::prelude::*;

fn label_value() -> impl Strategy<Value = String> {
    "[a-z0-9]([a-z0-9._-]{0,20}[a-z0-9])?"
}

fn custom_key() -> impl Strategy<Value = String> {
    "(example\\.com/|team\\.io/)?[a-z][a-z0-9-]{0,15}[a-z0-9]"
}

fn requirement() -> impl Strategy<Value = NodeSelectorRequirement> {
    let keys = prop_oneof![
        Just("topology.kubernetes.io/zone".to_string()),
        Just("kubernetes.io/arch".to_string()),
        Just("karpenter.sh/capacity-type".to_string()),
        Just("node.kubernetes.io/instance-type".to_string()),
        Just("karpenter.k8s.aws/instance-family".to_string()),
        custom_key(),
    ];
    let numeric = prop_oneof![
        Just("karpenter.k8s.aws/instance-cpu"),
        Just("karpenter.k8s.aws/instance-generation")
    ];
    prop_oneof![
        (
            keys.clone(),
            prop_oneof![Just("In"), Just("NotIn")],
            vec(label_value(), 1..4)
        )
            .prop_map(|(key, op, values)| NodeSelectorRequirement {
                key,
                operator: op.into(),
                values: Some(values)
            }),
        (keys, prop_oneof![Just("Exists"), Just("DoesNotExist")]).prop_map(|(key, op)| {
            NodeSelectorRequirement {
                key,
                operator: op.into(),
                values: None,
            }
        }),
        (numeric, prop_oneof![Just("Gt"), Just("Lt")], 0u32..1000).prop_map(|(key, op, n)| {
            NodeSelectorRequirement {
                key: key.into(),
                operator: op.into(),
                values: Some(vec![n.to_string()]),
            }
        }),
    ]
}

fn taints(prefix: &'static str) -> impl Strategy<Value = Vec<Taint>> {
    vec(
        (
            option::of(label_value()),
            prop_oneof![
                Just("NoSchedule"),
                Just("PreferNoSchedule"),
                Just("NoExecute")
            ],
        ),
        0..3,
    )
    .prop_map(move |ts| {
        ts.into_iter()
            .enumerate()
            .map(|(i, (value, effect))| Taint {
                key: format!("{prefix}{i}"),
                value,
                effect: effect.into(),
                time_added: None,
            })
            .collect()
    })
}

fn quantity() -> impl Strategy<Value = Quantity> {
    (
        1u32..100_000,
        prop_oneof![
            Just(""),
            Just("m"),
            Just("Ki"),
            Just("Mi"),
            Just("Gi"),
            Just("k"),
            Just("M")
        ],
    )
        .prop_map(|(n, s)| Quantity(format!("{n}{s}")))
}

fn kubelet() -> impl Strategy<Value = KubeletConfiguration> {
    (
        option::of(0i32..250),
        option::of(0i32..10),
        btree_map(
            prop_oneof![
                Just("cpu".to_string()),
                Just("memory".to_string()),
                Just("pid".to_string())
            ],
            quantity(),
            0..3,
        ),
        btree_map(
            prop_oneof![
                Just("memory.available".to_string()),
                Just("nodefs.available".to_string())
            ],
            0u32..=100,
            0..2,
        ),
        option::of((0i32..=50, 50i32..=100)),
        1i64..600,
    )
        .prop_map(|(max_pods, pods_per_core, reserved, hard, gc, grace)| {
            let mut k = KubeletConfiguration {
                max_pods,
                pods_per_core,
                kube_reserved: reserved.clone(),
                system_reserved: reserved,
                eviction_hard: hard
                    .iter()
                    .map(|(k, v)| (k.clone(), format!("{v}%")))
                    .collect(),
                ..Default::default()
            };
            if let Some((low, high)) = gc {
                k.image_gc_low_threshold_percent = Some(low);
                k.image_gc_high_threshold_percent = Some(high);
            }
            if let Some(key) = hard.keys().next() {
                k.eviction_soft.insert(key.clone(), "100Mi".to_string());
                k.eviction_soft_grace_period
                    .insert(key.clone(), GoDuration::from_secs(grace));
            }
            k
        })
}

fn provisioner() -> impl Strategy<Value = Provisioner> {
    let provider = prop_oneof![
        "[a-z][a-z0-9-]{0,20}".prop_map(|name| (
            None,
            Some(ProviderRef {
                name,
                kind: Some("AWSNodeTemplate".into()),
                api_version: None
            })
        )),
        ("[A-Za-z][A-Za-z0-9-]{0,20}", option::of(1i64..64)).prop_map(|(profile, hop)| {
            let p = AwsProvider {
                instance_profile: Some(profile),
                subnet_selector: Some(BTreeMap::from([(
                    "karpenter.sh/discovery".to_string(),
                    "c".to_string(),
                )])),
                metadata_options: hop.map(|h| MetadataOptions {
                    http_put_response_hop_limit: Some(h),
                    ..Default::default()
                }),
                ..Default::default()
            };
            (Some(p), None)
        }),
    ];
    (
        "[a-z][a-z0-9-]{0,30}",
        btree_map(custom_key(), label_value(), 0..4),
        btree_map(custom_key(), ".{0,20}", 0..3),
        taints("example.com/t"),
        taints("example.com/s"),
        vec(requirement(), 0..6),
        option::of(kubelet()),
        provider,
        (
            option::of(0i64..100_000),
            option::of(0i64..10_000_000),
            any::<bool>(),
        ),
        option::of(btree_map(
            prop_oneof![Just("cpu".to_string()), Just("memory".to_string())],
            quantity(),
            1..3,
        )),
        option::of(1i32..=100),
    )
        .prop_map(
            |(
                name,
                labels,
                annotations,
                taints,
                startup_taints,
                requirements,
                kubelet,
                (provider, provider_ref),
                ttls,
                limits,
                weight,
            )| {
                let (after_empty, until_expired, consolidate) = ttls;
                Provisioner {
                    metadata: ObjectMeta {
                        name: Some(name),
                        ..Default::default()
                    },
                    spec: ProvisionerSpec {
                        annotations,
                        labels,
                        taints,
                        startup_taints,
                        requirements,
                        kubelet_configuration: kubelet,
                        provider,
                        provider_ref,
                        ttl_seconds_after_empty: if consolidate { None } else { after_empty },
                        ttl_seconds_until_expired: until_expired,
                        limits: limits.map(|resources| Limits { resources }),
                        weight,
                        consolidation: consolidate.then_some(Consolidation {
                            enabled: Some(true),
                        }),
                    },
                    status: None,
                }
            },
        )
}

fn duration() -> impl Strategy<Value = NillableDuration> {
    prop_oneof![
        Just(NillableDuration::NEVER),
        (0i64..10_000_000).prop_map(NillableDuration::from_secs)
    ]
}

fn node_pool() -> impl Strategy<Value = NodePool> {
    (
        vec(requirement(), 0..6),
        option::of(duration()),
        option::of(duration()),
        option::of(vec((0u32..=100, any::<bool>()), 0..4)),
        option::of(1i32..=100),
    )
        .prop_map(|(reqs, expire, after, budgets, weight)| {
            let mut p = NodePool::default();
            p.metadata.name = Some("pool".into());
            p.spec.template.spec = NodeClaimTemplateSpec {
                requirements: reqs
                    .into_iter()
                    .map(NodeSelectorRequirementWithMinValues::from)
                    .map(|mut r| {
                        if r.operator == "In" {
                            r.min_values = Some(r.values.len() as i32);
                        }
                        r
                    })
                    .collect(),
                node_class_ref: NodeClassReference {
                    group: "karpenter.k8s.aws".into(),
                    kind: "EC2NodeClass".into(),
                    name: "default".into(),
                },
                expire_after: expire,
                ..Default::default()
            };
            p.spec.disruption.consolidate_after = after;
            p.spec.disruption.budgets = budgets.map(|bs| {
                bs.into_iter()
                    .map(|(n, pct)| Budget {
                        nodes: if pct { format!("{n}%") } else { n.to_string() },
                        ..Budget::default()
                    })
                    .collect()
            });
            p.spec.weight = weight;
            p
        })
}

proptest! {
    #![proptest_config(ProptestConfig::with_cases(256))]

    #[test]
    fn valid_provisioners_round_trip(p in provisioner()) {
        prop_assert!(p.validate().is_ok(), "generated provisioner invalid: {:?}", p.validate());
        let yaml = serde_yaml::to_string(&p).expect("yaml");
        let back: Provisioner = serde_yaml::from_str(&yaml).expect("reparses");
        prop_assert_eq!(&back, &p);
        let json = serde_json::to_string(&p).expect("json");
        let back: Provisioner = serde_json::from_str(&json).expect("reparses");
        prop_assert_eq!(&back, &p);
        // Defaulting keeps it valid and is idempotent.
        let mut d = p.clone();
        d.set_defaults();
        prop_assert!(d.validate().is_ok());
        let once = d.clone();
        d.set_defaults();
        prop_assert_eq!(d, once);
    }

    #[test]
    fn valid_node_pools_round_trip(p in node_pool()) {
        prop_assert!(p.validate().is_ok(), "generated nodepool invalid: {:?}", p.validate());
        let yaml = serde_yaml::to_string(&p).expect("yaml");
        let back: NodePool = serde_yaml::from_str(&yaml).expect("reparses");
        prop_assert_eq!(&back, &p);
        let mut d = p.clone();
        d.set_defaults();
        prop_assert!(d.validate().is_ok());
    }

    #[test]
    fn quantity_parser_never_panics(s in ".{0,40}") {
        let _ = parse_quantity(&s);
        let _ = parse_milli(&s);
    }

    #[test]
    fn quantity_parser_never_panics_on_near_misses(s in "[+-]?[0-9]{0,45}(\\.[0-9]{0,45})?([eE][+-]?[0-9]{0,12}|[KMGTPE]i|[numkMGTPE]|x)?") {
        let _ = parse_quantity(&s);
        let _ = parse_milli(&s);
    }

    #[test]
    fn quantity_matches_arithmetic(n in 0i64..1_000_000_000, frac in 0u32..1000) {
        prop_assert_eq!(parse_quantity(&n.to_string()), Ok(i128::from(n) * 1000));
        prop_assert_eq!(parse_quantity(&format!("{n}m")), Ok(i128::from(n)));
        prop_assert_eq!(parse_quantity(&format!("{n}Ki")), Ok(i128::from(n) * 1024 * 1000));
        prop_assert_eq!(parse_quantity(&format!("-{n}k")), Ok(-i128::from(n) * 1_000_000));
        prop_assert_eq!(parse_quantity(&format!("{n}.{frac:03}")), Ok(i128::from(n) * 1000 + i128::from(frac)));
        // A fraction of a milli-unit rounds up.
        prop_assert_eq!(parse_quantity(&format!("{n}.{frac:03}1")), Ok(i128::from(n) * 1000 + i128::from(frac) + 1));
    }

    #[test]
    fn duration_parser_never_panics(s in ".{0,30}") {
        let _ = s.parse::<GoDuration>();
        let _ = s.parse::<NillableDuration>();
    }

    #[test]
    fn durations_round_trip(h in 0i64..10_000, m in 0i64..60, sec in 0i64..60, ms in 0i64..1000) {
        let text = format!("{h}h{m}m{sec}s{ms}ms");
        let d: GoDuration = text.parse().expect("parses");
        prop_assert_eq!(d.as_nanos(), ((h * 3600 + m * 60 + sec) * 1000 + ms) * 1_000_000);
        prop_assert_eq!(d.to_string().parse::<GoDuration>(), Ok(d));
    }
}
