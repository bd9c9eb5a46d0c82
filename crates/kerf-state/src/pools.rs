//! Pools: what kerf may launch from. A v1 NodePool (with its EC2NodeClass), or
//! a v1alpha5 Provisioner (with its AWSNodeTemplate or inline provider)
//! converted to v1 by [`kerf_api::convert::provisioner_to_v1`] but remembered
//! as a Provisioner, so reasons say "provisioner default" and nodes carry
//! `karpenter.sh/provisioner-name` rather than `karpenter.sh/nodepool`.
//!
//! Conversion happens when pools are read, not when objects are applied, so a
//! Provisioner may arrive before the AWSNodeTemplate it references.

use std::collections::BTreeMap;

use kerf_api::labels;
use kerf_api::v1::{EC2NodeClass, NodePool, NodeSelectorRequirementWithMinValues};
use kerf_cloud::NodeTemplateContext;
use kerf_core::requirements::{Requirement, RequirementError, Requirements};
use kerf_core::template::{KubeletSettings, PoolKind, PoolRef};

use crate::error::StateError;
use crate::store::ClusterState;

/// One Provisioner or NodePool, in v1 form, ready to become a node template.
#[derive(Clone, Debug)]
pub struct Pool {
    pub pool: PoolRef,
    /// The NodePool (for a Provisioner, the converted one).
    pub node_pool: NodePool,
    /// The node class (for a Provisioner, converted from its AWSNodeTemplate or inline provider).
    pub node_class: Option<EC2NodeClass>,
    /// Kubelet settings that shape capacity (from the node class, or the Provisioner).
    pub kubelet: KubeletSettings,
    /// What the v1alpha5 → v1 conversion could not carry over.
    pub warnings: Vec<String>,
}

/// A node class as the untyped object the cloud provider receives. Serializing
/// a typed class cannot fail (its maps are keyed by strings); if it ever did,
/// the provider gets `null` and rejects it with an error naming the class.
fn class_object(class: &EC2NodeClass) -> serde_json::Value {
    serde_json::to_value(class).unwrap_or_else(|e| {
        tracing::error!(
            class = class.metadata.name.as_deref().unwrap_or_default(),
            "EC2NodeClass does not serialize: {e}"
        );
        serde_json::Value::Null
    })
}

/// Every pool, split into the usable ones and the ones that cannot be used yet.
#[derive(Clone, Debug, Default)]
pub struct Pools {
    pub ready: Vec<Pool>,
    /// Why a pool was left out (missing node class, bad kubelet quantity, ...).
    pub skipped: Vec<String>,
}

impl Pools {
    pub fn get(&self, pool: &PoolRef) -> Option<&Pool> {
        self.ready.iter().find(|p| &p.pool == pool)
    }
}

impl Pool {
    /// `"Provisioner"` or `"NodePool"`, as errors name the object.
    pub fn kind(&self) -> &'static str {
        kind_name(self.pool.kind)
    }

    /// The label naming the pool on its nodes and claims.
    pub fn label_key(&self) -> &'static str {
        pool_label_key(self.pool.kind)
    }

    /// The label of the other kind of pool, which this pool's nodes never carry.
    pub fn other_label_key(&self) -> &'static str {
        match self.pool.kind {
            PoolKind::Provisioner => labels::NODEPOOL,
            PoolKind::NodePool => labels::PROVISIONER_NAME,
        }
    }

    /// Field path of the requirements in the user's object.
    fn requirements_path(&self) -> &'static str {
        match self.pool.kind {
            PoolKind::Provisioner => "spec.requirements",
            PoolKind::NodePool => "spec.template.spec.requirements",
        }
    }

    /// What the cloud provider needs to resolve this pool's instance types.
    /// The node class travels untyped (with its apiVersion and kind), so the
    /// cloud-neutral trait carries no AWS type.
    pub fn context(&self) -> NodeTemplateContext {
        NodeTemplateContext::new(self.node_class_name(), self.kubelet.clone())
            .with_class(self.node_class.as_ref().map(class_object))
    }

    pub fn node_class_name(&self) -> &str {
        &self.node_pool.spec.template.spec.node_class_ref.name
    }

    pub fn weight(&self) -> i32 {
        self.node_pool.spec.weight.unwrap_or(0)
    }

    /// Template labels plus the pool label and, for a NodePool, the node
    /// class label Karpenter v1 stamps on its claims and nodes
    /// (`karpenter.k8s.aws/ec2nodeclass: <name>`, `NodeClassLabelKey`), by
    /// which Karpenter tells the nodes it manages.
    pub fn labels(&self) -> BTreeMap<String, String> {
        let mut out = self.node_pool.spec.template.metadata.labels.clone();
        out.insert(self.label_key().to_string(), self.pool.name.clone());
        if self.pool.kind == PoolKind::NodePool {
            let class = &self.node_pool.spec.template.spec.node_class_ref;
            out.insert(
                format!("{}/{}", class.group, class.kind.to_lowercase()),
                class.name.clone(),
            );
        }
        out
    }

    /// The pool's requirements with its labels (and the pool label) folded in
    /// as `In [value]`. A NodePool without a capacity-type requirement gets
    /// `on-demand`, as Karpenter's v1 NodeClaim template does.
    pub fn requirements(&self) -> Result<Requirements, StateError> {
        let mut out = Requirements::new();
        let list = &self.node_pool.spec.template.spec.requirements;
        for (i, r) in list.iter().enumerate() {
            out.add(requirement(r).map_err(|e| {
                StateError::field(
                    self.kind(),
                    &self.pool.name,
                    format!("{}[{i}]", self.requirements_path()),
                    e.to_string(),
                )
            })?);
        }
        if !out.has(labels::CAPACITY_TYPE) {
            out.add(Requirement::in_values(
                labels::CAPACITY_TYPE,
                [labels::CAPACITY_TYPE_ON_DEMAND],
            ));
        }
        for (k, v) in self.labels() {
            out.add(Requirement::in_values(labels::normalize_label_key(&k), [v]));
        }
        // Both pool labels are well known, so a template that lacks one would
        // accept any value for it; a pod selecting the other kind's pool must not land here.
        out.add(Requirement::does_not_exist(self.other_label_key()));
        Ok(out)
    }

    /// `limits` in milli-units per resource.
    pub fn limits(&self) -> Result<BTreeMap<String, i64>, StateError> {
        let path = match self.pool.kind {
            PoolKind::Provisioner => "spec.limits.resources",
            PoolKind::NodePool => "spec.limits",
        };
        self.node_pool
            .spec
            .limits
            .iter()
            .map(|(k, q)| {
                kerf_api::quantity::parse_milli(&q.0)
                    .map(|v| (k.clone(), v))
                    .map_err(|e| {
                        StateError::field(
                            self.kind(),
                            &self.pool.name,
                            format!("{path}[{k}]"),
                            format!("{:?} is not a quantity: {e}", q.0),
                        )
                    })
            })
            .collect()
    }
}

