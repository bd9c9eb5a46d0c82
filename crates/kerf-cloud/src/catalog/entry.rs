//! One catalogue entry (an EC2 instance type as the file describes it) and how
//! it becomes a scheduler [`InstanceType`]: EKS capacity and overhead, Karpenter's
//! AWS labels, and one offering per zone and capacity type.

use std::collections::BTreeMap;

use kerf_core::instance_type::{
    CAPACITY_TYPE_ON_DEMAND, CAPACITY_TYPE_SPOT, InstanceType, Offering,
};
use kerf_core::requirements::Requirement;
use kerf_core::template::KubeletSettings;
use serde::{Deserialize, Serialize};

use crate::eks::{self, Arch, EksError, EksOptions, Gpu, Shape};
use crate::labels;

/// An instance type as the catalogue file spells it (see the file header for the schema).
#[derive(Clone, Debug, PartialEq, Serialize, Deserialize)]
#[serde(rename_all = "camelCase", deny_unknown_fields)]
pub struct CatalogEntry {
    pub name: String,
    pub vcpu: i64,
    #[serde(rename = "memoryMiB")]
    pub memory_mib: i64,
    pub arch: Arch,
    #[serde(default = "default_os")]
    pub os: Vec<String>,
    /// `node.kubernetes.io/windows-build` (`10.0.20348`) when the type runs
    /// one Windows release only, as the types of a Windows EC2NodeClass do.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub windows_build: Option<String>,
    /// Derived from the name (`m` of `m5.large`) when absent.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub category: Option<String>,
    /// Derived from the name (`m5` of `m5.large`) when absent.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub family: Option<String>,
    /// Derived from the name (`5` of `m5.large`) when absent.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub generation: Option<i64>,
    /// Derived from the name (`large` of `m5.large`) when absent.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub size: Option<String>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub hypervisor: Option<String>,
    /// `intel`, `amd` or `aws`, as EC2's ProcessorInfo.Manufacturer lower-kebab-cased.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub cpu_manufacturer: Option<String>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub cpu_sustained_clock_speed_mhz: Option<i64>,
    /// EBS-optimized maximum bandwidth, for types that are EBS-optimized by default.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub ebs_bandwidth_mbps: Option<i64>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub encryption_in_transit_supported: Option<bool>,
    /// EC2's NitroEnclavesSupport (`karpenter.k8s.aws/nitro-sandbox`).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub nitro_enclaves_supported: Option<bool>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub network_bandwidth_mbps: Option<i64>,
    #[serde(
        default,
        rename = "localNvmeGiB",
        skip_serializing_if = "Option::is_none"
    )]
    pub local_nvme_gib: Option<i64>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub gpu: Option<Gpu>,
    /// An inference accelerator or Neuron device kind (the `instance-accelerator-*` labels).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub accelerator: Option<Accelerator>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub neuron_count: Option<i64>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub neuron_core_count: Option<i64>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub efa_count: Option<i64>,
    #[serde(default, rename = "podENI", skip_serializing_if = "Option::is_none")]
    pub pod_eni: Option<i64>,
    #[serde(default, rename = "maxENIs", skip_serializing_if = "Option::is_none")]
    pub max_enis: Option<i64>,
    #[serde(
        default,
        rename = "ipv4PerENI",
        skip_serializing_if = "Option::is_none"
    )]
    pub ipv4_per_eni: Option<i64>,
    /// Max pods when the ENI fields are absent (else the kubelet default applies).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub max_pods: Option<i64>,
    /// On-demand $/hour; `None` means no on-demand offerings.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub on_demand: Option<f64>,
    /// Spot $/hour by zone; a zone left out has no spot offering.
    #[serde(default, skip_serializing_if = "BTreeMap::is_empty")]
    pub spot: BTreeMap<String, f64>,
}

/// Accelerators of one kind that are not GPUs: Inferentia, Trainium, Qualcomm AI 100.
#[derive(Clone, Debug, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "camelCase", deny_unknown_fields)]
pub struct Accelerator {
    pub count: i64,
    /// e.g. `inferentia2` (label value is lower-kebab-cased).
    pub name: String,
    /// e.g. `aws`.
    pub manufacturer: String,
}

fn default_os() -> Vec<String> {
    vec!["linux".to_string()]
}

