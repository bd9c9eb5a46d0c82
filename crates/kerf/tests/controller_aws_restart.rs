//! `kerf controller --cloud-provider aws` restarted between launch and
//! registration, against moto and the real control plane: the seed's
//! Provisioner and 10 inflate pods lead to two EC2 instances; the controller
//! is killed before any Node registers and a new one starts. It must adopt
//! the two claims and their instances (no third launch, no garbage
//! collection of instances its claims own), and once the test registers a
//! Node for each instance (standing in for the kubelet), the pods run there.

mod common;

use std::collections::BTreeSet;
use std::time::{Duration, Instant};

use common::moto::{self, seed};
use common::*;

const CLUSTER: &str = "kerf-e2e";

async fn claimed_instances(aws: &kerf_aws::Clients) -> BTreeSet<String> {
    moto::instances(aws, &["pending", "running"], true)
        .await
        .iter()
        .filter_map(|i| i.instance_id().map(str::to_string))
        .collect()
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn restart_between_launch_and_registration_keeps_one_instance_per_claim() {
    let (moto, aws) = kerf_aws::testing::start_moto().await;
    let plane = cluster(true).await;
    let version = moto::kubernetes_version(&plane).await;
    seed(&aws, CLUSTER, &version).await;
    let (mut flags, env) = moto::controller_flags(&moto);
    // A short grace period: a restarted kerf that forgot its claims would
    // terminate their instances within the observation window below.
    flags.extend(["--aws-gc-interval", "1s", "--aws-gc-grace-period", "2s"].map(String::from));
    let flags: Vec<&str> = flags.iter().map(String::as_str).collect();

    let first = start_controller_with_env(&plane, "aws", false, &flags, &env);
    apply_seed(&plane);
    scale_inflate(&plane, 10);
    // m5.2xlarge: 7 one-CPU pods per node → 2 instances.
    let deadline = Instant::now() + Duration::from_secs(120);
    let launched = loop {
        let ids = claimed_instances(&aws).await;
        if ids.len() >= 2 {
            break ids;
        }
        assert!(
            Instant::now() < deadline,
            "2 instances not launched: {ids:?}"
        );
        tokio::time::sleep(Duration::from_millis(300)).await;
    };
    assert_eq!(launched.len(), 2, "{launched:?}");
    drop(first);

    let _second = start_controller_with_env(&plane, "aws", false, &flags, &env);
    // Longer than a batch window, a GC interval plus its grace period, and
    // a status pass: the restarted controller sees 2 claims with instances
    // and 10 pods nominated to them, and buys nothing more.
    let watch_until = Instant::now() + Duration::from_secs(15);
    while Instant::now() < watch_until {
        assert_eq!(
            claimed_instances(&aws).await,
            launched,
            "the restarted controller launched or terminated an instance"
        );
        tokio::time::sleep(Duration::from_millis(500)).await;
    }
    let claims = lines(&kubectl(
        &plane,
        &[
            "get",
            "nodeclaims",
            "-o",
            "jsonpath={.items[*].metadata.name}",
        ],
    ));
    assert_eq!(claims.len(), 2, "{claims:?}");

    // Now the kubelets: a Node for each instance.
    for i in moto::instances(&aws, &["running"], true).await {
        assert!(
            moto::register_node(&plane, &i),
            "register {:?}",
            i.instance_id()
        );
    }
    wait(&plane, "10 pods Running", Duration::from_secs(120), || {
        (running_inflate_pods(&plane).len() == 10).then_some(())
    });
    assert_eq!(claimed_instances(&aws).await, launched);
    let provider_ids = lines(&kubectl(
        &plane,
        &[
            "get",
            "nodeclaims",
            "-o",
            "jsonpath={.items[*].status.providerID}",
        ],
    ));
    let claimed: BTreeSet<String> = provider_ids
        .iter()
        .filter_map(|p| p.rsplit('/').next().map(str::to_string))
        .collect();
    assert_eq!(
        claimed, launched,
        "each claim names one of the two instances"
    );
}
