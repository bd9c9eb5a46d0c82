//! Node bootstrap user data per AMI family, with the user's own
//! `spec.userData` merged in the way Karpenter merges it, so that a node
//! class moved from Karpenter boots the same nodes:
//!
//! - AL2 and Ubuntu: a MIME multi-part archive whose last part is a shell
//!   script running `/etc/eks/bootstrap.sh`. The user's archive parts (or
//!   their bare script, as one part) come first, unchanged (module `eks`).
//! - AL2023: a MIME multi-part archive whose last part is kerf's nodeadm
//!   `NodeConfig`. The user's parts come first, their own `NodeConfig`
//!   documents as parts of their own: nodeadm merges the `NodeConfig`s in
//!   order, so the user's settings apply and kerf's cluster fields win.
//! - Bottlerocket: one TOML document. The user's settings are read and kerf
//!   writes the settings it owns over them (module `bottlerocket`).
//! - Windows 2019/2022/2025: one `<powershell>` block running
//!   `Start-EKSBootstrap.ps1`, the user's PowerShell first inside it (module `windows`).
//! - Custom: the user's user data unchanged.
//!
//! User data that cannot be merged is refused with a [`UserDataError`] naming
//! `spec.userData`, rather than handed to a node that would not boot.

mod bottlerocket;
mod eks;
mod mime;
#[cfg(test)]
mod tests;
mod windows;

use std::collections::BTreeMap;

use crate::discovery::images::AmiFamily;

/// The CA bundle as node user data takes it (EKS's `certificateAuthority.data`:
/// base64 of the PEM certificates), from the DER certificates the
/// controller's own Kubernetes client trusts, as Karpenter does when no
/// bundle is configured; None without any.
pub fn ca_bundle_from_der(root_certs: &[Vec<u8>]) -> Option<String> {
    use aws_smithy_types::base64;
    if root_certs.is_empty() {
        return None;
    }
    let mut pem = String::new();
    for der in root_certs {
        pem.push_str("-----BEGIN CERTIFICATE-----\n");
        let body = base64::encode(der);
        for line in body.as_bytes().chunks(64) {
            pem.push_str(&String::from_utf8_lossy(line));
            pem.push('\n');
        }
        pem.push_str("-----END CERTIFICATE-----\n");
    }
    Some(base64::encode(pem))
}

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
    /// `instanceStorePolicy: RAID0`: stripe the instance-store disks into the
    /// kubelet's ephemeral storage at boot.
    pub raid0: bool,
}

/// The user's `spec.userData` cannot be merged for the node class's AMI family.
#[derive(Clone, Debug, PartialEq, Eq, thiserror::Error)]
#[error("spec.userData: {0}")]
pub struct UserDataError(String);

impl UserDataError {
    fn new(reason: impl Into<String>) -> Self {
        UserDataError(reason.into())
    }
}

/// `key=value:Effect` (or `key:Effect`) as key, value and effect; an effect
/// left out means `NoSchedule`, as for a taint written without one.
fn split_taint(t: &str) -> (&str, &str, &str) {
    let (kv, effect) = t.rsplit_once(':').unwrap_or((t, "NoSchedule"));
    let (key, value) = kv.split_once('=').unwrap_or((kv, ""));
    (key, value, effect)
}

/// The user data for a node of this family (plain text; the launch template
/// base64s it), with the user's `custom` user data merged in.
pub fn user_data(
    family: AmiFamily,
    cluster: &ClusterInfo,
    node: &NodeBootstrap,
    custom: Option<&str>,
) -> Result<String, UserDataError> {
    // Blank user data is no user data, as Karpenter treats an empty string.
    let custom = custom.filter(|c| !c.trim().is_empty());
    match family {
        AmiFamily::Custom => Ok(custom.unwrap_or_default().to_string()),
        AmiFamily::Bottlerocket => bottlerocket::settings(cluster, node, custom),
        AmiFamily::Al2 | AmiFamily::Ubuntu => eks::al2(cluster, node, custom),
        AmiFamily::Al2023 => eks::al2023(cluster, node, custom),
        AmiFamily::Windows2019 | AmiFamily::Windows2022 | AmiFamily::Windows2025 => {
            Ok(windows::bootstrap(cluster, node, custom))
        }
    }
}
