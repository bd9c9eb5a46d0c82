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

    // `kerf explain` takes the controller's policy too, so it explains what
    // that controller does.
    let explain = |extra: &[&str]| {
        let mut args = vec!["explain", "pod", "default/big", "--from", path];
        args.extend_from_slice(extra);
        text(&kerf(&args).stdout)
    };
    let strict = explain(&[]);
    assert!(
        strict.starts_with("pod default/big: unschedulable") && strict.contains("minValues"),
        "{strict}"
    );
    let best_effort = explain(&["--min-values-policy", "BestEffort"]);
    assert!(
        best_effort.starts_with("pod default/big: placed on new node")
            && best_effort.contains("m5.xlarge"),
        "{best_effort}"
    );
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
        "     launch default-tbbrg: m5.2xlarge us-east-1a spot $0.1382/h",
        "     $0.3840/h -> $0.1382/h, saving $0.2458/h",
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

/// Runs `kerf simulate` on one file holding `text`: exit code, stdout, stderr, and the file's path.
fn simulate_text(manifest: &str) -> (Option<i32>, String, String, String) {
    let dir = tempfile::tempdir().unwrap();
    let path = dir.path().join("input.yaml");
    std::fs::write(&path, manifest).unwrap();
    let out = kerf(&["simulate", path.to_str().unwrap()]);
    (
        out.status.code(),
        text(&out.stdout),
        text(&out.stderr),
        path.display().to_string(),
    )
}

const NODEPOOL: &str = r#"apiVersion: karpenter.sh/v1
kind: NodePool
metadata: {name: general}
spec:
  template:
    spec:
      nodeClassRef: {group: karpenter.k8s.aws, kind: EC2NodeClass, name: default}
      requirements:
        - {key: karpenter.sh/capacity-type, operator: In, values: [on-demand]}
---
apiVersion: karpenter.k8s.aws/v1
kind: EC2NodeClass
metadata: {name: default}
spec:
  role: KarpenterNodeRole
  amiSelectorTerms: [{alias: al2023@latest}]
  subnetSelectorTerms: [{tags: {karpenter.sh/discovery: test}}]
  securityGroupSelectorTerms: [{tags: {karpenter.sh/discovery: test}}]
"#;

fn pod_doc(spec: &str) -> String {
    format!(
        "{NODEPOOL}---\napiVersion: v1\nkind: Pod\nmetadata: {{name: p, namespace: default}}\nspec:\n{spec}"
    )
}

/// Bad input exits 2 naming the file, the document (3: after the NodePool
/// and its EC2NodeClass) and the field; none of it is "unschedulable" (1).
#[test]
fn invalid_pod_fields_exit_2_naming_file_document_and_field() {
    let container = "  containers: [{name: c, image: nginx}]\n";
    for (spec, field) in [
        (
            "  containers: [{name: c, resources: {requests: {cpu: 1.5.5}}}]\n".to_string(),
            "spec.containers[0].resources[cpu]",
        ),
        (
            format!(
                "  topologySpreadConstraints: [{{maxSkew: 0, topologyKey: topology.kubernetes.io/zone, whenUnsatisfiable: DoNotSchedule, labelSelector: {{matchLabels: {{a: b}}}}}}]\n{container}"
            ),
            "spec.topologySpreadConstraints[0]: maxSkew",
        ),
        (
            format!(
                "  topologySpreadConstraints: [{{maxSkew: 1, topologyKey: topology.kubernetes.io/zone, whenUnsatisfiable: Maybe, labelSelector: {{matchLabels: {{a: b}}}}}}]\n{container}"
            ),
            "spec.topologySpreadConstraints[0]: whenUnsatisfiable",
        ),
        (
            format!(
                "  affinity: {{nodeAffinity: {{requiredDuringSchedulingIgnoredDuringExecution: {{nodeSelectorTerms: [{{matchExpressions: [{{key: cores, operator: Gt, values: [x]}}]}}]}}}}}}\n{container}"
            ),
            "spec.affinity.nodeAffinity.requiredDuringSchedulingIgnoredDuringExecution.nodeSelectorTerms[0]: matchExpressions[0]",
        ),
        (
            format!("  overhead: {{cpu: -1}}\n{container}"),
            "spec.overhead[cpu]: \"-1\" must be greater than or equal to 0",
        ),
        (
            format!("  tolerations: [{{key: a, operator: Sometimes}}]\n{container}"),
            "spec.tolerations[0].operator: Unsupported value: \"Sometimes\"",
        ),
        (
            "  containers: []\n".to_string(),
            "spec.containers: Required value",
        ),
        (
            "  containers: [{name: c, image: nginx, resource: {}}]\n".to_string(),
            "spec.containers[0].resource: unknown field",
        ),
    ] {
        let (code, stdout, stderr, path) = simulate_text(&pod_doc(&spec));
        assert_eq!(code, Some(2), "{spec}: {stdout}{stderr}");
        let at = format!("{path}: document 3 (Pod \"default/p\"): {field}");
        assert!(stderr.contains(&at), "{spec}: {at:?} not in {stderr}");
        assert!(stdout.is_empty(), "{stdout}");
    }
}

