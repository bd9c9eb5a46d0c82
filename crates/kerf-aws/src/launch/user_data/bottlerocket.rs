//! Bottlerocket user data: one TOML document of `settings`. The user's TOML
//! is read, kerf writes the settings it owns over it, and one document is
//! written back; prepending kerf's TOML to the user's would repeat
//! `[settings.kubernetes]`, which is invalid TOML.
//!
//! The rules are Karpenter's, so a node class behaves the same under both:
//! - kerf always sets `cluster-name`, `api-server` and `cluster-certificate`;
//!   `cluster-dns-ip` and `max-pods` when it knows them (else the user's stay);
//! - `node-labels` are the user's with kerf's added over them;
//! - `node-taints` are kerf's only (the claim's taints are the node's taints);
//! - under `settings.kubernetes` only the keys Karpenter knows are kept, each
//!   of the type it expects (else the user data is refused); unknown keys are
//!   dropped with a warning;
//! - every other `settings.*` table is kept as the user wrote it, and keys
//!   outside `settings` are dropped with a warning.

use std::collections::BTreeMap;

use toml::{Table, Value};

use super::{ClusterInfo, NodeBootstrap, UserDataError, split_taint};

/// The TOML type a known `settings.kubernetes` key must have.
#[derive(Clone, Copy, Debug)]
enum Shape {
    Str,
    Int,
    Bool,
    /// A table of strings.
    StrMap,
    /// An array of strings.
    StrList,
    /// A table of arrays of strings (`node-taints`).
    StrListMap,
    /// A table of anything (structured settings Bottlerocket checks itself).
    Table,
}

/// The `settings.kubernetes` keys Karpenter models (its
/// `BottlerocketKubernetes`), with their types.
const KNOWN: &[(&str, Shape)] = &[
    ("api-server", Shape::Str),
    ("cloud-provider", Shape::Str),
    ("cluster-certificate", Shape::Str),
    ("cluster-name", Shape::Str),
    ("cluster-dns-ip", Shape::Str),
    ("credential-providers", Shape::Table),
    ("node-labels", Shape::StrMap),
    ("node-taints", Shape::StrListMap),
    ("max-pods", Shape::Int),
    ("static-pods", Shape::Table),
    ("eviction-hard", Shape::StrMap),
    ("eviction-soft", Shape::StrMap),
    ("eviction-soft-grace-period", Shape::StrMap),
    ("eviction-max-pod-grace-period", Shape::Int),
    ("kube-reserved", Shape::StrMap),
    ("system-reserved", Shape::StrMap),
    ("allowed-unsafe-sysctls", Shape::StrList),
    ("server-tls-bootstrap", Shape::Bool),
    ("registry-qps", Shape::Int),
    ("registry-burst", Shape::Int),
    ("event-qps", Shape::Int),
    ("event-burst", Shape::Int),
    ("kube-api-qps", Shape::Int),
    ("kube-api-burst", Shape::Int),
    ("container-log-max-size", Shape::Str),
    ("container-log-max-files", Shape::Int),
    ("cpu-manager-policy", Shape::Str),
    ("cpu-manager-policy-options", Shape::StrList),
    ("cpu-manager-reconcile-period", Shape::Str),
    ("memory-manager-policy", Shape::Str),
    ("memory-manager-reserved-memory", Shape::Table),
    ("topology-manager-scope", Shape::Str),
    ("topology-manager-policy", Shape::Str),
    ("topology-manager-policy-options", Shape::Table),
    ("image-gc-high-threshold-percent", Shape::Str),
    ("image-gc-low-threshold-percent", Shape::Str),
    ("ids-per-pod", Shape::Int),
    ("cpu-cfs-quota-enforced", Shape::Bool),
    ("shutdown-grace-period", Shape::Str),
    ("shutdown-grace-period-for-critical-pods", Shape::Str),
    ("cluster-domain", Shape::Str),
    ("seccomp-default", Shape::Bool),
    ("pod-pids-limit", Shape::Int),
    ("device-ownership-from-security-context", Shape::Bool),
    ("single-process-oom-kill", Shape::Bool),
    ("container-log-max-workers", Shape::Int),
    ("container-log-monitor-interval", Shape::Str),
    ("hostname-override-source", Shape::Str),
    ("log-level", Shape::Int),
];

fn is_str(v: &Value) -> bool {
    v.is_str()
}

fn is_str_list(v: &Value) -> bool {
    v.as_array().is_some_and(|a| a.iter().all(is_str))
}

impl Shape {
    fn fits(self, v: &Value) -> bool {
        match self {
            Shape::Str => v.is_str(),
            Shape::Int => v.is_integer(),
            Shape::Bool => v.is_bool(),
            Shape::StrMap => v.as_table().is_some_and(|t| t.values().all(is_str)),
            Shape::StrList => is_str_list(v),
            Shape::StrListMap => v.as_table().is_some_and(|t| t.values().all(is_str_list)),
            Shape::Table => v.is_table(),
        }
    }

    fn describe(self) -> &'static str {
        match self {
            Shape::Str => "a string",
            Shape::Int => "an integer",
            Shape::Bool => "a boolean",
            Shape::StrMap => "a table of strings",
            Shape::StrList => "an array of strings",
            Shape::StrListMap => "a table of arrays of strings",
            Shape::Table => "a table",
        }
    }
}

