//! Expected replicas: a pass plans, with a ReplicaSet's pending pods, for the
//! replicas it has yet to create, so a ramping scale-up gets its nodes in the
//! first batch and the later batches land on the nodes in flight.

mod common;

use common::{seed_state, yaml};
use k8s_openapi::api::apps::v1::ReplicaSet;
use k8s_openapi::api::core::v1::Pod;
use kerf_cloud::InMemoryCloud;
use kerf_state::{ClusterState, DeterministicNames, PendingMode, ProvisionOptions, provision};

fn replica_set(replicas: i32, uid: &str, failing: bool) -> ReplicaSet {
    let status = if failing {
        "status: {replicas: 3, conditions: [{type: ReplicaFailure, status: 'True', reason: FailedCreate}]}"
    } else {
        "status: {replicas: 3}"
    };
    yaml(&format!(
        r#"
apiVersion: apps/v1
kind: ReplicaSet
metadata: {{name: inflate-7d9f, namespace: default, uid: {uid}}}
spec:
  replicas: {replicas}
  selector: {{matchLabels: {{app: inflate}}}}
  template:
    metadata: {{labels: {{app: inflate}}}}
    spec:
      containers: [{{name: c, image: pause, resources: {{requests: {{cpu: "1"}}}}}}]
{status}
"#
    ))
}

/// A pod of the ReplicaSet: pending (marked unschedulable), or bound to a node.
fn replica(name: &str, node: Option<&str>, terminating: bool) -> Pod {
    let spec_node = node.map(|n| format!("nodeName: {n}, ")).unwrap_or_default();
    let status = if node.is_some() {
        "status: {phase: Running}"
    } else {
        "status: {conditions: [{type: PodScheduled, status: 'False', reason: Unschedulable}]}"
    };
    let deleting = if terminating {
        ", deletionTimestamp: '2026-12-01T00:00:00Z'"
    } else {
        ""
    };
    yaml(&format!(
        r#"
apiVersion: v1
kind: Pod
metadata:
  {{name: {name}, namespace: default, labels: {{app: inflate}}{deleting},
   ownerReferences: [{{apiVersion: apps/v1, kind: ReplicaSet, name: inflate-7d9f, uid: rs-1, controller: true}}]}}
spec: {{{spec_node}containers: [{{name: c, image: pause, resources: {{requests: {{cpu: "1"}}}}}}]}}
{status}
"#
    ))
}

fn options(expected_replicas: bool) -> ProvisionOptions {
    ProvisionOptions {
        pending: PendingMode::Unschedulable,
        expected_replicas,
        ..Default::default()
    }
}

/// The seed Provisioner, a ReplicaSet wanting `replicas`, 5 of its pods
/// pending, 2 running and 1 terminating.
fn ramping(replicas: i32, uid: &str, failing: bool) -> ClusterState {
    let mut state = seed_state(0);
    state.apply(replica_set(replicas, uid, failing)).unwrap();
    for i in 0..5 {
        state
            .apply(replica(&format!("inflate-7d9f-p{i}"), None, false))
            .unwrap();
    }
    for i in 0..2 {
        state
            .apply(replica(
                &format!("inflate-7d9f-r{i}"),
                Some("elsewhere"),
                false,
            ))
            .unwrap();
    }
    state
        .apply(replica("inflate-7d9f-t0", Some("elsewhere"), true))
        .unwrap();
    state
}

fn planned_cpu(outcome: &kerf_state::ProvisionOutcome) -> i64 {
    outcome
        .plan
        .new_nodes
        .iter()
        .map(|n| n.pod_requests.cpu)
        .sum()
}

#[tokio::test]
async fn missing_replicas_are_planned_but_never_reported() {
    let cloud = InMemoryCloud::builtin();
    let state = ramping(20, "rs-1", false);
    let outcome = provision(
        &state,
        &cloud,
        &options(true),
        &mut DeterministicNames::default(),
    )
    .await
    .unwrap();
    // 20 wanted − 5 pending − 2 running (the terminating one is going).
    assert_eq!(outcome.expected.len(), 13, "{:?}", outcome.expected);
    assert!(
        outcome
            .expected
            .iter()
            .all(|k| k.name.starts_with("inflate-7d9f-expected-"))
    );
    assert_eq!(
        planned_cpu(&outcome),
        18_000,
        "nodes for 5 pending + 13 expected"
    );
    let on_claims: Vec<&str> = outcome
        .claims
        .iter()
        .flat_map(|c| &c.pods)
        .map(|k| k.name.as_str())
        .collect();
    assert_eq!(on_claims.len(), 5, "{on_claims:?}");
    assert!(on_claims.iter().all(|n| n.starts_with("inflate-7d9f-p")));
    assert!(outcome.unschedulable.is_empty());
}

