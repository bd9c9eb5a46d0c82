//! Prometheus metrics under Karpenter's names where kerf has a counterpart
//! (the v0.31 names): `karpenter_nodes_created`, `karpenter_nodes_terminated`
//! (counters, so the exposition adds `_total`), `karpenter_pods_state` and
//! `karpenter_provisioner_scheduling_duration_seconds`, plus kerf's own
//! `kerf_cluster_state_synced` and `kerf_reconcile_errors_total{controller,kind}`
//! (a reconciler's failures by the kind of its typed error).

use std::sync::Mutex;

use k8s_openapi::api::core::v1::Pod;
use kerf_state::ClusterState;
use prometheus_client::encoding::EncodeLabelSet;
use prometheus_client::metrics::counter::Counter;
use prometheus_client::metrics::family::Family;
use prometheus_client::metrics::gauge::Gauge;
use prometheus_client::metrics::histogram::{Histogram, exponential_buckets};
use prometheus_client::registry::Registry;

#[derive(Clone, Debug, Hash, PartialEq, Eq, EncodeLabelSet)]
pub struct PoolLabels {
    pub provisioner: String,
}

#[derive(Clone, Debug, Hash, PartialEq, Eq, EncodeLabelSet)]
pub struct ReconcileErrorLabels {
    /// `nodeclaim.lifecycle` or `nodeclaim.termination`.
    pub controller: &'static str,
    /// The error's `kind()`: `launch`, `kubernetes`, `draining`, `cloud`.
    pub kind: &'static str,
}

#[derive(Clone, Debug, Hash, PartialEq, Eq, EncodeLabelSet)]
pub struct PodLabels {
    pub name: String,
    pub namespace: String,
    pub node: String,
    pub phase: String,
}

pub struct Metrics {
    registry: Registry,
    pub nodes_created: Family<PoolLabels, Counter>,
    pub nodes_terminated: Family<PoolLabels, Counter>,
    pub pods_state: Family<PodLabels, Gauge>,
    pub scheduling_duration: Histogram,
    pub synced: Gauge,
    /// Instances garbage collection terminated.
    pub garbage_collected: Counter,
    pub reconcile_errors: Family<ReconcileErrorLabels, Counter>,
    pub disruption: crate::disruption_metrics::DisruptionMetrics,
    /// Serialises encoding with the pod-state refresh.
    encode_lock: Mutex<()>,
}

impl Default for Metrics {
    fn default() -> Self {
        Metrics::new()
    }
}

impl Metrics {
    pub fn new() -> Self {
        let mut registry = Registry::default();
        let nodes_created = Family::<PoolLabels, Counter>::default();
        let nodes_terminated = Family::<PoolLabels, Counter>::default();
        let pods_state = Family::<PodLabels, Gauge>::default();
        let scheduling_duration = Histogram::new(exponential_buckets(0.001, 2.0, 16));
        let synced = Gauge::default();
        let garbage_collected = Counter::default();
        let reconcile_errors = Family::<ReconcileErrorLabels, Counter>::default();
        registry.register(
            "kerf_reconcile_errors",
            "Failed reconciles, by controller and the kind of error",
            reconcile_errors.clone(),
        );
        registry.register(
            "karpenter_nodes_created",
            "Number of nodes created in total by kerf, by provisioner",
            nodes_created.clone(),
        );
        registry.register(
            "karpenter_nodes_terminated",
            "Number of nodes terminated in total by kerf, by provisioner",
            nodes_terminated.clone(),
        );
        registry.register(
            "karpenter_pods_state",
            "Pod state: one series per pod with its node and phase",
            pods_state.clone(),
        );
        registry.register(
            "karpenter_provisioner_scheduling_duration_seconds",
            "Duration of one provisioning pass's scheduling simulation",
            scheduling_duration.clone(),
        );
        registry.register(
            "kerf_garbage_collected_instances",
            "Instances the cloud listed as kerf's that no NodeClaim knew, terminated",
            garbage_collected.clone(),
        );
        registry.register(
            "kerf_cluster_state_synced",
            "1 once every watched kind has been listed",
            synced.clone(),
        );
        let disruption = crate::disruption_metrics::DisruptionMetrics::register(&mut registry);
        Metrics {
            disruption,
            registry,
            nodes_created,
            nodes_terminated,
            pods_state,
            scheduling_duration,
            synced,
            garbage_collected,
            reconcile_errors,
            encode_lock: Mutex::new(()),
        }
    }

    /// The registry `/metrics` encodes, for a cloud provider's own metrics.
    pub fn registry_mut(&mut self) -> &mut Registry {
        &mut self.registry
    }

    /// Replaces the pod-state series with the pods in `state`.
    pub fn refresh_pods(&self, state: &ClusterState) {
        let _guard = self.encode_lock.lock().unwrap_or_else(|e| e.into_inner());
        self.pods_state.clear();
        for (_, pod) in state.objects::<Pod>() {
            let labels = PodLabels {
                name: pod.metadata.name.clone().unwrap_or_default(),
                namespace: pod.metadata.namespace.clone().unwrap_or_default(),
                node: pod
                    .spec
                    .as_ref()
                    .and_then(|s| s.node_name.clone())
                    .unwrap_or_default(),
                phase: pod
                    .status
                    .as_ref()
                    .and_then(|s| s.phase.clone())
                    .unwrap_or_else(|| "Pending".to_string()),
            };
            self.pods_state.get_or_create(&labels).set(1);
        }
    }

    /// The OpenMetrics text exposition.
    pub fn encode(&self) -> String {
        let _guard = self.encode_lock.lock().unwrap_or_else(|e| e.into_inner());
        let mut out = String::new();
        if let Err(e) = prometheus_client::encoding::text::encode(&mut out, &self.registry) {
            tracing::warn!(error = %e, "encoding metrics");
        }
        out
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn exposes_karpenter_names() {
        let m = Metrics::new();
        m.nodes_created
            .get_or_create(&PoolLabels {
                provisioner: "default".into(),
            })
            .inc();
        m.scheduling_duration.observe(0.02);
        let mut state = ClusterState::new();
        let mut pod = Pod::default();
        pod.metadata.name = Some("p".into());
        pod.metadata.namespace = Some("default".into());
        state.apply(pod).unwrap();
        m.refresh_pods(&state);
        let text = m.encode();
        assert!(
            text.contains("karpenter_nodes_created_total{provisioner=\"default\"} 1"),
            "{text}"
        );
        assert!(
            text.contains("karpenter_provisioner_scheduling_duration_seconds_count 1"),
            "{text}"
        );
        assert!(
            text.contains(
                "karpenter_pods_state{name=\"p\",namespace=\"default\",node=\"\",phase=\"Pending\"} 1"
            ),
            "{text}"
        );
    }
}
