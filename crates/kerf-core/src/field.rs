//! A problem with one field of an object, its path relative to the part being
//! read; callers put the object's name and the outer path in front.

/// `field: message`, e.g. `matchExpressions[0].operator: "Gte" is not one of ...`.
#[derive(Clone, Debug, PartialEq, Eq, thiserror::Error)]
#[error("{field}: {message}")]
pub struct FieldError {
    pub field: String,
    pub message: String,
}

impl FieldError {
    pub fn new(field: impl Into<String>, message: impl Into<String>) -> Self {
        FieldError {
            field: field.into(),
            message: message.into(),
        }
    }
}
