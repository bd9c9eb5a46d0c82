//! Resources, taints, cordons, node selection and host ports.

use super::*;

#[test]
fn a_correct_plan_reports_nothing() {
    let bound = plain("old", "1");
    let p2 = mk(
        "p2",
        json!({}),
        "1500m",
        json!({"nodeSelector": {ZONE: "zone-b"}}),
    );
    let s = snap(
        vec![node("e1", "zone-a", 4000, vec![bound])],
        vec![plain("p1", "1"), p2],
    );
    let p = plan(
        &s,
        vec![planned(&s, "default-1", "zone-b", "on-demand")],
        &[("p1", e("e1")), ("p2", n("default-1"))],
    );
    assert_clean(&validate(&s, &p));
}

#[test]
fn requests_follow_kubernetes_rules() {
    let spec = |init_cpu: &str| {
        json!({
            "overhead": {"cpu": "100m"},
            "initContainers": [
                {"name": "sidecar", "restartPolicy": "Always", "resources": {"requests": {"cpu": "500m"}}},
                {"name": "init", "resources": {"requests": {"cpu": init_cpu}}},
            ],
        })
    };
    let big = mk("big", json!({}), "500m", spec("1500m"));
    // app 500m + sidecar 500m = 1; init 1500m after the sidecar = 2; + 100m overhead.
    assert_eq!(pod_requests(&big).expect("valid").cpu, 2100);
    let limits_only = pod(
        json!({"metadata": {"name": "l"}, "spec": {"containers": [{"name": "c", "resources": {"limits": {"cpu": "2"}}}]}}),
    );
    assert_eq!(
        pod_requests(&limits_only).expect("valid").cpu,
        2000,
        "requests default to limits"
    );

    let s = snap(vec![node("e1", "zone-a", 2000, vec![])], vec![big]);
    let v = validate(&s, &plan(&s, vec![], &[("big", e("e1"))]));
    assert_only(&v, Rule::Resources);
    assert!(v[0].detail.contains("cpu"), "{}", v[0]);

    let fits = mk("fits", json!({}), "500m", spec("1"));
    let s = snap(vec![node("e1", "zone-a", 2000, vec![])], vec![fits]);
    assert_clean(&validate(&s, &plan(&s, vec![], &[("fits", e("e1"))])));
}

#[test]
fn resources_count_bound_pods_daemons_and_pod_slots() {
    let s = snap(
        vec![node("e1", "zone-a", 2000, vec![plain("old", "1500m")])],
        vec![plain("p", "1")],
    );
    assert_only(
        &validate(&s, &plan(&s, vec![], &[("p", e("e1"))])),
        Rule::Resources,
    );

    let mut full = node("e1", "zone-a", 4000, vec![plain("old", "100m")]);
    full.allocatable.pods = MILLI;
    let s = snap(vec![full], vec![plain("p", "100m")]);
    let v = validate(&s, &plan(&s, vec![], &[("p", e("e1"))]));
    assert_only(&v, Rule::Resources);
    assert!(v[0].detail.starts_with("pods"), "{}", v[0]);

    // s.small has 1900m allocatable: 1500m fits alone, not with 500m of daemons.
    let s = snap(vec![], vec![plain("p", "1500m")]);
    let mut nn = planned(&s, "default-1", "zone-a", "spot");
    assert_clean(&validate(
        &s,
        &plan(&s, vec![nn.clone()], &[("p", n("default-1"))]),
    ));
    nn.daemon_requests = Resources::new(500, 0, 1);
    assert_only(
        &validate(&s, &plan(&s, vec![nn], &[("p", n("default-1"))])),
        Rule::Resources,
    );

    let gpu = pod(
        json!({"metadata": {"name": "gpu"}, "spec": {"containers": [{"name": "c", "resources": {"limits": {"example.com/gpu": "1"}}}]}}),
    );
    let s = snap(vec![node("e1", "zone-a", 2000, vec![])], vec![gpu]);
    assert_only(
        &validate(&s, &plan(&s, vec![], &[("gpu", e("e1"))])),
        Rule::Resources,
    );
}

