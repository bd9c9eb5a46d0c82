//! AMIs: the EKS-optimized image for an AMI family and architecture through
//! SSM public parameters (AL2, AL2023, Bottlerocket, Ubuntu, Windows Server
//! 2019/2022/2025 Core, the last amd64 only), or, for custom
//! selector terms, DescribeImages by id, name, owner and tags. Parameter paths
//! and the choice of the newest image per architecture are pure.
//!
//! The parameter root is `/aws/service` in AWS; it is configurable because
//! SSM (and moto) refuse writes under `/aws`, so tests publish their own
//! "public" parameters under another root.

use std::collections::BTreeMap;

use aws_sdk_ec2::types::{ArchitectureValues, Filter, Image};
use kerf_cloud::eks::Arch;
use kerf_cloud::provider::Result;

use super::network::SelectorTerm;
use crate::error::{aws_error, bad_answer};

pub const PUBLIC_PARAMETER_ROOT: &str = "/aws/service";

/// An AMI family with EKS-optimized images published through SSM.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Hash, PartialOrd, Ord)]
pub enum AmiFamily {
    Al2,
    Al2023,
    Bottlerocket,
    Ubuntu,
    /// Windows Server Core, EKS-optimized; amd64 only.
    Windows2019,
    Windows2022,
    Windows2025,
    /// Images only from `amiSelectorTerms`; user data is the user's.
    Custom,
}

impl AmiFamily {
    /// `AL2`, `al2023` (alias spelling), `Bottlerocket`, ... case-insensitively.
    pub fn parse(s: &str) -> Option<AmiFamily> {
        match s.to_ascii_lowercase().as_str() {
            "al2" => Some(AmiFamily::Al2),
            "al2023" => Some(AmiFamily::Al2023),
            "bottlerocket" => Some(AmiFamily::Bottlerocket),
            "ubuntu" => Some(AmiFamily::Ubuntu),
            "windows2019" => Some(AmiFamily::Windows2019),
            "windows2022" => Some(AmiFamily::Windows2022),
            "windows2025" => Some(AmiFamily::Windows2025),
            "custom" => Some(AmiFamily::Custom),
            _ => None,
        }
    }

