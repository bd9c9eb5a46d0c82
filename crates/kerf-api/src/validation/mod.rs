//! Validation: Karpenter's webhook and CRD (CEL) rules as pure functions.
//!
//! Each kind has an inherent `validate(&self) -> Result<(), ValidationError>`
//! ([`Provisioner`](crate::v1alpha5::Provisioner),
//! [`AWSNodeTemplate`](crate::v1alpha1::AWSNodeTemplate),
//! [`NodePool`](crate::v1::NodePool), [`NodeClaim`](crate::v1::NodeClaim),
//! [`EC2NodeClass`](crate::v1::EC2NodeClass)). Every problem found is
//! reported, not just the first.
//!
//! Field paths use JSON names; list items are `[index]` and map entries
//! `[key]`, e.g. `spec.requirements[2].operator` or
//! `spec.labels[karpenter.sh/foo]`. [`ValidationError`] prints one line per
//! error:
//!
//! ```text
//! Provisioner "default": spec.requirements[2].operator: "Gte" is not one of In, NotIn, Exists, DoesNotExist, Gt, Lt
//! ```

use std::fmt;

mod aws;
mod common;
mod ec2nodeclass;
pub mod names;
mod v1;
mod v1alpha5;
mod v1beta1;

pub use aws::{validate_aws_node_template_spec, validate_aws_provider};
pub use ec2nodeclass::validate_ec2_node_class_spec;
pub use v1::{validate_node_claim_spec, validate_node_pool_spec};
pub use v1alpha5::validate_provisioner_spec;

/// One problem at one field.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct FieldError {
    /// JSON path of the field, e.g. `spec.taints[0].effect`.
    pub path: String,
    pub message: String,
}

impl fmt::Display for FieldError {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(f, "{}: {}", self.path, self.message)
    }
}

/// Every problem found in one object.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct ValidationError {
    /// The object's kind, e.g. `"Provisioner"`.
    pub kind: &'static str,
    /// The object's name.
    pub name: String,
    pub errors: Vec<FieldError>,
}

impl ValidationError {
    /// The errors at exactly this path.
    pub fn at<'a>(&'a self, path: &'a str) -> impl Iterator<Item = &'a FieldError> + 'a {
        self.errors.iter().filter(move |e| e.path == path)
    }
}

impl fmt::Display for ValidationError {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        for (i, e) in self.errors.iter().enumerate() {
            if i > 0 {
                writeln!(f)?;
            }
            write!(f, "{} {:?}: {}", self.kind, self.name, e)?;
        }
        Ok(())
    }
}

impl std::error::Error for ValidationError {}

/// Collects errors while walking an object.
#[derive(Debug, Default)]
pub(crate) struct Errors(pub(crate) Vec<FieldError>);

impl Errors {
    pub(crate) fn push(&mut self, path: impl Into<String>, message: impl Into<String>) {
        self.0.push(FieldError {
            path: path.into(),
            message: message.into(),
        });
    }

    pub(crate) fn into_result(
        self,
        kind: &'static str,
        name: Option<&str>,
    ) -> Result<(), ValidationError> {
        if self.0.is_empty() {
            Ok(())
        } else {
            Err(ValidationError {
                kind,
                name: name.unwrap_or_default().to_string(),
                errors: self.0,
            })
        }
    }
}

/// `"a", "b", "c"` → `a, b, c`.
pub(crate) fn one_of(values: &[&str]) -> String {
    values.join(", ")
}

pub(crate) fn not_one_of(value: &str, values: &[&str]) -> String {
    format!("{value:?} is not one of {}", one_of(values))
}
