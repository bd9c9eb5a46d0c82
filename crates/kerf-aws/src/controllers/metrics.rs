//! The AWS loops' Prometheus metrics under Karpenter's names, registered into
//! the controller's registry so `/metrics` serves them with the rest:
//! `karpenter_interruption_received_messages_total{message_type}`,
//! `karpenter_interruption_deleted_messages_total`,
//! `karpenter_interruption_message_queue_duration_seconds`,
//! and `karpenter_cloudprovider_errors_total{controller,method,provider,error}`.
//! (Garbage collection is cloud-neutral: its metric is kerf-controller's.)

use prometheus_client::encoding::EncodeLabelSet;
use prometheus_client::metrics::counter::Counter;
use prometheus_client::metrics::family::Family;
use prometheus_client::metrics::histogram::{Histogram, exponential_buckets};
use prometheus_client::registry::Registry;

#[derive(Clone, Debug, Hash, PartialEq, Eq, EncodeLabelSet)]
pub struct MessageLabels {
    pub message_type: String,
}

#[derive(Clone, Debug, Hash, PartialEq, Eq, EncodeLabelSet)]
pub struct ErrorLabels {
    pub controller: String,
    pub method: String,
    pub provider: String,
    pub error: String,
}

/// Handles are cheap clones of shared counters.
#[derive(Clone)]
pub struct AwsMetrics {
    pub received: Family<MessageLabels, Counter>,
    pub deleted: Counter,
    pub queue_duration: Histogram,
    pub cloud_errors: Family<ErrorLabels, Counter>,
}

impl Default for AwsMetrics {
    fn default() -> Self {
        AwsMetrics {
            received: Family::default(),
            deleted: Counter::default(),
            // 0.25 s .. ~68 min: SQS delivery is seconds, a stuck queue is minutes.
            queue_duration: Histogram::new(exponential_buckets(0.25, 2.0, 15)),
            cloud_errors: Family::default(),
        }
    }
}

impl AwsMetrics {
    pub fn register(&self, registry: &mut Registry) {
        registry.register(
            "karpenter_interruption_received_messages",
            "Count of messages received from the SQS queue, by message type",
            self.received.clone(),
        );
        registry.register(
            "karpenter_interruption_deleted_messages",
            "Count of messages deleted from the SQS queue",
            self.deleted.clone(),
        );
        registry.register(
            "karpenter_interruption_message_queue_duration_seconds",
            "Time between a message entering the queue and kerf acting on it",
            self.queue_duration.clone(),
        );
        registry.register(
            "karpenter_cloudprovider_errors",
            "Errors returned by the cloud provider, by method and AWS error code",
            self.cloud_errors.clone(),
        );
    }

    pub fn cloud_error(&self, controller: &str, method: &str, error: &str) {
        self.cloud_errors
            .get_or_create(&ErrorLabels {
                controller: controller.to_string(),
                method: method.to_string(),
                provider: "aws".to_string(),
                error: error.to_string(),
            })
            .inc();
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn names_are_karpenters() {
        let m = AwsMetrics::default();
        let mut registry = Registry::default();
        m.register(&mut registry);
        m.received
            .get_or_create(&MessageLabels {
                message_type: "spot_interrupted".into(),
            })
            .inc();
        m.deleted.inc();
        m.queue_duration.observe(1.5);
        m.cloud_error("provisioner", "Create", "UnauthorizedOperation");
        let mut text = String::new();
        prometheus_client::encoding::text::encode(&mut text, &registry).unwrap();
        for line in [
            "karpenter_interruption_received_messages_total{message_type=\"spot_interrupted\"} 1",
            "karpenter_interruption_deleted_messages_total 1",
            "karpenter_interruption_message_queue_duration_seconds_count 1",
            "karpenter_cloudprovider_errors_total{controller=\"provisioner\",method=\"Create\",provider=\"aws\",error=\"UnauthorizedOperation\"} 1",
        ] {
            assert!(text.contains(line), "{line} not in\n{text}");
        }
    }
}
