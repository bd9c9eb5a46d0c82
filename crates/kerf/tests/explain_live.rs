//! `kerf explain` against a live cluster (the real control plane with kwok
//! and the kerf controller): the cluster is read as kubectl would (here
//! `--kubeconfig`), a pod the controller placed is explained by its node, a
//! pending one by the constraint no pool satisfies, and a node by what
//! disruption would do with it. For every kind of reason a pod stays
//! pending (a label, a taint, a limit, a zone, a host port, a volume's zone,
//! daemonset overhead, a spread, affinity and anti-affinity), the reason
//! names its cause and is, word for word, the one of the controller's
//! `FailedScheduling` Event on the pod; and for every keep reason of a node
//! (do-not-disrupt, a PDB, a budget of 0, consolidateAfter not passed), the
//! node's explanation says it. Fails (never skips) when the control-plane
//! binaries are missing.

mod common;

use std::collections::BTreeMap;
use std::process::Command;
use std::time::{Duration, Instant};

use common::*;

fn explain(plane: &kerf_testenv::ControlPlane, args: &[&str]) -> (i32, String) {
    let out = Command::new(env!("CARGO_BIN_EXE_kerf"))
        .arg("explain")
        .args(args)
        .arg("--kubeconfig")
        .arg(plane.kubeconfig_path())
        .env_remove("RUST_LOG")
        .output()
        .expect("run kerf");
    let text =
        String::from_utf8_lossy(&out.stdout).into_owned() + &String::from_utf8_lossy(&out.stderr);
    (out.status.code().unwrap_or(-1), text)
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn explain_reads_the_live_cluster() {
    let plane = cluster(true).await;
    let _controller = start_controller(&plane, false, &[]);
    apply_seed(&plane);
    scale_inflate(&plane, 1);
    let (pod, node) = wait(
        &plane,
        "1 inflate pod Running",
        Duration::from_secs(120),
        || running_inflate_pods(&plane).into_iter().next(),
    );

    let (code, text) = explain(&plane, &["pod", &format!("default/{pod}")]);
    assert_eq!(code, 0, "{text}");
    assert!(
        text.starts_with(&format!(
            "pod default/{pod}: placed on existing node {node}"
        )),
        "{text}"
    );

    let pending = write(
        plane.dir(),
        "pending.yaml",
        "apiVersion: v1\nkind: Pod\nmetadata: {name: picky, namespace: default}\nspec:\n  nodeSelector: {team: data}\n  containers: [{name: c, image: pause, resources: {requests: {cpu: 100m}}}]\n",
    );
    kubectl(&plane, &["apply", "-f", pending.to_str().expect("utf-8")]);
    let (code, text) = explain(&plane, &["pod", "default/picky"]);
    assert_eq!(code, 0, "{text}");
    assert!(
        text.starts_with("pod default/picky: unschedulable"),
        "{text}"
    );
    assert!(
        text.contains("the pod requires team In [data], a label the pool's nodes do not carry"),
        "{text}"
    );

    // The seed Provisioner's ttlSecondsAfterEmpty: 30 is WhenEmpty after
    // 30s: the busy node stays for the policy, whatever time is left (as
    // Karpenter checks the policy before consolidateAfter).
    let (code, text) = explain(&plane, &["node", &node]);
    assert_eq!(code, 0, "{text}");
    assert_eq!(
        text.trim(),
        format!("node {node}: kept: consolidationPolicy is WhenEmpty and it has pods")
    );

    let (code, text) = explain(&plane, &["pod", "default/nope"]);
    assert_eq!(code, 2, "{text}");
    assert!(text.contains("pod default/nope: not found"), "{text}");

    // The same control plane, now with a pool for each cause: the pending
    // pods' reasons, and the nodes kept for each keep reason.
    every_reason(&plane);
}

/// The pools a pending pod is refused by, one cause each, and the pools
/// whose nodes stay; the daemons, the volume and the PDB. Every pool allows
/// only us-east-1a and us-east-1b (the seed Provisioner only us-east-1c),
/// and a pod meant for one pool selects it by `karpenter.sh/nodepool`, so
/// no other pool (nor an existing node) takes it. `general` launches the
/// nodes a pod's do-not-disrupt, a PDB, and its budget of 0 keep; `later`
/// one its consolidateAfter keeps. The proxy daemon binds a host port on
/// every node; the agent daemon takes 3500m of each node of `tainted`.
const POOLS: &str = r#"apiVersion: karpenter.k8s.aws/v1
kind: EC2NodeClass
metadata: {name: default}
spec:
  role: KarpenterNodeRole-kerf-test
  amiSelectorTerms: [{alias: al2023@latest}]
  subnetSelectorTerms: [{tags: {karpenter.sh/discovery: kerf-test}}]
  securityGroupSelectorTerms: [{tags: {karpenter.sh/discovery: kerf-test}}]
---
apiVersion: karpenter.sh/v1
kind: NodePool
metadata: {name: general}
spec:
  disruption:
    consolidationPolicy: WhenEmptyOrUnderutilized
    consolidateAfter: 0s
    budgets: [{nodes: "0"}]
  template:
    spec:
      nodeClassRef: {group: karpenter.k8s.aws, kind: EC2NodeClass, name: default}
      requirements:
        - {key: topology.kubernetes.io/zone, operator: In, values: [us-east-1a, us-east-1b]}
        - {key: node.kubernetes.io/instance-type, operator: In, values: [m5.large]}
---
apiVersion: karpenter.sh/v1
kind: NodePool
metadata: {name: later}
spec:
  disruption:
    consolidationPolicy: WhenEmptyOrUnderutilized
    consolidateAfter: 1h
  template:
    spec:
      nodeClassRef: {group: karpenter.k8s.aws, kind: EC2NodeClass, name: default}
      requirements:
        - {key: topology.kubernetes.io/zone, operator: In, values: [us-east-1a, us-east-1b]}
        - {key: node.kubernetes.io/instance-type, operator: In, values: [m5.large]}
---
apiVersion: karpenter.sh/v1
kind: NodePool
metadata: {name: limited}
spec:
  limits: {cpu: "1"}
  template:
    spec:
      nodeClassRef: {group: karpenter.k8s.aws, kind: EC2NodeClass, name: default}
      requirements:
        - {key: topology.kubernetes.io/zone, operator: In, values: [us-east-1a, us-east-1b]}
        - {key: node.kubernetes.io/instance-type, operator: In, values: [m5.large]}
---
apiVersion: karpenter.sh/v1
kind: NodePool
metadata: {name: tainted}
spec:
  template:
    spec:
      nodeClassRef: {group: karpenter.k8s.aws, kind: EC2NodeClass, name: default}
      taints: [{key: dedicated, value: gpu, effect: NoSchedule}]
      requirements:
        - {key: topology.kubernetes.io/zone, operator: In, values: [us-east-1a, us-east-1b]}
        - {key: node.kubernetes.io/instance-type, operator: In, values: [m5.xlarge]}
---
apiVersion: apps/v1
kind: DaemonSet
metadata: {name: proxy, namespace: kube-system}
spec:
  selector: {matchLabels: {app: proxy}}
  template:
    metadata: {labels: {app: proxy}}
    spec:
      containers: [{name: p, image: proxy, ports: [{containerPort: 8080, hostPort: 8080}]}]
---
apiVersion: apps/v1
kind: DaemonSet
metadata: {name: agent, namespace: kube-system}
spec:
  selector: {matchLabels: {app: agent}}
  template:
    metadata: {labels: {app: agent}}
    spec:
      nodeSelector: {karpenter.sh/nodepool: tainted}
      tolerations: [{key: dedicated, operator: Exists}]
      containers: [{name: a, image: agent, resources: {requests: {cpu: 3500m}}}]
---
apiVersion: v1
kind: PersistentVolume
metadata: {name: data}
spec:
  capacity: {storage: 10Gi}
  accessModes: [ReadWriteOnce]
  storageClassName: ""
  claimRef: {namespace: default, name: data}
  hostPath: {path: /tmp/data}
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
  storageClassName: ""
  volumeName: data
  resources: {requests: {storage: 10Gi}}
---
apiVersion: policy/v1
kind: PodDisruptionBudget
metadata: {name: guard, namespace: default}
spec:
  minAvailable: 1
  selector: {matchLabels: {app: guarded}}
"#;

/// A pod in `default` asking for `cpu`, with `meta_extra` spliced into its
/// metadata and `spec_extra` into its spec.
fn pod(name: &str, cpu: &str, meta_extra: &str, spec_extra: &str) -> String {
    format!(
        "---\napiVersion: v1\nkind: Pod\nmetadata:\n  name: {name}\n  namespace: default\n{meta_extra}\
         spec:\n  terminationGracePeriodSeconds: 0\n{spec_extra}  containers:\n    - name: c\n      \
         image: pause\n      resources: {{requests: {{cpu: {cpu}}}}}\n"
    )
}

/// The messages of the `FailedScheduling` Events kerf (not kube-scheduler)
/// wrote on a pod.
fn kerf_failed_scheduling(plane: &kerf_testenv::ControlPlane, pod: &str) -> Vec<String> {
    let out = kubectl(
        plane,
        &[
            "get",
            "events",
            "--field-selector",
            &format!("involvedObject.name={pod},reason=FailedScheduling"),
            "-o",
            "json",
        ],
    );
    let events: serde_json::Value = serde_json::from_str(&out).expect("events as JSON");
    events["items"]
        .as_array()
        .into_iter()
        .flatten()
        .filter(|e| e["reportingComponent"] == "kerf")
        .filter_map(|e| e["message"].as_str().map(str::to_string))
        .collect()
}

/// The funnel of `pool` (`nodepool NAME` or `provisioner NAME`) in
/// `kerf explain pod`'s text.
fn funnel<'a>(text: &'a str, pool: &str) -> &'a str {
    let funnel = text
        .split(&format!("\n{pool}:\n"))
        .nth(1)
        .unwrap_or_else(|| panic!("no funnel for {pool}:\n{text}"));
    funnel.split("\n\n").next().unwrap_or_default()
}

