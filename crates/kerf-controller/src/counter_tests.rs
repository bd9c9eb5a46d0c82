use k8s_openapi::api::core::v1::NodeStatus;
use k8s_openapi::apimachinery::pkg::apis::meta::v1::Time;
use k8s_openapi::jiff::Timestamp;
use kerf_api::labels;
use kerf_api::v1::{NodeClaimSpec, NodeClaimStatus};

use super::*;

fn q(s: &str) -> Quantity {
    Quantity(s.to_string())
}

fn capacity(cpu: &str, memory: &str) -> BTreeMap<String, Quantity> {
    BTreeMap::from([
        ("cpu".to_string(), q(cpu)),
        ("memory".to_string(), q(memory)),
        ("pods".to_string(), q("58")),
    ])
}

fn provisioner(name: &str) -> Provisioner {
    serde_yaml::from_str(&format!(
        "apiVersion: karpenter.sh/v1alpha5\nkind: Provisioner\nmetadata: {{name: {name}}}\nspec:\n  provider: {{instanceProfile: p}}\n"
    ))
    .unwrap()
}

fn pool_labels(pool: &str) -> Option<BTreeMap<String, String>> {
    Some(BTreeMap::from([(
        labels::PROVISIONER_NAME.to_string(),
        pool.to_string(),
    )]))
}

fn claim(
    name: &str,
    pool: &str,
    launched_capacity: Option<BTreeMap<String, Quantity>>,
) -> NodeClaim {
    let mut c = NodeClaim::new(name, NodeClaimSpec::default());
    c.metadata.labels = pool_labels(pool);
    c.status = launched_capacity.map(|cap| NodeClaimStatus {
        provider_id: Some(format!("kwok://{name}")),
        capacity: cap,
        ..Default::default()
    });
    c
}

fn node(name: &str, pool: &str, cap: BTreeMap<String, Quantity>) -> Node {
    let mut n = Node::default();
    n.metadata.name = Some(name.to_string());
    n.metadata.labels = pool_labels(pool);
    n.spec = Some(k8s_openapi::api::core::v1::NodeSpec {
        provider_id: Some(format!("kwok://{name}")),
        ..Default::default()
    });
    n.status = Some(NodeStatus {
        capacity: Some(cap),
        ..Default::default()
    });
    n
}

fn default_pool() -> PoolRef {
    PoolRef {
        kind: PoolKind::Provisioner,
        name: "default".to_string(),
    }
}

#[test]
fn usage_sums_nodes_and_launched_claims_but_not_deleting_ones() {
    let mut s = ClusterState::new();
    s.apply(provisioner("default")).unwrap();
    // Registered: the node's capacity counts (not the claim's estimate).
    s.apply(claim("a", "default", Some(capacity("4", "16Gi"))))
        .unwrap();
    s.apply(node("a", "default", capacity("8", "32Gi")))
        .unwrap();
    // Launched, no node yet: the claim's capacity counts.
    s.apply(claim("b", "default", Some(capacity("8", "32Gi"))))
        .unwrap();
    // Not launched: capacity unknown, not counted.
    s.apply(claim("c", "default", None)).unwrap();
    // Being deleted: left out, as Karpenter leaves out marked-for-deletion nodes.
    let mut d = claim("d", "default", Some(capacity("8", "32Gi")));
    d.metadata.deletion_timestamp = Some(Time(Timestamp::from_second(1).unwrap()));
    s.apply(d).unwrap();
    s.apply(node("d", "default", capacity("8", "32Gi")))
        .unwrap();
    // A pool node with no claim still counts; another pool's does not mix in.
    s.apply(node("e", "default", capacity("2", "4Gi"))).unwrap();
    s.apply(node("f", "other", capacity("2", "4Gi"))).unwrap();

    let u = usage(&s);
    let d = &u[&default_pool()];
    assert_eq!(d.nodes, 3);
    assert_eq!(d.resources.cpu, 18_000);
    let want = desired_resources(PoolKind::Provisioner, d);
    assert_eq!(want["cpu"], q("18"));
    assert_eq!(want["memory"], q("68Gi"));
    assert_eq!(want["pods"], q("174"));
    assert!(!want.contains_key(NODES), "v1alpha5 has no nodes resource");
}

#[test]
fn patches_only_on_change_and_clear_when_nodes_go() {
    let mut s = ClusterState::new();
    s.apply(provisioner("default")).unwrap();
    assert!(
        status_patches(&s).is_empty(),
        "nothing to report, nothing written"
    );

    s.apply(node("a", "default", capacity("8", "32Gi")))
        .unwrap();
    let patches = status_patches(&s);
    assert_eq!(patches.len(), 1);
    let (pool, patch) = &patches[0];
    assert_eq!(pool, &default_pool());
    assert_eq!(patch["status"]["resources"]["cpu"], "8");

    // The stored status says the same in another spelling: no write.
    let mut p = provisioner("default");
    p.status = Some(kerf_api::v1alpha5::ProvisionerStatus {
        resources: capacity("8000m", "32768Mi"),
        ..Default::default()
    });
    s.apply(p.clone()).unwrap();
    assert!(status_patches(&s).is_empty());

    // The node goes: the field is dropped.
    s.delete::<Node>("a");
    let patches = status_patches(&s);
    assert_eq!(patches[0].1, json!({ "status": { "resources": null } }));
}

#[test]
fn nodepools_show_zeros_and_count_nodes() {
    let none = PoolUsage::default();
    let want = desired_resources(PoolKind::NodePool, &none);
    assert_eq!(want.len(), BASE_RESOURCES.len());
    assert!(want.values().all(|v| v.0 == "0"));
    let patch = status_patch(PoolKind::NodePool, &want, Some(0), &none);
    assert_eq!(patch, None, "already zero");

    let mut resources = Resources::default();
    resources.set("cpu", 8_000);
    let two = PoolUsage {
        resources,
        nodes: 2,
    };
    let current = BTreeMap::from([("cpu".to_string(), q("0")), ("gone".to_string(), q("1"))]);
    let patch = status_patch(PoolKind::NodePool, &current, Some(0), &two).unwrap();
    assert_eq!(patch["status"]["nodes"], 2);
    assert_eq!(patch["status"]["resources"]["nodes"], "2");
    assert_eq!(patch["status"]["resources"]["cpu"], "8");
    assert_eq!(patch["status"]["resources"]["memory"], "0");
    assert_eq!(patch["status"]["resources"]["gone"], Value::Null);
}
