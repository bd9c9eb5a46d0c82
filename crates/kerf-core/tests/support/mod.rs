//! Random workloads for property tests of the packer: a small hand-built
//! catalogue, and descriptions of templates, existing nodes, daemonsets and
//! apps (groups of identical pending pods) that build into a [`Snapshot`].
//!
//! Descriptions are plain data with public fields so that a shrunk failing
//! case printed by proptest can be pasted back as a regression test.
#![allow(dead_code)]

use std::collections::BTreeMap;
use std::sync::Arc;

use k8s_openapi::api::apps::v1::DaemonSet;
use k8s_openapi::api::core::v1::{PersistentVolume, PersistentVolumeClaim, Pod, Taint};
use k8s_openapi::api::storage::v1::StorageClass;
use kerf_core::instance_type::{InstanceType, Offering, Overhead};
use kerf_core::requirements::{Requirement, Requirements};
use kerf_core::resources::{MILLI, Resources};
use kerf_core::snapshot::{ExistingNode, Snapshot};
use kerf_core::template::{KubeletSettings, NodeTemplate, PoolKind, PoolRef};
use proptest::prelude::*;
use serde_json::{Value, json};

pub const ZONE: &str = "topology.kubernetes.io/zone";
pub const HOSTNAME: &str = "kubernetes.io/hostname";
pub const ARCH: &str = "kubernetes.io/arch";
pub const CAPACITY_TYPE: &str = "karpenter.sh/capacity-type";
pub const FAMILY: &str = "karpenter.k8s.aws/instance-family";
pub const INSTANCE_CPU: &str = "karpenter.k8s.aws/instance-cpu";
pub const GPU: &str = "example.com/gpu";
pub const ZONES: [&str; 3] = ["zone-a", "zone-b", "zone-c"];
const GIB: i64 = 1 << 30;
const MIB: i64 = 1 << 20;

// ---------------------------------------------------------------------------
// The catalogue.

/// name, family, arch, vcpu, GiB, max pods, on-demand $/h, zones (bitmask), has spot, GPUs
type Shape = (
    &'static str,
    &'static str,
    &'static str,
    i64,
    i64,
    i64,
    f64,
    u8,
    bool,
    i64,
);

const SHAPES: [Shape; 9] = [
    ("c.large", "c", "amd64", 2, 4, 8, 0.085, 0b111, true, 0),
    ("c.xlarge", "c", "amd64", 4, 8, 16, 0.17, 0b111, true, 0),
    ("m.large", "m", "amd64", 2, 8, 8, 0.096, 0b111, true, 0),
    ("m.xlarge", "m", "amd64", 4, 16, 16, 0.192, 0b111, true, 0),
    ("m.2xlarge", "m", "amd64", 8, 32, 29, 0.384, 0b011, true, 0),
    ("r.large", "r", "amd64", 2, 16, 8, 0.126, 0b111, true, 0),
    ("g.large", "g", "arm64", 2, 8, 8, 0.077, 0b111, true, 0),
    ("g.xlarge", "g", "arm64", 4, 16, 16, 0.154, 0b110, false, 0),
    ("p.xlarge", "p", "amd64", 4, 16, 16, 0.9, 0b011, true, 1),
];

