//! [`AwsCloudProvider`]: kerf's `CloudProvider` on EC2. Node classes are handed
//! in by the controller ([`AwsCloudProvider::set_node_class`]); everything else
//! comes from discovery. `create` launches through CreateFleet (see
//! [`launch`]), `get`/`list` read instances back (see [`instances`]), `delete`
//! terminates, `is_drifted` compares an instance with its class's resolution.
//! Instance types and unavailable offerings live in the caches every provider
//! shares (kerf-cloud's [`InstanceTypeCache`], keyed by the class's
//! [`ClassShape`] and dropped when discovery refreshes, and
//! [`UnavailableOfferings`] on the injected clock).

pub mod instances;
pub mod launch;
pub mod types;

use std::collections::BTreeMap;
use std::sync::{Arc, Mutex, PoisonError, RwLock};
use std::time::Duration;

use async_trait::async_trait;
use kerf_api::v1::{EC2NodeClass, EC2NodeClassStatus, NodeClaim};
use kerf_api::v1alpha1::AWSNodeTemplate;
use kerf_cloud::eks::EksOptions;
use kerf_cloud::provider::{Result, provider_id};
use kerf_cloud::{CloudError, CloudProvider, NodeTemplateContext, OfferingKey};
use kerf_core::instance_type::InstanceType;
use kerf_core::template::KubeletSettings;

use crate::clients::Clients;
use crate::clock::Clock;
use crate::discovery::images::{self, PUBLIC_PARAMETER_ROOT, ResolvedAmi};
use crate::discovery::{Discovery, RefreshIntervals};
use crate::error::aws_error;
use crate::launch::user_data::ClusterInfo;
use crate::nodeclass::{self, AmiQuery, Resolution};
use kerf_cloud::resolved::{InstanceTypeCache, TypeList};
use kerf_cloud::unavailable::{DEFAULT_UNAVAILABLE_TTL, UnavailableOfferings};
use types::{ClassShape, TypeSources};

pub const PROVIDER_NAME: &str = "aws";
pub const PROVIDER_ID_PREFIX: &str = "aws:///";

/// Operator-level settings of the AWS provider.
#[derive(Clone, Debug)]
pub struct ProviderSettings {
    pub cluster: ClusterInfo,
    /// Kubernetes minor version (`1.30`), for EKS AMI parameters.
    pub kubernetes_version: String,
    /// Root of the SSM public parameters (`/aws/service`).
    pub public_parameter_root: String,
    pub eks: EksOptions,
    pub intervals: RefreshIntervals,
    pub unavailable_ttl: Duration,
    /// Limit discovery to these instance types (all of the region's when `None`).
    pub instance_types: Option<Vec<String>>,
    /// Instance profile for node classes that name neither a role nor a
    /// profile (Karpenter's `aws.defaultInstanceProfile`).
    pub default_instance_profile: Option<String>,
}

impl ProviderSettings {
    pub fn new(cluster: ClusterInfo, kubernetes_version: impl Into<String>) -> Self {
        ProviderSettings {
            cluster,
            kubernetes_version: kubernetes_version.into(),
            public_parameter_root: PUBLIC_PARAMETER_ROOT.to_string(),
            eks: EksOptions::default(),
            intervals: RefreshIntervals::default(),
            unavailable_ttl: DEFAULT_UNAVAILABLE_TTL,
            instance_types: None,
            default_instance_profile: None,
        }
    }
}

pub struct AwsCloudProvider {
    settings: ProviderSettings,
    discovery: Discovery,
    node_classes: RwLock<BTreeMap<String, EC2NodeClass>>,
    /// Kubelet settings seen in `instance_types` calls, for classes without a kubelet block.
    kubelets: RwLock<BTreeMap<String, KubeletSettings>>,
    unavailable: Mutex<UnavailableOfferings>,
    types: Mutex<InstanceTypeCache<ClassShape, TypeSources>>,
    /// (class, role) → the instance profile made for it, once ensured.
    profiles: Mutex<BTreeMap<(String, String), String>>,
}

