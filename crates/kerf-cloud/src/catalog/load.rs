//! Reading a catalogue file: YAML or JSON by content, then typed entry by entry
//! so an error can name the file, the instance type and the field, then checked
//! for values the EKS maths and the scheduler cannot use. Never panics on input.

use std::collections::BTreeSet;
use std::fmt;

use serde::Deserialize;
use serde::de::DeserializeOwned;

use super::{Catalog, CatalogEntry};

/// Why a catalogue could not be loaded, naming where.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
pub struct CatalogError {
    /// The file path, or a name such as `builtin:aws-us-east-1.yaml`.
    pub file: String,
    /// The instance type's name, or `instanceTypes[i]` when it has none.
    pub entry: Option<String>,
    /// Dotted path of the offending field, e.g. `vcpu` or `gpu.count`.
    pub field: Option<String>,
    pub message: String,
}

impl fmt::Display for CatalogError {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(f, "{}: ", self.file)?;
        if let Some(entry) = &self.entry {
            write!(f, "instance type {entry}: ")?;
        }
        if let Some(field) = &self.field {
            write!(f, "field `{field}`: ")?;
        }
        write!(f, "{}", self.message)
    }
}

impl CatalogError {
    pub(super) fn file(file: &str, message: impl Into<String>) -> Self {
        CatalogError {
            file: file.to_string(),
            entry: None,
            field: None,
            message: message.into(),
        }
    }

    fn at(file: &str, entry: Option<&str>, field: &str, message: impl Into<String>) -> Self {
        CatalogError {
            file: file.to_string(),
            entry: entry.map(str::to_string),
            field: Some(field.to_string()),
            message: message.into(),
        }
    }
}

#[derive(Deserialize)]
#[serde(rename_all = "camelCase", deny_unknown_fields)]
struct RawCatalog {
    region: String,
    zones: Vec<String>,
    instance_types: Vec<serde_json::Value>,
}

pub(super) fn parse(file: &str, content: &str) -> Result<Catalog, CatalogError> {
    let value: serde_json::Value = if looks_like_json(content) {
        serde_json::from_str(content)
            .map_err(|e| CatalogError::file(file, format!("invalid JSON: {e}")))?
    } else {
        serde_yaml::from_str(content)
            .map_err(|e| CatalogError::file(file, format!("invalid YAML: {e}")))?
    };
    let raw: RawCatalog = typed(value).map_err(|(field, message)| CatalogError {
        file: file.to_string(),
        entry: None,
        field,
        message,
    })?;
    check_zones(file, &raw.zones)?;
    if raw.region.trim().is_empty() {
        return Err(CatalogError::at(file, None, "region", "must not be empty"));
    }
    let mut entries = Vec::with_capacity(raw.instance_types.len());
    let mut seen = BTreeSet::new();
    for (i, value) in raw.instance_types.into_iter().enumerate() {
        let label = value
            .get("name")
            .and_then(serde_json::Value::as_str)
            .map_or_else(|| format!("instanceTypes[{i}]"), str::to_string);
        let entry: CatalogEntry = typed(value).map_err(|(field, message)| CatalogError {
            file: file.to_string(),
            entry: Some(label.clone()),
            field,
            message,
        })?;
        check_entry(&entry, &raw.zones)
            .map_err(|(field, message)| CatalogError::at(file, Some(&label), field, message))?;
        if !seen.insert(entry.name.clone()) {
            return Err(CatalogError::at(
                file,
                Some(&label),
                "name",
                "appears more than once",
            ));
        }
        entries.push(entry);
    }
    Ok(Catalog {
        region: raw.region,
        zones: raw.zones,
        instance_types: entries,
    })
}

fn looks_like_json(content: &str) -> bool {
    content.trim_start().starts_with(['{', '['])
}

/// Deserializes with the failing field's path: `(Some("gpu.count"), "invalid type: ...")`.
fn typed<T: DeserializeOwned>(value: serde_json::Value) -> Result<T, (Option<String>, String)> {
    serde_path_to_error::deserialize(value).map_err(|e| {
        let path = e.path().to_string();
        let message = e.inner().to_string();
        let path = (path != ".").then_some(path);
        // serde reports missing and unknown fields at the enclosing struct; name the field itself.
        let named = ["missing field `", "unknown field `", "duplicate field `"]
            .iter()
            .find_map(|prefix| message.strip_prefix(prefix))
            .and_then(|rest| rest.split_once('`'))
            .map(|(field, _)| field.to_string());
        let field = match (path, named) {
            (Some(p), Some(n)) if p != n && !p.ends_with(&format!(".{n}")) => {
                Some(format!("{p}.{n}"))
            }
            (p, n) => p.or(n),
        };
        (field, message)
    })
}

