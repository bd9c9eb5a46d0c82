//! EC2 instance types as kerf catalogue entries: DescribeInstanceTypes gives the
//! shape (vCPU, memory, architecture, CPU manufacturer and clock, GPUs,
//! accelerators, Neuron devices, EFA, ENI limits, local NVMe, EBS bandwidth,
//! encryption in transit, hypervisor; network bandwidth is upstream's table's,
//! see [`network_bandwidth_mbps`]), DescribeInstanceTypeOfferings the zones each is
//! sold in. The conversion is pure ([`catalog_entry`]) and feeds the same
//! [`kerf_cloud::catalog::CatalogEntry`] → `InstanceType` path as the built-in
//! catalogue, so labels and allocatable are computed exactly once, one way.

use std::collections::{BTreeMap, BTreeSet};

use aws_sdk_ec2::types::{
    ArchitectureType, EbsOptimizedSupport, EphemeralNvmeSupport, Filter, InstanceType,
    InstanceTypeInfo, LocationType, NitroEnclavesSupport,
};
use kerf_cloud::catalog::{Accelerator, CatalogEntry};
use kerf_cloud::eks::{Arch, Gpu};
use kerf_cloud::{CloudError, provider::Result};

use crate::error::aws_error;

/// A DescribeInstanceTypes entry kerf cannot turn into a catalogue entry,
/// naming the type and the field; the type is left out with a warning.
#[derive(Debug, PartialEq, thiserror::Error)]
pub enum EntryError {
    #[error("InstanceType is missing")]
    NoName,
    #[error("instance type {name}: {field} is missing")]
    Missing { name: String, field: &'static str },
    #[error(
        "instance type {name}: ProcessorInfo.SupportedArchitectures {archs} has neither x86_64 nor arm64"
    )]
    Architecture { name: String, archs: String },
}

/// `karpenter.k8s.aws/instance-network-bandwidth` for a type: upstream takes it
/// from its `InstanceTypeBandwidthMegabits` table, not from EC2's network
/// card baseline, and leaves the label off for types the table lacks. The
/// built-in catalogue holds the table's values, so a type it knows gets its
/// value; any other type none.
pub fn network_bandwidth_mbps(name: &str) -> Option<i64> {
    kerf_cloud::Catalog::builtin_ref()
        .get(name)
        .and_then(|e| e.network_bandwidth_mbps)
}

