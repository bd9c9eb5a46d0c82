//! `kerf explain pod` on manifests, through the built binary: for each kind
//! of reason a pod stays pending (a label the pool does not carry, a taint,
//! a limit, a zone, a host port, a volume's zone, daemonset overhead, and
//! the ones decided among pods: spread and anti-affinity), the funnel names
//! the constraint and the figures a person needs to act on it (and the
//! volume a zone comes from); a placed pod gets its node, type and price,
//! and the cheaper types that lost; a pod on an existing node gets that
//! node's type, zone, price and pool.

use std::process::{Command, Output};

/// A NodePool (amd64, on-demand, two zones, m5 and c5) and its EC2NodeClass;
/// `pool_extra` is spliced into the NodePool's spec.
fn pool(pool_extra: &str, template_extra: &str) -> String {
    format!(
        r#"apiVersion: karpenter.sh/v1
kind: NodePool
metadata:
  name: general
spec:
  template:
    spec:
      nodeClassRef: {{group: karpenter.k8s.aws, kind: EC2NodeClass, name: default}}
      requirements:
        - {{key: kubernetes.io/arch, operator: In, values: [amd64]}}
        - {{key: karpenter.sh/capacity-type, operator: In, values: [on-demand]}}
        - {{key: topology.kubernetes.io/zone, operator: In, values: [us-east-1a, us-east-1b]}}
        - {{key: karpenter.k8s.aws/instance-family, operator: In, values: [m5, c5]}}
{template_extra}{pool_extra}---
apiVersion: karpenter.k8s.aws/v1
kind: EC2NodeClass
metadata:
  name: default
spec:
  role: KarpenterNodeRole-test
  amiSelectorTerms: [{{alias: al2023@latest}}]
  subnetSelectorTerms: [{{tags: {{karpenter.sh/discovery: test}}}}]
  securityGroupSelectorTerms: [{{tags: {{karpenter.sh/discovery: test}}}}]
"#
    )
}

/// A pod named `name` asking for `cpu`, with `spec_extra` spliced into its spec.
fn pod(name: &str, cpu: &str, spec_extra: &str) -> String {
    format!(
        r#"---
apiVersion: v1
kind: Pod
metadata:
  name: {name}
  namespace: default
  labels: {{app: web}}
spec:
{spec_extra}  containers:
    - name: app
      image: nginx
      resources: {{requests: {{cpu: "{cpu}", memory: 1Gi}}}}
"#
    )
}

/// `kerf explain pod default/<pod> --from <manifests>`: exit code and stdout.
fn explain(manifests: &str, pod: &str) -> (i32, String) {
    let dir = tempfile::tempdir().expect("temp dir");
    let file = dir.path().join("input.yaml");
    std::fs::write(&file, manifests).expect("write manifests");
    let out: Output = Command::new(env!("CARGO_BIN_EXE_kerf"))
        .args(["explain", "pod", &format!("default/{pod}"), "--from"])
        .arg(&file)
        .env_remove("RUST_LOG")
        .output()
        .expect("run kerf");
    let stdout = String::from_utf8_lossy(&out.stdout).into_owned();
    let stderr = String::from_utf8_lossy(&out.stderr);
    assert!(
        stderr.is_empty() || out.status.code() != Some(0),
        "{stderr}"
    );
    (out.status.code().unwrap_or(-1), stdout + &stderr)
}

/// The line of the funnel that left no type. Its words are the pod's reason
/// (the one `kerf simulate` prints and the FailedScheduling Event carries):
/// a person reads one sentence for one cause wherever they look.
fn emptied(text: &str) -> &str {
    let line = text
        .lines()
        .find(|l| l.trim_start().starts_with("no instance type left:"))
        .unwrap_or_else(|| panic!("no emptied line:\n{text}"));
    let words = line
        .trim_start()
        .trim_start_matches("no instance type left: ");
    let reason = text.lines().next().unwrap_or_default();
    assert!(
        reason.contains(&format!("nodepool general: {words}")),
        "the pod's reason and the funnel differ:\n{text}"
    );
    line
}

