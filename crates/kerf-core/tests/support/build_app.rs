//! Building apps (groups of identical pending pods) and whole cases.

use super::*;

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
            if !self.volume.is_multiple_of(4) {
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

pub(super) fn storage_classes() -> Vec<StorageClass> {
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
            pending: pending.into_iter().map(std::sync::Arc::new).collect(),
            expected: Vec::new(),
            nodes: self
                .nodes
                .iter()
                .enumerate()
                .map(|(i, n)| n.build(i, &catalogue, apps, self.templates.len()))
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
