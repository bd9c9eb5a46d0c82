//! After launch: get and list read instances back as claims, delete is
//! idempotent, garbage collection (kerf-controller's, over `list`) terminates
//! only the orphan, drift follows the node class.

use std::collections::BTreeSet;
use std::time::Duration;

use k8s_openapi::jiff::Timestamp;
use kerf_aws::provider::parse_provider_id;
use kerf_cloud::CloudProvider;
use kerf_cloud::provider::provider_id;
use kerf_controller::gc;

use super::launch::{TYPES, claim};
use super::support::*;

async fn state(c: &kerf_aws::Clients, pid: &str) -> String {
    let id = parse_provider_id(pid).unwrap();
    let out = c
        .ec2
        .describe_instances()
        .instance_ids(id)
        .send()
        .await
        .unwrap();
    out.reservations()[0].instances()[0]
        .state()
        .unwrap()
        .name()
        .unwrap()
        .as_str()
        .to_string()
}

#[tokio::test]
async fn get_list_and_idempotent_delete() {
    let Fixture {
        moto: _moto, c, p, ..
    } = seeded().await;
    let launched = p
        .create(&claim("keep-1", TYPES, &["on-demand"], "1Gi"))
        .await
        .unwrap();
    let pid = provider_id(&launched).unwrap().to_string();
    let got = p.get(&pid).await.unwrap();
    assert_eq!(got.metadata.name.as_deref(), Some("keep-1"));
    assert_eq!(
        got.metadata.labels.as_ref().unwrap()["karpenter.sh/nodepool"],
        "default"
    );
    assert_eq!(
        got.status.as_ref().unwrap().capacity,
        launched.status.as_ref().unwrap().capacity
    );
    assert_eq!(p.list().await.unwrap().len(), 1);
    assert_eq!(
        p.is_drifted(&launched, &Default::default()).await.unwrap(),
        None
    );

    p.delete(&launched).await.unwrap();
    assert!(matches!(
        state(&c, &pid).await.as_str(),
        "shutting-down" | "terminated"
    ));
    p.delete(&launched).await.unwrap();
    assert!(p.get(&pid).await.unwrap_err().is_not_found());
    assert!(p.list().await.unwrap().is_empty());
    let mut never = launched.clone();
    never.status.as_mut().unwrap().provider_id =
        Some("aws:///us-east-1a/i-00000000000000000".into());
    p.delete(&never).await.unwrap();
}

/// One garbage collection as the controller runs it for any provider: the
/// cloud-neutral plan over `list()`, orphans terminated through `delete()`.
pub async fn collect(
    p: &kerf_aws::AwsCloudProvider,
    cluster: &[kerf_api::v1::NodeClaim],
    now: Timestamp,
) -> Vec<String> {
    let listed = p.list().await.unwrap();
    let plan = gc::plan(&listed, cluster, now, gc::DEFAULT_GRACE);
    let mut ids = Vec::new();
    for orphan in &plan.terminate {
        p.delete(orphan).await.unwrap();
        ids.push(
            parse_provider_id(provider_id(orphan).unwrap())
                .unwrap()
                .to_string(),
        );
    }
    ids
}

#[tokio::test]
async fn gc_terminates_the_orphan_and_leaves_the_claimed() {
    let Fixture {
        moto: _moto, c, p, ..
    } = seeded().await;
    let kept = p
        .create(&claim("claimed", TYPES, &["on-demand"], "1Gi"))
        .await
        .unwrap();
    let orphan = p
        .create(&claim("orphaned", TYPES, &["on-demand"], "1Gi"))
        .await
        .unwrap();
    let kept_pid = provider_id(&kept).unwrap().to_string();
    let orphan_pid = provider_id(&orphan).unwrap().to_string();
    let cluster = [kept.clone()];
    // Within the grace period nothing is collected.
    assert!(collect(&p, &cluster, Timestamp::now()).await.is_empty());
    let later = Timestamp::now() + std::time::Duration::from_secs(120);
    assert_eq!(
        collect(&p, &cluster, later).await,
        [parse_provider_id(&orphan_pid).unwrap().to_string()]
    );
    assert_eq!(state(&c, &kept_pid).await, "running");
    assert!(matches!(
        state(&c, &orphan_pid).await.as_str(),
        "shutting-down" | "terminated"
    ));
    let listed: Vec<_> = p
        .list()
        .await
        .unwrap()
        .into_iter()
        .filter_map(|c| c.status?.provider_id)
        .collect();
    assert_eq!(listed, [kept_pid]);
}

