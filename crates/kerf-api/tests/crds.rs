//! The generated CRDs: committed copies are current, schemas are structural,
//! and names, scope, subresources and printer columns match Karpenter's.
//!
//! `KERF_UPDATE_CRDS=1 cargo test -p kerf-api --test crds` rewrites the
//! committed files instead of failing.

use std::path::PathBuf;

use k8s_openapi::apiextensions_apiserver::pkg::apis::apiextensions::v1::CustomResourceDefinition;
use kerf_api::crds;
use serde_json::Value;

fn crd_dir() -> PathBuf {
    PathBuf::from(env!("CARGO_MANIFEST_DIR")).join("crds")
}

#[test]
fn committed_crds_are_current() {
    let files = crds::files().expect("CRDs serialize");
    let update = std::env::var_os("KERF_UPDATE_CRDS").is_some_and(|v| v == "1");
    let mut stale = Vec::new();
    for (name, yaml) in &files {
        let path = crd_dir().join(name);
        if update {
            std::fs::create_dir_all(crd_dir()).expect("create crds dir");
            std::fs::write(&path, yaml).expect("write CRD");
            continue;
        }
        match std::fs::read_to_string(&path) {
            Ok(committed) if &committed == yaml => {}
            _ => stale.push(name.clone()),
        }
    }
    assert!(
        stale.is_empty(),
        "CRDs out of date: {stale:?}; run `cargo run -p kerf-api --example gen-crds` (or KERF_UPDATE_CRDS=1 cargo test -p kerf-api --test crds)"
    );
    // No stray files either.
    let mut on_disk: Vec<String> = std::fs::read_dir(crd_dir())
        .expect("crds dir")
        .filter_map(|e| e.ok())
        .map(|e| e.file_name().to_string_lossy().into_owned())
        .collect();
    on_disk.sort();
    let mut expected: Vec<String> = files.iter().map(|(n, _)| n.clone()).collect();
    expected.sort();
    assert_eq!(on_disk, expected);
}

#[test]
fn committed_files_parse_back_to_the_same_crds() {
    for crd in crds::all() {
        let path = crd_dir().join(crds::file_name(&crd));
        let text = std::fs::read_to_string(&path).expect("committed CRD");
        let parsed: CustomResourceDefinition = serde_yaml::from_str(&text).expect("valid CRD YAML");
        assert_eq!(parsed, crd, "{}", path.display());
    }
    let stream = crds::to_yaml().expect("yaml");
    assert_eq!(stream.matches("\n---\n").count() + 1, crds::all().len());
}

fn schema(crd: &CustomResourceDefinition) -> Value {
    let v = &crd.spec.versions[0];
    let s = v
        .schema
        .as_ref()
        .and_then(|s| s.open_api_v3_schema.as_ref())
        .expect("schema");
    serde_json::to_value(s).expect("schema json")
}

/// Kubernetes' structural-schema rules (the subset a derive can get wrong):
/// every node has a single `type` unless it is int-or-string or keeps unknown
/// fields; objects declare properties or additionalProperties; arrays declare
/// items; no `$ref`/definitions; logical junctors carry no types.
fn check_structural(path: &str, s: &Value, problems: &mut Vec<String>) {
    let Some(obj) = s.as_object() else {
        problems.push(format!("{path}: not an object"));
        return;
    };
    for banned in [
        "$ref",
        "definitions",
        "$defs",
        "$schema",
        "oneOf",
        "allOf",
        "not",
    ] {
        if obj.contains_key(banned) {
            problems.push(format!("{path}: has {banned}"));
        }
    }
    let int_or_string = obj.get("x-kubernetes-int-or-string") == Some(&Value::Bool(true));
    let preserve = obj.get("x-kubernetes-preserve-unknown-fields") == Some(&Value::Bool(true));
    match obj.get("type") {
        Some(Value::String(t)) => {
            if int_or_string {
                problems.push(format!("{path}: int-or-string with type {t}"));
            }
            if t == "array" && !obj.contains_key("items") {
                problems.push(format!("{path}: array without items"));
            }
            if t == "object"
                && !obj.contains_key("properties")
                && !obj.contains_key("additionalProperties")
                && !preserve
            {
                problems.push(format!("{path}: object without properties"));
            }
        }
        Some(other) => problems.push(format!("{path}: type is not a single string: {other}")),
        None if int_or_string || preserve => {}
        None => problems.push(format!("{path}: no type")),
    }
    if let Some(any_of) = obj.get("anyOf") {
        problems.push(format!("{path}: anyOf {any_of}"));
    }
    if let Some(props) = obj.get("properties").and_then(Value::as_object) {
        for (k, v) in props {
            check_structural(&format!("{path}.{k}"), v, problems);
        }
    }
    if let Some(items) = obj.get("items") {
        check_structural(&format!("{path}[]"), items, problems);
    }
    match obj.get("additionalProperties") {
        Some(Value::Bool(false)) | None => {}
        Some(Value::Bool(true)) => problems.push(format!("{path}: additionalProperties: true")),
        Some(v) => check_structural(&format!("{path}{{}}"), v, problems),
    }
}

#[test]
fn schemas_are_structural() {
    for crd in crds::all() {
        let mut problems = Vec::new();
        check_structural(&crd.spec.names.kind, &schema(&crd), &mut problems);
        assert!(
            problems.is_empty(),
            "{}: {problems:#?}",
            crd.spec.names.kind
        );
    }
}

