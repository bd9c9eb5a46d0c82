//! The real `helm` binary driven for the cluster side: the embedded chart written to a
//! temporary folder, the chart values as one values file, and the deployed release read back
//! (`helm status -o json`, `helm upgrade --dry-run=server`) so a re-install that would change
//! nothing skips the upgrade.

use std::path::PathBuf;
use std::process::Command;

use serde::Deserialize;
use serde_json::{Map, Value, json};

use super::{ChartValues, ClusterSide, chart};
use crate::error::AddonError;

/// The chart and its values on disk for one helm invocation; removed on drop.
pub(crate) struct Helm<'a> {
    side: &'a ClusterSide,
    _dir: tempfile::TempDir,
    pub chart_dir: PathBuf,
    pub values_file: PathBuf,
    pub values: Value,
}

impl<'a> Helm<'a> {
    pub fn prepare(side: &'a ClusterSide) -> Result<Self, AddonError> {
        let values = chart_values(&side.values)?;
        let dir = tempfile::Builder::new()
            .prefix("kerf-chart-")
            .tempdir()
            .map_err(AddonError::io(
                "creating a folder for the chart in",
                std::env::temp_dir(),
            ))?;
        let chart_dir = chart::write_to(dir.path())?;
        let values_file = dir.path().join("values.json");
        let json =
            serde_json::to_vec_pretty(&values).map_err(AddonError::render("the chart values"))?;
        std::fs::write(&values_file, json).map_err(AddonError::io("writing", &values_file))?;
        Ok(Helm {
            side,
            _dir: dir,
            chart_dir,
            values_file,
            values,
        })
    }

    /// `helm <args> -n <namespace> [--kubeconfig ...]`.
    pub fn command(&self, args: &[&str]) -> Command {
        let mut cmd = Command::new(&self.side.helm);
        cmd.args(args).arg("--namespace").arg(&self.side.namespace);
        if let Some(kubeconfig) = &self.side.kubeconfig {
            cmd.arg("--kubeconfig").arg(kubeconfig);
        }
        cmd
    }

    /// Runs helm to completion; stdout on success, an error with helm's stderr otherwise.
    pub async fn run(&self, args: &[&str]) -> Result<String, AddonError> {
        let out = tokio::process::Command::from(self.command(args))
            .kill_on_drop(true)
            .output()
            .await;
        self.finish(args, out)
    }

    pub fn run_blocking(&self, args: &[&str]) -> Result<String, AddonError> {
        let out = self.command(args).output();
        self.finish(args, out)
    }

    fn finish(
        &self,
        args: &[&str],
        out: std::io::Result<std::process::Output>,
    ) -> Result<String, AddonError> {
        let command = format!("helm {}", args.first().copied().unwrap_or_default());
        let out = self.succeeded(&command, out)?;
        String::from_utf8(out.stdout).map_err(|e| AddonError::HelmOutput {
            command,
            source: Box::new(e),
        })
    }

    /// helm's output when it ran and exited 0; otherwise why not, with its stderr.
    fn succeeded(
        &self,
        command: &str,
        out: std::io::Result<std::process::Output>,
    ) -> Result<std::process::Output, AddonError> {
        let out = out.map_err(|source| AddonError::HelmNotRun {
            command: command.to_string(),
            helm: self.side.helm.clone(),
            source,
        })?;
        if !out.status.success() {
            return Err(AddonError::HelmFailed {
                command: command.to_string(),
                status: out.status,
                stderr: String::from_utf8_lossy(&out.stderr).trim().to_string(),
            });
        }
        Ok(out)
    }

    /// The release as deployed, or None when there is none.
    pub async fn deployed(&self) -> Result<Option<Deployed>, AddonError> {
        let release = self.side.release.as_str();
        let out = tokio::process::Command::from(self.command(&["status", release, "-o", "json"]))
            .kill_on_drop(true)
            .output()
            .await;
        let out = match self.succeeded("helm status", out) {
            Ok(out) => out,
            Err(AddonError::HelmFailed { stderr, .. }) if stderr.contains("release: not found") => {
                return Ok(None);
            }
            Err(e) => return Err(e),
        };
        let deployed = serde_json::from_slice(&out.stdout).map_err(|e| AddonError::HelmOutput {
            command: "helm status -o json".into(),
            source: Box::new(e),
        })?;
        Ok(Some(deployed))
    }

