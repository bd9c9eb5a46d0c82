//! Consolidation, budgets and drift on the real control plane (etcd,
//! kube-apiserver, kube-controller-manager, kube-scheduler, kwok, the `kerf
//! controller` binary with its default disruption settings, kubectl): a
//! Deployment scaled 100 → 10 leaves a cheaper fleet with every pod Running;
//! a PodDisruptionBudget that allows nothing keeps its node and says so in an
//! Event, and a budget of 0 holds until its scheduled window closes; a
//! changed NodePool template replaces its nodes (drift); a controller killed
//! mid-command leaves a clean state; under a budget of one node, no pod is
//! evicted twice on the way to the cheapest fleet; with the pod-deletion
//! costs kerf writes, a scale-down empties whole nodes and nothing is evicted.
//! Fails (never skips) when the control-plane binaries are missing.

mod common;

use std::collections::BTreeSet;
use std::time::Duration;

use common::*;

const POOL_LABEL: &str = "karpenter.sh/nodepool=general";

/// A NodePool that may consolidate at once, four sizes of m5 on-demand in one zone.
fn node_pool(extra_template_labels: &str, budget: &str) -> String {
    format!(
        r#"apiVersion: karpenter.k8s.aws/v1
kind: EC2NodeClass
metadata:
  name: default
spec:
  role: KarpenterNodeRole-kerf-test
  amiSelectorTerms:
    - alias: al2023@latest
  subnetSelectorTerms:
    - tags: {{karpenter.sh/discovery: kerf-test}}
  securityGroupSelectorTerms:
    - tags: {{karpenter.sh/discovery: kerf-test}}
---
apiVersion: karpenter.sh/v1
kind: NodePool
metadata:
  name: general
spec:
  template:
    metadata:
      labels:
        team: web{extra_template_labels}
    spec:
      nodeClassRef:
        group: karpenter.k8s.aws
        kind: EC2NodeClass
        name: default
      requirements:
        - key: node.kubernetes.io/instance-type
          operator: In
          values: ["m5.large", "m5.xlarge", "m5.2xlarge", "m5.4xlarge"]
        - key: karpenter.sh/capacity-type
          operator: In
          values: ["on-demand"]
        - key: topology.kubernetes.io/zone
          operator: In
          values: ["us-east-1a"]
  disruption:
    consolidationPolicy: WhenEmptyOrUnderutilized
    consolidateAfter: 0s
    budgets:
      - nodes: "{budget}"
"#
    )
}

fn apply(plane: &kerf_testenv::ControlPlane, name: &str, text: &str) {
    let path = write(plane.dir(), name, text);
    kubectl(plane, &["apply", "-f", path.to_str().expect("utf-8")]);
}

fn pool_nodes(plane: &kerf_testenv::ControlPlane) -> BTreeSet<String> {
    nodes_labelled(plane, POOL_LABEL).into_iter().collect()
}

/// `instance-type` of each of the pool's nodes.
fn pool_types(plane: &kerf_testenv::ControlPlane) -> Vec<String> {
    lines(&kubectl(
        plane,
        &[
            "get",
            "nodes",
            "-l",
            POOL_LABEL,
            "-o",
            "jsonpath={.items[*].metadata.labels.node\\.kubernetes\\.io/instance-type}",
        ],
    ))
}

/// Messages of the Events with this reason, on any object.
fn events(plane: &kerf_testenv::ControlPlane, reason: &str) -> Vec<String> {
    kubectl(
        plane,
        &[
            "get",
            "events",
            "--field-selector",
            &format!("reason={reason}"),
            "-o",
            "jsonpath={range .items[*]}{.involvedObject.kind}/{.involvedObject.name}: {.message}{\"\\n\"}{end}",
        ],
    )
    .lines()
    .map(str::to_string)
    .collect()
}

/// $/h of the m5 sizes in us-east-1 on demand, as the built-in catalogue sells them.
fn price(instance_type: &str) -> f64 {
    match instance_type {
        "m5.large" => 0.096,
        "m5.xlarge" => 0.192,
        "m5.2xlarge" => 0.384,
        "m5.4xlarge" => 0.768,
        other => panic!("unexpected instance type {other}"),
    }
}

fn fleet_price(plane: &kerf_testenv::ControlPlane) -> f64 {
    pool_types(plane).iter().map(|t| price(t)).sum()
}

