//! A requirements map (`--requirement key=v1,v2` flags or a file) turned into the default
//! Provisioner, equivalent to an EKS blueprint's `defaultProvisionerSpecs`.
//!
//! Every entry becomes one requirement with operator `In`, in the order given (flags in
//! command-line order, a file in document order), values in the order written.
//!
//! The fields the blueprint's add-on fills besides the requirements, and how kerf fills them
//! (see [`DefaultProvisioner::for_cluster`]):
//! - `metadata.name`: `default`.
//! - `spec.provider.instanceProfile`: `KarpenterNodeInstanceProfile-<cluster>`, the instance
//!   profile the AWS side creates (an inline `provider`, not a `providerRef`, since the
//!   blueprint creates no AWSNodeTemplate). [`DefaultProvisioner::provider_ref`] switches to a
//!   `providerRef` instead.
//! - `spec.ttlSecondsAfterEmpty`: 30, the blueprint's default; `None` turns emptiness off.
//! - subnet and security group selectors: unset by default, so the controller selects what is
//!   tagged `kubernetes.io/cluster/<cluster>` (the tags `--tag-subnets` puts there); set them
//!   with [`DefaultProvisioner::subnet_selector`] / [`DefaultProvisioner::security_group_selector`].
//!
//! The result is checked with kerf-api's validation (the webhook's rules), so a bad key or
//! value fails here, naming the requirement, rather than at the API server.

use std::collections::BTreeMap;
use std::path::Path;

use k8s_openapi::api::core::v1::NodeSelectorRequirement;
use kerf_api::v1alpha1::AwsProvider;
use kerf_api::v1alpha5::{ProviderRef, Provisioner, ProvisionerSpec};

use crate::error::AddonError;

/// Name of the Provisioner the add-on creates.
pub const DEFAULT_PROVISIONER_NAME: &str = "default";
/// `ttlSecondsAfterEmpty` of the blueprint's default Provisioner.
pub const DEFAULT_TTL_SECONDS_AFTER_EMPTY: i64 = 30;

/// The values Karpenter knows for `karpenter.sh/capacity-type`.
const CAPACITY_TYPES: &[&str] = &[
    kerf_api::labels::CAPACITY_TYPE_ON_DEMAND,
    kerf_api::labels::CAPACITY_TYPE_SPOT,
];

/// One entry of the map: a label key and the values it may take (operator `In`).
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Requirement {
    pub key: String,
    pub values: Vec<String>,
}

/// Requirements in the order they were given; keys are unique.
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct RequirementsMap {
    entries: Vec<Requirement>,
}

impl RequirementsMap {
    pub fn entries(&self) -> &[Requirement] {
        &self.entries
    }

    pub fn is_empty(&self) -> bool {
        self.entries.is_empty()
    }

    /// Adds an entry; `origin` names where it came from in the error for a repeated key.
    pub fn push(&mut self, requirement: Requirement, origin: &str) -> Result<(), AddonError> {
        if self.entries.iter().any(|r| r.key == requirement.key) {
            return Err(AddonError::invalid(
                origin,
                format!(
                    "key {:?} is given more than once (list every value in one entry: {}=a,b)",
                    requirement.key, requirement.key
                ),
            ));
        }
        self.entries.push(requirement);
        Ok(())
    }

    /// From `--requirement` flag values (`key=v1,v2`).
    pub fn from_flags<I, S>(flags: I) -> Result<Self, AddonError>
    where
        I: IntoIterator<Item = S>,
        S: AsRef<str>,
    {
        let mut map = RequirementsMap::default();
        for flag in flags {
            let flag = flag.as_ref();
            let origin = format!("--requirement {flag:?}");
            map.push(parse_flag(flag)?, &origin)?;
        }
        Ok(map)
    }

    /// From a YAML map of key to a list of values (a single string is one value):
    ///
    /// ```yaml
    /// node.kubernetes.io/instance-type: [m5.2xlarge]
    /// kubernetes.io/arch: [arm64, amd64]
    /// ```
    pub fn from_yaml(text: &str, origin: &str) -> Result<Self, AddonError> {
        let doc: serde_yaml::Value =
            serde_yaml::from_str(text).map_err(|source| AddonError::RequirementsYaml {
                origin: origin.to_string(),
                source,
            })?;
        let mapping = match doc {
            serde_yaml::Value::Mapping(m) => m,
            serde_yaml::Value::Null => serde_yaml::Mapping::new(),
            _ => {
                return Err(AddonError::invalid(
                    origin,
                    "expected a map of requirement key to a list of values",
                ));
            }
        };
        let mut map = RequirementsMap::default();
        for (key, values) in mapping {
            let Some(key) = key.as_str().map(str::to_string) else {
                return Err(AddonError::invalid(
                    origin,
                    format!("every key must be a string (got {key:?})"),
                ));
            };
            let at = format!("{origin}: {key}");
            let values: Vec<String> = match values {
                serde_yaml::Value::String(s) => vec![s],
                serde_yaml::Value::Sequence(items) => items
                    .iter()
                    .map(|v| {
                        scalar(v)
                            .ok_or_else(|| AddonError::invalid(&at, "every value must be a string"))
                    })
                    .collect::<Result<_, _>>()?,
                other => {
                    return Err(AddonError::invalid(
                        &at,
                        format!("expected a list of values (got {other:?})"),
                    ));
                }
            };
            check_values(&key, &values, &at)?;
            map.push(Requirement { key, values }, origin)?;
        }
        Ok(map)
    }

    /// Reads [`RequirementsMap::from_yaml`] from a file.
    pub fn from_file(path: &Path) -> Result<Self, AddonError> {
        let text = std::fs::read_to_string(path).map_err(AddonError::io("reading", path))?;
        Self::from_yaml(&text, &path.display().to_string())
    }
}