/// Nine instance types over three zones, spot and on-demand, with a few
/// offerings missing or unavailable and spot prices that differ by zone.
pub fn catalogue() -> Vec<Arc<InstanceType>> {
    SHAPES
        .iter()
        .enumerate()
        .map(
            |(i, &(name, family, arch, vcpu, gib, pods, price, zones, spot, gpus))| {
                let labels: BTreeMap<String, String> = [
                    (ARCH, arch.to_string()),
                    ("kubernetes.io/os", "linux".to_string()),
                    (FAMILY, family.to_string()),
                    (INSTANCE_CPU, vcpu.to_string()),
                ]
                .into_iter()
                .map(|(k, v)| (k.to_string(), v))
                .collect();
                let mut offerings = Vec::new();
                for (z, zone) in ZONES.iter().enumerate() {
                    if zones & (1 << z) == 0 {
                        continue;
                    }
                    offerings.push(Offering {
                        zone: zone.to_string(),
                        capacity_type: "on-demand".into(),
                        price,
                        available: true,
                    });
                    if spot {
                        let factor = 0.30 + 0.04 * z as f64 + 0.01 * (i % 3) as f64;
                        // Two spot pools are out of capacity.
                        let available =
                            !((name == "c.large" && z == 1) || (name == "r.large" && z == 2));
                        offerings.push(Offering {
                            zone: zone.to_string(),
                            capacity_type: "spot".into(),
                            price: (price * factor * 10_000.0).round() / 10_000.0,
                            available,
                        });
                    }
                }
                let mut capacity = Resources::new(vcpu * 1000, gib * GIB, pods);
                capacity.ephemeral_storage = 20 * GIB * MILLI;
                if gpus > 0 {
                    capacity.extended.insert(GPU.to_string(), gpus * MILLI);
                }
                let mut kube_reserved = Resources::new(80, 256 * MIB, 0);
                kube_reserved.ephemeral_storage = GIB * MILLI;
                let overhead = Overhead {
                    kube_reserved,
                    ..Default::default()
                };
                Arc::new(InstanceType::new(
                    name, labels, capacity, overhead, offerings,
                ))
            },
        )
        .collect()
}

// ---------------------------------------------------------------------------
// Descriptions.

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

// ---------------------------------------------------------------------------
// Building.

const CPUS: [&str; 6] = ["100m", "250m", "500m", "1", "1500m", "3"];
const MEMS: [&str; 6] = ["64Mi", "256Mi", "512Mi", "1Gi", "2Gi", "6Gi"];
const EPHEMERAL: [&str; 3] = ["1Gi", "4Gi", "12Gi"];

fn pick<T: Copy>(list: &[T], i: u8) -> T {
    list[i as usize % list.len()]
}

fn taint(key: &str, value: &str, effect: &str) -> Taint {
    Taint {
        key: key.into(),
        value: Some(value.into()),
        effect: effect.into(),
        time_added: None,
    }
}

fn key_values(key: u8) -> (&'static str, &'static [&'static str]) {
    match key % 6 {
        0 => (ZONE, &ZONES),
        1 => (ARCH, &["amd64", "arm64"]),
        2 => (CAPACITY_TYPE, &["spot", "on-demand"]),
        3 => (FAMILY, &["c", "m", "r", "g", "p"]),
        4 => ("team", &["blue", "red"]),
        _ => (INSTANCE_CPU, &["2", "4", "8"]),
    }
}

fn selected(values: &[&str], mask: u8) -> Vec<String> {
    let out: Vec<String> = values
        .iter()
        .enumerate()
        .filter(|(i, _)| mask & (1 << i) != 0)
        .map(|(_, v)| v.to_string())
        .collect();
    if out.is_empty() {
        vec![values[0].to_string()]
    } else {
        out
    }
}

fn expression(e: &ExprDesc) -> Value {
    let (key, values) = key_values(e.key);
    let numeric = key == INSTANCE_CPU;
    match e.op % 6 {
        0 => json!({"key": key, "operator": "In", "values": selected(values, e.values)}),
        1 => json!({"key": key, "operator": "NotIn", "values": selected(values, e.values)}),
        2 => json!({"key": key, "operator": "Exists"}),
        3 => json!({"key": key, "operator": "DoesNotExist"}),
        4 if numeric => json!({"key": key, "operator": "Gt", "values": [pick(values, e.values)]}),
        5 if numeric => json!({"key": key, "operator": "Lt", "values": [pick(values, e.values)]}),
        _ => json!({"key": key, "operator": "In", "values": selected(values, e.values)}),
    }
}

fn topology_key(k: u8) -> &'static str {
    match k % 3 {
        0 => HOSTNAME,
        1 => ZONE,
        _ => CAPACITY_TYPE,
    }
}

