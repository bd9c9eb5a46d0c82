//! The state keeps a trimmed copy of each Pod and Node: what it drops must be
//! exactly what kerf never reads, so the scheduler sees the same pod.

mod common;

use common::yaml;
use k8s_openapi::api::core::v1::{Node, Pod};
use kerf_core::requirements::Requirements;
use kerf_state::ClusterState;

/// A Running pod as the API server serves it, with every constraint kind
/// the scheduler compiles and the bulk it does not read.
const RUNNING: &str = r#"
apiVersion: v1
kind: Pod
metadata:
  name: web-1
  namespace: shop
  uid: 5b0c0a52-0000-4000-8000-000000000001
  creationTimestamp: "2026-12-01T07:00:00Z"
  labels: {app: web, tier: front}
  annotations:
    karpenter.sh/do-not-disrupt: "true"
    kubectl.kubernetes.io/last-applied-configuration: '{"apiVersion":"v1","kind":"Pod","metadata":{"name":"web-1"}}'
  ownerReferences: [{apiVersion: apps/v1, kind: ReplicaSet, name: web-7c, uid: rs-1, controller: true}]
  managedFields: [{manager: kube-controller-manager, operation: Update, apiVersion: v1, fieldsType: FieldsV1, fieldsV1: {"f:spec": {}}}]
spec:
  nodeName: node-a
  priority: 100
  nodeSelector: {kubernetes.io/arch: amd64}
  overhead: {cpu: 100m}
  tolerations: [{key: dedicated, operator: Equal, value: web, effect: NoSchedule}]
  affinity:
    nodeAffinity:
      preferredDuringSchedulingIgnoredDuringExecution:
        - weight: 10
          preference: {matchExpressions: [{key: karpenter.sh/capacity-type, operator: In, values: [spot]}]}
    podAntiAffinity:
      requiredDuringSchedulingIgnoredDuringExecution:
        - topologyKey: kubernetes.io/hostname
          labelSelector: {matchLabels: {app: web}}
  topologySpreadConstraints:
    - {maxSkew: 1, topologyKey: topology.kubernetes.io/zone, whenUnsatisfiable: DoNotSchedule, labelSelector: {matchLabels: {app: web}}}
  initContainers:
    - name: proxy
      image: envoy:1.30
      restartPolicy: Always
      resources: {requests: {cpu: 250m, memory: 64Mi}}
    - name: migrate
      image: migrate:1
      command: [/migrate]
      resources: {requests: {cpu: "2"}}
  containers:
    - name: app
      image: shop/web:2.4
      command: [/web]
      args: [--port, "8080"]
      env: [{name: MODE, value: prod}]
      ports: [{containerPort: 8080, hostPort: 8080, protocol: TCP}]
      resources: {requests: {cpu: "1", memory: 1Gi}, limits: {memory: 2Gi}}
      readinessProbe: {httpGet: {path: /ready, port: 8080}}
      volumeMounts: [{name: kube-api-access-x7k2p, mountPath: /var/run/secrets/kubernetes.io/serviceaccount, readOnly: true}]
  ephemeralContainers:
    - {name: debug, image: busybox}
  volumes:
    - name: kube-api-access-x7k2p
      projected:
        sources:
          - serviceAccountToken: {path: token, expirationSeconds: 3607}
          - configMap: {name: kube-root-ca.crt, items: [{key: ca.crt, path: ca.crt}]}
status:
  phase: Running
  nominatedNodeName: node-a
  hostIP: 10.0.0.1
  podIP: 10.0.0.2
  qosClass: Burstable
  startTime: "2026-12-01T07:00:10Z"
  conditions:
    - {type: Ready, status: "True"}
    - {type: ContainersReady, status: "True"}
    - {type: PodScheduled, status: "True"}
  containerStatuses:
    - {name: app, image: shop/web:2.4, imageID: "", ready: true, restartCount: 0, state: {running: {startedAt: "2026-12-01T07:00:10Z"}}}
"#;

fn stored_pod(pod: Pod) -> Pod {
    let mut state = ClusterState::new();
    let key = state.apply(pod).unwrap();
    state.get::<Pod>(&key).unwrap().clone()
}

fn compiled(pod: &Pod) -> serde_json::Value {
    let info = kerf_core::pod::compile(pod, &Requirements::default()).unwrap();
    serde_json::to_value(info).unwrap()
}

#[test]
fn the_scheduler_sees_the_same_pod_after_trimming() {
    let original: Pod = yaml(RUNNING);
    let stored = stored_pod(original.clone());
    assert_eq!(compiled(&stored), compiled(&original));
    assert_eq!(
        kerf_core::pod::PodKey::of(&stored),
        kerf_core::pod::PodKey::of(&original)
    );
}

