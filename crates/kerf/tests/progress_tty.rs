//! `kerf simulate` on a large input, as a person runs it: with stderr on a
//! terminal (tmux) a progress line names the stage while the work goes on
//! and is gone when the plan is printed; with stderr not a terminal, stderr
//! stays empty. stdout is the plan alone either way. Fails (never skips)
//! when tmux is missing.

mod common;

use std::path::Path;
use std::process::Command;
use std::time::{Duration, Instant};

use common::tmux::{TerminalRun, shell_quote};

const NODE_POOL: &str = r#"apiVersion: karpenter.sh/v1
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
        - key: karpenter.k8s.aws/instance-family
          operator: In
          values: ["m5", "c5", "r5"]
        - key: karpenter.sh/capacity-type
          operator: In
          values: ["spot", "on-demand"]
---
apiVersion: karpenter.k8s.aws/v1
kind: EC2NodeClass
metadata:
  name: default
spec:
  role: KarpenterNodeRole-my-cluster
  amiSelectorTerms:
    - alias: al2023@latest
  subnetSelectorTerms:
    - tags: {karpenter.sh/discovery: my-cluster}
  securityGroupSelectorTerms:
    - tags: {karpenter.sh/discovery: my-cluster}
"#;

/// Deployments enough that planning takes seconds in the debug build the
/// tests run (about 7 s on a 2-core machine), each with its own shape so the
/// packer cannot treat them as one.
const DEPLOYMENTS: usize = 24;
const REPLICAS: usize = 500;

fn large_input(dir: &Path) {
    std::fs::write(dir.join("nodepool.yaml"), NODE_POOL).unwrap();
    let mut workloads = String::new();
    for i in 0..DEPLOYMENTS {
        let cpu = 100 + 75 * i;
        let memory = 128 + 96 * i;
        workloads.push_str(&format!(
            "---
apiVersion: apps/v1
kind: Deployment
metadata:
  name: app-{i}
spec:
  replicas: {REPLICAS}
  selector:
    matchLabels: {{app: app-{i}}}
  template:
    metadata:
      labels: {{app: app-{i}}}
    spec:
      containers:
        - name: app
          image: app
          resources:
            requests: {{cpu: {cpu}m, memory: {memory}Mi}}
"
        ));
    }
    std::fs::write(dir.join("workloads.yaml"), workloads).unwrap();
}

#[test]
fn a_long_simulation_shows_its_stage_on_a_terminal_and_clears_it() {
    let dir = tempfile::tempdir().unwrap();
    let input = dir.path().join("input");
    std::fs::create_dir(&input).unwrap();
    large_input(&input);
    let command = format!(
        "{} simulate {}",
        shell_quote(env!("CARGO_BIN_EXE_kerf")),
        shell_quote(&input),
    );
    let run = TerminalRun::start("kerf-progress", dir.path(), &command);
    let tmux = &run.tmux;
    let started = Instant::now();
    let mut stages = Vec::new();
    let mut last = String::new();
    while run.exit_status().is_none() {
        assert!(
            started.elapsed() < Duration::from_secs(300),
            "kerf simulate did not finish in 300 s; screen:\n{last}"
        );
        last = tmux.screen();
        if let Some(line) = last.lines().find(|l| l.contains("kerf simulate: ")) {
            let stage = line.split("kerf simulate: ").nth(1).unwrap_or_default();
            let stage = stage.split(" (").next().unwrap_or_default().to_string();
            if stages.last() != Some(&stage) {
                stages.push(stage);
            }
        }
        std::thread::sleep(Duration::from_millis(50));
    }
    let took = started.elapsed();
    let pods = DEPLOYMENTS * REPLICAS;
    let status = run.exit_status().unwrap_or_default();
    assert_eq!(status, "0", "kerf simulate failed; screen:\n{last}");
    assert!(
        stages.contains(&format!(
            "planning nodes for {pods} pending pods across 1 pool"
        )),
        "the planning stage never showed in {took:?}; stages seen: {stages:?}"
    );
    // Cleared: the terminal holds nothing of the line once the plan is out.
    let after = tmux.screen();
    assert!(
        !after.contains("kerf simulate:"),
        "the progress line was left behind:\n{after}"
    );
    let plan = run.stdout();
    assert!(
        plan.contains(&format!(
            "{pods} on new nodes, 0 on existing nodes, 0 unschedulable"
        )),
        "{plan}"
    );
    assert!(!plan.contains("kerf simulate:"), "progress went to stdout");

    // The same run with stderr not a terminal: nothing on stderr.
    let out = Command::new(env!("CARGO_BIN_EXE_kerf"))
        .arg("simulate")
        .arg(&input)
        .output()
        .unwrap();
    assert!(out.status.success(), "{out:?}");
    assert_eq!(String::from_utf8_lossy(&out.stderr), "");
    assert_eq!(String::from_utf8_lossy(&out.stdout), plan);
}
