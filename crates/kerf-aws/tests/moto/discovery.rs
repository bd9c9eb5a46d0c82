//! Discovery: subnets and security groups by tag selectors (default cluster
//! tag, exact values, `*`, explicit ids), the subnet with most free IPs per
//! zone, AMIs through SSM parameters and DescribeImages, instance types from
//! DescribeInstanceTypes/Offerings, the refresh interval, and the instance
//! types cached until it.

use std::collections::BTreeSet;
use std::sync::Arc;
use std::time::Duration;

use aws_sdk_ec2::types::ArchitectureValues;
use kerf_api::conditions::{self, SUBNETS_READY};
use kerf_api::v1::{AMISelectorTerm, SubnetSelectorTerm};
use kerf_aws::discovery::network::best_subnet_per_zone;
use kerf_aws::nodeclass;
use kerf_cloud::{CloudProvider, NodeTemplateContext};
use kerf_core::resources::MILLI;

use super::support::*;

fn ids<'a>(it: impl IntoIterator<Item = &'a String>) -> BTreeSet<String> {
    it.into_iter().cloned().collect()
}

#[tokio::test]
async fn default_selector_picks_exactly_the_tagged_subnets_and_groups() {
    let Fixture {
        moto: _moto,
        acct,
        p,
        ..
    } = seeded().await;
    let (_, r) = p.resolve_node_class("default").await.unwrap();
    let got = ids(r.subnets.iter().map(|s| &s.id));
    let want = ids([
        &acct.tagged_small_a,
        &acct.tagged_big_a,
        &acct.tagged_b,
        &acct.tagged_c,
    ]);
    assert_eq!(got, want, "tagged subnets only, never {:?}", acct.untagged);
    assert_eq!(
        r.security_groups
            .iter()
            .map(|g| g.id.as_str())
            .collect::<Vec<_>>(),
        [acct.node_sg.as_str()]
    );
    let best = best_subnet_per_zone(&r.subnets);
    assert_eq!(best.len(), 3);
    assert_eq!(
        best["us-east-1a"].id, acct.tagged_big_a,
        "the /20 has more free IPs than the /24"
    );
    assert_eq!(best["us-east-1b"].id, acct.tagged_b);
    // AMIs from the SSM parameters the test published, one per architecture.
    let amis: BTreeSet<(String, &str)> = r
        .amis
        .iter()
        .map(|a| (a.id.clone(), a.arch.as_str()))
        .collect();
    assert_eq!(
        amis,
        BTreeSet::from([
            (acct.ami_amd64.clone(), "amd64"),
            (acct.ami_arm64.clone(), "arm64")
        ])
    );
    let status = p.node_class_status("default").await.unwrap();
    assert!(nodeclass::is_ready(&status), "{status:?}");
    assert_eq!(status.subnets.len(), 4);
}

#[tokio::test]
async fn exact_values_wildcards_ids_and_empty_matches() {
    let (_moto, c) = start_moto().await;
    let acct = seed(&c).await;
    let (p, _) = provider(c);
    let cluster_tag = format!("kubernetes.io/cluster/{CLUSTER}");
    let mut owned_only = node_class("owned");
    owned_only.spec.subnet_selector_terms = vec![SubnetSelectorTerm {
        tags: [(cluster_tag.clone(), "owned".to_string())].into(),
        id: None,
    }];
    p.set_node_class(owned_only);
    let (_, r) = p.resolve_node_class("owned").await.unwrap();
    assert_eq!(
        ids(r.subnets.iter().map(|s| &s.id)),
        ids([&acct.tagged_small_a, &acct.tagged_b, &acct.tagged_c])
    );
    let mut any_team = node_class("team");
    any_team.spec.subnet_selector_terms = vec![SubnetSelectorTerm {
        tags: [("team".to_string(), "*".to_string())].into(),
        id: None,
    }];
    p.set_node_class(any_team);
    let (_, r) = p.resolve_node_class("team").await.unwrap();
    assert_eq!(
        ids(r.subnets.iter().map(|s| &s.id)),
        ids([&acct.untagged[1]])
    );
    p.set_node_class(node_class_by_ids(
        "ids",
        &[&acct.untagged[0]],
        &[&acct.other_sg],
    ));
    let (_, r) = p.resolve_node_class("ids").await.unwrap();
    assert_eq!(
        ids(r.subnets.iter().map(|s| &s.id)),
        ids([&acct.untagged[0]])
    );
    assert_eq!(r.security_groups[0].id, acct.other_sg);
    let mut nothing = node_class("nothing");
    nothing.spec.subnet_selector_terms = vec![SubnetSelectorTerm {
        tags: [("no-such-tag".to_string(), "*".to_string())].into(),
        id: None,
    }];
    p.set_node_class(nothing);
    let status = p.node_class_status("nothing").await.unwrap();
    assert!(!nodeclass::is_ready(&status));
    let cond = conditions::find(&status.conditions, SUBNETS_READY).unwrap();
    assert_eq!(cond.reason.as_deref(), Some("SubnetsNotFound"));
}

