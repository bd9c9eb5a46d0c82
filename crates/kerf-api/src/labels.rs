//! Well-known label, annotation, taint and finalizer keys, the restricted
//! label domains, and beta-label normalisation — Karpenter's `labels.go`
//! (core and AWS) as constants and small pure helpers.
//!
//! Two restriction rules exist:
//! - **v1alpha5** (and v1 template labels): the domains `kubernetes.io`,
//!   `k8s.io`, `karpenter.sh` and `karpenter.k8s.aws` (and their subdomains)
//!   are restricted, except the subdomains `node.kubernetes.io`,
//!   `node-restriction.kubernetes.io` and `kops.k8s.io`, and except the
//!   well-known labels. `kubernetes.io/hostname` is always restricted.
//!   See [`is_restricted_label`].
//! - **v1 requirements**: only `karpenter.sh` and `karpenter.k8s.aws` are
//!   restricted (well-known labels excepted), plus `karpenter.sh/nodepool` and
//!   `kubernetes.io/hostname`. See [`is_restricted_requirement_key_v1`].

// --- Kubernetes well-known labels -------------------------------------------

pub const ZONE: &str = "topology.kubernetes.io/zone";
pub const REGION: &str = "topology.kubernetes.io/region";
pub const INSTANCE_TYPE: &str = "node.kubernetes.io/instance-type";
pub const ARCH: &str = "kubernetes.io/arch";
pub const OS: &str = "kubernetes.io/os";
pub const HOSTNAME: &str = "kubernetes.io/hostname";
pub const WINDOWS_BUILD: &str = "node.kubernetes.io/windows-build";

/// Deprecated aliases that [`normalize_label_key`] maps to the stable keys.
pub const BETA_ZONE: &str = "failure-domain.beta.kubernetes.io/zone";
pub const BETA_REGION: &str = "failure-domain.beta.kubernetes.io/region";
pub const BETA_ARCH: &str = "beta.kubernetes.io/arch";
pub const BETA_OS: &str = "beta.kubernetes.io/os";
pub const BETA_INSTANCE_TYPE: &str = "beta.kubernetes.io/instance-type";

// --- Karpenter (karpenter.sh) -----------------------------------------------

pub const KARPENTER_DOMAIN: &str = "karpenter.sh";
pub const CAPACITY_TYPE: &str = "karpenter.sh/capacity-type";
/// v1alpha5: the Provisioner that launched a node.
pub const PROVISIONER_NAME: &str = "karpenter.sh/provisioner-name";
/// v1: the NodePool that launched a node.
pub const NODEPOOL: &str = "karpenter.sh/nodepool";
pub const NODE_INITIALIZED: &str = "karpenter.sh/initialized";
pub const NODE_REGISTERED: &str = "karpenter.sh/registered";

pub const CAPACITY_TYPE_SPOT: &str = "spot";
pub const CAPACITY_TYPE_ON_DEMAND: &str = "on-demand";
/// v1 only (capacity reservations).
pub const CAPACITY_TYPE_RESERVED: &str = "reserved";
pub const CAPACITY_TYPES: &[&str] = &[
    CAPACITY_TYPE_SPOT,
    CAPACITY_TYPE_ON_DEMAND,
    CAPACITY_TYPE_RESERVED,
];

pub const ARCH_AMD64: &str = "amd64";
pub const ARCH_ARM64: &str = "arm64";
pub const OS_LINUX: &str = "linux";
pub const OS_WINDOWS: &str = "windows";

// --- Annotations, taints, finalizers ----------------------------------------

