//! Unit tests of pod compilation.

use super::*;
use crate::resources::MILLI;

fn pod_from_yaml(yaml: &str) -> Pod {
    serde_yaml::from_str(yaml).expect("test pod yaml")
}

#[test]
fn requests_follow_kubernetes_rules() {
    let pod = pod_from_yaml(
        r#"
metadata: {name: p, namespace: default}
spec:
  overhead: {cpu: 100m}
  initContainers:
  - name: big-init
    resources: {requests: {cpu: "3", memory: 1Gi}}
  - name: sidecar
    restartPolicy: Always
    resources: {requests: {cpu: 500m, memory: 2Gi}}
  - name: after-sidecar
    resources: {requests: {cpu: "2", memory: 100Mi}}
  containers:
  - name: a
    resources: {requests: {cpu: "1", memory: 1Gi}}
  - name: b
    resources: {limits: {cpu: 250m, memory: 256Mi}}
"#,
    );
    let r = pod_requests(&pod).expect("valid");
    // app + sidecar = 1.75 cpu; init peaks: 3 cpu, then sidecar 0.5 + 2 = 2.5 → max 3; + 100m overhead.
    assert_eq!(r.cpu, 3100);
    // memory: app 1Gi+256Mi+2Gi = 3.25Gi vs init peaks 1Gi, 2Gi+100Mi → 3.25Gi.
    assert_eq!(r.memory, (3 * 1024 + 256) * 1024 * 1024 * MILLI);
    assert_eq!(r.pods, MILLI);
}

#[test]
fn node_affinity_terms_and_preferences() {
    let pod = pod_from_yaml(
        r#"
metadata: {name: p, namespace: default}
spec:
  nodeSelector: {team: a}
  affinity:
    nodeAffinity:
      requiredDuringSchedulingIgnoredDuringExecution:
        nodeSelectorTerms:
        - matchExpressions: [{key: topology.kubernetes.io/zone, operator: In, values: [z1]}]
        - matchExpressions: [{key: topology.kubernetes.io/zone, operator: In, values: [z2]}]
      preferredDuringSchedulingIgnoredDuringExecution:
      - weight: 1
        preference: {matchExpressions: [{key: kubernetes.io/arch, operator: In, values: [amd64]}]}
      - weight: 50
        preference: {matchExpressions: [{key: kubernetes.io/arch, operator: In, values: [arm64]}]}
  containers: [{name: c}]
"#,
    );
    let mut info = compile(&pod, &Requirements::new()).expect("valid");
    assert_eq!(info.required_terms.len(), 2);
    let reqs = info.node_requirements();
    assert!(reqs.get("team").is_some_and(|r| r.has("a")));
    assert!(
        reqs.get("kubernetes.io/arch")
            .is_some_and(|r| r.has("arm64") && !r.has("amd64")),
        "heaviest preference first"
    );
    assert!(info.relax().is_some_and(|m| m.contains("next required")));
    assert!(
        info.node_requirements()
            .get("topology.kubernetes.io/zone")
            .is_some_and(|r| r.has("z2"))
    );
    assert!(info.relax().is_some_and(|m| m.contains("weight 50")));
    assert!(info.relax().is_some_and(|m| m.contains("weight 1")));
    assert!(info.relax().is_some_and(|m| m.contains("PreferNoSchedule")));
    assert!(info.relax().is_none());
}

#[test]
fn bad_spread_names_the_field() {
    let pod = pod_from_yaml(
        r#"
metadata: {name: p, namespace: default}
spec:
  topologySpreadConstraints:
  - {maxSkew: 1, topologyKey: topology.kubernetes.io/zone, whenUnsatisfiable: Sometimes, labelSelector: {matchLabels: {a: b}}}
  containers: [{name: c}]
"#,
    );
    let e = compile(&pod, &Requirements::new()).expect_err("invalid");
    assert_eq!(e.field, "spec.topologySpreadConstraints[0]");
    assert!(e.message.contains("whenUnsatisfiable"));
}

#[test]
fn host_ports_conflict_rules() {
    let a = HostPort {
        ip: "0.0.0.0".into(),
        port: 80,
        protocol: "TCP".into(),
    };
    let b = HostPort {
        ip: "10.0.0.1".into(),
        port: 80,
        protocol: "TCP".into(),
    };
    let c = HostPort {
        ip: "10.0.0.2".into(),
        port: 80,
        protocol: "TCP".into(),
    };
    let d = HostPort {
        ip: "0.0.0.0".into(),
        port: 80,
        protocol: "UDP".into(),
    };
    assert!(a.conflicts(&b) && !b.conflicts(&c) && !a.conflicts(&d));
}

