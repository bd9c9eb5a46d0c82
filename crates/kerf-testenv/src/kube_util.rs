//! Small helpers for tests: applying manifests, installing CRDs, polling,
//! fake nodes.

use std::future::Future;
use std::time::{Duration, Instant};

use k8s_openapi::api::core::v1::{Node, Taint};
use k8s_openapi::apiextensions_apiserver::pkg::apis::apiextensions::v1::CustomResourceDefinition;
use k8s_openapi::apimachinery::pkg::api::resource::Quantity;
use kube::api::{Api, DynamicObject, Patch, PatchParams, PostParams};
use kube::core::GroupVersionKind;
use kube::discovery::{Scope, pinned_kind};
use kube::{Client, ResourceExt};
use serde::Deserialize;

use crate::error::{Error, Result};

/// Field manager used by [`apply_yaml`].
pub const FIELD_MANAGER: &str = "kerf-testenv";

/// Annotation conventionally marking kwok-managed Nodes (see
/// [`crate::KwokNodes::WithAnnotation`]).
pub const KWOK_NODE_ANNOTATION: &str = "kwok.x-k8s.io/node";

/// How long [`apply_yaml`] waits for a kind to appear in discovery (e.g. a
/// custom resource right after its CRD in the same manifest).
const DISCOVERY_WAIT: Duration = Duration::from_secs(15);

/// Server-side applies every document of a (multi-document) YAML manifest, in
/// order, with field manager [`FIELD_MANAGER`] and `force`. Namespaced objects
/// without a namespace go to `default`. Kinds unknown to discovery are retried
/// for a few seconds, so a CRD and its custom resources can be applied
/// together. Returns the applied objects as the server returned them.
pub async fn apply_yaml(client: &Client, yaml: &str) -> Result<Vec<DynamicObject>> {
    let mut applied = Vec::new();
    for (index, document) in serde_yaml::Deserializer::from_str(yaml).enumerate() {
        let value = serde_json::Value::deserialize(document)
            .map_err(|e| Error::Manifest(format!("document {index}: {e}")))?;
        if value.is_null() {
            continue;
        }
        let object: DynamicObject = serde_json::from_value(value)
            .map_err(|e| Error::Manifest(format!("document {index}: {e}")))?;
        let types = object
            .types
            .as_ref()
            .ok_or_else(|| Error::Manifest(format!("document {index}: no apiVersion/kind")))?;
        let gvk = GroupVersionKind::try_from(types)
            .map_err(|e| Error::Manifest(format!("document {index}: {e}")))?;
        let name = object
            .metadata
            .name
            .clone()
            .ok_or_else(|| Error::Manifest(format!("document {index}: no metadata.name")))?;

        let deadline = Instant::now() + DISCOVERY_WAIT;
        let (resource, caps) = loop {
            match pinned_kind(client, &gvk).await {
                Ok(found) => break found,
                Err(_) if Instant::now() < deadline => {
                    tokio::time::sleep(Duration::from_millis(250)).await;
                }
                Err(e) => return Err(e.into()),
            }
        };
        let api: Api<DynamicObject> = match caps.scope {
            Scope::Namespaced => {
                let ns = object.namespace().unwrap_or_else(|| "default".to_string());
                Api::namespaced_with(client.clone(), &ns, &resource)
            }
            Scope::Cluster => Api::all_with(client.clone(), &resource),
        };
        let params = PatchParams::apply(FIELD_MANAGER).force();
        applied.push(api.patch(&name, &params, &Patch::Apply(&object)).await?);
    }
    Ok(applied)
}

/// How long [`install_crds`] waits for each CRD to be Established.
const ESTABLISHED_WAIT: Duration = Duration::from_secs(60);

/// Server-side applies each CRD (field manager [`FIELD_MANAGER`], `force`, so
/// installing again is harmless) and waits until the API server serves every
/// one of them. Returns their names, in order.
pub async fn install_crds(
    client: &Client,
    crds: impl IntoIterator<Item = CustomResourceDefinition>,
) -> Result<Vec<String>> {
    let api: Api<CustomResourceDefinition> = Api::all(client.clone());
    let params = PatchParams::apply(FIELD_MANAGER).force();
    let mut names = Vec::new();
    for crd in crds {
        let name = crd
            .metadata
            .name
            .clone()
            .ok_or_else(|| Error::Manifest("a CRD without metadata.name".into()))?;
        api.patch(&name, &params, &Patch::Apply(&crd)).await?;
        names.push(name);
    }
    for name in &names {
        wait_established(client, name).await?;
    }
    Ok(names)
}

/// Waits (up to a minute) until the CRD `name` is `Established`: its
/// resources are served.
pub async fn wait_established(client: &Client, name: &str) -> Result<()> {
    let crds: Api<CustomResourceDefinition> = Api::all(client.clone());
    wait_for(
        &format!("CRD {name} Established"),
        ESTABLISHED_WAIT,
        || async {
            let crd = crds.get(name).await.ok()?;
            let established = crd
                .status?
                .conditions?
                .iter()
                .any(|c| c.type_ == "Established" && c.status == "True");
            established.then_some(())
        },
    )
    .await
}

