//! Karpenter's runtime validation of NodePool requirements on labels with a
//! closed set of values (`validateWellKnownValues`, from upstream's
//! `nodepool/validation` suite: "should fail validation when requirements have
//! only invalid values for well-known labels" and the minValues case): the
//! pool is left out with the field named, and one unknown value beside a
//! known one is not an error.

mod common;

use common::node_pool;
use kerf_state::ClusterState;

fn pools_with(requirement: &str) -> kerf_state::Pools {
    let mut state = ClusterState::new();
    let (np, class) = node_pool("general", requirement);
    state.apply(np).expect("nodepool applies");
    state.apply(class).expect("class applies");
    state.pools()
}

#[test]
fn a_pool_asking_only_for_unknown_capacity_types_or_tenancies_is_left_out() {
    for (requirement, named) in [
        (
            "        - {key: karpenter.sh/capacity-type, operator: In, values: [free]}",
            "karpenter.sh/capacity-type",
        ),
        (
            "        - {key: karpenter.k8s.aws/instance-tenancy, operator: In, values: [host]}",
            "karpenter.k8s.aws/instance-tenancy",
        ),
        (
            "        - {key: karpenter.sh/capacity-type, operator: In, values: [spot, free], minValues: 2}",
            "minValues is 2",
        ),
    ] {
        let pools = pools_with(requirement);
        assert!(pools.ready.is_empty(), "{requirement}");
        let [why] = pools.skipped.as_slice() else {
            panic!("one reason for {requirement}: {:?}", pools.skipped);
        };
        assert!(
            why.contains("NodePool")
                && why.contains("general")
                && why.contains("spec.template.spec.requirements[2].values")
                && why.contains(named),
            "{why}"
        );
    }
}

#[test]
fn a_known_value_beside_an_unknown_one_or_another_operator_is_accepted() {
    for requirement in [
        "        - {key: karpenter.sh/capacity-type, operator: In, values: [spot, free]}",
        "        - {key: karpenter.sh/capacity-type, operator: NotIn, values: [free]}",
        "        - {key: karpenter.k8s.aws/instance-tenancy, operator: In, values: [dedicated]}",
    ] {
        let pools = pools_with(requirement);
        assert_eq!(pools.ready.len(), 1, "{requirement}: {:?}", pools.skipped);
    }
}

/// kerf's refusal of reserved capacity (docs/differences.md): a class that
/// selects capacity reservations leaves its pools out, naming the field,
/// rather than launch spot or on-demand beside reservations already paid for.
#[test]
fn a_class_selecting_capacity_reservations_leaves_its_pools_out() {
    let mut state = ClusterState::new();
    let (np, mut class) = node_pool("general", "");
    class.spec.capacity_reservation_selector_terms =
        serde_json::from_value(serde_json::json!([{"id": "cr-0123456789abcdef0"}]))
            .expect("a term");
    state.apply(np).expect("nodepool applies");
    state.apply(class).expect("class applies");
    let pools = state.pools();
    assert!(pools.ready.is_empty());
    let [why] = pools.skipped.as_slice() else {
        panic!("one reason: {:?}", pools.skipped);
    };
    assert!(
        why.contains("EC2NodeClass")
            && why.contains("spec.capacityReservationSelectorTerms")
            && why.contains("capacity reservations"),
        "{why}"
    );
}
