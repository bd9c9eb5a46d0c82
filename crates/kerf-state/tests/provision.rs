//! One provisioning pass end to end on the in-memory cloud: claims from plans,
//! in-flight claims and existing nodes counted, limits, pool labels.

mod common;

use std::collections::BTreeMap;

use common::{node_pool, pod, seed_provisioner, seed_state, yaml};
use k8s_openapi::api::apps::v1::DaemonSet;
use k8s_openapi::api::core::v1::Node;
use kerf_api::v1::NodeClaim;
use kerf_cloud::{CloudProvider, InMemoryCloud};
use kerf_core::resources::Resources;
use kerf_core::template::{PoolKind, PoolRef};
use kerf_state::{
    ClusterState, DeterministicNames, InstanceTypes, NameGenerator, PendingMode, ProvisionOptions,
    RandomNames, SnapshotOptions, provision,
};

fn karpenter_rule() -> ProvisionOptions {
    ProvisionOptions {
        pending: PendingMode::Unschedulable,
        ..Default::default()
    }
}

fn seed_pool() -> PoolRef {
    PoolRef {
        kind: PoolKind::Provisioner,
        name: "default".into(),
    }
}

/// How many 1-cpu pods one m5.2xlarge holds, from the cloud's own allocatable.
async fn per_node(cloud: &InMemoryCloud, state: &ClusterState) -> usize {
    let ctx = state.pools().ready[0].context();
    let types = cloud.instance_types(&ctx).await.unwrap();
    let m5 = types.iter().find(|t| t.name == "m5.2xlarge").unwrap();
    (m5.allocatable().cpu / 1000) as usize
}

#[tokio::test]
async fn in_flight_claims_are_not_provisioned_twice() {
    let cloud = InMemoryCloud::builtin();
    let mut state = seed_state(10);
    let per = per_node(&cloud, &state).await;
    let mut names = DeterministicNames::default();
    let first = provision(&state, &cloud, &karpenter_rule(), &mut names)
        .await
        .unwrap();
    assert!(first.unschedulable.is_empty(), "{:?}", first.unschedulable);
    assert_eq!(first.claims.len(), 10usize.div_ceil(per));
    let planned: usize = first.claims.iter().map(|c| c.pods.len()).sum();
    assert_eq!(planned, 10);

    // The controller persists the claims (not yet launched): a second pass
    // over the same pending pods must reuse them.
    for c in &first.claims {
        state.apply(c.claim.clone()).unwrap();
    }
    let second = provision(&state, &cloud, &karpenter_rule(), &mut names)
        .await
        .unwrap();
    assert!(
        second.claims.is_empty(),
        "double provisioned: {:?}",
        second.plan.new_nodes
    );
    let on_existing: usize = second.plan.existing.iter().map(|e| e.pods.len()).sum();
    assert_eq!(on_existing, 10);
    let in_flight: Vec<_> = second
        .snapshot
        .nodes
        .iter()
        .filter(|n| n.in_flight)
        .collect();
    assert_eq!(in_flight.len(), first.claims.len());
    assert_eq!(in_flight[0].pool, Some(seed_pool()));

    // Launched claims (status filled by the cloud) count the same way.
    for c in &first.claims {
        state.apply(cloud.create(&c.claim).await.unwrap()).unwrap();
    }
    let third = provision(&state, &cloud, &karpenter_rule(), &mut names)
        .await
        .unwrap();
    assert!(third.claims.is_empty());

    // More pods than the in-flight claims hold: only the overflow gets a new claim.
    for i in 10..10 + per {
        state.apply(pod(&format!("more-{i}"), "1", true)).unwrap();
    }
    let fourth = provision(&state, &cloud, &karpenter_rule(), &mut names)
        .await
        .unwrap();
    let new_pods: usize = fourth.claims.iter().map(|c| c.pods.len()).sum();
    let spare = first.claims.len() * per - 10;
    assert_eq!(new_pods, per - spare);
    for c in &fourth.claims {
        let name = c.claim.metadata.name.as_deref().unwrap();
        assert!(state.get::<NodeClaim>(name).is_none(), "name {name} reused");
    }
}

#[tokio::test]
async fn no_pending_pods_no_cloud_calls() {
    let cloud = InMemoryCloud::builtin();
    let state = seed_state(0);
    let out = provision(&state, &cloud, &karpenter_rule(), &mut RandomNames)
        .await
        .unwrap();
    assert!(out.claims.is_empty());
    assert!(cloud.calls().is_empty());
}

