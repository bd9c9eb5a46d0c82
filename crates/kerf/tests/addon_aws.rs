//! `kerf addon` (the binary) against moto, AWS side only (`--skip-cluster-side`): render
//! touches nothing and prints a template that parses; install prints one line per step and
//! creates the resources; a second install reports every step unchanged; a failing step
//! exits 1 naming the step; uninstall removes what install created; bad flags exit 2.

use std::process::{Command, Output};

use aws_sdk_eks::types::VpcConfigRequest;
use kerf_addon::aws::AwsClients;
use kerf_aws::AwsSettings;
use kerf_testenv::MotoServer;
use serde_json::Value;

const CLUSTER: &str = "cli-demo";

fn kerf(endpoint: &str, args: &[&str]) -> Output {
    let dir = std::env::temp_dir();
    Command::new(env!("CARGO_BIN_EXE_kerf"))
        .args(args)
        .args(["--aws-endpoint-url", endpoint, "--region", "us-east-1"])
        // The default credential chain, from the environment only.
        .env("AWS_ACCESS_KEY_ID", "testing")
        .env("AWS_SECRET_ACCESS_KEY", "testing")
        .env("AWS_EC2_METADATA_DISABLED", "true")
        .env("AWS_CONFIG_FILE", dir.join("kerf-no-aws-config"))
        .env(
            "AWS_SHARED_CREDENTIALS_FILE",
            dir.join("kerf-no-aws-credentials"),
        )
        .env_remove("AWS_PROFILE")
        .env_remove("CLUSTER_NAME")
        .output()
        .expect("running kerf")
}

fn text(b: &[u8]) -> String {
    String::from_utf8_lossy(b).to_string()
}

/// (step, outcome) per progress line.
fn steps(out: &Output) -> Vec<(String, String)> {
    text(&out.stdout)
        .lines()
        .filter_map(|l| {
            let words: Vec<&str> = l.split_whitespace().collect();
            Some((words.first()?.to_string(), words.last()?.to_string()))
        })
        .collect()
}

async fn seed(c: &AwsClients) {
    let vpc = c
        .ec2
        .create_vpc()
        .cidr_block("10.1.0.0/16")
        .send()
        .await
        .unwrap();
    let vpc = vpc.vpc().unwrap().vpc_id().unwrap().to_string();
    let subnet = c
        .ec2
        .create_subnet()
        .vpc_id(&vpc)
        .cidr_block("10.1.1.0/24")
        .availability_zone("us-east-1a")
        .send()
        .await
        .unwrap();
    let subnet = subnet.subnet().unwrap().subnet_id().unwrap().to_string();
    c.eks
        .create_cluster()
        .name(CLUSTER)
        .role_arn("arn:aws:iam::123456789012:role/eks-cluster")
        .resources_vpc_config(VpcConfigRequest::builder().subnet_ids(subnet).build())
        .send()
        .await
        .unwrap();
}

#[test]
fn render_install_reinstall_uninstall_from_the_command_line() {
    // The add-on attaches AWS managed policies to the node role.
    let moto = MotoServer::with_managed_policies().unwrap_or_else(|e| panic!("{e}"));
    let endpoint = moto.endpoint().to_string();
    let rt = tokio::runtime::Runtime::new().unwrap();
    let c = rt.block_on(AwsClients::connect(&AwsSettings::local(&endpoint)));
    rt.block_on(seed(&c));
    let base = ["--cluster-name", CLUSTER, "--skip-cluster-side"];
    let with = |verb: &str, extra: &[&str]| {
        let mut args = vec!["addon", verb];
        args.extend(base);
        args.extend(extra);
        kerf(&endpoint, &args)
    };

    // render: nothing listens on port 9, so any AWS call would fail.
    let out = kerf(
        "http://127.0.0.1:9",
        &[
            "addon",
            "render",
            "--cluster-name",
            CLUSTER,
            "--skip-cluster-side",
        ],
    );
    assert!(out.status.success(), "render: {}", text(&out.stderr));
    let stdout = text(&out.stdout);
    let at = stdout
        .find("# CloudFormation template\n")
        .expect("a template section");
    let template: Value = serde_yaml::from_str(&stdout[at..]).unwrap();
    let res = &template["Resources"];
    assert_eq!(
        res["KarpenterControllerRole"]["Properties"]["RoleName"],
        "KarpenterControllerRole-cli-demo"
    );
    assert_eq!(
        res["KarpenterInterruptionQueue"]["Properties"]["QueueName"],
        CLUSTER
    );
    let roles = rt.block_on(c.iam.list_roles().send()).unwrap();
    assert!(roles.roles().is_empty(), "render created roles");

    // install
    let flags = [
        "--tag-subnets",
        "--requirement",
        "kubernetes.io/arch=amd64,arm64",
    ];
    let out = with("install", &flags);
    assert!(
        out.status.success(),
        "install: {}\n{}",
        text(&out.stdout),
        text(&out.stderr)
    );
    let first = steps(&out);
    assert!(
        first.contains(&("iam:node-role".into(), "created".into())),
        "{first:?}"
    );
    assert!(
        first.contains(&("sqs:queue".into(), "created".into())),
        "{first:?}"
    );
    assert!(
        // The subnets exist: kerf adds its tags to them.
        first.contains(&("ec2:discovery-tags".into(), "updated".into())),
        "{first:?}"
    );
    let role = rt.block_on(
        c.iam
            .get_role()
            .role_name("KarpenterControllerRole-cli-demo")
            .send(),
    );
    assert!(role.is_ok(), "the controller role exists");

    // a second install changes nothing
    let out = with("install", &flags);
    assert!(out.status.success(), "reinstall: {}", text(&out.stderr));
    let second = steps(&out);
    assert_eq!(second.len(), first.len());
    assert!(second.iter().all(|(_, o)| o == "unchanged"), "{second:?}");

    // a failing step: the cluster does not exist
    let out = kerf(
        &endpoint,
        &[
            "addon",
            "install",
            "--cluster-name",
            "missing",
            "--skip-cluster-side",
        ],
    );
    assert_eq!(out.status.code(), Some(1), "{}", text(&out.stderr));
    let err = text(&out.stderr);
    assert!(err.contains("step eks:cluster (missing) failed"), "{err}");
    assert!(err.contains("already done: sts:account"), "{err}");

    // bad flags
    let out = with("install", &["--requirement", "no-values"]);
    assert_eq!(out.status.code(), Some(2), "{}", text(&out.stderr));
    assert!(
        text(&out.stderr).contains("no-values"),
        "{}",
        text(&out.stderr)
    );

    // uninstall
    let out = with("uninstall", &[]);
    assert!(out.status.success(), "uninstall: {}", text(&out.stderr));
    let gone = steps(&out);
    assert!(
        gone.contains(&("iam:controller-role".into(), "deleted".into())),
        "{gone:?}"
    );
    let role = rt.block_on(
        c.iam
            .get_role()
            .role_name("KarpenterControllerRole-cli-demo")
            .send(),
    );
    assert!(role.is_err(), "the controller role is gone");
    let queues = rt.block_on(c.sqs.list_queues().send()).unwrap();
    assert!(queues.queue_urls().is_empty(), "{:?}", queues.queue_urls());
    let rules = rt.block_on(c.events.list_rules().send()).unwrap();
    assert!(rules.rules().is_empty());
    drop(moto);
}
