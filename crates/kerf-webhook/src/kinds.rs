//! The four kinds the webhook admits, how an AdmissionRequest names them, and
//! their validate/default functions from `kerf-api`.

use kerf_api::ValidationError;
use kerf_api::v1::{EC2NodeClass, NodePool};
use kerf_api::v1alpha1::AWSNodeTemplate;
use kerf_api::v1alpha5::Provisioner;
use kube::core::GroupVersionKind;
use serde::Serialize;
use serde::de::DeserializeOwned;

/// A kind served by the webhook.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
pub enum Kind {
    /// `karpenter.sh/v1alpha5` Provisioner.
    Provisioner,
    /// `karpenter.k8s.aws/v1alpha1` AWSNodeTemplate.
    AwsNodeTemplate,
    /// `karpenter.sh/v1` NodePool.
    NodePool,
    /// `karpenter.k8s.aws/v1` EC2NodeClass.
    Ec2NodeClass,
}

impl Kind {
    /// Every kind, in the order the webhook configurations list them.
    pub const ALL: [Kind; 4] = [
        Kind::Provisioner,
        Kind::AwsNodeTemplate,
        Kind::NodePool,
        Kind::Ec2NodeClass,
    ];

    /// API group.
    pub fn group(self) -> &'static str {
        match self {
            Kind::Provisioner | Kind::NodePool => "karpenter.sh",
            Kind::AwsNodeTemplate | Kind::Ec2NodeClass => "karpenter.k8s.aws",
        }
    }

    /// API version.
    pub fn version(self) -> &'static str {
        match self {
            Kind::Provisioner => "v1alpha5",
            Kind::AwsNodeTemplate => "v1alpha1",
            Kind::NodePool | Kind::Ec2NodeClass => "v1",
        }
    }

    /// Kind name as in `kind:`.
    pub fn name(self) -> &'static str {
        match self {
            Kind::Provisioner => "Provisioner",
            Kind::AwsNodeTemplate => "AWSNodeTemplate",
            Kind::NodePool => "NodePool",
            Kind::Ec2NodeClass => "EC2NodeClass",
        }
    }

    /// Resource (plural) name, as webhook rules name it.
    pub fn plural(self) -> &'static str {
        match self {
            Kind::Provisioner => "provisioners",
            Kind::AwsNodeTemplate => "awsnodetemplates",
            Kind::NodePool => "nodepools",
            Kind::Ec2NodeClass => "ec2nodeclasses",
        }
    }

    /// The kind an AdmissionRequest's `kind` names, if the webhook serves it.
    pub fn from_gvk(gvk: &GroupVersionKind) -> Option<Kind> {
        Kind::ALL
            .into_iter()
            .find(|k| k.group() == gvk.group && k.version() == gvk.version && k.name() == gvk.kind)
    }

    /// Parses `object` as this kind and runs its `validate()`. `Err` is the
    /// message for the AdmissionResponse (one line per problem, each naming
    /// the field).
    pub fn validate(self, object: serde_json::Value) -> Result<(), String> {
        match self {
            Kind::Provisioner => parse::<Provisioner>(self, object)?.validate(),
            Kind::AwsNodeTemplate => parse::<AWSNodeTemplate>(self, object)?.validate(),
            Kind::NodePool => parse::<NodePool>(self, object)?.validate(),
            Kind::Ec2NodeClass => parse::<EC2NodeClass>(self, object)?.validate(),
        }
        .map_err(|e| denial(&e))
    }

    /// Parses `object` as this kind and returns it serialised before and after
    /// its `set_defaults()`, both through the typed representation, so a diff
    /// of the two shows only what defaulting changed.
    pub fn default(
        self,
        object: serde_json::Value,
    ) -> Result<(serde_json::Value, serde_json::Value), String> {
        match self {
            Kind::Provisioner => defaulted(self, object, Provisioner::set_defaults),
            // v0.31's AWSNodeTemplate had no defaults; nothing to add.
            Kind::AwsNodeTemplate => defaulted(self, object, |_: &mut AWSNodeTemplate| {}),
            Kind::NodePool => defaulted(self, object, NodePool::set_defaults),
            Kind::Ec2NodeClass => defaulted(self, object, EC2NodeClass::set_defaults),
        }
    }
}

fn parse<T: DeserializeOwned>(kind: Kind, object: serde_json::Value) -> Result<T, String> {
    let name = object
        .pointer("/metadata/name")
        .and_then(|n| n.as_str())
        .unwrap_or_default()
        .to_string();
    serde_path_to_error::deserialize(object)
        .map_err(|e| format!("{} {name:?}: {}: {}", kind.name(), e.path(), e.inner()))
}

fn defaulted<T: DeserializeOwned + Serialize>(
    kind: Kind,
    object: serde_json::Value,
    set_defaults: impl FnOnce(&mut T),
) -> Result<(serde_json::Value, serde_json::Value), String> {
    let mut typed: T = parse(kind, object)?;
    let before = to_value(kind, &typed)?;
    set_defaults(&mut typed);
    let after = to_value(kind, &typed)?;
    Ok((before, after))
}

fn to_value<T: Serialize>(kind: Kind, typed: &T) -> Result<serde_json::Value, String> {
    serde_json::to_value(typed).map_err(|e| format!("{}: cannot serialise: {e}", kind.name()))
}

/// Every field error on one line, separated by `; ` (kubectl prints the
/// message on one line after "denied the request:").
fn denial(e: &ValidationError) -> String {
    e.errors
        .iter()
        .map(|f| format!("{} {:?}: {f}", e.kind, e.name))
        .collect::<Vec<_>>()
        .join("; ")
}
