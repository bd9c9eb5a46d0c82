//! Discovery tags on the cluster's subnets and security groups: `kubernetes.io/cluster/<c>`
//! (`shared`, as EKS writes it) and `karpenter.sh/discovery=<c>`. Tags already present are
//! left as they are; the keys kerf added are recorded in a marker tag on the resource so that
//! uninstall removes exactly those.

use std::collections::{BTreeMap, BTreeSet};

use aws_sdk_ec2::types::{Filter, Tag};

use super::AwsClients;
use super::names::{ADDED_TAGS_KEY, Context};
use crate::error::AddonError;
use crate::progress::StepOutcome;

fn wanted(ctx: &Context) -> Vec<(String, String)> {
    vec![
        (ctx.kubernetes_cluster_tag(), "shared".to_string()),
        ("karpenter.sh/discovery".to_string(), ctx.cluster.clone()),
    ]
}

async fn tags_of(c: &AwsClients, id: &str) -> Result<BTreeMap<String, String>, AddonError> {
    let out = c
        .ec2
        .describe_tags()
        .filters(Filter::builder().name("resource-id").values(id).build())
        .send()
        .await
        .map_err(|e| AddonError::aws("EC2 DescribeTags", id.to_string(), e))?;
    Ok(out
        .tags()
        .iter()
        .filter_map(|t| Some((t.key()?.to_string(), t.value().unwrap_or("").to_string())))
        .collect())
}

fn tag(k: &str, v: &str) -> Tag {
    Tag::builder().key(k).value(v).build()
}

/// Tags one subnet or security group.
pub async fn ensure(c: &AwsClients, ctx: &Context, id: &str) -> Result<StepOutcome, AddonError> {
    let have = tags_of(c, id).await?;
    let mut added: BTreeSet<String> = have
        .get(ADDED_TAGS_KEY)
        .map(|v| v.split_whitespace().map(str::to_string).collect())
        .unwrap_or_default();
    let missing: Vec<(String, String)> = wanted(ctx)
        .into_iter()
        .filter(|(k, _)| !have.contains_key(k))
        .collect();
    if missing.is_empty() {
        return Ok(StepOutcome::Unchanged);
    }
    added.extend(missing.iter().map(|(k, _)| k.clone()));
    let marker = added.into_iter().collect::<Vec<_>>().join(" ");
    let mut call = c
        .ec2
        .create_tags()
        .resources(id)
        .tags(tag(ADDED_TAGS_KEY, &marker));
    for (k, v) in &missing {
        call = call.tags(tag(k, v));
    }
    call.send()
        .await
        .map_err(|e| AddonError::aws("EC2 CreateTags", id.to_string(), e))?;
    Ok(StepOutcome::Updated)
}

/// Removes the tags kerf added (per the marker) and the marker.
pub async fn remove(c: &AwsClients, id: &str) -> Result<StepOutcome, AddonError> {
    let have = tags_of(c, id).await?;
    let Some(marker) = have.get(ADDED_TAGS_KEY) else {
        return Ok(StepOutcome::Absent);
    };
    let mut call = c
        .ec2
        .delete_tags()
        .resources(id)
        .tags(Tag::builder().key(ADDED_TAGS_KEY).build());
    for k in marker.split_whitespace() {
        call = call.tags(Tag::builder().key(k).build());
    }
    call.send()
        .await
        .map_err(|e| AddonError::aws("EC2 DeleteTags", id.to_string(), e))?;
    Ok(StepOutcome::Deleted)
}