/// Pods a PodDisruptionBudget allows no eviction of keep their node, with a
/// `DisruptionBlocked` Event naming the budget; a NodePool budget of 0 keeps
/// an otherwise removable node; a budget of 0 scheduled for one minute holds
/// until that minute is over, then the node goes.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_pdb_a_zero_budget_and_a_scheduled_window_block_until_lifted() {
    let plane = cluster(true).await;
    let _controller = start_controller(&plane, false, &[]);
    apply(&plane, "nodepool.yaml", &node_pool("", "0"));
    apply(&plane, "inflate.yaml", INFLATE);
    scale_inflate_until_running(&plane, 6, Duration::from_secs(120));
    apply(
        &plane,
        "pdb.yaml",
        "apiVersion: policy/v1\nkind: PodDisruptionBudget\nmetadata: {name: inflate, namespace: default}\nspec:\n  maxUnavailable: 0\n  selector: {matchLabels: {app: inflate}}\n",
    );
    scale_inflate(&plane, 1);
    let blocked = wait(
        &plane,
        "a DisruptionBlocked Event naming the PDB",
        Duration::from_secs(90),
        || {
            events(&plane, "DisruptionBlocked")
                .into_iter()
                .find(|e| e.contains("PodDisruptionBudget default/inflate"))
        },
    );
    eprintln!("{blocked}");
    let nodes = pool_nodes(&plane);
    kubectl(&plane, &["delete", "pdb", "inflate"]);
    // The budget of 0 still holds every node.
    // Longer than a poll and the validation delay together.
    std::thread::sleep(Duration::from_secs(27));
    assert_eq!(pool_nodes(&plane), nodes, "a budget of 0 lets nothing go");
    assert!(
        events(&plane, "DisruptionBlocked")
            .iter()
            .any(|e| e.contains("disruption budget of nodepool general")),
        "{:?}",
        events(&plane, "DisruptionBlocked")
    );
    // A budget of 0 in force for the current minute only: nothing goes
    // until the minute is over, then the window has passed and the default
    // rule lets the fleet shrink.
    let (minute, window_end) = current_minute_window();
    let scheduled = format!(
        "0\"\n        schedule: \"{minute} * * * *\"\n        duration: 1m\n      - nodes: \"100%"
    );
    apply(&plane, "nodepool.yaml", &node_pool("", &scheduled));
    let gone_at = wait(
        &plane,
        "one m5.large left for the one pod once the window closed",
        Duration::from_secs(150),
        || {
            let pods = running_inflate_pods(&plane);
            (pods.len() == 1 && pool_types(&plane) == ["m5.large"]).then(std::time::SystemTime::now)
        },
    );
    assert!(
        gone_at >= window_end,
        "the fleet changed before the zero budget's window closed"
    );
}

/// The current UTC minute (0-59) and when it ends, waiting for the next
/// minute first if less than 20 s of this one are left.
fn current_minute_window() -> (u64, std::time::SystemTime) {
    let since_epoch = |t: std::time::SystemTime| {
        t.duration_since(std::time::UNIX_EPOCH)
            .expect("clock after 1970")
            .as_secs()
    };
    let mut now = since_epoch(std::time::SystemTime::now());
    if now % 60 > 40 {
        std::thread::sleep(Duration::from_secs(61 - now % 60));
        now = since_epoch(std::time::SystemTime::now());
    }
    let end = std::time::UNIX_EPOCH + Duration::from_secs(now - now % 60 + 60);
    ((now / 60) % 60, end)
}

/// A label added to the NodePool's template drifts its nodes: each is
/// replaced by a node that carries the label, and the pods run there.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_changed_node_pool_replaces_its_nodes() {
    let plane = cluster(true).await;
    let _controller = start_controller(&plane, false, &[]);
    apply(&plane, "nodepool.yaml", &node_pool("", "100%"));
    apply(&plane, "inflate.yaml", INFLATE);
    scale_inflate_until_running(&plane, 3, Duration::from_secs(120));
    let old = pool_nodes(&plane);
    apply(
        &plane,
        "nodepool.yaml",
        &node_pool("\n        tier: gold", "100%"),
    );
    wait(
        &plane,
        "the drifted nodes replaced by labelled ones",
        Duration::from_secs(180),
        || {
            let now = pool_nodes(&plane);
            let labelled: BTreeSet<String> =
                nodes_labelled(&plane, "tier=gold").into_iter().collect();
            let pods = running_inflate_pods(&plane);
            (now.is_disjoint(&old)
                && !now.is_empty()
                && now == labelled
                && pods.len() == 3
                && pods.iter().all(|(_, n)| labelled.contains(n)))
            .then_some(())
        },
    );
}

