//! Instance profiles for node classes that name a `role` (EC2NodeClass v1's
//! `spec.role`), as Karpenter v1 manages them: one profile per class, named
//! from the cluster and a hash of the region and class name (stable across
//! restarts, so a restarted kerf finds its own), tagged as the cluster's, and
//! holding exactly that role; deleted with the class (the controller holds
//! the class with the finalizer [`FINALIZER`] until then). A class that names
//! `instanceProfile` uses it as it is and nothing here runs. A profile of that
//! name without kerf's ownership tag (see [`crate::ownership`]) is never
//! changed or deleted.

use std::collections::BTreeMap;

use aws_sdk_iam::types::Tag;
use sha2::{Digest, Sha256};

use crate::error::{aws_error, is_iam_not_found};
use crate::ownership::{OWNERSHIP_TAG, is_owned, ownership_tags};
use kerf_cloud::CloudError;
use kerf_cloud::provider::Result;

/// Held on an EC2NodeClass with a `role` until its profile is deleted.
pub const FINALIZER: &str = "karpenter.k8s.aws/termination";

/// Tag naming the class a profile was made for.
pub const NODE_CLASS_TAG: &str = "karpenter.k8s.aws/ec2nodeclass";

/// `<cluster>_<16 hex digits of sha256(region/class)>`, at most IAM's 128 characters.
pub fn profile_name(cluster: &str, region: &str, class: &str) -> String {
    let digest = Sha256::digest(format!("{region}/{class}").as_bytes());
    let hash: String = digest[..8].iter().map(|b| format!("{b:02x}")).collect();
    let keep = 128 - 1 - hash.len();
    let cluster: String = cluster.chars().take(keep).collect();
    format!("{cluster}_{hash}")
}

/// The role's name when `role` is an ARN (`arn:aws:iam::1:role/path/name`)
/// or a name with a path; IAM's profile calls take the bare name.
pub fn role_name(role: &str) -> &str {
    role.rsplit('/').next().unwrap_or(role)
}

/// The tags a profile carries: kerf's ownership tags, the region and the class.
pub fn tags(cluster: &str, region: &str, class: &str) -> Vec<(String, String)> {
    let mut tags = ownership_tags(cluster);
    tags.insert("topology.kubernetes.io/region".into(), region.into());
    tags.insert(NODE_CLASS_TAG.into(), class.into());
    tags.into_iter().collect()
}

/// An instance profile as GetInstanceProfile reads it.
#[derive(Clone, Debug, Default, PartialEq, Eq)]
pub struct Profile {
    pub roles: Vec<String>,
    pub tags: BTreeMap<String, String>,
}

fn refuse_foreign(name: &str, class: &str, cluster: &str, profile: &Profile) -> Result<()> {
    if is_owned(&profile.tags, cluster) {
        return Ok(());
    }
    Err(CloudError::not_owned(
        format!("instance profile {name} (EC2NodeClass {class})"),
        format!("it lacks the tag {OWNERSHIP_TAG}={cluster}"),
    ))
}

/// Creates the class's profile if it is missing and makes `role` its only
/// role; returns the profile's name. Idempotent: a profile that already holds
/// the role is left alone.
pub async fn ensure(
    iam: &aws_sdk_iam::Client,
    cluster: &str,
    region: &str,
    class: &str,
    role: &str,
) -> Result<String> {
    let name = profile_name(cluster, region, class);
    let role = role_name(role);
    if role.is_empty() {
        return Err(CloudError::other(
            "resolving the instance profile",
            format!("EC2NodeClass {class}: spec.role is empty"),
        ));
    }
    let context = |what: &str| format!("{what} instance profile {name} (EC2NodeClass {class})");
    let roles = match read(iam, &name, context("reading")).await? {
        Some(profile) => {
            refuse_foreign(&name, class, cluster, &profile)?;
            profile.roles
        }
        None => {
            create(iam, &name, cluster, region, class, context("creating")).await?;
            Vec::new()
        }
    };
    if roles.iter().any(|r| r == role) {
        return Ok(name);
    }
    // A profile holds at most one role: the class's role changed.
    for old in &roles {
        iam.remove_role_from_instance_profile()
            .instance_profile_name(&name)
            .role_name(old)
            .send()
            .await
            .map_err(|e| aws_error(context(&format!("removing role {old} from")), e))?;
    }
    iam.add_role_to_instance_profile()
        .instance_profile_name(&name)
        .role_name(role)
        .send()
        .await
        .map_err(|e| aws_error(context(&format!("adding role {role} to")), e))?;
    Ok(name)
}

