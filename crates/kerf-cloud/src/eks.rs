//! Node capacity and overhead the way the EKS AMIs and Karpenter's AWS provider
//! compute them (`pkg/providers/instancetype/types.go` upstream), as pure
//! functions of a raw machine [`Shape`], the template's [`KubeletSettings`] and
//! the operator-level [`EksOptions`].
//!
//! - capacity: cpu = vCPUs; memory = EC2 memory (less 64Mi CMA on arm64) minus
//!   `ceil(memory × vmMemoryOverheadPercent)`; pods = max pods; ephemeral-storage
//!   = root volume (20Gi); GPUs, Neuron devices and cores, EFA interfaces and
//!   pod ENIs as extended resources.
//! - kube-reserved: cpu in tiers (6% of the first core, 1% of the second, 0.5%
//!   of cores 3–4, 0.25% above), memory `11Mi × pods + 255Mi`, 1Gi ephemeral.
//! - system-reserved: none unless the kubelet settings name some.
//! - eviction threshold: `memory.available` 100Mi and `nodefs.available` 10%,
//!   overridden per signal by the larger of evictionHard and evictionSoft.
//! - max pods: kubelet `maxPods`, else `ENIs × (IPv4 per ENI − 1) + 2` (less
//!   reserved ENIs), else the shape's own limit, else 110; capped by `podsPerCore × vCPU`.
//!
//! Float rounding mirrors the Go code (f64 maths, truncation or ceil where it
//! uses them) so results agree with Karpenter to the byte.

use std::collections::BTreeMap;

use kerf_core::instance_type::Overhead;
use kerf_core::resources::{EPHEMERAL_STORAGE, MEMORY, MILLI, Resources};
use kerf_core::template::KubeletSettings;
use serde::{Deserialize, Serialize};

pub const MIB: i64 = 1 << 20;
pub const GIB: i64 = 1 << 30;

/// Karpenter's `VM_MEMORY_OVERHEAD_PERCENT` default.
pub const DEFAULT_VM_MEMORY_OVERHEAD_PERCENT: f64 = 0.075;
/// The EKS AMIs' default root volume, which backs ephemeral storage.
pub const DEFAULT_EPHEMERAL_STORAGE_BYTES: i64 = 20 * GIB;
/// The kubelet's own default when nothing limits pods.
pub const DEFAULT_MAX_PODS: i64 = 110;
/// Memory Graviton kernels reserve for the contiguous memory allocator.
pub const ARM64_CMA_RESERVED_MIB: i64 = 64;

pub const RESOURCE_NVIDIA_GPU: &str = "nvidia.com/gpu";
pub const RESOURCE_AMD_GPU: &str = "amd.com/gpu";
pub const RESOURCE_HABANA_GAUDI: &str = "habana.ai/gaudi";
pub const RESOURCE_AWS_NEURON: &str = "aws.amazon.com/neuron";
pub const RESOURCE_AWS_NEURON_CORE: &str = "aws.amazon.com/neuroncore";
pub const RESOURCE_EFA: &str = "vpc.amazonaws.com/efa";
pub const RESOURCE_POD_ENI: &str = "vpc.amazonaws.com/pod-eni";
/// Secondary IPv4 addresses the VPC resource controller hands Windows pods.
pub const RESOURCE_PRIVATE_IPV4_ADDRESS: &str = "vpc.amazonaws.com/PrivateIPv4Address";

pub const SIGNAL_MEMORY_AVAILABLE: &str = "memory.available";
pub const SIGNAL_NODEFS_AVAILABLE: &str = "nodefs.available";

/// CPU architecture, spelled as the `kubernetes.io/arch` label spells it.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Hash, Serialize, Deserialize)]
#[serde(rename_all = "lowercase")]
pub enum Arch {
    Amd64,
    Arm64,
}

impl Arch {
    pub fn as_str(self) -> &'static str {
        match self {
            Arch::Amd64 => "amd64",
            Arch::Arm64 => "arm64",
        }
    }
}

/// The ENI limits of the default network card; they bound pod density under the VPC CNI.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Serialize, Deserialize)]
pub struct EniLimits {
    pub max_enis: i64,
    pub ipv4_per_eni: i64,
}

/// Accelerators of one kind on an instance (also the catalogue's `gpu` entry).
#[derive(Clone, Debug, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "camelCase", deny_unknown_fields)]
pub struct Gpu {
    pub count: i64,
    /// As EC2 names it, e.g. `A10G`.
    pub name: String,
    /// As EC2 names it, e.g. `NVIDIA`; decides the extended resource name.
    pub manufacturer: String,
    /// Memory of one GPU.
    #[serde(rename = "memoryMiB")]
    pub memory_mib: i64,
    /// Devices the plugin advertises when that is not `count` (a `g6f` has a
    /// fraction of a GPU: count 0, and no device).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub devices: Option<i64>,
}

