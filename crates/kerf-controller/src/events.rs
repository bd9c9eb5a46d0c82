//! Kubernetes Events on pods, as Karpenter writes them: `Nominated` ("kerf
//! will launch node X for this pod" / "... place it on node X") and
//! `FailedScheduling` with the scheduler's reason. Published in the
//! background so a large batch is not slowed by thousands of writes; the
//! recorder folds repeats into an event series.

use std::collections::BTreeMap;

use k8s_openapi::api::core::v1::{ObjectReference, Pod};
use kerf_core::pod::PodKey;
use kube::Client;
use kube::runtime::events::{Event, EventType, Recorder, Reporter};

pub const CONTROLLER: &str = "kerf";

/// What to tell one pod.
#[derive(Clone, Debug, PartialEq)]
pub enum PodNotice {
    /// kerf launches this claim for the pod.
    Launching {
        claim: String,
    },
    /// The pod fits on a node that exists or is already being launched.
    Existing {
        node: String,
    },
    Unschedulable {
        reason: String,
    },
}

fn reference(pod: &Pod) -> ObjectReference {
    ObjectReference {
        api_version: Some("v1".to_string()),
        kind: Some("Pod".to_string()),
        name: pod.metadata.name.clone(),
        namespace: pod.metadata.namespace.clone(),
        uid: pod.metadata.uid.clone(),
        ..Default::default()
    }
}

fn event(notice: &PodNotice) -> Event {
    let (type_, reason, note) = match notice {
        PodNotice::Launching { claim } => (
            EventType::Normal,
            "Nominated",
            format!("kerf will launch node {claim} for this pod"),
        ),
        PodNotice::Existing { node } => (
            EventType::Normal,
            "Nominated",
            format!("pod should schedule on node {node}"),
        ),
        PodNotice::Unschedulable { reason } => (
            EventType::Warning,
            "FailedScheduling",
            format!("cannot schedule: {reason}"),
        ),
    };
    Event {
        type_,
        reason: reason.to_string(),
        note: Some(note.chars().take(1024).collect()),
        action: "Provisioning".to_string(),
        secondary: None,
    }
}

/// Publishes the notices for the pods found in `pods`, in a background task.
pub fn publish(client: &Client, pods: &BTreeMap<PodKey, Pod>, notices: Vec<(PodKey, PodNotice)>) {
    let items: Vec<(ObjectReference, Event)> = notices
        .iter()
        .filter_map(|(key, notice)| pods.get(key).map(|p| (reference(p), event(notice))))
        .collect();
    if items.is_empty() {
        return;
    }
    let recorder = Recorder::new(
        client.clone(),
        Reporter {
            controller: CONTROLLER.to_string(),
            instance: std::env::var("POD_NAME").ok(),
        },
    );
    tokio::spawn(async move {
        for (reference, event) in items {
            if let Err(e) = recorder.publish(&event, &reference).await {
                tracing::debug!(pod = ?reference.name, error = %e, "publishing event");
            }
        }
    });
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn notices_read_like_karpenters() {
        let e = event(&PodNotice::Launching {
            claim: "default-abcde".into(),
        });
        assert_eq!(e.reason, "Nominated");
        assert_eq!(
            e.note.as_deref(),
            Some("kerf will launch node default-abcde for this pod")
        );
        let e = event(&PodNotice::Unschedulable {
            reason: "no instance type fits".into(),
        });
        assert_eq!(
            (e.type_, e.reason.as_str()),
            (EventType::Warning, "FailedScheduling")
        );
    }
}
