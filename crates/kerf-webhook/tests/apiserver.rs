//! THE evidence for the admission webhook: the real kube-apiserver calls kerf's
//! webhook (run in-process exactly as `kerf webhook` runs it: certificate
//! Secret generated, caBundle patched into the configurations, HTTPS on
//! loopback), and the real kubectl shows the outcome. Fails, never skips, when
//! the testbed binaries are missing (run scripts/testbed-build.sh).

mod common;

use std::path::{Path, PathBuf};
use std::time::Duration;

use common::{
    NAMESPACE, SECRET, create_configurations, create_namespace, start_webhook, webhook_ca,
};
use k8s_openapi::ByteString;
use k8s_openapi::api::admissionregistration::v1::{
    MutatingWebhookConfiguration, ValidatingWebhookConfiguration,
};
use k8s_openapi::api::core::v1::Secret;
use kerf_testenv::{ControlPlane, ControlPlaneOptions, wait_for};
use kerf_webhook::certs::{CertBundle, RENEW_BEFORE, VALIDITY};
use kerf_webhook::configurations::{MUTATING_NAME, VALIDATING_NAME};
use kerf_webhook::secret::bundle_from_secret;
use kube::api::{Api, PostParams};
use serde_json::Value;
use time::OffsetDateTime;

const INVALID_OPERATOR: &str = r#"
apiVersion: karpenter.sh/v1alpha5
kind: Provisioner
metadata: {name: bad-operator}
spec:
  providerRef: {name: default}
  requirements:
    - {key: karpenter.sh/capacity-type, operator: Gte, values: [spot]}
"#;

const TTL_WITH_CONSOLIDATION: &str = r#"
apiVersion: karpenter.sh/v1alpha5
kind: Provisioner
metadata: {name: bad-ttl}
spec:
  providerRef: {name: default}
  ttlSecondsAfterEmpty: 30
  consolidation: {enabled: true}
"#;

const VALID: &str = r#"
apiVersion: karpenter.sh/v1alpha5
kind: Provisioner
metadata: {name: default}
spec:
  providerRef: {name: default}
  limits:
    resources: {cpu: "1000"}
"#;

async fn install_crds(plane: &ControlPlane) {
    let installed = kerf_testenv::install_crds(&plane.client(), kerf_api::crds::all())
        .await
        .expect("install kerf CRDs");
    assert_eq!(installed.len(), 5);
}

fn write(dir: &Path, name: &str, yaml: &str) -> PathBuf {
    kerf_testenv::write_file(dir, name, yaml).unwrap()
}

/// kubectl apply; (success, stderr).
fn apply(plane: &ControlPlane, file: &Path, extra: &[&str]) -> (bool, String) {
    plane.kubectl_apply(file, extra).expect("run kubectl")
}

fn requirement_triples(provisioner: &Value) -> Vec<(String, String, Vec<String>)> {
    let mut out: Vec<_> = provisioner["spec"]["requirements"]
        .as_array()
        .expect("stored provisioner has requirements")
        .iter()
        .map(|r| {
            let values = r["values"].as_array().cloned().unwrap_or_default();
            (
                r["key"].as_str().unwrap().to_string(),
                r["operator"].as_str().unwrap().to_string(),
                values
                    .iter()
                    .map(|v| v.as_str().unwrap().to_string())
                    .collect(),
            )
        })
        .collect();
    out.sort();
    out
}

