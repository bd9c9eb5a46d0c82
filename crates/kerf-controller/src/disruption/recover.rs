//! What a previous controller (or a failed rollback) left on the Nodes: a
//! `karpenter.sh/disrupted` taint or a command record on a Node whose claim
//! is not being deleted. With a record whose replacements all still exist,
//! the command is resumed (wait, then delete the candidates); otherwise the
//! surviving replacements are deleted and the Nodes untainted, so no taint
//! stays behind and no replacement is launched twice.

use std::collections::BTreeMap;
use std::sync::Arc;

use k8s_openapi::api::core::v1::Node;
use kerf_api::v1::NodeClaim;
use kerf_state::deleting::is_disrupted_taint;

use super::DisruptionError;
use super::execute::{COMMAND_ANNOTATION, CommandRecord, finish, roll_back, unmark};
use crate::context::Context;

/// What to do with the marked Nodes of one recorded command (or of none).
#[derive(Debug, PartialEq)]
pub(crate) enum Leftover {
    /// Every replacement exists: wait for them and finish.
    Resume {
        nodes: Vec<String>,
        record: CommandRecord,
    },
    /// Delete what is left of the replacements and untaint the nodes.
    RollBack {
        nodes: Vec<String>,
        replacements: Vec<String>,
    },
}

pub async fn recover(ctx: &Arc<Context>) -> Result<(), DisruptionError> {
    let leftovers = leftovers(&ctx.state());
    for leftover in leftovers {
        match leftover {
            Leftover::Resume { nodes, record } => {
                tracing::info!(?nodes, replacements = ?record.replacements, "resuming a disruption command");
                finish(ctx, &nodes, &record).await?;
            }
            Leftover::RollBack {
                nodes,
                replacements,
            } => {
                tracing::info!(
                    ?nodes,
                    ?replacements,
                    "undoing an unfinished disruption command"
                );
                roll_back(ctx, &replacements, &nodes).await;
                for node in &nodes {
                    unmark(ctx, node).await?;
                }
            }
        }
    }
    Ok(())
}

/// The unfinished commands the state shows (pure).
pub(crate) fn leftovers(state: &kerf_state::ClusterState) -> Vec<Leftover> {
    let deleting_claims: Vec<&Node> = state
        .objects::<NodeClaim>()
        .filter(|(_, c)| c.metadata.deletion_timestamp.is_some())
        .filter_map(|(_, c)| state.node_for_claim(c))
        .collect();
    let mut by_record: BTreeMap<String, (Option<CommandRecord>, Vec<String>)> = BTreeMap::new();
    for (name, node) in state.objects::<Node>() {
        let being_deleted = node.metadata.deletion_timestamp.is_some()
            || deleting_claims
                .iter()
                .any(|n| n.metadata.name.as_deref() == Some(name.as_str()));
        if being_deleted {
            continue;
        }
        let text = node
            .metadata
            .annotations
            .as_ref()
            .and_then(|a| a.get(COMMAND_ANNOTATION));
        let tainted = node
            .spec
            .as_ref()
            .and_then(|s| s.taints.as_ref())
            .is_some_and(|ts| ts.iter().any(is_disrupted_taint));
        if text.is_none() && !tainted {
            continue;
        }
        let key = text.cloned().unwrap_or_default();
        let record = text.and_then(|t| serde_json::from_str::<CommandRecord>(t).ok());
        by_record
            .entry(key)
            .or_insert_with(|| (record, Vec::new()))
            .1
            .push(name.clone());
    }
    by_record
        .into_values()
        .map(|(record, nodes)| match record {
            Some(record)
                if record.replacements.iter().all(|r| {
                    state
                        .get::<NodeClaim>(r)
                        .is_some_and(|c| c.metadata.deletion_timestamp.is_none())
                }) =>
            {
                Leftover::Resume { nodes, record }
            }
            Some(record) => Leftover::RollBack {
                nodes,
                replacements: record.replacements,
            },
            None => Leftover::RollBack {
                nodes,
                replacements: Vec::new(),
            },
        })
        .collect()
}

#[cfg(test)]
mod tests {
    use super::*;
    use kerf_state::ClusterState;
    use serde_json::json;

    fn record(replacements: &[&str]) -> CommandRecord {
        CommandRecord {
            method: "single-node consolidation".into(),
            reason: "Underutilized".into(),
            replacements: replacements.iter().map(|s| s.to_string()).collect(),
            started: "2026-12-05T10:00:00Z".parse().expect("time"),
        }
    }

    fn node(name: &str, record: Option<&CommandRecord>, tainted: bool) -> Node {
        let mut annotations = serde_json::Map::new();
        if let Some(r) = record {
            annotations.insert(
                COMMAND_ANNOTATION.into(),
                json!(serde_json::to_string(r).expect("json")),
            );
        }
        let taints = if tainted {
            json!([{"key": kerf_api::labels::DISRUPTED_TAINT_KEY, "effect": "NoSchedule"}])
        } else {
            json!([])
        };
        serde_json::from_value(json!({
            "metadata": {"name": name, "annotations": annotations},
            "spec": {"taints": taints},
        }))
        .expect("node")
    }

    fn claim(name: &str) -> NodeClaim {
        serde_json::from_value(json!({
            "metadata": {"name": name},
            "spec": {"nodeClassRef": {"group": "karpenter.k8s.aws", "kind": "EC2NodeClass", "name": "d"}, "requirements": []},
        }))
        .expect("claim")
    }

    #[test]
    fn a_command_whose_replacements_exist_is_resumed_else_undone() {
        let whole = record(&["r1"]);
        let broken = record(&["r2", "r3"]);
        let mut state = ClusterState::new();
        state.apply(node("a", Some(&whole), true)).expect("node");
        state.apply(node("b", Some(&whole), true)).expect("node");
        state.apply(node("c", Some(&broken), true)).expect("node");
        state.apply(node("d", None, true)).expect("node");
        state.apply(node("e", None, false)).expect("node");
        state.apply(claim("r1")).expect("claim");
        state.apply(claim("r2")).expect("claim");
        let found = leftovers(&state);
        assert!(found.contains(&Leftover::Resume {
            nodes: vec!["a".into(), "b".into()],
            record: whole
        }));
        assert!(found.contains(&Leftover::RollBack {
            nodes: vec!["c".into()],
            replacements: vec!["r2".into(), "r3".into()]
        }));
        assert!(found.contains(&Leftover::RollBack {
            nodes: vec!["d".into()],
            replacements: vec![]
        }));
        assert_eq!(found.len(), 3, "{found:?}");
    }
}