impl TemplateDesc {
    pub fn build(&self, i: usize, catalogue: &[Arc<InstanceType>]) -> NodeTemplate {
        let mut requirements = Requirements::new();
        let mut labels = BTreeMap::new();
        match self.arch % 3 {
            1 => requirements.add(Requirement::in_values(ARCH, ["amd64"])),
            2 => requirements.add(Requirement::in_values(ARCH, ["arm64"])),
            _ => {}
        }
        match self.capacity % 4 {
            1 => requirements.add(Requirement::in_values(CAPACITY_TYPE, ["spot"])),
            2 => requirements.add(Requirement::in_values(CAPACITY_TYPE, ["on-demand"])),
            3 => requirements.add(Requirement::in_values(CAPACITY_TYPE, ["spot", "on-demand"])),
            _ => {}
        }
        let zones = self.zones & 7;
        if zones != 0 && zones != 7 {
            requirements.add(Requirement::in_values(ZONE, selected(&ZONES, zones)));
        }
        match self.family % 4 {
            1 => requirements.add(Requirement::not_in(FAMILY, ["p"])),
            2 => requirements.add(Requirement::in_values(FAMILY, ["c", "m"])),
            3 => requirements.add(Requirement::in_values(FAMILY, ["m", "r", "g", "p"])),
            _ => {}
        }
        if self.team {
            labels.insert("team".to_string(), "blue".to_string());
            requirements.add(Requirement::in_values("team", ["blue"]));
        }
        let taints = match self.taint % 4 {
            1 => vec![taint("dedicated", "gpu", "NoSchedule")],
            2 => vec![taint("soft", "true", "PreferNoSchedule")],
            3 => vec![taint("spot", "true", "NoExecute")],
            _ => Vec::new(),
        };
        let mut limits = BTreeMap::new();
        if let Some(l) = self.cpu_limit {
            limits.insert("cpu".to_string(), i64::from(l % 8 + 1) * 4000);
        }
        NodeTemplate {
            pool: PoolRef {
                kind: PoolKind::NodePool,
                name: format!("pool-{i}"),
            },
            weight: [0, 10, 50][self.weight as usize % 3],
            requirements,
            labels,
            annotations: BTreeMap::new(),
            taints,
            startup_taints: Vec::new(),
            kubelet: KubeletSettings::default(),
            limits,
            in_use: Resources::default(),
            instance_types: catalogue.to_vec(),
        }
    }
}

fn containers(cpu: &str, mem: &str, limits_only: bool) -> Value {
    let list = json!({"cpu": cpu, "memory": mem});
    if limits_only {
        json!({"limits": list})
    } else {
        json!({"requests": list})
    }
}

impl BoundPodDesc {
    fn build(&self, name: &str, node: &str, apps: usize) -> Pod {
        let app = if (self.app as usize % (apps + 1)) == apps {
            "legacy".to_string()
        } else {
            format!("app{}", self.app as usize % (apps + 1))
        };
        let mut spec = json!({
            "nodeName": node,
            "containers": [{"name": "c", "resources": containers(pick(&CPUS[..4], self.cpu), pick(&MEMS[..5], self.mem), false)}],
        });
        if self.anti {
            spec["affinity"] = json!({"podAntiAffinity": {"requiredDuringSchedulingIgnoredDuringExecution": [
                {"topologyKey": HOSTNAME, "labelSelector": {"matchLabels": {"app": app}}}
            ]}});
        }
        if self.host_port {
            spec["containers"][0]["ports"] = json!([{"containerPort": 8080, "hostPort": 8080}]);
        }
        let phase = if self.terminal {
            "Succeeded"
        } else {
            "Running"
        };
        serde_json::from_value(json!({
            "metadata": {"name": name, "namespace": "default", "labels": {"app": app}},
            "spec": spec,
            "status": {"phase": phase},
        }))
        .expect("bound pod")
    }
}