#[test]
fn trimming_drops_what_kerf_never_reads() {
    let stored = stored_pod(yaml(RUNNING));
    let meta = &stored.metadata;
    assert!(meta.managed_fields.is_none());
    let annotations = meta.annotations.as_ref().unwrap();
    assert!(annotations.contains_key("karpenter.sh/do-not-disrupt"));
    assert!(!annotations.contains_key("kubectl.kubernetes.io/last-applied-configuration"));
    assert_eq!(
        meta.owner_references.as_ref().unwrap()[0].kind,
        "ReplicaSet"
    );

    let spec = stored.spec.as_ref().unwrap();
    let app = &spec.containers[0];
    assert_eq!(app.name, "app");
    assert!(app.image.is_none() && app.env.is_none() && app.command.is_none());
    assert!(app.readiness_probe.is_none() && app.volume_mounts.is_none());
    assert_eq!(app.ports.as_ref().unwrap()[0].host_port, Some(8080));
    let init = spec.init_containers.as_ref().unwrap();
    assert_eq!(init[0].restart_policy.as_deref(), Some("Always"));
    assert!(init[1].command.is_none());
    assert!(spec.ephemeral_containers.is_none());
    assert!(spec.volumes.is_none(), "only a token volume: nothing kept");
    assert_eq!(spec.node_name.as_deref(), Some("node-a"));

    let status = stored.status.as_ref().unwrap();
    assert_eq!(status.phase.as_deref(), Some("Running"));
    assert_eq!(status.nominated_node_name.as_deref(), Some("node-a"));
    let conditions = status.conditions.as_ref().unwrap();
    let kept: Vec<&str> = conditions.iter().map(|c| c.type_.as_str()).collect();
    assert_eq!(kept, ["Ready", "PodScheduled"]);
    assert!(status.container_statuses.is_none() && status.pod_ip.is_none());
}

#[test]
fn a_pod_with_a_claim_keeps_every_volume_entry_so_errors_name_the_right_index() {
    let pod: Pod = yaml(
        r#"
metadata: {name: db-0, namespace: shop}
spec:
  containers: [{name: c}]
  volumes:
    - {name: token, projected: {sources: [{serviceAccountToken: {path: token}}]}}
    - {name: data, persistentVolumeClaim: {claimName: data-db-0}}
"#,
    );
    let stored = stored_pod(pod);
    let volumes = stored.spec.as_ref().unwrap().volumes.as_ref().unwrap();
    assert_eq!(volumes.len(), 2);
    assert_eq!(volumes[0].name, "token");
    assert!(volumes[0].projected.is_none());
    let claim = volumes[1].persistent_volume_claim.as_ref().unwrap();
    assert_eq!(claim.claim_name, "data-db-0");
}

#[test]
fn a_pending_pod_keeps_the_condition_that_makes_it_pending() {
    let pod: Pod = yaml(
        r#"
metadata: {name: p, namespace: default}
spec: {containers: [{name: c, image: pause}]}
status:
  phase: Pending
  conditions: [{type: PodScheduled, status: "False", reason: Unschedulable, message: "0/3 nodes are available"}]
"#,
    );
    let stored = stored_pod(pod);
    assert!(kerf_state::is_pending(
        &stored,
        kerf_state::PendingMode::Unschedulable
    ));
}

#[test]
fn a_node_keeps_its_labels_taints_and_resources_but_not_its_images() {
    let node: Node = yaml(
        r#"
metadata:
  name: node-a
  labels: {karpenter.sh/provisioner-name: default}
  managedFields: [{manager: kubelet, operation: Update}]
spec:
  providerID: aws:///us-east-1a/i-0123
  taints: [{key: dedicated, value: web, effect: NoSchedule}]
status:
  allocatable: {cpu: 3920m, memory: 14Gi, pods: "58"}
  capacity: {cpu: "4", memory: 16Gi, pods: "58"}
  conditions: [{type: Ready, status: "True"}]
  images: [{names: [shop/web:2.4, "shop/web@sha256:0123"], sizeBytes: 123456789}]
"#,
    );
    let mut state = ClusterState::new();
    let key = state.apply(node).unwrap();
    let stored = state.get::<Node>(&key).unwrap();
    assert!(stored.metadata.managed_fields.is_none());
    let status = stored.status.as_ref().unwrap();
    assert!(status.images.is_none());
    assert_eq!(status.allocatable.as_ref().unwrap()["cpu"].0, "3920m");
    assert!(kerf_state::node_is_ready(stored));
    let spec = stored.spec.as_ref().unwrap();
    assert_eq!(spec.taints.as_ref().unwrap()[0].key, "dedicated");
    assert_eq!(
        spec.provider_id.as_deref(),
        Some("aws:///us-east-1a/i-0123")
    );
}
