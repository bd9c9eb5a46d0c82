//! Pod affinity and anti-affinity, and volume topology.

use super::*;

fn pod_affinity(kind: &str, key: &str, selector: Value) -> Value {
    json!({"affinity": {kind: {"requiredDuringSchedulingIgnoredDuringExecution": [{"topologyKey": key, "labelSelector": selector}]}}})
}

#[test]
fn required_pod_affinity() {
    let to_cache = pod_affinity(
        "podAffinity",
        ZONE,
        json!({"matchLabels": {"app": "cache"}}),
    );
    let nodes = || {
        vec![
            node(
                "e-a",
                "zone-a",
                4000,
                vec![mk("cache-0", json!({"app": "cache"}), "100m", json!({}))],
            ),
            node("e-b", "zone-b", 4000, vec![]),
        ]
    };
    let s = snap(
        nodes(),
        vec![mk("web", json!({"app": "web"}), "100m", to_cache.clone())],
    );
    assert_clean(&validate(&s, &plan(&s, vec![], &[("web", e("e-a"))])));
    assert_only(
        &validate(&s, &plan(&s, vec![], &[("web", e("e-b"))])),
        Rule::PodAffinity,
    );

    // Nothing matches and the pod does not match its own term: nowhere.
    let s = snap(
        vec![node("e-b", "zone-b", 4000, vec![])],
        vec![mk("web", json!({"app": "web"}), "100m", to_cache)],
    );
    assert_only(
        &validate(&s, &plan(&s, vec![], &[("web", e("e-b"))])),
        Rule::PodAffinity,
    );

    // The first of a self-affine group goes anywhere; the next must follow it.
    let selfish = |name: &str| {
        mk(
            name,
            json!({"app": "c2"}),
            "100m",
            pod_affinity("podAffinity", ZONE, json!({"matchLabels": {"app": "c2"}})),
        )
    };
    let s = snap(nodes(), vec![selfish("c2-0"), selfish("c2-1")]);
    assert_clean(&validate(
        &s,
        &plan(&s, vec![], &[("c2-0", e("e-b")), ("c2-1", e("e-b"))]),
    ));
    let v = validate(
        &s,
        &plan(&s, vec![], &[("c2-0", e("e-b")), ("c2-1", e("e-a"))]),
    );
    assert_only(&v, Rule::PodAffinity);
    assert_eq!(v[0].pod, Some(key("c2-1")));

    // kube-scheduler counts only pods matching *all* terms.
    let two_terms = json!({"affinity": {"podAffinity": {"requiredDuringSchedulingIgnoredDuringExecution": [
        {"topologyKey": ZONE, "labelSelector": {"matchLabels": {"app": "cache"}}},
        {"topologyKey": ZONE, "labelSelector": {"matchLabels": {"tier": "hot"}}},
    ]}}});
    let split = vec![node(
        "e-a",
        "zone-a",
        4000,
        vec![
            mk("cache", json!({"app": "cache"}), "100m", json!({})),
            mk("hot", json!({"tier": "hot"}), "100m", json!({})),
        ],
    )];
    let s = snap(split, vec![mk("web", json!({}), "100m", two_terms.clone())]);
    assert_only(
        &validate(&s, &plan(&s, vec![], &[("web", e("e-a"))])),
        Rule::PodAffinity,
    );
    let both = vec![node(
        "e-a",
        "zone-a",
        4000,
        vec![mk(
            "cache",
            json!({"app": "cache", "tier": "hot"}),
            "100m",
            json!({}),
        )],
    )];
    let s = snap(both, vec![mk("web", json!({}), "100m", two_terms)]);
    assert_clean(&validate(&s, &plan(&s, vec![], &[("web", e("e-a"))])));
}

#[test]
fn required_pod_anti_affinity_and_namespaces() {
    let away = pod_affinity(
        "podAntiAffinity",
        HOSTNAME,
        json!({"matchLabels": {"app": "db"}}),
    );
    let s = snap(
        vec![
            node(
                "e1",
                "zone-a",
                4000,
                vec![mk("db-0", json!({"app": "db"}), "100m", json!({}))],
            ),
            node("e2", "zone-a", 4000, vec![]),
        ],
        vec![mk("db-1", json!({"app": "db"}), "100m", away)],
    );
    assert_only(
        &validate(&s, &plan(&s, vec![], &[("db-1", e("e1"))])),
        Rule::PodAntiAffinity,
    );
    assert_clean(&validate(&s, &plan(&s, vec![], &[("db-1", e("e2"))])));

    // Pods in other namespaces do not count unless the term selects them.
    let other = pod(
        json!({"metadata": {"name": "db-x", "namespace": "other", "labels": {"app": "db"}}, "spec": {"containers": [{"name": "c"}]}}),
    );
    let plain_term = pod_affinity(
        "podAntiAffinity",
        ZONE,
        json!({"matchLabels": {"app": "db"}}),
    );
    let s = snap(
        vec![node("e1", "zone-a", 4000, vec![other.clone()])],
        vec![mk("db-1", json!({"app": "db"}), "100m", plain_term)],
    );
    assert_clean(&validate(&s, &plan(&s, vec![], &[("db-1", e("e1"))])));
    let selected = json!({"affinity": {"podAntiAffinity": {"requiredDuringSchedulingIgnoredDuringExecution": [
        {"topologyKey": ZONE, "labelSelector": {"matchLabels": {"app": "db"}}, "namespaceSelector": {"matchLabels": {"team": "x"}}}
    ]}}});
    let mut s = snap(
        vec![node("e1", "zone-a", 4000, vec![other])],
        vec![mk("db-1", json!({"app": "db"}), "100m", selected)],
    );
    assert_clean(&validate(&s, &plan(&s, vec![], &[("db-1", e("e1"))])));
    s.namespaces
        .insert("other".into(), labels(&[("team", "x")]));
    assert_only(
        &validate(&s, &plan(&s, vec![], &[("db-1", e("e1"))])),
        Rule::PodAntiAffinity,
    );
}

