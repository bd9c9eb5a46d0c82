//! `--feature-gates` (env `FEATURE_GATES`), as Karpenter reads it:
//! `Name=true|false` pairs, comma separated. kerf honours
//! `SpotToSpotConsolidation` (off unless set) and `PodDeletionCostManagement`
//! (Karpenter's proposed gate, kubernetes-sigs/karpenter#2894; on in kerf
//! unless set false, since kerf never overwrites a cost it did not write).
//! Karpenter's other gates are accepted when off
//! and refused when on, since kerf does not implement them (a gate that is
//! accepted and ignored would be a setting that silently does nothing).

use std::str::FromStr;

/// The gates kerf acts on.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub struct FeatureGates {
    pub spot_to_spot_consolidation: bool,
    pub pod_deletion_cost_management: bool,
}

impl Default for FeatureGates {
    fn default() -> Self {
        FeatureGates {
            spot_to_spot_consolidation: false,
            pod_deletion_cost_management: true,
        }
    }
}

/// Karpenter's gates kerf knows of but does not implement.
const NOT_IMPLEMENTED: &[&str] = &[
    "NodeRepair",
    "ReservedCapacity",
    "NodeOverlay",
    "StaticCapacity",
];

#[derive(Debug, PartialEq, thiserror::Error)]
pub enum FeatureGateError {
    #[error("{0:?} is not Name=true or Name=false")]
    Malformed(String),
    #[error("{0:?} is not a Karpenter feature gate kerf knows")]
    Unknown(String),
    #[error("{0} is not implemented by kerf; leave it false")]
    NotImplemented(String),
}

impl FromStr for FeatureGates {
    type Err = FeatureGateError;

    fn from_str(s: &str) -> Result<Self, Self::Err> {
        let mut gates = FeatureGates::default();
        for pair in s.split(',').map(str::trim).filter(|p| !p.is_empty()) {
            let (name, value) = pair
                .split_once('=')
                .ok_or_else(|| FeatureGateError::Malformed(pair.to_string()))?;
            // The values Go's strconv.ParseBool accepts, as Karpenter parses them.
            let on = match value.trim() {
                "1" | "t" | "T" | "true" | "TRUE" | "True" => true,
                "0" | "f" | "F" | "false" | "FALSE" | "False" => false,
                _ => return Err(FeatureGateError::Malformed(pair.to_string())),
            };
            match name.trim() {
                "SpotToSpotConsolidation" => gates.spot_to_spot_consolidation = on,
                "PodDeletionCostManagement" => gates.pod_deletion_cost_management = on,
                other if NOT_IMPLEMENTED.contains(&other) => {
                    if on {
                        return Err(FeatureGateError::NotImplemented(other.to_string()));
                    }
                }
                other => return Err(FeatureGateError::Unknown(other.to_string())),
            }
        }
        Ok(gates)
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn gates_read_as_karpenter_writes_them() {
        assert_eq!(
            "SpotToSpotConsolidation=true,NodeRepair=false".parse(),
            Ok(FeatureGates {
                spot_to_spot_consolidation: true,
                pod_deletion_cost_management: true,
            })
        );
        assert_eq!("".parse(), Ok(FeatureGates::default()));
        assert_eq!(
            "PodDeletionCostManagement=false".parse(),
            Ok(FeatureGates {
                spot_to_spot_consolidation: false,
                pod_deletion_cost_management: false,
            })
        );
        assert_eq!(
            "NodeRepair=true".parse::<FeatureGates>(),
            Err(FeatureGateError::NotImplemented("NodeRepair".into()))
        );
        assert_eq!(
            "SpotToSpot=true".parse::<FeatureGates>(),
            Err(FeatureGateError::Unknown("SpotToSpot".into()))
        );
        assert_eq!(
            "SpotToSpotConsolidation".parse::<FeatureGates>(),
            Err(FeatureGateError::Malformed(
                "SpotToSpotConsolidation".into()
            ))
        );
    }
}
