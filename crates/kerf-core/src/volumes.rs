//! Volume topology: the zones a pod's persistent volumes tie it to, from bound
//! PersistentVolumes' node affinity and, for claims not yet bound, their
//! StorageClass's allowedTopologies.

use std::collections::BTreeMap;

use k8s_openapi::api::core::v1::{PersistentVolume, PersistentVolumeClaim, Pod};
use k8s_openapi::api::storage::v1::StorageClass;

use crate::requirements::{Requirement, Requirements};

const DEFAULT_CLASS_ANNOTATION: &str = "storageclass.kubernetes.io/is-default-class";

/// PVCs, PVs and StorageClasses indexed for lookup.
#[derive(Clone, Debug, Default)]
pub struct VolumeIndex {
    claims: BTreeMap<(String, String), PersistentVolumeClaim>,
    volumes: BTreeMap<String, PersistentVolume>,
    classes: BTreeMap<String, StorageClass>,
    default_class: Option<String>,
}

impl VolumeIndex {
    pub fn new(
        claims: &[PersistentVolumeClaim],
        volumes: &[PersistentVolume],
        classes: &[StorageClass],
    ) -> Self {
        let name = |m: &k8s_openapi::apimachinery::pkg::apis::meta::v1::ObjectMeta| {
            m.name.clone().unwrap_or_default()
        };
        let default_class = classes
            .iter()
            .filter(|c| {
                c.metadata
                    .annotations
                    .as_ref()
                    .and_then(|a| a.get(DEFAULT_CLASS_ANNOTATION))
                    .is_some_and(|v| v == "true")
            })
            .map(|c| name(&c.metadata))
            .min();
        VolumeIndex {
            claims: claims
                .iter()
                .map(|c| {
                    (
                        (
                            c.metadata
                                .namespace
                                .clone()
                                .unwrap_or_else(|| "default".into()),
                            name(&c.metadata),
                        ),
                        c.clone(),
                    )
                })
                .collect(),
            volumes: volumes
                .iter()
                .map(|v| (name(&v.metadata), v.clone()))
                .collect(),
            classes: classes
                .iter()
                .map(|c| (name(&c.metadata), c.clone()))
                .collect(),
            default_class,
        }
    }

    /// The node requirements the pod's volumes impose, or the field that is wrong.
    pub fn requirements_for(&self, pod: &Pod) -> Result<Requirements, (String, String)> {
        let mut out = Requirements::new();
        let Some(spec) = pod.spec.as_ref() else {
            return Ok(out);
        };
        let namespace = pod
            .metadata
            .namespace
            .clone()
            .unwrap_or_else(|| "default".into());
        for (i, v) in spec.volumes.iter().flatten().enumerate() {
            let field = format!("spec.volumes[{i}]");
            if let Some(pvc) = &v.persistent_volume_claim {
                let claim = self
                    .claims
                    .get(&(namespace.clone(), pvc.claim_name.clone()))
                    .ok_or_else(|| {
                        (
                            format!("{field}.persistentVolumeClaim.claimName"),
                            format!(
                                "persistentvolumeclaim {namespace}/{} not found",
                                pvc.claim_name
                            ),
                        )
                    })?;
                out.add_all(&self.claim_requirements(claim, &field)?);
            } else if let Some(ephemeral) = v
                .ephemeral
                .as_ref()
                .and_then(|e| e.volume_claim_template.as_ref())
            {
                let class = ephemeral
                    .spec
                    .storage_class_name
                    .clone()
                    .or_else(|| self.default_class.clone());
                out.add_all(&self.class_requirements(class.as_deref(), &field)?);
            }
        }
        Ok(out)
    }

    fn claim_requirements(
        &self,
        claim: &PersistentVolumeClaim,
        field: &str,
    ) -> Result<Requirements, (String, String)> {
        let spec = claim.spec.as_ref();
        if let Some(volume_name) = spec
            .and_then(|s| s.volume_name.as_ref())
            .filter(|n| !n.is_empty())
        {
            let Some(pv) = self.volumes.get(volume_name) else {
                return Err((
                    field.to_string(),
                    format!("persistentvolume {volume_name} not found"),
                ));
            };
            return Ok(volume_requirements(pv));
        }
        let class = spec
            .and_then(|s| s.storage_class_name.clone())
            .or_else(|| self.default_class.clone());
        self.class_requirements(class.as_deref(), field)
    }

