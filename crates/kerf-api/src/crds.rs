//! CustomResourceDefinitions generated from the types (kube's derive plus
//! schemars), one per kind, and their YAML. The committed copies live in
//! `crates/kerf-api/crds/`; regenerate them with
//! `cargo run -p kerf-api --example gen-crds` (or
//! `KERF_UPDATE_CRDS=1 cargo test -p kerf-api --test crds`).

use k8s_openapi::apiextensions_apiserver::pkg::apis::apiextensions::v1::CustomResourceDefinition;
use kube_core::CustomResourceExt;

use crate::v1::{EC2NodeClass, NodeClaim, NodePool};
use crate::v1alpha1::AWSNodeTemplate;
use crate::v1alpha5::Provisioner;

/// Every CRD kerf serves: Provisioner, AWSNodeTemplate, NodePool, NodeClaim, EC2NodeClass.
pub fn all() -> Vec<CustomResourceDefinition> {
    vec![
        Provisioner::crd(),
        AWSNodeTemplate::crd(),
        NodePool::crd(),
        NodeClaim::crd(),
        EC2NodeClass::crd(),
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