/// The shape of one instance type, prices left empty (they come from the price sources).
pub fn catalog_entry(info: &InstanceTypeInfo) -> std::result::Result<CatalogEntry, EntryError> {
    let name = info
        .instance_type()
        .map(|t| t.as_str().to_string())
        .ok_or(EntryError::NoName)?;
    let vcpu = info
        .v_cpu_info()
        .and_then(|v| v.default_v_cpus())
        .ok_or_else(|| EntryError::Missing {
            name: name.clone(),
            field: "VCpuInfo.DefaultVCpus",
        })?;
    let memory_mib = info
        .memory_info()
        .and_then(|m| m.size_in_mib())
        .ok_or_else(|| EntryError::Missing {
            name: name.clone(),
            field: "MemoryInfo.SizeInMiB",
        })?;
    let archs = info
        .processor_info()
        .map(|p| p.supported_architectures())
        .unwrap_or_default();
    let arch = if archs.contains(&ArchitectureType::X8664) {
        Arch::Amd64
    } else if archs.contains(&ArchitectureType::Arm64) {
        Arch::Arm64
    } else {
        return Err(EntryError::Architecture {
            name,
            archs: format!("{archs:?}"),
        });
    };
    let network = info.network_info();
    let default_card = network.and_then(|n| {
        let index = n.default_network_card_index().unwrap_or(0);
        n.network_cards()
            .iter()
            .find(|c| c.network_card_index().unwrap_or(0) == index)
    });
    let max_enis = default_card
        .and_then(|c| c.maximum_network_interfaces())
        .or_else(|| network.and_then(|n| n.maximum_network_interfaces()))
        .map(i64::from);
    let ipv4_per_eni = network
        .and_then(|n| n.ipv4_addresses_per_interface())
        .map(i64::from);
    let (max_enis, ipv4_per_eni) = match (max_enis, ipv4_per_eni) {
        (Some(e), Some(i)) if e > 0 && i > 0 => (Some(e), Some(i)),
        _ => (None, None),
    };
    let bandwidth = network_bandwidth_mbps(&name);
    let local_nvme_gib = info
        .instance_storage_info()
        .filter(|s| {
            matches!(
                s.nvme_support(),
                Some(EphemeralNvmeSupport::Required | EphemeralNvmeSupport::Supported)
            )
        })
        .and_then(|s| s.total_size_in_gb())
        .filter(|g| *g > 0);
    // Upstream `computeRequirements` labels GPUs only for a type with exactly
    // one GpuInfo.Gpus entry (no type has two today; one that did would get
    // neither labels nor, here, GPU capacity).
    let gpu = info
        .gpu_info()
        .and_then(|g| match g.gpus() {
            [one] => Some(one),
            _ => None,
        })
        .and_then(|d| {
            Some(Gpu {
                count: i64::from(d.count()?),
                name: d.name()?.to_string(),
                manufacturer: d.manufacturer()?.to_string(),
                memory_mib: d
                    .memory_info()
                    .and_then(|m| m.size_in_mib())
                    .map_or(0, i64::from),
                devices: None,
            })
        })
        .filter(|g| g.count > 0);
    let neuron_count: i64 = info
        .neuron_info()
        .map(|n| {
            n.neuron_devices()
                .iter()
                .filter_map(|d| d.count())
                .map(i64::from)
                .sum()
        })
        .unwrap_or(0);
    let neuron_device = info.neuron_info().and_then(|n| match n.neuron_devices() {
        [one] => Some(one),
        _ => None,
    });
    let neuron_core_count = neuron_device
        .and_then(|d| Some(i64::from(d.count()?) * i64::from(d.core_info()?.count()?)))
        .filter(|c| *c > 0);
    // As Karpenter: a Neuron device's labels win over an inference accelerator's.
    let accelerator = match neuron_device {
        Some(d) => d.name().zip(d.count()).map(|(n, c)| Accelerator {
            count: i64::from(c),
            name: n.to_string(),
            manufacturer: "aws".to_string(),
        }),
        None => info
            .inference_accelerator_info()
            .and_then(|a| match a.accelerators() {
                [one] => Some(one),
                _ => None,
            })
            .and_then(|a| {
                Some(Accelerator {
                    count: i64::from(a.count()?),
                    name: a.name()?.to_string(),
                    manufacturer: a.manufacturer()?.to_string(),
                })
            }),
    };
    let processor = info.processor_info();
    let cpu_manufacturer = processor
        .and_then(|p| p.manufacturer())
        .map(kerf_cloud::labels::lower_kebab);
    let cpu_sustained_clock_speed_mhz = processor
        .and_then(|p| p.sustained_clock_speed_in_ghz())
        .filter(|g| g.is_finite() && *g > 0.0)
        .map(|g| (g * 1000.0).round() as i64);
    let ebs_bandwidth_mbps = info
        .ebs_info()
        .filter(|e| e.ebs_optimized_support() == Some(&EbsOptimizedSupport::Default))
        .and_then(|e| e.ebs_optimized_info())
        .and_then(|o| o.maximum_bandwidth_in_mbps())
        .filter(|b| *b > 0)
        .map(i64::from);
    let efa_count = network
        .and_then(|n| n.efa_info())
        .and_then(|e| e.maximum_efa_interfaces())
        .filter(|c| *c > 0)
        .map(i64::from);
    let hypervisor = if info.bare_metal() == Some(true) {
        Some(String::new())
    } else {
        info.hypervisor().map(|h| h.as_str().to_string())
    };
    Ok(CatalogEntry {
        name,
        vcpu: i64::from(vcpu),
        memory_mib,
        arch,
        os: vec!["linux".to_string()],
        windows_build: None,
        category: None,
        family: None,
        generation: None,
        size: None,
        hypervisor,
        cpu_manufacturer,
        cpu_sustained_clock_speed_mhz,
        ebs_bandwidth_mbps,
        encryption_in_transit_supported: Some(
            network
                .and_then(|n| n.encryption_in_transit_supported())
                .unwrap_or(false),
        ),
        nitro_enclaves_supported: Some(matches!(
            info.nitro_enclaves_support(),
            Some(NitroEnclavesSupport::Supported)
        )),
        network_bandwidth_mbps: bandwidth,
        local_nvme_gib,
        gpu,
        accelerator,
        neuron_count: (neuron_count > 0).then_some(neuron_count),
        neuron_core_count,
        efa_count,
        // Branch ENIs come from the VPC resource controller's table, not EC2.
        pod_eni: None,
        max_enis,
        ipv4_per_eni,
        max_pods: None,
        on_demand: None,
        spot: BTreeMap::new(),
    })
}