/// The user's table at `key` of `parent`, taken out (empty if absent).
fn take_table(parent: &mut Table, key: &str, path: &str) -> Result<Table, UserDataError> {
    match parent.remove(key) {
        None => Ok(Table::new()),
        Some(Value::Table(t)) => Ok(t),
        Some(other) => Err(UserDataError::new(format!(
            "{path} must be a table, not {}",
            other.type_str()
        ))),
    }
}

/// The user's `settings.kubernetes`, keeping the keys Karpenter knows.
fn known_kubernetes(user: Table) -> Result<Table, UserDataError> {
    let mut kept = Table::new();
    for (key, value) in user {
        match KNOWN.iter().find(|(k, _)| *k == key) {
            Some((_, shape)) if shape.fits(&value) => {
                kept.insert(key, value);
            }
            Some((_, shape)) => {
                return Err(UserDataError::new(format!(
                    "settings.kubernetes.{key} must be {}, not {}",
                    shape.describe(),
                    value.type_str()
                )));
            }
            None => {
                tracing::warn!(setting = %format!("settings.kubernetes.{key}"), "dropping an unknown Bottlerocket setting from spec.userData");
            }
        }
    }
    Ok(kept)
}

/// The parse error in one line, with where it is: the multi-line snippet
/// `toml` renders would be hard to read in a NodeClaim condition.
fn not_toml(doc: &str, e: &toml::de::Error) -> UserDataError {
    let line = e
        .span()
        .and_then(|span| doc.get(..span.start))
        .map(|before| before.matches('\n').count() + 1);
    let at = line.map(|l| format!(" (line {l})")).unwrap_or_default();
    UserDataError::new(format!(
        "not valid TOML for Bottlerocket{at}: {}",
        e.message()
    ))
}

/// The merged Bottlerocket settings document.
pub(super) fn settings(
    cluster: &ClusterInfo,
    node: &NodeBootstrap,
    custom: Option<&str>,
) -> Result<String, UserDataError> {
    let mut doc: Table = match custom {
        Some(c) => c.parse().map_err(|e: toml::de::Error| not_toml(c, &e))?,
        None => Table::new(),
    };
    let mut settings = take_table(&mut doc, "settings", "settings")?;
    for key in doc.keys() {
        tracing::warn!(key = %key, "dropping a top-level key outside [settings] from Bottlerocket spec.userData");
    }
    let user_k8s = take_table(&mut settings, "kubernetes", "settings.kubernetes")?;
    let mut k8s = known_kubernetes(user_k8s)?;

    let mut set = |key: &str, v: Value| {
        k8s.insert(key.to_string(), v);
    };
    set("cluster-name", Value::String(cluster.name.clone()));
    set("api-server", Value::String(cluster.endpoint.clone()));
    set(
        "cluster-certificate",
        Value::String(cluster.ca_bundle.clone()),
    );
    if let Some(ip) = &cluster.dns_ip {
        set("cluster-dns-ip", Value::String(ip.clone()));
    }
    if let Some(n) = node.max_pods {
        set("max-pods", Value::Integer(n));
    }

    // Known to be a table of strings: known_kubernetes checked it.
    let mut labels = match k8s.remove("node-labels") {
        Some(Value::Table(t)) => t,
        _ => Table::new(),
    };
    for (k, v) in &node.labels {
        labels.insert(k.clone(), Value::String(v.clone()));
    }
    if !labels.is_empty() {
        k8s.insert("node-labels".to_string(), Value::Table(labels));
    }

    k8s.remove("node-taints");
    let mut taints: BTreeMap<&str, Vec<Value>> = BTreeMap::new();
    for t in &node.taints {
        let (key, value, effect) = split_taint(t);
        taints
            .entry(key)
            .or_default()
            .push(Value::String(format!("{value}:{effect}")));
    }
    if !taints.is_empty() {
        let table: Table = taints
            .into_iter()
            .map(|(k, vs)| (k.to_string(), Value::Array(vs)))
            .collect();
        k8s.insert("node-taints".to_string(), Value::Table(table));
    }

    settings.insert("kubernetes".to_string(), Value::Table(k8s));
    if node.raid0 {
        raid0_bootstrap_command(&mut settings)?;
    }
    let mut out = Table::new();
    out.insert("settings".to_string(), Value::Table(settings));
    toml::to_string(&out)
        .map_err(|e| UserDataError::new(format!("writing the merged Bottlerocket TOML: {e}")))
}

/// Karpenter's RAID0 bootstrap command: set up the instance-store disks as
/// ephemeral storage and bind the kubelet's and containerd's directories on
/// them, before the kubelet starts. The directories are named, so images older
/// than Bottlerocket's default bind paths work too.
fn raid0_bootstrap_command(settings: &mut Table) -> Result<(), UserDataError> {
    let mut commands = take_table(
        settings,
        "bootstrap-commands",
        "settings.bootstrap-commands",
    )?;
    let args = |a: &[&str]| Value::Array(a.iter().map(|s| Value::String(s.to_string())).collect());
    let mut command = Table::new();
    command.insert(
        "commands".to_string(),
        Value::Array(vec![
            args(&["apiclient", "ephemeral-storage", "init"]),
            args(&[
                "apiclient",
                "ephemeral-storage",
                "bind",
                "--dirs",
                "/var/lib/containerd",
                "/var/lib/kubelet",
                "/var/log/pods",
            ]),
        ]),
    );
    command.insert("essential".to_string(), Value::Boolean(true));
    command.insert("mode".to_string(), Value::String("always".to_string()));
    commands.insert(
        "000-mount-instance-storage".to_string(),
        Value::Table(command),
    );
    settings.insert("bootstrap-commands".to_string(), Value::Table(commands));
    Ok(())
}
