//! Turning SDK errors into [`CloudError`]s that keep the AWS error code, so
//! callers can branch on `InvalidInstanceID.NotFound`, capacity codes or
//! authorization failures, and logs name the call that failed.

use std::fmt;

use aws_sdk_ec2::error::{DisplayErrorContext, ProvideErrorMetadata, SdkError};
use kerf_cloud::CloudError;

/// One failed AWS call: the operation, the service's error code and message.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct AwsCallError {
    pub code: Option<String>,
    pub message: String,
}

impl fmt::Display for AwsCallError {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match &self.code {
            Some(code) => write!(f, "{code}: {}", self.message),
            None => write!(f, "{}", self.message),
        }
    }
}

impl std::error::Error for AwsCallError {}

/// Error codes that mean the caller may not do this; they surface as events
/// and metrics, and retrying will not help.
pub const AUTHORIZATION_CODES: &[&str] = &[
    "UnauthorizedOperation",
    "AccessDenied",
    "AccessDeniedException",
    "AuthFailure",
    "InvalidClientTokenId",
    "SignatureDoesNotMatch",
];

/// The AWS error code of an SDK error, if the service sent one.
pub fn error_code<E, R>(err: &SdkError<E, R>) -> Option<&str>
where
    E: ProvideErrorMetadata,
{
    err.code()
}

/// IAM's "does not exist" code, which every IAM operation answers with.
pub fn is_iam_not_found<E: ProvideErrorMetadata>(err: &E) -> bool {
    err.code() == Some("NoSuchEntity")
}

/// Whether the error is an authorization failure.
pub fn is_authorization(err: &CloudError) -> bool {
    aws_code(err).is_some_and(|c| AUTHORIZATION_CODES.contains(&c))
}

/// The AWS code inside a [`CloudError::Other`] made by [`aws_error`].
pub fn aws_code(err: &CloudError) -> Option<&str> {
    match err {
        CloudError::Other { source, .. } => source
            .downcast_ref::<AwsCallError>()
            .and_then(|e| e.code.as_deref()),
        _ => None,
    }
}

/// An SDK error as a [`CloudError::Other`] saying what was being done.
pub fn aws_error<E, R>(context: impl Into<String>, err: SdkError<E, R>) -> CloudError
where
    E: ProvideErrorMetadata + std::error::Error + Send + Sync + 'static,
    R: fmt::Debug + Send + Sync + 'static,
{
    let code = err.code().map(str::to_string);
    let message = match err.message() {
        Some(m) => m.to_string(),
        None => DisplayErrorContext(&err).to_string(),
    };
    CloudError::other(context, AwsCallError { code, message })
}

/// A malformed or incomplete answer from AWS, naming the object and field.
pub fn bad_answer(context: impl Into<String>, what: impl Into<String>) -> CloudError {
    CloudError::other(
        context,
        AwsCallError {
            code: None,
            message: what.into(),
        },
    )
}

/// kerf-aws's own failures that are not a failed AWS call: an object kerf
/// reads (a node class, an EventBridge message) that does not say what it
/// must, named down to the field.
#[derive(Debug, thiserror::Error)]
pub enum AwsError {
    /// A node class kerf cannot use, naming the class and the field.
    #[error("{kind} {name:?}: {field}: {message}")]
    NodeClass {
        kind: String,
        name: String,
        field: String,
        message: String,
    },
    /// The API server's version could not be read.
    #[error("reading the API server version: {0}")]
    ApiServerVersion(#[source] Box<dyn std::error::Error + Send + Sync>),
    /// The API server's version is not `<major>.<minor>`, so the EKS AMI
    /// parameters cannot be named.
    #[error("the API server reports version {major:?}.{minor:?}, not <major>.<minor>")]
    KubernetesVersion { major: String, minor: String },
    /// `--interruption-queue` names a queue kerf cannot use.
    #[error("--interruption-queue {queue}: {reason}")]
    InterruptionQueue { queue: String, reason: String },
}

impl AwsError {
    /// An EC2NodeClass that cannot be used, naming the class and the field.
    pub fn node_class(
        name: impl Into<String>,
        field: impl Into<String>,
        message: impl Into<String>,
    ) -> Self {
        AwsError::NodeClass {
            kind: "EC2NodeClass".to_string(),
            name: name.into(),
            field: field.into(),
            message: message.into(),
        }
    }
}