fn triple(key: &str, op: &str, values: &[&str]) -> (String, String, Vec<String>) {
    (
        key.into(),
        op.into(),
        values.iter().map(|v| v.to_string()).collect(),
    )
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn kubectl_is_refused_invalid_and_stores_defaulted_provisioners() {
    let plane = ControlPlane::start(ControlPlaneOptions::new())
        .await
        .expect("start etcd + kube-apiserver");
    let client = plane.client();
    install_crds(&plane).await;
    create_namespace(&client, NAMESPACE).await;
    let port = kerf_testenv::free_port().unwrap();
    create_configurations(&client, port).await;

    // The webhook, as `kerf webhook` runs it: certificate in a Secret it
    // generates, caBundle patched in, HTTPS on 127.0.0.1.
    let webhook = start_webhook(&client, port);

    // The caBundle in both configurations is the CA in the Secret.
    let ca = webhook_ca(&client).await;
    let secrets: Api<Secret> = Api::namespaced(client.clone(), NAMESPACE);
    let validating: Api<ValidatingWebhookConfiguration> = Api::all(client.clone());
    let mutating: Api<MutatingWebhookConfiguration> = Api::all(client.clone());
    wait_for("caBundle patched", Duration::from_secs(30), || async {
        let v = validating.get(VALIDATING_NAME).await.ok()?;
        let m = mutating.get(MUTATING_NAME).await.ok()?;
        let v_ca = v.webhooks?[0].client_config.ca_bundle.clone()?.0;
        let m_ca = m.webhooks?[0].client_config.ca_bundle.clone()?.0;
        (v_ca == ca && m_ca == ca).then_some(())
    })
    .await
    .unwrap();

    let dir = tempfile::tempdir().unwrap();
    let bad_operator = write(dir.path(), "bad-operator.yaml", INVALID_OPERATOR);
    let bad_ttl = write(dir.path(), "bad-ttl.yaml", TTL_WITH_CONSOLIDATION);
    let valid = write(dir.path(), "valid.yaml", VALID);

    // The apiserver picks configuration changes up asynchronously: probe with
    // a server-side dry run (which stores nothing) until the webhook answers.
    let denial = wait_for(
        "the webhook to deny the dry run",
        Duration::from_secs(30),
        || async {
            let (ok, stderr) = apply(&plane, &bad_operator, &["--dry-run=server"]);
            (!ok && stderr.contains("denied the request")).then_some(stderr)
        },
    )
    .await
    .unwrap();
    eprintln!("dry run: {denial}");

    // 1. An invalid operator: refused by the webhook, field and reason shown.
    let (ok, stderr) = apply(&plane, &bad_operator, &[]);
    assert!(!ok, "kubectl accepted an invalid Provisioner");
    eprintln!("invalid operator: {stderr}");
    assert!(
        stderr.contains("admission webhook \"validation.webhook.karpenter.sh\" denied the request"),
        "{stderr}"
    );
    assert!(
        stderr.contains(
            "spec.requirements[0].operator: \"Gte\" is not one of In, NotIn, Exists, DoesNotExist, Gt, Lt"
        ),
        "{stderr}"
    );
    let missing = plane
        .kubectl(["get", "provisioner", "bad-operator"])
        .expect("run kubectl");
    assert!(!missing.status.success(), "refused Provisioner was stored");

    // 2. ttlSecondsAfterEmpty with consolidation: refused with the field named.
    let (ok, stderr) = apply(&plane, &bad_ttl, &[]);
    assert!(
        !ok,
        "kubectl accepted ttlSecondsAfterEmpty with consolidation"
    );
    eprintln!("ttl + consolidation: {stderr}");
    assert!(stderr.contains("ttlSecondsAfterEmpty"), "{stderr}");
    assert!(
        stderr.contains("mutually exclusive") || stderr.contains("cannot be combined"),
        "{stderr}"
    );

    // 3. A valid Provisioner is stored with the AWS defaults filled in.
    let (ok, stderr) = apply(&plane, &valid, &[]);
    assert!(ok, "kubectl apply of a valid Provisioner failed: {stderr}");
    let got = plane
        .kubectl(["get", "provisioner", "default", "-o", "json"])
        .expect("run kubectl");
    assert!(
        got.status.success(),
        "{}",
        String::from_utf8_lossy(&got.stderr)
    );
    let stored: Value = serde_json::from_slice(&got.stdout).unwrap();
    assert_eq!(
        requirement_triples(&stored),
        vec![
            triple(
                "karpenter.k8s.aws/instance-category",
                "In",
                &["c", "m", "r"]
            ),
            triple("karpenter.k8s.aws/instance-generation", "Gt", &["2"]),
            triple("karpenter.sh/capacity-type", "In", &["on-demand"]),
            triple("kubernetes.io/arch", "In", &["amd64"]),
            triple("kubernetes.io/os", "In", &["linux"]),
        ]
    );
    // Defaulting touched only the requirements: the limits are as sent.
    assert_eq!(stored["spec"]["limits"]["resources"]["cpu"], "1000");

    // 4. Rotation while serving: a certificate close to expiry in the Secret
    //    is replaced within a refresh, the new CA is patched in, and the
    //    apiserver still reaches the webhook.
    let short_lived = CertBundle::generate(
        &["127.0.0.1".to_string()],
        OffsetDateTime::now_utc() - VALIDITY + RENEW_BEFORE - time::Duration::days(5),
    )
    .unwrap();
    let mut secret = secrets.get(SECRET).await.unwrap();
    secret.data = Some(
        [
            ("ca.crt", &short_lived.ca_pem),
            ("tls.crt", &short_lived.cert_pem),
            ("tls.key", &short_lived.key_pem),
        ]
        .into_iter()
        .map(|(k, v)| (k.to_string(), ByteString(v.as_bytes().to_vec())))
        .collect(),
    );
    secrets
        .replace(SECRET, &PostParams::default(), &secret)
        .await
        .unwrap();
    let rotated = wait_for(
        "the expiring certificate rotated",
        Duration::from_secs(30),
        || async {
            let bundle = bundle_from_secret(&secrets.get(SECRET).await.ok()?)?;
            (bundle.cert_pem != short_lived.cert_pem).then_some(bundle)
        },
    )
    .await
    .unwrap();
    assert!(!rotated.needs_rotation(&["127.0.0.1".to_string()], OffsetDateTime::now_utc()));
    wait_for(
        "the rotated CA patched in",
        Duration::from_secs(30),
        || async {
            let v = validating.get(VALIDATING_NAME).await.ok()?;
            let v_ca = v.webhooks?[0].client_config.ca_bundle.clone()?.0;
            (v_ca == rotated.ca_pem.as_bytes()).then_some(())
        },
    )
    .await
    .unwrap();
    let after_rotation = wait_for(
        "the webhook answering after rotation",
        Duration::from_secs(30),
        || async {
            let (ok, stderr) = apply(&plane, &bad_operator, &["--dry-run=server"]);
            (!ok && stderr.contains("denied the request")).then_some(stderr)
        },
    )
    .await
    .unwrap();
    assert!(
        after_rotation.contains("spec.requirements[0].operator"),
        "{after_rotation}"
    );

    // 5. Webhook down, failurePolicy Fail: changes to these kinds are refused.
    webhook.stop().await.expect("webhook ran cleanly");
    // (A new object: re-applying an unchanged one sends kubectl no request.)
    let another = write(
        dir.path(),
        "another.yaml",
        &VALID.replace("name: default}", "name: another}"),
    );
    let (ok, stderr) = apply(&plane, &another, &["--dry-run=server"]);
    assert!(
        !ok,
        "accepted while the webhook was down with failurePolicy Fail"
    );
    assert!(stderr.contains("failed calling webhook"), "{stderr}");

    // 6. Webhook down, failurePolicy Ignore: the CRD's CEL rule still refuses
    //    ttlSecondsAfterEmpty with consolidation.
    for (kind, name) in [
        ("validatingwebhookconfiguration", VALIDATING_NAME),
        ("mutatingwebhookconfiguration", MUTATING_NAME),
    ] {
        plane
            .kubectl_ok([
                "patch",
                kind,
                name,
                "--type=json",
                "-p",
                r#"[{"op":"replace","path":"/webhooks/0/failurePolicy","value":"Ignore"}]"#,
            ])
            .unwrap();
    }
    let stderr = wait_for(
        "failurePolicy Ignore in effect",
        Duration::from_secs(30),
        || async {
            let (ok, stderr) = apply(&plane, &bad_ttl, &["--dry-run=server"]);
            (!ok && !stderr.contains("failed calling webhook")).then_some(stderr)
        },
    )
    .await
    .unwrap();
    eprintln!("ttl + consolidation, webhook down: {stderr}");
    assert!(
        stderr.contains("ttlSecondsAfterEmpty and consolidation.enabled are mutually exclusive"),
        "{stderr}"
    );
}
