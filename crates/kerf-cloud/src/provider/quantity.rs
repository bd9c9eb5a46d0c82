//! Writing resources back as Kubernetes quantities for NodeClaim status:
//! exact (no rounding), binary suffixes for byte amounts that divide evenly,
//! milli suffix only when needed.

use std::collections::BTreeMap;

use k8s_openapi::apimachinery::pkg::api::resource::Quantity;
use kerf_core::resources::{EPHEMERAL_STORAGE, MEMORY, MILLI, Resources};

/// One amount in milli-units as a quantity: `1930m`, `2`, `7577Mi`, `20Gi`.
pub fn quantity(resource: &str, milli: i64) -> Quantity {
    if milli % MILLI != 0 {
        return Quantity(format!("{milli}m"));
    }
    let value = milli / MILLI;
    if value != 0 && matches!(resource, MEMORY | EPHEMERAL_STORAGE) {
        for (suffix, size) in [
            ("Ti", 1i64 << 40),
            ("Gi", 1 << 30),
            ("Mi", 1 << 20),
            ("Ki", 1 << 10),
        ] {
            if value % size == 0 {
                return Quantity(format!("{}{suffix}", value / size));
            }
        }
    }
    Quantity(value.to_string())
}

/// Every non-zero resource as a quantity map.
pub fn to_quantities(resources: &Resources) -> BTreeMap<String, Quantity> {
    resources
        .iter()
        .map(|(name, milli)| (name.to_string(), quantity(name, milli)))
        .collect()
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn exact_and_round_trips() {
        let cases = [
            ("cpu", 1930, "1930m"),
            ("cpu", 2000, "2"),
            ("memory", 7577 * (1 << 20) * MILLI, "7577Mi"),
            ("memory", 20 * (1 << 30) * MILLI, "20Gi"),
            ("memory", 1001 * MILLI, "1001"),
            ("ephemeral-storage", (1 << 40) * MILLI, "1Ti"),
            ("pods", 29 * MILLI, "29"),
            ("nvidia.com/gpu", MILLI, "1"),
        ];
        for (resource, milli, want) in cases {
            let q = quantity(resource, milli);
            assert_eq!(q.0, want);
            assert_eq!(
                kerf_api::quantity::parse_milli(&q.0),
                Ok(milli),
                "{want} round-trips"
            );
        }
        let r = Resources::new(2000, 1 << 30, 29);
        let map = to_quantities(&r);
        assert_eq!(map.len(), 3);
        assert_eq!(Resources::from_quantities(&map).expect("valid"), r);
    }
}
