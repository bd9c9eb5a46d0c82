//! Whole-plan checks: every pod accounted for once, the plan's lists agreeing, planned nodes matching their template, type and offering, and limits.

use super::*;

impl<'a> Validator<'a> {
    pub(super) fn check_accounting(&mut self) {
        let mut unschedulable: BTreeMap<PodKey, usize> = BTreeMap::new();
        for u in &self.plan.unschedulable {
            *unschedulable.entry(u.pod.clone()).or_insert(0) += 1;
            if !self.pending.contains_key(&u.pod) {
                self.violation(
                    Some(&u.pod),
                    None,
                    Rule::UnknownPod,
                    "listed unschedulable but not pending".into(),
                );
            }
        }
        let pending: Vec<(PodKey, usize)> =
            self.pending.iter().map(|(k, v)| (k.clone(), *v)).collect();
        for (key, p) in pending {
            let placed = self.placed_on.get(&p).map_or(0, Vec::len);
            let listed = unschedulable.get(&key).copied().unwrap_or(0);
            match placed + listed {
                0 if self.pods[p].daemon => {}
                0 => self.violation(
                    Some(&key),
                    None,
                    Rule::Lost,
                    "neither placed nor listed as unschedulable".into(),
                ),
                1 => {}
                _ => self.violation(
                    Some(&key),
                    None,
                    Rule::Duplicated,
                    format!("placed {placed} time(s) and listed unschedulable {listed} time(s)"),
                ),
            }
        }
    }

    /// `new_nodes[].pods`, `existing[].pods` and `pod_requests` agree with `placements`.
    pub(super) fn check_plan_lists(&mut self) {
        let mut by_target: BTreeMap<(bool, String), Vec<PodKey>> = BTreeMap::new();
        for p in &self.plan.placements {
            let (new, name) = match &p.target {
                Target::Existing(n) => (false, n.clone()),
                Target::New(n) => (true, n.clone()),
            };
            by_target
                .entry((new, name))
                .or_default()
                .push(p.pod.clone());
        }
        let mut listed: BTreeMap<(bool, String), Vec<PodKey>> = BTreeMap::new();
        for n in &self.plan.new_nodes {
            listed
                .entry((true, n.name.clone()))
                .or_default()
                .extend(n.pods.iter().cloned());
        }
        for e in &self.plan.existing {
            if !self.existing_by_name.contains_key(&e.node) {
                self.violation(
                    None,
                    Some(&e.node),
                    Rule::UnknownNode,
                    "existing placement names no existing node".into(),
                );
            }
            listed
                .entry((false, e.node.clone()))
                .or_default()
                .extend(e.pods.iter().cloned());
        }
        let targets: BTreeSet<(bool, String)> =
            by_target.keys().chain(listed.keys()).cloned().collect();
        for t in targets {
            let mut a = by_target.get(&t).cloned().unwrap_or_default();
            let mut b = listed.get(&t).cloned().unwrap_or_default();
            a.sort();
            b.sort();
            if a != b {
                let kind = if t.0 {
                    "planned node's pods"
                } else {
                    "existing placement's pods"
                };
                self.violation(
                    None,
                    Some(&t.1),
                    Rule::PlanConsistency,
                    format!("{kind} {b:?} differ from placements {a:?}"),
                );
            }
        }
        for n in &self.plan.new_nodes {
            if n.pods.is_empty() {
                self.violation(
                    None,
                    Some(&n.name),
                    Rule::PlanConsistency,
                    "planned node holds no pods".into(),
                );
            }
            let mut sum = Resources::default();
            for k in &n.pods {
                if let Some(r) = self
                    .pending
                    .get(k)
                    .and_then(|p| self.pods[*p].requests.as_ref().ok())
                {
                    sum.add(r);
                }
            }
            if sum != n.pod_requests {
                self.violation(
                    None,
                    Some(&n.name),
                    Rule::PlanConsistency,
                    format!("pod_requests {} but pods request {sum}", n.pod_requests),
                );
            }
        }
    }