#[test]
fn bad_objects_and_sizes_exit_2_naming_file_document_and_field() {
    let typo = NODEPOOL.replace("      requirements:", "      requirments:");
    let replica_set = |name: &str, replicas: i64| {
        format!(
            "apiVersion: apps/v1\nkind: ReplicaSet\nmetadata: {{name: {name}, namespace: default}}\nspec:\n  replicas: {replicas}\n  selector: {{matchLabels: {{app: web}}}}\n  template:\n    metadata: {{labels: {{app: web}}}}\n    spec: {{containers: [{{name: c, image: nginx, resources: {{requests: {{cpu: 10m}}}}}}]}}\n"
        )
    };
    for (text, at) in [
        (
            typo,
            "document 1 (NodePool \"general\"): spec.template.spec.requirments: unknown field",
        ),
        (
            format!(
                "{NODEPOOL}---\n{}",
                replica_set("huge", i64::from(i32::MAX))
            ),
            "document 3 (ReplicaSet \"default/huge\"): spec.replicas: 2147483647 pods is more than kerf simulate expands for one workload (at most 100000)",
        ),
        (
            NODEPOOL.replace(
                "name: default}\nspec:\n  role",
                "name: other}\nspec:\n  role",
            ),
            "document 1 (NodePool \"general\"): spec.template.spec.nodeClassRef.name: EC2NodeClass \"default\" not found",
        ),
        (
            format!("{NODEPOOL}---\napiVersion: v1\nkind: Namespace\nmetadata: {{name: Bad_NS}}\n"),
            "document 3 (Namespace \"Bad_NS\"): metadata.name: Invalid value: \"Bad_NS\"",
        ),
        (
            format!(
                "{NODEPOOL}---\napiVersion: v1\nkind: Namespace\nmetadata: {{name: a, name: b}}\n"
            ),
            "document 3: malformed YAML: metadata: duplicate entry with key \"name\"",
        ),
        (
            format!(
                "{NODEPOOL}---\napiVersion: v1\nkind: Namespace\nmetadata: {{name: a}}\nx: {}{}\n",
                "[".repeat(50_000),
                "]".repeat(50_000)
            ),
            "document 3: malformed YAML: flow collections nested more than 64 deep",
        ),
    ] {
        let (code, stdout, stderr, path) = simulate_text(&text);
        assert_eq!(code, Some(2), "{at}: {stdout}{stderr}");
        assert!(
            stderr.contains(&format!("{path}: {at}")),
            "{at:?} not in {stderr}"
        );
    }
}

/// Inputs that used to be refused or misread: a BOM before the first key,
/// and 617 replicas of ReplicaSet web-1281 (generated names collided).
#[test]
fn a_bom_and_many_replicas_load() {
    let web = "apiVersion: apps/v1\nkind: ReplicaSet\nmetadata: {name: web-1281, namespace: default}\nspec:\n  replicas: 617\n  selector: {matchLabels: {app: web}}\n  template:\n    metadata: {labels: {app: web}}\n    spec: {containers: [{name: c, image: nginx, resources: {requests: {cpu: 10m}}}]}\n";
    let (code, stdout, stderr, _) = simulate_text(&format!("\u{feff}{NODEPOOL}---\n{web}"));
    assert_eq!(code, Some(0), "{stdout}{stderr}");
    assert!(
        stdout.contains("617 pending pod(s): 617 on new nodes"),
        "{stdout}"
    );
    assert!(!stdout.contains("$-"), "{stdout}");
}

/// Log lines to a pipe carry no ANSI colour codes (the webhook's and the
/// controller's logs go to files and pods' logs).
#[test]
fn logs_to_a_pipe_have_no_colour() {
    let out = kerf(&[
        "--log-level",
        "debug",
        "--log-format",
        "text",
        "simulate",
        &example("seed"),
    ]);
    assert_eq!(out.status.code(), Some(0));
    let stderr = text(&out.stderr);
    assert!(
        stderr.contains("DEBUG"),
        "no debug lines to check: {stderr}"
    );
    assert!(!stderr.contains('\u{1b}'), "{stderr:?}");
}

