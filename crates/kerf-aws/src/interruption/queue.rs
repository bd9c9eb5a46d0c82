//! The interruption queue: ReceiveMessage (long poll), parse, hand each event
//! to the caller, DeleteMessage. Malformed messages are logged and deleted so
//! they never block the queue; a message whose handling failed stays for the
//! next poll (SQS redelivers it after the visibility timeout).

use aws_sdk_sqs::Client;
use kerf_cloud::provider::Result;

use super::messages::{InterruptionEvent, parse_message};
use crate::error::aws_error;

pub struct InterruptionQueue {
    sqs: Client,
    url: String,
    /// Seconds ReceiveMessage waits for a message (0 in tests, 20 in production).
    pub wait_seconds: i32,
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

    /// Receives up to 10 messages, calls `handle` for each event and deletes the
    /// handled and the malformed ones.
    pub async fn poll_once<F>(&self, mut handle: F) -> Result<PollStats>
    where
        F: FnMut(&InterruptionEvent) -> std::result::Result<(), String>,
    {
        let out = self
            .sqs
            .receive_message()
            .queue_url(&self.url)
            .max_number_of_messages(10)
            .wait_time_seconds(self.wait_seconds)
            .send()
            .await
            .map_err(|e| aws_error(format!("ReceiveMessage {}", self.url), e))?;
        let mut stats = PollStats::default();
        for m in out.messages() {
            let id = m.message_id().unwrap_or("<no id>");
            let delete = match parse_message(m.body().unwrap_or("")) {
                Ok(event) => match handle(&event) {
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
            if delete && let Some(receipt) = m.receipt_handle() {
                self.sqs
                    .delete_message()
                    .queue_url(&self.url)
                    .receipt_handle(receipt)
                    .send()
                    .await
                    .map_err(|e| aws_error(format!("DeleteMessage {id}"), e))?;
            }
        }
        Ok(stats)
    }
}