    pub(super) fn check_planned_nodes(&mut self) {
        for node in &self.plan.new_nodes {
            let name = node.name.clone();
            let mut bad = |rule: Rule, detail: String| {
                self.out.push(Violation {
                    pod: None,
                    node: Some(name.clone()),
                    rule,
                    detail,
                })
            };
            let Some(tmpl) = self.snapshot.templates.iter().find(|t| t.pool == node.pool) else {
                bad(Rule::Offering, format!("no template for {}", node.pool));
                continue;
            };
            let chosen = &node.chosen;
            if node.options.first() != Some(chosen) {
                bad(Rule::Offering, "chosen is not options[0]".into());
            }
            let Some(it) = tmpl
                .instance_types
                .iter()
                .find(|it| it.name == chosen.instance_type)
            else {
                bad(
                    Rule::Offering,
                    format!(
                        "{} has no instance type {}",
                        node.pool, chosen.instance_type
                    ),
                );
                continue;
            };
            let offering = it
                .offerings
                .iter()
                .find(|o| o.zone == chosen.zone && o.capacity_type == chosen.capacity_type);
            let zone_id = offering.and_then(|o| o.zone_id.clone());
            match offering {
                None => bad(
                    Rule::Offering,
                    format!(
                        "{} has no offering {}/{}",
                        it.name, chosen.zone, chosen.capacity_type
                    ),
                ),
                Some(o) => {
                    if !o.available {
                        bad(
                            Rule::Offering,
                            format!(
                                "offering {}/{} of {} is unavailable",
                                o.zone, o.capacity_type, it.name
                            ),
                        );
                    }
                    if o.price != chosen.price {
                        bad(
                            Rule::Offering,
                            format!("price {} but the offering costs {}", chosen.price, o.price),
                        );
                    }
                }
            }
            for (what, reqs) in [
                ("template", &tmpl.requirements),
                ("node", &node.requirements),
            ] {
                for (key, value) in [
                    (ZONE, Some(&chosen.zone)),
                    (ZONE_ID, zone_id.as_ref()),
                    (CAPACITY_TYPE, Some(&chosen.capacity_type)),
                    (INSTANCE_TYPE, Some(&chosen.instance_type)),
                ] {
                    let Some(value) = value else { continue };
                    if let Some(r) = reqs.get(key)
                        && !r.has(value)
                    {
                        bad(
                            Rule::Offering,
                            format!("{what} requirement {r} excludes {key}={value}"),
                        );
                    }
                }
            }
            // Labels: offering, instance type, template, hostname.
            let mut expect: Vec<(String, String)> = vec![
                (ZONE.into(), chosen.zone.clone()),
                (CAPACITY_TYPE.into(), chosen.capacity_type.clone()),
                (HOSTNAME.into(), node.name.clone()),
            ];
            expect.extend(zone_id.map(|id| (ZONE_ID.into(), id)));
            expect.extend(it.labels.iter().map(|(k, v)| (k.clone(), v.clone())));
            expect.extend(tmpl.labels.iter().map(|(k, v)| (k.clone(), v.clone())));
            for (k, v) in expect {
                if node.labels.get(&k) != Some(&v) {
                    bad(
                        Rule::Labels,
                        format!("label {k}={:?}, expected {v:?}", node.labels.get(&k)),
                    );
                }
            }
            for (what, reqs) in [
                ("template", &tmpl.requirements),
                ("node", &node.requirements),
            ] {
                for r in reqs.iter() {
                    if let Some(v) = node.labels.get(&r.key)
                        && !r.has(v)
                    {
                        bad(
                            Rule::Labels,
                            format!("label {}={v} violates {what} requirement {r}", r.key),
                        );
                    }
                }
            }
            for t in &tmpl.taints {
                if !node.taints.contains(t) {
                    bad(
                        Rule::Taints,
                        format!(
                            "template taint {} missing from the planned node",
                            describe_taint(t)
                        ),
                    );
                }
            }
            if &node.allocatable != it.allocatable() {
                bad(
                    Rule::Allocatable,
                    format!(
                        "allocatable {} but {} has {}",
                        node.allocatable,
                        it.name,
                        it.allocatable()
                    ),
                );
            }
            // Daemonsets that will land on the node.
            let mut daemons = Resources::default();
            for pod in daemon_pods(&self.snapshot.daemonsets, node) {
                daemons.add(&pod_requests(&pod).unwrap_or_default());
            }
            if let Some((name, need, have)) = daemons
                .iter()
                .find(|(name, v)| *v > node.daemon_requests.get(name))
                .map(|(n, v)| (n, v, node.daemon_requests.get(n)))
            {
                bad(
                    Rule::DaemonOverhead,
                    format!(
                        "daemonsets need {} {name}, daemon_requests has {}",
                        format_amount(name, need),
                        format_amount(name, have)
                    ),
                );
            }
        }
    }

