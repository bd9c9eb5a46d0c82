//! The upstream scheduling benchmark's catalogue (`fake.InstanceTypes(n)` in
//! kubernetes-sigs/karpenter `pkg/cloudprovider/fake`), so kerf's benchmarks
//! solve the same problem Karpenter's do.
//!
//! Type `fake-it-i` (i = 1..=n) has i vCPU, 2i GiB memory and 10i pods, keeps
//! back 100m cpu and 10Mi memory as kube-reserved, and costs
//! `0.1 × cpu + 0.1 × memory bytes / 1e9` dollars an hour in every offering:
//! spot in test-zone-1 and test-zone-2, on-demand in test-zone-1..3.

use std::collections::BTreeMap;

use kerf_core::instance_type::{
    CAPACITY_TYPE_ON_DEMAND, CAPACITY_TYPE_SPOT, InstanceType, Offering, Overhead,
};
use kerf_core::resources::{MILLI, Resources};

use crate::eks::{GIB, MIB};
use crate::labels;

pub const FAKE_ZONES: [&str; 3] = ["test-zone-1", "test-zone-2", "test-zone-3"];
const SPOT_ZONES: [&str; 2] = ["test-zone-1", "test-zone-2"];

/// Upstream's `PriceFromResources`: $0.1 per vCPU plus $0.1 per GB (10^9 bytes) of memory.
pub fn price_from_resources(cpu_milli: i64, memory_bytes: i64) -> f64 {
    0.1 * (cpu_milli as f64 / MILLI as f64) + 0.1 * (memory_bytes as f64) / 1e9
}

/// `fake-it-1` … `fake-it-n`, in that order.
pub fn fake_instance_types(n: usize) -> Vec<InstanceType> {
    (1..=n as i64).map(fake_instance_type).collect()
}

/// `fake-it-i`: i vCPU, 2i GiB, 10i pods.
pub fn fake_instance_type(i: i64) -> InstanceType {
    let capacity = Resources::new(i * MILLI, 2 * i * GIB, 10 * i);
    let price = price_from_resources(capacity.cpu, capacity.memory / MILLI);
    let overhead = Overhead {
        kube_reserved: Resources::new(100, 10 * MIB, 0),
        ..Default::default()
    };
    let offering = |zone: &str, capacity_type: &str| Offering {
        zone: zone.to_string(),
        capacity_type: capacity_type.to_string(),
        price,
        available: true,
        zone_id: None,
    };
    let offerings = SPOT_ZONES
        .iter()
        .map(|z| offering(z, CAPACITY_TYPE_SPOT))
        .chain(
            FAKE_ZONES
                .iter()
                .map(|z| offering(z, CAPACITY_TYPE_ON_DEMAND)),
        )
        .collect();
    // Upstream: "large" once a type has more than 4 vCPU and more than 8Gi.
    let size = if i > 4 && 2 * i > 8 { "large" } else { "small" };
    let labels: BTreeMap<String, String> = [
        (labels::ARCH, "amd64"),
        (labels::OS, "linux"),
        (labels::FAKE_SIZE, size),
    ]
    .into_iter()
    .map(|(k, v)| (k.to_string(), v.to_string()))
    .collect();
    InstanceType::new(
        format!("fake-it-{i}"),
        labels,
        capacity,
        overhead,
        offerings,
    )
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn price_formula() {
        let types = fake_instance_types(3);
        // 0.1 × 1 + 0.1 × 2 × 2^30 / 1e9 = 0.3147483648
        assert!((types[0].offerings[0].price - 0.314_748_364_8).abs() < 1e-12);
        assert!((types[2].offerings[0].price - 3.0 * 0.314_748_364_8).abs() < 1e-12);
        assert!(
            types
                .iter()
                .all(|t| t.offerings.iter().all(|o| o.price == t.offerings[0].price))
        );
    }

    #[test]
    fn shapes_offerings_and_labels() {
        let types = fake_instance_types(400);
        assert_eq!(types.len(), 400);
        let t = &types[9];
        assert_eq!(t.name, "fake-it-10");
        assert_eq!(t.capacity, Resources::new(10_000, 20 * GIB, 100));
        assert_eq!(
            t.allocatable(),
            &Resources::new(9_900, 20 * GIB - 10 * MIB, 100)
        );
        let offers: Vec<(&str, &str)> = t
            .offerings
            .iter()
            .map(|o| (o.zone.as_str(), o.capacity_type.as_str()))
            .collect();
        assert_eq!(
            offers,
            [
                ("test-zone-1", "spot"),
                ("test-zone-2", "spot"),
                ("test-zone-1", "on-demand"),
                ("test-zone-2", "on-demand"),
                ("test-zone-3", "on-demand"),
            ]
        );
        assert_eq!(
            t.labels.get(labels::INSTANCE_TYPE).map(String::as_str),
            Some("fake-it-10")
        );
        assert_eq!(
            t.labels.get(labels::ARCH).map(String::as_str),
            Some("amd64")
        );
        assert_eq!(t.labels.get(labels::OS).map(String::as_str), Some("linux"));
        assert_eq!(
            t.labels.get(labels::FAKE_SIZE).map(String::as_str),
            Some("large")
        );
        assert_eq!(
            types[3].labels.get(labels::FAKE_SIZE).map(String::as_str),
            Some("small")
        );
        assert_eq!(
            types[4].labels.get(labels::FAKE_SIZE).map(String::as_str),
            Some("large")
        );
    }
}
