use std::collections::BTreeMap;

use k8s_openapi::api::core::v1::{Node, NodeCondition, NodeSpec, NodeStatus, Pod, PodSpec};
use k8s_openapi::apimachinery::pkg::apis::meta::v1::Time;
use kerf_api::v1::{NodeClaim, NodeClaimSpec, NodeClaimStatus};
use kerf_api::v1alpha5::Provisioner;

use super::*;

const T0: i64 = 1_800_000_000;

fn at(secs: i64) -> Timestamp {
    Timestamp::from_second(T0 + secs).unwrap()
}

fn provisioner(ttl_after_empty: Option<i64>) -> Provisioner {
    let mut yaml = String::from(
        "apiVersion: karpenter.sh/v1alpha5\nkind: Provisioner\nmetadata: {name: default}\nspec:\n  provider: {instanceProfile: p}\n",
    );
    if let Some(ttl) = ttl_after_empty {
        yaml.push_str(&format!("  ttlSecondsAfterEmpty: {ttl}\n"));
    }
    serde_yaml::from_str(&yaml).unwrap()
}

fn condition(type_: &str, secs: i64) -> Condition {
    Condition {
        last_transition_time: Some(Time(at(secs))),
        ..Condition::new(type_, "True")
    }
}

fn claim(name: &str, conds: &[&str]) -> NodeClaim {
    let mut c = NodeClaim::new(
        name,
        NodeClaimSpec {
            startup_taints: vec![Taint {
                key: "startup".into(),
                effect: "NoSchedule".into(),
                ..Default::default()
            }],
            ..Default::default()
        },
    );
    c.metadata.creation_timestamp = Some(Time(at(0)));
    c.metadata.labels = Some(BTreeMap::from([
        (labels::PROVISIONER_NAME.to_string(), "default".to_string()),
        ("team".to_string(), "a".to_string()),
    ]));
    c.status = Some(NodeClaimStatus {
        provider_id: Some(format!("kwok://{name}")),
        conditions: conds.iter().map(|t| condition(t, 0)).collect(),
        ..Default::default()
    });
    c
}

fn node(name: &str, ready: bool, taints: &[&str]) -> Node {
    Node {
        metadata: kube::api::ObjectMeta {
            name: Some(name.into()),
            labels: Some(BTreeMap::from([(
                labels::PROVISIONER_NAME.to_string(),
                "default".to_string(),
            )])),
            ..Default::default()
        },
        spec: Some(NodeSpec {
            provider_id: Some(format!("kwok://{name}")),
            taints: Some(
                taints
                    .iter()
                    .map(|k| Taint {
                        key: k.to_string(),
                        effect: "NoSchedule".into(),
                        ..Default::default()
                    })
                    .collect(),
            ),
            ..Default::default()
        }),
        status: Some(NodeStatus {
            allocatable: Some(BTreeMap::new()),
            conditions: Some(vec![NodeCondition {
                type_: "Ready".into(),
                status: if ready { "True" } else { "False" }.into(),
                ..Default::default()
            }]),
            ..Default::default()
        }),
    }
}

fn pod(name: &str, node: Option<&str>) -> Pod {
    Pod {
        metadata: kube::api::ObjectMeta {
            name: Some(name.into()),
            namespace: Some("default".into()),
            ..Default::default()
        },
        spec: Some(PodSpec {
            node_name: node.map(str::to_string),
            ..Default::default()
        }),
        status: None,
    }
}

#[test]
fn registration_applies_missing_labels_taints_then_initializes() {
    let mut s = ClusterState::new();
    s.apply(claim("c1", &[conditions::LAUNCHED])).unwrap();
    assert!(lifecycle(&s, at(10), Duration::from_secs(900)).is_empty());
    s.apply(node("c1", false, &[])).unwrap();
    let actions = lifecycle(&s, at(10), Duration::from_secs(900));
    let LifecycleAction::Register {
        claim: c,
        node: n,
        labels: l,
        taints,
    } = &actions[0]
    else {
        panic!("{actions:?}")
    };
    assert_eq!((c.as_str(), n.as_str()), ("c1", "c1"));
    assert_eq!(l.get("team").map(String::as_str), Some("a"));
    assert!(
        !l.contains_key(labels::PROVISIONER_NAME),
        "already on the node"
    );
    assert_eq!(l[labels::NODE_REGISTERED], "true");
    assert_eq!(taints.len(), 1, "startup taint applied at registration");

    // Registered; not Ready and startup taint present: nothing to do.
    s.apply(claim("c1", &[conditions::LAUNCHED, conditions::REGISTERED]))
        .unwrap();
    s.apply(node("c1", true, &["startup"])).unwrap();
    assert!(lifecycle(&s, at(20), Duration::from_secs(900)).is_empty());
    s.apply(node("c1", true, &[])).unwrap();
    assert_eq!(
        lifecycle(&s, at(20), Duration::from_secs(900)),
        vec![LifecycleAction::Initialize {
            claim: "c1".into(),
            node: "c1".into()
        }]
    );
}

