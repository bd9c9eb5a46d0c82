//! A flaky API server under a running `kerf controller` (a real control
//! plane from kerf-testenv with kwok, the real binary as the chart runs it),
//! reached through kerf-testenv's fault proxy: every fifth request is
//! answered 429 (with Retry-After), 500 or 503 by the proxy instead of the
//! API server, and every watch is cut mid-stream 8 s after it started. The
//! controller must ride it out as Karpenter's client-go stack does: stay up,
//! keep re-establishing its watches, retry what failed, and provision every
//! pod asked for, with one NodeClaim per Node and nothing launched twice.

use std::collections::BTreeSet;
use std::process::Command;
use std::time::Duration;

use crate::common::*;

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn the_controller_rides_out_429s_5xx_and_cut_watches() {
    let plane = cluster(true).await;
    let proxy = plane
        .fault_proxy(kerf_testenv::Faults {
            fail_every: 5,
            cut_watches_after: Some(Duration::from_secs(8)),
        })
        .await
        .expect("start the fault proxy");
    let metrics_port = free_port();
    let health_port = free_port();
    let mut cmd = Command::new(env!("CARGO_BIN_EXE_kerf"));
    cmd.arg("controller")
        .args(["--cluster-name", "kerf-e2e", "--cloud-provider", "kwok"])
        .arg("--kubeconfig")
        .arg(proxy.kubeconfig_path())
        .args(["--metrics-port", &metrics_port.to_string()])
        .args(["--health-port", &health_port.to_string()]);
    let mut controller = spawn_controller(&plane, cmd, metrics_port, health_port);

    apply_seed(&plane);
    scale_inflate_until_running(&plane, 15, Duration::from_secs(180));
    // Long enough for the watches opened at start-up to have been cut.
    wait(
        &plane,
        "a watch cut by the proxy",
        Duration::from_secs(30),
        || (proxy.counts().snapshot().3 > 0).then_some(()),
    );
    // More work after the cuts needs the watches back.
    scale_inflate_until_running(&plane, 25, Duration::from_secs(180));

    controller.assert_running("the controller exited under injected faults");
    let (forwarded, too_many, server_errors, cut) = proxy.counts().snapshot();
    eprintln!(
        "fault proxy: {forwarded} forwarded, {too_many} 429s, {server_errors} 5xx, {cut} watches cut"
    );
    assert!(
        too_many > 0 && server_errors > 0 && cut > 0,
        "the faults were not all injected: {too_many} 429s, {server_errors} 5xx, {cut} cuts"
    );
    let claims: BTreeSet<String> = claim_names(&plane).into_iter().collect();
    let nodes: BTreeSet<String> = kerf_nodes(&plane).into_iter().collect();
    assert_eq!(claims, nodes, "one NodeClaim per Node");
    std::thread::sleep(Duration::from_secs(5));
    let settled: BTreeSet<String> = claim_names(&plane).into_iter().collect();
    assert_eq!(
        settled, claims,
        "the fleet kept changing after every pod ran"
    );
}
