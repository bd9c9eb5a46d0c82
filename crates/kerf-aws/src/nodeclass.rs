//! Node class resolution: an EC2NodeClass (or an AWSNodeTemplate, through
//! kerf-api's conversion) against discovery results gives the subnets,
//! security groups and AMIs it selects, and the status kerf writes back, with
//! conditions that say when a selector matched nothing. All pure.

use k8s_openapi::api::core::v1::NodeSelectorRequirement;
use kerf_api::conditions::{
    self, AMIS_READY, CAPACITY_RESERVATIONS_READY, Condition, INSTANCE_PROFILE_READY, READY,
    SECURITY_GROUPS_READY, STATUS_FALSE, STATUS_TRUE, SUBNETS_READY,
};
use kerf_api::v1::{EC2NodeClass, EC2NodeClassSpec, EC2NodeClassStatus};
use kerf_api::v1alpha1::{AWSNodeTemplate, AWSNodeTemplateStatus};
use kerf_cloud::eks::Arch;

pub mod hash;
mod object;
pub mod storage;
pub use object::{class_from_context, class_from_object};
pub use storage::NodeStorage;

use crate::discovery::NetworkData;
use crate::discovery::images::{AmiFamily, ResolvedAmi};
use crate::discovery::network::{
    SecurityGroupInfo, SelectorTerm, SubnetInfo, select_security_groups, select_subnets,
    terms_or_default,
};

/// How to find a node class's AMIs.
#[derive(Clone, Debug, PartialEq, Eq)]
pub enum AmiQuery {
    /// The family's EKS-optimized image per architecture (`version` None = latest).
    Family {
        family: AmiFamily,
        version: Option<String>,
    },
    /// An SSM parameter holding an image id.
    SsmParameter(String),
    /// DescribeImages for one selector term.
    Images {
        term: SelectorTerm,
        owner: Option<String>,
    },
}

impl AmiQuery {
    /// A stable key for caching the query's result.
    pub fn cache_key(&self, kubernetes_version: &str) -> String {
        format!("{kubernetes_version}/{self:?}")
    }
}

/// A node class spec kerf's AWS provider cannot act on, naming the field.
#[derive(Debug, PartialEq, thiserror::Error)]
#[error("{field}: {message}")]
pub struct SpecError {
    pub field: &'static str,
    pub message: String,
}

/// The AMI family: `amiFamily`, else the alias term's family, else AL2023.
pub fn ami_family(spec: &EC2NodeClassSpec) -> Result<AmiFamily, SpecError> {
    if let Some(f) = &spec.ami_family {
        return AmiFamily::parse(f).ok_or_else(|| SpecError {
            field: "spec.amiFamily",
            message: format!("{f:?} is not supported by kerf's AWS provider"),
        });
    }
    match spec
        .ami_selector_terms
        .iter()
        .find_map(|t| t.alias.as_deref())
    {
        Some(alias) => {
            let family = alias.split('@').next().unwrap_or(alias);
            AmiFamily::parse(family).ok_or_else(|| SpecError {
                field: "spec.amiSelectorTerms[].alias",
                message: format!("{alias:?} names an unsupported family"),
            })
        }
        None => Ok(AmiFamily::Al2023),
    }
}

/// The AMI queries a node class's spec asks for.
pub fn ami_queries(spec: &EC2NodeClassSpec) -> Result<Vec<AmiQuery>, SpecError> {
    let family = ami_family(spec)?;
    if let Some(alias) = spec
        .ami_selector_terms
        .iter()
        .find_map(|t| t.alias.as_deref())
    {
        let version = alias
            .split_once('@')
            .map(|(_, v)| v)
            .filter(|v| *v != "latest");
        return Ok(vec![AmiQuery::Family {
            family,
            version: version.map(str::to_string),
        }]);
    }
    if spec.ami_selector_terms.is_empty() {
        if family == AmiFamily::Custom {
            return Err(SpecError {
                field: "spec.amiSelectorTerms",
                message: "a Custom amiFamily needs at least one term".into(),
            });
        }
        return Ok(vec![AmiQuery::Family {
            family,
            version: None,
        }]);
    }
    Ok(spec
        .ami_selector_terms
        .iter()
        .map(|t| match &t.ssm_parameter {
            Some(p) => AmiQuery::SsmParameter(p.clone()),
            None => AmiQuery::Images {
                term: SelectorTerm {
                    tags: t.tags.clone(),
                    id: t.id.clone(),
                    name: t.name.clone(),
                },
                owner: t.owner.clone(),
            },
        })
        .collect())
}

/// The subnet terms of a spec, or the cluster-tag default.
pub fn subnet_terms(spec: &EC2NodeClassSpec, cluster: &str) -> Vec<SelectorTerm> {
    let terms = spec
        .subnet_selector_terms
        .iter()
        .map(|t| SelectorTerm {
            tags: t.tags.clone(),
            id: t.id.clone(),
            name: None,
        })
        .collect();
    terms_or_default(terms, cluster)
}

