//! DaemonSet overhead on new nodes, decided per instance type: a DaemonSet
//! counts only on the types it can run on (nodeSelector and required node
//! affinity, terms ORed, preferences ignored, over the pool's labels and
//! taints and the type's labels), `karpenter.sh/initialized` and
//! `karpenter.sh/registered` count as present, and a daemon's hostPort is
//! taken on the types it runs on. Each case names the test of Karpenter's
//! `pkg/controllers/provisioning/suite_test.go` (Context "Daemonsets") it
//! mirrors; the plan must also pass kerf's independent validator.

mod common;

use std::collections::BTreeMap;
use std::sync::Arc;

use common::*;
use k8s_openapi::api::apps::v1::DaemonSet;
use k8s_openapi::api::core::v1::Taint;
use kerf_core::instance_type::{InstanceType, Offering, Overhead};
use kerf_core::requirements::Requirement;
use kerf_core::resources::Resources;
use kerf_core::scheduler::solve;
use kerf_core::snapshot::Snapshot;
use kerf_core::template::NodeTemplate;
use kerf_core::validate::validate;

const SIZE: &str = "karpenter.k8s.aws/instance-size";

/// A type with no kubelet overhead, so allocatable is capacity (as upstream's fake types).
fn sized(name: &str, cpu: i64, gib: i64, price: f64, size: &str) -> Arc<InstanceType> {
    let labels: BTreeMap<String, String> = [
        ("kubernetes.io/arch", "amd64"),
        ("kubernetes.io/os", "linux"),
        (SIZE, size),
    ]
    .into_iter()
    .map(|(k, v)| (k.to_string(), v.to_string()))
    .collect();
    let offerings = ZONES
        .iter()
        .map(|z| Offering {
            zone: z.to_string(),
            capacity_type: "on-demand".into(),
            price,
            available: true,
            zone_id: None,
        })
        .collect();
    Arc::new(InstanceType::new(
        name,
        labels,
        Resources::new(cpu * 1000, gib << 30, 110),
        Overhead::default(),
        offerings,
    ))
}

/// 2, 4, 8 and 16 cpu (GiB alike), sizes micro, small, medium, large.
fn sized_catalogue() -> Vec<Arc<InstanceType>> {
    vec![
        sized("t-2", 2, 2, 0.05, "micro"),
        sized("s-4", 4, 4, 0.1, "small"),
        sized("m-8", 8, 8, 0.2, "medium"),
        sized("l-16", 16, 16, 0.4, "large"),
    ]
}

/// A DaemonSet whose pod spec is `spec` (YAML indented 6).
fn daemonset(name: &str, spec: &str) -> DaemonSet {
    serde_yaml::from_str(&format!(
        "metadata: {{name: {name}, namespace: kube-system}}
spec:
  selector: {{matchLabels: {{app: {name}}}}}
  template:
    metadata: {{labels: {{app: {name}}}}}
    spec:
{spec}"
    ))
    .expect("daemonset yaml")
}

fn requests(cpu: &str, memory: &str) -> String {
    format!(
        "      containers: [{{name: d, resources: {{requests: {{cpu: '{cpu}', memory: {memory}}}}}}}]\n"
    )
}

fn with_port(cpu: &str, port: u16) -> String {
    format!(
        "      containers: [{{name: d, ports: [{{containerPort: {port}, hostPort: {port}}}], resources: {{requests: {{cpu: '{cpu}', memory: 1Gi}}}}}}]\n"
    )
}

fn pool(labels: &[(&str, &str)], taints: Vec<Taint>, startup: Vec<Taint>) -> NodeTemplate {
    let mut t = template("default", &[]);
    t.instance_types = sized_catalogue();
    for (k, v) in labels {
        t.labels.insert(k.to_string(), v.to_string());
        t.requirements
            .add(Requirement::in_values(k, [v.to_string()]));
    }
    t.taints = taints;
    t.startup_taints = startup;
    t
}

fn taint(key: &str, value: &str, effect: &str) -> Taint {
    Taint {
        key: key.into(),
        value: (!value.is_empty()).then(|| value.into()),
        effect: effect.into(),
        time_added: None,
    }
}

