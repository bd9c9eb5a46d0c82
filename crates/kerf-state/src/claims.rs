//! From a plan to NodeClaims: each [`PlannedNode`] becomes a `karpenter.sh/v1`
//! NodeClaim the way Karpenter writes one — the pool label and template labels
//! and annotations, taints and startup taints, requirements (template ∩ pods,
//! with `node.kubernetes.io/instance-type In [the planned options, cheapest
//! first]`), `resources.requests` = pod requests + daemonset overhead, the node
//! class reference, and an owner reference to its NodePool. The pods the plan
//! put on each claim come along ([`PlannedClaim::pods`]).
//!
//! Names are `<pool>-<5 characters>`; a [`NameGenerator`] picks the suffix, so
//! the controller can use random ones ([`RandomNames`], like Kubernetes'
//! `generateName`) and the simulator reproducible ones ([`DeterministicNames`]).

use std::collections::{BTreeMap, BTreeSet};

use k8s_openapi::apimachinery::pkg::apis::meta::v1::{ObjectMeta, OwnerReference};
use kerf_api::labels;
use kerf_api::v1::{
    NodeClaim, NodeClaimSpec, NodeSelectorRequirementWithMinValues, ResourceRequirements,
};
use kerf_cloud::provider::quantity::to_quantities;
use kerf_core::plan::{Plan, PlannedNode};
use kerf_core::pod::PodKey;
use kerf_core::requirements::Requirement;
use kerf_core::template::{PoolKind, PoolRef};
use rand::Rng;

use crate::error::StateError;
use crate::pools::Pools;

/// Characters Kubernetes uses for generated name suffixes (no vowels, no look-alikes).
const ALPHABET: &[u8] = b"bcdfghjklmnpqrstvwxz2456789";
const SUFFIX_LEN: usize = 5;

/// Picks the suffix of a new claim's name; called again if the name is taken.
pub trait NameGenerator: Send {
    fn suffix(&mut self, pool: &PoolRef) -> String;
}

/// Random suffixes, as `generateName` gives.
#[derive(Clone, Debug, Default)]
pub struct RandomNames;

impl NameGenerator for RandomNames {
    fn suffix(&mut self, _pool: &PoolRef) -> String {
        let mut rng = rand::rng();
        (0..SUFFIX_LEN)
            .map(|_| char::from(ALPHABET[rng.random_range(0..ALPHABET.len())]))
            .collect()
    }
}

/// Reproducible suffixes: the n-th claim of a pool always gets the same one.
#[derive(Clone, Debug, Default)]
pub struct DeterministicNames {
    counters: BTreeMap<PoolRef, u64>,
}

impl NameGenerator for DeterministicNames {
    fn suffix(&mut self, pool: &PoolRef) -> String {
        let n = self.counters.entry(pool.clone()).or_insert(0);
        *n += 1;
        // FNV-1a of the pool name, mixed with the counter by splitmix64, so
        // suffixes look like generated ones yet never change between runs.
        let mut h: u64 = 0xcbf2_9ce4_8422_2325;
        for b in pool.name.bytes() {
            h = (h ^ u64::from(b)).wrapping_mul(0x0100_0000_01b3);
        }
        let mut z = h.wrapping_add(n.wrapping_mul(0x9e37_79b9_7f4a_7c15));
        z = (z ^ (z >> 30)).wrapping_mul(0xbf58_476d_1ce4_e5b9);
        z = (z ^ (z >> 27)).wrapping_mul(0x94d0_49bb_1331_11eb);
        z ^= z >> 31;
        (0..SUFFIX_LEN)
            .map(|_| {
                let c = ALPHABET[(z % ALPHABET.len() as u64) as usize];
                z /= ALPHABET.len() as u64;
                char::from(c)
            })
            .collect()
    }
}

/// One NodeClaim to create, with what the plan decided for it.
#[derive(Clone, Debug)]
pub struct PlannedClaim {
    pub claim: NodeClaim,
    /// The plan's placeholder name for the node ([`PlannedNode::name`]).
    pub planned_node: String,
    pub pool: PoolRef,
    /// Pods the plan put on this claim (bind them once its Node is ready).
    pub pods: Vec<PodKey>,
}

/// Each planned node as a NodeClaim named `<pool>-<suffix>`, avoiding `taken`
/// names and each other.
pub fn claims_for_plan(
    plan: &Plan,
    pools: &Pools,
    taken: &BTreeSet<String>,
    names: &mut dyn NameGenerator,
) -> Result<Vec<PlannedClaim>, StateError> {
    claims_for_nodes(&plan.new_nodes, pools, taken, names)
}