fn check_zones(file: &str, zones: &[String]) -> Result<(), CatalogError> {
    if zones.is_empty() {
        return Err(CatalogError::at(
            file,
            None,
            "zones",
            "must list at least one zone",
        ));
    }
    let mut seen = BTreeSet::new();
    for zone in zones {
        if zone.trim().is_empty() {
            return Err(CatalogError::at(
                file,
                None,
                "zones",
                "a zone name is empty",
            ));
        }
        if !seen.insert(zone) {
            return Err(CatalogError::at(
                file,
                None,
                "zones",
                format!("{zone:?} appears more than once"),
            ));
        }
    }
    Ok(())
}

type Invalid = (&'static str, String);

/// Upper bounds keep the milli-unit arithmetic far from overflow.
const MAX_COUNT: i64 = 1 << 20;
const MAX_MEMORY_MIB: i64 = 1 << 32;

fn positive(field: &'static str, v: i64) -> Result<(), Invalid> {
    bounded(field, v, 1, MAX_COUNT)
}

fn bounded(field: &'static str, v: i64, min: i64, max: i64) -> Result<(), Invalid> {
    if (min..=max).contains(&v) {
        Ok(())
    } else {
        Err((field, format!("must be between {min} and {max}, got {v}")))
    }
}

fn price(field: &'static str, v: f64) -> Result<(), Invalid> {
    if v.is_finite() && v >= 0.0 {
        Ok(())
    } else {
        Err((field, format!("must be a non-negative price, got {v}")))
    }
}

fn check_entry(e: &CatalogEntry, zones: &[String]) -> Result<(), Invalid> {
    if e.name.trim().is_empty() || e.name.contains(char::is_whitespace) {
        return Err(("name", format!("{:?} is not an instance type name", e.name)));
    }
    positive("vcpu", e.vcpu)?;
    bounded("memoryMiB", e.memory_mib, 1, MAX_MEMORY_MIB)?;
    if e.os.is_empty() {
        return Err(("os", "must list at least one operating system".to_string()));
    }
    match (e.max_enis, e.ipv4_per_eni) {
        (Some(enis), Some(ips)) => {
            positive("maxENIs", enis)?;
            positive("ipv4PerENI", ips)?;
        }
        (Some(_), None) => {
            return Err(("ipv4PerENI", "is required when maxENIs is set".to_string()));
        }
        (None, Some(_)) => {
            return Err(("maxENIs", "is required when ipv4PerENI is set".to_string()));
        }
        (None, None) => {}
    }
    if let Some(g) = e.generation {
        bounded("generation", g, 0, MAX_COUNT)?;
    }
    if let Some(b) = e.network_bandwidth_mbps {
        bounded("networkBandwidthMbps", b, 1, i64::MAX)?;
    }
    if let Some(n) = e.local_nvme_gib {
        bounded("localNvmeGiB", n, 1, i64::MAX)?;
    }
    let counts = [
        ("neuronCount", e.neuron_count),
        ("neuronCoreCount", e.neuron_core_count),
        ("efaCount", e.efa_count),
        ("podENI", e.pod_eni),
        ("cpuSustainedClockSpeedMhz", e.cpu_sustained_clock_speed_mhz),
    ];
    for (field, value) in counts {
        if let Some(n) = value {
            bounded(field, n, 0, MAX_COUNT)?;
        }
    }
    if let Some(n) = e.max_pods {
        positive("maxPods", n)?;
    }
    if let Some(b) = e.ebs_bandwidth_mbps {
        bounded("ebsBandwidthMbps", b, 1, i64::MAX)?;
    }
    if let Some(m) = &e.cpu_manufacturer
        && (m.trim().is_empty() || m.contains(char::is_whitespace))
    {
        return Err(("cpuManufacturer", format!("{m:?} is not a manufacturer")));
    }
    if let Some(gpu) = &e.gpu {
        // A fractional GPU (g6f) has count 0 and no device.
        bounded("gpu.count", gpu.count, 0, MAX_COUNT)?;
        bounded("gpu.memoryMiB", gpu.memory_mib, 0, MAX_MEMORY_MIB)?;
        if let Some(d) = gpu.devices {
            bounded("gpu.devices", d, 0, MAX_COUNT)?;
        }
    }
    if let Some(acc) = &e.accelerator {
        positive("accelerator.count", acc.count)?;
        for (field, text) in [
            ("accelerator.name", &acc.name),
            ("accelerator.manufacturer", &acc.manufacturer),
        ] {
            if text.trim().is_empty() {
                return Err((field, "must not be empty".to_string()));
            }
        }
    }
    if let Some(p) = e.on_demand {
        price("onDemand", p)?;
    }
    for (zone, p) in &e.spot {
        if !zones.contains(zone) {
            return Err((
                "spot",
                format!("zone {zone:?} is not in the catalogue's zones {zones:?}"),
            ));
        }
        price("spot", *p)?;
    }
    if e.on_demand.is_none() && e.spot.is_empty() {
        return Err((
            "onDemand",
            "an instance type needs an onDemand or a spot price".to_string(),
        ));
    }
    Ok(())
}
