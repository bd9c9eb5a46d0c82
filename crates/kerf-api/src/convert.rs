//! v1alpha5 → v1 conversion: a Provisioner (plus its AWSNodeTemplate, or its
//! inline `provider`) becomes a NodePool plus an EC2NodeClass.
//!
//! | v1alpha5 | v1 |
//! |---|---|
//! | `labels`, `annotations` | `template.metadata` |
//! | `taints`, `startupTaints`, `requirements` | `template.spec` |
//! | `providerRef` / inline `provider` | `nodeClassRef` → EC2NodeClass (named after the template, or after the Provisioner for an inline provider) |
//! | `ttlSecondsAfterEmpty: N` | `consolidationPolicy: WhenEmpty`, `consolidateAfter: Ns` |
//! | `consolidation.enabled: true` | `WhenEmptyOrUnderutilized`, `consolidateAfter: 0s` |
//! | neither | `WhenEmpty`, `consolidateAfter: Never` (v1alpha5 never removed empty nodes) |
//! | `ttlSecondsUntilExpired: N` / unset | `expireAfter: Ns` / `Never` |
//! | `limits.resources`, `weight` | `limits`, `weight` |
//! | `kubeletConfiguration` | `EC2NodeClass.spec.kubelet` (`containerRuntime` dropped) |
//! | `subnetSelector`, `securityGroupSelector` | one `tags` term, or one `id` term per `aws-ids` entry |
//! | `amiSelector` | `tags`/`id`/`name`/`owner` terms; without one, an `alias` for the family's latest AMI |
//! | `instanceProfile` | `instanceProfile` |
//!
//! What cannot be carried over is reported in [`Converted::warnings`].

use std::collections::BTreeMap;

use k8s_openapi::apimachinery::pkg::apis::meta::v1::ObjectMeta;

use crate::duration::NillableDuration;
use crate::v1::{
    self, AMISelectorTerm, Disruption, EC2NodeClass, EC2NodeClassSpec, NodeClaimTemplate,
    NodeClaimTemplateSpec, NodeClassReference, NodePool, NodePoolSpec, SecurityGroupSelectorTerm,
    SubnetSelectorTerm, TemplateMetadata,
};
use crate::v1alpha1::{AWSNodeTemplate, AwsProvider};
use crate::v1alpha5::{KubeletConfiguration, Provisioner};

/// The result of converting one Provisioner.
#[derive(Clone, Debug, PartialEq)]
pub struct Converted {
    pub node_pool: NodePool,
    /// `None` when the Provisioner references a template that was not supplied.
    pub node_class: Option<EC2NodeClass>,
    /// Settings that were dropped or changed meaning.
    pub warnings: Vec<String>,
}

#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
pub enum ConversionError {
    #[error(
        "provisioner {provisioner:?} references AWSNodeTemplate {expected:?}, but {given:?} was supplied"
    )]
    TemplateMismatch {
        provisioner: String,
        expected: String,
        given: String,
    },
    #[error("provisioner {0:?} has neither provider nor providerRef")]
    NoProvider(String),
}

