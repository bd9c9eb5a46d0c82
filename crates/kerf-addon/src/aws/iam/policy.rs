//! The customer-managed controller policy: created, converged to the desired document with a
//! new default version (IAM keeps at most five), removed with all its versions.

use aws_sdk_iam::Client;
use serde_json::Value;

use super::{iam_tags, not_found, owned};
use crate::aws::names::Context;
use crate::aws::parse_document;
use crate::error::AddonError;
use crate::progress::StepOutcome;

struct ExistingPolicy {
    document: Value,
    owned: bool,
}

async fn get_policy(
    iam: &Client,
    ctx: &Context,
    arn: &str,
) -> Result<Option<ExistingPolicy>, AddonError> {
    let out = match iam.get_policy().policy_arn(arn).send().await {
        Ok(out) => out,
        Err(e) if e.as_service_error().is_some_and(not_found) => return Ok(None),
        Err(e) => return Err(AddonError::aws("IAM GetPolicy", arn.to_string(), e)),
    };
    let Some(policy) = out.policy() else {
        return Err(AddonError::MissingField {
            operation: "IAM GetPolicy",
            resource: arn.to_string(),
            field: "policy",
        });
    };
    let version = policy.default_version_id().unwrap_or("v1");
    let out = iam
        .get_policy_version()
        .policy_arn(arn)
        .version_id(version)
        .send()
        .await
        .map_err(|e| AddonError::aws("IAM GetPolicyVersion", format!("{arn} {version}"), e))?;
    let raw = out
        .policy_version()
        .and_then(|v| v.document())
        .unwrap_or("{}");
    Ok(Some(ExistingPolicy {
        document: parse_document(&format!("policy {arn} version {version}"), raw)?,
        owned: owned(ctx, policy.tags()),
    }))
}

/// Creates the policy, or makes `document` its default version.
pub async fn ensure_policy(
    iam: &Client,
    ctx: &Context,
    document: &Value,
) -> Result<StepOutcome, AddonError> {
    let name = ctx.controller_policy();
    let arn = ctx.controller_policy_arn();
    match get_policy(iam, ctx, &arn).await? {
        None => {
            iam.create_policy()
                .policy_name(&name)
                .policy_document(document.to_string())
                .description(format!("kerf controller for EKS cluster {}", ctx.cluster))
                .set_tags(Some(iam_tags(ctx)?))
                .send()
                .await
                .map_err(|e| AddonError::aws("IAM CreatePolicy", name.to_string(), e))?;
            Ok(StepOutcome::Created)
        }
        Some(p) if &p.document == document => Ok(StepOutcome::Unchanged),
        Some(p) if p.owned => {
            prune_versions(iam, &arn).await?;
            iam.create_policy_version()
                .policy_arn(&arn)
                .policy_document(document.to_string())
                .set_as_default(true)
                .send()
                .await
                .map_err(|e| AddonError::aws("IAM CreatePolicyVersion", arn.to_string(), e))?;
            Ok(StepOutcome::Updated)
        }
        Some(_) => Err(AddonError::NotKerfs {
            resource: format!("policy {arn}"),
            differs: "its document differs from the one kerf needs".into(),
        }),
    }
}

/// Non-default versions, oldest first.
async fn old_versions(iam: &Client, arn: &str) -> Result<Vec<String>, AddonError> {
    let all: Vec<_> = iam
        .list_policy_versions()
        .policy_arn(arn)
        .into_paginator()
        .items()
        .send()
        .try_collect()
        .await
        .map_err(|e| AddonError::aws("IAM ListPolicyVersions", arn.to_string(), e))?;
    let mut versions: Vec<_> = all
        .iter()
        .filter(|v| !v.is_default_version())
        .filter_map(|v| Some((v.create_date().copied(), v.version_id()?.to_string())))
        .collect();
    versions.sort_by_key(|(date, _)| date.map(|d| (d.secs(), d.subsec_nanos())));
    Ok(versions.into_iter().map(|(_, id)| id).collect())
}

/// Makes room for one more version (IAM's limit is five per policy).
async fn prune_versions(iam: &Client, arn: &str) -> Result<(), AddonError> {
    let old = old_versions(iam, arn).await?;
    for id in old.iter().take(old.len().saturating_sub(3)) {
        delete_version(iam, arn, id).await?;
    }
    Ok(())
}

async fn delete_version(iam: &Client, arn: &str, id: &str) -> Result<(), AddonError> {
    iam.delete_policy_version()
        .policy_arn(arn)
        .version_id(id)
        .send()
        .await
        .map_err(|e| AddonError::aws("IAM DeletePolicyVersion", format!("{arn} {id}"), e))?;
    Ok(())
}

/// Deletes kerf's policy (detach it from roles first). Absent or not kerf's: left.
pub async fn remove_policy(iam: &Client, ctx: &Context) -> Result<StepOutcome, AddonError> {
    let arn = ctx.controller_policy_arn();
    let Some(policy) = get_policy(iam, ctx, &arn).await? else {
        return Ok(StepOutcome::Absent);
    };
    if !policy.owned {
        return Ok(StepOutcome::Unchanged);
    }
    for id in old_versions(iam, &arn).await? {
        delete_version(iam, &arn, &id).await?;
    }
    iam.delete_policy()
        .policy_arn(&arn)
        .send()
        .await
        .map_err(|e| AddonError::aws("IAM DeletePolicy", arn.to_string(), e))?;
    Ok(StepOutcome::Deleted)
}