#[tokio::test]
async fn ami_selector_terms_use_describe_images() {
    let (_moto, c) = start_moto().await;
    let _acct = seed(&c).await;
    // moto's RegisterImage drops Architecture; its preloaded public images carry it.
    let public = c
        .ec2
        .describe_images()
        .owners("amazon")
        .send()
        .await
        .unwrap();
    let custom = public
        .images()
        .iter()
        .find(|i| i.architecture() == Some(&ArchitectureValues::X8664))
        .and_then(|i| i.image_id())
        .expect("moto preloads x86_64 images")
        .to_string();
    c.ec2
        .create_tags()
        .resources(&custom)
        .set_tags(Some(tags(&[("golden", "yes")])))
        .send()
        .await
        .unwrap();
    let (p, _) = provider(c.clone());
    let mut class = node_class("custom");
    class.spec.ami_family = Some("Custom".into());
    class.spec.ami_selector_terms = vec![AMISelectorTerm {
        tags: [("golden".to_string(), "yes".to_string())].into(),
        ..Default::default()
    }];
    p.set_node_class(class);
    let (_, r) = p.resolve_node_class("custom").await.unwrap();
    assert_eq!(
        r.amis.iter().map(|a| a.id.as_str()).collect::<Vec<_>>(),
        [custom.as_str()]
    );
    // An SSM parameter term of the user's own.
    put_parameter(&c, "/team/golden-ami", &custom).await;
    let mut by_ssm = node_class("ssm");
    by_ssm.spec.ami_family = Some("Custom".into());
    by_ssm.spec.ami_selector_terms = vec![AMISelectorTerm {
        ssm_parameter: Some("/team/golden-ami".into()),
        ..Default::default()
    }];
    p.set_node_class(by_ssm);
    let (_, r) = p.resolve_node_class("ssm").await.unwrap();
    assert_eq!(r.amis[0].id, custom);
}

#[tokio::test]
async fn network_discovery_is_cached_until_the_refresh_interval() {
    let Fixture {
        moto: _moto,
        c,
        acct,
        p,
        clock,
        ..
    } = seeded().await;
    assert_eq!(
        p.resolve_node_class("default")
            .await
            .unwrap()
            .1
            .subnets
            .len(),
        4
    );
    let cluster_tag = format!("kubernetes.io/cluster/{CLUSTER}");
    let late = subnet(
        &c,
        &acct.vpc_id,
        "10.0.7.0/24",
        "us-east-1c",
        &[(cluster_tag.as_str(), "owned")],
    )
    .await;
    let cached = p.resolve_node_class("default").await.unwrap().1;
    assert!(
        !cached.subnets.iter().any(|s| s.id == late),
        "served from the cache"
    );
    clock.advance(Duration::from_secs(61));
    let fresh = p.resolve_node_class("default").await.unwrap().1;
    assert!(
        fresh.subnets.iter().any(|s| s.id == late),
        "refreshed after the interval"
    );
}