fn scalar(v: &serde_yaml::Value) -> Option<String> {
    match v {
        serde_yaml::Value::String(s) => Some(s.clone()),
        serde_yaml::Value::Number(n) => Some(n.to_string()),
        serde_yaml::Value::Bool(b) => Some(b.to_string()),
        _ => None,
    }
}

fn check_values(key: &str, values: &[String], at: &str) -> Result<(), AddonError> {
    if key.trim().is_empty() {
        return Err(AddonError::invalid(at, "the key is empty"));
    }
    if values.is_empty() {
        return Err(AddonError::invalid(
            at,
            "no values (operator In needs at least one)",
        ));
    }
    if values.iter().any(|v| v.trim().is_empty()) {
        return Err(AddonError::invalid(at, "a value is empty"));
    }
    // Karpenter's well-known values: a capacity type it does not know would
    // leave the Provisioner unable to launch anything.
    if key == kerf_api::labels::CAPACITY_TYPE
        && let Some(v) = values
            .iter()
            .find(|v| !CAPACITY_TYPES.contains(&v.as_str()))
    {
        return Err(AddonError::invalid(
            at,
            format!(
                "{v:?} is not a capacity type (one of {})",
                CAPACITY_TYPES.join(", ")
            ),
        ));
    }
    Ok(())
}

/// One `--requirement` value: `key=v1,v2`.
pub fn parse_flag(flag: &str) -> Result<Requirement, AddonError> {
    let at = format!("--requirement {flag:?}");
    let Some((key, values)) = flag.split_once('=') else {
        return Err(AddonError::invalid(
            at,
            "expected key=value1,value2 (no '=')",
        ));
    };
    let key = key.trim().to_string();
    let values: Vec<String> = if values.trim().is_empty() {
        Vec::new()
    } else {
        values.split(',').map(|v| v.trim().to_string()).collect()
    };
    check_values(&key, &values, &at)?;
    Ok(Requirement { key, values })
}

/// How the default Provisioner is built: the requirements and the fields the blueprint sets.
#[derive(Debug, Clone, PartialEq)]
pub struct DefaultProvisioner {
    pub requirements: RequirementsMap,
    /// Inline `provider.instanceProfile`; ignored when `provider_ref` is set.
    pub instance_profile: Option<String>,
    /// An AWSNodeTemplate to reference instead of an inline provider.
    pub provider_ref: Option<String>,
    pub subnet_selector: Option<BTreeMap<String, String>>,
    pub security_group_selector: Option<BTreeMap<String, String>>,
    pub ttl_seconds_after_empty: Option<i64>,
}

impl DefaultProvisioner {
    /// The blueprint's defaults for `cluster` (see the module doc).
    pub fn for_cluster(cluster: &str, requirements: RequirementsMap) -> Self {
        DefaultProvisioner {
            requirements,
            instance_profile: Some(format!("KarpenterNodeInstanceProfile-{cluster}")),
            provider_ref: None,
            subnet_selector: None,
            security_group_selector: None,
            ttl_seconds_after_empty: Some(DEFAULT_TTL_SECONDS_AFTER_EMPTY),
        }
    }

    pub fn provider_ref(mut self, node_template: impl Into<String>) -> Self {
        self.provider_ref = Some(node_template.into());
        self
    }

    pub fn subnet_selector(mut self, tags: BTreeMap<String, String>) -> Self {
        self.subnet_selector = Some(tags);
        self
    }

    pub fn security_group_selector(mut self, tags: BTreeMap<String, String>) -> Self {
        self.security_group_selector = Some(tags);
        self
    }

    pub fn ttl_seconds_after_empty(mut self, ttl: Option<i64>) -> Self {
        self.ttl_seconds_after_empty = ttl;
        self
    }

    /// The Provisioner named `default`, validated with the webhook's rules.
    pub fn build(&self) -> Result<Provisioner, AddonError> {
        let requirements = self
            .requirements
            .entries()
            .iter()
            .map(|r| NodeSelectorRequirement {
                key: r.key.clone(),
                operator: "In".into(),
                values: Some(r.values.clone()),
            })
            .collect();
        let (provider, provider_ref) = match &self.provider_ref {
            Some(name) => (
                None,
                Some(ProviderRef {
                    name: name.clone(),
                    ..ProviderRef::default()
                }),
            ),
            None => (
                Some(AwsProvider {
                    instance_profile: self.instance_profile.clone(),
                    subnet_selector: self.subnet_selector.clone(),
                    security_group_selector: self.security_group_selector.clone(),
                    ..AwsProvider::default()
                }),
                None,
            ),
        };
        let spec = ProvisionerSpec {
            requirements,
            provider,
            provider_ref,
            ttl_seconds_after_empty: self.ttl_seconds_after_empty,
            ..ProvisionerSpec::default()
        };
        let provisioner = Provisioner::new(DEFAULT_PROVISIONER_NAME, spec);
        provisioner
            .validate()
            .map_err(|e| AddonError::InvalidProvisioner {
                details: describe(&e, self.requirements.entries()),
            })?;
        Ok(provisioner)
    }
}

/// The validation errors, with `spec.requirements[i]` also named by its map entry.
fn describe(e: &kerf_api::validation::ValidationError, entries: &[Requirement]) -> String {
    e.errors
        .iter()
        .map(|fe| {
            let entry = fe
                .path
                .strip_prefix("spec.requirements[")
                .and_then(|rest| rest.split(']').next())
                .and_then(|i| i.parse::<usize>().ok())
                .and_then(|i| entries.get(i));
            match entry {
                Some(r) => format!("requirement {}={}: {}", r.key, r.values.join(","), fe),
                None => fe.to_string(),
            }
        })
        .collect::<Vec<_>>()
        .join("\n")
}
