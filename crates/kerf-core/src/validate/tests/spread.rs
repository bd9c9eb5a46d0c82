//! Topology spread: skew, planned nodes as domains, minDomains, inclusion policies.

use super::*;

fn spread(key: &str, max_skew: i32, extra: Value) -> Value {
    let mut c = json!({"maxSkew": max_skew, "topologyKey": key, "whenUnsatisfiable": "DoNotSchedule", "labelSelector": {"matchLabels": {"app": "web"}}});
    if let (Some(c), Some(extra)) = (c.as_object_mut(), extra.as_object()) {
        for (k, v) in extra {
            c.insert(k.clone(), v.clone());
        }
    }
    c
}

fn web(name: &str, constraints: Value, extra: Value) -> Pod {
    let mut spec = json!({"topologySpreadConstraints": constraints});
    if let (Some(spec), Some(extra)) = (spec.as_object_mut(), extra.as_object()) {
        for (k, v) in extra {
            spec.insert(k.clone(), v.clone());
        }
    }
    mk(name, json!({"app": "web"}), "100m", spec)
}

fn zones3() -> Vec<ExistingNode> {
    vec![
        node("e-a", "zone-a", 8000, vec![]),
        node("e-b", "zone-b", 8000, vec![]),
        node("e-c", "zone-c", 8000, vec![]),
    ]
}

#[test]
fn zonal_spread_skew() {
    let c = json!([spread(ZONE, 1, json!({}))]);
    let s = snap(
        zones3(),
        vec![
            web("w0", c.clone(), json!({})),
            web("w1", c.clone(), json!({})),
        ],
    );
    assert_clean(&validate(
        &s,
        &plan(&s, vec![], &[("w0", e("e-a")), ("w1", e("e-b"))]),
    ));
    let v = validate(&s, &plan(&s, vec![], &[("w0", e("e-a")), ("w1", e("e-a"))]));
    assert_only(&v, Rule::TopologySpread);
    assert_eq!(v[0].pod, Some(key("w1")));

    // ScheduleAnyway is a preference: never a violation.
    let soft = json!([{"maxSkew": 1, "topologyKey": ZONE, "whenUnsatisfiable": "ScheduleAnyway", "labelSelector": {"matchLabels": {"app": "web"}}}]);
    let s = snap(
        zones3(),
        vec![
            web("w0", soft.clone(), json!({})),
            web("w1", soft, json!({})),
        ],
    );
    assert_clean(&validate(
        &s,
        &plan(&s, vec![], &[("w0", e("e-a")), ("w1", e("e-a"))]),
    ));
}

#[test]
fn spread_counts_planned_nodes_as_domains() {
    // Only zone-a exists today, but the plan launches a node in zone-b: once it
    // exists, two pods in zone-a and none in zone-b is a skew of 2.
    let c = json!([spread(ZONE, 1, json!({}))]);
    let s = snap(
        vec![node("e-a", "zone-a", 8000, vec![])],
        vec![
            web("w0", c.clone(), json!({})),
            web("w1", c.clone(), json!({})),
            plain("other", "100m"),
        ],
    );
    let nn = planned(&s, "default-1", "zone-b", "on-demand");
    let v = validate(
        &s,
        &plan(
            &s,
            vec![nn.clone()],
            &[
                ("w0", e("e-a")),
                ("w1", e("e-a")),
                ("other", n("default-1")),
            ],
        ),
    );
    assert_only(&v, Rule::TopologySpread);
    assert_clean(&validate(
        &s,
        &plan(
            &s,
            vec![nn],
            &[
                ("w0", e("e-a")),
                ("w1", n("default-1")),
                ("other", e("e-a")),
            ],
        ),
    ));

    // Hostname spread: each planned node is its own domain from the start.
    let h = json!([spread(HOSTNAME, 1, json!({}))]);
    let s = snap(
        vec![],
        vec![
            web("w0", h.clone(), json!({})),
            web("w1", h.clone(), json!({})),
            web("w2", h, json!({})),
        ],
    );
    let nodes = vec![
        planned(&s, "default-1", "zone-a", "spot"),
        planned(&s, "default-2", "zone-a", "spot"),
    ];
    let v = validate(
        &s,
        &plan(
            &s,
            nodes.clone(),
            &[
                ("w0", n("default-1")),
                ("w1", n("default-1")),
                ("w2", n("default-2")),
            ],
        ),
    );
    assert_only(&v, Rule::TopologySpread);
    assert_clean(&validate(
        &s,
        &plan(
            &s,
            nodes,
            &[
                ("w0", n("default-1")),
                ("w1", n("default-2")),
                ("w2", n("default-1")),
            ],
        ),
    ));
}

