//! The cluster's IAM OIDC provider (created if absent, so IRSA works) and the spot
//! service-linked role (created if absent, never deleted: it is account-wide).

use aws_sdk_iam::Client;

use super::{iam_tags, not_found, owned};
use crate::aws::names::{Context, SPOT_ROLE_PATH, SPOT_SERVICE, STS_AUDIENCE};
use crate::error::AddonError;
use crate::progress::StepOutcome;

struct Provider {
    client_ids: Vec<String>,
    owned: bool,
}

async fn get_provider(iam: &Client, ctx: &Context) -> Result<Option<Provider>, AddonError> {
    let arn = ctx.oidc_provider_arn();
    match iam
        .get_open_id_connect_provider()
        .open_id_connect_provider_arn(&arn)
        .send()
        .await
    {
        Ok(out) => Ok(Some(Provider {
            client_ids: out.client_id_list().to_vec(),
            owned: owned(ctx, out.tags()),
        })),
        Err(e) if e.as_service_error().is_some_and(not_found) => Ok(None),
        Err(e) => Err(AddonError::aws(
            "IAM GetOpenIDConnectProvider",
            arn.to_string(),
            e,
        )),
    }
}

/// The issuer (`https://…`) of the OIDC provider kerf created for the cluster, found by its
/// ownership tags: for uninstall once the cluster, and so its issuer, is gone.
pub async fn owned_issuer(iam: &Client, ctx: &Context) -> Result<Option<String>, AddonError> {
    let list = iam
        .list_open_id_connect_providers()
        .send()
        .await
        .map_err(|e| AddonError::aws("IAM ListOpenIDConnectProviders", "", e))?;
    for arn in list
        .open_id_connect_provider_list()
        .iter()
        .filter_map(|p| p.arn())
    {
        let out = iam
            .get_open_id_connect_provider()
            .open_id_connect_provider_arn(arn)
            .send()
            .await
            .map_err(|e| AddonError::aws("IAM GetOpenIDConnectProvider", arn.to_string(), e))?;
        if owned(ctx, out.tags())
            && let Some(url) = out.url()
        {
            let host = url.trim_start_matches("https://");
            return Ok(Some(format!("https://{host}")));
        }
    }
    Ok(None)
}

/// The provider for the cluster's issuer, with the STS audience among its client ids. No
/// thumbprint is sent: IAM fetches it (and trusts the issuer's CA) for EKS issuers.
pub async fn ensure_oidc_provider(iam: &Client, ctx: &Context) -> Result<StepOutcome, AddonError> {
    let arn = ctx.oidc_provider_arn();
    match get_provider(iam, ctx).await? {
        None => {
            iam.create_open_id_connect_provider()
                .url(&ctx.oidc_issuer)
                .client_id_list(STS_AUDIENCE)
                .set_tags(Some(iam_tags(ctx)?))
                .send()
                .await
                .map_err(|e| {
                    AddonError::aws("IAM CreateOpenIDConnectProvider", &ctx.oidc_issuer, e)
                })?;
            Ok(StepOutcome::Created)
        }
        Some(p) if p.client_ids.iter().any(|c| c == STS_AUDIENCE) => Ok(StepOutcome::Unchanged),
        Some(_) => {
            iam.add_client_id_to_open_id_connect_provider()
                .open_id_connect_provider_arn(&arn)
                .client_id(STS_AUDIENCE)
                .send()
                .await
                .map_err(|e| {
                    AddonError::aws("IAM AddClientIDToOpenIDConnectProvider", arn.to_string(), e)
                })?;
            Ok(StepOutcome::Updated)
        }
    }
}

/// Deletes the provider if kerf created it (tagged); one created by eksctl or the console is
/// left for the other IRSA roles that trust it.
pub async fn remove_oidc_provider(iam: &Client, ctx: &Context) -> Result<StepOutcome, AddonError> {
    let arn = ctx.oidc_provider_arn();
    match get_provider(iam, ctx).await? {
        None => Ok(StepOutcome::Absent),
        Some(p) if !p.owned => Ok(StepOutcome::Unchanged),
        Some(_) => {
            iam.delete_open_id_connect_provider()
                .open_id_connect_provider_arn(&arn)
                .send()
                .await
                .map_err(|e| {
                    AddonError::aws("IAM DeleteOpenIDConnectProvider", arn.to_string(), e)
                })?;
            Ok(StepOutcome::Deleted)
        }
    }
}

/// The spot service-linked role's name if it exists. Looked up by its path, which IAM fixes
/// for every service-linked role, rather than by name.
pub async fn spot_role(iam: &Client) -> Result<Option<String>, AddonError> {
    let roles: Vec<_> = iam
        .list_roles()
        .path_prefix(SPOT_ROLE_PATH)
        .into_paginator()
        .items()
        .send()
        .try_collect()
        .await
        .map_err(|e| AddonError::aws("IAM ListRoles", SPOT_ROLE_PATH.to_string(), e))?;
    Ok(roles.first().map(|r| r.role_name().to_string()))
}

/// Creates the spot service-linked role if absent (EC2 needs it to launch spot instances).
pub async fn ensure_spot_role(iam: &Client) -> Result<(StepOutcome, String), AddonError> {
    if let Some(name) = spot_role(iam).await? {
        return Ok((StepOutcome::Unchanged, name));
    }
    let out = iam
        .create_service_linked_role()
        .aws_service_name(SPOT_SERVICE)
        .send()
        .await
        .map_err(|e| AddonError::aws("IAM CreateServiceLinkedRole", SPOT_SERVICE.to_string(), e))?;
    let name = out
        .role()
        .map(|r| r.role_name().to_string())
        .unwrap_or_default();
    Ok((StepOutcome::Created, name))
}