/// `kerf explain pod default/<pod>` on a pod kerf cannot place: its reason
/// (the first line's, after `unschedulable: `) and the whole text. Waits for
/// the controller's `FailedScheduling` Event on the pod and asserts that it
/// carries the same reason.
fn pending(plane: &kerf_testenv::ControlPlane, pod: &str) -> (String, String) {
    let (code, text) = explain(plane, &["pod", &format!("default/{pod}")]);
    assert_eq!(code, 0, "{text}");
    let first = text.lines().next().unwrap_or_default();
    let reason = first
        .strip_prefix(&format!("pod default/{pod}: unschedulable: "))
        .unwrap_or_else(|| panic!("not unschedulable:\n{text}"))
        .to_string();
    // The Event's note is cut at 1024 characters (the API's limit).
    let expected: String = format!("cannot schedule: {reason}")
        .chars()
        .take(1024)
        .collect();
    let deadline = Instant::now() + Duration::from_secs(30);
    loop {
        let seen = kerf_failed_scheduling(plane, pod);
        if seen.contains(&expected) {
            break;
        }
        assert!(
            Instant::now() < deadline,
            "no kerf FailedScheduling Event on {pod} says\n  {expected}\nseen: {seen:#?}"
        );
        std::thread::sleep(Duration::from_millis(500));
    }
    (reason, text)
}

