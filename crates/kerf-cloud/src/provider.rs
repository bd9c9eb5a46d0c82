//! The one interface between kerf and a cloud. Controllers, the provisioner and
//! the simulator hold an `Arc<dyn CloudProvider>` and never know which cloud is
//! behind it: [`crate::memory::InMemoryCloud`] for the simulator and tests, a
//! real cloud later.
//!
//! Also here, shared by every provider: [`launch::choose_launch`] (the cheapest
//! available offering for a claim), the [`error::CloudError`] kinds callers
//! branch on, and helpers that read a NodeClaim's requirements and requests.

pub mod error;
pub mod launch;
pub mod quantity;

use std::sync::Arc;

use async_trait::async_trait;
use kerf_api::v1::NodeClaim;
use kerf_core::instance_type::InstanceType;
use kerf_core::requirements::{Requirement, Requirements};
use kerf_core::resources::Resources;
use kerf_core::template::KubeletSettings;

pub use error::{CloudError, OfferingKey, Result};
pub use launch::{LaunchChoice, NoLaunch, choose_launch};

/// What a provider needs to resolve instance types for one NodePool template:
/// the node class it references and the kubelet settings that shape capacity.
#[derive(Clone, Debug, Default, PartialEq)]
pub struct NodeTemplateContext {
    /// Name of the node class (EC2NodeClass, AWSNodeTemplate, ...) if any.
    pub node_class: Option<String>,
    /// The node class itself, as the cluster state holds it (AWSNodeTemplates
    /// and inline `provider:` blocks already converted), so a provider that
    /// needs its spec does not have to read it from the API server again.
    /// Untyped, so no cloud's types cross this trait: the whole object as JSON,
    /// with its `apiVersion` and `kind`, which the provider that owns the kind
    /// turns back into its own type. Providers that need no spec ignore it.
    pub class: Option<serde_json::Value>,
    pub kubelet: KubeletSettings,
}

impl NodeTemplateContext {
    pub fn new(node_class: impl Into<String>, kubelet: KubeletSettings) -> Self {
        NodeTemplateContext {
            node_class: Some(node_class.into()),
            class: None,
            kubelet,
        }
    }

    /// The same context carrying the node class object (untyped, see
    /// [`NodeTemplateContext::class`]).
    pub fn with_class(mut self, class: Option<serde_json::Value>) -> Self {
        self.class = class;
        self
    }
}

/// A cloud that launches and terminates nodes for NodeClaims. Object safe:
/// use it as `Arc<dyn CloudProvider>`.
#[async_trait]
pub trait CloudProvider: Send + Sync {
    /// Short name for logs and metrics, e.g. `kerf-memory`.
    fn name(&self) -> &str;

    /// Instance types launchable for a template, resolved for its kubelet
    /// settings; offerings the cloud currently lacks capacity for are marked
    /// unavailable rather than left out.
    async fn instance_types(
        &self,
        template: &NodeTemplateContext,
    ) -> Result<Vec<Arc<InstanceType>>>;

    /// Launches an instance for the claim and returns the claim as launched:
    /// `status.providerID`, `status.capacity`, `status.allocatable`, and labels
    /// for the chosen instance type, zone and capacity type.
    async fn create(&self, claim: &NodeClaim) -> Result<NodeClaim>;

    /// Terminates the claim's instance. An instance that is already gone (or a
    /// claim that never launched) is not an error.
    async fn delete(&self, claim: &NodeClaim) -> Result<()>;

    /// The launched claim for a provider ID, or [`CloudError::NotFound`].
    async fn get(&self, provider_id: &str) -> Result<NodeClaim>;

    /// Every instance this provider manages, as launched claims.
    async fn list(&self) -> Result<Vec<NodeClaim>>;

    /// Why the claim's instance no longer matches its node class, if it does
    /// not. `template` is what the claim's pool launches from now (its node
    /// class as the cluster holds it), so the answer follows an edited class
    /// at once rather than the provider's last copy of it.
    async fn is_drifted(
        &self,
        claim: &NodeClaim,
        template: &NodeTemplateContext,
    ) -> Result<Option<String>>;
}

/// The claim's name for errors and logs.
pub fn claim_name(claim: &NodeClaim) -> &str {
    claim.metadata.name.as_deref().unwrap_or("<unnamed>")
}

/// `spec.requirements` as scheduler requirements (with `minValues`).
pub fn claim_requirements(claim: &NodeClaim) -> Result<Requirements> {
    let mut out = Requirements::new();
    for r in &claim.spec.requirements {
        let mut req = Requirement::new(&r.key, &r.operator, &r.values).map_err(|e| {
            CloudError::invalid_claim(claim_name(claim), format!("requirement {e}"))
        })?;
        req.min_values = r.min_values.and_then(|v| u32::try_from(v).ok());
        out.add(req);
    }
    Ok(out)
}

/// `spec.resources.requests` as resources.
pub fn claim_requests(claim: &NodeClaim) -> Result<Resources> {
    Resources::from_quantities(&claim.spec.resources.requests)
        .map_err(|e| CloudError::invalid_claim(claim_name(claim), format!("resource request {e}")))
}

/// The claim's provider ID, if it launched.
pub fn provider_id(claim: &NodeClaim) -> Option<&str> {
    claim.status.as_ref().and_then(|s| s.provider_id.as_deref())
}
