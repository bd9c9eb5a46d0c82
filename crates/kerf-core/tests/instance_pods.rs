//! `karpenter.k8s.aws/instance-pods` was dropped in Karpenter v1 (website
//! v1.0 `upgrading/v1beta1-migration.md`: "Dropped"), and no provider code
//! sets it: kerf does not count it well-known, so a pod requiring it is
//! refused with a reason naming the key, as upstream refuses a pod requiring
//! an undefined label ("should not schedule pods that have node selectors
//! with In operator and undefined key", kubernetes-sigs/karpenter
//! `pkg/controllers/provisioning/scheduling/suite_test.go`).

mod common;

use common::*;
use kerf_core::scheduler::solve;

const INSTANCE_PODS: &str = "karpenter.k8s.aws/instance-pods";

#[test]
fn a_pod_requiring_instance_pods_is_refused_naming_the_key() {
    assert!(!kerf_api::labels::is_well_known_label(INSTANCE_PODS));
    for op in ["In", "Exists"] {
        let values = if op == "In" { "[\"29\"]" } else { "[]" };
        let spec = format!(
            "  affinity: {{nodeAffinity: {{requiredDuringSchedulingIgnoredDuringExecution: {{nodeSelectorTerms: [{{matchExpressions: [{{key: {INSTANCE_PODS}, operator: {op}, values: {values}}}]}}]}}}}}}\n  containers: [{{name: c, resources: {{requests: {{cpu: 100m}}}}}}]\n"
        );
        let plan = solve(&snapshot(
            vec![template("default", &[])],
            pods("p", 1, "{app: a}", &spec),
        ));
        assert!(plan.new_nodes.is_empty(), "{op}: {:?}", plan.new_nodes);
        assert_eq!(plan.unschedulable.len(), 1, "{op}");
        let reason = &plan.unschedulable[0].reason;
        assert!(reason.contains(INSTANCE_PODS), "{op}: {reason}");
    }
}
