//! Realistic manifests of every kind (in the shape Karpenter's docs use)
//! parse, validate, survive a YAML and JSON round trip unchanged, and lose no
//! field on the way out.

use kerf_api::duration::GoDuration;
use kerf_api::v1::{
    ConsolidationPolicy, DisruptionReason, EC2NodeClass, InstanceStorePolicy, NodeClaim, NodePool,
};
use kerf_api::v1alpha1::AWSNodeTemplate;
use kerf_api::v1alpha5::Provisioner;
use serde::Serialize;
use serde::de::DeserializeOwned;
use serde_json::Value;

const NODEPOOL: &str = r#"
apiVersion: karpenter.sh/v1
kind: NodePool
metadata:
  name: default
spec:
  template:
    metadata:
      labels:
        billing-team: my-team
      annotations:
        example.com/owner: "my-team"
    spec:
      nodeClassRef:
        group: karpenter.k8s.aws
        kind: EC2NodeClass
        name: default
      taints:
        - key: example.com/special-taint
          effect: NoSchedule
      startupTaints:
        - key: example.com/another-taint
          effect: NoSchedule
      expireAfter: 720h
      terminationGracePeriod: 48h
      requirements:
        - key: "karpenter.k8s.aws/instance-category"
          operator: In
          values: ["c", "m", "r"]
          minValues: 2
        - key: "karpenter.k8s.aws/instance-family"
          operator: In
          values: ["m5", "m5d", "c5", "c5d", "c4", "r4"]
          minValues: 5
        - key: "karpenter.k8s.aws/instance-cpu"
          operator: In
          values: ["4", "8", "16", "32"]
        - key: "karpenter.k8s.aws/instance-hypervisor"
          operator: In
          values: ["nitro"]
        - key: "karpenter.k8s.aws/instance-generation"
          operator: Gt
          values: ["2"]
        - key: "topology.kubernetes.io/zone"
          operator: In
          values: ["us-west-2a", "us-west-2b"]
        - key: "kubernetes.io/arch"
          operator: In
          values: ["arm64", "amd64"]
        - key: "karpenter.sh/capacity-type"
          operator: In
          values: ["spot", "on-demand"]
  disruption:
    consolidationPolicy: WhenEmptyOrUnderutilized
    consolidateAfter: 1m
    budgets:
    - nodes: 10%
    - schedule: "0 9 * * mon-fri"
      duration: 8h
      nodes: "0"
    - nodes: "5"
      reasons:
      - "Empty"
      - "Drifted"
  limits:
    cpu: "1000"
    memory: 1000Gi
  weight: 10
status:
  resources:
    cpu: "48"
    memory: 192Gi
  nodes: 3
  conditions:
    - type: Ready
      status: "True"
      reason: Ready
      lastTransitionTime: "2024-08-01T10:00:00Z"
      observedGeneration: 2
"#;

const EC2NODECLASS: &str = r#"
apiVersion: karpenter.k8s.aws/v1
kind: EC2NodeClass
metadata:
  name: default
spec:
  kubelet:
    podsPerCore: 2
    maxPods: 20
    systemReserved:
      cpu: 100m
      memory: 100Mi
      ephemeral-storage: 1Gi
    kubeReserved:
      cpu: 200m
      memory: 100Mi
      ephemeral-storage: 3Gi
    evictionHard:
      memory.available: 5%
      nodefs.available: 10%
      nodefs.inodesFree: 10%
    evictionSoft:
      memory.available: 500Mi
      nodefs.available: 15%
      nodefs.inodesFree: 15%
    evictionSoftGracePeriod:
      memory.available: 1m0s
      nodefs.available: 1m30s
      nodefs.inodesFree: 2m0s
    evictionMaxPodGracePeriod: 60
    imageGCHighThresholdPercent: 85
    imageGCLowThresholdPercent: 80
    cpuCFSQuota: true
    clusterDNS: ["10.0.1.100"]
  amiFamily: AL2023
  subnetSelectorTerms:
    - tags:
        karpenter.sh/discovery: "${CLUSTER_NAME}"
        environment: test
    - id: subnet-09fa4a0a8f233a921
  securityGroupSelectorTerms:
    - tags:
        karpenter.sh/discovery: "${CLUSTER_NAME}"
    - name: my-security-group
    - id: sg-063d7acfb4b06c82c
  capacityReservationSelectorTerms:
    - tags:
        karpenter.sh/discovery: "${CLUSTER_NAME}"
    - id: cr-123
  role: "KarpenterNodeRole-${CLUSTER_NAME}"
  amiSelectorTerms:
    - tags:
        karpenter.sh/discovery: "${CLUSTER_NAME}"
        environment: test
    - name: my-ami
      owner: "123456789012"
    - id: ami-123
    - ssmParameter: /aws/service/eks/optimized-ami/1.30/amazon-linux-2023/x86_64/standard/recommended/image_id
  userData: |
    echo "Hello world"
  tags:
    team: team-a
    app: team-a-app
  metadataOptions:
    httpEndpoint: enabled
    httpProtocolIPv6: disabled
    httpPutResponseHopLimit: 1
    httpTokens: required
  blockDeviceMappings:
    - deviceName: /dev/xvda
      ebs:
        volumeSize: 100Gi
        volumeType: gp3
        iops: 10000
        encrypted: true
        kmsKeyID: "1234abcd-12ab-34cd-56ef-1234567890ab"
        deleteOnTermination: true
        throughput: 125
        snapshotID: snap-0123456789
      rootVolume: true
  instanceStorePolicy: RAID0
  detailedMonitoring: true
  associatePublicIPAddress: true
  ipPrefixCount: 2
