//! kerf's cloud side: everything between the scheduling core and a real (or
//! simulated) cloud.
//!
//! - [`eks`]: node capacity, allocatable and max pods the way the EKS AMIs and
//!   Karpenter's AWS provider compute them.
//! - [`catalog`]: the built-in AWS us-east-1 instance catalogue (data in
//!   `catalog/aws-us-east-1.yaml`) and a loader for custom catalogues, producing
//!   [`kerf_core::instance_type::InstanceType`]s with Karpenter's AWS labels.
//! - [`fake`]: the upstream scheduling benchmark's `fake-it-N` catalogue.
//! - [`provider`]: the [`CloudProvider`] trait everything above the cloud uses
//!   as `Arc<dyn CloudProvider>`, its error kinds and the shared launch choice.
//! - [`memory`]: [`InMemoryCloud`], the provider the simulator and tests run on.
//! - [`kubelet`]: a node class's kubelet block as the scheduler's kubelet settings.
//! - [`labels`]: the label keys instance types and launched claims carry.
//! - [`resolved`]: the instance-type cache every provider keeps, per
//!   provider-chosen key and kubelet settings, dropped when its sources change.
//! - [`unavailable`]: offerings found without capacity, kept for a TTL
//!   (Karpenter's ICE cache), by every provider.

pub mod catalog;
pub mod eks;
pub mod fake;
pub mod kubelet;
pub mod labels;
pub mod memory;
pub mod provider;
pub mod resolved;
pub mod unavailable;

pub use catalog::Catalog;
pub use memory::InMemoryCloud;
pub use provider::{CloudError, CloudProvider, NodeTemplateContext, OfferingKey};