/// Every instance type in the region (or only those in `only`) as a catalogue
/// entry, sorted by name. Types EC2 describes incompletely are left out with a
/// warning naming the field.
pub async fn describe_instance_types(
    ec2: &aws_sdk_ec2::Client,
    only: Option<&[String]>,
) -> Result<Vec<CatalogEntry>> {
    let mut pages = ec2
        .describe_instance_types()
        .set_instance_types(only.map(|names| {
            names
                .iter()
                .map(|n| InstanceType::from(n.as_str()))
                .collect()
        }))
        .filters(
            Filter::builder()
                .name("supported-usage-class")
                .values("on-demand")
                .values("spot")
                .build(),
        )
        .into_paginator()
        .send();
    let mut out = Vec::new();
    while let Some(page) = pages.next().await {
        let page = page.map_err(|e| aws_error("DescribeInstanceTypes", e))?;
        for info in page.instance_types() {
            match catalog_entry(info) {
                Ok(entry) => out.push(entry),
                Err(why) => tracing::warn!(%why, "DescribeInstanceTypes: instance type left out"),
            }
        }
    }
    out.sort_by(|a, b| a.name.cmp(&b.name));
    out.dedup_by(|a, b| a.name == b.name);
    Ok(out)
}

/// Zones each instance type is offered in (DescribeInstanceTypeOfferings by availability zone).
pub async fn describe_offerings(
    ec2: &aws_sdk_ec2::Client,
) -> Result<BTreeMap<String, BTreeSet<String>>> {
    let mut pages = ec2
        .describe_instance_type_offerings()
        .location_type(LocationType::AvailabilityZone)
        .into_paginator()
        .send();
    let mut out: BTreeMap<String, BTreeSet<String>> = BTreeMap::new();
    while let Some(page) = pages.next().await {
        let page = page.map_err(|e| aws_error("DescribeInstanceTypeOfferings", e))?;
        for o in page.instance_type_offerings() {
            let (Some(t), Some(zone)) = (o.instance_type(), o.location()) else {
                return Err(CloudError::other(
                    "DescribeInstanceTypeOfferings",
                    "an offering lacks InstanceType or Location",
                ));
            };
            out.entry(t.as_str().to_string())
                .or_default()
                .insert(zone.to_string());
        }
    }
    Ok(out)
}

#[cfg(test)]
mod tests {
    use aws_sdk_ec2::types::{
        EbsInfo, EbsOptimizedInfo, GpuDeviceInfo, GpuDeviceMemoryInfo, GpuInfo,
        InstanceStorageInfo, InstanceTypeHypervisor, MemoryInfo, NetworkCardInfo, NetworkInfo,
        NeuronDeviceCoreInfo, NeuronDeviceInfo, NeuronInfo, ProcessorInfo, VCpuInfo,
    };

    use super::*;

