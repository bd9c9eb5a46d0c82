//! An AWS account in moto (kerf_testenv::MotoServer) seeded for one cluster
//! with kerf_aws::testing: a VPC, subnets tagged for the cluster in
//! us-east-1a/b/c plus an untagged one in us-east-1c, a tagged node security
//! group, and EKS AMIs published as SSM parameters under [`PARAMETER_ROOT`]
//! (moto refuses parameter names under `/aws`).

use kerf_aws::Clients;
use kerf_aws::discovery::images::AmiFamily;
use kerf_aws::testing::{publish_eks_ami, security_group, subnet, vpc};
use kerf_cloud::eks::Arch;
pub use kerf_testenv::MotoServer;

pub const PARAMETER_ROOT: &str = "/kerf-test/aws/service";

/// What [`seed`] created.
pub struct Account {
    /// Tagged subnets by zone.
    pub subnets: Vec<(String, String)>,
    pub node_sg: String,
}

/// The control plane's Kubernetes minor version (`1.34`), for the EKS AMI parameters.
pub async fn kubernetes_version(plane: &kerf_testenv::ControlPlane) -> String {
    let info = plane.client().apiserver_version().await.unwrap();
    let digits = |s: &str| {
        s.chars()
            .take_while(char::is_ascii_digit)
            .collect::<String>()
    };
    format!("{}.{}", digits(&info.major), digits(&info.minor))
}

/// Seeds the account for `cluster` with AMIs for Kubernetes `version` (`1.34`):
/// AL2 (the v1alpha5 default family) and AL2023, both architectures.
pub async fn seed(c: &Clients, cluster: &str, version: &str) -> Account {
    let cluster_tag = format!("kubernetes.io/cluster/{cluster}");
    let owned = [(cluster_tag.as_str(), "owned")];
    let vpc_id = vpc(c, "10.0.0.0/16").await;
    let mut subnets = Vec::new();
    for (i, zone) in ["us-east-1a", "us-east-1b", "us-east-1c"]
        .iter()
        .enumerate()
    {
        let id = subnet(c, &vpc_id, &format!("10.0.{}.0/24", i + 1), zone, &owned).await;
        subnets.push((zone.to_string(), id));
    }
    subnet(c, &vpc_id, "10.0.9.0/24", "us-east-1c", &[]).await;
    let node_sg = security_group(c, &vpc_id, "nodes", &owned).await;
    let images = [
        (AmiFamily::Al2, Arch::Amd64, "amazon-eks-node"),
        (AmiFamily::Al2, Arch::Arm64, "amazon-eks-arm64-node"),
        (
            AmiFamily::Al2023,
            Arch::Amd64,
            "amazon-eks-node-al2023-x86_64-standard",
        ),
        (
            AmiFamily::Al2023,
            Arch::Arm64,
            "amazon-eks-node-al2023-arm64-standard",
        ),
    ];
    for (family, arch, prefix) in images {
        let name = format!("{prefix}-{version}-v1");
        publish_eks_ami(c, PARAMETER_ROOT, family, version, arch, &name).await;
    }
    Account { subnets, node_sg }
}

/// Tag naming the claim an instance was launched for.
pub const NODECLAIM_TAG: &str = "karpenter.sh/nodeclaim";

/// The value of an instance's tag.
pub fn tag<'a>(i: &'a aws_sdk_ec2::types::Instance, key: &str) -> Option<&'a str> {
    i.tags()
        .iter()
        .find(|t| t.key() == Some(key))
        .and_then(|t| t.value())
}

/// Instances in these states, optionally only those with the NodeClaim tag.
pub async fn instances(
    c: &Clients,
    states: &[&str],
    claimed_only: bool,
) -> Vec<aws_sdk_ec2::types::Instance> {
    use aws_sdk_ec2::types::Filter;
    let mut call = c.ec2.describe_instances().filters(
        Filter::builder()
            .name("instance-state-name")
            .set_values(Some(states.iter().map(|s| s.to_string()).collect()))
            .build(),
    );
    if claimed_only {
        call = call.filters(
            Filter::builder()
                .name("tag-key")
                .values(NODECLAIM_TAG)
                .build(),
        );
    }
    let out = call.send().await.unwrap();
    out.reservations()
        .iter()
        .flat_map(|r| r.instances().iter().cloned())
        .collect()
}