#[test]
fn names_scope_and_subresources() {
    let want = [
        ("provisioners.karpenter.sh", "Provisioner", "v1alpha5", None),
        (
            "awsnodetemplates.karpenter.k8s.aws",
            "AWSNodeTemplate",
            "v1alpha1",
            None,
        ),
        (
            "nodepools.karpenter.sh",
            "NodePool",
            "v1",
            Some((".spec.replicas", ".status.nodes")),
        ),
        ("nodeclaims.karpenter.sh", "NodeClaim", "v1", None),
        (
            "ec2nodeclasses.karpenter.k8s.aws",
            "EC2NodeClass",
            "v1",
            None,
        ),
    ];
    let all = crds::all();
    assert_eq!(all.len(), want.len());
    for (crd, (name, kind, version, scale)) in all.iter().zip(want) {
        assert_eq!(crd.metadata.name.as_deref(), Some(name));
        assert_eq!(crd.spec.names.kind, kind);
        assert_eq!(crd.spec.scope, "Cluster", "{kind} is cluster-scoped");
        assert_eq!(
            crd.spec.names.categories.as_deref(),
            Some(&["karpenter".to_string()][..])
        );
        let v = &crd.spec.versions[0];
        assert_eq!(v.name, version);
        assert!(v.served && v.storage);
        let sub = v.subresources.as_ref().expect("subresources");
        assert!(sub.status.is_some(), "{kind} has a status subresource");
        let got_scale = sub.scale.as_ref().map(|s| {
            (
                s.spec_replicas_path.as_str(),
                s.status_replicas_path.as_str(),
            )
        });
        assert_eq!(got_scale, scale, "{kind} scale");
    }
    let ec2 = &all[4];
    assert_eq!(
        ec2.spec.names.short_names.as_deref(),
        Some(&["ec2nc".to_string(), "ec2ncs".to_string()][..])
    );
}

#[test]
fn printer_columns_match_karpenter() {
    let columns = |kind: &str| -> Vec<(String, String)> {
        let crd = crds::all()
            .into_iter()
            .find(|c| c.spec.names.kind == kind)
            .expect("crd");
        crd.spec.versions[0]
            .additional_printer_columns
            .clone()
            .unwrap_or_default()
            .into_iter()
            .map(|c| (c.name, c.json_path))
            .collect()
    };
    let names = |kind: &str| {
        columns(kind)
            .into_iter()
            .map(|(n, _)| n)
            .collect::<Vec<_>>()
    };
    assert_eq!(
        columns("Provisioner")[0],
        ("Template".to_string(), ".spec.providerRef.name".to_string())
    );
    assert_eq!(
        names("NodePool"),
        [
            "NodeClass",
            "Nodes",
            "Ready",
            "Age",
            "Weight",
            "CPU",
            "Memory"
        ]
    );
    assert_eq!(
        names("NodeClaim"),
        [
            "Type",
            "Capacity",
            "Zone",
            "Node",
            "Ready",
            "Age",
            "ID",
            "NodePool",
            "NodeClass"
        ]
    );
    assert_eq!(names("EC2NodeClass"), ["Ready", "Age", "Role"]);
}

fn at<'a>(s: &'a Value, path: &[&str]) -> &'a Value {
    path.iter().fold(s, |v, k| &v[*k])
}

#[test]
fn schema_bounds_defaults_and_cel_rules() {
    let all = crds::all();
    let prov = schema(&all[0]);
    let spec = at(&prov, &["properties", "spec"]);
    let weight = at(spec, &["properties", "weight"]);
    assert_eq!(weight["minimum"].as_f64(), Some(1.0));
    assert_eq!(weight["maximum"].as_f64(), Some(100.0));
    assert_eq!(
        at(spec, &["properties", "ttlSecondsAfterEmpty", "minimum"]).as_f64(),
        Some(0.0)
    );
    let rules = spec["x-kubernetes-validations"].to_string();
    assert!(
        rules.contains("ttlSecondsAfterEmpty") && rules.contains("consolidation.enabled"),
        "{rules}"
    );
    assert_eq!(
        at(
            spec,
            &[
                "properties",
                "provider",
                "x-kubernetes-preserve-unknown-fields"
            ]
        ),
        &Value::Bool(true)
    );

    let pool = schema(&all[2]);
    let spec = at(&pool, &["properties", "spec", "properties"]);
    assert_eq!(at(spec, &["weight", "maximum"]).as_f64(), Some(100.0));
    assert_eq!(
        at(spec, &["disruption", "default", "consolidateAfter"]),
        "0s"
    );
    assert_eq!(
        at(
            spec,
            &["disruption", "properties", "consolidationPolicy", "default"]
        ),
        "WhenEmptyOrUnderutilized"
    );
    assert_eq!(
        at(spec, &["disruption", "properties", "budgets", "default"])[0]["nodes"],
        "10%"
    );
    assert_eq!(
        at(
            spec,
            &[
                "template",
                "properties",
                "spec",
                "properties",
                "expireAfter",
                "default"
            ]
        ),
        "720h"
    );
    let reqs = at(
        spec,
        &[
            "template",
            "properties",
            "spec",
            "properties",
            "requirements",
        ],
    );
    assert_eq!(reqs["maxItems"].as_u64(), Some(100));
    assert!(
        reqs["x-kubernetes-validations"]
            .to_string()
            .contains("minValues")
    );
    assert_eq!(
        at(reqs, &["items", "properties", "minValues", "maximum"]).as_f64(),
        Some(50.0)
    );

    let ec2 = schema(&all[4]);
    let spec = at(&ec2, &["properties", "spec"]);
    assert!(
        spec["x-kubernetes-validations"]
            .to_string()
            .contains("instanceProfile")
    );
    assert_eq!(
        at(spec, &["properties", "amiSelectorTerms", "minItems"]).as_u64(),
        Some(1)
    );
    assert_eq!(
        at(
            spec,
            &["properties", "metadataOptions", "default", "httpTokens"]
        ),
        "required"
    );
}