/// `kerf explain node <node>` once the node's claim is initialized: the
/// reason it is kept (after `kept: `).
fn kept(plane: &kerf_testenv::ControlPlane, node: &str) -> String {
    let deadline = Instant::now() + Duration::from_secs(30);
    loop {
        let (code, text) = explain(plane, &["node", node]);
        assert_eq!(code, 0, "{text}");
        let reason = text
            .trim()
            .strip_prefix(&format!("node {node}: kept: "))
            .unwrap_or_else(|| panic!("not kept:\n{text}"))
            .to_string();
        if reason != "not initialized yet" {
            return reason;
        }
        assert!(Instant::now() < deadline, "{node} never initialized");
        std::thread::sleep(Duration::from_millis(250));
    }
}

fn apply(plane: &kerf_testenv::ControlPlane, name: &str, yaml: &str) {
    let path = write(plane.dir(), name, yaml);
    kubectl(plane, &["apply", "-f", path.to_str().expect("utf-8")]);
}

/// A pending pod and what its reason must say: for each pool named
/// (`nodepool NAME` or `provisioner NAME`), words its part of the reason
/// holds. A pool's funnel either emptied, in the same words, or (for the
/// constraints decided among pods) passes, and the scheduler's verdict
/// refuses the pod.
struct Case {
    pod: &'static str,
    says: &'static [(&'static str, &'static str)],
    funnel_passes: bool,
}