#[test]
fn taints_must_be_tolerated_except_prefer_no_schedule() {
    let taint = |effect: &str| Taint {
        key: "dedicated".into(),
        value: Some("db".into()),
        effect: effect.into(),
        time_added: None,
    };
    let run = |effect: &str, tolerations: Value| {
        let mut e1 = node("e1", "zone-a", 2000, vec![]);
        e1.taints.push(taint(effect));
        let s = snap(
            vec![e1],
            vec![mk(
                "p",
                json!({}),
                "100m",
                json!({"tolerations": tolerations}),
            )],
        );
        validate(&s, &plan(&s, vec![], &[("p", e("e1"))]))
    };
    assert_only(&run("NoSchedule", json!([])), Rule::Taints);
    assert_only(
        &run(
            "NoExecute",
            json!([{"key": "dedicated", "operator": "Exists", "effect": "NoSchedule"}]),
        ),
        Rule::Taints,
    );
    assert_only(
        &run("NoSchedule", json!([{"key": "dedicated", "value": "web"}])),
        Rule::Taints,
    );
    assert_clean(&run("PreferNoSchedule", json!([])));
    assert_clean(&run(
        "NoSchedule",
        json!([{"key": "dedicated", "value": "db"}]),
    ));
    assert_clean(&run("NoExecute", json!([{"operator": "Exists"}])));
}

#[test]
fn cordoned_and_deleting_nodes() {
    let mut e1 = node("e1", "zone-a", 2000, vec![]);
    e1.unschedulable = true;
    let s = snap(vec![e1], vec![plain("p", "100m")]);
    assert_only(
        &validate(&s, &plan(&s, vec![], &[("p", e("e1"))])),
        Rule::Cordoned,
    );
    let tolerant = mk(
        "p",
        json!({}),
        "100m",
        json!({"tolerations": [{"key": UNSCHEDULABLE_TAINT, "operator": "Exists"}]}),
    );
    let mut e1 = node("e1", "zone-a", 2000, vec![]);
    e1.unschedulable = true;
    let s = snap(vec![e1], vec![tolerant]);
    assert_clean(&validate(&s, &plan(&s, vec![], &[("p", e("e1"))])));

    let mut e1 = node("e1", "zone-a", 2000, vec![]);
    e1.marked_for_deletion = true;
    let s = snap(vec![e1], vec![plain("p", "100m")]);
    assert_only(
        &validate(&s, &plan(&s, vec![], &[("p", e("e1"))])),
        Rule::NodeDeleting,
    );
}