fn node(name: &str, pool_label: (&str, &str), cpu: &str) -> Node {
    yaml(&format!(
        r#"
metadata:
  name: {name}
  labels: {{"{}": "{}", node.kubernetes.io/instance-type: m5.2xlarge, topology.kubernetes.io/zone: us-east-1c}}
spec: {{providerID: "aws:///us-east-1c/i-{name}"}}
status:
  capacity: {{cpu: "{cpu}", memory: 32Gi, pods: "58"}}
  allocatable: {{cpu: "{cpu}", memory: 28Gi, pods: "58"}}
  conditions: [{{type: Ready, status: "True"}}]
"#,
        pool_label.0, pool_label.1
    ))
}

#[tokio::test]
async fn limits_count_nodes_and_in_flight_claims() {
    let cloud = InMemoryCloud::builtin();
    let mut p = seed_provisioner();
    p.spec.limits = Some(yaml("{resources: {cpu: '24'}}"));
    let mut state = ClusterState::new();
    state.apply(p).unwrap();
    // A full node of this provisioner (8 cpu), and an in-flight claim.
    state
        .apply(node(
            "n1",
            ("karpenter.sh/provisioner-name", "default"),
            "8",
        ))
        .unwrap();
    for i in 0..8 {
        let mut bound = pod(&format!("running-{i}"), "1", false);
        bound.spec.as_mut().unwrap().node_name = Some("n1".into());
        state.apply(bound).unwrap();
    }
    let mut one = seed_state(1);
    let claim = provision(
        &one,
        &cloud,
        &karpenter_rule(),
        &mut DeterministicNames::default(),
    )
    .await
    .unwrap()
    .claims
    .remove(0)
    .claim;
    one.apply(claim.clone()).unwrap();
    state.apply(claim).unwrap();

    let pools = state.pools();
    let ctx = pools.ready[0].context();
    let types: InstanceTypes =
        BTreeMap::from([(seed_pool(), cloud.instance_types(&ctx).await.unwrap())]);
    let built = state.snapshot(&types, &SnapshotOptions::default());
    assert!(built.problems.is_empty(), "{:?}", built.problems);
    let t = &built.snapshot.templates[0];
    assert_eq!(t.limits["cpu"], 24_000);
    // 8 cpu from the node, 8 from the in-flight m5.2xlarge claim.
    assert_eq!(t.in_use.cpu, 16_000);
    assert_eq!(built.snapshot.nodes.len(), 2);

    // 20 more 1-cpu pods: the claim holds a few, the limit leaves room for one
    // more 8-cpu node, the rest cannot be placed and say why.
    for i in 0..20 {
        state.apply(pod(&format!("p-{i:02}"), "1", true)).unwrap();
    }
    let out = provision(
        &state,
        &cloud,
        &karpenter_rule(),
        &mut DeterministicNames::default(),
    )
    .await
    .unwrap();
    assert_eq!(out.claims.len(), 1, "one more node fits under the limit");
    assert!(!out.unschedulable.is_empty());
    assert!(
        out.unschedulable[0].reason.contains("limit"),
        "{}",
        out.unschedulable[0].reason
    );
}