impl NodeDesc {
    pub fn build(&self, i: usize, catalogue: &[Arc<InstanceType>], apps: usize) -> ExistingNode {
        let it = &catalogue[self.type_idx as usize % catalogue.len()];
        let name = format!("node-{i}");
        let mut labels = it.labels.clone();
        labels.insert(ZONE.into(), pick(&ZONES, self.zone).into());
        labels.insert(
            CAPACITY_TYPE.into(),
            if self.spot { "spot" } else { "on-demand" }.into(),
        );
        labels.insert(HOSTNAME.into(), name.clone());
        if self.team {
            labels.insert("team".into(), "blue".into());
        }
        let taints = if self.taint {
            vec![taint("dedicated", "gpu", "NoSchedule")]
        } else {
            Vec::new()
        };
        let pods = self
            .pods
            .iter()
            .enumerate()
            .map(|(j, p)| p.build(&format!("bound-{i}-{j}"), &name, apps))
            .collect();
        ExistingNode {
            name,
            labels,
            taints,
            allocatable: it.allocatable().clone(),
            pods,
            pool: None,
            in_flight: self.in_flight,
            marked_for_deletion: self.deleting,
            unschedulable: self.cordoned,
        }
    }
}

impl DaemonDesc {
    pub fn build(&self, i: usize) -> DaemonSet {
        let mut spec = json!({"containers": [{"name": "d", "resources": {"requests": {"cpu": format!("{}m", 100 * (1 + u32::from(self.cpu % 3))), "memory": "64Mi"}}}]});
        if self.arm_only {
            spec["nodeSelector"] = json!({ARCH: "arm64"});
        }
        if self.tolerate_all {
            spec["tolerations"] = json!([{"operator": "Exists"}]);
        }
        serde_json::from_value(json!({
            "metadata": {"name": format!("ds-{i}"), "namespace": "kube-system"},
            "spec": {"selector": {"matchLabels": {"ds": format!("ds-{i}")}}, "template": {"metadata": {"labels": {"ds": format!("ds-{i}")}}, "spec": spec}},
        }))
        .expect("daemonset")
    }
}

fn affinity_term(a: &AffDesc, own: usize, apps: usize) -> Value {
    let target = if a.target == 0 {
        own
    } else {
        (a.target as usize - 1) % apps
    };
    let mut term = json!({"topologyKey": topology_key(a.key), "labelSelector": {"matchLabels": {"app": format!("app{target}")}}});
    match a.namespaces % 3 {
        1 => term["namespaceSelector"] = json!({}),
        2 => term["namespaceSelector"] = json!({"matchLabels": {"team": "blue"}}),
        _ => {}
    }
    term
}

/// Volumes, claims and storage built for one pod.
#[derive(Default)]
pub struct Storage {
    pub claims: Vec<PersistentVolumeClaim>,
    pub volumes: Vec<PersistentVolume>,
}

