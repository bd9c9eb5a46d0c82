//! The pure half of the kwok provider: the Node object a launch creates (what
//! a kubelet would register: the instance type's labels, the claim's labels,
//! taints and startup taints, capacity and allocatable, the kwok annotation)
//! and how a kwok Node reads back as a launched NodeClaim.

use std::collections::BTreeMap;

use k8s_openapi::api::core::v1::{Node, NodeSpec, NodeStatus};
use kerf_api::v1::{NodeClaim, NodeClaimStatus};
use kerf_cloud::provider::LaunchChoice;
use kerf_cloud::provider::quantity::to_quantities;

/// Scheme of the provider IDs of kwok nodes: `kwok://<node name>`.
pub const PROVIDER_ID_PREFIX: &str = "kwok://";
/// The annotation that makes kwok act as the node's kubelet.
pub const KWOK_NODE_ANNOTATION: &str = "kwok.x-k8s.io/node";
pub const KWOK_NODE_ANNOTATION_VALUE: &str = "fake";

pub fn provider_id_for(node_name: &str) -> String {
    format!("{PROVIDER_ID_PREFIX}{node_name}")
}

/// The node name inside a kwok provider ID.
pub fn node_name_of(provider_id: &str) -> Option<&str> {
    provider_id
        .strip_prefix(PROVIDER_ID_PREFIX)
        .filter(|n| !n.is_empty())
}

/// The Node a launch of `claim` with `choice` registers. It is named after the
/// claim, so a second launch of the same claim (after a restart) finds it
/// instead of creating another.
pub fn node_for_launch(claim: &NodeClaim, choice: &LaunchChoice<'_>) -> Node {
    let name = kerf_cloud::provider::claim_name(claim).to_string();
    let it = choice.instance_type;
    let mut node_labels = choice.node_labels(claim);
    node_labels.insert(kerf_api::labels::HOSTNAME.to_string(), name.clone());
    let mut taints = claim.spec.taints.clone();
    taints.extend(claim.spec.startup_taints.iter().cloned());
    let mut node = Node::default();
    node.metadata.name = Some(name.clone());
    node.metadata.labels = Some(node_labels);
    node.metadata.annotations = Some(BTreeMap::from([(
        KWOK_NODE_ANNOTATION.to_string(),
        KWOK_NODE_ANNOTATION_VALUE.to_string(),
    )]));
    node.spec = Some(NodeSpec {
        provider_id: Some(provider_id_for(&name)),
        taints: (!taints.is_empty()).then_some(taints),
        ..Default::default()
    });
    node.status = Some(NodeStatus {
        capacity: Some(to_quantities(&it.capacity)),
        allocatable: Some(to_quantities(it.allocatable())),
        ..Default::default()
    });
    node
}

/// Whether the node is one this provider launched.
pub fn is_kwok_node(node: &Node) -> bool {
    node.spec
        .as_ref()
        .and_then(|s| s.provider_id.as_deref())
        .is_some_and(|p| p.starts_with(PROVIDER_ID_PREFIX))
}

/// A kwok Node as the launched claim the cloud reports for it: the claim's
/// name is the node's, its labels the node's, its status the node's provider
/// ID, capacity and allocatable.
pub fn claim_from_node(node: &Node) -> NodeClaim {
    let name = node.metadata.name.clone().unwrap_or_default();
    let mut claim = NodeClaim::new(&name, Default::default());
    claim.metadata.labels = node.metadata.labels.clone();
    // The node's age is the instance's: garbage collection's grace counts from it.
    claim.metadata.creation_timestamp = node.metadata.creation_timestamp.clone();
    let status = node.status.as_ref();
    claim.status = Some(NodeClaimStatus {
        node_name: Some(name),
        provider_id: node.spec.as_ref().and_then(|s| s.provider_id.clone()),
        capacity: status.and_then(|s| s.capacity.clone()).unwrap_or_default(),
        allocatable: status
            .and_then(|s| s.allocatable.clone())
            .unwrap_or_default(),
        ..Default::default()
    });
    claim
}

/// The claim as launched onto `node`: the claim with the node's labels merged
/// in and the status fields a launch fills.
pub fn launched_claim(claim: &NodeClaim, node: &Node) -> NodeClaim {
    let from_node = claim_from_node(node);
    let mut out = claim.clone();
    out.metadata
        .labels
        .get_or_insert_with(Default::default)
        .extend(from_node.metadata.labels.unwrap_or_default());
    let status = out.status.get_or_insert_with(Default::default);
    let launched = from_node.status.unwrap_or_default();
    status.provider_id = launched.provider_id;
    status.capacity = launched.capacity;
    status.allocatable = launched.allocatable;
    out
}

