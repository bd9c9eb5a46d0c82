//! `KarpenterAddOn` and `Cluster` builders, and install / uninstall / render across both sides.
//!
//! ```no_run
//! # async fn f() -> Result<(), kerf_addon::AddonError> {
//! use kerf_addon::addon::{Cluster, KarpenterAddOn};
//! use kerf_addon::progress::Recorded;
//! let addon = KarpenterAddOn::builder()
//!     .default_provisioner_specs([
//!         ("node.kubernetes.io/instance-type", vec!["m5.2xlarge"]),
//!         ("kubernetes.io/arch", vec!["amd64", "arm64"]),
//!         ("karpenter.sh/capacity-type", vec!["spot", "on-demand"]),
//!     ])
//!     .build()?;
//! let cluster = Cluster::builder().name("demo").region("us-east-1").add_on(addon).build()?;
//! cluster.install(&mut Recorded::default()).await?;
//! # Ok(()) }
//! ```

use std::path::PathBuf;

use kerf_aws::AwsSettings;

use crate::aws::{self, AwsClients, AwsSide, Installed, Rendered};
use crate::cluster::{self, ChartValues, ClusterSide};
use crate::error::AddonError;
use crate::progress::Progress;
use crate::requirements::{DefaultProvisioner, Requirement, RequirementsMap};

/// kerf as an add-on: what to install besides the AWS resources every install creates.
#[derive(Debug, Clone, PartialEq)]
pub struct KarpenterAddOn {
    /// The default Provisioner's requirements; `None`: no default Provisioner.
    pub default_provisioner_specs: Option<RequirementsMap>,
    pub interruption: bool,
    pub tag_subnets: bool,
    pub namespace: String,
    pub release: String,
    pub helm: PathBuf,
    /// Extra chart values (`--set key=value`).
    pub values: Vec<(String, String)>,
    /// Only the AWS side (no namespace, chart or Provisioner).
    pub skip_cluster_side: bool,
}

#[derive(Debug, Default)]
pub struct KarpenterAddOnBuilder {
    specs: Vec<(String, Vec<String>)>,
    has_specs: bool,
    interruption: Option<bool>,
    tag_subnets: bool,
    namespace: Option<String>,
    release: Option<String>,
    helm: Option<PathBuf>,
    values: Vec<(String, String)>,
    skip_cluster_side: bool,
}

impl KarpenterAddOn {
    pub fn builder() -> KarpenterAddOnBuilder {
        KarpenterAddOnBuilder::default()
    }
}

impl KarpenterAddOnBuilder {
    /// The blueprint's `defaultProvisionerSpecs`: label key to allowed values (operator In).
    pub fn default_provisioner_specs<K, V, I>(mut self, specs: I) -> Self
    where
        I: IntoIterator<Item = (K, Vec<V>)>,
        K: Into<String>,
        V: Into<String>,
    {
        self.has_specs = true;
        self.specs.extend(
            specs
                .into_iter()
                .map(|(k, v)| (k.into(), v.into_iter().map(Into::into).collect())),
        );
        self
    }
    /// [`Self::default_provisioner_specs`] from an already parsed map (flags or a file).
    pub fn default_provisioner_map(self, map: &RequirementsMap) -> Self {
        self.default_provisioner_specs(
            map.entries()
                .iter()
                .map(|r| (r.key.clone(), r.values.clone())),
        )
    }
    /// Interruption handling (queue, rules, the controller's access): on by default.
    pub fn interruption(mut self, on: bool) -> Self {
        self.interruption = Some(on);
        self
    }
    pub fn tag_subnets(mut self, on: bool) -> Self {
        self.tag_subnets = on;
        self
    }
    pub fn namespace(mut self, namespace: impl Into<String>) -> Self {
        self.namespace = Some(namespace.into());
        self
    }
    pub fn release(mut self, release: impl Into<String>) -> Self {
        self.release = Some(release.into());
        self
    }
    pub fn helm(mut self, helm: impl Into<PathBuf>) -> Self {
        self.helm = Some(helm.into());
        self
    }
    pub fn set(mut self, key: impl Into<String>, value: impl Into<String>) -> Self {
        self.values.push((key.into(), value.into()));
        self
    }
    pub fn skip_cluster_side(mut self, skip: bool) -> Self {
        self.skip_cluster_side = skip;
        self
    }

