//! Test support: `moto_server` per test, the add-on's SDK clients pointed at it, and an EKS
//! cluster seeded through the SDK (VPC, two subnets, a security group, CreateCluster).

use aws_sdk_ec2::types::{ResourceType, Tag, TagSpecification};
use kerf_addon::aws::{AwsClients, AwsSide};
use kerf_aws::AwsSettings;
pub use kerf_testenv::MotoServer;

pub const CLUSTER: &str = "demo";

pub struct Seeded {
    /// Kept bound: dropping it stops the server.
    pub _moto: MotoServer,
    pub c: AwsClients,
    pub side: AwsSide,
    pub subnets: Vec<String>,
    pub security_group: String,
    pub issuer: String,
    pub account: String,
}

pub async fn start() -> (MotoServer, AwsClients, AwsSettings) {
    // The add-on attaches AWS managed policies to the node role.
    let moto = MotoServer::with_managed_policies().unwrap_or_else(|e| panic!("{e}"));
    let settings = AwsSettings::local(moto.endpoint());
    let c = AwsClients::connect(&settings).await;
    (moto, c, settings)
}

/// moto with a VPC, two subnets (the first already tagged `kubernetes.io/cluster/demo=owned`
/// by its operator), a security group and the EKS cluster `demo` over them.
pub async fn seeded() -> Seeded {
    let (moto, c, settings) = start().await;
    let vpc = c
        .ec2
        .create_vpc()
        .cidr_block("10.0.0.0/16")
        .send()
        .await
        .unwrap();
    let vpc = vpc.vpc().unwrap().vpc_id().unwrap().to_string();
    let mut subnets = Vec::new();
    for (i, zone) in ["us-east-1a", "us-east-1b"].iter().enumerate() {
        let mut call = c
            .ec2
            .create_subnet()
            .vpc_id(&vpc)
            .cidr_block(format!("10.0.{i}.0/24"))
            .availability_zone(*zone);
        if i == 0 {
            call = call.tag_specifications(
                TagSpecification::builder()
                    .resource_type(ResourceType::Subnet)
                    .tags(
                        Tag::builder()
                            .key(format!("kubernetes.io/cluster/{CLUSTER}"))
                            .value("owned")
                            .build(),
                    )
                    .build(),
            );
        }
        let out = call.send().await.unwrap();
        subnets.push(out.subnet().unwrap().subnet_id().unwrap().to_string());
    }
    let sg = c
        .ec2
        .create_security_group()
        .group_name("nodes")
        .description("nodes")
        .vpc_id(&vpc)
        .send()
        .await
        .unwrap();
    let security_group = sg.group_id().unwrap().to_string();
    let account = c.sts.get_caller_identity().send().await.unwrap();
    let account = account.account().unwrap().to_string();
    let cluster = c
        .eks
        .create_cluster()
        .name(CLUSTER)
        .role_arn(format!("arn:aws:iam::{account}:role/eks-cluster"))
        .resources_vpc_config(
            aws_sdk_eks::types::VpcConfigRequest::builder()
                .set_subnet_ids(Some(subnets.clone()))
                .security_group_ids(&security_group)
                .build(),
        )
        .send()
        .await
        .unwrap();
    let issuer = cluster
        .cluster()
        .and_then(|c| c.identity())
        .and_then(|i| i.oidc())
        .and_then(|o| o.issuer())
        .expect("moto gives the cluster an OIDC issuer")
        .to_string();
    let mut side = AwsSide::new(CLUSTER, settings);
    side.tag_subnets = true;
    Seeded {
        _moto: moto,
        c,
        side,
        subnets,
        security_group,
        issuer,
        account,
    }
}

fn decode(raw: &str) -> serde_json::Value {
    let decoded = percent_encoding::percent_decode_str(raw).decode_utf8_lossy();
    serde_json::from_str(&decoded).unwrap_or_else(|e| panic!("not JSON: {raw}: {e}"))
}

