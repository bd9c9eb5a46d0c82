//! How the fault run reads the cluster ([`read`], one `kubectl get` of
//! claims, nodes and pods, every half second), what it records over the run
//! ([`Record`]; which nodes ever held a pod comes from kube-scheduler's
//! events, [`scheduled_nodes`], which no poll can miss), and what it counts
//! as lost once the cluster should have settled ([`faults`]).

use std::collections::{BTreeMap, BTreeSet};
use std::time::{Duration, Instant};

use kerf_testenv::ControlPlane;
use serde_json::Value;

use crate::shared::kubectl;

/// What one round does before the controller is killed.
#[derive(Clone, Copy, Debug, PartialEq, Eq, PartialOrd, Ord)]
pub enum Action {
    ScaleUp,
    ScaleDown,
    DeleteClaim,
}

/// The cluster as the run reads it (one `kubectl get` of claims, nodes and pods).
#[derive(Default)]
pub struct Snapshot {
    /// claim name → (its node, deleting)
    pub claims: BTreeMap<String, (Option<String>, bool)>,
    /// managed node name → (deleting, has the disrupted taint, replacements its command waits for)
    pub nodes: BTreeMap<String, (bool, bool, Vec<String>)>,
    pub pods: Vec<PodSeen>,
}

/// One pod as the run reads it.
pub struct PodSeen {
    /// Its `app` label.
    pub app: String,
    pub uid: String,
    pub node: Option<String>,
    /// Running and Ready.
    pub ready: bool,
    pub deleting: bool,
    pub running: bool,
}

pub fn read(plane: &ControlPlane) -> anyhow::Result<Snapshot> {
    let text = kubectl(
        plane,
        &[
            "get",
            "nodeclaims,nodes,pods",
            "-n",
            "default",
            "-o",
            "json",
        ],
    )?;
    let list: Value = serde_json::from_str(&text)?;
    let mut out = Snapshot::default();
    let str_at = |v: &Value, p: &str| v.pointer(p).and_then(Value::as_str).map(str::to_string);
    for item in list["items"].as_array().into_iter().flatten() {
        let name = str_at(item, "/metadata/name").unwrap_or_default();
        let deleting = item.pointer("/metadata/deletionTimestamp").is_some();
        match item["kind"].as_str() {
            Some("NodeClaim") => {
                out.claims
                    .insert(name, (str_at(item, "/status/nodeName"), deleting));
            }
            Some("Node")
                if item
                    .pointer("/metadata/labels/karpenter.sh~1nodepool")
                    .is_some() =>
            {
                let disrupted = item["spec"]["taints"]
                    .as_array()
                    .into_iter()
                    .flatten()
                    .any(|t| t["key"] == "karpenter.sh/disrupted");
                let replacements =
                    str_at(item, "/metadata/annotations/kerf.sh~1disruption-command")
                        .and_then(|a| serde_json::from_str::<Value>(&a).ok())
                        .and_then(|r| r["replacements"].as_array().cloned())
                        .into_iter()
                        .flatten()
                        .filter_map(|v| v.as_str().map(str::to_string))
                        .collect();
                out.nodes.insert(name, (deleting, disrupted, replacements));
            }
            Some("Pod") => {
                let running = item["status"]["phase"] == "Running";
                let ready = running
                    && item["status"]["conditions"]
                        .as_array()
                        .into_iter()
                        .flatten()
                        .any(|c| c["type"] == "Ready" && c["status"] == "True");
                out.pods.push(PodSeen {
                    app: str_at(item, "/metadata/labels/app").unwrap_or_default(),
                    uid: str_at(item, "/metadata/uid").unwrap_or_default(),
                    node: str_at(item, "/spec/nodeName"),
                    ready,
                    deleting,
                    running,
                });
            }
            _ => {}
        }
    }
    Ok(out)
}

/// What the run saw over its whole length.
#[derive(Default)]
pub struct Record {
    /// claim → (the action of the round it appeared in, held a pod, was a disruption replacement)
    pub claims: BTreeMap<String, (Action, bool, bool)>,
    pub fewest_guarded_ready: Option<usize>,
    /// Fewest guarded pods Running and not being deleted: what an eviction
    /// lowers, while Ready also drops when the node lifecycle controller
    /// marks pods not Ready during an API-server outage.
    pub fewest_guarded_running: Option<usize>,
    pub pinned_uids: BTreeSet<String>,
    /// Claims seen once and gone since (terminated).
    pub gone: BTreeSet<String>,
    /// claim → its node, once a poll saw it.
    pub claim_nodes: BTreeMap<String, String>,
    pub polls: usize,
}