#[tokio::test]
async fn drift_when_the_class_selects_another_image() {
    let Fixture {
        moto: _moto,
        c,
        p,
        clock,
        ..
    } = seeded().await;
    let launched = p
        .create(&claim("drifty", TYPES, &["on-demand"], "1Gi"))
        .await
        .unwrap();
    publish_eks_ami(
        &c,
        PARAMETER_ROOT,
        kerf_aws::discovery::images::AmiFamily::Al2023,
        K8S_VERSION,
        kerf_cloud::eks::Arch::Amd64,
        "amazon-eks-node-al2023-x86_64-standard-1.30-v2",
    )
    .await;
    clock.advance(Duration::from_secs(301));
    let drift = p.is_drifted(&launched, &Default::default()).await.unwrap();
    assert!(
        drift.as_deref().is_some_and(|d| d.starts_with("AMIDrift")),
        "{drift:?}"
    );
}

/// Upstream `drift.go` `areStaticFieldsDrifted`: the claim carries the hash
/// of its class's static fields from launch; changing the class's user data
/// drifts it (NodeClassDrift), and
/// a claim without kerf's hash version (say, Karpenter's) never drifts so.
#[tokio::test]
async fn drift_when_the_class_static_fields_change() {
    let Fixture { moto: _moto, p, .. } = seeded().await;
    let launched = p
        .create(&claim("static", TYPES, &["on-demand"], "1Gi"))
        .await
        .unwrap();
    let annotations = launched.metadata.annotations.clone().unwrap_or_default();
    assert_eq!(
        annotations
            .get("karpenter.k8s.aws/ec2nodeclass-hash-version")
            .map(String::as_str),
        Some("kerf-v1")
    );
    assert!(annotations.contains_key("karpenter.k8s.aws/ec2nodeclass-hash"));
    assert_eq!(
        p.is_drifted(&launched, &Default::default()).await.unwrap(),
        None
    );

    // The class as the controller passes it: edited in the cluster, not yet
    // seen by the provider any other way.
    let mut class = node_class("default");
    class.spec.tags.insert("cost-centre".into(), "42".into());
    let now = kerf_cloud::NodeTemplateContext::new("default", Default::default())
        .with_class(Some(serde_json::to_value(&class).unwrap()));
    let drift = p.is_drifted(&launched, &now).await.unwrap();
    assert!(
        drift
            .as_deref()
            .is_some_and(|d| d.starts_with("NodeClassDrift")),
        "{drift:?}"
    );

    let mut karpenters = launched.clone();
    karpenters.metadata.annotations.as_mut().unwrap().insert(
        "karpenter.k8s.aws/ec2nodeclass-hash-version".into(),
        "v6".into(),
    );
    assert_eq!(p.is_drifted(&karpenters, &now).await.unwrap(), None);
}

#[tokio::test]
async fn unused_launch_templates_are_deleted() {
    let Fixture {
        moto: _moto, c, p, ..
    } = seeded().await;
    p.create(&claim("lt-1", TYPES, &["on-demand"], "1Gi"))
        .await
        .unwrap();
    let list = c.ec2.describe_launch_templates().send().await.unwrap();
    let name = list.launch_templates()[0]
        .launch_template_name()
        .unwrap()
        .to_string();
    let in_use = BTreeSet::from([name.clone()]);
    let kept = kerf_aws::launch::template::delete_unused(&c.ec2, CLUSTER, &in_use)
        .await
        .unwrap();
    assert!(kept.is_empty(), "a template in use stays");
    let other_cluster =
        kerf_aws::launch::template::delete_unused(&c.ec2, "another-cluster", &BTreeSet::new())
            .await
            .unwrap();
    assert!(
        other_cluster.is_empty(),
        "another cluster's templates are not ours"
    );
    let deleted = kerf_aws::launch::template::delete_unused(&c.ec2, CLUSTER, &BTreeSet::new())
        .await
        .unwrap();
    assert_eq!(deleted, [name]);
    assert!(
        c.ec2
            .describe_launch_templates()
            .send()
            .await
            .unwrap()
            .launch_templates()
            .is_empty()
    );
}