#[tokio::test]
async fn instance_types_come_from_describe_instance_types() {
    let (_moto, c) = start_moto().await;
    seed(&c).await;
    // Every instance type moto knows, as in production.
    let (p, _) = provider_with(c, None);
    p.set_node_class(node_class("default"));
    let types = p
        .instance_types(&NodeTemplateContext::new("default", Default::default()))
        .await
        .unwrap();
    assert!(types.len() > 50, "{} types", types.len());
    let m5 = types
        .iter()
        .find(|t| t.name == "m5.large")
        .expect("m5.large is offered");
    assert_eq!(m5.capacity.cpu, 2 * MILLI);
    assert_eq!(
        m5.capacity.pods,
        29 * MILLI,
        "3 ENIs × (10 − 1) + 2 from moto's ENI data"
    );
    assert_eq!(m5.labels["karpenter.k8s.aws/instance-category"], "m");
    assert_eq!(m5.labels["karpenter.k8s.aws/instance-generation"], "5");
    assert_eq!(m5.labels["karpenter.k8s.aws/instance-memory"], "8192");
    assert_eq!(m5.labels["kubernetes.io/arch"], "amd64");
    let zones: BTreeSet<&str> = m5.offerings.iter().map(|o| o.zone.as_str()).collect();
    assert_eq!(
        zones,
        BTreeSet::from(["us-east-1a", "us-east-1b", "us-east-1c"]),
        "only zones with selected subnets"
    );
    let od = m5
        .offerings
        .iter()
        .find(|o| o.capacity_type == "on-demand")
        .unwrap();
    assert_eq!(
        od.price, 0.096,
        "the fallback table: moto does not serve the Pricing API"
    );
    assert!(
        m5.offerings.iter().any(|o| o.capacity_type == "spot"),
        "spot from DescribeSpotPriceHistory"
    );
    let arm = types
        .iter()
        .find(|t| t.name == "m6g.large")
        .expect("arm64 types: there is an arm64 AMI");
    assert_eq!(arm.labels["kubernetes.io/arch"], "arm64");
}

/// A v1beta1 NodePool's kubelet (carried over in its compatibility
/// annotation) outranks its EC2NodeClass's `spec.kubelet`, as in AWS v1.0
/// (`GetKubletConfigurationWithNodePool`). The cluster state makes that choice
/// and hands the result over in the template; the provider plans with it
/// rather than choosing again.
#[tokio::test]
async fn instance_types_use_the_kubelet_the_pool_was_resolved_with() {
    let (_moto, c) = start_moto().await;
    seed(&c).await;
    let (p, _) = provider_with(c, None);
    let mut class = node_class("default");
    class.spec.kubelet = Some(kerf_api::v1::KubeletConfiguration {
        max_pods: Some(30),
        ..Default::default()
    });
    p.set_node_class(class);
    let pool_kubelet = kerf_core::template::KubeletSettings {
        max_pods: Some(4),
        ..Default::default()
    };
    let types = p
        .instance_types(&NodeTemplateContext::new("default", pool_kubelet))
        .await
        .unwrap();
    let m5 = types
        .iter()
        .find(|t| t.name == "m5.large")
        .expect("m5.large is offered");
    assert_eq!(m5.capacity.pods, 4 * MILLI);
}

/// The types are resolved once per class shape and kubelet (kerf-cloud's
/// shared instance-type cache): a second class selecting the same subnets
/// and images shares them, and discovery's refresh of instance types and
/// prices makes them be built again.
#[tokio::test]
async fn instance_types_are_built_once_until_discovery_refreshes() {
    let Fixture {
        moto: _moto,
        p,
        clock,
        ..
    } = seeded().await;
    p.set_node_class(node_class("twin"));
    let types_of = |class: &str| {
        let p = p.clone();
        let template = NodeTemplateContext::new(class, Default::default());
        async move { p.instance_types(&template).await.unwrap() }
    };
    let m5 = |types: &[Arc<kerf_core::instance_type::InstanceType>]| {
        types
            .iter()
            .find(|t| t.name == "m5.large")
            .cloned()
            .expect("m5.large is offered")
    };
    let first = m5(&types_of("default").await);
    let again = m5(&types_of("default").await);
    let twin = m5(&types_of("twin").await);
    assert!(Arc::ptr_eq(&first, &again), "built twice");
    assert!(Arc::ptr_eq(&first, &twin), "the same shape is built twice");
    let capped = p
        .instance_types(&NodeTemplateContext::new(
            "default",
            kerf_core::template::KubeletSettings {
                max_pods: Some(4),
                ..Default::default()
            },
        ))
        .await
        .unwrap();
    assert_eq!(
        m5(&capped).capacity.pods,
        4 * MILLI,
        "kubelet is part of the key"
    );
    clock.advance(Duration::from_secs(301));
    let refreshed = m5(&types_of("default").await);
    assert!(
        !Arc::ptr_eq(&first, &refreshed),
        "kept past discovery's refresh"
    );
    assert_eq!(first.capacity.pods, refreshed.capacity.pods);
}