status:
  subnets:
    - id: subnet-0a462d98193ff9fac
      zone: us-east-2b
      zoneID: use2-az2
    - id: subnet-0322dfafd76a609b6
      zone: us-east-2c
      zoneID: use2-az3
  securityGroups:
    - id: sg-041513b454818610b
      name: ClusterSharedNodeSecurityGroup
  amis:
    - id: ami-01234567890123456
      name: custom-ami-amd64
      requirements:
        - key: kubernetes.io/arch
          operator: In
          values:
            - amd64
    - id: ami-09876543210987654
      name: custom-ami-arm64
      deprecated: true
      requirements:
        - key: kubernetes.io/arch
          operator: In
          values:
            - arm64
  capacityReservations:
    - availabilityZone: us-west-2a
      id: cr-01234567890123456
      instanceMatchCriteria: targeted
      instanceType: g6.48xlarge
      ownerID: "012345678901"
      reservationType: capacity-block
      state: active
      endTime: "2025-01-01T00:00:00Z"
  instanceProfile: "${CLUSTER_NAME}-0123456778901234567789"
  conditions:
    - lastTransitionTime: "2024-02-02T19:54:34Z"
      status: "True"
      type: InstanceProfileReady
    - lastTransitionTime: "2024-02-02T19:54:34Z"
      status: "True"
      type: Ready
"#;

const NODECLAIM: &str = r#"
apiVersion: karpenter.sh/v1
kind: NodeClaim
metadata:
  name: default-7rvmz
  labels:
    karpenter.sh/nodepool: default
    node.kubernetes.io/instance-type: m5.large
  finalizers:
    - karpenter.sh/termination
spec:
  nodeClassRef:
    group: karpenter.k8s.aws
    kind: EC2NodeClass
    name: default
  expireAfter: 720h
  requirements:
    - key: karpenter.sh/nodepool
      operator: In
      values: [default]
    - key: node.kubernetes.io/instance-type
      operator: In
      values: [m5.large, m5.xlarge, c5.large]
      minValues: 2
    - key: karpenter.sh/capacity-type
      operator: In
      values: [on-demand]
  resources:
    requests:
      cpu: 2150m
      memory: 2692Mi
      pods: "9"
  startupTaints:
    - key: node.cilium.io/agent-not-ready
      effect: NoExecute
      value: "true"
status:
  nodeName: ip-192-168-71-87.us-west-2.compute.internal
  providerID: aws:///us-west-2b/i-053c6b324e29d2275
  imageID: ami-0ccbbed159cce4e37
  capacity:
    cpu: "2"
    ephemeral-storage: 20Gi
    memory: 7577Mi
    pods: "29"
  allocatable:
    cpu: 1930m
    ephemeral-storage: 17Gi
    memory: 6795Mi
    pods: "29"
  lastPodEventTime: "2024-08-06T09:20:40Z"
  conditions:
    - type: Launched
      status: "True"
      reason: Launched
      message: ""
      lastTransitionTime: "2024-08-06T09:13:39Z"
    - type: Registered
      status: "True"
      lastTransitionTime: "2024-08-06T09:14:02Z"
    - type: Initialized
      status: "True"
      lastTransitionTime: "2024-08-06T09:14:12Z"
    - type: Ready
      status: "True"
      lastTransitionTime: "2024-08-06T09:14:12Z"
"#;

const AWSNODETEMPLATE: &str = r#"
apiVersion: karpenter.k8s.aws/v1alpha1
kind: AWSNodeTemplate
metadata:
  name: default
