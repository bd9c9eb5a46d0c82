//! Resource lists as the scheduler sees them: every quantity in milli-units
//! (Kubernetes' `MilliValue`), so cpu, memory and counts share one integer type
//! and arithmetic never rounds.

use std::collections::BTreeMap;
use std::fmt;

use k8s_openapi::apimachinery::pkg::api::resource::Quantity;
use serde::{Deserialize, Serialize};

pub const CPU: &str = "cpu";
pub const MEMORY: &str = "memory";
pub const PODS: &str = "pods";
pub const EPHEMERAL_STORAGE: &str = "ephemeral-storage";

/// Milli-units of one unit: `1` cpu is `1000`, `1Ki` memory is `1_024_000`.
pub const MILLI: i64 = 1000;

/// A list of resource amounts. The four resources every node has are fields,
/// so the hot fit check never touches a map; anything else (GPUs, neurons,
/// pod ENIs) lives in `extended`, which is empty and allocation-free for most pods.
#[derive(Clone, Default, PartialEq, Eq, Hash, Serialize, Deserialize)]
pub struct Resources {
    pub cpu: i64,
    pub memory: i64,
    pub pods: i64,
    pub ephemeral_storage: i64,
    pub extended: BTreeMap<String, i64>,
}

/// A quantity string that is not a Kubernetes quantity.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
#[error("{resource}: {value:?} is not a valid quantity: {reason}")]
pub struct QuantityError {
    pub resource: String,
    pub value: String,
    pub reason: String,
}

impl Resources {
    pub fn new(cpu_milli: i64, memory_bytes: i64, pods: i64) -> Self {
        Resources {
            cpu: cpu_milli,
            memory: memory_bytes.saturating_mul(MILLI),
            pods: pods.saturating_mul(MILLI),
            ..Default::default()
        }
    }

    /// Parses a Kubernetes resource list (`{cpu: "1", memory: "1Gi"}`).
    pub fn from_quantities(list: &BTreeMap<String, Quantity>) -> Result<Self, QuantityError> {
        let mut out = Resources::default();
        for (name, quantity) in list {
            let milli =
                kerf_api::quantity::parse_milli(&quantity.0).map_err(|reason| QuantityError {
                    resource: name.clone(),
                    value: quantity.0.clone(),
                    reason: reason.to_string(),
                })?;
            out.set(name, milli);
        }
        Ok(out)
    }

    pub fn get(&self, name: &str) -> i64 {
        match name {
            CPU => self.cpu,
            MEMORY => self.memory,
            PODS => self.pods,
            EPHEMERAL_STORAGE => self.ephemeral_storage,
            other => self.extended.get(other).copied().unwrap_or(0),
        }
    }

    pub fn set(&mut self, name: &str, milli: i64) {
        match name {
            CPU => self.cpu = milli,
            MEMORY => self.memory = milli,
            PODS => self.pods = milli,
            EPHEMERAL_STORAGE => self.ephemeral_storage = milli,
            other => {
                self.extended.insert(other.to_string(), milli);
            }
        }
    }

    /// Every named resource, the four built-in ones first, skipping zeros.
    pub fn iter(&self) -> impl Iterator<Item = (&str, i64)> + '_ {
        [
            (CPU, self.cpu),
            (MEMORY, self.memory),
            (PODS, self.pods),
            (EPHEMERAL_STORAGE, self.ephemeral_storage),
        ]
        .into_iter()
        .chain(self.extended.iter().map(|(k, v)| (k.as_str(), *v)))
        .filter(|(_, v)| *v != 0)
    }

    pub fn add(&mut self, other: &Resources) {
        self.cpu += other.cpu;
        self.memory += other.memory;
        self.pods += other.pods;
        self.ephemeral_storage += other.ephemeral_storage;
        for (k, v) in &other.extended {
            *self.extended.entry(k.clone()).or_insert(0) += v;
        }
    }

    pub fn sub(&mut self, other: &Resources) {
        self.cpu -= other.cpu;
        self.memory -= other.memory;
        self.pods -= other.pods;
        self.ephemeral_storage -= other.ephemeral_storage;
        for (k, v) in &other.extended {
            *self.extended.entry(k.clone()).or_insert(0) -= v;
        }
    }

    pub fn plus(&self, other: &Resources) -> Resources {
        let mut out = self.clone();
        out.add(other);
        out
    }

    pub fn minus(&self, other: &Resources) -> Resources {
        let mut out = self.clone();
        out.sub(other);
        out
    }

    /// Element-wise maximum, as Kubernetes combines init containers with the app containers.
    pub fn max_with(&mut self, other: &Resources) {
        self.cpu = self.cpu.max(other.cpu);
        self.memory = self.memory.max(other.memory);
        self.pods = self.pods.max(other.pods);
        self.ephemeral_storage = self.ephemeral_storage.max(other.ephemeral_storage);
        for (k, v) in &other.extended {
            let e = self.extended.entry(k.clone()).or_insert(0);
            *e = (*e).max(*v);
        }
    }

    /// True when every amount requested here is available in `capacity`.
    /// Resources the capacity does not name count as zero there.
    #[inline]
    pub fn fits_in(&self, capacity: &Resources) -> bool {
        self.cpu <= capacity.cpu
            && self.memory <= capacity.memory
            && self.pods <= capacity.pods
            && self.ephemeral_storage <= capacity.ephemeral_storage
            && self
                .extended
                .iter()
                .all(|(k, v)| *v <= 0 || *v <= capacity.extended.get(k).copied().unwrap_or(0))
    }

    /// The first resource that does not fit, with requested and available amounts.
    pub fn first_shortfall(&self, capacity: &Resources) -> Option<(String, i64, i64)> {
        self.iter()
            .find(|(name, v)| *v > capacity.get(name))
            .map(|(name, v)| (name.to_string(), v, capacity.get(name)))
    }

    pub fn is_zero(&self) -> bool {
        self.iter().next().is_none()
    }

    /// Clamps negative amounts to zero (allocatable can never go below zero).
    pub fn clamp_non_negative(mut self) -> Self {
        self.cpu = self.cpu.max(0);
        self.memory = self.memory.max(0);
        self.pods = self.pods.max(0);
        self.ephemeral_storage = self.ephemeral_storage.max(0);
        for v in self.extended.values_mut() {
            *v = (*v).max(0);
        }
        self
    }
}

