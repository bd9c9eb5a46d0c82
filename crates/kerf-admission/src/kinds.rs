//! The kinds the webhook admits (NodePool and EC2NodeClass in v1 and
//! v1beta1), how an AdmissionRequest names them, and their validate/default
//! functions from `kerf-api`.

use kerf_api::ValidationError;
use kerf_api::v1::{EC2NodeClass, NodePool};
use kerf_api::v1alpha1::AWSNodeTemplate;
use kerf_api::v1alpha5::Provisioner;
use kerf_api::v1beta1;
use kube_core::GroupVersionKind;
use serde::Serialize;
use serde::de::DeserializeOwned;

/// An object that does not deserialize as its kind: the kind, its
/// `metadata.name`, and the path of the field that does not fit.
#[derive(Debug, thiserror::Error)]
#[error("{kind} {name:?}: {path}: {error}")]
pub struct ParseError {
    pub kind: String,
    pub name: String,
    pub path: String,
    pub error: serde_json::Error,
}

/// Why the webhook refuses an object; the text is the AdmissionResponse's
/// message.
#[derive(Debug, thiserror::Error)]
pub enum AdmissionError {
    #[error(transparent)]
    Parse(#[from] ParseError),
    /// Its kind's `validate()` found problems: every field error, each
    /// naming the object and field, on one line.
    #[error("{}", denial(.0))]
    Invalid(ValidationError),
    /// Back to JSON after defaulting.
    #[error("{kind}: cannot serialise: {error}")]
    Serialise {
        kind: &'static str,
        error: serde_json::Error,
    },
}

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
    /// `karpenter.sh/v1beta1` NodePool (served, converted to v1 for storage).
    NodePoolV1beta1,
    /// `karpenter.k8s.aws/v1beta1` EC2NodeClass (served, converted to v1 for storage).
    Ec2NodeClassV1beta1,
}

impl Kind {
    /// Every resource, in the order the webhook configurations list them
    /// (one rule each, with every version in [`Kind::versions`]).
    pub const ALL: [Kind; 4] = [
        Kind::Provisioner,
        Kind::AwsNodeTemplate,
        Kind::NodePool,
        Kind::Ec2NodeClass,
    ];

    /// Every kind and version the webhook admits.
    pub const SERVED: [Kind; 6] = [
        Kind::Provisioner,
        Kind::AwsNodeTemplate,
        Kind::NodePool,
        Kind::Ec2NodeClass,
        Kind::NodePoolV1beta1,
        Kind::Ec2NodeClassV1beta1,
    ];