#[test]
fn node_selector_and_required_node_affinity() {
    let run = |extra: Value, node_name: &str| {
        let mut e1 = node("e1", "zone-a", 2000, vec![]);
        e1.labels.insert("cpus".into(), "4".into());
        let e2 = node("e2", "zone-b", 2000, vec![]);
        let s = snap(vec![e1, e2], vec![mk("p", json!({}), "100m", extra)]);
        validate(&s, &plan(&s, vec![], &[("p", e(node_name))]))
    };
    let affinity = |terms: Value| json!({"affinity": {"nodeAffinity": {"requiredDuringSchedulingIgnoredDuringExecution": {"nodeSelectorTerms": terms}}}});
    let expr = |k: &str, op: &str, vs: &[&str]| json!({"matchExpressions": [{"key": k, "operator": op, "values": vs}]});

    assert_only(
        &run(json!({"nodeSelector": {ZONE: "zone-b"}}), "e1"),
        Rule::NodeSelector,
    );
    assert_clean(&run(json!({"nodeSelector": {ZONE: "zone-a"}}), "e1"));
    // Deprecated keys read the GA label.
    assert_clean(&run(
        json!({"nodeSelector": {"failure-domain.beta.kubernetes.io/zone": "zone-a"}}),
        "e1",
    ));

    // Terms are ORed.
    assert_clean(&run(
        affinity(json!([
            expr(ZONE, "In", &["zone-x"]),
            expr(ZONE, "In", &["zone-a"])
        ])),
        "e1",
    ));
    assert_only(
        &run(
            affinity(json!([
                expr(ZONE, "In", &["zone-x"]),
                expr(ZONE, "NotIn", &["zone-a"])
            ])),
            "e1",
        ),
        Rule::NodeAffinity,
    );
    assert_clean(&run(affinity(json!([expr("cpus", "Gt", &["2"])])), "e1"));
    assert_only(
        &run(affinity(json!([expr("cpus", "Lt", &["4"])])), "e1"),
        Rule::NodeAffinity,
    );
    assert_only(
        &run(affinity(json!([expr("cpus", "Gt", &["2"])])), "e2"),
        Rule::NodeAffinity,
    );
    assert_clean(&run(
        affinity(json!([expr("cpus", "DoesNotExist", &[])])),
        "e2",
    ));
    assert_only(
        &run(affinity(json!([expr("cpus", "Exists", &[])])), "e2"),
        Rule::NodeAffinity,
    );
    let by_name = affinity(
        json!([{"matchFields": [{"key": "metadata.name", "operator": "In", "values": ["e1"]}]}]),
    );
    assert_clean(&run(by_name.clone(), "e1"));
    assert_only(&run(by_name, "e2"), Rule::NodeAffinity);
    assert_only(&run(affinity(json!([{}])), "e1"), Rule::NodeAffinity);
}

#[test]
fn host_ports_conflict() {
    let with_port = |name: &str, port: Value| {
        pod(
            json!({"metadata": {"name": name, "namespace": "default"}, "spec": {"containers": [{"name": "c", "ports": [port]}]}}),
        )
    };
    let run = |bound: Value, incoming: Value| {
        let s = snap(
            vec![node("e1", "zone-a", 2000, vec![with_port("old", bound)])],
            vec![with_port("p", incoming)],
        );
        validate(&s, &plan(&s, vec![], &[("p", e("e1"))]))
    };
    assert_only(
        &run(
            json!({"containerPort": 80, "hostPort": 8080}),
            json!({"containerPort": 81, "hostPort": 8080, "hostIP": "10.0.0.1"}),
        ),
        Rule::HostPorts,
    );
    assert_clean(&run(
        json!({"containerPort": 80, "hostPort": 8080}),
        json!({"containerPort": 80, "hostPort": 8080, "protocol": "UDP"}),
    ));
    assert_clean(&run(
        json!({"containerPort": 80, "hostPort": 8080, "hostIP": "10.0.0.2"}),
        json!({"containerPort": 80, "hostPort": 8080, "hostIP": "10.0.0.1"}),
    ));
    assert_clean(&run(
        json!({"containerPort": 80}),
        json!({"containerPort": 80}),
    ));

    // Two pending pods on the same new node.
    let s = snap(
        vec![],
        vec![
            with_port("a", json!({"containerPort": 80, "hostPort": 80})),
            with_port("b", json!({"containerPort": 80, "hostPort": 80})),
        ],
    );
    let p = plan(
        &s,
        vec![planned(&s, "default-1", "zone-a", "spot")],
        &[("a", n("default-1")), ("b", n("default-1"))],
    );
    let v = validate(&s, &p);
    assert_only(&v, Rule::HostPorts);
    assert_eq!(v[0].pod, Some(key("b")));

    // hostNetwork pods bind their container ports.
    let host_net = |name: &str| {
        pod(
            json!({"metadata": {"name": name}, "spec": {"hostNetwork": true, "containers": [{"name": "c", "ports": [{"containerPort": 9100}]}]}}),
        )
    };
    let s = snap(
        vec![node("e1", "zone-a", 2000, vec![host_net("old")])],
        vec![host_net("p")],
    );
    assert_only(
        &validate(&s, &plan(&s, vec![], &[("p", e("e1"))])),
        Rule::HostPorts,
    );
}
