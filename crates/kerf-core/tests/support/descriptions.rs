//! Descriptions of templates, nodes, daemonsets and apps: plain data a shrunk case prints as.

#[derive(Clone, Debug)]
pub struct TemplateDesc {
    /// 0, 10 or 50.
    pub weight: u8,
    /// 0 none, 1 `dedicated=gpu:NoSchedule`, 2 `soft:PreferNoSchedule`, 3 `spot=true:NoExecute`.
    pub taint: u8,
    /// 0 any, 1 amd64, 2 arm64.
    pub arch: u8,
    /// 0 any, 1 spot, 2 on-demand, 3 both listed.
    pub capacity: u8,
    /// Zones allowed (bitmask; 0 or 7 = no requirement).
    pub zones: u8,
    /// 0 any, 1 NotIn [p], 2 In [c, m], 3 In [m, r, g, p].
    pub family: u8,
    /// Label `team=blue` (and the matching requirement).
    pub team: bool,
    /// cpu limit in units of 4 vcpu.
    pub cpu_limit: Option<u8>,
    /// `limits.nodes`: 0 to 3 nodes (modulo 4).
    pub node_limit: Option<u8>,
}

#[derive(Clone, Debug)]
pub struct BoundPodDesc {
    /// Index into the apps (modulo; one past the end is `app=legacy`).
    pub app: u8,
    pub cpu: u8,
    pub mem: u8,
    /// Required hostname anti-affinity against its own app.
    pub anti: bool,
    pub host_port: bool,
    /// Phase Succeeded: must not count.
    pub terminal: bool,
}

#[derive(Clone, Debug)]
pub struct NodeDesc {
    pub type_idx: u8,
    pub zone: u8,
    pub spot: bool,
    pub taint: bool,
    pub team: bool,
    pub cordoned: bool,
    pub deleting: bool,
    pub in_flight: bool,
    /// The template (modulo their count) that launched it; counts against its `limits.nodes`.
    pub pool: Option<u8>,
    /// 0 every label; 1 no zone label; 2 no capacity-type label.
    pub unlabelled: u8,
    pub pods: Vec<BoundPodDesc>,
}

#[derive(Clone, Debug)]
pub struct DaemonDesc {
    /// 100m × (1 + cpu).
    pub cpu: u8,
    /// Only on arm64 nodes.
    pub arm_only: bool,
    /// Tolerates every taint.
    pub tolerate_all: bool,
}

/// One node selector expression: key, operator, values (bitmask over the key's values).
#[derive(Clone, Debug)]
pub struct ExprDesc {
    /// 0 zone, 1 arch, 2 capacity type, 3 instance family, 4 team, 5 instance-cpu.
    pub key: u8,
    /// 0 In, 1 NotIn, 2 Exists, 3 DoesNotExist, 4 Gt, 5 Lt (Gt/Lt only on instance-cpu).
    pub op: u8,
    pub values: u8,
}

#[derive(Clone, Debug)]
pub struct AffDesc {
    /// 0: its own app; k: app k-1 (modulo the app count).
    pub target: u8,
    /// 0 hostname, 1 zone, 2 capacity type.
    pub key: u8,
    /// 0 own namespace, 1 `namespaceSelector: {}`, 2 `namespaceSelector: {team: blue}`.
    pub namespaces: u8,
}

#[derive(Clone, Debug)]
pub struct SpreadDesc {
    /// 0 hostname, 1 zone, 2 capacity type.
    pub key: u8,
    pub max_skew: u8,
    /// DoNotSchedule (else ScheduleAnyway).
    pub hard: bool,
    pub min_domains: Option<u8>,
    /// 0 default, 1 Honor, 2 Ignore.
    pub affinity_policy: u8,
    /// 0 default, 1 Honor, 2 Ignore.
    pub taints_policy: u8,
    pub match_label_keys: bool,
}

#[derive(Clone, Debug)]
pub struct AppDesc {
    pub replicas: u8,
    /// Namespace `other` (labelled team=blue) instead of `default`.
    pub other_namespace: bool,
    pub cpu: u8,
    pub mem: u8,
    pub second_container: bool,
    /// An init container's cpu (index).
    pub init: Option<u8>,
    pub sidecar: bool,
    pub overhead: bool,
    pub ephemeral: Option<u8>,
    pub gpu: bool,
    /// Limits instead of requests (the API server copies them).
    pub limits_only: bool,
    /// (key, value index) as in [`ExprDesc`].
    pub node_selector: Option<(u8, u8)>,
    /// Required node affinity terms (ORed), each a list of expressions.
    pub required: Vec<Vec<ExprDesc>>,
    pub preferred: Vec<(u8, ExprDesc)>,
    /// 0 none, 1 dedicated, 2 everything, 3 soft, 4 spot NoExecute.
    pub toleration: u8,
    /// (port index, udp, specific ip)
    pub host_port: Option<(u8, bool, bool)>,
    pub affinity: Option<AffDesc>,
    pub anti_affinity: Option<AffDesc>,
    pub preferred_affinity: Option<AffDesc>,
    pub preferred_anti_affinity: Option<AffDesc>,
    pub spread: Vec<SpreadDesc>,
    /// 0 none, 1 PVC bound to a zonal PV, 2 unbound PVC of a zonal class, 3 unbound PVC of the default class.
    pub volume: u8,
    pub volume_zone: u8,
    /// Pods carry `version: v<replica % 2>` (for matchLabelKeys).
    pub versioned: bool,
}

#[derive(Clone, Debug)]
pub struct Case {
    pub templates: Vec<TemplateDesc>,
    pub nodes: Vec<NodeDesc>,
    pub daemons: Vec<DaemonDesc>,
    pub apps: Vec<AppDesc>,
}