/// The security group terms of a spec, or the cluster-tag default.
pub fn security_group_terms(spec: &EC2NodeClassSpec, cluster: &str) -> Vec<SelectorTerm> {
    let terms = spec
        .security_group_selector_terms
        .iter()
        .map(|t| SelectorTerm {
            tags: t.tags.clone(),
            id: t.id.clone(),
            name: t.name.clone(),
        })
        .collect();
    terms_or_default(terms, cluster)
}

/// What a node class selects.
#[derive(Clone, Debug, PartialEq)]
pub struct Resolution {
    pub family: AmiFamily,
    /// Where the kubelet's ephemeral storage lives, and how big it is.
    pub storage: NodeStorage,
    pub subnets: Vec<SubnetInfo>,
    pub security_groups: Vec<SecurityGroupInfo>,
    pub amis: Vec<ResolvedAmi>,
    /// `spec.capacityReservationSelectorTerms` is set: kerf refuses it
    /// (see docs/differences.md), so the class is not Ready.
    pub selects_reservations: bool,
}

/// Subnets and security groups of a spec over the discovered network, plus the AMIs found.
pub fn resolve(
    spec: &EC2NodeClassSpec,
    cluster: &str,
    network: &NetworkData,
    amis: Vec<ResolvedAmi>,
) -> Result<Resolution, SpecError> {
    let family = ami_family(spec)?;
    Ok(Resolution {
        family,
        storage: NodeStorage::from_spec(spec, family)?,
        subnets: select_subnets(&subnet_terms(spec, cluster), &network.subnets),
        security_groups: select_security_groups(
            &security_group_terms(spec, cluster),
            &network.security_groups,
        ),
        amis: crate::discovery::images::newest_per_arch(&amis),
        selects_reservations: !spec.capacity_reservation_selector_terms.is_empty(),
    })
}

fn condition(type_: &str, ok: bool, reason_bad: &str, message_bad: String) -> Condition {
    let mut c = Condition::new(type_, if ok { STATUS_TRUE } else { STATUS_FALSE });
    if !ok {
        c.reason = Some(reason_bad.to_string());
        c.message = Some(message_bad);
    }
    c
}

fn arch_requirement(ami: &ResolvedAmi) -> NodeSelectorRequirement {
    NodeSelectorRequirement {
        key: kerf_api::labels::ARCH.to_string(),
        operator: "In".to_string(),
        values: Some(vec![ami.arch.as_str().to_string()]),
    }
}

/// What an image serves, as Karpenter writes it to `status.amis`: its
/// architecture, and where the architecture has a GPU image too, whether it
/// is the one for GPU types (see [`image_for`]).
fn ami_requirements(ami: &ResolvedAmi, amis: &[ResolvedAmi]) -> Vec<NodeSelectorRequirement> {
    let mut out = vec![arch_requirement(ami)];
    if amis.iter().any(|a| a.arch == ami.arch && a.accelerated) {
        out.push(NodeSelectorRequirement {
            key: kerf_api::labels::INSTANCE_GPU_COUNT.to_string(),
            operator: if ami.accelerated {
                "Exists"
            } else {
                "DoesNotExist"
            }
            .to_string(),
            values: None,
        });
    }
    out
}

/// The image an instance type launches with: for its architecture, the GPU
/// image when the type has GPUs and the class resolved one, else the
/// standard image (a type without GPUs never takes the GPU image). None when
/// the class has no image for the architecture.
pub fn image_for<'a>(
    amis: &'a [ResolvedAmi],
    it: &kerf_core::instance_type::InstanceType,
) -> Option<&'a ResolvedAmi> {
    let arch = match it.labels.get(kerf_api::labels::ARCH).map(String::as_str) {
        Some("arm64") => Arch::Arm64,
        _ => Arch::Amd64,
    };
    let gpus = it
        .labels
        .get(kerf_api::labels::INSTANCE_GPU_COUNT)
        .and_then(|n| n.parse::<u32>().ok())
        .unwrap_or(0);
    let of = |accelerated: bool| {
        amis.iter()
            .find(|a| a.arch == arch && a.accelerated == accelerated)
    };
    if gpus > 0 {
        of(true).or_else(|| of(false))
    } else {
        of(false)
    }
}