    pub fn build(self) -> Result<KarpenterAddOn, AddonError> {
        let specs = if self.has_specs {
            let mut map = RequirementsMap::default();
            for (key, values) in self.specs {
                map.push(
                    Requirement { key, values },
                    "KarpenterAddOn.default_provisioner_specs",
                )?;
            }
            Some(map)
        } else {
            None
        };
        let namespace = self.namespace.unwrap_or_else(|| "karpenter".into());
        if let Some(e) = namespace_error(&namespace) {
            return Err(AddonError::invalid("KarpenterAddOn.namespace", e));
        }
        let release = self.release.unwrap_or_else(|| "karpenter".into());
        if release.is_empty() {
            return Err(AddonError::invalid(
                "KarpenterAddOn.release",
                "must not be empty",
            ));
        }
        for (k, _) in &self.values {
            if k.is_empty() {
                return Err(AddonError::invalid(
                    "KarpenterAddOn.set",
                    "a value has an empty key",
                ));
            }
        }
        Ok(KarpenterAddOn {
            default_provisioner_specs: specs,
            interruption: self.interruption.unwrap_or(true),
            tag_subnets: self.tag_subnets,
            namespace,
            release,
            helm: self.helm.unwrap_or_else(|| PathBuf::from("helm")),
            values: self.values,
            skip_cluster_side: self.skip_cluster_side,
        })
    }
}

/// An EKS cluster with kerf as its add-on, blueprint style.
#[derive(Debug, Clone)]
pub struct Cluster {
    pub name: String,
    /// When given, install and uninstall refuse to run in another account.
    pub account: Option<String>,
    pub settings: AwsSettings,
    pub kubeconfig: Option<PathBuf>,
    /// For render only (install reads it from EKS); a placeholder when unset.
    pub endpoint: Option<String>,
    pub add_on: KarpenterAddOn,
}

#[derive(Debug, Default)]
pub struct ClusterBuilder {
    name: Option<String>,
    account: Option<String>,
    region: Option<String>,
    endpoint_url: Option<String>,
    settings: Option<AwsSettings>,
    kubeconfig: Option<PathBuf>,
    endpoint: Option<String>,
    add_ons: Vec<KarpenterAddOn>,
}

/// Render's output: the AWS side's documents and template, and the cluster side's manifests.
#[derive(Debug, Clone)]
pub struct RenderedAll {
    pub aws: Rendered,
    pub manifests: Option<String>,
}

impl Cluster {
    pub fn builder() -> ClusterBuilder {
        ClusterBuilder::default()
    }
}

/// The region-name prefixes of AWS's partitions (aws, aws-cn, aws-us-gov and
/// the isolated ones), as the SDK's partition table matches them.
const REGION_PREFIXES: &[&str] = &[
    "af", "ap", "ca", "eu", "il", "me", "mx", "sa", "us", "cn", "us-gov", "us-iso", "us-isob",
    "us-isof", "eu-isoe",
];

/// Why `region` is not an AWS region name (`<partition prefix>-<area>-<n>`,
/// e.g. `us-east-1`, `cn-north-1`, `us-gov-west-1`); `None` when it is one.
pub fn region_error(region: &str) -> Option<String> {
    let mut parts = region.rsplitn(3, '-');
    let (number, area, prefix) = (parts.next()?, parts.next(), parts.next());
    let well_formed = !number.is_empty()
        && number.bytes().all(|b| b.is_ascii_digit())
        && area.is_some_and(|a| !a.is_empty() && a.bytes().all(|b| b.is_ascii_lowercase()))
        && prefix.is_some_and(|p| REGION_PREFIXES.contains(&p));
    (!well_formed).then(|| {
        format!(
            "{region:?} is not an AWS region (like us-east-1: one of the prefixes {}, an area, a number)",
            REGION_PREFIXES.join(", ")
        )
    })
}

