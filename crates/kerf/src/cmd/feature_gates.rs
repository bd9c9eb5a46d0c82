//! Karpenter's `--feature-gates` value (`FEATURE_GATES`): comma-separated
//! `Name=bool` pairs, the bools as Go's `strconv.ParseBool` reads them.
//! Only the gates kerf acts on are kept; the others Karpenter knows are
//! accepted and change nothing here.

/// The gates kerf reads.
#[derive(Clone, Copy, Debug, Default, PartialEq, Eq)]
pub struct FeatureGates {
    pub spot_to_spot_consolidation: bool,
}

/// Karpenter's gate names (kubernetes-sigs/karpenter pkg/operator/options).
const KNOWN: &[&str] = &[
    "NodeRepair",
    "ReservedCapacity",
    "SpotToSpotConsolidation",
    "NodeOverlay",
    "StaticCapacity",
    "CapacityBuffer",
];

/// Parses `SpotToSpotConsolidation=true,NodeRepair=false`. Karpenter ignores
/// names it does not know; a kerf command rejects them, so a misspelt gate
/// is not silently off.
pub fn parse(value: &str) -> Result<FeatureGates, String> {
    let mut gates = FeatureGates::default();
    for pair in value.split(',').map(str::trim).filter(|p| !p.is_empty()) {
        let Some((name, flag)) = pair.split_once('=') else {
            return Err(format!("{pair:?} is not Name=true or Name=false"));
        };
        let (name, flag) = (name.trim(), flag.trim());
        let on = match flag {
            "1" | "t" | "T" | "true" | "TRUE" | "True" => true,
            "0" | "f" | "F" | "false" | "FALSE" | "False" => false,
            _ => return Err(format!("{name}: {flag:?} is not a boolean")),
        };
        if !KNOWN.contains(&name) {
            return Err(format!(
                "{name:?} is not a feature gate; Karpenter's are {}",
                KNOWN.join(", ")
            ));
        }
        if name == "SpotToSpotConsolidation" {
            gates.spot_to_spot_consolidation = on;
        }
    }
    Ok(gates)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn reads_karpenter_syntax() {
        let on = parse("NodeRepair=false, SpotToSpotConsolidation=True").unwrap();
        assert!(on.spot_to_spot_consolidation);
        assert!(
            !parse("SpotToSpotConsolidation=0")
                .unwrap()
                .spot_to_spot_consolidation
        );
        assert_eq!(parse("").unwrap(), FeatureGates::default());
    }

    #[test]
    fn rejects_what_it_cannot_read() {
        assert!(
            parse("SpotToSpotConsolidation")
                .unwrap_err()
                .contains("Name=true")
        );
        assert!(
            parse("SpotToSpotConsolidation=yes")
                .unwrap_err()
                .contains("not a boolean")
        );
        assert!(
            parse("SpotToSpot=true")
                .unwrap_err()
                .contains("\"SpotToSpot\"")
        );
    }
}