/// The command record (`kerf.sh/disruption-command`) of the first node that
/// carries one with replacements.
fn replace_record(plane: &kerf_testenv::ControlPlane) -> Option<serde_json::Value> {
    let out = kubectl(
        plane,
        &[
            "get",
            "nodes",
            "-o",
            "jsonpath={range .items[*]}{.metadata.annotations.kerf\\.sh/disruption-command}{\"\\n\"}{end}",
        ],
    );
    out.lines()
        .filter(|l| !l.trim().is_empty())
        .filter_map(|l| serde_json::from_str::<serde_json::Value>(l).ok())
        .find(|r| r["replacements"].as_array().is_some_and(|a| !a.is_empty()))
}

/// The controller killed (SIGKILL) while a replacement is still booting: the
/// next one resumes the command from the record on the Nodes, launches no
/// second replacement, and leaves no node tainted.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_restart_in_the_middle_of_a_command_finishes_it_once() {
    let plane = cluster(true).await;
    // Replacements take 20 s to register: the window the first controller dies in.
    let flags = ["--kwok-registration-delay", "20s"];
    let first = start_controller(&plane, false, &flags);
    apply(&plane, "nodepool.yaml", &node_pool("", "100%"));
    apply(&plane, "inflate.yaml", INFLATE);
    scale_inflate_until_running(&plane, 30, Duration::from_secs(180));
    scale_inflate(&plane, 3);
    let record = wait(
        &plane,
        "a replace command recorded on a node",
        Duration::from_secs(180),
        || replace_record(&plane),
    );
    drop(first);
    let replacements: Vec<String> = record["replacements"]
        .as_array()
        .expect("replacements")
        .iter()
        .map(|r| r.as_str().expect("name").to_string())
        .collect();
    eprintln!("killed during {record}");

    let _second = start_controller(&plane, false, &flags);
    wait(
        &plane,
        "the command finished: one node holding 3 Running pods",
        Duration::from_secs(240),
        || {
            let pods = running_inflate_pods(&plane);
            (pods.len() == 3 && pool_nodes(&plane).len() == 1 && claim_names(&plane).len() == 1)
                .then_some(())
        },
    );
    assert_eq!(
        claim_names(&plane),
        replacements,
        "the recorded replacement is the node left; no second one was launched"
    );
    let taints = kubectl(
        &plane,
        &[
            "get",
            "nodes",
            "-o",
            "jsonpath={.items[*].spec.taints[*].key}",
        ],
    );
    assert!(
        !taints.contains("karpenter.sh/disrupted"),
        "taints left: {taints}"
    );
}

/// The issue's case: a Deployment scaled 100 → 10. The fleet shrinks until
/// it stops changing, costs no more than the one m5.4xlarge that holds ten
/// 1-CPU pods, and every pod is Running; the decisions are counted and
/// announced on the old nodes, and the claims left are Consolidatable.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_deployment_scaled_from_100_to_10_settles_on_a_cheaper_fleet() {
    let plane = cluster(true).await;
    let controller = start_controller(&plane, false, &[]);
    apply(&plane, "nodepool.yaml", &node_pool("", "100%"));
    apply(&plane, "inflate.yaml", INFLATE);
    scale_inflate_until_running(&plane, 100, Duration::from_secs(180));
    // Each claim records its node's last pod event, as Karpenter's do, so
    // consolidateAfter counts from it across a restart.
    wait(
        &plane,
        "every claim's status.lastPodEventTime",
        Duration::from_secs(60),
        || {
            let times = kubectl(
                &plane,
                &[
                    "get",
                    "nodeclaims",
                    "-o",
                    "jsonpath={range .items[*]}{.status.lastPodEventTime}{\"\\n\"}{end}",
                ],
            );
            let times: Vec<&str> = times.lines().collect();
            (!times.is_empty() && times.iter().all(|t| t.ends_with('Z'))).then_some(())
        },
    );
    let before = fleet_price(&plane);
    let nodes_before = pool_nodes(&plane);
    eprintln!("100 pods on {:?}: ${before:.3}/h", pool_types(&plane));
    scale_inflate(&plane, 10);
    let after = wait(
        &plane,
        "10 pods Running on a fleet of at most $0.768/h",
        Duration::from_secs(300),
        || {
            let price = fleet_price(&plane);
            (running_inflate_pods(&plane).len() == 10
                && price <= 0.768 + 1e-9
                && claim_names(&plane).len() == pool_nodes(&plane).len())
            .then_some(price)
        },
    );
    let settled = pool_nodes(&plane);
    // A poll and a validation delay later, nothing has changed.
    std::thread::sleep(Duration::from_secs(25));
    assert_eq!(pool_nodes(&plane), settled, "the fleet kept changing");
    eprintln!("10 pods on {:?}: ${after:.3}/h", pool_types(&plane));
    assert!(after < before);
    let pending = kubectl(
        &plane,
        &[
            "get",
            "pods",
            "--field-selector=status.phase=Pending",
            "-o",
            "name",
        ],
    );
    assert!(pending.trim().is_empty(), "pending pods: {pending}");
    wait(
        &plane,
        "the remaining claim Consolidatable",
        Duration::from_secs(30),
        || {
            let status = kubectl(
                &plane,
                &[
                    "get",
                    "nodeclaims",
                    "-o",
                    "jsonpath={.items[*].status.conditions[?(@.type==\"Consolidatable\")].status}",
                ],
            );
            status.split_whitespace().all(|s| s == "True").then_some(())
        },
    );

    let (_, text) = http_get(controller.metrics_port, "/metrics").expect("metrics endpoint");
    let decisions: f64 = text
        .lines()
        .filter(|l| l.starts_with("karpenter_voluntary_disruption_decisions_total{"))
        .filter_map(|l| l.rsplit(' ').next()?.parse::<f64>().ok())
        .sum();
    assert!(decisions >= 1.0, "decisions counted:\n{text}");
    let announced: Vec<String> = ["DisruptionLaunching", "DisruptionTerminating"]
        .iter()
        .flat_map(|r| events(&plane, r))
        .collect();
    assert!(
        announced.iter().any(|e| nodes_before
            .iter()
            .any(|n| e.starts_with(&format!("Node/{n}: Disrupting")))),
        "no disruption Event on the old nodes: {announced:?}"
    );
}

