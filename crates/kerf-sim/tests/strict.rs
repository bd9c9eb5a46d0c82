//! Strict field validation: a field the kind does not have is refused naming
//! its path, as kubectl's default (`--validate=strict`) refuses it, while a
//! `kubectl get -o yaml` dump (managedFields, status, defaulted fields) loads.

use std::path::PathBuf;

use kerf_sim::SimError;
use kerf_sim::load::{Loaded, load_paths};

fn load(text: &str) -> (tempfile::TempDir, PathBuf, Result<Loaded, SimError>) {
    let dir = tempfile::tempdir().unwrap();
    let path = dir.path().join("input.yaml");
    std::fs::write(&path, text).unwrap();
    let result = load_paths(std::slice::from_ref(&path));
    (dir, path, result)
}

fn refused(text: &str, parts: &[&str]) {
    let (_dir, path, result) = load(text);
    let err = result.expect_err("an unknown field must be refused");
    let message = err.to_string();
    assert_eq!(err.exit_code(), 2, "{message}");
    assert!(
        message.contains(&path.display().to_string()),
        "{message:?} does not name the file"
    );
    for p in parts {
        assert!(message.contains(p), "{message:?} does not mention {p:?}");
    }
}

const EC2_NODE_CLASS: &str = r#"apiVersion: karpenter.k8s.aws/v1
kind: EC2NodeClass
metadata: {name: default}
spec:
  role: KarpenterNodeRole
  amiSelectorTerms: [{alias: al2023@latest}]
  subnetSelectorTerms: [{tags: {karpenter.sh/discovery: test}}]
  securityGroupSelectorTerms: [{tags: {karpenter.sh/discovery: test}}]
"#;

#[test]
fn a_misspelt_nodepool_field_is_refused_with_its_path() {
    let text = format!(
        r#"{EC2_NODE_CLASS}---
apiVersion: karpenter.sh/v1
kind: NodePool
metadata: {{name: default}}
spec:
  template:
    spec:
      nodeClassRef: {{group: karpenter.k8s.aws, kind: EC2NodeClass, name: default}}
      requirments:
        - {{key: karpenter.sh/capacity-type, operator: In, values: [spot]}}
"#
    );
    refused(
        &text,
        &[
            "document 2",
            "NodePool \"default\"",
            "spec.template.spec.requirments: unknown field",
        ],
    );
}

#[test]
fn a_misspelt_provisioner_limit_is_refused() {
    refused(
        r#"apiVersion: karpenter.sh/v1alpha5
kind: Provisioner
metadata: {name: default}
spec:
  limit: {resources: {cpu: "100"}}
  provider: {instanceProfile: profile}
"#,
        &[
            "document 1",
            "Provisioner \"default\"",
            "spec.limit: unknown field",
        ],
    );
}

/// AWSNodeTemplate keeps fields it does not know for conversion, and kerf-api's
/// validation refuses them; the loader reports it with the document.
#[test]
fn a_misspelt_aws_node_template_field_is_refused() {
    refused(
        r#"apiVersion: karpenter.k8s.aws/v1alpha1
kind: AWSNodeTemplate
metadata: {name: t}
spec:
  subnetSelector: {a: b}
  securityGroupSelector: {a: b}
  subnetSelecter: {a: b}
"#,
        &[
            "document 1",
            "AWSNodeTemplate \"t\"",
            "spec.subnetSelecter: unknown field",
        ],
    );
}

#[test]
fn unknown_fields_in_core_kinds_are_refused() {
    refused(
        r#"apiVersion: v1
kind: Pod
metadata: {name: p, namespace: default}
spec:
  containers:
    - name: c
      image: nginx
      resource: {requests: {cpu: "1"}}
"#,
        &[
            "Pod \"default/p\"",
            "spec.containers[0].resource: unknown field",
        ],
    );
    refused(
        r#"apiVersion: apps/v1
kind: Deployment
metadata: {name: web, namespace: default}
spec:
  replica: 3
  selector: {matchLabels: {app: web}}
  template:
    metadata: {labels: {app: web}}
    spec: {containers: [{name: c, image: nginx}]}
"#,
        &["Deployment \"default/web\"", "spec.replica: unknown field"],
    );
    refused(
        r#"apiVersion: v1
kind: Pod
metadata: {name: p, namespace: default, label: {app: x}}
spec: {containers: [{name: c, image: nginx}]}
"#,
        &["metadata.label: unknown field"],
    );
}

