//! `topology.k8s.aws/zone-id`: each offering carries its zone's ID, an
//! instance type requires `zone-id In [...]` over its available offerings,
//! and a planned node gets the chosen offering's ID beside its zone. Mirrors
//! upstream aws `test/suites/scheduling/scheduling.go` "should provision
//! nodes for pods with zone-id requirements in the correct zone" and "should
//! provision a node for a pod with overlapping zone and zone-id
//! requirements", and aws `pkg/cloudprovider/suite_test.go` "should return
//! availability zone ID as a label on the nodeClaim". Each plan is also
//! checked by the independent validator.

mod common;

use std::collections::BTreeMap;
use std::sync::Arc;

use common::*;
use kerf_core::instance_type::{InstanceType, Offering, Overhead};
use kerf_core::resources::Resources;
use kerf_core::scheduler::solve;
use kerf_core::validate::validate;

const ZONE: &str = "topology.kubernetes.io/zone";
const ZONE_ID: &str = "topology.k8s.aws/zone-id";

/// The built-in catalogue's representative IDs; us-east-1a is cheapest.
const ZONES: [(&str, &str, f64); 3] = [
    ("us-east-1a", "use1-az1", 0.090),
    ("us-east-1b", "use1-az2", 0.095),
    ("us-east-1c", "use1-az4", 0.096),
];

fn types() -> Vec<Arc<InstanceType>> {
    let labels = BTreeMap::from([("kubernetes.io/arch".to_string(), "amd64".to_string())]);
    let offerings = ZONES
        .iter()
        .map(|(zone, id, price)| Offering {
            zone: zone.to_string(),
            zone_id: Some(id.to_string()),
            capacity_type: "on-demand".into(),
            price: *price,
            available: true,
        })
        .collect();
    vec![Arc::new(InstanceType::new(
        "m5.large",
        labels,
        Resources::new(2000, 8 << 30, 29),
        Overhead::default(),
        offerings,
    ))]
}

fn snap(affinity: &str) -> kerf_core::snapshot::Snapshot {
    let mut t = template("default", &[]);
    t.instance_types = types();
    let spec = format!(
        "  affinity: {{nodeAffinity: {{requiredDuringSchedulingIgnoredDuringExecution: {{nodeSelectorTerms: [{{matchExpressions: [{affinity}]}}]}}}}}}\n  containers: [{{name: c, resources: {{requests: {{cpu: 100m}}}}}}]\n"
    );
    snapshot(vec![t], pods("p", 1, "{app: a}", &spec))
}

fn expr(key: &str, op: &str, values: &[&str]) -> String {
    format!(
        "{{key: {key}, operator: {op}, values: [{}]}}",
        values.join(", ")
    )
}

#[test]
fn zone_id_requirements_choose_the_zone_and_label_both() {
    let cases: [(String, Option<(&str, &str)>); 6] = [
        // No requirement: the cheapest zone, labelled with its ID.
        (expr(ZONE, "Exists", &[]), Some(("us-east-1a", "use1-az1"))),
        (
            expr(ZONE_ID, "In", &["use1-az2"]),
            Some(("us-east-1b", "use1-az2")),
        ),
        (
            expr(ZONE_ID, "NotIn", &["use1-az1", "use1-az2"]),
            Some(("us-east-1c", "use1-az4")),
        ),
        // Overlapping zone and zone-id: only us-east-1b is in both.
        (
            format!(
                "{}, {}",
                expr(ZONE, "In", &["us-east-1a", "us-east-1b"]),
                expr(ZONE_ID, "In", &["use1-az2", "use1-az4"])
            ),
            Some(("us-east-1b", "use1-az2")),
        ),
        (
            expr(ZONE_ID, "NotIn", &["use1-az1", "use1-az2", "use1-az4"]),
            None,
        ),
        (expr(ZONE_ID, "In", &["use1-az9"]), None),
    ];
    for (affinity, want) in cases {
        let s = snap(&affinity);
        let plan = solve(&s);
        match want {
            Some((zone, id)) => {
                let n = node_of(&plan, "p-0");
                assert_eq!(n.chosen.zone, zone, "{affinity}");
                assert_eq!(n.labels[ZONE], zone, "{affinity}");
                assert_eq!(n.labels[ZONE_ID], id, "{affinity}");
            }
            None => {
                assert!(
                    plan.new_nodes.is_empty(),
                    "{affinity}: {:?}",
                    plan.new_nodes
                );
                assert_eq!(plan.unschedulable.len(), 1, "{affinity}");
            }
        }
        let v = validate(&s, &plan);
        assert!(v.is_empty(), "{affinity}: {v:?}");
    }
}

/// A spread over zone IDs counts one domain per ID, as over zones.
#[test]
fn spread_over_zone_ids_uses_every_id() {
    let mut t = template("default", &[]);
    t.instance_types = types();
    let spec = format!(
        "  topologySpreadConstraints: [{{maxSkew: 1, topologyKey: {ZONE_ID}, whenUnsatisfiable: DoNotSchedule, labelSelector: {{matchLabels: {{app: web}}}}}}]\n  containers: [{{name: c, resources: {{requests: {{cpu: 100m}}}}}}]\n"
    );
    let s = snapshot(vec![t], pods("web", 3, "{app: web}", &spec));
    let plan = solve(&s);
    assert!(plan.unschedulable.is_empty(), "{:?}", plan.unschedulable);
    let mut ids: Vec<&str> = plan
        .new_nodes
        .iter()
        .map(|n| n.labels[ZONE_ID].as_str())
        .collect();
    ids.sort();
    assert_eq!(ids, ["use1-az1", "use1-az2", "use1-az4"]);
    let v = validate(&s, &plan);
    assert!(v.is_empty(), "{v:?}");
}

/// Old snapshots (offerings without IDs) still load, and such types carry no
/// zone-id requirement.
#[test]
fn offerings_without_ids_load_and_add_no_requirement() {
    let o: Offering = serde_json::from_str(
        r#"{"zone": "us-east-1a", "capacity_type": "spot", "price": 0.1, "available": true}"#,
    )
    .unwrap();
    assert_eq!(o.zone_id, None);
    let it = InstanceType::new(
        "x",
        BTreeMap::new(),
        Resources::default(),
        Overhead::default(),
        vec![o],
    );
    assert!(it.requirements.get(ZONE_ID).is_none());
    assert!(
        types()[0]
            .requirements
            .get(ZONE_ID)
            .unwrap()
            .has("use1-az4")
    );
}
