//! The pure fleet view over hand-built Nodes, Pods and NodeClaims priced by
//! the built-in catalogue: rows, totals, sort orders, the pool filter,
//! unpriced nodes, in-flight claims, and the `--once` text.

use std::collections::BTreeMap;
use std::sync::Arc;

use k8s_openapi::api::core::v1::{
    Container, Node, NodeCondition, NodeSpec, NodeStatus, Pod, PodSpec, PodStatus,
    ResourceRequirements,
};
use k8s_openapi::apimachinery::pkg::api::resource::Quantity;
use k8s_openapi::apimachinery::pkg::apis::meta::v1::{ObjectMeta, Time};
use kerf_api::v1::{NodeClaim, NodeClaimStatus};
use kerf_cloud::Catalog;
use kerf_sim::Timestamp;

use super::table;
use super::view::*;

const NOW: i64 = 1_800_000_000;

fn at(seconds_ago: i64) -> Time {
    Time(Timestamp::from_second(NOW - seconds_ago).expect("valid time"))
}

fn quantities(cpu: &str, memory: &str) -> BTreeMap<String, Quantity> {
    BTreeMap::from([
        ("cpu".to_string(), Quantity(cpu.to_string())),
        ("memory".to_string(), Quantity(memory.to_string())),
    ])
}

/// A Ready node of `pool` (a NodePool label, or a Provisioner's when
/// `provisioner`), created `age` seconds ago.
fn node(name: &str, pool: &str, labels: &[(&str, &str)], age: i64, cpu: &str) -> Arc<Node> {
    let mut l: BTreeMap<String, String> = labels
        .iter()
        .map(|(k, v)| (k.to_string(), v.to_string()))
        .collect();
    l.insert("karpenter.sh/nodepool".into(), pool.into());
    Arc::new(Node {
        metadata: ObjectMeta {
            name: Some(name.into()),
            labels: Some(l),
            creation_timestamp: Some(at(age)),
            ..Default::default()
        },
        spec: Some(NodeSpec::default()),
        status: Some(NodeStatus {
            allocatable: Some(quantities(cpu, "8Gi")),
            conditions: Some(vec![NodeCondition {
                type_: "Ready".into(),
                status: "True".into(),
                ..Default::default()
            }]),
            ..Default::default()
        }),
    })
}

fn typed<'a>(it: &'a str, zone: &'a str, capacity: &'a str) -> [(&'a str, &'a str); 3] {
    [
        ("node.kubernetes.io/instance-type", it),
        ("topology.kubernetes.io/zone", zone),
        ("karpenter.sh/capacity-type", capacity),
    ]
}

fn pod(name: &str, node: Option<&str>, cpu: &str, phase: &str) -> Arc<Pod> {
    Arc::new(Pod {
        metadata: ObjectMeta {
            name: Some(name.into()),
            namespace: Some("default".into()),
            ..Default::default()
        },
        spec: Some(PodSpec {
            node_name: node.map(str::to_string),
            containers: vec![Container {
                name: "c".into(),
                resources: Some(ResourceRequirements {
                    requests: Some(quantities(cpu, "1Gi")),
                    ..Default::default()
                }),
                ..Default::default()
            }],
            ..Default::default()
        }),
        status: Some(PodStatus {
            phase: Some(phase.into()),
            ..Default::default()
        }),
    })
}

fn claim(name: &str, pool: &str, node: Option<&str>) -> Arc<NodeClaim> {
    let mut c = NodeClaim::new(name, Default::default());
    c.metadata.labels = Some(BTreeMap::from([(
        "karpenter.sh/nodepool".to_string(),
        pool.to_string(),
    )]));
    c.status = Some(NodeClaimStatus {
        node_name: node.map(str::to_string),
        ..Default::default()
    });
    Arc::new(c)
}

fn catalog_price(it: &str, capacity: &str, zone: &str) -> f64 {
    let catalog = Catalog::builtin();
    let entry = catalog.get(it).expect("type in the built-in catalogue");
    match capacity {
        "spot" => entry.spot[zone],
        _ => entry.on_demand.expect("on-demand price"),
    }
}

/// Three nodes in two pools (one of an unknown type), pods bound and
/// pending, a claim whose node is Ready and one still launching.
pub(super) fn fleet() -> Snapshot {
    Snapshot {
        nodes: vec![
            node(
                "a-m5",
                "web",
                &typed("m5.large", "us-east-1a", "on-demand"),
                600,
                "2",
            ),
            node(
                "b-c5",
                "web",
                &typed("c5.xlarge", "us-east-1b", "spot"),
                60,
                "4",
            ),
            node(
                "c-odd",
                "batch",
                &typed("x9.huge", "us-east-1c", "on-demand"),
                7200,
                "8",
            ),
        ],
        pods: vec![
            pod("p1", Some("a-m5"), "1", "Running"),
            pod("p2", Some("a-m5"), "500m", "Running"),
            pod("done", Some("a-m5"), "1", "Succeeded"),
            pod("p3", Some("b-c5"), "3", "Running"),
            pod("waiting", None, "1", "Pending"),
            pod("waiting2", None, "1", "Pending"),
        ],
        claims: vec![
            claim("a-m5", "web", Some("a-m5")),
            claim("launching", "web", None),
            claim("batch-new", "batch", None),
        ],
        now: Timestamp::from_second(NOW).expect("valid time"),
    }
}