#[tokio::test]
async fn the_replicas_that_arrive_later_land_on_the_claims_in_flight() {
    let cloud = InMemoryCloud::builtin();
    let mut state = ramping(20, "rs-1", false);
    let mut names = DeterministicNames::default();
    let first = provision(&state, &cloud, &options(true), &mut names)
        .await
        .unwrap();
    assert!(!first.claims.is_empty());
    for c in &first.claims {
        state.apply(c.claim.clone()).unwrap();
    }
    for i in 5..18 {
        state
            .apply(replica(&format!("inflate-7d9f-p{i}"), None, false))
            .unwrap();
    }
    let second = provision(&state, &cloud, &options(true), &mut names)
        .await
        .unwrap();
    assert!(
        second.expected.is_empty(),
        "all 20 exist: {:?}",
        second.expected
    );
    assert!(
        second.claims.is_empty(),
        "second pass launched {} claims",
        second.claims.len()
    );
    assert!(
        second.unschedulable.is_empty(),
        "{:?}",
        second.unschedulable
    );
}

#[tokio::test]
async fn nothing_is_expected_when_told_not_to_or_when_creation_fails() {
    let cloud = InMemoryCloud::builtin();
    let cases = [
        ("off", ramping(20, "rs-1", false), false),
        ("ReplicaFailure", ramping(20, "rs-1", true), true),
        (
            "another ReplicaSet of the same name",
            ramping(20, "rs-2", false),
            true,
        ),
        ("scaling down", ramping(4, "rs-1", false), true),
    ];
    for (case, state, on) in cases {
        let outcome = provision(
            &state,
            &cloud,
            &options(on),
            &mut DeterministicNames::default(),
        )
        .await
        .unwrap();
        assert!(
            outcome.expected.is_empty(),
            "{case}: {:?}",
            outcome.expected
        );
        assert_eq!(planned_cpu(&outcome), 5_000, "{case}");
    }
}

#[test]
fn stored_replica_sets_drop_their_pod_template() {
    let mut state = ClusterState::new();
    let key = state.apply(replica_set(3, "rs-1", false)).unwrap();
    let stored = state.get::<ReplicaSet>(&key).unwrap();
    let spec = stored.spec.as_ref().unwrap();
    assert_eq!(spec.replicas, Some(3));
    assert!(spec.template.is_none());
}

#[tokio::test]
async fn nothing_more_is_expected_while_the_first_claims_launch() {
    let cloud = InMemoryCloud::builtin();
    let mut state = ramping(20, "rs-1", false);
    let mut names = DeterministicNames::default();
    let first = provision(&state, &cloud, &options(true), &mut names)
        .await
        .unwrap();
    assert_eq!(first.expected.len(), 13);
    for c in &first.claims {
        state.apply(c.claim.clone()).unwrap();
    }
    // Two more arrive; 11 are still missing, but the claims have not launched.
    for i in 5..7 {
        state
            .apply(replica(&format!("inflate-7d9f-p{i}"), None, false))
            .unwrap();
    }
    let second = provision(&state, &cloud, &options(true), &mut names)
        .await
        .unwrap();
    assert!(second.expected.is_empty(), "{:?}", second.expected);
    assert!(second.claims.is_empty(), "{} claims", second.claims.len());
}

#[test]
fn a_replica_set_extends_a_batch_only_while_its_replicas_are_expected() {
    let pending = replica("inflate-7d9f-p9", None, false);
    let mut state = ramping(20, "rs-1", false);
    assert_eq!(
        state.demand_key(&pending).as_deref(),
        Some("ReplicaSet/rs-1"),
        "its missing siblings are planned with it"
    );
    for (case, state) in [
        ("ReplicaFailure", ramping(20, "rs-1", true)),
        (
            "another ReplicaSet of the same name",
            ramping(20, "rs-2", false),
        ),
    ] {
        assert_eq!(state.demand_key(&pending), None, "{case}");
    }
    let mut orphan = pending.clone();
    orphan.metadata.owner_references = None;
    assert_eq!(state.demand_key(&orphan), None, "no ReplicaSet");

    let claim: kerf_api::v1::NodeClaim = yaml(
        r#"
apiVersion: karpenter.sh/v1
kind: NodeClaim
metadata: {name: default-abc12}
spec:
  nodeClassRef: {group: karpenter.k8s.aws, kind: EC2NodeClass, name: default}
  requirements: []
"#,
    );
    state.apply(claim).unwrap();
    assert_eq!(
        state.demand_key(&pending),
        None,
        "nothing is expected while a claim launches: each pod counts"
    );
}