#[test]
fn existing_pods_anti_affinity_is_symmetric() {
    let db = mk(
        "db",
        json!({"app": "db"}),
        "100m",
        pod_affinity(
            "podAntiAffinity",
            HOSTNAME,
            json!({"matchLabels": {"app": "web"}}),
        ),
    );
    let s = snap(
        vec![
            node("e1", "zone-a", 4000, vec![db.clone()]),
            node("e2", "zone-a", 4000, vec![]),
        ],
        vec![mk("web", json!({"app": "web"}), "100m", json!({}))],
    );
    assert_only(
        &validate(&s, &plan(&s, vec![], &[("web", e("e1"))])),
        Rule::ExistingAntiAffinity,
    );
    assert_clean(&validate(&s, &plan(&s, vec![], &[("web", e("e2"))])));

    // Also between pods of the same plan, in placement order.
    let s = snap(
        vec![],
        vec![db, mk("web", json!({"app": "web"}), "100m", json!({}))],
    );
    let nn = planned(&s, "default-1", "zone-a", "spot");
    assert_only(
        &validate(
            &s,
            &plan(
                &s,
                vec![nn.clone()],
                &[("db", n("default-1")), ("web", n("default-1"))],
            ),
        ),
        Rule::ExistingAntiAffinity,
    );
    // In the other order the incoming db pod's own anti-affinity catches it.
    assert_only(
        &validate(
            &s,
            &plan(
                &s,
                vec![nn],
                &[("web", n("default-1")), ("db", n("default-1"))],
            ),
        ),
        Rule::PodAntiAffinity,
    );
}

#[test]
fn volume_topology() {
    let pv: PersistentVolume = serde_json::from_value(json!({
            "metadata": {"name": "pv-b"},
            "spec": {"nodeAffinity": {"required": {"nodeSelectorTerms": [{"matchExpressions": [{"key": ZONE, "operator": "In", "values": ["zone-b"]}]}]}}}
        }))
        .expect("pv");
    let bound: k8s_openapi::api::core::v1::PersistentVolumeClaim = serde_json::from_value(json!({"metadata": {"name": "data", "namespace": "default"}, "spec": {"volumeName": "pv-b"}})).expect("pvc");
    let fresh: k8s_openapi::api::core::v1::PersistentVolumeClaim = serde_json::from_value(json!({"metadata": {"name": "fresh", "namespace": "default"}, "spec": {"storageClassName": "zonal"}})).expect("pvc");
    let sc: StorageClass = serde_json::from_value(json!({
            "metadata": {"name": "zonal"}, "provisioner": "ebs.csi.aws.com", "volumeBindingMode": "WaitForFirstConsumer",
            "allowedTopologies": [{"matchLabelExpressions": [{"key": ZONE, "values": ["zone-b"]}]}]
        }))
        .expect("sc");
    let run = |claim: &str, node_name: &str| {
        let p = mk(
            "p",
            json!({}),
            "100m",
            json!({"volumes": [{"name": "v", "persistentVolumeClaim": {"claimName": claim}}]}),
        );
        let mut s = snap(
            vec![
                node("e-a", "zone-a", 2000, vec![]),
                node("e-b", "zone-b", 2000, vec![]),
            ],
            vec![p],
        );
        s.volumes = vec![pv.clone()];
        s.claims = vec![bound.clone(), fresh.clone()];
        s.storage_classes = vec![sc.clone()];
        validate(&s, &plan(&s, vec![], &[("p", e(node_name))]))
    };
    assert_clean(&run("data", "e-b"));
    assert_only(&run("data", "e-a"), Rule::VolumeZone);
    assert_clean(&run("fresh", "e-b"));
    assert_only(&run("fresh", "e-a"), Rule::VolumeZone);
    assert_only(&run("missing", "e-b"), Rule::VolumeZone);

    // In-tree volumes carry their zone as a label.
    let mut labelled = pv.clone();
    labelled.spec.as_mut().expect("spec").node_affinity = None;
    labelled.metadata.labels = Some(labels(&[(
        "failure-domain.beta.kubernetes.io/zone",
        "zone-c__zone-b",
    )]));
    let p = mk(
        "p",
        json!({}),
        "100m",
        json!({"volumes": [{"name": "v", "persistentVolumeClaim": {"claimName": "data"}}]}),
    );
    let mut s = snap(
        vec![
            node("e-a", "zone-a", 2000, vec![]),
            node("e-b", "zone-b", 2000, vec![]),
        ],
        vec![p],
    );
    s.volumes = vec![labelled];
    s.claims = vec![bound];
    assert_clean(&validate(&s, &plan(&s, vec![], &[("p", e("e-b"))])));
    assert_only(
        &validate(&s, &plan(&s, vec![], &[("p", e("e-a"))])),
        Rule::VolumeZone,
    );
}
