//! The in-memory cloud through the `CloudProvider` trait: launch, list, get,
//! delete, drift, recorded calls, and falling back when offerings lack capacity.

use std::collections::BTreeMap;

use k8s_openapi::apimachinery::pkg::api::resource::Quantity;
use kerf_api::v1::{
    NodeClaimSpec, NodeClassReference, NodeSelectorRequirementWithMinValues, ResourceRequirements,
};

use super::*;
use crate::fake::fake_instance_types;
use crate::labels;

fn req(key: &str, values: &[&str]) -> NodeSelectorRequirementWithMinValues {
    NodeSelectorRequirementWithMinValues {
        key: key.to_string(),
        operator: "In".to_string(),
        values: values.iter().map(|v| v.to_string()).collect(),
        min_values: None,
    }
}

fn claim(name: &str, requirements: Vec<NodeSelectorRequirementWithMinValues>) -> NodeClaim {
    let spec = NodeClaimSpec {
        requirements,
        node_class_ref: NodeClassReference {
            group: "karpenter.k8s.aws".to_string(),
            kind: "EC2NodeClass".to_string(),
            name: "default".to_string(),
        },
        ..Default::default()
    };
    NodeClaim::new(name, spec)
}

fn m5_claim(name: &str) -> NodeClaim {
    claim(
        name,
        vec![
            req(labels::INSTANCE_TYPE, &["m5.large", "m5.xlarge"]),
            req(labels::CAPACITY_TYPE, &["spot", "on-demand"]),
            req(labels::ZONE, &["us-east-1a", "us-east-1b"]),
        ],
    )
}

fn status(c: &NodeClaim) -> &NodeClaimStatus {
    c.status.as_ref().expect("launched claims have a status")
}

fn q(map: &BTreeMap<String, Quantity>, key: &str) -> String {
    map.get(key).map(|q| q.0.clone()).unwrap_or_default()
}

fn label<'a>(c: &'a NodeClaim, key: &str) -> Option<&'a str> {
    c.metadata
        .labels
        .as_ref()
        .and_then(|l| l.get(key))
        .map(String::as_str)
}

/// The cheapest spot zone of m5.large among 1a and 1b in the built-in catalogue.
fn cheapest_m5_large_spot(excluding: &[&str]) -> (String, f64) {
    let catalog = Catalog::builtin();
    let entry = catalog.get("m5.large").expect("m5.large in the catalogue");
    entry
        .spot
        .iter()
        .filter(|(z, _)| {
            ["us-east-1a", "us-east-1b"].contains(&z.as_str()) && !excluding.contains(&z.as_str())
        })
        .min_by(|a, b| a.1.total_cmp(b.1))
        .map(|(z, p)| (z.clone(), *p))
        .expect("a spot price")
}

#[tokio::test]
async fn create_launches_the_cheapest_offering() {
    let cloud: Arc<dyn CloudProvider> = Arc::new(InMemoryCloud::builtin());
    assert_eq!(cloud.name(), "kerf-memory");
    let launched = cloud.create(&m5_claim("a")).await.expect("launches");
    let (zone, _) = cheapest_m5_large_spot(&[]);
    let s = status(&launched);
    assert_eq!(
        s.provider_id.as_deref(),
        Some(format!("kerf-memory:///{zone}/i-00000000000000001").as_str())
    );
    assert_eq!(label(&launched, labels::INSTANCE_TYPE), Some("m5.large"));
    assert_eq!(label(&launched, labels::ZONE), Some(zone.as_str()));
    assert_eq!(label(&launched, labels::CAPACITY_TYPE), Some("spot"));
    assert_eq!(label(&launched, labels::REGION), Some("us-east-1"));
    assert_eq!(label(&launched, labels::INSTANCE_FAMILY), Some("m5"));
    assert_eq!(q(&s.capacity, "cpu"), "2");
    assert_eq!(q(&s.capacity, "memory"), "7577Mi");
    assert_eq!(q(&s.allocatable, "cpu"), "1930m");
    assert_eq!(q(&s.allocatable, "memory"), "6903Mi");
    assert_eq!(q(&s.allocatable, "pods"), "29");
    assert_eq!(q(&s.allocatable, "ephemeral-storage"), "17Gi");
}

