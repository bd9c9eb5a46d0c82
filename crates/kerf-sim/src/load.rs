//! Reading manifests: files and directories (every `.yaml`, `.yml` and
//! `.json` file directly inside, sorted by name), multi-document YAML (and
//! `kind: List`), each document checked for a known `apiVersion`/`kind` and
//! deserialized with the failing field's path reported. Workloads are
//! expanded into pods ([`crate::workloads`]) and everything is applied to a
//! [`ClusterState`], whose validation errors are reported with the document.
//! Size limits ([`crate::limits`]) are checked before the work they bound; a
//! leading UTF-8 byte-order mark is skipped.

use std::collections::BTreeMap;
use std::path::{Path, PathBuf};

use k8s_openapi::api::core::v1::Pod;
use kerf_state::{ClusterState, Tracked};
use serde::Deserialize;
use serde::de::DeserializeOwned;
use serde_json::Value;

use crate::error::{Location, SimError};
use crate::limits;
use crate::validate;
use crate::workloads::{self, Expanded};

/// What the input contained, beyond the cluster state it built.
#[derive(Clone, Debug, Default)]
pub struct Loaded {
    pub state: ClusterState,
    /// Files read, in order.
    pub files: Vec<PathBuf>,
    /// Documents read (List items count one each).
    pub documents: usize,
    /// Where each NodePool and Provisioner was read (`Kind/name`), for
    /// errors found once the whole input is in.
    pub pool_documents: BTreeMap<String, Location>,
    /// v1beta1 NodeClaims read, whose `expireAfter` comes from their pool.
    pub v1beta1_claims: Vec<String>,
}

/// The kinds `kerf simulate` reads, with the apiVersions each may have (a
/// kind listed twice has two). v1beta1 objects are converted to v1 as
/// Karpenter v1.0 converts them ([`crate::v1beta1`]).
pub const KINDS: &[(&str, &str)] = &[
    ("Provisioner", "karpenter.sh/v1alpha5"),
    ("AWSNodeTemplate", "karpenter.k8s.aws/v1alpha1"),
    ("NodePool", "karpenter.sh/v1"),
    ("NodePool", "karpenter.sh/v1beta1"),
    ("EC2NodeClass", "karpenter.k8s.aws/v1"),
    ("EC2NodeClass", "karpenter.k8s.aws/v1beta1"),
    ("NodeClaim", "karpenter.sh/v1"),
    ("NodeClaim", "karpenter.sh/v1beta1"),
    ("Deployment", "apps/v1"),
    ("ReplicaSet", "apps/v1"),
    ("StatefulSet", "apps/v1"),
    ("DaemonSet", "apps/v1"),
    ("Job", "batch/v1"),
    ("Pod", "v1"),
    ("Node", "v1"),
    ("PersistentVolumeClaim", "v1"),
    ("PersistentVolume", "v1"),
    ("Namespace", "v1"),
    ("StorageClass", "storage.k8s.io/v1"),
    ("PodDisruptionBudget", "policy/v1"),
];

/// The files a list of paths names: files as given, directories expanded.
pub fn collect_files(paths: &[PathBuf]) -> Result<Vec<PathBuf>, SimError> {
    let mut out = Vec::new();
    for path in paths {
        let meta = std::fs::metadata(path).map_err(|e| SimError::Path {
            path: path.clone(),
            message: e.to_string(),
        })?;
        if !meta.is_dir() {
            out.push(path.clone());
            continue;
        }
        let entries = std::fs::read_dir(path).map_err(|e| SimError::Path {
            path: path.clone(),
            message: e.to_string(),
        })?;
        let mut found = Vec::new();
        for entry in entries {
            let entry = entry.map_err(|e| SimError::Path {
                path: path.clone(),
                message: e.to_string(),
            })?;
            let p = entry.path();
            let manifest = p
                .extension()
                .and_then(|e| e.to_str())
                .is_some_and(|e| matches!(e, "yaml" | "yml" | "json"));
            if manifest && p.is_file() {
                found.push(p);
            }
        }
        if found.is_empty() {
            return Err(SimError::Path {
                path: path.clone(),
                message: "directory has no .yaml, .yml or .json files".to_string(),
            });
        }
        found.sort();
        out.extend(found);
    }
    Ok(out)
}