/// Every IAM, SQS, EventBridge and EC2-tag fact the AWS side can touch, as JSON, so two
/// listings compare whole (a second install must leave it identical).
pub async fn inventory(s: &Seeded) -> serde_json::Value {
    use serde_json::json;
    let c = &s.c;
    let mut roles = serde_json::Map::new();
    for role in c.iam.list_roles().send().await.unwrap().roles() {
        let name = role.role_name();
        let got = c.iam.get_role().role_name(name).send().await.unwrap();
        let got = got.role().unwrap();
        let attached: Vec<String> = c
            .iam
            .list_attached_role_policies()
            .role_name(name)
            .send()
            .await
            .unwrap()
            .attached_policies()
            .iter()
            .map(|p| p.policy_arn().unwrap().to_string())
            .collect();
        let tags: Vec<(String, String)> = got
            .tags()
            .iter()
            .map(|t| (t.key().into(), t.value().into()))
            .collect();
        roles.insert(
            name.into(),
            json!({
                "path": got.path(),
                "trust": decode(got.assume_role_policy_document().unwrap_or("{}")),
                "attached": attached,
                "tags": tags,
            }),
        );
    }
    let mut policies = serde_json::Map::new();
    let local = c
        .iam
        .list_policies()
        .scope(aws_sdk_iam::types::PolicyScopeType::Local)
        .send()
        .await
        .unwrap();
    for p in local.policies() {
        let arn = p.arn().unwrap();
        let versions = c
            .iam
            .list_policy_versions()
            .policy_arn(arn)
            .send()
            .await
            .unwrap();
        let default = p.default_version_id().unwrap();
        let doc = c
            .iam
            .get_policy_version()
            .policy_arn(arn)
            .version_id(default)
            .send()
            .await
            .unwrap();
        policies.insert(
            arn.into(),
            json!({
                "versions": versions.versions().len(),
                "document": decode(doc.policy_version().unwrap().document().unwrap()),
            }),
        );
    }
    let mut profiles = serde_json::Map::new();
    for p in c
        .iam
        .list_instance_profiles()
        .send()
        .await
        .unwrap()
        .instance_profiles()
    {
        let roles: Vec<&str> = p.roles().iter().map(|r| r.role_name()).collect();
        profiles.insert(p.instance_profile_name().into(), json!(roles));
    }
    let providers = c.iam.list_open_id_connect_providers().send().await.unwrap();
    let providers: Vec<&str> = providers
        .open_id_connect_provider_list()
        .iter()
        .filter_map(|p| p.arn())
        .collect();
    let mut queues = serde_json::Map::new();
    for url in c.sqs.list_queues().send().await.unwrap().queue_urls() {
        let attrs = c
            .sqs
            .get_queue_attributes()
            .queue_url(url)
            .attribute_names(aws_sdk_sqs::types::QueueAttributeName::All)
            .send()
            .await
            .unwrap();
        let attrs: std::collections::BTreeMap<String, String> = attrs
            .attributes()
            .unwrap()
            .iter()
            .map(|(k, v)| (k.as_str().to_string(), v.clone()))
            .collect();
        queues.insert(url.clone(), json!(attrs));
    }
    let mut rules = serde_json::Map::new();
    for r in c.events.list_rules().send().await.unwrap().rules() {
        let name = r.name().unwrap();
        let targets = c
            .events
            .list_targets_by_rule()
            .rule(name)
            .send()
            .await
            .unwrap();
        let targets: Vec<(&str, &str)> = targets
            .targets()
            .iter()
            .map(|t| (t.id(), t.arn()))
            .collect();
        rules.insert(
            name.into(),
            json!({ "pattern": decode(r.event_pattern().unwrap()), "targets": targets }),
        );
    }
    let mut ec2_tags = serde_json::Map::new();
    for id in s.subnets.iter().chain([&s.security_group]) {
        ec2_tags.insert(id.clone(), json!(ec2_tags_of(s, id).await));
    }
    json!({
        "roles": roles, "policies": policies, "instance_profiles": profiles,
        "oidc_providers": providers, "queues": queues, "rules": rules, "ec2_tags": ec2_tags,
    })
}

pub async fn ec2_tags_of(s: &Seeded, id: &str) -> std::collections::BTreeMap<String, String> {
    let out =
        s.c.ec2
            .describe_tags()
            .filters(
                aws_sdk_ec2::types::Filter::builder()
                    .name("resource-id")
                    .values(id)
                    .build(),
            )
            .send()
            .await
            .unwrap();
    out.tags()
        .iter()
        .map(|t| {
            (
                t.key().unwrap().to_string(),
                t.value().unwrap_or("").to_string(),
            )
        })
        .collect()
}
