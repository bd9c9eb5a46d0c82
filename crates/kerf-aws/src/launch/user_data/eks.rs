//! The EKS-optimised Linux images. AL2 and Ubuntu run `/etc/eks/bootstrap.sh`
//! from a shell-script part; AL2023 reads nodeadm `NodeConfig` parts. Both get
//! a MIME archive in which the user's parts come first, unchanged, and kerf's
//! part comes last: cloud-init runs scripts in order, so the user's script
//! runs before the node joins, and nodeadm merges `NodeConfig`s in order, so
//! kerf's cluster fields win over the user's.

use std::collections::BTreeMap;
use std::fmt::Write;

use serde::Deserialize;

use super::mime::{self, NODE_CONFIG, Part, SHELL_SCRIPT};
use super::{ClusterInfo, NodeBootstrap, UserDataError, split_taint};

/// AL2 and Ubuntu: the user's parts, then the bootstrap script.
pub(super) fn al2(
    cluster: &ClusterInfo,
    node: &NodeBootstrap,
    custom: Option<&str>,
) -> Result<String, UserDataError> {
    // A bare user script is a shell script whatever it looks like, as in Karpenter.
    let mut parts = user_parts(custom, |_| SHELL_SCRIPT)?;
    parts.push(Part::new(SHELL_SCRIPT, &bootstrap_script(cluster, node)));
    Ok(mime::write(&parts))
}

/// AL2023: the user's parts, then kerf's `NodeConfig`.
pub(super) fn al2023(
    cluster: &ClusterInfo,
    node: &NodeBootstrap,
    custom: Option<&str>,
) -> Result<String, UserDataError> {
    let mut parts = user_parts(custom, |c| {
        if is_node_config(c) {
            NODE_CONFIG
        } else {
            SHELL_SCRIPT
        }
    })?;
    parts.push(Part::new(NODE_CONFIG, &node_config(cluster, node)));
    Ok(mime::write(&parts))
}

/// The user's user data as archive parts: the parts of their archive, or
/// their bare document as one part of the content type `kind` picks.
fn user_parts(
    custom: Option<&str>,
    kind: impl Fn(&str) -> &'static str,
) -> Result<Vec<Part>, UserDataError> {
    let Some(custom) = custom else {
        return Ok(Vec::new());
    };
    // Karpenter's merged archive carries no carriage returns, the user's parts
    // included; a script saved with CRLF line endings would not run under bash.
    let custom = custom.replace('\r', "");
    if mime::is_mime(&custom) {
        return mime::parse(&custom);
    }
    Ok(vec![Part::new(kind(&custom), &custom)])
}

/// Whether a bare document is (nodeadm) YAML rather than a script: its first
/// YAML document is a mapping. A script reads as a scalar or not at all.
fn is_node_config(doc: &str) -> bool {
    serde_yaml::Deserializer::from_str(doc)
        .next()
        .and_then(|d| serde_yaml::Value::deserialize(d).ok())
        .is_some_and(|v| v.is_mapping())
}

fn shell_quote(s: &str) -> String {
    format!("'{}'", s.replace('\'', r"'\''"))
}

fn label_list(labels: &BTreeMap<String, String>) -> String {
    labels
        .iter()
        .map(|(k, v)| format!("{k}={v}"))
        .collect::<Vec<_>>()
        .join(",")
}

fn bootstrap_script(cluster: &ClusterInfo, node: &NodeBootstrap) -> String {
    let mut extra = Vec::new();
    if !node.labels.is_empty() {
        extra.push(format!("--node-labels=\"{}\"", label_list(&node.labels)));
    }
    if !node.taints.is_empty() {
        extra.push(format!(
            "--register-with-taints=\"{}\"",
            node.taints.join(",")
        ));
    }
    if let Some(n) = node.max_pods {
        extra.push(format!("--max-pods={n}"));
    }
    let mut script = format!(
        "#!/bin/bash -xe\nexec > >(tee /var/log/user-data.log|logger -t user-data -s 2>/dev/console) 2>&1\n/etc/eks/bootstrap.sh {} --apiserver-endpoint {} --b64-cluster-ca {}",
        shell_quote(&cluster.name),
        shell_quote(&cluster.endpoint),
        shell_quote(&cluster.ca_bundle),
    );
    if let Some(ip) = &cluster.dns_ip {
        let _ = write!(script, " \\\n--dns-cluster-ip {}", shell_quote(ip));
    }
    if node.max_pods.is_some() {
        script.push_str(" \\\n--use-max-pods false");
    }
    if !extra.is_empty() {
        let _ = write!(
            script,
            " \\\n--kubelet-extra-args {}",
            shell_quote(&extra.join(" "))
        );
    }
    if node.raid0 {
        script.push_str(" \\\n--local-disks raid0");
    }
    script
}

fn json(s: &str) -> String {
    serde_json::Value::String(s.to_string()).to_string()
}

fn node_config(cluster: &ClusterInfo, node: &NodeBootstrap) -> String {
    let mut out = format!(
        "apiVersion: node.eks.aws/v1alpha1\nkind: NodeConfig\nspec:\n  cluster:\n    name: {}\n    apiServerEndpoint: {}\n    certificateAuthority: {}\n    cidr: {}\n",
        json(&cluster.name),
        json(&cluster.endpoint),
        json(&cluster.ca_bundle),
        json(&cluster.service_cidr),
    );
    if node.raid0 {
        out.push_str("  instance:\n    localStorage:\n      strategy: RAID0\n");
    }
    out.push_str("  kubelet:\n    config:\n");
    if let Some(n) = node.max_pods {
        let _ = writeln!(out, "      maxPods: {n}");
    }
    if let Some(ip) = &cluster.dns_ip {
        let _ = writeln!(out, "      clusterDNS: [{}]", json(ip));
    }
    out.push_str("      registerWithTaints: [");
    let taints: Vec<String> = node.taints.iter().map(|t| taint_object(t)).collect();
    let _ = writeln!(out, "{}]", taints.join(", "));
    let _ = writeln!(
        out,
        "    flags:\n    - {}",
        json(&format!("--node-labels={}", label_list(&node.labels)))
    );
    out
}

/// `key=value:Effect` as a flow-style YAML taint object.
fn taint_object(t: &str) -> String {
    let (key, value, effect) = split_taint(t);
    format!(
        "{{key: {}, value: {}, effect: {}}}",
        json(key),
        json(value),
        json(effect)
    )
}
