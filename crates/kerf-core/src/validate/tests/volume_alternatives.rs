//! Volume topology alternatives through the whole scheduler, checked by the
//! validator: StorageClass allowedTopologies and PV nodeSelectorTerms are
//! ORed, local and hostPath volumes lose their hostname affinity (as
//! Karpenter's `VolumeTopology` does). Each test names the upstream test it
//! mirrors.

use super::*;
use k8s_openapi::api::core::v1::PersistentVolumeClaim;

fn claim(name: &str, spec: Value) -> PersistentVolumeClaim {
    serde_json::from_value(
        json!({"metadata": {"name": name, "namespace": "default"}, "spec": spec}),
    )
    .expect("pvc")
}

fn with_claim(name: &str, claim: &str, extra: Value) -> Pod {
    let mut spec =
        json!({"volumes": [{"name": "v", "persistentVolumeClaim": {"claimName": claim}}]});
    if let (Some(spec), Some(extra)) = (spec.as_object_mut(), extra.as_object()) {
        for (k, v) in extra {
            spec.insert(k.clone(), v.clone());
        }
    }
    mk(name, json!({"app": "db"}), "100m", spec)
}

fn zone_of(p: &Plan, pod: &str) -> String {
    let node = p
        .placements
        .iter()
        .find(|pl| pl.pod.name == pod)
        .map(|pl| pl.target.clone())
        .expect("placed");
    let Target::New(name) = node else {
        panic!("{pod} not on a new node")
    };
    p.new_nodes
        .iter()
        .find(|n| n.name == name)
        .map(|n| n.chosen.zone.clone())
        .expect("planned node")
}

/// Scheduling suite: "should schedule pods using a StorageClass with multiple
/// zones in AllowedTopologies" (two pods, zone anti-affinity, each allowed
/// term a zone: they land in both).
#[test]
fn storage_class_topologies_are_ored() {
    let sc: StorageClass = serde_json::from_value(json!({
        "metadata": {"name": "multi-zone"}, "provisioner": "ebs.csi.aws.com", "volumeBindingMode": "WaitForFirstConsumer",
        "allowedTopologies": [
            {"matchLabelExpressions": [{"key": ZONE, "values": ["zone-a"]}]},
            {"matchLabelExpressions": [{"key": ZONE, "values": ["zone-b"]}]}
        ]
    }))
    .expect("sc");
    let anti = json!({"affinity": {"podAntiAffinity": {"requiredDuringSchedulingIgnoredDuringExecution": [
        {"labelSelector": {"matchLabels": {"app": "db"}}, "topologyKey": ZONE}
    ]}}});
    let mut s = snap(
        vec![],
        vec![
            with_claim("db-0", "data-0", anti.clone()),
            with_claim("db-1", "data-1", anti),
        ],
    );
    s.storage_classes = vec![sc];
    s.claims = vec![
        claim("data-0", json!({"storageClassName": "multi-zone"})),
        claim("data-1", json!({"storageClassName": "multi-zone"})),
    ];
    let p = crate::scheduler::solve(&s);
    assert!(p.unschedulable.is_empty(), "{:#?}", p.unschedulable);
    let zones: BTreeSet<String> = ["db-0", "db-1"].iter().map(|n| zone_of(&p, n)).collect();
    assert_eq!(zones, ["zone-a", "zone-b"].map(String::from).into());
    assert_clean(&validate(&s, &p));

    // The validator agrees that the second entry allows zone-b.
    let s2 = {
        let mut s2 = snap(
            vec![node("e-b", "zone-b", 2000, vec![])],
            vec![with_claim("db-0", "data-0", json!({}))],
        );
        s2.storage_classes = s.storage_classes.clone();
        s2.claims = s.claims.clone();
        s2
    };
    assert_clean(&validate(&s2, &plan(&s2, vec![], &[("db-0", e("e-b"))])));
}

