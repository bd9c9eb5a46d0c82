//! `kerf explain` against a live cluster (the real control plane with kwok
//! and the kerf controller): the cluster is read as kubectl would (here
//! `--kubeconfig`), a pod the controller placed is explained by its node, a
//! pending one by the constraint no pool satisfies, and a node by what
//! disruption would do with it. Fails (never skips) when the control-plane
//! binaries are missing.

mod common;

use std::process::Command;
use std::time::Duration;

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
    kubectl(
        &plane,
        &["scale", "deployment", "inflate", "--replicas", "1"],
    );
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
}
