//! The built `kerf` binary: exit codes, output formats and error messages.

use std::path::PathBuf;
use std::process::{Command, Output};

fn kerf(args: &[&str]) -> Output {
    Command::new(env!("CARGO_BIN_EXE_kerf"))
        .args(args)
        .env_remove("RUST_LOG")
        .output()
        .unwrap()
}

fn example(name: &str) -> String {
    PathBuf::from(env!("CARGO_MANIFEST_DIR"))
        .join("../../examples")
        .join(name)
        .display()
        .to_string()
}

fn text(b: &[u8]) -> String {
    String::from_utf8_lossy(b).into_owned()
}

#[test]
fn simulate_seed_prints_the_plan() {
    let out = kerf(&["simulate", &example("seed")]);
    let stdout = text(&out.stdout);
    assert_eq!(out.status.code(), Some(0), "{stdout}{}", text(&out.stderr));
    assert!(stdout.contains("m5.2xlarge"), "{stdout}");
    assert!(stdout.contains("us-east-1c"), "{stdout}");
    assert!(
        stdout.contains("10 pending pod(s): 10 on new nodes"),
        "{stdout}"
    );
    assert!(!stdout.contains("m5.2xlarge ") || !stdout.contains("Unschedulable"));
}

#[test]
fn simulate_json_parses() {
    let out = kerf(&["simulate", "-o", "json", &example("seed")]);
    assert_eq!(out.status.code(), Some(0));
    let v: serde_json::Value = serde_json::from_slice(&out.stdout).unwrap();
    let nodes = v["nodes"].as_array().unwrap();
    assert!(!nodes.is_empty());
    assert!(nodes.iter().all(|n| n["instanceType"] == "m5.2xlarge"));
    let pods: usize = nodes
        .iter()
        .map(|n| n["pods"].as_array().unwrap().len())
        .sum();
    assert_eq!(pods, 10);
}

#[test]
fn unschedulable_exits_1_unless_allowed() {
    let out = kerf(&["simulate", &example("unschedulable")]);
    assert_eq!(out.status.code(), Some(1));
    let stdout = text(&out.stdout);
    assert!(
        stdout.contains("default/huge: provisioner default"),
        "{stdout}"
    );
    let out = kerf(&[
        "simulate",
        "--allow-unschedulable",
        &example("unschedulable"),
    ]);
    assert_eq!(out.status.code(), Some(0));
}

#[test]
fn bad_input_exits_2_naming_file_document_and_field() {
    let dir = tempfile::tempdir().unwrap();
    let path = dir.path().join("bad.yaml");
    std::fs::write(
        &path,
        "apiVersion: v1\nkind: Namespace\nmetadata: {name: ok}\n---\napiVersion: apps/v1\nkind: Deployment\nmetadata: {name: web}\nspec: {replicas: many}\n",
    )
    .unwrap();
    let out = kerf(&["simulate", path.to_str().unwrap()]);
    assert_eq!(out.status.code(), Some(2));
    let stderr = text(&out.stderr);
    assert!(stderr.contains(path.to_str().unwrap()), "{stderr}");
    assert!(stderr.contains("document 2"), "{stderr}");
    assert!(
        stderr.contains("Deployment \"default/web\"") || stderr.contains("Deployment \"web\""),
        "{stderr}"
    );
    assert!(stderr.contains("spec.replicas"), "{stderr}");
    assert!(out.stdout.is_empty());

    let out = kerf(&["simulate", "/nonexistent/manifests.yaml"]);
    assert_eq!(out.status.code(), Some(2));
    assert!(text(&out.stderr).contains("/nonexistent/manifests.yaml"));
}

#[test]
fn help_on_every_subcommand() {
    let out = kerf(&["--help"]);
    assert_eq!(out.status.code(), Some(0));
    assert!(text(&out.stdout).contains("simulate"));
    let out = kerf(&["simulate", "--help"]);
    assert_eq!(out.status.code(), Some(0));
    let help = text(&out.stdout);
    for flag in ["--output", "--catalog", "--allow-unschedulable", "FILE|DIR"] {
        assert!(help.contains(flag), "{flag} missing from {help}");
    }
}

