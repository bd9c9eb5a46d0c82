//! Volume topology: the zones a pod's persistent volumes tie it to, from bound
//! PersistentVolumes' node affinity and, for claims not yet bound, their
//! StorageClass's allowedTopologies. Like Karpenter's `VolumeTopology`, each
//! nodeSelectorTerm and each allowedTopologies entry is one alternative
//! (they are ORed); a pod's alternatives are the compatible combinations of
//! its volumes' ones. Hostname affinity of local and hostPath volumes is
//! dropped: a pod moving to a new node cannot keep it, and Karpenter ignores it.

use std::collections::BTreeMap;

use k8s_openapi::api::core::v1::{PersistentVolume, PersistentVolumeClaim, Pod};
use k8s_openapi::api::storage::v1::StorageClass;
use serde::Serialize;

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

    /// The node requirements the pod's volumes impose, as alternatives any
    /// one of which will do; one empty entry when they impose none. Or the
    /// field that is wrong.
    pub fn requirements_for(&self, pod: &Pod) -> Result<Vec<Requirements>, (String, String)> {
        let mut combined = vec![Requirements::new()];
        self.each_volume(pod, |_, alternatives| {
            if !alternatives.is_empty() {
                combined = combine(&combined, &alternatives);
            }
        })?;
        Ok(combined)
    }

    /// Where each of the pod's volumes that imposes node requirements gets
    /// them: its claim and the PersistentVolume or StorageClass that pins it,
    /// with its alternatives. For `kerf explain`, which names them; the
    /// scheduler only needs [`VolumeIndex::requirements_for`]. Or the field
    /// that is wrong.
    pub fn sources_for(&self, pod: &Pod) -> Result<Vec<VolumeSource>, (String, String)> {
        let namespace = pod.metadata.namespace.as_deref().unwrap_or("default");
        let pod_name = pod.metadata.name.as_deref().unwrap_or_default();
        let mut out = Vec::new();
        self.each_volume(pod, |origin, alternatives| {
            if alternatives.is_empty() {
                return;
            }
            let (claim, pinned_by) = match origin {
                Origin::Claim { name, pin } => (name.to_string(), pin),
                // Kubernetes names a generic ephemeral volume's claim `<pod>-<volume>`.
                Origin::Ephemeral { volume, class } => {
                    (format!("{pod_name}-{volume}"), Pin::Class(class))
                }
            };
            out.push(VolumeSource {
                claim: format!("{namespace}/{claim}"),
                pinned_by: match pinned_by {
                    Pin::Volume(pv) => PinnedBy::PersistentVolume(pv.to_string()),
                    Pin::Class(class) => PinnedBy::StorageClass(class.to_string()),
                },
                alternatives,
            });
        })?;
        Ok(out)
    }

    /// Calls `each` with every volume of the pod that goes through a claim:
    /// where it gets its requirements, and their alternatives (none when it
    /// imposes nothing). Or the field that is wrong.
    fn each_volume<'a>(
        &'a self,
        pod: &'a Pod,
        mut each: impl FnMut(Origin<'a>, Vec<Requirements>),
    ) -> Result<(), (String, String)> {
        let Some(spec) = pod.spec.as_ref() else {
            return Ok(());
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
                let (pin, alternatives) = self.claim_alternatives(claim, &field)?;
                let name = pvc.claim_name.as_str();
                each(Origin::Claim { name, pin }, alternatives);
            } else if let Some(ephemeral) = v
                .ephemeral
                .as_ref()
                .and_then(|e| e.volume_claim_template.as_ref())
            {
                let class = ephemeral
                    .spec
                    .storage_class_name
                    .as_deref()
                    .or(self.default_class.as_deref());
                let alternatives = self.class_alternatives(class, &field)?;
                let origin = Origin::Ephemeral {
                    volume: v.name.as_str(),
                    class: class.unwrap_or_default(),
                };
                each(origin, alternatives);
            }
        }
        Ok(())
    }

    /// The claim's alternatives, from its bound volume or else its class,
    /// and which of them it got them from.
    fn claim_alternatives<'a>(
        &'a self,
        claim: &'a PersistentVolumeClaim,
        field: &str,
    ) -> Result<(Pin<'a>, Vec<Requirements>), (String, String)> {
        let spec = claim.spec.as_ref();
        if let Some(volume_name) = spec
            .and_then(|s| s.volume_name.as_deref())
            .filter(|n| !n.is_empty())
        {
            let Some(pv) = self.volumes.get(volume_name) else {
                return Err((
                    field.to_string(),
                    format!("persistentvolume {volume_name} not found"),
                ));
            };
            return Ok((Pin::Volume(volume_name), volume_alternatives(pv)));
        }
        let class = spec
            .and_then(|s| s.storage_class_name.as_deref())
            .or(self.default_class.as_deref());
        let alternatives = self.class_alternatives(class, field)?;
        Ok((Pin::Class(class.unwrap_or_default()), alternatives))
    }

    /// One alternative per allowedTopologies entry that says something.
    fn class_alternatives(
        &self,
        class: Option<&str>,
        field: &str,
    ) -> Result<Vec<Requirements>, (String, String)> {
        let Some(class) = class.filter(|c| !c.is_empty()) else {
            return Ok(Vec::new());
        };
        let Some(sc) = self.classes.get(class) else {
            return Err((field.to_string(), format!("storageclass {class} not found")));
        };
        let mut out = Vec::new();
        for term in sc.allowed_topologies.iter().flatten() {
            let mut reqs = Requirements::new();
            for e in term.match_label_expressions.iter().flatten() {
                reqs.add(Requirement::in_values(
                    kerf_api::labels::normalize_label_key(&e.key),
                    e.values.iter().cloned(),
                ));
            }
            if !reqs.is_empty() {
                out.push(reqs);
            }
        }
        Ok(out)
    }
}

