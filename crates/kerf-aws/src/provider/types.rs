//! Instance types for one node class, built from discovery results by pure
//! functions: each discovered shape gets its prices and the zones it is
//! offered in that the class has subnets in, then goes through the same
//! catalogue-entry path as the built-in catalogue (labels, EKS allocatable),
//! and only the types an image of the class boots are kept. What of a class's
//! resolution that reads is its [`ClassShape`], the key the provider caches
//! the types under (kerf-cloud's shared instance-type cache), and the
//! discovery results are its [`TypeSources`], whose refresh drops the cache.

use std::collections::{BTreeMap, BTreeSet};
use std::sync::Arc;

use kerf_cloud::eks::{Arch, EksError, EksOptions};
use kerf_core::instance_type::InstanceType;
use kerf_core::template::KubeletSettings;

use crate::discovery::InstanceTypeData;
use crate::discovery::images::AmiFamily;
use crate::nodeclass::{self, NodeStorage, Resolution};
use crate::pricing::Prices;

/// Everything [`class_types`] reads of a node class's resolution: two
/// classes (or one class before and after a new AMI release) with the same
/// shape have the same instance types.
#[derive(Clone, Debug, PartialEq, Eq, PartialOrd, Ord)]
pub struct ClassShape {
    family: AmiFamily,
    storage: NodeStorage,
    /// The subnets' zones and zone IDs.
    zones: BTreeMap<String, Option<String>>,
    /// Architecture and GPU-ness of each image (not which image it is).
    images: BTreeSet<(&'static str, bool)>,
}

impl ClassShape {
    pub fn of(resolution: &Resolution) -> Self {
        ClassShape {
            family: resolution.family,
            storage: resolution.storage,
            zones: subnet_zones(resolution),
            images: resolution
                .amis
                .iter()
                .map(|a| (a.arch.as_str(), a.accelerated))
                .collect(),
        }
    }
}

fn subnet_zones(resolution: &Resolution) -> BTreeMap<String, Option<String>> {
    resolution
        .subnets
        .iter()
        .map(|s| (s.zone.clone(), s.zone_id.clone()))
        .collect()
}

/// The discovery results instance types are built from, equal while
/// discovery serves the same ones (compared by identity: a refresh makes new
/// ones, and comparing every shape and price would cost what a rebuild does).
#[derive(Clone, Debug)]
pub struct TypeSources {
    pub data: Arc<InstanceTypeData>,
    pub prices: Arc<Prices>,
}

impl PartialEq for TypeSources {
    fn eq(&self, other: &Self) -> bool {
        Arc::ptr_eq(&self.data, &other.data) && Arc::ptr_eq(&self.prices, &other.prices)
    }
}

/// A resolved class's instance types under `kubelet`, every offering
/// available: [`build_instance_types`] over the class's zones, image
/// architectures, family and storage, keeping only the types some image of
/// the class can boot (GPU types may need the GPU image).
pub fn class_types(
    sources: &TypeSources,
    region: &str,
    resolution: &Resolution,
    kubelet: &KubeletSettings,
    eks: &EksOptions,
) -> Result<Vec<InstanceType>, EksError> {
    let archs: BTreeSet<&'static str> = resolution.amis.iter().map(|a| a.arch.as_str()).collect();
    let built = build_instance_types(
        &sources.data,
        &sources.prices,
        region,
        &subnet_zones(resolution),
        &archs,
        resolution.family,
        &resolution.storage,
        kubelet,
        &eks_options(eks, resolution.family),
    )?;
    Ok(built
        .into_iter()
        .filter(|it| nodeclass::image_for(&resolution.amis, it).is_some())
        .collect())
}

/// Instance types sold in `zones` (each with its subnets' zone ID, which its
/// offerings carry as upstream's do) for architectures in `archs` (`amd64`, `arm64`; all when empty),
/// resolved for the kubelet settings, as nodes of the AMI `family` boot them:
/// a Windows family's types run Windows of its build (amd64 only), the others
/// Linux. Types without zones or prices are left out.
#[allow(clippy::too_many_arguments)]
pub fn build_instance_types(
    data: &InstanceTypeData,
    prices: &Prices,
    region: &str,
    zones: &BTreeMap<String, Option<String>>,
    archs: &BTreeSet<&'static str>,
    family: AmiFamily,
    storage: &NodeStorage,
    kubelet: &KubeletSettings,
    opts: &EksOptions,
) -> Result<Vec<InstanceType>, EksError> {
    let mut out = Vec::new();
    let windows = family.windows();
    for entry in &data.entries {
        if !archs.is_empty() && !archs.contains(entry.arch.as_str()) {
            continue;
        }
        if windows.is_some() && entry.arch != Arch::Amd64 {
            continue;
        }
        let type_zones: Vec<String> = data
            .zones
            .get(&entry.name)
            .map(|z| {
                z.iter()
                    .filter(|z| zones.contains_key(*z))
                    .cloned()
                    .collect()
            })
            .unwrap_or_default();
        if type_zones.is_empty() {
            continue;
        }
        let mut entry = entry.clone();
        if let Some((_, build)) = windows {
            entry.os = vec![kerf_cloud::labels::OS_WINDOWS.to_string()];
            entry.windows_build = Some(build.to_string());
        }
        entry.on_demand = prices.on_demand.get(&entry.name).copied();
        entry.spot = prices
            .spot
            .get(&entry.name)
            .map(|by_zone| {
                by_zone
                    .iter()
                    .filter(|(z, _)| type_zones.contains(z))
                    .map(|(z, p)| (z.clone(), *p))
                    .collect()
            })
            .unwrap_or_default();
        if entry.on_demand.is_none() && entry.spot.is_empty() {
            continue;
        }
        let opts = EksOptions {
            ephemeral_storage_bytes: storage.ephemeral_bytes(entry.local_nvme_gib),
            ..opts.clone()
        };
        let offerings =
            entry.offerings_with_zone_ids(&type_zones, |z| zones.get(z).cloned().flatten());
        out.push(entry.instance_type_with_offerings(region, offerings, kubelet, &opts)?);
    }
    Ok(out)
}

/// EKS options for an AMI family: Bottlerocket sizes kube-reserved from the
/// real max pods; Windows (upstream's feature flags for it) admits 110 pods
/// without ENI limits, sizes kube-reserved from them and advertises private
/// IPv4 addresses. Ephemeral storage is the class's ([`NodeStorage`]).
pub fn eks_options(base: &EksOptions, family: AmiFamily) -> EksOptions {
    let windows = family.windows().is_some();
    EksOptions {
        eni_limited_memory_overhead: family != AmiFamily::Bottlerocket && !windows,
        eni_limited_pod_density: !windows,
        private_ipv4_address: windows,
        ..base.clone()
    }
}

#[cfg(test)]
mod tests {
    use kerf_cloud::Catalog;
    use kerf_core::resources::MILLI;
    use std::collections::BTreeMap;

