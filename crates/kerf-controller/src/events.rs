//! Kubernetes Events on pods, as Karpenter writes them: `Nominated` ("kerf
//! will launch node X for this pod" / "... place it on node X") and
//! `FailedScheduling` with the scheduler's reason; and on Provisioners and
//! NodePools: `NoCompatibleInstanceTypes` (Karpenter's, when the pool's
//! requirements leave no instance type) and `LimitReached` (pods the pool
//! could have taken were refused by its limits). Published in the
//! background so a large batch is not slowed by thousands of writes; the
//! recorder folds repeats into an event series.

use std::collections::BTreeMap;

use k8s_openapi::api::core::v1::{ObjectReference, Pod};
use kerf_api::v1::NodePool;
use kerf_api::v1alpha5::Provisioner;
use kerf_core::pod::PodKey;
use kerf_core::template::{PoolKind, PoolRef};
use kerf_state::{ClusterState, ProvisionOutcome};
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

/// The Event reference to a pod.
pub fn reference(pod: &Pod) -> ObjectReference {
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
pub fn publish(
    client: &Client,
    pods: &BTreeMap<PodKey, ObjectReference>,
    notices: Vec<(PodKey, PodNotice)>,
) {
    let items: Vec<(ObjectReference, Event)> = notices
        .iter()
        .filter_map(|(key, notice)| pods.get(key).map(|r| (r.clone(), event(notice))))
        .collect();
    publish_all(client, items);
}

/// What to tell a Provisioner or NodePool after a provisioning pass.
#[derive(Clone, Debug, PartialEq)]
pub enum PoolNotice {
    /// The pool's requirements leave no instance type with an available offering.
    NoCompatibleInstanceTypes,
    /// A pod the pool could otherwise take was refused by the pool's limits.
    LimitReached { detail: String },
}

impl PoolNotice {
    pub fn reason(&self) -> &'static str {
        match self {
            PoolNotice::NoCompatibleInstanceTypes => "NoCompatibleInstanceTypes",
            PoolNotice::LimitReached { .. } => "LimitReached",
        }
    }
}

/// The pool notices one pass calls for (pure): pools whose requirements no
/// resolved instance type meets, and pools named as limited in a pod's reason.
pub fn pool_notices(outcome: &ProvisionOutcome) -> Vec<(PoolRef, PoolNotice)> {
    let mut out = Vec::new();
    for pool in &outcome.pools.ready {
        let Ok(requirements) = pool.requirements() else {
            continue;
        };
        let any_type = outcome.instance_types.get(&pool.pool).is_some_and(|types| {
            types
                .iter()
                .any(|it| it.requirements.intersects(&requirements).is_ok())
        });
        if !any_type {
            out.push((pool.pool.clone(), PoolNotice::NoCompatibleInstanceTypes));
        }
        // The scheduler names the pool before each reason: "<pool>: limits {cpu=8} leave ...".
        let prefix = format!("{}: ", pool.pool);
        let limited = outcome
            .unschedulable
            .iter()
            .flat_map(|u| u.reason.split("; "))
            .filter_map(|part| part.strip_prefix(&prefix))
            .find(|rest| kerf_core::words::is_limit_reached(rest));
        if let Some(detail) = limited {
            let detail = detail.to_string();
            out.push((pool.pool.clone(), PoolNotice::LimitReached { detail }));
        }
    }
    out
}

fn pool_event(kind: PoolKind, notice: &PoolNotice) -> Event {
    let kind = kerf_state::pools::kind_name(kind);
    let note = match notice {
        PoolNotice::NoCompatibleInstanceTypes => {
            format!("{kind} requirements filtered out all compatible available instance types")
        }
        PoolNotice::LimitReached { detail } => {
            format!("{kind} cannot launch more nodes for pending pods: {detail}")
        }
    };
    Event {
        type_: EventType::Warning,
        reason: notice.reason().to_string(),
        note: Some(note.chars().take(1024).collect()),
        action: "Provisioning".to_string(),
        secondary: None,
    }
}

/// The reference of a pool object as the state holds it (with its UID).
pub fn pool_reference(state: &ClusterState, pool: &PoolRef) -> Option<ObjectReference> {
    let (api_version, meta) = match pool.kind {
        PoolKind::Provisioner => (
            "karpenter.sh/v1alpha5",
            &state.get::<Provisioner>(&pool.name)?.metadata,
        ),
        PoolKind::NodePool => (
            "karpenter.sh/v1",
            &state.get::<NodePool>(&pool.name)?.metadata,
        ),
    };
    Some(ObjectReference {
        api_version: Some(api_version.to_string()),
        kind: Some(kerf_state::pools::kind_name(pool.kind).to_string()),
        name: meta.name.clone(),
        uid: meta.uid.clone(),
        ..Default::default()
    })
}