    pub fn as_str(self) -> &'static str {
        match self {
            AmiFamily::Al2 => "AL2",
            AmiFamily::Al2023 => "AL2023",
            AmiFamily::Bottlerocket => "Bottlerocket",
            AmiFamily::Ubuntu => "Ubuntu",
            AmiFamily::Windows2019 => "Windows2019",
            AmiFamily::Windows2022 => "Windows2022",
            AmiFamily::Windows2025 => "Windows2025",
            AmiFamily::Custom => "Custom",
        }
    }

    /// The Windows Server release (`2022`) and its build
    /// (`node.kubernetes.io/windows-build`), for the Windows families.
    pub fn windows(self) -> Option<(&'static str, &'static str)> {
        match self {
            AmiFamily::Windows2019 => Some(("2019", "10.0.17763")),
            AmiFamily::Windows2022 => Some(("2022", "10.0.20348")),
            AmiFamily::Windows2025 => Some(("2025", "10.0.26100")),
            _ => None,
        }
    }

    /// The SSM parameter holding the image id for one architecture, for a
    /// Kubernetes minor version (`1.30`); `version` pins an AMI release
    /// (`v20240807` for AL2/AL2023, `1.20.5` for Bottlerocket), `None` is latest.
    pub fn ssm_parameter(
        self,
        root: &str,
        kubernetes_version: &str,
        arch: Arch,
        version: Option<&str>,
    ) -> Option<String> {
        self.variant_parameter(root, kubernetes_version, arch, version, false)
    }

    /// [`Self::ssm_parameter`] for the image with NVIDIA drivers (and, for AL2,
    /// the Neuron ones) that GPU and accelerator types launch with, where the
    /// family publishes one: AL2 `amazon-linux-2-gpu` (x86_64 only), AL2023
    /// `nvidia`, Bottlerocket `aws-k8s-<v>-nvidia`; Ubuntu and Custom have none.
    pub fn accelerated_ssm_parameter(
        self,
        root: &str,
        kubernetes_version: &str,
        arch: Arch,
        version: Option<&str>,
    ) -> Option<String> {
        self.variant_parameter(root, kubernetes_version, arch, version, true)
    }

    fn variant_parameter(
        self,
        root: &str,
        kubernetes_version: &str,
        arch: Arch,
        version: Option<&str>,
        accelerated: bool,
    ) -> Option<String> {
        let root = root.trim_end_matches('/');
        if accelerated {
            return self.accelerated_path(root, kubernetes_version, arch, version);
        }
        let k = kubernetes_version;
        let (x86, a64) = ("x86_64", "arm64");
        let ec2_arch = match arch {
            Arch::Amd64 => x86,
            Arch::Arm64 => a64,
        };
        Some(match self {
            AmiFamily::Al2 => {
                let variant = match arch {
                    Arch::Amd64 => "amazon-linux-2",
                    Arch::Arm64 => "amazon-linux-2-arm64",
                };
                match version {
                    None => format!("{root}/eks/optimized-ami/{k}/{variant}/recommended/image_id"),
                    Some(v) => format!(
                        "{root}/eks/optimized-ami/{k}/{variant}/amazon-eks-node-{k}-{v}/image_id"
                    ),
                }
            }
            AmiFamily::Al2023 => match version {
                None => format!(
                    "{root}/eks/optimized-ami/{k}/amazon-linux-2023/{ec2_arch}/standard/recommended/image_id"
                ),
                Some(v) => format!(
                    "{root}/eks/optimized-ami/{k}/amazon-linux-2023/{ec2_arch}/standard/amazon-eks-node-al2023-{ec2_arch}-standard-{k}-{v}/image_id"
                ),
            },
            AmiFamily::Bottlerocket => {
                let v = version.unwrap_or("latest");
                format!("{root}/bottlerocket/aws-k8s-{k}/{ec2_arch}/{v}/image_id")
            }
            AmiFamily::Ubuntu => {
                let deb_arch = match arch {
                    Arch::Amd64 => "amd64",
                    Arch::Arm64 => "arm64",
                };
                format!(
                    "{root}/canonical/ubuntu/eks/22.04/{k}/stable/current/{deb_arch}/hvm/ebs-gp2/ami-id"
                )
            }
            AmiFamily::Windows2019 | AmiFamily::Windows2022 | AmiFamily::Windows2025 => {
                // One image per release and Kubernetes minor, amd64 only; no pinned versions.
                let (release, _) = self.windows()?;
                if arch != Arch::Amd64 {
                    return None;
                }
                format!(
                    "{root}/ami-windows-latest/Windows_Server-{release}-English-Core-EKS_Optimized-{k}/image_id"
                )
            }
            AmiFamily::Custom => return None,
        })
    }

    fn accelerated_path(
        self,
        root: &str,
        k: &str,
        arch: Arch,
        version: Option<&str>,
    ) -> Option<String> {
        let ec2_arch = match arch {
            Arch::Amd64 => "x86_64",
            Arch::Arm64 => "arm64",
        };
        Some(match (self, arch) {
            (AmiFamily::Al2, Arch::Amd64) => match version {
                None => {
                    format!("{root}/eks/optimized-ami/{k}/amazon-linux-2-gpu/recommended/image_id")
                }
                Some(v) => format!(
                    "{root}/eks/optimized-ami/{k}/amazon-linux-2-gpu/amazon-eks-gpu-node-{k}-{v}/image_id"
                ),
            },
            (AmiFamily::Al2023, _) => match version {
                None => format!(
                    "{root}/eks/optimized-ami/{k}/amazon-linux-2023/{ec2_arch}/nvidia/recommended/image_id"
                ),
                Some(v) => format!(
                    "{root}/eks/optimized-ami/{k}/amazon-linux-2023/{ec2_arch}/nvidia/amazon-eks-node-al2023-{ec2_arch}-nvidia-{k}-{v}/image_id"
                ),
            },
            (AmiFamily::Bottlerocket, _) => {
                let v = version.unwrap_or("latest");
                format!("{root}/bottlerocket/aws-k8s-{k}-nvidia/{ec2_arch}/{v}/image_id")
            }
            _ => return None,
        })
    }
}