/// Why `namespace` cannot be a namespace's name (a DNS-1123 label, as the
/// API server requires); `None` when it can.
pub fn namespace_error(namespace: &str) -> Option<String> {
    kerf_api::validation::names::dns1123_label_errors(namespace)
        .first()
        .map(|e| format!("{namespace:?} is not a valid namespace name: {e}"))
}

/// The longest name kerf derives, `kerf-<cluster>-instance-state-change`, is an EventBridge
/// rule name (at most 64 characters); IAM role names allow 64 with a 24-character prefix.
const MAX_CLUSTER_NAME: usize = 37;

impl ClusterBuilder {
    pub fn name(mut self, name: impl Into<String>) -> Self {
        self.name = Some(name.into());
        self
    }
    pub fn account(mut self, account: impl Into<String>) -> Self {
        self.account = Some(account.into());
        self
    }
    pub fn region(mut self, region: impl Into<String>) -> Self {
        self.region = Some(region.into());
        self
    }
    /// Every AWS endpoint overridden (a VPC endpoint, or moto in tests).
    pub fn aws_endpoint_url(mut self, url: impl Into<String>) -> Self {
        self.endpoint_url = Some(url.into());
        self
    }
    pub fn kubeconfig(mut self, path: impl Into<PathBuf>) -> Self {
        self.kubeconfig = Some(path.into());
        self
    }
    pub fn endpoint(mut self, endpoint: impl Into<String>) -> Self {
        self.endpoint = Some(endpoint.into());
        self
    }
    pub fn add_on(mut self, add_on: KarpenterAddOn) -> Self {
        self.add_ons.push(add_on);
        self
    }

    pub fn build(self) -> Result<Cluster, AddonError> {
        let name = self.name.unwrap_or_default();
        let valid = name
            .chars()
            .enumerate()
            .all(|(i, c)| c.is_ascii_alphanumeric() || (i > 0 && (c == '-' || c == '_')));
        if name.is_empty() || !valid {
            return Err(AddonError::invalid(
                "Cluster.name",
                format!(
                    "{name:?} is not an EKS cluster name (letters, digits, - and _, starting \
                     with a letter or digit)"
                ),
            ));
        }
        if name.len() > MAX_CLUSTER_NAME {
            return Err(AddonError::invalid(
                "Cluster.name",
                format!(
                    "{name:?} is longer than {MAX_CLUSTER_NAME} characters, too long for the \
                     IAM role and EventBridge rule names derived from it"
                ),
            ));
        }
        if let Some(a) = &self.account
            && (a.len() != 12 || !a.chars().all(|c| c.is_ascii_digit()))
        {
            return Err(AddonError::invalid(
                "Cluster.account",
                format!("{a:?} is not a 12-digit AWS account id"),
            ));
        }
        let mut settings = match (self.settings, self.region) {
            (Some(s), _) => s,
            (None, Some(r)) if !r.is_empty() => match region_error(&r) {
                Some(e) => return Err(AddonError::invalid("Cluster.region", e)),
                None => AwsSettings::new(r),
            },
            (None, _) => {
                return Err(AddonError::invalid(
                    "Cluster.region",
                    "required (e.g. us-east-1)",
                ));
            }
        };
        if let Some(url) = self.endpoint_url {
            settings.endpoint_url = Some(url);
        }
        let mut add_ons = self.add_ons.into_iter();
        let add_on = add_ons.next().ok_or_else(|| {
            AddonError::invalid("Cluster.add_on", "no add-on given (KarpenterAddOn)")
        })?;
        if add_ons.next().is_some() {
            return Err(AddonError::invalid(
                "Cluster.add_on",
                "given more than once (one KarpenterAddOn per cluster)",
            ));
        }
        Ok(Cluster {
            name,
            account: self.account,
            settings,
            kubeconfig: self.kubeconfig,
            endpoint: self.endpoint,
            add_on,
        })
    }
}