impl CatalogEntry {
    /// The raw shape the EKS maths works from.
    pub fn shape(&self) -> Shape {
        let mut shape = Shape::new(self.vcpu, self.memory_mib, self.arch);
        if let (Some(enis), Some(ips)) = (self.max_enis, self.ipv4_per_eni) {
            shape = shape.with_eni(enis, ips);
        }
        shape.gpu = self.gpu.clone();
        shape.neuron_count = self.neuron_count.unwrap_or(0);
        shape.neuron_core_count = self.neuron_core_count.unwrap_or(0);
        shape.efa_count = self.efa_count.unwrap_or(0);
        shape.pod_eni = self.pod_eni.unwrap_or(0);
        shape.max_pods = self.max_pods;
        shape
    }

    pub fn family(&self) -> Option<&str> {
        self.family
            .as_deref()
            .or_else(|| self.name.split_once('.').map(|(f, _)| f))
    }

    pub fn size(&self) -> Option<&str> {
        self.size
            .as_deref()
            .or_else(|| self.name.split_once('.').map(|(_, s)| s))
    }

    /// Single-valued labels every node of this type carries (Karpenter's AWS set).
    pub fn labels(&self, region: &str) -> BTreeMap<String, String> {
        let derived = category_and_generation(&self.name);
        let category = self
            .category
            .clone()
            .or_else(|| derived.as_ref().map(|(c, _)| c.clone()));
        let generation = self
            .generation
            .map(|g| g.to_string())
            .or_else(|| derived.map(|(_, g)| g));
        let mut out = BTreeMap::new();
        let mut put = |k: &str, v: Option<String>| {
            if let Some(v) = v {
                out.insert(k.to_string(), v);
            }
        };
        put(labels::INSTANCE_TYPE, Some(self.name.clone()));
        put(labels::ARCH, Some(self.arch.as_str().to_string()));
        put(labels::OS, (self.os.len() == 1).then(|| self.os[0].clone()));
        put(labels::REGION, Some(region.to_string()));
        put(labels::WINDOWS_BUILD, self.windows_build.clone());
        put(labels::INSTANCE_CATEGORY, category);
        put(labels::INSTANCE_FAMILY, self.family().map(str::to_string));
        put(labels::INSTANCE_GENERATION, generation);
        put(labels::INSTANCE_SIZE, self.size().map(str::to_string));
        put(labels::INSTANCE_CPU, Some(self.vcpu.to_string()));
        put(labels::INSTANCE_MEMORY, Some(self.memory_mib.to_string()));
        put(labels::INSTANCE_HYPERVISOR, self.hypervisor.clone());
        put(
            labels::INSTANCE_CPU_MANUFACTURER,
            self.cpu_manufacturer.as_deref().map(labels::lower_kebab),
        );
        put(
            labels::INSTANCE_CPU_SUSTAINED_CLOCK_SPEED_MHZ,
            self.cpu_sustained_clock_speed_mhz.map(|m| m.to_string()),
        );
        put(
            labels::INSTANCE_EBS_BANDWIDTH,
            self.ebs_bandwidth_mbps.map(|b| b.to_string()),
        );
        put(
            labels::INSTANCE_ENCRYPTION_IN_TRANSIT_SUPPORTED,
            self.encryption_in_transit_supported.map(|e| e.to_string()),
        );
        put(
            labels::NITRO_SANDBOX,
            self.nitro_enclaves_supported.map(|e| e.to_string()),
        );
        let flex = self.family().is_some_and(|f| f.contains("-flex"));
        put(labels::INSTANCE_CAPABILITY_FLEX, Some(flex.to_string()));
        put(
            labels::INSTANCE_NETWORK_BANDWIDTH,
            self.network_bandwidth_mbps.map(|b| b.to_string()),
        );
        put(
            labels::INSTANCE_LOCAL_NVME,
            self.local_nvme_gib.map(|g| g.to_string()),
        );
        if let Some(gpu) = &self.gpu {
            put(labels::INSTANCE_GPU_COUNT, Some(gpu.count.to_string()));
            put(
                labels::INSTANCE_GPU_NAME,
                Some(labels::lower_kebab(&gpu.name)),
            );
            put(
                labels::INSTANCE_GPU_MANUFACTURER,
                Some(labels::lower_kebab(&gpu.manufacturer)),
            );
            put(
                labels::INSTANCE_GPU_MEMORY,
                Some(gpu.memory_mib.to_string()),
            );
        }
        if let Some(acc) = &self.accelerator {
            put(
                labels::INSTANCE_ACCELERATOR_COUNT,
                Some(acc.count.to_string()),
            );
            put(
                labels::INSTANCE_ACCELERATOR_NAME,
                Some(labels::lower_kebab(&acc.name)),
            );
            put(
                labels::INSTANCE_ACCELERATOR_MANUFACTURER,
                Some(labels::lower_kebab(&acc.manufacturer)),
            );
        }
        out
    }