const CASES: &[Case] = &[
    Case {
        pod: "picky",
        says: &[(
            "provisioner default",
            "the pod requires team In [data], a label the pool's nodes do not carry",
        )],
        funnel_passes: false,
    },
    Case {
        pod: "tainty",
        says: &[(
            "nodepool tainted",
            "taint dedicated=gpu:NoSchedule not tolerated: add a toleration for it to the pod",
        )],
        funnel_passes: false,
    },
    Case {
        pod: "limity",
        says: &[(
            "nodepool limited",
            "limits {cpu=1} leave too little, with nothing in use by the pool's nodes \
             (the smallest type that fits the pod, m5.large, has {cpu=2",
        )],
        funnel_passes: false,
    },
    Case {
        pod: "zoney",
        says: &[
            (
                "nodepool general",
                "the pod requires topology.kubernetes.io/zone In [us-east-1d] but the pool \
                 allows only topology.kubernetes.io/zone In [us-east-1a, us-east-1b]",
            ),
            (
                "provisioner default",
                "the pod requires topology.kubernetes.io/zone In [us-east-1d] but the pool \
                 allows only topology.kubernetes.io/zone In [us-east-1c]",
            ),
        ],
        funnel_passes: false,
    },
    Case {
        pod: "porty",
        says: &[(
            "nodepool limited",
            "host port 0.0.0.0:8080/TCP is taken by daemonset kube-system/proxy on every instance type",
        )],
        funnel_passes: false,
    },
    Case {
        pod: "volumey",
        says: &[(
            "nodepool general",
            "the pod requires topology.kubernetes.io/zone In [us-east-1d] but the pool \
             allows only topology.kubernetes.io/zone In [us-east-1a, us-east-1b]",
        )],
        funnel_passes: false,
    },
    Case {
        pod: "daemony",
        says: &[(
            "nodepool tainted",
            "the pod asks for 1 cpu but the largest instance type, m5.xlarge, \
             has 3920m allocatable, of which its daemonsets take 3500m",
        )],
        funnel_passes: false,
    },
    Case {
        pod: "spready",
        says: &[(
            "nodepool general",
            "node has no example.com/rack label for the pod's topology constraints",
        )],
        funnel_passes: true,
    },
    Case {
        pod: "affiny",
        says: &[(
            "nodepool general",
            "pod affinity on kubernetes.io/hostname: no matching pod on a new node",
        )],
        funnel_passes: true,
    },
    Case {
        pod: "shy",
        says: &[(
            "provisioner default",
            "pod anti-affinity on topology.kubernetes.io/zone: \
             a matching pod is already in us-east-1c",
        )],
        funnel_passes: true,
    },
];