    /// Whether `deployed` is this chart with these values, fully deployed: the user values
    /// are equal and the manifest helm would apply now (`upgrade --dry-run=server`, which
    /// renders with the cluster's lookups, e.g. the webhook's caBundle) is the deployed one.
    /// CRDs (`crds/`) are not compared: helm installs them once and never upgrades them.
    pub async fn is_current(&self, deployed: &Deployed) -> Result<bool, AddonError> {
        if deployed.info.status != "deployed" {
            return Ok(false);
        }
        let config = deployed.config.clone().unwrap_or(Value::Object(Map::new()));
        if config != self.values {
            return Ok(false);
        }
        let chart = self.chart_dir.display().to_string();
        let values = self.values_file.display().to_string();
        let out = self
            .run(&[
                "upgrade",
                "--install",
                &self.side.release,
                &chart,
                "--values",
                &values,
                "--dry-run=server",
                "--output",
                "json",
            ])
            .await?;
        let planned: Planned = serde_json::from_str(&out).map_err(|e| AddonError::HelmOutput {
            command: "helm upgrade --dry-run -o json".into(),
            source: Box::new(e),
        })?;
        let (planned, deployed) = (objects(&planned.manifest)?, objects(&deployed.manifest)?);
        if planned != deployed {
            tracing::debug!(
                ?planned,
                ?deployed,
                "the release differs from the deployed one"
            );
        }
        Ok(planned == deployed)
    }
}

/// A manifest as objects, without the webhook configurations' `caBundle`: the webhook pods
/// patch it in at run time, so the deployed manifest (rendered before they did) lacks what
/// the dry run's lookup now finds, while the cluster holds the same.
fn objects(manifest: &str) -> Result<Vec<Value>, AddonError> {
    let mut out = Vec::new();
    for doc in serde_yaml::Deserializer::from_str(manifest) {
        let mut v = Value::deserialize(doc).map_err(|e| AddonError::HelmOutput {
            command: "helm's manifest (status or upgrade --dry-run)".into(),
            source: Box::new(e),
        })?;
        if v.is_null() {
            continue;
        }
        if let Some(webhooks) = v.get_mut("webhooks").and_then(Value::as_array_mut) {
            for w in webhooks {
                if let Some(cc) = w.get_mut("clientConfig").and_then(Value::as_object_mut) {
                    cc.remove("caBundle");
                }
            }
        }
        out.push(v);
    }
    Ok(out)
}

/// The parts of `helm status -o json` compared before an upgrade.
#[derive(Debug, Deserialize)]
pub(crate) struct Deployed {
    pub info: Info,
    /// The user-supplied values.
    #[serde(default)]
    pub config: Option<Value>,
    #[serde(default)]
    pub manifest: String,
}

#[derive(Debug, Deserialize)]
pub(crate) struct Info {
    pub status: String,
}

#[derive(Debug, Deserialize)]
struct Planned {
    #[serde(default)]
    manifest: String,
}

/// The chart's values (see charts/kerf/values.yaml) for `values`.
pub(crate) fn chart_values(values: &ChartValues) -> Result<Value, AddonError> {
    let mut settings = Map::new();
    settings.insert("clusterName".into(), json!(values.cluster_name));
    if !values.cluster_endpoint.is_empty() {
        settings.insert("clusterEndpoint".into(), json!(values.cluster_endpoint));
    }
    if !values.region.is_empty() {
        settings.insert("awsRegion".into(), json!(values.region));
    }
    if let Some(profile) = &values.default_instance_profile {
        settings.insert("defaultInstanceProfile".into(), json!(profile));
    }
    if let Some(queue) = &values.interruption_queue {
        settings.insert("interruptionQueue".into(), json!(queue));
    }
    let mut root = Map::new();
    root.insert("settings".into(), Value::Object(settings));
    if let Some(arn) = &values.controller_role_arn {
        root.insert(
            "serviceAccount".into(),
            json!({"annotations": {"eks.amazonaws.com/role-arn": arn}}),
        );
    }
    let mut root = Value::Object(root);
    for (key, value) in &values.extra {
        set(&mut root, key, value)?;
    }
    Ok(root)
}

