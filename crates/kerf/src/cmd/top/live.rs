//! The cluster as `kerf top` sees it: one kube-runtime reflector per kind
//! (Nodes, Pods, NodeClaims), each a watch that keeps a local store current;
//! every change ticks a [`tokio::sync::watch`] channel so the screen redraws
//! when the cluster changes, not on a timer. A watch's last error is kept
//! for the screen (the watcher retries with backoff).

use std::collections::BTreeMap;
use std::fmt::Debug;
use std::sync::{Arc, Mutex, PoisonError};
use std::time::Duration;

use futures::{FutureExt, StreamExt};
use k8s_openapi::api::core::v1::{Node, Pod};
use kerf_api::v1::NodeClaim;
use kube::runtime::reflector::{self, Store};
use kube::runtime::watcher::{self, watcher};
use kube::runtime::{WatchStreamExt, reflector::store::Writer};
use kube::{Api, Client, Resource};
use serde::de::DeserializeOwned;
use tokio::sync::watch;
use tokio::task::JoinSet;

use super::view::Snapshot;

/// The three stores, the change signal and the watches' errors.
pub struct Fleet {
    nodes: Store<Node>,
    pods: Store<Pod>,
    claims: Store<NodeClaim>,
    /// Ticks on every change any watch sees.
    pub changed: watch::Receiver<u64>,
    errors: Arc<Mutex<BTreeMap<&'static str, String>>>,
    _tasks: JoinSet<()>,
}

impl Fleet {
    /// Starts the watches (they stop when the `Fleet` is dropped).
    pub fn watch(client: &Client) -> Fleet {
        let (tick, changed) = watch::channel(0);
        let errors = Arc::new(Mutex::new(BTreeMap::new()));
        let mut tasks = JoinSet::new();
        let nodes = spawn::<Node>(&mut tasks, "Nodes", client, &tick, &errors);
        let pods = spawn::<Pod>(&mut tasks, "Pods", client, &tick, &errors);
        let claims = spawn::<NodeClaim>(&mut tasks, "NodeClaims", client, &tick, &errors);
        Fleet {
            nodes,
            pods,
            claims,
            changed,
            errors,
            _tasks: tasks,
        }
    }

    /// Waits until every kind has been listed once, or `timeout`; on timeout
    /// the kinds still missing, with their watches' last errors.
    pub async fn ready(&self, timeout: Duration) -> Result<(), NotListed> {
        let all = async {
            let _ = self.nodes.wait_until_ready().await;
            let _ = self.pods.wait_until_ready().await;
            let _ = self.claims.wait_until_ready().await;
        };
        if tokio::time::timeout(timeout, all).await.is_ok() {
            return Ok(());
        }
        let errors = self.errors();
        let missing = [
            ("Nodes", listed(&self.nodes)),
            ("Pods", listed(&self.pods)),
            ("NodeClaims", listed(&self.claims)),
        ]
        .into_iter()
        .filter(|(_, ready)| !ready)
        .map(|(kind, _)| Unlisted {
            kind,
            last_error: errors.get(kind).cloned(),
        })
        .collect();
        Err(NotListed {
            after: timeout,
            missing,
        })
    }

    /// What the stores hold now, at `now`.
    pub fn snapshot(&self, now: kerf_sim::Timestamp) -> Snapshot {
        Snapshot {
            nodes: self.nodes.state(),
            pods: self.pods.state(),
            claims: self.claims.state(),
            now,
        }
    }

    /// Each watch's last error since it last worked, by kind.
    pub fn errors(&self) -> BTreeMap<&'static str, String> {
        self.errors
            .lock()
            .unwrap_or_else(PoisonError::into_inner)
            .clone()
    }
}

/// Kinds whose first list did not arrive within `after`.
#[derive(Debug, thiserror::Error)]
#[error("not listed after {}s: {}", .after.as_secs(), comma_separated(.missing))]
pub struct NotListed {
    after: Duration,
    missing: Vec<Unlisted>,
}

/// One kind not listed yet, with its watch's last error if it had one.
#[derive(Debug)]
struct Unlisted {
    kind: &'static str,
    last_error: Option<String>,
}

impl std::fmt::Display for Unlisted {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        match &self.last_error {
            Some(e) => write!(f, "{} ({e})", self.kind),
            None => f.write_str(self.kind),
        }
    }
}

fn comma_separated(missing: &[Unlisted]) -> String {
    missing
        .iter()
        .map(ToString::to_string)
        .collect::<Vec<_>>()
        .join(", ")
}

/// Whether the store's first list has arrived.
fn listed<K: Resource<DynamicType = ()> + Clone>(store: &Store<K>) -> bool {
    store.wait_until_ready().now_or_never().is_some()
}

fn spawn<K>(
    tasks: &mut JoinSet<()>,
    kind: &'static str,
    client: &Client,
    tick: &watch::Sender<u64>,
    errors: &Arc<Mutex<BTreeMap<&'static str, String>>>,
) -> Store<K>
where
    K: Resource<DynamicType = ()> + Clone + Debug + DeserializeOwned + Send + Sync + 'static,
{
    let (store, writer): (Store<K>, Writer<K>) = reflector::store();
    let stream = watcher(Api::<K>::all(client.clone()), watcher::Config::default())
        .default_backoff()
        // Managed fields are most of an object's size and none of the view.
        .modify(|o| o.meta_mut().managed_fields = None)
        .reflect(writer);
    let tick = tick.clone();
    let errors = errors.clone();
    tasks.spawn(async move {
        let mut stream = std::pin::pin!(stream);
        while let Some(event) = stream.next().await {
            let mut errors = errors.lock().unwrap_or_else(PoisonError::into_inner);
            match event {
                Ok(_) => {
                    errors.remove(kind);
                    tick.send_modify(|n| *n = n.wrapping_add(1));
                }
                Err(e) => {
                    errors.insert(kind, e.to_string());
                }
            }
        }
    });
    store
}