/// The part of a pod's reason for `pool`: the scheduler joins the pools'
/// reasons with "; ", so a part ends where the next pool's name starts.
fn part<'a>(reason: &'a str, pool: &str) -> Option<&'a str> {
    let start = format!("{pool}: ");
    let rest = if reason.starts_with(&start) {
        &reason[start.len()..]
    } else {
        let at = reason.find(&format!("; {start}"))?;
        &reason[at + 2 + start.len()..]
    };
    let end = ["; nodepool ", "; provisioner "]
        .iter()
        .filter_map(|next| rest.find(next))
        .min()
        .unwrap_or(rest.len());
    Some(&rest[..end])
}

/// Runs a [`Case`].
fn check(plane: &kerf_testenv::ControlPlane, case: &Case) {
    let (reason, text) = pending(plane, case.pod);
    for (pool, says) in case.says {
        let part = part(&reason, pool).unwrap_or_else(|| panic!("no reason for {pool}:\n{text}"));
        assert!(part.contains(says), "{pool}: {says}\n{text}");
        let funnel = funnel(&text, pool);
        let emptied = funnel
            .lines()
            .find_map(|l| l.trim_start().strip_prefix("no instance type left: "));
        if case.funnel_passes {
            assert!(
                emptied.is_none() && funnel.contains("cheapest fit:"),
                "{pool}'s funnel passes:\n{text}"
            );
        } else {
            assert_eq!(
                emptied,
                Some(part),
                "{pool}: the funnel and the reason:\n{text}"
            );
        }
    }
}

/// The pending pods of [`CASES`] (but `picky`, applied before).
fn pending_pods() -> String {
    let tolerate = "  tolerations: [{key: dedicated, operator: Exists}]\n";
    let pods = [
        pod(
            "tainty",
            "100m",
            "",
            "  nodeSelector: {karpenter.sh/nodepool: tainted}\n",
        ),
        pod(
            "limity",
            "100m",
            "",
            "  nodeSelector: {karpenter.sh/nodepool: limited}\n",
        ),
        // A zone no pool allows (nor any node is in).
        pod(
            "zoney",
            "100m",
            "",
            "  nodeSelector: {topology.kubernetes.io/zone: us-east-1d}\n",
        ),
        // The proxy daemon's host port, asked for in the limited pool: its
        // funnel meets the port before the limits (and no node is in it).
        pod(
            "porty",
            "100m",
            "",
            "  nodeSelector: {karpenter.sh/nodepool: limited}\n",
        )
        .replace(
            "      resources:",
            "      ports: [{containerPort: 8080, hostPort: 8080}]\n      resources:",
        ),
        // A claim bound to a volume in us-east-1d.
        pod(
            "volumey",
            "100m",
            "",
            "  volumes: [{name: data, persistentVolumeClaim: {claimName: data}}]\n",
        ),
        // The agent daemon takes 3500m of m5.xlarge's 3920m.
        pod(
            "daemony",
            "1",
            "",
            &format!("  nodeSelector: {{karpenter.sh/nodepool: tainted}}\n{tolerate}"),
        ),
        // A spread over a label no node carries: DoNotSchedule refuses every node.
        pod(
            "spready",
            "100m",
            "  labels: {app: spready}\n",
            "  topologySpreadConstraints:\n    - {maxSkew: 1, topologyKey: example.com/rack, \
             whenUnsatisfiable: DoNotSchedule, labelSelector: {matchLabels: {app: spready}}}\n",
        ),
        // Required affinity to pods that do not exist.
        pod(
            "affiny",
            "100m",
            "",
            "  affinity:\n    podAffinity:\n      requiredDuringSchedulingIgnoredDuringExecution:\n\
             \x20       - labelSelector: {matchLabels: {app: cache}}\n\
             \x20         topologyKey: kubernetes.io/hostname\n",
        ),
        // Required anti-affinity to the inflate pod, in its zone (the only
        // one the seed Provisioner allows).
        pod(
            "shy",
            "100m",
            "",
            "  nodeSelector: {topology.kubernetes.io/zone: us-east-1c}\n  affinity:\n    \
             podAntiAffinity:\n      requiredDuringSchedulingIgnoredDuringExecution:\n\
             \x20       - labelSelector: {matchLabels: {app: inflate}}\n\
             \x20         topologyKey: topology.kubernetes.io/zone\n",
        ),
    ];
    pods.concat()
}

