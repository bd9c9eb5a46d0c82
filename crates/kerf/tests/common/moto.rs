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

/// moto on a free port and clients pointed at it.
pub async fn start() -> (MotoServer, Clients) {
    let moto = MotoServer::start().unwrap_or_else(|e| panic!("{e}"));
    let clients = kerf_aws::testing::clients(moto.endpoint()).await;
    (moto, clients)
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