/// A NodePool wanting two instance families, and a pod only m5.xlarge holds
/// among its types: `--min-values-policy` decides (Karpenter's flag).
#[test]
fn min_values_policy_flag_decides_a_pod_that_breaks_min_values() {
    let dir = tempfile::tempdir().unwrap();
    let manifest = dir.path().join("min-values.yaml");
    std::fs::write(
        &manifest,
        r#"apiVersion: karpenter.sh/v1
kind: NodePool
metadata: {name: flexible}
spec:
  template:
    spec:
      nodeClassRef: {group: karpenter.k8s.aws, kind: EC2NodeClass, name: default}
      requirements:
        - {key: node.kubernetes.io/instance-type, operator: In, values: [m5.large, m5.xlarge, c5.xlarge]}
        - {key: karpenter.k8s.aws/instance-family, operator: Exists, minValues: 2}
---
apiVersion: karpenter.k8s.aws/v1
kind: EC2NodeClass
metadata: {name: default}
spec:
  role: KarpenterNodeRole
  amiSelectorTerms: [{alias: al2023@latest}]
  subnetSelectorTerms: [{tags: {karpenter.sh/discovery: test}}]
  securityGroupSelectorTerms: [{tags: {karpenter.sh/discovery: test}}]
---
apiVersion: v1
kind: Pod
metadata: {name: big, namespace: default}
spec:
  containers: [{name: c, image: pause, resources: {requests: {cpu: "1", memory: 10Gi}}}]
"#,
    )
    .unwrap();
    let path = manifest.to_str().unwrap();

    let strict = kerf(&["simulate", "-o", "json", path]);
    assert_eq!(strict.status.code(), Some(1), "{}", text(&strict.stderr));
    let stdout = text(&strict.stdout);
    assert!(
        stdout.contains("minValues") && stdout.contains("karpenter.k8s.aws/instance-family"),
        "{stdout}"
    );

    let best_effort = kerf(&[
        "simulate",
        "-o",
        "json",
        "--min-values-policy",
        "BestEffort",
        path,
    ]);
    assert_eq!(
        best_effort.status.code(),
        Some(0),
        "{}",
        text(&best_effort.stderr)
    );
    let v: serde_json::Value = serde_json::from_slice(&best_effort.stdout).unwrap();
    assert_eq!(v["nodes"][0]["instanceType"], "m5.xlarge", "{v}");

    let bad = kerf(&["simulate", "--min-values-policy", "Loose", path]);
    assert_eq!(bad.status.code(), Some(2));
    assert!(text(&bad.stderr).contains("--min-values-policy"));
}

#[test]
fn simulate_disruption_prints_every_command_and_why_nodes_stay() {
    let out = kerf(&["simulate", "--disruption", &example("consolidation")]);
    let stdout = text(&out.stdout);
    assert_eq!(out.status.code(), Some(0), "{stdout}{}", text(&out.stderr));
    for line in [
        "Disruption: 2 command(s), in order:",
        "  1. emptiness (Empty): remove ip-10-0-3-30.ec2.internal",
        "  2. multi-node consolidation (Underutilized): remove ip-10-0-1-10.ec2.internal, ip-10-0-2-20.ec2.internal",
        "     launch default-tbbrg: m5.2xlarge us-east-1a spot $0.1471/h",
        "     $0.3840/h -> $0.1471/h, saving $0.2369/h",
        "  ip-10-0-1-40.ec2.internal: pod default/report-0 has karpenter.sh/do-not-disrupt",
    ] {
        assert!(
            stdout.lines().any(|l| l == line),
            "{line:?} not in\n{stdout}"
        );
    }

    let out = kerf(&[
        "simulate",
        "--disruption",
        "-o",
        "json",
        &example("consolidation"),
    ]);
    assert_eq!(out.status.code(), Some(0), "{}", text(&out.stderr));
    let v: serde_json::Value = serde_json::from_slice(&out.stdout).unwrap();
    assert_eq!(
        v["disruptions"][1]["replacements"][0]["instanceType"],
        "m5.2xlarge"
    );
    assert_eq!(v["kept"][2]["node"], "ip-10-0-2-50.ec2.internal");
}

#[test]
fn feature_gates_turn_on_spot_to_spot_and_reject_unknown_gates() {
    let out = kerf(&[
        "simulate",
        "--disruption",
        "--feature-gates",
        "SpotToSpotConsolidation=true",
        &example("consolidation"),
    ]);
    let stdout = text(&out.stdout);
    assert_eq!(out.status.code(), Some(0), "{stdout}{}", text(&out.stderr));
    assert!(
        stdout.contains("default-tbbrg: spot-to-spot needs at least 15 cheaper instance types"),
        "{stdout}"
    );
    let out = kerf(&[
        "simulate",
        "--disruption",
        "--feature-gates",
        "SpotToSpot=true",
        &example("consolidation"),
    ]);
    assert_eq!(out.status.code(), Some(2));
    assert!(text(&out.stderr).contains("\"SpotToSpot\" is not a Karpenter feature gate"));
}