fn names(view: &FleetView) -> Vec<&str> {
    view.rows.iter().map(|r| r.name.as_str()).collect()
}

#[test]
fn rows_carry_labels_prices_pods_and_usage() {
    let view = fleet_view(&fleet(), &Catalog::builtin(), &ViewOptions::default());
    let a = view
        .rows
        .iter()
        .find(|r| r.name == "a-m5")
        .expect("row a-m5");
    assert_eq!(a.pool.as_deref(), Some("web"));
    assert_eq!(a.instance_type.as_deref(), Some("m5.large"));
    assert_eq!(a.zone.as_deref(), Some("us-east-1a"));
    assert_eq!(a.capacity_type.as_deref(), Some("on-demand"));
    assert_eq!(a.price, Some(catalog_price("m5.large", "on-demand", "")));
    assert_eq!(a.age_seconds, Some(600));
    assert!(a.ready);
    // The Succeeded pod neither counts nor holds resources.
    assert_eq!(a.pods, 2);
    assert_eq!(
        a.cpu,
        Usage {
            requested: 1500,
            allocatable: 2000
        }
    );
    assert_eq!(a.cpu.percent(), Some(75.0));
    assert_eq!(a.memory.percent(), Some(25.0));

    let b = view
        .rows
        .iter()
        .find(|r| r.name == "b-c5")
        .expect("row b-c5");
    assert_eq!(
        b.price,
        Some(catalog_price("c5.xlarge", "spot", "us-east-1b"))
    );
    assert!(view.problems.is_empty(), "{:?}", view.problems);
}

#[test]
fn totals_sum_priced_nodes_and_count_the_unpriced() {
    let view = fleet_view(&fleet(), &Catalog::builtin(), &ViewOptions::default());
    let hourly = catalog_price("m5.large", "on-demand", "")
        + catalog_price("c5.xlarge", "spot", "us-east-1b");
    let t = &view.totals;
    assert_eq!(t.nodes, 3);
    assert_eq!(t.unpriced, 1);
    assert!((t.per_hour - hourly).abs() < 1e-9, "{t:?}");
    assert!((t.per_month - hourly * 730.0).abs() < 1e-6, "{t:?}");
    assert_eq!(t.pending_pods, 2);
    // "launching" has no node, "batch-new" neither; "a-m5"'s node is Ready.
    assert_eq!(t.in_flight_claims, 2);
    assert_eq!(
        t.cpu,
        Usage {
            requested: 4500,
            allocatable: 14000
        }
    );
    let odd = view
        .rows
        .iter()
        .find(|r| r.name == "c-odd")
        .expect("row c-odd");
    assert_eq!(odd.price, None);
}

#[test]
fn sort_orders() {
    let catalog = Catalog::builtin();
    let by = |sort| {
        names(&fleet_view(
            &fleet(),
            &catalog,
            &ViewOptions {
                sort,
                pools: vec![],
            },
        ))
        .into_iter()
        .map(str::to_string)
        .collect::<Vec<_>>()
    };
    let m5 = catalog_price("m5.large", "on-demand", "");
    let c5 = catalog_price("c5.xlarge", "spot", "us-east-1b");
    let priced = if m5 >= c5 {
        ["a-m5", "b-c5"]
    } else {
        ["b-c5", "a-m5"]
    };
    assert_eq!(by(SortKey::Price), [priced[0], priced[1], "c-odd"]);
    assert_eq!(by(SortKey::Age), ["b-c5", "a-m5", "c-odd"]);
    // b: 3/4 = 75% ties a: 1.5/2 = 75%, broken by name; c: 0%.
    assert_eq!(by(SortKey::Cpu), ["a-m5", "b-c5", "c-odd"]);
    assert_eq!(by(SortKey::Pods), ["a-m5", "b-c5", "c-odd"]);
    assert_eq!(by(SortKey::Name), ["a-m5", "b-c5", "c-odd"]);
    let mut key = SortKey::Price;
    let mut seen = vec![];
    for _ in 0..6 {
        seen.push(key.as_str());
        key = key.next();
    }
    assert_eq!(key, SortKey::Price);
    assert_eq!(seen, ["price", "age", "cpu", "memory", "pods", "name"]);
}

