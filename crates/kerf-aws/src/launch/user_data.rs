//! Node bootstrap user data per AMI family: AL2 and Ubuntu run
//! `/etc/eks/bootstrap.sh` from a MIME multipart script, AL2023 reads a
//! nodeadm `NodeConfig`, Bottlerocket reads TOML settings, Custom images get
//! the user's user data unchanged. The user's own user data comes first.

use std::collections::BTreeMap;
use std::fmt::Write;

use crate::discovery::images::AmiFamily;

const BOUNDARY: &str = "//";

/// What a node needs to join the cluster.
#[derive(Clone, Debug, PartialEq, Eq, Hash, PartialOrd, Ord)]
pub struct ClusterInfo {
    pub name: String,
    /// `https://...` of the API server.
    pub endpoint: String,
    /// Base64 of the cluster CA bundle.
    pub ca_bundle: String,
    /// The cluster DNS service IP, if not the AMI's default.
    pub dns_ip: Option<String>,
    /// The service CIDR (AL2023's nodeadm wants it).
    pub service_cidr: String,
}

/// Kubelet settings that go into the bootstrap.
#[derive(Clone, Debug, Default, PartialEq, Eq, Hash, PartialOrd, Ord)]
pub struct NodeBootstrap {
    pub labels: BTreeMap<String, String>,
    /// `key=value:Effect` or `key:Effect`.
    pub taints: Vec<String>,
    pub max_pods: Option<i64>,
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

fn mime(parts: &[(&str, String)]) -> String {
    let mut out =
        format!("MIME-Version: 1.0\nContent-Type: multipart/mixed; boundary=\"{BOUNDARY}\"\n\n");
    for (content_type, body) in parts {
        let _ = write!(
            out,
            "--{BOUNDARY}\nContent-Type: {content_type}; charset=\"us-ascii\"\n\n{body}\n\n"
        );
    }
    let _ = writeln!(out, "--{BOUNDARY}--");
    out
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
    script
}

fn json(s: &str) -> String {
    serde_json::Value::String(s.to_string()).to_string()
}

fn node_config(cluster: &ClusterInfo, node: &NodeBootstrap) -> String {
    let mut out = format!(
        "apiVersion: node.eks.aws/v1alpha1\nkind: NodeConfig\nspec:\n  cluster:\n    name: {}\n    apiServerEndpoint: {}\n    certificateAuthority: {}\n    cidr: {}\n  kubelet:\n    config:\n",
        json(&cluster.name),
        json(&cluster.endpoint),
        json(&cluster.ca_bundle),
        json(&cluster.service_cidr),
    );
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
    let (kv, effect) = t.rsplit_once(':').unwrap_or((t, "NoSchedule"));
    let (key, value) = kv.split_once('=').unwrap_or((kv, ""));
    format!(
        "{{key: {}, value: {}, effect: {}}}",
        json(key),
        json(value),
        json(effect)
    )
}

fn toml_str(s: &str) -> String {
    // TOML basic strings escape like JSON strings.
    json(s)
}

fn bottlerocket(cluster: &ClusterInfo, node: &NodeBootstrap) -> String {
    let mut out = format!(
        "[settings.kubernetes]\ncluster-name = {}\napi-server = {}\ncluster-certificate = {}\n",
        toml_str(&cluster.name),
        toml_str(&cluster.endpoint),
        toml_str(&cluster.ca_bundle),
    );
    if let Some(ip) = &cluster.dns_ip {
        let _ = writeln!(out, "cluster-dns-ip = {}", toml_str(ip));
    }
    if let Some(n) = node.max_pods {
        let _ = writeln!(out, "max-pods = {n}");
    }
    out.push_str("\n[settings.kubernetes.node-labels]\n");
    for (k, v) in &node.labels {
        let _ = writeln!(out, "{} = {}", toml_str(k), toml_str(v));
    }
    out.push_str("\n[settings.kubernetes.node-taints]\n");
    let mut by_key: BTreeMap<&str, Vec<String>> = BTreeMap::new();
    for t in &node.taints {
        let (kv, effect) = t.rsplit_once(':').unwrap_or((t, "NoSchedule"));
        let (key, value) = kv.split_once('=').unwrap_or((kv, ""));
        by_key
            .entry(key)
            .or_default()
            .push(toml_str(&format!("{value}:{effect}")));
    }
    for (k, vs) in by_key {
        let _ = writeln!(out, "{} = [{}]", toml_str(k), vs.join(", "));
    }
    out
}

/// The user data for a node of this family (plain text; the launch template base64s it).
pub fn user_data(
    family: AmiFamily,
    cluster: &ClusterInfo,
    node: &NodeBootstrap,
    custom: Option<&str>,
) -> String {
    let custom = custom.filter(|c| !c.trim().is_empty());
    match family {
        AmiFamily::Custom => custom.unwrap_or_default().to_string(),
        AmiFamily::Bottlerocket => match custom {
            Some(c) => format!("{c}\n\n{}", bottlerocket(cluster, node)),
            None => bottlerocket(cluster, node),
        },
        AmiFamily::Al2 | AmiFamily::Ubuntu => {
            let mut parts = Vec::new();
            if let Some(c) = custom {
                parts.push(("text/x-shellscript", c.to_string()));
            }
            parts.push(("text/x-shellscript", bootstrap_script(cluster, node)));
            mime(&parts)
        }
        AmiFamily::Al2023 => {
            let mut parts = Vec::new();
            if let Some(c) = custom {
                parts.push(("application/node.eks.aws", c.to_string()));
            }
            parts.push(("application/node.eks.aws", node_config(cluster, node)));
            mime(&parts)
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn cluster() -> ClusterInfo {
        ClusterInfo {
            name: "demo".into(),
            endpoint: "https://api.demo.example".into(),
            ca_bundle: "Q0E=".into(),
            dns_ip: Some("10.100.0.10".into()),
            service_cidr: "10.100.0.0/16".into(),
        }
    }

    fn node() -> NodeBootstrap {
        NodeBootstrap {
            labels: BTreeMap::from([
                ("karpenter.sh/capacity-type".into(), "spot".into()),
                ("karpenter.sh/nodepool".into(), "default".into()),
            ]),
            taints: vec!["dedicated=gpu:NoSchedule".into()],
            max_pods: Some(29),
        }
    }

    #[test]
    fn al2_runs_bootstrap_with_cluster_and_kubelet_flags() {
        let ud = user_data(AmiFamily::Al2, &cluster(), &node(), Some("echo hello"));
        assert!(ud.starts_with("MIME-Version: 1.0"));
        assert!(ud.contains("/etc/eks/bootstrap.sh 'demo' --apiserver-endpoint 'https://api.demo.example' --b64-cluster-ca 'Q0E='"));
        assert!(ud.contains("--dns-cluster-ip '10.100.0.10'"));
        assert!(ud.contains("--max-pods=29") && ud.contains("--use-max-pods false"));
        assert!(ud.contains(
            "--node-labels=\"karpenter.sh/capacity-type=spot,karpenter.sh/nodepool=default\""
        ));
        assert!(ud.contains("--register-with-taints=\"dedicated=gpu:NoSchedule\""));
        assert!(
            ud.find("echo hello") < ud.find("bootstrap.sh"),
            "user part first"
        );
        assert!(ud.trim_end().ends_with("--//--"));
    }

    #[test]
    fn al2023_writes_a_node_config() {
        let ud = user_data(AmiFamily::Al2023, &cluster(), &node(), None);
        assert!(ud.contains("Content-Type: application/node.eks.aws"));
        assert!(ud.contains("kind: NodeConfig"));
        assert!(ud.contains("name: \"demo\"") && ud.contains("cidr: \"10.100.0.0/16\""));
        assert!(ud.contains("maxPods: 29"));
        assert!(ud.contains(r#"{key: "dedicated", value: "gpu", effect: "NoSchedule"}"#));
    }

    #[test]
    fn bottlerocket_writes_toml_settings() {
        let ud = user_data(AmiFamily::Bottlerocket, &cluster(), &node(), None);
        assert!(ud.starts_with("[settings.kubernetes]\ncluster-name = \"demo\""));
        assert!(ud.contains("max-pods = 29"));
        assert!(ud.contains("\"karpenter.sh/nodepool\" = \"default\""));
        assert!(ud.contains("\"dedicated\" = [\"gpu:NoSchedule\"]"));
        assert_eq!(
            user_data(AmiFamily::Custom, &cluster(), &node(), Some("x")),
            "x"
        );
    }
}
