//! `kerf-admission`: what kerf answers when the kube-apiserver asks about one
//! of its CRDs, as pure functions over the review bodies. The HTTPS server in
//! `kerf-webhook` only moves bytes to and from these; keeping them apart lets
//! them build, and be fuzzed, without tokio, hyper or rustls.
//!
//! | Module | Owns |
//! |---|---|
//! | [`admission`] | AdmissionReview in, AdmissionReview out: validation, and the defaults JSON patch |
//! | [`kinds`] | the kinds (Provisioner, AWSNodeTemplate, NodePool and EC2NodeClass in v1 and v1beta1), their GVKs and validate/default calls |
//! | [`conversion`] | ConversionReview: v1beta1 ⇄ v1 for NodePool, NodeClaim, EC2NodeClass |

pub mod admission;
pub mod conversion;
pub mod kinds;

pub use admission::{mutate, validate};
pub use kinds::Kind;
