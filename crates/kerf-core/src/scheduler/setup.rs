//! Turning a snapshot into solver state: pods compiled, templates prepared
//! (instance types in price order, daemonset overhead, limits), existing nodes
//! with what is already bound, and the topology domains spread constraints count.

use super::*;

impl<'a> Solver<'a> {
    pub(super) fn new(snapshot: &'a Snapshot) -> Self {
        let volumes = VolumeIndex::new(
            &snapshot.claims,
            &snapshot.volumes,
            &snapshot.storage_classes,
        );
        let mut plan = Plan::default();

        let mut pending = Vec::new();
        for pod in &snapshot.pending {
            match compile_pod(pod, &volumes) {
                Ok(info) if info.is_daemon => {}
                Ok(mut info) => {
                    if snapshot.options.preference_policy == PreferencePolicy::Ignore {
                        info.ignore_preferences();
                    }
                    pending.push(Pending {
                        info,
                        member_of: Vec::new(),
                        relaxed: Vec::new(),
                    });
                }
                Err(e) => plan.unschedulable.push(Unschedulable {
                    pod: e.pod.clone(),
                    reason: format!("{}: {}", e.field, e.message),
                }),
            }
        }

        if !snapshot.expected.is_empty() {
            let index: BTreeMap<pod::PodKey, usize> = pending
                .iter()
                .enumerate()
                .map(|(i, p)| (p.info.key.clone(), i))
                .collect();
            for e in &snapshot.expected {
                // Expected copies of a pod that could not be read are left out with it.
                let Some(&like) = index.get(&e.like) else {
                    continue;
                };
                for key in e.keys() {
                    let mut info = pending[like].info.clone();
                    info.key = key;
                    info.uid = String::new();
                    info.creation = String::new();
                    info.expected = true;
                    pending.push(Pending {
                        info,
                        member_of: Vec::new(),
                        relaxed: Vec::new(),
                    });
                }
            }
        }

        // A DaemonSet kerf cannot read is left out here; the state layer and
        // the simulator report it by name.
        let daemons: Vec<Daemon> = snapshot
            .daemonsets
            .iter()
            .filter_map(|ds| daemons::daemon(ds).ok().flatten())
            .collect();

        let mut templates: Vec<Tmpl> = snapshot
            .templates
            .iter()
            .map(|t| {
                let pool_nodes = snapshot
                    .nodes
                    .iter()
                    .filter(|n| n.pool.as_ref() == Some(&t.pool))
                    .count();
                prepare_template(t, &daemons, pool_nodes as i64)
            })
            .collect();
        templates.sort_by(|a, b| {
            b.t.weight
                .cmp(&a.t.weight)
                .then_with(|| a.t.pool.cmp(&b.t.pool))
        });

        let mut topology = Topology::new(snapshot.namespaces.clone(), !templates.is_empty());
        for p in &pending {
            topology.register_pod(&p.info);
        }
        let mut nodes = Vec::new();
        let mut bound: Vec<(usize, PodInfo)> = Vec::new();
        for n in &snapshot.nodes {
            let mut taints = n.taints.clone();
            if n.unschedulable {
                taints.push(Taint {
                    key: UNSCHEDULABLE_TAINT.into(),
                    effect: taints::NO_SCHEDULE.into(),
                    value: None,
                    time_added: None,
                });
            }
            let mut remaining = n.allocatable.clone();
            let mut ports = Vec::new();
            let hostname = n
                .labels
                .get(kerf_api::labels::HOSTNAME)
                .cloned()
                .unwrap_or_else(|| n.name.clone());
            let mut labels = n.labels.clone();
            labels.insert(kerf_api::labels::HOSTNAME.to_string(), hostname);
            for d in daemons_to_come(&daemons, n, &labels) {
                remaining.sub(&d.info.requests);
                ports.extend(d.info.host_ports.iter().cloned());
            }
            for pod in n.pods.iter().filter(|p| !is_terminal(p)) {
                if let Ok(info) = compile_pod(pod, &volumes)
                    .or_else(|_| compile_pod(pod, &VolumeIndex::default()))
                {
                    remaining.sub(&info.requests);
                    ports.extend(info.host_ports.iter().cloned());
                    for t in &info.anti_affinity {
                        topology.register(t);
                    }
                    bound.push((nodes.len(), info));
                } else if let Ok(requests) = pod::pod_requests(pod) {
                    remaining.sub(&requests);
                }
            }
            nodes.push(Node {
                n,
                labels,
                taints,
                remaining,
                ports,
                placed: Vec::new(),
            });
        }

        // Domains spread constraints count: existing nodes' labels and whatever templates can launch.
        for key in topology.topology_keys().to_vec() {
            for (n, node) in nodes.iter().enumerate() {
                if let Some(v) = node_label(node, &key) {
                    topology.add_domain(&key, v, DomainSource::Node(n as NodeRef));
                }
            }
            if key == kerf_api::labels::HOSTNAME {
                continue;
            }
            for (t, tmpl) in templates.iter().enumerate() {
                for v in template_domains(tmpl, &key) {
                    topology.add_domain(&key, &v, DomainSource::Template(t));
                }
            }
        }
        for (node, info) in &bound {
            let member_of = topology.member_of(&info.key.namespace, &info.labels);
            let domains = node_domains(&topology, &nodes[*node]);
            topology.record(&member_of, &info.anti_affinity, *node as NodeRef, |key| {
                lookup(&domains, key)
            });
        }
        for p in &mut pending {
            p.member_of = topology.member_of(&p.info.key.namespace, &p.info.labels);
        }

        Solver {
            snapshot,
            templates,
            nodes,
            claims: Vec::new(),
            claim_order: BTreeSet::new(),
            topology,
            pending,
            placements: Vec::new(),
            plan,
        }
    }
}

