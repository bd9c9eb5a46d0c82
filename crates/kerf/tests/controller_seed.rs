//! The seed walk-through end to end, with real parts only: a control plane
//! from kerf-testenv (etcd, kube-apiserver, kube-controller-manager, kwok, and
//! in nominate mode kube-scheduler), kerf's CRDs, the real `kerf controller`
//! binary with the kwok cloud provider, and the real kubectl applying the
//! seed's Provisioner verbatim and scaling the seed's inflate Deployment.
//!
//! Scale to 10 → kerf's nodes appear in `kubectl get nodes` and all 10 pods
//! are Running; scale to 0 → the nodes are gone about `ttlSecondsAfterEmpty`
//! (30 s) after they emptied. Both binding modes:
//! - `--bind-pods`: no kube-scheduler runs at all, so a Running pod proves kerf
//!   bound it through the binding subresource.
//! - nominate (default): kube-scheduler marks the pods Unschedulable, kerf
//!   provisions, kube-scheduler binds (its `Scheduled` events show it).
//!
//! Fails (never skips) when the control-plane binaries are missing: run
//! scripts/testbed-build.sh.

mod common;

use std::time::{Duration, Instant};

use common::*;

async fn walkthrough(bind_pods: bool) {
    let mode = if bind_pods { "bind-pods" } else { "nominate" };
    // kube-scheduler only in nominate mode: with --bind-pods, Running pods prove kerf bound them.
    let plane = cluster(!bind_pods).await;

    let controller = start_controller(&plane, bind_pods, &[]);

    apply_seed(&plane);

    let t_scale = Instant::now();
    scale_inflate(&plane, 10);
    let running = wait(
        &plane,
        "10 inflate pods Running",
        Duration::from_secs(120),
        || {
            let pods = running_inflate_pods(&plane);
            (pods.len() == 10).then_some(pods)
        },
    );
    let up = t_scale.elapsed();
    let nodes = kerf_nodes(&plane);
    eprintln!("[{mode}] scale-up → 10 pods Running in {up:?} on nodes {nodes:?}");

    // m5.2xlarge: 8 vCPU, 7910m allocatable → 7 one-CPU pods per node → 2 nodes.
    assert_eq!(nodes.len(), 2, "{nodes:?}");
    for (pod, node) in &running {
        assert!(
            nodes.contains(node),
            "pod {pod} runs on {node}, not a kerf node"
        );
    }
    let shapes = kubectl(
        &plane,
        &[
            "get",
            "nodes",
            "-l",
            POOL_SELECTOR,
            "-o",
            "jsonpath={range .items[*]}{.metadata.labels.node\\.kubernetes\\.io/instance-type}/{.metadata.labels.topology\\.kubernetes\\.io/zone}/{.spec.providerID}{\"\\n\"}{end}",
        ],
    );
    for line in shapes.lines() {
        assert!(
            line.starts_with("m5.2xlarge/us-east-1c/kwok://"),
            "{shapes}"
        );
    }
    // Pods can run before kerf has written Registered/Initialized (kwok makes
    // the Node Ready at once), so wait for the claims to catch up.
    let initialized = wait(
        &plane,
        "2 NodeClaims Initialized",
        Duration::from_secs(30),
        || {
            let out = kubectl(
                &plane,
                &[
                    "get",
                    "nodeclaims",
                    "-o",
                    "jsonpath={range .items[*]}{.status.nodeName}={.status.conditions[?(@.type==\"Initialized\")].status}{\"\\n\"}{end}",
                ],
            );
            let done: Vec<String> = out
                .lines()
                .filter_map(|l| l.strip_suffix("=True"))
                .map(str::to_string)
                .collect();
            (done.len() == 2).then_some(done)
        },
    );
    for node in &initialized {
        assert!(
            nodes.contains(node),
            "claim registered as {node}, not one of {nodes:?}"
        );
    }

    // status.resources: the summed capacity of the Provisioner's nodes.
    let node_cpu = kerf_nodes_cpu(&plane);
    assert_eq!(node_cpu, 16, "two m5.2xlarge");
    wait(
        &plane,
        "Provisioner status.resources.cpu = the nodes' capacity",
        Duration::from_secs(30),
        || (provisioner_resource(&plane, "cpu") == node_cpu.to_string()).then_some(()),
    );
    assert!(!provisioner_resource(&plane, "memory").is_empty());

    let nominated = || {
        kubectl(
            &plane,
            &[
                "get",
                "events",
                "--field-selector",
                "reason=Nominated",
                "-o",
                "jsonpath={range .items[*]}{.involvedObject.name}|{.reportingComponent}|{.message}{\"\\n\"}{end}",
            ],
        )
    };
    let told = |events: &str| {
        let mut pods: Vec<String> = events
            .lines()
            .filter(|l| l.contains("|kerf|kerf will launch node default-"))
            .filter_map(|l| l.split('|').next().map(str::to_string))
            .collect();
        pods.sort();
        pods.dedup();
        pods.len()
    };
    // Every pod hears which node kerf launches for it.
    wait(
        &plane,
        "a Nominated event from kerf on each pod",
        Duration::from_secs(30),
        || (told(&nominated()) == 10).then_some(()),
    );

    let scheduled_by = kubectl(
        &plane,
        &[
            "get",
            "events",
            "--field-selector",
            "reason=Scheduled",
            "-o",
            "jsonpath={range .items[*]}{.source.component}{.reportingComponent}{\"\\n\"}{end}",
        ],
    );
    if bind_pods {
        assert!(
            scheduled_by.trim().is_empty(),
            "no scheduler runs: {scheduled_by}"
        );
    } else {
        assert_eq!(
            lines(&scheduled_by).len(),
            10,
            "kube-scheduler bound every pod: {scheduled_by}"
        );
    }

    scale_inflate(&plane, 0);
    wait(&plane, "inflate pods gone", Duration::from_secs(60), || {
        let out = inflate_pods(&plane, &[], "{.items[*].metadata.name}");
        out.trim().is_empty().then_some(())
    });
    let t_empty = Instant::now();
    wait(
        &plane,
        "kerf's nodes gone",
        Duration::from_secs(120),
        || kerf_nodes(&plane).is_empty().then_some(()),
    );
    let gone = t_empty.elapsed();
    wait(
        &plane,
        "Provisioner status.resources cleared",
        Duration::from_secs(30),
        || {
            let cpu = provisioner_resource(&plane, "cpu");
            (cpu.is_empty() || cpu == "0").then_some(())
        },
    );
    eprintln!("[{mode}] emptied → nodes gone in {gone:?} (ttlSecondsAfterEmpty 30)");
    assert!(
        gone >= Duration::from_secs(25) && gone <= Duration::from_secs(60),
        "nodes removed {gone:?} after emptying, expected about 30 s"
    );
    wait(&plane, "nodeclaims gone", Duration::from_secs(30), || {
        let out = kubectl(
            &plane,
            &[
                "get",
                "nodeclaims",
                "-o",
                "jsonpath={.items[*].metadata.name}",
            ],
        );
        out.trim().is_empty().then_some(())
    });

    let (code, text) = http_get(controller.metrics_port, "/metrics").expect("metrics endpoint");
    assert_eq!(code, 200);
    assert_eq!(
        metric(
            &text,
            "karpenter_nodes_created_total{provisioner=\"default\"}"
        ),
        Some(2.0),
        "{text}"
    );
    assert_eq!(
        metric(
            &text,
            "karpenter_nodes_terminated_total{provisioner=\"default\"}"
        ),
        Some(2.0),
        "{text}"
    );
    assert!(
        text.contains("karpenter_provisioner_scheduling_duration_seconds_count"),
        "{text}"
    );
    // Logs: JSON lines (the controller's default, as Karpenter's) with level and message.
    let logs = json_log_lines(&controller);
    assert!(
        logs.iter()
            .all(|l| l["level"].is_string() && l["message"].is_string()),
        "every line has level and message"
    );
    assert!(
        logs.iter()
            .any(|l| l["level"] == "INFO" && l["message"] == "kerf controller starting"),
        "the start line"
    );
    assert!(
        logs.iter().any(|l| l["message"] == "launched"
            && l["claim"]
                .as_str()
                .is_some_and(|c| c.starts_with("default-"))),
        "fields are kept as JSON keys"
    );
    drop(controller);
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn seed_walkthrough_bind_pods() {
    walkthrough(true).await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn seed_walkthrough_nominate() {
    walkthrough(false).await;
}
