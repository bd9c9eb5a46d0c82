//! Instances that have launched but whose Node has not registered yet (the
//! kwok provider's registration delay). A real instance boots and registers
//! whether or not kerf is still running, so the record of a booting kwok
//! "instance" lives in the cluster, not in kerf's memory: ConfigMap
//! [`CONFIG_MAP`] in [`NAMESPACE`], one key per node holding the Node to
//! create and when. Every kwok provider runs a boot loop that creates the due
//! Nodes. Taking a record out (to register it, or because the instance is
//! terminated first) is an optimistic-concurrency update, so exactly one of
//! the two happens.

use kerf_kube::{is_conflict, is_not_found};
use std::collections::BTreeMap;

use k8s_openapi::api::core::v1::{ConfigMap, Node};
use kerf_cloud::provider::{CloudError, Result};
use kube::Client;
use kube::api::{Api, Patch, PatchParams, PostParams};
use serde_json::json;

pub const CONFIG_MAP: &str = "kerf-kwok-booting";
pub const NAMESPACE: &str = "kube-system";
const CONFLICT_RETRIES: usize = 10;

/// One booting instance: the Node it registers as, and when (Unix ms).
/// A booting-instance record kerf cannot read (written by another version, or by hand).
#[derive(Clone, Debug, PartialEq, thiserror::Error)]
#[error("ConfigMap {NAMESPACE}/{CONFIG_MAP}: data.{field}: {message}")]
pub struct BadBootRecord {
    pub field: String,
    pub message: String,
}

#[derive(Clone, Debug, PartialEq)]
pub struct Booting {
    pub register_at_ms: i64,
    pub node: Node,
}

impl Booting {
    fn to_value(&self) -> Result<String> {
        serde_json::to_string(&json!({ "registerAt": self.register_at_ms, "node": self.node }))
            .map_err(|e| CloudError::other("encoding a booting kwok node", e))
    }

    /// Parses one ConfigMap entry; the error names the key and what is wrong.
    pub fn parse(key: &str, text: &str) -> std::result::Result<Booting, BadBootRecord> {
        let bad = |field: String, message: String| BadBootRecord { field, message };
        let value: serde_json::Value =
            serde_json::from_str(text).map_err(|e| bad(key.to_string(), e.to_string()))?;
        let register_at_ms = value["registerAt"]
            .as_i64()
            .ok_or_else(|| bad(format!("{key}.registerAt"), "not an integer".to_string()))?;
        let node = serde_json::from_value(value["node"].clone())
            .map_err(|e| bad(format!("{key}.node"), e.to_string()))?;
        Ok(Booting {
            register_at_ms,
            node,
        })
    }
}

/// The entries of the ConfigMap's data, skipping (and logging) unreadable ones.
pub fn entries(data: Option<&BTreeMap<String, String>>) -> BTreeMap<String, Booting> {
    let mut out = BTreeMap::new();
    for (key, text) in data.into_iter().flatten() {
        match Booting::parse(key, text) {
            Ok(b) => {
                out.insert(key.clone(), b);
            }
            Err(e) => tracing::warn!(error = %e, "ignoring booting kwok node"),
        }
    }
    out
}

/// Names whose registration time has come, in name order.
pub fn due(records: &BTreeMap<String, Booting>, now_ms: i64) -> Vec<String> {
    records
        .iter()
        .filter(|(_, b)| b.register_at_ms <= now_ms)
        .map(|(k, _)| k.clone())
        .collect()
}

fn kube_error(context: &str, e: kube::Error) -> CloudError {
    CloudError::other(format!("{context} ConfigMap {NAMESPACE}/{CONFIG_MAP}"), e)
}

/// The booting-instance records in the cluster.
pub struct BootRecords {
    api: Api<ConfigMap>,
}

impl BootRecords {
    pub fn new(client: Client) -> Self {
        BootRecords {
            api: Api::namespaced(client, NAMESPACE),
        }
    }

    pub async fn all(&self) -> Result<BTreeMap<String, Booting>> {
        let cm = self
            .api
            .get_opt(CONFIG_MAP)
            .await
            .map_err(|e| kube_error("reading", e))?;
        Ok(entries(cm.as_ref().and_then(|c| c.data.as_ref())))
    }

    pub async fn get(&self, name: &str) -> Result<Option<Booting>> {
        Ok(self.all().await?.remove(name))
    }

    /// Records (or replaces) a booting instance.
    pub async fn put(&self, name: &str, booting: &Booting) -> Result<()> {
        let value = booting.to_value()?;
        let patch = json!({ "data": { name: value } });
        for _ in 0..CONFLICT_RETRIES {
            match self
                .api
                .patch(CONFIG_MAP, &PatchParams::default(), &Patch::Merge(&patch))
                .await
            {
                Ok(_) => return Ok(()),
                Err(e) if is_not_found(&e) => {}
                Err(e) => return Err(kube_error("updating", e)),
            }
            let mut cm = ConfigMap::default();
            cm.metadata.name = Some(CONFIG_MAP.to_string());
            cm.data = Some(BTreeMap::from([(name.to_string(), value.clone())]));
            match self.api.create(&PostParams::default(), &cm).await {
                Ok(_) => return Ok(()),
                // Created by someone else meanwhile: patch it.
                Err(e) if is_conflict(&e) => {}
                Err(e) => return Err(kube_error("creating", e)),
            }
        }
        Err(CloudError::other(
            format!("recording booting node {name}"),
            "ConfigMap kept changing",
        ))
    }

    /// Removes the record and returns it, or `None` if it was not there
    /// (already registered or terminated). Exactly one caller gets it.
    pub async fn take(&self, name: &str) -> Result<Option<Booting>> {
        for _ in 0..CONFLICT_RETRIES {
            let Some(mut cm) = self
                .api
                .get_opt(CONFIG_MAP)
                .await
                .map_err(|e| kube_error("reading", e))?
            else {
                return Ok(None);
            };
            let Some(text) = cm.data.as_mut().and_then(|d| d.remove(name)) else {
                return Ok(None);
            };
            // The replace carries the resourceVersion read: a concurrent change fails it.
            match self
                .api
                .replace(CONFIG_MAP, &PostParams::default(), &cm)
                .await
            {
                Ok(_) => return Ok(Booting::parse(name, &text).ok()),
                Err(e) if is_conflict(&e) => continue,
                Err(e) if is_not_found(&e) => return Ok(None),
                Err(e) => return Err(kube_error("updating", e)),
            }
        }
        Err(CloudError::other(
            format!("removing booting node {name}"),
            "ConfigMap kept changing",
        ))
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn entries_round_trip_and_bad_ones_are_named() {
        let mut node = Node::default();
        node.metadata.name = Some("default-abc".into());
        let b = Booting {
            register_at_ms: 1_000,
            node,
        };
        let data = BTreeMap::from([
            ("default-abc".to_string(), b.to_value().unwrap()),
            (
                "broken".to_string(),
                "{\"registerAt\": \"soon\"}".to_string(),
            ),
        ]);
        let all = entries(Some(&data));
        assert_eq!(all.len(), 1);
        assert_eq!(all["default-abc"], b);
        let err = Booting::parse("broken", &data["broken"]).unwrap_err();
        assert!(err.to_string().contains("data.broken.registerAt"), "{err}");
        assert!(due(&all, 999).is_empty());
        assert_eq!(due(&all, 1_000), ["default-abc"]);
    }
}