pub(crate) fn compile_pod(pod: &Pod, volumes: &VolumeIndex) -> Result<PodInfo, pod::PodError> {
    let volume_reqs = volumes
        .requirements_for(pod)
        .map_err(|(field, message)| pod::PodError {
            pod: pod::PodKey::of(pod),
            field,
            message,
        })?;
    pod::compile_with_volumes(pod, &volume_reqs)
}

/// DaemonSets that will run on the node but have no pod there yet (it is
/// still launching, or the pod is not created): their requests are as good
/// as taken.
fn daemons_to_come<'d>(
    daemons: &'d [Daemon],
    node: &crate::snapshot::ExistingNode,
    labels: &BTreeMap<String, String>,
) -> impl Iterator<Item = &'d Daemon> {
    let running: Vec<(String, String)> = node
        .pods
        .iter()
        .filter(|p| !is_terminal(p))
        .filter_map(|p| daemons::owner(p))
        .collect();
    daemons.iter().filter(move |d| {
        !running
            .iter()
            .any(|(ns, name)| *ns == d.namespace && *name == d.name)
            && daemons::runs_on(&d.info, labels, &node.taints)
    })
}

pub(crate) fn is_terminal(pod: &Pod) -> bool {
    matches!(
        pod.status.as_ref().and_then(|s| s.phase.as_deref()),
        Some("Succeeded") | Some("Failed")
    )
}

pub(super) fn node_label<'n>(node: &'n Node, key: &str) -> Option<&'n String> {
    node.labels.get(key)
}

/// The node's domain per topology key (values were interned when the universe was built).
pub(super) fn node_domains(topology: &Topology, node: &Node) -> Vec<(String, Option<DomainId>)> {
    topology
        .topology_keys()
        .iter()
        .map(|k| {
            let d = node_label(node, k).and_then(|v| topology.domains.get(v));
            (k.clone(), d)
        })
        .collect()
}

pub(super) fn lookup(domains: &[(String, Option<DomainId>)], key: &str) -> Option<DomainId> {
    domains.iter().find(|(k, _)| k == key).and_then(|(_, d)| *d)
}

