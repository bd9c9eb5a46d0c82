//! IAM: roles, the instance profile, the controller policy, the OIDC provider and the spot
//! service-linked role.

pub mod extras;
pub mod policy;
pub mod roles;

use crate::aws::names::Context;
use crate::error::AddonError;

pub(crate) use kerf_aws::error::is_iam_not_found as not_found;

pub(crate) fn iam_tags(ctx: &Context) -> Result<Vec<aws_sdk_iam::types::Tag>, AddonError> {
    ctx.ownership_tags()
        .into_iter()
        .map(|(k, v)| {
            aws_sdk_iam::types::Tag::builder()
                .key(k)
                .value(v)
                .build()
                .map_err(|source| AddonError::Request {
                    what: "an IAM tag".into(),
                    source,
                })
        })
        .collect()
}

pub(crate) fn owned(ctx: &Context, tags: &[aws_sdk_iam::types::Tag]) -> bool {
    ctx.owns(tags.iter().map(|t| (t.key(), t.value())))
}
