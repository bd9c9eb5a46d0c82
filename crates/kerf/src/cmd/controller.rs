//! `kerf controller`: runs kerf as a Kubernetes controller. Flags (each also
//! read from the environment variable Karpenter uses, where it has one) are
//! checked before anything starts; a bad value exits 2 naming the setting.
//! [`args`] owns the flags and their checks, [`wiring`] the process built
//! from them; with the `aws` feature, [`aws`] hands the AWS flags to
//! `kerf_aws::controllers`.

mod args;
#[cfg(feature = "aws")]
mod aws;
mod wiring;

pub use args::ControllerArgs;
#[cfg(feature = "aws")]
use args::aws_options;
pub use wiring::run;
