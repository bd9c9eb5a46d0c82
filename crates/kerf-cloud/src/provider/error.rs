//! What can go wrong talking to a cloud. Callers branch on the kind:
//! insufficient capacity (mark the offerings unavailable and reschedule),
//! not found (the instance is already gone), or anything else (retry with the
//! context in the log).

use std::fmt;

use serde::{Deserialize, Serialize};

/// One launchable offering: an instance type in a zone with a capacity type.
#[derive(Clone, Debug, PartialEq, Eq, PartialOrd, Ord, Hash, Serialize, Deserialize)]
pub struct OfferingKey {
    pub instance_type: String,
    pub zone: String,
    pub capacity_type: String,
}

impl OfferingKey {
    pub fn new(
        instance_type: impl Into<String>,
        zone: impl Into<String>,
        capacity_type: impl Into<String>,
    ) -> Self {
        OfferingKey {
            instance_type: instance_type.into(),
            zone: zone.into(),
            capacity_type: capacity_type.into(),
        }
    }
}

impl fmt::Display for OfferingKey {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(
            f,
            "{}/{}/{}",
            self.instance_type, self.zone, self.capacity_type
        )
    }
}

/// An error from a [`super::CloudProvider`] call.
#[derive(Debug, thiserror::Error)]
pub enum CloudError {
    /// Every offering the launch could use lacked capacity; these were tried or known unavailable.
    #[error("insufficient capacity: {}", list(offerings))]
    InsufficientCapacity { offerings: Vec<OfferingKey> },
    /// The instance (or claim) does not exist in the cloud.
    #[error("{what} not found")]
    NotFound { what: String },
    /// The resource exists but this controller did not create it, so it will
    /// not change or remove it (another node group's instance, another
    /// cluster's profile, ...).
    #[error("{what} was not created by kerf for this cluster ({reason}); kerf leaves it alone")]
    NotOwned { what: String, reason: String },
    /// The claim cannot be launched as written (no instance type satisfies it, bad requirements, ...).
    #[error("nodeclaim {claim}: {reason}")]
    InvalidClaim { claim: String, reason: String },
    /// Anything else, with what was being done.
    #[error("{context}: {source}")]
    Other {
        context: String,
        #[source]
        source: Box<dyn std::error::Error + Send + Sync + 'static>,
    },
}

fn list(offerings: &[OfferingKey]) -> String {
    if offerings.is_empty() {
        return "no offerings".to_string();
    }
    offerings
        .iter()
        .map(ToString::to_string)
        .collect::<Vec<_>>()
        .join(", ")
}

impl CloudError {
    pub fn not_found(what: impl Into<String>) -> Self {
        CloudError::NotFound { what: what.into() }
    }

    pub fn not_owned(what: impl Into<String>, reason: impl Into<String>) -> Self {
        CloudError::NotOwned {
            what: what.into(),
            reason: reason.into(),
        }
    }

    pub fn invalid_claim(claim: impl Into<String>, reason: impl Into<String>) -> Self {
        CloudError::InvalidClaim {
            claim: claim.into(),
            reason: reason.into(),
        }
    }

    pub fn other(
        context: impl Into<String>,
        source: impl Into<Box<dyn std::error::Error + Send + Sync + 'static>>,
    ) -> Self {
        CloudError::Other {
            context: context.into(),
            source: source.into(),
        }
    }

    pub fn is_insufficient_capacity(&self) -> bool {
        matches!(self, CloudError::InsufficientCapacity { .. })
    }

    pub fn is_not_found(&self) -> bool {
        matches!(self, CloudError::NotFound { .. })
    }
}

pub type Result<T, E = CloudError> = std::result::Result<T, E>;