/// `aws:///<zone>/<instance id>`.
pub fn format_provider_id(zone: &str, instance_id: &str) -> String {
    format!("{PROVIDER_ID_PREFIX}{zone}/{instance_id}")
}

/// The instance id in an AWS provider ID.
pub fn parse_provider_id(provider_id: &str) -> Option<&str> {
    let rest = provider_id.strip_prefix(PROVIDER_ID_PREFIX)?;
    let (_, id) = rest.rsplit_once('/')?;
    id.starts_with("i-").then_some(id)
}

impl AwsCloudProvider {
    pub fn new(clients: Clients, settings: ProviderSettings, clock: Arc<dyn Clock>) -> Self {
        AwsCloudProvider {
            discovery: Discovery::new(
                clients,
                clock,
                settings.intervals.clone(),
                settings.instance_types.clone(),
            ),
            unavailable: Mutex::new(UnavailableOfferings::new(settings.unavailable_ttl)),
            settings,
            node_classes: RwLock::default(),
            kubelets: RwLock::default(),
            types: Mutex::default(),
            profiles: Mutex::default(),
        }
    }

    pub fn settings(&self) -> &ProviderSettings {
        &self.settings
    }

    pub fn discovery(&self) -> &Discovery {
        &self.discovery
    }

    pub fn clients(&self) -> &Clients {
        self.discovery.clients()
    }

    /// Registers (or replaces) a node class by name.
    pub fn set_node_class(&self, mut class: EC2NodeClass) {
        if class.spec.role.is_none() && class.spec.instance_profile.is_none() {
            class.spec.instance_profile = self.settings.default_instance_profile.clone();
        }
        let name = class.metadata.name.clone().unwrap_or_default();
        self.node_classes
            .write()
            .unwrap_or_else(PoisonError::into_inner)
            .insert(name, class);
    }

    /// Registers an AWSNodeTemplate as the EC2NodeClass it converts to.
    pub fn set_node_template(&self, template: &AWSNodeTemplate) {
        self.set_node_class(nodeclass::node_template_class(template));
    }

    pub fn node_class(&self, name: &str) -> Result<EC2NodeClass> {
        self.node_classes
            .read()
            .unwrap_or_else(PoisonError::into_inner)
            .get(name)
            .cloned()
            .ok_or_else(|| CloudError::not_found(format!("node class {name}")))
    }

    /// Offerings currently cached as unavailable, sorted.
    pub fn unavailable_offerings(&self) -> Vec<OfferingKey> {
        let now = self.discovery.now();
        self.lock_unavailable().live(now)
    }

    /// The types with the offerings cached as unavailable marked so.
    pub(crate) fn with_availability(&self, types: &[Arc<InstanceType>]) -> Vec<Arc<InstanceType>> {
        let now = self.discovery.now();
        self.lock_unavailable().apply(types, now)
    }

