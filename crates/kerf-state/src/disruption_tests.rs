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
    // A label the node lacks is not drift.
    assert_eq!(static_drift(&p, &node(&[]), None), None);
}
