//! kerf touches only what it created. Beside kerf's own instances, moto holds
//! instances tagged as an EKS managed node group's and an eksctl node group's
//! are (both carry `kubernetes.io/cluster/<cluster>: owned`, the tag garbage
//! collection once trusted): they survive many garbage-collection passes while
//! a leaked kerf instance is removed, and termination refuses them outright.
//! Everything a launch creates carries kerf's ownership tag.

use std::collections::BTreeMap;
use std::time::Duration;

use aws_sdk_ec2::types::{ResourceType, Tag, TagSpecification};
use k8s_openapi::jiff::Timestamp;
use kerf_aws::Clients;
use kerf_aws::ownership::{EKS_CLUSTER_NAME_TAG, OWNERSHIP_TAG};
use kerf_aws::provider::{format_provider_id, parse_provider_id};
use kerf_cloud::provider::provider_id;
use kerf_cloud::{CloudError, CloudProvider};

use super::launch::{TYPES, claim};
use super::support::*;

/// Launches an instance outside kerf with these tags; returns its id.
async fn foreign_instance(c: &Clients, acct: &Account, tags: &[(&str, &str)]) -> String {
    let tags: Vec<Tag> = tags
        .iter()
        .map(|(k, v)| Tag::builder().key(*k).value(*v).build())
        .collect();
    let out = c
        .ec2
        .run_instances()
        .image_id(&acct.ami_amd64)
        .instance_type(aws_sdk_ec2::types::InstanceType::M5Large)
        .subnet_id(&acct.tagged_b)
        .min_count(1)
        .max_count(1)
        .tag_specifications(
            TagSpecification::builder()
                .resource_type(ResourceType::Instance)
                .set_tags(Some(tags))
                .build(),
        )
        .send()
        .await
        .unwrap();
    out.instances()[0].instance_id().unwrap().to_string()
}

async fn managed_node_group_instance(c: &Clients, acct: &Account) -> String {
    let cluster_tag = format!("kubernetes.io/cluster/{CLUSTER}");
    foreign_instance(
        c,
        acct,
        &[
            (cluster_tag.as_str(), "owned"),
            (EKS_CLUSTER_NAME_TAG, CLUSTER),
            ("eks:nodegroup-name", "system"),
        ],
    )
    .await
}

async fn eksctl_instance(c: &Clients, acct: &Account) -> String {
    let cluster_tag = format!("kubernetes.io/cluster/{CLUSTER}");
    foreign_instance(
        c,
        acct,
        &[
            (cluster_tag.as_str(), "owned"),
            ("alpha.eksctl.io/cluster-name", CLUSTER),
            ("alpha.eksctl.io/nodegroup-name", "ng-1"),
        ],
    )
    .await
}

async fn state(c: &Clients, id: &str) -> String {
    let out = c
        .ec2
        .describe_instances()
        .instance_ids(id)
        .send()
        .await
        .unwrap();
    let instance = &out.reservations()[0].instances()[0];
    instance
        .state()
        .unwrap()
        .name()
        .unwrap()
        .as_str()
        .to_string()
}

fn tag_map(tags: &[Tag]) -> BTreeMap<String, String> {
    tags.iter()
        .map(|t| {
            (
                t.key().unwrap_or_default().to_string(),
                t.value().unwrap_or_default().to_string(),
            )
        })
        .collect()
}

#[tokio::test]
async fn node_group_instances_survive_garbage_collection_and_a_leak_does_not() {
    let Fixture {
        moto: _moto,
        c,
        acct,
        p,
        ..
    } = seeded().await;
    let node_group = managed_node_group_instance(&c, &acct).await;
    let eksctl = eksctl_instance(&c, &acct).await;
    let leaked = p
        .create(&claim("leaked", TYPES, &["on-demand"], "1Gi"))
        .await
        .unwrap();
    let leaked_id = parse_provider_id(provider_id(&leaked).unwrap())
        .unwrap()
        .to_string();

    // No claim knows any of them; every pass is past the grace period.
    let mut collected = Vec::new();
    for pass in 1..=20u64 {
        let now = Timestamp::now() + Duration::from_secs(120 * pass);
        collected.extend(super::lifecycle::collect(&p, &[], now).await);
    }
    assert_eq!(
        collected,
        std::slice::from_ref(&leaked_id),
        "only the leak, once"
    );
    assert_eq!(state(&c, &node_group).await, "running");
    assert_eq!(state(&c, &eksctl).await, "running");
    assert!(matches!(
        state(&c, &leaked_id).await.as_str(),
        "shutting-down" | "terminated"
    ));
    // list() is what a cloud-neutral collector would read: kerf's only.
    assert!(p.list().await.unwrap().is_empty());
}