/// Nodes carrying kerf's `kerf.sh/consolidation-planned` taint.
fn planned_nodes(plane: &kerf_testenv::ControlPlane) -> BTreeSet<String> {
    kubectl(
        plane,
        &[
            "get",
            "nodes",
            "-o",
            "jsonpath={range .items[*]}{.metadata.name}={.spec.taints[*].key}{\"\\n\"}{end}",
        ],
    )
    .lines()
    .filter(|l| l.contains("kerf.sh/consolidation-planned"))
    .filter_map(|l| l.split_once('=').map(|(n, _)| n.to_string()))
    .collect()
}

/// Under a budget of one node at a time, consolidation removes the nodes
/// that leave the cheapest fleet, and the ones it will remove next carry
/// `kerf.sh/consolidation-planned:PreferNoSchedule`, so kube-scheduler puts
/// the pods it evicts on a node that stays: no pod is evicted twice, and the
/// taint is gone once the fleet settles.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_one_node_budget_evicts_no_pod_twice() {
    let plane = cluster(true).await;
    // The steering taint is for scale-downs that spread over every node,
    // as they do when pods carry no deletion cost of kerf's.
    let _controller = start_controller(
        &plane,
        false,
        &["--feature-gates", "PodDeletionCostManagement=false"],
    );
    apply(&plane, "nodepool.yaml", &node_pool("", "1"));
    apply(&plane, "inflate.yaml", INFLATE);
    scale_inflate_until_running(&plane, 70, Duration::from_secs(180));
    let before = fleet_price(&plane);
    eprintln!("70 pods on {:?}: ${before:.3}/h", pool_types(&plane));
    scale_inflate_until_running(&plane, 6, Duration::from_secs(60));
    let survivors: BTreeSet<String> = running_inflate_pods(&plane)
        .into_iter()
        .map(|(pod, _)| pod)
        .collect();

    let mut seen = survivors.clone();
    let mut tainted = BTreeSet::new();
    let mut stable_since: Option<(BTreeSet<String>, std::time::Instant)> = None;
    let after = wait(
        &plane,
        "6 pods Running on a fleet that stops changing, with no planned taint left",
        Duration::from_secs(300),
        || {
            let running = running_inflate_pods(&plane);
            seen.extend(running.iter().map(|(pod, _)| pod.clone()));
            let planned = planned_nodes(&plane);
            tainted.extend(planned.iter().cloned());
            let nodes = pool_nodes(&plane);
            let settled = running.len() == 6
                && planned.is_empty()
                && claim_names(&plane).len() == nodes.len();
            match &stable_since {
                Some((same, since)) if settled && *same == nodes => {
                    // A poll, a validation delay and a margin without a change.
                    (since.elapsed() > Duration::from_secs(30)).then(|| fleet_price(&plane))
                }
                _ => {
                    stable_since = settled.then(|| (nodes, std::time::Instant::now()));
                    None
                }
            }
        },
    );
    eprintln!(
        "6 pods on {:?}: ${after:.3}/h; planned on the way: {tainted:?}",
        pool_types(&plane)
    );
    assert!(after < before, "${after}/h is not below ${before}/h");
    assert!(
        !tainted.is_empty(),
        "no node was ever marked for a later command"
    );
    let running: BTreeSet<String> = running_inflate_pods(&plane)
        .into_iter()
        .map(|(pod, _)| pod)
        .collect();
    // A pod the ReplicaSet created for an evicted one that is gone again was
    // itself evicted.
    let evicted_again: Vec<&String> = seen
        .iter()
        .filter(|p| !survivors.contains(*p) && !running.contains(*p))
        .collect();
    assert!(
        evicted_again.is_empty(),
        "pods evicted a second time: {evicted_again:?}"
    );
}

