//! `kerf controller --cloud-provider aws` end to end, with real parts only: a
//! moto_server standing in for EC2/SSM, a control plane from kerf-testenv
//! (etcd, kube-apiserver, kube-controller-manager, kube-scheduler, kwok),
//! kerf's CRDs, the real `kerf` binary, and the real kubectl applying the
//! seed Provisioner (`provider.instanceProfile`, no selectors: subnets and
//! security groups are found by the cluster tag) and scaling inflate to 10.
//!
//! The test is the kubelet: for each running instance moto holds for a
//! NodeClaim it registers a Node with providerID `aws:///<zone>/<instance-id>`
//! and the claim's labels and capacity, annotated so kwok keeps it Ready.
//!
//! Fails (never skips) when moto_server or the control-plane binaries are missing.

mod common;

use std::time::{Duration, Instant};

use common::moto::{self, seed};
use common::*;

/// `start_controller` names the cluster so.
const CLUSTER: &str = "kerf-e2e";

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn seed_provisioner_launches_ec2_instances_in_moto() {
    let t_start = Instant::now();
    let (moto, aws) = kerf_aws::testing::start_moto().await;
    let plane = cluster(true).await;
    let version = moto::kubernetes_version(&plane).await;
    let account = seed(&aws, CLUSTER, &version).await;
    let subnet_c = account
        .subnets
        .iter()
        .find(|(z, _)| z == "us-east-1c")
        .map(|(_, id)| id.clone())
        .unwrap();

    // No --cluster-ca-bundle: the CA comes from the kubeconfig (asserted below).
    let (flags, env) = moto::controller_flags(&moto);
    let flags: Vec<&str> = flags.iter().map(String::as_str).collect();
    let _controller = start_controller_with_env(&plane, "aws", false, &flags, &env);
    apply_seed(&plane);
    let t_scale = Instant::now();
    scale_inflate(&plane, 10);

    let (registered, running) =
        moto::register_until_running(&plane, &aws, 10, Duration::from_secs(180)).await;
    eprintln!(
        "scale → 10 pods Running in {:?} (test total {:?}) on {registered:?}",
        t_scale.elapsed(),
        t_start.elapsed()
    );

    // m5.2xlarge: 8 vCPU, 7910m allocatable → 7 one-CPU pods per node → 2 instances.
    for i in moto::assert_seed_instances(&plane, &aws, CLUSTER).await {
        assert_eq!(i.subnet_id(), Some(subnet_c.as_str()), "{i:?}");
    }
    // moto does not copy launch-template networking onto instances, so the
    // security group and the seed's instance profile are read from the template.
    let templates = kerf_aws::testing::launch_templates(&aws).await;
    assert_eq!(templates.len(), 1, "{templates:?}");
    let data = &templates[0].2;
    assert_eq!(
        data.iam_instance_profile().and_then(|p| p.name()),
        Some("KarpenterNodeInstanceProfile-eks-blueprint")
    );
    assert_eq!(
        data.security_group_ids(),
        std::slice::from_ref(&account.node_sg)
    );
    // No --cluster-ca-bundle: nodes get the CA kerf's own kubeconfig trusts.
    assert_eq!(
        user_data_ca(data.user_data().expect("user data")),
        pem_body(&std::fs::read_to_string(plane.ca_cert_path()).unwrap()),
        "the user data's --b64-cluster-ca is the control plane's CA"
    );
    let nodes: Vec<&String> = registered.values().collect();
    for (pod, node) in &running {
        assert!(
            nodes.contains(&node),
            "pod {pod} runs on {node}, not an EC2 node {nodes:?}"
        );
    }
}

/// The certificate text inside `--b64-cluster-ca '...'` of base64 AL2 user data.
fn user_data_ca(user_data: &str) -> String {
    use base64::Engine;
    let b64 = base64::engine::general_purpose::STANDARD;
    let script = String::from_utf8(b64.decode(user_data).expect("base64 user data")).unwrap();
    let (_, rest) = script
        .split_once("--b64-cluster-ca '")
        .unwrap_or_else(|| panic!("no --b64-cluster-ca in {script}"));
    let ca = rest.split('\'').next().unwrap();
    assert!(!ca.is_empty(), "empty CA in {script}");
    pem_body(&String::from_utf8(b64.decode(ca).expect("base64 CA")).unwrap())
}

/// A PEM file's base64 lines joined, without the armour.
fn pem_body(pem: &str) -> String {
    pem.lines()
        .filter(|l| !l.starts_with("-----"))
        .map(str::trim)
        .collect()
}
