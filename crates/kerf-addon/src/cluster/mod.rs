//! The cluster side of the add-on: the namespace, the Helm chart (installed with the real
//! `helm` binary), and the optional default Provisioner.
//!
//! CONTRACT (used by `crate::addon`; the signatures below are fixed, the bodies are owned by the
//! cluster-side implementation).
//!
//! - [`chart`]: the chart embedded at compile time, written out for helm.
//! - `helm`: the real helm binary (`upgrade --install --wait`, `status`, `template`, `uninstall`).
//! - [`objects`]: the namespace and the default Provisioner (server-side apply, field manager
//!   `kerf-addon`), labelled `kerf.sh/managed-by=kerf-addon`.
//!
//! Steps, in order: `k8s:namespace`, `helm:release`, `k8s:default-provisioner` (install);
//! the reverse for uninstall. Install compares the deployed release (its values and manifest)
//! with what it would install and skips the upgrade when they are equal, so
//! a second install reports every step Unchanged.

use std::path::PathBuf;
use std::time::Duration;

use kerf_api::v1alpha5::Provisioner;

use crate::error::AddonError;
use crate::progress::Progress;

pub mod chart;
mod helm;
mod install;
pub mod objects;
mod render;

/// Values the chart needs that come from the AWS side or from EKS.
#[derive(Debug, Clone, Default, PartialEq)]
pub struct ChartValues {
    pub cluster_name: String,
    pub cluster_endpoint: String,
    /// The AWS region the controller calls (`settings.awsRegion`, AWS_REGION); empty: the
    /// chart sets none and the pod's environment must (EKS's IRSA webhook usually does).
    pub region: String,
    /// IRSA role for the controller's service account (`eks.amazonaws.com/role-arn`).
    pub controller_role_arn: Option<String>,
    pub default_instance_profile: Option<String>,
    pub interruption_queue: Option<String>,
    /// Extra `--set key=value` pairs, passed through to helm.
    pub extra: Vec<(String, String)>,
}

/// Everything the cluster side installs.
#[derive(Debug, Clone)]
pub struct ClusterSide {
    /// Namespace for the controller and the webhook; `karpenter` by default.
    pub namespace: String,
    /// Helm release name; `karpenter` by default.
    pub release: String,
    /// kubeconfig to use; None means the default (KUBECONFIG / ~/.kube/config / in-cluster).
    pub kubeconfig: Option<PathBuf>,
    /// The helm binary; `helm` on PATH by default.
    pub helm: PathBuf,
    pub values: ChartValues,
    pub default_provisioner: Option<Provisioner>,
    /// How long helm waits for the release, and install / uninstall for the objects they
    /// apply or delete; 5 minutes by default.
    pub wait_timeout: Duration,
}

impl ClusterSide {
    pub fn new(values: ChartValues) -> Self {
        ClusterSide {
            namespace: "karpenter".into(),
            release: "karpenter".into(),
            kubeconfig: None,
            helm: PathBuf::from("helm"),
            values,
            default_provisioner: None,
            wait_timeout: Duration::from_secs(300),
        }
    }
}

/// Creates the namespace, installs or upgrades the chart, applies the default Provisioner.
/// Idempotent: a second call reports every step Unchanged.
pub async fn install(side: &ClusterSide, progress: &mut dyn Progress) -> Result<(), AddonError> {
    install::install(side, progress).await
}

/// Removes the default Provisioner (if kerf created it), the release and the namespace.
pub async fn uninstall(side: &ClusterSide, progress: &mut dyn Progress) -> Result<(), AddonError> {
    install::uninstall(side, progress).await
}

/// The Kubernetes manifests install would apply (namespace, `helm template` output, the
/// default Provisioner), as one multi-document YAML string. Touches nothing.
pub fn render(side: &ClusterSide) -> Result<String, AddonError> {
    render::render(side)
}
