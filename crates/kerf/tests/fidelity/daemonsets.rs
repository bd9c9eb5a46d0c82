//! A fixed workload for the fidelity test's DaemonSet rules: overhead
//! counted per instance type and a daemon's hostPort taken on new nodes
//! (issue 27, item 3).
//!
//! - `fid-arm-agent` runs only on arm64 nodes, through the first of two ORed
//!   required node-affinity terms, and prefers amd64 (a preference its
//!   scheduling ignores). It asks 1500m cpu: a node planned without it is
//!   too small once its pod arrives.
//! - `fid-exporter` binds hostPort 9100 on amd64 nodes that carry
//!   `karpenter.sh/initialized` (a label only the future node has).
//! - Three pods bind hostPort 9100 themselves: they can only run where the
//!   exporter does not, one per node, so kerf must launch arm64 nodes big
//!   enough for the agent beside them. Two arm64 pods without ports share
//!   those nodes.

pub const SELECTOR: &str = "fidelity=daemonsets";

pub const MANIFESTS: &str = r#"apiVersion: apps/v1
kind: DaemonSet
metadata: {name: fid-arm-agent, namespace: default}
spec:
  selector: {matchLabels: {app: fid-arm-agent}}
  template:
    metadata: {labels: {app: fid-arm-agent}}
    spec:
      terminationGracePeriodSeconds: 0
      tolerations: [{operator: Exists}]
      affinity:
        nodeAffinity:
          requiredDuringSchedulingIgnoredDuringExecution:
            nodeSelectorTerms:
              - matchExpressions: [{key: kubernetes.io/arch, operator: In, values: [arm64]}]
              - matchExpressions: [{key: kubernetes.io/os, operator: In, values: [windows]}]
          preferredDuringSchedulingIgnoredDuringExecution:
            - weight: 100
              preference:
                matchExpressions: [{key: kubernetes.io/arch, operator: In, values: [amd64]}]
      containers:
        - name: agent
          image: registry.k8s.io/pause:3.9
          resources: {requests: {cpu: 1500m, memory: 512Mi}}
---
apiVersion: apps/v1
kind: DaemonSet
metadata: {name: fid-exporter, namespace: default}
spec:
  selector: {matchLabels: {app: fid-exporter}}
  template:
    metadata: {labels: {app: fid-exporter}}
    spec:
      terminationGracePeriodSeconds: 0
      affinity:
        nodeAffinity:
          requiredDuringSchedulingIgnoredDuringExecution:
            nodeSelectorTerms:
              - matchExpressions:
                  - {key: kubernetes.io/arch, operator: In, values: [amd64]}
                  - {key: karpenter.sh/initialized, operator: In, values: ["true"]}
      containers:
        - name: exporter
          image: registry.k8s.io/pause:3.9
          ports: [{containerPort: 9100, hostPort: 9100}]
          resources: {requests: {cpu: 100m, memory: 64Mi}}
---
apiVersion: v1
kind: Pod
metadata: {name: fid-port-0, namespace: default, labels: {fidelity: daemonsets}}
spec:
  terminationGracePeriodSeconds: 0
  containers:
    - name: c
      image: registry.k8s.io/pause:3.9
      ports: [{containerPort: 9100, hostPort: 9100}]
      resources: {requests: {cpu: "1", memory: 256Mi}}
---
apiVersion: v1
kind: Pod
metadata: {name: fid-port-1, namespace: default, labels: {fidelity: daemonsets}}
spec:
  terminationGracePeriodSeconds: 0
  containers:
    - name: c
      image: registry.k8s.io/pause:3.9
      ports: [{containerPort: 9100, hostPort: 9100}]
      resources: {requests: {cpu: "1", memory: 256Mi}}
---
apiVersion: v1
kind: Pod
metadata: {name: fid-port-2, namespace: default, labels: {fidelity: daemonsets}}
spec:
  terminationGracePeriodSeconds: 0
  containers:
    - name: c
      image: registry.k8s.io/pause:3.9
      ports: [{containerPort: 9100, hostPort: 9100}]
      resources: {requests: {cpu: "1", memory: 256Mi}}
---
apiVersion: v1
kind: Pod
metadata: {name: fid-arm-0, namespace: default, labels: {fidelity: daemonsets}}
spec:
  terminationGracePeriodSeconds: 0
  nodeSelector: {kubernetes.io/arch: arm64}
  containers:
    - name: c
      image: registry.k8s.io/pause:3.9
      resources: {requests: {cpu: 500m, memory: 256Mi}}
---
apiVersion: v1
kind: Pod
metadata: {name: fid-arm-1, namespace: default, labels: {fidelity: daemonsets}}
spec:
  terminationGracePeriodSeconds: 0
  nodeSelector: {kubernetes.io/arch: arm64}
  containers:
    - name: c
      image: registry.k8s.io/pause:3.9
      resources: {requests: {cpu: 500m, memory: 256Mi}}
"#;

/// Workload pods in [`MANIFESTS`] (the DaemonSets' pods come on top).
pub const PODS: usize = 5;
