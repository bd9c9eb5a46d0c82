//! EC2 interruption messages (SQS bodies from EventBridge): any body either
//! fails with a message or yields an event whose instance ids and zone are
//! the ones the body carries; events built from the fuzzer's bytes in each
//! shape kerf acts on are read back field for field.

use arbitrary::{Result, Unstructured};
use kerf_aws_events::{InterruptionEvent, parse_message};
use serde_json::{Value, json};

pub fn check(data: &[u8]) {
    if let Ok(body) = std::str::from_utf8(data) {
        check_body(body);
    }
    // Out of bytes part-way is not a finding.
    let _ = check_built(&mut Unstructured::new(data));
}

fn check_body(body: &str) {
    let event = match parse_message(body) {
        Ok(event) => event,
        Err(message) => {
            assert!(!message.to_string().is_empty(), "{body:?}: empty error");
            return;
        }
    };
    let value: Value = serde_json::from_str(body).expect("parse_message read it as JSON");
    assert!(
        value.is_object(),
        "{body:?} is not a JSON object, yet read as {event:?}"
    );
    let detail = &value["detail"];
    let entities: Vec<&str> = detail["affectedEntities"]
        .as_array()
        .into_iter()
        .flatten()
        .filter_map(|e| e["entityValue"].as_str())
        .collect();
    for id in event.instance_ids() {
        assert!(
            detail["instance-id"].as_str() == Some(id) || entities.contains(&id),
            "{body:?}: instance {id:?} is not in the message"
        );
    }
    if let InterruptionEvent::SpotInterruption {
        zone: Some(zone), ..
    } = &event
    {
        let resources = value["resources"].as_array().into_iter().flatten();
        let zones: Vec<&str> = resources
            .filter_map(|r| r.as_str()?.split(':').nth(3))
            .collect();
        assert!(zones.contains(&zone.as_str()), "{body:?}: zone {zone:?}");
    }
}

/// The four shapes kerf acts on, and one it ignores.
const SHAPES: [(&str, &str); 4] = [
    ("aws.ec2", "EC2 Spot Instance Interruption Warning"),
    ("aws.ec2", "EC2 Instance Rebalance Recommendation"),
    ("aws.ec2", "EC2 Instance State-change Notification"),
    ("aws.health", "AWS Health Event"),
];

fn check_built(u: &mut Unstructured) -> Result<()> {
    let shape = u.choose_index(SHAPES.len() + 1)?;
    let instance_id: String = u.arbitrary()?;
    let zone = format!("us-east-1{}", char::from(b'a' + u.int_in_range(0..=25)?));
    let mut resources: Vec<String> = u.arbitrary()?;
    let with_arn = u.arbitrary::<bool>()?;
    if with_arn {
        resources.insert(0, format!("arn:aws:ec2:{zone}:instance/{instance_id}"));
    }
    let state: String = u.arbitrary()?;
    let entities: Vec<String> = u.arbitrary()?;
    let (source, detail_type) = match SHAPES.get(shape) {
        Some(&(source, detail_type)) => (source.to_string(), detail_type.to_string()),
        None => (u.arbitrary::<String>()?, u.arbitrary::<String>()?),
    };
    let detail = json!({
        "instance-id": instance_id,
        "instance-action": "terminate",
        "state": state,
        "service": "EC2",
        "eventTypeCategory": "scheduledChange",
        "affectedEntities": entities.iter().map(|e| json!({"entityValue": e})).collect::<Vec<_>>(),
    });
    let body = json!({
        "version": "0",
        "detail-type": detail_type,
        "source": source,
        "resources": resources,
        "detail": detail,
    })
    .to_string();
    let event = parse_message(&body).unwrap_or_else(|e| panic!("{body}: {e}"));
    let known = SHAPES
        .iter()
        .position(|&(s, d)| s == source && d == detail_type);
    let want = match known {
        None => InterruptionEvent::Ignored { detail_type },
        Some(0) => InterruptionEvent::SpotInterruption {
            instance_id,
            zone: match &event {
                // Other resources may name a zone first; the ARN's must win
                // when it is the first resource.
                InterruptionEvent::SpotInterruption { zone: z, .. } if !with_arn => z.clone(),
                _ => Some(zone),
            },
            action: "terminate".into(),
        },
        Some(1) => InterruptionEvent::RebalanceRecommendation { instance_id },
        Some(2) => InterruptionEvent::StateChange { instance_id, state },
        _ => InterruptionEvent::ScheduledChange {
            instance_ids: entities,
        },
    };
    assert_eq!(event, want, "{body}");
    check_body(&body);
    Ok(())
}
