//! `uninstall`: removes, in reverse order, what install created and nothing else: a resource
//! without kerf's ownership tags is reported Unchanged and left; the spot service-linked role
//! is always kept (account-wide, and it cannot carry kerf's tags to prove who created it).
//! Discovery tags are removed whether or not `tag_subnets` is set now: the marker says which.
//! The EKS cluster may already be gone: its subnets, security groups and OIDC provider are
//! then found by the tags kerf put on them.

use super::eks::look_up;
use super::iam::{extras, policy, roles};
use super::names::RULES;
use super::{AwsClients, AwsSide, queue, subnet_tags};
use crate::error::AddonError;
use crate::progress::{Progress, StepOutcome, Steps};

pub async fn uninstall(
    side: &AwsSide,
    c: &AwsClients,
    progress: &mut dyn Progress,
) -> Result<(), AddonError> {
    let mut steps = Steps::new(progress);
    let (_, facts, ctx) = look_up(side, c, &mut steps, true).await?;
    let iam = &c.iam;

    for id in facts.subnet_ids.iter().chain(&facts.security_group_ids) {
        steps
            .run("ec2:discovery-tags", id, async {
                Ok((subnet_tags::remove(c, id).await?, ()))
            })
            .await?;
    }
    for rule in &RULES {
        steps
            .run(
                &format!("events:rule/{}", rule.id),
                &ctx.rule(rule),
                async { Ok((queue::remove_rule(c, &ctx, rule).await?, ())) },
            )
            .await?;
    }
    steps
        .run("sqs:queue", &ctx.queue(), async {
            Ok((queue::remove_queue(c, &ctx).await?, ()))
        })
        .await?;
    let spot = extras::spot_role(iam).await.ok().flatten();
    steps.report(
        "iam:spot-service-linked-role",
        &format!(
            "{} (kept: account-wide)",
            spot.as_deref().unwrap_or(super::names::SPOT_ROLE_NAME)
        ),
        StepOutcome::Unchanged,
    );
    let controller_role = ctx.controller_role();
    steps
        .run("iam:controller-role", &controller_role, async {
            Ok((roles::remove_role(iam, &ctx, &controller_role).await?, ()))
        })
        .await?;
    if ctx.oidc_issuer.is_empty() {
        // The cluster is gone and no provider of kerf's was found for it.
        steps.report(
            "iam:oidc-provider",
            "(none tagged for this cluster)",
            StepOutcome::Absent,
        );
    } else {
        steps
            .run("iam:oidc-provider", ctx.oidc_host(), async {
                Ok((extras::remove_oidc_provider(iam, &ctx).await?, ()))
            })
            .await?;
    }
    steps
        .run("iam:controller-policy", &ctx.controller_policy(), async {
            Ok((policy::remove_policy(iam, &ctx).await?, ()))
        })
        .await?;
    let profile = ctx.instance_profile();
    steps
        .run("iam:instance-profile", &profile, async {
            Ok((
                roles::remove_instance_profile(iam, &ctx, &profile).await?,
                (),
            ))
        })
        .await?;
    let node_role = ctx.node_role();
    steps
        .run("iam:node-role", &node_role, async {
            Ok((roles::remove_role(iam, &ctx, &node_role).await?, ()))
        })
        .await?;
    Ok(())
}