#[test]
fn a_placed_pod_gets_its_node_type_price_and_the_cheaper_types_that_lost() {
    let (code, text) = explain(&(pool("", "") + &pod("web", "500m", "")), "web");
    assert_eq!(code, 0, "{text}");
    let first = text.lines().next().unwrap_or_default();
    assert!(
        first.starts_with("pod default/web: placed on new node") && first.contains("on-demand"),
        "{text}"
    );
    assert!(text.contains("nodepool general:"), "{text}");
    assert!(text.contains("cheapest fit: c5.large on-demand"), "{text}");
    // t3 types are cheaper but out of the pool's families.
    assert!(
        text.contains("cheaper, but out at karpenter.k8s.aws/instance-family In [c5, m5]: t3."),
        "{text}"
    );
}

#[test]
fn a_label_the_pool_does_not_carry() {
    let input = pool("", "") + &pod("web", "500m", "  nodeSelector: {team: data}\n");
    let (_, text) = explain(&input, "web");
    assert!(text.starts_with("pod default/web: unschedulable"), "{text}");
    let line = emptied(&text);
    assert!(
        line.contains("team In [data], a label the pool's nodes do not carry"),
        "{line}"
    );
}

#[test]
fn a_zone_the_pool_does_not_allow() {
    let input = pool("", "")
        + &pod(
            "web",
            "500m",
            "  nodeSelector: {topology.kubernetes.io/zone: us-east-1c}\n",
        );
    let (_, text) = explain(&input, "web");
    let line = emptied(&text);
    assert!(
        line.contains("requires topology.kubernetes.io/zone In [us-east-1c]")
            && line.contains("allows only topology.kubernetes.io/zone In [us-east-1a, us-east-1b]"),
        "{line}"
    );
}

#[test]
fn a_taint_not_tolerated() {
    let taint = "      taints: [{key: dedicated, value: gpu, effect: NoSchedule}]\n";
    let input = pool("", taint) + &pod("web", "500m", "");
    let (_, text) = explain(&input, "web");
    // The funnel's counts are right-aligned to the widest (the catalogue's size).
    assert!(
        text.lines().any(|l| l.trim_start().starts_with('→')
            && l.split_whitespace().collect::<Vec<_>>()[1..]
                == ["0", "taint", "dedicated=gpu:NoSchedule"]),
        "{text}"
    );
    assert!(
        emptied(&text).contains(
            "taint dedicated=gpu:NoSchedule not tolerated: add a toleration for it to the pod"
        ),
        "{text}"
    );
}

#[test]
fn a_limit_with_its_figures() {
    let limits = "  limits:\n    cpu: \"1\"\n";
    let input = pool(limits, "") + &pod("web", "500m", "");
    let (_, text) = explain(&input, "web");
    let line = emptied(&text);
    assert!(
        line.contains("limits {cpu=1} leave too little, with nothing in use by the pool's nodes")
            && line.contains("the smallest type that fits the pod, c5.large, has {cpu=2"),
        "{line}"
    );
}

#[test]
fn requests_no_type_holds() {
    let input = pool("", "") + &pod("big", "200", "");
    let (_, text) = explain(&input, "big");
    let line = emptied(&text);
    assert!(
        line.contains("the pod asks for 200 cpu but the largest instance type, m5.metal"),
        "{line}"
    );
}

#[test]
fn daemonset_overhead_takes_the_room() {
    // 3.5 cores of daemons: a 4-core pod fits no 4-core type, and the pool
    // allows only xlarge (4 cores) here.
    let daemon = r#"---
apiVersion: apps/v1
kind: DaemonSet
metadata: {name: agent, namespace: kube-system}
spec:
  selector: {matchLabels: {app: agent}}
  template:
    metadata: {labels: {app: agent}}
    spec:
      containers: [{name: a, image: agent, resources: {requests: {cpu: 3500m}}}]
"#;
    let size = "        - {key: karpenter.k8s.aws/instance-size, operator: In, values: [xlarge]}\n";
    let input = pool("", size) + daemon + &pod("web", "1", "");
    let (_, text) = explain(&input, "web");
    let line = emptied(&text);
    assert!(
        line.contains("the pod asks for 1 cpu")
            && line.contains("of which its daemonsets take 3500m"),
        "{line}"
    );
}