/// v1alpha5 pod annotation: do not evict this pod.
pub const DO_NOT_EVICT: &str = "karpenter.sh/do-not-evict";
/// v1alpha5 node annotation: do not consolidate this node.
pub const DO_NOT_CONSOLIDATE: &str = "karpenter.sh/do-not-consolidate";
/// v1 pod or node annotation replacing both of the above.
pub const DO_NOT_DISRUPT: &str = "karpenter.sh/do-not-disrupt";
/// v1alpha5 node annotation recording when a node became empty.
pub const EMPTINESS_TIMESTAMP: &str = "karpenter.sh/emptiness-timestamp";
pub const NODEPOOL_HASH: &str = "karpenter.sh/nodepool-hash";
pub const NODEPOOL_HASH_VERSION: &str = "karpenter.sh/nodepool-hash-version";
pub const MANAGED_BY: &str = "karpenter.sh/managed-by";
/// Annotation kerf puts on the pods it expects a ReplicaSet to create (value:
/// the ReplicaSet's name). They exist only inside a provisioning pass, so that
/// a Deployment scaled from 0 to 1,000 gets nodes for 1,000 pods in its first
/// batch rather than one set of nodes per batch of its ramp.
pub const EXPECTED_REPLICA: &str = "kerf.sh/expected-replica-of";
/// Finalizer on nodes and NodeClaims that Karpenter terminates.
pub const TERMINATION_FINALIZER: &str = "karpenter.sh/termination";
/// Taint put on nodes that are being disrupted (v1).
pub const DISRUPTED_TAINT_KEY: &str = "karpenter.sh/disrupted";
/// kerf's soft taint (`PreferNoSchedule`) on nodes consolidation will remove
/// in a later command, so kube-scheduler places pods evicted meanwhile on
/// nodes that stay. kerf's own scheduler ignores it.
pub const CONSOLIDATION_PLANNED_TAINT_KEY: &str = "kerf.sh/consolidation-planned";
/// Kubernetes' ReplicaSet scale-down order: pods with the lowest cost go first.
pub const POD_DELETION_COST: &str = "controller.kubernetes.io/pod-deletion-cost";
/// The `pod-deletion-cost` kerf last wrote on a pod. While the two agree the
/// cost is kerf's to change; once they differ (or the cost was there before
/// kerf), it is the user's and kerf leaves it alone.
pub const MANAGED_POD_DELETION_COST: &str = "kerf.sh/pod-deletion-cost";
/// Startup taint on nodes that have not registered yet (v1).
pub const UNREGISTERED_TAINT_KEY: &str = "karpenter.sh/unregistered";

// --- AWS (karpenter.k8s.aws) ------------------------------------------------

pub const AWS_DOMAIN: &str = "karpenter.k8s.aws";
pub const INSTANCE_CATEGORY: &str = "karpenter.k8s.aws/instance-category";
pub const INSTANCE_FAMILY: &str = "karpenter.k8s.aws/instance-family";
pub const INSTANCE_GENERATION: &str = "karpenter.k8s.aws/instance-generation";
pub const INSTANCE_SIZE: &str = "karpenter.k8s.aws/instance-size";
pub const INSTANCE_CPU: &str = "karpenter.k8s.aws/instance-cpu";
pub const INSTANCE_CPU_MANUFACTURER: &str = "karpenter.k8s.aws/instance-cpu-manufacturer";
/// Sustained all-core clock in MHz (EC2's GHz × 1000, rounded), for `Gt`/`Lt`.
pub const INSTANCE_CPU_SUSTAINED_CLOCK_SPEED_MHZ: &str =
    "karpenter.k8s.aws/instance-cpu-sustained-clock-speed-mhz";
pub const INSTANCE_MEMORY: &str = "karpenter.k8s.aws/instance-memory";
/// Set to the type's max pods by Karpenter v0.31 and dropped in v1 (no code
/// sets it): not well-known in kerf, so a pod requiring it is refused rather
/// than planned onto a node that will never carry it.
pub const INSTANCE_PODS: &str = "karpenter.k8s.aws/instance-pods";
pub const INSTANCE_HYPERVISOR: &str = "karpenter.k8s.aws/instance-hypervisor";
pub const INSTANCE_ENCRYPTION_IN_TRANSIT_SUPPORTED: &str =
    "karpenter.k8s.aws/instance-encryption-in-transit-supported";
pub const INSTANCE_LOCAL_NVME: &str = "karpenter.k8s.aws/instance-local-nvme";
pub const INSTANCE_NETWORK_BANDWIDTH: &str = "karpenter.k8s.aws/instance-network-bandwidth";
pub const INSTANCE_EBS_BANDWIDTH: &str = "karpenter.k8s.aws/instance-ebs-bandwidth";
pub const INSTANCE_GPU_NAME: &str = "karpenter.k8s.aws/instance-gpu-name";
pub const INSTANCE_GPU_MANUFACTURER: &str = "karpenter.k8s.aws/instance-gpu-manufacturer";
pub const INSTANCE_GPU_COUNT: &str = "karpenter.k8s.aws/instance-gpu-count";
pub const INSTANCE_GPU_MEMORY: &str = "karpenter.k8s.aws/instance-gpu-memory";
pub const INSTANCE_ACCELERATOR_NAME: &str = "karpenter.k8s.aws/instance-accelerator-name";
pub const INSTANCE_ACCELERATOR_MANUFACTURER: &str =
    "karpenter.k8s.aws/instance-accelerator-manufacturer";
pub const INSTANCE_ACCELERATOR_COUNT: &str = "karpenter.k8s.aws/instance-accelerator-count";
pub const CAPACITY_RESERVATION_ID: &str = "karpenter.k8s.aws/capacity-reservation-id";
pub const CAPACITY_RESERVATION_TYPE: &str = "karpenter.k8s.aws/capacity-reservation-type";
pub const CAPACITY_RESERVATION_INTERRUPTIBLE: &str =
    "karpenter.k8s.aws/capacity-reservation-interruptible";