#[tokio::test]
async fn ids_are_deterministic() {
    let run = || async {
        let cloud = InMemoryCloud::builtin();
        let mut ids = Vec::new();
        for i in 0..3 {
            let c = cloud
                .create(&m5_claim(&format!("c{i}")))
                .await
                .expect("launches");
            ids.push(status(&c).provider_id.clone().unwrap_or_default());
        }
        ids
    };
    let first = run().await;
    assert_eq!(first, run().await);
    assert!(first[2].ends_with("/i-00000000000000003"), "{first:?}");
}

#[tokio::test]
async fn list_get_and_delete() {
    let cloud = InMemoryCloud::builtin();
    let a = cloud.create(&m5_claim("a")).await.expect("launches");
    let b = cloud.create(&m5_claim("b")).await.expect("launches");
    let names = |list: Vec<NodeClaim>| {
        list.into_iter()
            .filter_map(|c| c.metadata.name)
            .collect::<Vec<_>>()
    };
    assert_eq!(names(cloud.list().await.expect("list")), ["a", "b"]);

    let pid = status(&a).provider_id.clone().unwrap_or_default();
    assert_eq!(
        cloud
            .get(&pid)
            .await
            .expect("found")
            .metadata
            .name
            .as_deref(),
        Some("a")
    );
    cloud.delete(&a).await.expect("deleted");
    assert_eq!(names(cloud.list().await.expect("list")), ["b"]);
    assert!(cloud.get(&pid).await.expect_err("gone").is_not_found());
    cloud.delete(&a).await.expect("already gone is fine");
    cloud
        .delete(&m5_claim("never-launched"))
        .await
        .expect("never launched is fine");
    assert!(
        cloud
            .get("aws:///us-east-1a/i-0123")
            .await
            .expect_err("foreign id")
            .is_not_found()
    );
    assert_eq!(cloud.instance_count(), 1);
    assert!(status(&b).provider_id.is_some());
}

#[tokio::test]
async fn insufficient_capacity_falls_back_then_fails() {
    let cloud = InMemoryCloud::builtin();
    let (first_zone, _) = cheapest_m5_large_spot(&[]);
    let (second_zone, _) = cheapest_m5_large_spot(&[&first_zone]);
    let first = OfferingKey::new("m5.large", &first_zone, "spot");
    cloud.insufficient_capacity(first.clone());

    let launched = cloud.create(&m5_claim("a")).await.expect("falls back");
    assert_eq!(label(&launched, labels::ZONE), Some(second_zone.as_str()));
    assert_eq!(label(&launched, labels::CAPACITY_TYPE), Some("spot"));
    assert_eq!(cloud.unavailable_offerings(), std::slice::from_ref(&first));

    // The scheduler now sees the offering as unavailable.
    let types = cloud
        .instance_types(&NodeTemplateContext::default())
        .await
        .expect("types");
    let m5 = types
        .iter()
        .find(|t| t.name == "m5.large")
        .expect("m5.large");
    let offering = m5
        .offerings
        .iter()
        .find(|o| o.zone == first_zone && o.capacity_type == "spot")
        .expect("offering");
    assert!(!offering.available);
    assert!(
        m5.requirements
            .get(labels::ZONE)
            .is_some_and(|r| r.has(&first_zone)),
        "on-demand is still there"
    );

    // No capacity anywhere the claim allows: the error lists every offering.
    let spot_only = claim(
        "b",
        vec![
            req(labels::INSTANCE_TYPE, &["m5.large"]),
            req(labels::CAPACITY_TYPE, &["spot"]),
        ],
    );
    for zone in ["us-east-1a", "us-east-1b", "us-east-1c"] {
        cloud.insufficient_capacity(OfferingKey::new("m5.large", zone, "spot"));
    }
    match cloud.create(&spot_only).await {
        Err(CloudError::InsufficientCapacity { offerings }) => {
            assert_eq!(offerings.len(), 3, "{offerings:?}");
            assert!(
                offerings
                    .iter()
                    .all(|o| o.instance_type == "m5.large" && o.capacity_type == "spot")
            );
        }
        other => panic!("expected insufficient capacity, got {other:?}"),
    }
    cloud.clear_unavailable();
    for zone in ["us-east-1a", "us-east-1b", "us-east-1c"] {
        cloud.restore_capacity(&OfferingKey::new("m5.large", zone, "spot"));
    }
    assert!(cloud.create(&spot_only).await.is_ok());
}

