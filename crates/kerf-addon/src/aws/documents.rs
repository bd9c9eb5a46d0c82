//! Every JSON document the AWS side writes: trust policies, the controller policy, the queue
//! policy and the EventBridge event patterns. Built here once and used by install (sent to
//! AWS, compared with what AWS holds) and by render (printed, and inlined into the
//! CloudFormation template), so the two can never disagree.
//!
//! The controller policy (`documents/controller.rs`) grants what kerf's AWS provider calls
//! (`tests/policy_actions.rs` scans `crates/kerf-aws/src` and fails on any action granted but
//! never called, or called but not granted), scoped to kerf's ownership tag and the cluster's
//! ARNs wherever IAM supports it (`tests/policy_scope.rs` checks each statement).

use serde_json::{Value, json};

use super::names::{Context, RULES, RuleSpec, STS_AUDIENCE};

mod controller;
pub use controller::controller_policy;

const VERSION: &str = "2012-10-17";

/// Trust policy of the node role: EC2 instances assume it.
pub fn node_trust_policy() -> Value {
    json!({
        "Version": VERSION,
        "Statement": [{
            "Effect": "Allow",
            "Principal": { "Service": "ec2.amazonaws.com" },
            "Action": "sts:AssumeRole",
        }]
    })
}

/// Trust policy of the controller's IRSA role: only the controller's service account, through
/// the cluster's OIDC provider, with the STS audience.
pub fn controller_trust_policy(ctx: &Context) -> Value {
    let host = ctx.oidc_host();
    let (namespace, name) = &ctx.service_account;
    json!({
        "Version": VERSION,
        "Statement": [{
            "Effect": "Allow",
            "Principal": { "Federated": ctx.oidc_provider_arn() },
            "Action": "sts:AssumeRoleWithWebIdentity",
            "Condition": {
                "StringEquals": {
                    format!("{host}:sub"): format!("system:serviceaccount:{namespace}:{name}"),
                    format!("{host}:aud"): STS_AUDIENCE,
                }
            }
        }]
    })
}

/// The interruption queue's policy. Only EventBridge may send, and only for kerf's rules of
/// this cluster: for a rule target SQS sees `aws:SourceArn` = the rule's ARN and
/// `aws:SourceAccount` = the rule's account (EventBridge's confused-deputy guidance), so no
/// other account's rule, nor another rule of this account, can feed the controller events.
/// Upstream also lets `sqs.amazonaws.com` send; nothing kerf sets up sends as SQS (no
/// redrive into this queue), and no SQS delivery could carry a rule's ARN anyway, so it is
/// left out. DenyHTTP (upstream's) refuses every request not made over TLS.
pub fn queue_policy(ctx: &Context) -> Value {
    let rules: Vec<String> = RULES.iter().map(|r| ctx.rule_arn(r)).collect();
    json!({
        "Version": VERSION,
        "Id": "EC2InterruptionPolicy",
        "Statement": [
            {
                "Sid": "AllowEventBridgeRules",
                "Effect": "Allow",
                "Principal": { "Service": "events.amazonaws.com" },
                "Action": "sqs:SendMessage",
                "Resource": ctx.queue_arn(),
                "Condition": {
                    "ArnEquals": { "aws:SourceArn": rules },
                    "StringEquals": { "aws:SourceAccount": ctx.account },
                },
            },
            {
                "Sid": "DenyHTTP",
                "Effect": "Deny",
                "Principal": "*",
                "Action": "sqs:*",
                "Resource": ctx.queue_arn(),
                "Condition": { "Bool": { "aws:SecureTransport": "false" } },
            },
        ]
    })
}

/// Queue attributes other than the policy: messages older than five minutes are stale
/// (a spot warning gives two), and SQS-managed encryption at rest.
pub const QUEUE_ATTRIBUTES: [(&str, &str); 2] = [
    ("MessageRetentionPeriod", "300"),
    ("SqsManagedSseEnabled", "true"),
];

/// The event pattern of one rule.
pub fn event_pattern(rule: &RuleSpec) -> Value {
    json!({ "source": [rule.source], "detail-type": [rule.detail_type] })
}

/// The actions [`controller_policy`] grants, sorted and deduplicated.
pub fn granted_actions(policy: &Value) -> Vec<String> {
    let mut actions: Vec<String> = policy["Statement"]
        .as_array()
        .into_iter()
        .flatten()
        .flat_map(|s| match &s["Action"] {
            Value::String(a) => vec![a.clone()],
            Value::Array(a) => a
                .iter()
                .filter_map(|v| v.as_str().map(str::to_string))
                .collect(),
            _ => Vec::new(),
        })
        .collect();
    actions.sort();
    actions.dedup();
    actions
}
