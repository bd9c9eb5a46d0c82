//! What upstream's AWS examples ask for (Windows pools, AMD GPUs, Neuron
//! devices, instance-store NVMe; `examples/v1` and `examples/workloads` of
//! karpenter-provider-aws) now plans the right hardware from the built-in
//! catalogue, and a request no catalogue type can meet names the constraint,
//! not the pool. The manifests are kerf's own, asking the same things.

use std::collections::BTreeSet;

use kerf_api::v1::NodeClaim;
use kerf_cloud::CloudProvider;
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

/// A Windows Server 2022 class, asking what `examples/v1/windows-2022.yaml`'s
/// EC2NodeClass asks: the `windows2022@latest` alias (Windows cannot pin a
/// version) and IMDSv2 over IPv4 only.
const WINDOWS_NODECLASS: &str = r#"---
apiVersion: karpenter.k8s.aws/v1
kind: EC2NodeClass
metadata: {name: windows2022}
spec:
  role: KarpenterNodeRole-test
  amiSelectorTerms: [{alias: windows2022@latest}]
  subnetSelectorTerms: [{tags: {karpenter.sh/discovery: test}}]
  securityGroupSelectorTerms: [{tags: {karpenter.sh/discovery: test}}]
  metadataOptions: {httpProtocolIPv6: disabled, httpTokens: required}
"#;

fn pool(name: &str, requirements: &str) -> String {
    pool_on(name, "default", requirements)
}

/// A NodePool on the EC2NodeClass `class`.
fn pool_on(name: &str, class: &str, requirements: &str) -> String {
    format!(
        r#"---
apiVersion: karpenter.sh/v1
kind: NodePool
metadata: {{name: {name}}}
spec:
  template:
    spec:
      nodeClassRef: {{group: karpenter.k8s.aws, kind: EC2NodeClass, name: {class}}}
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
    plan_and_launch(manifests).await.0
}

/// The report, and the NodeClaims as the cloud launched them (labelled as
/// their Nodes will be), in the report's order.
async fn plan_and_launch(manifests: &str) -> (Report, Vec<NodeClaim>) {
    let dir = tempfile::tempdir().expect("temp dir");
    let file = dir.path().join("asks.yaml");
    std::fs::write(&file, format!("{NODECLASS}{manifests}")).expect("write manifests");
    let options = SimulateOptions {
        paths: vec![file],
        ..Default::default()
    };
    let report = simulate(&options)
        .await
        .unwrap_or_else(|e| panic!("simulate: {e}"));
    let (state, cloud) = kerf_sim::load_input(&options).unwrap_or_else(|e| panic!("load: {e}"));
    let outcome = kerf_state::provision(
        &state,
        &cloud,
        &kerf_state::ProvisionOptions {
            pending: kerf_state::PendingMode::AllUnbound,
            solve: options.solve.clone(),
            expected_replicas: true,
        },
        &mut kerf_state::DeterministicNames::default(),
    )
    .await
    .unwrap_or_else(|e| panic!("provision: {e}"));
    let mut launched = Vec::new();
    for planned in &outcome.claims {
        launched.push(cloud.create(&planned.claim).await.expect("launches"));
    }
    (report, launched)
}

/// The distinct values of `key` across `types`, each type's from the catalogue.
fn distinct(catalog: &Catalog, types: &[String], key: &str) -> BTreeSet<String> {
    types
        .iter()
        .map(|t| label(catalog, t, key).unwrap_or_else(|| panic!("{t} has no {key} label")))
        .collect()
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
    /// Labels every launched node must carry.
    labels: &'static [(&'static str, &'static str)],
    /// A minValues ask: at least this many distinct values of the key
    /// across each node's instance-type options.
    min_values: Option<(&'static str, usize)>,
}

fn windows_amd64(c: &Catalog, t: &str) -> bool {
    let e = c.get(t).expect("in the catalogue");
    e.os.iter().any(|o| o == "windows")
        && label(c, t, "kubernetes.io/arch").as_deref() == Some("amd64")
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
            check: windows_amd64,
            labels: &[],
            min_values: None,
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
            labels: &[],
            min_values: None,
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
            labels: &[],
            min_values: None,
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
            labels: &[],
            min_values: None,
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
            labels: &[],
            min_values: None,
        },
        Ask {
            // examples/v1/windows-2022.yaml whole: its pool on its own
            // EC2NodeClass (alias windows2022@latest), and a Windows pod.
            name: "windows2022 node class",
            manifests: WINDOWS_NODECLASS.to_string()
                + &pool_on(
                    "windows2022",
                    "windows2022",
                    &format!(
                        "        - {{key: kubernetes.io/os, operator: In, values: [windows]}}\n\
                         \x20       - {{key: kubernetes.io/arch, operator: In, values: [amd64]}}\n\
                         {on_demand}\
                         \x20       - {{key: karpenter.k8s.aws/instance-category, operator: In, values: [c, m, r]}}\n\
                         \x20       - {{key: karpenter.k8s.aws/instance-generation, operator: Gt, values: [\"2\"]}}\n"
                    ),
                )
                + &pod(
                    "iis",
                    "  nodeSelector: {kubernetes.io/os: windows}\n",
                    "{requests: {cpu: \"1\", memory: 1Gi}}",
                ),
            check: windows_amd64,
            labels: &[
                ("kubernetes.io/os", "windows"),
                ("kubernetes.io/arch", "amd64"),
            ],
            min_values: None,
        },
        Ask {
            // examples/v1/min-values-family.yaml: spot, amd64, linux, c/m/r,
            // generation > 2, and instance-family Exists with minValues 5:
            // "at least that number of unique instance families".
            name: "minValues on instance-family",
            manifests: pool(
                "spot",
                "        - {key: karpenter.sh/capacity-type, operator: In, values: [spot]}\n\
                 \x20       - {key: kubernetes.io/arch, operator: In, values: [amd64]}\n\
                 \x20       - {key: kubernetes.io/os, operator: In, values: [linux]}\n\
                 \x20       - {key: karpenter.k8s.aws/instance-category, operator: In, values: [c, m, r]}\n\
                 \x20       - {key: karpenter.k8s.aws/instance-family, operator: Exists, minValues: 5}\n\
                 \x20       - {key: karpenter.k8s.aws/instance-generation, operator: Gt, values: [\"2\"]}\n",
            ) + &pod("inflate", "", "{requests: {cpu: \"1\", memory: 1Gi}}"),
            check: |c, t| {
                ["c", "m", "r"].contains(
                    &label(c, t, "karpenter.k8s.aws/instance-category")
                        .unwrap_or_default()
                        .as_str(),
                ) && label(c, t, "kubernetes.io/arch").as_deref() == Some("amd64")
            },
            labels: &[("karpenter.sh/capacity-type", "spot")],
            min_values: Some(("karpenter.k8s.aws/instance-family", 5)),
        },
    ]
}