    fn info(
        name: &str,
        vcpu: i32,
        mib: i64,
        arch: ArchitectureType,
    ) -> aws_sdk_ec2::types::builders::InstanceTypeInfoBuilder {
        InstanceTypeInfo::builder()
            .instance_type(InstanceType::from(name))
            .v_cpu_info(VCpuInfo::builder().default_v_cpus(vcpu).build())
            .memory_info(MemoryInfo::builder().size_in_mib(mib).build())
            .processor_info(
                ProcessorInfo::builder()
                    .supported_architectures(arch)
                    .build(),
            )
            .hypervisor(InstanceTypeHypervisor::Nitro)
            .network_info(
                NetworkInfo::builder()
                    .maximum_network_interfaces(3)
                    .ipv4_addresses_per_interface(10)
                    .default_network_card_index(0)
                    .network_cards(
                        NetworkCardInfo::builder()
                            .network_card_index(0)
                            .maximum_network_interfaces(3)
                            .baseline_bandwidth_in_gbps(0.75)
                            .build(),
                    )
                    .build(),
            )
    }

    #[test]
    fn shape_gpu_nvme_and_eni_limits() {
        let g = info("g5.xlarge", 4, 16384, ArchitectureType::X8664)
            .gpu_info(
                GpuInfo::builder()
                    .gpus(
                        GpuDeviceInfo::builder()
                            .count(1)
                            .name("A10G")
                            .manufacturer("NVIDIA")
                            .memory_info(GpuDeviceMemoryInfo::builder().size_in_mib(24576).build())
                            .build(),
                    )
                    .build(),
            )
            .instance_storage_info(
                InstanceStorageInfo::builder()
                    .total_size_in_gb(250)
                    .nvme_support(EphemeralNvmeSupport::Required)
                    .build(),
            )
            .build();
        let e = catalog_entry(&g).unwrap();
        assert_eq!((e.vcpu, e.memory_mib, e.arch), (4, 16384, Arch::Amd64));
        assert_eq!((e.max_enis, e.ipv4_per_eni), (Some(3), Some(10)));
        // Upstream's table (2500), not the card's 0.75 Gbps baseline.
        assert_eq!(e.network_bandwidth_mbps, Some(2500));
        assert_eq!(e.local_nvme_gib, Some(250));
        assert_eq!(e.hypervisor.as_deref(), Some("nitro"));
        let gpu = e.gpu.unwrap();
        assert_eq!(
            (gpu.count, gpu.name.as_str(), gpu.memory_mib),
            (1, "A10G", 24576)
        );
        let arm = catalog_entry(&info("m6g.large", 2, 8192, ArchitectureType::Arm64).build());
        assert_eq!(arm.unwrap().arch, Arch::Arm64);
    }

    /// Upstream `computeRequirements` (types.go): GPU labels only for a type
    /// with exactly one GPU entry; aws `pkg/providers/instancetype/
    /// suite_test.go` "should support individual instance type labels" checks
    /// them on a one-entry type.
    #[test]
    fn gpu_labels_only_for_exactly_one_gpu_entry() {
        let device = |name: &str| {
            GpuDeviceInfo::builder()
                .count(1)
                .name(name)
                .manufacturer("NVIDIA")
                .memory_info(GpuDeviceMemoryInfo::builder().size_in_mib(16384).build())
                .build()
        };
        let one = info("g4dn.xlarge", 4, 16384, ArchitectureType::X8664)
            .gpu_info(GpuInfo::builder().gpus(device("T4")).build())
            .build();
        let e = catalog_entry(&one).unwrap();
        assert_eq!(e.gpu.map(|g| g.name), Some("T4".to_string()));
        let two = info("g4dn.xlarge", 4, 16384, ArchitectureType::X8664)
            .gpu_info(
                GpuInfo::builder()
                    .gpus(device("T4"))
                    .gpus(device("A10G"))
                    .build(),
            )
            .build();
        let e = catalog_entry(&two).unwrap();
        assert_eq!(e.gpu, None);
        let labels = e.labels("us-east-1");
        assert!(
            !labels.contains_key(kerf_cloud::labels::INSTANCE_GPU_NAME),
            "{labels:?}"
        );
    }

