//! `install`: every AWS resource in dependency order, each step idempotent (a second run
//! reports every step Unchanged) and reported through [`Steps`], so a failure names the step
//! and what is already in place, and a re-run resumes.

use super::documents::{controller_policy, controller_trust_policy, node_trust_policy};
use super::eks::look_up;
use super::iam::{extras, policy, roles};
use super::names::{NODE_MANAGED_POLICIES, RULES, SUPERSEDED_NODE_POLICIES};
use super::{AwsClients, AwsSide, queue, subnet_tags};
use crate::error::AddonError;
use crate::progress::{Progress, StepOutcome, Steps};

/// What install created or found: what the cluster side's chart needs.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Installed {
    pub account: String,
    pub cluster_endpoint: String,
    pub oidc_issuer: String,
    pub node_role_arn: String,
    pub instance_profile: String,
    pub controller_role_arn: String,
    /// The interruption queue's name (the chart's `interruptionQueue`), when enabled.
    pub interruption_queue: Option<String>,
    pub queue_url: Option<String>,
}

pub async fn install(
    side: &AwsSide,
    c: &AwsClients,
    progress: &mut dyn Progress,
) -> Result<Installed, AddonError> {
    let mut steps = Steps::new(progress);
    let (account, facts, ctx) = look_up(side, c, &mut steps, false).await?;
    let iam = &c.iam;

    let node_role = ctx.node_role();
    steps
        .run("iam:node-role", &node_role, async {
            let trust = node_trust_policy();
            let outcome = roles::ensure_role(iam, &ctx, &node_role, &trust, "kerf nodes").await?;
            Ok((outcome, ()))
        })
        .await?;
    let managed: Vec<String> = NODE_MANAGED_POLICIES
        .iter()
        .map(|p| ctx.managed_policy_arn(p))
        .collect();
    let superseded: Vec<String> = SUPERSEDED_NODE_POLICIES
        .iter()
        .map(|p| ctx.managed_policy_arn(p))
        .collect();
    steps
        .run("iam:node-role-policies", &node_role, async {
            // The new policies first, so the role is never without one of the two.
            let attached = roles::ensure_attached(iam, &node_role, &managed).await?;
            let detached = roles::detach_superseded(iam, &ctx, &node_role, &superseded).await?;
            let outcome = match detached {
                StepOutcome::Unchanged => attached,
                _ => StepOutcome::Updated,
            };
            Ok((outcome, ()))
        })
        .await?;
    let profile = ctx.instance_profile();
    steps
        .run("iam:instance-profile", &profile, async {
            let outcome = roles::ensure_instance_profile(iam, &ctx, &profile, &node_role).await?;
            Ok((outcome, ()))
        })
        .await?;
    steps
        .run("iam:controller-policy", &ctx.controller_policy(), async {
            let document = controller_policy(&ctx, side.interruption);
            Ok((policy::ensure_policy(iam, &ctx, &document).await?, ()))
        })
        .await?;
    steps
        .run("iam:oidc-provider", ctx.oidc_host(), async {
            Ok((extras::ensure_oidc_provider(iam, &ctx).await?, ()))
        })
        .await?;
    let controller_role = ctx.controller_role();
    steps
        .run("iam:controller-role", &controller_role, async {
            let trust = controller_trust_policy(&ctx);
            let outcome = roles::ensure_role(
                iam,
                &ctx,
                &controller_role,
                &trust,
                "kerf controller (IRSA)",
            )
            .await?;
            Ok((outcome, ()))
        })
        .await?;
    steps
        .run("iam:controller-role-policy", &controller_role, async {
            let arns = [ctx.controller_policy_arn()];
            Ok((
                roles::ensure_attached(iam, &controller_role, &arns).await?,
                (),
            ))
        })
        .await?;
    steps
        .run(
            "iam:spot-service-linked-role",
            "spot.amazonaws.com",
            async {
                let (outcome, _name) = extras::ensure_spot_role(iam).await?;
                Ok((outcome, ()))
            },
        )
        .await?;

    let mut queue_url = None;
    if side.interruption {
        let url = steps
            .run("sqs:queue", &ctx.queue(), queue::ensure_queue(c, &ctx))
            .await?;
        queue_url = Some(url);
        for rule in &RULES {
            steps
                .run(
                    &format!("events:rule/{}", rule.id),
                    &ctx.rule(rule),
                    async { Ok((queue::ensure_rule(c, &ctx, rule).await?, ())) },
                )
                .await?;
        }
    }
    if side.tag_subnets {
        for id in facts.subnet_ids.iter().chain(&facts.security_group_ids) {
            steps
                .run("ec2:discovery-tags", id, async {
                    Ok((subnet_tags::ensure(c, &ctx, id).await?, ()))
                })
                .await?;
        }
    }
    Ok(Installed {
        account,
        cluster_endpoint: facts.endpoint,
        oidc_issuer: facts.oidc_issuer,
        node_role_arn: ctx.node_role_arn(),
        instance_profile: profile,
        controller_role_arn: ctx.controller_role_arn(),
        interruption_queue: side.interruption.then(|| ctx.queue()),
        queue_url,
    })
}
