//! Kubernetes Events from the AWS loops on NodeClaims and node classes
//! (interruption notices, authorization failures, selectors that match
//! nothing), published in the background through kube-runtime's recorder.

use k8s_openapi::api::core::v1::ObjectReference;
use kerf_api::v1::NodeClaim;
use kube::Client;
use kube::api::ObjectMeta;
use kube::runtime::events::{Event, EventType, Recorder, Reporter};

/// An object to tell: `(apiVersion, kind, name, uid)`.
pub fn reference(api_version: &str, kind: &str, meta: &ObjectMeta) -> ObjectReference {
    ObjectReference {
        api_version: Some(api_version.to_string()),
        kind: Some(kind.to_string()),
        name: meta.name.clone(),
        namespace: meta.namespace.clone(),
        uid: meta.uid.clone(),
        ..Default::default()
    }
}

/// What to publish about one object.
pub struct Notice {
    pub object: ObjectReference,
    pub warning: bool,
    pub reason: String,
    pub message: String,
    pub action: &'static str,
}

/// Warning Events for an AWS authorization failure on a claim: on the claim
/// and on its NodePool or Provisioner (none for any other error).
pub fn authorization_notices(
    method: &str,
    claim: &NodeClaim,
    e: &kerf_cloud::CloudError,
) -> Vec<Notice> {
    if !crate::error::is_authorization(e) {
        return vec![];
    }
    let name = kerf_cloud::provider::claim_name(claim);
    let message = format!(
        "{method} for NodeClaim {name}: AWS refused the call as unauthorized ({e}); \
         grant the controller's IAM role the permission"
    );
    let mut objects = vec![reference("karpenter.sh/v1", "NodeClaim", &claim.metadata)];
    let labels = claim.metadata.labels.clone().unwrap_or_default();
    for (key, api_version, kind) in [
        (kerf_cloud::labels::NODEPOOL, "karpenter.sh/v1", "NodePool"),
        (
            kerf_api::labels::PROVISIONER_NAME,
            "karpenter.sh/v1alpha5",
            "Provisioner",
        ),
    ] {
        if let Some(pool) = labels.get(key) {
            let meta = ObjectMeta {
                name: Some(pool.clone()),
                ..Default::default()
            };
            objects.push(reference(api_version, kind, &meta));
        }
    }
    objects
        .into_iter()
        .map(|object| Notice {
            object,
            warning: true,
            reason: "UnauthorizedOperation".to_string(),
            message: message.clone(),
            action: "Launch",
        })
        .collect()
}

pub fn publish(client: &Client, notices: Vec<Notice>) {
    if notices.is_empty() {
        return;
    }
    let recorder = Recorder::new(
        client.clone(),
        Reporter {
            controller: "kerf".to_string(),
            instance: std::env::var("POD_NAME").ok(),
        },
    );
    tokio::spawn(async move {
        for n in notices {
            let event = Event {
                type_: if n.warning {
                    EventType::Warning
                } else {
                    EventType::Normal
                },
                reason: n.reason,
                note: Some(n.message.chars().take(1024).collect()),
                action: n.action.to_string(),
                secondary: None,
            };
            if let Err(e) = recorder.publish(&event, &n.object).await {
                tracing::debug!(object = ?n.object.name, error = %e, "publishing event");
            }
        }
    });
}

#[cfg(test)]
mod tests {
    use crate::error::AwsCallError;
    use kerf_cloud::CloudError;

    use super::*;

    #[test]
    fn authorization_failures_tell_the_claim_and_its_pool() {
        let mut claim = NodeClaim::new("default-abcde", Default::default());
        claim.metadata.uid = Some("c-uid".into());
        claim.metadata.labels = Some(
            [(
                kerf_api::labels::PROVISIONER_NAME.to_string(),
                "default".to_string(),
            )]
            .into(),
        );
        let denied = CloudError::other(
            "CreateFleet",
            AwsCallError {
                code: Some("UnauthorizedOperation".into()),
                message: "You are not authorized to perform this operation.".into(),
            },
        );
        let notices = authorization_notices("Create", &claim, &denied);
        let objects: Vec<_> = notices
            .iter()
            .map(|n| {
                (
                    n.object.kind.clone().unwrap(),
                    n.object.name.clone().unwrap(),
                )
            })
            .collect();
        assert_eq!(
            objects,
            [
                ("NodeClaim".to_string(), "default-abcde".to_string()),
                ("Provisioner".to_string(), "default".to_string())
            ]
        );
        assert!(
            notices
                .iter()
                .all(|n| n.warning && n.reason == "UnauthorizedOperation")
        );
        assert!(
            notices[0]
                .message
                .contains("Create for NodeClaim default-abcde"),
            "{}",
            notices[0].message
        );
        assert!(notices[0].message.contains("not authorized"));
        let throttled = CloudError::other(
            "CreateFleet",
            AwsCallError {
                code: Some("RequestLimitExceeded".into()),
                message: "slow down".into(),
            },
        );
        assert!(authorization_notices("Create", &claim, &throttled).is_empty());
    }
}