impl AppDesc {
    fn build(&self, a: usize, apps: usize, storage: &mut Storage) -> Vec<Pod> {
        let namespace = if self.other_namespace {
            "other"
        } else {
            "default"
        };
        let mut out = Vec::new();
        for r in 0..(self.replicas.clamp(1, 5) as usize) {
            let name = format!("app{a}-{r}");
            let mut labels = json!({"app": format!("app{a}")});
            if self.versioned {
                labels["version"] = json!(format!("v{}", r % 2));
            }
            let mut main = json!({"name": "main", "resources": containers(pick(&CPUS, self.cpu), pick(&MEMS, self.mem), self.limits_only)});
            if let Some(e) = self.ephemeral {
                main["resources"]["requests"]["ephemeral-storage"] = json!(pick(&EPHEMERAL, e));
            }
            if self.gpu {
                main["resources"]["limits"] = json!({GPU: "1"});
            }
            if let Some((port, udp, ip)) = self.host_port {
                let host_port = [8080, 9090][port as usize % 2];
                let mut p = json!({"containerPort": 80, "hostPort": host_port});
                if udp {
                    p["protocol"] = json!("UDP");
                }
                if ip {
                    p["hostIP"] = json!("10.0.0.1");
                }
                main["ports"] = json!([p]);
            }
            let mut containers_list = vec![main];
            if self.second_container {
                containers_list.push(json!({"name": "helper", "resources": {"requests": {"cpu": "50m", "memory": "32Mi"}}}));
            }
            let mut spec = json!({"containers": containers_list});
            let mut inits = Vec::new();
            if self.sidecar {
                inits.push(json!({"name": "proxy", "restartPolicy": "Always", "resources": {"requests": {"cpu": "100m", "memory": "64Mi"}}}));
            }
            if let Some(c) = self.init {
                inits.push(json!({"name": "setup", "resources": {"requests": {"cpu": pick(&CPUS, c), "memory": "128Mi"}}}));
            }
            if !inits.is_empty() {
                spec["initContainers"] = json!(inits);
            }
            if self.overhead {
                spec["overhead"] = json!({"cpu": "50m", "memory": "32Mi"});
            }
            if let Some((k, v)) = self.node_selector {
                let (key, values) = key_values(k);
                spec["nodeSelector"] = json!({key: pick(values, v)});
            }
            let mut affinity = json!({});
            if !self.required.is_empty() || !self.preferred.is_empty() {
                let mut na = json!({});
                if !self.required.is_empty() {
                    let terms: Vec<Value> =
                        self.required.iter().map(|t| json!({"matchExpressions": t.iter().map(expression).collect::<Vec<_>>()})).collect();
                    na["requiredDuringSchedulingIgnoredDuringExecution"] =
                        json!({"nodeSelectorTerms": terms});
                }
                if !self.preferred.is_empty() {
                    let prefs: Vec<Value> = self
                        .preferred
                        .iter()
                        .map(|(w, e)| json!({"weight": 1 + i32::from(*w % 100), "preference": {"matchExpressions": [expression(e)]}}))
                        .collect();
                    na["preferredDuringSchedulingIgnoredDuringExecution"] = json!(prefs);
                }
                affinity["nodeAffinity"] = na;
            }
            let mut pa = json!({});
            if let Some(t) = &self.affinity {
                pa["requiredDuringSchedulingIgnoredDuringExecution"] =
                    json!([affinity_term(t, a, apps)]);
            }
            if let Some(t) = &self.preferred_affinity {
                pa["preferredDuringSchedulingIgnoredDuringExecution"] =
                    json!([{"weight": 50, "podAffinityTerm": affinity_term(t, a, apps)}]);
            }
            if pa.as_object().is_some_and(|o| !o.is_empty()) {
                affinity["podAffinity"] = pa;
            }
            let mut paa = json!({});
            if let Some(t) = &self.anti_affinity {
                paa["requiredDuringSchedulingIgnoredDuringExecution"] =
                    json!([affinity_term(t, a, apps)]);
            }
            if let Some(t) = &self.preferred_anti_affinity {
                paa["preferredDuringSchedulingIgnoredDuringExecution"] =
                    json!([{"weight": 50, "podAffinityTerm": affinity_term(t, a, apps)}]);
            }
            if paa.as_object().is_some_and(|o| !o.is_empty()) {
                affinity["podAntiAffinity"] = paa;
            }
            if affinity.as_object().is_some_and(|o| !o.is_empty()) {
                spec["affinity"] = affinity;
            }
            let tolerations = match self.toleration % 5 {
                1 => {
                    json!([{"key": "dedicated", "operator": "Equal", "value": "gpu", "effect": "NoSchedule"}])
                }
                2 => json!([{"operator": "Exists"}]),
                3 => json!([{"key": "soft", "operator": "Exists"}]),
                4 => json!([{"key": "spot", "operator": "Exists", "effect": "NoExecute"}]),
                _ => Value::Null,
            };
            if !tolerations.is_null() {
                spec["tolerations"] = tolerations;
            }
            if !self.spread.is_empty() {
                let constraints: Vec<Value> = self
                    .spread
                    .iter()
                    .map(|s| {
                        let mut c = json!({
                            "maxSkew": 1 + i32::from(s.max_skew % 3),
                            "topologyKey": topology_key(s.key),
                            "whenUnsatisfiable": if s.hard { "DoNotSchedule" } else { "ScheduleAnyway" },
                            "labelSelector": {"matchLabels": {"app": format!("app{a}")}},
                        });
                        if let (Some(m), true) = (s.min_domains, s.hard) {
                            c["minDomains"] = json!(1 + i32::from(m % 4));
                        }
                        match s.affinity_policy % 3 {
                            1 => c["nodeAffinityPolicy"] = json!("Honor"),
                            2 => c["nodeAffinityPolicy"] = json!("Ignore"),
                            _ => {}
                        }
                        match s.taints_policy % 3 {
                            1 => c["nodeTaintsPolicy"] = json!("Honor"),
                            2 => c["nodeTaintsPolicy"] = json!("Ignore"),
                            _ => {}
                        }
                        if s.match_label_keys {
                            c["matchLabelKeys"] = json!(["version"]);
                        }
                        c
                    })
                    .collect();
                spec["topologySpreadConstraints"] = json!(constraints);
            }
            let zone = pick(&ZONES, self.volume_zone);
            match self.volume % 4 {
                1 => {
                    storage.volumes.push(
                        serde_json::from_value(json!({
                            "metadata": {"name": format!("pv-{namespace}-{name}")},
                            "spec": {"nodeAffinity": {"required": {"nodeSelectorTerms": [
                                {"matchExpressions": [{"key": ZONE, "operator": "In", "values": [zone]}]}
                            ]}}},
                        }))
                        .expect("pv"),
                    );
                    storage.claims.push(
                        serde_json::from_value(json!({
                            "metadata": {"name": format!("data-{name}"), "namespace": namespace},
                            "spec": {"volumeName": format!("pv-{namespace}-{name}"), "storageClassName": "zonal"},
                        }))
                        .expect("pvc"),
                    );
                }
                2 => storage.claims.push(
                    serde_json::from_value(json!({
                        "metadata": {"name": format!("data-{name}"), "namespace": namespace},
                        "spec": {"storageClassName": "zonal"},
                    }))
                    .expect("pvc"),
                ),
                3 => storage.claims.push(
                    serde_json::from_value(json!({"metadata": {"name": format!("data-{name}"), "namespace": namespace}, "spec": {}}))
                        .expect("pvc"),
                ),
                _ => {}
            }
            if self.volume % 4 != 0 {
                spec["volumes"] = json!([{"name": "data", "persistentVolumeClaim": {"claimName": format!("data-{name}")}}]);
            }
            out.push(
                serde_json::from_value(json!({
                    "metadata": {"name": name, "namespace": namespace, "labels": labels, "uid": format!("uid-{a}-{r}")},
                    "spec": spec,
                }))
                .expect("pending pod"),
            );
        }
        out
    }
}

