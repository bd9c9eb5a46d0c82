//! The hand-built catalogue: nine instance types over three zones.

use super::*;

/// name, family, arch, vcpu, GiB, max pods, on-demand $/h, zones (bitmask), has spot, GPUs
pub(super) type Shape = (
    &'static str,
    &'static str,
    &'static str,
    i64,
    i64,
    i64,
    f64,
    u8,
    bool,
    i64,
);

pub(super) const SHAPES: [Shape; 9] = [
    ("c.large", "c", "amd64", 2, 4, 8, 0.085, 0b111, true, 0),
    ("c.xlarge", "c", "amd64", 4, 8, 16, 0.17, 0b111, true, 0),
    ("m.large", "m", "amd64", 2, 8, 8, 0.096, 0b111, true, 0),
    ("m.xlarge", "m", "amd64", 4, 16, 16, 0.192, 0b111, true, 0),
    ("m.2xlarge", "m", "amd64", 8, 32, 29, 0.384, 0b011, true, 0),
    ("r.large", "r", "amd64", 2, 16, 8, 0.126, 0b111, true, 0),
    ("g.large", "g", "arm64", 2, 8, 8, 0.077, 0b111, true, 0),
    ("g.xlarge", "g", "arm64", 4, 16, 16, 0.154, 0b110, false, 0),
    ("p.xlarge", "p", "amd64", 4, 16, 16, 0.9, 0b011, true, 1),
];

/// Nine instance types over three zones, spot and on-demand, with a few
/// offerings missing or unavailable and spot prices that differ by zone.
pub fn catalogue() -> Vec<Arc<InstanceType>> {
    SHAPES
        .iter()
        .enumerate()
        .map(
            |(i, &(name, family, arch, vcpu, gib, pods, price, zones, spot, gpus))| {
                let labels: BTreeMap<String, String> = [
                    (ARCH, arch.to_string()),
                    ("kubernetes.io/os", "linux".to_string()),
                    (FAMILY, family.to_string()),
                    (INSTANCE_CPU, vcpu.to_string()),
                ]
                .into_iter()
                .map(|(k, v)| (k.to_string(), v))
                .collect();
                let mut offerings = Vec::new();
                for (z, zone) in ZONES.iter().enumerate() {
                    if zones & (1 << z) == 0 {
                        continue;
                    }
                    offerings.push(Offering {
                        zone: zone.to_string(),
                        capacity_type: "on-demand".into(),
                        price,
                        available: true,
                        zone_id: None,
                    });
                    if spot {
                        let factor = 0.30 + 0.04 * z as f64 + 0.01 * (i % 3) as f64;
                        // Two spot pools are out of capacity.
                        let available =
                            !((name == "c.large" && z == 1) || (name == "r.large" && z == 2));
                        offerings.push(Offering {
                            zone: zone.to_string(),
                            capacity_type: "spot".into(),
                            price: (price * factor * 10_000.0).round() / 10_000.0,
                            available,
                            zone_id: None,
                        });
                    }
                }
                let mut capacity = Resources::new(vcpu * 1000, gib * GIB, pods);
                capacity.ephemeral_storage = 20 * GIB * MILLI;
                if gpus > 0 {
                    capacity.extended.insert(GPU.to_string(), gpus * MILLI);
                }
                let mut kube_reserved = Resources::new(80, 256 * MIB, 0);
                kube_reserved.ephemeral_storage = GIB * MILLI;
                let overhead = Overhead {
                    kube_reserved,
                    ..Default::default()
                };
                Arc::new(InstanceType::new(
                    name, labels, capacity, overhead, offerings,
                ))
            },
        )
        .collect()
}
