//! The chart's pods pass Pod Security Admission's `restricted` profile on the
//! REAL kube-apiserver (etcd + kube-apiserver, whose PodSecurity admission
//! plugin is on by default): the chart is installed with the real helm into
//! a namespace labelled `pod-security.kubernetes.io/enforce: restricted`,
//! and a Pod built from every pod template it renders (Deployment
//! `.spec.template`; PSA enforces on Pods, not on their controllers) is
//! admitted there. As a control that the check can fail, the same Pod
//! without its seccompProfile is refused. The installed RBAC is asked too
//! (`kubectl auth can-i --as` the controller's ServiceAccount): no Node
//! creation and no binding with the default aws provider.
//!
//! Fails, never skips, when the testbed binaries are missing (run
//! scripts/testbed-build.sh).

use std::collections::BTreeMap;
use std::path::Path;

use k8s_openapi::api::apps::v1::Deployment;
use k8s_openapi::api::core::v1::{Namespace, Pod};
use k8s_openapi::apimachinery::pkg::apis::meta::v1::ObjectMeta;
use kerf_testenv::{ControlPlane, ControlPlaneOptions};
use kube::api::{Api, ListParams, PostParams};
use serde::Deserialize;
use serde_json::Value;

const NAMESPACE: &str = "kerf-restricted";

/// Runs the testbed's helm against the plane; (success, stdout + stderr).
fn helm(plane: &ControlPlane, args: &[&str]) -> (bool, String) {
    plane
        .helm(args)
        .expect("helm is built by scripts/testbed-build.sh")
}

fn chart() -> String {
    Path::new(env!("CARGO_MANIFEST_DIR"))
        .join("../../charts/kerf")
        .display()
        .to_string()
}

/// The Deployments `helm template` renders with `extra` values.
fn rendered_deployments(plane: &ControlPlane, extra: &[&str]) -> Vec<Deployment> {
    let chart = chart();
    let mut args = vec!["template", "kerf", chart.as_str(), "-n", NAMESPACE];
    args.extend(extra);
    let (ok, out) = helm(plane, &args);
    assert!(ok, "helm template {extra:?} failed:\n{out}");
    serde_yaml::Deserializer::from_str(&out)
        .map(|doc| Value::deserialize(doc).unwrap())
        .filter(|v| v["kind"] == "Deployment")
        .map(|v| serde_json::from_value(v).unwrap())
        .collect()
}

/// The Pod a Deployment's ReplicaSet would create, named `name`.
fn pod_from(deployment: &Deployment, name: &str) -> Pod {
    let template = deployment
        .spec
        .as_ref()
        .expect("Deployment has a spec")
        .template
        .clone();
    Pod {
        metadata: ObjectMeta {
            name: Some(name.to_string()),
            namespace: Some(NAMESPACE.to_string()),
            labels: template.metadata.and_then(|m| m.labels),
            ..Default::default()
        },
        spec: template.spec,
        ..Default::default()
    }
}