enum Expect {
    /// Scheduled on a new node of this many cpu whose daemon requests are this much cpu.
    Node { cpu: i64, daemon_cpu: i64 },
    /// Pending, the reason containing this.
    Pending(&'static str),
}

struct Case {
    mirrors: &'static str,
    pool: NodeTemplate,
    daemonsets: Vec<DaemonSet>,
    /// The pod's spec (YAML indented 2).
    pod: String,
    expect: Expect,
}

const POD_1CPU: &str =
    "  containers: [{name: c, resources: {requests: {cpu: '1', memory: 1Gi}}}]\n";

fn cases() -> Vec<Case> {
    let plain = || pool(&[], Vec::new(), Vec::new());
    vec![
        Case {
            mirrors: "should account for daemonsets",
            pool: plain(),
            daemonsets: vec![daemonset("ds", &requests("2", "2Gi"))],
            pod: POD_1CPU.into(),
            expect: Expect::Node { cpu: 4000, daemon_cpu: 2000 },
        },
        Case {
            mirrors: "should account for daemonset hostports",
            pool: plain(),
            daemonsets: vec![daemonset("ds", &with_port("2", 8080))],
            pod: "  containers: [{name: c, ports: [{containerPort: 8080, hostPort: 8080}], resources: {requests: {cpu: '1', memory: 1Gi}}}]\n".into(),
            expect: Expect::Pending("host port 0.0.0.0:8080/TCP is taken by daemonset kube-system/ds"),
        },
        Case {
            mirrors: "should account for daemonsets (with startup taint)",
            pool: pool(&[], Vec::new(), vec![taint("foo.com/taint", "", "NoSchedule")]),
            daemonsets: vec![daemonset("ds", &requests("2", "2Gi"))],
            pod: POD_1CPU.into(),
            expect: Expect::Node { cpu: 4000, daemon_cpu: 2000 },
        },
        Case {
            mirrors: "should not schedule if daemonset overhead is too large",
            pool: plain(),
            daemonsets: vec![daemonset("ds", &requests("10000", "10000Gi"))],
            pod: POD_1CPU.into(),
            expect: Expect::Pending(
                "the pod asks for 1 cpu but the largest instance type, l-16, has 16 allocatable, of which its daemonsets take 10000",
            ),
        },
        Case {
            mirrors: "should ignore daemonsets without matching tolerations",
            pool: pool(&[], vec![taint("foo", "bar", "NoSchedule")], Vec::new()),
            daemonsets: vec![daemonset("ds", &requests("2", "2Gi"))],
            pod: format!("  tolerations: [{{operator: Exists}}]\n{POD_1CPU}"),
            expect: Expect::Node { cpu: 2000, daemon_cpu: 0 },
        },
        Case {
            mirrors: "should ignore daemonsets with an invalid selector",
            pool: plain(),
            daemonsets: vec![daemonset(
                "ds",
                &format!("      nodeSelector: {{node: invalid}}\n{}", requests("2", "2Gi")),
            )],
            pod: POD_1CPU.into(),
            expect: Expect::Node { cpu: 2000, daemon_cpu: 0 },
        },
        Case {
            mirrors: "should ignore daemonsets when no instance types meet the daemonset requirements",
            pool: plain(),
            daemonsets: vec![daemonset(
                "ds",
                &format!(
                    "      affinity: {{nodeAffinity: {{requiredDuringSchedulingIgnoredDuringExecution: {{nodeSelectorTerms: [{{matchExpressions: [{{key: node.kubernetes.io/instance-type, operator: In, values: [non-existent-instance-type]}}]}}]}}}}}}\n{}",
                    requests("2", "2Gi")
                ),
            )],
            pod: POD_1CPU.into(),
            expect: Expect::Node { cpu: 2000, daemon_cpu: 0 },
        },
        Case {
            mirrors: "should account for daemonsets with a custom label nodeSelector that matches the nodepool",
            pool: pool(&[("purpose", "monitoring")], Vec::new(), Vec::new()),
            daemonsets: vec![daemonset(
                "ds",
                &format!("      nodeSelector: {{purpose: monitoring}}\n{}", requests("2", "2Gi")),
            )],
            pod: POD_1CPU.into(),
            expect: Expect::Node { cpu: 4000, daemon_cpu: 2000 },
        },
        Case {
            mirrors: "should filter out daemonsets based on instance type requirements",
            pool: plain(),
            daemonsets: vec![
                daemonset(
                    "on-micro",
                    &format!("      nodeSelector: {{{SIZE}: micro}}\n{}", requests("1500m", "100Mi")),
                ),
                daemonset(
                    "on-large",
                    &format!("      nodeSelector: {{{SIZE}: large}}\n{}", requests("20", "100Mi")),
                ),
            ],
            pod: POD_1CPU.into(),
            // t-2 runs on-micro (1 + 1.5 > 2); s-4 runs neither.
            expect: Expect::Node { cpu: 4000, daemon_cpu: 0 },
        },
        Case {
            mirrors: "should account daemonsets with NotIn operator and unspecified key",
            pool: plain(),
            daemonsets: vec![daemonset(
                "ds",
                &format!(
                    "      affinity: {{nodeAffinity: {{requiredDuringSchedulingIgnoredDuringExecution: {{nodeSelectorTerms: [{{matchExpressions: [{{key: foo, operator: NotIn, values: [bar]}}]}}]}}}}}}\n{}",
                    requests("2", "2Gi")
                ),
            )],
            pod: format!("  nodeSelector: {{topology.kubernetes.io/zone: zone-b}}\n{POD_1CPU}"),
            expect: Expect::Node { cpu: 4000, daemon_cpu: 2000 },
        },
        Case {
            mirrors: "should consider a daemonset schedulable with multiple node affinity terms",
            pool: pool(&[("foo", "bar")], Vec::new(), Vec::new()),
            daemonsets: vec![daemonset(
                "ds",
                &format!(
                    "      affinity: {{nodeAffinity: {{requiredDuringSchedulingIgnoredDuringExecution: {{nodeSelectorTerms: [{{matchExpressions: [{{key: foo, operator: In, values: [voo]}}]}}, {{matchExpressions: [{{key: foo, operator: In, values: [bar]}}]}}]}}}}}}\n{}",
                    requests("2", "2Gi")
                ),
            )],
            pod: POD_1CPU.into(),
            expect: Expect::Node { cpu: 4000, daemon_cpu: 2000 },
        },
        Case {
            mirrors: "should consider a daemonset schedulable with an incompatible node affinity preference",
            pool: plain(),
            daemonsets: vec![daemonset(
                "ds",
                &format!(
                    "      affinity: {{nodeAffinity: {{preferredDuringSchedulingIgnoredDuringExecution: [{{weight: 100, preference: {{matchExpressions: [{{key: node, operator: In, values: [invalid]}}]}}}}]}}}}\n{}",
                    requests("2", "2Gi")
                ),
            )],
            pod: POD_1CPU.into(),
            expect: Expect::Node { cpu: 4000, daemon_cpu: 2000 },
        },
        Case {
            mirrors: "should consider a daemonset schedulable with a PreferNoSchedule taint",
            pool: pool(&[], vec![taint("test", "", "PreferNoSchedule")], Vec::new()),
            daemonsets: vec![daemonset("ds", &requests("2", "2Gi"))],
            pod: format!("  tolerations: [{{operator: Exists}}]\n{POD_1CPU}"),
            expect: Expect::Node { cpu: 4000, daemon_cpu: 2000 },
        },
        Case {
            mirrors: "should not account for daemonset hostports when daemonset would not schedule on selected node",
            pool: plain(),
            daemonsets: vec![
                daemonset(
                    "large-8080",
                    &format!("      nodeSelector: {{{SIZE}: large}}\n{}", with_port("4", 8080)),
                ),
                daemonset(
                    "small-8081",
                    &format!("      nodeSelector: {{{SIZE}: small}}\n{}", with_port("2", 8081)),
                ),
            ],
            pod: format!(
                "  nodeSelector: {{{SIZE}: small}}\n  containers: [{{name: c, ports: [{{containerPort: 8080, hostPort: 8080}}], resources: {{requests: {{cpu: '1', memory: 1Gi}}}}}}]\n"
            ),
            expect: Expect::Node { cpu: 4000, daemon_cpu: 2000 },
        },
        // kerf's own cases for the rules of issue 27, item 3.
        Case {
            mirrors: "(kerf) a daemonset for another arch takes nothing",
            pool: plain(),
            daemonsets: vec![daemonset(
                "arm-only",
                &format!("      nodeSelector: {{kubernetes.io/arch: arm64}}\n{}", requests("2", "2Gi")),
            )],
            pod: POD_1CPU.into(),
            expect: Expect::Node { cpu: 2000, daemon_cpu: 0 },
        },
        Case {
            mirrors: "(kerf) a daemonset waiting for karpenter.sh/initialized counts",
            pool: plain(),
            daemonsets: vec![daemonset(
                "ds",
                &format!(
                    "      affinity: {{nodeAffinity: {{requiredDuringSchedulingIgnoredDuringExecution: {{nodeSelectorTerms: [{{matchExpressions: [{{key: karpenter.sh/initialized, operator: In, values: ['true']}}, {{key: karpenter.sh/registered, operator: Exists}}]}}]}}}}}}\n{}",
                    requests("2", "2Gi")
                ),
            )],
            pod: POD_1CPU.into(),
            expect: Expect::Node { cpu: 4000, daemon_cpu: 2000 },
        },
        Case {
            mirrors: "(kerf) a daemon's hostPort is taken only on the types it runs on",
            pool: plain(),
            daemonsets: vec![daemonset(
                "micro-8080",
                &format!("      nodeSelector: {{{SIZE}: micro}}\n{}", with_port("100m", 8080)),
            )],
            pod: "  containers: [{name: c, ports: [{containerPort: 8080, hostPort: 8080}], resources: {requests: {cpu: '1', memory: 1Gi}}}]\n".into(),
            expect: Expect::Node { cpu: 4000, daemon_cpu: 0 },
        },
        Case {
            mirrors: "(kerf) the first required term failing does not hide the second",
            pool: plain(),
            daemonsets: vec![daemonset(
                "ds",
                &format!(
                    "      affinity: {{nodeAffinity: {{requiredDuringSchedulingIgnoredDuringExecution: {{nodeSelectorTerms: [{{matchExpressions: [{{key: kubernetes.io/arch, operator: In, values: [arm64]}}]}}, {{matchExpressions: [{{key: {SIZE}, operator: In, values: [micro]}}]}}]}}}}}}\n{}",
                    requests("1500m", "100Mi")
                ),
            )],
            pod: POD_1CPU.into(),
            // Runs on t-2 through the second term (1 + 1.5 > 2); not on s-4.
            expect: Expect::Node { cpu: 4000, daemon_cpu: 0 },
        },
    ]
}

#[test]
fn daemonset_overhead_is_decided_per_instance_type() {
    for case in cases() {
        let snap = Snapshot {
            daemonsets: case.daemonsets,
            ..snapshot(vec![case.pool], pods("p", 1, "{app: p}", &case.pod))
        };
        let plan = solve(&snap);
        let violations = validate(&snap, &plan);
        assert!(violations.is_empty(), "{}: {violations:#?}", case.mirrors);
        match case.expect {
            Expect::Node { cpu, daemon_cpu } => {
                let node = node_of(&plan, "p-0");
                assert_eq!(
                    node.allocatable.cpu, cpu,
                    "{}: {:?}",
                    case.mirrors, node.chosen
                );
                assert_eq!(node.daemon_requests.cpu, daemon_cpu, "{}", case.mirrors);
            }
            Expect::Pending(reason) => {
                assert!(
                    plan.new_nodes.is_empty(),
                    "{}: {:?}",
                    case.mirrors,
                    plan.new_nodes
                );
                let u = plan
                    .unschedulable
                    .iter()
                    .find(|u| u.pod.name == "p-0")
                    .unwrap_or_else(|| panic!("{}: p-0 scheduled", case.mirrors));
                assert!(u.reason.contains(reason), "{}: {}", case.mirrors, u.reason);
            }
        }
    }
}

/// Karpenter's "should schedule pods with the same host port to different
/// nodes", with a daemon holding another port: a planned node's options
/// keep out types whose daemon binds the port a pod on it needs.
#[test]
fn a_pod_never_shares_a_new_node_with_a_daemon_on_its_port() {
    let ds = daemonset(
        "micro-9100",
        &format!(
            "      nodeSelector: {{{SIZE}: micro}}\n{}",
            with_port("100m", 9100)
        ),
    );
    let mut pending = pods(
        "small",
        1,
        "{app: small}",
        "  containers: [{name: c, resources: {requests: {cpu: 100m, memory: 100Mi}}}]\n",
    );
    pending.extend(pods(
        "exporter",
        2,
        "{app: exporter}",
        "  containers: [{name: c, ports: [{containerPort: 9100, hostPort: 9100}], resources: {requests: {cpu: 100m, memory: 100Mi}}}]\n",
    ));
    let snap = Snapshot {
        daemonsets: vec![ds],
        ..snapshot(vec![pool(&[], Vec::new(), Vec::new())], pending)
    };
    let plan = solve(&snap);
    let violations = validate(&snap, &plan);
    assert!(violations.is_empty(), "{violations:#?}");
    assert!(plan.unschedulable.is_empty(), "{:?}", plan.unschedulable);
    for p in ["exporter-0", "exporter-1"] {
        let node = node_of(&plan, p);
        assert_ne!(
            node.chosen.instance_type, "t-2",
            "{p} beside the daemon on 9100"
        );
        assert!(
            node.options.iter().all(|o| o.instance_type != "t-2"),
            "{p}: {:?}",
            node.options
        );
    }
    assert_ne!(
        node_of(&plan, "exporter-0").name,
        node_of(&plan, "exporter-1").name
    );
}
