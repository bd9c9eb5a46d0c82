//! VolumeZone / VolumeBinding: bound PVs' node affinity (every term ORed) and
//! StorageClass allowed topologies (every entry ORed).

use super::*;

/// Why a pod's volume keeps it off a node.
#[derive(Clone, Debug, PartialEq, Eq, thiserror::Error)]
pub(super) enum VolumeError {
    /// The claim's `storageClassName` names a class the snapshot lacks.
    #[error("storageclass {0} not found")]
    StorageClassNotFound(String),
    /// The PersistentVolume's `spec.nodeAffinity.required`.
    #[error("node affinity does not match the node")]
    NodeAffinity,
    /// An in-tree PersistentVolume's zone or region label.
    #[error("label {key}={value}, node has {node_has:?}")]
    TopologyLabel {
        key: String,
        value: String,
        node_has: Option<String>,
    },
}

impl<'a> Validator<'a> {
    pub(super) fn storage_class(
        &self,
        name: Option<&str>,
    ) -> Result<Option<&'a StorageClass>, VolumeError> {
        let name = match name {
            Some("") => return Ok(None),
            Some(n) => n.to_string(),
            None => {
                let default = self
                    .snapshot
                    .storage_classes
                    .iter()
                    .filter(|c| {
                        c.metadata
                            .annotations
                            .as_ref()
                            .and_then(|a| a.get(DEFAULT_CLASS_ANNOTATION))
                            .is_some_and(|v| v == "true")
                    })
                    .filter_map(|c| c.metadata.name.clone())
                    .min();
                match default {
                    Some(d) => d,
                    None => return Ok(None),
                }
            }
        };
        self.snapshot
            .storage_classes
            .iter()
            .find(|c| c.metadata.name.as_deref() == Some(name.as_str()))
            .map(Some)
            .ok_or(VolumeError::StorageClassNotFound(name))
    }

    pub(super) fn class_allows(class: Option<&StorageClass>, node: &NodeRec) -> bool {
        let terms = class
            .and_then(|c| c.allowed_topologies.as_deref())
            .unwrap_or(&[]);
        terms.is_empty() || terms.iter().any(|t| topology_term_matches(t, &node.labels))
    }

    pub(super) fn pv_allows(pv: &PersistentVolume, node: &NodeRec) -> Result<(), VolumeError> {
        if let Some(sel) = pv
            .spec
            .as_ref()
            .and_then(|s| s.node_affinity.as_ref())
            .and_then(|a| a.required.as_ref())
        {
            // Karpenter ignores a local or hostPath volume's hostname
            // affinity (a pod that moves cannot take the old node along), so
            // a plan may put its pod anywhere the rest of the term allows.
            let spec = pv.spec.as_ref();
            let node_local = spec.is_some_and(|s| s.local.is_some() || s.host_path.is_some());
            let allowed = if node_local {
                sel.node_selector_terms
                    .iter()
                    .any(|t| term_matches_without_hostname(t, &node.labels, &node.name))
            } else {
                node_selector_matches(sel, &node.labels, &node.name)
            };
            if !allowed {
                return Err(VolumeError::NodeAffinity);
            }
        }
        // VolumeZone: in-tree volumes label their zone/region (`a__b` lists several).
        for (k, v) in pv.metadata.labels.iter().flatten() {
            let topology_key = k == ZONE
                || k == REGION
                || LABEL_ALIASES
                    .iter()
                    .any(|(beta, ga)| k == beta && (*ga == ZONE || *ga == REGION));
            if !topology_key {
                continue;
            }
            let allowed: BTreeSet<&str> = v.split("__").collect();
            match label(&node.labels, k) {
                Some(have) if allowed.contains(have) => {}
                have => {
                    return Err(VolumeError::TopologyLabel {
                        key: k.clone(),
                        value: v.clone(),
                        node_has: have.map(str::to_string),
                    });
                }
            }
        }
        Ok(())
    }

    pub(super) fn check_volumes(&self, pod: &PodRec, node: &NodeRec) -> Vec<String> {
        let mut out = Vec::new();
        let Some(spec) = pod.spec() else { return out };
        for vol in spec.volumes.iter().flatten() {
            if let Some(pvc) = &vol.persistent_volume_claim {
                let claim = self.snapshot.claims.iter().find(|c| {
                    c.metadata.name.as_deref() == Some(pvc.claim_name.as_str())
                        && c.metadata.namespace.as_deref().unwrap_or("default") == pod.namespace
                });
                let Some(claim) = claim else {
                    out.push(format!(
                        "volume {}: persistentvolumeclaim {}/{} not found",
                        vol.name, pod.namespace, pvc.claim_name
                    ));
                    continue;
                };
                let cspec = claim.spec.as_ref();
                if let Some(pv_name) = cspec
                    .and_then(|s| s.volume_name.as_deref())
                    .filter(|n| !n.is_empty())
                {
                    match self
                        .snapshot
                        .volumes
                        .iter()
                        .find(|v| v.metadata.name.as_deref() == Some(pv_name))
                    {
                        None => out.push(format!(
                            "volume {}: persistentvolume {pv_name} not found",
                            vol.name
                        )),
                        Some(pv) => {
                            if let Err(e) = Self::pv_allows(pv, node) {
                                out.push(format!(
                                    "volume {}: persistentvolume {pv_name}: {e}",
                                    vol.name
                                ));
                            }
                        }
                    }
                } else {
                    match self.storage_class(cspec.and_then(|s| s.storage_class_name.as_deref())) {
                        Err(e) => out.push(format!("volume {}: {e}", vol.name)),
                        Ok(class) => {
                            if !Self::class_allows(class, node) {
                                out.push(format!(
                                    "volume {}: storageclass allowedTopologies exclude the node",
                                    vol.name
                                ));
                            }
                        }
                    }
                }
            } else if let Some(template) = vol
                .ephemeral
                .as_ref()
                .and_then(|e| e.volume_claim_template.as_ref())
            {
                match self.storage_class(template.spec.storage_class_name.as_deref()) {
                    Err(e) => out.push(format!("volume {}: {e}", vol.name)),
                    Ok(class) => {
                        if !Self::class_allows(class, node) {
                            out.push(format!(
                                "volume {}: storageclass allowedTopologies exclude the node",
                                vol.name
                            ));
                        }
                    }
                }
            }
        }
        out
    }
}

/// A term of a local or hostPath volume's node affinity with its hostname
/// expressions left out; a term that named only the hostname allows any node.
fn term_matches_without_hostname(
    term: &NodeSelectorTerm,
    labels: &BTreeMap<String, String>,
    node_name: &str,
) -> bool {
    let exprs = term.match_expressions.as_deref().unwrap_or(&[]);
    let kept: Vec<NodeSelectorRequirement> = exprs
        .iter()
        .filter(|e| e.key != HOSTNAME)
        .cloned()
        .collect();
    let fields = term.match_fields.as_deref().unwrap_or(&[]);
    if kept.is_empty() && fields.is_empty() {
        return !exprs.is_empty();
    }
    let trimmed = NodeSelectorTerm {
        match_expressions: Some(kept),
        match_fields: term.match_fields.clone(),
    };
    term_matches(&trimmed, labels, node_name)
}