#[test]
fn pool_filter_cuts_rows_totals_and_claims() {
    let options = ViewOptions {
        sort: SortKey::Name,
        pools: vec!["batch".into()],
    };
    let view = fleet_view(&fleet(), &Catalog::builtin(), &options);
    assert_eq!(names(&view), ["c-odd"]);
    assert_eq!(view.totals.nodes, 1);
    assert_eq!(view.totals.unpriced, 1);
    assert_eq!(view.totals.per_hour, 0.0);
    assert_eq!(view.totals.in_flight_claims, 1);

    let options = ViewOptions {
        sort: SortKey::Name,
        pools: vec!["batch".into(), "web".into()],
    };
    assert_eq!(
        names(&fleet_view(&fleet(), &Catalog::builtin(), &options)).len(),
        3
    );
}

#[test]
fn provisioner_label_names_the_pool_and_a_node_without_one_has_none() {
    let mut snapshot = fleet();
    let mut n = (*node(
        "old",
        "x",
        &typed("m5.large", "us-east-1a", "spot"),
        10,
        "2",
    ))
    .clone();
    let labels = n.metadata.labels.as_mut().expect("labels");
    labels.remove("karpenter.sh/nodepool");
    labels.insert("karpenter.sh/provisioner-name".into(), "default".into());
    let mut bare = (*node("bare", "x", &[], 10, "2")).clone();
    bare.metadata.labels = None;
    bare.status = None;
    snapshot.nodes = vec![Arc::new(n), Arc::new(bare)];
    let view = fleet_view(&snapshot, &Catalog::builtin(), &ViewOptions::default());
    let old = view.rows.iter().find(|r| r.name == "old").expect("row old");
    assert_eq!(old.pool.as_deref(), Some("default"));
    assert_eq!(
        old.price,
        Some(catalog_price("m5.large", "spot", "us-east-1a"))
    );
    let bare = view
        .rows
        .iter()
        .find(|r| r.name == "bare")
        .expect("row bare");
    assert_eq!(
        (bare.pool.as_ref(), bare.price, bare.ready),
        (None, None, false)
    );
    assert_eq!(bare.cpu.percent(), None);
    assert_eq!(view.totals.unpriced, 1);
    // A node of no pool is left out by any pool filter.
    let options = ViewOptions {
        sort: SortKey::Name,
        pools: vec!["default".into()],
    };
    assert_eq!(
        names(&fleet_view(&snapshot, &Catalog::builtin(), &options)),
        ["old"]
    );
}

#[test]
fn unreadable_quantities_are_reported_naming_object_and_field() {
    let mut snapshot = fleet();
    snapshot
        .pods
        .push(pod("bad", Some("a-m5"), "lots", "Running"));
    let view = fleet_view(&snapshot, &Catalog::builtin(), &ViewOptions::default());
    assert_eq!(
        view.problems,
        [
            r#"pod default/bad: spec.containers[0].resources[cpu]: cpu: "lots" is not a valid quantity: quantity must start with a number"#
        ]
    );
    let a = view
        .rows
        .iter()
        .find(|r| r.name == "a-m5")
        .expect("row a-m5");
    assert_eq!(a.pods, 3);
    assert_eq!(a.cpu.requested, 1500);
}

#[test]
fn once_text_has_a_row_per_node_and_the_totals() {
    let view = fleet_view(
        &fleet(),
        &Catalog::builtin(),
        &ViewOptions {
            sort: SortKey::Name,
            pools: vec![],
        },
    );
    let text = table::render(&view);
    assert!(!text.contains('\u{1b}'), "{text}");
    let lines: Vec<Vec<&str>> = text
        .lines()
        .map(|l| l.split_whitespace().collect())
        .collect();
    assert_eq!(
        lines[0],
        [
            "NODE", "POOL", "TYPE", "ZONE", "CAPACITY", "$/H", "AGE", "PODS", "CPU", "MEMORY"
        ]
    );
    let m5 = format!("{:.4}", catalog_price("m5.large", "on-demand", ""));
    assert_eq!(
        lines[1],
        [
            "a-m5",
            "web",
            "m5.large",
            "us-east-1a",
            "on-demand",
            &m5,
            "10m",
            "2",
            "75%",
            "25%"
        ]
    );
    assert_eq!(lines[3][5], "-");
    assert_eq!(lines[3][6], "2h");
    assert!(text.contains("nodes: 3\n"), "{text}");
    assert!(text.contains("(1 node unpriced, not counted)"), "{text}");
    assert!(text.contains("pending pods: 2\n"), "{text}");
    assert!(text.contains("in-flight NodeClaims: 2\n"), "{text}");
}

#[test]
fn ages_read_as_kubectl_writes_them() {
    let ages: Vec<String> = [
        None,
        Some(-3),
        Some(59),
        Some(300),
        Some(10_000),
        Some(200_000),
    ]
    .into_iter()
    .map(format_age)
    .collect();
    assert_eq!(ages, ["-", "0s", "59s", "5m", "2h", "2d"]);
}