    use super::*;
    use crate::pricing::PriceSource;

    fn data(names: &[&str], zones: &[&str]) -> InstanceTypeData {
        let catalog = Catalog::builtin();
        InstanceTypeData {
            entries: names
                .iter()
                .map(|n| {
                    let mut e = catalog.get(n).unwrap().clone();
                    e.on_demand = None;
                    e.spot.clear();
                    e
                })
                .collect(),
            zones: names
                .iter()
                .map(|n| (n.to_string(), zones.iter().map(|z| z.to_string()).collect()))
                .collect(),
        }
    }

    fn storage(family: AmiFamily) -> NodeStorage {
        NodeStorage::from_spec(&Default::default(), family).unwrap()
    }

    fn prices(on_demand: &[(&str, f64)]) -> Prices {
        Prices {
            on_demand: on_demand.iter().map(|(t, p)| (t.to_string(), *p)).collect(),
            on_demand_source: PriceSource::PricingApi,
            spot: BTreeMap::from([(
                "m5.large".to_string(),
                BTreeMap::from([
                    ("us-east-1a".to_string(), 0.03),
                    ("us-east-1z".to_string(), 0.01),
                ]),
            )]),
        }
    }

    /// Max pods and allocatable against the published EKS figures (eni-max-pods.txt).
    #[test]
    fn published_eks_max_pods_and_allocatable() {
        let names = [
            "m5.large",
            "m5.2xlarge",
            "c5.xlarge",
            "t3.medium",
            "m5.xlarge",
            "c5.large",
        ];
        let d = data(&names, &["us-east-1a"]);
        let p = prices(&names.iter().map(|n| (*n, 0.1)).collect::<Vec<_>>());
        let zones = BTreeMap::from([("us-east-1a".to_string(), None)]);
        let types = build_instance_types(
            &d,
            &p,
            "us-east-1",
            &zones,
            &BTreeSet::new(),
            AmiFamily::Al2023,
            &storage(AmiFamily::Al2023),
            &KubeletSettings::default(),
            &EksOptions::default(),
        )
        .unwrap();
        let pods: BTreeMap<_, _> = types
            .iter()
            .map(|t| (t.name.as_str(), t.capacity.pods / MILLI))
            .collect();
        assert_eq!(pods["m5.large"], 29);
        assert_eq!(pods["m5.2xlarge"], 58);
        assert_eq!(pods["c5.xlarge"], 58);
        assert_eq!(pods["t3.medium"], 17);
        assert_eq!(pods["m5.xlarge"], 58);
        assert_eq!(pods["c5.large"], 29);
        let m5 = types.iter().find(|t| t.name == "m5.large").unwrap();
        // kube-reserved for 2 vCPU: 60m + 10m = 70m; memory 11Mi × 29 + 255Mi = 574Mi.
        assert_eq!(m5.overhead.kube_reserved.cpu, 70);
        assert_eq!(m5.overhead.kube_reserved.memory, 574 * (1 << 20) * MILLI);
        assert_eq!(m5.allocatable().cpu, 1930);
        // 8192Mi less 7.5% VM overhead (615Mi) = 7577Mi; less 574Mi reserved and 100Mi eviction.
        assert_eq!(m5.capacity.memory, 7577 * (1 << 20) * MILLI);
        assert_eq!(
            m5.allocatable().memory,
            (7577 - 574 - 100) * (1 << 20) * MILLI
        );
        assert_eq!(m5.labels["karpenter.k8s.aws/instance-family"], "m5");
        assert_eq!(m5.labels["karpenter.k8s.aws/instance-size"], "large");
    }

