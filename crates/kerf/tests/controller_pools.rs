//! Pool status and Events on the real control plane (etcd, kube-apiserver,
//! kube-controller-manager, kube-scheduler, kwok, the `kerf controller`
//! binary, kubectl): a Provisioner, or a v1 NodePool, whose `limits` stop
//! kerf from launching for every pending pod gets a `LimitReached` Warning
//! Event from kerf, and its status counts the node it did launch
//! (`status.resources`, and for a NodePool `status.nodes`); once the
//! NodePool's node is removed for emptiness its status counts nothing.
//! Fails (never skips) when the control-plane binaries are missing.

mod common;

use std::time::Duration;

use common::*;

/// The first `LimitReached` Event on a pool of `kind`, as
/// `type|object|reporting component|message`; waits up to a minute.
fn limit_event(plane: &kerf_testenv::ControlPlane, kind: &str) -> String {
    let selector = format!("involvedObject.kind={kind},reason=LimitReached");
    wait(
        plane,
        &format!("a LimitReached Event on the {kind}"),
        Duration::from_secs(60),
        || {
            let out = kubectl(
                plane,
                &[
                    "get",
                    "events",
                    "--field-selector",
                    &selector,
                    "-o",
                    "jsonpath={range .items[*]}{.type}|{.involvedObject.name}|{.reportingComponent}|{.message}{\"\\n\"}{end}",
                ],
            );
            out.lines().next().map(str::to_string)
        },
    )
}

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
    scale_inflate(&plane, 10);

    // One m5.2xlarge (8 CPUs) uses the whole limit: 7 pods run, 3 wait.
    wait(&plane, "7 pods Running", Duration::from_secs(90), || {
        (running_inflate_pods(&plane).len() == 7).then_some(())
    });
    let event = limit_event(&plane, "Provisioner");
    assert!(
        event.starts_with("Warning|default|kerf|Provisioner cannot launch more nodes"),
        "{event}"
    );
    assert!(event.contains("leave too little"), "{event}");
    wait(
        &plane,
        "status.resources.cpu = 8",
        Duration::from_secs(30),
        || (provisioner_resource(&plane, "cpu") == "8").then_some(()),
    );
    assert_eq!(kerf_nodes(&plane).len(), 1, "the limit holds");
}

/// A v1 NodePool as a user of Karpenter v1 writes it, limited to one
/// m5.2xlarge, its nodes removed 5 s after they empty; and its EC2NodeClass
/// (the kwok provider reads neither AMIs nor subnets, but the pool needs it).
const NODE_POOL: &str = r#"apiVersion: karpenter.k8s.aws/v1
kind: EC2NodeClass
metadata:
  name: default
spec:
  role: KarpenterNodeRole-kerf-test
  amiSelectorTerms:
    - alias: al2023@latest
  subnetSelectorTerms:
    - tags: {karpenter.sh/discovery: kerf-test}
  securityGroupSelectorTerms:
    - tags: {karpenter.sh/discovery: kerf-test}
---
apiVersion: karpenter.sh/v1
kind: NodePool
metadata:
  name: general
spec:
  template:
    spec:
      nodeClassRef:
        group: karpenter.k8s.aws
        kind: EC2NodeClass
        name: default
      requirements:
        - key: node.kubernetes.io/instance-type
          operator: In
          values: ["m5.2xlarge"]
        - key: karpenter.sh/capacity-type
          operator: In
          values: ["on-demand"]
  limits:
    cpu: "8"
  disruption:
    consolidationPolicy: WhenEmpty
    consolidateAfter: 5s
"#;

/// `{.status.<path>}` of the NodePool ("" when absent).
fn node_pool_status(plane: &kerf_testenv::ControlPlane, path: &str) -> String {
    pool_status(plane, "nodepool", "general", path)
}

fn node_pool_nodes(plane: &kerf_testenv::ControlPlane) -> Vec<String> {
    nodes_labelled(plane, "karpenter.sh/nodepool=general")
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn node_pool_status_counts_its_nodes_and_empties_with_them() {
    let plane = cluster(true).await;
    let _controller = start_controller(&plane, false, &[]);
    let path = write(plane.dir(), "nodepool.yaml", NODE_POOL);
    kubectl(&plane, &["apply", "-f", path.to_str().expect("utf-8")]);
    let path = write(plane.dir(), "inflate.yaml", INFLATE);
    kubectl(&plane, &["apply", "-f", path.to_str().expect("utf-8")]);
    scale_inflate(&plane, 10);

    wait(&plane, "7 pods Running", Duration::from_secs(90), || {
        (running_inflate_pods(&plane).len() == 7).then_some(())
    });
    let nodes = node_pool_nodes(&plane);
    assert_eq!(
        nodes.len(),
        1,
        "one m5.2xlarge under the 8-cpu limit: {nodes:?}"
    );
    let event = limit_event(&plane, "NodePool");
    assert!(
        event.starts_with("Warning|general|kerf|NodePool cannot launch more nodes"),
        "{event}"
    );
    wait(
        &plane,
        "status.resources.cpu = 8 and status.nodes = 1",
        Duration::from_secs(30),
        || {
            (node_pool_status(&plane, "resources.cpu") == "8"
                && node_pool_status(&plane, "nodes") == "1")
                .then_some(())
        },
    );
    let memory = node_pool_status(&plane, "resources.memory");
    assert!(!memory.is_empty(), "status.resources.memory is set");

    scale_inflate(&plane, 0);
    wait(
        &plane,
        "the empty node removed",
        Duration::from_secs(90),
        || node_pool_nodes(&plane).is_empty().then_some(()),
    );
    wait(
        &plane,
        "status.nodes = 0 and no cpu in use",
        Duration::from_secs(30),
        || {
            let cpu = node_pool_status(&plane, "resources.cpu");
            (node_pool_status(&plane, "nodes") == "0" && (cpu.is_empty() || cpu == "0"))
                .then_some(())
        },
    );
}