#[tokio::test]
async fn claims_carry_pool_labels_requirements_and_requests() {
    let cloud = InMemoryCloud::builtin();
    let mut state = ClusterState::new();
    let (np, class) = node_pool("general", "");
    state.apply(np).unwrap();
    state.apply(class).unwrap();
    state.apply(seed_provisioner()).unwrap();
    let ds: DaemonSet = yaml(
        r#"
metadata: {name: agent, namespace: kube-system}
spec:
  selector: {matchLabels: {app: agent}}
  template:
    metadata: {labels: {app: agent}}
    spec:
      tolerations: [{operator: Exists}]
      containers: [{name: a, image: agent, resources: {requests: {cpu: 100m, memory: 128Mi}}}]
"#,
    );
    state.apply(ds).unwrap();
    let mut to_pool = pod("to-pool", "2", true);
    to_pool.spec.as_mut().unwrap().node_selector =
        Some([("karpenter.sh/nodepool".to_string(), "general".to_string())].into());
    state.apply(to_pool).unwrap();
    let mut to_prov = pod("to-prov", "1", true);
    to_prov.spec.as_mut().unwrap().node_selector = Some(
        [(
            "karpenter.sh/provisioner-name".to_string(),
            "default".to_string(),
        )]
        .into(),
    );
    state.apply(to_prov).unwrap();

    let out = provision(
        &state,
        &cloud,
        &karpenter_rule(),
        &mut DeterministicNames::default(),
    )
    .await
    .unwrap();
    assert!(out.unschedulable.is_empty(), "{:?}", out.unschedulable);
    assert_eq!(
        out.claims.len(),
        2,
        "{:#?} {:?}",
        out.plan
            .new_nodes
            .iter()
            .map(|n| (&n.name, &n.pods))
            .collect::<Vec<_>>(),
        out.snapshot
            .pending
            .iter()
            .map(|p| &p.metadata.name)
            .collect::<Vec<_>>()
    );
    let by_pool = |kind| out.claims.iter().find(|c| c.pool.kind == kind).unwrap();

    let np_claim = &by_pool(PoolKind::NodePool).claim;
    let labels = np_claim.metadata.labels.as_ref().unwrap();
    assert_eq!(labels["karpenter.sh/nodepool"], "general");
    // Karpenter v1's NodeClassLabelKey, by which it tells the nodes it manages.
    assert_eq!(labels["karpenter.k8s.aws/ec2nodeclass"], "general");
    assert!(!labels.contains_key("karpenter.sh/provisioner-name"));
    let owner = &np_claim.metadata.owner_references.as_ref().unwrap()[0];
    assert_eq!(
        (owner.kind.as_str(), owner.name.as_str(), owner.uid.as_str()),
        (
            "NodePool",
            "general",
            "0f6a7c2e-1111-2222-3333-444455556666"
        )
    );
    assert_eq!(np_claim.spec.node_class_ref.name, "general");
    assert!(
        np_claim
            .metadata
            .name
            .as_deref()
            .unwrap()
            .starts_with("general-")
    );
    let req = |claim: &NodeClaim, key: &str| -> (String, Vec<String>) {
        let r = claim
            .spec
            .requirements
            .iter()
            .find(|r| r.key == key)
            .unwrap();
        (r.operator.clone(), r.values.clone())
    };
    // m5.large (1930m allocatable) cannot hold 2 cpu + 100m; the rest, cheapest first.
    let (op, types) = req(np_claim, "node.kubernetes.io/instance-type");
    assert_eq!(op, "In");
    assert!(!types.contains(&"m5.large".to_string()), "{types:?}");
    let prices: Vec<f64> = types
        .iter()
        .map(|t| {
            let it = out.instance_types[&by_pool(PoolKind::NodePool).pool]
                .iter()
                .find(|i| &i.name == t)
                .unwrap();
            let reqs = &out
                .plan
                .new_nodes
                .iter()
                .find(|n| n.pool.kind == PoolKind::NodePool)
                .unwrap()
                .requirements;
            it.cheapest_offering(reqs).unwrap().price
        })
        .collect();
    assert!(
        prices.windows(2).all(|w| w[0] <= w[1]),
        "{types:?} {prices:?}"
    );
    assert_eq!(
        req(np_claim, "topology.kubernetes.io/zone"),
        ("In".into(), vec!["us-east-1a".into()])
    );
    // NodePools without a capacity-type requirement launch on-demand.
    assert_eq!(
        req(np_claim, "karpenter.sh/capacity-type"),
        ("In".into(), vec!["on-demand".into()])
    );
    let requests =
        kerf_core::resources::Resources::from_quantities(&np_claim.spec.resources.requests)
            .unwrap();
    assert_eq!(requests.cpu, 2100, "pod 2 cpu + daemonset 100m");
    assert_eq!(requests.memory, 128 * (1 << 20) * 1000);
    assert_eq!(requests.pods, 2000, "the pod and the daemon");

    let prov_claim = &by_pool(PoolKind::Provisioner).claim;
    let labels = prov_claim.metadata.labels.as_ref().unwrap();
    assert_eq!(labels["karpenter.sh/provisioner-name"], "default");
    assert!(!labels.contains_key("karpenter.sh/nodepool"));
    assert!(
        !labels.contains_key("karpenter.k8s.aws/ec2nodeclass"),
        "v1alpha5 had none"
    );
    assert!(prov_claim.metadata.owner_references.is_none());
    assert_eq!(
        req(prov_claim, "node.kubernetes.io/instance-type"),
        ("In".into(), vec!["m5.2xlarge".into()])
    );
    assert_eq!(
        req(prov_claim, "karpenter.sh/capacity-type"),
        ("In".into(), vec!["on-demand".into(), "spot".into()])
    );
    assert_eq!(by_pool(PoolKind::Provisioner).pods[0].name, "to-prov");

    // The cloud accepts both claims as written.
    for c in &out.claims {
        let launched = cloud.create(&c.claim).await.unwrap();
        assert!(launched.status.unwrap().provider_id.is_some());
    }
    let _ = Resources::default();
}

#[test]
fn deterministic_names_repeat_and_differ() {
    let pool = seed_pool();
    let mut a = DeterministicNames::default();
    let mut b = DeterministicNames::default();
    let xs: Vec<String> = (0..50).map(|_| a.suffix(&pool)).collect();
    let ys: Vec<String> = (0..50).map(|_| b.suffix(&pool)).collect();
    assert_eq!(xs, ys);
    let unique: std::collections::BTreeSet<_> = xs.iter().collect();
    assert_eq!(unique.len(), xs.len());
    assert!(xs.iter().all(|s| s.len() == 5));
    let r = RandomNames.suffix(&pool);
    assert_eq!(r.len(), 5);
}
