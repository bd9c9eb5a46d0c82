//! A catalogue's instance types resolved once per kubelet settings (max pods,
//! reserved resources and eviction thresholds change allocatable), and kept:
//! the instance-type cache of the providers that sell a [`Catalog`] (kwok and
//! the in-memory cloud).

use std::collections::BTreeMap;
use std::sync::Arc;

use kerf_core::instance_type::InstanceType;
use kerf_core::template::KubeletSettings;

use crate::catalog::Catalog;
use crate::eks::EksOptions;
use crate::provider::{CloudError, Result};

/// Instance types already resolved, by their kubelet settings.
#[derive(Debug, Default)]
pub struct ResolvedTypes {
    by_kubelet: BTreeMap<KubeletSettings, Arc<Vec<Arc<InstanceType>>>>,
}

impl ResolvedTypes {
    /// The catalogue's types for `kubelet`, every offering available;
    /// resolved on first use.
    pub fn get(
        &mut self,
        catalog: &Catalog,
        options: &EksOptions,
        kubelet: &KubeletSettings,
    ) -> Result<Arc<Vec<Arc<InstanceType>>>> {
        if let Some(types) = self.by_kubelet.get(kubelet) {
            return Ok(types.clone());
        }
        let types = catalog
            .instance_types_with(kubelet, options)
            .map_err(|e| CloudError::other("resolving instance types", e))?;
        let types = Arc::new(types.into_iter().map(Arc::new).collect::<Vec<_>>());
        self.by_kubelet.insert(kubelet.clone(), types.clone());
        Ok(types)
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn each_kubelet_setting_resolves_once_and_max_pods_shows() {
        let catalog = Catalog::builtin();
        let options = EksOptions::default();
        let mut cache = ResolvedTypes::default();
        let default = cache
            .get(&catalog, &options, &KubeletSettings::default())
            .unwrap();
        let again = cache
            .get(&catalog, &options, &KubeletSettings::default())
            .unwrap();
        assert!(Arc::ptr_eq(&default, &again), "resolved twice");
        let ten = KubeletSettings {
            max_pods: Some(10),
            ..KubeletSettings::default()
        };
        let capped = cache.get(&catalog, &options, &ten).unwrap();
        assert!(!Arc::ptr_eq(&default, &capped));
        let pods = |types: &[Arc<InstanceType>]| {
            types
                .iter()
                .find(|t| t.name == "m5.large")
                .map(|t| t.capacity.get("pods"))
        };
        assert_ne!(pods(&default), pods(&capped));
        assert_eq!(cache.by_kubelet.len(), 2);
    }
}
