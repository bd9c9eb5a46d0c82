//! CustomResourceDefinitions generated from the types (kube's derive plus
//! schemars), one per kind, and their YAML. The committed copies live in
//! `crates/kerf-api/crds/`; regenerate them with
//! `cargo run -p kerf-api --example gen-crds` (or
//! `KERF_UPDATE_CRDS=1 cargo test -p kerf-api --test crds`).
//!
//! As in Karpenter v1.0, NodePool, NodeClaim and EC2NodeClass also serve
//! `v1beta1` (not stored) with `conversion: Webhook` pointing at kerf's
//! webhook Service ([`CONVERSION_SERVICE`]); the webhook patches its CA into
//! `spec.conversion.webhook.clientConfig.caBundle`.

use k8s_openapi::apiextensions_apiserver::pkg::apis::apiextensions::v1::{
    CustomResourceConversion, CustomResourceDefinition, ServiceReference, WebhookClientConfig,
    WebhookConversion,
};
use kube_core::CustomResourceExt;

use crate::v1::{EC2NodeClass, NodeClaim, NodePool};
use crate::v1alpha1::AWSNodeTemplate;
use crate::v1alpha5::Provisioner;
use crate::v1beta1;

/// Where the CRDs send ConversionReviews: `(namespace, name, path, port)` of
/// the webhook Service the chart installs with its default release name.
pub const CONVERSION_SERVICE: (&str, &str, &str, i32) =
    ("kube-system", "kerf-webhook", "/convert", 443);

/// Names of the CRDs that convert between v1beta1 and v1.
pub const CONVERTED: &[&str] = &[
    "nodepools.karpenter.sh",
    "nodeclaims.karpenter.sh",
    "ec2nodeclasses.karpenter.k8s.aws",
];

/// `v1` (stored) plus `beta` (served, not stored), converted by the webhook.
fn with_v1beta1(
    mut v1: CustomResourceDefinition,
    beta: CustomResourceDefinition,
) -> CustomResourceDefinition {
    for mut version in beta.spec.versions {
        version.storage = false;
        version.served = true;
        v1.spec.versions.push(version);
    }
    let (namespace, name, path, port) = CONVERSION_SERVICE;
    v1.spec.conversion = Some(CustomResourceConversion {
        strategy: "Webhook".to_string(),
        webhook: Some(WebhookConversion {
            client_config: Some(WebhookClientConfig {
                service: Some(ServiceReference {
                    namespace: namespace.to_string(),
                    name: name.to_string(),
                    path: Some(path.to_string()),
                    port: Some(port),
                }),
                ..Default::default()
            }),
            conversion_review_versions: vec!["v1".to_string()],
        }),
    });
    v1
}

/// Every CRD kerf serves: Provisioner, AWSNodeTemplate, NodePool, NodeClaim,
/// EC2NodeClass (the last three in v1 and v1beta1).
pub fn all() -> Vec<CustomResourceDefinition> {
    vec![
        Provisioner::crd(),
        AWSNodeTemplate::crd(),
        with_v1beta1(NodePool::crd(), v1beta1::NodePool::crd()),
        with_v1beta1(NodeClaim::crd(), v1beta1::NodeClaim::crd()),
        with_v1beta1(EC2NodeClass::crd(), v1beta1::EC2NodeClass::crd()),
    ]
}

/// The file name upstream uses for a CRD: `<group>_<plural>.yaml`.
pub fn file_name(crd: &CustomResourceDefinition) -> String {
    format!("{}_{}.yaml", crd.spec.group, crd.spec.names.plural)
}

/// One CRD as a YAML document (starting with `---`).
pub fn crd_yaml(crd: &CustomResourceDefinition) -> Result<String, serde_yaml::Error> {
    Ok(format!("---\n{}", serde_yaml::to_string(crd)?))
}

/// Each CRD's file name and YAML, in [`all`] order.
pub fn files() -> Result<Vec<(String, String)>, serde_yaml::Error> {
    all()
        .iter()
        .map(|crd| Ok((file_name(crd), crd_yaml(crd)?)))
        .collect()
}

/// All CRDs as one multi-document YAML stream.
pub fn to_yaml() -> Result<String, serde_yaml::Error> {
    Ok(files()?.into_iter().map(|(_, yaml)| yaml).collect())
}