/// The pods whose nodes stay, 1500m each so that each has its own m5.large:
/// one with do-not-disrupt, one a PDB protects, one in a pool whose budget
/// is 0, one in a pool whose consolidateAfter (1h) has not passed.
fn staying_pods() -> String {
    let general = "  nodeSelector: {karpenter.sh/nodepool: general}\n";
    let pods = [
        pod(
            "keeper",
            "1500m",
            "  annotations: {karpenter.sh/do-not-disrupt: \"true\"}\n",
            general,
        ),
        pod("guarded", "1500m", "  labels: {app: guarded}\n", general),
        pod("plain", "1500m", "", general),
        pod(
            "idle",
            "1500m",
            "",
            "  nodeSelector: {karpenter.sh/nodepool: later}\n",
        ),
    ];
    pods.concat()
}

/// Every kind of reason a pod stays pending, explained in the live cluster
/// in the words of kerf's Event on the pod; and every keep reason of a
/// node. The cases run side by side (each `kerf explain` reads the whole
/// cluster and plans it).
fn every_reason(plane: &kerf_testenv::ControlPlane) {
    apply(plane, "pools.yaml", POOLS);
    apply(plane, "staying-pods.yaml", &staying_pods());
    apply(plane, "pending-pods.yaml", &pending_pods());
    std::thread::scope(|scope| {
        for case in CASES {
            scope.spawn(move || check(plane, case));
        }
        scope.spawn(|| kept_nodes(plane));
    });
}

/// `kerf explain node` on the nodes of [`staying_pods`], once they run.
fn kept_nodes(plane: &kerf_testenv::ControlPlane) {
    let stays = wait(
        plane,
        "keeper, guarded, plain and idle Running",
        Duration::from_secs(90),
        || {
            let out = kubectl(
                plane,
                &[
                    "get",
                    "pods",
                    "keeper",
                    "guarded",
                    "plain",
                    "idle",
                    "-o",
                    "jsonpath={range .items[*]}{.metadata.name}={.spec.nodeName}={.status.phase}{\"\\n\"}{end}",
                ],
            );
            let running: BTreeMap<String, String> = out
                .lines()
                .filter_map(|l| {
                    let mut f = l.split('=');
                    let (pod, node, phase) = (f.next()?, f.next()?, f.next()?);
                    (phase == "Running").then(|| (pod.to_string(), node.to_string()))
                })
                .collect();
            (running.len() == 4).then_some(running)
        },
    );
    // `kerf explain node` on each, side by side.
    let reasons: BTreeMap<&str, String> = std::thread::scope(|scope| {
        let each: Vec<_> = ["keeper", "guarded", "plain", "idle"]
            .into_iter()
            .map(|pod| {
                let node = &stays[pod];
                (pod, scope.spawn(move || kept(plane, node)))
            })
            .collect();
        each.into_iter()
            .map(|(pod, h)| (pod, h.join().expect("kerf explain node")))
            .collect()
    });
    assert_eq!(
        reasons["keeper"],
        "pod default/keeper has karpenter.sh/do-not-disrupt"
    );
    assert_eq!(
        reasons["guarded"],
        "PodDisruptionBudget default/guard allows no eviction of pod default/guarded now"
    );
    assert_eq!(
        reasons["plain"],
        "disruption budget of nodepool general allows no more Underutilized disruptions now"
    );
    let idle = &reasons["idle"];
    let left: u64 = idle
        .strip_prefix("consolidateAfter has ")
        .and_then(|r| r.strip_suffix("s to run"))
        .and_then(|s| s.parse().ok())
        .unwrap_or_else(|| panic!("{idle}"));
    assert!((3000..=3600).contains(&left), "{idle}");
}
