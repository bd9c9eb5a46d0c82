//! `kerf-api`: kerf's Kubernetes API surface, drop-in compatible with
//! Karpenter's. It owns the custom resource types, their validation and
//! defaulting, the v1alpha5 → v1 conversion and the generated CRDs. Pure: no
//! I/O, no async.
//!
//! | Module | Owns |
//! |---|---|
//! | [`v1alpha5`] | `karpenter.sh/v1alpha5` Provisioner |
//! | [`v1alpha1`] | `karpenter.k8s.aws/v1alpha1` AWSNodeTemplate and the inline AWS provider |
//! | [`v1`] | `karpenter.sh/v1` NodePool and NodeClaim, `karpenter.k8s.aws/v1` EC2NodeClass |
//! | [`v1beta1`] | `karpenter.sh/v1beta1` NodePool and NodeClaim, `karpenter.k8s.aws/v1beta1` EC2NodeClass, and their conversion to and from v1 |
//! | [`labels`] | well-known labels, restricted domains, beta-label normalisation |
//! | [`validation`] | `validate()` for every kind; [`ValidationError`](validation::ValidationError) |
//! | [`defaults`] | `set_defaults()` for every kind |
//! | [`convert`] | Provisioner (+ AWSNodeTemplate) → NodePool + EC2NodeClass |
//! | [`crds`] | CustomResourceDefinitions generated from the types |
//! | [`quantity`] | Kubernetes quantity parsing in milli-units |
//! | [`duration`] | Go durations and `Never` |
//! | [`conditions`] | the status condition shared by all kinds |
//!
//! ```
//! use kerf_api::v1alpha5::Provisioner;
//! let mut p: Provisioner = serde_yaml::from_str(r#"
//! apiVersion: karpenter.sh/v1alpha5
//! kind: Provisioner
//! metadata: {name: default}
//! spec:
//!   providerRef: {name: default}
//!   requirements:
//!     - {key: karpenter.sh/capacity-type, operator: In, values: [spot]}
//! "#).unwrap();
//! p.validate().unwrap();
//! p.set_defaults();
//! assert_eq!(p.spec.requirements.len(), 5);
//! ```

// kube's `#[kube(printcolumn(...))]` repeats `type_ = ...` per column, which
// clippy reads as a duplicated attribute.
#![allow(clippy::duplicated_attributes)]

pub mod conditions;
pub mod convert;
pub mod crds;
pub mod defaults;
pub mod duration;
pub mod labels;
pub mod quantity;
mod schema;
pub mod v1;
pub mod v1alpha1;
pub mod v1alpha5;
pub mod v1beta1;
pub mod validation;

pub use validation::{FieldError, ValidationError};
