//! The AWS provider as `kerf controller --cloud-provider aws` runs it: built
//! from the flags' [`AwsOptions`] on the cluster's Kubernetes version, and
//! wrapped in [`AwsCloud`]. The pools' node classes reach the provider with
//! every `instance_types` call (untyped, in `NodeTemplateContext::class`, from
//! the state the controller watches); a claim launched or checked before any
//! such call (after a restart) has its class read from the API server once
//! (EC2NodeClasses, AWSNodeTemplates, and the classes inline `provider:`
//! Provisioners convert to). Cloud errors are counted; authorization failures
//! also become Warning Events on the NodeClaim and its pool.

use std::sync::Arc;

use async_trait::async_trait;
use kerf_api::v1::{EC2NodeClass, NodeClaim};
use kerf_api::v1alpha1::AWSNodeTemplate;
use kerf_api::v1alpha5::Provisioner;
use kerf_cloud::provider::Result;
use kerf_cloud::{CloudError, CloudProvider, NodeTemplateContext};
use kerf_core::instance_type::InstanceType;
use kube::api::{Api, ListParams};

use super::events;
use super::metrics::AwsMetrics;
use crate::error::AwsError;
use crate::launch::user_data::ClusterInfo;
use crate::{AwsCloudProvider, AwsSettings, Clients, ProviderSettings};

/// What `kerf controller` needs to build the AWS provider.
#[derive(Clone, Debug)]
pub struct AwsOptions {
    pub region: String,
    pub endpoint_url: Option<String>,
    pub cluster: ClusterInfo,
    pub default_instance_profile: Option<String>,
    pub public_parameter_root: Option<String>,
    pub instance_types: Option<Vec<String>>,
}

/// The AWS provider plus node-class look-up from the API server for claims.
pub struct AwsCloud {
    pub(super) inner: Arc<AwsCloudProvider>,
    client: kube::Client,
    pub(super) metrics: AwsMetrics,
}

/// The cluster's Kubernetes minor version (`1.30`), for the EKS AMI parameters.
async fn kubernetes_version(client: &kube::Client) -> std::result::Result<String, AwsError> {
    let info = client
        .apiserver_version()
        .await
        .map_err(|e| AwsError::ApiServerVersion(Box::new(e)))?;
    let digits = |s: &str| {
        s.chars()
            .take_while(char::is_ascii_digit)
            .collect::<String>()
    };
    let (major, minor) = (digits(&info.major), digits(&info.minor));
    if major.is_empty() || minor.is_empty() {
        return Err(AwsError::KubernetesVersion {
            major: info.major,
            minor: info.minor,
        });
    }
    Ok(format!("{major}.{minor}"))
}

/// The AWS provider for the options, on the cluster's Kubernetes version.
pub async fn build(
    options: &AwsOptions,
    client: &kube::Client,
) -> std::result::Result<AwsCloud, AwsError> {
    let mut aws = AwsSettings::new(options.region.clone());
    aws.endpoint_url = options.endpoint_url.clone();
    let clients = Clients::connect(&aws).await;
    let mut settings =
        ProviderSettings::new(options.cluster.clone(), kubernetes_version(client).await?);
    if let Some(root) = &options.public_parameter_root {
        settings.public_parameter_root = root.clone();
    }
    settings.instance_types = options.instance_types.clone();
    settings.default_instance_profile = options.default_instance_profile.clone();
    let provider = AwsCloudProvider::new(clients, settings, Arc::new(crate::clock::SystemClock));
    Ok(AwsCloud {
        inner: Arc::new(provider),
        client: client.clone(),
        metrics: AwsMetrics::default(),
    })
}

fn list_error(kind: &str, e: kube::Error) -> CloudError {
    CloudError::other(format!("listing {kind}s for their node classes"), e)
}

impl AwsCloud {
    /// Reads every node class the cluster defines and hands it to the provider.
    async fn sync_node_classes(&self) -> Result<()> {
        let lp = ListParams::default();
        let classes = Api::<EC2NodeClass>::all(self.client.clone())
            .list(&lp)
            .await
            .map_err(|e| list_error("EC2NodeClass", e))?;
        for class in classes {
            self.inner.set_node_class(class);
        }
        let templates = Api::<AWSNodeTemplate>::all(self.client.clone())
            .list(&lp)
            .await
            .map_err(|e| list_error("AWSNodeTemplate", e))?;
        for t in &templates {
            self.inner
                .set_node_class(crate::nodeclass::node_template_class(t));
        }
        let provisioners = Api::<Provisioner>::all(self.client.clone())
            .list(&lp)
            .await
            .map_err(|e| list_error("Provisioner", e))?;
        for p in provisioners.iter().filter(|p| p.spec.provider.is_some()) {
            let name = p.metadata.name.as_deref().unwrap_or_default();
            match kerf_api::convert::provisioner_to_v1(p, None) {
                Ok(converted) => {
                    if let Some(class) = converted.node_class {
                        self.inner.set_node_class(class);
                    }
                }
                // The controller's state rejects it too, with an event on the Provisioner.
                Err(e) => tracing::warn!(provisioner = name, "spec.provider: {e}"),
            }
        }
        Ok(())
    }

    /// Counts a failed call; an authorization failure is also told to the
    /// claim and its pool, since retrying will not help.
    fn failed(&self, method: &str, claim: &NodeClaim, e: &CloudError) {
        let code = crate::error::aws_code(e).unwrap_or("unknown");
        self.metrics.cloud_error("provisioner", method, code);
        let notices = events::authorization_notices(method, claim, e);
        if let Some(n) = notices.first() {
            tracing::error!(claim = kerf_cloud::provider::claim_name(claim), message = %n.message, "authorization failure");
        }
        events::publish(&self.client, notices);
    }

    async fn ensure_node_class(&self, name: &str) -> Result<()> {
        if self.inner.node_class(name).is_err() {
            self.sync_node_classes().await?;
        }
        Ok(())
    }
}

#[async_trait]
impl CloudProvider for AwsCloud {
    fn name(&self) -> &str {
        self.inner.name()
    }

    async fn instance_types(
        &self,
        template: &NodeTemplateContext,
    ) -> Result<Vec<Arc<InstanceType>>> {
        self.inner.instance_types(template).await
    }

    async fn create(&self, claim: &NodeClaim) -> Result<NodeClaim> {
        self.ensure_node_class(&claim.spec.node_class_ref.name)
            .await?;
        let out = self.inner.create(claim).await;
        if let Err(e) = &out {
            self.failed("Create", claim, e);
        }
        out
    }

    async fn delete(&self, claim: &NodeClaim) -> Result<()> {
        let out = self.inner.delete(claim).await;
        if let Err(e) = &out {
            self.failed("Delete", claim, e);
        }
        out
    }

    async fn get(&self, provider_id: &str) -> Result<NodeClaim> {
        self.inner.get(provider_id).await
    }

    async fn list(&self) -> Result<Vec<NodeClaim>> {
        self.inner.list().await
    }

    async fn is_drifted(
        &self,
        claim: &NodeClaim,
        template: &NodeTemplateContext,
    ) -> Result<Option<String>> {
        if template.class.is_none() {
            self.ensure_node_class(&claim.spec.node_class_ref.name)
                .await?;
        }
        self.inner.is_drifted(claim, template).await
    }
}
