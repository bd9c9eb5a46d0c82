//! The replay: every placement in order, each pod checked against kube-scheduler's filters on its node at that moment.

use super::*;

pub(super) struct Validator<'a> {
    pub(super) snapshot: &'a Snapshot,
    pub(super) plan: &'a Plan,
    pub(super) pods: Vec<PodRec<'a>>,
    pub(super) nodes: Vec<NodeRec>,
    /// Pending pod key → arena index (first occurrence).
    pub(super) pending: BTreeMap<PodKey, usize>,
    pub(super) existing_by_name: BTreeMap<String, usize>,
    pub(super) planned_by_name: BTreeMap<String, usize>,
    /// Arena index → where the replay put it.
    pub(super) placed_on: BTreeMap<usize, Vec<usize>>,
    pub(super) out: Vec<Violation>,
}

impl<'a> Validator<'a> {
    pub(super) fn new(snapshot: &'a Snapshot, plan: &'a Plan) -> Self {
        let mut v = Validator {
            snapshot,
            plan,
            pods: Vec::new(),
            nodes: Vec::new(),
            pending: BTreeMap::new(),
            existing_by_name: BTreeMap::new(),
            planned_by_name: BTreeMap::new(),
            placed_on: BTreeMap::new(),
            out: Vec::new(),
        };
        for n in &snapshot.nodes {
            let mut labels = n.labels.clone();
            // Every registered node carries its hostname label.
            labels
                .entry(HOSTNAME.to_string())
                .or_insert_with(|| n.name.clone());
            let mut taints = n.taints.clone();
            // The node lifecycle controller taints cordoned nodes (TaintNodesByCondition).
            if n.unschedulable
                && !taints
                    .iter()
                    .any(|t| t.key == UNSCHEDULABLE_TAINT && t.effect == "NoSchedule")
            {
                taints.push(Taint {
                    key: UNSCHEDULABLE_TAINT.into(),
                    value: None,
                    effect: "NoSchedule".into(),
                    time_added: None,
                });
            }
            let mut node = NodeRec {
                name: n.name.clone(),
                labels,
                taints,
                cordoned: n.unschedulable,
                deleting: n.marked_for_deletion,
                allocatable: n.allocatable.clone(),
                used: Resources::default(),
                ports: Vec::new(),
                pods: Vec::new(),
            };
            for pod in n.pods.iter().filter(|p| !is_terminal(p)) {
                let rec = PodRec::new(pod);
                // An unparseable bound pod still takes a pod slot.
                node.used
                    .add(&rec.requests.clone().unwrap_or_else(|_| Resources {
                        pods: MILLI,
                        ..Default::default()
                    }));
                node.ports.extend(rec.ports.iter().cloned());
                node.pods.push(v.pods.len());
                v.pods.push(rec);
            }
            if v.existing_by_name
                .insert(n.name.clone(), v.nodes.len())
                .is_some()
            {
                v.violation(
                    None,
                    Some(&n.name),
                    Rule::PlanConsistency,
                    "two existing nodes share this name".into(),
                );
            }
            v.nodes.push(node);
        }
        for p in &plan.new_nodes {
            let node = NodeRec {
                name: p.name.clone(),
                labels: p.labels.clone(),
                taints: p.taints.clone(),
                cordoned: false,
                deleting: false,
                allocatable: p.allocatable.clone(),
                used: p.daemon_requests.clone(),
                // A daemon's host port is taken on the node before any pod lands.
                ports: super::plan_checks::daemon_pods(&snapshot.daemonsets, p)
                    .iter()
                    .flat_map(host_ports)
                    .collect(),
                pods: Vec::new(),
            };
            if v.planned_by_name
                .insert(p.name.clone(), v.nodes.len())
                .is_some()
            {
                v.violation(
                    None,
                    Some(&p.name),
                    Rule::PlanConsistency,
                    "two planned nodes share this name".into(),
                );
            }
            v.nodes.push(node);
        }
        for pod in &snapshot.pending {
            let rec = PodRec::new(pod);
            v.pending.entry(rec.key.clone()).or_insert(v.pods.len());
            v.pods.push(rec);
        }
        v
    }

    pub(super) fn violation(
        &mut self,
        pod: Option<&PodKey>,
        node: Option<&str>,
        rule: Rule,
        detail: String,
    ) {
        self.out.push(Violation {
            pod: pod.cloned(),
            node: node.map(str::to_string),
            rule,
            detail,
        });
    }