/// Converts a Provisioner and, if it uses `providerRef`, the AWSNodeTemplate it names.
pub fn provisioner_to_v1(
    p: &Provisioner,
    template: Option<&AWSNodeTemplate>,
) -> Result<Converted, ConversionError> {
    let name = p.metadata.name.clone().unwrap_or_default();
    let mut warnings = Vec::new();
    let spec = &p.spec;

    let (class_name, node_class) = match (&spec.provider, &spec.provider_ref) {
        (Some(provider), _) => {
            let class = node_class(
                &name,
                provider,
                None,
                spec.kubelet_configuration.as_ref(),
                &mut warnings,
            );
            (name.clone(), Some(class))
        }
        (None, Some(r)) => {
            match template {
                Some(t) if t.metadata.name.as_deref() != Some(r.name.as_str()) => {
                    return Err(ConversionError::TemplateMismatch {
                        provisioner: name,
                        expected: r.name.clone(),
                        given: t.metadata.name.clone().unwrap_or_default(),
                    });
                }
                Some(t) => {
                    let s = &t.spec;
                    let extra = TemplateExtras {
                        user_data: s.user_data.clone(),
                        ami_selector: s.ami_selector.clone(),
                        detailed_monitoring: s.detailed_monitoring,
                        associate_public_ip_address: s.associate_public_ip_address,
                    };
                    let class = node_class(
                        &r.name,
                        &s.provider,
                        Some(extra),
                        spec.kubelet_configuration.as_ref(),
                        &mut warnings,
                    );
                    (r.name.clone(), Some(class))
                }
                None => {
                    if spec.kubelet_configuration.is_some() {
                        warnings.push("kubeletConfiguration moves to the EC2NodeClass, which was not converted".to_string());
                    }
                    (r.name.clone(), None)
                }
            }
        }
        (None, None) => return Err(ConversionError::NoProvider(name)),
    };

    let (policy, after) = match (spec.ttl_seconds_after_empty, spec.consolidation_enabled()) {
        (_, true) => (
            v1::ConsolidationPolicy::WhenEmptyOrUnderutilized,
            NillableDuration::from_secs(0),
        ),
        (Some(ttl), false) => (
            v1::ConsolidationPolicy::WhenEmpty,
            NillableDuration::from_secs(ttl.max(0)),
        ),
        (None, false) => (v1::ConsolidationPolicy::WhenEmpty, NillableDuration::NEVER),
    };
    let expire_after = spec
        .ttl_seconds_until_expired
        .map_or(NillableDuration::NEVER, |s| {
            NillableDuration::from_secs(s.max(0))
        });

    let node_pool = NodePool {
        metadata: ObjectMeta {
            name: Some(name.clone()),
            // Pool-level settings kerf reads from annotations (the minimum
            // saving of a consolidation) hold for a Provisioner too.
            annotations: p.metadata.annotations.clone(),
            ..ObjectMeta::default()
        },
        spec: NodePoolSpec {
            template: NodeClaimTemplate {
                metadata: TemplateMetadata {
                    labels: spec.labels.clone(),
                    annotations: spec.annotations.clone(),
                },
                spec: NodeClaimTemplateSpec {
                    taints: spec.taints.clone(),
                    startup_taints: spec.startup_taints.clone(),
                    requirements: spec.requirements.iter().cloned().map(Into::into).collect(),
                    node_class_ref: NodeClassReference {
                        group: v1::AWS_GROUP.to_string(),
                        kind: "EC2NodeClass".to_string(),
                        name: class_name,
                    },
                    termination_grace_period: None,
                    expire_after: Some(expire_after),
                },
            },
            disruption: Disruption {
                consolidate_after: Some(after),
                consolidation_policy: Some(policy),
                budgets: None,
            },
            limits: spec
                .limits
                .as_ref()
                .map(|l| l.resources.clone())
                .unwrap_or_default(),
            weight: spec.weight,
            replicas: None,
        },
        status: None,
    };
    Ok(Converted {
        node_pool,
        node_class,
        warnings,
    })
}

/// An AWSNodeTemplate on its own as the EC2NodeClass it converts to (named
/// after the template, without Provisioner-level kubelet settings), with the
/// warnings the conversion produced.
pub fn node_template_to_node_class(t: &AWSNodeTemplate) -> (EC2NodeClass, Vec<String>) {
    let mut warnings = Vec::new();
    let s = &t.spec;
    let extra = TemplateExtras {
        user_data: s.user_data.clone(),
        ami_selector: s.ami_selector.clone(),
        detailed_monitoring: s.detailed_monitoring,
        associate_public_ip_address: s.associate_public_ip_address,
    };
    let name = t.metadata.name.clone().unwrap_or_default();
    let class = node_class(&name, &s.provider, Some(extra), None, &mut warnings);
    (class, warnings)
}

/// AWSNodeTemplate fields that an inline provider does not have.
#[derive(Default)]
struct TemplateExtras {
    user_data: Option<String>,
    ami_selector: Option<BTreeMap<String, String>>,
    detailed_monitoring: Option<bool>,
    associate_public_ip_address: Option<bool>,
}

