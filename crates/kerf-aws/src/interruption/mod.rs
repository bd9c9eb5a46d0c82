//! Interruption handling's AWS side: EventBridge events delivered through an
//! SQS queue, parsed into typed [`InterruptionEvent`]s (pure, in `kerf-aws-events`), and
//! the [`queue`] that receives and deletes them, and the spot [`offerings`] an
//! interruption makes unavailable, and what each event means for the
//! cluster's claims (pure); the controller's loop applies that.

pub mod decide;
pub mod offerings;
pub mod queue;

pub use decide::{ClaimRef, Decision, decide};
pub use kerf_aws_events::{InterruptionEvent, MessageError, parse_message};
pub use queue::{InterruptionQueue, Received};
