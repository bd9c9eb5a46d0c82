//! kerf as an add-on of an EKS cluster: everything `kerf addon install` creates, in the order
//! it creates it, and the builder API a platform team composes in its own tooling.
//!
//! - [`aws`]: the AWS side (node role and instance profile, controller policy, IRSA role, spot
//!   service-linked role, interruption queue and its EventBridge rules, discovery tags).
//! - [`cluster`]: the cluster side (namespace, the Helm chart, the default Provisioner).
//! - [`requirements`]: a requirements map (`key=v1,v2`) turned into a default Provisioner.
//! - [`addon`]: `KarpenterAddOn` / `Cluster` builders and install / uninstall / render across both sides.
//! - [`error`]: [`AddonError`], what failed and where, for every call above.
//! - [`progress`]: step-by-step progress reporting shared by both sides.

pub mod addon;
pub mod aws;
pub mod cluster;
pub mod error;
pub mod progress;
pub mod requirements;

pub use error::AddonError;