/// A resolved image and the architecture it serves.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct ResolvedAmi {
    pub id: String,
    pub name: Option<String>,
    pub arch: Arch,
    pub creation_date: Option<String>,
    pub deprecated: bool,
    /// The family's GPU / accelerator image: for instance types with GPUs or
    /// accelerators only. Images from selector terms serve every type.
    pub accelerated: bool,
}

/// Newest image per architecture (and variant), not-deprecated first
/// (`creationDate` is ISO 8601, so it orders as text); ties to the lower id.
/// Sorted by architecture.
pub fn newest_per_arch(images: &[ResolvedAmi]) -> Vec<ResolvedAmi> {
    let mut best: BTreeMap<(&'static str, bool), &ResolvedAmi> = BTreeMap::new();
    for image in images {
        let key = (image.arch.as_str(), image.accelerated);
        let better = best.get(&key).is_none_or(|b| {
            (
                !image.deprecated,
                &image.creation_date,
                std::cmp::Reverse(&image.id),
            ) > (!b.deprecated, &b.creation_date, std::cmp::Reverse(&b.id))
        });
        if better {
            best.insert(key, image);
        }
    }
    best.into_values().cloned().collect()
}

/// The DescribeImages request for one selector term: ids, owners and filters.
pub fn image_query(
    term: &SelectorTerm,
    owner: Option<&str>,
) -> (Vec<String>, Vec<String>, Vec<Filter>) {
    let ids: Vec<String> = term.id.iter().cloned().collect();
    let mut owners: Vec<String> = owner.iter().map(|o| o.to_string()).collect();
    if owners.is_empty() && ids.is_empty() && term.tags.is_empty() {
        // Karpenter's default: a name alone means your own images or Amazon's.
        owners = vec!["self".to_string(), "amazon".to_string()];
    }
    let mut filters = Vec::new();
    if let Some(name) = &term.name {
        filters.push(Filter::builder().name("name").values(name).build());
    }
    for (k, v) in &term.tags {
        filters.push(if v == "*" {
            Filter::builder().name("tag-key").values(k).build()
        } else {
            Filter::builder().name(format!("tag:{k}")).values(v).build()
        });
    }
    (ids, owners, filters)
}

/// An image as DescribeImages tells it; `arch` is `None` when EC2 (or an emulator) leaves it out.
struct Described {
    ami: ResolvedAmi,
    arch: Option<Arch>,
}

fn described(image: &Image, context: &str) -> Result<Described> {
    let id = image
        .image_id()
        .ok_or_else(|| bad_answer(context, "an image lacks ImageId"))?;
    let arch = match image.architecture() {
        Some(ArchitectureValues::X8664) => Some(Arch::Amd64),
        Some(ArchitectureValues::Arm64) => Some(Arch::Arm64),
        _ => None,
    };
    Ok(Described {
        ami: ResolvedAmi {
            id: id.to_string(),
            name: image.name().map(str::to_string),
            arch: arch.unwrap_or(Arch::Amd64),
            creation_date: image.creation_date().map(str::to_string),
            accelerated: false,
            deprecated: image.deprecation_time().is_some_and(|t| !t.is_empty()),
        },
        arch,
    })
}

async fn describe(
    ec2: &aws_sdk_ec2::Client,
    term: &SelectorTerm,
    owner: Option<&str>,
) -> Result<Vec<Described>> {
    let (ids, owners, filters) = image_query(term, owner);
    let out = ec2
        .describe_images()
        .set_image_ids((!ids.is_empty()).then_some(ids))
        .set_owners((!owners.is_empty()).then_some(owners))
        .set_filters((!filters.is_empty()).then_some(filters))
        .send()
        .await
        .map_err(|e| aws_error("DescribeImages", e))?;
    out.images()
        .iter()
        .map(|i| described(i, "DescribeImages"))
        .collect()
}

/// Images matching one selector term (`owner` is the term's owner, if any).
/// Images of other architectures (i386, Mac) are left out.
pub async fn describe_images(
    ec2: &aws_sdk_ec2::Client,
    term: &SelectorTerm,
    owner: Option<&str>,
) -> Result<Vec<ResolvedAmi>> {
    let mut out = Vec::new();
    for d in describe(ec2, term, owner).await? {
        match d.arch {
            Some(_) => out.push(d.ami),
            None => {
                tracing::debug!(image = %d.ami.id, "image without a supported architecture left out")
            }
        }
    }
    Ok(out)
}

/// The image id an SSM parameter holds, or `None` when the parameter does not exist.
pub async fn ssm_image_id(ssm: &aws_sdk_ssm::Client, name: &str) -> Result<Option<String>> {
    match ssm.get_parameter().name(name).send().await {
        Ok(out) => Ok(out.parameter().and_then(|p| p.value()).map(str::to_string)),
        Err(e)
            if e.as_service_error()
                .is_some_and(|s| s.is_parameter_not_found()) =>
        {
            Ok(None)
        }
        Err(e) => Err(aws_error(format!("GetParameter {name}"), e)),
    }
}

/// The family's images for each architecture from SSM, described by DescribeImages.
pub async fn family_images(
    ec2: &aws_sdk_ec2::Client,
    ssm: &aws_sdk_ssm::Client,
    root: &str,
    kubernetes_version: &str,
    family: AmiFamily,
    version: Option<&str>,
) -> Result<Vec<ResolvedAmi>> {
    let mut out = Vec::new();
    for (arch, accelerated) in [
        (Arch::Amd64, false),
        (Arch::Arm64, false),
        (Arch::Amd64, true),
        (Arch::Arm64, true),
    ] {
        let param = if accelerated {
            family.accelerated_ssm_parameter(root, kubernetes_version, arch, version)
        } else {
            family.ssm_parameter(root, kubernetes_version, arch, version)
        };
        let Some(param) = param else {
            continue;
        };
        let Some(id) = ssm_image_id(ssm, &param).await? else {
            tracing::debug!(parameter = %param, "no such SSM parameter");
            continue;
        };
        let found = describe(ec2, &SelectorTerm::id(&id), None).await?;
        match found.into_iter().next() {
            // The parameter's path names the architecture.
            Some(d) => out.push(ResolvedAmi {
                arch,
                accelerated,
                ..d.ami
            }),
            None => {
                return Err(bad_answer(
                    "DescribeImages",
                    format!("SSM parameter {param} names image {id}, which does not exist"),
                ));
            }
        }
    }
    Ok(out)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn parameter_paths_per_family_and_arch() {
        let p = |f: AmiFamily, a, v| f.ssm_parameter(PUBLIC_PARAMETER_ROOT, "1.30", a, v);
        assert_eq!(
            p(AmiFamily::Al2, Arch::Amd64, None).unwrap(),
            "/aws/service/eks/optimized-ami/1.30/amazon-linux-2/recommended/image_id"
        );
        assert_eq!(
            p(AmiFamily::Al2, Arch::Arm64, None).unwrap(),
            "/aws/service/eks/optimized-ami/1.30/amazon-linux-2-arm64/recommended/image_id"
        );
        assert_eq!(
            p(AmiFamily::Al2023, Arch::Arm64, None).unwrap(),
            "/aws/service/eks/optimized-ami/1.30/amazon-linux-2023/arm64/standard/recommended/image_id"
        );
        assert_eq!(
            p(AmiFamily::Al2023, Arch::Amd64, Some("v20240807")).unwrap(),
            "/aws/service/eks/optimized-ami/1.30/amazon-linux-2023/x86_64/standard/amazon-eks-node-al2023-x86_64-standard-1.30-v20240807/image_id"
        );
        assert_eq!(
            p(AmiFamily::Bottlerocket, Arch::Amd64, None).unwrap(),
            "/aws/service/bottlerocket/aws-k8s-1.30/x86_64/latest/image_id"
        );
        assert_eq!(p(AmiFamily::Custom, Arch::Amd64, None), None);
        let gpu =
            |f: AmiFamily, a, v| f.accelerated_ssm_parameter(PUBLIC_PARAMETER_ROOT, "1.30", a, v);
        assert_eq!(
            gpu(AmiFamily::Al2, Arch::Amd64, None).unwrap(),
            "/aws/service/eks/optimized-ami/1.30/amazon-linux-2-gpu/recommended/image_id"
        );
        assert_eq!(gpu(AmiFamily::Al2, Arch::Arm64, None), None);
        assert_eq!(
            gpu(AmiFamily::Al2023, Arch::Arm64, None).unwrap(),
            "/aws/service/eks/optimized-ami/1.30/amazon-linux-2023/arm64/nvidia/recommended/image_id"
        );
        assert_eq!(
            gpu(AmiFamily::Al2023, Arch::Amd64, Some("v20240807")).unwrap(),
            "/aws/service/eks/optimized-ami/1.30/amazon-linux-2023/x86_64/nvidia/amazon-eks-node-al2023-x86_64-nvidia-1.30-v20240807/image_id"
        );
        assert_eq!(
            gpu(AmiFamily::Bottlerocket, Arch::Amd64, None).unwrap(),
            "/aws/service/bottlerocket/aws-k8s-1.30-nvidia/x86_64/latest/image_id"
        );
        assert_eq!(gpu(AmiFamily::Ubuntu, Arch::Amd64, None), None);
        assert_eq!(AmiFamily::parse("al2023"), Some(AmiFamily::Al2023));
        assert_eq!(
            AmiFamily::parse("Windows2022"),
            Some(AmiFamily::Windows2022)
        );
        assert_eq!(AmiFamily::parse("Windows2016"), None);
    }

    /// Upstream `pkg/providers/amifamily/windows.go`: one parameter per
    /// release and Kubernetes minor, Core edition, amd64 only, no GPU image.
    #[test]
    fn windows_parameters_are_per_release_and_amd64_only() {
        let p = |f: AmiFamily, arch| f.ssm_parameter(PUBLIC_PARAMETER_ROOT, "1.30", arch, None);
        assert_eq!(
            p(AmiFamily::Windows2022, Arch::Amd64).unwrap(),
            "/aws/service/ami-windows-latest/Windows_Server-2022-English-Core-EKS_Optimized-1.30/image_id"
        );
        assert_eq!(
            p(AmiFamily::Windows2019, Arch::Amd64).unwrap(),
            "/aws/service/ami-windows-latest/Windows_Server-2019-English-Core-EKS_Optimized-1.30/image_id"
        );
        assert_eq!(p(AmiFamily::Windows2025, Arch::Arm64), None);
        assert_eq!(
            AmiFamily::Windows2022.accelerated_ssm_parameter(
                PUBLIC_PARAMETER_ROOT,
                "1.30",
                Arch::Amd64,
                None
            ),
            None
        );
        assert_eq!(
            AmiFamily::Windows2025.windows(),
            Some(("2025", "10.0.26100"))
        );
        assert_eq!(AmiFamily::Al2023.windows(), None);
    }

    #[test]
    fn newest_non_deprecated_image_per_arch() {
        let ami = |id: &str, arch, date: &str, deprecated| ResolvedAmi {
            id: id.into(),
            name: None,
            arch,
            creation_date: Some(date.into()),
            deprecated,
            accelerated: false,
        };
        let images = [
            ami("ami-old", Arch::Amd64, "2024-01-01T00:00:00.000Z", false),
            ami("ami-new", Arch::Amd64, "2024-06-01T00:00:00.000Z", false),
            ami(
                "ami-newest-deprecated",
                Arch::Amd64,
                "2024-09-01T00:00:00.000Z",
                true,
            ),
            ami("ami-arm", Arch::Arm64, "2023-01-01T00:00:00.000Z", false),
        ];
        let ids: Vec<_> = newest_per_arch(&images).into_iter().map(|a| a.id).collect();
        assert_eq!(ids, ["ami-new", "ami-arm"]);
    }

    #[test]
    fn image_query_defaults_owners_for_name_terms() {
        let term = SelectorTerm {
            name: Some("my-ami-*".into()),
            ..Default::default()
        };
        let (ids, owners, filters) = image_query(&term, None);
        assert!(ids.is_empty());
        assert_eq!(owners, ["self", "amazon"]);
        assert_eq!(filters[0].name(), Some("name"));
        let tagged = SelectorTerm::tag("team", "*");
        let (_, owners, filters) = image_query(&tagged, Some("123456789012"));
        assert_eq!(owners, ["123456789012"]);
        assert_eq!(filters[0].name(), Some("tag-key"));
    }
}
