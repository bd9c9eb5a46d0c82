//! Errors of the provisioning layer. Each names the object (kind and name)
//! and, where one field is at fault, its JSON path.

use kerf_api::ValidationError;
use kerf_cloud::CloudError;

#[derive(Debug, thiserror::Error)]
pub enum StateError {
    /// One field of one object is wrong.
    #[error("{kind} {name:?}: {field}: {message}")]
    Field {
        kind: &'static str,
        name: String,
        field: String,
        message: String,
    },
    /// The object as a whole is unusable (e.g. it has no name).
    #[error("{kind} {name:?}: {message}")]
    Object {
        kind: &'static str,
        name: String,
        message: String,
    },
    /// A pool failed Karpenter's validation rules (every field error listed).
    #[error(transparent)]
    Invalid(#[from] ValidationError),
    /// The cloud provider could not list instance types for a pool.
    #[error("{pool}: listing instance types from cloud provider {provider}: {source}")]
    Cloud {
        provider: String,
        pool: String,
        #[source]
        source: CloudError,
    },
}

impl StateError {
    pub fn field(
        kind: &'static str,
        name: impl Into<String>,
        field: impl Into<String>,
        message: impl Into<String>,
    ) -> Self {
        StateError::Field {
            kind,
            name: name.into(),
            field: field.into(),
            message: message.into(),
        }
    }

    pub fn object(kind: &'static str, name: impl Into<String>, message: impl Into<String>) -> Self {
        StateError::Object {
            kind,
            name: name.into(),
            message: message.into(),
        }
    }
}
