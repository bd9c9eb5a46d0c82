//! minValues end to end on the in-memory cloud: the NodeClaim's instance
//! types span minValues values of the key (Karpenter's "should schedule
//! respecting the minValues from instance-type requirements"); with Strict a
//! pod that would leave fewer stays unschedulable naming the key; with
//! BestEffort the claim launches with minValues lowered and Karpenter's
//! `karpenter.sh/nodeclaim-min-values-relaxed` annotation.

mod common;

use std::collections::BTreeSet;

use common::{node_pool, pod};
use kerf_api::v1::NodeClaim;
use kerf_cloud::InMemoryCloud;
use kerf_core::snapshot::MinValuesPolicy;
use kerf_state::{ClusterState, DeterministicNames, PendingMode, ProvisionOptions, provision};

const FAMILY: &str = "karpenter.k8s.aws/instance-family";

/// A NodePool over m5.large, m5.xlarge and c5.xlarge that wants two families.
fn state(cpu: &str, memory: &str) -> ClusterState {
    let mut state = ClusterState::new();
    let (np, class) = node_pool(
        "general",
        "        - {key: karpenter.k8s.aws/instance-family, operator: Exists, minValues: 2}",
    );
    state.apply(np).unwrap();
    state.apply(class).unwrap();
    let mut p = pod("web", cpu, true);
    let requests = &mut p.spec.as_mut().unwrap().containers[0]
        .resources
        .as_mut()
        .unwrap()
        .requests;
    requests.as_mut().unwrap().insert(
        "memory".into(),
        k8s_openapi::apimachinery::pkg::api::resource::Quantity(memory.into()),
    );
    state.apply(p).unwrap();
    state
}

fn options(policy: MinValuesPolicy) -> ProvisionOptions {
    let mut o = ProvisionOptions {
        pending: PendingMode::Unschedulable,
        ..Default::default()
    };
    o.solve.min_values_policy = policy;
    o
}

fn families(claim: &NodeClaim) -> BTreeSet<String> {
    let types = &claim
        .spec
        .requirements
        .iter()
        .find(|r| r.key == "node.kubernetes.io/instance-type")
        .unwrap()
        .values;
    types
        .iter()
        .map(|t| t.split('.').next().unwrap().to_string())
        .collect()
}

fn family_min(claim: &NodeClaim) -> Option<i32> {
    claim
        .spec
        .requirements
        .iter()
        .find(|r| r.key == FAMILY)
        .and_then(|r| r.min_values)
}

#[tokio::test]
async fn claims_keep_min_values_families() {
    let cloud = InMemoryCloud::builtin();
    let state = state("1", "1Gi");
    let out = provision(
        &state,
        &cloud,
        &options(MinValuesPolicy::Strict),
        &mut DeterministicNames::default(),
    )
    .await
    .unwrap();
    assert!(out.unschedulable.is_empty(), "{:?}", out.unschedulable);
    let claim = &out.claims[0].claim;
    assert!(families(claim).len() >= 2, "{:?}", families(claim));
    assert_eq!(family_min(claim), Some(2));
    let annotations = claim.metadata.annotations.clone().unwrap_or_default();
    assert!(!annotations.contains_key(kerf_state::claims::MIN_VALUES_RELAXED));
}

#[tokio::test]
async fn strict_leaves_the_pod_pending_naming_the_key() {
    // 10Gi fits m5.xlarge only: one family left.
    let cloud = InMemoryCloud::builtin();
    let state = state("1", "10Gi");
    let out = provision(
        &state,
        &cloud,
        &options(MinValuesPolicy::Strict),
        &mut DeterministicNames::default(),
    )
    .await
    .unwrap();
    assert!(out.claims.is_empty(), "{:?}", out.claims.len());
    let reason = &out.unschedulable[0].reason;
    assert!(
        reason.contains("minValues") && reason.contains(FAMILY),
        "{reason}"
    );
}

#[tokio::test]
async fn best_effort_lowers_min_values_and_annotates() {
    let cloud = InMemoryCloud::builtin();
    let state = state("1", "10Gi");
    let out = provision(
        &state,
        &cloud,
        &options(MinValuesPolicy::BestEffort),
        &mut DeterministicNames::default(),
    )
    .await
    .unwrap();
    assert!(out.unschedulable.is_empty(), "{:?}", out.unschedulable);
    let claim = &out.claims[0].claim;
    assert_eq!(families(claim), BTreeSet::from(["m5".to_string()]));
    assert_eq!(family_min(claim), Some(1));
    let annotations = claim.metadata.annotations.clone().unwrap_or_default();
    assert_eq!(
        annotations
            .get(kerf_state::claims::MIN_VALUES_RELAXED)
            .map(String::as_str),
        Some("true")
    );
}
