//! Watches (kube-runtime watchers, not polling, so timing the run costs the
//! API server little) over the run's pods and every Node: which pods are
//! Running, which nodes exist and are Ready, and when the last one became
//! Ready.

use std::collections::{BTreeMap, BTreeSet};
use std::sync::{Arc, Mutex, MutexGuard, PoisonError};
use std::time::Instant;

use futures::StreamExt;
use k8s_openapi::api::core::v1::{Node, Pod};
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
}

#[derive(Default)]
pub struct Observed {
    pub running: BTreeSet<String>,
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
                        seen.nodes.insert(
                            name,
                            SeenNode {
                                shape: shape(&node),
                                ready,
                                deleted: false,
                            },
                        );
                    }
                    Ok(Event::Delete(node)) => {
                        if let Some(n) = seen.nodes.get_mut(&node.name_any()) {
                            n.deleted = true;
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
