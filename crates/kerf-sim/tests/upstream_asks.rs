//! What upstream's AWS examples ask for (Windows pools, AMD GPUs, Neuron
//! devices, instance-store NVMe; `examples/v1` and `examples/workloads` of
//! karpenter-provider-aws) now plans the right hardware from the built-in
//! catalogue, and a request no catalogue type can meet names the constraint,
//! not the pool. The manifests are kerf's own, asking the same things.

use kerf_cloud::catalog::Catalog;
use kerf_sim::{Report, SimulateOptions, simulate};

const NODECLASS: &str = r#"apiVersion: karpenter.k8s.aws/v1
kind: EC2NodeClass
metadata: {name: default}
spec:
  role: KarpenterNodeRole-test
  amiSelectorTerms: [{alias: al2023@latest}]
  subnetSelectorTerms: [{tags: {karpenter.sh/discovery: test}}]
  securityGroupSelectorTerms: [{tags: {karpenter.sh/discovery: test}}]
"#;

fn pool(name: &str, requirements: &str) -> String {
    format!(
        r#"---
apiVersion: karpenter.sh/v1
kind: NodePool
metadata: {{name: {name}}}
spec:
  template:
    spec:
      nodeClassRef: {{group: karpenter.k8s.aws, kind: EC2NodeClass, name: default}}
      requirements:
{requirements}"#
    )
}

fn pod(name: &str, extra_spec: &str, resources: &str) -> String {
    format!(
        r#"---
apiVersion: v1
kind: Pod
metadata: {{name: {name}, namespace: default}}
spec:
{extra_spec}  containers:
    - name: c
      image: registry.k8s.io/pause:3.9
      resources: {resources}
"#
    )
}

async fn plan(manifests: &str) -> Report {
    let dir = tempfile::tempdir().expect("temp dir");
    let file = dir.path().join("asks.yaml");
    std::fs::write(&file, format!("{NODECLASS}{manifests}")).expect("write manifests");
    simulate(&SimulateOptions {
        paths: vec![file],
        ..Default::default()
    })
    .await
    .unwrap_or_else(|e| panic!("simulate: {e}"))
}

fn label(catalog: &Catalog, instance_type: &str, key: &str) -> Option<String> {
    catalog
        .get(instance_type)
        .unwrap_or_else(|| panic!("{instance_type} is in the catalogue"))
        .labels(&catalog.region)
        .get(key)
        .cloned()
}

/// One upstream ask: the manifests, and what every launched type must be.
struct Ask {
    name: &'static str,
    manifests: String,
    check: fn(&Catalog, &str) -> bool,
}

fn asks() -> Vec<Ask> {
    let on_demand =
        "        - {key: karpenter.sh/capacity-type, operator: In, values: [on-demand]}\n";
    vec![
        Ask {
            // examples/v1/windows-2022.yaml: os In [windows], amd64, c/m/r, generation > 2.
            name: "windows pool",
            manifests: pool(
                "windows",
                &format!(
                    "        - {{key: kubernetes.io/os, operator: In, values: [windows]}}\n\
                     \x20       - {{key: kubernetes.io/arch, operator: In, values: [amd64]}}\n\
                     {on_demand}\
                     \x20       - {{key: karpenter.k8s.aws/instance-category, operator: In, values: [c, m, r]}}\n\
                     \x20       - {{key: karpenter.k8s.aws/instance-generation, operator: Gt, values: [\"2\"]}}\n"
                ),
            ) + &pod(
                "win",
                "  nodeSelector: {kubernetes.io/os: windows}\n",
                "{requests: {cpu: \"1\", memory: 1Gi}}",
            ),
            check: |c, t| {
                let e = c.get(t).expect("in the catalogue");
                e.os.iter().any(|o| o == "windows")
                    && label(c, t, "kubernetes.io/arch").as_deref() == Some("amd64")
            },
        },
        Ask {
            // examples/workloads/gpu-amd.yaml through a pool asking for AMD GPUs.
            name: "amd gpu",
            manifests: pool(
                "amd",
                &format!(
                    "        - {{key: karpenter.k8s.aws/instance-gpu-manufacturer, operator: In, values: [amd]}}\n{on_demand}"
                ),
            ) + &pod(
                "gpu-amd",
                "",
                "{limits: {amd.com/gpu: \"1\"}, requests: {cpu: \"1\", memory: 256M}}",
            ),
            check: |_, t| t.starts_with("g4ad."),
        },
        Ask {
            // examples/workloads/neuron.yaml on a pool that leaves the type open.
            name: "neuron device",
            manifests: pool("neuron", on_demand)
                + &pod(
                    "neuron",
                    "",
                    "{limits: {aws.amazon.com/neuron: \"1\"}, requests: {cpu: \"1\", memory: 256M}}",
                ),
            check: |c, t| {
                (t.starts_with("inf") || t.starts_with("trn"))
                    && label(c, t, "karpenter.k8s.aws/instance-accelerator-manufacturer").as_deref()
                        == Some("aws")
            },
        },
        Ask {
            // examples/v1/instance-store-ephemeral-storage.yaml: instance-local-nvme Gt 300.
            name: "instance-store nvme",
            manifests: pool(
                "nvme",
                &format!(
                    "        - {{key: kubernetes.io/arch, operator: In, values: [amd64]}}\n\
                     \x20       - {{key: kubernetes.io/os, operator: In, values: [linux]}}\n\
                     {on_demand}\
                     \x20       - {{key: karpenter.k8s.aws/instance-category, operator: In, values: [c, m, r]}}\n\
                     \x20       - {{key: karpenter.k8s.aws/instance-generation, operator: Gt, values: [\"2\"]}}\n\
                     \x20       - {{key: karpenter.k8s.aws/instance-local-nvme, operator: Gt, values: [\"300\"]}}\n"
                ),
            ) + &pod("scratch", "", "{requests: {cpu: \"2\", memory: 4Gi}}"),
            check: |c, t| {
                let family = t.split('.').next().unwrap_or_default();
                let nvme = label(c, t, "karpenter.k8s.aws/instance-local-nvme")
                    .and_then(|v| v.parse::<i64>().ok());
                family.ends_with('d') && nvme.is_some_and(|g| g > 300)
            },
        },
        Ask {
            // A pool for Nitro Enclaves: karpenter.k8s.aws/nitro-sandbox In [true].
            name: "nitro enclaves",
            manifests: pool(
                "enclaves",
                &format!(
                    "        - {{key: karpenter.k8s.aws/nitro-sandbox, operator: In, values: [\"true\"]}}\n{on_demand}"
                ),
            ) + &pod("enclave", "", "{requests: {cpu: 100m, memory: 128Mi}}"),
            check: |c, t| label(c, t, "karpenter.k8s.aws/nitro-sandbox").as_deref() == Some("true"),
        },
    ]
}

