//! kerf's AWS cloud provider, on the official aws-sdk-rust clients.
//!
//! - [`clients`]: SDK config (region, endpoint override, credentials, retries, rustls).
//! - [`discovery`]: cached instance types, offerings, subnets, security groups, AMIs.
//! - [`pricing`]: on-demand (Pricing API, built-in fallback) and spot prices.
//! - [`launch`]: user data, launch templates, CreateFleet requests and answers.
//! - [`provider`]: [`AwsCloudProvider`], the `kerf_cloud::CloudProvider` for EC2.
//! - [`ownership`]: the tag that makes a resource kerf's, checked before anything is terminated.
//! - [`interruption`]: EventBridge messages from SQS as typed events, and what each means for the claims ([`interruption::decide()`], pure).
//! - [`nodeclass`]: EC2NodeClass / AWSNodeTemplate resolution and status, and the
//!   untyped node class of a `NodeTemplateContext` turned back into an EC2NodeClass.
//! - [`error`]: AWS call errors as `CloudError`s, and [`error::AwsError`].
//! - `controllers` (feature `controllers`): the provider as `kerf controller` runs
//!   it, and the AWS loops (interruption, node-class status) with their events and
//!   metrics, on kerf-controller's context.
//! - `testing` (feature `testing`): seeding an AWS emulator for tests.

pub mod clients;
pub mod clock;
#[cfg(feature = "controllers")]
pub mod controllers;
pub mod discovery;
pub mod error;
pub mod instance_profile;
pub mod interruption;
pub mod launch;
pub mod nodeclass;
pub mod ownership;
pub mod pricing;
pub mod provider;
#[cfg(feature = "testing")]
pub mod testing;

pub use clients::{AwsSettings, Clients};
pub use provider::{AwsCloudProvider, ProviderSettings};