    #[test]
    fn zones_prices_and_arch_filter_the_types() {
        let d = data(
            &["m5.large", "m6g.large", "c5.large"],
            &["us-east-1a", "us-east-1b"],
        );
        let p = prices(&[("m5.large", 0.096), ("m6g.large", 0.077)]);
        let zones = BTreeMap::from([("us-east-1a".to_string(), None)]);
        let amd = BTreeSet::from(["amd64"]);
        let types = build_instance_types(
            &d,
            &p,
            "us-east-1",
            &zones,
            &amd,
            AmiFamily::Al2023,
            &storage(AmiFamily::Al2023),
            &KubeletSettings::default(),
            &EksOptions::default(),
        )
        .unwrap();
        // c5.large has no price, m6g.large is arm64.
        assert_eq!(
            types.iter().map(|t| t.name.as_str()).collect::<Vec<_>>(),
            ["m5.large"]
        );
        let offerings: Vec<_> = types[0]
            .offerings
            .iter()
            .map(|o| (o.zone.as_str(), o.capacity_type.as_str(), o.price))
            .collect();
        assert_eq!(
            offerings,
            [
                ("us-east-1a", "spot", 0.03),
                ("us-east-1a", "on-demand", 0.096)
            ]
        );
    }

    /// Upstream `offering/base_resolver.go` (each offering's zone-id from its
    /// subnet) and `types.go` (`zone-id In [...]` over the subnets' zones with
    /// available offerings); aws `pkg/providers/instancetype/suite_test.go`
    /// "should support individual instance type labels" expects the zone-id.
    #[test]
    fn offerings_carry_their_subnets_zone_ids() {
        let d = data(&["m5.large"], &["us-east-1a", "us-east-1b", "us-east-1c"]);
        let p = prices(&[("m5.large", 0.096)]);
        // Another account's mapping than the catalogue's; one subnet without an ID.
        let zones = BTreeMap::from([
            ("us-east-1a".to_string(), Some("use1-az6".to_string())),
            ("us-east-1b".to_string(), Some("use1-az1".to_string())),
            ("us-east-1c".to_string(), None),
        ]);
        let types = build_instance_types(
            &d,
            &p,
            "us-east-1",
            &zones,
            &BTreeSet::new(),
            AmiFamily::Al2023,
            &storage(AmiFamily::Al2023),
            &KubeletSettings::default(),
            &EksOptions::default(),
        )
        .unwrap();
        let ids: Vec<_> = types[0]
            .offerings
            .iter()
            .filter(|o| o.capacity_type == "on-demand")
            .map(|o| (o.zone.as_str(), o.zone_id.as_deref()))
            .collect();
        assert_eq!(
            ids,
            [
                ("us-east-1a", Some("use1-az6")),
                ("us-east-1b", Some("use1-az1")),
                ("us-east-1c", None)
            ]
        );
        let r = types[0]
            .requirements
            .get(kerf_cloud::labels::ZONE_ID)
            .expect("zone-id requirement");
        assert!(r.has("use1-az6") && r.has("use1-az1") && !r.has("use1-az4"));
    }