impl Gpu {
    /// How many of [`Gpu::resource_name`] a node advertises.
    pub fn device_count(&self) -> i64 {
        self.devices.unwrap_or(self.count)
    }

    /// The extended resource the device plugin advertises, if kerf knows it.
    pub fn resource_name(&self) -> Option<&'static str> {
        match self.manufacturer.to_ascii_lowercase().as_str() {
            "nvidia" => Some(RESOURCE_NVIDIA_GPU),
            "amd" => Some(RESOURCE_AMD_GPU),
            "habana" => Some(RESOURCE_HABANA_GAUDI),
            _ => None,
        }
    }
}

/// A machine shape as EC2 describes it, before any kubelet arithmetic.
#[derive(Clone, Debug, PartialEq, Serialize, Deserialize)]
pub struct Shape {
    pub vcpu: i64,
    pub memory_mib: i64,
    pub arch: Arch,
    /// `None` when the ENI data is unknown: max pods falls back to 110.
    pub eni: Option<EniLimits>,
    pub gpu: Option<Gpu>,
    /// AWS Inferentia / Trainium devices.
    pub neuron_count: i64,
    /// Their NeuronCores (`aws.amazon.com/neuroncore`).
    pub neuron_core_count: i64,
    /// EFA interfaces (`vpc.amazonaws.com/efa`).
    pub efa_count: i64,
    /// Branch ENIs for pod security groups (`vpc.amazonaws.com/pod-eni`).
    pub pod_eni: i64,
    /// Max pods when there is no ENI data to compute it from.
    pub max_pods: Option<i64>,
}

impl Shape {
    pub fn new(vcpu: i64, memory_mib: i64, arch: Arch) -> Self {
        Shape {
            vcpu,
            memory_mib,
            arch,
            eni: None,
            gpu: None,
            neuron_count: 0,
            neuron_core_count: 0,
            efa_count: 0,
            pod_eni: 0,
            max_pods: None,
        }
    }

    pub fn with_eni(mut self, max_enis: i64, ipv4_per_eni: i64) -> Self {
        self.eni = Some(EniLimits {
            max_enis,
            ipv4_per_eni,
        });
        self
    }

    pub fn with_gpu(mut self, gpu: Gpu) -> Self {
        self.gpu = Some(gpu);
        self
    }
}

/// Operator-wide settings (Karpenter's AWS options and AMI family behaviour).
#[derive(Clone, Debug, PartialEq, Serialize, Deserialize)]
pub struct EksOptions {
    /// Fraction of memory the hypervisor and kernel keep (0.075).
    pub vm_memory_overhead_percent: f64,
    /// ENIs kept back from the VPC CNI (0).
    pub reserved_enis: i64,
    /// Size of the volume backing ephemeral storage (20Gi).
    pub ephemeral_storage_bytes: i64,
    /// AL2, AL2023 and Ubuntu size kube-reserved memory from the ENI-limited pod
    /// count even when `maxPods` is set; Bottlerocket uses the actual max pods.
    pub eni_limited_memory_overhead: bool,
    /// Without `maxPods`, the kubelet admits the ENI-limited pod count (the
    /// Linux EKS images); Windows nodes admit 110.
    pub eni_limited_pod_density: bool,
    /// The node advertises `vpc.amazonaws.com/PrivateIPv4Address` (IPv4 per
    /// ENI − 1), as the VPC resource controller does for Windows nodes.
    pub private_ipv4_address: bool,
}

impl Default for EksOptions {
    fn default() -> Self {
        EksOptions {
            vm_memory_overhead_percent: DEFAULT_VM_MEMORY_OVERHEAD_PERCENT,
            reserved_enis: 0,
            ephemeral_storage_bytes: DEFAULT_EPHEMERAL_STORAGE_BYTES,
            eni_limited_memory_overhead: true,
            eni_limited_pod_density: true,
            private_ipv4_address: false,
        }
    }
}

/// What a node of one shape reports and keeps back.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct Allocation {
    pub capacity: Resources,
    pub overhead: Overhead,
}

impl Allocation {
    /// `capacity − overhead`, never negative.
    pub fn allocatable(&self) -> Resources {
        self.capacity
            .minus(&self.overhead.total())
            .clamp_non_negative()
    }
}