/// Pods of the inflate Deployment with the deletion cost kerf wrote, as
/// (pod, cost) for those that carry one.
fn kerf_deletion_costs(plane: &kerf_testenv::ControlPlane) -> Vec<(String, String)> {
    inflate_pods(
        plane,
        &[],
        "{range .items[*]}{.metadata.name}={.metadata.annotations.kerf\\.sh/pod-deletion-cost}/{.metadata.annotations.controller\\.kubernetes\\.io/pod-deletion-cost}{\"\\n\"}{end}",
    )
    .lines()
    .filter_map(|l| l.split_once('='))
    .filter_map(|(pod, costs)| {
        let (ours, effective) = costs.split_once('/')?;
        (!ours.is_empty() && ours == effective).then(|| (pod.to_string(), ours.to_string()))
    })
    .collect()
}

/// kerf's default `PodDeletionCostManagement`: the nine pods of three full
/// m5.xlarge carry a deletion cost per node, so scaling the Deployment to
/// three deletes every pod of two nodes; emptiness removes those, and no
/// pod is evicted (the ReplicaSet's own spreading would leave one pod on
/// each node, and consolidation would evict two).
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_scale_down_empties_whole_nodes_and_evicts_nothing() {
    let plane = cluster(true).await;
    let controller = start_controller(&plane, false, &[]);
    let pool = node_pool("", "100%").replace(
        r#"["m5.large", "m5.xlarge", "m5.2xlarge", "m5.4xlarge"]"#,
        r#"["m5.xlarge"]"#,
    );
    apply(&plane, "nodepool.yaml", &pool);
    apply(&plane, "inflate.yaml", INFLATE);
    scale_inflate_until_running(&plane, 9, Duration::from_secs(180));
    let per_node = wait(
        &plane,
        "each of the 9 pods with kerf's deletion cost",
        Duration::from_secs(120),
        || {
            let costs = kerf_deletion_costs(&plane);
            (costs.len() == 9).then_some(costs)
        },
    );
    let placed: std::collections::BTreeMap<String, String> =
        running_inflate_pods(&plane).into_iter().collect();
    let mut cost_of_node = std::collections::BTreeMap::new();
    for (pod, cost) in &per_node {
        let node = placed.get(pod).expect("a running pod");
        let previous = cost_of_node.insert(node.clone(), cost.clone());
        assert!(
            previous.is_none_or(|p| &p == cost),
            "pods of {node} carry different costs: {per_node:?}"
        );
    }
    assert_eq!(cost_of_node.len(), 3, "{per_node:?} on {placed:?}");
    assert!(
        cost_of_node
            .values()
            .all(|c| c.parse::<i32>().is_ok_and(|c| c < 0)),
        "{cost_of_node:?}"
    );

    let survivors: BTreeSet<String> = {
        scale_inflate(&plane, 3);
        wait(&plane, "3 inflate pods", Duration::from_secs(60), || {
            let pods = lines(&inflate_pods(&plane, &[], "{.items[*].metadata.name}"));
            (pods.len() == 3).then(|| pods.into_iter().collect())
        })
    };
    let one_node = wait(
        &plane,
        "one m5.xlarge left with the 3 pods",
        Duration::from_secs(180),
        || {
            let nodes = pool_nodes(&plane);
            let running = running_inflate_pods(&plane);
            (nodes.len() == 1 && running.len() == 3 && claim_names(&plane).len() == 1)
                .then_some((nodes, running))
        },
    );
    eprintln!("{one_node:?}");
    let running: BTreeSet<String> = one_node.1.iter().map(|(p, _)| p.clone()).collect();
    assert_eq!(running, survivors, "pods were evicted and recreated");
    let (_, text) = http_get(controller.metrics_port, "/metrics").expect("metrics endpoint");
    assert!(
        metric(&text, "kerf_pod_deletion_cost_writes_total").is_some_and(|n| n >= 9.0),
        "{text}"
    );
}
