//! Test support: `moto_server` per test (kerf_testenv::MotoServer), SDK clients
//! pointed at it (kerf_aws::testing), and a seeded AWS account: a VPC with
//! tagged and untagged subnets in three zones, security groups, registered
//! AMIs published under a test SSM root, and a provider over all of it.

use std::sync::Arc;

use kerf_api::v1::{EC2NodeClass, EC2NodeClassSpec, SecurityGroupSelectorTerm, SubnetSelectorTerm};
use kerf_aws::clock::ManualClock;
use kerf_aws::discovery::images::AmiFamily;
use kerf_aws::launch::user_data::ClusterInfo;
pub use kerf_aws::testing::*;
use kerf_aws::{AwsCloudProvider, Clients, ProviderSettings};
use kerf_cloud::eks::Arch;
pub use kerf_testenv::MotoServer;

pub const CLUSTER: &str = "test-cluster";
pub const PARAMETER_ROOT: &str = "/kerf-test/aws/service";
pub const K8S_VERSION: &str = "1.30";

/// What [`seed`] created.
pub struct Account {
    pub vpc_id: String,
    /// Tagged for the cluster, by zone: (a: small /24, a: big /20), b, c.
    pub tagged_small_a: String,
    pub tagged_big_a: String,
    pub tagged_b: String,
    pub tagged_c: String,
    pub untagged: Vec<String>,
    pub node_sg: String,
    pub other_sg: String,
    pub ami_amd64: String,
    pub ami_arm64: String,
}

/// A VPC with tagged and untagged subnets in three zones, two security groups,
/// and AL2023 images for both architectures published under [`PARAMETER_ROOT`].
pub async fn seed(c: &Clients) -> Account {
    let cluster_tag = format!("kubernetes.io/cluster/{CLUSTER}");
    let owned = [(cluster_tag.as_str(), "owned")];
    let shared = [(cluster_tag.as_str(), "shared")];
    let vpc_id = vpc(c, "10.0.0.0/16").await;
    let tagged_small_a = subnet(c, &vpc_id, "10.0.1.0/24", "us-east-1a", &owned).await;
    let tagged_big_a = subnet(c, &vpc_id, "10.0.16.0/20", "us-east-1a", &shared).await;
    let tagged_b = subnet(c, &vpc_id, "10.0.2.0/24", "us-east-1b", &owned).await;
    let tagged_c = subnet(c, &vpc_id, "10.0.3.0/24", "us-east-1c", &owned).await;
    let untagged = vec![
        subnet(c, &vpc_id, "10.0.4.0/24", "us-east-1a", &[]).await,
        subnet(
            c,
            &vpc_id,
            "10.0.5.0/24",
            "us-east-1b",
            &[("team", "other")],
        )
        .await,
        subnet(c, &vpc_id, "10.0.6.0/24", "us-east-1d", &[]).await,
    ];
    let node_sg = security_group(c, &vpc_id, "nodes", &owned).await;
    let other_sg = security_group(c, &vpc_id, "other", &[]).await;
    let mut amis = Vec::new();
    for arch in [Arch::Amd64, Arch::Arm64] {
        let ec2_arch = match arch {
            Arch::Amd64 => "x86_64",
            Arch::Arm64 => "arm64",
        };
        let name = format!("amazon-eks-node-al2023-{ec2_arch}-standard-{K8S_VERSION}-v1");
        amis.push(
            publish_eks_ami(
                c,
                PARAMETER_ROOT,
                AmiFamily::Al2023,
                K8S_VERSION,
                arch,
                &name,
            )
            .await,
        );
    }
    let [ami_amd64, ami_arm64] = <[String; 2]>::try_from(amis).expect("two images");
    Account {
        vpc_id,
        tagged_small_a,
        tagged_big_a,
        tagged_b,
        tagged_c,
        untagged,
        node_sg,
        other_sg,
        ami_amd64,
        ami_arm64,
    }
}

pub fn cluster_info() -> ClusterInfo {
    ClusterInfo {
        name: CLUSTER.to_string(),
        endpoint: "https://api.test-cluster.example".to_string(),
        ca_bundle: "Q0EgYnVuZGxl".to_string(),
        dns_ip: Some("10.100.0.10".to_string()),
        service_cidr: "10.100.0.0/16".to_string(),
    }
}

/// A provider over the seeded account with a manual clock; the Pricing API
/// points at moto, which does not serve it, so on-demand prices are the fallback table.
/// Discovery is limited to these types: moto takes seconds per call to describe all ~1400.
pub const TEST_TYPES: &[&str] = &[
    "t3.medium",
    "c5.large",
    "c5.xlarge",
    "m5.large",
    "m5.xlarge",
    "m5.2xlarge",
    "m6g.large",
    "r5.large",
];

pub fn provider(clients: Clients) -> (Arc<AwsCloudProvider>, ManualClock) {
    provider_with(clients, Some(TEST_TYPES))
}

/// Provider settings for the seeded account, discovering only `only` (all types when `None`).
pub fn settings(only: Option<&[&str]>) -> ProviderSettings {
    let mut settings = ProviderSettings::new(cluster_info(), K8S_VERSION);
    settings.public_parameter_root = PARAMETER_ROOT.to_string();
    settings.instance_types = only.map(|o| o.iter().map(|t| t.to_string()).collect());
    settings
}

pub fn provider_with(
    clients: Clients,
    only: Option<&[&str]>,
) -> (Arc<AwsCloudProvider>, ManualClock) {
    let clock = ManualClock::default();
    let provider = AwsCloudProvider::new(clients, settings(only), Arc::new(clock.clone()));
    (Arc::new(provider), clock)
}

/// An EC2NodeClass selecting by the cluster tag (the default terms) with an instance profile.
pub fn node_class(name: &str) -> EC2NodeClass {
    let mut class = EC2NodeClass::new(
        name,
        EC2NodeClassSpec {
            ami_family: Some("AL2023".into()),
            instance_profile: Some("KarpenterNodeInstanceProfile".into()),
            tags: [("team".to_string(), "platform".to_string())].into(),
            ..Default::default()
        },
    );
    class.metadata.name = Some(name.to_string());
    class
}

/// A node class selecting explicit ids.
pub fn node_class_by_ids(name: &str, subnets: &[&str], groups: &[&str]) -> EC2NodeClass {
    let mut class = node_class(name);
    class.spec.subnet_selector_terms = subnets
        .iter()
        .map(|id| SubnetSelectorTerm {
            id: Some(id.to_string()),
            ..Default::default()
        })
        .collect();
    class.spec.security_group_selector_terms = groups
        .iter()
        .map(|id| SecurityGroupSelectorTerm {
            id: Some(id.to_string()),
            ..Default::default()
        })
        .collect();
    class
}

/// moto seeded with [`seed`]'s account and a provider over it that knows the
/// `default` node class. Keep `moto` bound: dropping it stops the server.
pub struct Fixture {
    pub moto: MotoServer,
    pub c: Clients,
    pub acct: Account,
    pub p: Arc<AwsCloudProvider>,
    pub clock: ManualClock,
}

pub async fn seeded() -> Fixture {
    let (moto, c) = start_moto().await;
    let acct = seed(&c).await;
    let (p, clock) = provider(c.clone());
    p.set_node_class(node_class("default"));
    Fixture {
        moto,
        c,
        acct,
        p,
        clock,
    }
}