    fn lock_unavailable(&self) -> std::sync::MutexGuard<'_, UnavailableOfferings> {
        self.unavailable
            .lock()
            .unwrap_or_else(PoisonError::into_inner)
    }

    pub(crate) fn mark_unavailable(&self, keys: &[OfferingKey]) {
        let now = self.discovery.now();
        let mut cache = self.lock_unavailable();
        for k in keys {
            tracing::info!(offering = %k, "marking offering unavailable");
            cache.mark(k.clone(), now);
        }
    }

    /// Marks one offering unavailable, e.g. a spot offering after an interruption.
    pub fn mark_offering_unavailable(&self, key: OfferingKey) {
        self.mark_unavailable(&[key]);
    }

    /// The AMIs one query yields (cached).
    pub async fn query_images(&self, query: &AmiQuery) -> Result<Arc<Vec<ResolvedAmi>>> {
        let root = self.settings.public_parameter_root.clone();
        let version = self.settings.kubernetes_version.clone();
        let key = query.cache_key(&version);
        let query = query.clone();
        self.discovery
            .images(key, move |c| async move {
                match &query {
                    AmiQuery::Family { family, version: v } => {
                        images::family_images(
                            &c.ec2,
                            &c.ssm,
                            &root,
                            &version,
                            *family,
                            v.as_deref(),
                        )
                        .await
                    }
                    AmiQuery::SsmParameter(name) => match images::ssm_image_id(&c.ssm, name).await?
                    {
                        Some(id) => {
                            images::describe_images(
                                &c.ec2,
                                &crate::discovery::network::SelectorTerm::id(id),
                                None,
                            )
                            .await
                        }
                        None => Ok(vec![]),
                    },
                    AmiQuery::Images { term, owner } => {
                        images::describe_images(&c.ec2, term, owner.as_deref()).await
                    }
                }
            })
            .await
    }

    /// What a registered node class selects now.
    pub async fn resolve_node_class(&self, name: &str) -> Result<(EC2NodeClass, Resolution)> {
        let class = self.node_class(name)?;
        let invalid =
            |why: nodeclass::SpecError| CloudError::other(format!("EC2NodeClass {name}"), why);
        let queries = nodeclass::ami_queries(&class.spec).map_err(invalid)?;
        let mut amis = Vec::new();
        for q in &queries {
            amis.extend(self.query_images(q).await?.iter().cloned());
        }
        let network = self.discovery.network().await?;
        let resolution =
            nodeclass::resolve(&class.spec, &self.settings.cluster.name, &network, amis)
                .map_err(invalid)?;
        Ok((class, resolution))
    }

    /// The status to write to the node class.
    pub async fn node_class_status(&self, name: &str) -> Result<EC2NodeClassStatus> {
        let (class, r) = self.resolve_node_class(name).await?;
        let profile = self
            .instance_profile(&class)
            .await
            .map_err(|e| e.to_string());
        let profile = profile
            .as_ref()
            .map(|p| p.as_deref())
            .map_err(|e| e.as_str());
        Ok(nodeclass::status(name, &r, profile))
    }

    /// The instance profile nodes of the class launch with: `instanceProfile`
    /// as given, or for a `role` the profile kerf keeps for the class
    /// (created and given the role on first use, then cached).
    pub async fn instance_profile(&self, class: &EC2NodeClass) -> Result<Option<String>> {
        let Some(role) = class.spec.role.as_deref() else {
            return Ok(class.spec.instance_profile.clone());
        };
        let name = class.metadata.name.clone().unwrap_or_default();
        let key = (name.clone(), role.to_string());
        if let Some(p) = self.lock_profiles().get(&key) {
            return Ok(Some(p.clone()));
        }
        let profile = crate::instance_profile::ensure(
            &self.clients().iam,
            &self.settings.cluster.name,
            &self.clients().region,
            &name,
            role,
        )
        .await?;
        self.lock_profiles().insert(key, profile.clone());
        Ok(Some(profile))
    }

    /// Deletes the profile kerf made for a class (the class is going away),
    /// by its name: also after the class's `role` gave way to an
    /// `instanceProfile`. A profile that does not exist is success.
    pub async fn delete_instance_profile(&self, class: &EC2NodeClass) -> Result<()> {
        let name = class.metadata.name.clone().unwrap_or_default();
        crate::instance_profile::delete(
            &self.clients().iam,
            &self.settings.cluster.name,
            &self.clients().region,
            &name,
        )
        .await?;
        self.lock_profiles().retain(|(class, _), _| class != &name);
        Ok(())
    }

    fn lock_profiles(&self) -> std::sync::MutexGuard<'_, BTreeMap<(String, String), String>> {
        self.profiles.lock().unwrap_or_else(PoisonError::into_inner)
    }

    /// The kubelet a launch from `class` gets: the one its pool was last
    /// planned with (the cluster state already chose between the pool's
    /// carried-over v1beta1 kubelet and the class's `spec.kubelet`), else the
    /// class's own (a launch before any planning, e.g. after a restart).
    fn kubelet_for(&self, class: &EC2NodeClass) -> Result<KubeletSettings> {
        let name = class.metadata.name.clone().unwrap_or_default();
        let planned = self
            .kubelets
            .read()
            .unwrap_or_else(PoisonError::into_inner)
            .get(&name)
            .cloned();
        if let Some(planned) = planned {
            return Ok(planned);
        }
        class
            .spec
            .kubelet
            .as_ref()
            .map(kerf_cloud::kubelet::kubelet_settings)
            .transpose()
            .map(Option::unwrap_or_default)
            .map_err(|e| {
                CloudError::other(
                    "reading the node class kubelet",
                    format!("EC2NodeClass {name}: spec.kubelet.{e}"),
                )
            })
    }

    /// Instance types for a resolved class, with unavailable offerings marked.
    pub(crate) async fn types_for(
        &self,
        resolution: &Resolution,
        kubelet: &KubeletSettings,
    ) -> Result<Vec<Arc<InstanceType>>> {
        let base = self.base_types_for(resolution, kubelet).await?;
        Ok(self.with_availability(&base))
    }

    /// Instance types for a resolved class, every offering available:
    /// resolved once per class shape and kubelet while discovery serves the
    /// same instance types and prices.
    pub(crate) async fn base_types_for(
        &self,
        resolution: &Resolution,
        kubelet: &KubeletSettings,
    ) -> Result<TypeList> {
        let sources = TypeSources {
            data: self.discovery.instance_types().await?,
            prices: self.discovery.prices().await?,
        };
        let region = &self.clients().region;
        self.types
            .lock()
            .unwrap_or_else(PoisonError::into_inner)
            .get_or_resolve(
                sources.clone(),
                &ClassShape::of(resolution),
                kubelet,
                || types::class_types(&sources, region, resolution, kubelet, &self.settings.eks),
            )
            .map_err(|e| CloudError::other("resolving instance types", e))
    }

    /// Terminates instances kerf launched for this cluster; ids already gone
    /// are not an error. If any of them lacks kerf's ownership tag nothing is
    /// terminated and the call fails with [`CloudError::NotOwned`]: a claim
    /// or a bug pointing at a node group's instance must never stop it.
    pub async fn terminate(&self, ids: &[String]) -> Result<()> {
        if ids.is_empty() {
            return Ok(());
        }
        let cluster = &self.settings.cluster.name;
        let found = instances::describe(self, instances::Query::Ids(ids.to_vec())).await?;
        let foreign: Vec<&str> = found
            .iter()
            .filter(|i| !i.is_owned_by(cluster))
            .map(|i| i.id.as_str())
            .collect();
        if !foreign.is_empty() {
            return Err(CloudError::not_owned(
                format!("instance {}", foreign.join(", ")),
                format!("no tag {}={cluster}", crate::ownership::OWNERSHIP_TAG),
            ));
        }
        let live: Vec<String> = found
            .iter()
            .filter(|i| i.is_live())
            .map(|i| i.id.clone())
            .collect();
        if live.is_empty() {
            tracing::debug!(?ids, "instances already gone");
            return Ok(());
        }
        match self
            .clients()
            .ec2
            .terminate_instances()
            .set_instance_ids(Some(live.clone()))
            .send()
            .await
        {
            Ok(_) => Ok(()),
            Err(e) if crate::error::error_code(&e) == Some("InvalidInstanceID.NotFound") => {
                tracing::debug!(ids = ?live, "instances already gone");
                Ok(())
            }
            Err(e) => Err(aws_error(format!("TerminateInstances {live:?}"), e)),
        }
    }
}

