//! The interruption queue: ReceiveMessage (long poll), parse, hand each event
//! to the caller, DeleteMessage. Malformed messages are logged and deleted so
//! they never block the queue; a message whose handling failed stays for the
//! next poll (SQS redelivers it after the visibility timeout).

use std::time::{Duration, SystemTime, UNIX_EPOCH};

use aws_sdk_sqs::Client;
use aws_sdk_sqs::types::MessageSystemAttributeName;
use kerf_cloud::provider::Result;

use crate::error::aws_error;
use kerf_aws_events::{InterruptionEvent, MessageError, parse_message};

pub struct InterruptionQueue {
    sqs: Client,
    url: String,
    /// Seconds ReceiveMessage waits for a message (0 in tests, 20 in production).
    pub wait_seconds: i32,
}

/// One received message.
#[derive(Clone, Debug, PartialEq)]
pub struct Received {
    pub message_id: String,
    pub receipt_handle: Option<String>,
    /// When SQS accepted it (the `SentTimestamp` attribute).
    pub sent_at: Option<SystemTime>,
    /// The parsed event, or why the body is not one.
    pub event: std::result::Result<InterruptionEvent, MessageError>,
}

/// What one poll did.
#[derive(Clone, Debug, Default, PartialEq, Eq)]
pub struct PollStats {
    pub handled: usize,
    pub malformed: usize,
    pub failed: usize,
}

impl InterruptionQueue {
    pub fn new(sqs: Client, url: impl Into<String>) -> Self {
        InterruptionQueue {
            sqs,
            url: url.into(),
            wait_seconds: 20,
        }
    }

    pub fn url(&self) -> &str {
        &self.url
    }

    /// Receives up to 10 messages (long poll of `wait_seconds`), each parsed.
    pub async fn receive(&self) -> Result<Vec<Received>> {
        let out = self
            .sqs
            .receive_message()
            .queue_url(&self.url)
            .max_number_of_messages(10)
            .wait_time_seconds(self.wait_seconds)
            .message_system_attribute_names(MessageSystemAttributeName::SentTimestamp)
            .send()
            .await
            .map_err(|e| aws_error(format!("ReceiveMessage {}", self.url), e))?;
        Ok(out
            .messages()
            .iter()
            .map(|m| Received {
                message_id: m.message_id().unwrap_or("<no id>").to_string(),
                receipt_handle: m.receipt_handle().map(str::to_string),
                sent_at: m
                    .attributes()
                    .and_then(|a| a.get(&MessageSystemAttributeName::SentTimestamp))
                    .and_then(|ms| ms.parse::<u64>().ok())
                    .map(|ms| UNIX_EPOCH + Duration::from_millis(ms)),
                event: parse_message(m.body().unwrap_or("")),
            })
            .collect())
    }

    /// Deletes one received message; false when it has no receipt handle.
    pub async fn delete(&self, m: &Received) -> Result<bool> {
        let Some(receipt) = &m.receipt_handle else {
            return Ok(false);
        };
        self.sqs
            .delete_message()
            .queue_url(&self.url)
            .receipt_handle(receipt)
            .send()
            .await
            .map_err(|e| aws_error(format!("DeleteMessage {}", m.message_id), e))?;
        Ok(true)
    }

    /// Receives, calls `handle` for each event and deletes the handled and
    /// the malformed messages.
    pub async fn poll_once<F>(&self, mut handle: F) -> Result<PollStats>
    where
        F: FnMut(
            &InterruptionEvent,
        ) -> std::result::Result<(), Box<dyn std::error::Error + Send + Sync>>,
    {
        let mut stats = PollStats::default();
        for m in self.receive().await? {
            let id = &m.message_id;
            let delete = match &m.event {
                Ok(event) => match handle(event) {
                    Ok(()) => {
                        stats.handled += 1;
                        true
                    }
                    Err(why) => {
                        tracing::warn!(message = %id, ?event, %why, "interruption event not handled; it will be redelivered");
                        stats.failed += 1;
                        false
                    }
                },
                Err(why) => {
                    tracing::warn!(message = %id, %why, "deleting a malformed interruption message");
                    stats.malformed += 1;
                    true
                }
            };
            if delete {
                self.delete(&m).await?;
            }
        }
        Ok(stats)
    }
}