#[test]
fn empty_node_selector_terms_match_no_node() {
    // One empty term next to a real one adds no alternative.
    let pod = pod_from_yaml(
        r#"
metadata: {name: p, namespace: default}
spec:
  affinity:
    nodeAffinity:
      requiredDuringSchedulingIgnoredDuringExecution:
        nodeSelectorTerms:
        - {}
        - matchExpressions: [{key: topology.kubernetes.io/zone, operator: In, values: [z1]}]
  containers: [{name: c}]
"#,
    );
    let info = compile(&pod, &Requirements::new()).expect("valid");
    assert_eq!(info.required_terms.len(), 1);
    assert!(
        info.node_requirements()
            .get("topology.kubernetes.io/zone")
            .is_some_and(|r| r.has("z1") && !r.has("z2"))
    );

    // Only empty terms: no node can match, and the error names the field.
    let pod = pod_from_yaml(
        r#"
metadata: {name: p, namespace: default}
spec:
  affinity:
    nodeAffinity:
      requiredDuringSchedulingIgnoredDuringExecution:
        nodeSelectorTerms: [{}, {matchExpressions: []}]
  containers: [{name: c}]
"#,
    );
    let e = compile(&pod, &Requirements::new()).expect_err("no node matches");
    assert!(e.field.ends_with("nodeSelectorTerms"), "{e}");
    assert!(e.message.contains("no node matches"), "{e}");
}

/// Volume topology alternatives (Karpenter tries each in every relaxation
/// round): relaxing walks the alternatives, then drops a preference and
/// starts again at the first.
#[test]
fn volume_alternatives_are_retried_after_each_relaxed_preference() {
    let pod = pod_from_yaml(
        r#"
metadata: {name: p, namespace: default}
spec:
  affinity:
    nodeAffinity:
      preferredDuringSchedulingIgnoredDuringExecution:
      - weight: 1
        preference: {matchExpressions: [{key: karpenter.sh/capacity-type, operator: In, values: [spot]}]}
  containers: [{name: c}]
"#,
    );
    let zone = |z: &str| {
        let mut r = Requirements::new();
        r.add(crate::requirements::Requirement::in_values(
            kerf_api::labels::ZONE,
            [z.to_string()],
        ));
        r
    };
    let mut info = compile_with_volumes(&pod, &[zone("a"), zone("b")]).expect("valid");
    let active_zone = |i: &PodInfo| {
        let reqs = i.node_requirements();
        let z = reqs.get(kerf_api::labels::ZONE).expect("zone");
        (
            z.has("a"),
            z.has("b"),
            reqs.has("karpenter.sh/capacity-type"),
        )
    };
    assert_eq!(active_zone(&info), (true, false, true));
    assert!(
        info.relax()
            .expect("next alternative")
            .contains("alternative 2 of 2")
    );
    assert_eq!(active_zone(&info), (false, true, true));
    assert!(
        info.relax()
            .expect("a preference")
            .contains("preferred node affinity")
    );
    assert_eq!(
        active_zone(&info),
        (true, false, false),
        "back to the first alternative"
    );
    assert!(info.relax().is_some());
    assert_eq!(active_zone(&info), (false, true, false));
    // The last relaxation (PreferNoSchedule taints) starts one more round.
    assert!(info.relax().expect("taints").contains("PreferNoSchedule"));
    assert_eq!(active_zone(&info), (true, false, false));
    assert!(info.relax().is_some());
    assert!(info.relax().is_none(), "nothing left");

    // No volumes: no alternatives, nothing to walk.
    let plain = compile(&pod, &Requirements::new()).expect("valid");
    assert!(plain.volume_terms.is_empty());
}

#[test]
fn negative_requests_limits_and_overhead_are_refused_naming_the_field() {
    for (spec, field) in [
        (
            "overhead: {cpu: -500m}\n  containers: [{name: c}]",
            "spec.overhead[cpu]",
        ),
        (
            "containers: [{name: c, resources: {requests: {memory: -1Gi}}}]",
            "spec.containers[0].resources.requests[memory]",
        ),
        (
            "containers: [{name: c}, {name: d, resources: {limits: {cpu: \"-1\"}}}]",
            "spec.containers[1].resources.limits[cpu]",
        ),
        (
            "initContainers: [{name: i, resources: {requests: {cpu: -2}}}]\n  containers: [{name: c}]",
            "spec.initContainers[0].resources.requests[cpu]",
        ),
    ] {
        let pod = pod_from_yaml(&format!(
            "metadata: {{name: p, namespace: default}}\nspec:\n  {spec}\n"
        ));
        let (got, message) = pod_requests(&pod).expect_err(spec);
        assert_eq!(got, field);
        assert!(
            message.contains("must be greater than or equal to 0"),
            "{message}"
        );
    }
}
