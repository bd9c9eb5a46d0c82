//! Pool policies, min-savings parsing, the template hash and static drift.

use super::*;
use kerf_api::v1::NodePool;

fn pool(yaml: &str) -> Pool {
    let mut state = ClusterState::new();
    let class: kerf_api::v1::EC2NodeClass = serde_yaml::from_str(
        "apiVersion: karpenter.k8s.aws/v1\nkind: EC2NodeClass\nmetadata: {name: default}\nspec:\n  role: r\n  amiSelectorTerms: [{alias: al2023@latest}]\n  subnetSelectorTerms: [{tags: {a: b}}]\n  securityGroupSelectorTerms: [{tags: {a: b}}]\n",
    )
    .expect("class");
    state.apply(class).expect("class applies");
    let np: NodePool = serde_yaml::from_str(yaml).expect("nodepool");
    state.apply(np).expect("nodepool applies");
    state.pools().ready.into_iter().next().expect("one pool")
}

const BASE: &str = "apiVersion: karpenter.sh/v1\nkind: NodePool\nmetadata: {name: default}\nspec:\n  template:\n    spec:\n      nodeClassRef: {group: karpenter.k8s.aws, kind: EC2NodeClass, name: default}\n      requirements:\n      - {key: karpenter.sh/capacity-type, operator: In, values: [on-demand]}\n";

#[test]
fn a_nodepool_without_disruption_gets_karpenter_defaults() {
    let policy = pool_policy(&pool(BASE)).expect("policy");
    assert_eq!(policy, PoolPolicy::karpenter_default());
}

#[test]
fn budgets_reasons_schedules_and_min_savings_are_read() {
    let yaml = format!(
        "{}  disruption:\n    consolidationPolicy: WhenEmpty\n    consolidateAfter: 30s\n    budgets:\n    - nodes: \"0\"\n      reasons: [Drifted]\n      schedule: \"0 9 * * mon-fri\"\n      duration: 8h\n    - nodes: \"20%\"\n",
        BASE.replace("metadata: {name: default}", "metadata: {name: default, annotations: {kerf.sh/consolidation-min-savings: \"0.01,5%\"}}")
    );
    let policy = pool_policy(&pool(&yaml)).expect("policy");
    assert_eq!(policy.policy, Policy::WhenEmpty);
    assert_eq!(
        policy.consolidate_after,
        Some(std::time::Duration::from_secs(30))
    );
    assert_eq!(
        policy.budgets,
        vec![
            BudgetRule {
                nodes: BudgetNodes::Count(0),
                reasons: Some(vec![Reason::Drifted]),
                schedule: Some("0 9 * * mon-fri".into()),
                duration: Some(std::time::Duration::from_secs(8 * 3600)),
            },
            BudgetRule {
                nodes: BudgetNodes::Percent(20),
                reasons: None,
                schedule: None,
                duration: None,
            },
        ]
    );
    assert_eq!(
        policy.min_savings,
        MinSavings {
            per_hour: 0.01,
            fraction: 0.05
        }
    );
}

#[test]
fn consolidate_after_never_is_none() {
    let yaml = format!("{BASE}  disruption:\n    consolidateAfter: Never\n");
    assert_eq!(
        pool_policy(&pool(&yaml)).expect("policy").consolidate_after,
        None
    );
}

#[test]
fn a_bad_min_savings_annotation_names_the_pool_and_annotation() {
    let yaml = BASE.replace(
        "metadata: {name: default}",
        "metadata: {name: default, annotations: {kerf.sh/consolidation-min-savings: \"lots\"}}",
    );
    let err = pool_policy(&pool(&yaml)).expect_err("refused").to_string();
    assert!(err.contains("NodePool") && err.contains("default"), "{err}");
    assert!(
        err.contains("kerf.sh/consolidation-min-savings") && err.contains("lots"),
        "{err}"
    );
    assert_eq!(
        parse_min_savings("150%"),
        Err(MinSavingsError::PercentOutOfRange("150%".into()))
    );
    assert_eq!(
        parse_min_savings("-1"),
        Err(MinSavingsError::Negative("-1".into()))
    );
}

