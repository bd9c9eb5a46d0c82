//! The AWS side of the add-on: IAM (node role, instance profile, controller policy, IRSA role,
//! spot service-linked role), the interruption SQS queue and its EventBridge rules, and the
//! discovery tags on the cluster's subnets and security group.
//!
//! - [`names`]: names, ARNs and ownership tags (Karpenter's conventions).
//! - [`documents`]: every policy document and event pattern, shared by install and render.
//! - [`cloudformation`]: render: the documents and a CloudFormation template, no AWS call.
//! - [`install`] / [`uninstall`]: idempotent steps reported through [`crate::progress`].
//!
//! Ownership: everything kerf creates is tagged `kerf.sh/managed-by=kerf` and
//! `kerf.sh/cluster=<cluster>`; uninstall deletes only resources carrying both. The spot
//! service-linked role is account-wide (every spot user in the account relies on it) and
//! cannot carry tags, so uninstall never deletes it.

pub mod cloudformation;
pub mod documents;
mod eks;
mod iam;
pub mod install;
pub mod names;
mod queue;
mod subnet_tags;
pub mod uninstall;

use kerf_aws::AwsSettings;

use crate::error::AddonError;

pub use cloudformation::{Rendered, render};
pub use install::{Installed, install};
pub use names::Context;
pub use uninstall::uninstall;

/// What the AWS side is asked to do for one cluster.
#[derive(Debug, Clone)]
pub struct AwsSide {
    pub cluster_name: String,
    /// Region, endpoint override and credentials (kerf-aws's settings, shared with the provider).
    pub settings: AwsSettings,
    /// `aws` (or `aws-cn`, `aws-us-gov`).
    pub partition: String,
    /// Create the interruption queue and its rules (and grant the controller access to it).
    pub interruption: bool,
    /// Tag the cluster's subnets and security groups for discovery.
    pub tag_subnets: bool,
    /// The controller's service account (namespace, name) the IRSA role trusts.
    pub service_account: (String, String),
}

impl AwsSide {
    pub fn new(cluster_name: impl Into<String>, settings: AwsSettings) -> Self {
        AwsSide {
            cluster_name: cluster_name.into(),
            settings,
            partition: "aws".into(),
            interruption: true,
            tag_subnets: false,
            service_account: ("karpenter".into(), "karpenter".into()),
        }
    }

    /// The naming context once the account and the OIDC issuer are known.
    pub fn context(&self, account: &str, oidc_issuer: &str) -> Context {
        Context {
            cluster: self.cluster_name.clone(),
            partition: self.partition.clone(),
            region: self.settings.region.clone(),
            account: account.to_string(),
            oidc_issuer: oidc_issuer.to_string(),
            service_account: self.service_account.clone(),
        }
    }
}

/// The SDK clients the AWS side uses, from one shared config (kerf-aws's: rustls, retries,
/// endpoint override).
#[derive(Debug, Clone)]
pub struct AwsClients {
    pub iam: aws_sdk_iam::Client,
    pub sts: aws_sdk_sts::Client,
    pub eks: aws_sdk_eks::Client,
    pub sqs: aws_sdk_sqs::Client,
    pub events: aws_sdk_eventbridge::Client,
    pub ec2: aws_sdk_ec2::Client,
}

impl AwsClients {
    pub async fn connect(settings: &AwsSettings) -> AwsClients {
        let config = kerf_aws::clients::sdk_config(settings).await;
        AwsClients {
            iam: aws_sdk_iam::Client::new(&config),
            sts: aws_sdk_sts::Client::new(&config),
            eks: aws_sdk_eks::Client::new(&config),
            sqs: aws_sdk_sqs::Client::new(&config),
            events: aws_sdk_eventbridge::Client::new(&config),
            ec2: aws_sdk_ec2::Client::new(&config),
        }
    }
}

/// A policy document as IAM returns it (URL-encoded JSON) parsed; plain JSON is accepted too.
pub(crate) fn parse_document(what: &str, raw: &str) -> Result<serde_json::Value, AddonError> {
    let decoded = percent_encoding::percent_decode_str(raw).decode_utf8_lossy();
    serde_json::from_str(&decoded)
        .or_else(|_| serde_json::from_str(raw))
        .map_err(|source| AddonError::Document {
            what: what.to_string(),
            source,
        })
}