#[tokio::test]
async fn upstream_examples_plan_the_right_hardware() {
    let catalog = Catalog::builtin();
    for ask in asks() {
        let report = plan(&ask.manifests).await;
        assert!(
            report.unschedulable.is_empty(),
            "{}: {:?}",
            ask.name,
            report.unschedulable
        );
        assert_eq!(report.nodes.len(), 1, "{}: {:?}", ask.name, report.nodes);
        for node in &report.nodes {
            assert!(
                (ask.check)(&catalog, &node.instance_type),
                "{}: launched {}",
                ask.name,
                node.instance_type
            );
        }
    }
}

#[tokio::test]
async fn a_hardware_ask_no_type_meets_names_the_constraint_not_the_pool() {
    // The pool allows any GPU maker; no EC2 type has an Intel GPU.
    let manifests = pool(
        "open",
        "        - {key: karpenter.sh/capacity-type, operator: In, values: [on-demand]}\n",
    ) + &pod(
        "intel-gpu",
        "  nodeSelector: {karpenter.k8s.aws/instance-gpu-manufacturer: intel}\n",
        "{requests: {cpu: \"1\"}}",
    );
    let report = plan(&manifests).await;
    assert_eq!(report.unschedulable.len(), 1, "{:?}", report.nodes);
    let reason = &report.unschedulable[0].reason;
    assert!(
        reason.contains("no instance type offers karpenter.k8s.aws/instance-gpu-manufacturer"),
        "{reason}"
    );
    assert!(!reason.contains("allows only"), "{reason}");
}

/// A DaemonSet that runs only on Windows nodes, asking for `cpu` cores.
fn windows_daemonset(cpu: u32) -> String {
    format!(
        r#"---
apiVersion: apps/v1
kind: DaemonSet
metadata: {{name: windows-agent, namespace: kube-system}}
spec:
  selector: {{matchLabels: {{app: windows-agent}}}}
  template:
    metadata: {{labels: {{app: windows-agent}}}}
    spec:
      nodeSelector: {{kubernetes.io/os: windows}}
      containers:
        - name: agent
          image: registry.k8s.io/pause:3.9
          resources: {{requests: {{cpu: "{cpu}"}}}}
"#
    )
}

#[tokio::test]
async fn a_windows_daemonset_counts_on_windows_pools_only() {
    // Karpenter's types carry their EC2NodeClass's one OS, so a Windows-only
    // agent is no overhead on a Linux pool; kerf's amd64 types run both, and
    // a Linux pool's node is taken as booting Linux.
    let catalog = Catalog::builtin();
    let cpus = |t: &str| -> i64 {
        label(&catalog, t, "karpenter.k8s.aws/instance-cpu")
            .and_then(|v| v.parse().ok())
            .unwrap_or_else(|| panic!("{t} has an instance-cpu label"))
    };
    let amd64 = concat!(
        "        - {key: kubernetes.io/arch, operator: In, values: [amd64]}\n",
        "        - {key: karpenter.sh/capacity-type, operator: In, values: [on-demand]}\n",
    );
    let linux = plan(
        &(pool("linux", amd64)
            + &windows_daemonset(30)
            + &pod("web", "", "{requests: {cpu: \"1\"}}")),
    )
    .await;
    assert!(linux.unschedulable.is_empty(), "{:?}", linux.unschedulable);
    assert_eq!(linux.nodes.len(), 1, "{:?}", linux.nodes);
    assert!(
        cpus(&linux.nodes[0].instance_type) < 30,
        "the Windows agent was counted on a Linux node: {}",
        linux.nodes[0].instance_type
    );

    let windows = plan(
        &(pool(
            "windows",
            &format!(
                "        - {{key: kubernetes.io/os, operator: In, values: [windows]}}\n{amd64}"
            ),
        ) + &windows_daemonset(30)
            + &pod(
                "iis",
                "  nodeSelector: {kubernetes.io/os: windows}\n",
                "{requests: {cpu: \"1\"}}",
            )),
    )
    .await;
    assert!(
        windows.unschedulable.is_empty(),
        "{:?}",
        windows.unschedulable
    );
    assert_eq!(windows.nodes.len(), 1, "{:?}", windows.nodes);
    assert!(
        cpus(&windows.nodes[0].instance_type) >= 32,
        "the Windows agent's 30 cores must fit beside the pod: {}",
        windows.nodes[0].instance_type
    );
}