/// A kubelet setting the EKS maths cannot use.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
#[error("kubelet {setting}[{signal}]: {value:?} is not a valid eviction threshold: {reason}")]
pub struct EksError {
    /// `evictionHard` or `evictionSoft`.
    pub setting: &'static str,
    pub signal: String,
    pub value: String,
    pub reason: ThresholdError,
}

/// Why an eviction threshold value is unusable.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
pub enum ThresholdError {
    #[error("{0:?} is not a number")]
    NotANumber(String),
    #[error("{0}% is outside 0-100%")]
    OutOfRange(String),
    #[error(transparent)]
    Quantity(#[from] kerf_api::quantity::QuantityError),
    #[error("must not be negative")]
    Negative,
}

/// Capacity and overhead of a node of `shape` under `kubelet` settings.
pub fn allocation(
    shape: &Shape,
    kubelet: &KubeletSettings,
    opts: &EksOptions,
) -> Result<Allocation, EksError> {
    let pods = if opts.eni_limited_pod_density {
        max_pods(shape, kubelet, opts.reserved_enis)
    } else {
        let fixed = KubeletSettings {
            max_pods: Some(kubelet.max_pods.unwrap_or(DEFAULT_MAX_PODS)),
            ..kubelet.clone()
        };
        max_pods(shape, &fixed, opts.reserved_enis)
    };
    let memory_bytes = memory_capacity_mib(
        shape.memory_mib,
        shape.arch,
        opts.vm_memory_overhead_percent,
    ) * MIB;
    let storage_bytes = opts.ephemeral_storage_bytes;

    let mut capacity = Resources::new(shape.vcpu * MILLI, memory_bytes, pods);
    capacity.ephemeral_storage = storage_bytes * MILLI;
    if let Some(gpu) = &shape.gpu
        && let Some(name) = gpu.resource_name()
        && gpu.device_count() > 0
    {
        capacity.set(name, gpu.device_count() * MILLI);
    }
    for (name, count) in [
        (RESOURCE_AWS_NEURON, shape.neuron_count),
        (RESOURCE_AWS_NEURON_CORE, shape.neuron_core_count),
        (RESOURCE_EFA, shape.efa_count),
        (RESOURCE_POD_ENI, shape.pod_eni),
    ] {
        if count > 0 {
            capacity.set(name, count * MILLI);
        }
    }
    if opts.private_ipv4_address {
        let addresses = shape.eni.map_or(0, |e| (e.ipv4_per_eni - 1).max(0));
        capacity.set(RESOURCE_PRIVATE_IPV4_ADDRESS, addresses * MILLI);
    }

    let memory_pods = if opts.eni_limited_memory_overhead {
        eni_limited_pods(shape, opts.reserved_enis).unwrap_or(pods)
    } else {
        pods
    };
    let overhead = Overhead {
        kube_reserved: kube_reserved(shape.vcpu, memory_pods, kubelet),
        system_reserved: overrides(&kubelet.system_reserved),
        eviction_threshold: eviction_threshold(memory_bytes, storage_bytes, kubelet)?,
    };
    Ok(Allocation { capacity, overhead })
}

/// `ENIs × (IPv4 per ENI − 1) + 2`, the VPC CNI's pod limit, or `None` without ENI data.
pub fn eni_limited_pods(shape: &Shape, reserved_enis: i64) -> Option<i64> {
    let eni = shape.eni?;
    let usable = (eni.max_enis - reserved_enis).max(0);
    if usable == 0 {
        return Some(0);
    }
    Some(usable * (eni.ipv4_per_eni - 1).max(0) + 2)
}

/// Pods the kubelet will admit: `maxPods`, else ENI-limited, else the shape's
/// own limit, else 110; capped by `podsPerCore`.
pub fn max_pods(shape: &Shape, kubelet: &KubeletSettings, reserved_enis: i64) -> i64 {
    let count = match kubelet.max_pods {
        Some(n) => n,
        None => eni_limited_pods(shape, reserved_enis)
            .or(shape.max_pods)
            .unwrap_or(DEFAULT_MAX_PODS),
    };
    match kubelet.pods_per_core {
        Some(per_core) if per_core > 0 => count.min(per_core.saturating_mul(shape.vcpu)),
        _ => count,
    }
}

/// Memory capacity in MiB: EC2's figure, less 64Mi on arm64, less the VM overhead
/// rounded up to a whole MiB (`mem − ceil(mem × pct)`).
pub fn memory_capacity_mib(memory_mib: i64, arch: Arch, vm_memory_overhead_percent: f64) -> i64 {
    let mib = match arch {
        Arch::Arm64 => memory_mib - ARM64_CMA_RESERVED_MIB,
        Arch::Amd64 => memory_mib,
    };
    let bytes = (mib * MIB) as f64;
    let overhead_mib = (bytes * vm_memory_overhead_percent / 1024.0 / 1024.0).ceil() as i64;
    mib - overhead_mib
}

/// Kube-reserved CPU in millicores for `vcpu` cores (the Bottlerocket/EKS tiers).
pub fn kube_reserved_cpu_milli(vcpu: i64) -> i64 {
    const TIERS: [(i64, i64, f64); 4] = [
        (0, 1000, 0.06),
        (1000, 2000, 0.01),
        (2000, 4000, 0.005),
        (4000, 1 << 31, 0.0025),
    ];
    let cpu = vcpu * MILLI;
    TIERS
        .iter()
        .filter(|(start, _, _)| cpu >= *start)
        .map(|&(start, end, pct)| {
            let span = if cpu < end { cpu - start } else { end - start };
            (span as f64 * pct) as i64
        })
        .sum()
}

/// Kube-reserved memory in MiB for a node that runs `pods` pods.
pub fn kube_reserved_memory_mib(pods: i64) -> i64 {
    pods.saturating_mul(11).saturating_add(255)
}

/// Default kube-reserved for the shape, with kubelet `kubeReserved` keys replacing defaults.
pub fn kube_reserved(vcpu: i64, pods: i64, kubelet: &KubeletSettings) -> Resources {
    let mut out = Resources {
        cpu: kube_reserved_cpu_milli(vcpu),
        memory: kube_reserved_memory_mib(pods).saturating_mul(MIB * MILLI),
        ephemeral_storage: GIB * MILLI,
        ..Default::default()
    };
    for (name, milli) in &kubelet.kube_reserved {
        if is_reservable(name) {
            out.set(name, *milli);
        }
    }
    out
}

/// Reservation overrides as resources (`pid` is a kubelet limit, not a node resource).
fn overrides(list: &BTreeMap<String, i64>) -> Resources {
    let mut out = Resources::default();
    for (name, milli) in list {
        if is_reservable(name) {
            out.set(name, *milli);
        }
    }
    out
}

fn is_reservable(name: &str) -> bool {
    name != "pid"
}

/// The eviction threshold: 100Mi memory and 10% of ephemeral storage by default;
/// each signal set in evictionHard or evictionSoft replaces its default with the
/// larger of the two, percentages taken of capacity.
pub fn eviction_threshold(
    memory_bytes: i64,
    storage_bytes: i64,
    kubelet: &KubeletSettings,
) -> Result<Resources, EksError> {
    let mut out = Resources {
        memory: 100 * MIB * MILLI,
        ephemeral_storage: ((storage_bytes as f64) / 100.0 * 10.0).ceil() as i64 * MILLI,
        ..Default::default()
    };
    let signals = [
        (SIGNAL_MEMORY_AVAILABLE, MEMORY, memory_bytes),
        (SIGNAL_NODEFS_AVAILABLE, EPHEMERAL_STORAGE, storage_bytes),
    ];
    for (signal, resource, capacity_bytes) in signals {
        let mut value: Option<i64> = None;
        for (setting, map) in [
            ("evictionHard", &kubelet.eviction_hard),
            ("evictionSoft", &kubelet.eviction_soft),
        ] {
            if let Some(raw) = map.get(signal) {
                let milli =
                    eviction_signal_milli(capacity_bytes, raw).map_err(|reason| EksError {
                        setting,
                        signal: signal.to_string(),
                        value: raw.clone(),
                        reason,
                    })?;
                value = Some(value.map_or(milli, |v| v.max(milli)));
            }
        }
        if let Some(v) = value {
            out.set(resource, v);
        }
    }
    Ok(out)
}

/// One eviction signal value in milli-units: `"10%"` of `capacity_bytes`
/// (rounded up to a byte; `100%` disables the threshold) or a quantity.
pub fn eviction_signal_milli(capacity_bytes: i64, value: &str) -> Result<i64, ThresholdError> {
    let value = value.trim();
    if let Some(pct) = value.strip_suffix('%') {
        let p: f64 = pct
            .trim()
            .parse()
            .map_err(|_| ThresholdError::NotANumber(pct.to_string()))?;
        if !(0.0..=100.0).contains(&p) {
            return Err(ThresholdError::OutOfRange(p.to_string()));
        }
        let p = if p == 100.0 { 0.0 } else { p };
        return Ok(((capacity_bytes as f64) / 100.0 * p).ceil() as i64 * MILLI);
    }
    let milli = kerf_api::quantity::parse_milli(value)?;
    if milli < 0 {
        return Err(ThresholdError::Negative);
    }
    Ok(milli)
}

#[cfg(test)]
mod tests;
