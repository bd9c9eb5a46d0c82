//! Label keys kerf's cloud providers put on instance types and nodes. All the
//! Kubernetes, Karpenter and `karpenter.k8s.aws/*` keys are `kerf_api::labels`
//! constants, re-exported here; only the fake catalogue's `size` key is local.

pub use kerf_api::labels::{
    ARCH, CAPACITY_TYPE, INSTANCE_ACCELERATOR_COUNT, INSTANCE_ACCELERATOR_MANUFACTURER,
    INSTANCE_ACCELERATOR_NAME, INSTANCE_CAPABILITY_FLEX, INSTANCE_CATEGORY, INSTANCE_CPU,
    INSTANCE_CPU_MANUFACTURER, INSTANCE_CPU_SUSTAINED_CLOCK_SPEED_MHZ, INSTANCE_EBS_BANDWIDTH,
    INSTANCE_ENCRYPTION_IN_TRANSIT_SUPPORTED, INSTANCE_FAMILY, INSTANCE_GENERATION,
    INSTANCE_GPU_COUNT, INSTANCE_GPU_MANUFACTURER, INSTANCE_GPU_MEMORY, INSTANCE_GPU_NAME,
    INSTANCE_HYPERVISOR, INSTANCE_LOCAL_NVME, INSTANCE_MEMORY, INSTANCE_NETWORK_BANDWIDTH,
    INSTANCE_SIZE, INSTANCE_TENANCY, INSTANCE_TYPE, NITRO_SANDBOX, NODEPOOL, OS, OS_LINUX,
    OS_WINDOWS, REGION, TENANCY_DEDICATED, TENANCY_DEFAULT, WINDOWS_BUILD, ZONE, ZONE_ID,
};

/// The label the upstream fake catalogue uses for `small` / `large`
/// (`fake.LabelInstanceSize`, registered as well-known there).
pub const FAKE_SIZE: &str = "size";

/// Karpenter's `lowerKabobCase`: `"Radeon Pro V520"` → `"radeon-pro-v520"`.
pub fn lower_kebab(s: &str) -> String {
    s.replace(' ', "-").to_lowercase()
}