/// `kerf addon render` touches nothing, so bad flags are its only failures:
/// each exits 2 naming the flag.
#[test]
fn addon_render_refuses_bad_flags_naming_them() {
    let render = |extra: &[&str]| {
        let mut args = vec![
            "addon",
            "render",
            "--cluster-name",
            "demo",
            "--skip-cluster-side",
        ];
        args.extend(extra);
        let out = Command::new(env!("CARGO_BIN_EXE_kerf"))
            .args(&args)
            .env_remove("AWS_REGION")
            .env_remove("RUST_LOG")
            .output()
            .unwrap();
        (out.status.code(), text(&out.stdout), text(&out.stderr))
    };
    for (flags, message) in [
        (
            &["--region", "mars-north-9"][..],
            "--region: \"mars-north-9\" is not an AWS region",
        ),
        (
            &["--namespace", "Bad_NS"][..],
            "--namespace: \"Bad_NS\" is not a valid namespace name",
        ),
        (
            &["--requirement", "karpenter.sh/capacity-type=free"][..],
            "--requirement \"karpenter.sh/capacity-type=free\": \"free\" is not a capacity type (one of on-demand, spot)",
        ),
    ] {
        let (code, stdout, stderr) = render(flags);
        assert_eq!(code, Some(2), "{flags:?}: {stdout}{stderr}");
        assert!(stderr.contains(message), "{message:?} not in {stderr}");
        assert!(stdout.is_empty(), "{stdout}");
    }
    for region in [
        "eu-central-1",
        "us-gov-west-1",
        "cn-north-1",
        "ap-southeast-5",
    ] {
        let (code, _, stderr) = render(&[
            "--region",
            region,
            "--namespace",
            "kerf-system",
            "--requirement",
            "karpenter.sh/capacity-type=spot,on-demand",
        ]);
        assert_eq!(code, Some(0), "{region}: {stderr}");
    }
}

#[test]
fn top_refuses_a_bad_catalogue_and_a_screen_without_a_terminal() {
    let out = kerf(&["top", "--once", "--catalog", "/nonexistent/catalog.yaml"]);
    let stderr = text(&out.stderr);
    assert_eq!(out.status.code(), Some(2), "{stderr}");
    assert!(stderr.contains("invalid --catalog:"), "{stderr}");
    assert!(stderr.contains("/nonexistent/catalog.yaml"), "{stderr}");

    // Output captured here is a pipe: the screen needs a terminal.
    let out = kerf(&["top"]);
    let stderr = text(&out.stderr);
    assert_eq!(out.status.code(), Some(2), "{stderr}");
    assert!(stderr.contains("use --once"), "{stderr}");
    assert!(out.stdout.is_empty(), "{}", text(&out.stdout));

    let out = kerf(&["top", "--sort", "colour"]);
    assert_eq!(out.status.code(), Some(2));
    assert!(text(&out.stderr).contains("invalid value 'colour'"));
}

#[test]
fn simulate_report_to_a_bad_path_exits_2_naming_the_flag_and_path() {
    let dir = tempfile::tempdir().unwrap();
    let missing = dir.path().join("no-such-dir/plan.html");
    let missing = missing.display().to_string();
    let a_directory = dir.path().display().to_string();
    for path in [&missing, &a_directory] {
        let out = kerf(&["simulate", &example("seed"), "--report", path]);
        let stderr = text(&out.stderr);
        assert_eq!(out.status.code(), Some(2), "{path}: {stderr}");
        assert!(
            stderr.contains(&format!("error: --report {path}: cannot write the report")),
            "{stderr}"
        );
        assert!(out.stdout.is_empty(), "{}", text(&out.stdout));
    }
    assert!(!dir.path().join("no-such-dir").exists());

    // A good path: the normal table on stdout, and the page.
    let page = dir.path().join("plan.html");
    let out = kerf(&[
        "simulate",
        &example("seed"),
        "--report",
        &page.display().to_string(),
    ]);
    assert_eq!(out.status.code(), Some(0), "{}", text(&out.stderr));
    assert!(text(&out.stdout).contains("Total: 2 new node(s)"));
    let html = std::fs::read_to_string(&page).unwrap();
    assert!(html.starts_with("<!DOCTYPE html>"), "{html}");
    assert!(html.contains("id=\"total-nodes\">2<"), "{html}");
}