/// The EC2NodeClass a node was launched from (v1; restricted as a label and a tag).
pub const EC2_NODE_CLASS: &str = "karpenter.k8s.aws/ec2nodeclass";
/// `"true"` for the flexible instance families (`c7i-flex`, `m7i-flex`), else `"false"`.
pub const INSTANCE_CAPABILITY_FLEX: &str = "karpenter.k8s.aws/instance-capability-flex";
/// The AWS zone ID (`use1-az1`), well-known in v1.
pub const ZONE_ID: &str = "topology.k8s.aws/zone-id";
/// `default` or `dedicated`: every type offers both, the claim's requirement
/// picks (default when it allows it), and the instance launches with that
/// placement tenancy (Karpenter v1.9).
pub const INSTANCE_TENANCY: &str = "karpenter.k8s.aws/instance-tenancy";
pub const TENANCY_DEFAULT: &str = "default";
pub const TENANCY_DEDICATED: &str = "dedicated";
/// `"true"` where the type supports Nitro Enclaves (EC2's NitroEnclavesSupport).
pub const NITRO_SANDBOX: &str = "karpenter.k8s.aws/nitro-sandbox";

/// Well-known labels whose values are a closed set: a v1 NodePool requiring
/// none of them (`In`), or fewer than its `minValues`, is not ready (Karpenter's
/// `WellKnownValuesForRequirements`, with the AWS provider's tenancy).
pub const WELL_KNOWN_VALUES: &[(&str, &[&str])] = &[
    (CAPACITY_TYPE, CAPACITY_TYPES),
    (INSTANCE_TENANCY, &[TENANCY_DEFAULT, TENANCY_DEDICATED]),
];

/// Labels an instance type offers several values of, with the value a node
/// launches with when the claim allows it: the kubelet reports Linux unless
/// a Windows AMI boots, and EC2 places instances on shared hardware unless
/// asked for dedicated.
pub const LAUNCH_DEFAULTS: &[(&str, &str)] = &[(OS, OS_LINUX), (INSTANCE_TENANCY, TENANCY_DEFAULT)];

/// The AWS `karpenter.k8s.aws/instance-*` (and related) well-known labels.
pub const AWS_WELL_KNOWN_LABELS: &[&str] = &[
    INSTANCE_HYPERVISOR,
    INSTANCE_ENCRYPTION_IN_TRANSIT_SUPPORTED,
    INSTANCE_CATEGORY,
    INSTANCE_FAMILY,
    INSTANCE_GENERATION,
    INSTANCE_SIZE,
    INSTANCE_LOCAL_NVME,
    INSTANCE_CPU,
    INSTANCE_CPU_MANUFACTURER,
    INSTANCE_CPU_SUSTAINED_CLOCK_SPEED_MHZ,
    INSTANCE_MEMORY,
    INSTANCE_EBS_BANDWIDTH,
    INSTANCE_NETWORK_BANDWIDTH,
    INSTANCE_GPU_NAME,
    INSTANCE_GPU_MANUFACTURER,
    INSTANCE_GPU_COUNT,
    INSTANCE_GPU_MEMORY,
    INSTANCE_ACCELERATOR_NAME,
    INSTANCE_ACCELERATOR_MANUFACTURER,
    INSTANCE_ACCELERATOR_COUNT,
    INSTANCE_CAPABILITY_FLEX,
    CAPACITY_RESERVATION_ID,
    CAPACITY_RESERVATION_TYPE,
    CAPACITY_RESERVATION_INTERRUPTIBLE,
    ZONE_ID,
    INSTANCE_TENANCY,
    NITRO_SANDBOX,
];

/// Core well-known labels (Karpenter `WellKnownLabels`, both API versions).
pub const CORE_WELL_KNOWN_LABELS: &[&str] = &[
    PROVISIONER_NAME,
    NODEPOOL,
    ZONE,
    REGION,
    INSTANCE_TYPE,
    ARCH,
    OS,
    CAPACITY_TYPE,
    WINDOWS_BUILD,
];

/// Domains Karpenter will not put on nodes (suffix match on the key's prefix).
pub const RESTRICTED_LABEL_DOMAINS: &[&str] =
    &["kubernetes.io", "k8s.io", KARPENTER_DOMAIN, AWS_DOMAIN];
/// Subdomains of the restricted domains that are allowed anyway.
pub const LABEL_DOMAIN_EXCEPTIONS: &[&str] = &[
    "kops.k8s.io",
    "node.kubernetes.io",
    "node-restriction.kubernetes.io",
];
/// Single keys that are always restricted.
pub const RESTRICTED_LABELS: &[&str] = &[HOSTNAME];