/// Loads every manifest under `paths` into a cluster state.
pub fn load_paths(paths: &[PathBuf]) -> Result<Loaded, SimError> {
    let mut loaded = Loaded::default();
    for file in collect_files(paths)? {
        let size = std::fs::metadata(&file).map(|m| m.len()).unwrap_or(0);
        if size > limits::MAX_FILE_BYTES {
            return Err(SimError::Path {
                path: file,
                message: format!(
                    "file is {size} bytes; kerf simulate reads files of at most {} bytes (64 MiB)",
                    limits::MAX_FILE_BYTES
                ),
            });
        }
        let text = std::fs::read_to_string(&file).map_err(|e| SimError::Path {
            path: file.clone(),
            message: e.to_string(),
        })?;
        load_text(&mut loaded, &file, &text)?;
        loaded.files.push(file);
    }
    crate::v1beta1::finish(&mut loaded)?;
    check_class_refs(&loaded)?;
    Ok(loaded)
}

/// Every pool's node class is in the input: a missing one is named with the
/// pool's document and reference field.
pub fn check_class_refs(loaded: &Loaded) -> Result<(), SimError> {
    let state = &loaded.state;
    let missing = |kind: &str, name: &str, field: &str, message: String| {
        let at = loaded
            .pool_documents
            .get(&format!("{kind}/{name}"))
            .cloned();
        match at {
            Some(at) => SimError::Input {
                at,
                message: format!("{field}: {message} in the input"),
            },
            None => SimError::Inconsistent(format!("{kind} {name:?}: {field}: {message}")),
        }
    };
    for (name, pool) in state.objects::<kerf_api::v1::NodePool>() {
        let class = &pool.spec.template.spec.node_class_ref;
        if state
            .get::<kerf_api::v1::EC2NodeClass>(&class.name)
            .is_none()
        {
            return Err(missing(
                "NodePool",
                name,
                "spec.template.spec.nodeClassRef.name",
                format!("{} {:?} not found", class.kind, class.name),
            ));
        }
    }
    for (name, p) in state.objects::<kerf_api::v1alpha5::Provisioner>() {
        if let Some(r) = &p.spec.provider_ref
            && state
                .get::<kerf_api::v1alpha1::AWSNodeTemplate>(&r.name)
                .is_none()
        {
            return Err(missing(
                "Provisioner",
                name,
                "spec.providerRef.name",
                format!("AWSNodeTemplate {:?} not found", r.name),
            ));
        }
    }
    Ok(())
}

/// Loads the documents of one file's text (`file` names it in errors).
pub fn load_text(loaded: &mut Loaded, file: &Path, text: &str) -> Result<(), SimError> {
    // A byte-order mark is not content (kubectl reads such files too).
    let text = text.strip_prefix('\u{feff}').unwrap_or(text);
    if let Err(deep) = limits::check_flow_depth(text) {
        return Err(SimError::Input {
            at: Location {
                file: file.to_path_buf(),
                document: deep.document,
                item: None,
                object: None,
            },
            message: deep.message(),
        });
    }
    for (i, doc) in serde_yaml::Deserializer::from_str(text).enumerate() {
        let at = Location {
            file: file.to_path_buf(),
            document: i + 1,
            item: None,
            object: None,
        };
        // Through serde_yaml's own Value, which refuses a key given twice in
        // a mapping (as the API server's decoder does); serde_json's would
        // keep the last silently.
        // (Its errors name the mapping's path.)
        let yaml = serde_yaml::Value::deserialize(doc).map_err(|e| SimError::Input {
            at: at.clone(),
            message: format!("malformed YAML: {e}"),
        })?;
        let value = serde_json::to_value(yaml).map_err(|e| SimError::Input {
            at: at.clone(),
            message: format!("malformed YAML: {e}"),
        })?;
        if value.is_null() {
            continue; // an empty document, e.g. after a trailing `---`
        }
        load_value(loaded, at, value)?;
    }
    Ok(())
}