/// `kubectl auth can-i VERB RESOURCE [--subresource=S]` as the controller's
/// ServiceAccount.
fn controller_can(plane: &ControlPlane, verb: &str, resource: &str, subresource: &str) -> bool {
    let mut args = vec![
        "auth".to_string(),
        "can-i".to_string(),
        verb.to_string(),
        resource.to_string(),
        format!("--as=system:serviceaccount:{NAMESPACE}:karpenter"),
    ];
    if !subresource.is_empty() {
        args.push(format!("--subresource={subresource}"));
    }
    let out = plane.kubectl(&args).expect("run kubectl auth can-i");
    match String::from_utf8_lossy(&out.stdout).trim() {
        "yes" => true,
        "no" => false,
        other => panic!(
            "kubectl auth can-i {verb} {resource} {subresource}: {other:?} {}",
            String::from_utf8_lossy(&out.stderr)
        ),
    }
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn every_chart_pod_is_admitted_under_the_restricted_profile() {
    let plane = ControlPlane::start(ControlPlaneOptions::new())
        .await
        .expect("start etcd + kube-apiserver");
    let client = plane.client();
    let namespaces: Api<Namespace> = Api::all(client.clone());
    let namespace = Namespace {
        metadata: ObjectMeta {
            name: Some(NAMESPACE.to_string()),
            labels: Some(BTreeMap::from([
                (
                    "pod-security.kubernetes.io/enforce".to_string(),
                    "restricted".to_string(),
                ),
                (
                    "pod-security.kubernetes.io/enforce-version".to_string(),
                    "latest".to_string(),
                ),
            ])),
            ..Default::default()
        },
        ..Default::default()
    };
    namespaces
        .create(&PostParams::default(), &namespace)
        .await
        .unwrap();

    // The chart as installed: default values (the aws provider).
    let chart = chart();
    let (ok, out) = tokio::task::block_in_place(|| {
        helm(
            &plane,
            &[
                "install",
                "kerf",
                &chart,
                "--namespace",
                NAMESPACE,
                "--set",
                "settings.clusterName=test",
            ],
        )
    });
    assert!(ok, "helm install failed:\n{out}");
    // PSA warns (it does not refuse) when a Deployment's template would
    // violate the namespace's level: none may.
    assert!(
        !out.contains("violate PodSecurity"),
        "a rendered Deployment violates the namespace's level:\n{out}"
    );
    let installed = Api::<Deployment>::namespaced(client.clone(), NAMESPACE)
        .list(&ListParams::default())
        .await
        .unwrap()
        .items;
    let mut names: Vec<String> = installed
        .iter()
        .map(|d| d.metadata.name.clone().unwrap())
        .collect();
    names.sort();
    assert_eq!(names, ["kerf", "kerf-webhook"]);

    // Also what the other modes render (templates only: a second release
    // would clash with the first's cluster-scoped objects).
    let mut deployments: Vec<(String, Deployment)> = installed
        .into_iter()
        .map(|d| (format!("{}-installed", d.metadata.name.clone().unwrap()), d))
        .collect();
    for (tag, extra) in [
        (
            "kwok",
            &[
                "--set",
                "settings.cloudProvider=kwok",
                "--set",
                "settings.bindPods=true",
            ][..],
        ),
        ("region", &["--set", "settings.awsRegion=eu-west-1"][..]),
    ] {
        for d in rendered_deployments(&plane, extra) {
            deployments.push((format!("{}-{tag}", d.metadata.name.clone().unwrap()), d));
        }
    }
    assert_eq!(deployments.len(), 6);

    let pods: Api<Pod> = Api::namespaced(client.clone(), NAMESPACE);
    for (name, deployment) in &deployments {
        if let Err(e) = pods
            .create(&PostParams::default(), &pod_from(deployment, name))
            .await
        {
            panic!("pod {name} from the chart refused under restricted: {e}");
        }
    }

    // Control: the same pod without its seccomp profile is refused, so the
    // namespace really enforces the profile.
    let (_, controller) = deployments
        .iter()
        .find(|(name, _)| name == "kerf-installed")
        .unwrap();
    let mut bare = pod_from(controller, "no-seccomp");
    bare.spec
        .as_mut()
        .unwrap()
        .security_context
        .as_mut()
        .expect("the chart sets a pod securityContext")
        .seccomp_profile = None;
    match pods.create(&PostParams::default(), &bare).await {
        Ok(_) => panic!("a pod without a seccompProfile was admitted under restricted"),
        Err(kube::Error::Api(status)) => {
            assert_eq!(status.code, 403, "{status:?}");
            assert!(
                status.message.contains("seccompProfile") && status.message.contains("restricted"),
                "{}",
                status.message
            );
        }
        Err(e) => panic!("creating the control pod: {e}"),
    }

    // The installed RBAC, as the API server evaluates it (default: aws
    // provider, kube-scheduler binds).
    assert!(controller_can(&plane, "patch", "nodes", ""));
    assert!(controller_can(&plane, "create", "pods", "eviction"));
    assert!(controller_can(&plane, "create", "events.events.k8s.io", ""));
    assert!(!controller_can(&plane, "create", "nodes", ""));
    assert!(!controller_can(&plane, "create", "pods", "binding"));
    assert!(!controller_can(&plane, "delete", "pods", ""));
    // Only the pod-deletion-cost annotation is written (merge patch).
    assert!(controller_can(&plane, "patch", "pods", ""));
    assert!(!controller_can(&plane, "update", "pods", ""));
    assert!(!controller_can(&plane, "get", "secrets", ""));
}