/// The state of one instance (`running`, `terminated`, ...).
pub async fn instance_state(c: &Clients, id: &str) -> String {
    let out = c
        .ec2
        .describe_instances()
        .instance_ids(id)
        .send()
        .await
        .unwrap();
    out.reservations()
        .iter()
        .flat_map(|r| r.instances())
        .find_map(|i| {
            i.state()
                .and_then(|s| s.name())
                .map(|n| n.as_str().to_string())
        })
        .unwrap_or_default()
}

/// The Node name the test's kubelet gives an instance.
pub fn node_name(i: &aws_sdk_ec2::types::Instance) -> String {
    let id = i.instance_id().unwrap_or_default();
    i.private_dns_name()
        .filter(|n| !n.is_empty())
        .unwrap_or(id)
        .to_string()
}

/// Registers the instance's Node as its kubelet would, once kerf has written
/// the claim's providerID and capacity (annotated so kwok keeps it Ready).
/// Returns whether it did.
pub fn register_node(
    plane: &kerf_testenv::ControlPlane,
    instance: &aws_sdk_ec2::types::Instance,
) -> bool {
    use std::collections::BTreeMap;
    let id = instance.instance_id().unwrap();
    let zone = instance
        .placement()
        .and_then(|p| p.availability_zone())
        .unwrap();
    let Some(claim_name) = tag(instance, NODECLAIM_TAG) else {
        return false;
    };
    let provider_id = format!("aws:///{zone}/{id}");
    let Ok(json) = plane.kubectl_ok(["get", "nodeclaim", claim_name, "-o", "json"]) else {
        return false;
    };
    let claim: serde_json::Value = serde_json::from_str(&json).unwrap();
    let status = &claim["status"];
    if status["providerID"].as_str() != Some(provider_id.as_str())
        || !status["allocatable"].is_object()
    {
        return false;
    }
    let name = node_name(instance);
    let mut labels: BTreeMap<String, serde_json::Value> =
        serde_json::from_value(claim["metadata"]["labels"].clone()).unwrap_or_default();
    labels.insert("kubernetes.io/hostname".into(), name.clone().into());
    let node = serde_json::json!({
        "apiVersion": "v1",
        "kind": "Node",
        "metadata": {
            "name": name,
            "labels": labels,
            "annotations": { "kwok.x-k8s.io/node": "fake" },
        },
        "spec": { "providerID": provider_id, "taints": claim["spec"]["taints"] },
        "status": { "capacity": status["capacity"], "allocatable": status["allocatable"] },
    });
    let path = super::write(plane.dir(), &format!("node-{id}.json"), &node.to_string());
    super::kubectl(plane, &["create", "-f", path.to_str().unwrap()]);
    true
}

/// The controller flags that point `--cloud-provider aws` at moto, and the environment.
pub fn controller_flags(moto: &MotoServer) -> (Vec<String>, Vec<(&'static str, &'static str)>) {
    let flags = [
        "--cluster-endpoint",
        "https://api.kerf-e2e.example",
        "--aws-endpoint-url",
        moto.endpoint(),
        "--aws-public-parameter-root",
        PARAMETER_ROOT,
        // moto takes seconds to describe all ~1400 types; these are enough.
        "--aws-instance-types",
        "m5.large,m5.xlarge,m5.2xlarge,c5.2xlarge,m6g.2xlarge",
    ];
    let env = vec![
        ("AWS_REGION", "us-east-1"),
        ("AWS_ACCESS_KEY_ID", "testing"),
        ("AWS_SECRET_ACCESS_KEY", "testing"),
        ("AWS_EC2_METADATA_DISABLED", "true"),
    ];
    (flags.iter().map(|s| s.to_string()).collect(), env)
}

