//! etcd + kube-apiserver from the real binaries (these tests fail, never skip,
//! when the binaries are missing: run scripts/testbed-build.sh).

use std::time::Duration;

use k8s_openapi::api::core::v1::{ConfigMap, Namespace};
use kerf_testenv::{Binaries, ControlPlane, ControlPlaneOptions, Error};
use kube::api::{Api, DynamicObject, PostParams};
use kube::core::{ApiResource, GroupVersionKind};

fn report(plane: &ControlPlane) {
    eprintln!(
        "control plane started in {:?} ({:?}) at {}",
        plane.startup_duration(),
        plane.startup_timings(),
        plane.server_url()
    );
}

#[tokio::test]
async fn configmap_written_by_client_is_read_by_kubectl() {
    let plane = ControlPlane::start(ControlPlaneOptions::new())
        .await
        .expect("start etcd + kube-apiserver");
    report(&plane);
    let client = plane.client();

    // The binaries carry the release version stamps of the pinned build.
    let version = client.apiserver_version().await.expect("GET /version");
    assert!(version.git_version.starts_with("v1.34."), "{version:?}");

    let namespaces: Api<Namespace> = Api::all(client.clone());
    let mut ns = Namespace::default();
    ns.metadata.name = Some("kerf-test".into());
    namespaces
        .create(&PostParams::default(), &ns)
        .await
        .expect("create namespace");

    let configmaps: Api<ConfigMap> = Api::namespaced(client, "kerf-test");
    let mut cm = ConfigMap::default();
    cm.metadata.name = Some("settings".into());
    cm.data = Some([("answer".to_string(), "42".to_string())].into());
    configmaps
        .create(&PostParams::default(), &cm)
        .await
        .expect("create configmap");

    let json = plane
        .kubectl_ok([
            "get",
            "configmap",
            "settings",
            "--namespace",
            "kerf-test",
            "-o",
            "json",
        ])
        .expect("kubectl get configmap");
    let got: serde_json::Value = serde_json::from_str(&json).expect("kubectl printed JSON");
    assert_eq!(got["kind"], "ConfigMap");
    assert_eq!(got["metadata"]["namespace"], "kerf-test");
    assert_eq!(got["data"]["answer"], "42");

    // Authorization is RBAC: the admin may do anything, others nothing.
    let admin = plane
        .kubectl(["auth", "can-i", "delete", "nodes"])
        .expect("kubectl auth can-i");
    assert_eq!(String::from_utf8_lossy(&admin.stdout).trim(), "yes");
    let nobody = plane
        .kubectl(["auth", "can-i", "get", "configmaps", "--as=nobody"])
        .expect("kubectl auth can-i --as");
    assert_eq!(String::from_utf8_lossy(&nobody.stdout).trim(), "no");
}

const CRD_AND_CR: &str = r#"
apiVersion: apiextensions.k8s.io/v1
kind: CustomResourceDefinition
metadata:
  name: widgets.test.kerf.dev
spec:
  group: test.kerf.dev
  scope: Cluster
  names: {plural: widgets, singular: widget, kind: Widget}
  versions:
  - name: v1
    served: true
    storage: true
    schema:
      openAPIV3Schema:
        type: object
        properties:
          spec:
            type: object
            properties:
              size: {type: integer}
---
apiVersion: test.kerf.dev/v1
kind: Widget
metadata:
  name: w1
spec:
  size: 3
"#;

#[test]
fn blocking_start_applies_crd_and_custom_resource() {
    let plane = ControlPlane::start_blocking(ControlPlaneOptions::new())
        .expect("start etcd + kube-apiserver (blocking)");
    report(&plane);
    let applied = plane
        .block_on(plane.apply_yaml(CRD_AND_CR))
        .expect("plane owns a runtime")
        .expect("apply CRD + CR");
    assert_eq!(applied.len(), 2);

    let gvk = GroupVersionKind::gvk("test.kerf.dev", "v1", "Widget");
    let widgets: Api<DynamicObject> = Api::all_with(plane.client(), &ApiResource::from_gvk(&gvk));
    let w1 = plane
        .block_on(widgets.get("w1"))
        .expect("plane owns a runtime")
        .expect("get widget");
    assert_eq!(w1.data["spec"]["size"], 3);

    let out = plane
        .kubectl_ok(["get", "widgets", "-o", "name"])
        .expect("kubectl get widgets");
    assert_eq!(out.trim(), "widget.test.kerf.dev/w1");
}

#[tokio::test]
async fn missing_binary_is_an_error_naming_the_build_script() {
    let empty = tempfile::tempdir().expect("tempdir");
    let opts = ControlPlaneOptions {
        startup_timeout: Duration::from_secs(1),
        ..ControlPlaneOptions::new()
    }
    .with_binaries(Binaries::from_dir(empty.path()));
    let err = match ControlPlane::start(opts).await {
        Ok(_) => panic!("started without binaries"),
        Err(e) => e,
    };
    assert!(matches!(err, Error::MissingBinary { .. }), "{err}");
    assert!(
        err.to_string().contains("run scripts/testbed-build.sh"),
        "{err}"
    );
}