    /// A spot offering per zone with a spot price and an on-demand one per zone
    /// when there is an on-demand price, zone by zone in `zones` order, with
    /// the catalogue's representative zone IDs ([`super::representative_zone_id`]).
    pub fn offerings(&self, zones: &[String]) -> Vec<Offering> {
        self.offerings_with_zone_ids(zones, |z| {
            super::representative_zone_id(z).map(str::to_string)
        })
    }

    /// [`Self::offerings`] with each zone's ID from `zone_id` (the live AWS
    /// provider's come from its subnets).
    pub fn offerings_with_zone_ids(
        &self,
        zones: &[String],
        zone_id: impl Fn(&str) -> Option<String>,
    ) -> Vec<Offering> {
        let mut out = Vec::with_capacity(zones.len() * 2);
        for zone in zones {
            let id = zone_id(zone);
            let mut offer = |capacity_type: &str, price: f64| {
                out.push(Offering {
                    zone: zone.clone(),
                    zone_id: id.clone(),
                    capacity_type: capacity_type.to_string(),
                    price,
                    available: true,
                });
            };
            if let Some(price) = self.spot.get(zone) {
                offer(CAPACITY_TYPE_SPOT, *price);
            }
            if let Some(price) = self.on_demand {
                offer(CAPACITY_TYPE_ON_DEMAND, price);
            }
        }
        out
    }

    /// The scheduler's view of this type for one template's kubelet settings.
    pub fn instance_type(
        &self,
        region: &str,
        zones: &[String],
        kubelet: &KubeletSettings,
        opts: &EksOptions,
    ) -> Result<InstanceType, EksError> {
        self.instance_type_with_offerings(region, self.offerings(zones), kubelet, opts)
    }

    /// [`Self::instance_type`] with offerings built by the caller (see
    /// [`Self::offerings_with_zone_ids`]).
    pub fn instance_type_with_offerings(
        &self,
        region: &str,
        offerings: Vec<Offering>,
        kubelet: &KubeletSettings,
        opts: &EksOptions,
    ) -> Result<InstanceType, EksError> {
        let alloc = eks::allocation(&self.shape(), kubelet, opts)?;
        let mut it = InstanceType::new(
            self.name.clone(),
            self.labels(region),
            alloc.capacity,
            alloc.overhead,
            offerings,
        );
        if self.os.len() > 1 {
            it.requirements
                .add(Requirement::in_values(labels::OS, self.os.iter().cloned()));
        }
        // Every EC2 type launches on shared or dedicated hardware; the claim picks.
        it.requirements.add(Requirement::in_values(
            labels::INSTANCE_TENANCY,
            [labels::TENANCY_DEFAULT, labels::TENANCY_DEDICATED].map(String::from),
        ));
        Ok(it)
    }
}

/// Category and generation the way Karpenter reads them from a name
/// (`(^[a-z]+)(-[0-9]+tb)?([0-9]+).*\.`): `m7g.large` → (`m`, `7`),
/// `u-6tb1.56xlarge` → (`u`, `1`), `g4dn.xlarge` → (`g`, `4`).
pub fn category_and_generation(name: &str) -> Option<(String, String)> {
    let (family, _) = name.split_once('.')?;
    let category_len = family.bytes().take_while(u8::is_ascii_lowercase).count();
    if category_len == 0 {
        return None;
    }
    let (category, mut rest) = family.split_at(category_len);
    if let Some(after_dash) = rest.strip_prefix('-') {
        let digits = after_dash.bytes().take_while(u8::is_ascii_digit).count();
        if let Some(after_tb) = after_dash[digits..].strip_prefix("tb")
            && digits > 0
        {
            rest = after_tb;
        }
    }
    let digits = rest.bytes().take_while(u8::is_ascii_digit).count();
    (digits > 0).then(|| (category.to_string(), rest[..digits].to_string()))
}
