//! The API server's checks on what the simulator reads that deserializing
//! cannot make: object names, label and annotation keys, and pod specs
//! (kerf-core's pod compilation, which also refuses negative requests, plus
//! at least one container and known toleration operators and effects). Each
//! check returns a [`FieldError`] (`field.path: message`, in the API
//! server's words) for [`crate::load`] to place.

use k8s_openapi::api::core::v1::Pod;
use kerf_api::validation::names;
use kerf_core::requirements::Requirements;
use serde_json::Value;

/// One field the API server would refuse, worded as it words it.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
pub enum FieldError {
    #[error("{field}: Invalid value: {value:?}: {reason}")]
    Invalid {
        field: String,
        value: String,
        reason: String,
    },
    #[error("{field}: Required value: {reason}")]
    Required { field: String, reason: &'static str },
    #[error(
        "{field}: Unsupported value: {value:?}: supported values: {}",
        quoted(.supported)
    )]
    Unsupported {
        field: String,
        value: String,
        supported: &'static [&'static str],
    },
    /// What kerf-core's pod compilation refused, at its path in the document.
    #[error("{field}: {message}")]
    Pod { field: String, message: String },
}

/// `"a", "b"`, as the API server lists supported values.
fn quoted(values: &[&str]) -> String {
    values
        .iter()
        .map(|v| format!("{v:?}"))
        .collect::<Vec<_>>()
        .join(", ")
}

fn invalid(field: impl Into<String>, value: &str, reason: impl Into<String>) -> FieldError {
    FieldError::Invalid {
        field: field.into(),
        value: value.to_string(),
        reason: reason.into(),
    }
}

/// The name, namespace, label and annotation rules of the API server for the
/// object metadata at `path` (`metadata`, or a template's).
pub fn metadata(kind: &str, object: &Value, path: &str) -> Result<(), FieldError> {
    let pointer = format!("/{}", path.replace('.', "/"));
    let Some(meta) = object.pointer(&pointer) else {
        return Ok(());
    };
    let first = |errs: Vec<String>, field: String, value: &str| match errs.into_iter().next() {
        Some(e) => Err(invalid(field, value, e)),
        None => Ok(()),
    };
    if let Some(name) = meta.get("name").and_then(Value::as_str) {
        let errs = if kind == "Namespace" {
            names::dns1123_label_errors(name)
        } else {
            names::dns1123_subdomain_errors(name)
        };
        first(errs, format!("{path}.name"), name)?;
    }
    if let Some(ns) = meta.get("namespace").and_then(Value::as_str) {
        first(
            names::dns1123_label_errors(ns),
            format!("{path}.namespace"),
            ns,
        )?;
    }
    if let Some(labels) = meta.get("labels").and_then(Value::as_object) {
        label_map(
            labels.iter().map(|(k, v)| (k.as_str(), v.as_str())),
            &format!("{path}.labels"),
        )?;
    }
    if let Some(annotations) = meta.get("annotations").and_then(Value::as_object) {
        for key in annotations.keys() {
            // The API server checks annotation keys lower-cased.
            first(
                names::qualified_name_errors(&key.to_lowercase()),
                format!("{path}.annotations"),
                key,
            )?;
        }
    }
    Ok(())
}

/// Label keys and values at `field` (a map of labels, or a nodeSelector): the
/// first key that is no qualified name, or value that is no label value.
fn label_map<'a>(
    entries: impl Iterator<Item = (&'a str, Option<&'a str>)>,
    field: &str,
) -> Result<(), FieldError> {
    for (key, value) in entries {
        if let Some(e) = names::qualified_name_errors(key).into_iter().next() {
            return Err(invalid(field, key, e));
        }
        if let Some(e) = value.and_then(|v| names::label_value_errors(v).into_iter().next()) {
            let value = value.unwrap_or_default();
            return Err(invalid(format!("{field}[{key}]"), value, e));
        }
    }
    Ok(())
}

/// A pod the API server would refuse, or kerf cannot compile; `spec_path`
/// is where its spec is in the document (`spec`, `spec.template.spec`).
pub fn pod(pod: &Pod, spec_path: &str) -> Result<(), FieldError> {
    let Some(spec) = pod.spec.as_ref() else {
        return Ok(());
    };
    if spec.containers.is_empty() {
        return Err(FieldError::Required {
            field: format!("{spec_path}.containers"),
            reason: "a pod needs at least one container",
        });
    }
    label_map(
        spec.node_selector
            .iter()
            .flatten()
            .map(|(k, v)| (k.as_str(), Some(v.as_str()))),
        &format!("{spec_path}.nodeSelector"),
    )?;
    for (i, t) in spec.tolerations.iter().flatten().enumerate() {
        let field = format!("{spec_path}.tolerations[{i}]");
        let operator = t.operator.as_deref().unwrap_or_default();
        let key = t.key.as_deref().unwrap_or_default();
        match operator {
            "" | "Equal" => {
                if key.is_empty() {
                    return Err(invalid(
                        format!("{field}.operator"),
                        operator,
                        "operator must be Exists when `key` is empty, which means \"match all values and all keys\"",
                    ));
                }
            }
            "Exists" => {
                if t.value.as_deref().is_some_and(|v| !v.is_empty()) {
                    return Err(invalid(
                        format!("{field}.operator"),
                        operator,
                        "value must be empty when `operator` is 'Exists'",
                    ));
                }
            }
            other => {
                return Err(FieldError::Unsupported {
                    field: format!("{field}.operator"),
                    value: other.to_string(),
                    supported: &["Equal", "Exists"],
                });
            }
        }
        if !key.is_empty()
            && let Some(e) = names::qualified_name_errors(key).into_iter().next()
        {
            return Err(invalid(format!("{field}.key"), key, e));
        }
        match t.effect.as_deref().unwrap_or_default() {
            "" | "NoSchedule" | "PreferNoSchedule" | "NoExecute" => {}
            other => {
                return Err(FieldError::Unsupported {
                    field: format!("{field}.effect"),
                    value: other.to_string(),
                    supported: &["NoExecute", "NoSchedule", "PreferNoSchedule"],
                });
            }
        }
    }
    match kerf_core::pod::compile(pod, &Requirements::new()) {
        Ok(_) => Ok(()),
        // Terms that are all empty are valid and match no node: an
        // unschedulable pod, for the report, not bad input.
        Err(e) if e.field.ends_with("nodeSelectorTerms") => Ok(()),
        Err(e) => {
            let rest = e.field.strip_prefix("spec").unwrap_or(&e.field);
            Err(FieldError::Pod {
                field: format!("{spec_path}{rest}"),
                message: e.message,
            })
        }
    }
}
