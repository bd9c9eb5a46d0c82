//! What the AWS side needs to know about the account and the EKS cluster: the account id
//! (STS GetCallerIdentity) and, from EKS DescribeCluster, the API endpoint, the OIDC issuer,
//! and the subnets and security groups of the cluster's VPC config.

use anyhow::Context as _;

use super::{AwsClients, aws_error};

#[derive(Debug, Clone, PartialEq, Eq)]
pub struct ClusterFacts {
    pub endpoint: String,
    pub oidc_issuer: String,
    pub subnet_ids: Vec<String>,
    /// The additional security groups and the cluster security group EKS created.
    pub security_group_ids: Vec<String>,
}

pub async fn account_id(c: &AwsClients) -> anyhow::Result<String> {
    let out = c
        .sts
        .get_caller_identity()
        .send()
        .await
        .map_err(|e| aws_error("STS GetCallerIdentity", e))?;
    out.account()
        .map(str::to_string)
        .context("STS GetCallerIdentity returned no Account")
}

pub async fn describe_cluster(c: &AwsClients, name: &str) -> anyhow::Result<ClusterFacts> {
    let out = c
        .eks
        .describe_cluster()
        .name(name)
        .send()
        .await
        .map_err(|e| aws_error(format!("EKS DescribeCluster {name}"), e))?;
    let cluster = out
        .cluster()
        .with_context(|| format!("EKS DescribeCluster {name} returned no cluster"))?;
    let missing = |field: &str| format!("EKS cluster {name}: {field} is not set");
    let endpoint = cluster
        .endpoint()
        .filter(|e| !e.is_empty())
        .with_context(|| missing("endpoint"))?
        .to_string();
    let oidc_issuer = cluster
        .identity()
        .and_then(|i| i.oidc())
        .and_then(|o| o.issuer())
        .filter(|i| !i.is_empty())
        .with_context(|| missing("identity.oidc.issuer"))?
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
    Ok(ClusterFacts {
        endpoint,
        oidc_issuer,
        subnet_ids,
        security_group_ids,
    })
}

/// The first two steps of install and uninstall alike: the account (STS) and the cluster's
/// facts (EKS), reported through `steps`, and the naming context built from them.
pub async fn look_up(
    side: &super::AwsSide,
    c: &AwsClients,
    steps: &mut crate::progress::Steps<'_>,
) -> anyhow::Result<(String, ClusterFacts, super::names::Context)> {
    use crate::progress::StepOutcome;
    let account = steps
        .run("sts:account", "caller identity", async {
            Ok((StepOutcome::Unchanged, account_id(c).await?))
        })
        .await?;
    let cluster = &side.cluster_name;
    let facts = steps
        .run("eks:cluster", cluster, async {
            Ok((StepOutcome::Unchanged, describe_cluster(c, cluster).await?))
        })
        .await?;
    let ctx = side.context(&account, &facts.oidc_issuer);
    Ok((account, facts, ctx))
}