#[test]
fn the_hash_follows_the_template_but_not_requirements_or_taint_order() {
    let base = pool_hash(&pool(BASE));
    let requirements = BASE.replace("values: [on-demand]", "values: [spot]");
    assert_eq!(pool_hash(&pool(&requirements)), base);
    let labelled = BASE.replace(
        "    spec:\n      nodeClassRef",
        "    metadata: {labels: {team: a}}\n    spec:\n      nodeClassRef",
    );
    assert_ne!(pool_hash(&pool(&labelled)), base);
    let taints = |a: &str, b: &str| {
        BASE.replace(
            "      requirements:",
            &format!("      taints:\n      - {{key: {a}, effect: NoSchedule}}\n      - {{key: {b}, effect: NoSchedule}}\n      requirements:"),
        )
    };
    assert_eq!(
        pool_hash(&pool(&taints("x", "y"))),
        pool_hash(&pool(&taints("y", "x")))
    );
    assert_ne!(pool_hash(&pool(&taints("x", "y"))), base);
}

fn node(labels: &[(&str, &str)]) -> Node {
    serde_json::from_value(serde_json::json!({
        "metadata": {"name": "n1", "labels": labels.iter().cloned().collect::<BTreeMap<_, _>>()},
    }))
    .expect("node")
}

fn claim(hash: &str, version: &str) -> NodeClaim {
    serde_json::from_value(serde_json::json!({
        "metadata": {"name": "c1", "annotations": {
            labels::NODEPOOL_HASH: hash, labels::NODEPOOL_HASH_VERSION: version}},
        "spec": {"nodeClassRef": {"group": "karpenter.k8s.aws", "kind": "EC2NodeClass", "name": "default"}, "requirements": []},
    }))
    .expect("claim")
}

#[test]
fn drift_is_a_changed_hash_of_the_same_version_or_a_label_the_pool_no_longer_admits() {
    let p = pool(BASE);
    let on_demand = node(&[(labels::CAPACITY_TYPE, "on-demand")]);
    let current = claim(&pool_hash(&p), POOL_HASH_VERSION);
    assert_eq!(static_drift(&p, &on_demand, Some(&current)), None);
    let stale = claim("0000", POOL_HASH_VERSION);
    let why = static_drift(&p, &on_demand, Some(&stale)).expect("drifted");
    assert!(why.contains("changed its template"), "{why}");
    // Another hash version is not compared.
    assert_eq!(
        static_drift(&p, &on_demand, Some(&claim("0000", "v3"))),
        None
    );
    let spot = node(&[(labels::CAPACITY_TYPE, "spot")]);
    let why = static_drift(&p, &spot, Some(&current)).expect("drifted");
    assert!(
        why.contains("karpenter.sh/capacity-type") && why.contains("spot"),
        "{why}"
    );
    // A label the node lacks, which the pool requires, is drift.
    let why = static_drift(&p, &node(&[]), None).expect("drifted");
    assert!(
        why.contains("node has no karpenter.sh/capacity-type label"),
        "{why}"
    );
}

fn claim_requiring(key: &str, values: &[&str]) -> NodeClaim {
    let mut c = claim("", "");
    c.spec.requirements = vec![kerf_api::v1::NodeSelectorRequirementWithMinValues {
        key: key.to_string(),
        operator: "In".to_string(),
        values: values.iter().map(|v| v.to_string()).collect(),
        min_values: None,
    }];
    c
}