spec:
  subnetSelector:
    karpenter.sh/discovery: my-cluster
  securityGroupSelector:
    karpenter.sh/discovery: my-cluster
  instanceProfile: MyInstanceProfile
  amiFamily: Bottlerocket
  amiSelector:
    aws::name: "bottlerocket-aws-k8s-1.27-*"
    aws::owners: "self,amazon"
  userData: |
    [settings.kubernetes]
    max-pods = 110
  tags:
    InternalAccountingTag: "1234"
    dev.corp.net/app: Calculator
  metadataOptions:
    httpEndpoint: enabled
    httpProtocolIPv6: disabled
    httpPutResponseHopLimit: 2
    httpTokens: required
  blockDeviceMappings:
    - deviceName: /dev/xvdb
      ebs:
        volumeSize: 100Gi
        volumeType: gp3
        iops: 10000
        encrypted: true
        kmsKeyID: "arn:aws:kms:us-west-2:111122223333:key/1234abcd-12ab-34cd-56ef-1234567890ab"
        deleteOnTermination: true
        throughput: 125
  detailedMonitoring: true
  associatePublicIpAddress: false
  context: cr-0123
status:
  subnets:
    - id: subnet-0a462d98193ff9fac
      zone: us-east-2b
  securityGroups:
    - id: sg-041513b454818610b
      name: ClusterSharedNodeSecurityGroup
  amis:
    - id: ami-0123
      name: bottlerocket-aws-k8s-1.27-x86_64
      requirements:
        - key: kubernetes.io/arch
          operator: In
          values: [amd64]
"#;

const PROVISIONER: &str = r#"
apiVersion: karpenter.sh/v1alpha5
kind: Provisioner
metadata:
  name: default
spec:
  labels:
    billing-team: my-team
  annotations:
    example.com/owner: "my-team"
  taints:
    - key: example.com/special-taint
      effect: NoSchedule
  startupTaints:
    - key: example.com/another-taint
      effect: NoSchedule
  requirements:
    - key: "karpenter.k8s.aws/instance-category"
      operator: In
      values: ["c", "m", "r"]
    - key: "karpenter.k8s.aws/instance-cpu"
      operator: In
      values: ["4", "8", "16", "32"]
    - key: "karpenter.k8s.aws/instance-generation"
      operator: Gt
      values: ["2"]
    - key: "topology.kubernetes.io/zone"
      operator: In
      values: ["us-west-2a", "us-west-2b"]
    - key: "kubernetes.io/arch"
      operator: In
      values: ["arm64", "amd64"]
    - key: "karpenter.sh/capacity-type"
      operator: In
      values: ["spot", "on-demand"]
  kubeletConfiguration:
    clusterDNS: ["10.0.1.100"]
    containerRuntime: containerd
    systemReserved:
      cpu: 100m
      memory: 100Mi
      ephemeral-storage: 1Gi
    kubeReserved:
      cpu: 200m
      memory: 100Mi
      ephemeral-storage: 3Gi
    evictionHard:
      memory.available: 5%
      nodefs.available: 10%
    evictionSoft:
      memory.available: 500Mi
    evictionSoftGracePeriod:
      memory.available: 1m0s
    evictionMaxPodGracePeriod: 60
    imageGCHighThresholdPercent: 85
    imageGCLowThresholdPercent: 80
    cpuCFSQuota: true
    podsPerCore: 2
    maxPods: 20
  limits:
    resources:
      cpu: 1000
      memory: 1000Gi
  providerRef:
    name: default
    kind: AWSNodeTemplate
    apiVersion: karpenter.k8s.aws/v1alpha1
  ttlSecondsUntilExpired: 2592000
  consolidation:
    enabled: true
  weight: 10
status:
  lastScaleTime: "2023-09-01T12:00:00Z"
  resources:
    cpu: "16"
  conditions:
    - type: Active
      status: "True"
      severity: Info
      lastTransitionTime: "2023-09-01T12:00:00Z"
"#;

/// Equal as JSON, except that a duration may come back canonicalised
/// (`1m` → `1m0s`) and a number may come back as the equivalent string.
fn same(path: &str, input: &Value, output: &Value) -> Result<(), String> {
    match (input, output) {
        (Value::Object(a), Value::Object(b)) => {
            for (k, v) in a {
                let p = format!("{path}.{k}");
                match b.get(k) {
                    Some(w) => same(&p, v, w)?,
                    None => return Err(format!("{p} was dropped")),
                }
            }
            if let Some(extra) = b.keys().find(|k| !a.contains_key(*k)) {
                return Err(format!("{path}.{extra} was added"));
            }
            Ok(())
        }
        (Value::Array(a), Value::Array(b)) if a.len() == b.len() => a
            .iter()
            .zip(b)
            .enumerate()
            .try_for_each(|(i, (v, w))| same(&format!("{path}[{i}]"), v, w)),
        (Value::String(a), Value::String(b))
            if a.parse::<GoDuration>()
                .ok()
                .is_some_and(|d| Ok(d) == b.parse()) =>
        {
            Ok(())
        }
        (Value::Number(a), Value::String(b)) if a.to_string() == *b => Ok(()),
        (a, b) if a == b => Ok(()),
        (a, b) => Err(format!("{path}: {a} became {b}")),
    }
}