fn storage_classes() -> Vec<StorageClass> {
    vec![
        serde_json::from_value(json!({
            "metadata": {"name": "zonal"}, "provisioner": "ebs.csi.aws.com", "volumeBindingMode": "WaitForFirstConsumer",
            "allowedTopologies": [{"matchLabelExpressions": [{"key": ZONE, "values": ["zone-b", "zone-c"]}]}],
        }))
        .expect("sc"),
        serde_json::from_value(json!({
            "metadata": {"name": "standard", "annotations": {"storageclass.kubernetes.io/is-default-class": "true"}},
            "provisioner": "ebs.csi.aws.com", "volumeBindingMode": "WaitForFirstConsumer",
        }))
        .expect("sc"),
    ]
}

impl Case {
    pub fn build(&self) -> Snapshot {
        let catalogue = catalogue();
        let apps = self.apps.len().max(1);
        let mut storage = Storage::default();
        let mut pending = Vec::new();
        for (a, app) in self.apps.iter().enumerate() {
            pending.extend(app.build(a, apps, &mut storage));
        }
        let namespaces = [
            ("default".to_string(), BTreeMap::new()),
            (
                "other".to_string(),
                [("team".to_string(), "blue".to_string())]
                    .into_iter()
                    .collect(),
            ),
            ("kube-system".to_string(), BTreeMap::new()),
        ]
        .into_iter()
        .collect();
        Snapshot {
            pending,
            nodes: self
                .nodes
                .iter()
                .enumerate()
                .map(|(i, n)| n.build(i, &catalogue, apps))
                .collect(),
            templates: self
                .templates
                .iter()
                .enumerate()
                .map(|(i, t)| t.build(i, &catalogue))
                .collect(),
            daemonsets: self
                .daemons
                .iter()
                .enumerate()
                .map(|(i, d)| d.build(i))
                .collect(),
            claims: storage.claims,
            volumes: storage.volumes,
            storage_classes: storage_classes(),
            namespaces,
            options: Default::default(),
        }
    }
}

