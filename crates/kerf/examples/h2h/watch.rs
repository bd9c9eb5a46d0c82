//! Watches (kube-runtime watchers, not polling, so timing the run costs the
//! API server little) over the run's pods and every Node: which pods are
//! Running, which nodes exist and are Ready, when the last one became Ready,
//! and when each pod and node was first seen and each node went away (the
//! scale-down phase counts evictions and fleet changes from those).

use std::collections::{BTreeMap, BTreeSet};
use std::sync::{Arc, Mutex, MutexGuard, PoisonError};
use std::time::Instant;

use futures::StreamExt;
use k8s_openapi::api::core::v1::{Node, Pod};
use kerf_cloud::Catalog;
use kube::runtime::WatchStreamExt;
use kube::runtime::watcher::{self, Event};
use kube::{Api, Client, ResourceExt};

/// A node as the run saw it.
#[derive(Clone, Debug)]
pub struct SeenNode {
    /// `instance-type/capacity-type/zone` from the node's labels.
    pub shape: String,
    pub ready: bool,
    pub deleted: bool,
    pub first_seen: Instant,
    pub deleted_at: Option<Instant>,
}

#[derive(Default)]
pub struct Observed {
    pub running: BTreeSet<String>,
    /// When each pod of the run was first seen: a pod first seen after the
    /// scale-down is one the ReplicaSet created for an evicted pod.
    pub pods_first_seen: BTreeMap<String, Instant>,
    /// Every Node seen during the run, also ones deleted since.
    pub nodes: BTreeMap<String, SeenNode>,
    pub last_node_ready: Option<Instant>,
}

impl Observed {
    pub fn ready_nodes(&self) -> usize {
        self.nodes
            .values()
            .filter(|n| n.ready && !n.deleted)
            .count()
    }

    /// Nodes added and removed since `since`, and the last such change.
    pub fn fleet_changes_since(&self, since: Instant) -> FleetChanges {
        let mut changes = FleetChanges::default();
        for node in self.nodes.values() {
            if node.first_seen > since {
                changes.added += 1;
                changes.last = changes.last.max(Some(node.first_seen));
            }
            if let Some(at) = node.deleted_at.filter(|at| *at > since) {
                changes.removed += 1;
                changes.last = changes.last.max(Some(at));
            }
        }
        changes
    }

    /// The nodes standing now, counted by shape, and their $/h at the
    /// catalogue's prices.
    pub fn fleet(&self, catalog: &Catalog) -> anyhow::Result<(BTreeMap<String, usize>, f64)> {
        let mut shapes: BTreeMap<String, usize> = BTreeMap::new();
        let mut dollars = 0.0;
        for node in self.nodes.values().filter(|n| !n.deleted) {
            *shapes.entry(node.shape.clone()).or_default() += 1;
            dollars += price(catalog, &node.shape).ok_or_else(|| {
                anyhow::anyhow!("no catalogue price for node shape {}", node.shape)
            })?;
        }
        Ok((shapes, dollars))
    }

    /// Pods first seen after `since`.
    pub fn pods_created_since(&self, since: Instant) -> usize {
        self.pods_first_seen
            .values()
            .filter(|t| **t > since)
            .count()
    }
}

/// How the fleet changed over a phase of the run.
#[derive(Clone, Copy, Debug, Default)]
pub struct FleetChanges {
    pub added: usize,
    pub removed: usize,
    pub last: Option<Instant>,
}

/// The watches; dropping it stops them.
pub struct Watches {
    observed: Arc<Mutex<Observed>>,
    tasks: Vec<tokio::task::JoinHandle<()>>,
}

impl Watches {
    pub fn start(client: Client, pod_labels: &str) -> Watches {
        let observed = Arc::new(Mutex::new(Observed::default()));
        let pods: Api<Pod> = Api::default_namespaced(client.clone());
        let nodes: Api<Node> = Api::all(client);
        let config = watcher::Config::default().labels(pod_labels);
        let on_pods = observed.clone();
        let pod_task = tokio::spawn(async move {
            let mut stream = watcher::watcher(pods, config).default_backoff().boxed();
            while let Some(event) = stream.next().await {
                let mut seen = lock(&on_pods);
                match event {
                    Ok(Event::Apply(pod) | Event::InitApply(pod)) => {
                        seen.pods_first_seen
                            .entry(pod.name_any())
                            .or_insert_with(Instant::now);
                        let running = pod.status.as_ref().and_then(|s| s.phase.as_deref())
                            == Some("Running")
                            && pod.metadata.deletion_timestamp.is_none();
                        if running {
                            seen.running.insert(pod.name_any());
                        } else {
                            seen.running.remove(&pod.name_any());
                        }
                    }
                    Ok(Event::Delete(pod)) => {
                        seen.running.remove(&pod.name_any());
                    }
                    Ok(Event::Init | Event::InitDone) | Err(_) => {}
                }
            }
        });
        let on_nodes = observed.clone();
        let node_task = tokio::spawn(async move {
            let mut stream = watcher::watcher(nodes, watcher::Config::default())
                .default_backoff()
                .boxed();
            while let Some(event) = stream.next().await {
                let mut seen = lock(&on_nodes);
                match event {
                    Ok(Event::Apply(node) | Event::InitApply(node)) => {
                        let ready = is_ready(&node);
                        let name = node.name_any();
                        let was_ready = seen.nodes.get(&name).is_some_and(|n| n.ready);
                        if ready && !was_ready {
                            seen.last_node_ready = Some(Instant::now());
                        }
                        let first_seen = seen
                            .nodes
                            .get(&name)
                            .map_or_else(Instant::now, |n| n.first_seen);
                        seen.nodes.insert(
                            name,
                            SeenNode {
                                shape: shape(&node),
                                ready,
                                deleted: false,
                                first_seen,
                                deleted_at: None,
                            },
                        );
                    }
                    Ok(Event::Delete(node)) => {
                        if let Some(n) = seen.nodes.get_mut(&node.name_any()) {
                            n.deleted = true;
                            n.deleted_at = Some(Instant::now());
                        }
                    }
                    Ok(Event::Init | Event::InitDone) | Err(_) => {}
                }
            }
        });
        Watches {
            observed,
            tasks: vec![pod_task, node_task],
        }
    }

    pub fn observed(&self) -> MutexGuard<'_, Observed> {
        lock(&self.observed)
    }
}

impl Drop for Watches {
    fn drop(&mut self) {
        for task in &self.tasks {
            task.abort();
        }
    }
}

fn lock(observed: &Mutex<Observed>) -> MutexGuard<'_, Observed> {
    observed.lock().unwrap_or_else(PoisonError::into_inner)
}

fn is_ready(node: &Node) -> bool {
    node.status
        .as_ref()
        .and_then(|s| s.conditions.as_ref())
        .is_some_and(|cs| cs.iter().any(|c| c.type_ == "Ready" && c.status == "True"))
}

fn price(catalog: &Catalog, shape: &str) -> Option<f64> {
    let mut parts = shape.split('/');
    let (it, capacity, zone) = (parts.next()?, parts.next()?, parts.next()?);
    let entry = catalog.get(it)?;
    match capacity {
        "spot" => entry.spot.get(zone).copied(),
        "on-demand" => entry.on_demand,
        _ => None,
    }
}

fn shape(node: &Node) -> String {
    let labels = node.labels();
    let get = |k: &str| labels.get(k).map_or("?", String::as_str);
    format!(
        "{}/{}/{}",
        get("node.kubernetes.io/instance-type"),
        get("karpenter.sh/capacity-type"),
        get("topology.kubernetes.io/zone")
    )
}
