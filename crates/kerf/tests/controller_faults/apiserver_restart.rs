//! The API server goes away under a running `kerf controller` (a real
//! control plane from kerf-testenv with kwok, the real binary as the chart
//! runs it): etcd's history is compacted, then kube-apiserver is stopped for
//! 15 s, so every connection and watch of the controller drops and its calls
//! fail, and started again on the same port and etcd. Resuming a watch from
//! the resourceVersion it had is then `410 Gone`, so the controller must list
//! afresh. It must ride all of it out: stay up, serve /readyz again,
//! re-establish its watches, and provision what was asked after the outage,
//! with one NodeClaim per Node and none left over.

use std::collections::BTreeSet;
use std::time::Duration;

use crate::common::*;

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn the_controller_rides_out_an_api_server_restart() {
    let mut plane = cluster(true).await;
    let mut controller = start_controller(&plane, false, &[]);
    apply_seed(&plane);
    scale_inflate_until_running(&plane, 5, Duration::from_secs(120));
    let before = claim_names(&plane);

    // Changes after the controller's last list, then history compacted away.
    kubectl(&plane, &["create", "namespace", "churn"]);
    let revision = plane.compact_etcd().await.expect("compact etcd");
    assert!(revision > 0);
    plane
        .restart_apiserver(Duration::from_secs(15))
        .await
        .expect("restart kube-apiserver");
    controller.assert_running("the controller exited while the API server was down");
    // Work that arrives after the outage needs the controller's watches back.
    scale_inflate(&plane, 20);
    wait(
        &plane,
        "20 pods Running after the restart",
        Duration::from_secs(180),
        || (running_inflate_pods(&plane).len() == 20).then_some(()),
    );
    // Pods the node lifecycle controller marked not Ready while kwok's
    // heartbeats could not reach the API server are Ready again, as a kubelet
    // reports them once it is back (a PDB over them must allow evictions).
    wait(
        &plane,
        "every inflate pod Ready after the restart",
        Duration::from_secs(120),
        || {
            let ready = inflate_pods(
                &plane,
                &[],
                "{range .items[*]}{.status.conditions[?(@.type==\"Ready\")].status}{\"\\n\"}{end}",
            );
            let states: Vec<&str> = ready.lines().collect();
            (states.len() == 20 && states.iter().all(|s| *s == "True")).then_some(())
        },
    );
    let ready = wait(
        &plane,
        "/readyz answers 200",
        Duration::from_secs(30),
        || http_get(controller.health_port, "/readyz").filter(|(code, _)| *code == 200),
    );
    assert_eq!(ready.0, 200);
    // The outage reached the controller as such: its watches resumed from a
    // compacted resourceVersion were refused and it listed again.
    let log = std::fs::read_to_string(&controller.log).expect("controller log");
    assert!(
        log.contains("too old resource version"),
        "no watch was told its resourceVersion was compacted"
    );

    // Nothing duplicated or leaked: each claim has its node, the ones from
    // before the outage were kept, and the fleet settles at that.
    let claims: BTreeSet<String> = claim_names(&plane).into_iter().collect();
    let nodes: BTreeSet<String> = kerf_nodes(&plane).into_iter().collect();
    assert_eq!(claims, nodes, "one NodeClaim per Node");
    for c in &before {
        assert!(
            claims.contains(c),
            "claim {c} from before the outage is gone: {claims:?}"
        );
    }
    std::thread::sleep(Duration::from_secs(10));
    let settled: BTreeSet<String> = claim_names(&plane).into_iter().collect();
    assert_eq!(
        settled, claims,
        "the fleet kept changing after every pod ran"
    );
}
