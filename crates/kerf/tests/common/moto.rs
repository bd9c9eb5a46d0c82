//! A `moto_server` on a free loopback port (killed on drop) and an AWS
//! account seeded for one cluster: a VPC, subnets tagged for the cluster in
//! us-east-1a/b/c (and one untagged), a tagged node security group, and EKS
//! AMIs registered and published as SSM parameters under [`PARAMETER_ROOT`]
//! (moto refuses parameter names under `/aws`).

use std::path::PathBuf;
use std::process::{Child, Command, Stdio};
use std::time::{Duration, Instant};

use aws_sdk_ec2::types::{ArchitectureValues, ResourceType, Tag, TagSpecification};
use kerf_aws::{AwsSettings, Clients};

pub const PARAMETER_ROOT: &str = "/kerf-test/aws/service";

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
        let port = super::free_port();
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
        while std::net::TcpStream::connect(("127.0.0.1", port)).is_err() {
            if let Ok(Some(status)) = moto.child.try_wait() {
                panic!("moto_server exited early with {status}");
            }
            assert!(
                Instant::now() < deadline,
                "moto_server not listening after 60s"
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

fn tag_spec(resource: ResourceType, pairs: &[(&str, &str)]) -> TagSpecification {
    TagSpecification::builder()
        .resource_type(resource)
        .set_tags(Some(
            pairs
                .iter()
                .map(|(k, v)| Tag::builder().key(*k).value(*v).build())
                .collect(),
        ))
        .build()
}

/// What [`seed`] created.
pub struct Account {
    /// Tagged subnets by zone.
    pub subnets: Vec<(String, String)>,
    pub node_sg: String,
}

async fn subnet(c: &Clients, vpc: &str, cidr: &str, zone: &str, tags: &[(&str, &str)]) -> String {
    let mut call = c
        .ec2
        .create_subnet()
        .vpc_id(vpc)
        .cidr_block(cidr)
        .availability_zone(zone);
    if !tags.is_empty() {
        call = call.tag_specifications(tag_spec(ResourceType::Subnet, tags));
    }
    let out = call.send().await.unwrap();
    out.subnet().unwrap().subnet_id().unwrap().to_string()
}

async fn image(c: &Clients, name: &str, arch: ArchitectureValues) -> String {
    let out = c
        .ec2
        .register_image()
        .name(name)
        .architecture(arch)
        .root_device_name("/dev/xvda")
        .send()
        .await
        .unwrap();
    out.image_id().unwrap().to_string()
}

/// Seeds the account for `cluster` with AMIs for Kubernetes `version` (`1.34`):
/// AL2 (the v1alpha5 default family) and AL2023, both architectures.
pub async fn seed(c: &Clients, cluster: &str, version: &str) -> Account {
    let cluster_tag = format!("kubernetes.io/cluster/{cluster}");
    let owned = [(cluster_tag.as_str(), "owned")];
    let vpc = c
        .ec2
        .create_vpc()
        .cidr_block("10.0.0.0/16")
        .send()
        .await
        .unwrap();
    let vpc_id = vpc.vpc().unwrap().vpc_id().unwrap().to_string();
    let mut subnets = Vec::new();
    for (i, zone) in ["us-east-1a", "us-east-1b", "us-east-1c"]
        .iter()
        .enumerate()
    {
        let id = subnet(c, &vpc_id, &format!("10.0.{}.0/24", i + 1), zone, &owned).await;
        subnets.push((zone.to_string(), id));
    }
    subnet(c, &vpc_id, "10.0.9.0/24", "us-east-1c", &[]).await;
    let node_sg = c
        .ec2
        .create_security_group()
        .group_name("nodes")
        .description("nodes")
        .vpc_id(&vpc_id)
        .tag_specifications(tag_spec(ResourceType::SecurityGroup, &owned))
        .send()
        .await
        .unwrap()
        .group_id()
        .unwrap()
        .to_string();
    let eks = format!("{PARAMETER_ROOT}/eks/optimized-ami/{version}");
    let amis = [
        (
            "amazon-eks-node",
            ArchitectureValues::X8664,
            format!("{eks}/amazon-linux-2/recommended/image_id"),
        ),
        (
            "amazon-eks-arm64-node",
            ArchitectureValues::Arm64,
            format!("{eks}/amazon-linux-2-arm64/recommended/image_id"),
        ),
        (
            "amazon-eks-node-al2023-x86_64-standard",
            ArchitectureValues::X8664,
            format!("{eks}/amazon-linux-2023/x86_64/standard/recommended/image_id"),
        ),
        (
            "amazon-eks-node-al2023-arm64-standard",
            ArchitectureValues::Arm64,
            format!("{eks}/amazon-linux-2023/arm64/standard/recommended/image_id"),
        ),
    ];
    for (prefix, arch, parameter) in amis {
        let id = image(c, &format!("{prefix}-{version}-v1"), arch).await;
        c.ssm
            .put_parameter()
            .name(parameter)
            .value(id)
            .r#type(aws_sdk_ssm::types::ParameterType::String)
            .overwrite(true)
            .send()
            .await
            .unwrap();
    }
    Account { subnets, node_sg }
}