/// Formats milli-units of `resource` the way a person reads them: `1500m`, `3`, `7.5Gi`.
pub fn format_amount(resource: &str, milli: i64) -> String {
    match resource {
        CPU => {
            if milli % MILLI == 0 {
                format!("{}", milli / MILLI)
            } else {
                format!("{milli}m")
            }
        }
        MEMORY | EPHEMERAL_STORAGE => format_bytes(milli / MILLI),
        _ => {
            if milli % MILLI == 0 {
                format!("{}", milli / MILLI)
            } else {
                format!("{}m", milli)
            }
        }
    }
}

/// Bytes in the largest binary unit that keeps one decimal of precision.
/// The sign applies to the whole amount (`-1.5Ki`, not `-1.-5Ki`).
pub fn format_bytes(bytes: i64) -> String {
    const UNITS: [(&str, u64); 4] = [
        ("Ti", 1 << 40),
        ("Gi", 1 << 30),
        ("Mi", 1 << 20),
        ("Ki", 1 << 10),
    ];
    let sign = if bytes < 0 { "-" } else { "" };
    let magnitude = bytes.unsigned_abs();
    for (suffix, size) in UNITS {
        if magnitude >= size {
            let whole = magnitude / size;
            let tenth = (magnitude % size) * 10 / size;
            return if tenth == 0 {
                format!("{sign}{whole}{suffix}")
            } else {
                format!("{sign}{whole}.{tenth}{suffix}")
            };
        }
    }
    format!("{bytes}")
}

impl fmt::Debug for Resources {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(f, "{}", self)
    }
}

impl fmt::Display for Resources {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        let parts: Vec<String> = self
            .iter()
            .map(|(k, v)| format!("{k}={}", format_amount(k, v)))
            .collect();
        write!(f, "{{{}}}", parts.join(", "))
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn q(pairs: &[(&str, &str)]) -> BTreeMap<String, Quantity> {
        pairs
            .iter()
            .map(|(k, v)| (k.to_string(), Quantity(v.to_string())))
            .collect()
    }

    #[test]
    fn parses_and_fits() {
        let req =
            Resources::from_quantities(&q(&[("cpu", "500m"), ("memory", "1Gi")])).expect("valid");
        assert_eq!(req.cpu, 500);
        assert_eq!(req.memory, (1 << 30) * MILLI);
        let cap =
            Resources::from_quantities(&q(&[("cpu", "1"), ("memory", "2Gi"), ("pods", "10")]))
                .expect("valid");
        assert!(req.fits_in(&cap));
        let gpu = Resources::from_quantities(&q(&[("nvidia.com/gpu", "1")])).expect("valid");
        assert!(!gpu.fits_in(&cap));
        assert_eq!(
            gpu.first_shortfall(&cap),
            Some(("nvidia.com/gpu".to_string(), 1000, 0))
        );
    }

    #[test]
    fn bad_quantity_names_the_resource() {
        let err = Resources::from_quantities(&q(&[("memory", "lots")])).expect_err("invalid");
        assert_eq!(err.resource, "memory");
    }

    #[test]
    fn formats_amounts() {
        assert_eq!(format_amount(CPU, 1500), "1500m");
        assert_eq!(format_amount(CPU, 2000), "2");
        assert_eq!(format_amount(MEMORY, (3 << 29) * MILLI), "1.5Gi");
        // Found by fuzzing (fuzz/corpus/quantity): negative amounts printed
        // "-1.-5Ki", which is not a quantity.
        assert_eq!(format_amount(MEMORY, -1536 * MILLI), "-1.5Ki");
        assert_eq!(format_bytes(-2048), "-2Ki");
        assert_eq!(format_bytes(i64::MIN), "-8388608Ti");
    }
}
