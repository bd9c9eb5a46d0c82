//! Watches feeding the cluster-state cache: one kube-runtime `watcher` per
//! kind (Pods, Nodes, NodeClaims, Provisioners, AWSNodeTemplates, NodePools,
//! EC2NodeClasses, DaemonSets, ReplicaSets, PDBs, PVCs, PVs, StorageClasses, Namespaces).
//! The watcher resumes from its last resourceVersion after errors (backing
//! off) and relists only when the server says the version is gone; a relist
//! replaces the kind's objects atomically at `InitDone`. The state counts as
//! synced once every kind has been listed.

use std::fmt::Debug;
use std::sync::Arc;
use std::sync::atomic::{AtomicUsize, Ordering};

use futures::StreamExt;
use k8s_openapi::api::apps::v1::{DaemonSet, ReplicaSet};
use k8s_openapi::api::core::v1::{Namespace, Node, PersistentVolume, PersistentVolumeClaim, Pod};
use k8s_openapi::api::policy::v1::PodDisruptionBudget;
use k8s_openapi::api::storage::v1::StorageClass;
use kerf_api::v1::{EC2NodeClass, NodeClaim, NodePool};
use kerf_api::v1alpha1::AWSNodeTemplate;
use kerf_api::v1alpha5::Provisioner;
use kerf_state::{ClusterState, Tracked, is_pending};
use kube::Api;
use kube::runtime::WatchStreamExt;
use kube::runtime::watcher::{self, Event};
use serde::de::DeserializeOwned;
use tokio::task::JoinSet;

use crate::context::{Context, ControllerOptions};

/// Spawns one watcher per kind onto `tasks`.
pub fn spawn_all(ctx: &Arc<Context>, tasks: &mut JoinSet<()>) {
    let kinds = Arc::new(AtomicUsize::new(0));
    let c = &ctx.client;
    spawn::<Pod>(tasks, ctx, &kinds, Api::all(c.clone()));
    spawn::<Node>(tasks, ctx, &kinds, Api::all(c.clone()));
    spawn::<NodeClaim>(tasks, ctx, &kinds, Api::all(c.clone()));
    spawn::<Provisioner>(tasks, ctx, &kinds, Api::all(c.clone()));
    spawn::<AWSNodeTemplate>(tasks, ctx, &kinds, Api::all(c.clone()));
    spawn::<NodePool>(tasks, ctx, &kinds, Api::all(c.clone()));
    spawn::<EC2NodeClass>(tasks, ctx, &kinds, Api::all(c.clone()));
    spawn::<DaemonSet>(tasks, ctx, &kinds, Api::all(c.clone()));
    spawn::<ReplicaSet>(tasks, ctx, &kinds, Api::all(c.clone()));
    spawn::<PodDisruptionBudget>(tasks, ctx, &kinds, Api::all(c.clone()));
    spawn::<PersistentVolumeClaim>(tasks, ctx, &kinds, Api::all(c.clone()));
    spawn::<PersistentVolume>(tasks, ctx, &kinds, Api::all(c.clone()));
    spawn::<StorageClass>(tasks, ctx, &kinds, Api::all(c.clone()));
    spawn::<Namespace>(tasks, ctx, &kinds, Api::all(c.clone()));
}

const KIND_COUNT: usize = 14;

/// The cluster as one list of every kind the watches follow, for a command
/// that reads the cluster once (`kerf explain`). A kind whose resource is not
/// installed (no v1alpha5 CRDs, say) has no objects; an object the state
/// cannot take is named in the returned problems, not dropped silently.
pub async fn list_all(client: &kube::Client) -> Result<(ClusterState, Vec<String>), kube::Error> {
    let mut state = ClusterState::new();
    let mut problems = Vec::new();
    list::<Pod>(client, &mut state, &mut problems).await?;
    list::<Node>(client, &mut state, &mut problems).await?;
    list::<NodeClaim>(client, &mut state, &mut problems).await?;
    list::<Provisioner>(client, &mut state, &mut problems).await?;
    list::<AWSNodeTemplate>(client, &mut state, &mut problems).await?;
    list::<NodePool>(client, &mut state, &mut problems).await?;
    list::<EC2NodeClass>(client, &mut state, &mut problems).await?;
    list::<DaemonSet>(client, &mut state, &mut problems).await?;
    list::<ReplicaSet>(client, &mut state, &mut problems).await?;
    list::<PodDisruptionBudget>(client, &mut state, &mut problems).await?;
    list::<PersistentVolumeClaim>(client, &mut state, &mut problems).await?;
    list::<PersistentVolume>(client, &mut state, &mut problems).await?;
    list::<StorageClass>(client, &mut state, &mut problems).await?;
    list::<Namespace>(client, &mut state, &mut problems).await?;
    Ok((state, problems))
}