/// A v1 requirement as the scheduler reads it, `minValues` kept.
pub fn requirement(
    r: &NodeSelectorRequirementWithMinValues,
) -> Result<Requirement, RequirementError> {
    let mut req = Requirement::new(&r.key, &r.operator, &r.values)?;
    req.min_values = r.min_values.and_then(|v| u32::try_from(v).ok());
    Ok(req)
}

pub fn kind_name(kind: PoolKind) -> &'static str {
    match kind {
        PoolKind::Provisioner => "Provisioner",
        PoolKind::NodePool => "NodePool",
    }
}

/// `karpenter.sh/provisioner-name` or `karpenter.sh/nodepool`.
pub fn pool_label_key(kind: PoolKind) -> &'static str {
    match kind {
        PoolKind::Provisioner => labels::PROVISIONER_NAME,
        PoolKind::NodePool => labels::NODEPOOL,
    }
}

/// The pool a node or claim belongs to, read from its labels.
pub fn pool_of_labels(l: &BTreeMap<String, String>) -> Option<PoolRef> {
    if let Some(name) = l.get(labels::NODEPOOL) {
        return Some(PoolRef {
            kind: PoolKind::NodePool,
            name: name.clone(),
        });
    }
    l.get(labels::PROVISIONER_NAME).map(|name| PoolRef {
        kind: PoolKind::Provisioner,
        name: name.clone(),
    })
}

/// A kubelet block (absent: defaults) as scheduler settings; a bad value names
/// `kind name` and the field under `path`.
fn kubelet(
    kind: &'static str,
    name: &str,
    path: &str,
    block: Option<&kerf_api::v1::KubeletConfiguration>,
) -> Result<KubeletSettings, StateError> {
    block
        .map(kerf_cloud::kubelet::kubelet_settings)
        .transpose()
        .map(Option::unwrap_or_default)
        .map_err(|e| StateError::field(kind, name, format!("{path}.{}", e.field), e.message))
}

/// Karpenter's runtime validation of a NodePool (`validateWellKnownValues`):
/// an `In` requirement on a label with a closed set of values must name one
/// of them, and at least `minValues` of them. The API server accepts such a
/// pool; Karpenter marks it not ready, and kerf leaves it out, saying why.
fn well_known_values(name: &str, np: &NodePool) -> Result<(), StateError> {
    for (i, r) in np.spec.template.spec.requirements.iter().enumerate() {
        let key = labels::normalize_label_key(&r.key);
        let Some((_, known)) = labels::WELL_KNOWN_VALUES.iter().find(|(k, _)| *k == key) else {
            continue;
        };
        if r.operator != "In" {
            continue;
        }
        let valid = r
            .values
            .iter()
            .filter(|v| known.contains(&v.as_str()))
            .count();
        let expected = known.join(", ");
        let message = if valid == 0 {
            format!(
                "no valid values in {:?} for {key}, expected one of: {expected}",
                r.values
            )
        } else if let Some(min) = r
            .min_values
            .filter(|&m| valid < usize::try_from(m).unwrap_or(0))
        {
            format!(
                "{valid} valid values in {:?} for {key}, minValues is {min} (valid: {expected})",
                r.values
            )
        } else {
            continue;
        };
        return Err(StateError::field(
            "NodePool",
            name,
            format!("spec.template.spec.requirements[{i}].values"),
            message,
        ));
    }
    Ok(())
}

