//! `kerf top --once --aws` against a live cluster (a real control plane from
//! kerf-testenv) and AWS (moto_server, reached by the real SDK clients):
//! a spot node is priced at the spot price AWS serves for its type and zone
//! (read here straight from DescribeSpotPriceHistory), not the catalogue's;
//! an on-demand node, with no Pricing API to ask (moto serves none), at the
//! catalogue's list price; the total is their sum and the prices line says
//! where each came from. Without `--aws` the same spot node has the
//! catalogue's price, and `--aws-region` alone is refused, naming the flag.

mod common;

use std::process::{Command, Output};

use aws_sdk_ec2::types::InstanceType;
use common::*;
use kerf_cloud::Catalog;
use kerf_testenv::ControlPlane;

const NODES: &str = r#"
apiVersion: v1
kind: Node
metadata:
  name: a-spot
  labels:
    karpenter.sh/nodepool: default
    karpenter.sh/capacity-type: spot
    node.kubernetes.io/instance-type: m5.large
    topology.kubernetes.io/zone: us-east-1a
---
apiVersion: v1
kind: Node
metadata:
  name: b-on-demand
  labels:
    karpenter.sh/nodepool: default
    karpenter.sh/capacity-type: on-demand
    node.kubernetes.io/instance-type: c5.xlarge
    topology.kubernetes.io/zone: us-east-1b
"#;

fn top(plane: &ControlPlane, extra: &[&str]) -> Output {
    Command::new(env!("CARGO_BIN_EXE_kerf"))
        .args(["top", "--once", "--sort", "name", "--kubeconfig"])
        .arg(plane.kubeconfig_path())
        .args(extra)
        .env("AWS_ACCESS_KEY_ID", "testing")
        .env("AWS_SECRET_ACCESS_KEY", "testing")
        .env_remove("AWS_REGION")
        .env_remove("AWS_ENDPOINT_URL")
        .env_remove("RUST_LOG")
        .output()
        .expect("run kerf top --once")
}

/// The `$/H` cell of `node`'s row.
fn hourly(text: &str, node: &str) -> String {
    let header: Vec<&str> = text
        .lines()
        .next()
        .expect("header")
        .split_whitespace()
        .collect();
    let column = header.iter().position(|h| *h == "$/H").expect("$/H column");
    let row = text
        .lines()
        .find(|l| l.split_whitespace().next() == Some(node))
        .unwrap_or_else(|| panic!("no row for {node}:\n{text}"));
    row.split_whitespace()
        .nth(column)
        .expect("$/H cell")
        .to_string()
}

fn line<'a>(text: &'a str, prefix: &str) -> &'a str {
    text.lines()
        .find(|l| l.starts_with(prefix))
        .unwrap_or_else(|| panic!("no {prefix:?} line:\n{text}"))
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn top_prices_nodes_at_the_prices_aws_serves() {
    let (moto, aws) = kerf_aws::testing::start_moto().await;
    let plane = cluster(false).await;
    let path = write(plane.dir(), "nodes.yaml", NODES);
    kubectl(&plane, &["apply", "-f", path.to_str().expect("utf-8")]);

    // What AWS says m5.large spot costs in us-east-1a, read without kerf.
    let history = aws
        .ec2
        .describe_spot_price_history()
        .instance_types(InstanceType::M5Large)
        .availability_zone("us-east-1a")
        .product_descriptions("Linux/UNIX")
        .start_time(aws_sdk_ec2::primitives::DateTime::from(
            std::time::SystemTime::now(),
        ))
        .send()
        .await
        .expect("DescribeSpotPriceHistory");
    let aws_spot: f64 = history.spot_price_history()[0]
        .spot_price()
        .expect("a spot price")
        .parse()
        .expect("a number");
    let catalog = Catalog::builtin();
    let catalogue_spot = catalog.get("m5.large").expect("m5.large").spot["us-east-1a"];
    let on_demand = catalog
        .get("c5.xlarge")
        .and_then(|e| e.on_demand)
        .expect("c5.xlarge on-demand price");
    assert_ne!(
        format!("{aws_spot:.4}"),
        format!("{catalogue_spot:.4}"),
        "the test needs AWS's spot price to differ from the catalogue's"
    );

    let text = success_stdout(&top(
        &plane,
        &[
            "--aws",
            "--aws-region",
            "us-east-1",
            "--aws-endpoint-url",
            moto.endpoint(),
        ],
    ));
    eprintln!("--- kerf top --once --aws ---\n{text}");
    assert_eq!(hourly(&text, "a-spot"), format!("{aws_spot:.4}"));
    assert_eq!(hourly(&text, "b-on-demand"), format!("{on_demand:.4}"));
    assert!(
        line(&text, "cost: ").starts_with(&format!("cost: ${:.4}/h,", aws_spot + on_demand)),
        "{text}"
    );
    let prices = line(&text, "prices: ");
    assert!(
        prices.starts_with(
            "prices: AWS us-east-1, on-demand from the built-in us-east-1 catalogue \
             (no answer from the Pricing API), spot from the spot price history ("
        ),
        "{prices}"
    );

    // Without --aws: the catalogue's spot price.
    let text = success_stdout(&top(&plane, &[]));
    assert_eq!(hourly(&text, "a-spot"), format!("{catalogue_spot:.4}"));
    assert_eq!(
        line(&text, "prices: "),
        "prices: built-in us-east-1 catalogue"
    );

    // An AWS flag without --aws is refused, naming it.
    let out = top(&plane, &["--aws-region", "us-east-1"]);
    assert_eq!(out.status.code(), Some(2));
    let stderr = String::from_utf8_lossy(&out.stderr);
    assert!(
        stderr.contains("--aws-region") && stderr.contains("only means something with --aws"),
        "{stderr}"
    );
}
