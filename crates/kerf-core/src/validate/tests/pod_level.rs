//! Pod-level resources (`spec.resources`, Kubernetes 1.32+ PodLevelResources):
//! the scheduler's requests and the validator's agree with kube-scheduler's
//! `PodRequests`. Cases follow Kubernetes' component-helpers
//! `TestPodLevelResourceRequests` and the API server's pod-level request
//! defaulting (`defaultPodRequests`); Karpenter takes its requests from the
//! same `PodRequests`.

use super::*;
use crate::resources::MILLI;

const MI: i64 = 1 << 20;

/// A pod from its spec (containers get names so the spec is valid).
fn spec_pod(spec: Value) -> Pod {
    pod(json!({"metadata": {"name": "p", "namespace": "default"}, "spec": spec}))
}

/// A case: name, pod spec, cpu milli, memory bytes, other resources in their units.
type Case = (&'static str, Value, i64, i64, Vec<(&'static str, i64)>);

/// Kubernetes' `TestPodLevelResourceRequests` (component-helpers), and
/// kubernetes-sigs/karpenter `pkg/controllers/provisioning/suite_test.go`
/// "should schedule based on the pod level resources requests".
#[test]
fn pod_level_requests_replace_the_container_total() {
    let cases: Vec<Case> = vec![
        (
            "pod level memory resource",
            json!({"resources": {"requests": {"memory": "2Mi"}}, "containers": [{"name": "c"}]}),
            0,
            2 * MI,
            vec![],
        ),
        (
            "pod level memory and container level cpu resources",
            json!({"resources": {"requests": {"memory": "2Mi"}},
                   "containers": [{"name": "c", "resources": {"requests": {"cpu": "2m"}}}]}),
            2,
            2 * MI,
            vec![],
        ),
        (
            "pod level unsupported resources set at both pod-level and container-level",
            json!({"resources": {"requests": {"ephemeral-storage": "2Mi"}},
                   "containers": [{"name": "c", "resources": {"requests": {"ephemeral-storage": "3Mi"}}}]}),
            0,
            0,
            vec![("ephemeral-storage", 3 * MI)],
        ),
        (
            "only container level resources set",
            json!({"containers": [{"name": "c", "resources": {"requests": {"cpu": "2m", "memory": "3Mi"}}}]}),
            2,
            3 * MI,
            vec![],
        ),
        (
            "both container-level and pod-level resources set",
            json!({"resources": {"requests": {"cpu": "8m", "memory": "6Mi"}},
                   "containers": [{"name": "c", "resources": {"requests": {"cpu": "2m", "memory": "3Mi"}}}]}),
            8,
            6 * MI,
            vec![],
        ),
        (
            "pod-level requests below the containers' total still win",
            json!({"resources": {"requests": {"cpu": "500m"}},
                   "containers": [{"name": "c", "resources": {"requests": {"cpu": "3"}}}]}),
            500,
            0,
            vec![],
        ),
        (
            "pod-level resources, container-level resources, init and sidecar container set",
            json!({"resources": {"requests": {"cpu": "10m", "memory": "10Mi"}},
                   "initContainers": [
                       {"name": "init", "resources": {"requests": {"cpu": "5m", "memory": "5Mi"}}},
                       {"name": "side", "restartPolicy": "Always", "resources": {"requests": {"cpu": "3m", "memory": "3Mi"}}}],
                   "containers": [{"name": "c", "resources": {"requests": {"cpu": "2m", "memory": "2Mi"}}}]}),
            10,
            10 * MI,
            vec![],
        ),
        (
            "pod-level resources, hugepage request/limit single page size",
            json!({"resources": {"requests": {"hugepages-2Mi": "10Mi", "memory": "12Mi"},
                                 "limits": {"hugepages-2Mi": "10Mi", "memory": "12Mi"}},
                   "containers": [{"name": "c"}]}),
            0,
            12 * MI,
            vec![("hugepages-2Mi", 10 * MI)],
        ),
        (
            "overhead is added to pod-level requests",
            json!({"overhead": {"cpu": "100m"}, "resources": {"requests": {"cpu": "1"}},
                   "containers": [{"name": "c", "resources": {"requests": {"cpu": "200m"}}}]}),
            1100,
            0,
            vec![],
        ),
        (
            "defaulting: a pod-level limit no container names becomes the request",
            json!({"resources": {"limits": {"cpu": "4", "memory": "1Mi"}},
                   "containers": [{"name": "c", "resources": {"requests": {"memory": "512Ki"}}}]}),
            4000,
            MI / 2,
            vec![],
        ),
        (
            "defaulting: a container limit counts as naming the resource",
            json!({"resources": {"limits": {"cpu": "4"}},
                   "containers": [{"name": "c", "resources": {"limits": {"cpu": "1"}}}]}),
            1000,
            0,
            vec![],
        ),
    ];
    for (case, spec, cpu, memory, others) in cases {
        let p = spec_pod(spec);
        let core = crate::pod::pod_requests(&p).expect(case);
        let validator = pod_requests(&p).expect(case);
        assert_eq!(core, validator, "{case}: scheduler and validator disagree");
        assert_eq!(core.cpu, cpu, "{case}: cpu");
        assert_eq!(core.memory, memory * MILLI, "{case}: memory");
        assert_eq!(core.pods, MILLI, "{case}: one pod");
        for (name, amount) in others {
            assert_eq!(core.get(name), amount * MILLI, "{case}: {name}");
        }
    }
}

#[test]
fn a_bad_pod_level_quantity_names_the_field() {
    let p = spec_pod(
        json!({"resources": {"requests": {"cpu": "lots"}}, "containers": [{"name": "c"}]}),
    );
    let (field, _) = crate::pod::pod_requests(&p).expect_err("bad quantity");
    assert_eq!(field, "spec.resources.requests[cpu]");
    assert!(pod_requests(&p).is_err());
}

#[test]
fn pod_level_requests_decide_where_a_pod_fits() {
    // s.small has 1.9 cpu allocatable.
    let big = mk(
        "big",
        json!({}),
        "100m",
        json!({"resources": {"requests": {"cpu": "3"}}}),
    );
    let small = mk(
        "small",
        json!({}),
        "3",
        json!({"resources": {"requests": {"cpu": "500m"}}}),
    );
    let s = snap(vec![], vec![big.clone(), small]);
    let p = crate::scheduler::solve(&s);
    let unschedulable: Vec<&str> = p
        .unschedulable
        .iter()
        .map(|u| u.pod.name.as_str())
        .collect();
    assert_eq!(unschedulable, ["big"], "{p:#?}");
    assert_eq!(p.new_nodes.len(), 1);
    assert_eq!(p.new_nodes[0].pods, [key("small")]);
    assert_eq!(p.new_nodes[0].pod_requests.cpu, 500);
    assert_clean(&validate(&s, &p));

    // Placed on a 2-cpu node by hand, the validator sees the 3 cpu.
    let s = snap(vec![node("e1", "zone-a", 2000, vec![])], vec![big]);
    let p = plan(&s, vec![], &[("big", e("e1"))]);
    assert_only(&validate(&s, &p), Rule::Resources);
}
