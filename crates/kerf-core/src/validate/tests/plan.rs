//! Whole-plan checks: accounting, plan lists, planned nodes, daemon overhead and limits.

use super::*;

#[test]
fn every_pending_pod_is_accounted_for_once() {
    let ds_pod = pod(
        json!({"metadata": {"name": "agent", "ownerReferences": [{"apiVersion": "apps/v1", "kind": "DaemonSet", "name": "agent", "uid": "1", "controller": true}]}, "spec": {"containers": [{"name": "c"}]}}),
    );
    let s = snap(
        vec![node("e1", "zone-a", 4000, vec![])],
        vec![plain("a", "100m"), plain("b", "100m"), ds_pod],
    );

    let mut p = plan(&s, vec![], &[("a", e("e1"))]);
    assert_only(&validate(&s, &p), Rule::Lost);
    p.unschedulable.push(Unschedulable {
        pod: key("b"),
        reason: "test".into(),
    });
    assert_clean(&validate(&s, &p));
    p.unschedulable.push(Unschedulable {
        pod: key("a"),
        reason: "test".into(),
    });
    assert_only(&validate(&s, &p), Rule::Duplicated);

    let p = plan(
        &s,
        vec![],
        &[("a", e("e1")), ("b", e("e1")), ("a", e("e1"))],
    );
    assert!(rules(&validate(&s, &p)).contains(&Rule::Duplicated));

    let p = plan(
        &s,
        vec![],
        &[("a", e("e1")), ("b", e("e1")), ("ghost", e("e1"))],
    );
    assert!(rules(&validate(&s, &p)).contains(&Rule::UnknownPod));

    let p = plan(&s, vec![], &[("a", e("e1")), ("b", e("nope"))]);
    assert!(rules(&validate(&s, &p)).contains(&Rule::UnknownNode));
    let p = plan(&s, vec![], &[("a", e("e1")), ("b", n("e1"))]);
    assert!(
        rules(&validate(&s, &p)).contains(&Rule::UnknownNode),
        "existing and planned names are separate"
    );
}

#[test]
fn plan_lists_must_agree_with_placements() {
    let s = snap(vec![], vec![plain("a", "100m"), plain("b", "200m")]);
    let mut p = plan(
        &s,
        vec![planned(&s, "default-1", "zone-a", "spot")],
        &[("a", n("default-1")), ("b", n("default-1"))],
    );
    assert_clean(&validate(&s, &p));
    p.new_nodes[0].pods.pop();
    assert!(rules(&validate(&s, &p)).contains(&Rule::PlanConsistency));
    let mut p = plan(
        &s,
        vec![planned(&s, "default-1", "zone-a", "spot")],
        &[("a", n("default-1")), ("b", n("default-1"))],
    );
    p.new_nodes[0].pod_requests.cpu += 1;
    assert_only(&validate(&s, &p), Rule::PlanConsistency);
    let mut p = plan(
        &s,
        vec![planned(&s, "default-1", "zone-a", "spot")],
        &[("a", n("default-1")), ("b", n("default-1"))],
    );
    p.new_nodes.push(planned(&s, "default-2", "zone-a", "spot"));
    assert_only(&validate(&s, &p), Rule::PlanConsistency);
}