#[test]
fn min_domains_forces_global_minimum_to_zero() {
    let two_zones = || {
        vec![
            node("e-a", "zone-a", 8000, vec![]),
            node("e-b", "zone-b", 8000, vec![]),
        ]
    };
    let order = [("w0", e("e-a")), ("w1", e("e-b")), ("w2", e("e-a"))];
    let c = json!([spread(ZONE, 1, json!({}))]);
    let s = snap(
        two_zones(),
        vec![
            web("w0", c.clone(), json!({})),
            web("w1", c.clone(), json!({})),
            web("w2", c, json!({})),
        ],
    );
    assert_clean(&validate(&s, &plan(&s, vec![], &order)));
    let c = json!([spread(ZONE, 1, json!({"minDomains": 3}))]);
    let s = snap(
        two_zones(),
        vec![
            web("w0", c.clone(), json!({})),
            web("w1", c.clone(), json!({})),
            web("w2", c, json!({})),
        ],
    );
    let v = validate(&s, &plan(&s, vec![], &order));
    assert_only(&v, Rule::TopologySpread);
    assert_eq!(v[0].pod, Some(key("w2")));
}

#[test]
fn node_inclusion_policies() {
    // zone-a: amd64, empty. zone-b: arm64 with one matching pod. The pod needs arm64.
    let nodes = || {
        let mut b = node(
            "e-b",
            "zone-b",
            8000,
            vec![mk("old", json!({"app": "web"}), "100m", json!({}))],
        );
        b.labels.insert("kubernetes.io/arch".into(), "arm64".into());
        vec![node("e-a", "zone-a", 8000, vec![]), b]
    };
    let arm = json!({"nodeSelector": {"kubernetes.io/arch": "arm64"}});
    let run = |policy: Value, nodes: Vec<ExistingNode>, extra: Value| {
        let s = snap(
            nodes,
            vec![web("w", json!([spread(ZONE, 1, policy)]), extra)],
        );
        validate(&s, &plan(&s, vec![], &[("w", e("e-b"))]))
    };
    assert_clean(&run(json!({}), nodes(), arm.clone()));
    assert_clean(&run(
        json!({"nodeAffinityPolicy": "Honor"}),
        nodes(),
        arm.clone(),
    ));
    assert_only(
        &run(json!({"nodeAffinityPolicy": "Ignore"}), nodes(), arm),
        Rule::TopologySpread,
    );

    // Taints: ignored by default; with Honor, untolerated nodes leave the count.
    let tainted = || {
        let mut n = nodes();
        n[0].labels
            .insert("kubernetes.io/arch".into(), "arm64".into());
        n[0].taints.push(Taint {
            key: "dedicated".into(),
            value: None,
            effect: "NoSchedule".into(),
            time_added: None,
        });
        n
    };
    assert_only(&run(json!({}), tainted(), json!({})), Rule::TopologySpread);
    assert_clean(&run(
        json!({"nodeTaintsPolicy": "Honor"}),
        tainted(),
        json!({}),
    ));
}

