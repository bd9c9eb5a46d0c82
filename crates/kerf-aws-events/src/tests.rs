use super::*;

fn fixture(name: &str) -> String {
    let path = format!("{}/tests/fixtures/{name}", env!("CARGO_MANIFEST_DIR"));
    std::fs::read_to_string(&path).unwrap_or_else(|e| panic!("{path}: {e}"))
}

#[test]
fn spot_interruption_warning() {
    let e = parse_message(&fixture("spot-interruption.json")).unwrap();
    assert_eq!(
        e,
        InterruptionEvent::SpotInterruption {
            instance_id: "i-1234567890abcdef0".into(),
            zone: Some("us-east-1b".into()),
            action: "terminate".into(),
        }
    );
    assert!(e.requires_replacement());
}

#[test]
fn rebalance_scheduled_change_and_state_change() {
    let r = parse_message(&fixture("rebalance.json")).unwrap();
    assert_eq!(
        r,
        InterruptionEvent::RebalanceRecommendation {
            instance_id: "i-0abcdef1234567890".into()
        }
    );
    assert!(!r.requires_replacement());
    let s = parse_message(&fixture("scheduled-change.json")).unwrap();
    assert_eq!(
        s.instance_ids(),
        ["i-0aaaaaaaaaaaaaaa1", "i-0aaaaaaaaaaaaaaa2"]
    );
    assert!(s.requires_replacement());
    let c = parse_message(&fixture("state-change.json")).unwrap();
    assert_eq!(
        c,
        InterruptionEvent::StateChange {
            instance_id: "i-0bbbbbbbbbbbbbbb1".into(),
            state: "stopping".into()
        }
    );
    assert!(c.requires_replacement());
}

#[test]
fn unknown_events_are_ignored_and_malformed_ones_are_errors() {
    let other = r#"{"detail-type":"EC2 AMI State Change","source":"aws.ec2","detail":{}}"#;
    assert_eq!(
        parse_message(other).unwrap(),
        InterruptionEvent::Ignored {
            detail_type: "EC2 AMI State Change".into()
        }
    );
    assert!(
        parse_message("hello")
            .unwrap_err()
            .to_string()
            .starts_with("not an EventBridge event")
    );
    let missing = r#"{"detail-type":"EC2 Spot Instance Interruption Warning","source":"aws.ec2","detail":{}}"#;
    assert!(
        parse_message(missing)
            .unwrap_err()
            .to_string()
            .contains("detail.instance-id")
    );
}