fn describe(value: &Value) -> Option<String> {
    let kind = value.get("kind")?.as_str()?;
    let meta = value.get("metadata");
    let name = meta.and_then(|m| m.get("name")).and_then(Value::as_str);
    let ns = meta
        .and_then(|m| m.get("namespace"))
        .and_then(Value::as_str);
    Some(match (ns, name) {
        (Some(ns), Some(n)) => format!("{kind} \"{ns}/{n}\""),
        (None, Some(n)) => format!("{kind} {n:?}"),
        _ => kind.to_string(),
    })
}

fn load_value(loaded: &mut Loaded, mut at: Location, value: Value) -> Result<(), SimError> {
    let fail = |at: &Location, message: String| SimError::Input {
        at: at.clone(),
        message,
    };
    if !value.is_object() {
        return Err(fail(
            &at,
            "expected a Kubernetes object (a mapping)".to_string(),
        ));
    }
    at.object = describe(&value);
    let kind = match value.get("kind") {
        Some(Value::String(k)) => k.clone(),
        Some(_) => return Err(fail(&at, "kind: must be a string".to_string())),
        None => return Err(fail(&at, "kind: is required".to_string())),
    };
    let api_version = match value.get("apiVersion") {
        Some(Value::String(v)) => v.clone(),
        Some(_) => return Err(fail(&at, "apiVersion: must be a string".to_string())),
        None => return Err(fail(&at, "apiVersion: is required".to_string())),
    };
    if kind == "List" {
        let items = match value.get("items") {
            Some(Value::Array(items)) => items.clone(),
            _ => return Err(fail(&at, "items: a List needs an items array".to_string())),
        };
        if let Some((outer, index)) = &at.item {
            return Err(fail(
                &at,
                format!("items[{index}]: a {outer} inside a List is not supported"),
            ));
        }
        for (index, item) in items.into_iter().enumerate() {
            let item_at = Location {
                item: Some((kind.clone(), index)),
                object: None,
                ..at.clone()
            };
            load_value(loaded, item_at, item)?;
        }
        return Ok(());
    }
    let versions: Vec<&str> = KINDS
        .iter()
        .filter(|(k, _)| *k == kind)
        .map(|(_, v)| *v)
        .collect();
    if versions.is_empty() {
        let mut known: Vec<&str> = KINDS.iter().map(|(k, _)| *k).collect();
        known.dedup();
        return Err(fail(
            &at,
            format!(
                "kind: {kind:?} is not supported; kerf simulate reads {}",
                known.join(", ")
            ),
        ));
    }
    if !versions.contains(&api_version.as_str()) {
        let expected: Vec<String> = versions.iter().map(|v| format!("{v:?}")).collect();
        return Err(fail(
            &at,
            format!(
                "apiVersion: {api_version:?} is not supported for {kind}; expected {}",
                expected.join(" or ")
            ),
        ));
    }
    loaded.documents += 1;
    if matches!(kind.as_str(), "NodePool" | "Provisioner")
        && let Some(name) = value.pointer("/metadata/name").and_then(Value::as_str)
    {
        loaded
            .pool_documents
            .insert(format!("{kind}/{name}"), at.clone());
    }
    validate::metadata(&kind, &value, "metadata").map_err(|e| fail(&at, e.to_string()))?;
    let workload = matches!(
        kind.as_str(),
        "Deployment" | "ReplicaSet" | "StatefulSet" | "Job" | "DaemonSet"
    );
    if workload {
        validate::metadata("Pod", &value, "spec.template.metadata")
            .map_err(|e| fail(&at, e.to_string()))?;
    }
    let state = &mut loaded.state;
    if api_version.ends_with("/v1beta1") {
        return crate::v1beta1::apply(loaded, &at, &kind, value);
    }
    match kind.as_str() {
        "Provisioner" => apply::<kerf_api::v1alpha5::Provisioner>(state, &at, value),
        "AWSNodeTemplate" => apply::<kerf_api::v1alpha1::AWSNodeTemplate>(state, &at, value),
        "NodePool" => apply::<kerf_api::v1::NodePool>(state, &at, value),
        "EC2NodeClass" => {
            let class: kerf_api::v1::EC2NodeClass = parse(&at, value)?;
            if !class.spec.capacity_reservation_selector_terms.is_empty() {
                return Err(fail(
                    &at,
                    format!(
                        "spec.capacityReservationSelectorTerms: {}",
                        kerf_state::pools::RESERVED_CAPACITY_REFUSED
                    ),
                ));
            }
            put(state, &at, class)
        }
        "NodeClaim" => apply::<kerf_api::v1::NodeClaim>(state, &at, value),
        "Pod" => {
            room_for_pods(state, &at, 1)?;
            let pod: Pod = parse(&at, value)?;
            validate::pod(&pod, "spec").map_err(|e| fail(&at, e.to_string()))?;
            put(state, &at, pod)
        }
        "Node" => apply::<k8s_openapi::api::core::v1::Node>(state, &at, value),
        "PersistentVolumeClaim" => {
            apply::<k8s_openapi::api::core::v1::PersistentVolumeClaim>(state, &at, value)
        }
        "PersistentVolume" => {
            apply::<k8s_openapi::api::core::v1::PersistentVolume>(state, &at, value)
        }
        "Namespace" => apply::<k8s_openapi::api::core::v1::Namespace>(state, &at, value),
        "StorageClass" => apply::<k8s_openapi::api::storage::v1::StorageClass>(state, &at, value),
        "PodDisruptionBudget" => {
            apply::<k8s_openapi::api::policy::v1::PodDisruptionBudget>(state, &at, value)
        }
        "DaemonSet" => {
            let ds: k8s_openapi::api::apps::v1::DaemonSet = parse(&at, value)?;
            if let Some(template) = ds.spec.as_ref().map(|s| &s.template) {
                let pod = Pod {
                    metadata: template.metadata.clone().unwrap_or_default(),
                    spec: template.spec.clone(),
                    status: None,
                };
                validate::pod(&pod, "spec.template.spec").map_err(|e| fail(&at, e.to_string()))?;
            }
            put(state, &at, ds)
        }
        "Deployment" => expand(state, &at, workloads::deployment(&parse(&at, value)?)),
        "ReplicaSet" => expand(state, &at, workloads::replica_set(&parse(&at, value)?)),
        "StatefulSet" => expand(state, &at, workloads::stateful_set(&parse(&at, value)?)),
        "Job" => expand(state, &at, workloads::job(&parse(&at, value)?)),
        other => Err(fail(&at, format!("kind: {other:?} is not supported"))),
    }
}

