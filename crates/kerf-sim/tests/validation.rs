//! What the API server refuses in objects and pods, refused when read with
//! exit code 2, naming the file, the document and the field.

use kerf_sim::load::load_paths;

/// Loads `text` and expects an error naming the file and `parts`.
fn refused(text: &str, parts: &[&str]) {
    let dir = tempfile::tempdir().unwrap();
    let path = dir.path().join("input.yaml");
    std::fs::write(&path, text).unwrap();
    let err = load_paths(std::slice::from_ref(&path)).expect_err(text);
    let message = err.to_string();
    assert_eq!(err.exit_code(), 2, "{message}");
    assert!(
        message.contains(&format!("{}: document ", path.display())),
        "{message:?} does not name the file"
    );
    for p in parts {
        assert!(message.contains(p), "{message:?} does not mention {p:?}");
    }
}

fn pod_with(spec: &str) -> String {
    format!(
        "apiVersion: v1\nkind: Namespace\nmetadata: {{name: ok}}\n---\napiVersion: v1\nkind: Pod\nmetadata: {{name: p, namespace: default}}\nspec:\n{spec}"
    )
}

const CONTAINER: &str = "  containers: [{name: c, image: nginx}]\n";

#[test]
fn negative_overhead_and_requests_are_refused() {
    refused(
        &pod_with(&format!("  overhead: {{cpu: -1}}\n{CONTAINER}")),
        &[
            "document 2",
            "Pod \"default/p\"",
            "spec.overhead[cpu]",
            "must be greater than or equal to 0",
        ],
    );
    refused(
        &pod_with("  containers: [{name: c, resources: {requests: {memory: -1Gi}}}]\n"),
        &[
            "spec.containers[0].resources.requests[memory]",
            "must be greater than or equal to 0",
        ],
    );
    refused(
        r#"apiVersion: apps/v1
kind: Deployment
metadata: {name: web, namespace: default}
spec:
  selector: {matchLabels: {app: web}}
  template:
    metadata: {labels: {app: web}}
    spec: {containers: [{name: c, resources: {limits: {cpu: -500m}}}]}
"#,
        &[
            "Deployment \"default/web\"",
            "spec.template.spec.containers[0].resources.limits[cpu]",
        ],
    );
}

#[test]
fn invalid_pod_fields_are_bad_input_not_unschedulable() {
    refused(
        &pod_with("  containers: [{name: c, resources: {requests: {cpu: 1.5.5}}}]\n"),
        &["document 2", "spec.containers[0].resources[cpu]", "1.5.5"],
    );
    let spread = |extra: &str| {
        pod_with(&format!(
            "  topologySpreadConstraints: [{{topologyKey: topology.kubernetes.io/zone, labelSelector: {{matchLabels: {{a: b}}}}, {extra}}}]\n{CONTAINER}"
        ))
    };
    refused(
        &spread("maxSkew: 0, whenUnsatisfiable: DoNotSchedule"),
        &[
            "spec.topologySpreadConstraints[0]",
            "maxSkew",
            "must be at least 1",
        ],
    );
    refused(
        &spread("maxSkew: 1, whenUnsatisfiable: Maybe"),
        &[
            "spec.topologySpreadConstraints[0]",
            "whenUnsatisfiable",
            "\"Maybe\"",
        ],
    );
    refused(
        &pod_with(&format!(
            "  affinity: {{nodeAffinity: {{requiredDuringSchedulingIgnoredDuringExecution: {{nodeSelectorTerms: [{{matchExpressions: [{{key: cores, operator: Gt, values: [x]}}]}}]}}}}}}\n{CONTAINER}"
        )),
        &[
            "spec.affinity.nodeAffinity.requiredDuringSchedulingIgnoredDuringExecution.nodeSelectorTerms[0]",
            "matchExpressions[0]",
        ],
    );
}

