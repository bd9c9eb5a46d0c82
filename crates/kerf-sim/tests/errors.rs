//! Bad input: each error names the file, the document and the field, and
//! nothing panics.

use std::path::{Path, PathBuf};

use kerf_sim::{SimError, SimulateOptions, simulate};

const PROVISIONER: &str = r#"apiVersion: karpenter.sh/v1alpha5
kind: Provisioner
metadata: {name: default}
spec:
  provider: {instanceProfile: profile}
"#;

async fn run(files: &[(&str, &str)]) -> (tempfile::TempDir, Result<kerf_sim::Report, SimError>) {
    let dir = tempfile::tempdir().unwrap();
    for (name, text) in files {
        std::fs::write(dir.path().join(name), text).unwrap();
    }
    let result = simulate(&SimulateOptions {
        paths: vec![dir.path().to_path_buf()],
        ..Default::default()
    })
    .await;
    (dir, result)
}

async fn error(files: &[(&str, &str)]) -> (PathBuf, SimError) {
    let (dir, result) = run(files).await;
    let err = result.expect_err("bad input must fail");
    (dir.path().to_path_buf(), err)
}

fn assert_mentions(err: &SimError, parts: &[&str]) {
    let text = err.to_string();
    for p in parts {
        assert!(text.contains(p), "{text:?} does not mention {p:?}");
    }
    assert_eq!(err.exit_code(), 2, "{text}");
}

fn file(dir: &Path, name: &str) -> String {
    dir.join(name).display().to_string()
}

#[tokio::test]
async fn malformed_yaml() {
    let text =
        format!("{PROVISIONER}---\napiVersion: v1\nkind: Pod\nmetadata: {{name: [unclosed\n");
    let (dir, err) = error(&[("a.yaml", &text)]).await;
    assert_mentions(
        &err,
        &[&file(&dir, "a.yaml"), "document 2", "malformed YAML"],
    );
}

#[tokio::test]
async fn unknown_kind() {
    let text = format!(
        "{PROVISIONER}---\napiVersion: v1\nkind: ConfigMap\nmetadata: {{name: settings}}\n"
    );
    let (dir, err) = error(&[("a.yaml", &text)]).await;
    assert_mentions(
        &err,
        &[
            &file(&dir, "a.yaml"),
            "document 2",
            "ConfigMap \"settings\"",
            "kind: \"ConfigMap\" is not supported",
        ],
    );
}

#[tokio::test]
async fn wrong_api_version() {
    let text = "apiVersion: karpenter.sh/v1beta2\nkind: NodePool\nmetadata: {name: x}\n";
    let (dir, err) = error(&[("a.yaml", text)]).await;
    assert_mentions(
        &err,
        &[
            &file(&dir, "a.yaml"),
            "document 1",
            "apiVersion: \"karpenter.sh/v1beta2\"",
            "expected \"karpenter.sh/v1\" or \"karpenter.sh/v1beta1\"",
        ],
    );
}

#[tokio::test]
async fn wrong_field_type_names_the_path() {
    let text = r#"apiVersion: apps/v1
kind: Deployment
metadata: {name: web, namespace: default}
spec:
  replicas: ten
  selector: {matchLabels: {app: web}}
  template:
    metadata: {labels: {app: web}}
    spec: {containers: [{name: c, image: nginx}]}
"#;
    let (dir, err) = error(&[("p.yaml", PROVISIONER), ("web.yaml", text)]).await;
    assert_mentions(
        &err,
        &[
            &file(&dir, "web.yaml"),
            "document 1",
            "Deployment \"default/web\"",
            "spec.replicas",
        ],
    );
}

#[tokio::test]
async fn nested_field_path() {
    let text = r#"apiVersion: v1
kind: Pod
metadata: {name: p}
spec:
  containers:
    - name: c
      image: nginx
      resources: {requests: {cpu: [1]}}
"#;
    let (_, err) = error(&[("p.yaml", PROVISIONER), ("pod.yaml", text)]).await;
    assert_mentions(&err, &["spec.containers[0].resources.requests.cpu"]);
}

#[tokio::test]
async fn invalid_provisioner_names_the_field() {
    let text = r#"apiVersion: karpenter.sh/v1alpha5
kind: Provisioner
metadata: {name: default}
spec:
  requirements:
    - {key: karpenter.sh/capacity-type, operator: In, values: [spot]}
    - {key: node.kubernetes.io/instance-type, operator: Gte, values: ["3"]}
  provider: {instanceProfile: profile}
"#;
    let (dir, err) = error(&[("p.yaml", text)]).await;
    assert_mentions(
        &err,
        &[
            &file(&dir, "p.yaml"),
            "document 1",
            "spec.requirements[1].operator",
            "\"Gte\"",
        ],
    );
}

