//! What makes an AWS resource kerf's, and the check every destructive call
//! makes before it acts.
//!
//! `kubernetes.io/cluster/<cluster>: owned` alone says nothing about who
//! launched an instance: EKS managed node groups, eksctl and self-managed node
//! groups put exactly that tag on their instances. So everything kerf creates
//! (instances, volumes, network interfaces, fleets, spot requests, launch
//! templates, instance profiles) also carries [`OWNERSHIP_TAG`] valued with the
//! cluster name, set in the create call itself. Garbage collection lists only
//! instances with that tag, termination refuses instances without it, and the
//! add-on's IAM policy grants TerminateInstances, DeleteLaunchTemplate and the
//! instance-profile changes only on resources carrying it (as upstream's policy
//! does with `karpenter.sh/nodepool`), so even a bug in kerf cannot touch a
//! node group's instances.

use std::collections::BTreeMap;

use crate::discovery::network::cluster_tag_key;

/// kerf's ownership tag, valued with the cluster name.
pub const OWNERSHIP_TAG: &str = "kerf.sh/cluster";

/// The tag EKS and Karpenter use to name an instance's cluster.
pub const EKS_CLUSTER_NAME_TAG: &str = "eks:eks-cluster-name";

/// The tags every resource kerf creates for `cluster` carries. They are
/// applied after any user tags, so they always win.
pub fn ownership_tags(cluster: &str) -> BTreeMap<String, String> {
    BTreeMap::from([
        (OWNERSHIP_TAG.to_string(), cluster.to_string()),
        (cluster_tag_key(cluster), "owned".to_string()),
        (EKS_CLUSTER_NAME_TAG.to_string(), cluster.to_string()),
    ])
}

/// `tags` with the ownership tags laid over them.
pub fn with_ownership(
    mut tags: BTreeMap<String, String>,
    cluster: &str,
) -> BTreeMap<String, String> {
    tags.extend(ownership_tags(cluster));
    tags
}

/// Whether a resource with these tags is kerf's for `cluster`.
pub fn is_owned(tags: &BTreeMap<String, String>, cluster: &str) -> bool {
    tags.get(OWNERSHIP_TAG).is_some_and(|v| v == cluster)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn only_the_kerf_tag_with_this_cluster_makes_a_resource_kerfs() {
        let owned = with_ownership(BTreeMap::new(), "demo");
        assert!(is_owned(&owned, "demo"));
        assert!(!is_owned(&owned, "other"));
        // What a managed node group's instance carries.
        let node_group = BTreeMap::from([
            (
                "kubernetes.io/cluster/demo".to_string(),
                "owned".to_string(),
            ),
            (EKS_CLUSTER_NAME_TAG.to_string(), "demo".to_string()),
            ("eks:nodegroup-name".to_string(), "ng-1".to_string()),
        ]);
        assert!(!is_owned(&node_group, "demo"));
    }

    #[test]
    fn ownership_overrides_user_tags_of_the_same_key() {
        let user = BTreeMap::from([
            (OWNERSHIP_TAG.to_string(), "spoofed".to_string()),
            ("team".to_string(), "a".to_string()),
        ]);
        let tags = with_ownership(user, "demo");
        assert_eq!(tags[OWNERSHIP_TAG], "demo");
        assert_eq!(tags["team"], "a");
        assert_eq!(tags["kubernetes.io/cluster/demo"], "owned");
        assert_eq!(tags[EKS_CLUSTER_NAME_TAG], "demo");
    }
}