/// Where a volume's requirements come from, borrowed (the scheduler's path
/// builds no names).
enum Origin<'a> {
    /// A `persistentVolumeClaim` volume, by its claim's name.
    Claim { name: &'a str, pin: Pin<'a> },
    /// A generic ephemeral volume, by the volume's name, and its class.
    Ephemeral { volume: &'a str, class: &'a str },
}

enum Pin<'a> {
    Volume(&'a str),
    Class(&'a str),
}

/// One of a pod's volumes that ties it to nodes, and what ties it.
#[derive(Clone, Debug, PartialEq, Serialize)]
pub struct VolumeSource {
    /// The PersistentVolumeClaim, as `namespace/name`.
    pub claim: String,
    pub pinned_by: PinnedBy,
    /// The node requirements it imposes, any one of which will do.
    pub alternatives: Vec<Requirements>,
}

/// What gives a claim its node requirements.
#[derive(Clone, Debug, PartialEq, Eq, Serialize)]
#[serde(rename_all = "camelCase")]
pub enum PinnedBy {
    /// The bound PersistentVolume's node affinity (or in-tree zone label).
    PersistentVolume(String),
    /// An unbound claim's StorageClass's allowedTopologies.
    StorageClass(String),
}

impl VolumeSource {
    /// What it requires of `key`, each alternative's requirement on it
    /// (distinct, as `key op values`, `" or "` between them); `None` when
    /// no alternative names `key`.
    pub fn requirement_on(&self, key: &str) -> Option<String> {
        let mut shown: Vec<String> = Vec::new();
        for r in self.alternatives.iter().filter_map(|a| a.get(key)) {
            let r = r.to_string();
            if !shown.contains(&r) {
                shown.push(r);
            }
        }
        (!shown.is_empty()).then(|| shown.join(" or "))
    }

    /// Why the pod requires what it does of `key`, naming this volume's
    /// claim and what pins it; `None` when it requires nothing of `key`.
    pub fn explain(&self, key: &str) -> Option<String> {
        let requirement = self.requirement_on(key)?;
        Some(match &self.pinned_by {
            PinnedBy::PersistentVolume(pv) => {
                crate::words::requirement_from_volume(key, &self.claim, pv, &requirement)
            }
            PinnedBy::StorageClass(class) => {
                crate::words::requirement_from_class(key, &self.claim, class, &requirement)
            }
        })
    }
}

/// Every combination of one entry of `so_far` and one of `volume`, keeping
/// the ones that can hold together; when none can, all of them (Karpenter
/// does the same, and the pod then finds no node, with the reason).
fn combine(so_far: &[Requirements], volume: &[Requirements]) -> Vec<Requirements> {
    let mut compatible = Vec::new();
    let mut all = Vec::new();
    for a in so_far {
        for b in volume {
            let mut merged = a.clone();
            merged.add_all(b);
            if a.intersects(b).is_ok() {
                compatible.push(merged.clone());
            }
            all.push(merged);
        }
    }
    if compatible.is_empty() {
        all
    } else {
        compatible
    }
}

/// A bound volume's alternatives: one per nodeSelectorTerm of its node
/// affinity (without hostname for local and hostPath volumes; a term that
/// named only the hostname allows any node), each with the zone in-tree
/// volumes carry as a label.
fn volume_alternatives(pv: &PersistentVolume) -> Vec<Requirements> {
    let spec = pv.spec.as_ref();
    let node_local = spec.is_some_and(|s| s.local.is_some() || s.host_path.is_some());
    let mut out = Vec::new();
    let terms = spec
        .and_then(|s| s.node_affinity.as_ref())
        .and_then(|a| a.required.as_ref())
        .map(|r| r.node_selector_terms.as_slice())
        .unwrap_or_default();
    for term in terms {
        let exprs = term.match_expressions.as_deref().unwrap_or_default();
        let kept: Vec<_> = exprs
            .iter()
            .filter(|e| !(node_local && e.key == kerf_api::labels::HOSTNAME))
            .collect();
        if kept.is_empty() && !exprs.is_empty() {
            out.push(Requirements::new());
            continue;
        }
        let mut reqs = Requirements::new();
        for e in kept {
            // Valid PVs were admitted by the API server; an odd operator is
            // skipped rather than making the pod unschedulable.
            if let Ok(r) = Requirement::from_node_selector(e) {
                reqs.add(r);
            }
        }
        if !reqs.is_empty() {
            out.push(reqs);
        }
    }
    // In-tree volumes carry their zone as a label instead of node affinity.
    let mut zone = Requirements::new();
    for (k, v) in pv.metadata.labels.iter().flatten() {
        let key = kerf_api::labels::normalize_label_key(k);
        if key == kerf_api::labels::ZONE {
            zone.add(Requirement::in_values(
                key,
                v.split("__").map(str::to_string),
            ));
        }
    }
    if zone.is_empty() {
        return out;
    }
    if out.is_empty() {
        return vec![zone];
    }
    for reqs in &mut out {
        reqs.add_all(&zone);
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
        let alternatives = index.requirements_for(&pod).expect("resolvable");
        assert_eq!(alternatives.len(), 1);
        let zone = alternatives[0]
            .get(kerf_api::labels::ZONE)
            .expect("zone requirement");
        assert!(zone.has("us-east-1b") && !zone.has("us-east-1a"));

        let missing: Pod = yaml(
            "metadata: {name: p, namespace: default}\nspec:\n  containers: [{name: c}]\n  volumes: [{name: a, persistentVolumeClaim: {claimName: nope}}]",
        );
        let (field, message) = index.requirements_for(&missing).expect_err("missing claim");
        assert_eq!(field, "spec.volumes[0].persistentVolumeClaim.claimName");
        assert!(message.contains("default/nope"));
    }

    /// `kerf explain`'s account of where each volume's requirements come
    /// from: the claim and its PV, or its StorageClass (an ephemeral
    /// volume's claim by the name Kubernetes gives it); volumes that pin
    /// nothing are left out.
    #[test]
    fn sources_name_the_claim_and_what_pins_it() {
        let pvs: Vec<PersistentVolume> = vec![
            yaml(
                r#"
metadata: {name: pv1, labels: {topology.kubernetes.io/zone: us-east-1b}}
spec: {}
"#,
            ),
            yaml("metadata: {name: loose}\nspec: {}"),
        ];
        let claims: Vec<PersistentVolumeClaim> = vec![
            yaml("metadata: {name: data, namespace: apps}\nspec: {volumeName: pv1}"),
            yaml("metadata: {name: fresh, namespace: apps}\nspec: {storageClassName: zonal}"),
            yaml("metadata: {name: anywhere, namespace: apps}\nspec: {volumeName: loose}"),
        ];
        let sc: StorageClass = yaml(
            r#"
metadata: {name: zonal, annotations: {storageclass.kubernetes.io/is-default-class: "true"}}
provisioner: ebs.csi.aws.com
allowedTopologies:
- matchLabelExpressions: [{key: topology.kubernetes.io/zone, values: [us-east-1a]}]
- matchLabelExpressions: [{key: topology.kubernetes.io/zone, values: [us-east-1b]}]
"#,
        );
        let index = VolumeIndex::new(&claims, &pvs, &[sc]);
        let pod: Pod = yaml(
            r#"
metadata: {name: p, namespace: apps}
spec:
  containers: [{name: c}]
  volumes:
  - {name: a, persistentVolumeClaim: {claimName: data}}
  - {name: b, persistentVolumeClaim: {claimName: fresh}}
  - {name: c, persistentVolumeClaim: {claimName: anywhere}}
  - {name: d, emptyDir: {}}
  - {name: scratch, ephemeral: {volumeClaimTemplate: {spec: {accessModes: [ReadWriteOnce]}}}}
"#,
        );
        let sources = index.sources_for(&pod).expect("resolvable");
        let origins: Vec<(&str, &PinnedBy)> = sources
            .iter()
            .map(|s| (s.claim.as_str(), &s.pinned_by))
            .collect();
        assert_eq!(
            origins,
            [
                ("apps/data", &PinnedBy::PersistentVolume("pv1".into())),
                ("apps/fresh", &PinnedBy::StorageClass("zonal".into())),
                ("apps/p-scratch", &PinnedBy::StorageClass("zonal".into())),
            ]
        );
        let zone = kerf_api::labels::ZONE;
        assert_eq!(
            sources[0].explain(zone).as_deref(),
            Some(
                "the pod's requirement on topology.kubernetes.io/zone comes from PVC apps/data, \
                 bound to PV pv1, which requires topology.kubernetes.io/zone In [us-east-1b]"
            )
        );
        assert_eq!(
            sources[1].requirement_on(zone).as_deref(),
            Some(
                "topology.kubernetes.io/zone In [us-east-1a] or topology.kubernetes.io/zone In [us-east-1b]"
            )
        );
        assert_eq!(sources[0].explain("kubernetes.io/arch"), None);
        // The scheduler's alternatives are unchanged by the walk they share.
        assert_eq!(
            shown(&index.requirements_for(&pod).expect("resolvable")),
            ["topology.kubernetes.io/zone In [us-east-1b]"]
        );
    }

    /// The alternatives as sorted `key op values` lines, one string each.
    fn shown(alternatives: &[Requirements]) -> Vec<String> {
        let mut out: Vec<String> = alternatives
            .iter()
            .map(|r| {
                r.iter()
                    .map(|x| format!("{x}"))
                    .collect::<Vec<_>>()
                    .join(" & ")
            })
            .collect();
        out.sort();
        out
    }

    /// Karpenter's `VolumeTopology.GetRequirements`: every nodeSelectorTerm
    /// and allowedTopologies entry is an alternative, volumes combine into
    /// the compatible cross product, local and hostPath volumes lose their
    /// hostname affinity. Cases follow the provisioning suite's volume
    /// topology tests and the scheduling suite's AllowedTopologies tests,
    /// each named in the table.
    #[test]
    fn volume_alternatives_are_ored() {
        let zone_term = |z: &str| {
            format!(
                "{{matchExpressions: [{{key: topology.kubernetes.io/zone, operator: In, values: [{z}]}}]}}"
            )
        };
        let host_term =
            "{matchExpressions: [{key: kubernetes.io/hostname, operator: In, values: [old-node]}]}";
        let host_and_zone = "{matchExpressions: [{key: kubernetes.io/hostname, operator: In, values: [old-node]}, {key: topology.kubernetes.io/zone, operator: In, values: [z1]}]}";
        let pv = |name: &str, source: &str, terms: &[&str]| -> PersistentVolume {
            yaml(&format!(
                "metadata: {{name: {name}}}\nspec: {{{source} nodeAffinity: {{required: {{nodeSelectorTerms: [{}]}}}}}}",
                terms.join(", ")
            ))
        };
        let volumes = vec![
            pv("two-zones", "", &[&zone_term("z1"), &zone_term("z2")]),
            pv("local", "local: {path: /mnt/disk},", &[host_term]),
            pv("host-path", "hostPath: {path: /data},", &[host_term]),
            pv(
                "csi-pinned",
                "csi: {driver: ebs.csi.aws.com, volumeHandle: v},",
                &[host_term],
            ),
            pv("local-zoned", "local: {path: /mnt/disk},", &[host_and_zone]),
        ];
        let classes: Vec<StorageClass> = vec![
            yaml(
                "metadata: {name: multi-zone}\nprovisioner: ebs.csi.aws.com\nallowedTopologies: [{matchLabelExpressions: [{key: topology.kubernetes.io/zone, values: [z1]}]}, {matchLabelExpressions: [{key: topology.kubernetes.io/zone, values: [z2]}]}]",
            ),
            yaml(
                "metadata: {name: overlap-a}\nprovisioner: x\nallowedTopologies: [{matchLabelExpressions: [{key: exotic, values: [required]}]}, {matchLabelExpressions: [{key: exotic, values: [optional]}]}]",
            ),
            yaml(
                "metadata: {name: overlap-b}\nprovisioner: x\nallowedTopologies: [{matchLabelExpressions: [{key: topology.kubernetes.io/zone, values: [z1]}, {key: exotic, values: [optional]}]}, {matchLabelExpressions: [{key: topology.kubernetes.io/zone, values: [z2]}, {key: exotic, values: [required]}]}]",
            ),
        ];
        let claims: Vec<PersistentVolumeClaim> = [
            ("two-zones", "volumeName: two-zones"),
            ("local", "volumeName: local"),
            ("host-path", "volumeName: host-path"),
            ("csi-pinned", "volumeName: csi-pinned"),
            ("local-zoned", "volumeName: local-zoned"),
            ("multi-zone", "storageClassName: multi-zone"),
            ("overlap-a", "storageClassName: overlap-a"),
            ("overlap-b", "storageClassName: overlap-b"),
        ]
        .iter()
        .map(|(n, spec)| {
            yaml(&format!(
                "metadata: {{name: {n}, namespace: default}}\nspec: {{{spec}}}"
            ))
        })
        .collect();
        let index = VolumeIndex::new(&claims, &volumes, &classes);
        let cases: [(&str, &[&str], &[&str]); 7] = [
            (
                "a PV's nodeSelectorTerms are ORed",
                &["two-zones"],
                &[
                    "topology.kubernetes.io/zone In [z1]",
                    "topology.kubernetes.io/zone In [z2]",
                ],
            ),
            (
                "should ignore hostname affinity scheduling when using local path volumes (local)",
                &["local"],
                &[""],
            ),
            (
                "should ignore hostname affinity scheduling when using local path volumes (hostPath)",
                &["host-path"],
                &[""],
            ),
            (
                "should not ignore hostname affinity when using non-local path volumes",
                &["csi-pinned"],
                &["kubernetes.io/hostname In [old-node]"],
            ),
            (
                "a local volume keeps the rest of a term that names its hostname",
                &["local-zoned"],
                &["topology.kubernetes.io/zone In [z1]"],
            ),
            (
                "should schedule pods using a StorageClass with multiple zones in AllowedTopologies",
                &["multi-zone"],
                &[
                    "topology.kubernetes.io/zone In [z1]",
                    "topology.kubernetes.io/zone In [z2]",
                ],
            ),
            (
                "should schedule pods when a valid multi-volume topology alternative remains after pruning disjoint branches",
                &["overlap-a", "overlap-b"],
                &[
                    "exotic In [optional] & topology.kubernetes.io/zone In [z1]",
                    "exotic In [required] & topology.kubernetes.io/zone In [z2]",
                ],
            ),
        ];
        for (case, volume_claims, want) in cases {
            let volumes: Vec<String> = volume_claims
                .iter()
                .enumerate()
                .map(|(i, c)| format!("{{name: v{i}, persistentVolumeClaim: {{claimName: {c}}}}}"))
                .collect();
            let pod: Pod = yaml(&format!(
                "metadata: {{name: p, namespace: default}}\nspec: {{containers: [{{name: c}}], volumes: [{}]}}",
                volumes.join(", ")
            ));
            let got = index.requirements_for(&pod).expect(case);
            assert_eq!(shown(&got), want, "{case}");
        }
    }
}