    pub(super) fn namespace_labels(&self) -> impl Fn(&str) -> BTreeMap<String, String> + '_ {
        |ns: &str| {
            let mut labels = self
                .snapshot
                .namespaces
                .get(ns)
                .cloned()
                .unwrap_or_default();
            // The API server sets this immutable label on every namespace.
            labels.insert(NAMESPACE_NAME_LABEL.to_string(), ns.to_string());
            labels
        }
    }

    pub(super) fn replay(&mut self) {
        for placement in &self.plan.placements {
            let Some(&p) = self.pending.get(&placement.pod) else {
                self.violation(
                    Some(&placement.pod),
                    None,
                    Rule::UnknownPod,
                    "placed but not pending".into(),
                );
                continue;
            };
            let (node, name) = match &placement.target {
                Target::Existing(name) => (self.existing_by_name.get(name).copied(), name),
                Target::New(name) => (self.planned_by_name.get(name).copied(), name),
            };
            let Some(n) = node else {
                self.violation(
                    Some(&placement.pod),
                    Some(name),
                    Rule::UnknownNode,
                    format!("target {:?} is not a node", placement.target),
                );
                continue;
            };
            if self.placed_on.get(&p).is_some_and(|on| !on.is_empty()) {
                self.violation(
                    Some(&placement.pod),
                    Some(name),
                    Rule::Duplicated,
                    "placed more than once".into(),
                );
                continue;
            }
            let failures = self.check(p, n);
            for (rule, detail) in failures {
                let key = self.pods[p].key.clone();
                let node_name = self.nodes[n].name.clone();
                self.violation(Some(&key), Some(&node_name), rule, detail);
            }
            // Commit whatever the verdict, so later pods see the plan as written.
            let requests = self.pods[p].requests.clone().unwrap_or_default();
            let ports = self.pods[p].ports.clone();
            let node = &mut self.nodes[n];
            node.used.add(&requests);
            node.ports.extend(ports);
            node.pods.push(p);
            self.placed_on.entry(p).or_default().push(n);
        }
    }

    /// Every filter for pod `p` on node `n`, in the current state.
    pub(super) fn check(&self, p: usize, n: usize) -> Vec<(Rule, String)> {
        let pod = &self.pods[p];
        let node = &self.nodes[n];
        let mut out = Vec::new();

        if node.deleting {
            out.push((Rule::NodeDeleting, "node is marked for deletion".into()));
        }
        if node.cordoned {
            let cordon = Taint {
                key: UNSCHEDULABLE_TAINT.into(),
                value: None,
                effect: "NoSchedule".into(),
                time_added: None,
            };
            if !pod.tolerations().iter().any(|t| tolerates(t, &cordon)) {
                out.push((
                    Rule::Cordoned,
                    "node is cordoned (spec.unschedulable)".into(),
                ));
            }
        }
        match &pod.requests {
            Err(e) => out.push((Rule::InvalidPod, e.to_string())),
            Ok(requests) => {
                for (name, amount) in requests.iter().filter(|(_, a)| *a > 0) {
                    let free = node.allocatable.get(name) - node.used.get(name);
                    if amount > free {
                        out.push((
                            Rule::Resources,
                            format!(
                                "{name}: requests {}, {} free of {} allocatable",
                                format_amount(name, amount),
                                format_amount(name, free),
                                format_amount(name, node.allocatable.get(name))
                            ),
                        ));
                    }
                }
            }
        }
        // The cordon taint is reported as Cordoned above.
        let taints: Vec<Taint> = node
            .taints
            .iter()
            .filter(|t| !(node.cordoned && t.key == UNSCHEDULABLE_TAINT))
            .cloned()
            .collect();
        if let Some(t) = untolerated(pod.tolerations(), &taints) {
            out.push((
                Rule::Taints,
                format!("taint {} not tolerated", describe_taint(t)),
            ));
        }
        if let Some(why) = node_selector_failure(pod.pod, &node.labels) {
            out.push((Rule::NodeSelector, why));
        }
        if let Some(sel) = required_node_affinity(pod.pod)
            && !node_selector_matches(sel, &node.labels, &node.name)
        {
            out.push((
                Rule::NodeAffinity,
                "no required nodeSelectorTerm matches the node".into(),
            ));
        }
        for port in &pod.ports {
            if let Some(used) = node.ports.iter().find(|q| q.conflicts(port)) {
                out.push((
                    Rule::HostPorts,
                    format!("host port {port} conflicts with {used} in use"),
                ));
            }
        }
        out.extend(
            self.check_volumes(pod, node)
                .into_iter()
                .map(|d| (Rule::VolumeZone, d)),
        );
        out.extend(self.check_pod_affinity(pod, node));
        out.extend(self.check_spread(pod, node));
        out
    }
}