    pub(super) fn check_limits(&mut self) {
        for tmpl in &self.snapshot.templates {
            if tmpl.limits.is_empty() {
                continue;
            }
            let mut total = tmpl.in_use.clone();
            // `nodes` counts the pool's nodes, registered or in flight, and the new ones.
            let pool_nodes = self
                .snapshot
                .nodes
                .iter()
                .filter(|n| n.pool.as_ref() == Some(&tmpl.pool))
                .count();
            let new_nodes = self
                .plan
                .new_nodes
                .iter()
                .filter(|n| n.pool == tmpl.pool)
                .count();
            total.set(NODE_LIMIT, (pool_nodes + new_nodes) as i64 * MILLI);
            let mut any = false;
            for node in self.plan.new_nodes.iter().filter(|n| n.pool == tmpl.pool) {
                let Some(it) = tmpl
                    .instance_types
                    .iter()
                    .find(|it| it.name == node.chosen.instance_type)
                else {
                    continue;
                };
                total.add(&it.capacity);
                any = true;
            }
            if !any {
                continue;
            }
            for (name, limit) in &tmpl.limits {
                if total.get(name) > *limit {
                    let detail = format!(
                        "{}: {name} {} in use and planned exceeds limit {} ({})",
                        tmpl.pool,
                        format_amount(name, total.get(name)),
                        format_amount(name, *limit),
                        tmpl.pool.limit_path(name)
                    );
                    self.violation(None, None, Rule::Limits, detail);
                }
            }
        }
    }
}

/// The pods of the DaemonSets that will run on a planned node, as the
/// DaemonSet controller decides once it exists: nodeSelector and required
/// node affinity over its labels, tolerations over its taints. The node will
/// carry `karpenter.sh/registered` and `karpenter.sh/initialized` by then.
pub(super) fn daemon_pods(
    daemonsets: &[k8s_openapi::api::apps::v1::DaemonSet],
    node: &crate::plan::PlannedNode,
) -> Vec<Pod> {
    let mut labels = node.labels.clone();
    for key in [
        kerf_api::labels::NODE_REGISTERED,
        kerf_api::labels::NODE_INITIALIZED,
    ] {
        labels
            .entry(key.to_string())
            .or_insert_with(|| "true".into());
    }
    daemonsets
        .iter()
        .filter_map(|ds| ds.spec.as_ref().and_then(|s| s.template.spec.as_ref()))
        .map(|spec| Pod {
            metadata: Default::default(),
            spec: Some(spec.clone()),
            status: None,
        })
        .filter(|pod| {
            let spec = pod.spec.as_ref();
            let tolerations = spec.and_then(|s| s.tolerations.as_deref()).unwrap_or(&[]);
            untolerated(tolerations, &node.taints).is_none()
                && matches_required_affinity(pod, &labels, &node.name)
        })
        .collect()
}