fn round_trip<T: Serialize + DeserializeOwned + PartialEq + std::fmt::Debug>(yaml: &str) -> T {
    let obj: T = serde_yaml::from_str(yaml).expect("manifest parses");
    let out = serde_yaml::to_string(&obj).expect("serializes");
    let back: T = serde_yaml::from_str(&out).expect("reparses");
    assert_eq!(back, obj, "YAML round trip");
    let json = serde_json::to_string(&obj).expect("json");
    let back: T = serde_json::from_str(&json).expect("json reparses");
    assert_eq!(back, obj, "JSON round trip");

    let input: Value = serde_yaml::from_str(yaml).expect("yaml value");
    let output = serde_json::to_value(&obj).expect("json value");
    same("", &input, &output).unwrap_or_else(|e| panic!("lossy: {e}"));
    obj
}

#[test]
fn nodepool() {
    let mut p: NodePool = round_trip(NODEPOOL);
    p.validate().expect("valid");
    let d = &p.spec.disruption;
    assert_eq!(
        d.consolidation_policy,
        Some(ConsolidationPolicy::WhenEmptyOrUnderutilized)
    );
    assert_eq!(
        d.consolidate_after.and_then(|d| d.0).map(|d| d.as_secs()),
        Some(60)
    );
    let budgets = d.budgets.as_ref().expect("budgets");
    assert_eq!(budgets[1].duration.map(|d| d.as_secs()), Some(8 * 3600));
    assert_eq!(
        budgets[2].reasons,
        Some(vec![DisruptionReason::Empty, DisruptionReason::Drifted])
    );
    assert_eq!(p.spec.template.spec.requirements[1].min_values, Some(5));
    assert_eq!(p.status.as_ref().and_then(|s| s.nodes), Some(3));
    let before = p.clone();
    p.set_defaults();
    assert_eq!(
        p, before,
        "a fully specified NodePool has nothing to default"
    );
}

#[test]
fn ec2nodeclass() {
    let c: EC2NodeClass = round_trip(EC2NODECLASS);
    c.validate().expect("valid");
    assert_eq!(
        c.spec.instance_store_policy,
        Some(InstanceStorePolicy::Raid0)
    );
    assert_eq!(c.spec.effective_ami_family(), Some("AL2023"));
    let status = c.status.as_ref().expect("status");
    assert_eq!(status.subnets[0].zone_id.as_deref(), Some("use2-az2"));
    assert!(status.amis[1].deprecated);
    assert_eq!(
        c.spec.block_device_mappings[0]
            .ebs
            .as_ref()
            .and_then(|e| e.kms_key_id.as_deref()),
        Some("1234abcd-12ab-34cd-56ef-1234567890ab")
    );
}

#[test]
fn nodeclaim() {
    let c: NodeClaim = round_trip(NODECLAIM);
    c.validate().expect("valid");
    let status = c.status.as_ref().expect("status");
    assert_eq!(
        status.provider_id.as_deref(),
        Some("aws:///us-west-2b/i-053c6b324e29d2275")
    );
    assert!(kerf_api::conditions::find(&status.conditions, "Ready").is_some_and(|c| c.is_true()));
    assert_eq!(c.spec.resources.requests["cpu"].0, "2150m");
}

#[test]
fn awsnodetemplate() {
    let t: AWSNodeTemplate = round_trip(AWSNODETEMPLATE);
    t.validate().expect("valid");
    assert_eq!(
        t.spec.provider.instance_profile.as_deref(),
        Some("MyInstanceProfile")
    );
    assert_eq!(t.spec.associate_public_ip_address, Some(false));
    assert!(
        t.spec.provider.extra.is_empty(),
        "every field is typed: {:?}",
        t.spec.provider.extra
    );
}

#[test]
fn provisioner() {
    let input: Value = serde_yaml::from_str(PROVISIONER).expect("yaml");
    let p: Provisioner = serde_yaml::from_str(PROVISIONER).expect("parses");
    p.validate().expect("valid");
    let out = serde_yaml::to_string(&p).expect("yaml");
    assert_eq!(
        serde_yaml::from_str::<Provisioner>(&out).expect("reparses"),
        p
    );
    // Knative's `severity` is not part of the shared condition; everything else survives.
    let mut input = input;
    if let Some(c) = input
        .pointer_mut("/status/conditions/0")
        .and_then(Value::as_object_mut)
    {
        c.remove("severity");
    }
    same("", &input, &serde_json::to_value(&p).expect("json"))
        .unwrap_or_else(|e| panic!("lossy: {e}"));
    assert_eq!(
        p.spec
            .limits
            .as_ref()
            .map(|l| l.resources["cpu"].0.as_str()),
        Some("1000")
    );
}