impl Cluster {
    pub fn aws_side(&self) -> AwsSide {
        let mut side = AwsSide::new(&self.name, self.settings.clone());
        side.interruption = self.add_on.interruption;
        side.tag_subnets = self.add_on.tag_subnets;
        side.service_account = (self.add_on.namespace.clone(), "karpenter".into());
        side
    }

    /// The cluster side, with the chart values the AWS side produced (`None`: what is known
    /// without AWS calls, placeholders for the rest).
    pub fn cluster_side(&self, installed: Option<&Installed>) -> Result<ClusterSide, AddonError> {
        let account = installed
            .map(|i| i.account.as_str())
            .or(self.account.as_deref())
            .unwrap_or("${AWS::AccountId}");
        let ctx = self.aws_side().context(account, "");
        let values = ChartValues {
            cluster_name: self.name.clone(),
            cluster_endpoint: installed
                .map(|i| i.cluster_endpoint.clone())
                .or_else(|| self.endpoint.clone())
                .unwrap_or_else(|| "https://<EKS DescribeCluster endpoint>".into()),
            region: self.settings.region.clone(),
            controller_role_arn: Some(ctx.controller_role_arn()),
            default_instance_profile: Some(ctx.instance_profile()),
            interruption_queue: self.add_on.interruption.then(|| ctx.queue()),
            extra: self.add_on.values.clone(),
        };
        let mut side = ClusterSide::new(values);
        side.namespace = self.add_on.namespace.clone();
        side.release = self.add_on.release.clone();
        side.kubeconfig = self.kubeconfig.clone();
        side.helm = self.add_on.helm.clone();
        if let Some(specs) = &self.add_on.default_provisioner_specs {
            side.default_provisioner =
                Some(DefaultProvisioner::for_cluster(&self.name, specs.clone()).build()?);
        }
        Ok(side)
    }

    async fn clients(&self) -> Result<AwsClients, AddonError> {
        let clients = AwsClients::connect(&self.settings).await;
        if let Some(want) = &self.account {
            let out = clients.sts.get_caller_identity().send().await;
            let out = out.map_err(|e| AddonError::aws("STS GetCallerIdentity", "", e))?;
            let got = out.account().unwrap_or_default();
            if got != want {
                return Err(AddonError::WrongAccount {
                    want: want.clone(),
                    got: got.to_string(),
                });
            }
        }
        Ok(clients)
    }

    /// The AWS side, then (unless skipped) the cluster side.
    pub async fn install(&self, progress: &mut dyn Progress) -> Result<Installed, AddonError> {
        let clients = self.clients().await?;
        let installed = aws::install(&self.aws_side(), &clients, progress).await?;
        if !self.add_on.skip_cluster_side {
            cluster::install(&self.cluster_side(Some(&installed))?, progress).await?;
        }
        Ok(installed)
    }

    /// The cluster side (unless skipped), then the AWS side.
    pub async fn uninstall(&self, progress: &mut dyn Progress) -> Result<(), AddonError> {
        let clients = self.clients().await?;
        if !self.add_on.skip_cluster_side {
            cluster::uninstall(&self.cluster_side(None)?, progress).await?;
        }
        aws::uninstall(&self.aws_side(), &clients, progress).await
    }

    /// Everything install would create, with no AWS or Kubernetes call.
    pub fn render(&self) -> Result<RenderedAll, AddonError> {
        let aws = aws::render(&self.aws_side(), self.account.as_deref(), None);
        let manifests = if self.add_on.skip_cluster_side {
            None
        } else {
            Some(cluster::render(&self.cluster_side(None)?)?)
        };
        Ok(RenderedAll { aws, manifests })
    }
}

#[cfg(test)]
#[path = "addon_tests.rs"]
mod tests;
