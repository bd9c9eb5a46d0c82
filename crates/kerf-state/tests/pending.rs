//! Which pods count as pending, under Karpenter's rule and the simulator's.

mod common;

use common::{pod, yaml};
use k8s_openapi::api::core::v1::Pod;
use kerf_state::{ClusterState, PendingMode, is_pending};

fn with(mut p: Pod, f: impl FnOnce(&mut Pod)) -> Pod {
    f(&mut p);
    p
}

#[test]
fn karpenter_rule_and_all_unbound() {
    let daemon: Pod = yaml(
        r#"
metadata:
  name: ds
  namespace: default
  ownerReferences: [{apiVersion: apps/v1, kind: DaemonSet, name: ds, uid: "1", controller: true}]
spec: {containers: [{name: c, image: pause}]}
status: {conditions: [{type: PodScheduled, status: 'False', reason: Unschedulable}]}
"#,
    );
    let cases: Vec<(&str, Pod, bool, bool)> = vec![
        ("marked unschedulable", pod("a", "1", true), true, true),
        (
            "not yet looked at by kube-scheduler",
            pod("b", "1", false),
            false,
            true,
        ),
        (
            "bound",
            with(pod("c", "1", true), |p| {
                p.spec.as_mut().unwrap().node_name = Some("n1".into())
            }),
            false,
            false,
        ),
        (
            "terminating",
            with(pod("d", "1", true), |p| {
                p.metadata.deletion_timestamp = Some(yaml("\"2026-01-01T00:00:00Z\""))
            }),
            false,
            false,
        ),
        ("daemonset-owned", daemon, false, false),
        (
            "mirror pod",
            with(pod("e", "1", true), |p| {
                p.metadata.annotations =
                    Some([("kubernetes.io/config.mirror".to_string(), "x".to_string())].into())
            }),
            false,
            false,
        ),
        (
            "succeeded",
            with(pod("f", "1", true), |p| {
                p.status.as_mut().unwrap().phase = Some("Succeeded".into())
            }),
            false,
            false,
        ),
        (
            "scheduled=False for another reason",
            with(pod("g", "1", true), |p| {
                p.status.as_mut().unwrap().conditions.as_mut().unwrap()[0].reason =
                    Some("SchedulingGated".into())
            }),
            false,
            true,
        ),
    ];
    let mut state = ClusterState::new();
    for (what, p, karpenter, all) in &cases {
        assert_eq!(
            is_pending(p, PendingMode::Unschedulable),
            *karpenter,
            "{what}"
        );
        assert_eq!(is_pending(p, PendingMode::AllUnbound), *all, "{what}");
        state.apply(p.clone()).unwrap();
    }
    let names = |mode| -> Vec<String> {
        state
            .pending_pods(mode)
            .iter()
            .map(|p| p.metadata.name.clone().unwrap())
            .collect()
    };
    assert_eq!(names(PendingMode::Unschedulable), ["a"]);
    assert_eq!(names(PendingMode::AllUnbound), ["a", "b", "g"]);
}