/// kerf does not launch into On-Demand Capacity Reservations or Capacity
/// Blocks (Karpenter's ReservedCapacity feature, on by default in current
/// Karpenter). A class that selects them would otherwise launch spot or
/// on-demand nodes beside reservations already paid for, so its pools launch
/// nothing and say why.
fn reserved_capacity(name: &str, class: &kerf_api::v1::EC2NodeClass) -> Result<(), StateError> {
    if class.spec.capacity_reservation_selector_terms.is_empty() {
        return Ok(());
    }
    Err(StateError::field(
        "EC2NodeClass",
        name,
        "spec.capacityReservationSelectorTerms",
        RESERVED_CAPACITY_REFUSED,
    ))
}

/// Why a class with `capacityReservationSelectorTerms` launches nothing.
pub const RESERVED_CAPACITY_REFUSED: &str = "kerf does not launch into capacity reservations \
     (Karpenter's ReservedCapacity feature); remove the terms to launch spot or on-demand \
     capacity, or keep this class on Karpenter";

impl ClusterState {
    /// Every Provisioner and NodePool as a [`Pool`], in kind then name order.
    pub fn pools(&self) -> Pools {
        let mut out = Pools::default();
        for (name, p) in &self.provisioners {
            match self.provisioner_pool(name, p) {
                Ok(pool) => out.ready.push(pool),
                Err(e) => out.skipped.push(e.to_string()),
            }
        }
        for (name, np) in &self.node_pools {
            match self.node_pool_pool(name, np) {
                Ok(pool) => out.ready.push(pool),
                Err(e) => out.skipped.push(e.to_string()),
            }
        }
        out
    }

    fn provisioner_pool(
        &self,
        name: &str,
        p: &kerf_api::v1alpha5::Provisioner,
    ) -> Result<Pool, StateError> {
        let template = match &p.spec.provider_ref {
            Some(r) => Some(
                self.aws_node_templates
                    .get(&r.name)
                    .map(|t| t.as_ref())
                    .ok_or_else(|| {
                        StateError::field(
                            "Provisioner",
                            name,
                            "spec.providerRef.name",
                            format!("AWSNodeTemplate {:?} not found", r.name),
                        )
                    })?,
            ),
            None => None,
        };
        let converted = kerf_api::convert::provisioner_to_v1(p, template)
            .map_err(|e| StateError::object("Provisioner", name, e.to_string()))?;
        // The conversion carried kubeletConfiguration into the node class unchanged.
        let kubelet = kubelet(
            "Provisioner",
            name,
            "spec.kubeletConfiguration",
            converted
                .node_class
                .as_ref()
                .and_then(|c| c.spec.kubelet.as_ref()),
        )?;
        Ok(Pool {
            pool: PoolRef {
                kind: PoolKind::Provisioner,
                name: name.to_string(),
            },
            node_pool: converted.node_pool,
            node_class: converted.node_class,
            kubelet,
            warnings: converted.warnings,
        })
    }

    fn node_pool_pool(&self, name: &str, np: &NodePool) -> Result<Pool, StateError> {
        let class_ref = &np.spec.template.spec.node_class_ref;
        let class = self.ec2_node_classes.get(&class_ref.name).ok_or_else(|| {
            StateError::field(
                "NodePool",
                name,
                "spec.template.spec.nodeClassRef.name",
                format!("{} {:?} not found", class_ref.kind, class_ref.name),
            )
        })?;
        reserved_capacity(&class_ref.name, class)?;
        // A pool written as v1beta1 keeps its kubelet block in an annotation,
        // which outranks the class's (AWS v1.0 `GetKubletConfigurationWithNodePool`).
        let carried =
            kerf_api::v1beta1::convert::kubelet_from_annotations(np.metadata.annotations.as_ref())
                .map_err(|message| StateError::object("NodePool", name, message))?;
        well_known_values(name, np)?;
        let kubelet = match &carried {
            Some(block) => kubelet("NodePool", name, "spec.template.spec.kubelet", Some(block))?,
            None => kubelet(
                "EC2NodeClass",
                &class_ref.name,
                "spec.kubelet",
                class.spec.kubelet.as_ref(),
            )?,
        };
        Ok(Pool {
            pool: PoolRef {
                kind: PoolKind::NodePool,
                name: name.to_string(),
            },
            node_pool: np.clone(),
            node_class: Some(class.as_ref().clone()),
            kubelet,
            warnings: Vec::new(),
        })
    }
}