/// Plays the kubelet of every running instance kerf launched (see [`register_node`])
/// until `want` inflate pods run, or panics with the cluster's state after `timeout`.
/// Returns instance id → Node name, and the running pods (pod → node).
pub async fn register_until_running(
    plane: &kerf_testenv::ControlPlane,
    aws: &Clients,
    want: usize,
    timeout: std::time::Duration,
) -> (
    std::collections::BTreeMap<String, String>,
    Vec<(String, String)>,
) {
    let mut registered = std::collections::BTreeMap::new();
    let pods = register_until(
        plane,
        aws,
        &mut registered,
        &format!("{want} inflate pods Running"),
        timeout,
        |_| {
            let pods = super::running_inflate_pods(plane);
            (pods.len() == want).then_some(pods)
        },
    )
    .await;
    (registered, pods)
}

/// Plays the kubelet of every running instance kerf launched, adding each
/// one it registers to `registered` (instance id → Node name), until `done`
/// (given `registered`) holds; panics with the cluster's state after `timeout`.
pub async fn register_until<T>(
    plane: &kerf_testenv::ControlPlane,
    aws: &Clients,
    registered: &mut std::collections::BTreeMap<String, String>,
    what: &str,
    timeout: std::time::Duration,
    mut done: impl FnMut(&std::collections::BTreeMap<String, String>) -> Option<T>,
) -> T {
    let deadline = std::time::Instant::now() + timeout;
    loop {
        for i in instances(aws, &["running"], true).await {
            let id = i.instance_id().unwrap_or_default().to_string();
            if !registered.contains_key(&id) && register_node(plane, &i) {
                registered.insert(id, node_name(&i));
            }
        }
        if let Some(v) = done(registered) {
            return v;
        }
        if std::time::Instant::now() >= deadline {
            let state = plane.kubectl(["get", "nodes,nodeclaims,pods", "-A", "-o", "wide"]);
            let out = state
                .map(|o| String::from_utf8_lossy(&o.stdout).into_owned())
                .unwrap_or_default();
            panic!("not {what} after {timeout:?}; instances {registered:?}\n{out}");
        }
        tokio::time::sleep(std::time::Duration::from_millis(500)).await;
    }
}

/// The seed's fleet as launched in moto: m5.2xlarge holds 7 one-CPU pods, so 10
/// pods take two running instances, in us-east-1c, each carrying kerf's
/// ownership tags for `cluster` and naming a NodeClaim that exists. Returns them.
pub async fn assert_seed_instances(
    plane: &kerf_testenv::ControlPlane,
    aws: &Clients,
    cluster: &str,
) -> Vec<aws_sdk_ec2::types::Instance> {
    let instances = instances(aws, &["running"], true).await;
    assert_eq!(instances.len(), 2, "{instances:?}");
    let claims = super::claim_names(plane);
    let cluster_tag = format!("kubernetes.io/cluster/{cluster}");
    for i in &instances {
        let id = i.instance_id().unwrap_or_default();
        assert_eq!(
            i.instance_type().map(|t| t.as_str()),
            Some("m5.2xlarge"),
            "{id}"
        );
        let zone = i.placement().and_then(|p| p.availability_zone());
        assert_eq!(zone, Some("us-east-1c"), "{id}");
        assert_eq!(tag(i, &cluster_tag), Some("owned"), "{id}");
        assert_eq!(tag(i, "kerf.sh/cluster"), Some(cluster), "{id}");
        assert_eq!(tag(i, "eks:eks-cluster-name"), Some(cluster), "{id}");
        let claim = tag(i, NODECLAIM_TAG).unwrap_or_default();
        assert!(
            claims.iter().any(|c| c == claim),
            "{claim} not in {claims:?}"
        );
    }
    instances
}

/// An EC2NodeClass `default` on AL2023 that selects [`seed`]'s subnets and
/// security group by the cluster tag, with `extra_spec` (indented two
/// spaces, each line ending in a newline) added to its spec.
pub fn node_class(cluster: &str, extra_spec: &str) -> String {
    format!(
        r#"apiVersion: karpenter.k8s.aws/v1
kind: EC2NodeClass
metadata: {{name: default}}
spec:
  amiSelectorTerms: [{{alias: al2023@latest}}]
  instanceProfile: KarpenterNodeInstanceProfile
  subnetSelectorTerms: [{{tags: {{kubernetes.io/cluster/{cluster}: owned}}}}]
  securityGroupSelectorTerms: [{{tags: {{kubernetes.io/cluster/{cluster}: owned}}}}]
{extra_spec}"#
    )
}
