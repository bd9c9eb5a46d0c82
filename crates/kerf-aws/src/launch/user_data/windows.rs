//! The EKS-optimised Windows Server images: one PowerShell block that runs the
//! image's `Start-EKSBootstrap.ps1`. The user's `spec.userData` is PowerShell
//! too and runs first, inside the same block, as in Karpenter.

use super::{ClusterInfo, NodeBootstrap};

/// A PowerShell single-quoted string: `'` doubles, nothing else is special.
fn quote(s: &str) -> String {
    format!("'{}'", s.replace('\'', "''"))
}

/// The kubelet flags: labels and taints as comma-separated lists, max pods.
fn kubelet_extra_args(node: &NodeBootstrap) -> Vec<String> {
    let mut args = Vec::new();
    if !node.labels.is_empty() {
        let labels: Vec<String> = node
            .labels
            .iter()
            .map(|(k, v)| format!("{k}={v}"))
            .collect();
        args.push(format!("--node-labels=\"{}\"", labels.join(",")));
    }
    if !node.taints.is_empty() {
        args.push(format!(
            "--register-with-taints=\"{}\"",
            node.taints.join(",")
        ));
    }
    if let Some(n) = node.max_pods {
        args.push(format!("--max-pods={n}"));
    }
    args
}

pub(super) fn bootstrap(
    cluster: &ClusterInfo,
    node: &NodeBootstrap,
    custom: Option<&str>,
) -> String {
    let mut script = String::from("<powershell>\n");
    if let Some(custom) = custom {
        script.push_str(custom.trim_end());
        script.push('\n');
    }
    script.push_str(
        "[string]$EKSBootstrapScriptFile = \"$env:ProgramFiles\\Amazon\\EKS\\Start-EKSBootstrap.ps1\"\n",
    );
    script.push_str(&format!(
        "& $EKSBootstrapScriptFile -EKSClusterName {} -APIServerEndpoint {} -Base64ClusterCA {}",
        quote(&cluster.name),
        quote(&cluster.endpoint),
        quote(&cluster.ca_bundle),
    ));
    let args = kubelet_extra_args(node);
    if !args.is_empty() {
        script.push_str(&format!(" -KubeletExtraArgs {}", quote(&args.join(" "))));
    }
    if let Some(ip) = &cluster.dns_ip {
        script.push_str(&format!(" -DNSClusterIP {}", quote(ip)));
    }
    script.push_str("\n</powershell>");
    script
}