/// Karpenter's requirements drift (`areRequirementsDrifted`, from
/// `nodeclaim/disruption/drift_test.go`: "should detect drift when a
/// NodePool requirement is added that the NodeClaim does not satisfy"): a
/// requirement on a label the node lacks drifts it unless the requirement
/// allows absence or the claim was launched under values the pool still
/// admits (kerf sets no label for a multi-valued requirement).
#[test]
fn a_requirement_on_a_label_the_node_lacks_is_drift_unless_it_allows_absence() {
    let with = |extra: &str| pool(&format!("{BASE}{extra}"));
    let gpu =
        with("      - {key: karpenter.k8s.aws/instance-gpu-name, operator: In, values: [a10g]}\n");
    let cpu_node = node(&[(labels::CAPACITY_TYPE, "on-demand")]);
    let why = static_drift(&gpu, &cpu_node, None).expect("a CPU node drifts");
    assert!(
        why.contains("instance-gpu-name") && why.contains("node has no"),
        "{why}"
    );

    for absent_ok in [
        "      - {key: karpenter.k8s.aws/instance-gpu-name, operator: NotIn, values: [t4]}\n",
        "      - {key: karpenter.k8s.aws/instance-gpu-name, operator: DoesNotExist}\n",
    ] {
        assert_eq!(
            static_drift(&with(absent_ok), &cpu_node, None),
            None,
            "{absent_ok}"
        );
    }

    let teams = with("      - {key: team, operator: In, values: [a, b]}\n");
    let launched_for_both = claim_requiring("team", &["a", "b"]);
    assert_eq!(
        static_drift(&teams, &cpu_node, Some(&launched_for_both)),
        None
    );
    let narrowed = with("      - {key: team, operator: In, values: [b]}\n");
    assert!(static_drift(&narrowed, &cpu_node, Some(&launched_for_both)).is_some());
    let widened = with("      - {key: team, operator: In, values: [a, b, c]}\n");
    assert_eq!(
        static_drift(&widened, &cpu_node, Some(&launched_for_both)),
        None
    );
    let exists = with("      - {key: team, operator: Exists}\n");
    assert_eq!(
        static_drift(&exists, &cpu_node, Some(&launched_for_both)),
        None
    );
    assert!(static_drift(&exists, &cpu_node, Some(&claim("", ""))).is_some());
}

/// `ttlSecondsAfterEmpty: 30` through the state and the decision: a node
/// whose last workload pod left at t=5 (a DaemonSet pod stays) is kept until
/// t=35, then removed by Emptiness; a pod arriving again keeps it.
#[test]
fn a_provisioners_empty_node_goes_after_its_ttl_from_the_last_pod_event() {
    let t = |s: i64| Timestamp::from_second(1_800_000_000 + s).expect("time");
    let mut state = ClusterState::new();
    let provisioner: kerf_api::v1alpha5::Provisioner = serde_yaml::from_str(
        "apiVersion: karpenter.sh/v1alpha5\nkind: Provisioner\nmetadata: {name: default}\nspec:\n  provider: {instanceProfile: p}\n  ttlSecondsAfterEmpty: 30\n",
    )
    .expect("provisioner");
    state.apply(provisioner).expect("provisioner applies");
    let claim: NodeClaim = serde_json::from_value(serde_json::json!({
        "metadata": {"name": "c1", "labels": {labels::PROVISIONER_NAME: "default"}},
        "spec": {"nodeClassRef": {"group": "karpenter.k8s.aws", "kind": "EC2NodeClass", "name": "default"}, "requirements": []},
        "status": {"nodeName": "n1", "providerID": "kwok://n1", "conditions": [
            {"type": "Initialized", "status": "True", "lastTransitionTime": "2027-01-15T08:00:00Z"}]},
    }))
    .expect("claim");
    state.apply(claim).expect("claim applies");
    let node: Node = serde_json::from_value(serde_json::json!({
        "metadata": {"name": "n1", "labels": {labels::PROVISIONER_NAME: "default",
            labels::INSTANCE_TYPE: "m5.large", labels::ZONE: "us-east-1a", labels::CAPACITY_TYPE: "on-demand",
            labels::ARCH: "amd64", labels::OS: "linux", labels::INSTANCE_CATEGORY: "m",
            labels::INSTANCE_GENERATION: "5"}},
        "spec": {"providerID": "kwok://n1"},
        "status": {"allocatable": {"cpu": "2", "memory": "8Gi", "pods": "29"},
            "conditions": [{"type": "Ready", "status": "True"}]},
    }))
    .expect("node");
    state.apply(node).expect("node applies");
    let daemon: Pod = serde_json::from_value(serde_json::json!({
        "metadata": {"name": "agent", "namespace": "default",
            "ownerReferences": [{"apiVersion": "apps/v1", "kind": "DaemonSet", "name": "agent", "uid": "u"}]},
        "spec": {"nodeName": "n1", "containers": [{"name": "c"}]},
        "status": {"phase": "Running"},
    }))
    .expect("pod");
    state.apply(daemon).expect("pod applies");
    let pools = state.pools();
    let decide = |state: &ClusterState, now: Timestamp| {
        let observed = Observed {
            pod_events: [("n1".to_string(), t(5))].into(),
            ..Observed::default()
        };
        let built = state.disruption_input(
            &pools,
            &InstanceTypes::new(),
            now,
            &observed,
            DisruptionOptions::default(),
        );
        assert!(built.problems.is_empty(), "{:?}", built.problems);
        kerf_core::disruption::decide(&built.input)
    };
    let early = decide(&state, t(34));
    assert!(early.command.is_none(), "{early:?}");
    assert_eq!(
        early.kept[0].reason,
        kerf_core::disruption::KeptReason::ConsolidateAfter {
            remaining: std::time::Duration::from_secs(1)
        }
    );
    let command = decide(&state, t(35)).command.expect("emptiness");
    assert_eq!(command.method, kerf_core::disruption::Method::Emptiness);
    assert_eq!(command.candidates, ["n1"]);

    let web: Pod = serde_json::from_value(serde_json::json!({
        "metadata": {"name": "web", "namespace": "default"},
        "spec": {"nodeName": "n1", "containers": [{"name": "c"}]},
        "status": {"phase": "Running"},
    }))
    .expect("pod");
    state.apply(web).expect("pod applies");
    let busy = decide(&state, t(35));
    assert!(
        busy.command.is_none(),
        "a workload pod keeps a WhenEmpty node: {busy:?}"
    );
}