async fn list<K>(
    client: &kube::Client,
    state: &mut ClusterState,
    problems: &mut Vec<String>,
) -> Result<(), kube::Error>
where
    K: Tracked + kube::Resource + Clone + DeserializeOwned + Debug,
    K::DynamicType: Default,
{
    let api: Api<K> = Api::all(client.clone());
    let listed = match api.list(&Default::default()).await {
        Ok(list) => list,
        Err(e) if kerf_kube::is_not_found(&e) => return Ok(()),
        Err(e) => return Err(e),
    };
    for obj in listed {
        let name = kube::ResourceExt::name_any(&obj);
        if let Err(e) = state.apply(obj) {
            problems.push(format!(
                "{} {name}: {e}",
                K::kind(&K::DynamicType::default())
            ));
        }
    }
    Ok(())
}

fn spawn<K>(tasks: &mut JoinSet<()>, ctx: &Arc<Context>, listed: &Arc<AtomicUsize>, api: Api<K>)
where
    K: Tracked + DeserializeOwned + Debug + Send + Sync + 'static,
    K::DynamicType: Default,
{
    let ctx = ctx.clone();
    let listed = listed.clone();
    tasks.spawn(async move { watch(ctx, listed, api).await });
}

async fn watch<K>(ctx: Arc<Context>, listed: Arc<AtomicUsize>, api: Api<K>)
where
    K: Tracked + DeserializeOwned + Debug + Send + Sync + 'static,
    K::DynamicType: Default,
{
    // Trimmed as they arrive (managed fields, and for pods most of the spec
    // and status), so a relist of thousands of pods buffers only what the
    // state keeps. Nothing kerf writes back is built from a cached object.
    let mut stream = watcher::watcher(api, watcher::Config::default())
        .default_backoff()
        .modify(K::trim)
        .boxed();
    let mut buffer: Vec<K> = Vec::new();
    let mut first_list = true;
    while let Some(event) = stream.next().await {
        match event {
            Ok(Event::Init) => buffer.clear(),
            Ok(Event::InitApply(obj)) => buffer.push(obj),
            Ok(Event::InitDone) => {
                let objects = std::mem::take(&mut buffer);
                let count = objects.len();
                replace_all(&mut ctx.state_mut(), objects);
                tracing::debug!(kind = K::KIND, count, "listed");
                if first_list {
                    first_list = false;
                    if listed.fetch_add(1, Ordering::AcqRel) + 1 == KIND_COUNT {
                        tracing::info!("cluster state synced");
                        ctx.set_synced();
                    }
                }
                ctx.wake_provisioner();
            }
            Ok(Event::Apply(obj)) => {
                // One lock per event: the demand key reads the state the
                // object is stored into.
                let going_away = node_going_away(&obj);
                let (needs_capacity, moved) = {
                    let mut state = ctx.state_mut();
                    let key = pod_needing_capacity(&ctx.options, &state, &obj);
                    let moved = pod_event_nodes(stored_pod(&state, &obj), as_pod(&obj));
                    apply_one(&mut state, obj);
                    (key, moved)
                };
                note_pod_events(&ctx, moved);
                if let Some(key) = needs_capacity {
                    ctx.pod_needs_capacity(key);
                }
                if going_away {
                    ctx.wake_provisioner();
                }
            }
            Ok(Event::Delete(obj)) => {
                let moved = pod_event_nodes(as_pod(&obj), None);
                ctx.state_mut().delete_object(&obj);
                note_pod_events(&ctx, moved);
            }
            Err(e) => tracing::warn!(kind = K::KIND, error = %e, "watch error; retrying"),
        }
    }
}

fn as_pod<K: Tracked + 'static>(obj: &K) -> Option<&Pod> {
    let any: &dyn std::any::Any = obj;
    any.downcast_ref::<Pod>()
}

/// The stored version of the pod this event is about.
fn stored_pod<'a, K: Tracked + 'static>(state: &'a ClusterState, obj: &K) -> Option<&'a Pod> {
    as_pod(obj)?;
    state.get::<Pod>(&obj.state_key().ok()?)
}

/// Nodes whose workload changed with a pod event: the node the pod left (it
/// moved, finished or went away) and the node it arrived on. Consolidation
/// waits `consolidateAfter` from the last such event on a node.
fn pod_event_nodes(old: Option<&Pod>, new: Option<&Pod>) -> Vec<String> {
    let running_on = |p: Option<&Pod>| {
        p.filter(|p| !kerf_state::pending::is_terminal(p))
            .and_then(|p| kerf_state::pending::bound_node(p))
            .map(str::to_string)
    };
    let (before, after) = (running_on(old), running_on(new));
    if before == after {
        return Vec::new();
    }
    before.into_iter().chain(after).collect()
}

fn note_pod_events(ctx: &Context, nodes: Vec<String>) {
    if nodes.is_empty() {
        return;
    }
    let at = crate::status::now();
    for node in nodes {
        ctx.pod_event(&node, at);
    }
}

/// The batch key of a pod that needs capacity: its ReplicaSet's when the
/// next pass plans that ReplicaSet's missing replicas
/// ([`ClusterState::demand_key`]), else its UID (or, lacking one,
/// namespace/name). Other kinds change capacity, not demand.
fn pod_needing_capacity<K: Tracked + 'static>(
    options: &ControllerOptions,
    state: &ClusterState,
    obj: &K,
) -> Option<String> {
    let any: &dyn std::any::Any = obj;
    let pod = any
        .downcast_ref::<Pod>()
        .filter(|p| is_pending(p, options.pending_mode()))?;
    if options.expected_replicas
        && let Some(key) = state.demand_key(pod)
    {
        return Some(key);
    }
    let meta = &pod.metadata;
    Some(meta.uid.clone().unwrap_or_else(|| {
        kerf_state::object_key(
            meta.namespace.as_deref(),
            meta.name.as_deref().unwrap_or_default(),
        )
    }))
}

