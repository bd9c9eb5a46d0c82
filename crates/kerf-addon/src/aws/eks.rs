//! What the AWS side needs to know about the account and the EKS cluster: the account id
//! (STS GetCallerIdentity) and, from EKS DescribeCluster, the API endpoint, the OIDC issuer,
//! and the subnets and security groups of the cluster's VPC config.

use super::AwsClients;
use crate::error::AddonError;

#[derive(Debug, Clone, PartialEq, Eq)]
pub struct ClusterFacts {
    pub endpoint: String,
    pub oidc_issuer: String,
    pub subnet_ids: Vec<String>,
    /// The additional security groups and the cluster security group EKS created.
    pub security_group_ids: Vec<String>,
}

pub async fn account_id(c: &AwsClients) -> Result<String, AddonError> {
    let out = c
        .sts
        .get_caller_identity()
        .send()
        .await
        .map_err(|e| AddonError::aws("STS GetCallerIdentity", "", e))?;
    out.account()
        .map(str::to_string)
        .ok_or(AddonError::MissingField {
            operation: "STS GetCallerIdentity",
            resource: String::new(),
            field: "Account",
        })
}

pub async fn describe_cluster(c: &AwsClients, name: &str) -> Result<ClusterFacts, AddonError> {
    describe_cluster_opt(c, name)
        .await?
        .ok_or_else(|| AddonError::ClusterNotFound {
            name: name.to_string(),
        })
}

/// The cluster's facts, or `None` when EKS has no cluster of that name.
pub async fn describe_cluster_opt(
    c: &AwsClients,
    name: &str,
) -> Result<Option<ClusterFacts>, AddonError> {
    let out = match c.eks.describe_cluster().name(name).send().await {
        Ok(out) => out,
        Err(e)
            if e.as_service_error()
                .is_some_and(|s| s.is_resource_not_found_exception()) =>
        {
            return Ok(None);
        }
        Err(e) => return Err(AddonError::aws("EKS DescribeCluster", name.to_string(), e)),
    };
    let missing = |field: &'static str| AddonError::MissingField {
        operation: "EKS DescribeCluster",
        resource: name.to_string(),
        field,
    };
    let cluster = out.cluster().ok_or_else(|| missing("cluster"))?;
    let endpoint = cluster
        .endpoint()
        .filter(|e| !e.is_empty())
        .ok_or_else(|| missing("cluster.endpoint"))?
        .to_string();
    let oidc_issuer = cluster
        .identity()
        .and_then(|i| i.oidc())
        .and_then(|o| o.issuer())
        .filter(|i| !i.is_empty())
        .ok_or_else(|| missing("cluster.identity.oidc.issuer"))?
        .to_string();
    let vpc = cluster.resources_vpc_config();
    let subnet_ids = vpc.map(|v| v.subnet_ids().to_vec()).unwrap_or_default();
    let mut security_group_ids = vpc
        .map(|v| v.security_group_ids().to_vec())
        .unwrap_or_default();
    if let Some(sg) = vpc.and_then(|v| v.cluster_security_group_id()) {
        security_group_ids.push(sg.to_string());
    }
    security_group_ids.sort();
    security_group_ids.dedup();
    Ok(Some(ClusterFacts {
        endpoint,
        oidc_issuer,
        subnet_ids,
        security_group_ids,
    }))
}

/// The account (STS) and the cluster's facts (EKS), reported through `steps` as the first
/// two steps, and the naming context built from them. With `cluster_may_be_gone` (uninstall),
/// a cluster EKS no longer has is no error: what kerf tagged for it is found by its tags
/// instead (see [`leftovers`]), so that removing the add-on after the cluster still works.
pub async fn look_up(
    side: &super::AwsSide,
    c: &AwsClients,
    steps: &mut crate::progress::Steps<'_>,
    cluster_may_be_gone: bool,
) -> Result<(String, ClusterFacts, super::names::Context), AddonError> {
    use crate::progress::StepOutcome;
    let account = steps
        .run("sts:account", "caller identity", async {
            Ok((StepOutcome::Unchanged, account_id(c).await?))
        })
        .await?;
    let cluster = &side.cluster_name;
    let facts = if cluster_may_be_gone {
        steps
            .run("eks:cluster", cluster, async {
                match describe_cluster_opt(c, cluster).await? {
                    Some(facts) => Ok((StepOutcome::Unchanged, facts)),
                    None => Ok((
                        StepOutcome::Absent,
                        leftovers(c, &side.context(&account, "")).await?,
                    )),
                }
            })
            .await?
    } else {
        steps
            .run("eks:cluster", cluster, async {
                Ok((StepOutcome::Unchanged, describe_cluster(c, cluster).await?))
            })
            .await?
    };
    let ctx = side.context(&account, &facts.oidc_issuer);
    Ok((account, facts, ctx))
}

/// For a cluster that is gone: the subnets and security groups that still carry kerf's
/// discovery marker for it, and the issuer of the OIDC provider kerf created for it (empty
/// when there is none). `ctx`'s issuer is not used.
async fn leftovers(
    c: &AwsClients,
    ctx: &super::names::Context,
) -> Result<ClusterFacts, AddonError> {
    use aws_sdk_ec2::types::Filter;
    let filters = || {
        vec![
            Filter::builder()
                .name("tag-key")
                .values(super::names::ADDED_TAGS_KEY)
                .build(),
            Filter::builder()
                .name("tag:karpenter.sh/discovery")
                .values(&ctx.cluster)
                .build(),
        ]
    };
    let subnets: Vec<_> = c
        .ec2
        .describe_subnets()
        .set_filters(Some(filters()))
        .into_paginator()
        .items()
        .send()
        .try_collect()
        .await
        .map_err(|e| AddonError::aws("EC2 DescribeSubnets", "(kerf's discovery marker)", e))?;
    let groups: Vec<_> = c
        .ec2
        .describe_security_groups()
        .set_filters(Some(filters()))
        .into_paginator()
        .items()
        .send()
        .try_collect()
        .await
        .map_err(|e| {
            AddonError::aws("EC2 DescribeSecurityGroups", "(kerf's discovery marker)", e)
        })?;
    let mut subnet_ids: Vec<String> = subnets
        .iter()
        .filter_map(|s| s.subnet_id().map(str::to_string))
        .collect();
    let mut security_group_ids: Vec<String> = groups
        .iter()
        .filter_map(|g| g.group_id().map(str::to_string))
        .collect();
    subnet_ids.sort();
    security_group_ids.sort();
    Ok(ClusterFacts {
        endpoint: String::new(),
        oidc_issuer: super::iam::extras::owned_issuer(&c.iam, ctx)
            .await?
            .unwrap_or_default(),
        subnet_ids,
        security_group_ids,
    })
}