#[async_trait]
impl CloudProvider for AwsCloudProvider {
    fn name(&self) -> &str {
        PROVIDER_NAME
    }

    async fn instance_types(
        &self,
        template: &NodeTemplateContext,
    ) -> Result<Vec<Arc<InstanceType>>> {
        let Some(name) = &template.node_class else {
            return Err(CloudError::other(
                "instance types",
                "the AWS provider needs a node class (EC2NodeClass or AWSNodeTemplate)",
            ));
        };
        let class = nodeclass::class_from_context(template)
            .map_err(|e| CloudError::other("instance types", e))?;
        if let Some(class) = class {
            self.set_node_class(class);
        }
        self.kubelets
            .write()
            .unwrap_or_else(PoisonError::into_inner)
            .insert(name.clone(), template.kubelet.clone());
        let (_, resolution) = self.resolve_node_class(name).await?;
        self.types_for(&resolution, &template.kubelet).await
    }

    async fn create(&self, claim: &NodeClaim) -> Result<NodeClaim> {
        launch::create(self, claim).await
    }

    async fn delete(&self, claim: &NodeClaim) -> Result<()> {
        let Some(pid) = provider_id(claim) else {
            return Ok(());
        };
        let id = parse_provider_id(pid).ok_or_else(|| {
            CloudError::invalid_claim(
                kerf_cloud::provider::claim_name(claim),
                format!("status.providerID {pid:?} is not an AWS provider ID"),
            )
        })?;
        self.terminate(&[id.to_string()]).await
    }

