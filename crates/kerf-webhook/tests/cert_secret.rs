//! The certificate Secret against the real kube-apiserver: generated once,
//! reused while fresh, rotated near expiry (keeping the previous CA trusted),
//! replaced when unreadable. Fails, never skips, without the testbed binaries.

use k8s_openapi::api::core::v1::{Namespace, Secret};
use kerf_testenv::{ControlPlane, ControlPlaneOptions};
use kerf_webhook::certs::{RENEW_BEFORE, VALIDITY};
use kerf_webhook::secret::{bundle_from_secret, ensure_secret};
use kube::api::{Api, Patch, PatchParams, PostParams};
use serde_json::json;
use time::OffsetDateTime;

const NAMESPACE: &str = "karpenter";
const SECRET: &str = "kerf-webhook-cert";

/// The Secret-kept certificate: generated once, reused, rotated near expiry
/// with the previous CA still trusted.
#[tokio::test]
async fn certificate_secret_is_generated_reused_and_rotated() {
    let plane = ControlPlane::start(ControlPlaneOptions::new())
        .await
        .expect("start etcd + kube-apiserver");
    let client = plane.client();
    let mut ns = Namespace::default();
    ns.metadata.name = Some(NAMESPACE.into());
    Api::<Namespace>::all(client.clone())
        .create(&PostParams::default(), &ns)
        .await
        .unwrap();
    let sans = vec!["kerf-webhook.karpenter.svc".to_string()];
    let now = OffsetDateTime::now_utc();

    let first = ensure_secret(&client, NAMESPACE, SECRET, &sans, now)
        .await
        .unwrap();
    let again = ensure_secret(&client, NAMESPACE, SECRET, &sans, now)
        .await
        .unwrap();
    assert_eq!(first, again, "a fresh certificate was replaced");
    let secrets: Api<Secret> = Api::namespaced(client.clone(), NAMESPACE);
    let stored = secrets.get(SECRET).await.unwrap();
    assert_eq!(stored.type_.as_deref(), Some("kubernetes.io/tls"));
    assert_eq!(bundle_from_secret(&stored), Some(first.clone()));

    // Close to expiry: rotated; ca.crt holds the new CA and the previous one.
    let later = now + VALIDITY - RENEW_BEFORE + time::Duration::days(1);
    let rotated = ensure_secret(&client, NAMESPACE, SECRET, &sans, later)
        .await
        .unwrap();
    assert_ne!(rotated.cert_pem, first.cert_pem);
    assert_eq!(rotated.ca_pem.matches("BEGIN CERTIFICATE").count(), 2);
    assert!(
        rotated.ca_pem.contains(first.ca_pem.trim_end()),
        "previous CA kept"
    );
    assert!(!rotated.needs_rotation(&sans, later));
    assert_eq!(
        bundle_from_secret(&secrets.get(SECRET).await.unwrap()),
        Some(rotated.clone())
    );

    // A Secret holding garbage is replaced, not trusted.
    let garbage = json!({"data": {"tls.crt": "Z2FyYmFnZQ==", "tls.key": "Z2FyYmFnZQ==", "ca.crt": "Z2FyYmFnZQ=="}});
    secrets
        .patch(SECRET, &PatchParams::default(), &Patch::Merge(&garbage))
        .await
        .unwrap();
    let repaired = ensure_secret(&client, NAMESPACE, SECRET, &sans, now)
        .await
        .unwrap();
    repaired.certified_key().unwrap();
    assert_eq!(repaired.ca_pem.matches("BEGIN CERTIFICATE").count(), 1);
}