#[test]
fn cordoned_nodes_carry_the_unschedulable_taint_for_spread() {
    // zone-a is cordoned: with nodeTaintsPolicy Honor it leaves the count.
    let nodes = || {
        let mut a = node("e-a", "zone-a", 8000, vec![]);
        a.unschedulable = true;
        vec![
            a,
            node(
                "e-b",
                "zone-b",
                8000,
                vec![mk("old", json!({"app": "web"}), "100m", json!({}))],
            ),
        ]
    };
    let run = |policy: Value| {
        let s = snap(
            nodes(),
            vec![web("w", json!([spread(ZONE, 1, policy)]), json!({}))],
        );
        validate(&s, &plan(&s, vec![], &[("w", e("e-b"))]))
    };
    assert_only(&run(json!({})), Rule::TopologySpread);
    assert_clean(&run(json!({"nodeTaintsPolicy": "Honor"})));
}

#[test]
fn match_label_keys_narrow_the_count() {
    let old = mk(
        "old",
        json!({"app": "web", "version": "v1"}),
        "100m",
        json!({}),
    );
    let nodes = || {
        vec![
            node("e-a", "zone-a", 8000, vec![old.clone()]),
            node("e-b", "zone-b", 8000, vec![]),
        ]
    };
    let v2 = |extra: Value| {
        let c = json!([spread(ZONE, 1, extra)]);
        mk(
            "w",
            json!({"app": "web", "version": "v2"}),
            "100m",
            json!({"topologySpreadConstraints": c}),
        )
    };
    let s = snap(nodes(), vec![v2(json!({}))]);
    assert_only(
        &validate(&s, &plan(&s, vec![], &[("w", e("e-a"))])),
        Rule::TopologySpread,
    );
    let s = snap(nodes(), vec![v2(json!({"matchLabelKeys": ["version"]}))]);
    assert_clean(&validate(&s, &plan(&s, vec![], &[("w", e("e-a"))])));
}

#[test]
fn nodes_missing_any_constraint_key_are_not_counted() {
    // e-x is in zone-a but has no arch label, and runs two web pods. A pod
    // spreading over zone *and* arch counts e-x in neither: zone-a holds 0.
    const ARCH: &str = "kubernetes.io/arch";
    let nodes = || {
        let mut x = node(
            "e-x",
            "zone-a",
            8000,
            vec![
                mk("old-0", json!({"app": "web"}), "100m", json!({})),
                mk("old-1", json!({"app": "web"}), "100m", json!({})),
            ],
        );
        x.labels.remove(ARCH);
        vec![
            node("e-a", "zone-a", 8000, vec![]),
            node("e-b", "zone-b", 8000, vec![]),
            x,
        ]
    };
    let both = json!([spread(ZONE, 1, json!({})), spread(ARCH, 5, json!({}))]);
    let s = snap(nodes(), vec![web("w0", both.clone(), json!({}))]);
    assert_clean(&validate(&s, &plan(&s, vec![], &[("w0", e("e-a"))])));
    // A node missing a key is no candidate.
    assert_only(
        &validate(&s, &plan(&s, vec![], &[("w0", e("e-x"))])),
        Rule::TopologySpread,
    );

    // The rule still bites among the nodes that count.
    let s2 = snap(
        nodes(),
        vec![
            web("w0", both.clone(), json!({})),
            web("w1", both, json!({})),
        ],
    );
    assert_only(
        &validate(
            &s2,
            &plan(&s2, vec![], &[("w0", e("e-a")), ("w1", e("e-a"))]),
        ),
        Rule::TopologySpread,
    );

    // With the zone constraint alone, e-x counts: zone-a already holds 2.
    let zone_only = json!([spread(ZONE, 1, json!({}))]);
    let s = snap(nodes(), vec![web("w0", zone_only, json!({}))]);
    assert_only(
        &validate(&s, &plan(&s, vec![], &[("w0", e("e-a"))])),
        Rule::TopologySpread,
    );
    // ScheduleAnyway keys do not take part in the filter's count.
    let soft_arch = json!([
        spread(ZONE, 1, json!({})),
        spread(ARCH, 5, json!({"whenUnsatisfiable": "ScheduleAnyway"}))
    ]);
    let s = snap(nodes(), vec![web("w0", soft_arch, json!({}))]);
    assert_only(
        &validate(&s, &plan(&s, vec![], &[("w0", e("e-a"))])),
        Rule::TopologySpread,
    );
}
