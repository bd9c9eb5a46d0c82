//! The full test cluster from the real binaries: etcd, kube-apiserver,
//! kube-controller-manager, kube-scheduler and kwok. Fails (never skips) when
//! the binaries are missing: run scripts/testbed-build.sh.

use std::time::Duration;

use k8s_openapi::api::core::v1::{Node, Pod};
use kerf_testenv::{ControlPlane, ControlPlaneOptions, kwok_node, node_is_ready, wait_for};
use kube::api::{Api, ListParams, PostParams};

const DEPLOYMENT: &str = r#"
apiVersion: apps/v1
kind: Deployment
metadata:
  name: pause
  namespace: default
spec:
  replicas: 2
  selector:
    matchLabels: {app: pause}
  template:
    metadata:
      labels: {app: pause}
    spec:
      containers:
      - name: pause
        image: registry.k8s.io/pause:3.10
        resources:
          requests: {cpu: 100m, memory: 64Mi}
"#;

fn pod_running_on(pod: &Pod, node: &str) -> bool {
    let bound = pod.spec.as_ref().and_then(|s| s.node_name.as_deref()) == Some(node);
    let status = pod.status.as_ref();
    let running = status.and_then(|s| s.phase.as_deref()) == Some("Running");
    let scheduled = status
        .and_then(|s| s.conditions.as_ref())
        .is_some_and(|cs| {
            cs.iter()
                .any(|c| c.type_ == "PodScheduled" && c.status == "True")
        });
    bound && running && scheduled
}

#[tokio::test]
async fn kwok_node_becomes_ready_and_deployment_pods_run_on_it() {
    let plane = ControlPlane::start(ControlPlaneOptions::cluster())
        .await
        .expect("start the full control plane");
    eprintln!(
        "cluster started in {:?} ({:?})",
        plane.startup_duration(),
        plane.startup_timings()
    );
    let client = plane.client();

    let nodes: Api<Node> = Api::all(client.clone());
    let node = kwok_node(
        "kwok-node-0",
        &[("cpu", "4"), ("memory", "8Gi"), ("pods", "110")],
    );
    nodes
        .create(&PostParams::default(), &node)
        .await
        .expect("create node");
    let t0 = std::time::Instant::now();
    wait_for(
        "node kwok-node-0 to be Ready",
        Duration::from_secs(60),
        || async {
            nodes
                .get_opt("kwok-node-0")
                .await
                .ok()
                .flatten()
                .filter(node_is_ready)
        },
    )
    .await
    .expect("kwok makes the node Ready");
    eprintln!("node Ready after {:?}", t0.elapsed());

    let t0 = std::time::Instant::now();
    plane
        .apply_yaml(DEPLOYMENT)
        .await
        .expect("apply deployment");
    let pods: Api<Pod> = Api::namespaced(client, "default");
    let running = wait_for(
        "2 pause pods Running on kwok-node-0",
        Duration::from_secs(120),
        || async {
            let list = pods
                .list(&ListParams::default().labels("app=pause"))
                .await
                .ok()?;
            let running: Vec<Pod> = list
                .items
                .into_iter()
                .filter(|p| pod_running_on(p, "kwok-node-0"))
                .collect();
            (running.len() == 2).then_some(running)
        },
    )
    .await;
    let running = match running {
        Ok(pods) => pods,
        Err(e) => {
            let state = plane.kubectl(["get", "nodes,pods,replicasets,events", "-o", "wide"]);
            panic!("{e}\n{state:?}");
        }
    };
    eprintln!("2 pods Running after {:?}", t0.elapsed());
    for pod in &running {
        let status = pod.status.as_ref().expect("running pod has status");
        assert!(status.pod_ip.is_some(), "kwok assigns a pod IP");
    }

    // The scheduler (not anyone else) bound them: check its events.
    let events = plane
        .kubectl_ok([
            "get",
            "events",
            "--field-selector",
            "reason=Scheduled",
            "-o",
            "jsonpath={range .items[*]}{.source.component}{.reportingComponent}{\"\\n\"}{end}",
        ])
        .expect("kubectl get events");
    let scheduled_by: Vec<&str> = events.lines().filter(|l| !l.is_empty()).collect();
    assert_eq!(scheduled_by.len(), 2, "{events}");
    assert!(
        scheduled_by.iter().all(|c| c.contains("default-scheduler")),
        "{events}"
    );

    let mut plane = plane;
    plane.check_alive().expect("every component still running");
}
