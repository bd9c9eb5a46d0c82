//! THE evidence for the cluster side, against the REAL control plane (etcd, kube-apiserver,
//! controller-manager, scheduler, kwok) with the REAL helm and kubectl: install creates the
//! namespace, installs the embedded chart (kwok runs the controller and webhook pods), and
//! applies the default Provisioner built from the seed's requirements map; the real webhook
//! (run in-process exactly as `kerf webhook` runs it, reached through the chart's
//! `webhook.url`) refuses a bad Provisioner applied with kubectl; a second install changes
//! nothing; uninstall removes the Provisioner, the release and the namespace, and a second
//! uninstall finds nothing; a `default` Provisioner kerf did not create is never taken over. Fails, never skips, when the binaries are missing.

use std::path::Path;
use std::time::Duration;

use k8s_openapi::api::core::v1::Namespace;
use k8s_openapi::apiextensions_apiserver::pkg::apis::apiextensions::v1::CustomResourceDefinition;
use kerf_addon::cluster::{self, ChartValues, ClusterSide};
use kerf_addon::progress::{Recorded, StepOutcome};
use kerf_addon::requirements::{DefaultProvisioner, RequirementsMap};
use kerf_api::v1alpha5::Provisioner;
use kerf_testenv::{ControlPlane, ControlPlaneOptions};
use kerf_webhook::certs::CertBundle;
use kerf_webhook::run::CertSource;
use kerf_webhook::testing::{Webhook, start_on_loopback};
use kube::api::{Api, Patch, PatchParams, PostParams};

const SEED_FLAGS: [&str; 4] = [
    "node.kubernetes.io/instance-type=m5.2xlarge",
    "topology.kubernetes.io/zone=us-east-1c",
    "kubernetes.io/arch=arm64,amd64",
    "karpenter.sh/capacity-type=spot,on-demand",
];

const BAD_OPERATOR: &str = r#"
apiVersion: karpenter.sh/v1alpha5
kind: Provisioner
metadata: {name: bad-operator}
spec:
  providerRef: {name: default}
  requirements:
    - {key: karpenter.sh/capacity-type, operator: Gte, values: [spot]}
"#;

const USER_PROVISIONER: &str = r#"
apiVersion: karpenter.sh/v1alpha5
kind: Provisioner
metadata: {name: default}
spec:
  providerRef: {name: theirs}
"#;

fn seed_provisioner() -> Provisioner {
    let path = Path::new(env!("CARGO_MANIFEST_DIR")).join("../../examples/seed/provisioner.yaml");
    serde_yaml::from_str(&std::fs::read_to_string(path).unwrap()).unwrap()
}

/// The webhook as `kerf webhook --cert-dir` runs it, on 127.0.0.1; it patches its CA into
/// the chart's configurations once helm has created them.
fn start_webhook(plane: &ControlPlane, certs: &Path) -> (u16, Webhook) {
    let bundle =
        CertBundle::generate(&["127.0.0.1".into()], time::OffsetDateTime::now_utc()).unwrap();
    std::fs::write(certs.join("ca.crt"), &bundle.ca_pem).unwrap();
    std::fs::write(certs.join("tls.crt"), &bundle.cert_pem).unwrap();
    std::fs::write(certs.join("tls.key"), &bundle.key_pem).unwrap();
    let port = kerf_testenv::free_port().unwrap();
    // Outside the cluster: the CRDs keep the Service the chart names.
    let cert = CertSource::Dir(certs.to_path_buf());
    let webhook = start_on_loopback(plane.client(), port, cert, Duration::from_secs(1));
    (port, webhook)
}