#[test]
fn claim_without_node_times_out() {
    let mut s = ClusterState::new();
    s.apply(claim("c1", &[conditions::LAUNCHED])).unwrap();
    let timeout = Duration::from_secs(60);
    assert!(lifecycle(&s, at(59), timeout).is_empty());
    assert_eq!(
        lifecycle(&s, at(60), timeout),
        vec![LifecycleAction::RegistrationTimedOut { claim: "c1".into() }]
    );
}

#[test]
fn expiry_deletes_unless_a_do_not_evict_pod_holds_the_node() {
    let mut s = ClusterState::new();
    s.apply(provisioner(None)).unwrap();
    let all = [
        conditions::LAUNCHED,
        conditions::REGISTERED,
        conditions::INITIALIZED,
    ];
    s.apply(claim("c1", &all)).unwrap();
    s.apply(node("c1", true, &[])).unwrap();
    assert!(expired_claims(&s, at(10_000)).is_empty(), "no expireAfter");

    let mut expiring = claim("c1", &all);
    expiring.spec.expire_after = Some(kerf_api::v1::NillableDuration::from_secs(100));
    s.apply(expiring).unwrap();
    assert!(expired_claims(&s, at(99)).is_empty(), "not yet");
    assert_eq!(expired_claims(&s, at(100)), ["c1"]);
    let mut keep = pod("keep", Some("c1"));
    keep.metadata.annotations = Some(BTreeMap::from([(
        labels::DO_NOT_EVICT.to_string(),
        "true".to_string(),
    )]));
    s.apply(keep).unwrap();
    assert!(expired_claims(&s, at(100)).is_empty());
    assert_eq!(
        drain_step(&s, "c1"),
        DrainStep::Blocked(PodKey {
            namespace: "default".into(),
            name: "keep".into()
        })
    );
}

#[test]
fn drain_evicts_then_waits_then_done() {
    let mut s = ClusterState::new();
    s.apply(pod("a", Some("n1"))).unwrap();
    let mut b = pod("b", Some("n1"));
    b.metadata.deletion_timestamp = Some(Time(at(1)));
    s.apply(b).unwrap();
    let DrainStep::Evict(keys) = drain_step(&s, "n1") else {
        panic!()
    };
    assert_eq!(keys.len(), 1);
    assert_eq!(keys[0].name, "a");
    s.delete::<Pod>("default/a");
    assert_eq!(drain_step(&s, "n1"), DrainStep::Waiting(1));
    s.delete::<Pod>("default/b");
    assert_eq!(drain_step(&s, "n1"), DrainStep::Drained);
}

#[test]
fn bindings_wait_for_a_ready_node_and_forget_bound_pods() {
    let mut s = ClusterState::new();
    s.apply(pod("p1", None)).unwrap();
    s.apply(pod("p2", Some("elsewhere"))).unwrap();
    let key = |n: &str| PodKey {
        namespace: "default".into(),
        name: n.into(),
    };
    let wanted = BTreeMap::from([
        (key("p1"), "c1".to_string()),
        (key("p2"), "c1".to_string()),
        (key("gone"), "c1".to_string()),
    ]);
    s.apply(claim("c1", &[conditions::LAUNCHED])).unwrap();
    let (bind, done) = bindings(&s, &wanted);
    assert!(bind.is_empty(), "no node yet");
    assert_eq!(done, vec![key("gone"), key("p2")]);
    s.apply(node("c1", false, &[])).unwrap();
    assert!(bindings(&s, &wanted).0.is_empty(), "not Ready");
    s.apply(node("c1", true, &[])).unwrap();
    assert_eq!(bindings(&s, &wanted).0, vec![(key("p1"), "c1".to_string())]);
}

#[test]
fn snapshot_ignores_not_ready_taints_on_nodes_coming_up() {
    // A Node kwok has not made Ready yet carries node.kubernetes.io/not-ready;
    // counting it would make kerf launch a second node for the same pods.
    let mut s = ClusterState::new();
    s.apply(provisioner(Some(30))).unwrap();
    s.apply(node(
        "c1",
        false,
        &["node.kubernetes.io/not-ready", "dedicated"],
    ))
    .unwrap();
    let built = s.snapshot(&Default::default(), &Default::default());
    let n = built
        .snapshot
        .nodes
        .iter()
        .find(|n| n.name == "c1")
        .unwrap();
    let keys: Vec<&str> = n.taints.iter().map(|t| t.key.as_str()).collect();
    assert_eq!(keys, ["dedicated"]);
    // Once Ready, not-ready is stale until the node lifecycle controller's
    // next sync removes it; the user's taint still counts.
    s.apply(node(
        "c1",
        true,
        &["node.kubernetes.io/not-ready", "dedicated"],
    ))
    .unwrap();
    let built = s.snapshot(&Default::default(), &Default::default());
    let keys: Vec<&str> = built.snapshot.nodes[0]
        .taints
        .iter()
        .map(|t| t.key.as_str())
        .collect();
    assert_eq!(keys, ["dedicated"], "stale once Ready");
}
