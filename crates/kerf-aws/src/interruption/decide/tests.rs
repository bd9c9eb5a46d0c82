use super::*;

fn claim(name: &str, instance: &str, capacity: &str) -> ClaimRef {
    ClaimRef {
        name: name.into(),
        provider_id: Some(format!("aws:///us-east-1c/{instance}")),
        labels: BTreeMap::from([
            (labels::INSTANCE_TYPE.to_string(), "m5.2xlarge".to_string()),
            (labels::ZONE.to_string(), "us-east-1c".to_string()),
            (labels::CAPACITY_TYPE.to_string(), capacity.to_string()),
        ]),
        deleting: false,
    }
}

fn claims() -> Vec<ClaimRef> {
    vec![
        claim("spot-a", "i-aaa", "spot"),
        claim("od-b", "i-bbb", "on-demand"),
        ClaimRef {
            name: "launching".into(),
            ..Default::default()
        },
    ]
}

fn spot(instance: &str) -> InterruptionEvent {
    InterruptionEvent::SpotInterruption {
        instance_id: instance.into(),
        zone: Some("us-east-1c".into()),
        action: "terminate".into(),
    }
}

#[test]
fn a_spot_interruption_deletes_the_claim_and_marks_its_offering() {
    let d = decide(&spot("i-aaa"), &claims());
    assert_eq!(d.kind, "spot_interrupted");
    assert_eq!(d.delete_claims, ["spot-a"]);
    assert_eq!(
        d.unavailable,
        [OfferingKey::new("m5.2xlarge", "us-east-1c", "spot")]
    );
    assert_eq!(d.notices.len(), 1);
    assert_eq!(d.notices[0].reason, "SpotInterrupted");
    assert!(d.notices[0].message.contains("i-aaa"));
}

#[test]
fn an_on_demand_claim_is_replaced_without_marking_an_offering() {
    let d = decide(&spot("i-bbb"), &claims());
    assert_eq!(d.delete_claims, ["od-b"]);
    assert!(d.unavailable.is_empty());
}

#[test]
fn rebalance_only_tells_the_claim() {
    let e = InterruptionEvent::RebalanceRecommendation {
        instance_id: "i-aaa".into(),
    };
    let d = decide(&e, &claims());
    assert_eq!(d.kind, "rebalance_recommendation");
    assert!(d.delete_claims.is_empty() && d.unavailable.is_empty());
    assert_eq!(d.notices.len(), 1);
    assert!(!d.notices[0].warning);
}

#[test]
fn state_changes_replace_only_when_the_instance_goes_away() {
    let change = |state: &str| InterruptionEvent::StateChange {
        instance_id: "i-bbb".into(),
        state: state.into(),
    };
    for state in ["stopping", "stopped", "shutting-down", "terminated"] {
        let d = decide(&change(state), &claims());
        assert_eq!(d.delete_claims, ["od-b"], "{state}");
        assert_eq!(d.kind, "state_change");
    }
    let d = decide(&change("running"), &claims());
    assert!(d.delete_claims.is_empty() && d.notices.is_empty());
    assert_eq!(
        decide(&change("stopping"), &claims()).notices[0].reason,
        "InstanceStopping"
    );
}

#[test]
fn scheduled_changes_replace_every_affected_claim() {
    let e = InterruptionEvent::ScheduledChange {
        instance_ids: vec!["i-aaa".into(), "i-bbb".into(), "i-unknown".into()],
    };
    let d = decide(&e, &claims());
    assert_eq!(d.kind, "scheduled_change");
    assert_eq!(d.delete_claims, ["od-b", "spot-a"]);
    assert!(
        d.unavailable.is_empty(),
        "only spot interruptions mark offerings"
    );
}

#[test]
fn unknown_instances_deleting_claims_and_ignored_events_do_nothing() {
    assert_eq!(decide(&spot("i-zzz"), &claims()).delete_claims.len(), 0);
    let mut deleting = claims();
    deleting[0].deleting = true;
    let d = decide(&spot("i-aaa"), &deleting);
    assert!(d.delete_claims.is_empty() && d.notices.is_empty());
    assert_eq!(d.unavailable.len(), 1, "the offering is short either way");
    let e = InterruptionEvent::Ignored {
        detail_type: "EC2 Something Else".into(),
    };
    let d = decide(&e, &claims());
    assert_eq!(d.kind, "no_op");
    assert_eq!(
        d,
        Decision {
            kind: "no_op",
            ..Default::default()
        }
    );
}
