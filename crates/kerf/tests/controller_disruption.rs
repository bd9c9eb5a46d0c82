//! Voluntary disruption on the real control plane (etcd, kube-apiserver,
//! kube-controller-manager, kube-scheduler, kwok, the `kerf controller`
//! binary, kubectl): a Provisioner's `ttlSecondsUntilExpired` replaces an
//! expired node (its pods move to a new node, the old node and claim go), and
//! a `karpenter.sh/do-not-evict` pod keeps its node past expiry until the pod
//! is deleted. Fails (never skips) when the control-plane binaries are missing.

mod common;

use std::time::Duration;

use common::*;

/// The seed Provisioner with its emptiness TTL replaced by `ttls`.
fn provisioner_with(ttls: &str) -> String {
    let seed = SEED_PROVISIONER.trim_end();
    assert!(seed.ends_with("ttlSecondsAfterEmpty: 30"), "{seed}");
    format!(
        "{}{ttls}\n",
        seed.trim_end_matches("ttlSecondsAfterEmpty: 30")
    )
}

fn apply(plane: &kerf_testenv::ControlPlane, name: &str, text: &str) {
    let path = write(plane.dir(), name, text);
    kubectl(plane, &["apply", "-f", path.to_str().expect("utf-8")]);
}

/// `ttlSecondsUntilExpired: 20`: the claim carries `expireAfter: 20s`; once
/// it passes, kerf deletes the claim, drains the node through the Eviction
/// API, launches a replacement for the evicted pods and removes the old node.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn expired_node_is_replaced() {
    let plane = cluster(true).await;
    let _controller = start_controller(&plane, false, &[]);
    apply(
        &plane,
        "provisioner.yaml",
        &provisioner_with("ttlSecondsAfterEmpty: 30\n  ttlSecondsUntilExpired: 20"),
    );
    apply(&plane, "inflate.yaml", INFLATE);
    scale_inflate(&plane, 3);
    let first = wait(&plane, "3 pods Running", Duration::from_secs(90), || {
        let pods = running_inflate_pods(&plane);
        (pods.len() == 3).then(|| pods[0].1.clone())
    });
    let claims = claim_names(&plane);
    assert_eq!(
        claims,
        std::slice::from_ref(&first),
        "one claim, named as its node"
    );
    let expire_after = kubectl(
        &plane,
        &[
            "get",
            "nodeclaim",
            &first,
            "-o",
            "jsonpath={.spec.expireAfter}",
        ],
    );
    assert_eq!(expire_after.trim(), "20s");

    let moved = wait(
        &plane,
        "the pods Running on a replacement node, the expired one gone",
        Duration::from_secs(120),
        || {
            let pods = running_inflate_pods(&plane);
            let nodes = kerf_nodes(&plane);
            let claims = claim_names(&plane);
            let done = pods.len() == 3
                && pods.iter().all(|(_, n)| *n != first && nodes.contains(n))
                && !nodes.contains(&first)
                && !claims.contains(&first);
            done.then_some(pods)
        },
    );
    eprintln!("expired {first}; pods now on {moved:?}");
}

/// A pod annotated `karpenter.sh/do-not-evict: "true"` holds its node past
/// `ttlSecondsUntilExpired`; deleting the pod lets kerf remove the node.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn do_not_evict_pod_holds_its_node_until_deleted() {
    let plane = cluster(true).await;
    let controller = start_controller(&plane, false, &[]);
    apply(
        &plane,
        "provisioner.yaml",
        &provisioner_with("ttlSecondsAfterEmpty: 5\n  ttlSecondsUntilExpired: 10"),
    );
    apply(
        &plane,
        "guarded.yaml",
        r#"apiVersion: v1
kind: Pod
metadata:
  name: guarded
  annotations:
    karpenter.sh/do-not-evict: "true"
spec:
  terminationGracePeriodSeconds: 0
  containers:
    - name: pause
      image: public.ecr.aws/eks-distro/kubernetes/pause:3.7
      resources:
        requests:
          cpu: 1
"#,
    );
    let pod_node = || {
        kubectl(
            &plane,
            &[
                "get",
                "pod",
                "guarded",
                "-o",
                "jsonpath={.status.phase}/{.spec.nodeName}",
            ],
        )
    };
    let node = wait(
        &plane,
        "the guarded pod Running",
        Duration::from_secs(90),
        || {
            pod_node()
                .strip_prefix("Running/")
                .map(str::to_string)
                .filter(|n| !n.is_empty())
        },
    );
    assert_eq!(claim_names(&plane), std::slice::from_ref(&node));

    // Well past expiry (10 s) plus a few reconcile rounds.
    std::thread::sleep(Duration::from_secs(18));
    assert_eq!(
        kerf_nodes(&plane),
        std::slice::from_ref(&node),
        "the node stays"
    );
    let deleting = kubectl(
        &plane,
        &[
            "get",
            "nodeclaim",
            &node,
            "-o",
            "jsonpath={.metadata.deletionTimestamp}",
        ],
    );
    assert!(deleting.trim().is_empty(), "the claim is not being deleted");
    assert_eq!(pod_node(), format!("Running/{node}"));

    kubectl(&plane, &["delete", "pod", "guarded", "--wait=false"]);
    wait(
        &plane,
        "the node removed once the pod is gone",
        Duration::from_secs(60),
        || (kerf_nodes(&plane).is_empty() && claim_names(&plane).is_empty()).then_some(()),
    );
    let log = std::fs::read_to_string(&controller.log).unwrap_or_default();
    assert!(log.contains("deleting nodeclaim"), "kerf removed it");
}
