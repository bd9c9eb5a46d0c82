//! `karpenter.k8s.aws/instance-tenancy` from a pod to the NodeClaim kerf
//! creates and launches: a pod that asks for dedicated tenancy gets a claim
//! that requires it and is labelled so (the AWS provider launches such a
//! claim from a dedicated-placement template, see kerf-aws's moto `launch`
//! tests); a pod that does not gets a node of default tenancy once launched.

mod common;

use std::collections::BTreeMap;

use common::{node_pool, pod};
use kerf_cloud::InMemoryCloud;
use kerf_state::{ClusterState, DeterministicNames, PendingMode, ProvisionOptions, provision};

const TENANCY: &str = "karpenter.k8s.aws/instance-tenancy";

#[tokio::test]
async fn the_claim_carries_the_tenancy_its_pod_asked_for() {
    let cloud = InMemoryCloud::builtin();
    let (np, class) = node_pool("general", "");
    let mut state = ClusterState::new();
    state.apply(np).unwrap();
    state.apply(class).unwrap();
    let mut dedicated = pod("single-tenant", "3", false);
    dedicated.spec.as_mut().unwrap().node_selector = Some(BTreeMap::from([(
        TENANCY.to_string(),
        "dedicated".to_string(),
    )]));
    state.apply(dedicated).unwrap();
    state.apply(pod("shared", "3", false)).unwrap();
    let options = ProvisionOptions {
        pending: PendingMode::AllUnbound,
        ..Default::default()
    };
    let out = provision(&state, &cloud, &options, &mut DeterministicNames::default())
        .await
        .unwrap();
    assert!(out.unschedulable.is_empty(), "{:?}", out.unschedulable);
    assert_eq!(out.claims.len(), 2, "the two pods cannot share a node");
    for planned in &out.claims {
        use kerf_cloud::CloudProvider;
        let launched = cloud.create(&planned.claim).await.expect("launch");
        let labels = launched.metadata.labels.clone().unwrap_or_default();
        let requirement = planned
            .claim
            .spec
            .requirements
            .iter()
            .find(|r| r.key == TENANCY);
        let pod = planned.pods[0].name.as_str();
        if pod == "single-tenant" {
            assert_eq!(labels.get(TENANCY).map(String::as_str), Some("dedicated"));
            let r = requirement.expect("the claim requires the tenancy");
            assert_eq!(
                (r.operator.as_str(), r.values.as_slice()),
                ("In", ["dedicated".to_string()].as_slice())
            );
        } else {
            assert_eq!(pod, "shared");
            assert_eq!(labels.get(TENANCY).map(String::as_str), Some("default"));
        }
    }
}