#[tokio::test]
async fn upstream_examples_plan_the_right_hardware() {
    let catalog = Catalog::builtin();
    for ask in asks() {
        let (report, launched) = plan_and_launch(&ask.manifests).await;
        assert!(
            report.unschedulable.is_empty(),
            "{}: {:?}",
            ask.name,
            report.unschedulable
        );
        assert_eq!(report.nodes.len(), 1, "{}: {:?}", ask.name, report.nodes);
        assert_eq!(launched.len(), report.nodes.len(), "{}", ask.name);
        for (node, claim) in report.nodes.iter().zip(&launched) {
            assert!(
                (ask.check)(&catalog, &node.instance_type),
                "{}: launched {}",
                ask.name,
                node.instance_type
            );
            let labels = claim.metadata.labels.clone().unwrap_or_default();
            for (key, value) in ask.labels {
                assert_eq!(
                    labels.get(*key).map(String::as_str),
                    Some(*value),
                    "{}: {} labels {labels:?}",
                    ask.name,
                    node.name
                );
            }
            if let Some((key, min)) = ask.min_values {
                for t in &node.instance_type_options {
                    assert!((ask.check)(&catalog, t), "{}: option {t}", ask.name);
                }
                let values = distinct(&catalog, &node.instance_type_options, key);
                assert!(
                    values.len() >= min,
                    "{}: {} distinct {key} values {values:?} across {:?}",
                    ask.name,
                    values.len(),
                    node.instance_type_options
                );
                // The launched claim's own instance-type requirement spans them too.
                let allowed: Vec<String> = claim
                    .spec
                    .requirements
                    .iter()
                    .find(|r| r.key == "node.kubernetes.io/instance-type")
                    .map(|r| r.values.clone())
                    .unwrap_or_default();
                let values = distinct(&catalog, &allowed, key);
                assert!(
                    values.len() >= min,
                    "{}: the claim allows {} distinct {key} values {values:?}",
                    ask.name,
                    values.len()
                );
            }
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
