//! `render`: the documents install would send and a CloudFormation template creating the same
//! resources, without any AWS call. Unknown values (account, OIDC issuer) become
//! CloudFormation references (`${AWS::AccountId}`, the `OidcProvider` parameter) in the
//! template, and in the printed documents unless the caller knows them.

use std::collections::BTreeMap;

use serde_json::{Value, json};

use super::AwsSide;
use super::documents::{
    QUEUE_ATTRIBUTES, controller_policy, controller_trust_policy, event_pattern, node_trust_policy,
    queue_policy,
};
use super::names::{Context, NODE_MANAGED_POLICIES, RULES, SPOT_SERVICE, STS_AUDIENCE};
use crate::error::AddonError;

/// Everything install would create, as data.
#[derive(Debug, Clone, PartialEq)]
pub struct Rendered {
    /// Document name (`controller-policy`, `event-pattern/rebalance`, ...) to document.
    pub documents: BTreeMap<String, Value>,
    /// A CloudFormation template (JSON value; printed as YAML).
    pub template: Value,
}

impl Rendered {
    /// The documents (as JSON) and the template (as YAML), for printing.
    pub fn to_text(&self) -> Result<String, AddonError> {
        let mut out = String::new();
        for (name, doc) in &self.documents {
            let json = serde_json::to_string_pretty(doc).map_err(AddonError::render(name))?;
            out.push_str(&format!("# {name}\n{json}\n"));
        }
        out.push_str("# CloudFormation template\n");
        let yaml = serde_yaml::to_string(&self.template)
            .map_err(AddonError::render("the CloudFormation template"))?;
        out.push_str(&yaml);
        Ok(out)
    }
}

const OIDC_PARAMETER: &str = "OidcProvider";

/// Renders for `side`; `account` and `oidc_issuer` fill the printed documents when known.
pub fn render(side: &AwsSide, account: Option<&str>, oidc_issuer: Option<&str>) -> Rendered {
    let placeholder_issuer = format!("https://${{{OIDC_PARAMETER}}}");
    let known = side.context(
        account.unwrap_or("${AWS::AccountId}"),
        oidc_issuer.unwrap_or(&placeholder_issuer),
    );
    let mut template_ctx = side.context("${AWS::AccountId}", &placeholder_issuer);
    template_ctx.partition = "${AWS::Partition}".into();
    template_ctx.region = "${AWS::Region}".into();
    Rendered {
        documents: documents(&known, side.interruption),
        template: template(&template_ctx, side.interruption),
    }
}

fn documents(ctx: &Context, interruption: bool) -> BTreeMap<String, Value> {
    let mut docs = BTreeMap::from([
        ("node-role-trust-policy".to_string(), node_trust_policy()),
        (
            "controller-role-trust-policy".to_string(),
            controller_trust_policy(ctx),
        ),
        (
            "controller-policy".to_string(),
            controller_policy(ctx, interruption),
        ),
    ]);
    if interruption {
        docs.insert("queue-policy".into(), queue_policy(ctx));
        for rule in &RULES {
            docs.insert(format!("event-pattern/{}", rule.id), event_pattern(rule));
        }
    }
    docs
}

fn sub(document: &Value) -> Value {
    json!({ "Fn::Sub": document.to_string() })
}

fn cfn_tags(ctx: &Context) -> Value {
    ctx.ownership_tags()
        .into_iter()
        .map(|(k, v)| json!({ "Key": k, "Value": v }))
        .collect()
}

/// CloudFormation logical id of a rule: `SpotInterruptionRule` for `spot-interruption`.
pub fn rule_logical_id(id: &str) -> String {
    let camel: String = id
        .split('-')
        .map(|w| {
            let mut c = w.chars();
            c.next()
                .map(|f| f.to_ascii_uppercase().to_string() + c.as_str())
                .unwrap_or_default()
        })
        .collect();
    format!("{camel}Rule")
}

