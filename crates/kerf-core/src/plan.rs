//! The scheduler's output: nodes to launch with the pods planned for them, pods
//! placed on nodes that already exist, and pods that cannot be placed with a
//! reason a person can act on. A plan is data; controllers apply it.

use std::collections::BTreeMap;

use k8s_openapi::api::core::v1::Taint;
use serde::{Deserialize, Serialize};

use crate::pod::PodKey;
use crate::requirements::Requirements;
use crate::resources::Resources;
use crate::template::PoolRef;

/// An instance type that could serve a planned node, with its cheapest allowed offering.
#[derive(Clone, Debug, PartialEq, Serialize, Deserialize)]
pub struct InstanceOption {
    pub instance_type: String,
    pub zone: String,
    pub capacity_type: String,
    pub price: f64,
}

/// A node kerf would launch.
#[derive(Clone, Debug, PartialEq, Serialize, Deserialize)]
pub struct PlannedNode {
    /// A placeholder name, stable for equal inputs (`<pool>-<n>`).
    pub name: String,
    pub pool: PoolRef,
    /// What the launch must satisfy: template ∩ pods' requirements ∩ topology decisions.
    pub requirements: Requirements,
    /// minValues was lowered to fit what is left (policy BestEffort); the
    /// NodeClaim is annotated `karpenter.sh/nodeclaim-min-values-relaxed`.
    #[serde(default)]
    pub min_values_relaxed: bool,
    /// Every instance type that can hold the pods, cheapest first.
    pub options: Vec<InstanceOption>,
    /// `options[0]`: what kerf expects to launch.
    pub chosen: InstanceOption,
    pub labels: BTreeMap<String, String>,
    pub taints: Vec<Taint>,
    pub startup_taints: Vec<Taint>,
    pub pods: Vec<PodKey>,
    /// Sum of the pods' requests.
    pub pod_requests: Resources,
    /// Requests of the daemonsets that will run on it.
    pub daemon_requests: Resources,
    /// Allocatable of the chosen instance type.
    pub allocatable: Resources,
}

/// Pods the plan puts on a node that already exists or is being launched.
#[derive(Clone, Debug, Serialize, Deserialize)]
pub struct ExistingPlacement {
    pub node: String,
    pub pods: Vec<PodKey>,
}

/// Where one pod goes, in the order the scheduler decided (validators replay it).
#[derive(Clone, Debug, PartialEq, Eq, Serialize, Deserialize)]
pub enum Target {
    Existing(String),
    New(String),
}

#[derive(Clone, Debug, Serialize, Deserialize)]
pub struct Placement {
    pub pod: PodKey,
    pub target: Target,
    /// Preferences dropped to place it, in order.
    pub relaxed: Vec<String>,
}

#[derive(Clone, Debug, Serialize, Deserialize)]
pub struct Unschedulable {
    pub pod: PodKey,
    pub reason: String,
}

#[derive(Clone, Debug, Default, Serialize, Deserialize)]
pub struct Plan {
    pub new_nodes: Vec<PlannedNode>,
    pub existing: Vec<ExistingPlacement>,
    pub placements: Vec<Placement>,
    pub unschedulable: Vec<Unschedulable>,
}

impl Plan {
    /// Total $/h of the nodes to launch at their chosen offerings.
    pub fn new_cost_per_hour(&self) -> f64 {
        // From +0.0: an empty f64 sum is -0.0.
        self.new_nodes
            .iter()
            .fold(0.0, |total, n| total + n.chosen.price)
    }

    pub fn scheduled_pods(&self) -> usize {
        self.placements.len()
    }
}

#[cfg(test)]
mod tests {
    #[test]
    fn an_empty_plan_costs_positive_zero() {
        let cost = super::Plan::default().new_cost_per_hour();
        assert!(cost == 0.0 && cost.is_sign_positive());
        assert_eq!(format!("${cost:.4}/hour"), "$0.0000/hour");
    }
}