    /// Upstream takes `instance-network-bandwidth` from its
    /// `InstanceTypeBandwidthMegabits` table: the built-in catalogue's value
    /// whatever EC2's card baseline says, and none for a type the table lacks
    /// (`c4.large`) or an unknown one.
    #[test]
    fn network_bandwidth_is_upstream_tables_not_the_card_baseline() {
        let builtin = |n: &str| {
            kerf_cloud::Catalog::builtin()
                .get(n)
                .and_then(|e| e.network_bandwidth_mbps)
        };
        for (name, want) in [
            ("m5.large", Some(750)),
            ("g5.xlarge", Some(2500)),
            ("c4.large", None),
            ("zz9.large", None),
        ] {
            let e = catalog_entry(&info(name, 2, 8192, ArchitectureType::X8664).build()).unwrap();
            assert_eq!(e.network_bandwidth_mbps, want, "{name}");
            assert_eq!(e.network_bandwidth_mbps, builtin(name), "{name}");
            assert_eq!(
                e.labels("us-east-1")
                    .get(kerf_cloud::labels::INSTANCE_NETWORK_BANDWIDTH)
                    .cloned(),
                want.map(|w| w.to_string()),
                "{name}"
            );
        }
    }

    #[test]
    fn cpu_ebs_encryption_efa_and_neuron_become_catalogue_fields() {
        let inf2 = info("inf2.xlarge", 4, 16384, ArchitectureType::X8664)
            .processor_info(
                ProcessorInfo::builder()
                    .supported_architectures(ArchitectureType::X8664)
                    .manufacturer("AMD")
                    .sustained_clock_speed_in_ghz(3.6)
                    .build(),
            )
            .ebs_info(
                EbsInfo::builder()
                    .ebs_optimized_support(EbsOptimizedSupport::Default)
                    .ebs_optimized_info(
                        EbsOptimizedInfo::builder()
                            .maximum_bandwidth_in_mbps(10000)
                            .build(),
                    )
                    .build(),
            )
            .neuron_info(
                NeuronInfo::builder()
                    .neuron_devices(
                        NeuronDeviceInfo::builder()
                            .count(1)
                            .name("Inferentia2")
                            .core_info(NeuronDeviceCoreInfo::builder().count(2).build())
                            .build(),
                    )
                    .build(),
            )
            .build();
        let e = catalog_entry(&inf2).unwrap();
        assert_eq!(e.cpu_manufacturer.as_deref(), Some("amd"));
        assert_eq!(e.cpu_sustained_clock_speed_mhz, Some(3600));
        assert_eq!(e.ebs_bandwidth_mbps, Some(10000));
        assert_eq!(e.encryption_in_transit_supported, Some(false));
        assert_eq!((e.neuron_count, e.neuron_core_count), (Some(1), Some(2)));
        let acc = e.accelerator.unwrap();
        assert_eq!(
            (acc.count, acc.name.as_str(), acc.manufacturer.as_str()),
            (1, "Inferentia2", "aws")
        );
        let labels = catalog_entry(&inf2).unwrap().labels("us-east-1");
        assert_eq!(
            labels
                .get(kerf_cloud::labels::INSTANCE_ACCELERATOR_NAME)
                .map(String::as_str),
            Some("inferentia2")
        );
        // EBS-optimized only on request: no EBS bandwidth label, as upstream.
        let xen = info("m3.large", 2, 7680, ArchitectureType::X8664)
            .ebs_info(
                EbsInfo::builder()
                    .ebs_optimized_support(EbsOptimizedSupport::Supported)
                    .ebs_optimized_info(
                        EbsOptimizedInfo::builder()
                            .maximum_bandwidth_in_mbps(500)
                            .build(),
                    )
                    .build(),
            )
            .build();
        assert_eq!(catalog_entry(&xen).unwrap().ebs_bandwidth_mbps, None);
    }

    #[test]
    fn incomplete_descriptions_name_the_field() {
        let broken = info("m5.large", 2, 8192, ArchitectureType::X8664)
            .set_memory_info(None)
            .build();
        assert_eq!(
            catalog_entry(&broken).unwrap_err().to_string(),
            "instance type m5.large: MemoryInfo.SizeInMiB is missing"
        );
        let i386 = info("t1.micro", 1, 627, ArchitectureType::I386).build();
        assert!(matches!(
            catalog_entry(&i386).unwrap_err(),
            EntryError::Architecture { name, .. } if name == "t1.micro"
        ));
    }
}