#[tokio::test]
async fn termination_refuses_an_instance_kerf_did_not_launch() {
    let Fixture {
        moto: _moto,
        c,
        acct,
        p,
        ..
    } = seeded().await;
    let node_group = managed_node_group_instance(&c, &acct).await;
    let ours = p
        .create(&claim("ours", TYPES, &["on-demand"], "1Gi"))
        .await
        .unwrap();
    let ours_id = parse_provider_id(provider_id(&ours).unwrap())
        .unwrap()
        .to_string();

    // A claim whose provider ID points at the node group's instance (hand-edited,
    // or left by another autoscaler): deleting it terminates nothing.
    let mut pointing_elsewhere = ours.clone();
    pointing_elsewhere.status.as_mut().unwrap().provider_id =
        Some(format_provider_id("us-east-1b", &node_group));
    let err = p.delete(&pointing_elsewhere).await.unwrap_err();
    assert!(matches!(err, CloudError::NotOwned { .. }), "{err}");
    assert!(err.to_string().contains(&node_group), "{err}");
    assert!(err.to_string().contains(OWNERSHIP_TAG), "{err}");
    assert_eq!(state(&c, &node_group).await, "running");

    // Mixed with one of kerf's: all or nothing.
    let err = p
        .terminate(&[ours_id.clone(), node_group.clone()])
        .await
        .unwrap_err();
    assert!(matches!(err, CloudError::NotOwned { .. }), "{err}");
    assert_eq!(state(&c, &ours_id).await, "running");
    assert_eq!(state(&c, &node_group).await, "running");

    // Its own instance it terminates.
    p.delete(&ours).await.unwrap();
    assert!(matches!(
        state(&c, &ours_id).await.as_str(),
        "shutting-down" | "terminated"
    ));
}

#[tokio::test]
async fn everything_a_launch_creates_carries_the_ownership_tag() {
    let Fixture {
        moto: _moto, c, p, ..
    } = seeded().await;
    let spot = p
        .create(&claim("tagged", TYPES, &["spot"], "1Gi"))
        .await
        .unwrap();
    let id = parse_provider_id(provider_id(&spot).unwrap())
        .unwrap()
        .to_string();
    let owned = |tags: &BTreeMap<String, String>, what: &str| {
        assert_eq!(
            tags.get(OWNERSHIP_TAG).map(String::as_str),
            Some(CLUSTER),
            "{what}: {tags:?}"
        );
        assert_eq!(
            tags.get(&format!("kubernetes.io/cluster/{CLUSTER}"))
                .map(String::as_str),
            Some("owned"),
            "{what}: {tags:?}"
        );
        assert_eq!(
            tags.get(EKS_CLUSTER_NAME_TAG).map(String::as_str),
            Some(CLUSTER),
            "{what}: {tags:?}"
        );
    };

    let out = c
        .ec2
        .describe_instances()
        .instance_ids(&id)
        .send()
        .await
        .unwrap();
    owned(
        &tag_map(out.reservations()[0].instances()[0].tags()),
        "instance",
    );

    // The template, and what it tags at launch: network interfaces and, for a
    // spot launch, the spot request (CreateFleet tags instances, volumes and the fleet).
    let templates = c.ec2.describe_launch_templates().send().await.unwrap();
    assert!(!templates.launch_templates().is_empty());
    for t in templates.launch_templates() {
        let name = t.launch_template_name().unwrap();
        owned(&tag_map(t.tags()), name);
        let versions = c
            .ec2
            .describe_launch_template_versions()
            .launch_template_name(name)
            .versions("$Latest")
            .send()
            .await
            .unwrap();
        let data = versions.launch_template_versions()[0]
            .launch_template_data()
            .unwrap();
        let specs: BTreeMap<String, BTreeMap<String, String>> = data
            .tag_specifications()
            .iter()
            .map(|s| {
                (
                    s.resource_type().unwrap().as_str().to_string(),
                    tag_map(s.tags()),
                )
            })
            .collect();
        for resource in ["network-interface", "spot-instances-request"] {
            let tags = specs
                .get(resource)
                .unwrap_or_else(|| panic!("{name} tags no {resource}: {specs:?}"));
            owned(tags, &format!("{name} {resource}"));
        }
    }
}

/// A profile with the name kerf would give the class's, made by someone else:
/// kerf neither adds its role to it nor deletes it with the class.
#[tokio::test]
async fn an_instance_profile_kerf_did_not_create_is_left_alone() {
    let (_moto, c) = start_moto().await;
    seed(&c).await;
    kerf_aws::testing::node_role(&c, "KarpenterNodeRole-test").await;
    let (p, _clock) = provider(c.clone());
    let mut class = node_class("default");
    class.spec.instance_profile = None;
    class.spec.role = Some("KarpenterNodeRole-test".into());
    p.set_node_class(class.clone());
    let name = kerf_aws::instance_profile::profile_name(CLUSTER, &c.region, "default");
    c.iam
        .create_instance_profile()
        .instance_profile_name(&name)
        .send()
        .await
        .unwrap();

    let err = p.instance_profile(&class).await.unwrap_err();
    assert!(matches!(err, CloudError::NotOwned { .. }), "{err}");
    assert!(err.to_string().contains(&name), "{err}");
    assert!(
        kerf_aws::testing::profile_roles(&c, &name).await.is_empty(),
        "no role added to a foreign profile"
    );
    p.delete_instance_profile(&class).await.unwrap();
    let still = c
        .iam
        .get_instance_profile()
        .instance_profile_name(&name)
        .send()
        .await;
    assert!(still.is_ok(), "a foreign profile is not deleted");
}