// ---------------------------------------------------------------------------
// Strategies.

fn maybe<T: std::fmt::Debug + Clone>(
    p: f64,
    s: impl Strategy<Value = T>,
) -> impl Strategy<Value = Option<T>> {
    prop::option::weighted(p, s)
}

fn flag(p: f64) -> impl Strategy<Value = bool> {
    prop::bool::weighted(p)
}

pub fn arb_template() -> impl Strategy<Value = TemplateDesc> {
    (
        0u8..3,
        prop_oneof![4 => Just(0u8), 1 => 1u8..4],
        prop_oneof![2 => Just(0u8), 1 => 1u8..3],
        0u8..4,
        prop_oneof![2 => Just(7u8), 1 => 1u8..7],
        0u8..4,
        flag(0.2),
        maybe(0.3, 0u8..8),
    )
        .prop_map(
            |(weight, taint, arch, capacity, zones, family, team, cpu_limit)| TemplateDesc {
                weight,
                taint,
                arch,
                capacity,
                zones,
                family,
                team,
                cpu_limit,
            },
        )
}

pub fn arb_bound_pod() -> impl Strategy<Value = BoundPodDesc> {
    (0u8..8, 0u8..4, 0u8..5, flag(0.2), flag(0.15), flag(0.1)).prop_map(
        |(app, cpu, mem, anti, host_port, terminal)| BoundPodDesc {
            app,
            cpu,
            mem,
            anti,
            host_port,
            terminal,
        },
    )
}

pub fn arb_node() -> impl Strategy<Value = NodeDesc> {
    (
        0u8..9,
        0u8..3,
        any::<bool>(),
        flag(0.15),
        flag(0.15),
        flag(0.08),
        flag(0.08),
        flag(0.2),
        prop::collection::vec(arb_bound_pod(), 0..=3),
    )
        .prop_map(
            |(type_idx, zone, spot, taint, team, cordoned, deleting, in_flight, pods)| NodeDesc {
                type_idx,
                zone,
                spot,
                taint,
                team,
                cordoned,
                deleting,
                in_flight,
                pods,
            },
        )
}

pub fn arb_daemon() -> impl Strategy<Value = DaemonDesc> {
    (0u8..3, flag(0.3), flag(0.3)).prop_map(|(cpu, arm_only, tolerate_all)| DaemonDesc {
        cpu,
        arm_only,
        tolerate_all,
    })
}

pub fn arb_expr() -> impl Strategy<Value = ExprDesc> {
    (0u8..6, 0u8..6, 1u8..32).prop_map(|(key, op, values)| ExprDesc { key, op, values })
}

pub fn arb_aff() -> impl Strategy<Value = AffDesc> {
    (
        prop_oneof![2 => Just(0u8), 1 => 1u8..6],
        0u8..3,
        prop_oneof![3 => Just(0u8), 1 => 1u8..3],
    )
        .prop_map(|(target, key, namespaces)| AffDesc {
            target,
            key,
            namespaces,
        })
}

pub fn arb_spread() -> impl Strategy<Value = SpreadDesc> {
    (
        0u8..3,
        0u8..3,
        flag(0.7),
        maybe(0.25, 0u8..4),
        prop_oneof![3 => Just(0u8), 1 => 1u8..3],
        prop_oneof![3 => Just(0u8), 1 => 1u8..3],
        flag(0.2),
    )
        .prop_map(
            |(
                key,
                max_skew,
                hard,
                min_domains,
                affinity_policy,
                taints_policy,
                match_label_keys,
            )| SpreadDesc {
                key,
                max_skew,
                hard,
                min_domains,
                affinity_policy,
                taints_policy,
                match_label_keys,
            },
        )
}

