//! Pods on nodes being deleted get replacement capacity (issue 27 item 6), as
//! Karpenter's provisioner gives it: which nodes count as deleting, which of
//! their pods move, and a pass that plans a new node for them without
//! offering the deleting node.

mod common;

use std::collections::BTreeSet;

use common::{seed_provisioner, seed_state, yaml};
use k8s_openapi::api::core::v1::{Node, Pod};
use k8s_openapi::api::policy::v1::PodDisruptionBudget;
use kerf_api::v1::NodeClaim;
use kerf_cloud::InMemoryCloud;
use kerf_state::{ClusterState, DeterministicNames, PendingMode, ProvisionOptions, provision};

/// A Ready node of the seed provisioner with 8 cpu; `extra_meta` and
/// `extra_spec` are YAML flow entries added to its metadata and spec.
fn node(name: &str, extra_meta: &str, extra_spec: &str) -> Node {
    yaml(&format!(
        r#"
metadata:
  name: {name}
  labels: {{karpenter.sh/provisioner-name: default, node.kubernetes.io/instance-type: m5.2xlarge, topology.kubernetes.io/zone: us-east-1c}}
  {extra_meta}
spec: {{providerID: "aws:///us-east-1c/i-{name}", {extra_spec}}}
status:
  capacity: {{cpu: "8", memory: 32Gi, pods: "58"}}
  allocatable: {{cpu: "8", memory: 28Gi, pods: "58"}}
  conditions: [{{type: Ready, status: "True"}}]
"#
    ))
}

/// A claim registered as node `node`, with a deletionTimestamp when `deleting`.
fn claim(name: &str, node: &str, deleting: bool) -> NodeClaim {
    let deletion = if deleting {
        ", deletionTimestamp: \"2026-01-01T00:00:00Z\""
    } else {
        ""
    };
    yaml(&format!(
        r#"
apiVersion: karpenter.sh/v1
kind: NodeClaim
metadata: {{name: {name}, labels: {{karpenter.sh/nodepool: default}}, finalizers: [karpenter.sh/termination]{deletion}}}
spec:
  nodeClassRef: {{group: karpenter.k8s.aws, kind: EC2NodeClass, name: default}}
  requirements: []
status: {{nodeName: {node}, providerID: "aws:///us-east-1c/i-{node}"}}
"#
    ))
}

/// A running pod bound to `node`; `extra_meta` is YAML flow entries added to its metadata.
fn running(name: &str, node: &str, extra_meta: &str) -> Pod {
    yaml(&format!(
        r#"
metadata: {{name: {name}, namespace: default, labels: {{app: web}}, {extra_meta}}}
spec:
  nodeName: {node}
  containers: [{{name: c, resources: {{requests: {{cpu: "1"}}}}}}]
status: {{phase: Running}}
"#
    ))
}

/// Mirrors Karpenter's `StateNode.MarkedForDeletion`/`Deleted` (a Node or its
/// NodeClaim deleting) and the disruption and termination controllers'
/// `karpenter.sh/disrupted:NoSchedule` taint; provisioning suite "should
/// schedule all pods on one inflight node when node is in deleting state".
#[test]
fn which_nodes_are_being_deleted() {
    // (case, node metadata entries, node spec entries, claim: None / Some(deleting), deleting?)
    let cases: [(&str, &str, &str, Option<bool>, bool); 7] = [
        ("a plain node", "", "", None, false),
        (
            "a Node with a deletionTimestamp",
            "deletionTimestamp: \"2026-01-01T00:00:00Z\"",
            "",
            None,
            true,
        ),
        (
            "a Node tainted karpenter.sh/disrupted:NoSchedule",
            "",
            "taints: [{key: karpenter.sh/disrupted, effect: NoSchedule}]",
            None,
            true,
        ),
        (
            "the disrupted taint with another effect is not Karpenter's",
            "",
            "taints: [{key: karpenter.sh/disrupted, effect: NoExecute}]",
            None,
            false,
        ),
        (
            "another NoSchedule taint",
            "",
            "taints: [{key: dedicated, value: db, effect: NoSchedule}]",
            None,
            false,
        ),
        (
            "a node whose NodeClaim has a deletionTimestamp",
            "",
            "",
            Some(true),
            true,
        ),
        (
            "a node whose NodeClaim is not deleting",
            "",
            "",
            Some(false),
            false,
        ),
    ];
    for (case, meta, spec, with_claim, deleting) in cases {
        let mut state = ClusterState::new();
        state.apply(node("n1", meta, spec)).unwrap();
        if let Some(d) = with_claim {
            state.apply(claim("default-x", "n1", d)).unwrap();
        }
        let want: BTreeSet<String> = if deleting {
            ["n1".to_string()].into()
        } else {
            BTreeSet::new()
        };
        assert_eq!(state.deleting_nodes(), want, "{case}");
    }
}