fn template(ctx: &Context, interruption: bool) -> Value {
    let managed: Vec<Value> = NODE_MANAGED_POLICIES
        .iter()
        .map(|p| json!({ "Fn::Sub": ctx.managed_policy_arn(p) }))
        .collect();
    let mut resources = serde_json::Map::new();
    let mut add = |id: &str, value: Value| {
        resources.insert(id.to_string(), value);
    };
    add(
        "KarpenterNodeRole",
        json!({
            "Type": "AWS::IAM::Role",
            "Properties": {
                "RoleName": ctx.node_role(),
                "AssumeRolePolicyDocument": node_trust_policy(),
                "ManagedPolicyArns": managed,
                "Tags": cfn_tags(ctx),
            }
        }),
    );
    add(
        "KarpenterNodeInstanceProfile",
        json!({
            "Type": "AWS::IAM::InstanceProfile",
            "Properties": {
                "InstanceProfileName": ctx.instance_profile(),
                "Roles": [{ "Ref": "KarpenterNodeRole" }],
            }
        }),
    );
    add(
        "KarpenterControllerPolicy",
        json!({
            "Type": "AWS::IAM::ManagedPolicy",
            "Properties": {
                "ManagedPolicyName": ctx.controller_policy(),
                "PolicyDocument": sub(&controller_policy(ctx, interruption)),
            }
        }),
    );
    add(
        "KarpenterOidcProvider",
        json!({
            "Type": "AWS::IAM::OIDCProvider",
            "Condition": "CreateOidcProvider",
            "Properties": {
                "Url": { "Fn::Sub": ctx.oidc_issuer },
                "ClientIdList": [STS_AUDIENCE],
                "Tags": cfn_tags(ctx),
            }
        }),
    );
    add(
        "KarpenterControllerRole",
        json!({
            "Type": "AWS::IAM::Role",
            "Properties": {
                "RoleName": ctx.controller_role(),
                "AssumeRolePolicyDocument": sub(&controller_trust_policy(ctx)),
                "ManagedPolicyArns": [{ "Ref": "KarpenterControllerPolicy" }],
                "Tags": cfn_tags(ctx),
            }
        }),
    );
    add(
        "SpotServiceLinkedRole",
        json!({
            "Type": "AWS::IAM::ServiceLinkedRole",
            "Condition": "CreateSpotServiceLinkedRole",
            "Properties": { "AWSServiceName": SPOT_SERVICE }
        }),
    );
    if interruption {
        let mut queue = serde_json::Map::new();
        queue.insert("QueueName".into(), json!(ctx.queue()));
        for (k, v) in QUEUE_ATTRIBUTES {
            let v = serde_json::from_str(v).unwrap_or_else(|_| json!(v));
            queue.insert(k.into(), v);
        }
        queue.insert("Tags".into(), cfn_tags(ctx));
        add(
            "KarpenterInterruptionQueue",
            json!({
                "Type": "AWS::SQS::Queue",
                "Properties": queue,
            }),
        );
        add(
            "KarpenterInterruptionQueuePolicy",
            json!({
                "Type": "AWS::SQS::QueuePolicy",
                "Properties": {
                    "Queues": [{ "Ref": "KarpenterInterruptionQueue" }],
                    "PolicyDocument": sub(&queue_policy(ctx)),
                }
            }),
        );
        for rule in &RULES {
            add(
                &rule_logical_id(rule.id),
                json!({
                    "Type": "AWS::Events::Rule",
                    "Properties": {
                        "Name": ctx.rule(rule),
                        "State": "ENABLED",
                        "EventPattern": event_pattern(rule),
                        "Targets": [{
                            "Id": "KarpenterInterruptionQueueTarget",
                            "Arn": { "Fn::GetAtt": ["KarpenterInterruptionQueue", "Arn"] },
                        }],
                    }
                }),
            );
        }
    }
    let yes_no = |description: &str| {
        json!({ "Type": "String", "AllowedValues": ["true", "false"], "Default": "true",
                "Description": description })
    };
    json!({
        "AWSTemplateFormatVersion": "2010-09-09",
        "Description": format!(
            "kerf add-on for EKS cluster {} (the discovery tags on existing subnets and \
             security groups are not expressible here; kerf addon install --tag-subnets adds them)",
            ctx.cluster
        ),
        "Parameters": {
            OIDC_PARAMETER: {
                "Type": "String",
                "Description": "The cluster's OIDC issuer without https:// (EKS identity.oidc.issuer)",
            },
            "CreateOidcProvider": yes_no("false if the account already has the cluster's IAM OIDC provider"),
            "CreateSpotServiceLinkedRole": yes_no("false if AWSServiceRoleForEC2Spot already exists"),
        },
        "Conditions": {
            "CreateOidcProvider": { "Fn::Equals": [{ "Ref": "CreateOidcProvider" }, "true"] },
            "CreateSpotServiceLinkedRole":
                { "Fn::Equals": [{ "Ref": "CreateSpotServiceLinkedRole" }, "true"] },
        },
        "Resources": resources,
    })
}
