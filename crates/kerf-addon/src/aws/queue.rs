//! The interruption queue (SQS) and the EventBridge rules that feed it.

use std::collections::HashMap;

use aws_sdk_eventbridge::types::{RuleState, Target};
use aws_sdk_sqs::types::QueueAttributeName;
use serde_json::Value;

use super::documents::{QUEUE_ATTRIBUTES, event_pattern, queue_policy};
use super::names::{Context, RuleSpec};
use super::{AwsClients, parse_document};
use crate::error::AddonError;
use crate::progress::StepOutcome;

/// Target id of the queue on every rule (Karpenter's).
const TARGET_ID: &str = "KarpenterInterruptionQueueTarget";

async fn queue_url(c: &AwsClients, name: &str) -> Result<Option<String>, AddonError> {
    match c.sqs.get_queue_url().queue_name(name).send().await {
        Ok(out) => Ok(out.queue_url().map(str::to_string)),
        Err(e)
            if e.as_service_error()
                .is_some_and(|e| e.is_queue_does_not_exist()) =>
        {
            Ok(None)
        }
        Err(e) => Err(AddonError::aws("SQS GetQueueUrl", name.to_string(), e)),
    }
}

fn desired_attributes(ctx: &Context) -> Vec<(QueueAttributeName, String)> {
    let mut attrs: Vec<_> = QUEUE_ATTRIBUTES
        .iter()
        .map(|(k, v)| (QueueAttributeName::from(*k), v.to_string()))
        .collect();
    attrs.push((QueueAttributeName::Policy, queue_policy(ctx).to_string()));
    attrs
}

/// Attributes that differ from the desired ones (the policy compared as JSON).
fn differing(
    ctx: &Context,
    have: &HashMap<QueueAttributeName, String>,
) -> Result<Vec<(QueueAttributeName, String)>, AddonError> {
    let mut out = Vec::new();
    for (k, want) in desired_attributes(ctx) {
        let same = match (have.get(&k), &k) {
            (Some(h), QueueAttributeName::Policy) => {
                parse_document(&format!("queue {} Policy", ctx.queue()), h)? == queue_policy(ctx)
            }
            (Some(h), _) => h == &want,
            (None, _) => false,
        };
        if !same {
            out.push((k, want));
        }
    }
    Ok(out)
}

/// The queue with its attributes and policy; returns its URL.
pub async fn ensure_queue(
    c: &AwsClients,
    ctx: &Context,
) -> Result<(StepOutcome, String), AddonError> {
    let name = ctx.queue();
    let Some(url) = queue_url(c, &name).await? else {
        let mut call = c.sqs.create_queue().queue_name(&name);
        for (k, v) in desired_attributes(ctx) {
            call = call.attributes(k, v);
        }
        for (k, v) in ctx.ownership_tags() {
            call = call.tags(k, v);
        }
        let out = call
            .send()
            .await
            .map_err(|e| AddonError::aws("SQS CreateQueue", name.to_string(), e))?;
        let url = out.queue_url().unwrap_or_default().to_string();
        return Ok((StepOutcome::Created, url));
    };
    let attrs = c
        .sqs
        .get_queue_attributes()
        .queue_url(&url)
        .attribute_names(QueueAttributeName::All)
        .send()
        .await
        .map_err(|e| AddonError::aws("SQS GetQueueAttributes", url.to_string(), e))?;
    let diff = differing(ctx, attrs.attributes().unwrap_or(&HashMap::new()))?;
    if diff.is_empty() {
        return Ok((StepOutcome::Unchanged, url));
    }
    if !queue_owned(c, ctx, &url).await? {
        let names: Vec<&str> = diff.iter().map(|(k, _)| k.as_str()).collect();
        return Err(AddonError::NotKerfs {
            resource: format!("queue {name}"),
            differs: format!("its {} differ from what kerf needs", names.join(", ")),
        });
    }
    let mut call = c.sqs.set_queue_attributes().queue_url(&url);
    for (k, v) in diff {
        call = call.attributes(k, v);
    }
    call.send()
        .await
        .map_err(|e| AddonError::aws("SQS SetQueueAttributes", url.to_string(), e))?;
    Ok((StepOutcome::Updated, url))
}

async fn queue_owned(c: &AwsClients, ctx: &Context, url: &str) -> Result<bool, AddonError> {
    let tags = c
        .sqs
        .list_queue_tags()
        .queue_url(url)
        .send()
        .await
        .map_err(|e| AddonError::aws("SQS ListQueueTags", url.to_string(), e))?;
    let tags = tags.tags().cloned().unwrap_or_default();
    Ok(ctx.owns(tags.iter().map(|(k, v)| (k.as_str(), v.as_str()))))
}

pub async fn remove_queue(c: &AwsClients, ctx: &Context) -> Result<StepOutcome, AddonError> {
    let Some(url) = queue_url(c, &ctx.queue()).await? else {
        return Ok(StepOutcome::Absent);
    };
    if !queue_owned(c, ctx, &url).await? {
        return Ok(StepOutcome::Unchanged);
    }
    c.sqs
        .delete_queue()
        .queue_url(&url)
        .send()
        .await
        .map_err(|e| AddonError::aws("SQS DeleteQueue", url.to_string(), e))?;
    Ok(StepOutcome::Deleted)
}

