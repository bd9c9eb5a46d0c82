//! `kerf-aws-events`: the EventBridge messages kerf's interruption queue
//! carries, parsed into [`InterruptionEvent`]s: EC2 spot interruption
//! warnings, rebalance recommendations, AWS Health scheduled changes for EC2
//! and instance state changes. Anything else is [`InterruptionEvent::Ignored`];
//! a body that is not an EventBridge event is an error naming the field.
//!
//! A crate of its own, apart from `kerf-aws`, because it reads untrusted
//! bodies and is fuzzed: without the AWS SDK its instrumented build is minutes,
//! not half an hour. `kerf-aws`'s interruption queue uses it.

use serde::Deserialize;
use serde_json::Value;

#[derive(Clone, Debug, PartialEq, Eq)]
pub enum InterruptionEvent {
    /// Two minutes' warning before a spot instance is reclaimed.
    SpotInterruption {
        instance_id: String,
        zone: Option<String>,
        action: String,
    },
    RebalanceRecommendation {
        instance_id: String,
    },
    /// AWS Health scheduled maintenance affecting these instances.
    ScheduledChange {
        instance_ids: Vec<String>,
    },
    StateChange {
        instance_id: String,
        state: String,
    },
    /// A well-formed event kerf does not act on.
    Ignored {
        detail_type: String,
    },
}

impl InterruptionEvent {
    /// Instances the event is about.
    pub fn instance_ids(&self) -> Vec<&str> {
        match self {
            InterruptionEvent::SpotInterruption { instance_id, .. }
            | InterruptionEvent::RebalanceRecommendation { instance_id }
            | InterruptionEvent::StateChange { instance_id, .. } => vec![instance_id.as_str()],
            InterruptionEvent::ScheduledChange { instance_ids } => {
                instance_ids.iter().map(String::as_str).collect()
            }
            InterruptionEvent::Ignored { .. } => vec![],
        }
    }

    /// Whether the node must be replaced (state changes only for stopping/terminating).
    pub fn requires_replacement(&self) -> bool {
        match self {
            InterruptionEvent::SpotInterruption { .. }
            | InterruptionEvent::ScheduledChange { .. } => true,
            InterruptionEvent::StateChange { state, .. } => {
                matches!(
                    state.as_str(),
                    "stopping" | "stopped" | "shutting-down" | "terminated"
                )
            }
            InterruptionEvent::RebalanceRecommendation { .. }
            | InterruptionEvent::Ignored { .. } => false,
        }
    }
}

#[derive(Deserialize)]
struct Envelope {
    #[serde(rename = "detail-type")]
    detail_type: String,
    source: String,
    #[serde(default)]
    resources: Vec<String>,
    detail: Value,
}

/// Why an SQS message body is not an event kerf can act on.
#[derive(Clone, Debug, PartialEq, thiserror::Error)]
pub enum MessageError {
    /// The body is not an EventBridge envelope (JSON with detail-type,
    /// source and detail).
    #[error("not an EventBridge event: {0}")]
    NotAnEvent(String),
    /// A field the event's kind needs is absent or of the wrong type.
    #[error("{kind} event: detail.{field} is {problem}")]
    Field {
        kind: &'static str,
        field: &'static str,
        problem: &'static str,
    },
}

fn text(detail: &Value, field: &'static str, kind: &'static str) -> Result<String, MessageError> {
    detail
        .get(field)
        .and_then(Value::as_str)
        .map(str::to_string)
        .ok_or(MessageError::Field {
            kind,
            field,
            problem: "missing or not a string",
        })
}

/// The zone in an instance ARN (`arn:aws:ec2:us-east-1b:instance/i-...`), if present.
fn zone_of(resources: &[String]) -> Option<String> {
    resources.iter().find_map(|arn| {
        let zone = arn.split(':').nth(3)?;
        zone.chars()
            .last()
            .is_some_and(|c| c.is_ascii_lowercase())
            .then(|| zone.to_string())
    })
}

/// Parses one SQS message body.
pub fn parse_message(body: &str) -> Result<InterruptionEvent, MessageError> {
    let env: Envelope =
        serde_json::from_str(body).map_err(|e| MessageError::NotAnEvent(e.to_string()))?;
    let d = &env.detail;
    Ok(match (env.source.as_str(), env.detail_type.as_str()) {
        ("aws.ec2", "EC2 Spot Instance Interruption Warning") => {
            InterruptionEvent::SpotInterruption {
                instance_id: text(d, "instance-id", "spot interruption")?,
                zone: zone_of(&env.resources),
                action: text(d, "instance-action", "spot interruption")
                    .unwrap_or_else(|_| "terminate".into()),
            }
        }
        ("aws.ec2", "EC2 Instance Rebalance Recommendation") => {
            InterruptionEvent::RebalanceRecommendation {
                instance_id: text(d, "instance-id", "rebalance recommendation")?,
            }
        }
        ("aws.ec2", "EC2 Instance State-change Notification") => InterruptionEvent::StateChange {
            instance_id: text(d, "instance-id", "state change")?,
            state: text(d, "state", "state change")?,
        },
        ("aws.health", "AWS Health Event") => {
            let service = d.get("service").and_then(Value::as_str).unwrap_or("");
            let category = d
                .get("eventTypeCategory")
                .and_then(Value::as_str)
                .unwrap_or("");
            if service != "EC2" || category != "scheduledChange" {
                return Ok(InterruptionEvent::Ignored {
                    detail_type: env.detail_type,
                });
            }
            let entities =
                d.get("affectedEntities")
                    .and_then(Value::as_array)
                    .ok_or(MessageError::Field {
                        kind: "scheduled change",
                        field: "affectedEntities",
                        problem: "missing or not a list",
                    })?;
            let instance_ids = entities
                .iter()
                .map(|e| {
                    e.get("entityValue")
                        .and_then(Value::as_str)
                        .map(str::to_string)
                        .ok_or(MessageError::Field {
                            kind: "scheduled change",
                            field: "affectedEntities[].entityValue",
                            problem: "missing",
                        })
                })
                .collect::<Result<Vec<_>, _>>()?;
            InterruptionEvent::ScheduledChange { instance_ids }
        }
        _ => InterruptionEvent::Ignored {
            detail_type: env.detail_type,
        },
    })
}

#[cfg(test)]
mod tests;