/// Publishes pool notices (already deduplicated by the caller) in the background.
pub fn publish_pools(client: &Client, notices: Vec<(ObjectReference, PoolKind, PoolNotice)>) {
    let items = notices
        .iter()
        .map(|(r, kind, n)| (r.clone(), pool_event(*kind, n)))
        .collect();
    publish_all(client, items);
}

pub(crate) fn publish_all(client: &Client, items: Vec<(ObjectReference, Event)>) {
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
                tracing::debug!(object = ?reference.name, error = %e, "publishing event");
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

    fn yaml<T: serde::de::DeserializeOwned>(text: &str) -> T {
        serde_yaml::from_str(text).unwrap()
    }

    async fn pass(provisioner: &str, pods: usize) -> ProvisionOutcome {
        let mut state = ClusterState::new();
        state.apply(yaml::<Provisioner>(provisioner)).unwrap();
        for i in 0..pods {
            state
                .apply(yaml::<Pod>(&format!(
                    "apiVersion: v1\nkind: Pod\nmetadata: {{name: p{i}, namespace: default, uid: u{i}}}\nspec:\n  containers:\n  - name: c\n    image: pause\n    resources: {{requests: {{cpu: '1'}}}}\n"
                )))
                .unwrap();
        }
        let cloud = kerf_cloud::InMemoryCloud::new(kerf_cloud::Catalog::builtin());
        let options = kerf_state::ProvisionOptions {
            pending: kerf_state::PendingMode::AllUnbound,
            ..Default::default()
        };
        kerf_state::provision(
            &state,
            &cloud,
            &options,
            &mut kerf_state::DeterministicNames::default(),
        )
        .await
        .unwrap()
    }

    const SEED: &str = "apiVersion: karpenter.sh/v1alpha5\nkind: Provisioner\nmetadata: {name: default, uid: p-uid}\nspec:\n  provider: {instanceProfile: p}\n  requirements:\n  - {key: node.kubernetes.io/instance-type, operator: In, values: [m5.2xlarge]}\n";

    #[tokio::test]
    async fn limited_pool_is_told_why_pods_wait() {
        let limited = format!("{SEED}  limits: {{resources: {{cpu: '8'}}}}\n");
        let outcome = pass(&limited, 10).await;
        assert_eq!(outcome.claims.len(), 1, "one m5.2xlarge fits the limit");
        let notices = pool_notices(&outcome);
        let [(pool, PoolNotice::LimitReached { detail })] = notices.as_slice() else {
            panic!("{notices:?}");
        };
        assert_eq!(pool.name, "default");
        assert!(
            detail.starts_with("limits {cpu=8} leave too little"),
            "{detail}"
        );
        let e = pool_event(pool.kind, &notices[0].1);
        assert_eq!(
            (e.type_, e.reason.as_str()),
            (EventType::Warning, "LimitReached")
        );
        assert!(
            e.note
                .unwrap()
                .starts_with("Provisioner cannot launch more nodes")
        );

        let unlimited = pass(SEED, 10).await;
        assert!(
            pool_notices(&unlimited).is_empty(),
            "{:?}",
            unlimited.unschedulable
        );
    }

    #[tokio::test]
    async fn pool_without_instance_types_is_told_so() {
        let none = SEED.replace("m5.2xlarge", "no-such.type");
        let outcome = pass(&none, 1).await;
        let notices = pool_notices(&outcome);
        assert_eq!(notices.len(), 1, "{notices:?}");
        assert_eq!(notices[0].1, PoolNotice::NoCompatibleInstanceTypes);
        let e = pool_event(notices[0].0.kind, &notices[0].1);
        assert_eq!(
            e.note.as_deref(),
            Some("Provisioner requirements filtered out all compatible available instance types")
        );
        let mut state = ClusterState::new();
        state.apply(yaml::<Provisioner>(&none)).unwrap();
        let r = pool_reference(&state, &notices[0].0).unwrap();
        assert_eq!(r.uid.as_deref(), Some("p-uid"));
        assert_eq!(r.api_version.as_deref(), Some("karpenter.sh/v1alpha5"));
    }
}