/// Deserializes a document, naming the field that does not fit. A field the
/// type does not have is refused, as the API server's strict field
/// validation (kubectl's default) refuses it: a misspelt `requirements:`
/// would otherwise widen a pool without a word.
pub fn parse<T: DeserializeOwned>(at: &Location, value: Value) -> Result<T, SimError> {
    let mut unknown: Option<String> = None;
    let mut note = |path: serde_ignored::Path<'_>| {
        let path = field_path(&path);
        // kube-derive's types skip these; the loader has checked them.
        let checked = path == "apiVersion" || path == "kind";
        // Status is the controllers' (a `kubectl get -o yaml` dump's), not
        // input: the API server does not take it on create either.
        let status = path == "status" || path.starts_with("status.");
        if !checked && !status {
            unknown.get_or_insert(path);
        }
    };
    let ignored = serde_ignored::Deserializer::new(value, &mut note);
    let parsed = serde_path_to_error::deserialize(ignored).map_err(|e| {
        let path = e.path().to_string();
        SimError::Input {
            at: at.clone(),
            message: format!("{path}: {}", e.into_inner()),
        }
    })?;
    match unknown {
        Some(path) => Err(SimError::Input {
            at: at.clone(),
            message: format!(
                "{path}: unknown field (the API server's strict field validation refuses it)"
            ),
        }),
        None => Ok(parsed),
    }
}