    /// The versions of this kind's resource the webhook admits.
    pub fn versions(self) -> &'static [&'static str] {
        match self {
            Kind::Provisioner => &["v1alpha5"],
            Kind::AwsNodeTemplate => &["v1alpha1"],
            Kind::NodePool | Kind::Ec2NodeClass => &["v1", "v1beta1"],
            Kind::NodePoolV1beta1 | Kind::Ec2NodeClassV1beta1 => &["v1beta1"],
        }
    }

    /// API group.
    pub fn group(self) -> &'static str {
        match self {
            Kind::Provisioner | Kind::NodePool | Kind::NodePoolV1beta1 => "karpenter.sh",
            Kind::AwsNodeTemplate | Kind::Ec2NodeClass | Kind::Ec2NodeClassV1beta1 => {
                "karpenter.k8s.aws"
            }
        }
    }

    /// API version.
    pub fn version(self) -> &'static str {
        match self {
            Kind::Provisioner => "v1alpha5",
            Kind::AwsNodeTemplate => "v1alpha1",
            Kind::NodePool | Kind::Ec2NodeClass => "v1",
            Kind::NodePoolV1beta1 | Kind::Ec2NodeClassV1beta1 => "v1beta1",
        }
    }

    /// Kind name as in `kind:`.
    pub fn name(self) -> &'static str {
        match self {
            Kind::Provisioner => "Provisioner",
            Kind::AwsNodeTemplate => "AWSNodeTemplate",
            Kind::NodePool | Kind::NodePoolV1beta1 => "NodePool",
            Kind::Ec2NodeClass | Kind::Ec2NodeClassV1beta1 => "EC2NodeClass",
        }
    }

    /// Resource (plural) name, as webhook rules name it.
    pub fn plural(self) -> &'static str {
        match self {
            Kind::Provisioner => "provisioners",
            Kind::AwsNodeTemplate => "awsnodetemplates",
            Kind::NodePool | Kind::NodePoolV1beta1 => "nodepools",
            Kind::Ec2NodeClass | Kind::Ec2NodeClassV1beta1 => "ec2nodeclasses",
        }
    }

    /// The kind an AdmissionRequest's `kind` names, if the webhook serves it.
    pub fn from_gvk(gvk: &GroupVersionKind) -> Option<Kind> {
        Kind::SERVED
            .into_iter()
            .find(|k| k.group() == gvk.group && k.version() == gvk.version && k.name() == gvk.kind)
    }

    /// Parses `object` as this kind and runs its `validate()`. The text of
    /// `Err` is the message for the AdmissionResponse (every problem, each
    /// naming the field).
    pub fn validate(self, object: serde_json::Value) -> Result<(), AdmissionError> {
        match self {
            Kind::Provisioner => parse_kind::<Provisioner>(self, object)?.validate(),
            Kind::AwsNodeTemplate => parse_kind::<AWSNodeTemplate>(self, object)?.validate(),
            Kind::NodePool => parse_kind::<NodePool>(self, object)?.validate(),
            Kind::Ec2NodeClass => parse_kind::<EC2NodeClass>(self, object)?.validate(),
            // The apiserver applied the v1beta1 schema's defaults already;
            // validation needs them whether or not defaulting ran first.
            Kind::NodePoolV1beta1 => {
                let mut np = parse_kind::<v1beta1::NodePool>(self, object)?;
                np.set_defaults();
                np.validate()
            }
            Kind::Ec2NodeClassV1beta1 => {
                let mut nc = parse_kind::<v1beta1::EC2NodeClass>(self, object)?;
                nc.set_defaults();
                nc.validate()
            }
        }
        .map_err(AdmissionError::Invalid)
    }

    /// Parses `object` as this kind and returns it serialised before and after
    /// its `set_defaults()`, both through the typed representation, so a diff
    /// of the two shows only what defaulting changed.
    pub fn default(
        self,
        object: serde_json::Value,
    ) -> Result<(serde_json::Value, serde_json::Value), AdmissionError> {
        match self {
            Kind::Provisioner => defaulted(self, object, Provisioner::set_defaults),
            // v0.31's AWSNodeTemplate had no defaults; nothing to add.
            Kind::AwsNodeTemplate => defaulted(self, object, |_: &mut AWSNodeTemplate| {}),
            Kind::NodePool => defaulted(self, object, NodePool::set_defaults),
            Kind::Ec2NodeClass => defaulted(self, object, EC2NodeClass::set_defaults),
            Kind::NodePoolV1beta1 => defaulted(self, object, v1beta1::NodePool::set_defaults),
            Kind::Ec2NodeClassV1beta1 => {
                defaulted(self, object, v1beta1::EC2NodeClass::set_defaults)
            }
        }
    }
}

fn parse_kind<T: DeserializeOwned>(kind: Kind, object: serde_json::Value) -> Result<T, ParseError> {
    parse(kind.name(), object)
}

/// `object` as `T`; a field that does not fit is named with its path.
pub(crate) fn parse<T: DeserializeOwned>(
    kind: &str,
    object: serde_json::Value,
) -> Result<T, ParseError> {
    let name = object
        .pointer("/metadata/name")
        .and_then(|n| n.as_str())
        .unwrap_or_default()
        .to_string();
    serde_path_to_error::deserialize(object).map_err(|e| ParseError {
        kind: kind.to_string(),
        name,
        path: e.path().to_string(),
        error: e.into_inner(),
    })
}

fn defaulted<T: DeserializeOwned + Serialize>(
    kind: Kind,
    object: serde_json::Value,
    set_defaults: impl FnOnce(&mut T),
) -> Result<(serde_json::Value, serde_json::Value), AdmissionError> {
    let mut typed: T = parse_kind(kind, object)?;
    let before = to_value(kind, &typed)?;
    set_defaults(&mut typed);
    let after = to_value(kind, &typed)?;
    Ok((before, after))
}

fn to_value<T: Serialize>(kind: Kind, typed: &T) -> Result<serde_json::Value, AdmissionError> {
    serde_json::to_value(typed).map_err(|error| AdmissionError::Serialise {
        kind: kind.name(),
        error,
    })
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
