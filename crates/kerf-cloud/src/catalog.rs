//! The instance catalogue the simulator launches from: data, not code. The
//! built-in one is `catalog/aws-us-east-1.yaml` (its header documents the
//! schema), embedded in the binary: every current EC2 type with a us-east-1
//! on-demand price, written by `catalog/generate.py` from the data files of a
//! karpenter-provider-aws checkout (instance-types reference page, pricing and
//! VPC limits); regenerate rather than edit it. [`Catalog::from_file`] loads another in the
//! same shape, as YAML or JSON. [`Catalog::instance_types`] resolves every entry
//! for one template's kubelet settings into a
//! [`kerf_core::instance_type::InstanceType`] with Karpenter's AWS labels and a
//! spot and an on-demand offering per zone.

mod entry;
mod load;
#[cfg(test)]
mod tests;

use std::path::Path;
use std::sync::LazyLock;

use kerf_core::instance_type::InstanceType;
use kerf_core::template::KubeletSettings;
use serde::{Deserialize, Serialize};

use crate::eks::{EksError, EksOptions};

pub use entry::{Accelerator, CatalogEntry, category_and_generation};
pub use load::CatalogError;

/// The built-in catalogue's text.
pub const BUILTIN_YAML: &str = include_str!("../catalog/aws-us-east-1.yaml");
/// How errors and logs name the built-in catalogue.
pub const BUILTIN_NAME: &str = "builtin:aws-us-east-1.yaml";

static BUILTIN: LazyLock<Result<Catalog, CatalogError>> =
    LazyLock::new(|| Catalog::parse(BUILTIN_NAME, BUILTIN_YAML));

/// The zone ID (`topology.k8s.aws/zone-id`) the catalogue gives a us-east-1
/// zone: us-east-1a→use1-az1, b→use1-az2, c→use1-az4, d→use1-az6,
/// e→use1-az3, f→use1-az5. AWS maps zone names to zone IDs per account, so
/// these are representative of one account, not every one; the live AWS
/// provider takes each zone's ID from its subnets instead. Other zones have
/// none (their offerings leave the label unset).
pub fn representative_zone_id(zone: &str) -> Option<&'static str> {
    Some(match zone {
        "us-east-1a" => "use1-az1",
        "us-east-1b" => "use1-az2",
        "us-east-1c" => "use1-az4",
        "us-east-1d" => "use1-az6",
        "us-east-1e" => "use1-az3",
        "us-east-1f" => "use1-az5",
        _ => return None,
    })
}

/// A region's instance types and prices.
#[derive(Clone, Debug, PartialEq, Serialize, Deserialize)]
#[serde(rename_all = "camelCase")]
pub struct Catalog {
    /// Value of `topology.kubernetes.io/region` on every instance type.
    pub region: String,
    /// Zones offerings are drawn from, in file order.
    pub zones: Vec<String>,
    pub instance_types: Vec<CatalogEntry>,
}

impl Catalog {
    /// The embedded AWS us-east-1 catalogue (parsed once; unit tests keep it valid).
    pub fn builtin() -> Catalog {
        match &*BUILTIN {
            Ok(catalog) => catalog.clone(),
            Err(e) => panic!("the embedded catalogue is invalid: {e}"),
        }
    }

    /// The embedded catalogue without a copy (see [`Catalog::builtin`]).
    pub fn builtin_ref() -> &'static Catalog {
        match &*BUILTIN {
            Ok(catalog) => catalog,
            Err(e) => panic!("the embedded catalogue is invalid: {e}"),
        }
    }

    /// Loads a catalogue file, YAML or JSON (decided by content).
    pub fn from_file(path: impl AsRef<Path>) -> Result<Catalog, CatalogError> {
        let path = path.as_ref();
        let name = path.display().to_string();
        let content =
            std::fs::read_to_string(path).map_err(|e| CatalogError::file(&name, e.to_string()))?;
        Catalog::parse(&name, &content)
    }

    /// Parses catalogue text; `file` names it in errors.
    pub fn parse(file: &str, content: &str) -> Result<Catalog, CatalogError> {
        load::parse(file, content)
    }

    pub fn get(&self, name: &str) -> Option<&CatalogEntry> {
        self.instance_types.iter().find(|e| e.name == name)
    }

    /// Every entry resolved for these kubelet settings, with default EKS options.
    pub fn instance_types(&self, kubelet: &KubeletSettings) -> Result<Vec<InstanceType>, EksError> {
        self.instance_types_with(kubelet, &EksOptions::default())
    }

    /// Every entry resolved for these kubelet settings and EKS options, in file order.
    pub fn instance_types_with(
        &self,
        kubelet: &KubeletSettings,
        opts: &EksOptions,
    ) -> Result<Vec<InstanceType>, EksError> {
        self.instance_types
            .iter()
            .map(|e| e.instance_type(&self.region, &self.zones, kubelet, opts))
            .collect()
    }
}
