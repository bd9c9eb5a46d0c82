//! The seed's walk-through on "EKS", end to end with real parts: `kerf addon
//! install` (moto for AWS, the real control plane and the real helm) installs
//! the chart and the default Provisioner from the seed's requirements map; the
//! controller then runs exactly as the chart's Deployment configures it (its
//! args and environment, read back from the cluster, and its service
//! account's token, so only the chart's RBAC); inflate is scaled to 10 and EC2
//! instances launch in moto with kerf's tags, their Nodes join and the pods
//! run on them.
//!
//! What the test supplies beside the chart is what the pod's environment
//! supplies on EKS (credentials: IRSA there, moto's test keys here; the AWS
//! endpoint, moto's) and two settings only moto needs: the SSM parameter root
//! of the EKS AMIs (moto refuses names under `/aws`) and a short instance-type
//! list (moto takes seconds to describe all of them). The metrics and health
//! ports are free ports: the chart's are host ports here, and tests run side by
//! side. The test is the kubelet: for each instance kerf launched it registers
//! the Node with the instance's providerID. Fails, never skips, without the
//! binaries or moto.
mod common;

use std::process::Command;
use std::time::Duration;

use common::addon::{
    AWS_TEST_CREDENTIALS, ChartController, NAMESPACE_WAIT, addon_install, control_plane,
    create_eks_cluster, critical_addons_only, service_account_kubeconfig, start_webhook,
};
use common::moto::{self, PARAMETER_ROOT, tag};
use common::*;
use k8s_openapi::api::core::v1::Namespace;
use kerf_testenv::wait_for;
use kube::api::Api;

const CLUSTER: &str = "eks-walkthrough";
const NAMESPACE: &str = "karpenter";

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn the_seed_walkthrough_launches_ec2_nodes_through_the_addon() {
    let moto_server = moto::MotoServer::with_managed_policies().unwrap_or_else(|e| panic!("{e}"));
    let aws = kerf_aws::testing::clients(moto_server.endpoint()).await;
    let host = kerf_testenv::host_ipv4().unwrap_or_else(|e| panic!("{e}"));
    let plane = control_plane(host).await;
    let version = moto::kubernetes_version(&plane).await;
    let account = moto::seed(&aws, CLUSTER, &version).await;
    let subnet_c = account
        .subnets
        .iter()
        .find(|(z, _)| z == "us-east-1c")
        .map(|(_, id)| id.clone())
        .unwrap();
    create_eks_cluster(&moto_server, CLUSTER, &subnet_c).await;
    kerf_testenv::add_system_nodes(&plane.client(), &[critical_addons_only()])
        .await
        .unwrap();

    // kerf addon install, with the webhook process up once the namespace exists.
    let port = free_port();
    let install = addon_install(&plane, &moto_server, CLUSTER, port)
        .spawn()
        .expect("run kerf addon install");
    let namespaces: Api<Namespace> = Api::all(plane.client());
    wait_for("namespace karpenter", NAMESPACE_WAIT, || async {
        namespaces.get_opt(NAMESPACE).await.ok()?.map(|_| ())
    })
    .await
    .unwrap();
    let _webhook = start_webhook(&plane, host, port);
    let out = tokio::task::block_in_place(|| install.wait_with_output()).unwrap();
    assert!(
        out.status.success(),
        "kerf addon install failed:\n{}{}",
        String::from_utf8_lossy(&out.stdout),
        String::from_utf8_lossy(&out.stderr)
    );

    // The controller the chart configured: the AWS provider, the region and the
    // cluster's endpoint from the add-on, leader election on.
    let chart = ChartController::read(&plane, NAMESPACE, "kerf-controller-0");
    assert_eq!(
        chart.env("KERF_CLOUD_PROVIDER"),
        Some("aws"),
        "{:?}",
        chart.env
    );
    assert_eq!(
        chart.env("AWS_REGION"),
        Some("us-east-1"),
        "{:?}",
        chart.env
    );
    assert_eq!(chart.env("CLUSTER_NAME"), Some(CLUSTER));
    assert_eq!(chart.env("LEADER_ELECT"), Some("true"));
    let endpoint = chart.env("CLUSTER_ENDPOINT").unwrap_or_default();
    assert!(endpoint.starts_with("https://"), "{endpoint:?}");
    let kubeconfig = service_account_kubeconfig(&plane, NAMESPACE, &chart.service_account);
    let metrics_port = free_port();
    let health_port = free_port();
    let mut cmd = Command::new(env!("CARGO_BIN_EXE_kerf"));
    cmd.args(
        chart
            .args
            .iter()
            .filter(|a| !a.starts_with("--metrics-port=") && !a.starts_with("--health-port=")),
    )
    .arg(format!("--metrics-port={metrics_port}"))
    .arg(format!("--health-port={health_port}"))
    .env_clear()
    .env("PATH", std::env::var("PATH").unwrap_or_default())
    .envs(chart.env.iter().map(|(k, v)| (k.as_str(), v.as_str())))
    .env("KUBECONFIG", &kubeconfig)
    .envs(AWS_TEST_CREDENTIALS)
    .env("AWS_ENDPOINT_URL", moto_server.endpoint())
    .env("KERF_AWS_PUBLIC_PARAMETER_ROOT", PARAMETER_ROOT)
    .env(
        "KERF_AWS_INSTANCE_TYPES",
        "m5.large,m5.xlarge,m5.2xlarge,c5.2xlarge,m6g.2xlarge",
    );
    let _controller = spawn_controller(&plane, cmd, metrics_port, health_port);

    // The walk-through: inflate, scaled to 10.
    let inflate = write(plane.dir(), "inflate.yaml", INFLATE);
    kubectl(&plane, &["apply", "-f", inflate.to_str().unwrap()]);
    scale_inflate(&plane, 10);
    let (registered, running) =
        moto::register_until_running(&plane, &aws, 10, Duration::from_secs(240)).await;

    // Two m5.2xlarge in us-east-1c with kerf's tags, from the default Provisioner.
    for i in moto::assert_seed_instances(&plane, &aws, CLUSTER).await {
        let provisioner = tag(&i, "karpenter.sh/provisioner-name");
        assert_eq!(provisioner, Some("default"), "{i:?}");
    }
    // The add-on's node instance profile is the one the nodes launch with.
    for (_, _, data) in kerf_aws::testing::launch_templates(&aws).await {
        assert_eq!(
            data.iam_instance_profile().and_then(|p| p.name()),
            Some(format!("KarpenterNodeInstanceProfile-{CLUSTER}").as_str())
        );
    }
    let nodes: Vec<&String> = registered.values().collect();
    for (pod, node) in &running {
        assert!(
            nodes.contains(&node),
            "pod {pod} runs on {node}, not an EC2 node {nodes:?}"
        );
    }
}
