//! Running `kerf addon install` the way a user does, against moto (the AWS
//! side, with an EKS cluster made by CreateCluster) and the real control plane
//! with the real helm (the cluster side), and running the processes of the
//! chart's pods on this machine: kwok "runs" pods but executes nothing, so the
//! webhook and the controller are started here with what the chart put in
//! their Deployments.
//!
//! The API server reaches the webhook as it does in a cluster: the chart runs
//! with `hostNetwork=true`, kwok gives its Nodes this machine's IPv4 address,
//! the API server routes to endpoints (`--enable-aggregator-routing`), and the
//! `kerf webhook` process listens on that address and the pods' port.

use std::net::Ipv4Addr;
use std::path::PathBuf;
use std::process::{Child, Command, Stdio};
use std::time::Duration;

use aws_sdk_eks::types::VpcConfigRequest;
use k8s_openapi::api::core::v1::Taint;
use kerf_addon::aws::AwsClients;
use kerf_aws::AwsSettings;
use kerf_testenv::{ControlPlane, ControlPlaneOptions, MotoServer};

/// Kills the child when the test ends, however it ends.
pub struct Killed(pub Child);

impl Drop for Killed {
    fn drop(&mut self) {
        let _ = self.0.kill();
        let _ = self.0.wait();
    }
}

/// The full control plane, set up so the API server can call host-network pods.
pub async fn control_plane(host: Ipv4Addr) -> ControlPlane {
    let mut options = ControlPlaneOptions::cluster();
    options
        .apiserver_args
        .push("--enable-aggregator-routing=true".into());
    options.kwok_args.push(format!("--node-ip={host}"));
    ControlPlane::start(options)
        .await
        .expect("start the full control plane")
}

/// An EKS cluster in moto over `subnet`.
pub async fn create_eks_cluster(moto: &MotoServer, cluster: &str, subnet: &str) {
    let c = AwsClients::connect(&AwsSettings::local(moto.endpoint())).await;
    let account = c.sts.get_caller_identity().send().await.unwrap();
    let account = account.account().unwrap().to_string();
    c.eks
        .create_cluster()
        .name(cluster)
        .role_arn(format!("arn:aws:iam::{account}:role/eks-cluster"))
        .resources_vpc_config(VpcConfigRequest::builder().subnet_ids(subnet).build())
        .send()
        .await
        .unwrap();
}

/// The taint of the add-on's system nodes (see [`kerf_testenv::add_system_nodes`]):
/// the chart's pods tolerate it, so workloads need kerf's nodes.
pub fn critical_addons_only() -> Taint {
    Taint {
        key: "CriticalAddonsOnly".into(),
        value: Some("true".into()),
        effect: "NoSchedule".into(),
        ..Default::default()
    }
}

/// The seed's requirements map, as `--requirement` flags.
pub const SEED_REQUIREMENTS: [&str; 4] = [
    "node.kubernetes.io/instance-type=m5.2xlarge",
    "topology.kubernetes.io/zone=us-east-1c",
    "kubernetes.io/arch=arm64,amd64",
    "karpenter.sh/capacity-type=spot,on-demand",
];

/// `kerf addon install` for `cluster` with the seed's requirements, the chart on the host
/// network with the webhook on `webhook_port`.
pub fn addon_install(
    plane: &ControlPlane,
    moto: &MotoServer,
    cluster: &str,
    webhook_port: u16,
) -> Command {
    let port = format!("webhook.port={webhook_port}");
    let mut cmd = Command::new(env!("CARGO_BIN_EXE_kerf"));
    cmd.args(["addon", "install", "--cluster-name", cluster])
        .args(["--region", "us-east-1"])
        .args(["--aws-endpoint-url", moto.endpoint()])
        .arg("--kubeconfig")
        .arg(plane.kubeconfig_path())
        .arg("--helm")
        .arg(plane.binaries().path("helm").unwrap());
    for r in SEED_REQUIREMENTS {
        cmd.args(["--requirement", r]);
    }
    cmd.args(["--set", "hostNetwork=true", "--set", &port])
        .envs(AWS_TEST_CREDENTIALS)
        .env_remove("KUBECONFIG")
        .stdin(Stdio::null())
        .stdout(Stdio::piped())
        .stderr(Stdio::piped());
    cmd
}