/// Polls `check` every 100 ms until it returns `Some`, for at most `timeout`.
/// `what` describes the condition for the [`Error::Timeout`] message.
///
/// ```no_run
/// # async fn demo(client: kube::Client) -> kerf_testenv::Result<()> {
/// use k8s_openapi::api::core::v1::Pod;
/// let pods: kube::Api<Pod> = kube::Api::default_namespaced(client);
/// let pod = kerf_testenv::wait_for("pod p to be bound", std::time::Duration::from_secs(30), || async {
///     pods.get_opt("p").await.ok().flatten().filter(|p| {
///         p.spec.as_ref().is_some_and(|s| s.node_name.is_some())
///     })
/// })
/// .await?;
/// # Ok(()) }
/// ```
pub async fn wait_for<T, F, Fut>(what: &str, timeout: Duration, mut check: F) -> Result<T>
where
    F: FnMut() -> Fut,
    Fut: Future<Output = Option<T>>,
{
    let deadline = Instant::now() + timeout;
    loop {
        if let Some(value) = check().await {
            return Ok(value);
        }
        if Instant::now() >= deadline {
            return Err(Error::Timeout {
                what: what.to_string(),
                after: timeout,
            });
        }
        tokio::time::sleep(Duration::from_millis(100)).await;
    }
}

/// A Node object for kwok to manage: annotated with
/// `kwok.x-k8s.io/node=fake`, labelled `type=kwok` and the usual
/// `kubernetes.io/hostname`/`os`/`arch` labels, with the given capacity (also
/// used as allocatable; kwok's default is 1k CPUs / 1Ti / 1M pods when empty).
pub fn kwok_node(name: &str, capacity: &[(&str, &str)]) -> Node {
    let resources = (!capacity.is_empty()).then(|| {
        capacity
            .iter()
            .map(|(k, v)| (k.to_string(), Quantity(v.to_string())))
            .collect::<std::collections::BTreeMap<_, _>>()
    });
    let mut node = Node::default();
    node.metadata.name = Some(name.to_string());
    node.metadata.annotations = Some(
        [(KWOK_NODE_ANNOTATION.to_string(), "fake".to_string())]
            .into_iter()
            .collect(),
    );
    node.metadata.labels = Some(
        [
            ("type", "kwok"),
            ("kubernetes.io/hostname", name),
            ("kubernetes.io/os", "linux"),
            ("kubernetes.io/arch", "amd64"),
        ]
        .into_iter()
        .map(|(k, v)| (k.to_string(), v.to_string()))
        .collect(),
    );
    if let Some(resources) = resources {
        node.status = Some(k8s_openapi::api::core::v1::NodeStatus {
            capacity: Some(resources.clone()),
            allocatable: Some(resources),
            ..Default::default()
        });
    }
    node
}

/// Creates three kwok Nodes `system-0`, `system-1` and `system-2`, one in each
/// of the zones `us-east-1a`, `-b` and `-c`, with 8 CPUs, 32Gi and 110 pods
/// each and the given taints: what a managed node group gives the add-on's
/// pods before kerf makes nodes of its own.
pub async fn add_system_nodes(client: &Client, taints: &[Taint]) -> Result<Vec<Node>> {
    let nodes: Api<Node> = Api::all(client.clone());
    let mut created = Vec::new();
    for (i, zone) in ["a", "b", "c"].iter().enumerate() {
        let mut node = kwok_node(
            &format!("system-{i}"),
            &[("cpu", "8"), ("memory", "32Gi"), ("pods", "110")],
        );
        node.metadata.labels.get_or_insert_default().insert(
            "topology.kubernetes.io/zone".into(),
            format!("us-east-1{zone}"),
        );
        if !taints.is_empty() {
            node.spec.get_or_insert_default().taints = Some(taints.to_vec());
        }
        created.push(nodes.create(&PostParams::default(), &node).await?);
    }
    Ok(created)
}

/// Whether a Node's `Ready` condition is `True`.
pub fn node_is_ready(node: &Node) -> bool {
    node.status
        .as_ref()
        .and_then(|s| s.conditions.as_ref())
        .is_some_and(|cs| cs.iter().any(|c| c.type_ == "Ready" && c.status == "True"))
}

/// Waits (up to a minute) until `namespace` holds exactly `count` pods, all Running, as the
/// real kubectl reports them, and returns them as JSON. For chart installs, whose pods kwok
/// runs. Needs a multi-threaded runtime (kubectl runs under `block_in_place`).
pub async fn running_pods(
    plane: &crate::ControlPlane,
    namespace: &str,
    count: usize,
) -> Result<Vec<serde_json::Value>> {
    wait_for(
        &format!("{count} Running pods in {namespace}"),
        Duration::from_secs(60),
        || async {
            let out = tokio::task::block_in_place(|| {
                plane.kubectl_ok(["get", "po", "-n", namespace, "-o", "json"])
            })
            .ok()?;
            let list: serde_json::Value = serde_json::from_str(&out).ok()?;
            let items = list["items"].as_array()?.clone();
            let running = items
                .iter()
                .filter(|p| p["status"]["phase"] == "Running")
                .count();
            (items.len() == count && running == count).then_some(items)
        },
    )
    .await
}