/// Empties and deletes the class's profile (the class is being deleted);
/// one already gone is success, and so is one kerf did not create: it is left
/// as it is, since it was never the class's to remove.
pub async fn delete(
    iam: &aws_sdk_iam::Client,
    cluster: &str,
    region: &str,
    class: &str,
) -> Result<()> {
    let name = profile_name(cluster, region, class);
    let context = |what: &str| format!("{what} instance profile {name} (EC2NodeClass {class})");
    let Some(profile) = read(iam, &name, context("reading")).await? else {
        return Ok(());
    };
    if let Err(e) = refuse_foreign(&name, class, cluster, &profile) {
        tracing::warn!(error = %e, "not deleting an instance profile kerf did not create");
        return Ok(());
    }
    for role in &profile.roles {
        match iam
            .remove_role_from_instance_profile()
            .instance_profile_name(&name)
            .role_name(role)
            .send()
            .await
        {
            Ok(_) => {}
            Err(e) if is_iam_not_found(&e) => {}
            Err(e) => return Err(aws_error(context(&format!("removing role {role} from")), e)),
        }
    }
    match iam
        .delete_instance_profile()
        .instance_profile_name(&name)
        .send()
        .await
    {
        Ok(_) => Ok(()),
        Err(e) if is_iam_not_found(&e) => Ok(()),
        Err(e) => Err(aws_error(context("deleting"), e)),
    }
}

/// The profile's roles and tags, or None when there is no such profile
/// (GetInstanceProfile); `context` names what was being done on failure.
pub async fn read(
    iam: &aws_sdk_iam::Client,
    name: &str,
    context: String,
) -> Result<Option<Profile>> {
    match iam
        .get_instance_profile()
        .instance_profile_name(name)
        .send()
        .await
    {
        Ok(out) => Ok(Some(
            out.instance_profile()
                .map(|p| Profile {
                    roles: p
                        .roles()
                        .iter()
                        .map(|r| r.role_name().to_string())
                        .collect(),
                    tags: p
                        .tags()
                        .iter()
                        .map(|t| (t.key().to_string(), t.value().to_string()))
                        .collect(),
                })
                .unwrap_or_default(),
        )),
        Err(e) if is_iam_not_found(&e) => Ok(None),
        Err(e) => Err(aws_error(context, e)),
    }
}

/// The roles the profile holds, or None when there is no such profile.
pub async fn roles_of(
    iam: &aws_sdk_iam::Client,
    name: &str,
    context: String,
) -> Result<Option<Vec<String>>> {
    Ok(read(iam, name, context).await?.map(|p| p.roles))
}

/// CreateInstanceProfile; one that another replica created meanwhile is fine.
async fn create(
    iam: &aws_sdk_iam::Client,
    name: &str,
    cluster: &str,
    region: &str,
    class: &str,
    context: String,
) -> Result<()> {
    let tags: Vec<Tag> = tags(cluster, region, class)
        .into_iter()
        .filter_map(|(k, v)| Tag::builder().key(k).value(v).build().ok())
        .collect();
    match iam
        .create_instance_profile()
        .instance_profile_name(name)
        .path(format!("/karpenter/{region}/{cluster}/"))
        .set_tags(Some(tags))
        .send()
        .await
    {
        Ok(_) => Ok(()),
        Err(e)
            if e.as_service_error()
                .is_some_and(|s| s.is_entity_already_exists_exception()) =>
        {
            Ok(())
        }
        Err(e) => Err(aws_error(context, e)),
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn names_are_stable_per_region_and_class_and_fit_iam() {
        let a = profile_name("prod", "us-east-1", "default");
        assert_eq!(a, profile_name("prod", "us-east-1", "default"));
        assert!(a.starts_with("prod_"), "{a}");
        assert_eq!(a.len(), "prod_".len() + 16);
        assert_ne!(a, profile_name("prod", "us-west-2", "default"));
        assert_ne!(a, profile_name("prod", "us-east-1", "gpu"));
        let long = profile_name(&"c".repeat(200), "us-east-1", "default");
        assert_eq!(long.len(), 128);
    }

    #[test]
    fn role_names_drop_arn_and_path() {
        assert_eq!(
            role_name("KarpenterNodeRole-prod"),
            "KarpenterNodeRole-prod"
        );
        assert_eq!(
            role_name("arn:aws:iam::111122223333:role/nodes/KarpenterNodeRole-prod"),
            "KarpenterNodeRole-prod"
        );
    }
}
