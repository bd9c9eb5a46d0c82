//! Building templates, bound pods, nodes and daemonsets from their descriptions.

use super::*;

pub(super) const CPUS: [&str; 6] = ["100m", "250m", "500m", "1", "1500m", "3"];
pub(super) const MEMS: [&str; 6] = ["64Mi", "256Mi", "512Mi", "1Gi", "2Gi", "6Gi"];
pub(super) const EPHEMERAL: [&str; 3] = ["1Gi", "4Gi", "12Gi"];

pub(super) fn pick<T: Copy>(list: &[T], i: u8) -> T {
    list[i as usize % list.len()]
}

pub(super) fn taint(key: &str, value: &str, effect: &str) -> Taint {
    Taint {
        key: key.into(),
        value: Some(value.into()),
        effect: effect.into(),
        time_added: None,
    }
}

pub(super) fn key_values(key: u8) -> (&'static str, &'static [&'static str]) {
    match key % 6 {
        0 => (ZONE, &ZONES),
        1 => (ARCH, &["amd64", "arm64"]),
        2 => (CAPACITY_TYPE, &["spot", "on-demand"]),
        3 => (FAMILY, &["c", "m", "r", "g", "p"]),
        4 => ("team", &["blue", "red"]),
        _ => (INSTANCE_CPU, &["2", "4", "8"]),
    }
}

pub(super) fn selected(values: &[&str], mask: u8) -> Vec<String> {
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

pub(super) fn expression(e: &ExprDesc) -> Value {
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

pub(super) fn topology_key(k: u8) -> &'static str {
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
        if let Some(n) = self.node_limit {
            limits.insert("nodes".to_string(), i64::from(n % 4) * MILLI);
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

pub(super) fn containers(cpu: &str, mem: &str, limits_only: bool) -> Value {
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
    /// Node `i`; `templates` is how many templates the case has (for `pool`).
    pub fn build(
        &self,
        i: usize,
        catalogue: &[Arc<InstanceType>],
        apps: usize,
        templates: usize,
    ) -> ExistingNode {
        let it = &catalogue[self.type_idx as usize % catalogue.len()];
        let name = format!("node-{i}");
        let mut labels = it.labels.clone();
        if self.unlabelled % 3 != 1 {
            labels.insert(ZONE.into(), pick(&ZONES, self.zone).into());
        }
        if self.unlabelled % 3 != 2 {
            labels.insert(
                CAPACITY_TYPE.into(),
                if self.spot { "spot" } else { "on-demand" }.into(),
            );
        }
        let pool = self.pool.filter(|_| templates > 0).map(|p| PoolRef {
            kind: PoolKind::NodePool,
            name: format!("pool-{}", p as usize % templates),
        });
        if let Some(p) = &pool {
            labels.insert("karpenter.sh/nodepool".into(), p.name.clone());
        }
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
            .map(std::sync::Arc::new)
            .collect();
        ExistingNode {
            name,
            labels,
            taints,
            allocatable: it.allocatable().clone(),
            pods,
            pool,
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

pub(super) fn affinity_term(a: &AffDesc, own: usize, apps: usize) -> Value {
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