#[test]
fn planned_nodes_match_their_offering_type_and_template() {
    let s = snap(vec![], vec![plain("a", "100m")]);
    let ok = planned(&s, "default-1", "zone-a", "spot");
    let run = |nn: PlannedNode| validate(&s, &plan(&s, vec![nn], &[("a", n("default-1"))]));
    assert_clean(&run(ok.clone()));

    let mut unavailable = planned(&s, "default-1", "zone-b", "on-demand");
    unavailable.chosen.capacity_type = "spot".into();
    unavailable.chosen.price = 0.05;
    unavailable.options = vec![unavailable.chosen.clone()];
    unavailable
        .labels
        .insert(CAPACITY_TYPE.into(), "spot".into());
    assert_only(&run(unavailable), Rule::Offering);

    let mut no_such_zone = ok.clone();
    no_such_zone.chosen.zone = "zone-z".into();
    no_such_zone.options = vec![no_such_zone.chosen.clone()];
    no_such_zone.labels.insert(ZONE.into(), "zone-z".into());
    assert_only(&run(no_such_zone), Rule::Offering);

    let mut cheaper = ok.clone();
    cheaper.chosen.price = 0.01;
    cheaper.options = vec![cheaper.chosen.clone()];
    assert_only(&run(cheaper), Rule::Offering);

    let mut wrong_zone_label = ok.clone();
    wrong_zone_label.labels.insert(ZONE.into(), "zone-b".into());
    assert_only(&run(wrong_zone_label), Rule::Labels);

    let mut wrong_arch = ok.clone();
    wrong_arch
        .labels
        .insert("kubernetes.io/arch".into(), "arm64".into());
    assert_only(&run(wrong_arch), Rule::Labels);

    let mut bigger = ok.clone();
    bigger.allocatable.cpu += 1000;
    assert_only(&run(bigger), Rule::Allocatable);

    // A template requirement the chosen offering violates.
    let mut s2 = snap(vec![], vec![plain("a", "100m")]);
    s2.templates[0]
        .requirements
        .add(Requirement::in_values(CAPACITY_TYPE, ["on-demand"]));
    let nn = planned(&s2, "default-1", "zone-a", "spot");
    let v = validate(&s2, &plan(&s2, vec![nn], &[("a", n("default-1"))]));
    assert!(
        v.iter()
            .all(|x| matches!(x.rule, Rule::Offering | Rule::Labels))
            && !v.is_empty(),
        "{v:#?}"
    );

    // Template taints must stay on the node.
    let mut s3 = snap(
        vec![],
        vec![mk(
            "a",
            json!({}),
            "100m",
            json!({"tolerations": [{"operator": "Exists"}]}),
        )],
    );
    s3.templates[0].taints.push(Taint {
        key: "dedicated".into(),
        value: None,
        effect: "NoSchedule".into(),
        time_added: None,
    });
    let mut nn = planned(&s3, "default-1", "zone-a", "spot");
    assert_clean(&validate(
        &s3,
        &plan(&s3, vec![nn.clone()], &[("a", n("default-1"))]),
    ));
    nn.taints.clear();
    assert_only(
        &validate(&s3, &plan(&s3, vec![nn], &[("a", n("default-1"))])),
        Rule::Taints,
    );
}

#[test]
fn daemon_overhead_and_limits() {
    let ds = |name: &str, extra: Value| -> k8s_openapi::api::apps::v1::DaemonSet {
        let mut spec =
            json!({"containers": [{"name": "d", "resources": {"requests": {"cpu": "300m"}}}]});
        if let (Some(spec), Some(extra)) = (spec.as_object_mut(), extra.as_object()) {
            for (k, v) in extra {
                spec.insert(k.clone(), v.clone());
            }
        }
        serde_json::from_value(json!({"metadata": {"name": name}, "spec": {"selector": {}, "template": {"spec": spec}}})).expect("ds")
    };
    let mut s = snap(vec![], vec![plain("a", "100m")]);
    s.daemonsets = vec![ds(
        "arm-only",
        json!({"nodeSelector": {"kubernetes.io/arch": "arm64"}}),
    )];
    let mut nn = planned(&s, "default-1", "zone-a", "spot");
    assert_clean(&validate(
        &s,
        &plan(&s, vec![nn.clone()], &[("a", n("default-1"))]),
    ));
    s.daemonsets.push(ds("everywhere", json!({})));
    assert_only(
        &validate(&s, &plan(&s, vec![nn.clone()], &[("a", n("default-1"))])),
        Rule::DaemonOverhead,
    );
    nn.daemon_requests = Resources::new(300, 0, 1);
    assert_clean(&validate(&s, &plan(&s, vec![nn], &[("a", n("default-1"))])));

    let mut s = snap(vec![], vec![plain("a", "100m"), plain("b", "100m")]);
    s.templates[0].limits.insert("cpu".into(), 3000);
    let nodes = vec![
        planned(&s, "default-1", "zone-a", "spot"),
        planned(&s, "default-2", "zone-a", "spot"),
    ];
    assert_only(
        &validate(
            &s,
            &plan(
                &s,
                nodes.clone(),
                &[("a", n("default-1")), ("b", n("default-2"))],
            ),
        ),
        Rule::Limits,
    );
    s.templates[0].limits.insert("cpu".into(), 4000);
    assert_clean(&validate(
        &s,
        &plan(&s, nodes, &[("a", n("default-1")), ("b", n("default-2"))]),
    ));
}