/// Credentials moto accepts; no instance metadata on this machine.
pub const AWS_TEST_CREDENTIALS: [(&str, &str); 3] = [
    ("AWS_ACCESS_KEY_ID", "testing"),
    ("AWS_SECRET_ACCESS_KEY", "testing"),
    ("AWS_EC2_METADATA_DISABLED", "true"),
];

/// `kerf webhook` with the chart's defaults (Service `kerf-webhook`, certificate Secret in
/// `karpenter`, so it starts once install has created the namespace), on the address the
/// host-network webhook pods have.
pub fn start_webhook(plane: &ControlPlane, host: Ipv4Addr, port: u16) -> Killed {
    let log = std::fs::File::create(plane.dir().join("logs").join("kerf-webhook.log")).unwrap();
    let child = Command::new(env!("CARGO_BIN_EXE_kerf"))
        .args(["webhook", "--address", &host.to_string()])
        .args(["--port", &port.to_string()])
        .args(["--namespace", "karpenter", "--cert-refresh", "1s"])
        .arg("--kubeconfig")
        .arg(plane.kubeconfig_path())
        .env("RUST_LOG", "info")
        .stdin(Stdio::null())
        .stdout(log.try_clone().unwrap())
        .stderr(log)
        .spawn()
        .expect("start kerf webhook");
    Killed(child)
}

/// What the chart's controller Deployment runs: its container's args and its
/// environment with every `fieldRef` resolved as the kubelet would for `pod`.
pub struct ChartController {
    pub args: Vec<String>,
    pub env: Vec<(String, String)>,
    pub service_account: String,
}

impl ChartController {
    /// Reads the controller Deployment the chart installed in `namespace`.
    pub fn read(plane: &ControlPlane, namespace: &str, pod: &str) -> Self {
        let json = plane
            .kubectl_ok([
                "get",
                "deployments",
                "-n",
                namespace,
                "-l",
                "app.kubernetes.io/component=controller",
                "-o",
                "json",
            ])
            .unwrap();
        let list: serde_json::Value = serde_json::from_str(&json).unwrap();
        let spec = &list["items"][0]["spec"]["template"]["spec"];
        let container = &spec["containers"][0];
        let args = container["args"]
            .as_array()
            .expect("the controller container has args")
            .iter()
            .map(|a| a.as_str().unwrap().to_string())
            .collect();
        let env = container["env"]
            .as_array()
            .into_iter()
            .flatten()
            .map(|e| {
                let name = e["name"].as_str().unwrap().to_string();
                let value = match (&e["value"], &e["valueFrom"]["fieldRef"]["fieldPath"]) {
                    (serde_json::Value::String(v), _) => v.clone(),
                    (_, serde_json::Value::String(path)) => match path.as_str() {
                        "metadata.namespace" => namespace.to_string(),
                        "metadata.name" => pod.to_string(),
                        other => panic!("env {name}: fieldRef {other} is not resolved here"),
                    },
                    _ => panic!("env {name}: neither a value nor a fieldRef: {e}"),
                };
                (name, value)
            })
            .collect();
        ChartController {
            args,
            env,
            service_account: spec["serviceAccountName"].as_str().unwrap().to_string(),
        }
    }

    /// The value of one of its environment variables.
    pub fn env(&self, name: &str) -> Option<&str> {
        self.env
            .iter()
            .find(|(n, _)| n == name)
            .map(|(_, v)| v.as_str())
    }
}

/// A kubeconfig that authenticates as the chart's service account (a token
/// from the TokenRequest API, as the pod's projected token is), so the process
/// has exactly the RBAC the chart grants.
pub fn service_account_kubeconfig(plane: &ControlPlane, namespace: &str, name: &str) -> PathBuf {
    let token = plane
        .kubectl_ok(["create", "token", name, "-n", namespace, "--duration=2h"])
        .unwrap();
    let config = serde_json::json!({
        "apiVersion": "v1",
        "kind": "Config",
        "clusters": [{"name": "plane", "cluster": {
            "server": plane.server_url(),
            "certificate-authority": plane.ca_cert_path(),
        }}],
        "users": [{"name": name, "user": {"token": token.trim()}}],
        "contexts": [{"name": "sa", "context": {"cluster": "plane", "user": name}}],
        "current-context": "sa",
    });
    let path = plane
        .dir()
        .join(format!("kubeconfig-{namespace}-{name}.json"));
    std::fs::write(&path, config.to_string()).unwrap();
    path
}

/// How long to wait for the add-on's namespace before starting the webhook.
pub const NAMESPACE_WAIT: Duration = Duration::from_secs(120);