    /// Upstream `amifamily/windows.go` and `instancetype/types.go`: a Windows
    /// class's types are the amd64 ones, run Windows of the release's build,
    /// admit 110 pods (no ENI limit) with kube-reserved sized for them, and
    /// advertise the VPC resource controller's private IPv4 addresses.
    #[test]
    fn a_windows_family_offers_amd64_types_running_its_windows_build() {
        let d = data(&["m5.large", "m6g.large"], &["us-east-1a"]);
        let p = prices(&[("m5.large", 0.096), ("m6g.large", 0.077)]);
        let zones = BTreeMap::from([("us-east-1a".to_string(), None)]);
        let family = AmiFamily::Windows2022;
        let types = build_instance_types(
            &d,
            &p,
            "us-east-1",
            &zones,
            &BTreeSet::new(),
            family,
            &storage(family),
            &KubeletSettings::default(),
            &eks_options(&EksOptions::default(), family),
        )
        .unwrap();
        let names: Vec<&str> = types.iter().map(|t| t.name.as_str()).collect();
        assert_eq!(names, ["m5.large"], "arm64 types run no Windows");
        let m5 = &types[0];
        assert_eq!(m5.labels["kubernetes.io/os"], "windows");
        assert_eq!(m5.labels["node.kubernetes.io/windows-build"], "10.0.20348");
        assert_eq!(m5.capacity.pods, 110 * MILLI);
        assert_eq!(
            m5.overhead.kube_reserved.memory,
            (11 * 110 + 255) * (1 << 20) * MILLI
        );
        assert_eq!(
            m5.capacity
                .get(kerf_cloud::eks::RESOURCE_PRIVATE_IPV4_ADDRESS),
            9 * MILLI
        );
        assert_eq!(m5.capacity.ephemeral_storage, (50_i64 << 30) * MILLI);
        assert_eq!(
            m5.launch_labels(&kerf_core::requirements::Requirements::new())["kubernetes.io/os"],
            "windows"
        );
    }

    fn resolution(amis: Vec<crate::discovery::images::ResolvedAmi>) -> Resolution {
        let subnet = |id: &str, zone: &str| crate::discovery::network::SubnetInfo {
            id: id.into(),
            zone: zone.into(),
            zone_id: None,
            vpc_id: None,
            available_ips: 100,
            tags: BTreeMap::new(),
        };
        Resolution {
            family: AmiFamily::Al2023,
            storage: storage(AmiFamily::Al2023),
            subnets: vec![
                subnet("subnet-a", "us-east-1a"),
                subnet("subnet-b", "us-east-1b"),
            ],
            security_groups: vec![],
            amis,
            selects_reservations: false,
        }
    }

    fn ami(id: &str, accelerated: bool) -> crate::discovery::images::ResolvedAmi {
        crate::discovery::images::ResolvedAmi {
            id: id.into(),
            name: None,
            arch: Arch::Amd64,
            creation_date: None,
            deprecated: false,
            accelerated,
        }
    }

    /// The shape keys the provider's type cache: what the build does not
    /// read (image and subnet IDs) leaves it alone, what it reads changes it.
    #[test]
    fn the_class_shape_holds_what_the_types_are_built_from() {
        let base = resolution(vec![ami("ami-1", false)]);
        let shape = ClassShape::of(&base);
        let mut new_release = resolution(vec![ami("ami-2", false)]);
        new_release.subnets[0].id = "subnet-c".into();
        assert_eq!(ClassShape::of(&new_release), shape);
        let with_gpu = resolution(vec![ami("ami-1", false), ami("ami-gpu", true)]);
        assert_ne!(ClassShape::of(&with_gpu), shape);
        let mut one_zone = base.clone();
        one_zone.subnets.pop();
        assert_ne!(ClassShape::of(&one_zone), shape);
        let mut bottlerocket = base.clone();
        bottlerocket.family = AmiFamily::Bottlerocket;
        assert_ne!(ClassShape::of(&bottlerocket), shape);
        let mut raid = base.clone();
        raid.storage.raid0 = true;
        assert_ne!(ClassShape::of(&raid), shape);
    }

    #[test]
    fn class_types_keep_only_types_an_image_boots() {
        let d = data(&["m5.large", "m6g.large"], &["us-east-1a"]);
        let sources = TypeSources {
            data: Arc::new(d),
            prices: Arc::new(prices(&[("m5.large", 0.096), ("m6g.large", 0.077)])),
        };
        let types = class_types(
            &sources,
            "us-east-1",
            &resolution(vec![ami("ami-1", false)]),
            &KubeletSettings::default(),
            &EksOptions::default(),
        )
        .unwrap();
        let names: Vec<&str> = types.iter().map(|t| t.name.as_str()).collect();
        assert_eq!(names, ["m5.large"], "no arm64 image");
        assert_eq!(sources.clone(), sources);
        let refreshed = TypeSources {
            data: Arc::new(InstanceTypeData::clone(&sources.data)),
            ..sources.clone()
        };
        assert_ne!(refreshed, sources, "a refresh is new sources");
    }
}
