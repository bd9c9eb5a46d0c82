//! The cloud has no capacity for the cheapest offering: `kerf controller`
//! with the kwok provider told so (`--kwok-insufficient-capacity`, the
//! simulated cloud failing that launch as EC2 fails a fleet), on a real
//! control plane. The seed Provisioner allows m5.2xlarge in us-east-1c,
//! spot or on-demand; spot is cheaper and has no capacity. Every pod must
//! still run, on on-demand nodes, with one NodeClaim per Node: nothing
//! launched twice, nothing left over.

use std::collections::BTreeSet;
use std::time::Duration;

use crate::common::*;

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn pods_land_on_the_offering_that_has_capacity() {
    let plane = cluster(true).await;
    let controller = start_controller(
        &plane,
        false,
        &["--kwok-insufficient-capacity", "m5.2xlarge:us-east-1c:spot"],
    );
    apply_seed(&plane);
    scale_inflate_until_running(&plane, 10, Duration::from_secs(120));
    let on_demand: BTreeSet<String> = nodes_labelled(
        &plane,
        &format!("{POOL_SELECTOR},karpenter.sh/capacity-type=on-demand"),
    )
    .into_iter()
    .collect();
    let nodes: BTreeSet<String> = kerf_nodes(&plane).into_iter().collect();
    assert_eq!(nodes, on_demand, "every node on the offering with capacity");
    assert_eq!(nodes.len(), 2, "10 one-CPU pods take two m5.2xlarge");
    let claims: BTreeSet<String> = claim_names(&plane).into_iter().collect();
    assert_eq!(claims, nodes, "one NodeClaim per Node");
    let log = std::fs::read_to_string(&controller.log).expect("controller log");
    assert!(
        log.contains("insufficient capacity"),
        "the spot launch was tried and failed over"
    );
}
