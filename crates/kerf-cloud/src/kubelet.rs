//! A node class's kubelet block (`EC2NodeClass.spec.kubelet`, or a
//! Provisioner's `spec.kubeletConfiguration` once converted to v1) as the
//! [`KubeletSettings`] that decide max pods and reservations. One conversion
//! for every caller, so the simulator, the controller and the AWS provider size
//! nodes the same way.

use std::collections::BTreeMap;

use kerf_api::v1::KubeletConfiguration;
use kerf_core::template::KubeletSettings;

/// A value in the kubelet block that is not usable; `field` is relative to the
/// block (`kubeReserved[cpu]`), so callers prefix their own path.
#[derive(Clone, Debug, PartialEq, Eq, thiserror::Error)]
#[error("{field}: {message}")]
pub struct KubeletFieldError {
    pub field: String,
    pub message: String,
}

/// Reservations in milli-units; eviction thresholds kept as written.
pub fn kubelet_settings(k: &KubeletConfiguration) -> Result<KubeletSettings, KubeletFieldError> {
    Ok(KubeletSettings {
        max_pods: k.max_pods.map(i64::from),
        pods_per_core: k.pods_per_core.map(i64::from),
        kube_reserved: reserved("kubeReserved", &k.kube_reserved)?,
        system_reserved: reserved("systemReserved", &k.system_reserved)?,
        eviction_hard: k.eviction_hard.clone(),
        eviction_soft: k.eviction_soft.clone(),
    })
}

fn reserved(
    field: &str,
    map: &BTreeMap<String, String>,
) -> Result<BTreeMap<String, i64>, KubeletFieldError> {
    map.iter()
        .map(|(resource, value)| {
            kerf_api::quantity::parse_milli(value)
                .map(|m| (resource.clone(), m))
                .map_err(|e| KubeletFieldError {
                    field: format!("{field}[{resource}]"),
                    message: format!("{value:?} is not a quantity: {e}"),
                })
        })
        .collect()
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn reservations_become_milli_units_and_bad_ones_name_the_field() {
        let k = KubeletConfiguration {
            max_pods: Some(20),
            kube_reserved: BTreeMap::from([("cpu".to_string(), "200m".to_string())]),
            eviction_hard: BTreeMap::from([("memory.available".to_string(), "5%".to_string())]),
            ..Default::default()
        };
        let s = kubelet_settings(&k).unwrap();
        assert_eq!((s.max_pods, s.kube_reserved["cpu"]), (Some(20), 200));
        assert_eq!(s.eviction_hard["memory.available"], "5%");

        let bad = KubeletConfiguration {
            system_reserved: BTreeMap::from([("memory".to_string(), "lots".to_string())]),
            ..Default::default()
        };
        let err = kubelet_settings(&bad).unwrap_err();
        assert_eq!(err.field, "systemReserved[memory]");
        assert!(err.message.contains("\"lots\" is not a quantity"), "{err}");
    }
}