impl Record {
    pub fn observe(&mut self, s: &Snapshot, action: Action) {
        self.polls += 1;
        self.gone.extend(
            self.claims
                .keys()
                .filter(|c| !s.claims.contains_key(*c))
                .cloned(),
        );
        let busy: BTreeSet<&str> = s
            .pods
            .iter()
            .filter(|p| !p.deleting)
            .filter_map(|p| p.node.as_deref())
            .collect();
        let replacements: BTreeSet<&str> = s
            .nodes
            .values()
            .flat_map(|n| n.2.iter().map(String::as_str))
            .collect();
        for (name, (node, _)) in &s.claims {
            if let Some(node) = node {
                self.claim_nodes.insert(name.clone(), node.clone());
            }
            let entry = self
                .claims
                .entry(name.clone())
                .or_insert((action, false, false));
            entry.1 |= node.as_deref().is_some_and(|n| busy.contains(n));
            entry.2 |= replacements.contains(name.as_str());
        }
        let guarded = s
            .pods
            .iter()
            .filter(|p| p.app == "guarded" && p.ready)
            .count();
        let running = s
            .pods
            .iter()
            .filter(|p| p.app == "guarded" && p.running && !p.deleting)
            .count();
        // Counted once the guarded pods first ran: before that, scale-up is not a disruption.
        if self.fewest_guarded_ready.is_some() || guarded >= 3 {
            let fewest = self.fewest_guarded_ready.get_or_insert(guarded);
            *fewest = (*fewest).min(guarded);
            let fewest = self.fewest_guarded_running.get_or_insert(running);
            *fewest = (*fewest).min(running);
        }
        self.pinned_uids.extend(
            s.pods
                .iter()
                .filter(|p| p.app == "pinned")
                .map(|p| p.uid.clone()),
        );
    }

    /// Marks the claims whose node a pod was bound to, by the scheduler's
    /// `Scheduled` events ([`scheduled_nodes`]): polls miss a pod that came
    /// and went between two of them, or while the API server was down.
    pub fn mark_bound(&mut self, nodes: &BTreeSet<String>) {
        for (claim, (_, held, _)) in &mut self.claims {
            *held |= self
                .claim_nodes
                .get(claim)
                .is_some_and(|node| nodes.contains(node));
        }
    }

    /// Claims that never held a pod, by the action of the round that made
    /// them, leaving out disruption replacements.
    pub fn unused(&self) -> BTreeMap<Action, Vec<String>> {
        let mut out: BTreeMap<Action, Vec<String>> = BTreeMap::new();
        for (name, (action, held, replacement)) in &self.claims {
            if !held && !replacement {
                out.entry(*action).or_default().push(name.clone());
            }
        }
        out
    }
}

/// The nodes kube-scheduler bound a pod to over the run (the events outlive
/// the pods, the API server's restarts and etcd's compactions; their time to
/// live, an hour, is longer than a run).
pub fn scheduled_nodes(plane: &ControlPlane) -> anyhow::Result<BTreeSet<String>> {
    let text = kubectl(
        plane,
        &[
            "get",
            "events",
            "-n",
            "default",
            "--field-selector",
            "reason=Scheduled",
            "-o",
            "json",
        ],
    )?;
    let list: Value = serde_json::from_str(&text)?;
    Ok(list["items"]
        .as_array()
        .into_iter()
        .flatten()
        .filter_map(|e| assigned_node(e["message"].as_str()?))
        .collect())
}

/// The node of kube-scheduler's "Successfully assigned NS/POD to NODE".
fn assigned_node(message: &str) -> Option<String> {
    let rest = message.strip_prefix("Successfully assigned ")?;
    let (_, node) = rest.rsplit_once(" to ")?;
    Some(node.trim().to_string()).filter(|n| !n.is_empty())
}

/// What is wrong with a settled cluster wanting `replicas` scaled pods.
pub fn faults(s: &Snapshot, replicas: usize) -> Vec<String> {
    let mut out = Vec::new();
    for (app, want) in [("scale", replicas), ("guarded", 3), ("pinned", 1)] {
        let live: Vec<_> = s
            .pods
            .iter()
            .filter(|p| p.app == app && !p.deleting)
            .collect();
        let ready = live.iter().filter(|p| p.ready).count();
        let total = live.len();
        if ready != want || total != want {
            out.push(format!("{app}: {ready} Ready of {total}, want {want}"));
        }
    }
    let claimed: BTreeSet<&str> = s.claims.values().filter_map(|c| c.0.as_deref()).collect();
    for (node, (deleting, disrupted, _)) in &s.nodes {
        if !claimed.contains(node.as_str()) {
            out.push(format!("node {node} has no NodeClaim (leaked)"));
        }
        if *deleting {
            out.push(format!("node {node} stuck deleting"));
        }
        if *disrupted {
            out.push(format!(
                "node {node} keeps the karpenter.sh/disrupted taint"
            ));
        }
    }
    for (claim, (node, deleting)) in &s.claims {
        if *deleting {
            out.push(format!("nodeclaim {claim} stuck deleting"));
        }
        if let Some(node) = node
            && !s.nodes.contains_key(node)
        {
            out.push(format!("nodeclaim {claim}: its node {node} is gone"));
        }
    }
    out
}

/// Polls the cluster into `record` for `for_how_long`.
pub fn watch(
    plane: &ControlPlane,
    record: &mut Record,
    action: Action,
    for_how_long: Duration,
) -> anyhow::Result<Snapshot> {
    let until = Instant::now() + for_how_long;
    loop {
        let s = read(plane)?;
        record.observe(&s, action);
        if Instant::now() >= until {
            return Ok(s);
        }
        std::thread::sleep(Duration::from_millis(500).min(until - Instant::now()));
    }
}

/// Waits until nothing is wrong; returns how long it took, or what is still wrong.
pub fn settle(
    plane: &ControlPlane,
    record: &mut Record,
    action: Action,
    replicas: usize,
    timeout: Duration,
) -> anyhow::Result<Result<Duration, Vec<String>>> {
    let start = Instant::now();
    loop {
        let s = watch(plane, record, action, Duration::from_secs(1))?;
        let wrong = faults(&s, replicas);
        if wrong.is_empty() {
            return Ok(Ok(start.elapsed()));
        }
        if start.elapsed() > timeout {
            return Ok(Err(wrong));
        }
    }
}
