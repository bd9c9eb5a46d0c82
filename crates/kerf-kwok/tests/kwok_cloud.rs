//! The kwok provider against a real control plane (etcd, kube-apiserver and
//! kwok from kerf-testenv): a launch creates a Node that kwok makes Ready,
//! with the catalogue's shape; launching the same claim again finds that Node;
//! an offering without capacity falls back to the next cheapest and stays
//! unavailable; get/list/delete work on the Nodes. Fails (never skips) when
//! the binaries are missing: run scripts/testbed-build.sh.

use std::time::{Duration, Instant};

use k8s_openapi::api::core::v1::Node;
use kerf_api::v1::{NodeClaim, NodeClaimSpec, NodeSelectorRequirementWithMinValues};
use kerf_cloud::{CloudProvider, NodeTemplateContext, OfferingKey};
use kerf_kwok::KwokCloud;
use kerf_testenv::{ControlPlane, ControlPlaneOptions, KwokNodes, node_is_ready, wait_for};
use kube::Api;

fn claim(name: &str) -> NodeClaim {
    let req = |k: &str, v: &[&str]| NodeSelectorRequirementWithMinValues::new(k, "In", v);
    let mut c = NodeClaim::new(
        name,
        NodeClaimSpec {
            requirements: vec![
                req("node.kubernetes.io/instance-type", &["m5.2xlarge"]),
                req("topology.kubernetes.io/zone", &["us-east-1c"]),
                req("karpenter.sh/capacity-type", &["spot", "on-demand"]),
            ],
            ..Default::default()
        },
    );
    c.metadata.labels = Some(
        [(
            "karpenter.sh/provisioner-name".to_string(),
            "default".to_string(),
        )]
        .into_iter()
        .collect(),
    );
    c
}

#[tokio::test]
async fn kwok_provider_launches_ready_nodes_and_falls_back_on_insufficient_capacity() {
    let plane = ControlPlane::start(
        ControlPlaneOptions::new()
            .with_kwok()
            .with_kwok_nodes(KwokNodes::WithAnnotation("kwok.x-k8s.io/node=fake".into())),
    )
    .await
    .expect("start etcd, kube-apiserver and kwok");
    let client = plane.client();
    let cloud = KwokCloud::new(client.clone()).with_launch_delay(Duration::from_millis(300));
    let nodes: Api<Node> = Api::all(client);

    let types = cloud
        .instance_types(&NodeTemplateContext::default())
        .await
        .unwrap();
    assert!(types.iter().any(|t| t.name == "m5.2xlarge"));

    let t0 = Instant::now();
    let launched = cloud.create(&claim("default-aaaaa")).await.unwrap();
    assert!(t0.elapsed() >= Duration::from_millis(300), "launch delay");
    let status = launched.status.clone().unwrap();
    assert_eq!(status.provider_id.as_deref(), Some("kwok://default-aaaaa"));
    let l = launched.metadata.labels.clone().unwrap();
    assert_eq!(l["node.kubernetes.io/instance-type"], "m5.2xlarge");
    assert_eq!(l["karpenter.sh/capacity-type"], "spot", "spot is cheaper");
    let node = wait_for("node Ready", Duration::from_secs(30), || async {
        nodes
            .get_opt("default-aaaaa")
            .await
            .ok()
            .flatten()
            .filter(node_is_ready)
    })
    .await
    .expect("kwok makes the launched node Ready");
    let ns = node.status.unwrap();
    assert_eq!(ns.capacity.unwrap()["cpu"].0, "8");
    assert_eq!(Some(&status.allocatable), ns.allocatable.as_ref());

    // A second launch of the same claim (a restart) finds the same Node.
    let again = cloud.create(&claim("default-aaaaa")).await.unwrap();
    assert_eq!(again.status.unwrap().provider_id, status.provider_id);
    assert_eq!(cloud.list().await.unwrap().len(), 1);

    // No spot capacity: the launch falls back to on-demand and remembers it.
    let spot = OfferingKey::new("m5.2xlarge", "us-east-1c", "spot");
    cloud.insufficient_capacity(spot.clone());
    let od = cloud.create(&claim("default-bbbbb")).await.unwrap();
    assert_eq!(
        od.metadata.labels.unwrap()["karpenter.sh/capacity-type"],
        "on-demand"
    );
    assert_eq!(cloud.unavailable_offerings(), vec![spot.clone()]);
    let types = cloud
        .instance_types(&NodeTemplateContext::default())
        .await
        .unwrap();
    let m5 = types.iter().find(|t| t.name == "m5.2xlarge").unwrap();
    assert!(
        m5.offerings
            .iter()
            .any(|o| o.zone == "us-east-1c" && o.capacity_type == "spot" && !o.available),
        "instance types report the offering unavailable"
    );
    // Nothing left in the allowed offerings: an insufficient-capacity error.
    cloud.insufficient_capacity(OfferingKey::new("m5.2xlarge", "us-east-1c", "on-demand"));
    let err = cloud.create(&claim("default-ccccc")).await.unwrap_err();
    assert!(err.is_insufficient_capacity(), "{err}");

    let got = cloud.get("kwok://default-bbbbb").await.unwrap();
    assert_eq!(got.metadata.name.as_deref(), Some("default-bbbbb"));
    assert!(cloud.get("kwok://nope").await.unwrap_err().is_not_found());

    cloud.delete(&launched).await.unwrap();
    cloud.delete(&launched).await.unwrap(); // already gone is fine
    wait_for("node deleted", Duration::from_secs(30), || async {
        nodes
            .get_opt("default-aaaaa")
            .await
            .ok()
            .and_then(|n| n.is_none().then_some(()))
    })
    .await
    .expect("delete removes the Node");
    assert_eq!(cloud.list().await.unwrap().len(), 1);
}

