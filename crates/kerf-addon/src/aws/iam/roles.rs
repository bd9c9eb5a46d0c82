//! IAM roles (node role, controller IRSA role), their managed policy attachments and the
//! node instance profile: ensure (create or converge) and remove (only what kerf owns).

use aws_sdk_iam::Client;
use serde_json::Value;

use super::{iam_tags, not_found, owned};
use crate::aws::names::Context;
use crate::aws::parse_document;
use crate::error::AddonError;
use crate::progress::StepOutcome;

/// A role as IAM holds it: trust document and whether kerf owns it.
struct ExistingRole {
    trust: Value,
    owned: bool,
}

async fn get_role(
    iam: &Client,
    ctx: &Context,
    name: &str,
) -> Result<Option<ExistingRole>, AddonError> {
    let out = match iam.get_role().role_name(name).send().await {
        Ok(out) => out,
        Err(e) if e.as_service_error().is_some_and(not_found) => return Ok(None),
        Err(e) => return Err(AddonError::aws("IAM GetRole", name.to_string(), e)),
    };
    let Some(role) = out.role() else {
        return Err(AddonError::MissingField {
            operation: "IAM GetRole",
            resource: name.to_string(),
            field: "role",
        });
    };
    let trust = role.assume_role_policy_document().unwrap_or("{}");
    Ok(Some(ExistingRole {
        trust: parse_document(&format!("role {name} AssumeRolePolicyDocument"), trust)?,
        owned: owned(ctx, role.tags()),
    }))
}

/// Creates the role with this trust policy, or brings kerf's role to it. A role of that name
/// that kerf did not create is used only if its trust policy is already the desired one.
pub async fn ensure_role(
    iam: &Client,
    ctx: &Context,
    name: &str,
    trust: &Value,
    description: &str,
) -> Result<StepOutcome, AddonError> {
    match get_role(iam, ctx, name).await? {
        None => {
            iam.create_role()
                .role_name(name)
                .assume_role_policy_document(trust.to_string())
                .description(description)
                .set_tags(Some(iam_tags(ctx)?))
                .send()
                .await
                .map_err(|e| AddonError::aws("IAM CreateRole", name.to_string(), e))?;
            Ok(StepOutcome::Created)
        }
        Some(role) if &role.trust == trust => Ok(StepOutcome::Unchanged),
        Some(role) if role.owned => {
            iam.update_assume_role_policy()
                .role_name(name)
                .policy_document(trust.to_string())
                .send()
                .await
                .map_err(|e| AddonError::aws("IAM UpdateAssumeRolePolicy", name.to_string(), e))?;
            Ok(StepOutcome::Updated)
        }
        Some(role) => Err(AddonError::NotKerfs {
            resource: format!("role {name}"),
            differs: format!(
                "its trust policy differs from the one kerf needs ({})",
                role.trust
            ),
        }),
    }
}

async fn attached(iam: &Client, role: &str) -> Result<Vec<String>, AddonError> {
    // Paged: a role may have more attached policies than one answer holds.
    let policies: Vec<_> = iam
        .list_attached_role_policies()
        .role_name(role)
        .into_paginator()
        .items()
        .send()
        .try_collect()
        .await
        .map_err(|e| AddonError::aws("IAM ListAttachedRolePolicies", role.to_string(), e))?;
    Ok(policies
        .iter()
        .filter_map(|p| p.policy_arn().map(str::to_string))
        .collect())
}

/// Attaches every policy in `arns` that is not attached yet.
pub async fn ensure_attached(
    iam: &Client,
    role: &str,
    arns: &[String],
) -> Result<StepOutcome, AddonError> {
    let have = attached(iam, role).await?;
    let mut outcome = StepOutcome::Unchanged;
    for arn in arns.iter().filter(|a| !have.contains(a)) {
        iam.attach_role_policy()
            .role_name(role)
            .policy_arn(arn)
            .send()
            .await
            .map_err(|e| AddonError::aws("IAM AttachRolePolicy", format!("{arn} to {role}"), e))?;
        outcome = StepOutcome::Created;
    }
    Ok(outcome)
}

/// Detaches the policies in `superseded` from `role` when kerf created the role: an older
/// kerf attached them in place of narrower ones ([`crate::aws::names::SUPERSEDED_NODE_POLICIES`]),
/// and leaving them would keep the wider grant after an upgrade. A role kerf did not create
/// keeps whatever its owner attached.
pub async fn detach_superseded(
    iam: &Client,
    ctx: &Context,
    role: &str,
    superseded: &[String],
) -> Result<StepOutcome, AddonError> {
    let Some(existing) = get_role(iam, ctx, role).await? else {
        return Ok(StepOutcome::Unchanged);
    };
    if !existing.owned {
        return Ok(StepOutcome::Unchanged);
    }
    let have = attached(iam, role).await?;
    let mut outcome = StepOutcome::Unchanged;
    for arn in superseded.iter().filter(|a| have.contains(a)) {
        iam.detach_role_policy()
            .role_name(role)
            .policy_arn(arn)
            .send()
            .await
            .map_err(|e| {
                AddonError::aws("IAM DetachRolePolicy", format!("{arn} from {role}"), e)
            })?;
        outcome = StepOutcome::Updated;
    }
    Ok(outcome)
}