/// [`claims_for_plan`] for any planned nodes (a disruption command's replacements).
pub fn claims_for_nodes<'a>(
    nodes: impl IntoIterator<Item = &'a PlannedNode>,
    pools: &Pools,
    taken: &BTreeSet<String>,
    names: &mut dyn NameGenerator,
) -> Result<Vec<PlannedClaim>, StateError> {
    let mut used = taken.clone();
    let mut out = Vec::new();
    for node in nodes {
        let mut name = format!("{}-{}", node.pool.name, names.suffix(&node.pool));
        let mut attempts = 0;
        while used.contains(&name) {
            attempts += 1;
            if attempts > 1000 {
                return Err(StateError::object(
                    "NodeClaim",
                    name,
                    "name generator keeps returning names already in use",
                ));
            }
            name = format!("{}-{}", node.pool.name, names.suffix(&node.pool));
        }
        used.insert(name.clone());
        out.push(PlannedClaim {
            claim: node_claim(&name, node, pools)?,
            planned_node: node.name.clone(),
            pool: node.pool.clone(),
            pods: node.pods.clone(),
        });
    }
    Ok(out)
}

/// Karpenter's annotation on a NodeClaim whose minValues the scheduler
/// lowered (`--min-values-policy BestEffort`).
pub const MIN_VALUES_RELAXED: &str = "karpenter.sh/nodeclaim-min-values-relaxed";

/// The NodeClaim for one planned node.
pub fn node_claim(name: &str, node: &PlannedNode, pools: &Pools) -> Result<NodeClaim, StateError> {
    let pool = pools.get(&node.pool).ok_or_else(|| {
        StateError::object(
            crate::pools::kind_name(node.pool.kind),
            &node.pool.name,
            "planned node's pool is not in the cluster state",
        )
    })?;
    let template = &pool.node_pool.spec.template;

    let mut claim_labels = pool.labels();
    for (k, v) in node.requirements.single_valued_labels() {
        if k != labels::HOSTNAME {
            claim_labels.entry(k).or_insert(v);
        }
    }

    let mut requirements = Vec::new();
    for r in node.requirements.iter() {
        if r.key == labels::HOSTNAME
            || r.key == labels::INSTANCE_TYPE
            || r.key == pool.other_label_key()
        {
            continue;
        }
        requirements.extend(to_v1(r));
    }
    let mut types: Vec<String> = Vec::new();
    for o in &node.options {
        if !types.contains(&o.instance_type) {
            types.push(o.instance_type.clone());
        }
    }
    let type_min = node
        .requirements
        .get(labels::INSTANCE_TYPE)
        .and_then(|r| r.min_values)
        .and_then(|m| i32::try_from(m).ok());
    requirements.push(NodeSelectorRequirementWithMinValues {
        key: labels::INSTANCE_TYPE.to_string(),
        operator: "In".to_string(),
        values: types,
        min_values: type_min,
    });

    let mut annotations = template.metadata.annotations.clone();
    // What drift compares with the pool later (crate::disruption).
    annotations.insert(
        labels::NODEPOOL_HASH.to_string(),
        crate::disruption::pool_hash(pool),
    );
    annotations.insert(
        labels::NODEPOOL_HASH_VERSION.to_string(),
        crate::disruption::POOL_HASH_VERSION.to_string(),
    );
    if node.min_values_relaxed {
        annotations.insert(MIN_VALUES_RELAXED.to_string(), "true".to_string());
    }

    let owner_references = (node.pool.kind == PoolKind::NodePool).then(|| {
        vec![OwnerReference {
            api_version: "karpenter.sh/v1".to_string(),
            kind: "NodePool".to_string(),
            name: node.pool.name.clone(),
            uid: pool.node_pool.metadata.uid.clone().unwrap_or_default(),
            block_owner_deletion: Some(true),
            controller: None,
        }]
    });

    Ok(NodeClaim {
        metadata: ObjectMeta {
            name: Some(name.to_string()),
            labels: Some(claim_labels),
            annotations: Some(annotations),
            owner_references,
            ..ObjectMeta::default()
        },
        spec: NodeClaimSpec {
            taints: node.taints.clone(),
            startup_taints: node.startup_taints.clone(),
            requirements,
            resources: ResourceRequirements {
                requests: to_quantities(&node.pod_requests.plus(&node.daemon_requests)),
            },
            node_class_ref: template.spec.node_class_ref.clone(),
            termination_grace_period: template.spec.termination_grace_period,
            expire_after: template.spec.expire_after,
        },
        status: None,
    })
}

/// A scheduler requirement as v1 node selector requirements (a bounded
/// `Exists` becomes `Gt`/`Lt` entries on the same key, which AND).
pub fn to_v1(r: &Requirement) -> Vec<NodeSelectorRequirementWithMinValues> {
    let values: Vec<String> = r.values.iter().cloned().collect();
    let min_values = r.min_values.and_then(|m| i32::try_from(m).ok());
    let entry = |op: &str, values: Vec<String>| NodeSelectorRequirementWithMinValues {
        key: r.key.clone(),
        operator: op.to_string(),
        values,
        min_values,
    };
    if !r.complement {
        return vec![if values.is_empty() {
            entry("DoesNotExist", Vec::new())
        } else {
            entry("In", values)
        }];
    }
    let mut out = Vec::new();
    if let Some(gt) = r.gt {
        out.push(entry("Gt", vec![gt.to_string()]));
    }
    if let Some(lt) = r.lt {
        out.push(entry("Lt", vec![lt.to_string()]));
    }
    if !values.is_empty() {
        out.push(entry("NotIn", values));
    } else if out.is_empty() {
        out.push(entry("Exists", Vec::new()));
    }
    out
}