/// With a registration delay a launch returns the provider ID at once, the
/// instance "boots" (recorded in the cluster, visible to get/list), and its
/// Node appears only when a boot pass runs after the delay — also from a
/// second provider instance, as after a kerf restart. An instance terminated
/// while booting never registers.
#[tokio::test]
async fn registration_delay_boots_nodes_later_and_survives_a_new_provider() {
    let plane = ControlPlane::start(
        ControlPlaneOptions::new()
            .with_kwok()
            .with_kwok_nodes(KwokNodes::WithAnnotation("kwok.x-k8s.io/node=fake".into())),
    )
    .await
    .expect("start etcd, kube-apiserver and kwok");
    let client = plane.client();
    let delay = Duration::from_secs(2);
    let first = KwokCloud::new(client.clone()).with_registration_delay(delay);
    let nodes: Api<Node> = Api::all(client.clone());

    let t0 = Instant::now();
    let launched = first.create(&claim("default-boot1")).await.unwrap();
    let doomed = first.create(&claim("default-boot2")).await.unwrap();
    assert!(
        t0.elapsed() < delay,
        "the launch does not wait for registration"
    );
    let id = launched.status.as_ref().unwrap().provider_id.clone();
    assert_eq!(id.as_deref(), Some("kwok://default-boot1"));
    assert!(nodes.get_opt("default-boot1").await.unwrap().is_none());
    assert_eq!(first.boot_once().await.unwrap(), 0, "not due yet");
    assert_eq!(
        first.list().await.unwrap().len(),
        2,
        "booting instances exist"
    );
    let got = first.get("kwok://default-boot1").await.unwrap();
    assert_eq!(got.metadata.name.as_deref(), Some("default-boot1"));
    // Launching the same claim again finds the booting instance.
    let again = first.create(&claim("default-boot1")).await.unwrap();
    assert_eq!(again.status.unwrap().provider_id, id);

    first.delete(&doomed).await.unwrap();
    drop(first);
    // A new provider (a restarted kerf) registers what the first launched.
    let second = std::sync::Arc::new(KwokCloud::new(client).with_registration_delay(delay));
    let boot_loop = second.spawn_boot_loop();
    let node = wait_for("booted node Ready", Duration::from_secs(30), || async {
        nodes
            .get_opt("default-boot1")
            .await
            .ok()
            .flatten()
            .filter(node_is_ready)
    })
    .await
    .expect("the booting instance registers");
    assert!(t0.elapsed() >= delay, "not before the delay");
    assert_eq!(
        node.spec.unwrap().provider_id.as_deref(),
        Some("kwok://default-boot1")
    );
    tokio::time::sleep(Duration::from_secs(1)).await;
    assert!(
        nodes.get_opt("default-boot2").await.unwrap().is_none(),
        "terminated while booting: never registers"
    );
    assert_eq!(second.list().await.unwrap().len(), 1);
    boot_loop.abort();
}