#[tokio::test]
async fn selector_must_match_template() {
    let text = r#"apiVersion: apps/v1
kind: Deployment
metadata: {name: web}
spec:
  selector: {matchLabels: {app: web}}
  template:
    metadata: {labels: {app: other}}
    spec: {containers: [{name: c, image: nginx}]}
"#;
    let (_, err) = error(&[("p.yaml", PROVISIONER), ("web.yaml", text)]).await;
    assert_mentions(&err, &["web.yaml", "spec.selector"]);
}

#[tokio::test]
async fn missing_node_class() {
    let text = r#"apiVersion: karpenter.sh/v1alpha5
kind: Provisioner
metadata: {name: default}
spec:
  providerRef: {name: missing}
"#;
    let (dir, err) = error(&[("p.yaml", text)]).await;
    assert_mentions(
        &err,
        &[
            &file(&dir, "p.yaml"),
            "document 1",
            "Provisioner \"default\"",
            "spec.providerRef.name",
            "AWSNodeTemplate \"missing\" not found",
        ],
    );
}

/// A NodePool whose EC2NodeClass is not in the input: named with its file
/// and document, though the input is read in full before the check.
#[tokio::test]
async fn missing_ec2_node_class_names_the_nodepool_document() {
    let text = r#"apiVersion: v1
kind: Namespace
metadata: {name: team}
---
apiVersion: karpenter.sh/v1
kind: NodePool
metadata: {name: general}
spec:
  template:
    spec:
      nodeClassRef: {group: karpenter.k8s.aws, kind: EC2NodeClass, name: absent}
"#;
    let (dir, err) = error(&[
        ("a.yaml", text),
        (
            "b.yaml",
            "apiVersion: v1\nkind: Namespace\nmetadata: {name: other}\n",
        ),
    ])
    .await;
    assert_mentions(
        &err,
        &[
            &format!(
                "{}: document 2 (NodePool \"general\")",
                file(&dir, "a.yaml")
            ),
            "spec.template.spec.nodeClassRef.name: EC2NodeClass \"absent\" not found",
        ],
    );
}

#[tokio::test]
async fn duplicates_and_missing_names() {
    let text = format!("{PROVISIONER}---\n{PROVISIONER}");
    let (_, err) = error(&[("p.yaml", &text)]).await;
    assert_mentions(&err, &["document 2", "defined twice"]);
    let text = "apiVersion: v1\nkind: Pod\nmetadata: {}\nspec: {containers: [{name: c}]}\n";
    let (_, err) = error(&[("p.yaml", text)]).await;
    assert_mentions(&err, &["document 1", "metadata.name"]);
}

#[tokio::test]
async fn not_an_object_and_no_kind() {
    let (_, err) = error(&[("p.yaml", "- just\n- a list\n")]).await;
    assert_mentions(&err, &["document 1", "expected a Kubernetes object"]);
    let (_, err) = error(&[("p.yaml", "apiVersion: v1\nmetadata: {name: x}\n")]).await;
    assert_mentions(&err, &["document 1", "kind: is required"]);
}

#[tokio::test]
async fn missing_path_and_empty_dir() {
    let err = simulate(&SimulateOptions {
        paths: vec![PathBuf::from("/nonexistent/kerf/manifests")],
        ..Default::default()
    })
    .await
    .unwrap_err();
    assert_mentions(&err, &["/nonexistent/kerf/manifests"]);
    let (dir, result) = run(&[("notes.txt", "hello")]).await;
    assert_mentions(
        &result.unwrap_err(),
        &[&dir.path().display().to_string(), "no .yaml"],
    );
}

#[tokio::test]
async fn json_files_and_lists_load() {
    let list = r#"{"apiVersion": "v1", "kind": "List", "items": [
      {"apiVersion": "v1", "kind": "Pod", "metadata": {"name": "a"},
       "spec": {"containers": [{"name": "c", "image": "x", "resources": {"requests": {"cpu": "1"}}}]}}
    ]}"#;
    let (_, result) = run(&[("p.yaml", PROVISIONER), ("pods.json", list)]).await;
    let report = result.unwrap();
    assert_eq!(report.pods.pending, 1);
    assert_eq!(report.pods.on_new_nodes, 1);
}