/// Provisioning suite: "should not relax an added volume topology zone
/// node-selector away": whichever required node-affinity term is in force,
/// the volume's zone still applies.
#[test]
fn volume_zone_survives_relaxed_node_affinity_terms() {
    let pv: PersistentVolume = serde_json::from_value(json!({
        "metadata": {"name": "pv-b"},
        "spec": {"nodeAffinity": {"required": {"nodeSelectorTerms": [
            {"matchExpressions": [{"key": ZONE, "operator": "In", "values": ["zone-b"]}]}
        ]}}}
    }))
    .expect("pv");
    let terms = json!({"affinity": {"nodeAffinity": {"requiredDuringSchedulingIgnoredDuringExecution": {"nodeSelectorTerms": [
        {"matchExpressions": [{"key": "example.com/label", "operator": "In", "values": ["unsupported"]}]},
        {"matchExpressions": [{"key": CAPACITY_TYPE, "operator": "In", "values": ["on-demand"]}]}
    ]}}}});
    let mut s = snap(vec![], vec![with_claim("p", "data", terms)]);
    s.volumes = vec![pv];
    s.claims = vec![claim("data", json!({"volumeName": "pv-b"}))];
    let p = crate::scheduler::solve(&s);
    assert!(p.unschedulable.is_empty(), "{:#?}", p.unschedulable);
    assert_eq!(zone_of(&p, "p"), "zone-b");
    assert_clean(&validate(&s, &p));
}

/// Provisioning suite: "should ignore hostname affinity scheduling when using
/// local path volumes" (local and hostPath entries) and "should not ignore
/// hostname affinity when using non-local path volumes".
#[test]
fn hostname_affinity_of_node_local_volumes_is_ignored() {
    let cases = [
        ("local", json!({"path": "/mnt/disk"}), true),
        ("hostPath", json!({"path": "/data"}), true),
        (
            "csi",
            json!({"driver": "ebs.csi.aws.com", "volumeHandle": "vol-1"}),
            false,
        ),
    ];
    for (source, value, schedules) in cases {
        let mut spec = json!({"nodeAffinity": {"required": {"nodeSelectorTerms": [
            {"matchExpressions": [{"key": HOSTNAME, "operator": "In", "values": ["old-node"]}]}
        ]}}});
        spec[source] = value;
        let pv: PersistentVolume =
            serde_json::from_value(json!({"metadata": {"name": "pv"}, "spec": spec})).expect("pv");
        let mut s = snap(vec![], vec![with_claim("p", "data", json!({}))]);
        s.volumes = vec![pv];
        s.claims = vec![claim("data", json!({"volumeName": "pv"}))];
        let p = crate::scheduler::solve(&s);
        assert_eq!(p.unschedulable.is_empty(), schedules, "{source}: {p:#?}");
        assert_eq!(p.new_nodes.len(), usize::from(schedules), "{source}");
        assert_clean(&validate(&s, &p));
    }
}