#[test]
fn a_host_port_a_daemonset_binds() {
    let daemon = r#"---
apiVersion: apps/v1
kind: DaemonSet
metadata: {name: proxy, namespace: kube-system}
spec:
  selector: {matchLabels: {app: proxy}}
  template:
    metadata: {labels: {app: proxy}}
    spec:
      containers: [{name: p, image: proxy, ports: [{containerPort: 8080, hostPort: 8080}]}]
"#;
    let web = r#"---
apiVersion: v1
kind: Pod
metadata: {name: web, namespace: default}
spec:
  containers:
    - name: s
      image: s
      ports: [{containerPort: 8080, hostPort: 8080}]
      resources: {requests: {cpu: 500m}}
"#;
    let input = pool("", "") + daemon + web;
    let (_, text) = explain(&input, "web");
    assert!(
        emptied(&text)
            .contains("host port 0.0.0.0:8080/TCP is taken by daemonset kube-system/proxy on every instance type"),
        "{text}"
    );
}

#[test]
fn a_volume_in_a_zone_the_pool_does_not_allow() {
    let volume = r#"---
apiVersion: v1
kind: PersistentVolume
metadata: {name: data}
spec:
  capacity: {storage: 10Gi}
  accessModes: [ReadWriteOnce]
  claimRef: {namespace: default, name: data}
  nodeAffinity:
    required:
      nodeSelectorTerms:
        - matchExpressions: [{key: topology.kubernetes.io/zone, operator: In, values: [us-east-1d]}]
---
apiVersion: v1
kind: PersistentVolumeClaim
metadata: {name: data, namespace: default}
spec:
  accessModes: [ReadWriteOnce]
  volumeName: data
  resources: {requests: {storage: 10Gi}}
"#;
    let mount = "  volumes: [{name: data, persistentVolumeClaim: {claimName: data}}]\n";
    let input = pool("", "") + volume + &pod("db", "500m", mount);
    let (_, text) = explain(&input, "db");
    assert!(
        emptied(&text).contains("requires topology.kubernetes.io/zone In [us-east-1d]"),
        "{text}"
    );
    // The funnel says where the requirement comes from: the claim and its PV.
    assert_eq!(
        from_volume(&text),
        "the pod's requirement on topology.kubernetes.io/zone comes from PVC default/data, \
         bound to PV data, which requires topology.kubernetes.io/zone In [us-east-1d]",
        "{text}"
    );
}

/// The funnel's line after the one that left no type: where the pod's
/// volumes put the requirement that emptied it.
fn from_volume(text: &str) -> &str {
    let mut lines = text.lines().map(str::trim);
    lines
        .find(|l| l.starts_with("no instance type left:"))
        .and_then(|_| lines.next())
        .filter(|l| l.starts_with("the pod's requirement on"))
        .unwrap_or_else(|| panic!("no volume named after the emptied line:\n{text}"))
}

#[test]
fn a_storage_class_in_a_zone_the_pool_does_not_allow() {
    let class = r#"---
apiVersion: storage.k8s.io/v1
kind: StorageClass
metadata: {name: zonal}
provisioner: ebs.csi.aws.com
volumeBindingMode: WaitForFirstConsumer
allowedTopologies:
  - matchLabelExpressions: [{key: topology.kubernetes.io/zone, values: [us-east-1d]}]
---
apiVersion: v1
kind: PersistentVolumeClaim
metadata: {name: fresh, namespace: default}
spec:
  accessModes: [ReadWriteOnce]
  storageClassName: zonal
  resources: {requests: {storage: 10Gi}}
"#;
    let mount = "  volumes: [{name: data, persistentVolumeClaim: {claimName: fresh}}]\n";
    let input = pool("", "") + class + &pod("db", "500m", mount);
    let (_, text) = explain(&input, "db");
    assert!(
        emptied(&text).contains("requires topology.kubernetes.io/zone In [us-east-1d]"),
        "{text}"
    );
    assert_eq!(
        from_volume(&text),
        "the pod's requirement on topology.kubernetes.io/zone comes from PVC default/fresh, \
         whose StorageClass zonal allows only topology.kubernetes.io/zone In [us-east-1d] \
         (allowedTopologies)",
        "{text}"
    );
}