#[cfg(test)]
mod tests {
    use k8s_openapi::api::core::v1::Taint;
    use kerf_api::v1::{NodeClaimSpec, NodeSelectorRequirementWithMinValues};
    use kerf_cloud::Catalog;
    use kerf_cloud::labels;
    use kerf_cloud::provider::{choose_launch, claim_requests, claim_requirements};

    use super::*;

    fn claim() -> NodeClaim {
        let mut c = NodeClaim::new(
            "default-abc12",
            NodeClaimSpec {
                requirements: vec![
                    NodeSelectorRequirementWithMinValues::new(
                        labels::INSTANCE_TYPE,
                        "In",
                        &["m5.2xlarge"],
                    ),
                    NodeSelectorRequirementWithMinValues::new(labels::ZONE, "In", &["us-east-1c"]),
                ],
                taints: vec![Taint {
                    key: "dedicated".into(),
                    effect: "NoSchedule".into(),
                    value: Some("a".into()),
                    ..Default::default()
                }],
                startup_taints: vec![Taint {
                    key: "startup".into(),
                    effect: "NoSchedule".into(),
                    ..Default::default()
                }],
                ..Default::default()
            },
        );
        c.metadata.labels = Some(BTreeMap::from([(
            "karpenter.sh/provisioner-name".to_string(),
            "default".to_string(),
        )]));
        c
    }

    #[test]
    fn launch_builds_a_kwok_node_with_catalogue_shape_and_claim_metadata() {
        let types = Catalog::builtin()
            .instance_types(&Default::default())
            .unwrap();
        let c = claim();
        let reqs = claim_requirements(&c).unwrap();
        let requests = claim_requests(&c).unwrap();
        let choice = choose_launch(&reqs, &requests, &types, |_| false).unwrap();
        let node = node_for_launch(&c, &choice);
        assert_eq!(node.metadata.name.as_deref(), Some("default-abc12"));
        let l = node.metadata.labels.as_ref().unwrap();
        assert_eq!(l[labels::INSTANCE_TYPE], "m5.2xlarge");
        assert_eq!(l[labels::ZONE], "us-east-1c");
        // The catalogue's representative ID of us-east-1c.
        assert_eq!(l[labels::ZONE_ID], "use1-az4");
        assert_eq!(l["karpenter.sh/provisioner-name"], "default");
        assert_eq!(l[kerf_api::labels::HOSTNAME], "default-abc12");
        assert!(l.contains_key(labels::CAPACITY_TYPE));
        assert_eq!(l[labels::INSTANCE_TENANCY], "default");
        assert_eq!(l[labels::NITRO_SANDBOX], "true");
        assert_eq!(
            node.metadata.annotations.as_ref().unwrap()[KWOK_NODE_ANNOTATION],
            "fake"
        );
        let spec = node.spec.as_ref().unwrap();
        assert_eq!(spec.provider_id.as_deref(), Some("kwok://default-abc12"));
        let taints: Vec<_> = spec
            .taints
            .iter()
            .flatten()
            .map(|t| t.key.as_str())
            .collect();
        assert_eq!(taints, ["dedicated", "startup"]);
        let status = node.status.as_ref().unwrap();
        assert_eq!(status.capacity.as_ref().unwrap()["cpu"].0, "8");
        assert_ne!(status.allocatable, status.capacity, "overhead is kept back");
        assert!(is_kwok_node(&node));

        let launched = launched_claim(&c, &node);
        let st = launched.status.as_ref().unwrap();
        assert_eq!(st.provider_id.as_deref(), Some("kwok://default-abc12"));
        assert_eq!(Some(&st.allocatable), status.allocatable.as_ref());
        assert_eq!(
            launched.metadata.labels.as_ref().unwrap()[labels::INSTANCE_TYPE],
            "m5.2xlarge"
        );
        assert_eq!(node_name_of("kwok://default-abc12"), Some("default-abc12"));
        assert_eq!(node_name_of("aws:///us-east-1a/i-1"), None);
        assert_eq!(node_name_of("kwok://"), None);
    }
}