/// A ReplicaSet and a Job whose generated pod names used to collide load,
/// every replica a pod of its own.
#[tokio::test]
async fn generated_pod_names_do_not_collide() {
    let text = r#"apiVersion: apps/v1
kind: ReplicaSet
metadata: {name: web-1281, namespace: default}
spec:
  replicas: 617
  selector: {matchLabels: {app: web}}
  template:
    metadata: {labels: {app: web}}
    spec: {containers: [{name: c, image: nginx, resources: {requests: {cpu: 10m}}}]}
---
apiVersion: batch/v1
kind: Job
metadata: {name: web-1281, namespace: default}
spec:
  parallelism: 617
  template:
    spec:
      restartPolicy: Never
      containers: [{name: c, image: nginx, resources: {requests: {cpu: 10m}}}]
"#;
    let dir = tempfile::tempdir().unwrap();
    let path = dir.path().join("web.yaml");
    std::fs::write(&path, text).unwrap();
    let loaded = kerf_sim::load::load_paths(&[path]).expect("distinct names load");
    let pods = loaded.state.len::<k8s_openapi::api::core::v1::Pod>();
    assert_eq!(pods, 2 * 617);
}

fn replica_set(name: &str, replicas: u64) -> String {
    format!(
        r#"apiVersion: apps/v1
kind: ReplicaSet
metadata: {{name: {name}, namespace: default}}
spec:
  replicas: {replicas}
  selector: {{matchLabels: {{app: web}}}}
  template:
    metadata: {{labels: {{app: web}}}}
    spec: {{containers: [{{name: c, image: nginx}}]}}
"#
    )
}

/// 2^31-1 replicas are refused before a pod is built, naming the field and the limit.
#[tokio::test]
async fn replicas_above_the_workload_limit_are_refused() {
    let text = replica_set("huge", i32::MAX as u64);
    let (dir, err) = error(&[("p.yaml", PROVISIONER), ("rs.yaml", &text)]).await;
    assert_mentions(
        &err,
        &[
            &file(&dir, "rs.yaml"),
            "document 1",
            "ReplicaSet \"default/huge\"",
            "spec.replicas: 2147483647 pods",
            "at most 100000",
        ],
    );
}

/// Two workloads each within the limit, together above the total.
#[tokio::test]
async fn pods_above_the_total_limit_are_refused() {
    let text = format!(
        "{}---\n{}",
        replica_set("a", 60_000),
        replica_set("b", 60_000)
    );
    let (dir, err) = error(&[("rs.yaml", &text)]).await;
    assert_mentions(
        &err,
        &[
            &file(&dir, "rs.yaml"),
            "document 2",
            "would hold 120000 pods",
            "at most 100000 pods in total",
        ],
    );
}

/// Deep flow nesting is refused by the pre-scan, before the YAML parser
/// (whose cost grows with the square of the depth) sees it.
#[tokio::test]
async fn deep_flow_nesting_is_refused_early() {
    let depth = 100_000;
    let text = format!(
        "apiVersion: v1\nkind: Namespace\nmetadata: {{name: a}}\n---\napiVersion: v1\nkind: Pod\nmetadata: {{name: p}}\nx: {}{}\n",
        "[".repeat(depth),
        "]".repeat(depth)
    );
    let (dir, err) = error(&[("deep.yaml", &text)]).await;
    assert_mentions(
        &err,
        &[
            &file(&dir, "deep.yaml"),
            "document 2",
            "nested more than 64 deep at line 8 column 68",
        ],
    );
}

/// A UTF-8 byte-order mark before `apiVersion` is not part of the first key.
#[tokio::test]
async fn a_byte_order_mark_is_skipped() {
    let text = format!(
        "\u{feff}{}",
        "apiVersion: v1\nkind: Namespace\nmetadata: {name: team}\n"
    );
    let dir = tempfile::tempdir().unwrap();
    let path = dir.path().join("bom.yaml");
    std::fs::write(&path, text).unwrap();
    let loaded = kerf_sim::load::load_paths(&[path]).expect("a BOM is skipped");
    assert_eq!(loaded.documents, 1);
    assert!(
        loaded
            .state
            .get::<k8s_openapi::api::core::v1::Namespace>("team")
            .is_some()
    );
}

/// kerf refuses reserved capacity rather than ignore it (docs/differences.md).
#[tokio::test]
async fn an_ec2_node_class_selecting_capacity_reservations() {
    let text = r#"apiVersion: karpenter.k8s.aws/v1
kind: EC2NodeClass
metadata: {name: reserved}
spec:
  role: KarpenterNodeRole
  amiSelectorTerms: [{alias: al2023@latest}]
  subnetSelectorTerms: [{tags: {karpenter.sh/discovery: test}}]
  securityGroupSelectorTerms: [{tags: {karpenter.sh/discovery: test}}]
  capacityReservationSelectorTerms: [{id: cr-0123456789abcdef0}]
"#;
    let (dir, err) = error(&[("class.yaml", text)]).await;
    assert_mentions(
        &err,
        &[
            &file(&dir, "class.yaml"),
            "document 1",
            "spec.capacityReservationSelectorTerms",
            "does not launch into capacity reservations",
        ],
    );
}
