//! The NodeClaim lifecycle reconciler called once at a time against a real
//! API server, as Karpenter's envtest suites call one reconcile: a launch the
//! cloud refuses fails that reconcile, the error policy backs off 1 s, 2 s,
//! 4 s for the same claim (not a retry every second), each failure is counted
//! in `kerf_reconcile_errors_total` by controller and kind, and the next
//! reconcile, with the cloud working again, launches the claim and resets the
//! back-off.

use std::sync::Arc;
use std::time::Duration;

use kerf_api::v1::NodeClaim;
use kerf_cloud::{CloudError, InMemoryCloud};
use kerf_controller::metrics::ReconcileErrorLabels;
use kerf_controller::nodeclaim::{Lifecycle, LifecycleError, error_policy, reconcile};
use kerf_controller::{Context, ControllerOptions, watch};
use kerf_testenv::wait_for;
use kube::Api;
use kube::api::PostParams;
use kube::runtime::controller::Action;
use serde_json::json;
use tokio::task::JoinSet;

const WAIT: Duration = Duration::from_secs(30);

fn refused() -> CloudError {
    CloudError::Other {
        context: "launching".into(),
        source: "the cloud refused the request".into(),
    }
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_failing_launch_backs_off_per_claim_and_is_counted() {
    let plane = crate::common::plane_with_crds().await;
    let cloud = Arc::new(InMemoryCloud::builtin());
    let options = ControllerOptions {
        cluster_name: "test".into(),
        ..Default::default()
    };
    let ctx = Arc::new(Context::new(options, plane.client(), cloud.clone()));
    let mut tasks = JoinSet::new();
    watch::spawn_all(&ctx, &mut tasks);
    wait_for("the cache to sync", WAIT, || {
        let ctx = ctx.clone();
        async move { ctx.is_active().then_some(()) }
    })
    .await
    .expect("synced");

    let claims: Api<NodeClaim> = Api::all(plane.client());
    let claim: NodeClaim = serde_json::from_value(json!({
        "metadata": {"name": "default-abcde", "labels": {"karpenter.sh/provisioner-name": "default"}},
        "spec": {
            "nodeClassRef": {"group": "karpenter.k8s.aws", "kind": "EC2NodeClass", "name": "default"},
            "requirements": [
                {"key": "karpenter.sh/provisioner-name", "operator": "In", "values": ["default"]},
                {"key": "node.kubernetes.io/instance-type", "operator": "In", "values": ["m5.2xlarge"]},
                {"key": "topology.kubernetes.io/zone", "operator": "In", "values": ["us-east-1c"]},
                {"key": "karpenter.sh/capacity-type", "operator": "In", "values": ["on-demand"]},
            ],
            "resources": {"requests": {"cpu": "1"}},
        },
    }))
    .expect("claim");
    let claim = Arc::new(
        claims
            .create(&PostParams::default(), &claim)
            .await
            .expect("create claim"),
    );

    let lc = Arc::new(Lifecycle::new(ctx.clone()));
    let mut waits = Vec::new();
    for _ in 0..3 {
        cloud.fail_next_create(refused());
        let error = reconcile(claim.clone(), lc.clone())
            .await
            .expect_err("the cloud refuses the launch");
        assert!(matches!(error, LifecycleError::Launch { .. }), "{error}");
        waits.push(error_policy(claim.clone(), &error, lc.clone()));
    }
    assert_eq!(
        waits,
        [1, 2, 4].map(|s| Action::requeue(Duration::from_secs(s))),
        "the same claim waits longer after each failure"
    );
    let counted = ctx
        .metrics
        .reconcile_errors
        .get_or_create(&ReconcileErrorLabels {
            controller: "nodeclaim.lifecycle",
            kind: "launch",
        })
        .get();
    assert_eq!(counted, 3);

    // The cloud works again: the claim launches, and a later failure starts
    // from 1 s again.
    reconcile(claim.clone(), lc.clone())
        .await
        .expect("the launch succeeds");
    let launched = claims.get("default-abcde").await.expect("claim");
    assert!(
        launched
            .status
            .as_ref()
            .and_then(|s| s.provider_id.as_deref())
            .is_some_and(|id| !id.is_empty()),
        "{:?}",
        launched.status
    );
    let error = LifecycleError::Launch {
        claim: "default-abcde".into(),
        source: refused(),
    };
    assert_eq!(
        error_policy(claim, &error, lc),
        Action::requeue(Duration::from_secs(1))
    );
    tasks.abort_all();
}
