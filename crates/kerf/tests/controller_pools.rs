//! Provisioner status and Events on the real control plane (etcd,
//! kube-apiserver, kube-controller-manager, kube-scheduler, kwok, the
//! `kerf controller` binary, kubectl): a Provisioner whose `limits` stop
//! kerf from launching for every pending pod gets a `LimitReached` Warning
//! Event from kerf, and its `status.resources` counts the node it did launch.
//! Fails (never skips) when the control-plane binaries are missing.

mod common;

use std::time::Duration;

use common::*;

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn limited_provisioner_reports_usage_and_gets_a_limit_event() {
    let plane = cluster(true).await;
    let _controller = start_controller(&plane, false, &[]);
    let seed = SEED_PROVISIONER.trim_end();
    let limited = format!("{seed}\n  limits:\n    resources:\n      cpu: \"8\"\n");
    let path = write(plane.dir(), "provisioner.yaml", &limited);
    kubectl(&plane, &["apply", "-f", path.to_str().expect("utf-8")]);
    let path = write(plane.dir(), "inflate.yaml", INFLATE);
    kubectl(&plane, &["apply", "-f", path.to_str().expect("utf-8")]);
    kubectl(
        &plane,
        &["scale", "deployment", "inflate", "--replicas", "10"],
    );

    // One m5.2xlarge (8 CPUs) uses the whole limit: 7 pods run, 3 wait.
    wait(&plane, "7 pods Running", Duration::from_secs(90), || {
        (running_inflate_pods(&plane).len() == 7).then_some(())
    });
    let event = wait(
        &plane,
        "a LimitReached Event on the Provisioner",
        Duration::from_secs(60),
        || {
            let out = kubectl(
                &plane,
                &[
                    "get",
                    "events",
                    "--field-selector",
                    "involvedObject.kind=Provisioner,reason=LimitReached",
                    "-o",
                    "jsonpath={range .items[*]}{.type}|{.involvedObject.name}|{.reportingComponent}|{.message}{\"\\n\"}{end}",
                ],
            );
            out.lines().next().map(str::to_string)
        },
    );
    assert!(
        event.starts_with("Warning|default|kerf|Provisioner cannot launch more nodes"),
        "{event}"
    );
    assert!(event.contains("limits reached"), "{event}");
    wait(
        &plane,
        "status.resources.cpu = 8",
        Duration::from_secs(30),
        || (provisioner_resource(&plane, "cpu") == "8").then_some(()),
    );
    assert_eq!(kerf_nodes(&plane).len(), 1, "the limit holds");
}
