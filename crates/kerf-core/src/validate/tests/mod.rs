//! Unit tests of the validator: one correct plan, then one broken rule at a time.

mod affinity;
mod nodes;
mod plan;
mod pod_level;
mod spread;
mod volume_alternatives;

use std::sync::Arc;

use serde_json::{Value, json};

use super::*;
use crate::instance_type::{InstanceType, Offering, Overhead};
use crate::plan::{ExistingPlacement, InstanceOption, Placement, PlannedNode, Unschedulable};
use crate::requirements::{Requirement, Requirements};
use crate::snapshot::ExistingNode;
use crate::template::{NodeTemplate, PoolKind, PoolRef};

fn pod(v: Value) -> Pod {
    serde_json::from_value(v).expect("test pod")
}

/// A pod in `default` requesting `cpu`, with `extra` merged into its spec.
fn mk(name: &str, labels: Value, cpu: &str, extra: Value) -> Pod {
    let mut spec = json!({"containers": [{"name": "c", "resources": {"requests": {"cpu": cpu}}}]});
    if let (Some(spec), Some(extra)) = (spec.as_object_mut(), extra.as_object()) {
        for (k, v) in extra {
            spec.insert(k.clone(), v.clone());
        }
    }
    pod(json!({"metadata": {"name": name, "namespace": "default", "labels": labels}, "spec": spec}))
}

fn plain(name: &str, cpu: &str) -> Pod {
    mk(name, json!({}), cpu, json!({}))
}

fn labels(pairs: &[(&str, &str)]) -> BTreeMap<String, String> {
    pairs
        .iter()
        .map(|(k, v)| (k.to_string(), v.to_string()))
        .collect()
}

fn node(name: &str, zone: &str, cpu_milli: i64, pods: Vec<Pod>) -> ExistingNode {
    ExistingNode {
        name: name.into(),
        labels: labels(&[
            (ZONE, zone),
            (HOSTNAME, name),
            ("kubernetes.io/arch", "amd64"),
        ]),
        taints: Vec::new(),
        allocatable: Resources::new(cpu_milli, 8 << 30, 110),
        pods: pods.into_iter().map(std::sync::Arc::new).collect(),
        pool: None,
        in_flight: false,
        marked_for_deletion: false,
        unschedulable: false,
    }
}

fn small_type() -> Arc<InstanceType> {
    let offerings = vec![
        Offering {
            zone: "zone-a".into(),
            capacity_type: "on-demand".into(),
            price: 0.1,
            available: true,
            zone_id: None,
        },
        Offering {
            zone: "zone-a".into(),
            capacity_type: "spot".into(),
            price: 0.04,
            available: true,
            zone_id: None,
        },
        Offering {
            zone: "zone-b".into(),
            capacity_type: "on-demand".into(),
            price: 0.1,
            available: true,
            zone_id: None,
        },
        Offering {
            zone: "zone-b".into(),
            capacity_type: "spot".into(),
            price: 0.05,
            available: false,
            zone_id: None,
        },
    ];
    let overhead = Overhead {
        kube_reserved: Resources::new(100, 0, 0),
        ..Default::default()
    };
    Arc::new(InstanceType::new(
        "s.small",
        labels(&[("kubernetes.io/arch", "amd64")]),
        Resources::new(2000, 4 << 30, 10),
        overhead,
        offerings,
    ))
}

fn template() -> NodeTemplate {
    NodeTemplate::new(
        PoolRef {
            kind: PoolKind::NodePool,
            name: "default".into(),
        },
        Requirements::new(),
        vec![small_type()],
    )
}

/// A planned node consistent with the snapshot's first template.
fn planned(snap: &Snapshot, name: &str, zone: &str, capacity_type: &str) -> PlannedNode {
    let t = &snap.templates[0];
    let it = &t.instance_types[0];
    let offering = it
        .offerings
        .iter()
        .find(|o| o.zone == zone && o.capacity_type == capacity_type)
        .expect("offering");
    let chosen = InstanceOption {
        instance_type: it.name.clone(),
        zone: zone.into(),
        capacity_type: capacity_type.into(),
        price: offering.price,
    };
    let mut l = t.labels.clone();
    l.extend(it.labels.clone());
    l.insert(ZONE.into(), zone.into());
    l.insert(CAPACITY_TYPE.into(), capacity_type.into());
    l.insert(HOSTNAME.into(), name.into());
    PlannedNode {
        name: name.into(),
        pool: t.pool.clone(),
        requirements: t.requirements.clone(),
        min_values_relaxed: false,
        options: vec![chosen.clone()],
        chosen,
        labels: l,
        taints: t.taints.clone(),
        startup_taints: Vec::new(),
        pods: Vec::new(),
        pod_requests: Resources::default(),
        daemon_requests: Resources::default(),
        allocatable: it.allocatable().clone(),
    }
}

fn key(name: &str) -> PodKey {
    match name.split_once('/') {
        Some((ns, n)) => PodKey {
            namespace: ns.into(),
            name: n.into(),
        },
        None => PodKey {
            namespace: "default".into(),
            name: name.into(),
        },
    }
}

fn e(name: &str) -> Target {
    Target::Existing(name.into())
}

fn n(name: &str) -> Target {
    Target::New(name.into())
}

/// A plan placing pods in this order, with the node lists and request sums filled in.
fn plan(snap: &Snapshot, mut new_nodes: Vec<PlannedNode>, placements: &[(&str, Target)]) -> Plan {
    let mut existing: Vec<ExistingPlacement> = Vec::new();
    for (name, target) in placements {
        let k = key(name);
        match target {
            Target::New(node) => {
                let requests = snap
                    .pending
                    .iter()
                    .find(|p| PodKey::of(p) == k)
                    .map(|p| pod_requests(p).expect("valid"))
                    .unwrap_or_default();
                if let Some(nn) = new_nodes.iter_mut().find(|nn| &nn.name == node) {
                    nn.pods.push(k.clone());
                    nn.pod_requests.add(&requests);
                }
            }
            Target::Existing(node) => match existing.iter_mut().find(|e| &e.node == node) {
                Some(e) => e.pods.push(k.clone()),
                None => existing.push(ExistingPlacement {
                    node: node.clone(),
                    pods: vec![k.clone()],
                }),
            },
        }
    }
    Plan {
        new_nodes,
        existing,
        placements: placements
            .iter()
            .map(|(name, target)| Placement {
                pod: key(name),
                target: target.clone(),
                relaxed: Vec::new(),
            })
            .collect(),
        unschedulable: Vec::new(),
    }
}

fn rules(v: &[Violation]) -> Vec<Rule> {
    v.iter().map(|v| v.rule).collect()
}

fn snap(nodes: Vec<ExistingNode>, pending: Vec<Pod>) -> Snapshot {
    Snapshot {
        nodes,
        pending: pending.into_iter().map(std::sync::Arc::new).collect(),
        templates: vec![template()],
        ..Default::default()
    }
}

#[track_caller]
fn assert_only(v: &[Violation], rule: Rule) {
    assert!(
        !v.is_empty() && v.iter().all(|x| x.rule == rule),
        "expected only {rule}: {v:#?}"
    );
}

#[track_caller]
fn assert_clean(v: &[Violation]) {
    assert!(v.is_empty(), "expected no violations: {v:#?}");
}