fn node_class(
    name: &str,
    p: &AwsProvider,
    extra: Option<TemplateExtras>,
    kubelet: Option<&KubeletConfiguration>,
    warnings: &mut Vec<String>,
) -> EC2NodeClass {
    let extra = extra.unwrap_or_default();
    if p.launch_template.is_some() {
        warnings.push("launchTemplate is not supported in v1 and was dropped".to_string());
    }
    if !p.extra.is_empty() {
        let keys: Vec<&str> = p.extra.keys().map(String::as_str).collect();
        warnings.push(format!(
            "unknown provider fields dropped: {}",
            keys.join(", ")
        ));
    }
    if p.subnet_selector.is_none() {
        warnings.push("subnetSelector is unset; subnetSelectorTerms is empty".to_string());
    }
    if p.security_group_selector.is_none() {
        warnings.push(
            "securityGroupSelector is unset; securityGroupSelectorTerms is empty".to_string(),
        );
    }
    if p.instance_profile.is_none() {
        warnings.push(
            "instanceProfile is unset; set role or instanceProfile on the EC2NodeClass".to_string(),
        );
    }
    let subnet_selector_terms = p
        .subnet_selector
        .as_ref()
        .map(|s| {
            selector_terms(
                s,
                &["aws-ids"],
                |id| SubnetSelectorTerm {
                    id: Some(id),
                    ..Default::default()
                },
                |tags| SubnetSelectorTerm {
                    tags,
                    ..Default::default()
                },
            )
        })
        .unwrap_or_default();
    let security_group_selector_terms = p
        .security_group_selector
        .as_ref()
        .map(|s| {
            selector_terms(
                s,
                &["aws-ids"],
                |id| SecurityGroupSelectorTerm {
                    id: Some(id),
                    ..Default::default()
                },
                |tags| SecurityGroupSelectorTerm {
                    tags,
                    ..Default::default()
                },
            )
        })
        .unwrap_or_default();

    let family = p.ami_family.clone().unwrap_or_else(|| "AL2".to_string());
    let (ami_selector_terms, ami_family) = match &extra.ami_selector {
        Some(sel) => (ami_terms(sel), Some(family)),
        None => match v1::ALIAS_FAMILIES.iter().find(|(_, f)| *f == family) {
            Some((alias, _)) => (
                vec![AMISelectorTerm {
                    alias: Some(format!("{alias}@latest")),
                    ..Default::default()
                }],
                None,
            ),
            None => {
                warnings.push(format!(
                    "amiFamily {family} has no v1 alias; set amiSelectorTerms"
                ));
                (Vec::new(), Some(family))
            }
        },
    };

    let kubelet = kubelet.map(|k| {
        if k.container_runtime.is_some() {
            warnings.push(
                "kubeletConfiguration.containerRuntime is not supported in v1 and was dropped"
                    .to_string(),
            );
        }
        v1::KubeletConfiguration {
            cluster_dns: k.cluster_dns.clone(),
            max_pods: k.max_pods,
            pods_per_core: k.pods_per_core,
            system_reserved: k
                .system_reserved
                .iter()
                .map(|(k, v)| (k.clone(), v.0.clone()))
                .collect(),
            kube_reserved: k
                .kube_reserved
                .iter()
                .map(|(k, v)| (k.clone(), v.0.clone()))
                .collect(),
            eviction_hard: k.eviction_hard.clone(),
            eviction_soft: k.eviction_soft.clone(),
            eviction_soft_grace_period: k.eviction_soft_grace_period.clone(),
            eviction_max_pod_grace_period: k.eviction_max_pod_grace_period,
            image_gc_high_threshold_percent: k.image_gc_high_threshold_percent,
            image_gc_low_threshold_percent: k.image_gc_low_threshold_percent,
            cpu_cfs_quota: k.cpu_cfs_quota,
        }
    });

    EC2NodeClass {
        metadata: ObjectMeta {
            name: Some(name.to_string()),
            ..ObjectMeta::default()
        },
        spec: EC2NodeClassSpec {
            subnet_selector_terms,
            security_group_selector_terms,
            ami_selector_terms,
            ami_family,
            user_data: extra.user_data,
            instance_profile: p.instance_profile.clone(),
            tags: p.tags.clone(),
            kubelet,
            block_device_mappings: p
                .block_device_mappings
                .iter()
                .map(|m| v1::BlockDeviceMapping {
                    device_name: m.device_name.clone(),
                    ebs: m.ebs.clone(),
                    root_volume: false,
                })
                .collect(),
            detailed_monitoring: extra.detailed_monitoring,
            associate_public_ip_address: extra.associate_public_ip_address,
            metadata_options: p.metadata_options.clone(),
            context: p.context.clone(),
            ..EC2NodeClassSpec::default()
        },
        status: None,
    }
}

/// `{aws-ids: "a,b"}` → one ID term per ID; other keys → one tag term.
fn selector_terms<T>(
    sel: &BTreeMap<String, String>,
    id_keys: &[&str],
    by_id: impl Fn(String) -> T,
    by_tags: impl Fn(BTreeMap<String, String>) -> T,
) -> Vec<T> {
    let mut terms = Vec::new();
    let mut tags = BTreeMap::new();
    for (k, v) in sel {
        if id_keys.contains(&k.as_str()) {
            terms.extend(
                v.split(',')
                    .map(str::trim)
                    .filter(|s| !s.is_empty())
                    .map(|id| by_id(id.to_string())),
            );
        } else {
            tags.insert(k.clone(), v.clone());
        }
    }
    if !tags.is_empty() {
        terms.push(by_tags(tags));
    }
    terms
}

/// v1alpha1 `amiSelector` (`aws-ids`/`aws::ids`, `aws::name`, `aws::owners`, tags) → v1 terms.
fn ami_terms(sel: &BTreeMap<String, String>) -> Vec<AMISelectorTerm> {
    let mut terms: Vec<AMISelectorTerm> = Vec::new();
    let mut rest = BTreeMap::new();
    for (k, v) in sel {
        if k == "aws-ids" || k == "aws::ids" {
            terms.extend(
                v.split(',')
                    .map(str::trim)
                    .filter(|s| !s.is_empty())
                    .map(|id| AMISelectorTerm {
                        id: Some(id.to_string()),
                        ..Default::default()
                    }),
            );
        } else {
            rest.insert(k.clone(), v.clone());
        }
    }
    let name = rest.remove("aws::name");
    let owners = rest.remove("aws::owners");
    if name.is_some() || owners.is_some() || !rest.is_empty() {
        let owner_list: Vec<Option<String>> = match &owners {
            Some(o) => o.split(',').map(|s| Some(s.trim().to_string())).collect(),
            None => vec![None],
        };
        for owner in owner_list {
            terms.push(AMISelectorTerm {
                name: name.clone(),
                owner,
                tags: rest.clone(),
                ..Default::default()
            });
        }
    }
    terms
}
