//! The chart embedded in the crate is exactly `charts/kerf` (file for file), and render
//! (the real `helm template`, local only) yields the namespace, the chart's objects with the
//! add-on's values, and the default Provisioner.

use std::collections::BTreeMap;
use std::path::{Path, PathBuf};

use kerf_addon::cluster::{self, ChartValues, ClusterSide, chart};
use kerf_addon::requirements::{DefaultProvisioner, RequirementsMap};
use kerf_api::v1alpha5::Provisioner;
use kerf_testenv::Binaries;
use serde::Deserialize;
use serde_json::Value;

fn chart_dir() -> PathBuf {
    Path::new(env!("CARGO_MANIFEST_DIR")).join("../../charts/kerf")
}

fn walk(root: &Path, dir: &Path, out: &mut BTreeMap<String, Vec<u8>>) {
    for entry in std::fs::read_dir(dir).unwrap() {
        let path = entry.unwrap().path();
        if path.is_dir() {
            walk(root, &path, out);
        } else {
            let name = path
                .strip_prefix(root)
                .unwrap()
                .to_str()
                .unwrap()
                .to_string();
            out.insert(name, std::fs::read(&path).unwrap());
        }
    }
}

#[test]
fn the_embedded_chart_is_the_chart_folder() {
    let mut on_disk = BTreeMap::new();
    walk(&chart_dir(), &chart_dir(), &mut on_disk);
    let embedded: BTreeMap<String, Vec<u8>> = chart::files()
        .iter()
        .map(|(name, data)| (name.to_string(), data.to_vec()))
        .collect();
    assert_eq!(
        embedded.keys().collect::<Vec<_>>(),
        on_disk.keys().collect::<Vec<_>>()
    );
    for (name, data) in &on_disk {
        assert!(
            embedded[name] == *data,
            "{name} differs from the embedded copy"
        );
    }
    assert!(embedded.contains_key("crds/karpenter.sh_provisioners.yaml"));

    // Written out, it is the same again.
    let dir = tempfile::tempdir().unwrap();
    let written = chart::write_to(dir.path()).unwrap();
    let mut again = BTreeMap::new();
    walk(&written, &written, &mut again);
    assert_eq!(again, on_disk);
}

fn side() -> ClusterSide {
    let mut side = ClusterSide::new(ChartValues {
        cluster_name: "demo".into(),
        cluster_endpoint: "https://ABC.gr7.us-east-1.eks.amazonaws.com".into(),
        region: "us-east-1".into(),
        controller_role_arn: Some(
            "arn:aws:iam::111122223333:role/KarpenterControllerRole-demo".into(),
        ),
        default_instance_profile: None,
        interruption_queue: Some("demo".into()),
        extra: vec![("logLevel".into(), "debug".into())],
    });
    side.helm = Binaries::locate().unwrap().path("helm").unwrap();
    let map = RequirementsMap::from_flags(["kubernetes.io/arch=amd64,arm64"]).unwrap();
    side.default_provisioner = Some(
        DefaultProvisioner::for_cluster("demo", map)
            .build()
            .unwrap(),
    );
    side
}

fn docs(yaml: &str) -> Vec<Value> {
    serde_yaml::Deserializer::from_str(yaml)
        .map(|d| Value::deserialize(d).unwrap())
        .filter(|v| !v.is_null())
        .collect()
}

fn find<'a>(objects: &'a [Value], kind: &str, name: &str) -> &'a Value {
    objects
        .iter()
        .find(|o| o["kind"] == kind && o["metadata"]["name"] == name)
        .unwrap_or_else(|| panic!("no {kind} {name} rendered"))
}

#[test]
fn render_gives_namespace_chart_and_default_provisioner() {
    let side = side();
    let objects = docs(&cluster::render(&side).unwrap());

    let ns = find(&objects, "Namespace", "karpenter");
    assert_eq!(ns["metadata"]["labels"]["kerf.sh/managed-by"], "kerf-addon");

    let controller = find(&objects, "Deployment", "kerf");
    assert_eq!(controller["metadata"]["namespace"], "karpenter");
    let env: BTreeMap<String, String> =
        controller["spec"]["template"]["spec"]["containers"][0]["env"]
            .as_array()
            .unwrap()
            .iter()
            .filter_map(|e| Some((e["name"].as_str()?.into(), e["value"].as_str()?.into())))
            .collect();
    assert_eq!(env["CLUSTER_NAME"], "demo");
    assert_eq!(
        env["CLUSTER_ENDPOINT"],
        "https://ABC.gr7.us-east-1.eks.amazonaws.com"
    );
    assert_eq!(env["INTERRUPTION_QUEUE"], "demo");
    let sa = find(&objects, "ServiceAccount", "karpenter");
    assert_eq!(
        sa["metadata"]["annotations"]["eks.amazonaws.com/role-arn"],
        "arn:aws:iam::111122223333:role/KarpenterControllerRole-demo"
    );
    assert!(find(&objects, "Deployment", "kerf-webhook").is_object());
    let v = find(
        &objects,
        "ValidatingWebhookConfiguration",
        "validation.webhook.karpenter.sh",
    );
    assert_eq!(
        v["webhooks"][0]["clientConfig"]["service"]["name"],
        "kerf-webhook"
    );

    let rendered = objects
        .iter()
        .find(|o| o["kind"] == "Provisioner")
        .expect("the default Provisioner is rendered");
    let rendered: Provisioner = serde_json::from_value(rendered.clone()).unwrap();
    let mut expected = side.default_provisioner.clone().unwrap();
    expected
        .metadata
        .labels
        .get_or_insert_default()
        .insert("kerf.sh/managed-by".into(), "kerf-addon".into());
    assert_eq!(rendered, expected);
}

#[test]
fn render_without_helm_names_the_binary() {
    let mut side = side();
    side.helm = PathBuf::from("/nonexistent/helm");
    let err = format!("{:#}", cluster::render(&side).unwrap_err());
    assert!(
        err.contains("/nonexistent/helm") && err.contains("helm template"),
        "{err}"
    );
}

#[test]
fn webhook_url_points_both_configurations_outside_the_cluster() {
    let mut side = side();
    side.values
        .extra
        .push(("webhook.url".into(), "https://127.0.0.1:9443/".into()));
    let objects = docs(&cluster::render(&side).unwrap());
    for (kind, name, path) in [
        (
            "ValidatingWebhookConfiguration",
            "validation.webhook.karpenter.sh",
            "validate",
        ),
        (
            "MutatingWebhookConfiguration",
            "defaulting.webhook.karpenter.sh",
            "mutate",
        ),
    ] {
        let cc = &find(&objects, kind, name)["webhooks"][0]["clientConfig"];
        assert_eq!(cc["url"], format!("https://127.0.0.1:9443/{path}"));
        assert!(cc.get("service").is_none(), "{cc}");
    }
}