/// Karpenter's `IsCurrentlyReschedulable`. Cases from the scheduling suite's
/// "Deleting Nodes" (active pods move; terminating ones do not, unless a
/// StatefulSet owns them; DaemonSet pods never) and from `utils/pdb`'s suite
/// (do-not-disrupt, fully blocking budgets, several budgets on one pod, the
/// unhealthy-pod eviction policy).
#[test]
fn which_pods_of_a_deleting_node_move() {
    let always_allow = r#"{metadata: {name: all, namespace: default}, spec: {minAvailable: "100%", unhealthyPodEvictionPolicy: AlwaysAllow, selector: {matchLabels: {app: web}}}}"#;
    // (case, pod metadata entries, pod status, budgets, moves?)
    let cases: [(&str, &str, &str, Vec<&str>, bool); 15] = [
        (
            "should re-schedule pods from a deleting node when pods are active",
            "",
            "",
            vec![],
            true,
        ),
        (
            "should not re-schedule pods from a deleting node when pods are not active",
            "deletionTimestamp: \"2026-01-01T00:00:00Z\"",
            "",
            vec![],
            false,
        ),
        (
            "should not re-schedule pods from a deleting node when pods are owned by a DaemonSet",
            "ownerReferences: [{apiVersion: apps/v1, kind: DaemonSet, name: ds, uid: \"1\", controller: true}]",
            "",
            vec![],
            false,
        ),
        (
            "should not reschedule pods from a deleting node when pods are not active and they are owned by a ReplicaSet",
            "deletionTimestamp: \"2026-01-01T00:00:00Z\", ownerReferences: [{apiVersion: apps/v1, kind: ReplicaSet, name: rs, uid: \"1\", controller: true}]",
            "",
            vec![],
            false,
        ),
        (
            "should reschedule pods from a deleting node when pods are not active and they are owned by a StatefulSet",
            "deletionTimestamp: \"2026-01-01T00:00:00Z\", ownerReferences: [{apiVersion: apps/v1, kind: StatefulSet, name: db, uid: \"1\", controller: true}]",
            "",
            vec![],
            true,
        ),
        ("a pod that has finished", "", "Succeeded", vec![], false),
        (
            "a mirror pod",
            "annotations: {kubernetes.io/config.mirror: abc}",
            "",
            vec![],
            false,
        ),
        (
            "does not consider pod with do-not-disrupt annotation as currently reschedulable",
            "annotations: {karpenter.sh/do-not-disrupt: \"true\"}",
            "",
            vec![],
            false,
        ),
        (
            "kerf's drain holds a v1alpha5 do-not-evict pod too",
            "annotations: {karpenter.sh/do-not-evict: \"true\"}",
            "",
            vec![],
            false,
        ),
        (
            "considers pod as currently reschedulable when no PDBs match",
            "",
            "",
            vec![
                r#"{metadata: {name: other, namespace: default}, spec: {minAvailable: "100%", selector: {matchLabels: {other: value}}}}"#,
            ],
            true,
        ),
        (
            "pods which are not currently reschedulable due to PDBs: 100% min available",
            "",
            "",
            vec![
                r#"{metadata: {name: b, namespace: default}, spec: {minAvailable: "100%", selector: {matchLabels: {app: web}}}}"#,
            ],
            false,
        ),
        (
            "pods which are not currently reschedulable due to PDBs: 0 max unavailable",
            "",
            "",
            vec![
                r#"{metadata: {name: b, namespace: default}, spec: {maxUnavailable: 0, selector: {matchLabels: {app: web}}}}"#,
            ],
            false,
        ),
        (
            "pods which are not currently reschedulable due to PDBs: multiple PDBs on the same pod",
            "",
            "",
            vec![
                r#"{metadata: {name: b1, namespace: default}, spec: {maxUnavailable: 1, selector: {matchLabels: {app: web}}}}"#,
                r#"{metadata: {name: b2, namespace: default}, spec: {maxUnavailable: 1, selector: {matchLabels: {app: web}}}}"#,
            ],
            false,
        ),
        (
            "considers unhealthy pod as currently reschedulable when UnhealthyPodEvictionPolicy is set to always allow",
            "",
            "NotReady",
            vec![always_allow],
            true,
        ),
        (
            "does not consider unhealthy pod as currently reschedulable when UnhealthyPodEvictionPolicy is not set",
            "",
            "NotReady",
            vec![
                r#"{metadata: {name: b, namespace: default}, spec: {minAvailable: "100%", selector: {matchLabels: {app: web}}}}"#,
            ],
            false,
        ),
    ];
    for (case, meta, status, budgets, moves) in cases {
        let mut state = ClusterState::new();
        state
            .apply(node(
                "n1",
                "",
                "taints: [{key: karpenter.sh/disrupted, effect: NoSchedule}]",
            ))
            .unwrap();
        let mut p = running("p", "n1", meta);
        match status {
            "Succeeded" => p.status = Some(yaml("{phase: Succeeded}")),
            "NotReady" => {
                p.status = Some(yaml(
                    "{phase: Running, conditions: [{type: Ready, status: 'False'}]}",
                ))
            }
            _ => {}
        }
        state.apply(p).unwrap();
        for b in budgets {
            state.apply::<PodDisruptionBudget>(yaml(b)).unwrap();
        }
        let needing = state.pods_needing_capacity(PendingMode::Unschedulable);
        assert_eq!(needing.len(), usize::from(moves), "{case}");
    }
}