/// Karpenter tries each volume alternative on every node it already has
/// (`ExistingNode.CanAdd` and `NodeClaim.CanAdd` loop over them) before
/// launching: a pod whose class allows zone-a or zone-b joins an existing
/// zone-b node, or a node already planned in zone-b, instead of a new zone-a
/// node.
#[test]
fn every_alternative_is_tried_on_nodes_that_exist_or_are_planned() {
    let sc: StorageClass = serde_json::from_value(json!({
        "metadata": {"name": "a-or-b"}, "provisioner": "ebs.csi.aws.com",
        "allowedTopologies": [
            {"matchLabelExpressions": [{"key": ZONE, "values": ["zone-a"]}]},
            {"matchLabelExpressions": [{"key": ZONE, "values": ["zone-b"]}]}
        ]
    }))
    .expect("sc");
    let fresh = claim("data", json!({"storageClassName": "a-or-b"}));

    // An existing node in zone-b with room.
    let mut s = snap(
        vec![node("e-b", "zone-b", 2000, vec![])],
        vec![with_claim("p", "data", json!({}))],
    );
    s.storage_classes = vec![sc.clone()];
    s.claims = vec![fresh.clone()];
    let p = crate::scheduler::solve(&s);
    assert!(p.new_nodes.is_empty(), "{:#?}", p.new_nodes);
    assert_eq!(p.existing.len(), 1);
    assert_eq!(p.existing[0].node, "e-b");
    assert_clean(&validate(&s, &p));

    // A node planned in zone-b for a bigger pod placed first.
    let pinned = mk(
        "pinned",
        json!({}),
        "1",
        json!({"nodeSelector": {ZONE: "zone-b"}}),
    );
    let mut s = snap(vec![], vec![pinned, with_claim("p", "data", json!({}))]);
    s.storage_classes = vec![sc];
    s.claims = vec![fresh];
    let p = crate::scheduler::solve(&s);
    assert!(p.unschedulable.is_empty(), "{:#?}", p.unschedulable);
    assert_eq!(p.new_nodes.len(), 1, "{:#?}", p.new_nodes);
    assert_eq!(zone_of(&p, "p"), "zone-b");
    assert_clean(&validate(&s, &p));
}

/// Provisioning suite: "should not schedule if storage class zones are
/// incompatible" and "should not schedule if volume zones are incompatible",
/// and Karpenter's keeping every combination when none is compatible (two
/// volumes in different zones): the pod is reported, with a reason.
#[test]
fn incompatible_volume_topologies_leave_the_pod_unschedulable() {
    let sc: StorageClass = serde_json::from_value(json!({
        "metadata": {"name": "b-or-c"}, "provisioner": "ebs.csi.aws.com",
        "allowedTopologies": [
            {"matchLabelExpressions": [{"key": ZONE, "values": ["zone-b"]}]},
            {"matchLabelExpressions": [{"key": ZONE, "values": ["zone-c"]}]}
        ]
    }))
    .expect("sc");
    let pv_a: PersistentVolume = serde_json::from_value(json!({
        "metadata": {"name": "pv-a"},
        "spec": {"nodeAffinity": {"required": {"nodeSelectorTerms": [
            {"matchExpressions": [{"key": ZONE, "operator": "In", "values": ["zone-a"]}]}
        ]}}}
    }))
    .expect("pv");
    let claims = vec![
        claim("fresh", json!({"storageClassName": "b-or-c"})),
        claim("bound-a", json!({"volumeName": "pv-a"})),
    ];
    let two_volumes = mk(
        "p",
        json!({}),
        "100m",
        json!({"volumes": [
            {"name": "x", "persistentVolumeClaim": {"claimName": "fresh"}},
            {"name": "y", "persistentVolumeClaim": {"claimName": "bound-a"}}
        ]}),
    );
    let cases = [
        (
            "should not schedule if storage class zones are incompatible",
            with_claim("p", "fresh", json!({"nodeSelector": {ZONE: "zone-a"}})),
        ),
        (
            "should not schedule if volume zones are incompatible",
            with_claim("p", "bound-a", json!({"nodeSelector": {ZONE: "zone-b"}})),
        ),
        ("volumes in zones that never meet", two_volumes),
    ];
    for (case, pod) in cases {
        let mut s = snap(vec![node("e-a", "zone-a", 4000, vec![])], vec![pod]);
        s.storage_classes = vec![sc.clone()];
        s.volumes = vec![pv_a.clone()];
        s.claims = claims.clone();
        let p = crate::scheduler::solve(&s);
        assert_eq!(p.unschedulable.len(), 1, "{case}: {p:#?}");
        assert!(p.new_nodes.is_empty() && p.existing.is_empty(), "{case}");
        assert!(!p.unschedulable[0].reason.is_empty(), "{case}");
        assert_clean(&validate(&s, &p));
    }
}