#[test]
fn invalid_names_and_label_keys_are_refused() {
    refused(
        &pod_with(CONTAINER).replace("name: p,", "name: Web_1,"),
        &["metadata.name: Invalid value: \"Web_1\"", "RFC 1123"],
    );
    refused(
        "apiVersion: v1\nkind: Namespace\nmetadata: {name: team.a}\n",
        &["Namespace \"team.a\"", "metadata.name", "RFC 1123 label"],
    );
    refused(
        &pod_with(CONTAINER).replace(
            "namespace: default}",
            "namespace: default, labels: {\"bad key!\": x}}",
        ),
        &["metadata.labels: Invalid value: \"bad key!\""],
    );
    refused(
        &pod_with(CONTAINER).replace(
            "namespace: default}",
            "namespace: default, labels: {app: \"not ok\"}}",
        ),
        &["metadata.labels[app]: Invalid value: \"not ok\""],
    );
    refused(
        r#"apiVersion: karpenter.sh/v1
kind: NodePool
metadata: {name: Default}
spec:
  template:
    spec:
      nodeClassRef: {group: karpenter.k8s.aws, kind: EC2NodeClass, name: default}
"#,
        &["NodePool \"Default\"", "metadata.name"],
    );
    refused(
        r#"apiVersion: apps/v1
kind: Deployment
metadata: {name: web, namespace: default}
spec:
  selector: {matchLabels: {app: web}}
  template:
    metadata: {labels: {app: web, "-x": y}}
    spec: {containers: [{name: c}]}
"#,
        &["spec.template.metadata.labels: Invalid value: \"-x\""],
    );
}

#[test]
fn node_selector_keys_and_values_are_checked() {
    refused(
        &pod_with(&format!("  nodeSelector: {{\"bad key\": x}}\n{CONTAINER}")),
        &["spec.nodeSelector: Invalid value: \"bad key\""],
    );
    refused(
        &pod_with(&format!(
            "  nodeSelector: {{disk: \"fast ssd\"}}\n{CONTAINER}"
        )),
        &["spec.nodeSelector[disk]: Invalid value: \"fast ssd\""],
    );
}

#[test]
fn tolerations_and_containers_are_checked() {
    refused(
        &pod_with(&format!(
            "  tolerations: [{{key: a, operator: Maybe}}]\n{CONTAINER}"
        )),
        &["spec.tolerations[0].operator: Unsupported value: \"Maybe\""],
    );
    refused(
        &pod_with(&format!(
            "  tolerations: [{{key: a, operator: Exists, value: b}}]\n{CONTAINER}"
        )),
        &["spec.tolerations[0].operator", "value must be empty"],
    );
    refused(
        &pod_with(&format!(
            "  tolerations: [{{key: a, effect: Sometimes}}]\n{CONTAINER}"
        )),
        &["spec.tolerations[0].effect: Unsupported value: \"Sometimes\""],
    );
    refused(
        &pod_with("  containers: []\n"),
        &["document 2", "spec.containers: Required value"],
    );
}

#[test]
fn a_key_given_twice_is_refused() {
    refused(
        "apiVersion: v1\nkind: Namespace\nmetadata:\n  name: a\n  labels: {team: x, team: y}\n",
        &[
            "document 1",
            "malformed YAML: metadata.labels: duplicate entry with key \"team\"",
        ],
    );
}

/// Valid tolerations, names and labels (the usual ones) still load.
#[test]
fn valid_objects_still_load() {
    let dir = tempfile::tempdir().unwrap();
    let path = dir.path().join("ok.yaml");
    std::fs::write(
        &path,
        pod_with(&format!(
            "  tolerations: [{{operator: Exists}}, {{key: dedicated, value: gpu, effect: NoSchedule}}, {{key: example.com/x, operator: Exists, effect: NoExecute, tolerationSeconds: 30}}]\n{CONTAINER}"
        ))
        .replace(
            "namespace: default}",
            "namespace: default, labels: {app.kubernetes.io/name: web, tier: \"\"}, annotations: {Example.com/Note: x}}",
        ),
    )
    .unwrap();
    let loaded = load_paths(&[path]).unwrap_or_else(|e| panic!("{e}"));
    assert_eq!(loaded.documents, 2);
}