struct ExistingRule {
    pattern: Value,
    owned: bool,
    targets: Vec<(String, String)>,
}

async fn get_rule(
    c: &AwsClients,
    ctx: &Context,
    name: &str,
) -> Result<Option<ExistingRule>, AddonError> {
    let out = match c.events.describe_rule().name(name).send().await {
        Ok(out) => out,
        Err(e)
            if e.as_service_error()
                .is_some_and(|e| e.is_resource_not_found_exception()) =>
        {
            return Ok(None);
        }
        Err(e) => {
            return Err(AddonError::aws(
                "EventBridge DescribeRule",
                name.to_string(),
                e,
            ));
        }
    };
    let pattern = out.event_pattern().unwrap_or("{}");
    let pattern = parse_document(&format!("rule {name} EventPattern"), pattern)?;
    let arn = out.arn().unwrap_or_default();
    let tags = c
        .events
        .list_tags_for_resource()
        .resource_arn(arn)
        .send()
        .await
        .map_err(|e| AddonError::aws("EventBridge ListTagsForResource", arn.to_string(), e))?;
    let owned = ctx.owns(tags.tags().iter().map(|t| (t.key(), t.value())));
    let targets = c
        .events
        .list_targets_by_rule()
        .rule(name)
        .send()
        .await
        .map_err(|e| AddonError::aws("EventBridge ListTargetsByRule", name.to_string(), e))?;
    let targets = targets
        .targets()
        .iter()
        .map(|t| (t.id().to_string(), t.arn().to_string()))
        .collect();
    Ok(Some(ExistingRule {
        pattern,
        owned,
        targets,
    }))
}

/// One rule with the queue as its target.
pub async fn ensure_rule(
    c: &AwsClients,
    ctx: &Context,
    rule: &RuleSpec,
) -> Result<StepOutcome, AddonError> {
    let name = ctx.rule(rule);
    let pattern = event_pattern(rule);
    let existing = get_rule(c, ctx, &name).await?;
    let mut outcome = StepOutcome::Unchanged;
    match &existing {
        Some(r) if r.pattern == pattern => {}
        Some(r) if !r.owned => {
            return Err(AddonError::NotKerfs {
                resource: format!("EventBridge rule {name}"),
                differs: format!("matches other events ({})", r.pattern),
            });
        }
        _ => {
            let mut call = c
                .events
                .put_rule()
                .name(&name)
                .event_pattern(pattern.to_string())
                .state(RuleState::Enabled)
                .description(format!(
                    "kerf: {} to the interruption queue of cluster {}",
                    rule.detail_type, ctx.cluster
                ));
            if existing.is_none() {
                for (k, v) in ctx.ownership_tags() {
                    let tag = aws_sdk_eventbridge::types::Tag::builder()
                        .key(k)
                        .value(v)
                        .build();
                    call = call.tags(tag.map_err(|source| AddonError::Request {
                        what: format!("a tag of rule {name}"),
                        source,
                    })?);
                }
            }
            call.send()
                .await
                .map_err(|e| AddonError::aws("EventBridge PutRule", name.to_string(), e))?;
            outcome = if existing.is_none() {
                StepOutcome::Created
            } else {
                StepOutcome::Updated
            };
        }
    }
    let queue_arn = ctx.queue_arn();
    let targeted = existing
        .as_ref()
        .is_some_and(|r| r.targets.iter().any(|(_, arn)| arn == &queue_arn));
    if !targeted {
        let target = Target::builder()
            .id(TARGET_ID)
            .arn(&queue_arn)
            .build()
            .map_err(|source| AddonError::Request {
                what: format!("the target of rule {name}"),
                source,
            })?;
        c.events
            .put_targets()
            .rule(&name)
            .targets(target)
            .send()
            .await
            .map_err(|e| AddonError::aws("EventBridge PutTargets", name.to_string(), e))?;
        if outcome == StepOutcome::Unchanged {
            outcome = StepOutcome::Updated;
        }
    }
    Ok(outcome)
}

pub async fn remove_rule(
    c: &AwsClients,
    ctx: &Context,
    rule: &RuleSpec,
) -> Result<StepOutcome, AddonError> {
    let name = ctx.rule(rule);
    let Some(existing) = get_rule(c, ctx, &name).await? else {
        return Ok(StepOutcome::Absent);
    };
    if !existing.owned {
        return Ok(StepOutcome::Unchanged);
    }
    if !existing.targets.is_empty() {
        c.events
            .remove_targets()
            .rule(&name)
            .set_ids(Some(
                existing.targets.into_iter().map(|(id, _)| id).collect(),
            ))
            .send()
            .await
            .map_err(|e| AddonError::aws("EventBridge RemoveTargets", name.to_string(), e))?;
    }
    c.events
        .delete_rule()
        .name(&name)
        .send()
        .await
        .map_err(|e| AddonError::aws("EventBridge DeleteRule", name.to_string(), e))?;
    Ok(StepOutcome::Deleted)
}