/// A Node or NodeClaim being deleted
/// ([`kerf_state::deleting`]): its pods need new capacity, so a pass is
/// due, as Karpenter's provisioner trigger on disrupted nodes does.
fn node_going_away<K: Tracked + 'static>(obj: &K) -> bool {
    let any: &dyn std::any::Any = obj;
    if let Some(node) = any.downcast_ref::<Node>() {
        return kerf_state::deleting::node_is_deleting(node);
    }
    any.downcast_ref::<NodeClaim>()
        .is_some_and(|c| c.metadata.deletion_timestamp.is_some())
}

/// Stores the object; one the state rejects (an invalid Provisioner, say) is
/// logged with the reason and its previous version forgotten, so kerf never
/// acts on stale configuration.
fn apply_one<K: Tracked>(state: &mut ClusterState, obj: K) {
    // The key, not a copy of the object: a copy per event was a large share
    // of the watchers' allocations with thousands of pods.
    let key = obj.state_key();
    if let Err(e) = state.apply(obj) {
        tracing::warn!(kind = K::KIND, error = %e, "ignoring object");
        if let Ok(key) = key {
            state.delete::<K>(&key);
        }
    }
}

fn replace_all<K: Tracked>(state: &mut ClusterState, objects: Vec<K>) {
    let keys: Vec<String> = state.objects::<K>().map(|(k, _)| k.clone()).collect();
    for key in keys {
        state.delete::<K>(&key);
    }
    for obj in objects {
        apply_one(state, obj);
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn yaml<T: DeserializeOwned>(s: &str) -> T {
        serde_yaml::from_str(s).expect("test yaml")
    }

    #[test]
    fn a_node_or_claim_going_away_calls_for_a_pass() {
        let plain: Node = yaml("metadata: {name: n}");
        let tainted: Node = yaml(
            "metadata: {name: n}\nspec: {taints: [{key: karpenter.sh/disrupted, effect: NoSchedule}]}",
        );
        let deleted: Node =
            yaml("metadata: {name: n, deletionTimestamp: \"2026-01-01T00:00:00Z\"}");
        let claim: NodeClaim = yaml(
            "metadata: {name: c, deletionTimestamp: \"2026-01-01T00:00:00Z\"}\nspec: {nodeClassRef: {group: karpenter.k8s.aws, kind: EC2NodeClass, name: d}, requirements: []}",
        );
        let pod: Pod = yaml(
            "metadata: {name: p, deletionTimestamp: \"2026-01-01T00:00:00Z\"}\nspec: {containers: [{name: c}]}",
        );
        assert!(!node_going_away(&plain));
        assert!(node_going_away(&tainted));
        assert!(node_going_away(&deleted));
        assert!(node_going_away(&claim));
        assert!(!node_going_away(&pod), "only nodes and claims");
    }

    #[test]
    fn a_pod_binding_leaving_or_finishing_is_an_event_on_its_nodes() {
        let unbound: Pod = yaml("metadata: {name: p}\nspec: {containers: [{name: c}]}");
        let bound: Pod = yaml("metadata: {name: p}\nspec: {nodeName: n1, containers: [{name: c}]}");
        let done: Pod = yaml(
            "metadata: {name: p}\nspec: {nodeName: n1, containers: [{name: c}]}\nstatus: {phase: Succeeded}",
        );
        assert_eq!(pod_event_nodes(Some(&unbound), Some(&bound)), ["n1"]);
        assert_eq!(pod_event_nodes(None, Some(&bound)), ["n1"]);
        assert_eq!(pod_event_nodes(Some(&bound), Some(&done)), ["n1"]);
        assert_eq!(pod_event_nodes(Some(&bound), None), ["n1"]);
        assert!(pod_event_nodes(Some(&bound), Some(&bound)).is_empty());
        assert!(pod_event_nodes(Some(&unbound), None).is_empty());
        assert!(pod_event_nodes(Some(&unbound), Some(&unbound)).is_empty());
    }
}