fn outcomes(rec: &Recorded) -> Vec<(&str, &StepOutcome)> {
    rec.steps.iter().map(|(s, _, o)| (s.as_str(), o)).collect()
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn install_is_idempotent_and_uninstall_removes_everything() {
    let plane = ControlPlane::start(ControlPlaneOptions::cluster())
        .await
        .expect("start the full control plane");
    kerf_testenv::add_system_nodes(&plane.client(), &[])
        .await
        .unwrap();
    let certs = tempfile::tempdir().unwrap();
    let (port, _webhook) = start_webhook(&plane, certs.path());

    let built = DefaultProvisioner::for_cluster(
        "eks-blueprint",
        RequirementsMap::from_flags(SEED_FLAGS).unwrap(),
    )
    .build()
    .unwrap();
    assert_eq!(built, seed_provisioner());

    let mut side = ClusterSide::new(ChartValues {
        cluster_name: "eks-blueprint".into(),
        cluster_endpoint: plane.server_url().into(),
        region: "us-east-1".into(),
        controller_role_arn: Some(
            "arn:aws:iam::111122223333:role/KarpenterControllerRole-eks-blueprint".into(),
        ),
        default_instance_profile: Some("KarpenterNodeInstanceProfile-eks-blueprint".into()),
        interruption_queue: None,
        extra: vec![("webhook.url".into(), format!("https://127.0.0.1:{port}"))],
    });
    side.kubeconfig = Some(plane.kubeconfig_path().to_path_buf());
    side.helm = plane.binaries().path("helm").unwrap();
    side.default_provisioner = Some(built.clone());
    side.wait_timeout = Duration::from_secs(120);

    let mut first = Recorded::default();
    cluster::install(&side, &mut first).await.unwrap();
    assert_eq!(
        outcomes(&first),
        [
            ("k8s:namespace", &StepOutcome::Created),
            ("k8s:crds", &StepOutcome::Created),
            ("helm:release", &StepOutcome::Created),
            ("k8s:default-provisioner", &StepOutcome::Created),
        ]
    );

    // The seed's check: the controller and the webhook are Running in karpenter.
    let pods = kerf_testenv::running_pods(&plane, "karpenter", 4)
        .await
        .unwrap();
    let components: Vec<&str> = pods
        .iter()
        .filter_map(|p| p["metadata"]["labels"]["app.kubernetes.io/component"].as_str())
        .collect();
    assert_eq!(components.iter().filter(|c| **c == "controller").count(), 2);
    assert_eq!(components.iter().filter(|c| **c == "webhook").count(), 2);
    let table = plane.kubectl_ok(["get", "po", "-n", "karpenter"]);
    eprintln!("{}", table.unwrap());

    // Stored as built from the map, with the webhook's AWS defaults filled in.
    let provisioners: Api<Provisioner> = Api::all(plane.client());
    let stored = provisioners.get("default").await.unwrap();
    let mut defaulted = built.clone();
    defaulted.set_defaults();
    assert_eq!(stored.spec, defaulted.spec);
    assert_ne!(
        stored.spec, built.spec,
        "the defaulting webhook was not called"
    );
    assert_eq!(
        stored.metadata.labels.unwrap()["kerf.sh/managed-by"],
        "kerf-addon"
    );

    // The webhook of the installed chart refuses a bad Provisioner applied with kubectl.
    let bad = certs.path().join("bad.yaml");
    std::fs::write(&bad, BAD_OPERATOR).unwrap();
    let (applied, stderr) = plane.kubectl_apply(&bad, &[]).unwrap();
    assert!(!applied, "a bad operator was accepted");
    assert!(
        stderr.contains("spec.requirements[0].operator") && stderr.contains("Gte"),
        "{stderr}"
    );

    // A second install changes nothing.
    let mut second = Recorded::default();
    cluster::install(&side, &mut second).await.unwrap();
    assert_eq!(
        outcomes(&second),
        [
            ("k8s:namespace", &StepOutcome::Unchanged),
            ("k8s:crds", &StepOutcome::Unchanged),
            ("helm:release", &StepOutcome::Unchanged),
            ("k8s:default-provisioner", &StepOutcome::Unchanged),
        ]
    );

    // A CRD as an older kerf left it (helm never upgrades CRDs): install brings it up to
    // date and reports the update; nothing else changes.
    let crds: Api<CustomResourceDefinition> = Api::all(plane.client());
    let old = serde_json::json!({"spec": {"names": {"categories": ["old-kerf"]}}});
    crds.patch(
        "nodeclaims.karpenter.sh",
        &PatchParams::default(),
        &Patch::Merge(&old),
    )
    .await
    .unwrap();
    let mut upgraded = Recorded::default();
    cluster::install(&side, &mut upgraded).await.unwrap();
    assert_eq!(
        outcomes(&upgraded),
        [
            ("k8s:namespace", &StepOutcome::Unchanged),
            ("k8s:crds", &StepOutcome::Updated),
            ("helm:release", &StepOutcome::Unchanged),
            ("k8s:default-provisioner", &StepOutcome::Unchanged),
        ]
    );
    let stored = crds.get("nodeclaims.karpenter.sh").await.unwrap();
    assert_eq!(
        stored.spec.names.categories,
        Some(vec!["karpenter".to_string()])
    );

    // Uninstall removes what install created, and a second uninstall finds nothing.
    let mut removed = Recorded::default();
    cluster::uninstall(&side, &mut removed).await.unwrap();
    assert_eq!(
        outcomes(&removed),
        [
            ("k8s:default-provisioner", &StepOutcome::Deleted),
            ("helm:release", &StepOutcome::Deleted),
            ("k8s:namespace", &StepOutcome::Deleted),
        ]
    );
    assert!(provisioners.get_opt("default").await.unwrap().is_none());
    let namespaces: Api<Namespace> = Api::all(plane.client());
    assert!(namespaces.get_opt("karpenter").await.unwrap().is_none());
    let helm = side.helm.display().to_string();
    let status = std::process::Command::new(&helm)
        .args(["status", "karpenter", "-n", "karpenter", "--kubeconfig"])
        .arg(plane.kubeconfig_path())
        .output()
        .unwrap();
    assert!(!status.status.success(), "the release is still there");

    let mut again = Recorded::default();
    cluster::uninstall(&side, &mut again).await.unwrap();
    assert_eq!(
        outcomes(&again),
        [
            ("k8s:default-provisioner", &StepOutcome::Absent),
            ("helm:release", &StepOutcome::Absent),
            ("k8s:namespace", &StepOutcome::Absent),
        ]
    );

    // A `default` Provisioner someone else made (the CRDs outlive the release): install
    // refuses to take it over, naming the step, and uninstall leaves it alone.
    let theirs = certs.path().join("theirs.yaml");
    std::fs::write(&theirs, USER_PROVISIONER).unwrap();
    plane
        .kubectl_ok(["apply", "-f", theirs.to_str().unwrap()])
        .unwrap();
    let mut rec = Recorded::default();
    let err = cluster::install(&side, &mut rec)
        .await
        .unwrap_err()
        .to_string();
    assert!(
        err.contains("step k8s:default-provisioner (default) failed")
            && err.contains("not created by kerf addon"),
        "{err}"
    );
    let mut rec = Recorded::default();
    cluster::uninstall(&side, &mut rec).await.unwrap();
    assert_eq!(rec.steps[0].2, StepOutcome::Absent);
    let kept = provisioners.get("default").await.unwrap();
    assert_eq!(kept.spec.provider_ref.unwrap().name, "theirs");
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_namespace_kerf_did_not_create_is_kept_and_failures_name_the_step() {
    let plane = ControlPlane::start(ControlPlaneOptions::new())
        .await
        .expect("start etcd + kube-apiserver");
    let namespaces: Api<Namespace> = Api::all(plane.client());
    let mut ns = Namespace::default();
    ns.metadata.name = Some("karpenter".into());
    namespaces
        .create(&PostParams::default(), &ns)
        .await
        .unwrap();

    // helm is not where the side says: the release step fails with the binary named, after
    // the namespace step (which found the existing namespace and left it alone).
    let mut side = ClusterSide::new(ChartValues {
        cluster_name: "demo".into(),
        ..ChartValues::default()
    });
    side.kubeconfig = Some(plane.kubeconfig_path().to_path_buf());
    side.helm = "/nonexistent/helm".into();
    let mut rec = Recorded::default();
    let err = cluster::install(&side, &mut rec)
        .await
        .unwrap_err()
        .to_string();
    assert!(
        err.contains("step helm:release") && err.contains("/nonexistent/helm"),
        "{err}"
    );
    assert!(
        err.contains("already done: k8s:namespace karpenter"),
        "{err}"
    );
    assert_eq!(rec.steps[0].2, StepOutcome::Unchanged);

    // Uninstall with a working helm: nothing of kerf's there, and the namespace is kept.
    side.helm = plane.binaries().path("helm").unwrap();
    let mut rec = Recorded::default();
    cluster::uninstall(&side, &mut rec).await.unwrap();
    assert_eq!(
        outcomes(&rec),
        [
            ("k8s:default-provisioner", &StepOutcome::Absent),
            ("helm:release", &StepOutcome::Absent),
            ("k8s:namespace", &StepOutcome::Unchanged),
        ]
    );
    assert!(namespaces.get_opt("karpenter").await.unwrap().is_some());
}