/// Maps a deprecated beta label to its stable key; other keys are returned unchanged.
pub fn normalize_label_key(key: &str) -> &str {
    match key {
        BETA_ZONE => ZONE,
        BETA_REGION => REGION,
        BETA_ARCH => ARCH,
        BETA_OS => OS,
        BETA_INSTANCE_TYPE => INSTANCE_TYPE,
        other => other,
    }
}

/// The part of a key before `/`, or `""` if the key has no prefix.
pub fn label_domain(key: &str) -> &str {
    key.split_once('/').map_or("", |(domain, _)| domain)
}

/// Karpenter's well-known labels (core plus AWS): keys it can satisfy from
/// instance types and offerings even when a template does not set them.
pub fn is_well_known_label(key: &str) -> bool {
    CORE_WELL_KNOWN_LABELS.contains(&key) || AWS_WELL_KNOWN_LABELS.contains(&key)
}

fn in_restricted_domain(key: &str, domains: &[&str]) -> bool {
    let domain = label_domain(key);
    if LABEL_DOMAIN_EXCEPTIONS.iter().any(|e| domain.ends_with(e)) {
        return false;
    }
    domains.iter().any(|d| domain.ends_with(d))
}

/// Upstream `IsRestrictedNodeLabel`: a label Karpenter must not inject itself,
/// either because the cloud provider sets it (well-known labels) or because it
/// is in a restricted domain.
pub fn is_restricted_node_label(key: &str) -> bool {
    is_well_known_label(key)
        || in_restricted_domain(key, RESTRICTED_LABEL_DOMAINS)
        || RESTRICTED_LABELS.contains(&key)
}

/// Upstream `IsRestrictedLabel` (v1alpha5 requirements and labels, v1 template
/// labels): restricted unless well-known.
pub fn is_restricted_label(key: &str) -> bool {
    !is_well_known_label(key) && is_restricted_node_label(key)
}

/// v1 NodePool/NodeClaim requirement keys: only `karpenter.sh` and
/// `karpenter.k8s.aws` are restricted (well-known labels excepted), and
/// `karpenter.sh/nodepool` and `kubernetes.io/hostname` are always restricted.
pub fn is_restricted_requirement_key_v1(key: &str) -> bool {
    if key == NODEPOOL || key == HOSTNAME {
        return true;
    }
    !is_well_known_label(key) && in_restricted_domain(key, &[KARPENTER_DOMAIN, AWS_DOMAIN])
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn normalizes_beta_labels() {
        assert_eq!(normalize_label_key(BETA_ZONE), ZONE);
        assert_eq!(normalize_label_key(BETA_REGION), REGION);
        assert_eq!(normalize_label_key(BETA_ARCH), ARCH);
        assert_eq!(normalize_label_key(BETA_OS), OS);
        assert_eq!(normalize_label_key(BETA_INSTANCE_TYPE), INSTANCE_TYPE);
        assert_eq!(normalize_label_key("example.com/team"), "example.com/team");
    }

    #[test]
    fn restricted_table() {
        let cases: &[(&str, bool)] = &[
            (ZONE, false),
            (INSTANCE_TYPE, false),
            (CAPACITY_TYPE, false),
            (INSTANCE_FAMILY, false),
            (HOSTNAME, true),
            ("kubernetes.io/foo", true),
            ("sub.kubernetes.io/foo", true),
            ("k8s.io/foo", true),
            ("karpenter.sh/foo", true),
            ("karpenter.k8s.aws/foo", true),
            ("node.kubernetes.io/foo", false),
            ("x.node.kubernetes.io/foo", false),
            ("node-restriction.kubernetes.io/foo", false),
            ("kops.k8s.io/foo", false),
            ("example.com/foo", false),
            ("foo", false),
        ];
        for (key, want) in cases {
            assert_eq!(is_restricted_label(key), *want, "{key}");
        }
    }

    #[test]
    fn v1_requirement_keys() {
        assert!(is_restricted_requirement_key_v1(NODEPOOL));
        assert!(is_restricted_requirement_key_v1(HOSTNAME));
        assert!(is_restricted_requirement_key_v1("karpenter.sh/foo"));
        assert!(is_restricted_requirement_key_v1("karpenter.k8s.aws/foo"));
        assert!(!is_restricted_requirement_key_v1(CAPACITY_TYPE));
        assert!(!is_restricted_requirement_key_v1(INSTANCE_CPU));
        assert!(!is_restricted_requirement_key_v1("kubernetes.io/foo"));
        assert!(!is_restricted_requirement_key_v1("example.com/foo"));
    }
}
