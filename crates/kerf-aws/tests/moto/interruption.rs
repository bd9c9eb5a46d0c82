//! The interruption queue on moto's SQS: EventBridge messages (the fixtures)
//! and a malformed one are sent, received, parsed, handed to the handler and
//! deleted; a message whose handling fails stays on the queue.

use kerf_aws::interruption::{InterruptionEvent, InterruptionQueue};
use kerf_cloud::CloudProvider;

use super::support::*;

fn fixture(name: &str) -> String {
    std::fs::read_to_string(format!(
        "{}/../kerf-aws-events/tests/fixtures/{name}",
        env!("CARGO_MANIFEST_DIR")
    ))
    .unwrap()
}

async fn counts(sqs: &aws_sdk_sqs::Client, url: &str) -> (i64, i64) {
    use aws_sdk_sqs::types::QueueAttributeName as A;
    let out = sqs
        .get_queue_attributes()
        .queue_url(url)
        .attribute_names(A::ApproximateNumberOfMessages)
        .attribute_names(A::ApproximateNumberOfMessagesNotVisible)
        .send()
        .await
        .unwrap();
    let attrs = out.attributes().unwrap();
    let n = |a: A| attrs.get(&a).and_then(|v| v.parse().ok()).unwrap_or(-1);
    (
        n(A::ApproximateNumberOfMessages),
        n(A::ApproximateNumberOfMessagesNotVisible),
    )
}

#[tokio::test]
async fn messages_are_received_parsed_handled_and_deleted() {
    let (_moto, c) = start_moto().await;
    let url = c
        .sqs
        .create_queue()
        .queue_name("kerf-interruption")
        .send()
        .await
        .unwrap()
        .queue_url()
        .unwrap()
        .to_string();
    let bodies = [
        fixture("spot-interruption.json"),
        fixture("rebalance.json"),
        fixture("scheduled-change.json"),
        fixture("state-change.json"),
        "this is not an event".to_string(),
    ];
    for body in &bodies {
        c.sqs
            .send_message()
            .queue_url(&url)
            .message_body(body)
            .send()
            .await
            .unwrap();
    }
    let mut queue = InterruptionQueue::new(c.sqs.clone(), &url);
    queue.wait_seconds = 0;
    let mut seen = Vec::new();
    let mut total = kerf_aws::interruption::queue::PollStats::default();
    for _ in 0..5 {
        let stats = queue
            .poll_once(|e| {
                seen.push(e.clone());
                Ok(())
            })
            .await
            .unwrap();
        total.handled += stats.handled;
        total.malformed += stats.malformed;
        if total.handled + total.malformed == bodies.len() {
            break;
        }
    }
    assert_eq!((total.handled, total.malformed), (4, 1));
    assert!(seen.contains(&InterruptionEvent::SpotInterruption {
        instance_id: "i-1234567890abcdef0".into(),
        zone: Some("us-east-1b".into()),
        action: "terminate".into(),
    }));
    assert!(seen.iter().any(|e| matches!(e, InterruptionEvent::ScheduledChange { instance_ids } if instance_ids.len() == 2)));
    assert_eq!(
        counts(&c.sqs, &url).await,
        (0, 0),
        "handled and malformed messages are deleted"
    );

    c.sqs
        .send_message()
        .queue_url(&url)
        .message_body(fixture("rebalance.json"))
        .send()
        .await
        .unwrap();
    let stats = queue
        .poll_once(|_| Err("node not found yet".into()))
        .await
        .unwrap();
    assert_eq!(stats.failed, 1);
    assert_eq!(
        counts(&c.sqs, &url).await,
        (0, 1),
        "an unhandled message stays for redelivery"
    );
}

#[tokio::test]
async fn a_spot_interruption_marks_its_offering_unavailable() {
    let Fixture {
        moto: _moto, c, p, ..
    } = seeded().await;
    let launched = p
        .create(&super::launch::claim(
            "spot-2",
            &["m5.large"],
            &["spot"],
            "1Gi",
        ))
        .await
        .unwrap();
    let pid = launched.status.unwrap().provider_id.unwrap();
    let id = kerf_aws::provider::parse_provider_id(&pid)
        .unwrap()
        .to_string();
    let zone = launched.metadata.labels.unwrap()["topology.kubernetes.io/zone"].clone();
    let url = c
        .sqs
        .create_queue()
        .queue_name("q")
        .send()
        .await
        .unwrap()
        .queue_url()
        .unwrap()
        .to_string();
    let body = fixture("spot-interruption.json").replace("i-1234567890abcdef0", &id);
    c.sqs
        .send_message()
        .queue_url(&url)
        .message_body(body)
        .send()
        .await
        .unwrap();
    let mut queue = InterruptionQueue::new(c.sqs.clone(), &url);
    queue.wait_seconds = 0;
    let mut events = Vec::new();
    let stats = queue
        .poll_once(|e| {
            events.push(e.clone());
            Ok(())
        })
        .await
        .unwrap();
    assert_eq!(stats.handled, 1);
    let marked = kerf_aws::interruption::offerings::mark_interrupted(&p, &events[0])
        .await
        .unwrap();
    let key = kerf_cloud::OfferingKey::new("m5.large", zone, "spot");
    assert_eq!(marked, std::slice::from_ref(&key));
    assert!(p.unavailable_offerings().contains(&key));
}