/// The instance profile, containing `role`.
pub async fn ensure_instance_profile(
    iam: &Client,
    ctx: &Context,
    name: &str,
    role: &str,
) -> Result<StepOutcome, AddonError> {
    let read = format!("IAM GetInstanceProfile {name}");
    let roles = match kerf_aws::instance_profile::roles_of(iam, name, read).await? {
        Some(roles) => roles,
        None => {
            iam.create_instance_profile()
                .instance_profile_name(name)
                .set_tags(Some(iam_tags(ctx)?))
                .send()
                .await
                .map_err(|e| AddonError::aws("IAM CreateInstanceProfile", name.to_string(), e))?;
            Vec::new()
        }
    };
    if roles.iter().any(|r| r == role) {
        return Ok(StepOutcome::Unchanged);
    }
    if !roles.is_empty() {
        return Err(AddonError::ProfileHoldsOtherRole {
            profile: name.to_string(),
            held: roles.join(", "),
            role: role.to_string(),
        });
    }
    iam.add_role_to_instance_profile()
        .instance_profile_name(name)
        .role_name(role)
        .send()
        .await
        .map_err(|e| {
            AddonError::aws(
                "IAM AddRoleToInstanceProfile",
                format!("{role} to {name}"),
                e,
            )
        })?;
    Ok(StepOutcome::Created)
}

/// Deletes kerf's instance profile (after removing its roles). Absent or not kerf's: left.
pub async fn remove_instance_profile(
    iam: &Client,
    ctx: &Context,
    name: &str,
) -> Result<StepOutcome, AddonError> {
    let profile = match iam
        .get_instance_profile()
        .instance_profile_name(name)
        .send()
        .await
    {
        Ok(out) => out.instance_profile().cloned(),
        Err(e) if e.as_service_error().is_some_and(not_found) => None,
        Err(e) => {
            return Err(AddonError::aws(
                "IAM GetInstanceProfile",
                name.to_string(),
                e,
            ));
        }
    };
    let Some(profile) = profile else {
        return Ok(StepOutcome::Absent);
    };
    if !owned(ctx, profile.tags()) {
        return Ok(StepOutcome::Unchanged);
    }
    for role in profile.roles() {
        iam.remove_role_from_instance_profile()
            .instance_profile_name(name)
            .role_name(role.role_name())
            .send()
            .await
            .map_err(|e| {
                AddonError::aws("IAM RemoveRoleFromInstanceProfile", name.to_string(), e)
            })?;
    }
    iam.delete_instance_profile()
        .instance_profile_name(name)
        .send()
        .await
        .map_err(|e| AddonError::aws("IAM DeleteInstanceProfile", name.to_string(), e))?;
    Ok(StepOutcome::Deleted)
}

/// Deletes kerf's role: detaches its managed policies, deletes its inline policies, removes
/// it from instance profiles. A role kerf did not create is left (Unchanged).
pub async fn remove_role(
    iam: &Client,
    ctx: &Context,
    name: &str,
) -> Result<StepOutcome, AddonError> {
    let Some(role) = get_role(iam, ctx, name).await? else {
        return Ok(StepOutcome::Absent);
    };
    if !role.owned {
        return Ok(StepOutcome::Unchanged);
    }
    for arn in attached(iam, name).await? {
        iam.detach_role_policy()
            .role_name(name)
            .policy_arn(&arn)
            .send()
            .await
            .map_err(|e| {
                AddonError::aws("IAM DetachRolePolicy", format!("{arn} from {name}"), e)
            })?;
    }
    let inline: Vec<String> = iam
        .list_role_policies()
        .role_name(name)
        .into_paginator()
        .items()
        .send()
        .try_collect()
        .await
        .map_err(|e| AddonError::aws("IAM ListRolePolicies", name.to_string(), e))?;
    for policy in &inline {
        iam.delete_role_policy()
            .role_name(name)
            .policy_name(policy)
            .send()
            .await
            .map_err(|e| {
                AddonError::aws("IAM DeleteRolePolicy", format!("{policy} of {name}"), e)
            })?;
    }
    let profiles: Vec<_> = iam
        .list_instance_profiles_for_role()
        .role_name(name)
        .into_paginator()
        .items()
        .send()
        .try_collect()
        .await
        .map_err(|e| AddonError::aws("IAM ListInstanceProfilesForRole", name.to_string(), e))?;
    for p in &profiles {
        iam.remove_role_from_instance_profile()
            .instance_profile_name(p.instance_profile_name())
            .role_name(name)
            .send()
            .await
            .map_err(|e| {
                AddonError::aws("IAM RemoveRoleFromInstanceProfile", name.to_string(), e)
            })?;
    }
    iam.delete_role()
        .role_name(name)
        .send()
        .await
        .map_err(|e| AddonError::aws("IAM DeleteRole", name.to_string(), e))?;
    Ok(StepOutcome::Deleted)
}