/// `--set key=value` semantics: dots separate levels (`\.` is a literal dot); `true`, `false`,
/// `null` and integers are typed, anything else is a string.
fn set(root: &mut Value, key: &str, value: &str) -> Result<(), AddonError> {
    let invalid = |message: String| AddonError::invalid(format!("chart value {key:?}"), message);
    if key.contains('[') {
        return Err(invalid(
            "list indices are not supported; set the whole list in a values file".into(),
        ));
    }
    let mut path = Vec::new();
    let mut part = String::new();
    let mut chars = key.chars().peekable();
    while let Some(c) = chars.next() {
        match c {
            '\\' if chars.peek() == Some(&'.') => {
                part.push('.');
                chars.next();
            }
            '.' => path.push(std::mem::take(&mut part)),
            _ => part.push(c),
        }
    }
    path.push(part);
    if path.iter().any(String::is_empty) {
        return Err(invalid("empty key segment".into()));
    }
    let typed = match value {
        "true" => Value::Bool(true),
        "false" => Value::Bool(false),
        "null" => Value::Null,
        v => match v.parse::<i64>() {
            Ok(n) if !v.starts_with('0') || v == "0" => json!(n),
            _ => json!(v),
        },
    };
    let Some((last, parents)) = path.split_last() else {
        return Err(invalid("no key".into()));
    };
    let mut node = root;
    for segment in parents {
        let map = node
            .as_object_mut()
            .ok_or_else(|| invalid(format!("{segment:?} is not a map")))?;
        node = map
            .entry(segment.clone())
            .or_insert_with(|| Value::Object(Map::new()));
    }
    let map = node
        .as_object_mut()
        .ok_or_else(|| invalid(format!("the parent of {last:?} is not a map")))?;
    map.insert(last.clone(), typed);
    Ok(())
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn values_follow_the_chart_names() {
        let values = ChartValues {
            cluster_name: "demo".into(),
            cluster_endpoint: "https://x.eks.amazonaws.com".into(),
            region: "us-east-1".into(),
            controller_role_arn: Some("arn:aws:iam::1:role/r".into()),
            default_instance_profile: Some("KarpenterNodeInstanceProfile-demo".into()),
            interruption_queue: Some("demo".into()),
            extra: vec![
                ("webhook.url".into(), "https://127.0.0.1:9443".into()),
                ("controller.replicas".into(), "1".into()),
                ("controller.avoidManagedNodes".into(), "false".into()),
                ("podLabels.team\\.io/x".into(), "007".into()),
            ],
        };
        let got = chart_values(&values).unwrap();
        assert_eq!(
            got,
            json!({
                "settings": {
                    "clusterName": "demo",
                    "clusterEndpoint": "https://x.eks.amazonaws.com",
                    "awsRegion": "us-east-1",
                    "defaultInstanceProfile": "KarpenterNodeInstanceProfile-demo",
                    "interruptionQueue": "demo",
                },
                "serviceAccount": {"annotations": {"eks.amazonaws.com/role-arn": "arn:aws:iam::1:role/r"}},
                "webhook": {"url": "https://127.0.0.1:9443"},
                "controller": {"replicas": 1, "avoidManagedNodes": false},
                "podLabels": {"team.io/x": "007"},
            })
        );
    }

    #[test]
    fn bad_extra_keys_are_named() {
        let mut values = ChartValues {
            extra: vec![("a..b".into(), "1".into())],
            ..ChartValues::default()
        };
        let err = chart_values(&values).unwrap_err().to_string();
        assert!(err.contains("\"a..b\""), "{err}");
        values.extra = vec![("settings.clusterName.x".into(), "1".into())];
        let err = chart_values(&values).unwrap_err().to_string();
        assert!(err.contains("settings.clusterName.x"), "{err}");
        values.extra = vec![("tolerations[0].key".into(), "x".into())];
        let err = chart_values(&values).unwrap_err().to_string();
        assert!(err.contains("list indices"), "{err}");
    }
}