    fn class_requirements(
        &self,
        class: Option<&str>,
        field: &str,
    ) -> Result<Requirements, (String, String)> {
        let mut out = Requirements::new();
        let Some(class) = class.filter(|c| !c.is_empty()) else {
            return Ok(out);
        };
        let Some(sc) = self.classes.get(class) else {
            return Err((field.to_string(), format!("storageclass {class} not found")));
        };
        // Only the first term: like Karpenter, kerf launches into one alternative.
        if let Some(term) = sc.allowed_topologies.iter().flatten().next() {
            for e in term.match_label_expressions.iter().flatten() {
                out.add(Requirement::in_values(
                    kerf_api::labels::normalize_label_key(&e.key),
                    e.values.iter().cloned(),
                ));
            }
        }
        Ok(out)
    }
}

fn volume_requirements(pv: &PersistentVolume) -> Requirements {
    let mut out = Requirements::new();
    let term = pv
        .spec
        .as_ref()
        .and_then(|s| s.node_affinity.as_ref())
        .and_then(|a| a.required.as_ref())
        .and_then(|r| r.node_selector_terms.first());
    for e in term
        .and_then(|t| t.match_expressions.as_ref())
        .into_iter()
        .flatten()
    {
        // Valid PVs were admitted by the API server; an odd operator is skipped
        // rather than making the pod unschedulable.
        if let Ok(r) = Requirement::from_node_selector(e) {
            out.add(r);
        }
    }
    // In-tree volumes carry their zone as a label instead of node affinity.
    for (k, v) in pv.metadata.labels.iter().flatten() {
        let key = kerf_api::labels::normalize_label_key(k);
        if key == kerf_api::labels::ZONE {
            out.add(Requirement::in_values(
                key,
                v.split("__").map(str::to_string),
            ));
        }
    }
    out
}

#[cfg(test)]
mod tests {
    use super::*;

    fn yaml<T: serde::de::DeserializeOwned>(s: &str) -> T {
        serde_yaml::from_str(s).expect("test yaml")
    }

    #[test]
    fn bound_and_unbound_claims() {
        let pv: PersistentVolume = yaml(
            r#"
metadata: {name: pv1}
spec:
  nodeAffinity:
    required:
      nodeSelectorTerms:
      - matchExpressions: [{key: topology.kubernetes.io/zone, operator: In, values: [us-east-1b]}]
"#,
        );
        let bound: PersistentVolumeClaim =
            yaml("metadata: {name: data, namespace: default}\nspec: {volumeName: pv1}");
        let unbound: PersistentVolumeClaim =
            yaml("metadata: {name: fresh, namespace: default}\nspec: {storageClassName: zonal}");
        let sc: StorageClass = yaml(
            r#"
metadata: {name: zonal}
provisioner: ebs.csi.aws.com
allowedTopologies:
- matchLabelExpressions: [{key: topology.kubernetes.io/zone, values: [us-east-1a, us-east-1b]}]
"#,
        );
        let index = VolumeIndex::new(&[bound, unbound], &[pv], &[sc]);
        let pod: Pod = yaml(
            r#"
metadata: {name: p, namespace: default}
spec:
  containers: [{name: c}]
  volumes:
  - {name: a, persistentVolumeClaim: {claimName: data}}
  - {name: b, persistentVolumeClaim: {claimName: fresh}}
"#,
        );
        let reqs = index.requirements_for(&pod).expect("resolvable");
        let zone = reqs.get(kerf_api::labels::ZONE).expect("zone requirement");
        assert!(zone.has("us-east-1b") && !zone.has("us-east-1a"));

        let missing: Pod = yaml(
            "metadata: {name: p, namespace: default}\nspec:\n  containers: [{name: c}]\n  volumes: [{name: a, persistentVolumeClaim: {claimName: nope}}]",
        );
        let (field, message) = index.requirements_for(&missing).expect_err("missing claim");
        assert_eq!(field, "spec.volumes[0].persistentVolumeClaim.claimName");
        assert!(message.contains("default/nope"));
    }
}