/// What `kubectl get nodepool,pod -o yaml` prints: server-set metadata,
/// defaulted spec fields and a status with fields kerf does not model.
#[test]
fn kubectl_dumps_with_metadata_and_status_load() {
    let text = format!(
        r#"{EC2_NODE_CLASS}---
apiVersion: v1
kind: List
metadata: {{resourceVersion: ""}}
items:
  - apiVersion: karpenter.sh/v1
    kind: NodePool
    metadata:
      annotations: {{karpenter.sh/nodepool-hash: "123", karpenter.sh/nodepool-hash-version: v3}}
      creationTimestamp: "2026-01-02T03:04:05Z"
      generation: 2
      managedFields:
        - apiVersion: karpenter.sh/v1
          fieldsType: FieldsV1
          fieldsV1: {{"f:spec": {{"f:template": {{}}}}}}
          manager: kubectl-client-side-apply
          operation: Update
          time: "2026-01-02T03:04:05Z"
      name: default
      resourceVersion: "4711"
      uid: 0b6b6b6b-1111-2222-3333-444444444444
    spec:
      disruption: {{budgets: [{{nodes: 10%}}], consolidateAfter: 0s, consolidationPolicy: WhenEmptyOrUnderutilized}}
      template:
        spec:
          expireAfter: 720h
          nodeClassRef: {{group: karpenter.k8s.aws, kind: EC2NodeClass, name: default}}
          requirements:
            - {{key: karpenter.sh/capacity-type, operator: In, values: [on-demand]}}
    status:
      conditions:
        - {{lastTransitionTime: "2026-01-02T03:04:05Z", message: "", observedGeneration: 2, reason: Ready, status: "True", type: Ready}}
      nodeClassObservedGeneration: 1
      nodes: 0
      resources: {{cpu: "0", memory: "0", nodes: "0", pods: "0"}}
      somethingNewer: {{x: 1}}
  - apiVersion: v1
    kind: Pod
    metadata:
      creationTimestamp: "2026-01-02T03:04:05Z"
      generateName: web-5d4f8-
      labels: {{app: web, pod-template-hash: 5d4f8}}
      name: web-5d4f8-abcde
      namespace: default
      ownerReferences:
        - {{apiVersion: apps/v1, blockOwnerDeletion: true, controller: true, kind: ReplicaSet, name: web-5d4f8, uid: 0b6b6b6b-1111-2222-3333-555555555555}}
      resourceVersion: "4712"
      uid: 0b6b6b6b-1111-2222-3333-666666666666
    spec:
      containers:
        - image: nginx
          imagePullPolicy: Always
          name: c
          resources: {{requests: {{cpu: 500m, memory: 256Mi}}}}
          terminationMessagePath: /dev/termination-log
          terminationMessagePolicy: File
          volumeMounts: [{{mountPath: /var/run/secrets/kubernetes.io/serviceaccount, name: kube-api-access, readOnly: true}}]
      dnsPolicy: ClusterFirst
      enableServiceLinks: true
      preemptionPolicy: PreemptLowerPriority
      priority: 0
      restartPolicy: Always
      schedulerName: default-scheduler
      securityContext: {{}}
      serviceAccount: default
      serviceAccountName: default
      terminationGracePeriodSeconds: 30
      tolerations:
        - {{effect: NoExecute, key: node.kubernetes.io/not-ready, operator: Exists, tolerationSeconds: 300}}
      volumes:
        - name: kube-api-access
          projected:
            defaultMode: 420
            sources:
              - serviceAccountToken: {{expirationSeconds: 3607, path: token}}
    status:
      conditions:
        - {{lastProbeTime: null, lastTransitionTime: "2026-01-02T03:04:05Z", message: "0/3 nodes are available", reason: Unschedulable, status: "False", type: PodScheduled}}
      phase: Pending
      qosClass: Burstable
"#
    );
    let (_dir, _path, result) = load(&text);
    let loaded = result.unwrap_or_else(|e| panic!("a dump must load: {e}"));
    assert_eq!(loaded.documents, 3);
    assert_eq!(loaded.state.len::<k8s_openapi::api::core::v1::Pod>(), 1);
    assert_eq!(loaded.state.len::<kerf_api::v1::NodePool>(), 1);
}