/// `spec.containers[0].name`, as serde_path_to_error writes paths.
fn field_path(path: &serde_ignored::Path<'_>) -> String {
    use serde_ignored::Path;
    match path {
        Path::Root => String::new(),
        Path::Seq { parent, index } => format!("{}[{index}]", field_path(parent)),
        Path::Map { parent, key } => {
            let parent = field_path(parent);
            if parent.is_empty() {
                key.clone()
            } else {
                format!("{parent}.{key}")
            }
        }
        Path::Some { parent }
        | Path::NewtypeStruct { parent }
        | Path::NewtypeVariant { parent } => field_path(parent),
    }
}

fn apply<T: Tracked + DeserializeOwned>(
    state: &mut ClusterState,
    at: &Location,
    value: Value,
) -> Result<(), SimError> {
    let obj: T = parse(at, value)?;
    put(state, at, obj)
}

pub(crate) fn put<T: Tracked>(
    state: &mut ClusterState,
    at: &Location,
    obj: T,
) -> Result<(), SimError> {
    let key = obj.state_key().map_err(|e| invalid(at, e))?;
    if state.get::<T>(&key).is_some() {
        return Err(SimError::Input {
            at: at.clone(),
            message: format!("metadata.name: {} {key:?} is defined twice", T::KIND),
        });
    }
    state.apply(obj).map(|_| ()).map_err(|e| invalid(at, e))
}

pub(crate) fn invalid(at: &Location, e: kerf_state::StateError) -> SimError {
    SimError::Input {
        at: at.clone(),
        message: e.to_string(),
    }
}

/// Refuses input that would hold more than [`limits::MAX_PODS`] pods.
fn room_for_pods(state: &ClusterState, at: &Location, adding: usize) -> Result<(), SimError> {
    let total = state.len::<Pod>() + adding;
    if total > limits::MAX_PODS {
        return Err(SimError::Input {
            at: at.clone(),
            message: format!(
                "the input would hold {total} pods; kerf simulate reads at most {} pods in total",
                limits::MAX_PODS
            ),
        });
    }
    Ok(())
}

fn expand(
    state: &mut ClusterState,
    at: &Location,
    expanded: Result<Expanded, workloads::WorkloadError>,
) -> Result<(), SimError> {
    let expanded = expanded.map_err(|e| SimError::Input {
        at: at.clone(),
        message: e.to_string(),
    })?;
    room_for_pods(state, at, expanded.pods.len())?;
    // Every pod has the workload's template: checking one checks them all.
    if let Some(pod) = expanded.pods.first() {
        validate::pod(pod, "spec.template.spec").map_err(|e| SimError::Input {
            at: at.clone(),
            message: e.to_string(),
        })?;
    }
    for pvc in expanded.claims {
        put(state, at, pvc)?;
    }
    let mut next_draw = expanded.pods.len();
    for mut pod in expanded.pods {
        if let Some(names) = &expanded.names {
            // Another object has the drawn name: draw again, as the
            // controller does after a conflict. Draws past the replica
            // count are distinct from the workload's own names.
            while pod
                .state_key()
                .is_ok_and(|key| state.get::<Pod>(&key).is_some())
            {
                pod.metadata.name = Some(names.name(next_draw));
                next_draw += 1;
            }
        }
        put(state, at, pod)?;
    }
    Ok(())
}
