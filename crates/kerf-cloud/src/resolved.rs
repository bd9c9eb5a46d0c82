//! The instance-type cache every provider keeps: the types it sells, resolved
//! once per provider-chosen key (the AWS provider's is what a node class's
//! resolution feeds the build; a catalogue's is `()`) and kubelet settings
//! (max pods, reserved resources and eviction thresholds change allocatable),
//! and kept until the sources they were built from change (the AWS
//! provider's discovered shapes and prices; a catalogue never does).
//! Resolution itself is the provider's closure; the cache only decides
//! whether to call it.

use std::collections::BTreeMap;
use std::sync::Arc;

use kerf_core::instance_type::InstanceType;
use kerf_core::template::KubeletSettings;

use crate::catalog::Catalog;
use crate::eks::EksOptions;
use crate::provider::{CloudError, Result};

/// Resolved instance types, shared between callers.
pub type TypeList = Arc<Vec<Arc<InstanceType>>>;

/// Instance types already resolved, by key and kubelet settings, as built
/// from the sources `S` (compared with `==`: a provider whose sources are
/// large hands in something cheap to compare, e.g. the `Arc`s it holds).
#[derive(Debug)]
pub struct InstanceTypeCache<K = (), S = ()> {
    sources: Option<S>,
    entries: BTreeMap<(K, KubeletSettings), TypeList>,
}

impl<K, S> Default for InstanceTypeCache<K, S> {
    fn default() -> Self {
        InstanceTypeCache {
            sources: None,
            entries: BTreeMap::new(),
        }
    }
}

impl<K: Ord + Clone, S: PartialEq> InstanceTypeCache<K, S> {
    /// The types for `key` and `kubelet`: those resolved before from the
    /// same `sources`, else `resolve()`'s (kept unless it fails). Different
    /// sources drop every entry first, since all were built from the old ones.
    pub fn get_or_resolve<E>(
        &mut self,
        sources: S,
        key: &K,
        kubelet: &KubeletSettings,
        resolve: impl FnOnce() -> std::result::Result<Vec<InstanceType>, E>,
    ) -> std::result::Result<TypeList, E> {
        if self.sources.as_ref() != Some(&sources) {
            self.entries.clear();
            self.sources = Some(sources);
        }
        let entry = (key.clone(), kubelet.clone());
        if let Some(types) = self.entries.get(&entry) {
            return Ok(types.clone());
        }
        let types: TypeList = Arc::new(resolve()?.into_iter().map(Arc::new).collect());
        self.entries.insert(entry, types.clone());
        Ok(types)
    }

    /// How many (key, kubelet settings) pairs are resolved.
    pub fn len(&self) -> usize {
        self.entries.len()
    }

    pub fn is_empty(&self) -> bool {
        self.entries.is_empty()
    }
}

impl InstanceTypeCache {
    /// The catalogue's types for `kubelet`, every offering available;
    /// resolved on first use (a provider sells one catalogue, so it is the
    /// only key).
    pub fn catalog_types(
        &mut self,
        catalog: &Catalog,
        options: &EksOptions,
        kubelet: &KubeletSettings,
    ) -> Result<TypeList> {
        self.get_or_resolve((), &(), kubelet, || {
            catalog
                .instance_types_with(kubelet, options)
                .map_err(|e| CloudError::other("resolving instance types", e))
        })
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn each_kubelet_setting_resolves_once_and_max_pods_shows() {
        let catalog = Catalog::builtin();
        let options = EksOptions::default();
        let mut cache = InstanceTypeCache::default();
        let default = cache
            .catalog_types(&catalog, &options, &KubeletSettings::default())
            .unwrap();
        let again = cache
            .catalog_types(&catalog, &options, &KubeletSettings::default())
            .unwrap();
        assert!(Arc::ptr_eq(&default, &again), "resolved twice");
        let ten = KubeletSettings {
            max_pods: Some(10),
            ..KubeletSettings::default()
        };
        let capped = cache.catalog_types(&catalog, &options, &ten).unwrap();
        assert!(!Arc::ptr_eq(&default, &capped));
        let pods = |types: &[Arc<InstanceType>]| {
            types
                .iter()
                .find(|t| t.name == "m5.large")
                .map(|t| t.capacity.get("pods"))
        };
        assert_ne!(pods(&default), pods(&capped));
        assert_eq!(cache.len(), 2);
    }

    fn named(names: &[&str]) -> Vec<InstanceType> {
        let all = Catalog::builtin()
            .instance_types(&KubeletSettings::default())
            .unwrap();
        all.into_iter()
            .filter(|t| names.contains(&t.name.as_str()))
            .collect()
    }

    #[test]
    fn keys_resolve_apart_and_new_sources_drop_every_entry() {
        let mut cache: InstanceTypeCache<&str, u32> = InstanceTypeCache::default();
        let kubelet = KubeletSettings::default();
        let calls = std::cell::Cell::new(0);
        let get = |cache: &mut InstanceTypeCache<&str, u32>, sources, key, name| {
            cache
                .get_or_resolve(sources, &key, &kubelet, || {
                    calls.set(calls.get() + 1);
                    Ok::<_, ()>(named(&[name]))
                })
                .unwrap()
        };
        let a = get(&mut cache, 1, "a", "m5.large");
        let b = get(&mut cache, 1, "b", "c5.large");
        assert_eq!(
            (a[0].name.as_str(), b[0].name.as_str()),
            ("m5.large", "c5.large")
        );
        let a_again = get(&mut cache, 1, "a", "t3.medium");
        assert!(
            Arc::ptr_eq(&a, &a_again),
            "same sources and key resolve once"
        );
        assert_eq!(cache.len(), 2);
        let a_new = get(&mut cache, 2, "a", "t3.medium");
        assert_eq!(a_new[0].name, "t3.medium", "new sources resolve again");
        assert_eq!(cache.len(), 1, "entries of the old sources are gone");
        assert_eq!(calls.get(), 3);
    }

    #[test]
    fn a_failed_resolution_is_not_kept() {
        let mut cache: InstanceTypeCache = InstanceTypeCache::default();
        let kubelet = KubeletSettings::default();
        let failed = cache.get_or_resolve((), &(), &kubelet, || Err("no prices"));
        assert_eq!(failed.unwrap_err(), "no prices");
        assert!(cache.is_empty());
        let types = cache
            .get_or_resolve((), &(), &kubelet, || Ok::<_, &str>(named(&["m5.large"])))
            .unwrap();
        assert_eq!(types.len(), 1);
    }
}