#[tokio::test]
async fn invalid_claims_and_injected_errors() {
    let cloud = InMemoryCloud::builtin();
    // p3 is retired: priced upstream, but with no shape, so not in the catalogue.
    let impossible = claim("x", vec![req(labels::INSTANCE_TYPE, &["p3.2xlarge"])]);
    assert!(matches!(
        cloud.create(&impossible).await,
        Err(CloudError::InvalidClaim { .. })
    ));

    let mut huge = m5_claim("big");
    huge.spec.resources = ResourceRequirements {
        requests: [("cpu".to_string(), Quantity("64".to_string()))].into(),
    };
    assert!(
        matches!(
            cloud.create(&huge).await,
            Err(CloudError::InvalidClaim { .. })
        ),
        "requests must fit"
    );

    let bad_op = claim(
        "y",
        vec![NodeSelectorRequirementWithMinValues {
            operator: "Near".to_string(),
            ..req("k", &[])
        }],
    );
    assert!(matches!(
        cloud.create(&bad_op).await,
        Err(CloudError::InvalidClaim { .. })
    ));

    cloud.fail_next_create(CloudError::other("creating fleet", "throttled"));
    let err = cloud.create(&m5_claim("a")).await.expect_err("injected");
    assert_eq!(err.to_string(), "creating fleet: throttled");
    assert!(
        cloud.create(&m5_claim("a")).await.is_ok(),
        "only the next create fails"
    );
}

#[tokio::test]
async fn node_class_kubelet_settings_shape_launches() {
    let cloud = InMemoryCloud::builtin();
    let kubelet = KubeletSettings {
        max_pods: Some(20),
        ..Default::default()
    };
    let types = cloud
        .instance_types(&NodeTemplateContext::new("default", kubelet))
        .await
        .expect("types");
    assert!(types.iter().all(|t| t.capacity.pods == 20_000));
    let launched = cloud.create(&m5_claim("a")).await.expect("launches");
    assert_eq!(q(&status(&launched).capacity, "pods"), "20");
}

#[tokio::test]
async fn drift_and_recorded_calls() {
    let cloud = InMemoryCloud::from_instance_types(fake_instance_types(5));
    let launched = cloud
        .create(&claim(
            "f",
            vec![req(labels::INSTANCE_TYPE, &["fake-it-3"])],
        ))
        .await
        .expect("launches");
    assert_eq!(label(&launched, labels::INSTANCE_TYPE), Some("fake-it-3"));
    let pid = status(&launched).provider_id.clone().unwrap_or_default();
    assert!(pid.starts_with("kerf-memory:///test-zone-1/"), "{pid}");
    assert_eq!(
        cloud
            .is_drifted(&launched, &Default::default())
            .await
            .expect("known"),
        None
    );
    cloud.set_drifted(&pid, "AMIDrift");
    assert_eq!(
        cloud
            .is_drifted(&launched, &Default::default())
            .await
            .expect("known")
            .as_deref(),
        Some("AMIDrift")
    );
    cloud.delete(&launched).await.expect("deleted");
    assert!(
        cloud
            .is_drifted(&launched, &Default::default())
            .await
            .expect_err("gone")
            .is_not_found()
    );
    assert_eq!(
        cloud.calls(),
        [
            Call::Create {
                claim: "f".to_string()
            },
            Call::IsDrifted {
                claim: "f".to_string(),
                provider_id: Some(pid.clone())
            },
            Call::IsDrifted {
                claim: "f".to_string(),
                provider_id: Some(pid.clone())
            },
            Call::Delete {
                claim: "f".to_string(),
                provider_id: Some(pid.clone())
            },
            Call::IsDrifted {
                claim: "f".to_string(),
                provider_id: Some(pid.clone())
            },
        ]
    );
    cloud.clear_calls();
    assert!(cloud.calls().is_empty());
}

#[test]
fn provider_ids_round_trip() {
    let pid = format_provider_id("us-east-1c", 42);
    assert_eq!(pid, "kerf-memory:///us-east-1c/i-0000000000000002a");
    assert_eq!(parse_provider_id(&pid), Some(42));
    assert_eq!(parse_provider_id("aws:///us-east-1c/i-2a"), None);
}