#[test]
fn spread_and_anti_affinity_are_the_schedulers_verdict() {
    // Two pods that may not share a zone's hostname... and may not share a
    // node, with room for one node per zone: the funnel passes, the verdict
    // says why.
    let anti = r#"  affinity:
    podAntiAffinity:
      requiredDuringSchedulingIgnoredDuringExecution:
        - labelSelector: {matchLabels: {app: web}}
          topologyKey: topology.kubernetes.io/zone
"#;
    let input = pool("", "")
        + &pod("web-1", "500m", anti)
        + &pod("web-2", "500m", anti)
        + &pod("web-3", "500m", anti);
    let (code, text) = explain(&input, "web-3");
    assert_eq!(code, 0, "{text}");
    assert!(text.contains("cheapest fit:"), "the funnel passes: {text}");
    let first = text.lines().next().unwrap_or_default();
    assert!(
        first.starts_with("pod default/web-3: unschedulable") && first.contains("anti-affinity"),
        "{text}"
    );
}

#[test]
fn an_unknown_pod_is_bad_input() {
    let (code, text) = explain(&(pool("", "") + &pod("web", "500m", "")), "nope");
    assert_eq!(code, 2);
    assert!(text.contains("pod default/nope: not found"), "{text}");
}

#[test]
fn a_limit_used_up_by_planned_nodes_says_so() {
    // Each 3-core pod needs a 4-core node (xlarge): the first uses the limit.
    let limits = "  limits:\n    cpu: \"6\"\n";
    let input = pool(limits, "") + &pod("web-1", "3", "") + &pod("web-2", "3", "");
    let (_, text) = explain(&input, "web-2");
    let first = text.lines().next().unwrap_or_default();
    assert!(
        first.contains(
            "limits {cpu=6} leave too little, with nothing in use by the pool's nodes \
             and {cpu=4} by nodes planned now"
        ),
        "{text}"
    );
}

/// A Ready, initialized Node `name` of `type_` on-demand in us-east-1a
/// (labelled as the pool requires, so it has not drifted), launched for the
/// pool `general` when `managed`, with one 1500m pod `web` bound to it.
fn node_with_web(name: &str, type_: &str, managed: bool) -> String {
    let pool = if managed {
        "    karpenter.sh/nodepool: general\n    karpenter.sh/initialized: \"true\"\n"
    } else {
        ""
    };
    let family = type_.split('.').next().unwrap_or(type_);
    format!(
        r#"---
apiVersion: v1
kind: Node
metadata:
  name: {name}
  labels:
{pool}    node.kubernetes.io/instance-type: {type_}
    karpenter.k8s.aws/instance-family: {family}
    karpenter.sh/capacity-type: on-demand
    topology.kubernetes.io/zone: us-east-1a
    kubernetes.io/arch: amd64
    kubernetes.io/os: linux
status:
  capacity: {{cpu: "2", memory: 4Gi, pods: "29"}}
  allocatable: {{cpu: 1930m, memory: 3Gi, pods: "29"}}
  conditions: [{{type: Ready, status: "True"}}]
---
apiVersion: v1
kind: Pod
metadata: {{name: web, namespace: default}}
spec:
  nodeName: {name}
  containers: [{{name: app, image: nginx, resources: {{requests: {{cpu: 1500m, memory: 1Gi}}}}}}]
status: {{phase: Running}}
"#
    )
}

#[test]
fn a_pod_on_an_existing_node_gets_the_nodes_type_zone_price_and_pool() {
    let input = pool("", "") + &node_with_web("ip-10-0-1-10", "c5.large", true);
    let (code, text) = explain(&input, "web");
    assert_eq!(code, 0, "{text}");
    assert_eq!(
        text.lines().next().unwrap_or_default(),
        "pod default/web: placed on existing node ip-10-0-1-10 \
         (c5.large on-demand in us-east-1a, $0.0850/h, nodepool general)",
        "{text}"
    );
    // A type kerf has no price for, on a node no pool launched: said, not $0.
    let input = pool("", "") + &node_with_web("ip-10-0-1-11", "x9.huge", false);
    let (code, text) = explain(&input, "web");
    assert_eq!(code, 0, "{text}");
    assert_eq!(
        text.lines().next().unwrap_or_default(),
        "pod default/web: placed on existing node ip-10-0-1-11 \
         (x9.huge on-demand in us-east-1a, price unknown)",
        "{text}"
    );
}