/// The EC2NodeClass status for a resolution and the instance profile nodes
/// launch with (none for a class that names neither `role` nor
/// `instanceProfile`; `Err` with AWS's reason when the profile for
/// `spec.role` could not be made, which leaves the class not Ready but still
/// writes what resolved). Conditions carry no transition times; the
/// controller keeps the previous time when a status does not change.
pub fn status(
    class_name: &str,
    r: &Resolution,
    instance_profile: std::result::Result<Option<&str>, &str>,
) -> EC2NodeClassStatus {
    let subnets_ok = !r.subnets.is_empty();
    let groups_ok = !r.security_groups.is_empty();
    let amis_ok = !r.amis.is_empty();
    let mut conditions = vec![
        condition(
            SUBNETS_READY,
            subnets_ok,
            "SubnetsNotFound",
            format!("EC2NodeClass {class_name}: spec.subnetSelectorTerms matched no subnets"),
        ),
        condition(
            SECURITY_GROUPS_READY,
            groups_ok,
            "SecurityGroupsNotFound",
            format!(
                "EC2NodeClass {class_name}: spec.securityGroupSelectorTerms matched no security groups"
            ),
        ),
        condition(
            AMIS_READY,
            amis_ok,
            "AMINotFound",
            format!(
                "EC2NodeClass {class_name}: spec.amiSelectorTerms matched no AMIs ({} family)",
                r.family.as_str()
            ),
        ),
        condition(
            INSTANCE_PROFILE_READY,
            instance_profile.is_ok(),
            "InstanceProfileNotReady",
            format!(
                "EC2NodeClass {class_name}: spec.role: {}",
                instance_profile.err().unwrap_or_default()
            ),
        ),
    ];
    conditions.push(condition(
        CAPACITY_RESERVATIONS_READY,
        !r.selects_reservations,
        "NotSupported",
        format!(
            "EC2NodeClass {class_name}: spec.capacityReservationSelectorTerms: kerf does not \
             launch into capacity reservations (Karpenter's ReservedCapacity feature)"
        ),
    ));
    let not_ready: Vec<&str> = conditions
        .iter()
        .filter(|c| !c.is_true())
        .map(|c| c.type_.as_str())
        .collect();
    conditions.push(condition(
        READY,
        not_ready.is_empty(),
        "NotReady",
        format!("not ready: {}", not_ready.join(", ")),
    ));
    EC2NodeClassStatus {
        subnets: r
            .subnets
            .iter()
            .map(|s| kerf_api::v1::Subnet {
                id: s.id.clone(),
                zone: s.zone.clone(),
                zone_id: s.zone_id.clone(),
            })
            .collect(),
        security_groups: r
            .security_groups
            .iter()
            .map(|g| kerf_api::v1::SecurityGroup {
                id: g.id.clone(),
                name: g.name.clone(),
            })
            .collect(),
        capacity_reservations: vec![],
        amis: r
            .amis
            .iter()
            .map(|a| kerf_api::v1::Ami {
                id: a.id.clone(),
                name: a.name.clone(),
                deprecated: a.deprecated,
                requirements: ami_requirements(a, &r.amis),
            })
            .collect(),
        instance_profile: instance_profile.ok().flatten().map(str::to_string),
        conditions,
    }
}

/// Carries each condition's transition time over from `old` when its status
/// did not change, stamping `now` on the ones that did (or are new).
pub fn keep_transition_times(
    new: &mut [Condition],
    old: &[Condition],
    now: &k8s_openapi::apimachinery::pkg::apis::meta::v1::Time,
) {
    for c in new {
        c.last_transition_time = match conditions::find(old, &c.type_) {
            Some(prev) if prev.status == c.status && prev.last_transition_time.is_some() => {
                prev.last_transition_time.clone()
            }
            _ => Some(now.clone()),
        };
    }
}

/// The conditions that are not true, as `(reason, message)`, for Warning Events.
pub fn problems(status: &EC2NodeClassStatus) -> Vec<(String, String)> {
    status
        .conditions
        .iter()
        .filter(|c| !c.is_true() && c.type_ != READY)
        .map(|c| {
            (
                c.reason.clone().unwrap_or_else(|| c.type_.clone()),
                c.message.clone().unwrap_or_default(),
            )
        })
        .collect()
}

/// Whether the status says the class can launch.
pub fn is_ready(status: &EC2NodeClassStatus) -> bool {
    conditions::find(&status.conditions, READY).is_some_and(Condition::is_true)
}

/// An AWSNodeTemplate as the EC2NodeClass kerf resolves it as.
pub fn node_template_class(t: &AWSNodeTemplate) -> EC2NodeClass {
    let (class, warnings) = kerf_api::convert::node_template_to_node_class(t);
    for w in warnings {
        tracing::debug!(template = ?t.metadata.name, warning = %w, "AWSNodeTemplate conversion");
    }
    class
}

/// The v1alpha1 status of an AWSNodeTemplate from its EC2NodeClass status.
pub fn node_template_status(s: &EC2NodeClassStatus) -> AWSNodeTemplateStatus {
    AWSNodeTemplateStatus {
        subnets: s
            .subnets
            .iter()
            .map(|x| kerf_api::v1alpha1::Subnet {
                id: x.id.clone(),
                zone: x.zone.clone(),
            })
            .collect(),
        security_groups: s
            .security_groups
            .iter()
            .map(|x| kerf_api::v1alpha1::SecurityGroup {
                id: x.id.clone(),
                name: x.name.clone(),
            })
            .collect(),
        amis: s
            .amis
            .iter()
            .map(|x| kerf_api::v1alpha1::Ami {
                id: x.id.clone(),
                name: x.name.clone(),
                requirements: x.requirements.clone(),
            })
            .collect(),
        conditions: s.conditions.clone(),
    }
}

#[cfg(test)]
mod tests;