    async fn get(&self, provider_id: &str) -> Result<NodeClaim> {
        let id = parse_provider_id(provider_id)
            .ok_or_else(|| CloudError::not_found(format!("instance {provider_id}")))?;
        let found = instances::describe(self, instances::Query::Ids(vec![id.to_string()])).await?;
        let instance = found
            .into_iter()
            .find(|i| i.is_live())
            .ok_or_else(|| CloudError::not_found(format!("instance {provider_id}")))?;
        instances::claim_of(self, &instance).await
    }

    async fn list(&self) -> Result<Vec<NodeClaim>> {
        let found = instances::describe(self, instances::Query::Owned).await?;
        let mut out = Vec::with_capacity(found.len());
        for i in found.iter().filter(|i| i.is_live()) {
            out.push(instances::claim_of(self, i).await?);
        }
        Ok(out)
    }

    async fn is_drifted(
        &self,
        claim: &NodeClaim,
        template: &NodeTemplateContext,
    ) -> Result<Option<String>> {
        if let Some(class) =
            nodeclass::class_from_context(template).map_err(|e| CloudError::other("drift", e))?
        {
            self.set_node_class(class);
        }
        let Some(pid) = provider_id(claim) else {
            return Ok(None);
        };
        let id = parse_provider_id(pid)
            .ok_or_else(|| CloudError::not_found(format!("instance {pid}")))?;
        let found = instances::describe(self, instances::Query::Ids(vec![id.to_string()])).await?;
        let instance = found
            .into_iter()
            .find(|i| i.is_live())
            .ok_or_else(|| CloudError::not_found(format!("instance {pid}")))?;
        let (class, resolution) = self
            .resolve_node_class(&claim.spec.node_class_ref.name)
            .await?;
        if let Some(reason) =
            static_drift(claim, &class, &resolution, &self.settings.cluster.ca_bundle)
        {
            return Ok(Some(reason));
        }
        Ok(instances::drift(&instance, &resolution))
    }
}

/// `NodeClassDrift` when the claim was launched from a class whose static
/// fields have changed since. Claims without kerf's hash (Karpenter's, or
/// found again after a restart) are never statically drifted.
fn static_drift(
    claim: &NodeClaim,
    class: &EC2NodeClass,
    resolution: &Resolution,
    ca_bundle: &str,
) -> Option<String> {
    use nodeclass::hash::{HASH_ANNOTATION, HASH_VERSION, HASH_VERSION_ANNOTATION, static_hash};
    let annotations = claim.metadata.annotations.as_ref()?;
    if annotations.get(HASH_VERSION_ANNOTATION).map(String::as_str) != Some(HASH_VERSION) {
        return None;
    }
    let launched_with = annotations.get(HASH_ANNOTATION)?;
    let now = static_hash(&class.spec, resolution.family, ca_bundle);
    (launched_with != &now).then(|| {
        format!(
            "NodeClassDrift: EC2NodeClass {} changed since launch (hash {launched_with}, now {now})",
            claim.spec.node_class_ref.name
        )
    })
}