pub fn arb_app() -> impl Strategy<Value = AppDesc> {
    let resources = (
        1u8..=5,
        flag(0.2),
        0u8..6,
        0u8..6,
        flag(0.2),
        maybe(0.2, 0u8..6),
        flag(0.2),
        flag(0.15),
        maybe(0.15, 0u8..3),
        flag(0.05),
        flag(0.1),
    );
    let placement = (
        maybe(0.2, (0u8..5, 0u8..5)),
        prop_oneof![3 => Just(Vec::new()), 1 => prop::collection::vec(prop::collection::vec(arb_expr(), 1..=2), 1..=2)],
        prop::collection::vec((0u8..100, arb_expr()), 0..=2),
        prop_oneof![3 => Just(0u8), 1 => 1u8..5],
        maybe(0.15, (0u8..2, any::<bool>(), flag(0.3))),
    );
    let topology = (
        maybe(0.15, arb_aff()),
        maybe(0.2, arb_aff()),
        maybe(0.1, arb_aff()),
        maybe(0.1, arb_aff()),
        prop::collection::vec(arb_spread(), 0..=2),
        prop_oneof![4 => Just(0u8), 1 => 1u8..4],
        0u8..3,
        flag(0.2),
    );
    (resources, placement, topology).prop_map(
        |(
            (
                replicas,
                other_namespace,
                cpu,
                mem,
                second_container,
                init,
                sidecar,
                overhead,
                ephemeral,
                gpu,
                limits_only,
            ),
            (node_selector, required, preferred, toleration, host_port),
            (
                affinity,
                anti_affinity,
                preferred_affinity,
                preferred_anti_affinity,
                spread,
                volume,
                volume_zone,
                versioned,
            ),
        )| AppDesc {
            replicas,
            other_namespace,
            cpu,
            mem,
            second_container,
            init,
            sidecar,
            overhead,
            ephemeral,
            gpu,
            limits_only,
            node_selector,
            required,
            preferred,
            toleration,
            host_port,
            affinity,
            anti_affinity,
            preferred_affinity,
            preferred_anti_affinity,
            spread,
            volume,
            volume_zone,
            versioned,
        },
    )
}

pub fn arb_case() -> impl Strategy<Value = Case> {
    (
        prop::collection::vec(arb_template(), 1..=3),
        prop::collection::vec(arb_node(), 0..=3),
        prop::collection::vec(arb_daemon(), 0..=2),
        prop::collection::vec(arb_app(), 1..=6),
    )
        .prop_map(|(templates, nodes, daemons, apps)| Case {
            templates,
            nodes,
            daemons,
            apps,
        })
}

/// Plain pods (cpu and memory only) that each fit the largest instance type.
pub fn arb_plain_workload() -> impl Strategy<Value = Vec<(u32, u32)>> {
    // (cpu milli, memory MiB): the largest type keeps 7920m and 31.75Gi for pods.
    prop::collection::vec((1u32..=7_900, 1u32..=32_000), 1..=40)
}

pub fn plain_snapshot(workload: &[(u32, u32)]) -> Snapshot {
    let catalogue = catalogue();
    let template = TemplateDesc {
        weight: 0,
        taint: 0,
        arch: 0,
        capacity: 0,
        zones: 7,
        family: 0,
        team: false,
        cpu_limit: None,
    };
    let pending = workload
        .iter()
        .enumerate()
        .map(|(i, (cpu, mib))| {
            serde_json::from_value(json!({
                "metadata": {"name": format!("plain-{i}"), "namespace": "default"},
                "spec": {"containers": [{"name": "c", "resources": {"requests": {"cpu": format!("{cpu}m"), "memory": format!("{mib}Mi")}}}]},
            }))
            .expect("plain pod")
        })
        .collect();
    Snapshot {
        pending,
        templates: vec![template.build(0, &catalogue)],
        ..Default::default()
    }
}
