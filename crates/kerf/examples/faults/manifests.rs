//! What the fault run applies: the NodePool and its EC2NodeClass, the
//! scaled workload, the PDB-guarded one and the do-not-disrupt pod.

/// The pool: four m5 sizes, on-demand, one zone, consolidation at once, the
/// default budget (10% of nodes).
pub const NODE_POOL: &str = r#"apiVersion: karpenter.k8s.aws/v1
kind: EC2NodeClass
metadata:
  name: default
spec:
  role: KarpenterNodeRole-kerf-faults
  amiSelectorTerms:
    - alias: al2023@latest
  subnetSelectorTerms:
    - tags: {karpenter.sh/discovery: kerf-faults}
  securityGroupSelectorTerms:
    - tags: {karpenter.sh/discovery: kerf-faults}
---
apiVersion: karpenter.sh/v1
kind: NodePool
metadata:
  name: general
spec:
  template:
    spec:
      nodeClassRef:
        group: karpenter.k8s.aws
        kind: EC2NodeClass
        name: default
      requirements:
        - key: node.kubernetes.io/instance-type
          operator: In
          values: ["m5.large", "m5.xlarge", "m5.2xlarge", "m5.4xlarge"]
        - key: karpenter.sh/capacity-type
          operator: In
          values: ["on-demand"]
        - key: topology.kubernetes.io/zone
          operator: In
          values: ["us-east-1a"]
  disruption:
    consolidationPolicy: WhenEmptyOrUnderutilized
    consolidateAfter: 0s
"#;

/// The scaled workload, a guarded one with its PDB, and a do-not-disrupt pod.
pub const WORKLOADS: &str = r#"apiVersion: apps/v1
kind: Deployment
metadata:
  name: scale
spec:
  replicas: 0
  selector:
    matchLabels: {app: scale}
  template:
    metadata:
      labels: {app: scale}
    spec:
      terminationGracePeriodSeconds: 0
      containers:
        - name: pause
          image: registry.k8s.io/pause:3.9
          resources:
            requests: {cpu: 500m, memory: 512Mi}
---
apiVersion: apps/v1
kind: Deployment
metadata:
  name: guarded
spec:
  replicas: 3
  selector:
    matchLabels: {app: guarded}
  template:
    metadata:
      labels: {app: guarded}
    spec:
      terminationGracePeriodSeconds: 0
      containers:
        - name: pause
          image: registry.k8s.io/pause:3.9
          resources:
            requests: {cpu: 250m, memory: 256Mi}
---
apiVersion: policy/v1
kind: PodDisruptionBudget
metadata:
  name: guarded
spec:
  minAvailable: 2
  selector:
    matchLabels: {app: guarded}
---
apiVersion: v1
kind: Pod
metadata:
  name: pinned
  labels: {app: pinned}
  annotations:
    karpenter.sh/do-not-disrupt: "true"
spec:
  terminationGracePeriodSeconds: 0
  containers:
    - name: pause
      image: registry.k8s.io/pause:3.9
      resources:
        requests: {cpu: 250m, memory: 256Mi}
"#;

pub const GUARDED_MIN_AVAILABLE: usize = 2;
