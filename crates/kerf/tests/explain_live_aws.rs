//! `kerf explain pod --aws` against a live cluster (a real control plane from
//! kerf-testenv) whose EC2NodeClass resolves in AWS (moto_server, reached by
//! the real SDK clients): the funnel starts from the instance types AWS
//! offers that class, as `kerf controller --cloud-provider aws` sees them,
//! not from the built-in catalogue, and the pod's reason names them.

mod common;

use std::process::Command;

use common::moto::{self, seed};
use common::*;

const CLUSTER: &str = "kerf-e2e";

fn manifests() -> String {
    moto::node_class(CLUSTER, "")
        + r#"---
apiVersion: karpenter.sh/v1
kind: NodePool
metadata: {name: default}
spec:
  template:
    spec:
      nodeClassRef: {group: karpenter.k8s.aws, kind: EC2NodeClass, name: default}
      requirements:
        - {key: karpenter.sh/capacity-type, operator: In, values: [on-demand]}
---
apiVersion: v1
kind: Pod
metadata: {name: web, namespace: default}
spec:
  containers: [{name: web, image: nginx, resources: {requests: {cpu: "1"}}}]
---
apiVersion: v1
kind: Pod
metadata: {name: huge, namespace: default}
spec:
  containers: [{name: huge, image: nginx, resources: {requests: {cpu: "64"}}}]
"#
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn explain_prices_live_pools_with_the_types_aws_offers() {
    let (moto, aws) = kerf_aws::testing::start_moto().await;
    let plane = cluster(false).await;
    let version = moto::kubernetes_version(&plane).await;
    seed(&aws, CLUSTER, &version).await;
    let path = write(plane.dir(), "explain.yaml", &manifests());
    kubectl(&plane, &["apply", "-f", path.to_str().expect("utf-8")]);

    let explain = |pod: &str| {
        let out = Command::new(env!("CARGO_BIN_EXE_kerf"))
            .args(["explain", "pod", pod, "--aws", "--kubeconfig"])
            .arg(plane.kubeconfig_path())
            .args([
                "--aws-region",
                "us-east-1",
                "--aws-endpoint-url",
                moto.endpoint(),
            ])
            .args(["--aws-public-parameter-root", moto::PARAMETER_ROOT])
            .args([
                "--aws-instance-types",
                "m5.large,m5.xlarge,c5.large,m6g.large",
            ])
            .envs([
                ("AWS_ACCESS_KEY_ID", "testing"),
                ("AWS_SECRET_ACCESS_KEY", "testing"),
                ("AWS_EC2_METADATA_DISABLED", "true"),
            ])
            .env_remove("RUST_LOG")
            .output()
            .expect("run kerf");
        let text = String::from_utf8_lossy(&out.stdout).into_owned()
            + &String::from_utf8_lossy(&out.stderr);
        (out.status.code(), text)
    };

    let (code, text) = explain("default/web");
    assert_eq!(code, Some(0), "{text}");
    // The four types AWS offers the class, not the catalogue's 1,345.
    assert!(
        text.lines()
            .any(|l| l.split_whitespace().collect::<Vec<_>>() == ["4", "instance", "types"]),
        "{text}"
    );
    // The arm64 type too: the class resolves an arm64 image as well.
    assert!(text.contains("cheapest fit: m6g.large on-demand"), "{text}");

    let (_, text) = explain("default/huge");
    assert!(
        text.starts_with("pod default/huge: unschedulable: nodepool default: the pod asks for 64 cpu but the largest instance type, m5.xlarge,"),
        "{text}"
    );
}
