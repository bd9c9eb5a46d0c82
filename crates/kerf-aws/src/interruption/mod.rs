//! Interruption handling's AWS side: EventBridge events delivered through an
//! SQS queue, parsed into typed [`messages::InterruptionEvent`]s (pure), and
//! the [`queue`] that receives and deletes them, and the spot [`offerings`] an
//! interruption makes unavailable. The controller decides what else to do with
//! each event (cordon, replace).

pub mod messages;
pub mod offerings;
pub mod queue;

pub use messages::{InterruptionEvent, parse_message};
pub use queue::InterruptionQueue;