#[test]
fn a_node_no_cheaper_type_replaces_names_the_best_replacement() {
    // c5.large is the cheapest type of the pool that holds the pod: the
    // replacement would cost what the node does.
    let dir = tempfile::tempdir().expect("temp dir");
    let file = dir.path().join("input.yaml");
    let input = pool("", "") + &node_with_web("ip-10-0-1-10", "c5.large", true);
    std::fs::write(&file, input).expect("write manifests");
    let out = Command::new(env!("CARGO_BIN_EXE_kerf"))
        .args(["explain", "node", "ip-10-0-1-10", "--from"])
        .arg(&file)
        .env_remove("RUST_LOG")
        .output()
        .expect("run kerf");
    let text =
        String::from_utf8_lossy(&out.stdout).into_owned() + &String::from_utf8_lossy(&out.stderr);
    assert_eq!(out.status.code(), Some(0), "{text}");
    assert_eq!(
        text.trim(),
        "node ip-10-0-1-10: kept: no cheaper fit: the best replacement, \
         c5.large on-demand in us-east-1a, costs $0.0850/h against $0.0850/h now"
    );
}

/// `kerf explain node NAME --from examples/consolidation [-o json]`.
fn explain_node(node: &str, json: bool) -> (i32, String) {
    let example =
        std::path::Path::new(env!("CARGO_MANIFEST_DIR")).join("../../examples/consolidation");
    let mut cmd = Command::new(env!("CARGO_BIN_EXE_kerf"));
    cmd.args(["explain", "node", node, "--from"]).arg(example);
    if json {
        cmd.args(["-o", "json"]);
    }
    let out = cmd.env_remove("RUST_LOG").output().expect("run kerf");
    let text =
        String::from_utf8_lossy(&out.stdout).into_owned() + &String::from_utf8_lossy(&out.stderr);
    (out.status.code().unwrap_or(-1), text)
}

#[test]
fn a_node_disruption_removes_gets_its_command() {
    let (code, text) = explain_node("ip-10-0-2-20.ec2.internal", false);
    assert_eq!(code, 0, "{text}");
    assert!(
        text.starts_with(
            "node ip-10-0-2-20.ec2.internal: removed by command 2: multi-node consolidation (Underutilized)"
        ),
        "{text}"
    );
    assert!(
        text.contains("together with ip-10-0-1-10.ec2.internal"),
        "{text}"
    );
    assert!(text.contains("launching m5.2xlarge spot"), "{text}");
    let (_, text) = explain_node("ip-10-0-3-30.ec2.internal", true);
    let v: serde_json::Value = serde_json::from_str(&text).expect("json");
    assert_eq!(v["outcome"], "disrupted");
    assert_eq!(v["command"]["method"], "Emptiness");
    assert_eq!(v["round"], 1);
}

#[test]
fn a_kept_node_says_what_keeps_it() {
    let (_, text) = explain_node("ip-10-0-1-40.ec2.internal", false);
    assert_eq!(
        text.trim(),
        "node ip-10-0-1-40.ec2.internal: kept: pod default/report-0 has karpenter.sh/do-not-disrupt"
    );
    let (_, text) = explain_node("ip-10-0-2-50.ec2.internal", false);
    assert!(
        text.contains(
            "kept: PodDisruptionBudget default/ledger allows no eviction of pod default/ledger-0"
        ),
        "{text}"
    );
    let (code, text) = explain_node("nope", false);
    assert_eq!(code, 2);
    assert!(text.contains("node nope: not found"), "{text}");
}

/// The `--aws-*` flags only mean something with `--aws`: alone they are
/// refused, naming the flag they need, rather than accepted and ignored.
#[test]
fn aws_flags_without_aws_are_refused() {
    let dir = tempfile::tempdir().expect("temp dir");
    let file = dir.path().join("input.yaml");
    std::fs::write(&file, pool("", "") + &pod("web", "500m", "")).expect("write manifests");
    let out = Command::new(env!("CARGO_BIN_EXE_kerf"))
        .args([
            "explain",
            "pod",
            "default/web",
            "--aws-region",
            "us-east-1",
            "--from",
        ])
        .arg(&file)
        .output()
        .expect("run kerf");
    assert_eq!(out.status.code(), Some(2));
    let stderr = String::from_utf8_lossy(&out.stderr);
    assert!(
        stderr.contains("--aws-region") && stderr.contains("--aws"),
        "{stderr}"
    );
}
