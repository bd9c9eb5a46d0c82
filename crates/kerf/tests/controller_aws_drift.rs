//! Drift on AWS through `kerf controller --cloud-provider aws`, with real
//! parts only (moto_server for EC2/SSM/IAM, a control plane from
//! kerf-testenv, kerf's CRDs, the real binary): a v1 NodePool on an
//! EC2NodeClass launches an instance; editing the class's user data drifts it
//! (NodeClassDrift), and the controller replaces it with an instance launched
//! from the edited class, moves the pods and terminates the old instance.
//!
//! The test is the kubelet, as in `controller_aws.rs`: it registers a Node for
//! each running instance kerf launched for a NodeClaim.

mod common;

use std::collections::{BTreeMap, BTreeSet};
use std::time::Duration;

use common::moto::{self, seed};
use common::*;

/// `start_controller` names the cluster so.
const CLUSTER: &str = "kerf-e2e";

fn node_class(user_data: &str) -> String {
    moto::node_class(CLUSTER, &format!("  userData: {user_data:?}\n"))
}

/// Consolidation off, so only drift replaces nodes.
const NODE_POOL: &str = r#"apiVersion: karpenter.sh/v1
kind: NodePool
metadata: {name: default}
spec:
  template:
    spec:
      nodeClassRef: {group: karpenter.k8s.aws, kind: EC2NodeClass, name: default}
      requirements:
        - {key: karpenter.sh/capacity-type, operator: In, values: [on-demand]}
        - {key: node.kubernetes.io/instance-type, operator: In, values: [m5.2xlarge]}
  disruption:
    consolidateAfter: Never
    budgets: [{nodes: "100%"}]
"#;

fn apply(plane: &kerf_testenv::ControlPlane, name: &str, text: &str) {
    let path = write(plane.dir(), name, text);
    kubectl(plane, &["apply", "-f", path.to_str().expect("utf-8")]);
}

/// The decoded user data of every launch template, oldest first.
async fn templates_user_data(aws: &kerf_aws::clients::Clients) -> Vec<String> {
    kerf_aws::testing::launch_templates(aws)
        .await
        .iter()
        .map(|(_, _, data)| kerf_aws::testing::user_data_text(data))
        .collect()
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn an_edited_node_class_replaces_its_instances() {
    let (moto, aws) = kerf_aws::testing::start_moto().await;
    let plane = cluster(true).await;
    let version = moto::kubernetes_version(&plane).await;
    seed(&aws, CLUSTER, &version).await;
    let (flags, env) = moto::controller_flags(&moto);
    let mut flags: Vec<&str> = flags.iter().map(String::as_str).collect();
    flags.extend(["--disruption-validation-delay", "2s"]);
    let _controller = start_controller_with_env(&plane, "aws", false, &flags, &env);
    apply(&plane, "nodeclass.yaml", &node_class("echo first"));
    apply(&plane, "nodepool.yaml", NODE_POOL);
    apply(&plane, "inflate.yaml", INFLATE);
    scale_inflate(&plane, 3);
    let (mut registered, _) =
        moto::register_until_running(&plane, &aws, 3, Duration::from_secs(180)).await;
    let old: BTreeSet<String> = registered.keys().cloned().collect();
    assert_eq!(old.len(), 1, "3 one-CPU pods fit one m5.2xlarge: {old:?}");
    let old_id = old.iter().next().unwrap().clone();
    let before_edit = templates_user_data(&aws).await;
    assert_eq!(before_edit.len(), 1, "{before_edit:?}");
    assert!(before_edit[0].contains("echo first"));

    apply(&plane, "nodeclass.yaml", &node_class("echo second"));
    moto::register_until(
        &plane,
        &aws,
        &mut registered,
        "the drifted instance replaced, its pods moved and it terminated",
        Duration::from_secs(240),
        |registered| {
            let pods = running_inflate_pods(&plane);
            let nodes: BTreeMap<&String, &String> = registered
                .iter()
                .filter(|(id, _)| !old.contains(*id))
                .collect();
            let on_new = pods.len() == 3
                && pods
                    .iter()
                    .all(|(_, node)| nodes.values().any(|n| *n == node));
            let old_gone = futures_block(moto::instance_state(&aws, &old_id)) == "terminated";
            (on_new && old_gone && nodes.len() == 1).then_some(())
        },
    )
    .await;
    // The edited class's configuration got a template of its own: the only
    // launch since the edit, the replacement's, used it.
    let after_edit = templates_user_data(&aws).await;
    assert!(
        after_edit.iter().any(|u| u.contains("echo second")),
        "the replacement launched from the edited class: {after_edit:?}"
    );
    let events = kubectl(
        &plane,
        &["get", "events", "-A", "-o", "jsonpath={.items[*].message}"],
    );
    assert!(
        events.contains("Disrupting: ") && events.contains("Drift"),
        "an Event says why the node went: {events}"
    );
}

/// Runs a future to completion from inside a synchronous closure on the
/// multi-threaded test runtime.
fn futures_block<F: std::future::Future>(f: F) -> F::Output {
    tokio::task::block_in_place(|| tokio::runtime::Handle::current().block_on(f))
}
