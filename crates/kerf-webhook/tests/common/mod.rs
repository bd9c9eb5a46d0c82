//! What the webhook's real-kube-apiserver tests share: the namespace and
//! Secret the webhook keeps its certificate in, webhook configurations that
//! point at it on loopback, and the webhook started in-process as `kerf
//! webhook` runs it (certificate Secret generated, CA patched in; see
//! `kerf_webhook::testing`).

use std::time::Duration;

use k8s_openapi::api::admissionregistration::v1::{
    MutatingWebhookConfiguration, ValidatingWebhookConfiguration,
};
use k8s_openapi::api::core::v1::{Namespace, Secret};
use kerf_testenv::wait_for;
use kerf_webhook::configurations::{self, Endpoint, MUTATING_NAME, VALIDATING_NAME};
use kerf_webhook::run::CertSource;
use kerf_webhook::testing::{Webhook, start_on_loopback};
use kube::Client;
use kube::api::{Api, PostParams};

pub const NAMESPACE: &str = "karpenter";
pub const SECRET: &str = "kerf-webhook-cert";

pub async fn create_namespace(client: &Client, name: &str) {
    let mut ns = Namespace::default();
    ns.metadata.name = Some(name.into());
    Api::<Namespace>::all(client.clone())
        .create(&PostParams::default(), &ns)
        .await
        .expect("create namespace");
}

/// Creates both configurations pointing at `https://127.0.0.1:port` with NO
/// caBundle: the webhook process must patch it in.
pub async fn create_configurations(client: &Client, port: u16) {
    let endpoint = Endpoint::Url(format!("https://127.0.0.1:{port}"));
    let mut validating = configurations::validating(VALIDATING_NAME, &endpoint, "", "Fail");
    let mut mutating = configurations::mutating(MUTATING_NAME, &endpoint, "", "Fail");
    for w in validating.webhooks.iter_mut().flatten() {
        w.client_config.ca_bundle = None;
    }
    for w in mutating.webhooks.iter_mut().flatten() {
        w.client_config.ca_bundle = None;
    }
    Api::<ValidatingWebhookConfiguration>::all(client.clone())
        .create(&PostParams::default(), &validating)
        .await
        .expect("create ValidatingWebhookConfiguration");
    Api::<MutatingWebhookConfiguration>::all(client.clone())
        .create(&PostParams::default(), &mutating)
        .await
        .expect("create MutatingWebhookConfiguration");
}

/// The webhook on 127.0.0.1:`port` as `kerf webhook` runs it: certificate
/// in a Secret it generates in [`NAMESPACE`], caBundle patched into the
/// configurations and the CRDs every 2 s. Reached by URL here, so there is
/// no Service to point the CRDs at.
pub fn start_webhook(client: &Client, port: u16) -> Webhook {
    let cert = CertSource::Secret {
        namespace: NAMESPACE.into(),
        name: SECRET.into(),
        sans: vec!["127.0.0.1".into()],
    };
    start_on_loopback(client.clone(), port, cert, Duration::from_secs(2))
}

/// The CA the webhook wrote into its Secret (waits for the Secret).
pub async fn webhook_ca(client: &Client) -> Vec<u8> {
    let secrets: Api<Secret> = Api::namespaced(client.clone(), NAMESPACE);
    wait_for("the webhook's Secret", Duration::from_secs(30), || async {
        let secret = secrets.get_opt(SECRET).await.ok()??;
        secret.data?.get("ca.crt").map(|b| b.0.clone())
    })
    .await
    .expect("the webhook's Secret")
}
