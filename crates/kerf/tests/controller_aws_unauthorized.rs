//! `kerf controller --cloud-provider aws` with IAM enforced by moto
//! (`INITIAL_NO_AUTH_ACTION_COUNT`) and a controller identity that may
//! discover but not launch: the seed's Provisioner and an inflate pod lead to
//! a NodeClaim whose launch AWS refuses. The refusal must surface as a
//! Warning Event `UnauthorizedOperation` and as
//! `karpenter_cloudprovider_errors_total` with the AWS code, and nothing may
//! be launched; the controller keeps running, and retries the launch with
//! exponential backoff rather than every second.

mod common;

use std::time::Duration;

use common::moto::{self, seed};
use common::*;
use kerf_aws::error::AUTHORIZATION_CODES;
use kerf_aws::testing::{clients_as, iam_user};

const CLUSTER: &str = "kerf-e2e";

/// Discovery, prices and launch templates, but neither CreateFleet nor RunInstances.
const DISCOVER_ONLY: &str = concat!(
    r#"{"Version": "2012-10-17", "Statement": [{"Effect": "Allow", "#,
    r#""Action": ["ec2:Describe*", "ssm:GetParameter", "ssm:GetParameters", "#,
    r#""pricing:GetProducts", "ec2:CreateLaunchTemplate", "ec2:CreateTags", "#,
    r#""ec2:DeleteLaunchTemplate"], "Resource": "*"}]}"#
);
const EVERYTHING: &str = r#"{"Version": "2012-10-17", "Statement": [{"Effect": "Allow", "Action": "*", "Resource": "*"}]}"#;

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn refused_launches_become_events_and_metrics_on_the_live_controller() {
    // Two users, three requests each, before moto enforces IAM.
    let moto = kerf_testenv::MotoServer::start_with_env(&[("INITIAL_NO_AUTH_ACTION_COUNT", "6")])
        .unwrap_or_else(|e| panic!("{e}"));
    let anyone = kerf_aws::clients::StaticCredentials {
        access_key_id: "testing".into(),
        secret_access_key: "testing".into(),
    };
    let bootstrap = clients_as(moto.endpoint(), &anyone).await;
    let admin_key = iam_user(&bootstrap.iam, "admin", EVERYTHING).await;
    let reader_key = iam_user(&bootstrap.iam, "kerf-controller", DISCOVER_ONLY).await;
    let admin = clients_as(moto.endpoint(), &admin_key).await;
    let plane = cluster(true).await;
    let version = moto::kubernetes_version(&plane).await;
    seed(&admin, CLUSTER, &version).await;

    let (flags, _) = moto::controller_flags(&moto);
    let flags: Vec<&str> = flags.iter().map(String::as_str).collect();
    let env = [
        ("AWS_REGION", "us-east-1"),
        ("AWS_ACCESS_KEY_ID", reader_key.access_key_id.as_str()),
        (
            "AWS_SECRET_ACCESS_KEY",
            reader_key.secret_access_key.as_str(),
        ),
        ("AWS_EC2_METADATA_DISABLED", "true"),
    ];
    let controller = start_controller_with_env(&plane, "aws", false, &flags, &env);
    apply_seed(&plane);
    scale_inflate(&plane, 1);

    let event = wait(
        &plane,
        "an UnauthorizedOperation Event",
        Duration::from_secs(90),
        || {
            let out = kubectl(
                &plane,
                &[
                    "get",
                    "events",
                    "--field-selector",
                    "reason=UnauthorizedOperation",
                    "-o",
                    "jsonpath={range .items[*]}{.type}|{.involvedObject.kind}|{.message}{\"\\n\"}{end}",
                ],
            );
            out.lines()
                .find(|l| l.contains("|NodeClaim|"))
                .map(str::to_string)
        },
    );
    assert!(event.starts_with("Warning|NodeClaim|"), "{event}");
    assert!(event.contains("unauthorized"), "{event}");

    let metric = wait(
        &plane,
        "karpenter_cloudprovider_errors_total with an authorization code",
        Duration::from_secs(30),
        || {
            let (_, text) = http_get(controller.metrics_port, "/metrics")?;
            text.lines()
                .find(|l| {
                    l.starts_with("karpenter_cloudprovider_errors_total{")
                        && AUTHORIZATION_CODES
                            .iter()
                            .any(|c| l.contains(&format!("error=\"{c}\"")))
                })
                .map(str::to_string)
        },
    );
    let count: f64 = metric
        .rsplit(' ')
        .next()
        .and_then(|v| v.parse().ok())
        .unwrap_or_else(|| panic!("a count: {metric}"));
    assert!(count >= 1.0, "{metric}");

    // The claim's reconciler backs off: 1 s, 2 s, 4 s, ... between attempts.
    // Retrying every second, as a loop over all claims did, would make ~20
    // more attempts in 20 s; backing off makes at most 5 from any start.
    let refused = || -> f64 {
        let (_, text) = http_get(controller.metrics_port, "/metrics").unwrap_or_default();
        text.lines()
            .filter(|l| l.starts_with("karpenter_cloudprovider_errors_total{"))
            .filter(|l| {
                AUTHORIZATION_CODES
                    .iter()
                    .any(|c| l.contains(&format!("error=\"{c}\"")))
            })
            .filter_map(|l| l.rsplit(' ').next()?.parse::<f64>().ok())
            .sum()
    };
    let before = refused();
    std::thread::sleep(Duration::from_secs(20));
    let attempts = refused() - before;
    assert!(
        attempts <= 5.0,
        "{attempts} refused launches in 20 s: not backing off"
    );

    let instances = admin.ec2.describe_instances().send().await.unwrap();
    assert!(
        instances.reservations().is_empty(),
        "nothing launched: {:?}",
        instances.reservations()
    );
    let (code, _) = http_get(controller.metrics_port, "/metrics").expect("still serving");
    assert_eq!(code, 200, "the controller keeps running");
}