fn karpenter_rule() -> ProvisionOptions {
    ProvisionOptions {
        pending: PendingMode::Unschedulable,
        ..Default::default()
    }
}

/// Scheduling suite "should re-schedule pods from a deleting node when pods
/// are active" and provisioning suite "should schedule all pods on one
/// inflight node when node is in deleting state": the running pods of a
/// deleting node are planned onto a new node, never back onto it, next to
/// the pending pods; with the node not deleting, nothing is planned.
#[tokio::test]
async fn a_pass_plans_new_capacity_for_pods_of_a_deleting_node() {
    let cloud = InMemoryCloud::builtin();
    let deleting_signs = [
        ("deletionTimestamp: \"2026-01-01T00:00:00Z\"", ""),
        (
            "",
            "taints: [{key: karpenter.sh/disrupted, effect: NoSchedule}]",
        ),
    ];
    for (meta, spec) in deleting_signs {
        let mut state = seed_state(2);
        state.apply(node("old", meta, spec)).unwrap();
        for i in 0..3 {
            state
                .apply(running(&format!("web-{i}"), "old", ""))
                .unwrap();
        }
        let out = provision(
            &state,
            &cloud,
            &karpenter_rule(),
            &mut DeterministicNames::default(),
        )
        .await
        .unwrap();
        assert!(out.unschedulable.is_empty(), "{:?}", out.unschedulable);
        assert!(
            out.plan.existing.is_empty(),
            "the deleting node is no target: {:?}",
            out.plan.existing
        );
        let planned: BTreeSet<String> = out
            .claims
            .iter()
            .flat_map(|c| &c.pods)
            .map(|k| k.name.clone())
            .collect();
        let want: BTreeSet<String> = ["inflate-0", "inflate-1", "web-0", "web-1", "web-2"]
            .map(String::from)
            .into();
        assert_eq!(planned, want, "{meta}{spec}");
        let old = out.snapshot.nodes.iter().find(|n| n.name == "old").unwrap();
        assert!(old.marked_for_deletion && old.pods.is_empty());

        // The next pass, with those claims stored and still launching while
        // the node drains, puts the same pods on them: nothing twice.
        for c in &out.claims {
            state.apply(c.claim.clone()).unwrap();
        }
        let again = provision(
            &state,
            &cloud,
            &karpenter_rule(),
            &mut DeterministicNames::default(),
        )
        .await
        .unwrap();
        assert!(
            again.claims.is_empty(),
            "provisioned twice: {:?}",
            again.plan.new_nodes
        );
        let on_claims: usize = again.plan.existing.iter().map(|e| e.pods.len()).sum();
        assert_eq!(on_claims, 5, "{:?}", again.plan.existing);
    }

    // The same node, not deleting, with room to spare: nothing to plan, and
    // the cloud is not asked.
    let mut state = ClusterState::new();
    state.apply(seed_provisioner()).unwrap();
    state.apply(node("old", "", "")).unwrap();
    for i in 0..3 {
        state
            .apply(running(&format!("web-{i}"), "old", ""))
            .unwrap();
    }
    let out = provision(
        &state,
        &cloud,
        &karpenter_rule(),
        &mut DeterministicNames::default(),
    )
    .await
    .unwrap();
    assert!(out.claims.is_empty() && out.snapshot.pending.is_empty());
}