#[test]
fn the_digest_follows_placements_not_heartbeats() {
    let node = |heartbeat: &str| -> Node {
        serde_json::from_value(serde_json::json!({
            "metadata": {"name": "n1", "labels": {labels::NODEPOOL: "default"}},
            "status": {"conditions": [{"type": "Ready", "status": "True", "lastHeartbeatTime": heartbeat}]},
        }))
        .expect("node")
    };
    let mut state = ClusterState::new();
    state.apply(node("2026-12-05T10:00:00Z")).expect("node");
    let before = state.disruption_digest();
    state.apply(node("2026-12-05T10:00:40Z")).expect("node");
    assert_eq!(
        state.disruption_digest(),
        before,
        "a heartbeat changes nothing"
    );
    let pod: Pod = serde_json::from_value(serde_json::json!({
        "metadata": {"name": "web", "namespace": "default"},
        "spec": {"nodeName": "n1", "containers": [{"name": "c"}]},
    }))
    .expect("pod");
    state.apply(pod.clone()).expect("pod");
    assert_ne!(state.disruption_digest(), before, "a pod arriving does");

    // The deletion cost kerf writes is no change; one a user sets is.
    let placed = state.disruption_digest();
    let with_cost = |cost: &str, ours: Option<&str>| {
        let mut p = pod.clone();
        let a = p.metadata.annotations.get_or_insert_with(Default::default);
        a.insert(labels::POD_DELETION_COST.into(), cost.into());
        if let Some(ours) = ours {
            a.insert(labels::MANAGED_POD_DELETION_COST.into(), ours.into());
        }
        p
    };
    state.apply(with_cost("-5", Some("-5"))).expect("pod");
    assert_eq!(state.disruption_digest(), placed, "kerf's own cost");
    state.apply(with_cost("100", Some("-5"))).expect("pod");
    assert_ne!(state.disruption_digest(), placed, "a user's cost");
}

#[test]
fn a_provisioner_can_ask_for_a_minimum_saving_too() {
    let mut state = ClusterState::new();
    let provisioner: kerf_api::v1alpha5::Provisioner = serde_yaml::from_str(
        "apiVersion: karpenter.sh/v1alpha5\nkind: Provisioner\nmetadata: {name: default, annotations: {kerf.sh/consolidation-min-savings: \"10%\"}}\nspec:\n  provider: {instanceProfile: p}\n  consolidation: {enabled: true}\n",
    )
    .expect("provisioner");
    state.apply(provisioner).expect("provisioner applies");
    let pool = state.pools().ready.into_iter().next().expect("one pool");
    let policy = pool_policy(&pool).expect("policy");
    assert_eq!(policy.policy, Policy::WhenEmptyOrUnderutilized);
    assert_eq!(
        policy.min_savings,
        MinSavings {
            per_hour: 0.0,
            fraction: 0.1
        }
    );
}

#[test]
fn a_balanced_pool_is_scored_not_read_as_underutilized() {
    let yaml = format!("{}  disruption:\n    consolidationPolicy: Balanced\n", BASE);
    let policy = pool_policy(&pool(&yaml)).expect("policy");
    assert_eq!(policy.policy, Policy::Balanced);
}