/// What the template's resource limits leave for new nodes (limit less the
/// pool's capacity in use), or `None` when it limits no resource. A resource
/// the limits do not name is unlimited, extended ones (GPUs) of `types`
/// included: `fits_in` counts a name the headroom lacks as zero, which would
/// make every GPU type over limit.
pub(crate) fn limit_headroom(t: &NodeTemplate, types: &[Arc<InstanceType>]) -> Option<Resources> {
    let mut limits = t
        .limits
        .iter()
        .filter(|(name, _)| *name != NODE_LIMIT)
        .peekable();
    limits.peek()?;
    let unlimited = i64::MAX / 4;
    let mut r = Resources {
        cpu: unlimited,
        memory: unlimited,
        pods: unlimited,
        ephemeral_storage: unlimited,
        extended: BTreeMap::new(),
    };
    for it in types {
        for name in it.capacity.extended.keys() {
            r.extended.insert(name.clone(), unlimited);
        }
    }
    for (name, v) in limits {
        r.set(name, v - t.in_use.get(name));
    }
    Some(r)
}

/// A template's instance types that can ever serve it, its daemonset
/// overhead, and what its limits leave (`pool_nodes`: its nodes in the snapshot).
pub(super) fn prepare_template<'a>(
    t: &'a NodeTemplate,
    daemons: &[Daemon],
    pool_nodes: i64,
) -> Tmpl<'a> {
    // Cheapest first, so the first type that fits a planned node is (nearly
    // always) the one it will get and checks can stop there.
    let mut priced: Vec<(f64, Arc<InstanceType>)> = t
        .instance_types
        .iter()
        .filter(|it| it.requirements.intersects(&t.requirements).is_ok())
        .filter_map(|it| {
            it.cheapest_offering(&t.requirements)
                .map(|o| (o.price, it.clone()))
        })
        .collect();
    priced.sort_by(|a, b| a.0.total_cmp(&b.0).then_with(|| a.1.name.cmp(&b.1.name)));
    let types: Vec<Arc<InstanceType>> = priced.into_iter().map(|(_, it)| it).collect();
    let daemons = super::daemon_load::DaemonLoads::new(t, &types, daemons);
    let remaining = limit_headroom(t, &types);
    // Whole nodes only: a limit of 2.5 allows a third node no more than 2 does.
    let nodes_left = t
        .limits
        .get(NODE_LIMIT)
        .map(|limit| ((limit - pool_nodes.saturating_mul(MILLI)) / MILLI).max(0));
    Tmpl {
        t,
        offers: super::offers::OfferIndex::new(&types),
        types,
        daemons,
        remaining,
        nodes_in_use: pool_nodes,
        nodes_left,
    }
}

/// Values a template can launch with for a topology key.
pub(super) fn template_domains(t: &Tmpl, key: &str) -> BTreeSet<String> {
    let mut out = BTreeSet::new();
    let req = t.t.requirements.get(key);
    for it in &t.types {
        let values: Vec<String> = if key == kerf_api::labels::ZONE {
            it.offerings_for(&t.t.requirements)
                .map(|o| o.zone.clone())
                .collect()
        } else if key == kerf_api::labels::CAPACITY_TYPE {
            it.offerings_for(&t.t.requirements)
                .map(|o| o.capacity_type.clone())
                .collect()
        } else if key == kerf_api::labels::ZONE_ID {
            it.offerings_for(&t.t.requirements)
                .filter_map(|o| o.zone_id.clone())
                .collect()
        } else if let Some(v) = it.labels.get(key) {
            vec![v.clone()]
        } else if let Some(r) = req.filter(|r| !r.complement) {
            r.values.iter().cloned().collect()
        } else {
            Vec::new()
        };
        out.extend(values.into_iter().filter(|v| req.is_none_or(|r| r.has(v))));
    }
    out
}
