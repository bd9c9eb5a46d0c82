//! Authorization failures with moto enforcing IAM (`INITIAL_NO_AUTH_ACTION_COUNT`):
//! a controller identity allowed to discover but not to launch gets, from
//! `create`, an error kerf classifies as an authorization failure (the code
//! that drives its Events and `cloud_error` metric), naming the call; and no
//! instance is left behind. An identity with launch rights launches the
//! same claim.

use kerf_aws::AwsSettings;
use kerf_aws::clients::{StaticCredentials, sdk_config};
use kerf_aws::error::{aws_code, is_authorization};
use kerf_aws::testing::{clients_as, iam_user};
use kerf_cloud::CloudProvider;

use super::launch::{TYPES, claim};
use super::support::*;

/// moto lets this many requests through unauthenticated, then checks every
/// request's signature and policy: exactly the nine that make the three
/// users (see `kerf_aws::testing::iam_user`).
const BOOTSTRAP_ACTIONS: &str = "9";

/// What the controller may do in the first case: every read discovery and
/// pricing make, and launch templates, but neither CreateFleet nor RunInstances.
const DISCOVER_ONLY: &str = concat!(
    r#"{"Version": "2012-10-17", "Statement": [{"Effect": "Allow", "#,
    r#""Action": ["ec2:Describe*", "ssm:GetParameter", "ssm:GetParameters", "#,
    r#""pricing:GetProducts", "ec2:CreateLaunchTemplate", "ec2:CreateTags"], "#,
    r#""Resource": "*"}]}"#
);

const EVERYTHING: &str = r#"{"Version": "2012-10-17", "Statement": [{"Effect": "Allow", "Action": "*", "Resource": "*"}]}"#;

fn settings_as(endpoint: &str, key: &StaticCredentials) -> AwsSettings {
    let mut settings = AwsSettings::local(endpoint);
    settings.credentials = Some(key.clone());
    settings
}

async fn iam(endpoint: &str, key: &StaticCredentials) -> aws_sdk_iam::Client {
    aws_sdk_iam::Client::new(&sdk_config(&settings_as(endpoint, key)).await)
}

#[tokio::test]
async fn a_controller_without_launch_rights_gets_an_authorization_error_and_launches_nothing() {
    let moto = MotoServer::start_with_env(&[("INITIAL_NO_AUTH_ACTION_COUNT", BOOTSTRAP_ACTIONS)])
        .unwrap_or_else(|e| panic!("{e}"));
    let endpoint = moto.endpoint();
    let anyone = StaticCredentials {
        access_key_id: "testing".into(),
        secret_access_key: "testing".into(),
    };
    let bootstrap = iam(endpoint, &anyone).await;
    let admin_key = iam_user(&bootstrap, "admin", EVERYTHING).await;
    let reader_key = iam_user(&bootstrap, "discover-only", DISCOVER_ONLY).await;
    let launcher_key = iam_user(&bootstrap, "launcher", EVERYTHING).await;
    // From here on every request is signed and checked against IAM.
    let admin = clients_as(endpoint, &admin_key).await;
    let allowed = admin.ec2.describe_vpcs().send().await;
    assert!(allowed.is_ok(), "the admin may describe: {allowed:?}");
    seed(&admin).await;
    let stranger = clients_as(endpoint, &anyone).await;
    let refused = stranger.ec2.describe_vpcs().send().await;
    assert!(
        refused.is_err(),
        "moto enforces IAM: an unknown key is refused"
    );

    let (reader, _clock) = provider(clients_as(endpoint, &reader_key).await);
    reader.set_node_class(node_class("default"));
    let err = reader
        .create(&claim("default-noauth", TYPES, &["on-demand"], "5Gi"))
        .await
        .expect_err("CreateFleet is not allowed");
    assert!(
        is_authorization(&err),
        "classified as an authorization failure (code {:?}): {err}",
        aws_code(&err)
    );
    let text = err.to_string();
    assert!(
        text.contains("CreateFleet") || text.contains("fleet"),
        "names the call: {text}"
    );
    let instances = admin
        .ec2
        .describe_instances()
        .send()
        .await
        .expect("DescribeInstances");
    assert!(
        instances.reservations().is_empty(),
        "nothing launched: {:?}",
        instances.reservations()
    );

    // The same claim, by an identity that may launch, launches.
    let (launcher, _clock) = provider(clients_as(endpoint, &launcher_key).await);
    launcher.set_node_class(node_class("default"));
    let launched = launcher
        .create(&claim("default-auth", TYPES, &["on-demand"], "5Gi"))
        .await
        .expect("an identity with launch rights launches");
    assert!(launched.status.and_then(|s| s.provider_id).is_some());
}
