//! The cloud API throttles: `kerf controller` with the kwok provider told to
//! fail every third call to create, delete, get or list as EC2's
//! `RequestLimitExceeded` does (`--kwok-throttle-every 3`), on a real control
//! plane. Launches and terminations that were throttled are retried with
//! back-off until they go through: every pod runs with one NodeClaim per
//! Node (nothing launched twice), and deleting the NodeClaims afterwards
//! removes every Node and claim (nothing left behind).

use std::collections::BTreeSet;
use std::time::Duration;

use crate::common::*;

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn throttled_launches_and_terminations_are_retried_until_done() {
    let plane = cluster(true).await;
    let mut controller = start_controller(&plane, false, &["--kwok-throttle-every", "3"]);
    apply_seed(&plane);
    scale_inflate_until_running(&plane, 20, Duration::from_secs(120));
    let claims: BTreeSet<String> = claim_names(&plane).into_iter().collect();
    let nodes: BTreeSet<String> = kerf_nodes(&plane).into_iter().collect();
    assert_eq!(claims, nodes, "one NodeClaim per Node");

    scale_inflate(&plane, 0);
    kubectl(&plane, &["delete", "nodeclaims", "--all", "--wait=false"]);
    wait(
        &plane,
        "every NodeClaim and Node gone",
        Duration::from_secs(120),
        || (claim_names(&plane).is_empty() && kerf_nodes(&plane).is_empty()).then_some(()),
    );
    controller.assert_running("the controller exited under throttling");
    let log = std::fs::read_to_string(&controller.log).expect("controller log");
    let throttled = log.matches("throttled (--kwok-throttle-every)").count();
    assert!(
        throttled >= 2,
        "the cloud throttled {throttled} calls; the test needs some"
    );
    for call in ["creating an instance", "terminating an instance"] {
        assert!(
            log.contains(&format!("{call}: RequestLimitExceeded")),
            "no {call} was throttled and retried"
        );
    }
}
