//! Test support: a `moto_server` on a free loopback port per test (killed on
//! drop), SDK clients pointed at it, and a seeded AWS account: a VPC with
//! tagged and untagged subnets in three zones, security groups, registered
//! AMIs published under a test SSM root, and a provider over all of it.

use std::net::{TcpListener, TcpStream};
use std::path::PathBuf;
use std::process::{Child, Command, Stdio};
use std::sync::Arc;
use std::time::{Duration, Instant};

use aws_sdk_ec2::types::{ArchitectureValues, ResourceType, Tag, TagSpecification};
use kerf_api::v1::{EC2NodeClass, EC2NodeClassSpec, SecurityGroupSelectorTerm, SubnetSelectorTerm};
use kerf_aws::clock::ManualClock;
use kerf_aws::launch::user_data::ClusterInfo;
use kerf_aws::{AwsCloudProvider, AwsSettings, Clients, ProviderSettings};

pub const CLUSTER: &str = "test-cluster";
pub const PARAMETER_ROOT: &str = "/kerf-test/aws/service";
pub const K8S_VERSION: &str = "1.30";

fn moto_binary() -> PathBuf {
    if let Some(p) = std::env::var_os("KERF_MOTO_SERVER") {
        return PathBuf::from(p);
    }
    let home = std::env::var_os("HOME").expect("HOME is set");
    PathBuf::from(home).join(".cache/kerf/venv/bin/moto_server")
}

/// A running moto_server; killed when dropped.
pub struct Moto {
    child: Child,
    pub endpoint: String,
}

impl Moto {
    pub fn start() -> Moto {
        let bin = moto_binary();
        assert!(
            bin.exists(),
            "moto_server not found at {} — install it with scripts/python-tools.sh (or set KERF_MOTO_SERVER)",
            bin.display()
        );
        let port = TcpListener::bind("127.0.0.1:0")
            .unwrap()
            .local_addr()
            .unwrap()
            .port();
        let child = Command::new(&bin)
            .args(["-H", "127.0.0.1", "-p", &port.to_string()])
            .stdin(Stdio::null())
            .stdout(Stdio::null())
            .stderr(Stdio::null())
            .spawn()
            .unwrap_or_else(|e| panic!("starting {}: {e}", bin.display()));
        let mut moto = Moto {
            child,
            endpoint: format!("http://127.0.0.1:{port}"),
        };
        let deadline = Instant::now() + Duration::from_secs(60);
        while TcpStream::connect(("127.0.0.1", port)).is_err() {
            if let Ok(Some(status)) = moto.child.try_wait() {
                panic!("moto_server exited early with {status}");
            }
            assert!(
                Instant::now() < deadline,
                "moto_server did not listen on port {port} within 60s"
            );
            std::thread::sleep(Duration::from_millis(100));
        }
        moto
    }

    pub async fn clients(&self) -> Clients {
        Clients::connect(&AwsSettings::local(&self.endpoint)).await
    }
}

impl Drop for Moto {
    fn drop(&mut self) {
        let _ = self.child.kill();
        let _ = self.child.wait();
    }
}

pub fn tags(pairs: &[(&str, &str)]) -> Vec<Tag> {
    pairs
        .iter()
        .map(|(k, v)| Tag::builder().key(*k).value(*v).build())
        .collect()
}

fn tag_spec(resource: ResourceType, pairs: &[(&str, &str)]) -> TagSpecification {
    TagSpecification::builder()
        .resource_type(resource)
        .set_tags(Some(tags(pairs)))
        .build()
}

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

pub async fn subnet(
    c: &Clients,
    vpc: &str,
    cidr: &str,
    zone: &str,
    pairs: &[(&str, &str)],
) -> String {
    let mut call = c
        .ec2
        .create_subnet()
        .vpc_id(vpc)
        .cidr_block(cidr)
        .availability_zone(zone);
    if !pairs.is_empty() {
        call = call.tag_specifications(tag_spec(ResourceType::Subnet, pairs));
    }
    call.send()
        .await
        .unwrap()
        .subnet()
        .unwrap()
        .subnet_id()
        .unwrap()
        .to_string()
}

pub async fn register_image(c: &Clients, name: &str, arch: ArchitectureValues) -> String {
    c.ec2
        .register_image()
        .name(name)
        .architecture(arch)
        .root_device_name("/dev/xvda")
        .send()
        .await
        .unwrap()
        .image_id()
        .unwrap()
        .to_string()
}

pub async fn put_parameter(c: &Clients, name: &str, value: &str) {
    c.ssm
        .put_parameter()
        .name(name)
        .value(value)
        .r#type(aws_sdk_ssm::types::ParameterType::String)
        .overwrite(true)
        .send()
        .await
        .unwrap();
}

/// A VPC with tagged and untagged subnets in three zones, two security groups,
/// and AL2023 images for both architectures published under [`PARAMETER_ROOT`].
pub async fn seed(c: &Clients) -> Account {
    let cluster_tag = format!("kubernetes.io/cluster/{CLUSTER}");
    let owned = [(cluster_tag.as_str(), "owned")];
    let shared = [(cluster_tag.as_str(), "shared")];
    let vpc = c
        .ec2
        .create_vpc()
        .cidr_block("10.0.0.0/16")
        .send()
        .await
        .unwrap();
    let vpc_id = vpc.vpc().unwrap().vpc_id().unwrap().to_string();
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
    let sg = |name: &'static str, pairs: Vec<(String, String)>| {
        let vpc_id = vpc_id.clone();
        async move {
            let mut call = c
                .ec2
                .create_security_group()
                .group_name(name)
                .description(name)
                .vpc_id(vpc_id);
            if !pairs.is_empty() {
                let p: Vec<(&str, &str)> = pairs
                    .iter()
                    .map(|(k, v)| (k.as_str(), v.as_str()))
                    .collect();
                call = call.tag_specifications(tag_spec(ResourceType::SecurityGroup, &p));
            }
            call.send().await.unwrap().group_id().unwrap().to_string()
        }
    };
    let node_sg = sg("nodes", vec![(cluster_tag.clone(), "owned".into())]).await;
    let other_sg = sg("other", vec![]).await;
    let ami_amd64 = register_image(
        c,
        "amazon-eks-node-al2023-x86_64-standard-1.30-v1",
        ArchitectureValues::X8664,
    )
    .await;
    let ami_arm64 = register_image(
        c,
        "amazon-eks-node-al2023-arm64-standard-1.30-v1",
        ArchitectureValues::Arm64,
    )
    .await;
    for (arch, id) in [("x86_64", &ami_amd64), ("arm64", &ami_arm64)] {
        let name = format!(
            "{PARAMETER_ROOT}/eks/optimized-ami/{K8S_VERSION}/amazon-linux-2023/{arch}/standard/recommended/image_id"
        );
        put_parameter(c, &name, id).await;
    }
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

pub fn provider_with(
    clients: Clients,
    only: Option<&[&str]>,
) -> (Arc<AwsCloudProvider>, ManualClock) {
    let clock = ManualClock::default();
    let mut settings = ProviderSettings::new(cluster_info(), K8S_VERSION);
    settings.public_parameter_root = PARAMETER_ROOT.to_string();
    settings.instance_types = only.map(|o| o.iter().map(|t| t.to_string()).collect());
    let provider = AwsCloudProvider::new(clients, settings, Arc::new(clock.clone()));
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
